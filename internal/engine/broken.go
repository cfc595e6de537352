package engine

import (
	"context"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/runtime"
)

// brokenRuntime stands for an external runtime that cannot be used (binary
// missing): every operation reports why.
type brokenRuntime struct{ err error }

func (b brokenRuntime) Start(context.Context, string, *specs.Spec, string, runtime.IO) (runtime.Process, error) {
	return nil, b.err
}
func (b brokenRuntime) Exec(context.Context, string, *specs.Process, runtime.IO) (runtime.Process, error) {
	return nil, b.err
}
func (b brokenRuntime) Kill(string, unix.Signal, bool) error { return b.err }
func (b brokenRuntime) Delete(string, bool) error            { return nil }
func (b brokenRuntime) State(string) (runtime.State, error)  { return runtime.State{}, b.err }
func (b brokenRuntime) Pause(string) error                   { return b.err }
func (b brokenRuntime) Resume(string) error                  { return b.err }
func (b brokenRuntime) Processes(string) ([]int, error)      { return nil, b.err }
func (b brokenRuntime) Stats(string) (*runtime.Stats, error) { return nil, b.err }
func (b brokenRuntime) List() ([]string, error)              { return nil, nil }
