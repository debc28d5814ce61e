package sigma

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/event"
)

// FuzzCompile feeds arbitrary rule files to the loader and compiler, then
// runs the compiled rules over a fixed event: nothing may panic, and every
// document is either loaded or reported.
func FuzzCompile(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/compile/*.yml")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	bundled, _ := filepath.Glob("../../rules/sigma/*.yml")
	for _, s := range bundled {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	ev := event.New()
	ev.ID = "e"
	for k, v := range map[string]any{"event.module": "windows", "winlog.channel": "Security", "winlog.event_id": int64(4688),
		"winlog.event_data.NewProcessName": `C:\Windows\System32\cmd.exe`, "winlog.event_data.CommandLine": "cmd /c whoami", "message": "x"} {
		ev.Set(k, v)
	}
	ev.Raw = []byte(`{"a":1}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		docs, errs := ParseDocs("fuzz.yml", data)
		var rep Report
		for _, e := range errs {
			rep.Failed++
			rep.Failures = append(rep.Failures, Failure{Path: "fuzz.yml", Error: e.Error()})
		}
		rs, rep := buildDocs(docs, Options{Placeholders: map[string][]string{"p": {"x"}}}, false, rep)
		if rep.Loaded+rep.Failed < len(docs) {
			t.Fatalf("loaded %d + failed %d < %d documents", rep.Loaded, rep.Failed, len(docs))
		}
		for _, fl := range rep.Failures {
			if !strings.HasPrefix(fl.Error, "fuzz.yml") {
				t.Fatalf("failure without position: %q", fl.Error)
			}
		}
		rs.run(ev, func(c *evalCtx, r *crule) { _ = newSignal(rs, c, r, ev) })
	})
}

// FuzzCondition parses arbitrary condition strings.
func FuzzCondition(f *testing.F) {
	b, err := os.ReadFile("testdata/conditions.txt")
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			f.Add(l)
		}
	}
	names := []string{"sel", "sel_a", "sel_b", "filter", "_x", "keywords"}
	sels := map[string]node{}
	for _, n := range names {
		sels[n] = &selection{}
	}
	f.Fuzz(func(t *testing.T, s string) {
		cn, err := parseCondition(s)
		if err != nil {
			return
		}
		_, _ = bindCondition(cn, sels, names)
	})
}
