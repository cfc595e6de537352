package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Images, volumes and system verbs, against Docker 20.10's answers in
// test/oracle/data/cases.json.

// TestImportImagesTagRmi: import from a file and from stdin, --change,
// the images table, tag and rmi with docker's output.
func TestImportImagesTagRmi(t *testing.T) {
	e := newEnv(t)
	oracle := oracleCases(t, "cases.json")
	tarPath := busyboxTar(t)
	idRe := regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`)

	// oracle import: the image ID and nothing else.
	r := e.MustRun("import", tarPath, "busybox-imported")
	if !idRe.MatchString(r.Stdout) || !idRe.MatchString(oracle["import"].Stdout) {
		t.Errorf("import printed %q, docker printed %q", r.Stdout, oracle["import"].Stdout)
	}
	id := strings.TrimSpace(r.Stdout)

	t.Run("the image ID is the digest of its config blob", func(t *testing.T) {
		hexID := strings.TrimPrefix(id, "sha256:")
		blob, err := os.ReadFile(filepath.Join(e.Root, "content", "blobs", "sha256", hexID))
		if err != nil {
			t.Fatalf("config blob: %v", err)
		}
		sum := sha256.Sum256(blob)
		if hex.EncodeToString(sum[:]) != hexID {
			t.Errorf("config blob hashes to %x, not the ID", sum)
		}
		var cfg map[string]any
		if err := json.Unmarshal(blob, &cfg); err != nil || cfg["rootfs"] == nil {
			t.Errorf("blob %s is not an image config: %v", hexID, err)
		}
		if got := e.For(t).Inspect("busybox-imported", "{{.Id}}"); got != id {
			t.Errorf("image inspect .Id = %s, import printed %s", got, id)
		}
		// oracle image-inspect: the layer is the tar itself (reproducible).
		img := oracleJSON(t, "image-inspect.json").([]any)[0].(map[string]any)
		want := img["RootFS"].(map[string]any)["Layers"].([]any)[0].(string)
		if got := e.For(t).Inspect("busybox-imported", "{{index .RootFS.Layers 0}}"); got != want {
			t.Errorf("layer diff ID %s, docker's %s", got, want)
		}
		if got := e.For(t).Inspect("busybox-imported", "{{.Comment}} {{.Architecture}} {{.Os}}"); got != "Imported from - amd64 linux" {
			t.Errorf("comment/platform %q", got)
		}
	})

	t.Run("images: docker's columns (oracle images)", func(t *testing.T) {
		header, rows := psTable(t, e.For(t).MustRun("images").Stdout)
		oHeader, oRows := psTable(t, oracle["images"].Stdout)
		if !slices.Equal(header, oHeader) {
			t.Errorf("header %q, docker's %q", header, oHeader)
		}
		if len(rows) != 1 {
			t.Fatalf("rows %v", rows)
		}
		want := map[string]string{"REPOSITORY": "busybox-imported", "TAG": "latest", "IMAGE ID": id[7:19], "SIZE": oRows[0]["SIZE"]}
		for k, v := range want {
			if rows[0][k] != v {
				t.Errorf("%s = %q, want %q", k, rows[0][k], v)
			}
		}
		if !strings.HasSuffix(rows[0]["CREATED"], " ago") {
			t.Errorf("CREATED = %q", rows[0]["CREATED"])
		}
	})
	t.Run("images -q, --no-trunc, a reference argument", func(t *testing.T) {
		ee := e.For(t)
		if r := ee.MustRun("images", "-q"); r.Stdout != id[7:19]+"\n" {
			t.Errorf("images -q %q", r.Stdout)
		}
		_, rows := psTable(t, ee.MustRun("images", "--no-trunc").Stdout)
		if len(rows) != 1 || rows[0]["IMAGE ID"] != id {
			t.Errorf("--no-trunc rows %v", rows)
		}
		if r := ee.MustRun("images", "-q", "busybox-imported"); r.Stdout != id[7:19]+"\n" {
			t.Errorf("images REF %q", r.Stdout)
		}
		if r := ee.MustRun("images", "-q", "nosuch"); r.Stdout != "" {
			t.Errorf("images of another name %q", r.Stdout)
		}
	})
	t.Run("images --format {{json .}}: docker's keys, sorted (oracle images-json)", func(t *testing.T) {
		r := e.For(t).MustRun("images", "--format", "{{json .}}")
		keyRe := regexp.MustCompile(`"([A-Za-z]+)":`)
		keys := func(s string) (out []string) {
			for _, m := range keyRe.FindAllStringSubmatch(s, -1) {
				out = append(out, m[1])
			}
			return out
		}
		if got, want := keys(r.Stdout), keys(oracle["images-json"].Stdout); !slices.Equal(got, want) {
			t.Errorf("keys %v, docker's %v", got, want)
		}
		for _, kv := range []string{`"Containers":"N/A"`, `"Digest":"\u003cnone\u003e"`, `"Repository":"busybox-imported"`, `"Tag":"latest"`,
			`"Size":"1.98MB"`, `"VirtualSize":"1.98`, `"ID":"` + id[7:19] + `"`} {
			if !strings.Contains(r.Stdout, kv) {
				t.Errorf("json lacks %s: %s", kv, r.Stdout)
			}
		}
	})

	ref := e.Name("imp")
	t.Run("import from stdin with --change", func(t *testing.T) {
		ee := e.For(t)
		tarData, err := os.ReadFile(tarPath)
		if err != nil {
			t.Fatal(err)
		}
		r := ee.RunStdin(string(tarData), "import", "--change", `CMD ["sh","-c","echo $GREETING from $PWD"]`,
			"--change", "ENV GREETING=hello", "-c", "WORKDIR /tmp", "-m", "a message", "-", ref+":v1")
		if r.Code != 0 || !idRe.MatchString(r.Stdout) {
			t.Fatalf("import -:\n%s", r)
		}
		if got := ee.Inspect(ref+":v1", "{{json .Config.Cmd}} {{json .Config.Env}} {{.Config.WorkingDir}} {{.Comment}}"); got != `["sh","-c","echo $GREETING from $PWD"] ["GREETING=hello"] /tmp a message` {
			t.Errorf("config after --change: %s", got)
		}
		if r := ee.MustRun("run", "--rm", ref+":v1"); r.Stdout != "hello from /tmp\n" {
			t.Errorf("running the imported image: %q", r.Stdout)
		}
	})
	t.Run("tag prints nothing; rmi untags, then deletes (oracle tag, rmi-tag, rmi-last-tag)", func(t *testing.T) {
		ee := e.For(t)
		v1ID := ee.Inspect(ref+":v1", "{{.Id}}")
		r := ee.MustRun("tag", ref+":v1", ref+":v2")
		if r.Stdout != oracle["tag"].Stdout || r.Stderr != "" {
			t.Errorf("tag printed:\n%s", r)
		}
		if got := ee.Inspect(ref+":v2", "{{.Id}} {{len .RepoTags}}"); got != v1ID+" 2" {
			t.Errorf("tagged image %q", got)
		}
		_, rows := psTable(t, ee.MustRun("images", ref).Stdout)
		if len(rows) != 2 || rows[0]["IMAGE ID"] != rows[1]["IMAGE ID"] {
			t.Errorf("two tags of one image listed as %v", rows)
		}
		if r := ee.MustRun("rmi", ref+":v2"); r.Stdout != dockerToBerth(oracle["rmi-tag"].Stdout, "oracle-imp-20.10.24-dfsg1", ref) {
			t.Errorf("rmi of one tag printed %q", r.Stdout)
		}
		want := "Untagged: " + ref + ":v1\nDeleted: " + v1ID + "\n"
		if r := ee.MustRun("rmi", ref+":v1"); r.Stdout != want {
			t.Errorf("rmi of the last tag printed %q, want (docker's form) %q", r.Stdout, want)
		}
		if r := ee.Run("image", "inspect", v1ID); r.Code != 1 {
			t.Errorf("image survived its last rmi")
		}
	})
	t.Run("rmi refuses an image in use; -f untags it, and deletes it unless it runs", func(t *testing.T) {
		ee := e.For(t)
		used := ee.Name("used") + ":latest"
		ee.MustRun("tag", "busybox-imported", used)
		c := ee.Name("user")
		ee.RemoveOnCleanup(c)
		ee.MustRun("create", "--name", c, used, "true")
		// A second tag can go: the image keeps a name.
		if r := ee.MustRun("rmi", used); r.Stdout != "Untagged: "+used+"\n" {
			t.Errorf("rmi of a second tag: %q", r.Stdout)
		}
		r := ee.Run("rmi", "busybox-imported")
		if r.Code != 1 || !strings.Contains(r.Stderr, `unable to remove repository reference "busybox-imported" (must force) - container `) {
			t.Errorf("rmi of a used image:\n%s", r)
		}
		r = ee.Run("rmi", id)
		if r.Code != 1 || !strings.Contains(r.Stderr, "conflict: unable to delete "+id[7:19]+" (must be forced) - image is being used by stopped container "+ee.Inspect(c, "{{.Id}}")[:12]) {
			t.Errorf("rmi by ID of a used image (docker's text):\n%s", r)
		}
		// A running user: -f only untags (Docker's hard conflict is quiet).
		runner := ee.Name("runner")
		ee.RunDetached(runner, "busybox-imported", "sleep", "1000")
		if r := ee.MustRun("rmi", "-f", "busybox-imported"); r.Stdout != "Untagged: busybox-imported:latest\n" {
			t.Errorf("rmi -f of an image a running container uses printed %q, want only the untag", r.Stdout)
		}
		_, rows := psTable(t, ee.MustRun("images").Stdout)
		if len(rows) != 1 || rows[0]["REPOSITORY"] != "<none>" || rows[0]["TAG"] != "<none>" || rows[0]["IMAGE ID"] != id[7:19] {
			t.Errorf("the untagged image should be listed as <none>: %v", rows)
		}
		if got := strings.TrimSpace(ee.MustRun("ps", "--format", "{{.Image}}", "-f", "name="+runner).Stdout); got != id[7:19] {
			t.Errorf("ps IMAGE of a container whose image lost its name: %q, want the short ID", got)
		}
		ee.MustRun("run", "--rm", id, "true")
		ee.MustRun("rm", "-f", runner)
		// Only stopped users left: -f deletes the image, as Docker does.
		ee.MustRun("tag", id, "busybox-imported")
		r = ee.MustRun("rmi", "-f", "busybox-imported")
		if r.Stdout != "Untagged: busybox-imported:latest\nDeleted: "+id+"\n" {
			t.Errorf("rmi -f of an image only a stopped container uses printed %q", r.Stdout)
		}
		if got := ee.Inspect(c, "{{.Image}}"); got != id {
			t.Errorf("container's image %s", got)
		}
	})
}

// TestImagePrune: prune deletes dangling images only; -a also unused ones.
func TestImagePrune(t *testing.T) {
	e := newEnv(t)
	tarPath := busyboxTar(t)
	img := e.BusyboxImage()
	ref := e.Name("prune")
	e.MustRun("import", "--change", "ENV V=1", tarPath, ref)
	oldID := e.Inspect(ref, "{{.Id}}")
	e.MustRun("import", "--change", "ENV V=2", tarPath, ref) // the first loses its name
	if got := e.Inspect(oldID, "{{len .RepoTags}}"); got != "0" {
		t.Fatalf("the re-tagged image still has %s tags", got)
	}
	if got := strings.TrimSpace(e.MustRun("images", "-q", "--filter", "dangling=true").Stdout); got != oldID[7:19] {
		t.Errorf("dangling images: %q, want %s", got, oldID[7:19])
	}
	r := e.MustRun("image", "prune", "-f")
	want := regexp.MustCompile(`^Deleted Images:\ndeleted: ` + regexp.QuoteMeta(oldID) + `\n\nTotal reclaimed space: \S+\n$`)
	if !want.MatchString(r.Stdout) {
		t.Errorf("image prune printed:\n%s", r.Stdout)
	}
	if r := e.MustRun("image", "prune", "-f"); r.Stdout != "Total reclaimed space: 0B\n" {
		t.Errorf("second prune printed %q", r.Stdout)
	}
	// -a: every image without a container goes; one with a container stays.
	c := e.Name("keep")
	e.RemoveOnCleanup(c)
	e.MustRun("create", "--name", c, img, "true")
	r = e.MustRun("image", "prune", "-a", "-f")
	if !strings.Contains(r.Stdout, "untagged: "+ref+":latest\n") || strings.Contains(r.Stdout, "busybox-imported") {
		t.Errorf("image prune -a printed:\n%s", r.Stdout)
	}
	if got := strings.TrimSpace(e.MustRun("images", "--format", "{{.Repository}}").Stdout); got != "busybox-imported" {
		t.Errorf("images after prune -a: %q", got)
	}
}

// TestVolumes: create, ls, inspect, rm (refused while used), prune.
func TestVolumes(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()
	name := e.Name("vol")
	t.Cleanup(func() { e.Run("volume", "rm", "-f", name) })

	if r := e.MustRun("volume", "create", "--label", "a=b", name); r.Stdout != name+"\n" {
		t.Errorf("volume create printed %q", r.Stdout)
	}
	anon := strings.TrimSpace(e.MustRun("volume", "create").Stdout)
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(anon) {
		t.Errorf("an unnamed volume got the name %q", anon)
	}
	r := e.MustRun("volume", "ls")
	header, rows := psTable(t, r.Stdout)
	if !slices.Equal(header, []string{"DRIVER", "VOLUME NAME"}) || len(rows) != 2 {
		t.Errorf("volume ls:\n%s", r.Stdout)
	}
	for _, row := range rows {
		if row["DRIVER"] != "local" || (row["VOLUME NAME"] != name && row["VOLUME NAME"] != anon) {
			t.Errorf("volume ls row %v", row)
		}
	}
	if got := strings.Fields(e.MustRun("volume", "ls", "-q").Stdout); len(got) != 2 || !slices.Contains(got, name) || !slices.Contains(got, anon) {
		t.Errorf("volume ls -q %v", got)
	}

	r = e.MustRun("volume", "inspect", name)
	var vols []map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &vols); err != nil || len(vols) != 1 {
		t.Fatalf("volume inspect is not a JSON list of one: %v\n%s", err, r.Stdout)
	}
	var keys []string
	for k := range vols[0] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	// Docker's volume inspect keys (API 1.41).
	if want := []string{"CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"}; !slices.Equal(keys, want) {
		t.Errorf("volume inspect keys %v, docker's %v", keys, want)
	}
	if vols[0]["Driver"] != "local" || vols[0]["Scope"] != "local" || vols[0]["Labels"].(map[string]any)["a"] != "b" {
		t.Errorf("volume inspect values %v", vols[0])
	}
	if mp, _ := vols[0]["Mountpoint"].(string); !strings.HasPrefix(mp, e.Root) {
		t.Errorf("Mountpoint %q is not under the root", mp)
	}
	if r := e.Run("volume", "inspect", "nosuch"); r.Code != 1 || r.Stdout != "[]\n" || !strings.Contains(r.Stderr, "no such volume") {
		t.Errorf("inspect of a missing volume:\n%s", r)
	}

	c := e.Name("voluser")
	e.RemoveOnCleanup(c)
	cid := strings.TrimSpace(e.MustRun("create", "--name", c, "-v", name+":/data", img, "true").Stdout)
	if r := e.Run("volume", "rm", name); r.Code != 1 || r.Stderr != "Error response from daemon: remove "+name+": volume is in use - ["+cid+"]\n" {
		t.Errorf("rm of a used volume (docker's text):\n%s", r)
	}
	e.MustRun("rm", c)

	// prune: unused anonymous volumes go; named ones stay unless -a.
	r = e.MustRun("volume", "prune", "-f")
	if r.Stdout != "Deleted Volumes:\n"+anon+"\n\nTotal reclaimed space: 0B\n" {
		t.Errorf("volume prune printed %q", r.Stdout)
	}
	if got := e.MustRun("volume", "ls", "-q").Stdout; got != name+"\n" {
		t.Errorf("after prune: %q", got)
	}
	if r := e.MustRun("volume", "rm", name); r.Stdout != name+"\n" {
		t.Errorf("volume rm printed %q", r.Stdout)
	}
	if r := e.Run("volume", "rm", name); r.Code != 1 || !strings.Contains(r.Stderr, "no such volume") {
		t.Errorf("rm of a removed volume:\n%s", r)
	}
}

// TestSystemDfPruneCheck: df's table, system prune, and check finding and
// repairing damage.
func TestSystemDfPruneCheck(t *testing.T) {
	e := newEnv(t)
	img := e.BusyboxImage()

	r := e.MustRun("system", "df")
	header, rows := psTable(t, r.Stdout)
	if !slices.Equal(header, []string{"TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"}) {
		t.Errorf("df header %q", header)
	}
	var types []string
	for _, row := range rows {
		types = append(types, row["TYPE"])
	}
	if !slices.Equal(types, []string{"Images", "Containers", "Local Volumes", "Build Cache"}) {
		t.Errorf("df types %v", types)
	}
	// Docker counts the image's size (1.98MB, as `images` shows); berth
	// counts the disk blocks its layer uses, so only the form is checked.
	if rows[0]["TOTAL"] != "1" || rows[0]["ACTIVE"] != "0" || !strings.HasSuffix(rows[0]["SIZE"], "MB") || rows[0]["RECLAIMABLE"] != rows[0]["SIZE"]+" (100%)" {
		t.Errorf("df images row %v", rows[0])
	}

	if r := e.MustRun("system", "check"); r.Stdout != "ok\n" {
		t.Errorf("check of a clean store printed %q", r.Stdout)
	}

	t.Run("check finds a missing snapshot directory", func(t *testing.T) {
		ee := e.For(t)
		c := ee.Name("broken")
		ee.RemoveOnCleanup(c)
		ee.MustRun("create", "--name", c, img, "true")
		upper := ee.Inspect(c, "{{.GraphDriver.Data.UpperDir}}")
		if !strings.HasPrefix(upper, ee.Root+"/snapshots/") {
			t.Fatalf("UpperDir %q is not under the root's snapshots", upper)
		}
		if err := os.RemoveAll(filepath.Dir(upper)); err != nil {
			t.Fatal(err)
		}
		r := ee.Run("system", "check")
		if r.Code != 1 || !strings.Contains(r.Stdout, c) && !strings.Contains(r.Stdout, ee.Inspect(c, "{{.Id}}")[:12]) {
			t.Errorf("check after deleting a snapshot dir: want exit 1 naming the container:\n%s", r)
		}
		ee.MustRun("rm", c)
		if r := ee.Run("system", "check", "--repair"); r.Code != 0 {
			t.Errorf("check --repair:\n%s", r)
		}
		if r := ee.Run("system", "check"); r.Code != 0 {
			t.Errorf("check after rm and repair:\n%s", r)
		}
	})
	t.Run("check --repair fixes the mounts of a container whose owner died", func(t *testing.T) {
		ee := e.For(t)
		c := ee.Name("orphan")
		id := ee.RunDetached(c, img, "sleep", "1000")
		sup := findSupervisor(t, id)
		if sup == 0 {
			t.Fatalf("no supervisor process for %s", id)
		}
		if err := syscallKill(sup); err != nil {
			t.Fatal(err)
		}
		// Gone means dead or a zombie: an exiting process loses its command
		// line before it closes its files (and so its owner lock).
		ee.Eventually("the supervisor is dead", func() bool { return deadOrZombie(sup) })
		r := ee.Run("system", "check")
		if r.Code != 1 || !strings.Contains(r.Stdout, id[:12]) {
			t.Errorf("check with a dead owner: want exit 1 naming %s:\n%s", id[:12], r)
		}
		if r := ee.Run("system", "check", "--repair"); r.Code != 0 {
			t.Errorf("check --repair:\n%s", r)
		}
		if r := ee.Run("system", "check"); r.Code != 0 || r.Stdout != "ok\n" {
			t.Errorf("check after --repair:\n%s", r)
		}
		if mounts := mountsUnder(filepath.Join(ee.Root)); len(mounts) > 0 {
			// The root's own run dir may hold nothing mounted any more.
			t.Errorf("mounts left after repair: %v", mounts)
		}
		if st := ee.Inspect(c, "{{.State.Status}}"); st != "exited" {
			t.Errorf("state after repair %q", st)
		}
	})

	t.Run("system prune removes stopped containers and dangling images", func(t *testing.T) {
		ee := e.For(t)
		c := ee.Name("stopped")
		ee.RemoveOnCleanup(c)
		ee.MustRun("run", "--name", c, img, "true")
		cid := ee.Inspect(c, "{{.Id}}")
		r := ee.MustRun("system", "prune", "-f")
		if !strings.HasPrefix(r.Stdout, "Deleted Containers:\n"+cid+"\n\n") || !strings.Contains(r.Stdout, "Total reclaimed space: ") {
			t.Errorf("system prune printed:\n%s", r.Stdout)
		}
		if out := ee.MustRun("ps", "-aq").Stdout; out != "" {
			t.Errorf("containers left: %q", out)
		}
		if out := strings.TrimSpace(ee.MustRun("images", "-q").Stdout); out == "" {
			t.Errorf("system prune without -a removed a tagged image")
		}
		ee.MustRun("system", "prune", "-a", "-f")
		if out := ee.MustRun("images", "-q").Stdout; out != "" {
			t.Errorf("system prune -a left images: %q", out)
		}
	})
}

// findSupervisor finds the `berth __supervise ID` process of a container, 0
// when there is none.
func findSupervisor(t *testing.T, id string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(raw), "\x00")
		if slices.Contains(args, "__supervise") && slices.Contains(args, id) {
			return pid
		}
	}
	return 0
}

func syscallKill(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

// deadOrZombie reports whether pid has finished exiting.
func deadOrZombie(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || strings.HasPrefix(string(stat[i+1:]), " Z") || strings.HasPrefix(string(stat[i+1:]), " X")
}
