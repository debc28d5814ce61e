package modelreg

// Champion/challenger (issue 4): Promote scores the active version and a
// challenger on held-out labeled data in the kind's layout and applies the
// gate of ml/robust (recall on known-bad may fall by at most a bound; the
// alert volume must stay within a budget). Every promotion, refusal and
// rollback is appended with its numbers to <dir>/promotions.jsonl, which
// Rollback reads to find the version a promotion replaced.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-ids/rampart/internal/audit"

	"github.com/rampart-ids/rampart/internal/ml/dataset"
	"github.com/rampart-ids/rampart/internal/ml/model"
	"github.com/rampart-ids/rampart/internal/ml/payload"
	"github.com/rampart-ids/rampart/internal/ml/robust"
	"github.com/rampart-ids/rampart/internal/ml/seq"
)

// PromotionsFile is the decision log inside the registry folder.
const PromotionsFile = "promotions.jsonl"

// PromoteOptions configure Promote.
type PromoteOptions struct {
	// Data is a labeled folder in the kind's layout. Its held-out file is
	// used: payload_test.csv, KDDTest+.txt (else KDDTest-21.txt), or the
	// *normal* / *abnormal* session files of an HDFS folder. A training file
	// is used only when no test file exists, and the decision says so.
	Data string
	// Challenger is the version to promote; "" picks the newest stored
	// version that is not active.
	Challenger string
	Bounds     *robust.Bounds // nil: robust.DefaultBounds()
	Now        time.Time
	Actor      string
}

// Promote evaluates the challenger against the active version of name and
// activates it when it passes the gate. A refusal returns the logged
// Decision and an error wrapping robust.ErrRefused.
func (r *Registry) Promote(ctx context.Context, name string, o PromoteOptions) (robust.Decision, error) {
	b := robust.DefaultBounds()
	if o.Bounds != nil {
		b = *o.Bounds
	}
	champV, err := r.Active(name)
	if err != nil {
		return robust.Decision{}, err
	}
	challV := o.Challenger
	if challV == "" {
		vs, err := r.versions(name)
		if err != nil {
			return robust.Decision{}, err
		}
		for i := len(vs) - 1; i >= 0 && challV == ""; i-- {
			if vs[i] != champV {
				challV = vs[i]
			}
		}
		if challV == "" {
			return robust.Decision{}, fmt.Errorf("promoting %s: no stored version besides the active %s: %w", name, champV, ErrNotFound)
		}
	}
	if challV == champV {
		return robust.Decision{}, fmt.Errorf("promoting %s@%s: it is already active", name, challV)
	}
	champ, err := r.Load(name, champV)
	if err != nil {
		return robust.Decision{}, err
	}
	chall, err := r.Load(name, challV)
	if err != nil {
		return robust.Decision{}, err
	}
	if champ.Body.Kind != chall.Body.Kind {
		return robust.Decision{}, fmt.Errorf("promoting %s@%s: kind %s differs from the active version's %s", name, challV, chall.Body.Kind, champ.Body.Kind)
	}
	ev, err := loadEvalData(champ.Body.Kind, o.Data)
	if err != nil {
		return robust.Decision{}, fmt.Errorf("promoting %s: %w", name, err)
	}
	cs, err := ev.score(ctx, champ)
	if err != nil {
		return robust.Decision{}, fmt.Errorf("scoring %s@%s: %w", name, champV, err)
	}
	hs, err := ev.score(ctx, chall)
	if err != nil {
		return robust.Decision{}, fmt.Errorf("scoring %s@%s: %w", name, challV, err)
	}
	d, err := robust.Decide(name, cs, hs, b)
	if err != nil {
		return robust.Decision{}, fmt.Errorf("promoting %s: %w", name, err)
	}
	d.Time, d.Actor, d.Data, d.DataSHA256 = o.Now.UTC(), o.Actor, ev.file, ev.sha
	if ev.trainingFile {
		d.Reason += "; note: no held-out test file, scored on the training file"
	}
	// The audit record comes first: no promotion takes effect unaudited.
	if err := r.audit(ctx, d); err != nil {
		return d, err
	}
	if d.Action == robust.ActionPromote {
		if err := r.Activate(name, challV); err != nil {
			return d, err
		}
	}
	if err := r.logDecision(d); err != nil {
		return d, err
	}
	if d.Action == robust.ActionRefuse {
		return d, fmt.Errorf("promoting %s@%s: %w: %s", name, challV, robust.ErrRefused, d.Reason)
	}
	return d, nil
}

// Rollback re-activates the version the last promotion of name replaced.
func (r *Registry) Rollback(name string, now time.Time, actor string) (robust.Decision, error) {
	cur, err := r.Active(name)
	if err != nil {
		return robust.Decision{}, err
	}
	ds, err := r.Decisions(name)
	if err != nil {
		return robust.Decision{}, err
	}
	d, err := robust.RollbackTarget(ds, name, cur)
	if err != nil {
		return robust.Decision{}, err
	}
	d.Time, d.Actor = now.UTC(), actor
	if err := r.audit(context.Background(), d); err != nil {
		return robust.Decision{}, err
	}
	if err := r.Activate(name, d.To); err != nil {
		return robust.Decision{}, fmt.Errorf("rolling back %s to %s: %w", name, d.To, err)
	}
	return d, r.logDecision(d)
}

// Decisions returns the logged decisions for name ("" for all), oldest first.
func (r *Registry) Decisions(name string) ([]robust.Decision, error) {
	return robust.ReadDecisions(filepath.Join(r.dir, PromotionsFile), name)
}

// Auditor appends records to the hash-chained audit log (*audit.Log).
type Auditor interface {
	Record(ctx context.Context, recs ...audit.Record) ([]audit.Record, error)
}

// SetAuditor makes every promotion, refusal and rollback also an audit
// record, appended before the decision takes effect. Without one,
// decisions go to promotions.jsonl only.
func (r *Registry) SetAuditor(a Auditor) { r.auditor = a }

// Audit actions of model decisions (promotion and rollback are audit's own).
const ActionModelPromotionRefused = "model_promotion_refused"

// AuditRecord is the audit record of a decision: the versions and every
// number it was made on (recall on known-bad before and after, alerts
// against the budget, the bounds, the evaluation data's hash).
func AuditRecord(ctx context.Context, d robust.Decision) audit.Record {
	action := audit.ActionModelPromoted
	switch d.Action {
	case robust.ActionRefuse:
		action = ActionModelPromotionRefused
	case robust.ActionRollback:
		action = audit.ActionModelRolledBack
	}
	v := map[string]string{"model": d.Name, "from": d.From, "to": d.To}
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 4, 64) }
	for _, s := range []struct {
		role string
		sc   *robust.Score
	}{{"champion", d.Champion}, {"challenger", d.Challenger}} {
		if s.sc == nil {
			continue
		}
		v[s.role] = s.sc.Version
		v[s.role+"_hash"] = s.sc.Hash
		v[s.role+"_recall"] = f(s.sc.Recall)
		v[s.role+"_caught"] = fmt.Sprintf("%d/%d", s.sc.Caught, s.sc.Bad)
		v[s.role+"_alerts"] = fmt.Sprintf("%d/%d", s.sc.Alerts, s.sc.N)
	}
	if d.Bounds != nil {
		v["max_recall_drop"], v["max_alert_growth"] = f(d.Bounds.MaxRecallDrop), f(d.Bounds.MaxAlertGrowth)
	}
	if d.AlertBudget > 0 {
		v["alert_budget"] = strconv.Itoa(d.AlertBudget)
	}
	if d.Data != "" {
		v["data"] = filepath.Base(d.Data)
	}
	for k, s := range v {
		if len(s) > audit.MaxVersionText {
			v[k] = s[:audit.MaxVersionText]
		}
	}
	if d.Actor != "" {
		ctx = audit.WithActor(ctx, d.Actor)
	}
	return audit.Change(ctx, action, "model", d.Name, strings.TrimPrefix(d.DataSHA256, "sha256:"), v,
		fmt.Sprintf("%s %s: active %s → %s; %s", d.Action, d.Name, d.From, d.To, d.Reason))
}

func (r *Registry) audit(ctx context.Context, d robust.Decision) error {
	if r.auditor == nil {
		return nil
	}
	if _, err := r.auditor.Record(ctx, AuditRecord(ctx, d)); err != nil {
		return fmt.Errorf("recording the %s of %s in the audit log (nothing changed): %w", d.Action, d.Name, err)
	}
	return nil
}

func (r *Registry) logDecision(d robust.Decision) error {
	if err := os.MkdirAll(r.dir, 0o750); err != nil {
		return fmt.Errorf("logging model decision: %w", err)
	}
	return robust.AppendDecision(filepath.Join(r.dir, PromotionsFile), d)
}

// evalData is labeled evaluation data for one kind.
type evalData struct {
	file, sha    string
	trainingFile bool
	score        func(ctx context.Context, a *model.Artifact) (robust.Score, error)
}

// labeledFile is the first of a kind's held-out files found, read with
// its known-bad flags and content hash.
type labeledFile[T any] struct {
	path  string
	index int // position in the preference list: later ones are training files
	rows  []T
	sha   string
	bad   []bool
}

func readLabeled[T any](dir string, read func(string, int) ([]T, error), isBad func(T) bool, names ...string) (labeledFile[T], error) {
	var lf labeledFile[T]
	if lf.path, lf.index = firstFile(dir, names...); lf.path == "" {
		return lf, fmt.Errorf("%s holds no %s", dir, strings.Join(names, " or "))
	}
	var err error
	if lf.rows, err = read(lf.path, maxRows); err != nil {
		return lf, err
	}
	if lf.sha, err = fileSHA(lf.path); err != nil {
		return lf, err
	}
	lf.bad = make([]bool, len(lf.rows))
	for j, r := range lf.rows {
		lf.bad[j] = isBad(r)
	}
	return lf, nil
}

func firstFile(dir string, names ...string) (string, int) {
	for i, n := range names {
		p := filepath.Join(dir, n)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, i
		}
	}
	return "", -1
}

func fileSHA(paths ...string) (string, error) {
	h := sha256.New()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return "", fmt.Errorf("hashing %s: %w", p, err)
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("hashing %s: %w", p, err)
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// tally scores n records: bad[i] says record i is known-bad, alert(i)
// whether the model alerts on it.
func tally(ctx context.Context, a *model.Artifact, bad []bool, alert func(i int) (bool, error)) (robust.Score, error) {
	s := robust.Score{Version: a.Body.Version, Hash: a.Hash, N: len(bad)}
	for i, b := range bad {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return s, err
			}
		}
		hit, err := alert(i)
		if err != nil {
			return s, fmt.Errorf("record %d: %w", i+1, err)
		}
		if b {
			s.Bad++
		}
		if hit {
			s.Alerts++
			if b {
				s.Caught++
			}
		}
	}
	s.Tally()
	return s, nil
}

func loadEvalData(kind, dir string) (*evalData, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("evaluation data %q: not a readable folder", dir)
	}
	switch kind {
	case "payload-lr":
		lf, err := readLabeled(dir, dataset.ReadPayloads, func(r dataset.PayloadRow) bool { return r.Attack }, "payload_test.csv", "payload_train.csv")
		if err != nil {
			return nil, err
		}
		p, i, rows, sha, bad := lf.path, lf.index, lf.rows, lf.sha, lf.bad
		return &evalData{file: p, sha: sha, trainingFile: i > 0, score: func(ctx context.Context, a *model.Artifact) (robust.Score, error) {
			var c payload.Classifier
			if err := a.Params(&c); err != nil {
				return robust.Score{}, err
			}
			if c.Model == nil {
				return robust.Score{}, errors.New("payload model has no classifier")
			}
			return tally(ctx, a, bad, func(j int) (bool, error) { return c.Score(rows[j].Payload).Attack, nil })
		}}, nil
	case "nsl-kdd":
		lf, err := readLabeled(dir, dataset.ReadKDD, func(r dataset.KDDRow) bool { return r.Attack }, "KDDTest+.txt", "KDDTest-21.txt", "KDDTrain+_20Percent.txt")
		if err != nil {
			return nil, err
		}
		p, i, rows, sha, bad := lf.path, lf.index, lf.rows, lf.sha, lf.bad
		return &evalData{file: p, sha: sha, trainingFile: i > 1, score: func(ctx context.Context, a *model.Artifact) (robust.Score, error) {
			var kp KDDParams
			if err := a.Params(&kp); err != nil {
				return robust.Score{}, err
			}
			if kp.LR == nil || len(kp.Mean) != len(kp.SD) {
				return robust.Score{}, errors.New("nsl-kdd model params incomplete")
			}
			z := &dataset.KDDFeaturiser{Cats: map[int]map[string]int{}, Mean: kp.Mean, SD: kp.SD, Names: kp.Features}
			for _, j := range dataset.KDDCategorical {
				vals := kp.Categories[dataset.KDDColumns[j]]
				for _, slot := range vals {
					if slot < 0 || slot >= len(kp.Features) {
						return robust.Score{}, fmt.Errorf("nsl-kdd model: category slot %d out of range", slot)
					}
				}
				z.Cats[j] = vals
			}
			thr := 0.5
			if t, ok := a.Body.Thresholds["lr"]; ok {
				thr = t
			}
			return tally(ctx, a, bad, func(j int) (bool, error) {
				v, err := z.Raw(rows[j])
				if err != nil {
					return false, err
				}
				return kp.LR.Score(z.Sparse(v)) >= thr, nil
			})
		}}, nil
	case "seq":
		abnormal, normal, err := dataset.HDFSFiles(dir)
		if err != nil {
			return nil, err
		}
		if len(abnormal) == 0 {
			return nil, fmt.Errorf("%s holds no *abnormal* session file (known-bad records)", dir)
		}
		var sessions [][]string
		var bad []bool
		var paths []string
		for _, n := range append(append([]string(nil), abnormal...), normal...) {
			p := filepath.Join(dir, n)
			ss, err := dataset.ReadSessions(p, maxRows)
			if err != nil {
				return nil, err
			}
			ab := strings.Contains(n, "abnormal")
			for _, s := range ss {
				sessions, bad = append(sessions, s), append(bad, ab)
			}
			paths = append(paths, p)
		}
		sha, err := fileSHA(paths...)
		if err != nil {
			return nil, err
		}
		return &evalData{file: strings.Join(paths, ","), sha: sha, score: func(ctx context.Context, a *model.Artifact) (robust.Score, error) {
			var m seq.Model
			if err := a.Params(&m); err != nil {
				return robust.Score{}, err
			}
			return tally(ctx, a, bad, func(j int) (bool, error) {
				res, err := m.Score(sessions[j])
				return res.Anomalous, err
			})
		}}, nil
	}
	return nil, fmt.Errorf("no labeled evaluation for model kind %q: promotion needs known-bad records", kind)
}
