// Package payload classifies web request parameter values (query or form
// values, paths) as benign or attack (SQL injection, XSS, path traversal,
// command injection) with logistic regression over character n-grams and
// word tokens of the decoded, case-folded value. Every score carries its
// token contributions. A trained Classifier is read-only and safe for
// concurrent Score calls; Score does no I/O.
package payload

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rampart-ids/rampart/internal/ml"
	"github.com/rampart-ids/rampart/internal/ml/linear"
)

// MaxPayloadBytes bounds a scored value; longer values are cut (and the
// cut is reported in Result.Truncated), never dropped.
const MaxPayloadBytes = 8192

// Config shapes features and training.
type Config struct {
	MinN, MaxN  int // character n-gram sizes
	MinCount    int // a feature must occur in this many training payloads
	MaxFeatures int
	Train       linear.Options
	Threshold   float64 // P(attack) at and above which a payload is an attack
	TopTokens   int     // contributions kept in an explanation
}

// DefaultConfig is the configuration the http-params suite measures.
func DefaultConfig() Config {
	return Config{MinN: 1, MaxN: 3, MinCount: 2, MaxFeatures: 50000, Train: linear.Options{L2: 1e-5, MaxIter: 100, PosWeight: 1}, Threshold: 0.5, TopTokens: 5}
}

// Classifier is a trained payload model.
type Classifier struct {
	Cfg   Config
	Vocab map[string]int32
	Names []string
	Model *linear.Model
	// DocFreq[i] is the share of training payloads holding feature i, the
	// baseline shown beside a token's contribution.
	DocFreq []float64
}

// Normalize decodes URL escapes (twice at most, as double encoding is a
// classic evasion), folds case and maps digits to '0'.
func Normalize(s string) string {
	if len(s) > MaxPayloadBytes {
		s = s[:MaxPayloadBytes]
	}
	for i := 0; i < 2 && strings.ContainsAny(s, "%+"); i++ {
		d, err := url.QueryUnescape(s)
		if err != nil {
			d, err = url.PathUnescape(s)
		}
		if err != nil || d == s {
			break
		}
		s = d
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsDigit(r) {
			r = '0'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// features returns the distinct feature strings of a normalised payload.
func (c Config) features(norm string) []string {
	seen := map[string]struct{}{}
	var out []string
	add := func(f string) {
		if _, ok := seen[f]; !ok {
			seen[f] = struct{}{}
			out = append(out, f)
		}
	}
	rs := []rune("\x02" + norm + "\x03")
	for n := c.MinN; n <= c.MaxN; n++ {
		for i := 0; i+n <= len(rs); i++ {
			if n == 1 && (i == 0 || i == len(rs)-1) {
				continue // the bare boundary marks are in every payload
			}
			add("c:" + string(rs[i:i+n]))
		}
	}
	for _, w := range words(norm) {
		add("w:" + w)
	}
	return out
}

// words splits into runs of letters/digits and runs of other non-space characters.
func words(s string) []string {
	var out []string
	cur := strings.Builder{}
	kind := 0 // 1 word, 2 punctuation
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for _, r := range s {
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
		cur.WriteRune(r)
	}
	flush()
	return out
}

// Train fits a classifier on payloads with labels (true = attack).
func Train(cfg Config, payloads []string, attack []bool) (*Classifier, error) {
	if len(payloads) == 0 || len(payloads) != len(attack) {
		return nil, fmt.Errorf("training payload classifier: %d payloads, %d labels", len(payloads), len(attack))
	}
	if cfg.MinN < 1 || cfg.MaxN < cfg.MinN || cfg.MaxN > 8 || cfg.MaxFeatures < 1 {
		return nil, errors.New("training payload classifier: invalid n-gram config")
	}
	feats := make([][]string, len(payloads))
	df := map[string]int{}
	for i, p := range payloads {
		feats[i] = cfg.features(Normalize(p))
		for _, f := range feats[i] {
			df[f]++
		}
	}
	names := make([]string, 0, len(df))
	for f, n := range df {
		if n >= cfg.MinCount {
			names = append(names, f)
		}
	}
	// Keep the most frequent features; ties by name so training is deterministic.
	sort.Slice(names, func(i, j int) bool {
		if df[names[i]] != df[names[j]] {
			return df[names[i]] > df[names[j]]
		}
		return names[i] < names[j]
	})
	if len(names) > cfg.MaxFeatures {
		names = names[:cfg.MaxFeatures]
	}
	sort.Strings(names)
	c := &Classifier{Cfg: cfg, Vocab: make(map[string]int32, len(names)), Names: names, DocFreq: make([]float64, len(names))}
	for i, f := range names {
		c.Vocab[f] = int32(i)
		c.DocFreq[i] = float64(df[f]) / float64(len(payloads))
	}
	xs := make([]linear.Sparse, len(payloads))
	ys := make([]float64, len(payloads))
	for i := range payloads {
		xs[i], _ = c.vector(feats[i])
		if attack[i] {
			ys[i] = 1
		}
	}
	m, err := linear.Train(xs, ys, len(names), cfg.Train)
	if err != nil {
		return nil, fmt.Errorf("training payload classifier: %w", err)
	}
	c.Model = m
	return c, nil
}

// vector maps features to a binary sparse vector scaled to unit length, and
// reports how many features were outside the vocabulary.
func (c *Classifier) vector(feats []string) (linear.Sparse, int) {
	var x linear.Sparse
	unseen := 0
	for _, f := range feats {
		if j, ok := c.Vocab[f]; ok {
			x.Idx = append(x.Idx, j)
		} else {
			unseen++
		}
	}
	v := 1.0
	if len(x.Idx) > 0 {
		v = 1 / math.Sqrt(float64(len(x.Idx)))
	}
	x.Val = make([]float64, len(x.Idx))
	for i := range x.Val {
		x.Val[i] = v
	}
	return x, unseen
}

// Result is one payload's score.
type Result struct {
	Prob   float64 // P(attack)
	Attack bool    // Prob >= threshold
	// Unseen is the share of the payload's features never seen in training:
	// a high share means the input is outside the model's support and the
	// score should not be trusted as benign (see the input guard, issue 4).
	Unseen      float64
	Truncated   bool
	Explanation ml.Explanation
}

// Score scores one payload.
func (c *Classifier) Score(p string) Result {
	r := Result{Truncated: len(p) > MaxPayloadBytes}
	feats := c.Cfg.features(Normalize(p))
	x, unseen := c.vector(feats)
	if len(feats) > 0 {
		r.Unseen = float64(unseen) / float64(len(feats))
	}
	r.Prob = c.Model.Score(x)
	r.Attack = r.Prob >= c.Cfg.Threshold
	cs := make([]ml.Contribution, 0, len(x.Idx))
	for k, j := range x.Idx {
		cs = append(cs, ml.Contribution{Feature: c.Names[j], Value: 1, Baseline: c.DocFreq[j], Weight: c.Model.W[j] * x.Val[k]})
	}
	// Explain the verdict: the tokens that pushed toward it, strongest first.
	sign := -1.0
	verdict := "benign"
	if r.Attack {
		sign, verdict = 1, "attack"
	}
	var toward []ml.Contribution
	for _, cc := range cs {
		if cc.Weight*sign > 0 {
			toward = append(toward, cc)
		}
	}
	top := ml.TopK(toward, c.Cfg.TopTokens)
	var toks []string
	for _, t := range top {
		toks = append(toks, fmt.Sprintf("%q (%+.2f)", DisplayToken(t.Feature), t.Weight))
	}
	r.Explanation = ml.Explanation{
		Model: "payload-lr", Score: r.Prob, Top: top,
		Sentence: fmt.Sprintf("payload scored %s (P=%.3f); strongest tokens: %s", verdict, r.Prob, strings.Join(toks, ", ")),
	}
	return r
}

// DisplayToken renders a feature name for people: "c:un" → "un", with the
// start and end marks of a payload shown as ^ and $.
func DisplayToken(f string) string {
	f = strings.TrimPrefix(strings.TrimPrefix(f, "c:"), "w:")
	return strings.NewReplacer("\x02", "^", "\x03", "$").Replace(f)
}
