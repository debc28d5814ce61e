// Package flow scores network flows (Zeek conn records, or any flow log with
// a connection state and byte and packet counts) for failed, one-sided and
// scan-like behaviour, without labels.
//
// Why not plain rarity: an isolation forest on raw flows ranks what is rare,
// and under a scan or brute force the attack flows are the bulk of a capture
// (in the Stratosphere CTU-Normal days 7,818 attack flows against 3,348
// benign ones), so rarity ranks the attack LOW. Instead each flow gets a set
// of oriented features whose suspicious direction is known from how scans
// and failed probing look on the wire, not learned from this capture's
// labels; every feature is a within-capture percentile, so no scale or
// threshold is fitted to any capture:
//
//   - failed_state: the Zeek conn_state graded by how far the connection got
//     (S0, REJ, RSTOS0, RSTRH, SH, SHR: never established = 1; OTH, no SYN
//     seen = 0.5; RSTO, RSTR, established then reset = 0.25; S1, S2, S3, SF = 0).
//   - no_reply: the responder sent no packet at all.
//   - payload_bytes (fewer is more suspicious) and duration (shorter is
//     more suspicious): probes carry little and end at once.
//   - src_failure_ratio: the source's failed flows over its flows + 1 (the +1
//     keeps a one-flow source from looking certain), and src_failed_endpoints:
//     distinct (host, port, proto) the source failed on, the fan-out a
//     horizontal or vertical scan leaves.
//   - dst_failed_sources and dst_failed_ports: distinct sources and distinct
//     ports that failed against the flow's responder, the fan-in a scanned
//     host shows even when each scanner sends one packet (distributed scans).
//   - endpoint_no_reply: share of flows to the responder's (host, port,
//     proto) that went unanswered (over flows + 1): probes hit closed ports.
//   - isolation: a one-sided isolation forest on those features, each clipped
//     from below at the capture's median, so a flow is isolated only for
//     being extreme in the suspicious direction (a busy, healthy client with
//     a large fan-out of answered flows is not).
//
// A "failed" flow is one with no reply or a failed_state of 1. The score is
// the mean of the members' percentile ranks (rank averaging: no member's
// scale dominates), in [0,1]. Nothing reads addresses as local or remote or
// connection direction: an address is only a key to aggregate behaviour on.
// The method is deterministic for Config.Seed.
package flow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/rampart-ids/rampart/internal/ml"
	"github.com/rampart-ids/rampart/internal/ml/iforest"
)

// Flow is one connection record. Zero counts mean none; Zeek's unset "-"
// maps to zero.
type Flow struct {
	Src, Dst             string // originator and responder address
	DstPort              int    // responder port (0..65535; ICMP code or 0)
	Proto                string // tcp, udp, icmp…
	State                string // Zeek conn_state; "" when unknown
	History              string // Zeek history letters; "" when unknown
	Duration             float64
	OrigBytes, RespBytes float64 // payload bytes
	OrigPkts, RespPkts   float64
}

// Config bounds and seeds the scorer.
type Config struct {
	Seed       uint64
	Trees      int // isolation trees
	SampleSize int // rows per tree
	MaxFlows   int // input limit per ScoreFlows call
	TopK       int // contributions per explanation
	// Drop names members (Features or "isolation") left out of the average:
	// for ablations only.
	Drop []string
}

// DefaultConfig returns the settings used by `rampart eval --suite zeek-flows`.
func DefaultConfig() Config {
	// ScoreFlows allocates about 1.6 KB per flow, explanations included
	// (BenchmarkScoreFlows100k): a million flows stay under 2 GB.
	return Config{Seed: 1, Trees: 100, SampleSize: 256, MaxFlows: 1_000_000, TopK: 3}
}

// Features are the oriented features, in the order of Scored.Features.
var Features = []string{
	"failed_state", "no_reply", "payload_bytes", "duration",
	"src_failure_ratio", "src_failed_endpoints",
	"dst_failed_sources", "dst_failed_ports", "endpoint_no_reply",
}

const isolationMember = "isolation"

// maxFitRows bounds the isolation forest's training rows.
const maxFitRows = 16_384

// flowLevel is how many of Features describe the flow itself.
const flowLevel = 4

// Scored is one flow's outcome.
type Scored struct {
	// Score in [0,1]: the mean percentile of the members; higher is more
	// failed/scan-like. Comparable across calls only as a rank.
	Score float64
	// Raw holds the feature values as a person reads them (bytes, seconds,
	// counts, ratios), in the order of Features, then the isolation score.
	Raw         []float64
	Explanation ml.Explanation
}

// stateFailure grades conn_state: 1 never established, 0.5 no SYN seen
// (midstream or non-TCP oddity), 0.25 established then reset, 0 normal.
var stateFailure = map[string]float64{
	"S0": 1, "REJ": 1, "RSTOS0": 1, "RSTRH": 1, "SH": 1, "SHR": 1,
	"OTH": 0.5, "RSTO": 0.25, "RSTR": 0.25,
	"S1": 0, "S2": 0, "S3": 0, "SF": 0,
}

var stateWords = map[string]string{
	"S0": "half-open (S0: attempt, no reply)", "REJ": "rejected (REJ)",
	"RSTOS0": "reset by the originator after a SYN (RSTOS0)", "RSTRH": "responder SYN-ACK then reset (RSTRH)",
	"SH": "SYN then FIN, no SYN-ACK (SH)", "SHR": "responder SYN-ACK then FIN (SHR)",
	"OTH": "no SYN seen (OTH)", "RSTO": "reset by the originator (RSTO)", "RSTR": "reset by the responder (RSTR)",
}

type srcAgg struct {
	flows, failed int
	endpoints     map[string]struct{}
}

type dstAgg struct {
	sources, ports map[string]struct{}
}

type epAgg struct{ flows, unanswered int }

// ErrInput marks a flow that cannot be scored.
var ErrInput = errors.New("invalid flow")

func validate(i int, f *Flow) error {
	if f.Src == "" || f.Dst == "" {
		return fmt.Errorf("flow %d: empty address: %w", i, ErrInput)
	}
	if f.DstPort < 0 || f.DstPort > 65535 {
		return fmt.Errorf("flow %d: port %d out of range: %w", i, f.DstPort, ErrInput)
	}
	for _, v := range []float64{f.Duration, f.OrigBytes, f.RespBytes, f.OrigPkts, f.RespPkts} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("flow %d: count or duration %v: %w", i, v, ErrInput)
		}
	}
	return nil
}

func noReply(f *Flow) bool { return f.RespPkts == 0 && f.RespBytes == 0 }

func failed(f *Flow) bool { return noReply(f) || stateFailure[f.State] >= 1 }

func grade(state string) float64 {
	if v, ok := stateFailure[state]; ok {
		return v
	}
	return 0.5 // unknown state: neither evidence for nor against
}

// ScoreFlows scores every flow against the others in flows (one capture or
// window). It returns one Scored per flow, in order.
func ScoreFlows(cfg Config, flows []Flow) ([]Scored, error) {
	if cfg.MaxFlows > 0 && len(flows) > cfg.MaxFlows {
		return nil, fmt.Errorf("scoring flows: %d flows exceed the limit of %d", len(flows), cfg.MaxFlows)
	}
	if cfg.Trees < 1 || cfg.SampleSize < 2 {
		return nil, fmt.Errorf("scoring flows: invalid config %+v", cfg)
	}
	for _, d := range cfg.Drop {
		if d != isolationMember && !slices.Contains(Features, d) {
			return nil, fmt.Errorf("scoring flows: Drop names an unknown member %q", d)
		}
	}
	if len(flows) == 0 {
		return nil, nil
	}
	srcs := map[string]*srcAgg{}
	dsts := map[string]*dstAgg{}
	eps := map[string]*epAgg{}
	epKey := func(f *Flow) string { return f.Dst + "\x00" + strconv.Itoa(f.DstPort) + "\x00" + f.Proto }
	for i := range flows {
		f := &flows[i]
		if err := validate(i, f); err != nil {
			return nil, fmt.Errorf("scoring flows: %w", err)
		}
		s := srcs[f.Src]
		if s == nil {
			s = &srcAgg{endpoints: map[string]struct{}{}}
			srcs[f.Src] = s
		}
		d := dsts[f.Dst]
		if d == nil {
			d = &dstAgg{sources: map[string]struct{}{}, ports: map[string]struct{}{}}
			dsts[f.Dst] = d
		}
		k := epKey(f)
		e := eps[k]
		if e == nil {
			e = &epAgg{}
			eps[k] = e
		}
		s.flows++
		e.flows++
		if noReply(f) {
			e.unanswered++
		}
		if failed(f) {
			s.failed++
			s.endpoints[k] = struct{}{}
			d.sources[f.Src] = struct{}{}
			d.ports[strconv.Itoa(f.DstPort)+"/"+f.Proto] = struct{}{}
		}
	}
	n, nf := len(flows), len(Features)
	raw := make([][]float64, n)      // readable values
	oriented := make([][]float64, n) // higher = more suspicious
	for i := range flows {
		f := &flows[i]
		s, d, e := srcs[f.Src], dsts[f.Dst], eps[epKey(f)]
		payload := f.OrigBytes + f.RespBytes
		r := make([]float64, 0, nf+1) // the isolation score is appended last
		r = append(r,
			grade(f.State), b2f(noReply(f)), payload, f.Duration,
			float64(s.failed)/float64(s.flows), float64(len(s.endpoints)),
			float64(len(d.sources)), float64(len(d.ports)), float64(e.unanswered)/float64(e.flows),
		)
		o := []float64{
			r[0], r[1], -math.Log1p(payload), -math.Log1p(f.Duration),
			float64(s.failed) / float64(s.flows+1), math.Log1p(r[5]),
			math.Log1p(r[6]), math.Log1p(r[7]), float64(e.unanswered) / float64(e.flows+1),
		}
		raw[i], oriented[i] = r, o
	}
	// Percentile of every member.
	members := make([][]float64, 0, nf+1)
	col := make([]float64, n)
	for j := 0; j < nf; j++ {
		for i := range oriented {
			col[i] = oriented[i][j]
		}
		members = append(members, percentiles(col))
	}
	iso := make([]float64, n)
	if n >= 2 {
		var err error
		iso, err = isolation(cfg, oriented)
		if err != nil {
			return nil, err
		}
	}
	members = append(members, percentiles(iso))
	names := append(slices.Clone(Features), isolationMember)
	use := make([]bool, len(members))
	used := 0
	for j := range use {
		use[j] = !slices.Contains(cfg.Drop, names[j])
		if use[j] {
			used++
		}
	}
	if used == 0 {
		return nil, errors.New("scoring flows: every member dropped")
	}
	medRaw := make([]float64, nf+1)
	for j := 0; j < nf; j++ {
		for i := range raw {
			col[i] = raw[i][j]
		}
		medRaw[j] = median(col)
	}
	medRaw[nf] = median(append([]float64(nil), iso...))
	out := make([]Scored, n)
	cs := make([]ml.Contribution, nf+1) // reused: topPositive copies
	for i := range flows {
		sum := 0.0
		rv := append(raw[i], iso[i])
		for j, m := range members {
			// Weight: how far above the capture's middle this member puts
			// the flow; only members above it explain a high score, and a
			// dropped member explains nothing.
			w := 0.0
			if use[j] {
				sum += m[i]
				w = m[i] - 0.5
			}
			cs[j] = ml.Contribution{Feature: names[j], Value: rv[j], Baseline: medRaw[j], Weight: w}
		}
		score := sum / float64(used)
		top := topPositive(cs, cfg.TopK)
		out[i] = Scored{Score: score, Raw: rv, Explanation: ml.Explanation{
			Model: "flow-scan", Score: score, Top: top, Sentence: sentence(&flows[i], srcs[flows[i].Src], eps[epKey(&flows[i])], score, top),
		}}
	}
	return out, nil
}

// isolation fits the one-sided forest: every oriented feature is clipped
// from below at its median, so only the suspicious tail can isolate a row.
func isolation(cfg Config, oriented [][]float64) ([]float64, error) {
	n, nf := len(oriented), len(Features)
	med := make([]float64, nf)
	col := make([]float64, n)
	for j := 0; j < nf; j++ {
		for i := range oriented {
			col[i] = oriented[i][j]
		}
		med[j] = median(col)
	}
	rows := make([][]float64, n)
	for i, o := range oriented {
		r := make([]float64, nf)
		for j, v := range o {
			r[j] = math.Max(v, med[j])
		}
		rows[i] = r
	}
	fc := iforest.DefaultConfig()
	fc.Seed, fc.Trees, fc.SampleSize, fc.TargetRate, fc.MaxRows = cfg.Seed, cfg.Trees, cfg.SampleSize, 0.05, 0
	// The trees see SampleSize rows each; Fit also scores every row it is
	// given, so a large capture is fitted on a seeded uniform sample.
	fit := rows
	if len(rows) > maxFitRows {
		rng := rand.New(rand.NewPCG(cfg.Seed, 0xf10))
		fit = make([][]float64, maxFitRows)
		for i, j := range rng.Perm(len(rows))[:maxFitRows] {
			fit[i] = rows[j]
		}
	}
	forest, err := iforest.Fit(fc, Features, fit)
	if err != nil {
		return nil, fmt.Errorf("scoring flows: %w", err)
	}
	// Clipping makes most rows repeat: score each distinct row once.
	out := make([]float64, n)
	seen := map[string]float64{}
	key := make([]byte, 0, 8*nf)
	for i, r := range rows {
		key = key[:0]
		for _, v := range r {
			key = binary.LittleEndian.AppendUint64(key, math.Float64bits(v))
		}
		if s, ok := seen[string(key)]; ok {
			out[i] = s
			continue
		}
		res, err := forest.Score(r)
		if err != nil {
			return nil, fmt.Errorf("scoring flows: %w", err)
		}
		out[i] = res.Score
		seen[string(key)] = res.Score
	}
	return out, nil
}

// percentiles maps values to mid-rank percentiles in [0,1] (ties share the
// mean rank; a constant column is 0.5 everywhere, i.e. no evidence).
func percentiles(v []float64) []float64 {
	n := len(v)
	out := make([]float64, n)
	if n == 1 {
		out[0] = 0.5
		return out
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	for i := 0; i < n; {
		j := i
		for j < n && v[idx[j]] == v[idx[i]] {
			j++
		}
		p := float64(i+j-1) / 2 / float64(n-1)
		for k := i; k < j; k++ {
			out[idx[k]] = p
		}
		i = j
	}
	return out
}

// median sorts v in place.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	m := len(v) / 2
	if len(v)%2 == 1 {
		return v[m]
	}
	return (v[m-1] + v[m]) / 2
}

// topPositive keeps k members with positive weight and a value off the
// median: the strongest
// flow-level one (what this flow did), then the strongest aggregates (what
// its source, destination and port did), then the rest by weight. Ties go
// to the earlier member.
func topPositive(cs []ml.Contribution, k int) []ml.Contribution {
	order := make([]int, len(cs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return cs[order[a]].Weight > cs[order[b]].Weight })
	var out []ml.Contribution
	taken := make([]bool, len(cs))
	take := func(ok func(int) bool, limit int) {
		for _, i := range order {
			if len(out) >= limit || len(out) >= k {
				return
			}
			// A value equal to the capture median is no evidence, even if
			// ties put its percentile above the middle; a failed connection
			// state is a fact about the flow and stays even when failures
			// are the capture's norm.
			atMedian := cs[i].Value == cs[i].Baseline && !(i == 0 && cs[i].Value > 0)
			if !taken[i] && cs[i].Weight > 0 && !atMedian && ok(i) {
				taken[i] = true
				out = append(out, cs[i])
			}
		}
	}
	// The connection state is the most concrete fact about a flow: it leads
	// whenever it is evidence at all.
	take(func(i int) bool { return i == 0 }, 1)
	take(func(i int) bool { return i < flowLevel }, 1)
	take(func(i int) bool { return i >= flowLevel }, k)
	take(func(int) bool { return true }, k)
	return out
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// sentence renders e.g. "10.0.0.5 → 192.168.1.20:445/tcp scored 0.93:
// half-open (S0: attempt, no reply), history S; 1,204 ports on this
// destination failed (capture median 3)".
func sentence(f *Flow, s *srcAgg, e *epAgg, score float64, top []ml.Contribution) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s → %s:%d/%s scored %.3f", f.Src, f.Dst, f.DstPort, f.Proto, score)
	for i, c := range top {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(phrase(f, s, e, c))
	}
	return b.String()
}

func phrase(f *Flow, s *srcAgg, e *epAgg, c ml.Contribution) string {
	switch c.Feature {
	case "failed_state":
		w := stateWords[f.State]
		if w == "" {
			w = "state " + strconv.Quote(f.State)
		}
		if f.History != "" {
			w += ", history " + f.History
		}
		return w
	case "no_reply":
		return fmt.Sprintf("no reply from the responder (%s of %s packets answered)", num(f.RespPkts), num(f.OrigPkts))
	case "payload_bytes":
		return fmt.Sprintf("%s payload bytes (capture median %s)", num(c.Value), num(c.Baseline))
	case "duration":
		return fmt.Sprintf("lasted %s (capture median %s)", secs(c.Value), secs(c.Baseline))
	case "src_failure_ratio":
		return fmt.Sprintf("source failed %s of %s flows (capture median ratio %s)", num(float64(s.failed)), num(float64(s.flows)), num(c.Baseline))
	case "src_failed_endpoints":
		return fmt.Sprintf("source failed on %s (capture median %s)", plural(c.Value, "endpoint"), num(c.Baseline))
	case "dst_failed_sources":
		return fmt.Sprintf("%s failed against this destination (capture median %s)", plural(c.Value, "source"), num(c.Baseline))
	case "dst_failed_ports":
		return fmt.Sprintf("%s on this destination failed (capture median %s)", plural(c.Value, "port"), num(c.Baseline))
	case "endpoint_no_reply":
		return fmt.Sprintf("port unanswered in %s of %s flows to it", num(float64(e.unanswered)), num(float64(e.flows)))
	case isolationMember:
		return fmt.Sprintf("one-sided isolation score %s (capture median %s)", num(c.Value), num(c.Baseline))
	}
	return fmt.Sprintf("%s=%s (capture median %s)", c.Feature, num(c.Value), num(c.Baseline))
}

func secs(v float64) string {
	switch {
	case v == 0:
		return "0 s"
	case v < 1:
		return strconv.FormatFloat(v*1000, 'g', 3, 64) + " ms"
	}
	return strconv.FormatFloat(v, 'g', 3, 64) + " s"
}

func plural(v float64, word string) string {
	if v == 1 {
		return "1 " + word
	}
	return num(v) + " " + word + "s"
}

// num prints integers with thousands separators and others to 3 digits.
func num(v float64) string {
	if v != math.Trunc(v) || math.Abs(v) >= 1e15 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	s := strconv.FormatInt(int64(math.Abs(v)), 10)
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
