// Package storetest is the conformance suite every store.Store must pass.
// It is written from the interface docs in package store, not from an
// implementation: a store that passes it can replace another one.
//
// Usage, from a store package's tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store { return openFresh(t, now) })
//	}
//
// newStore must return a new, empty store whose wall clock is now (the
// suite's Clock, starting at the fixtures' base time) and register its own
// cleanup.
// Besides store.Store the suite requires the store.VerdictHistory,
// store.StatsStore and store.Retention capabilities. Events/RealData needs
// the shared data folder and skips without it.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store"
)

// Run runs the whole suite; each subtest gets its own store from newStore,
// which must use now as the store's wall clock (Created, quarantine times).
func Run(t *testing.T, newStore func(t *testing.T, now func() time.Time) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store, clk *Clock) // clk: the store's clock, to move
	}{
		{"Events/AppendIdempotent", plain(testAppendIdempotent)},
		{"Events/RoundTrip", plain(testEventRoundTrip)},
		{"Events/GetOrder", plain(testGetEventsOrder)},
		{"Events/BadInput", plain(testAppendBadInput)},
		{"Events/Purge", plain(testPurgeEvents)},
		{"Events/PurgeMany", plain(testPurgeMany)},
		{"Events/DuplicatesAcrossBatches", plain(testDuplicatesAcrossBatches)},
		{"Events/GetAcrossBatches", plain(testGetAcrossBatches)},
		{"Events/PurgeBoundaries", plain(testPurgeBoundaries)},
		{"Events/RealData", plain(testRealData)},
		{"Alerts/Create", plain(testRecordCreate)},
		{"Alerts/Fold", plain(testRecordFold)},
		{"Alerts/SameSignalTwice", plain(testRecordSameSignal)},
		{"Alerts/BatchSameAlert", plain(testRecordBatchSameAlert)},
		{"Alerts/EvidenceCap", plain(testEvidenceCap)},
		{"Alerts/Concurrent", plain(testRecordConcurrent)},
		{"Alerts/BadInput", plain(testRecordBadInput)},
		{"Alerts/OddText", plain(testRecordOddText)},
		{"Alerts/ListFilters", plain(testListFilters)},
		{"Alerts/ListPaging", plain(testListPaging)},
		{"Alerts/ListPagingWhileWriting", plain(testListPagingWhileWriting)},
		{"Alerts/ListLimits", plain(testListLimits)},
		{"Alerts/Verdict", plain(testVerdict)},
		{"Quarantine", plain(testQuarantine)},
		{"Offsets", plain(testOffsets)},
		{"Tokens", plain(testTokens)},
		{"Sessions", plain(testSessions)},
		{"Stats", plain(testStats)},
		{"DetectorStats", plain(testDetectorStats)},
		{"Retention", testRetention},
		{"Retention/Raw", plain(testPurgeRaw)},
		{"Retention/Verdicts", plain(testPurgeVerdicts)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &Clock{t: base}
			s := newStore(t, clk.Now)
			tc.fn(t, s, clk)
		})
	}
}

// plain adapts a test that leaves the clock alone.
func plain(fn func(t *testing.T, s store.Store)) func(*testing.T, store.Store, *Clock) {
	return func(t *testing.T, s store.Store, _ *Clock) { fn(t, s) }
}

// Clock is the wall clock the suite gives each store: it starts at base
// and moves only when a test sets it.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// base is a fixed, microsecond-aligned UTC instant the fixtures hang off.
var base = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// eventCmp compares events with NaN equal to NaN and nil equal to empty.
var eventCmp = cmp.Options{cmpopts.EquateNaNs(), cmpopts.EquateEmpty()}

// alertCmp ignores Created (wall clock), which is checked separately.
var alertCmp = cmp.Options{cmpopts.EquateEmpty(), cmpopts.IgnoreFields(alert.Alert{}, "Created")}

func mkEvent(id string, received time.Time) *event.Event {
	return &event.Event{
		ID: id, Time: received.Add(-time.Second), Received: received,
		Source: "file:/var/log/auth.log", Format: "syslog",
		Fields: map[string]any{"message": "hello " + id, "source.port": int64(22)},
		Raw:    []byte("raw " + id),
	}
}

func mustAppend(t *testing.T, s store.Store, evs ...*event.Event) {
	t.Helper()
	if err := s.AppendEvents(ctxFor(t), evs); err != nil {
		t.Fatalf("AppendEvents: %v", err)
	}
}

func getEvents(t *testing.T, s store.Store, ids ...string) []*event.Event {
	t.Helper()
	got, err := s.GetEvents(ctxFor(t), ids)
	if err != nil {
		t.Fatalf("GetEvents(%v): %v", ids, err)
	}
	return got
}

func testAppendIdempotent(t *testing.T, s store.Store) {
	a, b := mkEvent("a", base), mkEvent("b", base)
	mustAppend(t, s, a, b, a) // duplicate inside one batch
	changed := mkEvent("a", base)
	changed.Fields["message"] = "second delivery"
	changed.Raw = []byte("other raw")
	mustAppend(t, s, changed) // duplicate across batches: ignored, first copy kept

	got := getEvents(t, s, "a")
	if len(got) != 1 {
		t.Fatalf("GetEvents(a) returned %d events, want 1", len(got))
	}
	if diff := cmp.Diff(a, got[0], eventCmp); diff != "" {
		t.Errorf("event a after a duplicate append (-want +got):\n%s", diff)
	}
	n, err := s.PurgeEvents(ctxFor(t), base.Add(time.Hour))
	if err != nil {
		t.Fatalf("PurgeEvents: %v", err)
	}
	if n != 2 {
		t.Errorf("stored rows = %d, want 2 (same id appended three times counts once)", n)
	}
}

func testEventRoundTrip(t *testing.T, s store.Store) {
	nonUTC := time.FixedZone("UTC+5:30", 5*3600+1800)
	ev := &event.Event{
		ID:       "rt",
		Time:     time.Date(2026, 3, 4, 5, 6, 7, 123456789, nonUTC),
		Received: time.Date(2026, 3, 4, 0, 0, 1, 999999999, time.UTC),
		Source:   "syslog:udp://0.0.0.0:514",
		Format:   "ecs_json",
		Fields: map[string]any{
			"message":         "Grüße \"quoted\" <tag> & \\ \t\n\u2028 日本",
			"bad.utf8":        "\xff\xfeok\x00nul",
			"empty":           "",
			"int.max":         int64(math.MaxInt64),
			"int.min":         int64(math.MinInt64),
			"int.zero":        int64(0),
			"float.one":       1.0,
			"float.frac":      0.1,
			"float.neg0":      math.Copysign(0, -1),
			"float.big":       1e300,
			"float.tiny":      5e-324,
			"float.nan":       math.NaN(),
			"float.inf":       math.Inf(1),
			"float.ninf":      math.Inf(-1),
			"bool.t":          true,
			"bool.f":          false,
			"list":            []string{"10.0.0.1", "", "\xc3\x28", "::1"},
			"list.empty":      []string{},
			"key with spaces": "v",
		},
		Raw: []byte("\x00\x01\xff raw <13>Nov 27 \r\n not utf8 \xc3\x28"),
	}
	zeroTime := &event.Event{ID: "zero", Received: base, Fields: map[string]any{}, Raw: nil}
	mustAppend(t, s, ev, zeroTime)

	got := getEvents(t, s, "rt", "zero")
	if len(got) != 2 {
		t.Fatalf("GetEvents returned %d events, want 2", len(got))
	}
	want := *ev
	want.Time = ev.Time.Truncate(time.Microsecond).UTC()
	want.Received = ev.Received.Truncate(time.Microsecond).UTC()
	if diff := cmp.Diff(&want, got[0], eventCmp); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if got[0].Time.Location() != time.UTC || got[0].Received.Location() != time.UTC {
		t.Errorf("times not in UTC: %v, %v", got[0].Time.Location(), got[0].Received.Location())
	}
	if !bytes.Equal(got[0].Raw, ev.Raw) {
		t.Errorf("raw = %q, want %q", got[0].Raw, ev.Raw)
	}
	if neg0 := got[0].Fields["float.neg0"].(float64); !math.Signbit(neg0) {
		t.Errorf("float.neg0 lost its sign: %v", neg0)
	}
	for k, v := range ev.Fields {
		if gt, wt := fmt.Sprintf("%T", got[0].Fields[k]), fmt.Sprintf("%T", v); gt != wt {
			t.Errorf("field %s: type %s, want %s", k, gt, wt)
		}
	}
	if !got[1].Time.IsZero() {
		t.Errorf("zero event time came back as %v", got[1].Time)
	}
	if len(got[1].Raw) != 0 || len(got[1].Fields) != 0 {
		t.Errorf("empty event came back with raw %q fields %v", got[1].Raw, got[1].Fields)
	}
}

func testGetEventsOrder(t *testing.T, s store.Store) {
	mustAppend(t, s, mkEvent("a", base), mkEvent("b", base), mkEvent("c", base))
	tests := []struct {
		ids  []string
		want []string
	}{
		{[]string{"c", "missing", "a"}, []string{"c", "a"}},
		{[]string{"b"}, []string{"b"}},
		{[]string{"missing"}, nil},
		{nil, nil},
	}
	for _, tc := range tests {
		var ids []string
		for _, ev := range getEvents(t, s, tc.ids...) {
			ids = append(ids, ev.ID)
		}
		if diff := cmp.Diff(tc.want, ids, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("GetEvents(%v) ids (-want +got):\n%s", tc.ids, diff)
		}
	}
}

func testAppendBadInput(t *testing.T, s store.Store) {
	tests := []struct {
		name string
		evs  []*event.Event
	}{
		{"empty id", []*event.Event{{ID: "", Received: base}}},
		{"nil event", []*event.Event{nil}},
		{"int field", []*event.Event{{ID: "x", Received: base, Fields: map[string]any{"n": 5}}}},
		{"map field", []*event.Event{{ID: "y", Received: base, Fields: map[string]any{"m": map[string]any{}}}}},
		{"nil field", []*event.Event{{ID: "z", Received: base, Fields: map[string]any{"n": nil}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.AppendEvents(ctxFor(t), tc.evs); err == nil {
				t.Errorf("AppendEvents accepted %s", tc.name)
			}
		})
	}
	if err := s.AppendEvents(ctxFor(t), nil); err != nil {
		t.Errorf("AppendEvents(nil) = %v, want nil", err)
	}
}

func testPurgeEvents(t *testing.T, s store.Store) {
	mustAppend(t, s,
		mkEvent("old", base.Add(-2*time.Hour)),
		mkEvent("edge", base), // Received == cutoff: kept ("before t" is strict)
		mkEvent("new", base.Add(time.Hour)))
	n, err := s.PurgeEvents(ctxFor(t), base)
	if err != nil {
		t.Fatalf("PurgeEvents: %v", err)
	}
	if n != 1 {
		t.Errorf("PurgeEvents deleted %d, want 1", n)
	}
	var ids []string
	for _, ev := range getEvents(t, s, "old", "edge", "new") {
		ids = append(ids, ev.ID)
	}
	if diff := cmp.Diff([]string{"edge", "new"}, ids); diff != "" {
		t.Errorf("remaining events (-want +got):\n%s", diff)
	}
	if n, err = s.PurgeEvents(ctxFor(t), base); err != nil || n != 0 {
		t.Errorf("second PurgeEvents = %d, %v; want 0, nil", n, err)
	}
}

// testPurgeMany purges more rows than a store is likely to delete in one
// chunk, and a batch larger than one statement's worth of rows.
func testPurgeMany(t *testing.T, s store.Store) {
	const n = 12345
	mustAppend(t, s, BenchEvents("many", n)...) // Received = base + i ms
	got, err := s.PurgeEvents(ctxFor(t), base.Add(n*time.Millisecond-time.Millisecond))
	if err != nil {
		t.Fatalf("PurgeEvents: %v", err)
	}
	if got != n-1 {
		t.Errorf("PurgeEvents deleted %d, want %d", got, n-1)
	}
	if got, err = s.PurgeEvents(ctxFor(t), base.Add(time.Hour)); err != nil || got != 1 {
		t.Errorf("PurgeEvents of the rest = %d, %v; want 1", got, err)
	}
}

// mkSig builds a signal about user alice on host h1.
func mkSig(id, rule string, at time.Time, evIDs ...string) signal.Signal {
	return signal.Signal{
		ID: id, Detector: "sigma", Layer: signal.LayerRules, RuleID: rule, RuleVersion: "v1",
		Title: "Rule " + rule, Level: signal.LevelHigh, Score: 1,
		Tags: []string{"attack.t1110.001"}, Techniques: []string{"T1110.001"},
		Entities: []signal.Entity{{Kind: "user", Value: "alice"}, {Kind: "host", Value: "h1"}},
		Time:     at, EventIDs: evIDs, Explanation: "alice failed to log in",
		Details: map[string]any{"matched": "sshd", "count": 3.0, "ok": true},
	}
}

func record(t *testing.T, s store.Store, sigs []signal.Signal, ids []string) ([]alert.Alert, []bool) {
	t.Helper()
	as, created, err := s.RecordSignals(ctxFor(t), sigs, ids)
	if err != nil {
		t.Fatalf("RecordSignals: %v", err)
	}
	if len(as) != len(sigs) || len(created) != len(sigs) {
		t.Fatalf("RecordSignals returned %d alerts, %d flags for %d signals", len(as), len(created), len(sigs))
	}
	return as, created
}

func record1(t *testing.T, s store.Store, sig signal.Signal, id string) (alert.Alert, bool) {
	t.Helper()
	as, created := record(t, s, []signal.Signal{sig}, []string{id})
	return as[0], created[0]
}

func getAlert(t *testing.T, s store.Store, id string) alert.Alert {
	t.Helper()
	a, err := s.GetAlert(ctxFor(t), id)
	if err != nil {
		t.Fatalf("GetAlert(%s): %v", id, err)
	}
	return a
}

func testRecordCreate(t *testing.T, s store.Store) {
	sig := mkSig("s1", "r1", base, "e1", "e2")
	got, created := record1(t, s, sig, "A1")
	if !created {
		t.Error("first signal: created = false")
	}
	want := alert.FromSignal(&sig, 0)
	want.ID = "A1"
	if diff := cmp.Diff(want, got, alertCmp); diff != "" {
		t.Errorf("new alert (-want +got):\n%s", diff)
	}
	if got.Created.IsZero() {
		t.Error("Created is zero")
	}
	stored := getAlert(t, s, "A1")
	if diff := cmp.Diff(got, stored, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("GetAlert differs from RecordSignals result (-returned +stored):\n%s", diff)
	}
	if stored.Verdict != nil || stored.Status != alert.StatusOpen {
		t.Errorf("new alert status %q verdict %v, want open and none", stored.Status, stored.Verdict)
	}
	if _, err := s.GetAlert(ctxFor(t), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetAlert(unknown) error = %v, want ErrNotFound", err)
	}
}

func testRecordFold(t *testing.T, s store.Store) {
	first := mkSig("s1", "r1", base, "e1", "e2")
	record1(t, s, first, "A")
	tests := []struct {
		name      string
		sig       signal.Signal
		wantCount int64
		wantFirst time.Time
		wantLast  time.Time
		wantIDs   []string
	}{
		{"later signal widens LastSeen", mkSig("s2", "r1", base.Add(time.Minute), "e3"),
			2, base, base.Add(time.Minute), []string{"e1", "e2", "e3"}},
		{"earlier signal widens FirstSeen, repeated evidence id not repeated", mkSig("s3", "r1", base.Add(-time.Minute), "e2", "e4"),
			3, base.Add(-time.Minute), base.Add(time.Minute), []string{"e1", "e2", "e3", "e4"}},
		{"signal inside the span changes only count", mkSig("s4", "r1", base.Add(30*time.Second)),
			4, base.Add(-time.Minute), base.Add(time.Minute), []string{"e1", "e2", "e3", "e4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.sig.Title = "a different title" // later signals do not rewrite the alert
			got, created := record1(t, s, tc.sig, "A")
			if created {
				t.Error("created = true for an existing alert")
			}
			want := alert.FromSignal(&first, 0)
			want.ID, want.Count, want.FirstSeen, want.LastSeen, want.EventIDs = "A", tc.wantCount, tc.wantFirst, tc.wantLast, tc.wantIDs
			if diff := cmp.Diff(want, got, alertCmp); diff != "" {
				t.Errorf("folded alert (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(got, getAlert(t, s, "A"), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("stored alert differs from returned (-returned +stored):\n%s", diff)
			}
		})
	}
}

func testRecordSameSignal(t *testing.T, s store.Store) {
	sig := mkSig("s1", "r1", base, "e1")
	first, _ := record1(t, s, sig, "A")
	// A re-read line produces the same signal id again, possibly with a later time.
	again := sig
	again.Time = base.Add(time.Hour)
	again.EventIDs = []string{"e9"}
	for i := range 2 {
		got, created := record1(t, s, again, "A")
		if created {
			t.Errorf("re-delivery %d: created = true", i)
		}
		if diff := cmp.Diff(first, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("re-delivery %d changed the alert (-before +after):\n%s", i, diff)
		}
	}
	// The same id twice in one batch counts once, too.
	as, created := record(t, s, []signal.Signal{mkSig("s2", "r1", base, "e2"), mkSig("s2", "r1", base, "e2")}, []string{"A", "A"})
	if created[0] || created[1] || as[1].Count != 2 || as[0].Count != 2 {
		t.Errorf("same new signal twice in a batch: counts %d,%d created %v; want 2,2 [false false]", as[0].Count, as[1].Count, created)
	}
}

func testRecordBatchSameAlert(t *testing.T, s store.Store) {
	sigs := []signal.Signal{
		mkSig("s1", "r1", base, "e1"),
		mkSig("s2", "r1", base.Add(time.Second), "e2"),
		mkSig("t1", "r2", base, "e3"),
	}
	as, created := record(t, s, sigs, []string{"A", "A", "B"})
	if diff := cmp.Diff([]bool{true, false, true}, created); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	if as[0].Count != 1 || as[1].Count != 2 || as[2].Count != 1 {
		t.Errorf("counts %d,%d,%d; want 1,2,1 (each result as it stood after its input)", as[0].Count, as[1].Count, as[2].Count)
	}
	if !as[1].LastSeen.Equal(base.Add(time.Second)) || as[1].ID != "A" || as[2].ID != "B" {
		t.Errorf("results: %s LastSeen %v, %s", as[1].ID, as[1].LastSeen, as[2].ID)
	}
	if empty, c := record(t, s, nil, nil); len(empty) != 0 || len(c) != 0 {
		t.Errorf("RecordSignals(nil) returned %v %v", empty, c)
	}
}

func testEvidenceCap(t *testing.T, s store.Store) {
	ids := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s%03d", prefix, i)
		}
		return out
	}
	first := ids("a", alert.MaxEvidence-10)
	record1(t, s, mkSig("s1", "r", base, first...), "A")
	got, _ := record1(t, s, mkSig("s2", "r", base, ids("b", 30)...), "A")
	want := append(slices.Clone(first), ids("b", 10)...)
	if diff := cmp.Diff(want, got.EventIDs); diff != "" {
		t.Errorf("evidence after crossing the cap (-want +got):\n%s", diff)
	}
	got, _ = record1(t, s, mkSig("s3", "r", base, "c"), "A")
	if len(got.EventIDs) != alert.MaxEvidence || got.Count != 3 {
		t.Errorf("at cap: %d evidence ids, count %d; want %d, 3", len(got.EventIDs), got.Count, alert.MaxEvidence)
	}
	// A first signal with more evidence than the cap is capped too.
	big, _ := record1(t, s, mkSig("s4", "r", base, ids("d", alert.MaxEvidence+5)...), "B")
	if len(big.EventIDs) != alert.MaxEvidence {
		t.Errorf("new alert kept %d evidence ids, want %d", len(big.EventIDs), alert.MaxEvidence)
	}
}

func testRecordConcurrent(t *testing.T, s store.Store) {
	const workers, perWorker = 6, 15
	ctx := ctxFor(t)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	createdCount := make(chan int, workers)
	for w := range workers {
		wg.Go(func() {
			n := 0
			for i := range perWorker {
				// Two alerts touched in both orders (deadlock bait) plus one
				// signal id every worker delivers (must count once).
				sigs := []signal.Signal{
					mkSig(fmt.Sprintf("w%d-%d", w, i), "r", base.Add(time.Duration(i)*time.Second)),
					mkSig(fmt.Sprintf("x%d-%d", w, i), "r", base),
					mkSig("shared", "r", base),
				}
				ids := []string{"A", "B", "A"}
				if w%2 == 1 {
					ids = []string{"B", "A", "A"}
				}
				_, created, err := s.RecordSignals(ctx, sigs, ids)
				if err != nil {
					errs <- err
					return
				}
				for _, c := range created {
					if c {
						n++
					}
				}
			}
			createdCount <- n
		})
	}
	wg.Wait()
	close(errs)
	close(createdCount)
	for err := range errs {
		t.Fatalf("concurrent RecordSignals: %v", err)
	}
	total := 0
	for n := range createdCount {
		total += n
	}
	if total != 2 {
		t.Errorf("%d inputs reported created, want 2 (one per alert)", total)
	}
	a, b := getAlert(t, s, "A"), getAlert(t, s, "B")
	if want := int64(2*workers*perWorker + 1); a.Count+b.Count != want {
		t.Errorf("counts A=%d B=%d, want a total of %d (folds lost or doubled)", a.Count, b.Count, want)
	}
	for _, x := range []alert.Alert{a, b} {
		if want := base.Add((perWorker - 1) * time.Second); !x.LastSeen.Equal(want) || !x.FirstSeen.Equal(base) {
			t.Errorf("alert %s spans %v..%v, want %v..%v", x.ID, x.FirstSeen, x.LastSeen, base, want)
		}
	}
}

func testRecordBadInput(t *testing.T, s store.Store) {
	ok := mkSig("s1", "r", base)
	noID := mkSig("", "r", base)
	tests := []struct {
		name string
		sigs []signal.Signal
		ids  []string
	}{
		{"length mismatch", []signal.Signal{ok}, nil},
		{"empty alert id", []signal.Signal{ok}, []string{""}},
		{"empty signal id", []signal.Signal{noID}, []string{"A"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := s.RecordSignals(ctxFor(t), tc.sigs, tc.ids); err == nil {
				t.Errorf("RecordSignals accepted %s", tc.name)
			}
		})
	}
}

// testRecordOddText: log-derived text (NUL, invalid UTF-8) in a signal must
// not fail the batch. A store may make such text storable, but what
// RecordSignals returns must be what it stored and what filters match.
func testRecordOddText(t *testing.T, s store.Store) {
	sig := mkSig("s1", "r", base, "e1")
	sig.Title = "bad \x00 title \xff"
	sig.Entities = []signal.Entity{{Kind: "user", Value: "ro\x00ot\xc3\x28"}}
	sig.Details = map[string]any{"matched": "\x00\xfe"}
	got, _ := record1(t, s, sig, "A")
	if diff := cmp.Diff(got, getAlert(t, s, "A"), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("stored alert differs from returned (-returned +stored):\n%s", diff)
	}
	if ids := listIDs(t, s, store.AlertQuery{Entity: got.Entities[0].Value}); !slices.Equal(ids, []string{"A"}) {
		t.Errorf("filter by the returned entity value %q found %v, want [A]", got.Entities[0].Value, ids)
	}
}

// seedAlerts creates alerts with distinct rules, detectors, levels, entities and times.
func seedAlerts(t *testing.T, s store.Store) {
	t.Helper()
	type spec struct {
		id, detector, rule string
		level              signal.Level
		user               string
		first, last        time.Duration
	}
	specs := []spec{
		{"a1", "sigma", "r1", signal.LevelLow, "alice", 0, 10 * time.Minute},
		{"a2", "sigma", "r2", signal.LevelHigh, "bob", 5 * time.Minute, 20 * time.Minute},
		{"a3", "ioc", "feed", signal.LevelCritical, "alice", 30 * time.Minute, 30 * time.Minute},
		{"a4", "threshold", "r1", signal.LevelMedium, "carol", 40 * time.Minute, 50 * time.Minute},
		{"a5", "sigma", "r1", signal.LevelInformational, "bob", 60 * time.Minute, 70 * time.Minute},
	}
	for _, sp := range specs {
		first := mkSig(sp.id+"-1", sp.rule, base.Add(sp.first))
		first.Detector, first.Level = sp.detector, sp.level
		first.Entities = []signal.Entity{{Kind: "user", Value: sp.user}, {Kind: "ip", Value: "10.0.0." + sp.id[1:]}}
		last := first
		last.ID, last.Time = sp.id+"-2", base.Add(sp.last)
		record(t, s, []signal.Signal{first, last}, []string{sp.id, sp.id})
	}
	if err := s.SetVerdict(ctxFor(t), alert.Verdict{AlertID: "a2", Kind: alert.FalsePositive, Author: "ann", Time: base}); err != nil {
		t.Fatalf("SetVerdict: %v", err)
	}
}

func listIDs(t *testing.T, s store.Store, q store.AlertQuery) []string {
	t.Helper()
	page, err := s.ListAlerts(ctxFor(t), q)
	if err != nil {
		t.Fatalf("ListAlerts(%+v): %v", q, err)
	}
	ids := []string{}
	for _, a := range page.Alerts {
		ids = append(ids, a.ID)
	}
	return ids
}

func testListFilters(t *testing.T, s store.Store) {
	seedAlerts(t, s)
	tests := []struct {
		name    string
		q       store.AlertQuery
		want    []string
		wantErr error
	}{
		{name: "all, newest LastSeen first", want: []string{"a5", "a4", "a3", "a2", "a1"}},
		{name: "rule", q: store.AlertQuery{RuleID: "r1"}, want: []string{"a5", "a4", "a1"}},
		{name: "detector", q: store.AlertQuery{Detector: "sigma"}, want: []string{"a5", "a2", "a1"}},
		{name: "min level high", q: store.AlertQuery{MinLevel: signal.LevelHigh}, want: []string{"a3", "a2"}},
		{name: "min level low", q: store.AlertQuery{MinLevel: signal.LevelLow}, want: []string{"a4", "a3", "a2", "a1"}},
		{name: "min level informational", q: store.AlertQuery{MinLevel: signal.LevelInformational}, want: []string{"a5", "a4", "a3", "a2", "a1"}},
		{name: "status closed", q: store.AlertQuery{Status: alert.StatusClosed}, want: []string{"a2"}},
		{name: "status open", q: store.AlertQuery{Status: alert.StatusOpen}, want: []string{"a5", "a4", "a3", "a1"}},
		{name: "entity user", q: store.AlertQuery{Entity: "alice"}, want: []string{"a3", "a1"}},
		{name: "entity ip", q: store.AlertQuery{Entity: "10.0.0.4"}, want: []string{"a4"}},
		{name: "entity is exact", q: store.AlertQuery{Entity: "ali"}, want: []string{}},
		{name: "since", q: store.AlertQuery{Since: base.Add(30 * time.Minute)}, want: []string{"a5", "a4", "a3"}},
		{name: "until", q: store.AlertQuery{Until: base.Add(30 * time.Minute)}, want: []string{"a2", "a1"}},
		{name: "window overlapping a span", q: store.AlertQuery{Since: base.Add(12 * time.Minute), Until: base.Add(15 * time.Minute)}, want: []string{"a2"}},
		{name: "combined", q: store.AlertQuery{RuleID: "r1", Entity: "bob", Status: alert.StatusOpen}, want: []string{"a5"}},
		{name: "combined nothing", q: store.AlertQuery{Detector: "ioc", MinLevel: signal.LevelCritical, Entity: "bob"}, want: []string{}},
		{name: "unknown level", q: store.AlertQuery{MinLevel: "severe"}, wantErr: store.ErrInvalid},
		{name: "bad cursor", q: store.AlertQuery{Cursor: "!!not a cursor"}, wantErr: store.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page, err := s.ListAlerts(ctxFor(t), tc.q)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ListAlerts: %v", err)
			}
			ids := []string{}
			for _, a := range page.Alerts {
				ids = append(ids, a.ID)
			}
			if diff := cmp.Diff(tc.want, ids); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if page.Next != "" {
				t.Errorf("Next = %q on a single page", page.Next)
			}
		})
	}
	// Listed alerts carry their verdict and full contents, like GetAlert.
	page, err := s.ListAlerts(ctxFor(t), store.AlertQuery{Status: alert.StatusClosed})
	if err != nil || len(page.Alerts) != 1 {
		t.Fatalf("ListAlerts closed: %v, %d alerts", err, len(page.Alerts))
	}
	if diff := cmp.Diff(getAlert(t, s, "a2"), page.Alerts[0], cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("listed alert differs from GetAlert (-get +list):\n%s", diff)
	}
}

// seedMany creates n alerts; several share a LastSeen so paging must break ties.
func seedMany(t *testing.T, s store.Store, prefix string, n int, at func(i int) time.Time) []string {
	t.Helper()
	sigs := make([]signal.Signal, n)
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%s%03d", prefix, i)
		sigs[i] = mkSig("sig-"+ids[i], "r", at(i))
	}
	record(t, s, sigs, ids)
	return ids
}

func pageAll(t *testing.T, s store.Store, q store.AlertQuery, between func(page int)) [][]string {
	t.Helper()
	var pages [][]string
	for {
		page, err := s.ListAlerts(ctxFor(t), q)
		if err != nil {
			t.Fatalf("ListAlerts page %d: %v", len(pages), err)
		}
		var ids []string
		for _, a := range page.Alerts {
			ids = append(ids, a.ID)
		}
		pages = append(pages, ids)
		if page.Next == "" {
			return pages
		}
		if len(pages) > 100 {
			t.Fatal("paging does not terminate")
		}
		if between != nil {
			between(len(pages))
		}
		q.Cursor = page.Next
	}
}

func testListPaging(t *testing.T, s store.Store) {
	seedMany(t, s, "p", 23, func(i int) time.Time { return base.Add(time.Duration(i/3) * time.Minute) })
	all := listIDs(t, s, store.AlertQuery{Limit: 100})
	pages := pageAll(t, s, store.AlertQuery{Limit: 5}, nil)
	if len(pages) != 5 {
		t.Errorf("%d pages of 5 for 23 alerts, want 5", len(pages))
	}
	var flat []string
	for i, p := range pages {
		if i < len(pages)-1 && len(p) != 5 {
			t.Errorf("page %d has %d alerts, want 5", i, len(p))
		}
		flat = append(flat, p...)
	}
	if diff := cmp.Diff(all, flat); diff != "" {
		t.Errorf("pages concatenated differ from one big page (-big +paged):\n%s", diff)
	}
	// Exactly divisible: the last full page may carry a Next that yields an empty page, but nothing repeats.
	pages = pageAll(t, s, store.AlertQuery{Limit: 23}, nil)
	if n := len(slices.Concat(pages...)); n != 23 {
		t.Errorf("limit 23 paging returned %d alerts, want 23", n)
	}
	// Paging composes with filters.
	filtered := pageAll(t, s, store.AlertQuery{Limit: 2, Entity: "alice", MinLevel: signal.LevelHigh}, nil)
	if n := len(slices.Concat(filtered...)); n != 23 {
		t.Errorf("filtered paging returned %d alerts, want 23", n)
	}
}

func testListPagingWhileWriting(t *testing.T, s store.Store) {
	before := seedMany(t, s, "old", 20, func(i int) time.Time { return base.Add(time.Duration(i/2) * time.Second) })
	n := 0
	pages := pageAll(t, s, store.AlertQuery{Limit: 4}, func(int) {
		// New alerts arrive between pages, newer and older than everything listed so far.
		n++
		seedMany(t, s, fmt.Sprintf("new%d-", n), 2, func(i int) time.Time {
			if i == 0 {
				return base.Add(time.Hour)
			}
			return base.Add(-time.Hour)
		})
	})
	seen := map[string]int{}
	for _, id := range slices.Concat(pages...) {
		seen[id]++
		if seen[id] == 2 {
			t.Errorf("alert %s listed twice", id)
		}
	}
	for _, id := range before {
		if seen[id] == 0 {
			t.Errorf("alert %s, stored before paging began, never listed (gap)", id)
		}
	}
}

func testListLimits(t *testing.T, s store.Store) {
	seedMany(t, s, "l", 60, func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) })
	page, err := s.ListAlerts(ctxFor(t), store.AlertQuery{})
	if err != nil {
		t.Fatalf("ListAlerts: %v", err)
	}
	if len(page.Alerts) != 50 || page.Next == "" {
		t.Errorf("default limit: %d alerts, next %q; want 50 and a cursor", len(page.Alerts), page.Next)
	}
	if got := listIDs(t, s, store.AlertQuery{Limit: 1 << 20}); len(got) != 60 {
		t.Errorf("huge limit returned %d alerts, want 60", len(got))
	}
	if got := listIDs(t, s, store.AlertQuery{Limit: -1}); len(got) != 50 {
		t.Errorf("negative limit returned %d alerts, want the default 50", len(got))
	}
}

func testVerdict(t *testing.T, s store.Store) {
	record1(t, s, mkSig("s1", "r", base), "A")
	nonUTC := time.FixedZone("X", -7*3600)
	v1 := alert.Verdict{AlertID: "A", Kind: alert.FalsePositive, Reason: "scanner", Author: "ann",
		Time: time.Date(2026, 11, 27, 3, 0, 0, 123456789, nonUTC)}
	if err := s.SetVerdict(ctxFor(t), v1); err != nil {
		t.Fatalf("SetVerdict: %v", err)
	}
	got := getAlert(t, s, "A")
	wantV1 := v1
	wantV1.Time = v1.Time.Truncate(time.Microsecond).UTC()
	if diff := cmp.Diff(&wantV1, got.Verdict); diff != "" {
		t.Errorf("verdict (-want +got):\n%s", diff)
	}
	if got.Status != alert.StatusClosed {
		t.Errorf("status after verdict = %q, want closed", got.Status)
	}
	v2 := alert.Verdict{AlertID: "A", Kind: alert.TruePositive, Reason: "confirmed", Author: "bob", Time: base.Add(time.Hour)}
	if err := s.SetVerdict(ctxFor(t), v2); err != nil {
		t.Fatalf("second SetVerdict: %v", err)
	}
	if diff := cmp.Diff(&v2, getAlert(t, s, "A").Verdict); diff != "" {
		t.Errorf("replaced verdict (-want +got):\n%s", diff)
	}
	hist, ok := s.(store.VerdictHistory)
	if !ok {
		t.Fatalf("%T does not implement store.VerdictHistory", s)
	}
	all, err := hist.Verdicts(ctxFor(t), "A")
	if err != nil {
		t.Fatalf("Verdicts: %v", err)
	}
	if diff := cmp.Diff([]alert.Verdict{wantV1, v2}, all); diff != "" {
		t.Errorf("verdict history (-want +got):\n%s", diff)
	}
	if _, err := hist.Verdicts(ctxFor(t), "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Verdicts(unknown) error = %v, want ErrNotFound", err)
	}
	record1(t, s, mkSig("s2", "r", base), "B")
	if all, err := hist.Verdicts(ctxFor(t), "B"); err != nil || len(all) != 0 {
		t.Errorf("Verdicts(no verdict) = %v, %v; want empty, nil", all, err)
	}

	errTests := []struct {
		name string
		v    alert.Verdict
		want error
	}{
		{"unknown alert", alert.Verdict{AlertID: "nope", Kind: alert.TruePositive, Author: "ann", Time: base}, store.ErrNotFound},
		{"bad kind", alert.Verdict{AlertID: "B", Kind: "maybe", Author: "ann", Time: base}, store.ErrInvalid},
	}
	for _, tc := range errTests {
		if err := s.SetVerdict(ctxFor(t), tc.v); !errors.Is(err, tc.want) {
			t.Errorf("SetVerdict(%s) error = %v, want %v", tc.name, err, tc.want)
		}
	}
	if b := getAlert(t, s, "B"); b.Status != alert.StatusOpen || b.Verdict != nil {
		t.Errorf("a rejected verdict changed alert B: status %q verdict %v", b.Status, b.Verdict)
	}
}

func testQuarantine(t *testing.T, s store.Store) {
	big := bytes.Repeat([]byte("x\x00\xff"), store.MaxQuarantineRaw) // 3× the limit
	qs := []store.Quarantined{
		{Time: base, Source: "file:a", Position: "10", Reason: "bad_json", Raw: []byte("{oops")},
		{Time: base.Add(time.Minute), Source: "file:a", Position: "20", Reason: "too_long", Raw: big},
		{Time: base.Add(2 * time.Minute), Source: "file:b", Position: "5", Reason: "bad_json", Raw: []byte("\xff\xfe")},
	}
	if err := s.Quarantine(ctxFor(t), qs); err != nil {
		t.Fatalf("Quarantine: %v", err)
	}
	if err := s.Quarantine(ctxFor(t), nil); err != nil {
		t.Fatalf("Quarantine(nil): %v", err)
	}
	list := func(reason string, limit int) []store.Quarantined {
		t.Helper()
		got, err := s.ListQuarantine(ctxFor(t), reason, limit)
		if err != nil {
			t.Fatalf("ListQuarantine(%q, %d): %v", reason, limit, err)
		}
		return got
	}
	all := list("", 0)
	if len(all) != 3 {
		t.Fatalf("ListQuarantine returned %d records, want 3", len(all))
	}
	wantOrder := []string{"5", "20", "10"} // newest first
	ids := map[int64]bool{}
	for i, q := range all {
		if q.Position != wantOrder[i] {
			t.Errorf("record %d position %s, want %s (newest first)", i, q.Position, wantOrder[i])
		}
		if q.ID == 0 || ids[q.ID] {
			t.Errorf("record %d has id %d (zero or repeated)", i, q.ID)
		}
		ids[q.ID] = true
	}
	if got := all[1]; len(got.Raw) != store.MaxQuarantineRaw || !bytes.Equal(got.Raw, big[:store.MaxQuarantineRaw]) {
		t.Errorf("oversized raw kept %d bytes, want the first %d", len(got.Raw), store.MaxQuarantineRaw)
	}
	want0 := qs[2]
	want0.ID = all[0].ID
	if diff := cmp.Diff(want0, all[0]); diff != "" {
		t.Errorf("newest record (-want +got):\n%s", diff)
	}
	if got := list("bad_json", 1); len(got) != 1 || got[0].Position != "5" {
		t.Errorf("ListQuarantine(bad_json, 1) = %+v, want the record at position 5", got)
	}
	if got := list("nope", 0); len(got) != 0 {
		t.Errorf("ListQuarantine(unknown reason) returned %d records", len(got))
	}
	counts, err := s.CountQuarantine(ctxFor(t))
	if err != nil {
		t.Fatalf("CountQuarantine: %v", err)
	}
	if diff := cmp.Diff(map[string]int64{"bad_json": 2, "too_long": 1}, counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}

	// A record read again (an input re-reading lines after a crash) is
	// quarantined once, within a batch and across batches; the same
	// position with other bytes (a rotated file) and records without a
	// position are different records.
	again := []store.Quarantined{
		qs[0], qs[1], qs[1], // stored before; twice in this batch
		{Time: base.Add(3 * time.Minute), Source: "file:a", Position: "10", Reason: "bad_json", Raw: []byte("{other")},
		{Time: base.Add(4 * time.Minute), Source: "http", Reason: "bad_json", Raw: []byte("{")},
		{Time: base.Add(4 * time.Minute), Source: "http", Reason: "bad_json", Raw: []byte("{")},
	}
	if err := s.Quarantine(ctxFor(t), again); err != nil {
		t.Fatalf("Quarantine (records read again): %v", err)
	}
	if err := s.Quarantine(ctxFor(t), again[:3]); err != nil {
		t.Fatalf("Quarantine (records read a third time): %v", err)
	}
	counts, err = s.CountQuarantine(ctxFor(t))
	if err != nil {
		t.Fatalf("CountQuarantine: %v", err)
	}
	if diff := cmp.Diff(map[string]int64{"bad_json": 5, "too_long": 1}, counts); diff != "" {
		t.Errorf("counts after records read again (-want +got):\n%s", diff)
	}
}

func testOffsets(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	if _, err := s.GetOffset(ctx, "file:/var/log/auth.log"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetOffset(unset) error = %v, want ErrNotFound", err)
	}
	steps := []store.Offset{{FileID: "dev1:ino2", Offset: 100}, {FileID: "dev1:ino2", Offset: 4096}, {FileID: "dev1:ino9", Offset: 0}}
	for _, o := range steps {
		if err := s.SetOffset(ctx, "file:/var/log/auth.log", o); err != nil {
			t.Fatalf("SetOffset: %v", err)
		}
		got, err := s.GetOffset(ctx, "file:/var/log/auth.log")
		if err != nil || got != o {
			t.Errorf("GetOffset = %+v, %v; want %+v", got, err, o)
		}
	}
	if _, err := s.GetOffset(ctx, "file:/other"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetOffset(other key) error = %v, want ErrNotFound", err)
	}
}

func testTokens(t *testing.T, s store.Store) {
	ctx := ctxFor(t)
	if n, err := s.CountTokens(ctx); err != nil || n != 0 {
		t.Errorf("CountTokens(empty) = %d, %v", n, err)
	}
	tok := store.Token{ID: "t1", Name: "ci", Role: "ingest", Hash: "ab12", Created: base.Add(123456789)}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	if err := s.CreateToken(ctx, store.Token{ID: "t2", Name: "ops", Role: "admin", Hash: "cd34", Created: base}); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	got, err := s.TokenByHash(ctx, "ab12")
	want := tok
	want.Created = tok.Created.Truncate(time.Microsecond)
	if err != nil || got != want {
		t.Errorf("TokenByHash = %+v, %v; want %+v", got, err, want)
	}
	if _, err := s.TokenByHash(ctx, "ffff"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TokenByHash(unknown) error = %v, want ErrNotFound", err)
	}
	if err := s.CreateToken(ctx, store.Token{ID: "t3", Name: "ci", Role: "viewer", Hash: "ef56", Created: base}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("CreateToken(duplicate name) error = %v, want ErrConflict", err)
	}
	if n, err := s.CountTokens(ctx); err != nil || n != 2 {
		t.Errorf("CountTokens = %d, %v; want 2", n, err)
	}
}

func testStats(t *testing.T, s store.Store) {
	ss, ok := s.(store.StatsStore)
	if !ok {
		t.Fatalf("%T does not implement store.StatsStore", s)
	}
	got, err := ss.Stats(ctxFor(t))
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if diff := cmp.Diff(store.Stats{}, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("empty store stats (-want +got):\n%s", diff)
	}
	mustAppend(t, s, mkEvent("a", base), mkEvent("b", base), mkEvent("c", base))
	seedAlerts(t, s)
	if err := s.Quarantine(ctxFor(t), []store.Quarantined{{Reason: "x"}, {Reason: "y"}}); err != nil {
		t.Fatalf("Quarantine: %v", err)
	}
	if got, err = ss.Stats(ctxFor(t)); err != nil {
		t.Fatalf("Stats: %v", err)
	}
	want := store.Stats{
		Events: 3, OpenAlerts: 4, Quarantined: 2,
		Alerts: map[signal.Level]int64{signal.LevelInformational: 1, signal.LevelLow: 1, signal.LevelMedium: 1, signal.LevelHigh: 1, signal.LevelCritical: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

func testDetectorStats(t *testing.T, s store.Store) {
	ds, ok := s.(store.DetectorStatsStore)
	if !ok {
		t.Fatalf("%T does not implement store.DetectorStatsStore", s)
	}
	if got, err := ds.DetectorStats(ctxFor(t)); err != nil || len(got) != 0 {
		t.Fatalf("empty store: DetectorStats = %v, %v; want none", got, err)
	}
	seedAlerts(t, s) // sigma a1 a2 (false positive) a5, ioc a3, threshold a4; two signals each
	for id, k := range map[string]alert.VerdictKind{"a1": alert.TruePositive, "a3": alert.BenignTruePositive} {
		if err := s.SetVerdict(ctxFor(t), alert.Verdict{AlertID: id, Kind: k, Reason: "r", Author: "ann", Time: base}); err != nil {
			t.Fatalf("SetVerdict: %v", err)
		}
	}
	got, err := ds.DetectorStats(ctxFor(t))
	if err != nil {
		t.Fatalf("DetectorStats: %v", err)
	}
	want := []store.DetectorStats{
		{Detector: "ioc", Alerts: 1, Signals: 2, Benign: 1},
		{Detector: "sigma", Alerts: 3, Signals: 6, Open: 1, TruePositive: 1, FalsePositive: 1},
		{Detector: "threshold", Alerts: 1, Signals: 2, Open: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("detector stats (-want +got):\n%s", diff)
	}
}

// testRetention: an alert goes when both its evidence (LastSeen, event
// time) and its storing (Created, wall clock) are older than the cutoff,
// so alerts raised by replaying old logs outlive the replay.
func testRetention(t *testing.T, s store.Store, clk *Clock) {
	r, ok := s.(store.Retention)
	if !ok {
		t.Fatalf("%T does not implement store.Retention", s)
	}
	seedAlerts(t, s) // LastSeen: a1 10m, a2 20m (has a verdict), a3 30m, a4 50m, a5 70m; all created at base
	clk.Set(base.Add(time.Hour))
	old := mkSig("a6-1", "r6", base.Add(-48*time.Hour)) // a replay of two-day-old logs, stored an hour later
	record1(t, s, old, "a6")
	n, err := r.PurgeAlerts(ctxFor(t), base.Add(25*time.Minute))
	if err != nil || n != 2 {
		t.Fatalf("PurgeAlerts = %d, %v; want 2", n, err)
	}
	if ids := listIDs(t, s, store.AlertQuery{}); !slices.Equal(ids, []string{"a5", "a4", "a3", "a6"}) {
		t.Errorf("alerts after purge: %v, want [a5 a4 a3 a6] (a6: old evidence, stored after the cutoff)", ids)
	}
	if ids := listIDs(t, s, store.AlertQuery{Entity: "bob"}); !slices.Equal(ids, []string{"a5"}) {
		t.Errorf("entity filter after purge: %v, want [a5]", ids)
	}
	if _, err := s.(store.VerdictHistory).Verdicts(ctxFor(t), "a2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Verdicts(purged alert) error = %v, want ErrNotFound", err)
	}
	if n, err := r.PurgeAlerts(ctxFor(t), base.Add(61*time.Minute)); err != nil || n != 3 {
		t.Errorf("PurgeAlerts past a6's storing = %d, %v; want 3 (a3, a4, a6)", n, err)
	}
	if ids := listIDs(t, s, store.AlertQuery{}); !slices.Equal(ids, []string{"a5"}) {
		t.Errorf("alerts after the second purge: %v, want [a5]", ids)
	}
	// A replayed signal of a purged alert starts it anew.
	sig := mkSig("a1-1", "r1", base)
	if a, created := record1(t, s, sig, "a1"); !created || a.Count != 1 {
		t.Errorf("replay after purge: created %v count %d; want a new alert", created, a.Count)
	}

	qs := []store.Quarantined{{Time: base, Reason: "a"}, {Time: base.Add(time.Minute), Reason: "a"}, {Time: base.Add(2 * time.Minute), Reason: "b"}}
	if err := s.Quarantine(ctxFor(t), qs); err != nil {
		t.Fatalf("Quarantine: %v", err)
	}
	if n, err := r.PurgeQuarantine(ctxFor(t), base.Add(time.Minute)); err != nil || n != 1 {
		t.Errorf("PurgeQuarantine = %d, %v; want 1", n, err)
	}
	counts, err := s.CountQuarantine(ctxFor(t))
	if err != nil {
		t.Fatalf("CountQuarantine: %v", err)
	}
	if diff := cmp.Diff(map[string]int64{"a": 1, "b": 1}, counts); diff != "" {
		t.Errorf("quarantine after purge (-want +got):\n%s", diff)
	}
}

// testPurgeRaw: raw records go before their normalized events; a second
// purge finds nothing left to empty.
func testPurgeRaw(t *testing.T, s store.Store) {
	r := s.(store.Retention)
	old, mid, recent := mkEvent("e-old", base), mkEvent("e-mid", base.Add(time.Minute)), mkEvent("e-new", base.Add(time.Hour))
	mustAppend(t, s, old, mid, recent)
	if n, err := r.PurgeRaw(ctxFor(t), base.Add(30*time.Minute)); err != nil || n != 2 {
		t.Fatalf("PurgeRaw = %d, %v; want 2", n, err)
	}
	if n, err := r.PurgeRaw(ctxFor(t), base.Add(30*time.Minute)); err != nil || n != 0 {
		t.Errorf("second PurgeRaw = %d, %v; want 0", n, err)
	}
	got := getEvents(t, s, "e-old", "e-mid", "e-new")
	if len(got) != 3 {
		t.Fatalf("events after PurgeRaw: %d, want 3 (normalized events stay)", len(got))
	}
	for _, ev := range got {
		want := ev.ID == "e-new"
		if has := len(ev.Raw) > 0; has != want {
			t.Errorf("%s: raw kept = %v, want %v", ev.ID, has, want)
		}
		if ev.Fields["message"] != "hello "+ev.ID {
			t.Errorf("%s: normalized fields changed: %v", ev.ID, ev.Fields)
		}
	}
}

// testPurgeVerdicts: history entries before the cut go, the current
// verdict set before it is cleared, later ones stay.
func testPurgeVerdicts(t *testing.T, s store.Store) {
	r := s.(store.Retention)
	seedAlerts(t, s) // a2 has a false_positive verdict at base
	for _, v := range []alert.Verdict{
		{AlertID: "a3", Kind: alert.BenignTruePositive, Author: "ann", Reason: "old", Time: base.Add(time.Minute)},
		{AlertID: "a3", Kind: alert.TruePositive, Author: "bo", Reason: "new", Time: base.Add(2 * time.Hour)},
	} {
		if err := s.SetVerdict(ctxFor(t), v); err != nil {
			t.Fatalf("SetVerdict: %v", err)
		}
	}
	if n, err := r.PurgeVerdicts(ctxFor(t), base.Add(time.Hour)); err != nil || n != 2 {
		t.Fatalf("PurgeVerdicts = %d, %v; want 2", n, err)
	}
	if a := getAlert(t, s, "a2"); a.Verdict != nil || a.Status != alert.StatusClosed {
		t.Errorf("a2 after purge: verdict %+v status %s; want none, closed", a.Verdict, a.Status)
	}
	if a := getAlert(t, s, "a3"); a.Verdict == nil || a.Verdict.Kind != alert.TruePositive {
		t.Errorf("a3 after purge: verdict %+v; want the newer true_positive", a.Verdict)
	}
	vs, err := s.(store.VerdictHistory).Verdicts(ctxFor(t), "a3")
	if err != nil || len(vs) != 1 || vs[0].Reason != "new" {
		t.Errorf("a3 history after purge: %+v, %v; want only the newer verdict", vs, err)
	}
	if n, err := r.PurgeVerdicts(ctxFor(t), base.Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("second PurgeVerdicts = %d, %v; want 0", n, err)
	}
}
