package container

import (
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestConfigJSONIsFlat(t *testing.T) {
	ten := 10
	c := Config{Config: v1.Config{Env: []string{"A=1"}, StopSignal: "SIGINT"}, StopTimeout: &ten}
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Env":["A=1"]`, `"StopSignal":"SIGINT"`, `"StopTimeout":10`} {
		if !strings.Contains(string(data), want) {
			t.Fatalf("%s lacks %s", data, want)
		}
	}
	if strings.Contains(string(data), `"Config"`) {
		t.Fatalf("embedded image config must not nest: %s", data)
	}
	var back Config
	if err := json.Unmarshal(data, &back); err != nil || back.StopSignal != "SIGINT" || *back.StopTimeout != 10 {
		t.Fatalf("round trip: %+v %v", back, err)
	}
}
