package file

import (
	"bufio"
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
	"github.com/rampart-ids/rampart/internal/output/outputtest"
)

func readLines(t *testing.T, path string) []output.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []output.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r output.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func TestSendAppendsJSONLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "alerts.jsonl")
	ctx := context.Background()
	as := outputtest.Alerts()
	o, err := New(Config{Path: p}, output.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Send(ctx, as[:1]); err != nil {
		t.Fatal(err)
	}
	if err := o.Send(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if err := o.Send(ctx, as); !errors.Is(err, output.ErrClosed) {
		t.Fatalf("send after close: %v, want ErrClosed", err)
	}
	// Reopening appends.
	o2, err := New(Config{Path: p}, output.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if err := o2.Send(ctx, as[1:]); err != nil {
		t.Fatal(err)
	}
	if err := o2.Close(); err != nil {
		t.Fatal(err)
	}
	got := readLines(t, p)
	want := []output.Record{output.NewRecord(&as[0]), output.NewRecord(&as[1])}
	// Details go through JSON, so compare them as JSON values.
	want[0].Details = map[string]any{"indicator": "192.0.2.66", "field": "destination.ip"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if got[1].Title != "Pipe | back\\slash = \"quote\" ]bracket\nnewline é" {
		t.Errorf("title not round-tripped: %q", got[1].Title)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
}

func TestUnencodableDetailsKept(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.jsonl")
	o, err := New(Config{Path: p, Sync: true}, output.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	as := outputtest.Alerts()[:1]
	as[0].Details = map[string]any{"x": math.NaN()}
	if err := o.Send(context.Background(), as); err != nil {
		t.Fatal(err)
	}
	o.Close()
	got := readLines(t, p)
	if len(got) != 1 || got[0].ID != as[0].ID || !strings.Contains(got[0].Details["encoding_error"].(string), "NaN") {
		t.Errorf("got %+v", got)
	}
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "alerts.jsonl")
	as := outputtest.Alerts()[:1]
	line := len(output.EncodeJSON(&as[0])) + 1
	o, err := New(Config{Path: p, MaxBytes: int64(2*line + 1), MaxBackups: 2}, output.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	for range 7 {
		if err := o.Send(context.Background(), as); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	// 7 lines, 2 per file: current has 1, .1 and .2 have 2 each, the oldest 2 are gone.
	for name, want := range map[string]int{"alerts.jsonl": 1, "alerts.jsonl.1": 2, "alerts.jsonl.2": 2} {
		if got := len(readLines(t, filepath.Join(dir, name))); got != want {
			t.Errorf("%s has %d lines, want %d", name, got, want)
		}
	}
	if _, err := os.Stat(p + ".3"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("backup beyond max_backups exists: %v", err)
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{name: "ok", yaml: "kind: file\nname: main\npath: " + filepath.Join(dir, "x.jsonl") + "\nmax_bytes: 1000\n"},
		{name: "missing path", yaml: "kind: file\n", wantErr: "path: required"},
		{name: "unknown key", yaml: "kind: file\npath: x\npaht: y\n", wantErr: "line 3: paht: unknown key"},
		{name: "negative", yaml: "kind: file\npath: x\nmax_bytes: -1\nmax_backups: -2\n", wantErr: "max_bytes"},
		{name: "no folder", yaml: "kind: file\npath: " + filepath.Join(dir, "no", "x") + "\n", wantErr: "opening alert file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(tc.yaml), &n); err != nil {
				t.Fatal(err)
			}
			o, err := output.New("file", &n, output.Deps{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got err %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			if o.Name() != "main" {
				t.Errorf("name %q", o.Name())
			}
		})
	}
}
