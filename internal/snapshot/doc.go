// Package snapshot keeps image layers unpacked on disk and the writable
// layers of containers, in the style of containerd's overlay snapshotter.
//
// Words: a committed snapshot is an unpacked, read-only layer named by its
// OCI ChainID (it depends on all layers below it); an active snapshot is a
// writable upper directory named by a caller-chosen key (a container ID)
// sitting on a committed parent. Layout under the store directory:
//
//	index.json        ChainID/key → short numeric ID (atomic replace, under lock)
//	lock              flock serialising every change of the index
//	empty/            the lower dir of active snapshots with no parent (FROM scratch)
//	<id>/fs           a layer's files (committed) or the upper dir (active)
//	<id>/work         overlayfs work dir (active only)
//	<id>/meta.json    the snapshot's record, so a lost index can be rebuilt
//	new-*, rm-*       being built / being deleted; never referenced by the index
//
// Short IDs keep overlay's lowerdir option short. A new snapshot is built in
// a new-* dir and renamed to its ID under the lock before the index names
// it; removal drops it from the index first and deletes afterwards. So a
// crash leaves only unreferenced dirs, which Open, Cleanup and Check remove.
//
// The package returns mount descriptions and never mounts anything (package
// mount does), and it never writes outside its directory: layer tars are
// unpacked with archive.Apply, which confines every path.
package snapshot
