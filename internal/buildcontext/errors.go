package buildcontext

import "errors"

// classed gives err an errdefs class without changing its text: the
// builder prints these errors verbatim and they must read exactly like
// Docker's.
type classed struct{ err, class error }

func (e *classed) Error() string   { return e.err.Error() }
func (e *classed) Unwrap() []error { return []error{e.err, e.class} }

func withClass(class, err error) error { return &classed{err: err, class: class} }

func newClassed(class error, msg string) error { return withClass(class, errors.New(msg)) }
