// Package errdefs defines berth's small set of error classes. Code deep in
// the engine wraps one of these sentinels with context
// (fmt.Errorf("image %s: %w", ref, errdefs.ErrNotFound)); the CLI maps the
// class to an exit code and a Docker-style message in one place. Test with
// errors.Is, never by matching strings.
package errdefs

import "errors"

var (
	// ErrNotFound: the named object (image, container, volume, blob) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the user's input is malformed (bad flag value, bad reference, bad archive).
	ErrInvalid = errors.New("invalid argument")
	// ErrConflict: the request collides with existing state (name in use, image in use, running container).
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: a resource is busy or temporarily unusable (lock held too long).
	ErrUnavailable = errors.New("unavailable")
	// ErrNotImplemented: berth does not support this (yet).
	ErrNotImplemented = errors.New("not implemented")
)

// IsNotFound reports whether err is of the not-found class.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsInvalid reports whether err is of the invalid-argument class.
func IsInvalid(err error) bool { return errors.Is(err, ErrInvalid) }

// IsConflict reports whether err is of the conflict class.
func IsConflict(err error) bool { return errors.Is(err, ErrConflict) }
