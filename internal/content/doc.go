// Package content stores blobs (layers, manifests, image configs) by digest,
// with the semantics of containerd's local content store.
//
// On disk, under the directory given to Open (root.Content()):
//
//	blobs/sha256/<hex>      immutable, read-only, always matching its name
//	ingest/<sha256(ref)>/   one partial write: data, ref, lock
//
// A write streams into an ingest file named by a caller-chosen ref. The ref
// is owned by one Writer at a time, across processes (flock on ingest/…/lock),
// and a write that was interrupted (crash, kill -9, network error) can be
// resumed by opening a Writer with the same ref: it continues at the ingest's
// current size. Commit is the only way a blob becomes visible: fsync, size
// check, digest check, refuse if the blob already exists, then an atomic
// rename. So a visible blob is always complete and correct; a crash leaves at
// most an ingest, which Cleanup removes once no live process holds it.
//
// The package knows nothing of images, manifests or references, and never
// decides on its own that a blob is garbage: deleting blobs is the caller's
// job (internal/image's GC), which must first make sure no image and no
// in-flight operation needs them.
package content
