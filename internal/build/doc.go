// Package build turns a Dockerfile into an image the way Docker's legacy
// builder (DOCKER_BUILDKIT=0) does: it parses with BuildKit's own parser,
// instructions and shell-lexer packages, plans which stages the target
// needs, dispatches every instruction onto a Docker-shaped image config,
// keeps the layer cache (ROOT/build/cache: step key → image ID) and writes
// Docker's progress lines (`Step 3/7 : COPY . /app`, ` ---> Using cache`).
//
// It owns the build cache directory and nothing else on disk. It never
// mounts, runs a process or writes a layer itself: those go through the
// Executor the engine gives it, so a build step is the same sandbox, store
// and isolation as `berth run`. It never reads the environment; the caller
// passes SOURCE_DATE_EPOCH and build args in Options.
package build
