// Package mount is the only place in berth that calls mount(2) and umount(2)
// for container root filesystems. Other packages (snapshot in particular)
// describe mounts as plain Mount values and hand them here, which keeps their
// logic testable without privileges and keeps one place that touches the
// mount table.
//
// It owns no state on disk. It must never decide what to mount: it executes
// the descriptions it is given, onto the target it is given, and undoes a
// partial All on failure.
package mount
