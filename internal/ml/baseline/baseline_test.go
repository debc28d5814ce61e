package baseline

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/ml/sketch"
	"github.com/rampart-ids/rampart/internal/snapshot"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// steady feeds n failures for key at the start of every 10-minute window in [from, to).
func steady(m *Model, key string, n int, from, to time.Time, out []Finding) []Finding {
	for t := from; t.Before(to); t = t.Add(10 * time.Minute) {
		for i := 0; i < n; i++ {
			out = m.Observe(Obs{Key: key, Time: t.Add(time.Duration(i) * time.Second), Failure: true,
				Distinct: sketch.Hash("10.0.0.1"), HasDistinct: true}, out)
		}
	}
	return out
}

func TestBurstFiresOncePerWindow(t *testing.T) {
	m, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	var got []Finding
	got = steady(m, "alice", 2, t0, t0.Add(48*time.Hour), got)
	got = steady(m, "bob", 1, t0, t0.Add(48*time.Hour), got)
	if len(got) != 0 {
		t.Fatalf("steady activity fired: %+v", got[0])
	}
	if thr := m.Threshold(0, FeatFailures); thr != 3 {
		t.Fatalf("threshold %v; a histogram of z=0 windows must give the floor 3", thr)
	}
	burst := t0.Add(48 * time.Hour)
	for i := 0; i < 41; i++ {
		got = m.Observe(Obs{Key: "alice", Time: burst.Add(time.Duration(i) * 10 * time.Second), Failure: true,
			Distinct: sketch.Hash(fmt.Sprint("203.0.113.", i%3)), HasDistinct: true}, got)
	}
	// events and failures both cross 2 + 3·sqrt(3) = 7.2 at the 8th event;
	// distinct (3 addresses against a median of 1) stays under 1+3·sqrt(2).
	if len(got) != 2 {
		t.Fatalf("want 2 findings (events, failures), got %d: %+v", len(got), got)
	}
	f := got[1]
	if f.Feature != FeatFailures || f.Value != 8 || f.Median != 2 || f.MAD != 0 || f.Threshold != 3 {
		t.Fatalf("finding %+v", f)
	}
	if math.Abs(f.Z-6/math.Sqrt(3)) > 1e-9 || f.Ratio() != 4 || !f.WindowStart.Equal(burst) {
		t.Fatalf("z %v ratio %v start %v", f.Z, f.Ratio(), f.WindowStart)
	}
	if f.Score < 0.5 || f.Score > 1 {
		t.Fatalf("score %v", f.Score)
	}
	// The next window starts clean and may fire again.
	got = got[:0]
	got = steady(m, "alice", 9, burst.Add(10*time.Minute), burst.Add(20*time.Minute), got)
	if len(got) != 2 {
		t.Fatalf("next window: %d findings", len(got))
	}
}

func TestLearningPeriodAndMinHistory(t *testing.T) {
	m, _ := New(Config{Learning: 6 * time.Hour, MinHistory: 12})
	var got []Finding
	got = steady(m, "u", 1, t0, t0.Add(5*time.Hour), got)
	got = steady(m, "u", 50, t0.Add(5*time.Hour), t0.Add(5*time.Hour+10*time.Minute), got)
	if len(got) != 0 {
		t.Fatal("fired during learning")
	}
	// A new entity after learning is not scored before MinHistory windows.
	got = steady(m, "new", 50, t0.Add(7*time.Hour), t0.Add(7*time.Hour+10*time.Minute), got)
	if len(got) != 0 {
		t.Fatal("entity without history fired")
	}
}

func TestSeasonality(t *testing.T) {
	m, _ := New(Config{Learning: 72 * time.Hour})
	var got []Finding
	for d := 0; d < 5; d++ {
		day := t0.Add(time.Duration(d) * 24 * time.Hour)
		got = got[:0]
		// Busy from 09:00 to 10:00, one event an hour otherwise.
		for h := 0; h < 24; h++ {
			n := 1
			if h == 9 {
				n = 30
			}
			got = steady(m, "office", n, day.Add(time.Duration(h)*time.Hour), day.Add(time.Duration(h)*time.Hour+time.Hour), got)
		}
		for i := 0; i < 20; i++ {
			got = steady(m, fmt.Sprint("quiet", i), 1, day, day.Add(24*time.Hour), got)
		}
		if d >= 3 && len(got) != 0 {
			t.Fatalf("day %d: the daily 09:00 peak fired: %+v", d, got[0])
		}
	}
	night := t0.Add(5*24*time.Hour + 3*time.Hour)
	got = steady(m, "office", 30, night, night.Add(10*time.Minute), got[:0])
	if len(got) == 0 {
		t.Fatal("the same volume at 03:00 did not fire")
	}
	if !math.IsNaN(got[0].Seasonal) && got[0].Seasonal > 2 {
		t.Fatalf("03:00 seasonal %v", got[0].Seasonal)
	}
}

// TestBudget: on synthetic Poisson traffic, the alert rate after learning
// stays near the configured budget per entity-day.
func TestBudget(t *testing.T) {
	for _, budget := range []float64{0.05, 0.2} {
		m, _ := New(Config{Learning: 48 * time.Hour, Budget: budget})
		rng := rand.New(rand.NewPCG(7, 11))
		const ents, days = 200, 5
		rates := make([]float64, ents)
		keys := make([]string, ents)
		hashes := [4]uint64{sketch.Hash("a"), sketch.Hash("b"), sketch.Hash("c"), sketch.Hash("d")}
		for i := range rates {
			rates[i] = 0.5 + 6*rng.Float64()
			keys[i] = fmt.Sprint("e", i)
		}
		var alerts int
		var got []Finding
		for w := 0; w < days*144; w++ {
			start := t0.Add(time.Duration(w) * 10 * time.Minute)
			for e := 0; e < ents; e++ {
				n := poisson(rng, rates[e])
				for i := 0; i < n; i++ {
					got = m.Observe(Obs{Key: keys[e], Time: start.Add(time.Duration(i) * time.Second),
						Failure: rng.Float64() < 0.2, Distinct: hashes[rng.IntN(4)], HasDistinct: true}, got[:0])
					if w >= 2*144 {
						alerts += len(got)
					}
				}
			}
		}
		perDay := float64(alerts) / float64(ents*(days-2))
		t.Logf("budget %.2f: %d alerts, %.3f per entity-day; thresholds %.2f %.2f %.2f", budget, alerts, perDay,
			m.Threshold(0, 0), m.Threshold(0, 1), m.Threshold(0, 2))
		if perDay > 2*budget || perDay < budget/4 {
			t.Errorf("budget %.2f: measured %.3f alerts per entity-day", budget, perDay)
		}
	}
}

func poisson(rng *rand.Rand, lambda float64) int {
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func TestNoLearnKeepsBaseline(t *testing.T) {
	m, _ := New(Config{Learning: time.Hour})
	var got []Finding
	got = steady(m, "u", 1, t0, t0.Add(12*time.Hour), got)
	// A day of bursts marked as tied to alerts: scored, never learned.
	for w := 0; w < 144; w++ {
		start := t0.Add(12*time.Hour + time.Duration(w)*10*time.Minute)
		for i := 0; i < 40; i++ {
			got = m.Observe(Obs{Key: "u", Time: start.Add(time.Duration(i) * time.Second), NoLearn: true}, got)
		}
	}
	if n := len(got); n < 140 {
		t.Fatalf("excluded bursts fired %d times in 144 windows", n)
	}
	got = steady(m, "u", 40, t0.Add(36*time.Hour), t0.Add(36*time.Hour+10*time.Minute), got[:0])
	if len(got) == 0 || got[0].Median != 0 {
		t.Fatalf("baseline absorbed excluded events: %+v", got)
	}
	if m.Stats().NotLearned != 144*40 {
		t.Fatalf("not learned %d", m.Stats().NotLearned)
	}
}

func TestLateEventsCounted(t *testing.T) {
	m, _ := New(Config{})
	m.Observe(Obs{Key: "u", Time: t0.Add(time.Hour)}, nil)
	m.Observe(Obs{Key: "u", Time: t0}, nil)
	m.Observe(Obs{Key: "u"}, nil)
	if s := m.Stats(); s.Late != 1 || s.NoTime != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestMaxEntitiesBound(t *testing.T) {
	m, _ := New(Config{MaxEntities: 1000})
	for i := 0; i < 100000; i++ {
		m.Observe(Obs{Key: fmt.Sprint("user", i), Time: t0.Add(time.Duration(i) * time.Millisecond)}, nil)
	}
	if s := m.Stats(); s.Entities != 1000 || s.Evicted != 99000 || int(m.n) != 1000 {
		t.Fatalf("stats %+v n %d", s, m.n)
	}
}

// TestBytesPerEntity measures heap bytes per entity; the goal is 1M
// entities within 500 MB (BenchmarkEntities1M measures at full scale).
func TestBytesPerEntity(t *testing.T) {
	const n = 200000
	m, _ := New(Config{MaxEntities: n})
	per := heapPerEntity(m, n)
	t.Logf("%.0f bytes per entity at %d entities", per, n)
	if per > 500 {
		t.Fatalf("%.0f bytes per entity, budget 500", per)
	}
}

func heapPerEntity(m *Model, n int) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		m.Observe(Obs{Key: fmt.Sprintf("user%07d@corp.example", i), Time: t0, Failure: i%2 == 0,
			Distinct: uint64(i), HasDistinct: true}, nil)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(m)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

func BenchmarkEntities1M(b *testing.B) {
	for i := 0; i < b.N; i++ {
		m, _ := New(Config{MaxEntities: 1 << 20})
		per := heapPerEntity(m, 1000000)
		b.ReportMetric(per, "bytes/entity")
		b.ReportMetric(per*1e6/(1<<20), "MiB/1M")
	}
}

func BenchmarkObserve(b *testing.B) {
	m, _ := New(Config{Learning: time.Hour})
	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = fmt.Sprint("user", i)
	}
	var out []Finding
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		out = m.Observe(Obs{Key: keys[i%len(keys)], Time: t0.Add(time.Duration(i) * 50 * time.Millisecond),
			Failure: i%7 == 0, Distinct: uint64(i % 13), HasDistinct: true}, out[:0])
	}
}

// run replays a fixed synthetic stream into m from event index from, returning findings.
func run(m *Model, from, to int) []Finding {
	rng := rand.New(rand.NewPCG(1, 2))
	var out []Finding
	for i := 0; i < to; i++ {
		u := rng.IntN(50)
		n := rng.IntN(100)
		if i < from {
			continue
		}
		t := t0.Add(time.Duration(i) * 20 * time.Second)
		if i%5000 > 4900 {
			u, n = 7, 0 // a burst of failures by one user
		}
		out = m.Observe(Obs{Key: fmt.Sprint("u", u), Time: t, Failure: n < 10, Distinct: uint64(n), HasDistinct: true}, out)
	}
	return out
}

func TestSnapshotRestoreContinues(t *testing.T) {
	const total, cut = 40000, 23000
	cfg := Config{Learning: 12 * time.Hour, Budget: 0.2}
	whole, _ := New(cfg)
	want := run(whole, 0, total)
	if len(want) == 0 {
		t.Fatal("reference run has no findings; the test would prove nothing")
	}
	first, _ := New(cfg)
	head := run(first, 0, cut)
	var buf bytes.Buffer
	if err := first.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	second, _ := New(cfg)
	if err := second.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	got := append(head, run(second, cut, total)...)
	if len(got) != len(want) {
		t.Fatalf("%d findings after restore, %d uninterrupted", len(got), len(want))
	}
	for i := range got {
		if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
			t.Fatalf("finding %d differs:\n%+v\n%+v", i, got[i], want[i])
		}
	}
	t.Logf("%d findings, snapshot %d bytes", len(want), buf.Len())

	// Tampering anywhere is refused and leaves the model unchanged.
	for _, off := range []int{0, 10, buf.Len() / 2, buf.Len() - 1} {
		bad := bytes.Clone(buf.Bytes())
		bad[off] ^= 0x40
		m, _ := New(cfg)
		if err := m.Restore(bytes.NewReader(bad)); !errors.Is(err, snapshot.ErrInvalid) {
			t.Fatalf("flipped byte %d: err %v", off, err)
		}
		if m.Stats().Entities != 0 {
			t.Fatal("refused snapshot changed the model")
		}
	}
	if err := second.Restore(bytes.NewReader(buf.Bytes()[:buf.Len()-5])); !errors.Is(err, snapshot.ErrInvalid) {
		t.Fatalf("truncated: %v", err)
	}
	other, _ := New(Config{Window: 5 * time.Minute})
	if err := other.Restore(bytes.NewReader(buf.Bytes())); !errors.Is(err, snapshot.ErrInvalid) {
		t.Fatalf("window mismatch: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{{Window: time.Millisecond}, {MinHistory: History + 1}, {Kinds: 300}, {Learning: -1}} {
		if _, err := New(c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// TestMedMAD checks the integer median/MAD against a direct computation.
func TestMedMAD(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	naive := func(v []float64) (float64, float64) {
		s := append([]float64(nil), v...)
		sort.Float64s(s)
		med := (s[(len(s)-1)/2] + s[len(s)/2]) / 2
		d := make([]float64, len(s))
		for i := range s {
			d[i] = math.Abs(s[i] - med)
		}
		sort.Float64s(d)
		return med, (d[(len(d)-1)/2] + d[len(d)/2]) / 2
	}
	for trial := 0; trial < 2000; trial++ {
		var e entity
		n := 1 + rng.IntN(History)
		vals := make([]float64, n)
		for i := range vals {
			x := rng.IntN(1 + rng.IntN(70000))
			if rng.IntN(3) == 0 {
				x = rng.IntN(3)
			}
			if trial%2 == 1 && rng.IntN(4) != 0 {
				x = 0 // mostly empty windows, as sparse entities have
			}
			x = min(x, math.MaxUint16)
			vals[i] = float64(x)
			e.Ring[0][i] = uint16(x)
		}
		e.NWin = uint8(n)
		m, d := medMAD(&e, 0)
		wm, wd := naive(vals)
		if float64(m) != float64(float32(wm)) || float64(d) != float64(float32(wd)) {
			t.Fatalf("%v: got %v/%v, want %v/%v", vals, m, d, wm, wd)
		}
	}
}

// TestMaxShare: one entity active in every window cannot supply more than
// a day of windows plus MaxShare of a kind's histogram.
func TestMaxShare(t *testing.T) {
	m, _ := New(Config{Learning: time.Hour, MaxShare: 0.05})
	var got []Finding
	got = steady(m, "chatty", 3, t0, t0.Add(72*time.Hour), got)
	for i := 0; i < 20; i++ {
		got = steady(m, fmt.Sprint("q", i), 1, t0, t0.Add(6*time.Hour), got)
	}
	e := m.at(m.idx["\x00chatty"])
	c := m.cal[0]
	limit := max(144+1, uint64(0.05*float64(c.Windows))+1)
	if m.Stats().ShareCapped == 0 || uint64(e.Contrib) > limit {
		t.Fatalf("chatty supplied %d of %d windows (limit %d), capped %d", e.Contrib, c.Windows, limit, m.Stats().ShareCapped)
	}
}
