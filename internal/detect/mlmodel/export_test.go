package mlmodel

import (
	"fmt"
	"math"

	"github.com/rampart-ids/rampart/internal/ml/model"
)

// CheckFastScore compares the fast scorer with the classifier's Score on
// payloads; it returns how many were checked.
func CheckFastScore(a *model.Artifact, payloads []string) (int, error) {
	p, err := NewPayload(PayloadOptions{Artifact: a})
	if err != nil {
		return 0, err
	}
	for _, s := range payloads {
		if err := p.CheckFast(s); err != nil {
			return 0, err
		}
	}
	return len(payloads), nil
}

// CheckFast compares the fast scorer with the classifier's Score on s.
func (p *Payload) CheckFast(s string) error {
	r := p.clf.Score(s)
	prob, unseen := p.fast.score(s)
	if math.Abs(prob-r.Prob) > 1e-9 || math.Abs(unseen-r.Unseen) > 1e-12 {
		return fmt.Errorf("payload %q: fast (%v, %v), Score (%v, %v)", s, prob, unseen, r.Prob, r.Unseen)
	}
	fr := p.fast.result(s)
	if fr.Attack != r.Attack || fr.Truncated != r.Truncated || fr.Explanation.Sentence != r.Explanation.Sentence ||
		len(fr.Explanation.Top) != len(r.Explanation.Top) {
		return fmt.Errorf("payload %q: fast result %+v, Score %+v", s, fr, r)
	}
	for i, c := range r.Explanation.Top {
		g := fr.Explanation.Top[i]
		if g.Feature != c.Feature || g.Baseline != c.Baseline || math.Abs(g.Weight-c.Weight) > 1e-12 {
			return fmt.Errorf("payload %q: top %d fast %+v, Score %+v", s, i, g, c)
		}
	}
	return nil
}
