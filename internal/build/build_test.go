package build

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const pathEnv = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Expected configs and history strings are Docker 20.10's legacy builder
// (test/oracle/data/build/*/config.json).
func TestDispatchSemantics(t *testing.T) {
	cases := []struct {
		desc       string
		dockerfile string
		args       map[string]*string
		want       func(c *v1.Config) string // "" when the config is right
		history    []string                  // created_by of the new steps
	}{
		{
			desc:       "ENV forms, substitution before the instruction, in-place replacement",
			dockerfile: "FROM busybox\nENV A b\nENV B=\"c d\" C=e\\ f\nENV D $A-x\nENV E=1 F=${E}2\nENV A=replaced\nENV PATH=/opt/bin:$PATH\n",
			want: func(c *v1.Config) string {
				want := []string{"PATH=/opt/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "A=replaced", "B=c d", "C=e f", "D=b-x", "E=1", "F=2"}
				if !reflect.DeepEqual(c.Env, want) {
					return "Env " + strings.Join(c.Env, "|")
				}
				return ""
			},
			history: []string{"/bin/sh -c #(nop)  ENV A=b", "/bin/sh -c #(nop)  ENV B=c d C=e f", "/bin/sh -c #(nop)  ENV D=b-x",
				"/bin/sh -c #(nop)  ENV E=1 F=2", "/bin/sh -c #(nop)  ENV A=replaced",
				"/bin/sh -c #(nop)  ENV PATH=/opt/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		},
		{
			desc:       "metadata instructions",
			dockerfile: "FROM busybox\nMAINTAINER Jane Doe <jane@example.com>\nEXPOSE 80 53/udp 8000-8002 443/tcp\nLABEL version=\"1.0\" multi=a\\ b\nVOLUME [\"/data\"]\nVOLUME /a /b\nSTOPSIGNAL SIGKILL\nHEALTHCHECK --interval=5s --timeout=3s --start-period=2s --retries=4 CMD wget -q -O- localhost || exit 1\nUSER app\n",
			want: func(c *v1.Config) string {
				ports := []string{}
				for p := range c.ExposedPorts {
					ports = append(ports, p)
				}
				if len(ports) != 6 || c.ExposedPorts["8001/tcp"] == struct{}{} && len(c.ExposedPorts) != 6 {
					return "ports " + strings.Join(ports, ",")
				}
				if _, ok := c.ExposedPorts["53/udp"]; !ok {
					return "no 53/udp"
				}
				if c.Labels["multi"] != "a b" || c.Labels["version"] != "1.0" || len(c.Volumes) != 3 || c.StopSignal != "SIGKILL" || c.User != "app" {
					return "labels/volumes/stopsignal/user"
				}
				h := c.Healthcheck
				if h == nil || h.Interval != 5*time.Second || h.Retries != 4 || !reflect.DeepEqual(h.Test, []string{"CMD-SHELL", "wget -q -O- localhost || exit 1"}) {
					return "healthcheck"
				}
				return ""
			},
			history: []string{"/bin/sh -c #(nop)  MAINTAINER Jane Doe <jane@example.com>", "/bin/sh -c #(nop)  EXPOSE 443/tcp 53/udp 80 8000-8002",
				"/bin/sh -c #(nop)  LABEL version=1.0 multi=a b", "/bin/sh -c #(nop)  VOLUME [/data]", "/bin/sh -c #(nop)  VOLUME [/a /b]",
				"/bin/sh -c #(nop)  STOPSIGNAL SIGKILL",
				`/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "wget -q -O- localhost || exit 1"] "5s" "3s" "2s" '\x04'}`,
				"/bin/sh -c #(nop)  USER app"},
		},
		{
			desc:       "HEALTHCHECK NONE",
			dockerfile: "FROM busybox\nHEALTHCHECK NONE\n",
			want: func(c *v1.Config) string {
				if c.Healthcheck == nil || !reflect.DeepEqual(c.Healthcheck.Test, []string{"NONE"}) {
					return "healthcheck"
				}
				return ""
			},
			history: []string{`/bin/sh -c #(nop)  HEALTHCHECK &{["NONE"] "0s" "0s" "0s" '\x00'}`},
		},
		{
			desc:       "ENTRYPOINT clears an inherited CMD",
			dockerfile: "FROM busybox\nENTRYPOINT echo from shell form\n",
			want: func(c *v1.Config) string {
				if c.Cmd != nil || !reflect.DeepEqual(c.Entrypoint, []string{"/bin/sh", "-c", "echo from shell form"}) {
					return "cmd/entrypoint"
				}
				return ""
			},
			history: []string{`/bin/sh -c #(nop)  ENTRYPOINT ["/bin/sh" "-c" "echo from shell form"]`},
		},
		{
			desc:       "ENTRYPOINT keeps a CMD set in the same stage",
			dockerfile: "FROM busybox\nCMD [\"own\"]\nENTRYPOINT [\"/bin/echo\"]\n",
			want: func(c *v1.Config) string {
				if !reflect.DeepEqual(c.Cmd, []string{"own"}) {
					return "cmd"
				}
				return ""
			},
			history: []string{`/bin/sh -c #(nop)  CMD ["own"]`, `/bin/sh -c #(nop)  ENTRYPOINT ["/bin/echo"]`},
		},
		{
			desc:       "SHELL prefixes everything after it, itself included",
			dockerfile: "FROM busybox\nSHELL [\"/bin/sh\", \"-e\", \"-c\"]\nRUN echo \"$0\"\nCMD echo cmd\n",
			want: func(c *v1.Config) string {
				if !reflect.DeepEqual(c.Cmd, []string{"/bin/sh", "-e", "-c", "echo cmd"}) {
					return "cmd"
				}
				return ""
			},
			history: []string{"/bin/sh -e -c #(nop)  SHELL [/bin/sh -e -c]", `/bin/sh -e -c echo "$0"`, `/bin/sh -e -c #(nop)  CMD ["/bin/sh" "-e" "-c" "echo cmd"]`},
		},
		{
			desc:       "ARG defaults, build args, meta args, proxies",
			dockerfile: "ARG BASE=busybox\nFROM ${BASE}\nARG BASE\nARG A=alpha\nARG EMPTY\nRUN echo $A\nENV X=${A:-def} Y=${EMPTY:-fallback}\nLABEL a=$A\nWORKDIR /w/$A\n",
			args:       map[string]*string{"A": ptr("override"), "http_proxy": ptr("http://p:1")},
			want: func(c *v1.Config) string {
				if !reflect.DeepEqual(c.Env, []string{pathEnv, "X=override", "Y=fallback"}) || c.Labels["a"] != "override" || c.WorkingDir != "/w/override" {
					return "env/label/workdir " + strings.Join(c.Env, "|")
				}
				return ""
			},
			history: []string{"/bin/sh -c #(nop)  ARG BASE", "/bin/sh -c #(nop)  ARG A=alpha", "/bin/sh -c #(nop)  ARG EMPTY",
				"|2 A=override BASE=busybox /bin/sh -c echo $A", "/bin/sh -c #(nop)  ENV X=override Y=fallback",
				"/bin/sh -c #(nop)  LABEL a=override", "/bin/sh -c #(nop) WORKDIR /w/override"},
		},
		{
			desc:       "WORKDIR chains relative paths",
			dockerfile: "FROM busybox\nWORKDIR /a\nWORKDIR b\nWORKDIR c/d\nRUN pwd\n",
			want: func(c *v1.Config) string {
				if c.WorkingDir != "/a/b/c/d" {
					return "workdir " + c.WorkingDir
				}
				return ""
			},
			history: []string{"/bin/sh -c #(nop) WORKDIR /a", "/bin/sh -c #(nop) WORKDIR /a/b", "/bin/sh -c #(nop) WORKDIR /a/b/c/d", "/bin/sh -c pwd"},
		},
		{
			desc:       "RUN exec form and continuations",
			dockerfile: "FROM busybox\nRUN [\"touch\", \"/x\"]\nRUN echo one && \\\n    echo two\n",
			history:    []string{"touch /x", "/bin/sh -c echo one &&     echo two"},
		},
		{
			desc:       "ONBUILD records triggers",
			dockerfile: "FROM busybox\nONBUILD RUN echo triggered > /onbuild.txt\nONBUILD ENV T=yes\n",
			want: func(c *v1.Config) string {
				if !reflect.DeepEqual(c.OnBuild, []string{"RUN echo triggered > /onbuild.txt", "ENV T=yes"}) {
					return "onbuild"
				}
				return ""
			},
			history: []string{"/bin/sh -c #(nop)  ONBUILD RUN echo triggered > /onbuild.txt", "/bin/sh -c #(nop)  ONBUILD ENV T=yes"},
		},
		{
			desc:       "--label adds LABEL steps to the target",
			dockerfile: "FROM busybox\n",
			history:    []string{"/bin/sh -c #(nop)  LABEL k=v"},
		},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			f := newFake()
			img, out, err := buildWith(t, f, c.dockerfile, nil, func(o *Options) {
				o.BuildArgs = c.args
				if c.desc == "--label adds LABEL steps to the target" {
					o.Labels = map[string]string{"k": "v"}
				}
			})
			if err != nil {
				t.Fatalf("build: %v\n%s", err, out)
			}
			if c.want != nil {
				if msg := c.want(&img.Config.Config); msg != "" {
					j, _ := json.Marshal(img.Config.Config)
					t.Errorf("config wrong (%s): %s", msg, j)
				}
			}
			if got := createdBy(img); !reflect.DeepEqual(got, c.history) {
				t.Errorf("history:\n got %q\nwant %q", got, c.history)
			}
			for _, kv := range img.Config.Config.Env {
				k, _, _ := strings.Cut(kv, "=")
				if _, isArg := c.args[k]; isArg {
					t.Errorf("build arg persisted in Env: %s", kv)
				}
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestOnbuildTriggersRunInChild(t *testing.T) {
	f := newFake()
	f.addBase("parent", v1.Config{OnBuild: []string{"RUN echo triggered", "ENV T=yes"}})
	img, out, err := buildWith(t, f, "FROM parent\nRUN echo child\n", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "# Executing 2 build triggers\n") {
		t.Errorf("output:\n%s", out)
	}
	want := []string{"/bin/sh -c echo triggered", "/bin/sh -c #(nop)  ENV T=yes", "/bin/sh -c echo child"}
	if got := createdBy(img); !reflect.DeepEqual(got, want) || img.Config.Config.OnBuild != nil {
		t.Errorf("history %q, OnBuild %v", got, img.Config.Config.OnBuild)
	}
}

func TestCacheHitsAndBusts(t *testing.T) {
	f := newFake()
	cacheDir := t.TempDir()
	df := "FROM busybox\nENV A=1\nRUN echo x\nCOPY a.txt /\nRUN echo y\n"
	files := map[string]string{"a.txt": "one"}
	withCache := func(o *Options) { o.CacheDir = cacheDir }
	img1, _, err := buildWith(t, f, df, files, withCache)
	if err != nil {
		t.Fatal(err)
	}
	runs := len(f.runs)
	img2, out, err := buildWith(t, f, df, files, withCache)
	if err != nil {
		t.Fatal(err)
	}
	if img2.ID != img1.ID || len(f.runs) != runs || strings.Count(out, " ---> Using cache\n") != 4 {
		t.Errorf("second build not fully cached (runs %d → %d):\n%s", runs, len(f.runs), out)
	}
	files["a.txt"] = "two"
	_, out, err = buildWith(t, f, df, files, withCache)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(out, " ---> Using cache\n") != 2 || len(f.runs) != runs+1 {
		t.Errorf("a changed COPY source must rebuild from the COPY on:\n%s", out)
	}
	_, out, _ = buildWith(t, f, df, files, func(o *Options) { withCache(o); o.NoCache = true })
	if strings.Contains(out, "Using cache") {
		t.Errorf("--no-cache used the cache:\n%s", out)
	}
	// A cache entry whose image is gone is a miss.
	delete(f.images, img1.ID)
	files["a.txt"] = "one"
	img3, _, err := buildWith(t, f, df, files, withCache)
	if err != nil || img3 == nil {
		t.Fatalf("rebuild after the image vanished: %v", err)
	}
}

func TestFailingRun(t *testing.T) {
	f := newFake()
	f.fail["[/bin/sh -c false]"] = 1
	_, out, err := buildWith(t, f, "FROM busybox\nRUN echo before\nRUN false\nRUN echo after\n", nil, nil)
	var rf *RunFailed
	if !errors.As(err, &rf) || rf.Error() != "The command '/bin/sh -c false' returned a non-zero code: 1" {
		t.Fatalf("err = %v", err)
	}
	var se *StepError
	if !errors.As(err, &se) || se.Line != 3 || se.Text != "RUN false" {
		t.Errorf("step error %+v", se)
	}
	if strings.Contains(out, "after") || strings.Contains(out, "Removing intermediate container") && strings.Count(out, "Removing") != 1 {
		t.Errorf("output:\n%s", out)
	}
}

func TestBuildErrors(t *testing.T) {
	cases := []struct{ desc, dockerfile, want string }{
		{"no image from scratch alone", "FROM scratch\n", "No image was generated"},
		{"unknown base", "FROM nosuch\n", "No such image: nosuch"},
		{"blank base", "ARG B\nFROM $B\n", "base name ($B) should not be blank"},
		{"RUN flags need BuildKit", "FROM busybox\nRUN --network=none true\n", "the --network option requires BuildKit"},
		{"bad stop signal", "FROM busybox\nSTOPSIGNAL NOPE\n", "invalid signal"},
		{"bad port", "FROM busybox\nEXPOSE abc\n", "invalid containerPort: abc"},
		{"duplicate stage", "FROM busybox AS a\nFROM busybox AS a\n", "a stage name already used"},
		{"copy from bad index", "FROM busybox\nCOPY --from=5 /x /\n", "invalid from flag value 5: index out of bounds"},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			_, out, err := buildWith(t, newFake(), c.dockerfile, nil, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q\n%s", err, c.want, out)
			}
		})
	}
}

func TestReproducibleTimestamps(t *testing.T) {
	sde := time.Unix(1600000000, 0).UTC()
	build := func() string {
		img, _, err := buildWith(t, newFake(), "FROM busybox\nENV A=1\nRUN true\n", nil, func(o *Options) {
			o.SourceDateEpoch = &sde
			o.Now = time.Now
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range img.Config.History[1:] {
			if !h.Created.Time.Equal(sde) {
				t.Errorf("history created %v", h.Created)
			}
		}
		return img.ID
	}
	if a, b := build(), build(); a != b {
		t.Errorf("same inputs, different images: %s %s", a, b)
	}
}

func TestMkdirInStaysInRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.Symlink("/", filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	if err := mkdirIn(root, "/escape/berth-mkdir-test"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/berth-mkdir-test"); err == nil {
		os.Remove("/berth-mkdir-test")
		t.Fatal("WORKDIR followed a symlink out of the rootfs")
	}
	if fi, err := os.Stat(filepath.Join(root, "berth-mkdir-test")); err != nil || !fi.IsDir() {
		t.Errorf("not created inside the root: %v", err)
	}
}

func TestStagesByNameAfterSkippedStages(t *testing.T) {
	f := newFake()
	df := "FROM busybox AS skipped\nRUN echo skipped\nFROM busybox AS base\nENV FROM_BASE=1\nFROM base\nRUN echo final\n"
	img, out, err := buildWith(t, f, df, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "skipped") {
		t.Errorf("unused stage built:\n%s", out)
	}
	if !reflect.DeepEqual(img.Config.Config.Env, []string{pathEnv, "FROM_BASE=1"}) {
		t.Errorf("final stage is not based on 'base': env %v", img.Config.Config.Env)
	}
}

func TestSourceDateEpochIsPartOfTheCacheKey(t *testing.T) {
	f := newFake()
	dir := t.TempDir()
	df := "FROM busybox\nRUN echo x\n"
	buildWith(t, f, df, nil, func(o *Options) { o.CacheDir = dir })
	sde := time.Unix(1600000000, 0)
	img, out, err := buildWith(t, f, df, nil, func(o *Options) { o.CacheDir = dir; o.SourceDateEpoch = &sde })
	if err != nil || strings.Contains(out, "Using cache") || !img.Config.Created.Time.Equal(sde) {
		t.Errorf("a SOURCE_DATE_EPOCH build reused an unclamped step (err %v):\n%s", err, out)
	}
}

// Docker 20.10 (test/oracle/data/build/healthcheck-inherit): options a
// HEALTHCHECK leaves unset keep the base image's values.
func TestHealthcheckInheritsUnsetOptions(t *testing.T) {
	f := newFake()
	f.addBase("hc", v1.Config{Healthcheck: &v1.HealthConfig{Test: []string{"CMD-SHELL", "true"}, Interval: 10 * time.Second, Retries: 2}})
	img, _, err := buildWith(t, f, "FROM hc\nHEALTHCHECK --timeout=7s CMD [\"/bin/false\"]\n", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := v1.HealthConfig{Test: []string{"CMD", "/bin/false"}, Interval: 10 * time.Second, Timeout: 7 * time.Second, Retries: 2}
	if got := img.Config.Config.Healthcheck; got == nil || !reflect.DeepEqual(*got, want) {
		t.Errorf("healthcheck %+v, want %+v", got, want)
	}
	if h := createdBy(img); h[0] != `/bin/sh -c #(nop)  HEALTHCHECK &{["CMD" "/bin/false"] "0s" "7s" "0s" '\x00'}` {
		t.Errorf("history %q", h)
	}
}
