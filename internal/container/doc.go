// Package container owns the container records under root.Containers():
// one directory per container (<id>/container.json, the record, plus the
// files other packages keep there: config.json, hostname, hosts,
// resolv.conf, <id>-json.log), the name index (.names/<name> holds the ID
// that reserved it) and the locks that serialise changes (per-container
// locks, a store-wide lock for names, and the owner lock a supervisor holds
// for as long as it watches a container).
//
// Invariants: a record is only ever replaced atomically; a name belongs to a
// container only if the name file and the record agree, so a crash between
// writing one and the other leaves a stale reservation that is ignored and
// reclaimed; a deleted container disappears by one rename before anything is
// removed. Lock order is container lock, then store lock.
//
// It must never start, signal or mount anything: running containers is the
// runtime's and the supervisor's job, and Delete refuses a directory that
// still has something mounted inside it rather than recursing into it.
package container
