// Package buildcontext owns what a Dockerfile build reads from outside the
// image: the build context (a directory, or a tar or bare Dockerfile on
// stdin), its .dockerignore, the Dockerfile's bytes, and the COPY/ADD
// machinery that turns sources (context, another stage's rootfs, a URL) into
// files in a mounted rootfs, with Docker's rules and a content digest for the
// build cache.
//
// It must never write into the user's context directory (its stat cache lives
// in a directory the caller gives it), never follow a symlink out of the
// context or out of the destination rootfs, and never leave temp files behind
// after Close. It knows nothing of images, layers or the build cache itself:
// it answers "what would this COPY put where, and what is its digest" and
// "put it there".
package buildcontext
