package adversarial

import (
	"context"
	"fmt"
	"github.com/rampart-ids/rampart/internal/ml/dataset"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rampart-ids/rampart/internal/ml/guard"
	"github.com/rampart-ids/rampart/internal/ml/model"
	"github.com/rampart-ids/rampart/internal/ml/robust"
	"github.com/rampart-ids/rampart/internal/ml/seq"
)

const (
	maxSessions    = 2_000_000
	hdfsTargetRate = 0.003
	hdfsFolds      = 5
	// hdfsMaxTest bounds the abnormal sessions scored per measurement.
	hdfsMaxTest = 3000
)

func readSessions(path string) ([][]string, error) { return dataset.ReadSessions(path, maxSessions) }

// sessionFeaturizer maps a session to log1p key counts over the keys of
// the training window, an "other keys" count and the length.
type sessionFeaturizer struct {
	keys  map[string]int
	names []string
}

func newSessionFeaturizer(ss [][]string) *sessionFeaturizer {
	set := map[string]bool{}
	for _, s := range ss {
		for _, k := range s {
			set[k] = true
		}
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	z := &sessionFeaturizer{keys: map[string]int{}}
	for i, k := range keys {
		z.keys[k] = i
		z.names = append(z.names, "key_"+k)
	}
	z.names = append(z.names, "other_keys", "length")
	return z
}

func (z *sessionFeaturizer) vec(s []string) []float64 {
	v := make([]float64, len(z.names))
	for _, k := range s {
		if i, ok := z.keys[k]; ok {
			v[i]++
		} else {
			v[len(v)-2]++
		}
	}
	v[len(v)-1] = float64(len(s))
	for i := range v {
		v[i] = math.Log1p(v[i])
	}
	return v
}

func fitSessionGuard(z *sessionFeaturizer, ss [][]string, seed int64) (*guard.Guard, error) {
	gv := make([][]float64, len(ss))
	for i, s := range ss {
		gv[i] = z.vec(s)
	}
	cfg := guardConfig(seed)
	return guard.Fit(cfg, z.names, gv)
}

func seqFlags(m *seq.Model, ss [][]string) ([]bool, error) {
	out := make([]bool, len(ss))
	for i, s := range ss {
		r, err := m.Score(s)
		if err != nil {
			return nil, fmt.Errorf("session %d: %w", i+1, err)
		}
		out[i] = r.Anomalous
	}
	return out, nil
}

func runHDFS(ctx context.Context, dir string, seed int64, progress io.Writer) (*Result, error) {
	train, err := readSessions(filepath.Join(dir, "hdfs_train"))
	if err != nil {
		return nil, err
	}
	var abnormal [][]string
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading hdfs dir: %w", err)
	}
	for _, e := range ents {
		if !e.IsDir() && strings.Contains(e.Name(), "abnormal") {
			ss, err := readSessions(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, err
			}
			abnormal = append(abnormal, ss...)
		}
	}
	if len(train) < 100 || len(abnormal) < 50 {
		return nil, fmt.Errorf("%s: %d normal and %d abnormal sessions; need at least 100 and 50 (files hdfs_train and *abnormal*)", dir, len(train), len(abnormal))
	}
	res := &Result{Layout: "hdfs"}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x4844))
	rng.Shuffle(len(train), func(i, j int) { train[i], train[j] = train[j], train[i] })
	rng.Shuffle(len(abnormal), func(i, j int) { abnormal[i], abnormal[j] = abnormal[j], abnormal[i] })
	nc, nw := len(train)*3/10, len(train)*7/10
	champN, windowN, testN := train[:nc], train[nc:nw], train[nw:]
	pool, testA := abnormal[:len(abnormal)/2], abnormal[len(abnormal)/2:]
	if len(testA) > hdfsMaxTest {
		testA = testA[:hdfsMaxTest]
	}
	fmt.Fprintf(progress, "adversarial hdfs: normal champion %d, window %d, test %d; abnormal pool %d, test %d\n", len(champN), len(windowN), len(testN), len(pool), len(testA))
	cfg := seq.DefaultConfig()
	champion, err := seq.Fit(cfg, champN, hdfsTargetRate, hdfsFolds, seed)
	if err != nil {
		return nil, fmt.Errorf("champion model: %w", err)
	}
	// The live model's input guard, fitted on its own training window: its
	// model-input-anomaly signals are something production sees.
	cz := newSessionFeaturizer(champN)
	cg, err := fitSessionGuard(cz, champN, seed)
	if err != nil {
		return nil, fmt.Errorf("champion input guard: %w", err)
	}
	var def0 *seq.Model
	var rep0 robust.Report
	for _, rate := range PoisonRates {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := min(int(rate/(1-rate)*float64(len(windowN))), len(pool))
		win := append(append([][]string(nil), windowN...), pool[:n]...)
		prng := rand.New(rand.NewPCG(uint64(seed), uint64(rate*1000)))
		prng.Shuffle(len(win), func(i, j int) { win[i], win[j] = win[j], win[i] })
		p := Poison{Rate: rate, Injected: n, Excluded: map[string]int{}}
		naive, err := seq.Fit(cfg, win, hdfsTargetRate, hdfsFolds, seed)
		if err != nil {
			return nil, fmt.Errorf("naive model at %.2f: %w", rate, err)
		}
		flags, err := seqFlags(champion, win)
		if err != nil {
			return nil, err
		}
		alerted, guarded := map[string]bool{}, map[string]bool{}
		ids := make([]int, len(win))
		for i, s := range win {
			ids[i] = i
			if flags[i] {
				alerted[fmt.Sprint(i)] = true
			}
			c, err := cg.Check(cz.vec(s))
			if err != nil {
				return nil, err
			}
			if c.Flagged {
				guarded[fmt.Sprint(i)] = true
			}
		}
		kept, rep := robust.Filter(ids, func(i int) robust.Item { return robust.Item{EventID: fmt.Sprint(i)} },
			robust.Exclusions{AlertEvents: alerted, GuardEvents: guarded})
		kw := make([][]string, len(kept))
		for i, k := range kept {
			kw[i] = win[k]
		}
		def, err := seq.Fit(cfg, kw, hdfsTargetRate, hdfsFolds, seed)
		if err != nil {
			return nil, fmt.Errorf("defended model at %.2f: %w", rate, err)
		}
		for _, e := range rep.Lineage() {
			p.Excluded[e.Reason] = e.Rows
		}
		for _, m := range []struct {
			m      *seq.Model
			rc, fp *float64
		}{{naive, &p.RecallNaive, &p.FPNaive}, {def, &p.RecallDefended, &p.FPDefended}} {
			fa, err := seqFlags(m.m, testA)
			if err != nil {
				return nil, err
			}
			fn, err := seqFlags(m.m, testN)
			if err != nil {
				return nil, err
			}
			*m.rc, *m.fp = recall(fa), recall(fn)
		}
		fmt.Fprintf(progress, "  poisoning %.2f: recall defended %.4f naive %.4f (excluded %v)\n", rate, p.RecallDefended, p.RecallNaive, p.Excluded)
		res.Poisoning = append(res.Poisoning, p)
		if rate == 0 {
			def0, rep0 = def, rep
		}
	}
	// Input guard on session key counts, fitted on the clean window.
	z := newSessionFeaturizer(windowN)
	g, err := fitSessionGuard(z, windowN, seed)
	if err != nil {
		return nil, fmt.Errorf("input guard: %w", err)
	}
	guardRate := func(ss [][]string) (float64, error) {
		n := 0
		for _, s := range ss {
			c, err := g.Check(z.vec(s))
			if err != nil {
				return 0, err
			}
			if c.Flagged {
				n++
			}
		}
		return float64(n) / float64(len(ss)), nil
	}
	if res.OODFlagRate, err = guardRate(testA); err != nil {
		return nil, err
	}
	if res.OODFalse, err = guardRate(testN); err != nil {
		return nil, err
	}
	res.OODHeldOut = map[string][2]float64{"abnormal sessions": {res.OODFlagRate, res.OODFalse}}
	// Evasion: mimicry pads each abnormal session with a normal session's
	// keys (before and after), within a budget of one normal session.
	for _, mode := range []string{"none", "mimicry-normal-prefix", "mimicry-normal-suffix"} {
		e := Evasion{Attack: mode, N: len(testA)}
		ml, stack := 0, 0
		for i, s := range testA {
			pad := windowN[i%len(windowN)]
			var q []string
			switch mode {
			case "none":
				q = s
			case "mimicry-normal-prefix":
				q = append(append([]string(nil), pad...), s...)
			default:
				q = append(append([]string(nil), s...), pad...)
			}
			r, err := def0.Score(q)
			if err != nil {
				return nil, err
			}
			c, err := g.Check(z.vec(q))
			if err != nil {
				return nil, err
			}
			if r.Anomalous {
				ml++
			}
			if r.Anomalous || c.Flagged {
				stack++
			}
		}
		e.MLRecall, e.StackRecall = float64(ml)/float64(e.N), float64(stack)/float64(e.N)
		res.Evasion = append(res.Evasion, e)
	}
	res.Notes = append(res.Notes,
		"hdfs: training is normal sessions only, so every abnormal session is out of the training support; ood rates are the guard's flag rate on abnormal sessions and on held-out normal ones",
		"hdfs evasion stack = next-key model + input guard; no rules apply to log-key sessions",
		"poisoning: abnormal sessions injected into the training window; defences exclude sessions the champion model alerted on or its input guard flagged")
	a, err := model.New(model.Body{Kind: "seq", Name: "hdfs-seq", Version: "adversarial",
		Lineage: model.Lineage{Sources: []model.Source{{Name: "hdfs training window", Rows: len(windowN)}},
			ClassCounts: map[string]int{"normal": len(windowN)}, Exclusions: rep0.Lineage(), Seed: seed},
		Thresholds: map[string]float64{"threshold": def0.Threshold, "target_rate": hdfsTargetRate}}, def0)
	if err != nil {
		return nil, err
	}
	if err := tamper(a, seed, size.tamperTrials, res); err != nil {
		return nil, err
	}
	return res, nil
}
