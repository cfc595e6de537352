package format

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
)

// Funcs are the template helpers docker/cli offers (json, join, upper, lower,
// title, split, truncate, pad).
var Funcs = template.FuncMap{
	"json": func(v any) string {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.Encode(v)
		return strings.TrimSpace(buf.String())
	},
	"join":  strings.Join,
	"split": strings.Split,
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	"truncate": func(s string, n int) string {
		if len(s) > n {
			return s[:n]
		}
		return s
	},
	"pad": func(s string, l, r int) string {
		return strings.Repeat(" ", l) + s + strings.Repeat(" ", r)
	},
	"println": fmt.Sprintln,
}

// Parse compiles a user template, naming the flag in the error.
func Parse(text string) (*template.Template, error) {
	t, err := template.New("format").Funcs(Funcs).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	return t, nil
}

// Table writes rows using format, which is one of: "" (use def), "table"
// (def), "table TEMPLATE", "json", or a raw TEMPLATE. def is the default
// table template, e.g. "table {{.ID}}\t{{.Image}}". headers maps a field
// name as used in templates ("ID") to its column title ("CONTAINER ID").
func Table(w io.Writer, format, def string, headers map[string]string, rows []any) error {
	switch {
	case format == "" || format == "table":
		format = def
	case format == "json":
		format = "{{json .}}"
	}
	isTable := strings.HasPrefix(format, "table")
	if isTable {
		format = strings.TrimSpace(strings.TrimPrefix(format, "table"))
	}
	format = unescape(format)
	tmpl, err := Parse(format)
	if err != nil {
		return err
	}
	if !isTable {
		for _, r := range rows {
			if err := tmpl.Execute(w, r); err != nil {
				return fmt.Errorf("template: %w", err)
			}
			fmt.Fprintln(w)
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	// The header row is the same template executed over the column titles.
	htmpl, err := Parse(format)
	if err != nil {
		return err
	}
	var hb bytes.Buffer
	if err := htmpl.Execute(&hb, headerRow(headers)); err == nil {
		fmt.Fprintln(tw, strings.TrimRight(hb.String(), " "))
	}
	for _, r := range rows {
		var b bytes.Buffer
		if err := tmpl.Execute(&b, r); err != nil {
			return fmt.Errorf("template: %w", err)
		}
		fmt.Fprintln(tw, b.String())
	}
	return tw.Flush()
}

// headerRow answers any field lookup with its column title, so a user
// template like "table {{.Names}}\t{{.Status}}" gets matching headers.
type headerRow map[string]string

// Object renders one value with a user template (inspect -f).
func Object(w io.Writer, format string, v any) error {
	tmpl, err := Parse(unescape(format))
	if err != nil {
		return err
	}
	if err := tmpl.Execute(w, v); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	fmt.Fprintln(w)
	return nil
}

// JSON writes v indented as `docker inspect` does.
func JSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// SortedJSON marshals v (a struct of display fields) as an object with its
// keys sorted, as docker/cli renders `{{json .}}` of a list row. Like
// docker's, it escapes <, > and & (so "<none>" is "\u003cnone\u003e").
func SortedJSON(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("sorted json: %T is not an object: %w", v, err)
	}
	return json.Marshal(m)
}

func unescape(s string) string {
	return strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(s)
}
