package format

import (
	"bytes"
	"strings"
	"testing"
)

type row struct {
	ID, Name string
}

func (r row) MarshalJSON() ([]byte, error) {
	type plain row
	return SortedJSON(plain(r))
}

func TestTable(t *testing.T) {
	headers := map[string]string{"ID": "CONTAINER ID", "Name": "NAMES"}
	rows := []any{row{"abc", "<none>"}, row{"defghi", "web"}}
	cases := []struct {
		desc, format, want string
	}{
		{"the default table, docker's padding", "",
			"CONTAINER ID   NAMES\nabc            <none>\ndefghi         web\n"},
		{"a table template with escaped tabs", `table {{.Name}}\t{{.ID}}`,
			"NAMES     CONTAINER ID\n<none>    abc\nweb       defghi\n"},
		{"a raw template, one line per row", "{{.ID}}:{{.Name}}", "abc:<none>\ndefghi:web\n"},
		{"json of a row: keys sorted, HTML escaped like docker", "{{json .}}",
			`{"ID":"abc","Name":"\u003cnone\u003e"}` + "\n" + `{"ID":"defghi","Name":"web"}` + "\n"},
		{"the json shorthand", "json", `{"ID":"abc","Name":"\u003cnone\u003e"}` + "\n" + `{"ID":"defghi","Name":"web"}` + "\n"},
		{"helpers", `{{upper .Name}} {{truncate .ID 2}} {{join (split .ID "e") "-"}}`, "<NONE> ab abc\nWEB de d-fghi\n"},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			var b bytes.Buffer
			if err := Table(&b, c.format, "table {{.ID}}\t{{.Name}}", headers, rows); err != nil {
				t.Fatal(err)
			}
			if b.String() != c.want {
				t.Errorf("got\n%q\nwant\n%q", b.String(), c.want)
			}
		})
	}
}

func TestTableEmptyPrintsHeaderOnly(t *testing.T) {
	var b bytes.Buffer
	if err := Table(&b, "", "table {{.ID}}\t{{.Name}}", map[string]string{"ID": "CONTAINER ID", "Name": "NAMES"}, nil); err != nil {
		t.Fatal(err)
	}
	if b.String() != "CONTAINER ID   NAMES\n" {
		t.Errorf("got %q", b.String())
	}
}

func TestObjectAndErrors(t *testing.T) {
	cases := []struct {
		desc, tmpl string
		v          any
		want, err  string
	}{
		{"a field", "{{.ID}}", row{ID: "x"}, "x\n", ""},
		{"json keeps a struct's field order", "{{json .}}", struct{ B, A int }{1, 2}, `{"B":1,"A":2}` + "\n", ""},
		{"a parse error names templates", "{{.ID", row{}, "", "template parsing error"},
		{"an execution error", "{{.Nope}}", row{}, "", "template"},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			var b bytes.Buffer
			err := Object(&b, c.tmpl, c.v)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil || b.String() != c.want {
				t.Errorf("got %q, %v; want %q", b.String(), err, c.want)
			}
		})
	}
}

func TestSortedJSONRefusesNonObjects(t *testing.T) {
	if _, err := SortedJSON([]int{1}); err == nil {
		t.Error("a list was accepted")
	}
}
