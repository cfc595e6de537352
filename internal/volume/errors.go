package volume

import (
	"errors"
	"strings"

	"github.com/berth/berth/internal/errdefs"
)

// Errors worded like Docker's volume service. Match them with errors.Is
// against these or against the errdefs classes they wrap.
var (
	// ErrNoSuchVolume: the volume does not exist (errdefs.ErrNotFound).
	ErrNoSuchVolume = errors.New("no such volume")
	// ErrVolumeInUse: a container still references it (errdefs.ErrConflict).
	ErrVolumeInUse = errors.New("volume is in use")
)

// OpError is Docker's volume OpErr: "remove vol: volume is in use - [id]".
type OpError struct {
	Op    string   // create, get, remove, ...
	Name  string   // volume name
	Err   error    // what went wrong
	Refs  []string // containers that use the volume, for in-use errors
	class error    // errdefs class
}

func (e *OpError) Error() string {
	s := e.Op
	if e.Name != "" {
		s += " " + e.Name
	}
	s += ": " + e.Err.Error()
	if len(e.Refs) > 0 {
		s += " - [" + strings.Join(e.Refs, ", ") + "]"
	}
	return s
}

// Unwrap exposes both the cause and the errdefs class.
func (e *OpError) Unwrap() []error {
	if e.class == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.class}
}

func notFound(op, name string) error {
	return &OpError{Op: op, Name: name, Err: ErrNoSuchVolume, class: errdefs.ErrNotFound}
}

func invalid(op, name string, err error) error {
	return &OpError{Op: op, Name: name, Err: err, class: errdefs.ErrInvalid}
}
