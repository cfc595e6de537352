package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// `berth inspect` against Docker 20.10's inspect of the equivalent object
// (test/oracle/data): the same keys with the same JSON types, recursively,
// and the same values wherever the value is not specific to the machine,
// the moment or the object's identity.

// jsonType names a decoded JSON value's type.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case float64, json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// dynamicKeys are objects whose keys are data, not schema (network names,
// label names); their members are compared under the single key "*".
var dynamicKeys = map[string]bool{
	"NetworkSettings.Networks":    true,
	"Config.Labels":               true,
	"Config.Volumes":              true,
	"Config.ExposedPorts":         true,
	"HostConfig.Tmpfs":            true,
	"HostConfig.LogConfig.Config": true,
}

// flatten maps every path in v ("HostConfig.Dns[]") to its type and, for
// leaves, its value.
func flatten(prefix string, v any, out map[string]leaf) {
	out[prefix] = leaf{typ: jsonType(v), val: v}
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			key := k
			if dynamicKeys[prefix] {
				key = "*"
			}
			p := key
			if prefix != "" {
				p = prefix + "." + key
			}
			flatten(p, child, out)
		}
	case []any:
		for _, child := range x {
			flatten(prefix+"[]", child, out)
		}
	}
}

type leaf struct {
	typ string
	val any
}

// shapeDiff compares berth's JSON object against docker's: keys missing
// from berth, keys berth adds, and type mismatches, skipping the allowed
// paths (and everything under them).
func shapeDiff(t *testing.T, berth, docker any, allowed map[string]string) {
	t.Helper()
	b, d := map[string]leaf{}, map[string]leaf{}
	flatten("", berth, b)
	flatten("", docker, d)
	isAllowed := func(p string) bool {
		for a := range allowed {
			if p == a || strings.HasPrefix(p, a+".") || strings.HasPrefix(p, a+"[]") {
				return true
			}
		}
		return false
	}
	var problems []string
	for p, dl := range d {
		if isAllowed(p) {
			continue
		}
		bl, ok := b[p]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("missing  %s (docker: %s)", p, dl.typ))
		case bl.typ != dl.typ:
			problems = append(problems, fmt.Sprintf("type     %s: berth %s, docker %s", p, bl.typ, dl.typ))
		}
	}
	for p, bl := range b {
		if _, ok := d[p]; !ok && !isAllowed(p) {
			problems = append(problems, fmt.Sprintf("extra    %s (berth: %s)", p, bl.typ))
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
}

// valueDiff compares the leaf values of paths not listed as volatile.
func valueDiff(t *testing.T, berth, docker any, volatile map[string]string) {
	t.Helper()
	b, d := map[string]leaf{}, map[string]leaf{}
	flatten("", berth, b)
	flatten("", docker, d)
	isVolatile := func(p string) bool {
		for a := range volatile {
			if p == a || strings.HasPrefix(p, a+".") || strings.HasPrefix(p, a+"[]") {
				return true
			}
		}
		return false
	}
	var problems []string
	for p, dl := range d {
		bl, ok := b[p]
		if !ok || isVolatile(p) || dl.typ == "object" {
			continue
		}
		bj, _ := json.Marshal(bl.val)
		dj, _ := json.Marshal(dl.val)
		if string(bj) != string(dj) {
			problems = append(problems, fmt.Sprintf("%s: berth %s, docker %s", p, bj, dj))
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
}

// containerShapeAllowed lists the container inspect keys allowed to differ
// from Docker's, each with the reason.
var containerShapeAllowed = map[string]string{
	// berth has no bridge network yet: its default network is "none", whose
	// endpoint has the same keys; dynamicKeys compares it as Networks.*.
	"HostConfig.Init": "berth shows Init only when --init was given, as Docker does (omitempty); checked for --init in TestRunInit",
}

// containerVolatile are values that legitimately differ between Docker's
// recorded container and berth's equivalent one.
var containerVolatile = map[string]string{
	"Id": "identity", "Created": "time", "Name": "identity", "Config.Hostname": "the short ID",
	"State.StartedAt": "time", "State.FinishedAt": "time", "State.Pid": "host PID",
	"Image":          "the image ID includes the import time",
	"ResolvConfPath": "under berth's root", "HostnamePath": "under berth's root", "HostsPath": "under berth's root",
	"LogPath": "under berth's root", "GraphDriver.Data": "under berth's root",
	"HostConfig.NetworkMode":  "Docker's default network is bridge (\"default\"); berth's is none until it has a bridge",
	"HostConfig.Runtime":      "the runtime's name: runc for Docker, berth's in-process libcontainer",
	"HostConfig.CgroupnsMode": "host on cgroup v1 hosts (as recorded), private on v2",
	"NetworkSettings":         "berth has no bridge network yet: no sandbox, endpoint, or bridge network ID",
	"Platform":                "Docker 20.10 records it as \"linux\" as well; kept volatile for images with a variant",
}

func inspectOf(t *testing.T, e *Env, ref string, args ...string) map[string]any {
	t.Helper()
	r := e.MustRun(append(append([]string{"inspect"}, args...), ref)...)
	var list []map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil || len(list) != 1 {
		t.Fatalf("inspect %s: not a JSON list of one object: %v\n%s", ref, err, r.Stdout)
	}
	return list[0]
}

func oracleObject(t *testing.T, file string) map[string]any {
	t.Helper()
	return oracleJSON(t, file).([]any)[0].(map[string]any)
}

// TestInspectContainerMatchesDocker: created, exited and running containers
// made the way test/oracle recorded them.
func TestInspectContainerMatchesDocker(t *testing.T) {
	e := newEnv(t)
	e.BusyboxImage()
	const img = "busybox-imported" // as the oracle typed it (Config.Image)

	created := e.Name("oracle-created")
	e.RemoveOnCleanup(created)
	e.MustRun("create", "--name", created, "-e", "A=1", "-w", "/tmp", img, "sh", "-c", "exit 3")
	exited := e.Name("oracle-exited")
	e.RemoveOnCleanup(exited)
	e.Run("run", "--name", exited, "-e", "A=1", "-w", "/tmp", img, "sh", "-c", "exit 3")
	running := e.Name("oracle-running")
	e.RunDetached(running, img, "sleep", "1000")
	rm := e.Name("oracle-none-rm")
	e.RemoveOnCleanup(rm)
	e.MustRun("create", "--name", rm, "--network", "none", "--rm", img, "true")

	cases := []struct {
		desc, ref, oracle string
	}{
		{"created (oracle container-created)", created, "container-created.json"},
		{"exited with 3 (oracle container-exited)", exited, "container-exited.json"},
		{"running (oracle container-running)", running, "container-running.json"},
		{"created with --network none --rm (oracle container-created-network-none-rm)", rm, "container-created-network-none-rm.json"},
	}
	for _, c := range cases {
		t.Run(c.desc+": keys and types", func(t *testing.T) {
			shapeDiff(t, inspectOf(t, e.For(t), c.ref), oracleObject(t, c.oracle), containerShapeAllowed)
		})
		t.Run(c.desc+": values", func(t *testing.T) {
			valueDiff(t, inspectOf(t, e.For(t), c.ref), oracleObject(t, c.oracle), containerVolatile)
		})
	}
	t.Run("the key order is Docker's", func(t *testing.T) {
		r := e.For(t).MustRun("inspect", exited)
		keyRe := regexp.MustCompile(`(?m)^        "([A-Za-z]+)":`)
		var got []string
		for _, m := range keyRe.FindAllStringSubmatch(r.Stdout, -1) {
			got = append(got, m[1])
		}
		want := []string{"Id", "Created", "Path", "Args", "State", "Image", "ResolvConfPath", "HostnamePath", "HostsPath", "LogPath",
			"Name", "RestartCount", "Driver", "Platform", "MountLabel", "ProcessLabel", "AppArmorProfile", "ExecIDs", "HostConfig",
			"GraphDriver", "Mounts", "Config", "NetworkSettings"}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("top-level keys:\n%v\ndocker's:\n%v", got, want)
		}
	})
}

// TestInspectTemplates: -f evaluates Go templates on the object, with
// Docker's field names and helpers.
func TestInspectTemplates(t *testing.T) {
	e := newEnv(t)
	e.BusyboxImage()
	const img = "busybox-imported"
	name := e.Name("tmpl")
	e.RemoveOnCleanup(name)
	e.Run("run", "--name", name, "-e", "A=1", "-w", "/tmp", "--label", "k=v", img, "sh", "-c", "exit 3")
	id := strings.TrimSpace(e.MustRun("ps", "-aq", "--no-trunc").Stdout)
	imgID := e.Inspect(img, "{{.Id}}")

	cases := []struct {
		desc, tmpl, want string
	}{
		{"the exit code", "{{.State.ExitCode}}", "3"},
		{"the hostname is the short ID", "{{.Config.Hostname}}", id[:12]},
		{"the full ID", "{{.Id}}", id},
		{"the name with its slash", "{{.Name}}", "/" + name},
		{"json of Config, in Docker's key order",
			"{{json .Config}}",
			`{"Hostname":"` + id[:12] + `","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["A=1"],"Cmd":["sh","-c","exit 3"],"Image":"busybox-imported","Volumes":null,"WorkingDir":"/tmp","Entrypoint":null,"OnBuild":null,"Labels":{"k":"v"}}`},
		{"index into a map", `{{index .Config.Labels "k"}}`, "v"},
		{"range over a list", "{{range .Config.Cmd}}[{{.}}]{{end}}", "[sh][-c][exit 3]"},
		{"the image ID", "{{.Image}}", imgID},
		{"upper and join helpers", `{{upper .State.Status}} {{join .Args ","}}`, "EXITED -c,exit 3"},
		{"a boolean", "{{.State.Running}}", "false"},
		{"json of a list", "{{json .Args}}", `["-c","exit 3"]`},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			if got := e.For(t).Inspect(name, c.tmpl); got != c.want {
				t.Errorf("%s = %q, want %q", c.tmpl, got, c.want)
			}
		})
	}
	t.Run("several objects, one line each; containers before images", func(t *testing.T) {
		r := e.For(t).MustRun("inspect", "-f", "{{.Id}}", name, img)
		if r.Stdout != id+"\n"+imgID+"\n" {
			t.Errorf("got %q", r.Stdout)
		}
		r = e.For(t).MustRun("inspect", "--type", "image", "-f", "{{.Id}}", img)
		if r.Stdout != imgID+"\n" {
			t.Errorf("--type image got %q", r.Stdout)
		}
	})
	t.Run("a bad template fails", func(t *testing.T) {
		if r := e.For(t).Run("inspect", "-f", "{{.Nope", name); r.Code == 0 || !strings.Contains(r.Stderr, "template") {
			t.Errorf("want a template error:\n%s", r)
		}
	})
}

// imageShapeAllowed: image inspect keys allowed to differ from Docker
// 20.10's, with reasons.
var imageShapeAllowed = map[string]string{}

var imageVolatile = map[string]string{
	"Id": "the config digest includes the import time", "Created": "time", "Metadata.LastTagTime": "time",
	"GraphDriver.Data": "under berth's root",
	"DockerVersion":    "berth is not Docker; it records no Docker version",
	"Size":             "berth counts the unpacked files, Docker 20.10 also the directories' own sizes",
	"VirtualSize":      "as Size",
}

// TestInspectImageMatchesDocker: the imported busybox against Docker's
// `image inspect busybox-imported` (oracle image-inspect).
func TestInspectImageMatchesDocker(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	r := e.MustRun("image", "inspect", img)
	var list []map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil || len(list) != 1 {
		t.Fatalf("image inspect: %v\n%s", err, r.Stdout)
	}
	docker := oracleObject(t, "image-inspect.json")
	shapeDiff(t, list[0], docker, imageShapeAllowed)
	valueDiff(t, list[0], docker, imageVolatile)
	if a, b := r.Stdout, e.MustRun("inspect", "--type", "image", img).Stdout; a != b {
		t.Errorf("image inspect and inspect --type image differ")
	}
}
