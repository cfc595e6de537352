// Package progress renders per-item transfer progress the way the Docker CLI
// does: on a terminal, one line per item (a layer) rewritten in place with a
// bar ("a1b2c3d4e5f6: Downloading [=====>     ]  12.3MB/45.6MB"); when the
// output is not a terminal, one plain line per status change and no bars.
//
// It owns only the rendering. It never decides what the statuses are (its
// callers, e.g. internal/registry, do) and never writes anywhere but the
// writer it was given. A Writer is safe for concurrent use, since layers are
// transferred in parallel.
package progress
