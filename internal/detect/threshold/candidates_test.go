package threshold

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// refMatches is the per-rule filter, exists and exclude check that the
// filter index replaced: the index must select exactly the rules it does.
func refMatches(r *Rule, ev *event.Event) bool {
	for i, k := range r.filterKeys {
		v, ok := ev.Fields[k]
		if !ok || !valueMatches(v, r.filterVals[i]) {
			return false
		}
	}
	for _, k := range r.Exists {
		if v, ok := ev.Fields[k]; !ok || event.ValueString(v) == "" {
			return false
		}
	}
	for k, vals := range r.Exclude {
		if v, ok := ev.Fields[k]; ok && valueMatches(v, vals) {
			return false
		}
	}
	return true
}

// indexed is what Detect selects for ev: candidates, then passes. With
// one word of rules, candidates1 must agree with candidates.
func indexed(t *testing.T, d *Detector, ev *event.Event) []string {
	clear(d.mstate)
	defer clear(d.mval)
	if len(d.all) == 1 {
		one := d.candidates1(ev)
		if many := d.candidates(ev); many[0] != one {
			t.Errorf("candidates1 %b, candidates %b", one, many[0])
		}
	}
	var out []string
	for w, bits := range d.candidates(ev) {
		for i := w * 64; bits != 0; i, bits = i+1, bits>>1 {
			if bits&1 != 0 && d.passes(i, ev) {
				out = append(out, d.rules[i].ID)
			}
		}
	}
	return out
}

func checkIndexed(t *testing.T, d *Detector, evs []*event.Event) (selected int) {
	t.Helper()
	for n, ev := range evs {
		var want []string
		for _, r := range d.rules {
			if refMatches(r, ev) {
				want = append(want, r.ID)
			}
		}
		got := indexed(t, d, ev)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("event %d %v: rules %v, want %v", n, ev.Fields, got, want)
		}
		selected += len(got)
	}
	return selected
}

// TestFilterIndex compares the filter index with the per-rule check over
// the bundled rules: the golden scenarios, the Loghub sshd log and events
// built from the rules' own filter values (lists, numbers, absent fields,
// excluded values), one field changed at a time.
func TestFilterIndex(t *testing.T) {
	d, err := New(Options{Paths: []string{bundledRules()}})
	if err != nil {
		t.Fatal(err)
	}
	evs := readEvents(t, "testdata/events.jsonl")
	if f, err := os.Open(filepath.Join(testutil.SharedDataRoot(), "loghub-2k", "OpenSSH", "OpenSSH_2k.log")); err == nil {
		dec := format.NewDecoder(f, "file:OpenSSH_2k.log", format.DecoderOptions{Format: "auth", Parse: format.Options{Year: 2017}})
		for {
			ev := event.New()
			err := dec.Next(ev)
			if errors.Is(err, io.EOF) {
				break
			}
			if err == nil {
				evs = append(evs, ev)
			}
		}
		f.Close()
	}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, r := range d.rules {
		base := event.New()
		base.Time = t0
		for k, vals := range r.Filter {
			base.Set(k, vals[len(vals)-1])
		}
		for _, k := range r.Exists {
			base.Set(k, "x")
		}
		evs = append(evs, base)
		for k, vals := range r.Filter {
			for _, v := range []any{nil, "other", []string{"other", vals[0]}, []string{"other"}, []string{}, int64(404), int64(4625)} {
				ev := event.New()
				for fk, fv := range base.Fields {
					ev.Fields[fk] = fv
				}
				if v == nil {
					delete(ev.Fields, k)
				} else {
					ev.Fields[k] = v
				}
				evs = append(evs, ev)
			}
		}
		for k, vals := range r.Exclude {
			ev := event.New()
			for fk, fv := range base.Fields {
				ev.Fields[fk] = fv
			}
			ev.Fields[k] = vals[0]
			evs = append(evs, ev)
		}
	}
	t.Logf("%d events", len(evs))
	if n := checkIndexed(t, d, evs); n < len(d.rules) {
		t.Errorf("only %d rule selections over %d events: the test exercises too little", n, len(evs))
	}
}

// TestFilterIndexManyRules: more than 64 rules (several bit-set words),
// rules without a filter, and list-valued filters.
func TestFilterIndexManyRules(t *testing.T) {
	var src strings.Builder
	for i := range 150 {
		fmt.Fprintf(&src, "---\nid: r%d\ntitle: R%d\n", i, i)
		switch i % 3 {
		case 0:
			fmt.Fprintf(&src, "filter: {event.action: [a%d, b%d], event.outcome: failure}\n", i%7, i%5)
		case 1:
			fmt.Fprintf(&src, "filter: {user.name: u%d}\nexclude: {source.ip: [\"127.0.0.1\"]}\n", i%4)
		case 2:
			src.WriteString("exists: [source.ip]\n")
		}
		src.WriteString("group_by: [source.ip]\ncapacity: 1\nleak_speed: 1m\n")
	}
	rs, err := ParseRules([]byte(src.String()), "many.yml")
	if err != nil {
		t.Fatal(err)
	}
	d := NewFromRules(rs, Options{})
	var evs []*event.Event
	for i := range 40 {
		ev := event.New()
		ev.Set("event.action", fmt.Sprintf("a%d", i%9))
		if i%2 == 0 {
			ev.Set("event.outcome", "failure")
		}
		ev.Set("user.name", []string{"x", fmt.Sprintf("u%d", i%5)})
		if i%3 != 0 {
			ev.Set("source.ip", []string{"10.0.0.1", "127.0.0.1"}[i%2])
		}
		evs = append(evs, ev)
	}
	if n := checkIndexed(t, d, evs); n == 0 {
		t.Error("no rule selected")
	}
}
