// Package names generates Docker-style container names ("adjective_surname")
// for containers created without --name. It owns two word lists and nothing
// on disk; it must never decide whether a name is free — the container store
// does that under its lock and asks again on a collision.
package names
