# berth — build, test, demo and benchmark entry points.
# `make test` and `make demo` install the OS packages they need (scripts/deps.sh).

GO       ?= go
BIN      := bin/berth
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# One static binary: cgo for libcontainer's nsenter, libseccomp linked in.
TAGS     := seccomp netgo osusergo
LDFLAGS  := -s -w -X github.com/berth/berth/internal/cli.Version=$(VERSION) -extldflags -static
export CGO_ENABLED := 1

GOFILES  := $(shell find cmd internal third_party/runc -name '*.go' -not -name '*_test.go' 2>/dev/null)
# The container init (cmd/berth-init) and the detached containers'
# supervisor (cmd/berth-shim) are built first and embedded in berth
# (internal/runtime/initexe, build tag berthinit): containers start with a
# small binary and idle with a small supervisor, and berth still ships as
# one file. The shim needs no cgo: pure Go, statically linked, no libc.
INIT_BIN := internal/runtime/initexe/berth-init
INIT_LDFLAGS := -s -w -extldflags -static
SHIM_BIN := internal/runtime/initexe/berth-shim

.PHONY: all build deps test test-unit test-e2e test-fuzz demo bench fmt vet clean

all: build

build: $(BIN)

$(BIN): $(INIT_BIN) $(SHIM_BIN) $(GOFILES) go.mod go.sum
	@mkdir -p bin
	$(GO) build -trimpath -tags '$(TAGS) berthinit' -ldflags '$(LDFLAGS)' -o $@ ./cmd/berth

$(INIT_BIN): $(GOFILES) go.mod go.sum
	$(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(INIT_LDFLAGS)' -o $@.tmp ./cmd/berth-init
	sha256sum $@.tmp | cut -c1-64 > $@.sha256
	mv $@.tmp $@

$(SHIM_BIN): $(GOFILES) go.mod go.sum
	CGO_ENABLED=0 $(GO) build -trimpath -tags 'netgo osusergo' -ldflags '-s -w' -o $@.tmp ./cmd/berth-shim
	sha256sum $@.tmp | cut -c1-64 > $@.sha256
	mv $@.tmp $@

deps:
	@scripts/deps.sh

vet:
	$(GO) vet -tags '$(TAGS)' ./...

fmt:
	gofmt -w cmd internal test

# Unit tests (real mounts and containers: run as root), then the end-to-end
# suite that drives bin/berth like a user.
test: deps build vet test-unit test-e2e test-fuzz

test-unit:
	$(GO) test -tags '$(TAGS)' -count=1 -timeout 20m ./internal/... ./cmd/...

test-e2e: $(BIN)
	BERTH_BIN=$(CURDIR)/$(BIN) $(GO) test -tags '$(TAGS)' -count=1 -timeout 30m ./test/e2e/...

# Every fuzz target in the repo (found by scripts/fuzz.sh with go test
# -list), FUZZTIME each from the committed corpus in testdata/fuzz.
FUZZTIME ?= 10s
test-fuzz:
	TAGS='$(TAGS)' GO='$(GO)' scripts/fuzz.sh $(FUZZTIME)

demo: deps build
	scripts/demo.sh

bench: deps build
	bench/run.sh

clean:
	rm -rf bin $(INIT_BIN) $(INIT_BIN).sha256 $(INIT_BIN).tmp $(SHIM_BIN) $(SHIM_BIN).sha256 $(SHIM_BIN).tmp
