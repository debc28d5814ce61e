// Package seq detects anomalous sessions of log keys (template ids) with a
// next-key model trained on normal sessions, as DeepLog (Du et al. CCS'17)
// does with an LSTM: at every step the key that follows must be among the
// top-g most likely next keys given the preceding keys. The model here is a
// back-off n-gram: the longest preceding context seen often enough in
// training predicts the next key. A session's surprise adds the worst
// step's surprise to that of its content (key counts capped at a small
// number, smoothed towards independent per-key counts): HDFS threads
// interleave, so order alone confuses a late but normal key with an
// anomaly, while a normal block's counts recur. Fit can trim the most
// surprising training sessions first (poisoning-robust training). Training
// and scoring do no I/O; a Model is read-only after Train and safe for
// concurrent Score calls.
package seq

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"github.com/rampart-ids/rampart/internal/ml"
	"github.com/rampart-ids/rampart/internal/ml/robust"
)

// Pseudo-keys that mark a session's start and end, so a session that stops
// early (or starts oddly) is scored too.
const (
	startKey = "^"
	endKey   = "$"
)

// Config sets the model's shape.
type Config struct {
	// History is the longest context (in keys) used to predict the next key.
	History int
	// TopG is how many most likely next keys count as expected (DeepLog's g).
	TopG int
	// MinContext is how often a context must have been seen in training to
	// predict from it; rarer contexts back off to a shorter one.
	MinContext int
	// MaxSessionKeys bounds one session.
	MaxSessionKeys int
	// StateCap, when positive, adds an order-free context (the keys seen so
	// far with counts capped at StateCap) as the most specific level.
	StateCap int
	// Occurrence adds the surprise of a key recurring more often than in
	// normal sessions.
	Occurrence bool
	// Trim is the fraction of training sessions Fit presumes contaminated
	// and leaves out (robust training, issue 4); 0 keeps every session.
	Trim float64 `json:",omitempty"`
	// ContentCap, when positive, adds the surprise of the session's content:
	// its key counts (capped at ContentCap) as a whole, the invariant-mining
	// view of HDFS blocks, where interleaved threads reorder keys but a normal
	// block's counts recur. Zero keeps the order-only model.
	ContentCap int `json:",omitempty"`
}

// DefaultConfig returns the configuration used by the hdfs suite: the
// previous key plus the order-free state of the session so far,
// recurrence surprise, and content surprise with counts capped at 3 (the
// HDFS replication factor: a block's write keys occur once per replica;
// only the read keys recur beyond it). Longer ordered histories overfit the
// orderings of interleaved threads (measured on hdfs-deeplog: more false
// positives at the same recall). No trimming: a 0.5% trim drops the rare
// normal replication sessions, which then alert (measured: fp rate
// 0.0064-0.0103 at seeds 1-5 against 0.0013-0.0039 untrimmed).
func DefaultConfig() Config {
	return Config{History: 1, TopG: 9, MinContext: 1, MaxSessionKeys: 100000, StateCap: 1, Occurrence: true, ContentCap: 3}
}

// Validate checks c.
func (c Config) Validate() error {
	if c.History < 1 || c.History > 64 || c.TopG < 1 || c.MinContext < 1 || c.MaxSessionKeys < 1 {
		return fmt.Errorf("invalid seq config %+v", c)
	}
	return nil
}

// ErrSessionTooLong means a session exceeds Config.MaxSessionKeys.
var ErrSessionTooLong = errors.New("session too long")

// Model is a trained next-key model.
type Model struct {
	Cfg Config
	// Next maps a context (keys joined by a space, most recent last) to the
	// counts of the keys that followed it in training.
	Next map[string]map[string]int
	// Keys counts every key seen in training; KeyTotal is their sum.
	Keys     map[string]int
	KeyTotal int
	// Reach counts, per key and n, the training sessions in which the key
	// occurred at least n times ("21 2" → sessions with two or more 21s).
	Reach map[string]int
	// Sessions is the number of training sessions.
	Sessions int
	// Contents counts training sessions per capped key-count vector
	// (contentKey); KeyCounts counts them per "key capped-count", count 0
	// included, for the per-key back-off.
	Contents  map[string]int `json:",omitempty"`
	KeyCounts map[string]int `json:",omitempty"`
	// Threshold is the surprise at and above which a session is anomalous;
	// Fit sets it from a target alert rate on held-out training folds.
	Threshold float64
	// TargetRate is the alert rate Threshold was set for.
	TargetRate float64
	// Trimmed is how many training sessions Fit left out (Config.Trim).
	Trimmed int `json:",omitempty"`
}

// Fit trains on sessions and sets the threshold so that about targetRate
// of normal sessions would alert. Each of folds folds is scored by a model
// trained on the others (so the threshold reflects unseen normal sessions,
// not memorised ones). With Config.Trim, the Trim fraction of sessions
// with the highest of those scores is presumed contamination (abnormal
// sessions in a "normal" window, or poison): the folds are refitted
// without them, the final model never learns from them, and the threshold
// is the (1-targetRate) quantile of the scores of the kept sessions. The
// shuffle is seeded.
func Fit(cfg Config, sessions [][]string, targetRate float64, folds int, seed int64) (*Model, error) {
	if targetRate <= 0 || targetRate >= 1 || folds < 2 {
		return nil, fmt.Errorf("fitting seq model: target rate %v or folds %d out of range", targetRate, folds)
	}
	if cfg.Trim < 0 || cfg.Trim >= 0.5 {
		return nil, fmt.Errorf("fitting seq model: trim fraction %v not in [0,0.5)", cfg.Trim)
	}
	if len(sessions) < folds {
		return nil, fmt.Errorf("fitting seq model: %d sessions for %d folds", len(sessions), folds)
	}
	perm := rand.New(rand.NewPCG(uint64(seed), 0x5e9)).Perm(len(sessions))
	drop := make([]bool, len(sessions))
	scores, err := crossScores(cfg, sessions, perm, folds, drop)
	if err != nil {
		return nil, err
	}
	trimmed := 0
	if cfg.Trim > 0 {
		idx := make([]int, len(sessions))
		for i := range idx {
			idx[i] = i
		}
		kept, _, err := robust.Trim(idx, scores, cfg.Trim)
		if err != nil {
			return nil, fmt.Errorf("fitting seq model: %w", err)
		}
		for i := range drop {
			drop[i] = true
		}
		for _, i := range kept {
			drop[i] = false
		}
		if trimmed = len(sessions) - len(kept); trimmed > 0 {
			if scores, err = crossScores(cfg, sessions, perm, folds, drop); err != nil {
				return nil, err
			}
		}
	}
	var keptScores []float64
	var train [][]string
	for i, s := range sessions {
		if !drop[i] {
			keptScores = append(keptScores, scores[i])
			train = append(train, s)
		}
	}
	sort.Float64s(keptScores)
	k := int(math.Ceil((1 - targetRate) * float64(len(keptScores))))
	if k >= len(keptScores) {
		k = len(keptScores) - 1
	}
	m, err := Train(cfg, train)
	if err != nil {
		return nil, err
	}
	// Alert strictly above the quantile's score.
	m.Threshold = math.Nextafter(keptScores[k], math.Inf(1))
	m.TargetRate = targetRate
	m.Trimmed = trimmed
	return m, nil
}

// crossScores scores every session (dropped ones too) with a model trained
// on the other folds' sessions that are not dropped; scores are indexed
// like sessions.
func crossScores(cfg Config, sessions [][]string, perm []int, folds int, drop []bool) ([]float64, error) {
	scores := make([]float64, len(sessions))
	for f := 0; f < folds; f++ {
		var tr [][]string
		var te []int
		for i, j := range perm {
			switch {
			case i%folds == f:
				te = append(te, j)
			case !drop[j]:
				tr = append(tr, sessions[j])
			}
		}
		m, err := Train(cfg, tr)
		if err != nil {
			return nil, err
		}
		for _, j := range te {
			r, err := m.Score(sessions[j])
			if err != nil {
				return nil, err
			}
			scores[j] = r.Surprise
		}
	}
	return scores, nil
}

// Train builds a model from normal sessions.
func Train(cfg Config, sessions [][]string) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Model{Cfg: cfg, Next: map[string]map[string]int{}, Keys: map[string]int{}, Reach: map[string]int{}}
	if cfg.ContentCap > 0 {
		m.Contents, m.KeyCounts = map[string]int{}, map[string]int{}
	}
	for i, s := range sessions {
		if len(s) > cfg.MaxSessionKeys {
			return nil, fmt.Errorf("training session %d: %w", i, ErrSessionTooLong)
		}
		seq := frame(s)
		if cfg.Occurrence {
			seen := map[string]int{}
			for _, k := range seq[1:] {
				seen[k]++
				m.Reach[k+" "+strconv.Itoa(seen[k])]++
			}
		}
		for t := 1; t < len(seq); t++ {
			m.Keys[seq[t]]++
			m.KeyTotal++
			for n := 1; n <= cfg.History && n <= t; n++ {
				m.count(strings.Join(seq[t-n:t], " "), seq[t])
			}
			if cfg.StateCap > 0 {
				m.count(stateKey(seq[:t], cfg.StateCap), seq[t])
			}
		}
		if cfg.ContentCap > 0 {
			m.countContent(s)
		}
		m.Sessions++
	}
	if m.Sessions == 0 {
		return nil, errors.New("training seq model: no sessions")
	}
	return m, nil
}

func (m *Model) count(ctx, key string) {
	next := m.Next[ctx]
	if next == nil {
		next = map[string]int{}
		m.Next[ctx] = next
	}
	next[key]++
}

// stateKey is an order-free context: which keys the session has shown so
// far and how often (capped). Interleaved threads (three replicas logging
// at once) reorder keys without changing this state.
func stateKey(prefix []string, capN int) string {
	counts := map[string]int{}
	for _, k := range prefix {
		if counts[k] < capN {
			counts[k]++
		}
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("#")
	for _, k := range keys {
		b.WriteString(" ")
		b.WriteString(k)
		b.WriteString("x")
		b.WriteString(strconv.Itoa(counts[k]))
	}
	return b.String()
}

func frame(s []string) []string {
	out := make([]string, 0, len(s)+2)
	out = append(out, startKey)
	out = append(out, s...)
	return append(out, endKey)
}

// Miss is one step whose key was not among the expected next keys.
type Miss struct {
	Pos      int      // index in the session (len(session) for the end)
	Key      string   // the key seen ("$" for the session's end)
	Context  []string // the context that predicted
	Expected []string // the top-g keys expected there
	Unseen   bool     // the key never occurred in training
}

// Result is a session's score.
type Result struct {
	// Anomalous is Surprise >= the model's threshold.
	Anomalous bool
	Steps     int
	// Misses are the steps whose key was not among the top-g expected keys.
	Misses []Miss
	// Surprise is Order + Content.
	Surprise float64
	// Order is the largest -ln P(key | context) over the session's steps.
	Order float64
	// Content is -ln P(capped key counts) (0 without Config.ContentCap);
	// ContentSeen is how many training sessions had the same counts.
	Content     float64
	ContentSeen int
	// Worst is the step with the largest surprise.
	Worst Miss
	// Score in [0,1]: Surprise relative to the threshold, 0.5 at the threshold.
	Score       float64
	Explanation ml.Explanation
}

// Score scores one session; it does no I/O.
func (m *Model) Score(session []string) (Result, error) {
	if len(session) > m.Cfg.MaxSessionKeys {
		return Result{}, fmt.Errorf("scoring session of %d keys: %w", len(session), ErrSessionTooLong)
	}
	seq := frame(session)
	var r Result
	worst := 0.0
	seen := map[string]int{}
	for t := 1; t < len(seq); t++ {
		r.Steps++
		key := seq[t]
		ctx, next := m.context(seq, t)
		miss := Miss{Pos: t - 1, Key: key, Context: ctx, Expected: top(next, m.Cfg.TopG), Unseen: m.Keys[key] == 0}
		if next == nil || !inTop(next, key, m.Cfg.TopG) {
			r.Misses = append(r.Misses, miss)
		}
		s := -math.Log(m.prob(seq, t))
		if m.Cfg.Occurrence {
			seen[key]++
			s += m.occurrence(key, seen[key])
		}
		if s > worst || t == 1 {
			worst, r.Worst = s, miss
		}
	}
	r.Order = worst
	if m.Cfg.ContentCap > 0 {
		r.Content, r.ContentSeen = m.content(session)
	}
	r.Surprise = worst + r.Content
	r.Anomalous = r.Surprise >= m.Threshold
	if m.Threshold > 0 {
		r.Score = r.Surprise / (r.Surprise + m.Threshold)
	}
	r.Explanation = m.explain(r)
	return r, nil
}

// prob is P(seq[t] | preceding keys), Witten-Bell interpolated from the
// longest context down to the key frequencies (with one unseen-key slot),
// so a rare but seen ordering costs less than a never-seen key.
func (m *Model) prob(seq []string, t int) float64 {
	key := seq[t]
	v := float64(len(m.Keys) + 1)
	p := (float64(m.Keys[key]) + 1) / (float64(m.KeyTotal) + v)
	for n := 1; n <= m.Cfg.History && n <= t; n++ {
		next := m.Next[strings.Join(seq[t-n:t], " ")]
		if len(next) == 0 {
			break
		}
		cnt := 0
		for _, c := range next {
			cnt += c
		}
		types := float64(len(next))
		p = (float64(next[key]) + types*p) / (float64(cnt) + types)
	}
	if m.Cfg.StateCap > 0 {
		if next := m.Next[stateKey(seq[:t], m.Cfg.StateCap)]; len(next) > 0 {
			cnt := 0
			for _, c := range next {
				cnt += c
			}
			types := float64(len(next))
			p = (float64(next[key]) + types*p) / (float64(cnt) + types)
		}
	}
	return p
}

// occurrence is -ln P(key occurs an n-th time | it occurred n-1 times),
// Laplace-smoothed over training sessions: a fourth delete where normal
// blocks have three costs surprise even when its order is ordinary.
func (m *Model) occurrence(key string, n int) float64 {
	if n == 1 {
		return 0 // the first occurrence is the next-key model's business
	}
	hit := float64(m.Reach[key+" "+strconv.Itoa(n)])
	prev := float64(m.Reach[key+" "+strconv.Itoa(n-1)])
	return -math.Log((hit + 1) / (prev + 2))
}

// context returns the longest context before t seen at least MinContext times.
func (m *Model) context(seq []string, t int) ([]string, map[string]int) {
	for n := min(m.Cfg.History, t); n >= 1; n-- {
		ctx := seq[t-n : t]
		next := m.Next[strings.Join(ctx, " ")]
		total := 0
		for _, c := range next {
			total += c
		}
		if total >= m.Cfg.MinContext {
			return ctx, next
		}
	}
	return nil, nil
}

type kc struct {
	k string
	c int
}

func ranked(next map[string]int) []kc {
	out := make([]kc, 0, len(next))
	for k, c := range next {
		out = append(out, kc{k, c})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].c != out[j].c {
			return out[i].c > out[j].c
		}
		return out[i].k < out[j].k
	})
	return out
}

func inTop(next map[string]int, key string, g int) bool {
	c, ok := next[key]
	if !ok {
		return false
	}
	if len(next) <= g {
		return true
	}
	// Rank by count; ties with the g-th count are in.
	r := ranked(next)
	return c >= r[g-1].c
}

func top(next map[string]int, g int) []string {
	r := ranked(next)
	if len(r) > g {
		r = r[:g]
	}
	out := make([]string, len(r))
	for i, x := range r {
		out[i] = x.k
	}
	return out
}

func (m *Model) explain(r Result) ml.Explanation {
	e := ml.Explanation{Model: "seq", Score: r.Score}
	w := r.Worst
	e.Top = append(e.Top, ml.Contribution{Feature: "key " + w.Key + " at " + strconv.Itoa(w.Pos), Value: r.Order, Baseline: m.Threshold, Weight: r.Order})
	content := ""
	if m.Cfg.ContentCap > 0 {
		e.Top = append(e.Top, ml.Contribution{Feature: "key counts", Value: r.Content, Baseline: float64(r.ContentSeen), Weight: r.Content})
		content = fmt.Sprintf("; key counts (capped at %d) seen in %d of %d training sessions (surprise %.1f)", m.Cfg.ContentCap, r.ContentSeen, m.Sessions, r.Content)
	}
	for _, ms := range r.Misses {
		if len(e.Top) >= 5 {
			break
		}
		if ms.Pos != w.Pos {
			e.Top = append(e.Top, ml.Contribution{Feature: "key " + ms.Key + " at " + strconv.Itoa(ms.Pos), Value: float64(m.Keys[ms.Key]), Weight: 0})
		}
	}
	what := "key " + w.Key
	if w.Key == endKey {
		what = "session end"
	}
	unseen := ""
	if w.Unseen {
		unseen = " (never seen in training)"
	}
	verdict := "normal"
	if r.Anomalous {
		verdict = "anomalous"
	}
	e.Sentence = fmt.Sprintf("%s session (surprise %.1f, threshold %.1f): most surprising step %s%s after [%s] (surprise %.1f), expected one of [%s]; %d of %d steps outside the top %d%s",
		verdict, r.Surprise, m.Threshold, what, unseen, strings.Join(w.Context, " "), r.Order, strings.Join(w.Expected, " "), len(r.Misses), r.Steps, m.Cfg.TopG, content)
	return e
}

// capped returns the session's key counts capped at capN.
func capped(s []string, capN int) map[string]int {
	c := map[string]int{}
	for _, k := range s {
		if c[k] < capN {
			c[k]++
		}
	}
	return c
}

// contentKey is the canonical form of capped counts: "k:n" sorted by key.
func contentKey(c map[string]int) string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteString(":")
		b.WriteString(strconv.Itoa(c[k]))
		b.WriteString(" ")
	}
	return b.String()
}

// countContent records a training session's content. Per-key counts are
// recorded for the keys it has; count 0 of a key is derived at scoring time
// (sessions without it), so later keys need no back-filling.
func (m *Model) countContent(s []string) {
	c := capped(s, m.Cfg.ContentCap)
	m.Contents[contentKey(c)]++
	for k, n := range c {
		m.KeyCounts[k+" "+strconv.Itoa(n)]++
	}
}

// content is -ln P(capped key counts): Witten-Bell interpolation of the
// exact counts seen in training with a per-key independent model
// (Laplace-smoothed over counts 0..cap; keys never seen in training are
// pooled in one present/absent slot that training always saw absent).
func (m *Model) content(s []string) (float64, int) {
	capN := m.Cfg.ContentCap
	c := capped(s, capN)
	n := float64(m.Sessions)
	slots := float64(capN + 1)
	// Summed in key order: floating-point sums over a map's random order
	// would make the threshold differ between runs of one seed.
	vocab := make([]string, 0, len(m.Keys))
	for k := range m.Keys {
		if k != endKey {
			vocab = append(vocab, k)
		}
	}
	sort.Strings(vocab)
	lb := 0.0
	for _, k := range vocab {
		cnt := 0
		if x := c[k]; x > 0 {
			cnt = m.KeyCounts[k+" "+strconv.Itoa(x)]
		} else {
			with := 0
			for j := 1; j <= capN; j++ {
				with += m.KeyCounts[k+" "+strconv.Itoa(j)]
			}
			cnt = m.Sessions - with
		}
		lb += math.Log((float64(cnt) + 1) / (n + slots))
	}
	unseen := false
	for k := range c {
		unseen = unseen || m.Keys[k] == 0
	}
	if unseen {
		lb += math.Log(1 / (n + 2))
	} else {
		lb += math.Log((n + 1) / (n + 2))
	}
	// -ln((seen + d·e^lb) / (n + d)), in logs so that a long vocabulary
	// cannot underflow e^lb.
	d := float64(len(m.Contents))
	lp := math.Log(d) + lb
	seen := m.Contents[contentKey(c)]
	if seen > 0 {
		a := math.Log(float64(seen))
		lp = max(a, lp) + math.Log1p(math.Exp(-math.Abs(a-lp)))
	}
	return math.Log(n+d) - lp, seen
}
