package mlmodel

import (
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/rampart-ids/rampart/internal/ml"
	"github.com/rampart-ids/rampart/internal/ml/linear"
	"github.com/rampart-ids/rampart/internal/ml/payload"
)

// fastScorer computes what payload.Classifier.Score decides (P(attack)
// and the unseen-feature share) without building the explanation, and
// with reused buffers: most values of most requests are benign, and
// Score's explanation (sorting every contribution, formatting) is most of
// its cost. For the value it reports, the detector builds the same
// explanation in one pass (result). The features must be exactly the classifier's (character
// n-grams of the normalised value between start and end marks, and word
// tokens); TestFastScoreMatches checks that on every test payload.
type fastScorer struct {
	clf  *payload.Classifier
	seed maphash.Seed
	pool sync.Pool // *scratch
}

type scratch struct {
	runes  []rune
	buf    []byte
	idx    []int32
	unseen map[uint64]struct{}
	x      linear.Sparse
}

func newFastScorer(c *payload.Classifier) *fastScorer {
	f := &fastScorer{clf: c, seed: maphash.MakeSeed()}
	f.pool.New = func() any { return &scratch{unseen: map[uint64]struct{}{}} }
	return f
}

// score returns P(attack) and the unseen share of raw.
func (f *fastScorer) score(raw string) (prob, unseenShare float64) {
	s := f.pool.Get().(*scratch)
	defer f.pool.Put(s)
	return f.vector(s, raw)
}

// vector fills s.x with raw's in-vocabulary features (sorted indices, the
// classifier's unit-length scaling) and returns P(attack) and the unseen share.
func (f *fastScorer) vector(s *scratch, raw string) (prob, unseenShare float64) {
	norm := payload.Normalize(raw)
	s.idx = s.idx[:0]
	clear(s.unseen)
	lookup := func(feat []byte) {
		if j, ok := f.clf.Vocab[string(feat)]; ok {
			s.idx = append(s.idx, j)
		} else {
			s.unseen[maphash.Bytes(f.seed, feat)] = struct{}{}
		}
	}
	s.runes = append(s.runes[:0], '\x02')
	for _, r := range norm {
		s.runes = append(s.runes, r)
	}
	s.runes = append(s.runes, '\x03')
	rs := s.runes
	cfg := f.clf.Cfg
	for n := cfg.MinN; n <= cfg.MaxN; n++ {
		for i := 0; i+n <= len(rs); i++ {
			if n == 1 && (i == 0 || i == len(rs)-1) {
				continue
			}
			s.buf = append(s.buf[:0], 'c', ':')
			for _, r := range rs[i : i+n] {
				s.buf = utf8.AppendRune(s.buf, r)
			}
			lookup(s.buf)
		}
	}
	// Word tokens: runs of letters, digits and '_', and runs of other
	// non-space characters.
	kind := 0
	s.buf = append(s.buf[:0], 'w', ':')
	flush := func() {
		if len(s.buf) > 2 {
			lookup(s.buf)
			s.buf = s.buf[:2]
		}
	}
	for _, r := range norm {
		k := 2
		switch {
		case unicode.IsSpace(r):
			flush()
			kind = 0
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_':
			k = 1
		}
		if k != kind {
			flush()
			kind = k
		}
		s.buf = utf8.AppendRune(s.buf, r)
	}
	flush()
	slices.Sort(s.idx)
	s.idx = slices.Compact(s.idx)
	total := len(s.idx) + len(s.unseen)
	if total > 0 {
		unseenShare = float64(len(s.unseen)) / float64(total)
	}
	v := 1.0
	if len(s.idx) > 0 {
		v = 1 / math.Sqrt(float64(len(s.idx)))
	}
	s.x.Idx = s.idx
	s.x.Val = s.x.Val[:0]
	for range s.idx {
		s.x.Val = append(s.x.Val, v)
	}
	return f.clf.Model.Score(s.x), unseenShare
}

// result is payload.Classifier.Score without its cost: the same
// probability, verdict, unseen share and explanation (the top tokens that
// pushed toward the verdict, by |weight| then name, and the same
// sentence), picked in one pass instead of sorting every contribution.
func (f *fastScorer) result(raw string) payload.Result {
	s := f.pool.Get().(*scratch)
	defer f.pool.Put(s)
	c := f.clf
	var r payload.Result
	r.Truncated = len(raw) > payload.MaxPayloadBytes
	r.Prob, r.Unseen = f.vector(s, raw)
	r.Attack = r.Prob >= c.Cfg.Threshold
	sign, verdict := -1.0, "benign"
	if r.Attack {
		sign, verdict = 1, "attack"
	}
	k := max(c.Cfg.TopTokens, 0)
	top := make([]ml.Contribution, 0, k+1)
	better := func(a, b ml.Contribution) bool {
		aa, ab := math.Abs(a.Weight), math.Abs(b.Weight)
		if aa != ab {
			return aa > ab
		}
		return a.Feature < b.Feature
	}
	for n, j := range s.x.Idx {
		w := c.Model.W[j] * s.x.Val[n]
		if w*sign <= 0 || k == 0 {
			continue
		}
		cc := ml.Contribution{Feature: c.Names[j], Value: 1, Baseline: c.DocFreq[j], Weight: w}
		if len(top) == k && !better(cc, top[k-1]) {
			continue
		}
		i := len(top)
		top = append(top, cc)
		for i > 0 && better(cc, top[i-1]) {
			top[i] = top[i-1]
			i--
		}
		top[i] = cc
		if len(top) > k {
			top = top[:k]
		}
	}
	toks := make([]string, len(top))
	for i, t := range top {
		toks[i] = fmt.Sprintf("%q (%+.2f)", payload.DisplayToken(t.Feature), t.Weight)
	}
	r.Explanation = ml.Explanation{
		Model: "payload-lr", Score: r.Prob, Top: top,
		Sentence: fmt.Sprintf("payload scored %s (P=%.3f); strongest tokens: %s", verdict, r.Prob, strings.Join(toks, ", ")),
	}
	return r
}
