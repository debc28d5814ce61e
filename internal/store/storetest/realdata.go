package storetest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/store"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// RealEvents loads up to max events from the shared Windows attack corpus
// (windows-evtx/jsonl, Yamato-Security/hayabusa-sample-evtx; test use only):
// each line is the raw record, its JSON flattened into dotted fields the way
// a parser would. It skips tb when the shared data is absent.
func RealEvents(tb testing.TB, max int) []*event.Event {
	tb.Helper()
	root := testutil.SharedData(tb, "windows-evtx/jsonl")
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(p) == ".jsonl" {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		tb.Fatalf("listing %s: %v", root, err)
	}
	sort.Strings(files)
	var evs []*event.Event
	for _, f := range files {
		if len(evs) >= max {
			break
		}
		evs = appendFile(tb, evs, f, root, max)
	}
	return evs
}

func appendFile(tb testing.TB, evs []*event.Event, path, root string, max int) []*event.Event {
	f, err := os.Open(path)
	if err != nil {
		tb.Fatalf("opening %s: %v", path, err)
	}
	defer f.Close()
	rel, _ := filepath.Rel(root, path)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for line := 1; sc.Scan() && len(evs) < max; line++ {
		raw := bytes.Clone(sc.Bytes())
		var doc map[string]any
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&doc); err != nil {
			tb.Fatalf("%s:%d: %v", rel, line, err)
		}
		ev := &event.Event{
			ID:       event.DeriveID("file:"+rel, strconv.Itoa(line), raw),
			Received: base.Add(time.Duration(len(evs)) * time.Millisecond),
			Source:   "file:" + rel, Format: "windows_jsonl",
			Fields: map[string]any{}, Raw: raw,
		}
		if ts, ok := doc["TimeCreated"].(string); ok {
			ev.Time, _ = time.Parse("2006-01-02 15:04:05.999999", ts)
		}
		flatten("winlog", doc, ev.Fields)
		evs = append(evs, ev)
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("reading %s: %v", path, err)
	}
	return evs
}

func flatten(prefix string, v any, out map[string]any) {
	switch x := v.(type) {
	case map[string]any:
		for k, vv := range x {
			flatten(prefix+"."+k, vv, out)
		}
	case []any:
		list := make([]string, len(x))
		for i, e := range x {
			list[i] = fmt.Sprint(e)
		}
		out[prefix] = list
	case json.Number:
		if n, err := x.Int64(); err == nil {
			out[prefix] = n
		} else if f, err := x.Float64(); err == nil && !math.IsInf(f, 0) {
			out[prefix] = f
		} else {
			out[prefix] = x.String()
		}
	case string:
		out[prefix] = x
	case bool:
		out[prefix] = x
	case nil:
		// absent
	}
}

func testRealData(t *testing.T, s store.Store) {
	evs := RealEvents(t, 3000)
	for start := 0; start < len(evs); start += 1000 {
		mustAppend(t, s, evs[start:min(start+1000, len(evs))]...)
	}
	ids := make([]string, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	got := getEvents(t, s, ids...)
	if len(got) != len(evs) {
		t.Fatalf("GetEvents returned %d of %d real events", len(got), len(evs))
	}
	for i := range evs {
		want := *evs[i]
		want.Time, want.Received = store.StoredTime(want.Time), store.StoredTime(want.Received)
		if sameEvent(&want, got[i]) {
			continue // cmp.Diff is slow on 3000 events; run it only to explain a mismatch
		}
		if diff := cmp.Diff(&want, got[i], eventCmp); diff != "" {
			t.Fatalf("real event %d (%s) round trip (-want +got):\n%s", i, evs[i].Source, diff)
		}
	}
}

func sameEvent(a, b *event.Event) bool {
	return a.ID == b.ID && a.Time.Equal(b.Time) && a.Received.Equal(b.Received) && a.Source == b.Source &&
		a.Format == b.Format && bytes.Equal(a.Raw, b.Raw) && reflect.DeepEqual(a.Fields, b.Fields)
}
