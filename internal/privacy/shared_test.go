package privacy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// winEvent flattens one line of windows-evtx/jsonl into the field names of
// docs/fields.md (a minimal mapping: this package must not depend on the
// format parsers, which are tested on their own).
func winEvent(line []byte) (*event.Event, error) {
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, err
	}
	ev := event.New()
	ev.Raw = append([]byte(nil), line...)
	str := func(v any) string {
		if s, ok := v.(string); ok {
			return s
		}
		return fmt.Sprint(v)
	}
	for k, v := range m {
		switch k {
		case "EventData":
			if d, ok := v.(map[string]any); ok {
				for dk, dv := range d {
					ev.Set("winlog.event_data."+dk, str(dv))
				}
			}
		case "UserData":
			if d, ok := v.(map[string]any); ok {
				for _, w := range d {
					if wm, ok := w.(map[string]any); ok {
						for dk, dv := range wm {
							ev.Set("winlog.user_data."+dk, str(dv))
						}
					}
				}
			}
		case "Computer":
			ev.Set("winlog.computer_name", str(v))
			ev.Set("host.name", str(v))
		case "UserID":
			ev.Set("winlog.user.identifier", str(v))
		case "Channel":
			ev.Set("winlog.channel", str(v))
		case "EventID":
			ev.Set("event.code", str(v))
		default:
			ev.Set("winlog."+strings.ToLower(k), str(v))
		}
	}
	for _, f := range []string{"winlog.event_data.TargetUserName", "winlog.event_data.SubjectUserName", "winlog.event_data.User"} {
		if s, ok := ev.GetString(f); ok {
			ev.Set("user.name", s)
			break
		}
	}
	for _, f := range []string{"winlog.event_data.IpAddress", "winlog.event_data.SourceIp"} {
		if s, ok := ev.GetString(f); ok {
			ev.Set("source.ip", s)
			break
		}
	}
	ev.Source = "file:" + ev.Fields["host.name"].(string)
	return ev, nil
}

// containsToken reports whether v occurs in s as a whole token, ASCII
// case-insensitively (the guarantee of the text scan).
func containsToken(s, v string) bool {
	return replaceTokens(s, []knownValue{{lower: asciiLower(v), ps: "\x00"}}) != s
}

// TestWindowsCorpusNoLeaks pseudonymizes the real Windows attack corpus
// (23k events from hayabusa-sample-evtx, see its README) with raw
// scrubbing on, and checks that no personal value of an event (user and
// host names, domains, SIDs, internal addresses) survives as a token in any
// output field, the source or the raw record.
func TestWindowsCorpusNoLeaks(t *testing.T) {
	root := testutil.SharedData(t, "windows-evtx/jsonl")
	p, _, _, _ := newTestPseudonymizer(t, Config{Raw: RawScrub})
	var files []string
	_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".jsonl") {
			files = append(files, path)
		}
		return nil
	})
	if testing.Short() && len(files) > 60 {
		files = files[:60]
	}
	var n, values int
	var spent time.Duration
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 4<<20)
		for sc.Scan() {
			ev, err := winEvent(sc.Bytes())
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			start := time.Now()
			out := p.Event(ev)
			spent += time.Since(start)
			n++
			var secrets []string
			for k, v := range ev.Fields {
				s, _ := v.(string)
				if _, ok := p.cfg.fields[k]; ok && len(s) >= minTextValue {
					if a, err := netip.ParseAddr(s); err == nil {
						if _, in := p.addr(p.cur.Load(), a); !in || p.Value(KindIP, s) == s {
							continue // external, or a fixed point of the permutation
						}
					}
					secrets = append(secrets, s)
				}
			}
			values += len(secrets)
			texts := []string{out.Source, string(out.Raw)}
			for _, v := range out.Fields {
				texts = append(texts, event.ValueString(v))
			}
			for _, sec := range secrets {
				for _, txt := range texts {
					if containsToken(txt, sec) {
						t.Fatalf("%s: value %q survives in %q", filepath.Base(f), sec, txt)
					}
				}
			}
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	if n == 0 {
		t.Fatal("no events read")
	}
	t.Logf("%d events, %d personal values checked, Event() %.0f events/s", n, values, float64(n)/spent.Seconds())
}
