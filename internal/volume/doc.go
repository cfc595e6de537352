// Package volume owns berth's named volumes (docker volume create, ls,
// inspect, rm, prune): under root.Volumes() each volume is a directory
// <name>/ holding _data (what containers mount) and volume.json (its
// record). A volume appears by one atomic rename of a fully built
// directory, and disappears by a rename to a tombstone before deletion, so
// readers never see half a volume.
//
// It never mounts anything and never writes outside root.Volumes() and its
// lock files; CopyUp/CopyUpInRoot read an image directory without following
// symlinks out of it (CopyUpInRoot resolves the mount path inside the
// container rootfs). Whether a volume is in use is the caller's knowledge, passed
// in as a function.
package volume
