package build

import (
	"sort"
	"strings"
)

// builtinArgs are the predefined proxy args: usable without an ARG line,
// passed to RUN, and left out of the image history unless declared.
var builtinArgs = map[string]bool{
	"HTTP_PROXY": true, "http_proxy": true, "HTTPS_PROXY": true, "https_proxy": true,
	"FTP_PROXY": true, "ftp_proxy": true, "NO_PROXY": true, "no_proxy": true,
	"ALL_PROXY": true, "all_proxy": true,
}

// buildArgs is Docker's BuildArgs: --build-arg values, the ARGs declared
// before the first FROM (meta) and in the current stage (allowed), and
// which names the Dockerfile declared (for the unused-args warning).
type buildArgs struct {
	fromOptions map[string]*string
	allowed     map[string]*string
	meta        map[string]*string
	referenced  map[string]bool
}

func newBuildArgs(fromOptions map[string]*string) *buildArgs {
	return &buildArgs{fromOptions: fromOptions, allowed: map[string]*string{}, meta: map[string]*string{}, referenced: map[string]bool{}}
}

// forStage is the copy a stage starts with: meta args kept, nothing allowed.
func (b *buildArgs) forStage() *buildArgs {
	c := newBuildArgs(b.fromOptions)
	for k, v := range b.meta {
		c.meta[k] = v
	}
	for k := range b.referenced {
		c.referenced[k] = true
	}
	return c
}

func (b *buildArgs) addMeta(key string, v *string) {
	b.meta[key] = v
	b.allowed[key] = v
	b.referenced[key] = true
}

func (b *buildArgs) add(key string, v *string) {
	b.allowed[key] = v
	b.referenced[key] = true
}

// value is what key resolves to: --build-arg wins, then the ARG default,
// then (for an ARG without default) the meta ARG's value.
func (b *buildArgs) value(key string, source map[string]*string) (string, bool) {
	def, exists := source[key]
	if v, ok := b.fromOptions[key]; ok && v != nil {
		return *v, true
	}
	if def == nil {
		if v, ok := b.meta[key]; ok && v != nil {
			return *v, true
		}
		return "", false
	}
	return *def, exists
}

func (b *buildArgs) all(source map[string]*string) map[string]string {
	m := map[string]string{}
	for k := range source {
		if v, ok := b.value(k, source); ok {
			m[k] = v
		}
	}
	for k := range builtinArgs {
		if v, ok := b.value(k, source); ok {
			m[k] = v
		}
	}
	return m
}

func toEnv(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// metaEnv is what FROM lines expand with.
func (b *buildArgs) metaEnv() []string { return toEnv(b.all(b.meta)) }

// filterAllowed is every allowed arg not shadowed by a variable of env:
// what RUN gets and what instructions expand with besides env.
func (b *buildArgs) filterAllowed(env []string) []string {
	have := map[string]bool{}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		have[k] = true
	}
	var out []string
	for k, v := range b.all(b.allowed) {
		if !have[k] {
			out = append(out, k+"="+v)
		}
	}
	sort.Strings(out)
	return out
}

// referencedOrNotBuiltin: a proxy arg enters the history only if declared.
func (b *buildArgs) referencedOrNotBuiltin(key string) bool {
	_, allowed := b.allowed[key]
	return allowed || !builtinArgs[key]
}

// unused lists --build-arg names the Dockerfile never declared.
func (b *buildArgs) unused() []string {
	var out []string
	for k := range b.fromOptions {
		if !b.referenced[k] && !builtinArgs[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func (b *buildArgs) merge(o *buildArgs) {
	for k := range o.referenced {
		b.referenced[k] = true
	}
}
