package build

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/berth/berth/internal/errdefs"
)

// Plan is a parsed Dockerfile reduced to what one build runs: the ARGs
// before the first FROM and the stages the target needs, in file order.
type Plan struct {
	MetaArgs []instructions.ArgCommand
	Stages   []PlannedStage
	// Total is the step count Docker prints ("Step 3/Total"): meta ARGs
	// plus, for every stage built, its FROM and its instructions.
	Total    int
	Escape   rune
	Warnings *parser.Result // the parser's warnings (empty continuation lines)
	lines    []string       // the Dockerfile's lines, for error context
}

// PlannedStage is one stage to build. Index is its position in the
// Dockerfile (what COPY --from=N names); skipped stages keep their index.
type PlannedStage struct {
	instructions.Stage
	Index int
}

// SyntaxError is a Dockerfile that does not parse or names an unknown
// instruction: Line (1-based, 0 if unknown) and the offending Text. Its
// message is the legacy builder's ("dockerfile parse error line 3: ...").
type SyntaxError struct {
	Line int
	Text string
	Msg  string
	Err  error
}

func (e *SyntaxError) Error() string { return e.Msg }

func (e *SyntaxError) Unwrap() []error { return []error{e.Err, errdefs.ErrInvalid} }

// PlanError is a failure before the first step (Docker's daemon refuses
// the build outright: "Error response from daemon: ...").
type PlanError struct{ Err error }

func (e *PlanError) Error() string { return e.Err.Error() }
func (e *PlanError) Unwrap() error { return e.Err }

// PlanOptions select what ParsePlan keeps.
type PlanOptions struct {
	Name      string             // the Dockerfile's name for messages ("Dockerfile")
	Target    string             // --target; "" = the last stage
	Labels    map[string]string  // --label: LABEL steps added to the target stage
	BuildArgs map[string]*string // for meta ARGs in FROM names (stage dependencies)
}

// ParsePlan parses dockerfile and plans the stages to build. It only
// parses and resolves names: no I/O, so it is the fuzz target.
func ParsePlan(dockerfile []byte, o PlanOptions) (*Plan, error) {
	p, err := parsePlan(dockerfile, o)
	if err != nil {
		return nil, &PlanError{Err: err}
	}
	return p, nil
}

func parsePlan(dockerfile []byte, o PlanOptions) (*Plan, error) {
	lines := strings.Split(string(dockerfile), "\n")
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		if strings.Contains(err.Error(), "file with no instructions") {
			return nil, fmt.Errorf("the Dockerfile (%s) cannot be empty: %w", o.Name, errdefs.ErrInvalid)
		}
		return nil, syntaxError(err, lines, "failed to parse Dockerfile: ")
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, syntaxError(err, lines, "")
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("no build stage in current context: %w", errdefs.ErrInvalid)
	}
	seen := map[string]bool{}
	for _, s := range stages {
		if s.Name == "" {
			continue
		}
		n := strings.ToLower(s.Name)
		if seen[n] {
			return nil, stepError(s.Location, lines, fmt.Errorf("%s stage name already used", s.Name))
		}
		seen[n] = true
	}
	target := len(stages) - 1
	if o.Target != "" {
		i, ok := instructions.HasStage(stages, o.Target)
		if !ok {
			return nil, fmt.Errorf("failed to reach build target %s in Dockerfile: %w", o.Target, errdefs.ErrInvalid)
		}
		target = i
	}
	keys := make([]string, 0, len(o.Labels))
	for k := range o.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		stages[target].AddCommand(instructions.NewLabelCommand(k, o.Labels[k], true))
	}

	needed := neededStages(stages, target, metaArgs, o.BuildArgs, res.EscapeToken)
	p := &Plan{MetaArgs: metaArgs, Escape: res.EscapeToken, Warnings: res, lines: lines, Total: len(metaArgs)}
	for i, s := range stages[:target+1] {
		if !needed[i] {
			continue
		}
		p.Stages = append(p.Stages, PlannedStage{Stage: s, Index: i})
		p.Total += 1 + len(s.Commands)
	}
	return p, nil
}

// neededStages marks the target and, transitively, every earlier stage it
// names in FROM or COPY --from (BuildKit's rule; the legacy builder built
// them all). A name that is not an earlier stage is an image.
func neededStages(stages []instructions.Stage, target int, metaArgs []instructions.ArgCommand, buildArgs map[string]*string, escape rune) map[int]bool {
	lex := shell.NewLex(escape)
	meta := newBuildArgs(buildArgs)
	for _, m := range metaArgs {
		for _, kv := range m.Args {
			v := kv.Value
			if v != nil {
				if x, _, err := lex.ProcessWord(*v, shell.EnvsFromSlice(meta.metaEnv())); err == nil {
					v = &x
				}
			}
			meta.addMeta(kv.Key, v)
		}
	}
	env := shell.EnvsFromSlice(meta.metaEnv())
	ref := func(before int, name string) int {
		if i, ok := instructions.HasStage(stages[:before], name); ok {
			return i
		}
		if n, err := strconv.Atoi(name); err == nil && n >= 0 && n < before {
			return n
		}
		return -1
	}
	needed := map[int]bool{}
	var visit func(i int)
	visit = func(i int) {
		if needed[i] {
			return
		}
		needed[i] = true
		s := stages[i]
		if base, _, err := lex.ProcessWord(s.BaseName, env); err == nil {
			if j, ok := instructions.HasStage(stages[:i], base); ok {
				visit(j)
			}
		}
		for _, c := range s.Commands {
			if cp, ok := c.(*instructions.CopyCommand); ok && cp.From != "" {
				if j := ref(i, cp.From); j >= 0 {
					visit(j)
				}
			}
		}
	}
	visit(target)
	return needed
}

// syntaxError words a parser/instructions error as the legacy builder
// does and keeps its line and text.
func syntaxError(err error, lines []string, prefix string) error {
	line := errorLine(err)
	text := ""
	if line > 0 && line <= len(lines) {
		text = strings.TrimSpace(lines[line-1])
	}
	msg := err.Error()
	var ui *instructions.UnknownInstructionError
	if errors.As(err, &ui) {
		msg = ui.Error()
	}
	if rest, ok := strings.CutPrefix(msg, "dockerfile parse error on line "); ok {
		_, m, _ := strings.Cut(rest, ": ")
		msg = m
	}
	if m, ok := strings.CutPrefix(msg, "unknown flag: "); ok {
		msg = "Unknown flag: " + strings.TrimPrefix(m, "--")
	}
	switch {
	case prefix != "":
		msg = prefix + msg
	case line > 0 && msg != "no build stage in current context":
		msg = fmt.Sprintf("dockerfile parse error line %d: %s", line, msg)
	}
	return &SyntaxError{Line: line, Text: text, Msg: msg, Err: err}
}

func errorLine(err error) int {
	var le *parser.LocationError
	if errors.As(err, &le) {
		for _, loc := range le.Locations {
			if len(loc) > 0 {
				return loc[0].Start.Line
			}
		}
	}
	var ui *instructions.UnknownInstructionError
	if errors.As(err, &ui) {
		return ui.Line
	}
	return 0
}

// StepError is a failure of one instruction: where it is and what it says.
type StepError struct {
	Line int
	Text string
	Err  error
}

func (e *StepError) Error() string { return e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

func stepError(loc []parser.Range, lines []string, err error) error {
	var se *StepError
	if errors.As(err, &se) {
		return err
	}
	line := 0
	if len(loc) > 0 {
		line = loc[0].Start.Line
	}
	text := ""
	if line > 0 && line <= len(lines) {
		text = strings.TrimSpace(lines[line-1])
	}
	return &StepError{Line: line, Text: text, Err: err}
}
