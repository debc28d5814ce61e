package output_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/rampart-ids/rampart/internal/output"
	_ "github.com/rampart-ids/rampart/internal/output/file"
	"github.com/rampart-ids/rampart/internal/output/outputtest"
	_ "github.com/rampart-ids/rampart/internal/output/syslog"
	_ "github.com/rampart-ids/rampart/internal/output/webhook"
)

func TestRegistry(t *testing.T) {
	if diff := cmp.Diff([]string{"file", "syslog", "webhook"}, output.Kinds()); diff != "" {
		t.Errorf("kinds (-want +got):\n%s", diff)
	}
	if _, err := output.New("kafka", nil, output.Deps{}); !errors.Is(err, output.ErrUnknownKind) {
		t.Errorf("unknown kind: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("duplicate Register did not panic")
		}
	}()
	output.Register("file", nil)
}

type cfg struct {
	A int    `yaml:"a"`
	B string `yaml:"b"`
}

func (c *cfg) Validate() error {
	if c.A < 0 {
		return errors.New("a: must not be negative")
	}
	return nil
}

func TestDecodeConfig(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		want     cfg
		wantName string
		wantErr  string
	}{
		{name: "ok", yaml: "kind: x\nname: n1\na: 1\nb: two\n", want: cfg{A: 1, B: "two"}, wantName: "n1"},
		{name: "only kind", yaml: "kind: x\n", want: cfg{}},
		{name: "unknown key", yaml: "kind: x\nc: 1\n", wantErr: "line 2: c: unknown key"},
		{name: "wrong type", yaml: "kind: x\nb: two\na: many\n", wantErr: "line 3: a: cannot unmarshal"},
		{name: "invalid", yaml: "kind: x\n\na: -1\n", wantErr: "line 3: a: must not be negative"},
		{name: "not a mapping", yaml: "- 1\n", wantErr: "line 1: output config must be a mapping"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(tc.yaml), &n); err != nil {
				t.Fatal(err)
			}
			var got cfg
			name, err := output.DecodeConfig(&n, &got)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got err %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || name != tc.wantName {
				t.Errorf("got %+v %q, want %+v %q", got, name, tc.want, tc.wantName)
			}
		})
	}
}

// TestDecodeConfigPositions: errors carry the line and key of the
// original document (it used to be re-encoded, so every error said line 1).
func TestDecodeConfigPositions(t *testing.T) {
	doc := "alerts:\n  outputs:\n    - kind: x\n      name: n\n      a: 1\n      pth: /tmp/x\n      bb: 2\n    - kind: x\n      a: lots\n    - kind: x\n      a: -4\n"
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(doc), &root); err != nil {
		t.Fatal(err)
	}
	outs := root.Content[0].Content[1].Content[1].Content
	tests := []struct {
		node *yaml.Node
		want []output.ConfigError
	}{
		{outs[0], []output.ConfigError{{Line: 6, Key: "pth", Msg: "unknown key"}, {Line: 7, Key: "bb", Msg: "unknown key"}}},
		{outs[1], []output.ConfigError{{Line: 9, Key: "a", Msg: "cannot unmarshal !!str `lots` into int"}}},
		{outs[2], []output.ConfigError{{Line: 11, Key: "a", Msg: "must not be negative"}}},
	}
	for i, tc := range tests {
		var c cfg
		_, err := output.DecodeConfig(tc.node, &c)
		var got []output.ConfigError
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var ce *output.ConfigError
			if !errors.As(e, &ce) {
				t.Fatalf("output %d: %v is not a ConfigError", i, e)
			}
			got = append(got, *ce)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("output %d (-want +got):\n%s", i, diff)
		}
	}
}

func TestEncodeJSON(t *testing.T) {
	as := outputtest.Alerts()
	var m map[string]any
	if err := json.Unmarshal(output.EncodeJSON(&as[0]), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "detector", "layer", "rule_id", "title", "level", "score", "entities", "first_seen", "last_seen", "count", "event_ids", "details"} {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q missing from %v", k, m)
		}
	}
	as[0].Score = math.Inf(1)
	as[0].Details = map[string]any{"bad": make(chan int)}
	if err := json.Unmarshal(output.EncodeJSON(&as[0]), &m); err != nil || m["id"] != "a1b2c3" {
		t.Errorf("unencodable alert: %v %v", err, m)
	}
}

func TestFanout(t *testing.T) {
	dir := t.TempDir()
	var outs output.Fanout
	for _, y := range []string{
		"kind: file\nname: a\npath: " + dir + "/a.jsonl\n",
		"kind: webhook\nname: dead\nurl: http://127.0.0.1:1/\nmax_attempts: 1\ntimeout: 1s\n",
		"kind: file\nname: b\npath: " + dir + "/b.jsonl\n",
	} {
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(y), &n); err != nil {
			t.Fatal(err)
		}
		var kind struct{ Kind string }
		_ = n.Decode(&kind)
		o, err := output.New(kind.Kind, &n, output.Deps{})
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, o)
	}
	err := outs.Send(context.Background(), outputtest.Alerts())
	if err == nil || !strings.Contains(err.Error(), "output dead:") || strings.Contains(err.Error(), "output a:") {
		t.Fatalf("got %v, want only the webhook to fail", err)
	}
	if err := outs.Close(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"a.jsonl", "b.jsonl"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || strings.Count(string(b), "\n") != 2 {
			t.Errorf("%s: %v, %d lines", f, err, strings.Count(string(b), "\n"))
		}
	}
}
