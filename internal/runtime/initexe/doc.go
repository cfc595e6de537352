// Package initexe carries berth's dedicated container init binary
// (cmd/berth-init) inside the berth binary, so that berth still ships as one
// file. The Makefile builds cmd/berth-init into this directory first and then
// builds berth with the "berthinit" build tag, which embeds it; without the
// tag (go test, go vet, a plain go build) Binary returns nothing and the
// runtime falls back to re-executing the calling binary, as runc does.
//
// It owns nothing on disk and must never run code at import time: the init
// binary itself links this package (without the tag).
package initexe
