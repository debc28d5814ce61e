package flow

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/ml"
)

// Synthetic captures (no shared data needed): the addresses are
// documentation ranges and carry no meaning to the scorer.

// answered is a healthy TCP flow: handshake, data both ways, FIN.
func answered(src, dst string, port, k int) Flow {
	return Flow{Src: src, Dst: dst, DstPort: port, Proto: "tcp", State: "SF", History: "ShADadFf",
		Duration: 0.2 + float64(k%17)/10, OrigBytes: float64(300 + 37*(k%29)), RespBytes: float64(2000 + 113*(k%31)),
		OrigPkts: float64(6 + k%5), RespPkts: float64(7 + k%7)}
}

// probe is a SYN that got nothing back.
func probe(src, dst string, port int) Flow {
	return Flow{Src: src, Dst: dst, DstPort: port, Proto: "tcp", State: "S0", History: "S", OrigPkts: 1}
}

// rejected is a SYN answered by a RST.
func rejected(src, dst string, port int) Flow {
	return Flow{Src: src, Dst: dst, DstPort: port, Proto: "tcp", State: "REJ", History: "Sr", OrigPkts: 1, RespPkts: 1}
}

type capture struct {
	flows []Flow
	bad   []bool // true for the attack flows: used only to check the ranking
}

func (c *capture) add(f Flow, bad bool) { c.flows = append(c.flows, f); c.bad = append(c.bad, bad) }

// auc is the rank AUC of bad over good, ties counted half.
func auc(t *testing.T, c capture, s []Scored) float64 {
	t.Helper()
	var pos, neg []float64
	for i, sc := range s {
		if sc.Score < 0 || sc.Score > 1 || math.IsNaN(sc.Score) {
			t.Fatalf("flow %d score %v outside [0,1]", i, sc.Score)
		}
		if c.bad[i] {
			pos = append(pos, sc.Score)
		} else {
			neg = append(neg, sc.Score)
		}
	}
	win := 0.0
	for _, p := range pos {
		for _, n := range neg {
			switch {
			case p > n:
				win++
			case p == n:
				win += 0.5
			}
		}
	}
	return win / float64(len(pos)*len(neg))
}

func TestRanking(t *testing.T) {
	cases := []struct {
		name  string
		build func() capture
		min   float64 // AUC of attack over benign flows
	}{
		{"scan is the minority", func() capture {
			var c capture
			for k := 0; k < 400; k++ {
				c.add(answered(fmt.Sprintf("192.0.2.%d", 1+k%6), fmt.Sprintf("198.51.100.%d", 1+k%40), []int{443, 80, 53, 993}[k%4], k), false)
			}
			for p := 1; p <= 40; p++ {
				c.add(probe("203.0.113.66", "192.0.2.1", p), true)
			}
			return c
		}, 0.99},
		{"distributed scan is the majority", func() capture {
			var c capture
			for k := 0; k < 300; k++ {
				c.add(answered("192.0.2.10", fmt.Sprintf("198.51.100.%d", 1+k%120), []int{443, 80}[k%2], k), false)
			}
			for k := 0; k < 1500; k++ {
				src := fmt.Sprintf("203.0.%d.%d", k/250, 1+k%250)
				if k%3 == 0 {
					c.add(rejected(src, "192.0.2.10", 1000+k%700), true)
				} else {
					c.add(probe(src, "192.0.2.10", 1000+k%700), true)
				}
			}
			return c
		}, 0.99},
		{"busy healthy client beside a vertical scan", func() capture {
			var c capture
			// One client talks to 500 servers (the largest fan-out in the
			// capture) and gets answers; a few of its own attempts fail.
			for k := 0; k < 1000; k++ {
				c.add(answered("192.0.2.20", fmt.Sprintf("198.51.%d.%d", k/250, 1+k%250), 443, k), false)
			}
			for k := 0; k < 15; k++ {
				c.add(probe("192.0.2.20", fmt.Sprintf("198.51.9.%d", k+1), 443), false)
			}
			for p := 1; p <= 300; p++ {
				c.add(probe("203.0.113.7", "192.0.2.20", p), true)
			}
			return c
		}, 0.95},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.build()
			s, err := ScoreFlows(DefaultConfig(), c.flows)
			if err != nil {
				t.Fatal(err)
			}
			if len(s) != len(c.flows) {
				t.Fatalf("%d scores for %d flows", len(s), len(c.flows))
			}
			if got := auc(t, c, s); got < tc.min {
				t.Errorf("AUC %.4f < %.2f", got, tc.min)
			}
		})
	}
}

func TestExplanation(t *testing.T) {
	var flows []Flow
	for k := 0; k < 200; k++ {
		flows = append(flows, answered("192.0.2.5", fmt.Sprintf("198.51.100.%d", 1+k%50), 443, k))
	}
	for p := 1; p <= 60; p++ {
		flows = append(flows, probe("203.0.113.9", "192.0.2.5", p))
	}
	s, err := ScoreFlows(DefaultConfig(), flows)
	if err != nil {
		t.Fatal(err)
	}
	e := s[len(flows)-1].Explanation
	if e.Model != "flow-scan" || len(e.Top) == 0 || len(e.Top) > 3 {
		t.Fatalf("explanation %+v", e)
	}
	for _, c := range e.Top {
		if c.Weight <= 0 {
			t.Errorf("contribution %s has weight %v; only evidence above the median explains", c.Feature, c.Weight)
		}
	}
	if !strings.HasPrefix(e.Sentence, "203.0.113.9 → 192.0.2.5:60/tcp scored ") {
		t.Errorf("sentence %q", e.Sentence)
	}
	t.Log(e.Sentence)
	// Every phrase a feature can produce names its value.
	f, sa, ea := &flows[len(flows)-1], &srcAgg{flows: 60, failed: 60}, &epAgg{flows: 1, unanswered: 1}
	for _, name := range append(slices.Clone(Features), isolationMember) {
		p := phrase(f, sa, ea, mlContribution(name))
		if p == "" || strings.Contains(p, "%!") {
			t.Errorf("%s: phrase %q", name, p)
		}
	}
	if got := phrase(f, sa, ea, mlContribution("failed_state")); got != "half-open (S0: attempt, no reply), history S" {
		t.Errorf("failed_state phrase %q", got)
	}
}

func TestDeterministicAndDrop(t *testing.T) {
	var flows []Flow
	for k := 0; k < 300; k++ {
		flows = append(flows, answered(fmt.Sprintf("192.0.2.%d", k%9), fmt.Sprintf("198.51.100.%d", k%70), 443, k))
		if k%4 == 0 {
			flows = append(flows, probe(fmt.Sprintf("203.0.113.%d", k%13), "192.0.2.1", k))
		}
	}
	a, err := ScoreFlows(DefaultConfig(), flows)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ScoreFlows(DefaultConfig(), flows)
	if err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if a[i].Score != b[i].Score || a[i].Explanation.Sentence != b[i].Explanation.Sentence {
			t.Fatalf("flow %d differs between two runs with one seed", i)
		}
	}
	cfg := DefaultConfig()
	cfg.Drop = append(slices.Clone(Features), isolationMember)
	if _, err := ScoreFlows(cfg, flows); err == nil {
		t.Error("dropping every member gave no error")
	}
	cfg.Drop = slices.Clone(Features) // the isolation member alone
	iso, err := ScoreFlows(cfg, flows)
	if err != nil {
		t.Fatal(err)
	}
	if iso[0].Score == a[0].Score && iso[1].Score == a[1].Score {
		t.Error("Drop had no effect")
	}
	cfg.Drop = []string{"no_such_member"}
	if _, err := ScoreFlows(cfg, flows); err == nil || !strings.Contains(err.Error(), "no_such_member") {
		t.Errorf("unknown member in Drop: %v", err)
	}
	cfg.Drop = []string{"failed_state", "no_reply"}
	d, err := ScoreFlows(cfg, flows)
	if err != nil {
		t.Fatal(err)
	}
	for i, sc := range d {
		for _, c := range sc.Explanation.Top {
			if c.Feature == "failed_state" || c.Feature == "no_reply" {
				t.Fatalf("flow %d: dropped member %s explains the score", i, c.Feature)
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	good := probe("203.0.113.1", "192.0.2.1", 22)
	cases := []struct {
		name string
		edit func(*Flow)
	}{
		{"empty source", func(f *Flow) { f.Src = "" }},
		{"empty destination", func(f *Flow) { f.Dst = "" }},
		{"port above 65535", func(f *Flow) { f.DstPort = 70000 }},
		{"negative port", func(f *Flow) { f.DstPort = -1 }},
		{"negative bytes", func(f *Flow) { f.OrigBytes = -5 }},
		{"NaN duration", func(f *Flow) { f.Duration = math.NaN() }},
		{"infinite packets", func(f *Flow) { f.RespPkts = math.Inf(1) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := good
			tc.edit(&bad)
			_, err := ScoreFlows(DefaultConfig(), []Flow{good, bad})
			if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "flow 1") {
				t.Errorf("error %v, want ErrInput naming flow 1", err)
			}
		})
	}
	cfg := DefaultConfig()
	cfg.MaxFlows = 1
	if _, err := ScoreFlows(cfg, []Flow{good, good}); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("over the limit: %v", err)
	}
	if s, err := ScoreFlows(DefaultConfig(), nil); err != nil || s != nil {
		t.Errorf("no flows: %v %v", s, err)
	}
	one, err := ScoreFlows(DefaultConfig(), []Flow{good})
	if err != nil || len(one) != 1 || one[0].Score != 0.5 {
		t.Errorf("one flow: %+v %v (want score 0.5: nothing to compare with)", one, err)
	}
}

func TestPercentiles(t *testing.T) {
	for _, tc := range []struct {
		in, want []float64
	}{
		{[]float64{3, 1, 2}, []float64{1, 0, 0.5}},
		{[]float64{1, 1, 1}, []float64{0.5, 0.5, 0.5}},
		{[]float64{0, 1, 1, 0, 1}, []float64{0.125, 0.75, 0.75, 0.125, 0.75}},
	} {
		got := percentiles(tc.in)
		if !slices.Equal(got, tc.want) {
			t.Errorf("percentiles(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestNum(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 1204: "1,204", 1234567: "1,234,567", -1500: "-1,500", 0.5: "0.5", 1e-5: "1e-05"} {
		if got := num(in); got != want {
			t.Errorf("num(%v) = %q, want %q", in, got, want)
		}
	}
}

func mlContribution(name string) ml.Contribution {
	return ml.Contribution{Feature: name, Value: 3, Baseline: 1, Weight: 0.3}
}

// When half-open flows are the capture's norm, a half-open flow's
// explanation still says so (the state is a fact, not a comparison), and
// a median value is never offered as evidence.
func TestExplanationWhenFailuresAreTheNorm(t *testing.T) {
	var flows []Flow
	for k := 0; k < 40; k++ {
		flows = append(flows, answered("192.0.2.1", fmt.Sprintf("198.51.100.%d", 1+k%9), 443, k))
	}
	for k := 0; k < 200; k++ {
		flows = append(flows, probe(fmt.Sprintf("203.0.113.%d", k), "192.0.2.1", 1+k%50))
	}
	s, err := ScoreFlows(DefaultConfig(), flows)
	if err != nil {
		t.Fatal(err)
	}
	e := s[len(flows)-1].Explanation
	if !strings.Contains(e.Sentence, "half-open (S0") {
		t.Errorf("sentence %q lacks the state", e.Sentence)
	}
	for i, sc := range s {
		for j, c := range sc.Explanation.Top {
			if c.Feature != "failed_state" && c.Value == c.Baseline {
				t.Fatalf("flow %d contribution %d %s: value %v is the median", i, j, c.Feature, c.Value)
			}
		}
	}
}
