package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/output"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr []string // substrings that must all appear
		notWant string   // a substring that must not
		check   func(t *testing.T, c Config)
	}{
		{name: "empty is defaults", yaml: "", check: func(t *testing.T, c Config) {
			if c.HTTP.Listen != "127.0.0.1:8080" || c.Store.Driver != "sqlite" {
				t.Errorf("defaults not applied: %+v", c)
			}
		}},
		{name: "values and days", yaml: "data_dir: /tmp/x\nretention:\n  events: 3d\nalerts:\n  throttle: 5m\n", check: func(t *testing.T, c Config) {
			if time.Duration(c.Retention.Events) != 72*time.Hour || time.Duration(c.Alerts.Throttle) != 5*time.Minute {
				t.Errorf("durations: %v %v", c.Retention.Events, c.Alerts.Throttle)
			}
		}},
		{name: "unknown key with line", yaml: "data_dir: x\nhttp:\n  listen: 127.0.0.1:1\n  lisen: 1\n", wantErr: []string{"cfg.yaml:4: http.lisen: unknown key"}, notWant: "config.HTTP"},
		{name: "unknown key in a list item", yaml: "files:\n  - name: a\n    paths: [/x]\n    format: auto\n    glob: y\n", wantErr: []string{"cfg.yaml:5: files[0].glob: unknown key"}},
		{name: "bad type with line", yaml: "pipeline:\n  queue_size: lots\n", wantErr: []string{"cfg.yaml:2: pipeline.queue_size:"}},
		{name: "bad duration", yaml: "alerts:\n  throttle: soon\n", wantErr: []string{"cfg.yaml:2: alerts.throttle: invalid duration"}},
		{name: "bad duration in a section", yaml: "data_dir: x\nretention:\n  events: 7d\n  quarantine: -3d\n", wantErr: []string{"cfg.yaml:4: retention.quarantine: invalid duration"}},
		{name: "file input without paths", yaml: "files:\n  - name: a\n    paths: []\n  - name: b\n    paths: []\n", wantErr: []string{"cfg.yaml:2: files[0]:", "cfg.yaml:4: files[1]:", "no paths"}},
		{name: "bad glob", yaml: "files:\n  - name: a\n    paths:\n      - /var/log/a.log\n      - /var/log/[x\n", wantErr: []string{"cfg.yaml:5: files[0].paths[1]: bad pattern"}},
		{name: "validation names line", yaml: "store:\n  driver: oracle\n", wantErr: []string{"cfg.yaml:2:", "unknown driver"}},
		{name: "nats input without stream", yaml: "nats:\n  - name: edge\n    url: nats://127.0.0.1:4222\n", wantErr: []string{"cfg.yaml:2: nats[0].stream: is required"}},
		{name: "nats token never prints", yaml: "nats:\n  - name: edge\n    url: nats://h:4222\n    stream: S\n    token: s3cret\n    creds_file: /x\n", wantErr: []string{"nats[0]", "exclusive"}, notWant: "s3cret"},
		{name: "checkpoint interval bounded", yaml: "pipeline:\n  checkpoint_every: 10ms\n", wantErr: []string{"cfg.yaml:2: pipeline.checkpoint_every"}},
		{name: "several problems at once", yaml: "http:\n  listen: nope\nrules:\n  min_level: severe\n", wantErr: []string{"cfg.yaml:2:", "cfg.yaml:4:", "min_level"}},
		{name: "audit kept too short", yaml: "retention:\n  audit: 30d\n", wantErr: []string{"cfg.yaml:1:", "retention.audit"}},
		{name: "bad purpose rule", yaml: "privacy:\n  purposes:\n    - source: \"[\"\n      tags: [training]\n", wantErr: []string{"cfg.yaml:1:", "purposes[0]"}},
		{name: "output needs kind", yaml: "alerts:\n  outputs:\n    - path: x\n", wantErr: []string{"cfg.yaml:3:", "kind"}},
		{name: "output keeps node", yaml: "alerts:\n  outputs:\n    - kind: file\n      path: /tmp/a.jsonl\n", check: func(t *testing.T, c Config) {
			if len(c.Alerts.Outputs) != 1 || c.Alerts.Outputs[0].Kind != "file" || c.Alerts.Outputs[0].Line != 3 {
				t.Errorf("outputs: %+v", c.Alerts.Outputs)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("cfg.yaml", []byte(tc.yaml))
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("got no error, want %v", tc.wantErr)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				if tc.notWant != "" && strings.Contains(err.Error(), tc.notWant) {
					t.Errorf("error %q holds %q", err, tc.notWant)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			tc.check(t, c)
		})
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("postgres://u:hunter2@h/db")
	if s.String() != "REDACTED" || s.LogValue() != "REDACTED" {
		t.Fatal("secret leaked")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("data_dir: x\nhttp:\n  listen: 127.0.0.1:1\n"))
	f.Add([]byte("alerts:\n  outputs:\n    - kind: file\n"))
	f.Add([]byte("{{{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		_, _ = Parse("fuzz.yaml", data)
	})
}

// TestOutputErrors: an output kind's errors read like every other config
// error, file:line: key path: reason, at the offending key's own line.
func TestOutputErrors(t *testing.T) {
	text := "alerts:\n  outputs:\n    - kind: file\n      path: /tmp/a.jsonl\n    - kind: file\n      name: second\n      pth: /tmp/b.jsonl\n      max_bytes: many\n"
	cfg, err := Parse("node.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	// What output.DecodeConfig returns for outputs[1] (the file kind is not
	// linked into this package's tests), and an error without a position.
	decodeErr := errors.Join(&output.ConfigError{Line: 7, Key: "pth", Msg: "unknown key"},
		&output.ConfigError{Line: 5, Key: "path", Msg: "required"})
	got := cfg.OutputError(1, decodeErr).Error()
	want := "node.yaml:7: alerts.outputs[1].pth: unknown key\nnode.yaml:5: alerts.outputs[1].path: required"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	got = cfg.OutputError(0, errors.New("opening /tmp/a.jsonl: permission denied")).Error()
	if want := "node.yaml:3: alerts.outputs[0]: opening /tmp/a.jsonl: permission denied"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if cfg.OutputError(0, nil) != nil {
		t.Error("nil error reported")
	}
}

type pathSize struct {
	Path string `yaml:"path"`
	Size int    `yaml:"size"`
}

func (*pathSize) Validate() error { return nil }

// TestOutputErrorsFromDecode decodes the config's own output node: the
// lines are the file's.
func TestOutputErrorsFromDecode(t *testing.T) {
	text := "data_dir: /tmp/x\nalerts:\n  outputs:\n    - kind: x\n      name: n\n      pth: /tmp/b.jsonl\n      size: many\n"
	cfg, err := Parse("node.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	node := cfg.Alerts.Outputs[0].Node
	_, err = output.DecodeConfig(&node, &pathSize{})
	got := cfg.OutputError(0, err).Error()
	if want := "node.yaml:6: alerts.outputs[0].pth: unknown key\nnode.yaml:7: alerts.outputs[0].size: cannot unmarshal !!str `many` into int"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	node.Content = append(node.Content[:4], node.Content[6:]...) // drop pth
	_, err = output.DecodeConfig(&node, &pathSize{})
	got = cfg.OutputError(0, err).Error()
	if want := "node.yaml:7: alerts.outputs[0].size: cannot unmarshal !!str `many` into int"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
