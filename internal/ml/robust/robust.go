// Package robust holds poisoning-robust training helpers (issue 4): a
// training window leaves out what production already distrusts (events
// tied to alerts, entities with a malicious verdict, suppressed activity),
// caps any one entity's share so a single source cannot own a baseline,
// trims the rows a first fit finds most anomalous, offers robust
// estimators (trimmed mean, median-of-means, median/MAD), and raises a
// drift alarm when a new window differs from the last beyond a bound.
// What is left out is recorded with counts and reasons for the lineage.
package robust

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/rampart-ids/rampart/internal/ml/model"
)

// Exclusion reasons as recorded in model lineage.
const (
	ReasonAlert      = "alert-linked event"
	ReasonVerdict    = "entity with a malicious verdict"
	ReasonSuppressed = "suppressed activity"
	ReasonGuard      = "model-input-anomaly event"
	ReasonEntityCap  = "entity share cap"
	ReasonTrimmed    = "trimmed as most anomalous"
)

// Exclusions are what production knows when a training window is cut:
// event ids tied to alerts, entity keys ("kind:value") with a malicious
// verdict, and event ids of suppressed activity.
type Exclusions struct {
	AlertEvents       map[string]bool
	MaliciousEntities map[string]bool
	SuppressedEvents  map[string]bool
	// GuardEvents are event ids the live model's input guard reported as
	// outside its training support (model-input-anomaly signals).
	GuardEvents map[string]bool
}

// Item is what Filter needs to know about one training row.
type Item struct {
	EventID  string
	Entities []string // entity keys, "kind:value"
}

// Report counts what a filter left out, per reason, in a fixed order.
type Report struct {
	counts map[string]int
	order  []string
}

func (r *Report) add(reason string, n int) {
	if n <= 0 {
		return
	}
	if r.counts == nil {
		r.counts = map[string]int{}
	}
	if _, ok := r.counts[reason]; !ok {
		r.order = append(r.order, reason)
	}
	r.counts[reason] += n
}

// Count is the rows left out for reason.
func (r *Report) Count(reason string) int { return r.counts[reason] }

// Total is every row left out.
func (r *Report) Total() int {
	t := 0
	for _, n := range r.counts {
		t += n
	}
	return t
}

// Merge adds o's counts to r.
func (r *Report) Merge(o Report) {
	for _, k := range o.order {
		r.add(k, o.counts[k])
	}
}

// Lineage is the report as model lineage exclusions.
func (r *Report) Lineage() []model.Exclusion {
	out := make([]model.Exclusion, 0, len(r.order))
	for _, k := range r.order {
		out = append(out, model.Exclusion{Reason: k, Rows: r.counts[k]})
	}
	return out
}

// Filter keeps the rows none of the exclusions touch. Each left-out row is
// counted once, under the first reason that applies (alert, verdict,
// suppressed, input guard).
func Filter[T any](rows []T, item func(T) Item, ex Exclusions) ([]T, Report) {
	var rep Report
	var a, v, s, g int
	kept := make([]T, 0, len(rows))
	for _, r := range rows {
		it := item(r)
		switch {
		case it.EventID != "" && ex.AlertEvents[it.EventID]:
			a++
		case anyIn(it.Entities, ex.MaliciousEntities):
			v++
		case it.EventID != "" && ex.SuppressedEvents[it.EventID]:
			s++
		case it.EventID != "" && ex.GuardEvents[it.EventID]:
			g++
		default:
			kept = append(kept, r)
		}
	}
	rep.add(ReasonAlert, a)
	rep.add(ReasonVerdict, v)
	rep.add(ReasonSuppressed, s)
	rep.add(ReasonGuard, g)
	return kept, rep
}

func anyIn(keys []string, set map[string]bool) bool {
	for _, k := range keys {
		if set[k] {
			return true
		}
	}
	return false
}

// CapEntityShare keeps at most maxShare of the rows (rounded up, at least
// one) per entity; an entity's excess is thinned evenly over its rows so
// the kept ones span its whole window. Rows with entity "" are not capped.
func CapEntityShare[T any](rows []T, entity func(T) string, maxShare float64) ([]T, Report, error) {
	var rep Report
	if maxShare <= 0 || maxShare > 1 {
		return nil, rep, fmt.Errorf("capping entity share: share %v not in (0,1]", maxShare)
	}
	limit := max(1, int(math.Ceil(maxShare*float64(len(rows)))))
	per := map[string]int{}
	for _, r := range rows {
		if e := entity(r); e != "" {
			per[e]++
		}
	}
	seen := map[string]int{}
	kept := make([]T, 0, len(rows))
	dropped := 0
	for _, r := range rows {
		e := entity(r)
		n := per[e]
		if e == "" || n <= limit {
			kept = append(kept, r)
			continue
		}
		// Keep the i-th of n rows when it crosses a multiple of n/limit.
		i := seen[e]
		seen[e]++
		if (i*limit)/n != ((i+1)*limit)/n {
			kept = append(kept, r)
		} else {
			dropped++
		}
	}
	rep.add(ReasonEntityCap, dropped)
	return kept, rep, nil
}

// Trim drops the frac of rows with the highest scores (ties broken by
// position, so the result is deterministic).
func Trim[T any](rows []T, scores []float64, frac float64) ([]T, Report, error) {
	var rep Report
	if len(scores) != len(rows) {
		return nil, rep, fmt.Errorf("trimming: %d scores for %d rows", len(scores), len(rows))
	}
	if frac < 0 || frac >= 1 {
		return nil, rep, fmt.Errorf("trimming: fraction %v not in [0,1)", frac)
	}
	n := int(math.Floor(frac * float64(len(rows))))
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	drop := make([]bool, len(rows))
	for _, i := range idx[:n] {
		drop[i] = true
	}
	kept := make([]T, 0, len(rows)-n)
	for i, r := range rows {
		if !drop[i] {
			kept = append(kept, r)
		}
	}
	rep.add(ReasonTrimmed, n)
	return kept, rep, nil
}

// ErrEmpty means an estimator got no values.
var ErrEmpty = errors.New("no values")

// Median is the sample median.
func Median(xs []float64) (float64, error) {
	if len(xs) == 0 {
		return 0, ErrEmpty
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m], nil
	}
	return (s[m-1] + s[m]) / 2, nil
}

// MAD is the median absolute deviation from the median (unscaled).
func MAD(xs []float64) (float64, error) {
	m, err := Median(xs)
	if err != nil {
		return 0, err
	}
	d := make([]float64, len(xs))
	for i, x := range xs {
		d[i] = math.Abs(x - m)
	}
	return Median(d)
}

// TrimmedMean drops frac of the values from each end and averages the rest.
func TrimmedMean(xs []float64, frac float64) (float64, error) {
	if len(xs) == 0 {
		return 0, ErrEmpty
	}
	if frac < 0 || frac >= 0.5 {
		return 0, fmt.Errorf("trimmed mean: fraction %v not in [0,0.5)", frac)
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	k := int(math.Floor(frac * float64(len(s))))
	s = s[k : len(s)-k]
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	return sum / float64(len(s)), nil
}

// MedianOfMeans splits xs into k interleaved blocks (value i goes to block
// i mod k), averages each and returns the median of the block means: a
// few extreme values can spoil only the blocks they land in.
func MedianOfMeans(xs []float64, k int) (float64, error) {
	if len(xs) == 0 {
		return 0, ErrEmpty
	}
	if k < 1 {
		return 0, fmt.Errorf("median of means: %d blocks", k)
	}
	k = min(k, len(xs))
	sums, ns := make([]float64, k), make([]float64, k)
	for i, x := range xs {
		sums[i%k] += x
		ns[i%k]++
	}
	for b := range sums {
		sums[b] /= ns[b]
	}
	return Median(sums)
}
