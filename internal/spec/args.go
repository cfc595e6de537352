package spec

import "strings"

// Args computes the container's argv from the image's Entrypoint and Cmd,
// the --entrypoint flag (nil when not given) and the arguments after the
// image name, with Docker's rules (moby daemon merge + mergeAndVerifyConfig):
//   - no --entrypoint: image Entrypoint, then CLI args or, if there are
//     none, the image Cmd;
//   - --entrypoint X: [X] then the CLI args; the image Cmd is dropped;
//   - --entrypoint "": no entrypoint, only the CLI args (image Cmd dropped);
//   - an Entrypoint of exactly [""] counts as none.
//
// An empty result is Docker's "no command specified"; Generate rejects it.
func Args(imgEntrypoint, imgCmd []string, entrypointFlag *string, cmdArgs []string) []string {
	var entrypoint, cmd []string
	switch {
	case entrypointFlag == nil:
		entrypoint, cmd = imgEntrypoint, cmdArgs
		if len(cmd) == 0 {
			cmd = imgCmd
		}
	case *entrypointFlag == "":
		cmd = cmdArgs
	default:
		entrypoint, cmd = []string{*entrypointFlag}, cmdArgs
	}
	if len(entrypoint) == 1 && entrypoint[0] == "" {
		entrypoint = nil
	}
	out := make([]string, 0, len(entrypoint)+len(cmd))
	out = append(out, entrypoint...)
	return append(out, cmd...)
}

// DefaultPathEnv is Docker's PATH for Linux containers whose image sets none.
const DefaultPathEnv = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Env builds the process environment like Docker's CreateDaemonEnvironment:
// PATH, HOSTNAME and (with a tty) TERM=xterm come first and are overridden
// by the container's own env; an entry without "=" removes that variable.
// HOME is added last, from the resolved user, when the env has none (what
// runc would otherwise do).
func Env(containerEnv []string, hostname string, tty bool, home string) []string {
	env := []string{"PATH=" + DefaultPathEnv, "HOSTNAME=" + hostname}
	if tty {
		env = append(env, "TERM=xterm")
	}
	env = replaceOrAppendEnv(env, containerEnv)
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == "HOME" && v != "" {
			return env
		}
	}
	if home == "" {
		home = "/"
	}
	return append(env, "HOME="+home)
}

// replaceOrAppendEnv is moby's ReplaceOrAppendEnvValues.
func replaceOrAppendEnv(defaults, overrides []string) []string {
	index := make(map[string]int, len(defaults))
	for i, e := range defaults {
		k, _, _ := strings.Cut(e, "=")
		index[k] = i
	}
	removed := make(map[int]bool)
	for _, v := range overrides {
		k, _, hasValue := strings.Cut(v, "=")
		i, exists := index[k]
		switch {
		case !hasValue:
			if exists {
				removed[i] = true
			}
		case exists:
			defaults[i] = v
			delete(removed, i)
		default:
			index[k] = len(defaults)
			defaults = append(defaults, v)
		}
	}
	out := defaults[:0]
	for i, e := range defaults {
		if !removed[i] {
			out = append(out, e)
		}
	}
	return out
}
