// Package engine joins berth's stores into the verbs users run: create,
// start, stop, kill, rm, exec, commit, export. It owns the container
// lifecycle across packages — resolving the image, preparing the snapshot,
// generating the OCI spec, mounting the rootfs, handing the container to the
// runtime and the supervisor, and undoing all of that on the way out — and
// nothing on disk of its own beyond the per-container bundle under the
// runtime directory and the build sandboxes (RUN/build/<id>: a build step's
// mounted rootfs, its /etc files and OCI config, flocked through
// locks/build-<id>.lock while the step lives; never container records). It never parses flags or prints tables (that is the
// CLI's job) and never reaches into another package's files.
package engine
