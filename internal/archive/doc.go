// Package archive moves file trees in and out of tar streams: Apply unpacks a
// (possibly hostile) tar into a directory, Tar writes a directory as a
// deterministic tar, and Decompress sniffs and undoes the compressions that
// `docker import` accepts. Snapshot (layers), cp, export and volume copy-up
// all go through it.
//
// It owns no state on disk. Its one invariant: Apply never creates, changes
// or removes anything outside the directory it is given, whatever the tar
// says; every path is resolved inside that directory with openat2
// (RESOLVE_IN_ROOT), so symlinks in the tree behave as if the directory were
// chroot's root and ".." cannot climb out of it. It never follows a symlink
// it has read out of a tree except by that in-root resolution.
package archive
