package spec

import (
	"fmt"

	"github.com/berth/berth/internal/errdefs"
)

// classError carries a Docker-worded message unchanged while still
// matching an errdefs class with errors.Is (a plain %w would append the
// class's text to the message).
type classError struct {
	msg   string
	class error
	cause error
}

func (e *classError) Error() string { return e.msg }

func (e *classError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.class, e.cause}
	}
	return []error{e.class}
}

// invalidf returns an errdefs.ErrInvalid error with exactly this message.
func invalidf(format string, args ...any) error {
	return &classError{msg: fmt.Sprintf(format, args...), class: errdefs.ErrInvalid}
}

// invalidErr classifies err as errdefs.ErrInvalid, keeping its message.
func invalidErr(err error) error {
	return &classError{msg: err.Error(), class: errdefs.ErrInvalid, cause: err}
}
