// Package logs is berth's implementation of Docker's json-file log driver.
//
// It owns the log files of one container: <id>-json.log and, with rotation,
// <id>-json.log.1 … .N-1 (oldest last). Every line of a file is one JSON
// object {"log":"text\n","stream":"stdout","time":"<RFC3339Nano UTC>"},
// byte-compatible with what dockerd writes, so tools that read Docker's
// files read berth's too. Output is split into entries at newlines; a line
// longer than 16 KiB is written as several partial entries (no trailing
// "\n"), and a last unterminated line is flushed as a partial entry when the
// writer closes, exactly as Docker's copier does.
//
// Writer is used by the one process that owns a running container (its
// supervisor or a foreground run); Read serves `logs` in any process, and
// follows the files while they grow and rotate. The package must never
// rewrite or truncate a log except by rotation, and never interprets the
// text it stores.
package logs
