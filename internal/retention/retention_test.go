package retention

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

const day = 24 * time.Hour

// fakeClock is a manual clock: After fires when Advance passes its deadline.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, waiter{c.now.Add(d), ch})
	return ch
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(t) {
			w.ch <- t
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

func (c *fakeClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

func (c *fakeClock) pending() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.waiters) }

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func TestPolicyValidate(t *testing.T) {
	ok := DefaultPolicy()
	tests := []struct {
		name    string
		mod     func(p *Policy)
		wantErr []string
	}{
		{name: "default", mod: func(*Policy) {}},
		{name: "audit forever", mod: func(p *Policy) { p.Audit = 0; p.Models = 0 }},
		{name: "audit below required", mod: func(p *Policy) { p.Audit = 30 * day; p.Alerts, p.Verdicts, p.Models = day, day, day },
			wantErr: []string{"shorter than the required 8760h"}},
		{name: "custom minimum", mod: func(p *Policy) { p.MinAudit = 2 * 365 * day; p.Audit = 400 * day; p.Verdicts, p.Models = day, day },
			wantErr: []string{"shorter than the required 17520h"}},
		{name: "audit shorter than verdicts", mod: func(p *Policy) { p.Audit = 400 * day; p.Verdicts = 500 * day; p.Models = day },
			wantErr: []string{"verdicts retention 12000h"}},
		{name: "models forever needs audit forever", mod: func(p *Policy) { p.Models = 0 },
			wantErr: []string{"models are kept forever"}},
		{name: "events may outlive nothing", mod: func(p *Policy) { p.Events = 5000 * day }},
		{name: "negatives all reported", mod: func(p *Policy) { p.RawEvents, p.Events = -1, -1 },
			wantErr: []string{"retention.raw_events: must not be negative", "retention.events: must not be negative"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := ok
			tc.mod(&p)
			err := p.Validate()
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v, want it to contain %q", err, w)
				}
			}
		})
	}
}

// store is a fake data set per class: item timestamps; purge deletes those
// before the cut-off, like the real stores.
type store struct {
	mu    sync.Mutex
	items map[Class][]time.Time
	fail  map[Class]error
	cuts  map[Class][]time.Time
}

func newStore() *store {
	return &store{items: map[Class][]time.Time{}, fail: map[Class]error{}, cuts: map[Class][]time.Time{}}
}

func (s *store) purge(c Class) PurgeFunc {
	return func(_ context.Context, before time.Time) (int64, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.cuts[c] = append(s.cuts[c], before)
		if err := s.fail[c]; err != nil {
			return 0, err
		}
		var kept []time.Time
		var n int64
		for _, t := range s.items[c] {
			if t.Before(before) {
				n++
			} else {
				kept = append(kept, t)
			}
		}
		s.items[c] = kept
		return n, nil
	}
}

func (s *store) purges() map[Class]PurgeFunc {
	m := map[Class]PurgeFunc{}
	for _, c := range Classes() {
		m[c] = s.purge(c)
	}
	return m
}

func TestJobRunOnce(t *testing.T) {
	clk := &fakeClock{now: t0}
	st := newStore()
	p := Policy{RawEvents: 7 * day, Events: 30 * day, Alerts: 90 * day, Verdicts: 365 * day, Models: 0, Audit: 0}
	// Items 1, 10, 100, 400 and 3000 days old in every class.
	for _, c := range Classes() {
		for _, age := range []int{1, 10, 100, 400, 3000} {
			st.items[c] = append(st.items[c], t0.Add(-time.Duration(age)*day))
		}
	}
	st.fail[Alerts] = errors.New("database locked")
	j, err := NewJob(p, st.purges(), JobOptions{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	rep := j.RunOnce(context.Background())
	want := map[Class]int64{RawEvents: 4, Events: 3, Verdicts: 2}
	got := map[Class]int64{}
	for _, r := range rep.Results {
		got[r.Class] = r.Deleted
		if wantBefore := t0.Add(-p.For(r.Class)); !r.Before.Equal(wantBefore) {
			t.Errorf("%s cut at %v, want %v", r.Class, r.Before, wantBefore)
		}
	}
	for _, c := range []Class{RawEvents, Events, Verdicts} {
		if got[c] != want[c] {
			t.Errorf("%s deleted %d, want %d", c, got[c], want[c])
		}
	}
	if len(rep.Results) != 4 {
		t.Errorf("%d results, want 4 (models and audit are kept forever)", len(rep.Results))
	}
	if len(st.cuts[Models])+len(st.cuts[Audit]) != 0 {
		t.Error("purge called for a class kept forever")
	}
	if err := rep.Err(); err == nil || !strings.Contains(err.Error(), "purging alerts: database locked") {
		t.Errorf("Err() = %v, want the alerts failure", err)
	}
	if rep.Deleted() != 9 {
		t.Errorf("Deleted() = %d, want 9", rep.Deleted())
	}
}

func TestNewJobMissingPurge(t *testing.T) {
	st := newStore()
	purges := st.purges()
	delete(purges, Models)
	purges["secrets"] = st.purge("secrets")
	_, err := NewJob(DefaultPolicy(), purges, JobOptions{})
	if err == nil || !strings.Contains(err.Error(), "retention.models") || !strings.Contains(err.Error(), `unknown class "secrets"`) {
		t.Fatalf("NewJob = %v, want missing models purge and unknown class", err)
	}
	bad := DefaultPolicy()
	bad.Audit = day
	if _, err := NewJob(bad, st.purges(), JobOptions{}); err == nil {
		t.Fatal("invalid policy accepted")
	}
}

// TestJobRunAndAuditGuard drives Run with the fake clock: a run at start,
// one per interval, the audit log never cut later than its retention, and
// the audit purge skipped after a forward clock jump.
func TestJobRunAndAuditGuard(t *testing.T) {
	clk := &fakeClock{now: t0}
	st := newStore()
	reports := make(chan Report, 10)
	p := DefaultPolicy()
	j, err := NewJob(p, st.purges(), JobOptions{Clock: clk, Interval: time.Hour,
		OnReport: func(_ context.Context, r Report) { reports <- r }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- j.Run(ctx) }()
	next := func() Report {
		t.Helper()
		select {
		case r := <-reports:
			return r
		case <-time.After(5 * time.Second):
			t.Fatal("no report")
			return Report{}
		}
	}
	waitTimer := func() {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); clk.pending() == 0; {
			if time.Now().After(deadline) {
				t.Fatal("job did not wait on the clock")
			}
			time.Sleep(time.Millisecond)
		}
	}
	auditCut := func(r Report) (Result, bool) {
		for _, x := range r.Results {
			if x.Class == Audit {
				return x, true
			}
		}
		return Result{}, false
	}
	r := next()
	if a, _ := auditCut(r); a.Skipped != "" || !a.Before.Equal(t0.Add(-p.Audit)) {
		t.Errorf("first run audit %+v", a)
	}
	waitTimer()
	clk.Advance(time.Hour)
	r = next()
	if !r.Start.Equal(t0.Add(time.Hour)) {
		t.Errorf("second run at %v, want %v", r.Start, t0.Add(time.Hour))
	}
	waitTimer()
	clk.Advance(400 * day) // the clock jumps: the timer fires, audit must be spared
	r = next()
	if a, _ := auditCut(r); a.Skipped == "" || a.Deleted != 0 {
		t.Errorf("after a clock jump audit result %+v, want skipped", a)
	}
	if first := r.Results[0]; first.Class != RawEvents || first.Skipped != "" {
		t.Errorf("other classes must still be purged after a clock jump: %+v", first)
	}
	waitTimer()
	clk.Advance(time.Hour)
	r = next()
	if a, _ := auditCut(r); a.Skipped != "" {
		t.Errorf("audit still skipped one interval after the jump: %+v", a)
	}
	for _, cut := range st.cuts[Audit] {
		if cut.After(clk.Now().Add(-p.Audit)) {
			t.Errorf("audit cut at %v, later than now-retention %v", cut, clk.Now().Add(-p.Audit))
		}
	}
	cancel()
	waitTimer()
	clk.Advance(time.Hour)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}
