package anomaly

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
)

func TestRegisteredKinds(t *testing.T) {
	for _, tc := range []struct {
		kind string
		cfg  map[string]any
		ok   bool
	}{
		{KindAnomaly, nil, true},
		{KindAnomaly, map[string]any{"window": "5m", "learning": "2h", "budget": 0.05, "max_entities": 1000, "min_history": 6, "entities": []any{"user", "ip"}}, true},
		{KindAnomaly, map[string]any{"window": 300}, false},
		{KindAnomaly, map[string]any{"budget": -1.0}, false},
		{KindAnomaly, map[string]any{"entities": "user,planet"}, false},
		{KindAnomaly, map[string]any{"treshold": 3}, false},
		{KindAnomaly, map[string]any{"min_history": 99}, false},
		{KindRarity, nil, true},
		{KindRarity, map[string]any{"learning": "48h", "rules": "process_pair, dest_port", "max_pairs": 5000, "max_signals_per_entity_day": 3}, true},
		{KindRarity, map[string]any{"rules": []any{"login_source", "dns"}}, false},
		{KindRarity, map[string]any{"max_pairs": 1.5}, false},
	} {
		spec, ok := detect.Lookup(tc.kind)
		if !ok || spec.Layer != signal.LayerML {
			t.Fatalf("%s not registered in layer ml", tc.kind)
		}
		d, err := spec.New(detect.Options{Config: tc.cfg})
		if (err == nil) != tc.ok {
			t.Errorf("%s %v: err %v", tc.kind, tc.cfg, err)
		}
		if err == nil && d.Name() != tc.kind {
			t.Errorf("name %q", d.Name())
		}
	}
}

// TestExcludeFromLearning: events the hook marks (tied to alerts) are
// checked but never learned, so an attacker's repeated activity keeps
// firing instead of becoming normal.
func TestExcludeFromLearning(t *testing.T) {
	bad := func(ev *event.Event) bool { return strings.HasPrefix(ev.ID, "bad") }
	r, _ := NewRarity(RarityOptions{Learning: time.Hour, MaxSignalsPerEntityDay: 100, ExcludeFromLearning: bad})
	plain, _ := NewRarity(RarityOptions{Learning: time.Hour, MaxSignalsPerEntityDay: 100})
	var withHook, without int
	for i := 0; i < 10; i++ {
		t1 := t0.Add(time.Duration(i) * time.Hour)
		for _, d := range []*Rarity{r, plain} {
			d.Detect(context.Background(), proc(t1, fmt.Sprint("ok", i), "h", `c:\a.exe`, `c:\b.exe`), func(signal.Signal) {})
		}
		if i == 0 {
			continue
		}
		ev := proc(t1.Add(time.Minute), fmt.Sprint("bad", i), "h", `c:\winword.exe`, `c:\powershell.exe`)
		r.Detect(context.Background(), ev, func(signal.Signal) { withHook++ })
		plain.Detect(context.Background(), ev, func(signal.Signal) { without++ })
	}
	if withHook != 9 || without != 1 {
		t.Fatalf("excluded pair fired %d times (want 9), learned pair %d (want 1)", withHook, without)
	}
	if r.Stats().NotLearned != 9 {
		t.Fatalf("stats %+v", r.Stats())
	}
}

// TestEntityValueCap: one entity cannot teach more than MaxValuesPerEntity
// values, and signals per entity-day are capped.
func TestEntityValueCap(t *testing.T) {
	r, _ := NewRarity(RarityOptions{Learning: time.Minute, MaxValuesPerEntity: 10, MaxSignalsPerEntityDay: 5, Rules: []string{RuleDestPort}})
	n := 0
	for p := int64(1); p <= 1000; p++ {
		r.Detect(context.Background(), conn(t0.Add(time.Duration(p)*time.Second), fmt.Sprint(p), "10.1.1.1", p, "tcp"), func(signal.Signal) { n++ })
	}
	st := r.Stats()
	if st.Learned != 10 || n != 5 || st.Capped != 990 || st.RateLimited == 0 {
		t.Fatalf("signals %d stats %+v", n, st)
	}
}

// TestRarityMemoryBound: the pair table never exceeds MaxPairs, and its
// cost per pair is measured.
func TestRarityMemoryBound(t *testing.T) {
	const pairs = 200000
	r, _ := NewRarity(RarityOptions{MaxPairs: pairs, MaxEntities: 1 << 16, Rules: []string{RuleDestPort}})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ev := conn(t0, "x", "10.0.0.1", 1, "tcp")
	for i := 0; i < 2*pairs; i++ {
		ev.Time = t0.Add(time.Duration(i) * time.Millisecond)
		ev.Fields["source.ip"] = fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		ev.Fields["destination.port"] = int64(i % 65536)
		r.Detect(context.Background(), ev, func(signal.Signal) {})
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if r.pairs.Len() != pairs || r.Stats().PairsEvicted != pairs {
		t.Fatalf("pairs %d evicted %d", r.pairs.Len(), r.Stats().PairsEvicted)
	}
	per := float64(after.HeapAlloc-before.HeapAlloc) / pairs
	t.Logf("%.0f heap bytes per pair (pair, entity and population tables together)", per)
	if per > 150 {
		t.Fatalf("%.0f bytes per pair", per)
	}
}

func TestAnomalyIgnoresBadInput(t *testing.T) {
	a, r, e := newEngine(t)
	for _, ev := range []*event.Event{
		mk(time.Time{}, "notime", "user.name", "alice"),
		mk(t0, "nofields"),
		mk(t0, "badip", "source.ip", "not-an-ip", "user.name", "-"),
		mk(t0, "badport", "event.dataset", "zeek.conn", "source.ip", "10.0.0.1", "destination.port", "http"),
		mk(t0, "hugeport", "event.dataset", "zeek.conn", "source.ip", "10.0.0.1", "destination.port", int64(70000)),
		mk(t0, "long", "user.name", strings.Repeat("x", 5000), "host.name", strings.Repeat("h", 5000)),
	} {
		e.Process(context.Background(), ev, func(s signal.Signal) { t.Errorf("signal for %s", ev.ID) })
	}
	// Only 10.0.0.1 is a valid entity (an address); no port was usable.
	if a.Model().Stats().NoTime != 1 || r.Stats().NoTime != 1 || a.Model().Stats().Entities != 1 || r.Stats().Checked != 0 {
		t.Fatalf("anomaly %+v rarity %+v", a.Model().Stats(), r.Stats())
	}
}

// synthetic returns a stream of n mixed events over users, hosts, addresses.
func synthetic(n int) []*event.Event {
	evs := make([]*event.Event, n)
	for i := range evs {
		t := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		u := i % 2000
		switch i % 4 {
		case 0, 1:
			outcome := "success"
			if i%7 == 0 {
				outcome = "failure"
			}
			evs[i] = login(t, fmt.Sprint(i), fmt.Sprint("user", u), fmt.Sprintf("10.0.%d.%d", u>>8, u&255), outcome)
		case 2:
			evs[i] = proc(t, fmt.Sprint(i), fmt.Sprint("host", u%200), `c:\windows\explorer.exe`, fmt.Sprintf(`c:\apps\app%d.exe`, i%50))
		default:
			evs[i] = conn(t, fmt.Sprint(i), fmt.Sprintf("10.0.%d.%d", u>>8, u&255), int64(i%40), "tcp")
		}
	}
	return evs
}

func benchDetect(b *testing.B, d detect.Detector) {
	evs := synthetic(200000)
	emit := func(signal.Signal) {}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ev := evs[i%len(evs)]
		if i >= len(evs) { // keep event time moving forward on later laps
			ev.Time = ev.Time.Add(time.Duration(i/len(evs)) * 2000 * time.Second)
		}
		d.Detect(context.Background(), ev, emit)
		i++
	}
}

func BenchmarkAnomalyDetect(b *testing.B) {
	a, _ := NewAnomaly(AnomalyOptions{})
	benchDetect(b, a)
}

func BenchmarkRarityDetect(b *testing.B) {
	r, _ := NewRarity(RarityOptions{})
	benchDetect(b, r)
}

// BenchmarkAnomalyEntities1M: heap bytes per entity with 1M users.
func BenchmarkAnomalyEntities1M(b *testing.B) {
	for b.Loop() {
		a, _ := NewAnomaly(AnomalyOptions{Entities: []string{"user"}})
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		ev := login(t0, "x", "", "", "failure")
		for i := 0; i < 1000000; i++ {
			ev.Fields["user.name"] = fmt.Sprintf("user%07d", i)
			a.Detect(context.Background(), ev, func(signal.Signal) {})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(a)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/1e6, "bytes/entity")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB/1M")
	}
}
