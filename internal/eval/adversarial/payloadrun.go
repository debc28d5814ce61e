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

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/ml/guard"
	"github.com/rampart-ids/rampart/internal/ml/model"
	"github.com/rampart-ids/rampart/internal/ml/payload"
	"github.com/rampart-ids/rampart/internal/ml/robust"
	"github.com/rampart-ids/rampart/internal/modelreg"
	"github.com/rampart-ids/rampart/internal/sigma"
	"github.com/rampart-ids/rampart/rules"
)

const maxPayloadRows = 2_000_000

// payloadRow is one HttpParamsDataset row (read by internal/ml/dataset).
type payloadRow = dataset.PayloadRow

func readPayloads(path string) ([]payloadRow, error) {
	return dataset.ReadPayloads(path, maxPayloadRows)
}

// webRules loads the bundled Sigma rules: the rule layer of the stack.
func webRules() (*sigma.Detector, func(), error) {
	dir, err := os.MkdirTemp("", "rampart-adv-rules-")
	if err != nil {
		return nil, nil, fmt.Errorf("rules: %w", err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	if err := rules.Extract(dir); err != nil {
		cleanup()
		return nil, nil, err
	}
	d, err := sigma.New(sigma.Options{Paths: []string{filepath.Join(dir, "sigma")}})
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return d, cleanup, nil
}

// webEvent is the access-log event a request carrying p in a query
// parameter produces; the payload appears as sent (already encoded or not).
func webEvent(p string) *event.Event {
	ev := event.New()
	ev.Set("event.module", "web")
	ev.Set("event.dataset", "web.access")
	ev.Set("event.category", "web")
	ev.Set("url.path", "/app/search")
	ev.Set("url.query", "q="+p)
	ev.Set("url.original", "/app/search?q="+p)
	ev.Set("http.request.method", "GET")
	return ev
}

func ruleHit(d *sigma.Detector, p string) bool { return len(d.Matches(webEvent(p))) > 0 }

// fitPayloadGuard fits the production input guard of the payload model
// (modelreg.PayloadGuardVector: the shape of the decoded value) on rows.
func fitPayloadGuard(rows []payloadRow, seed int64) (*guard.Guard, error) {
	gv := make([][]float64, len(rows))
	for i, r := range rows {
		gv[i] = modelreg.PayloadGuardVector(r.Payload)
	}
	cfg := guardConfig(seed)
	cfg.Rate = modelreg.ShapeGuardRate
	return guard.Fit(cfg, guard.TextFeatureNames(), gv)
}

func guardFlags(g *guard.Guard, p string) (bool, error) {
	c, err := g.Check(modelreg.PayloadGuardVector(p))
	return c.Flagged, err
}

func trainPayload(rows []payloadRow) (*payload.Classifier, error) {
	ps, ys := make([]string, len(rows)), make([]bool, len(rows))
	for i, r := range rows {
		ps[i], ys[i] = r.Payload, r.Attack
	}
	return payload.Train(payload.DefaultConfig(), ps, ys)
}

func payloadRecall(c *payload.Classifier, rows []payloadRow) (rec, fp float64) {
	var tp, na, fpn, nn int
	for _, r := range rows {
		hit := c.Score(r.Payload).Attack
		if r.Attack {
			na++
			if hit {
				tp++
			}
		} else {
			nn++
			if hit {
				fpn++
			}
		}
	}
	return float64(tp) / float64(max(na, 1)), float64(fpn) / float64(max(nn, 1))
}

func runPayload(ctx context.Context, dir string, seed int64, progress io.Writer) (*Result, error) {
	path := filepath.Join(dir, "payload_train.csv")
	rows, err := readPayloads(path)
	if err != nil {
		return nil, err
	}
	res := &Result{Layout: "http-params"}
	normal, attack, err := splitShuffled(path, rows, seed, 0x4854, func(r payloadRow) bool { return r.Attack })
	if err != nil {
		return nil, err
	}
	det, cleanup, err := webRules()
	if err != nil {
		return nil, err
	}
	defer cleanup()
	// Normal: champion 30%, window 40%, test 30%. Attacks: champion 20%,
	// window 30%, injection pool 25%, test 25%.
	nc, nw := len(normal)*3/10, len(normal)*7/10
	a1, a2, a3 := len(attack)*2/10, len(attack)*5/10, len(attack)*75/100
	champRows := append(append([]payloadRow(nil), normal[:nc]...), attack[:a1]...)
	windowRows := append(append([]payloadRow(nil), normal[nc:nw]...), attack[a1:a2]...)
	// Poisoning is targeted label flipping: the adversary gets payloads of
	// one attack family into the training window labelled benign, so that
	// the next model lets that family through. Recall is measured on the
	// family's test payloads. The family is the one with the second most
	// rows (the most common one dominates any window: flipping a share of
	// it moves little, and a real adversary targets what they will use).
	target := targetFamily(attack)
	var pool, targetTest []payloadRow
	for _, r := range attack[a2:a3] {
		if r.Type == target {
			pool = append(pool, r)
		}
	}
	test := append(append([]payloadRow(nil), normal[nw:]...), attack[a3:]...)
	for _, r := range attack[a3:] {
		if r.Type == target {
			targetTest = append(targetTest, r)
		}
	}
	if len(pool) < 10 || len(targetTest) < 10 {
		return nil, fmt.Errorf("%s: attack family %q has %d pool and %d test rows; need at least 10 each", path, target, len(pool), len(targetTest))
	}
	poisonTest := append(append([]payloadRow(nil), normal[nw:]...), targetTest...)
	fmt.Fprintf(progress, "adversarial http-params: champion %d, window %d, %s pool %d, test %d rows (%d %s)\n", len(champRows), len(windowRows), target, len(pool), len(test), len(targetTest), target)
	champion, err := trainPayload(champRows)
	if err != nil {
		return nil, fmt.Errorf("champion model: %w", err)
	}
	// The live model's input guard, fitted on its own training rows.
	cg, err := fitPayloadGuard(champRows, seed)
	if err != nil {
		return nil, fmt.Errorf("champion input guard: %w", err)
	}
	var def0 *payload.Classifier
	var rep0 robust.Report
	for _, rate := range PoisonRates {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// The adversary repeats their payloads (drawn with replacement
		// from the pool, seeded) until they make up rate of the window.
		n := int(rate / (1 - rate) * float64(len(windowRows)))
		prng := rand.New(rand.NewPCG(uint64(seed), uint64(rate*1000)))
		win := append([]payloadRow(nil), windowRows...)
		for range n {
			r := pool[prng.IntN(len(pool))]
			win = append(win, payloadRow{Payload: r.Payload, Type: "norm", Attack: false})
		}
		prng.Shuffle(len(win), func(i, j int) { win[i], win[j] = win[j], win[i] })
		p := Poison{Rate: rate, Injected: n, Excluded: map[string]int{}}
		naive, err := trainPayload(win)
		if err != nil {
			return nil, fmt.Errorf("naive model at %.2f: %w", rate, err)
		}
		def, rep, err := defendPayload(champion, cg, det, win)
		if err != nil {
			return nil, fmt.Errorf("defended model at %.2f: %w", rate, err)
		}
		for _, e := range rep.Lineage() {
			p.Excluded[e.Reason] = e.Rows
		}
		p.RecallNaive, p.FPNaive = payloadRecall(naive, poisonTest)
		p.RecallDefended, p.FPDefended = payloadRecall(def, poisonTest)
		fmt.Fprintf(progress, "  poisoning %.2f: %s recall defended %.4f naive %.4f (excluded %v)\n", rate, target, p.RecallDefended, p.RecallNaive, p.Excluded)
		res.Poisoning = append(res.Poisoning, p)
		if rate == 0 {
			def0, rep0 = def, rep
		}
	}
	res.Notes = append(res.Notes, fmt.Sprintf("poisoning: targeted label flipping — %s payloads (%d distinct, repeated with replacement) injected into the training window labelled benign; recall on the %d %s test payloads; defences exclude window rows the champion classifier or the bundled Sigma web rules alerted on or the champion's input guard flagged (they never see the injected labels)", target, len(pool), len(targetTest), target))
	// Evasion against the defended clean model; the stack adds the rules
	// and the input guard (fitted on the training window's inputs).
	g, err := fitPayloadGuard(windowRows, seed)
	if err != nil {
		return nil, fmt.Errorf("input guard: %w", err)
	}
	var testAttacks, testNormal []string
	for _, r := range test {
		if r.Attack {
			testAttacks = append(testAttacks, r.Payload)
		} else {
			testNormal = append(testNormal, r.Payload)
		}
	}
	benignWords := wordsOf(normal[nc:nw], 500)
	for _, ob := range obfuscations(benignWords) {
		e := Evasion{Attack: ob.name, N: len(testAttacks)}
		orng := rand.New(rand.NewPCG(uint64(seed), 0x0b))
		ml, stack := 0, 0
		for _, p := range testAttacks {
			q := ob.f(p, orng)
			hit := def0.Score(q).Attack
			if hit {
				ml++
			}
			if hit || ruleHit(det, q) {
				stack++
				continue
			}
			flagged, err := guardFlags(g, q)
			if err != nil {
				return nil, err
			}
			if flagged {
				stack++
			}
		}
		e.MLRecall, e.StackRecall = float64(ml)/float64(e.N), float64(stack)/float64(e.N)
		fmt.Fprintf(progress, "  evasion %s: ml %.4f stack %.4f\n", e.Attack, e.MLRecall, e.StackRecall)
		res.Evasion = append(res.Evasion, e)
	}
	// The stack's cost on benign test traffic, beside its recall.
	sfp := 0
	for _, p := range testNormal {
		flagged, err := guardFlags(g, p)
		if err != nil {
			return nil, err
		}
		if def0.Score(p).Attack || ruleHit(det, p) || flagged {
			sfp++
		}
	}
	res.Notes = append(res.Notes,
		fmt.Sprintf("http-params stack = bundled Sigma web rules on a synthesized access-log event + payload classifier + input guard; stack false-positive rate on benign test payloads %.4f", float64(sfp)/float64(max(1, len(testNormal)))))
	a, err := model.New(model.Body{Kind: "payload-lr", Name: "http-params-payload", Version: "adversarial",
		Lineage: model.Lineage{Sources: []model.Source{{Name: "http-params training window", Rows: len(windowRows)}},
			ClassCounts: map[string]int{"rows": len(windowRows)}, Exclusions: rep0.Lineage(), Seed: seed}}, def0)
	if err != nil {
		return nil, err
	}
	if err := tamper(a, seed, size.tamperTrials, res); err != nil {
		return nil, err
	}
	if err := payloadOOD(ctx, rows, seed, res, progress); err != nil {
		return nil, err
	}
	return res, nil
}

// defendPayload excludes window rows tied to alerts (the champion
// classifier's or the rules') and trains on the rest. Rows labeled attack
// stay: an alert on a row already known bad is no reason to drop it.
func defendPayload(champion *payload.Classifier, cg *guard.Guard, det *sigma.Detector, win []payloadRow) (*payload.Classifier, robust.Report, error) {
	alerted, guarded := map[string]bool{}, map[string]bool{}
	type item struct {
		id string
		r  payloadRow
	}
	items := make([]item, len(win))
	for i, r := range win {
		items[i] = item{fmt.Sprint(i), r}
		if r.Attack {
			continue
		}
		if champion.Score(r.Payload).Attack || ruleHit(det, r.Payload) {
			alerted[items[i].id] = true
		}
		flagged, err := guardFlags(cg, r.Payload)
		if err != nil {
			return nil, robust.Report{}, err
		}
		if flagged {
			guarded[items[i].id] = true
		}
	}
	kept, rep := robust.Filter(items, func(it item) robust.Item { return robust.Item{EventID: it.id} },
		robust.Exclusions{AlertEvents: alerted, GuardEvents: guarded})
	rows := make([]payloadRow, len(kept))
	for i, it := range kept {
		rows[i] = it.r
	}
	c, err := trainPayload(rows)
	return c, rep, err
}

// targetFamily is the attack type with the second most rows (the only
// one when there is one), ties broken by name.
func targetFamily(attack []payloadRow) string {
	count := map[string]int{}
	for _, r := range attack {
		count[r.Type]++
	}
	types := make([]string, 0, len(count))
	for t := range count {
		types = append(types, t)
	}
	sort.Slice(types, func(i, j int) bool {
		if count[types[i]] != count[types[j]] {
			return count[types[i]] > count[types[j]]
		}
		return types[i] < types[j]
	})
	if len(types) > 1 {
		return types[1]
	}
	return types[0]
}

func wordsOf(rows []payloadRow, k int) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rows {
		for _, w := range strings.Fields(r.Payload) {
			if len(w) >= 3 && !seen[w] && len(out) < k {
				seen[w] = true
				out = append(out, w)
			}
		}
	}
	sort.Strings(out)
	return out
}

type obfuscation struct {
	name string
	f    func(string, *rand.Rand) string
}

// obfuscations are the evasions a payload attacker uses: none (the
// reference), random case, URL encoding (single and double), SQL comments
// for spaces, odd whitespace, and mimicry (benign words appended).
func obfuscations(benign []string) []obfuscation {
	return []obfuscation{
		{"none", func(s string, _ *rand.Rand) string { return s }},
		{"case", func(s string, r *rand.Rand) string {
			b := []rune(s)
			for i, c := range b {
				if r.IntN(2) == 0 {
					b[i] = []rune(strings.ToUpper(string(c)))[0]
				} else {
					b[i] = []rune(strings.ToLower(string(c)))[0]
				}
			}
			return string(b)
		}},
		{"url-encoding", func(s string, _ *rand.Rand) string { return percentAll(s) }},
		{"double-url-encoding", func(s string, _ *rand.Rand) string { return percentAll(percentAll(s)) }},
		{"sql-comments", func(s string, _ *rand.Rand) string { return strings.ReplaceAll(s, " ", "/**/") }},
		{"whitespace", func(s string, r *rand.Rand) string {
			ws := []string{"\t", "\n", "  ", "\r\n", " \t "}
			var b strings.Builder
			for _, c := range s {
				if c == ' ' {
					b.WriteString(ws[r.IntN(len(ws))])
				} else {
					b.WriteRune(c)
				}
			}
			return b.String()
		}},
		{"mimicry-benign-words", func(s string, r *rand.Rand) string {
			if len(benign) == 0 {
				return s
			}
			var b strings.Builder
			b.WriteString(s)
			for range 8 {
				b.WriteString(" ")
				b.WriteString(benign[r.IntN(len(benign))])
			}
			return b.String()
		}},
	}
}

// percentAll percent-encodes every byte that is not a letter or digit.
func percentAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// payloadOOD holds each attack type with at least 10 rows out of the
// classifier and guard's training (70% of the other rows) and measures the
// production guard's flag rate on it and on the other 30%: the shape guard
// (guard.Guard on modelreg.PayloadGuardVector) or an unseen-feature share
// above the cut calibrated, as `rampart model train` does, at the
// 1-modelreg.GuardTargetRate quantile of held-out inputs the model scores
// benign (the even-numbered in-distribution rows; false flags are counted
// on the odd-numbered ones).
func payloadOOD(ctx context.Context, rows []payloadRow, seed int64, res *Result, progress io.Writer) error {
	held := heldOutCategories(rows, func(r payloadRow) (string, bool) { return r.Type, r.Attack })
	res.OODHeldOut = map[string][2]float64{}
	var sumF, sumFP float64
	for _, h := range held {
		if err := ctx.Err(); err != nil {
			return err
		}
		var train, calib, in, out []payloadRow
		k := 0
		for _, r := range rows {
			switch {
			case r.Attack && r.Type == h:
				out = append(out, r)
			case k%10 < 7:
				train = append(train, r)
				k++
			case k%2 == 0:
				calib = append(calib, r)
				k++
			default:
				in = append(in, r)
				k++
			}
		}
		c, err := trainPayload(train)
		if err != nil {
			return err
		}
		g, err := fitPayloadGuard(train, seed)
		if err != nil {
			return fmt.Errorf("input guard without %s: %w", h, err)
		}
		var us []float64
		for _, r := range calib {
			if s := c.Score(r.Payload); !s.Attack {
				us = append(us, s.Unseen)
			}
		}
		cut := math.Min(quantile(us, 1-modelreg.GuardTargetRate), 0.999)
		rate := func(rs []payloadRow) (float64, error) {
			n := 0
			for _, r := range rs {
				flagged, err := guardFlags(g, r.Payload)
				if err != nil {
					return 0, err
				}
				if flagged || c.Score(r.Payload).Unseen > cut {
					n++
				}
			}
			return float64(n) / float64(max(1, len(rs))), nil
		}
		f, err := rate(out)
		if err != nil {
			return err
		}
		fp, err := rate(in)
		if err != nil {
			return err
		}
		fmt.Fprintf(progress, "  input guard, %s held out (%d rows): flagged %.4f, in-distribution false flags %.4f\n", h, len(out), f, fp)
		res.OODHeldOut[h] = [2]float64{f, fp}
		sumF += f
		sumFP += fp
	}
	if len(held) > 0 {
		res.OODFlagRate, res.OODFalse = sumF/float64(len(held)), sumFP/float64(len(held))
	}
	res.Notes = append(res.Notes, "ood rates are means over held-out attack types (each type held out of the classifier's and guard's training in turn); the guard is the production one: input shape guard or unseen-feature share")
	return nil
}
