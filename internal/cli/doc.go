// Package cli is berth's command line: it turns flags into typed options,
// calls one function of the engine (or of a store) per command, and renders
// the answer the way the docker CLI does (tables, --format templates,
// inspect JSON in Docker 20.10's shape).
//
// Exit codes and user-facing error wording are decided here and nowhere
// else: 125 for berth's own failures before a container runs, 126/127 for a
// command that cannot be run, the container's status otherwise, and 1 for a
// refusal ("Error response from daemon: ..."). It must never hold business
// logic (what to start, stop or delete is the engine's to decide) nor
// write to the state directories itself (it may read sizes from them).
package cli
