package ml

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Contribution is one feature's (or token's) share of a score.
type Contribution struct {
	Feature  string  // feature or token name
	Value    float64 // the scored input's value (1 for a present token)
	Baseline float64 // the training baseline (median, mean or typical value)
	Weight   float64 // signed contribution to the score; larger |Weight| matters more
}

// Explanation is attached to every ML score.
type Explanation struct {
	Model    string         // model id or kind
	Score    float64        // the score explained
	Top      []Contribution // sorted by |Weight| descending
	Sentence string         // one sentence a person reads
}

// Fields returns the explanation as structured fields for signal.Details.
func (e Explanation) Fields() map[string]any {
	top := make([]map[string]any, 0, len(e.Top))
	for _, c := range e.Top {
		top = append(top, map[string]any{
			"feature": c.Feature, "value": c.Value, "baseline": c.Baseline, "weight": c.Weight,
		})
	}
	return map[string]any{"model": e.Model, "score": e.Score, "top": top, "sentence": e.Sentence}
}

// TopK sorts cs by |Weight| descending (ties by name, so output is stable)
// and keeps at most k.
func TopK(cs []Contribution, k int) []Contribution {
	out := append([]Contribution(nil), cs...)
	sort.SliceStable(out, func(i, j int) bool {
		ai, aj := math.Abs(out[i].Weight), math.Abs(out[j].Weight)
		if ai != aj {
			return ai > aj
		}
		return out[i].Feature < out[j].Feature
	})
	if k >= 0 && len(out) > k {
		out = out[:k]
	}
	return out
}

// Sentence renders "what: feat=v (baseline b), …" for the top contributions.
func Sentence(what string, score float64, top []Contribution) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s scored %.3f", what, score)
	for i, c := range top {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s=%s (baseline %s)", c.Feature, fmtNum(c.Value), fmtNum(c.Baseline))
	}
	return b.String()
}

func fmtNum(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.3g", v)
}
