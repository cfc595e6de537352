// Package opts parses the string forms of docker run's flag values (env
// files, volume specs, restart policies, sizes, signals) into typed values.
// It is pure: no I/O beyond reading the files a flag names, no state.
package opts

import (
	"bufio"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	"golang.org/x/sys/unix"

	"github.com/berth/berth/internal/errdefs"
)

func invalid(format string, a ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, a...), errdefs.ErrInvalid)
}

// ParseEnvFile reads a docker --env-file: KEY=VALUE lines, # comments, blank
// lines skipped, a bare KEY takes the value from lookup (the caller's env) and
// is dropped when unset, as Docker does.
func ParseEnvFile(path string, lookup func(string) (string, bool)) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, invalid("open env file: %v", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimLeft(sc.Text(), " \t")
		if n == 1 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, hasValue := strings.Cut(line, "=")
		if k == "" {
			return nil, invalid("%s:%d: no variable name on line %q", path, n, line)
		}
		if strings.ContainsAny(k, " \t") {
			return nil, invalid("%s:%d: variable %q contains whitespaces", path, n, k)
		}
		if !hasValue {
			if lookup != nil {
				if val, ok := lookup(k); ok {
					out = append(out, k+"="+val)
				}
			}
			continue
		}
		out = append(out, k+"="+v)
	}
	if err := sc.Err(); err != nil {
		return nil, invalid("read env file %s: %v", path, err)
	}
	return out, nil
}

// ExpandEnv resolves -e values: KEY=VAL is kept, a bare KEY is taken from
// lookup and dropped when unset.
func ExpandEnv(vals []string, lookup func(string) (string, bool)) []string {
	var out []string
	for _, v := range vals {
		if strings.Contains(v, "=") {
			out = append(out, v)
			continue
		}
		if val, ok := lookup(v); ok {
			out = append(out, v+"="+val)
		}
	}
	return out
}

// MergeEnv overlays add onto base by key (later wins), keeping base's order.
func MergeEnv(base, add []string) []string {
	out := append([]string(nil), base...)
	idx := map[string]int{}
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		idx[k] = i
	}
	for _, kv := range add {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			continue
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	return out
}

// RestartPolicy is docker's --restart value.
type RestartPolicy struct {
	Name       string // no, always, unless-stopped, on-failure
	MaxRetries int
}

// ParseRestart parses no|always|unless-stopped|on-failure[:N].
func ParseRestart(s string) (RestartPolicy, error) {
	if s == "" {
		return RestartPolicy{Name: "no"}, nil
	}
	name, count, hasCount := strings.Cut(s, ":")
	switch name {
	case "no", "always", "unless-stopped":
		if hasCount {
			return RestartPolicy{}, invalid("maximum retry count cannot be used with restart policy '%s'", name)
		}
		return RestartPolicy{Name: name}, nil
	case "on-failure":
		p := RestartPolicy{Name: name}
		if hasCount {
			n, err := strconv.Atoi(count)
			if err != nil || n < 0 {
				return RestartPolicy{}, invalid("invalid restart policy format: maximum retry count must be a positive integer")
			}
			p.MaxRetries = n
		}
		return p, nil
	}
	return RestartPolicy{}, invalid("invalid restart policy format: no such policy: %s", name)
}

// ParseMemory parses --memory (e.g. 512m, 1g); "" is 0 (unlimited).
func ParseMemory(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := units.RAMInBytes(s)
	if err != nil {
		return 0, invalid("invalid argument %q for \"-m, --memory\" flag: %v", s, err)
	}
	if n > 0 && n < 6*1024*1024 {
		return 0, invalid("Minimum memory limit allowed is 6MB")
	}
	return n, nil
}

// ParseCPUs parses --cpus (a decimal number of CPUs) into nano-CPUs.
func ParseCPUs(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || r.Sign() < 0 {
		return 0, invalid("invalid argument %q for \"--cpus\" flag: failed to parse %s as a rational number", s, s)
	}
	nano := r.Mul(r, big.NewRat(1e9, 1))
	if !nano.IsInt() {
		return 0, invalid("invalid argument %q for \"--cpus\" flag: value is too precise", s)
	}
	if !nano.Num().IsInt64() {
		// Int64 would wrap to a negative (or small) quota.
		return 0, invalid("invalid argument %q for \"--cpus\" flag: value is too large", s)
	}
	return nano.Num().Int64(), nil
}

// ParseSignal accepts a name (KILL, SIGKILL, sigterm) or a number.
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, invalid("invalid signal: %s", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, invalid("invalid signal: %s", s)
}

// Volume is a parsed -v spec.
type Volume struct {
	Source      string // host path (bind), volume name, or "" (anonymous)
	Destination string
	ReadOnly    bool
	Bind        bool // Source is a host path
	Mode        string
}

// ParseVolume parses -v [SRC:]DST[:OPTS] as Docker does on Linux.
func ParseVolume(spec string) (Volume, error) {
	if spec == "" {
		return Volume{}, invalid("invalid empty volume spec")
	}
	parts := strings.Split(spec, ":")
	var v Volume
	switch len(parts) {
	case 1:
		v.Destination = parts[0]
	case 2:
		if isMode(parts[1]) && !strings.HasPrefix(parts[1], "/") {
			// "DST:ro" is not valid in Docker ("invalid volume specification").
			return Volume{}, invalid("invalid volume specification: '%s'", spec)
		}
		v.Source, v.Destination = parts[0], parts[1]
	case 3:
		v.Source, v.Destination, v.Mode = parts[0], parts[1], parts[2]
		if !isMode(v.Mode) {
			return Volume{}, invalid("invalid mode: %s", v.Mode)
		}
	default:
		return Volume{}, invalid("invalid volume specification: '%s'", spec)
	}
	if v.Destination == "" || !filepath.IsAbs(v.Destination) {
		return Volume{}, invalid("invalid volume specification: '%s': invalid mount config for type \"volume\": invalid mount path: '%s' mount path must be absolute", spec, v.Destination)
	}
	// Cleaned before the "/" check: "/." and "/x/.." are "/" too.
	v.Destination = filepath.Clean(v.Destination)
	if v.Destination == "/" {
		return Volume{}, invalid("invalid volume specification: '%s': invalid mount config: destination can't be '/'", spec)
	}
	for _, m := range strings.Split(v.Mode, ",") {
		if m == "ro" {
			v.ReadOnly = true
		}
	}
	if v.Source != "" {
		if filepath.IsAbs(v.Source) {
			v.Bind = true
			v.Source = filepath.Clean(v.Source)
		} else if strings.HasPrefix(v.Source, ".") {
			return Volume{}, invalid("invalid volume specification: '%s': %q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path", spec, v.Source)
		}
	}
	return v, nil
}

func isMode(s string) bool {
	for _, m := range strings.Split(s, ",") {
		switch m {
		case "ro", "rw", "z", "Z", "nocopy", "private", "rprivate", "shared", "rshared", "slave", "rslave", "delegated", "cached", "consistent":
		default:
			return false
		}
	}
	return true
}

// ParseTmpfs parses --tmpfs PATH[:OPTIONS].
func ParseTmpfs(spec string) (path, options string, err error) {
	path, options, _ = strings.Cut(spec, ":")
	if !filepath.IsAbs(path) {
		return "", "", invalid("invalid tmpfs mount path %q: must be absolute", path)
	}
	return filepath.Clean(path), options, nil
}
