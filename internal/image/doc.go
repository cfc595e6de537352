// Package image owns berth's local images: their names (references), their
// records, how they are created (import, commit/build steps, registration of
// pulled or loaded images), tagged, removed and pruned, and the garbage
// collection of the blobs and layer snapshots they leave behind.
//
// # Storage
//
// An image is an OCI manifest and an image config, both blobs in the
// content store; the image ID is the config's digest (as in Docker). The
// package adds two kinds of files under root.Images():
//
//	images/sha256/<id-hex>.json   one record per image: manifest digest,
//	                              local parent, last tag time, size
//	images/repositories.json      every reference (docker.io/library/debian:latest,
//	                              name@sha256:…) → image ID
//
// Open also makes root.Reserve(), 1 MiB of allocated blocks given back when
// repositories.json cannot be rewritten on a full disk: rmi and prune free
// space only after that rewrite. A later Open makes it again once there is
// room.
//
// Records are written once (LastTagTime aside) and are independent, so a
// record file per image means creating or deleting one image never rewrites
// the others. References, on the other hand, move between images (a tag
// given to a new build leaves the old image) and `rmi` must check and change
// several at once; keeping them in one small file, replaced atomically
// (temp + fsync + rename) under an exclusive flock (locks/images.lock), makes
// every such change one atomic step that any number of processes can read
// without a lock. Every mutation re-reads the file under the lock, so two
// processes tagging or importing at once never lose each other's updates.
//
// Local images (import, commit, build) use OCI media types, with layers
// stored uncompressed (application/vnd.oci.image.layer.v1.tar) so a layer's
// blob digest is its DiffID. Pulled images keep whatever their registry
// manifest says.
//
// # Crashes
//
// Order of writes: blobs and snapshots first, then the record, then the
// references. A kill -9 between any two steps leaves either unreferenced
// blobs/snapshots (collected by the next GC) or an untagged image (shown as
// <none>, removable by prune); references that name a missing record are
// ignored by lookups and dropped by Check(repair).
//
// # Leases and garbage collection
//
// GC deletes every blob and snapshot that no image record references. An
// import, commit or pull in another process writes blobs and snapshots
// before its record exists, so it holds a lease (containerd's idea, built on
// files): run/leases/<id>, flocked by the live process for the lease's whole
// life and listing, one per line, the digests and chain IDs it has written
// or relies on. GC holds locks/gc.lock exclusively while it marks and
// sweeps; adding to a lease takes the same lock shared. A writer adds a
// digest to its lease *before* it relies on that digest existing (before
// committing a blob, before trusting a dedup hit), so every item is either
// on a live lease when GC reads the leases or already referenced by a record
// when GC reads the records afterwards. A lease whose file is not flocked
// belongs to a dead process and is deleted by GC. The one gap, a snapshot
// committed by Apply before its chain ID could be leased, is closed by
// re-checking the snapshot after leasing it and re-applying it from the
// (leased) layer blob if GC took it. An operation that fails ends its lease
// with Discard instead of Release: under the same lock, what only it held
// (no record, no other live lease) is deleted at once, so a refused pull
// stores nothing, while its partial ingests stay to resume from.
//
// The package never mounts anything, never runs containers, and never
// decides on its own whether a container uses an image: callers pass that in
// (Usage callbacks, keep sets), so it stays free of the container store.
package image
