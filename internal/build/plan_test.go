package build

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParsePlan(t *testing.T) {
	cases := []struct {
		desc, dockerfile, target string
		stages                   []int // planned stage indexes
		total                    int
	}{
		{"single stage", "FROM a\nRUN x\nCMD y\n", "", []int{0}, 3},
		{"meta args count", "ARG V=1\nARG W\nFROM a:$V\nRUN x\n", "", []int{0}, 4},
		{"unused stage skipped", "FROM a AS one\nRUN x\nFROM a AS unused\nRUN y\nFROM one\nRUN z\n", "", []int{0, 2}, 4},
		{"COPY --from by name and index", "FROM a AS b\nFROM a AS c\nFROM a\nCOPY --from=b /x /\nCOPY --from=1 /y /\n", "", []int{0, 1, 2}, 5},
		{"COPY --from an image is no stage", "FROM a AS b\nFROM a\nCOPY --from=busybox /x /\n", "", []int{1}, 2},
		{"target cuts later stages", "FROM a AS build\nRUN x\nFROM build AS test\nRUN y\nFROM a\nRUN z\n", "test", []int{0, 1}, 4},
		{"target is case-insensitive", "FROM a AS Build\nFROM a\n", "build", []int{0}, 1},
		{"FROM a meta-arg stage", "ARG S=one\nFROM a AS one\nFROM $S\n", "", []int{0, 1}, 3},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			p, err := ParsePlan([]byte(c.dockerfile), PlanOptions{Target: c.target})
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, s := range p.Stages {
				got = append(got, s.Index)
			}
			if !equalInts(got, c.stages) || p.Total != c.total {
				t.Errorf("stages %v total %d, want %v %d", got, p.Total, c.stages, c.total)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The messages are Docker 20.10's (test/oracle/data/build/fail-*).
func TestParsePlanErrors(t *testing.T) {
	cases := []struct {
		desc, dockerfile, want string
		line                   int
		text                   string
	}{
		{"unknown instruction", "FROM a\nRUN true\nFOO bar\n", "dockerfile parse error line 3: unknown instruction: FOO", 3, "FOO bar"},
		{"ENV without value", "FROM a\nENV A\n", "failed to parse Dockerfile: ENV must have two arguments", 2, "ENV A"},
		{"FROM alone", "FROM\n", "dockerfile parse error line 1: FROM requires either one or three arguments", 1, "FROM"},
		{"no FROM", "RUN true\n", "no build stage in current context", 1, "RUN true"},
		{"ONBUILD FROM", "FROM a\nONBUILD FROM b\n", "dockerfile parse error line 2: FROM isn't allowed as an ONBUILD trigger", 2, "ONBUILD FROM b"},
		{"unknown flag", "FROM a\nCOPY --nosuchflag=1 a /\n", "dockerfile parse error line 2: Unknown flag: nosuchflag", 2, "COPY --nosuchflag=1 a /"},
		{"healthcheck interval", "FROM a\nHEALTHCHECK --interval=0.1ms CMD true\n", `dockerfile parse error line 2: Interval "interval" cannot be less than 1ms`, 2, ""},
		{"empty", "", "the Dockerfile (Dockerfile) cannot be empty", 0, ""},
		{"comments only", "# nothing\n", "the Dockerfile (Dockerfile) cannot be empty", 0, ""},
		{"missing target", "FROM a\n", "failed to reach build target x in Dockerfile", 0, ""},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			o := PlanOptions{Name: "Dockerfile"}
			if c.desc == "missing target" {
				o.Target = "x"
			}
			_, err := ParsePlan([]byte(c.dockerfile), o)
			var pe *PlanError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a PlanError", err)
			}
			if msg := strings.TrimSuffix(err.Error(), ": invalid argument"); msg != c.want {
				t.Errorf("message %q, want %q", msg, c.want)
			}
			var se *SyntaxError
			if c.line > 0 {
				if !errors.As(err, &se) || se.Line != c.line || (c.text != "" && se.Text != c.text) {
					t.Errorf("syntax error %+v, want line %d %q", se, c.line, c.text)
				}
			}
		})
	}
}

// FuzzBuildSteps feeds arbitrary Dockerfiles through planning and the
// dispatch of every instruction (config changes, history, cache keys) with
// the in-memory executor: it must never panic, and a plan's step count must
// match what dispatch prints.
func FuzzBuildSteps(f *testing.F) {
	seeds, _ := filepath.Glob("../../test/oracle/build/*/Dockerfile")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("FROM busybox\nRUN echo hi\nCOPY . /app\nEXPOSE 80-81/udp\nONBUILD RUN x\n"))
	f.Add([]byte("# escape=`\nFROM busybox\nRUN echo `\n  two\n"))
	f.Add([]byte("FROM busybox AS a\nFROM a\nCOPY --from=a / /\nRUN <<EOF\necho hi\nEOF\n"))
	f.Fuzz(func(t *testing.T, dockerfile []byte) {
		p, err := ParsePlan(dockerfile, PlanOptions{})
		if err != nil {
			var pe *PlanError
			if !errors.As(err, &pe) {
				t.Fatalf("ParsePlan error is not a PlanError: %v", err)
			}
			return
		}
		n := len(p.MetaArgs)
		last := -1
		for _, s := range p.Stages {
			if s.Index <= last {
				t.Fatalf("stages out of order: %d after %d", s.Index, last)
			}
			last = s.Index
			n += 1 + len(s.Commands)
		}
		if n != p.Total {
			t.Fatalf("Total %d, counted %d", p.Total, n)
		}
		// ADD of a URL would download: tests talk to no outside host.
		if len(dockerfile) > 4096 || bytes.Contains(dockerfile, []byte("://")) {
			return
		}
		_, out, _ := buildWith(t, newFake(), string(dockerfile), map[string]string{"a.txt": "a"}, nil)
		if steps := strings.Count(out, "\nStep ") + boolInt(strings.HasPrefix(out, "Step ")); steps > p.Total {
			t.Fatalf("printed %d steps of %d:\n%s", steps, p.Total, out)
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
