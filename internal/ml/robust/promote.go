package robust

// Champion/challenger gate (issue 4): a challenger model replaces the live
// one only when, on held-out labeled data, its recall on known-bad records
// has not fallen by more than a bound and its alert volume stays within a
// budget. Decide is pure; the decision log (JSON lines) records every
// promotion, refusal and rollback with its numbers, and Rollback finds the
// version a promotion replaced. The model registry scores both models on
// the data (that is kind-specific) and calls these.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"time"
)

// Default promotion bounds.
const (
	DefaultMaxRecallDrop  = 0.02 // two recall points on known-bad records
	DefaultMaxAlertGrowth = 0.10 // 10% more alerts than the champion
)

// Decision actions.
const (
	ActionPromote  = "promote"
	ActionRefuse   = "refuse"
	ActionRollback = "rollback"
)

// ErrRefused means a promotion was refused; the Decision says why.
var ErrRefused = errors.New("promotion refused")

// ErrNoPromotion means no logged promotion can be rolled back.
var ErrNoPromotion = errors.New("no promotion to roll back")

// maxLogBytes bounds a decision log read.
const maxLogBytes = 64 << 20

// Score is one model's numbers on the evaluation data.
type Score struct {
	Version   string  `json:"version"`
	Hash      string  `json:"hash"`
	Bad       int     `json:"bad"`    // known-bad records
	Caught    int     `json:"caught"` // of them, alerted on
	Recall    float64 `json:"recall"`
	Alerts    int     `json:"alerts"` // alerts over all N records
	N         int     `json:"n"`
	AlertRate float64 `json:"alert_rate"`
}

// Tally fills Recall and AlertRate from the counts.
func (s *Score) Tally() {
	s.Recall, s.AlertRate = 0, 0
	if s.Bad > 0 {
		s.Recall = float64(s.Caught) / float64(s.Bad)
	}
	if s.N > 0 {
		s.AlertRate = float64(s.Alerts) / float64(s.N)
	}
}

// Bounds are the promotion gate.
type Bounds struct {
	// MaxRecallDrop bounds champion recall − challenger recall.
	MaxRecallDrop float64 `json:"max_recall_drop"`
	// MaxAlertGrowth: the challenger may raise at most the champion's
	// alerts times (1 + MaxAlertGrowth), and always one more.
	MaxAlertGrowth float64 `json:"max_alert_growth"`
}

// DefaultBounds returns the default gate.
func DefaultBounds() Bounds {
	return Bounds{MaxRecallDrop: DefaultMaxRecallDrop, MaxAlertGrowth: DefaultMaxAlertGrowth}
}

// Decision is one promotion, refusal or rollback, as logged.
type Decision struct {
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor,omitempty"`
	Action string    `json:"action"`
	Name   string    `json:"name"`
	From   string    `json:"from"` // active version before
	To     string    `json:"to"`   // active version after (From on refusal)
	// Challenger and Champion are the scores the decision was made on.
	Challenger *Score  `json:"challenger,omitempty"`
	Champion   *Score  `json:"champion,omitempty"`
	Bounds     *Bounds `json:"bounds,omitempty"`
	// AlertBudget is the most alerts the challenger could raise and pass.
	AlertBudget int `json:"alert_budget,omitempty"`
	// Data names the evaluation data (path and content hash).
	Data       string `json:"data,omitempty"`
	DataSHA256 string `json:"data_sha256,omitempty"`
	Reason     string `json:"reason"`
}

// Decide applies the gate to champion and challenger scores on the same
// data. The result's Action is ActionPromote or ActionRefuse; To is the
// challenger's version only on promotion.
func Decide(name string, champ, chall Score, b Bounds) (Decision, error) {
	if b.MaxRecallDrop < 0 || b.MaxRecallDrop > 1 || b.MaxAlertGrowth < 0 || math.IsNaN(b.MaxRecallDrop) || math.IsNaN(b.MaxAlertGrowth) {
		return Decision{}, fmt.Errorf("promotion bounds out of range: %+v", b)
	}
	if champ.N != chall.N || champ.Bad != chall.Bad {
		return Decision{}, fmt.Errorf("champion (%d records, %d bad) and challenger (%d, %d) were not scored on the same data", champ.N, champ.Bad, chall.N, chall.Bad)
	}
	champ.Tally()
	chall.Tally()
	d := Decision{Action: ActionRefuse, Name: name, From: champ.Version, To: champ.Version, Champion: &champ, Challenger: &chall, Bounds: &b}
	drop := champ.Recall - chall.Recall
	budget := max(int(math.Floor(float64(champ.Alerts)*(1+b.MaxAlertGrowth))), champ.Alerts+1)
	d.AlertBudget = budget
	switch {
	case chall.Bad == 0:
		d.Reason = "the evaluation data holds no known-bad records: recall cannot be compared"
	case drop > b.MaxRecallDrop+1e-12:
		d.Reason = fmt.Sprintf("recall on known-bad fell %.2f points (%.4f → %.4f), bound %.2f", 100*drop, champ.Recall, chall.Recall, 100*b.MaxRecallDrop)
	case chall.Alerts > budget:
		d.Reason = fmt.Sprintf("alert volume %d exceeds the budget %d (champion %d + %.0f%%)", chall.Alerts, budget, champ.Alerts, 100*b.MaxAlertGrowth)
	default:
		d.Action, d.To = ActionPromote, chall.Version
		d.Reason = fmt.Sprintf("recall %.4f → %.4f (bound −%.2f points), alerts %d → %d (budget %d)", champ.Recall, chall.Recall, 100*b.MaxRecallDrop, champ.Alerts, chall.Alerts, budget)
	}
	return d, nil
}

// AppendDecision appends d to the JSON-lines log at path (created 0640).
func AppendDecision(path string, d Decision) error {
	line, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encoding model decision: %w", err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("logging model decision: %w", err)
	}
	_, err = f.Write(append(line, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("logging model decision: %w", err)
	}
	return nil
}

// ReadDecisions reads the log at path, oldest first, keeping name's
// decisions ("" keeps all). A missing log is empty.
func ReadDecisions(path, name string) ([]Decision, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading model decisions: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, maxLogBytes))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []Decision
	for line := 1; sc.Scan(); line++ {
		var d Decision
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			return nil, fmt.Errorf("reading model decisions %s line %d: %w", path, line, err)
		}
		if name == "" || d.Name == name {
			out = append(out, d)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading model decisions %s: %w", path, err)
	}
	return out, nil
}

// RollbackTarget finds the version to re-activate for name, whose active
// version is active: promotions stack up and each rollback undoes the
// latest one not yet undone, whose result must be the active version. The
// returned Decision is the rollback to log once it is done.
func RollbackTarget(ds []Decision, name, active string) (Decision, error) {
	var stack []Decision
	for _, d := range ds {
		if d.Name != name {
			continue
		}
		switch d.Action {
		case ActionPromote:
			stack = append(stack, d)
		case ActionRollback:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	if len(stack) == 0 {
		return Decision{}, fmt.Errorf("rolling back %s: no promotion left to undo: %w", name, ErrNoPromotion)
	}
	p := stack[len(stack)-1]
	if p.To != active {
		return Decision{}, fmt.Errorf("rolling back %s: the last promotion made %s active but %s is (changed outside promote): %w", name, p.To, active, ErrNoPromotion)
	}
	// The undone promotion's numbers travel with the rollback.
	return Decision{Action: ActionRollback, Name: name, From: active, To: p.From,
		Champion: p.Champion, Challenger: p.Challenger, Bounds: p.Bounds, AlertBudget: p.AlertBudget, Data: p.Data, DataSHA256: p.DataSHA256,
		Reason: fmt.Sprintf("undoes the promotion of %s over %s at %s (%s)", active, p.From, p.Time.UTC().Format(time.RFC3339), p.Reason)}, nil
}
