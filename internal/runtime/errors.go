package runtime

import "strings"

// execError is a process start failure of the exec class. Its message is
// the part of the runtime's error that Docker users see (`exec: "foo":
// executable file not found in $PATH`); the full error stays in the chain.
type execError struct {
	msg   string
	class error
	cause error
}

func (e *execError) Error() string   { return e.msg }
func (e *execError) Unwrap() []error { return []error{e.class, e.cause} }

// classifyStartError recognises, in the error from starting a process, the
// failures of runc init's exec.LookPath of the process's argv[0]. runc only
// passes the message of init errors to the parent, so matching the text
// (as Docker itself does) is the only way to tell them apart.
func classifyStartError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	i := strings.Index(msg, `exec: "`)
	if i < 0 {
		return err
	}
	tail := strings.TrimSpace(msg[i:])
	var class error
	switch {
	case strings.Contains(tail, "executable file not found"),
		strings.Contains(tail, "no such file or directory"):
		class = ErrExecNotFound
	case strings.Contains(tail, "permission denied"),
		strings.Contains(tail, "is a directory"):
		class = ErrExecPermission
	default:
		return err
	}
	return &execError{msg: tail, class: class, cause: err}
}
