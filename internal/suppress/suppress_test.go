package suppress_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/suppress"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestNewValidation(t *testing.T) {
	ok := suppress.Spec{RuleID: "r1", Reason: "ok"}
	tests := []struct {
		name    string
		edit    func(*suppress.Spec)
		wantErr string
	}{
		{"rule only", func(*suppress.Spec) {}, ""},
		{"detector only", func(s *suppress.Spec) { s.RuleID, s.Detector = "", "ioc" }, ""},
		{"entities only", func(s *suppress.Spec) { s.RuleID, s.Entities = "", []suppress.Entity{{"user", "bob"}} }, ""},
		{"no scope", func(s *suppress.Spec) { s.RuleID = "" }, "never hides everything"},
		{"no reason", func(s *suppress.Spec) { s.Reason = "  " }, "reason"},
		{"long reason", func(s *suppress.Spec) { s.Reason = strings.Repeat("x", suppress.MaxReason+1) }, "reason"},
		{"too long", func(s *suppress.Spec) { s.TTL = suppress.MaxTTL + time.Second }, "duration"},
		{"negative", func(s *suppress.Spec) { s.TTL = -time.Hour }, "duration"},
		{"bad ip", func(s *suppress.Spec) { s.Entities = []suppress.Entity{{"source.ip", "10.0.0.300"}} }, "not an address"},
		{"empty value", func(s *suppress.Spec) { s.Entities = []suppress.Entity{{"user", ""}} }, "needs a value"},
		{"empty kind", func(s *suppress.Spec) { s.Entities = []suppress.Entity{{"", "x"}} }, "kind"},
		{"bad verdict", func(s *suppress.Spec) { s.OriginVerdict = "maybe" }, "verdict"},
		{"too many entities", func(s *suppress.Spec) {
			for range suppress.MaxEntities + 1 {
				s.Entities = append(s.Entities, suppress.Entity{Kind: "user", Value: "u"})
			}
		}, "at most"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sp := ok
			tc.edit(&sp)
			s, err := suppress.New(sp, t0)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if !s.Expires.Equal(t0.Add(suppress.DefaultTTL)) || len(s.ID) != 32 {
					t.Errorf("defaults: expires %v id %q", s.Expires, s.ID)
				}
				return
			}
			if !errors.Is(err, suppress.ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New: %v, want ErrInvalid containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	mk := func(sp suppress.Spec, at time.Time) suppress.Suppression {
		sp.Reason = "test"
		s, err := suppress.New(sp, at)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ruleAlice := mk(suppress.Spec{RuleID: "R", Entities: []suppress.Entity{{"user.name", "Alice"}}}, t0)
	detNet := mk(suppress.Spec{Detector: "ioc", Entities: []suppress.Entity{{"source.ip", "10.0.0.0/8"}}, TTL: time.Hour}, t0.Add(time.Second))
	onlyHost := mk(suppress.Spec{Entities: []suppress.Entity{{"host", "build-01"}}}, t0.Add(2*time.Second))
	ruleAny := mk(suppress.Spec{RuleID: "R", Detector: "sigma"}, t0.Add(3*time.Second))
	m := suppress.NewMatcher([]suppress.Suppression{ruleAny, onlyHost, detNet, ruleAlice})
	sig := func(det, rule string, es ...signal.Entity) *signal.Signal {
		return &signal.Signal{Detector: det, RuleID: rule, Entities: es}
	}
	alice, bob := signal.Entity{Kind: "user", Value: "ALICE"}, signal.Entity{Kind: "user", Value: "bob"}
	tests := []struct {
		name string
		sig  *signal.Signal
		now  time.Time
		want string
	}{
		{"rule and user", sig("sigma", "R", alice), t0.Add(time.Minute), ruleAlice.ID},
		{"rule and user, other detector", sig("threshold", "R", alice), t0.Add(time.Minute), ruleAlice.ID},
		{"rule, other user: the rule-wide one", sig("sigma", "R", bob), t0.Add(time.Minute), ruleAny.ID},
		{"rule, other user, other detector", sig("threshold", "R", bob), t0.Add(time.Minute), ""},
		{"other rule", sig("sigma", "Q", alice), t0.Add(time.Minute), ""},
		{"ioc in prefix", sig("ioc", "feed", signal.Entity{Kind: "ip", Value: "10.9.8.7"}), t0.Add(time.Minute), detNet.ID},
		{"ioc mapped v4", sig("ioc", "feed", signal.Entity{Kind: "ip", Value: "::ffff:10.9.8.7"}), t0.Add(time.Minute), detNet.ID},
		{"ioc outside prefix", sig("ioc", "feed", signal.Entity{Kind: "ip", Value: "11.0.0.1"}), t0.Add(time.Minute), ""},
		{"ioc after expiry", sig("ioc", "feed", signal.Entity{Kind: "ip", Value: "10.9.8.7"}), t0.Add(2 * time.Hour), ""},
		{"entity only, any rule", sig("anomaly", "x", signal.Entity{Kind: "host", Value: "Build-01"}), t0.Add(time.Minute), onlyHost.ID},
		{"rule and user after expiry", sig("sigma", "R", alice), t0.Add(suppress.DefaultTTL + time.Hour), ""},
		{"no entities", sig("sigma", "Q"), t0.Add(time.Minute), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := m.Match(tc.sig, tc.now)
			id := ""
			if got != nil {
				id = got.ID
			}
			if id != tc.want {
				t.Errorf("Match = %q, want %q", id, tc.want)
			}
		})
	}
	if (*suppress.Matcher)(nil).Match(sig("sigma", "R", alice), t0) != nil || m.Len() != 4 {
		t.Errorf("nil matcher matched, or Len %d != 4", m.Len())
	}
}

func TestFromAlert(t *testing.T) {
	a := alert.Alert{ID: "A1", Detector: "sigma", RuleID: "R", Entities: []signal.Entity{
		{Kind: "user", Value: "alice"}, {Kind: "process", Value: `C:\x.exe`}, {Kind: "ip", Value: "10.0.0.5"}},
		Verdict: &alert.Verdict{Kind: alert.FalsePositive}}
	sp := suppress.FromAlert(a)
	sp.Reason = "fp"
	s, err := suppress.New(sp, t0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Scope(), "detector=sigma rule=R user:alice ip:10.0.0.5"; got != want || s.OriginAlert != "A1" || s.OriginVerdict != alert.FalsePositive {
		t.Errorf("scope %q origin %s/%s, want %q A1/false_positive", got, s.OriginAlert, s.OriginVerdict, want)
	}
}

func TestHits(t *testing.T) {
	var h suppress.Hits
	h.Add("a", t0.Add(time.Second), []string{"e1", "e2"})
	h.Add("a", t0, []string{"e0"})
	h.Add("b", t0, nil)
	got := h.Take()
	if len(got) != 2 || got[0].Count != 2 || got[0].LastEventID != "e2" || !got[0].Last.Equal(t0.Add(time.Second)) || got[1].ID != "b" {
		t.Fatalf("Take = %+v", got)
	}
	h.Add("a", t0, []string{"e9"})
	h.Restore(got)
	again := h.Take()
	if again[0].Count != 3 || again[0].LastEventID != "e2" || len(h.Take()) != 0 {
		t.Fatalf("after Restore: %+v", again)
	}
}

func TestParseEntity(t *testing.T) {
	e, err := suppress.ParseEntity(" source.ip:2001:db8::/32 ")
	if err != nil || e.Kind != "source.ip" || e.Value != "2001:db8::/32" {
		t.Errorf("ParseEntity = %+v, %v", e, err)
	}
	if _, err := suppress.ParseEntity("alice"); !errors.Is(err, suppress.ErrInvalid) {
		t.Errorf("ParseEntity(alice) = %v", err)
	}
}

// BenchmarkMatch is the per-signal cost with 1000 suppressions over 500
// rules (two per rule, each with a user) plus 10 entity-only ones: a hit,
// and a miss for a rule no suppression names.
func BenchmarkMatch(b *testing.B) {
	var ss []suppress.Suppression
	for i := range 1000 {
		s, err := suppress.New(suppress.Spec{RuleID: fmt.Sprint("rule-", i/2), Entities: []suppress.Entity{{Kind: "user", Value: fmt.Sprint("u", i)}}, Reason: "bench"}, t0)
		if err != nil {
			b.Fatal(err)
		}
		ss = append(ss, s)
	}
	for i := range 10 {
		s, _ := suppress.New(suppress.Spec{Entities: []suppress.Entity{{Kind: "ip", Value: fmt.Sprintf("10.%d.0.0/16", i)}}, Reason: "bench"}, t0)
		ss = append(ss, s)
	}
	m := suppress.NewMatcher(ss)
	now := t0.Add(time.Hour)
	hit := &signal.Signal{Detector: "sigma", RuleID: "rule-7", Entities: []signal.Entity{{Kind: "user", Value: "u15"}, {Kind: "ip", Value: "192.0.2.1"}}}
	miss := &signal.Signal{Detector: "sigma", RuleID: "other", Entities: []signal.Entity{{Kind: "user", Value: "u15"}, {Kind: "ip", Value: "192.0.2.1"}}}
	for _, bc := range []struct {
		name string
		sig  *signal.Signal
		want bool
	}{{"hit", hit, true}, {"miss", miss, false}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if (m.Match(bc.sig, now) != nil) != bc.want {
					b.Fatal("wrong match")
				}
			}
		})
	}
}
