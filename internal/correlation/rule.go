// Package correlation evaluates Sigma correlation rules (Sigma specification
// v2.x, "Sigma Correlation Rules") over the stream of base-rule matches that
// the Sigma engine produces.
//
// Supported types: event_count, value_count, value_sum, value_avg, value_min,
// value_max, temporal and temporal_ordered, with group-by, aliases, timespan
// (Ns, Nm, Nh, Nd), conditions gt/gte/lt/lte/eq and ranges, temporal
// conditions written as boolean expressions over rule names, generate, and
// correlation rules that reference other correlation rules (chains).
//
// Everything runs on event time (Event.Time), never the wall clock, so a
// replay gives the same signals. Windows slide: a rule whose condition has
// only lower bounds (gt, gte) fires as soon as it holds and then starts
// afresh for that group. A rule whose condition has an upper bound (lt, lte,
// eq, or a range) can only be judged once its window is over, so its windows
// are tumbling (they start at the group's first match) and are evaluated when
// event time passes their end, or at Flush.
//
// State is bounded: at most Limits.MaxGroups groups per rule (the least
// recently touched group is evicted and counted) and Limits.MaxEvents window
// entries per group (the oldest entry is dropped and counted).
package correlation

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-ids/rampart/internal/signal"
	"go.yaml.in/yaml/v3"
)

// Type is a correlation type.
type Type string

// Correlation types.
const (
	EventCount      Type = "event_count"
	ValueCount      Type = "value_count"
	ValueSum        Type = "value_sum"
	ValueAvg        Type = "value_avg"
	ValueMin        Type = "value_min"
	ValueMax        Type = "value_max"
	Temporal        Type = "temporal"
	TemporalOrdered Type = "temporal_ordered"
)

// Input limits for a correlation document.
const (
	maxRefs        = 64
	maxGroupBy     = 16
	maxAliases     = 64
	maxExprLen     = 4096
	maxTimespan    = 90 * 24 * time.Hour
	maxStringBytes = 1024
)

// Rule is one compiled correlation rule. It is immutable and may be shared.
type Rule struct {
	id, name, title, path string
	line                  int
	level                 signal.Level
	tags, techniques      []string
	generate              bool
	version               string

	typ      Type
	refs     []string
	groupBy  []string
	aliases  map[string]map[string]string // alias → referenced rule name → field
	timespan time.Duration
	cond     condition
	fields   []string // value_* field(s)
	expr     expr     // temporal boolean condition, nil when absent
}

// ID is the rule's id; a rule without one gets "name:<name>" or, without a
// name, a hash of its path and title, so signals always carry a stable id.
func (r *Rule) ID() string { return r.id }

// Name is the rule's optional unique name ("" when absent).
func (r *Rule) Name() string { return r.name }

// Title is the rule's title.
func (r *Rule) Title() string { return r.title }

// Type is the correlation type.
func (r *Rule) Type() Type { return r.typ }

// Referenced lists the rules this correlation refers to, by id or name, as written.
func (r *Rule) Referenced() []string { return append([]string(nil), r.refs...) }

// Generate reports whether the referenced rules should also report on their
// own (Sigma "generate: true"); by default only the correlation reports.
func (r *Rule) Generate() bool { return r.generate }

// Timespan is the correlation window.
func (r *Rule) Timespan() time.Duration { return r.timespan }

// condition is a conjunction of bounds on the correlated value.
type condition struct {
	set              bool
	hasLo, hasHi     bool
	lo, hi           float64
	loIncl, hiIncl   bool
	text             string // "≥ 10", "> 100 and ≤ 200"
	needsWindowClose bool   // an upper bound: judged when the window ends
}

func (c condition) holds(v float64) bool {
	if c.hasLo && (v < c.lo || (!c.loIncl && v == c.lo)) {
		return false
	}
	if c.hasHi && (v > c.hi || (!c.hiIncl && v == c.hi)) {
		return false
	}
	return true
}

// CompileError is a rule error at a position.
type CompileError struct {
	Path string
	Line int
	Msg  string
}

func (e *CompileError) Error() string { return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg) }

func errAt(path string, n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &CompileError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// IsCorrelation reports whether doc (a mapping node or a document node) is a
// correlation rule, i.e. has a top-level "correlation" key.
func IsCorrelation(doc *yaml.Node) bool {
	if doc != nil && doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc == nil || doc.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "correlation" {
			return true
		}
	}
	return false
}

var (
	timespanRE = regexp.MustCompile(`^([0-9]{1,9})([smhd])$`)
	refRE      = regexp.MustCompile(`^[A-Za-z0-9_.:\-]{1,256}$`)
)

// ParseTimespan parses a Sigma timespan: a number and one of s, m, h, d.
func ParseTimespan(s string) (time.Duration, error) {
	m := timespanRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("timespan %q: want a number and a unit s, m, h or d (e.g. 5m, 90m, 1d)", s)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour}[m[2]]
	d := time.Duration(n) * unit
	if n <= 0 || d/unit != time.Duration(n) || d > maxTimespan {
		return 0, fmt.Errorf("timespan %q: must be positive and at most %s", s, maxTimespan)
	}
	return d, nil
}

// Compile compiles one correlation rule. doc is the document's mapping node
// (a DocumentNode wrapping it is accepted too); path names the file in errors,
// which read "path:line: message".
func Compile(doc *yaml.Node, path string) (*Rule, error) {
	if doc != nil && doc.Kind == yaml.DocumentNode {
		if len(doc.Content) != 1 {
			return nil, errAt(path, doc, "empty document")
		}
		doc = doc.Content[0]
	}
	if doc == nil || doc.Kind != yaml.MappingNode {
		return nil, errAt(path, doc, "correlation rule must be a mapping")
	}
	r := &Rule{path: path, line: doc.Line, level: signal.LevelMedium}
	var corr *yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		if seen[k.Value] {
			return nil, errAt(path, k, "duplicate key %q", k.Value)
		}
		seen[k.Value] = true
		var err error
		switch k.Value {
		case "title":
			r.title, err = scalar(path, v, "title")
		case "id":
			r.id, err = scalar(path, v, "id")
		case "name":
			r.name, err = scalar(path, v, "name")
		case "level":
			var s string
			if s, err = scalar(path, v, "level"); err == nil {
				r.level = signal.Level(s)
				if r.level.Rank() < 0 {
					err = errAt(path, v, "level %q: want informational, low, medium, high or critical", s)
				}
			}
		case "tags":
			r.tags, err = stringList(path, v, "tags", 256)
		case "generate":
			// Spec v2.0.x puts generate beside level; pySigma reads it inside
			// the correlation section. Both are accepted (see compileCorrelation).
			r.generate, err = parseGenerate(path, v)
		case "correlation":
			corr = v
		default:
			// Other Sigma metadata (status, description, author, references,
			// date, modified, falsepositives, …) does not affect evaluation.
		}
		if err != nil {
			return nil, err
		}
	}
	if r.title == "" {
		return nil, errAt(path, doc, "missing title")
	}
	if r.name != "" && !refRE.MatchString(r.name) {
		return nil, errAt(path, doc, "name %q: use letters, digits, _ . : -", r.name)
	}
	if corr == nil {
		return nil, errAt(path, doc, "missing correlation section")
	}
	var topGenerate *bool
	if seen["generate"] {
		g := r.generate
		topGenerate = &g
	}
	if err := r.compileCorrelation(corr, path, topGenerate); err != nil {
		return nil, err
	}
	switch {
	case r.id != "":
	case r.name != "":
		r.id = "name:" + r.name
	default:
		h := sha256.Sum256([]byte(path + "\x00" + r.title))
		r.id = "corr-" + hex.EncodeToString(h[:8])
	}
	r.techniques = signal.TechniquesFromTags(r.tags)
	if b, err := yaml.Marshal(doc); err == nil {
		h := sha256.Sum256(b)
		r.version = hex.EncodeToString(h[:8])
	}
	return r, nil
}

func parseGenerate(path string, v *yaml.Node) (bool, error) {
	if v.Kind != yaml.ScalarNode || (v.Value != "true" && v.Value != "false") {
		return false, errAt(path, v, "generate must be true or false")
	}
	return v.Value == "true", nil
}

// compileCorrelation reads the correlation section. topGenerate is the
// top-level generate value, if the document has one.
func (r *Rule) compileCorrelation(n *yaml.Node, path string, topGenerate *bool) error {
	if n.Kind != yaml.MappingNode {
		return errAt(path, n, "correlation must be a mapping")
	}
	var typeNode, condNode, spanNode *yaml.Node
	var fieldNode *yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			return errAt(path, k, "duplicate key correlation.%s", k.Value)
		}
		seen[k.Value] = true
		var err error
		switch k.Value {
		case "type":
			typeNode = v
		case "rules":
			r.refs, err = stringList(path, v, "correlation.rules", maxRefs)
			for _, ref := range r.refs {
				if err == nil && !refRE.MatchString(ref) {
					err = errAt(path, v, "correlation.rules: %q is not a rule id or name", ref)
				}
			}
		case "group-by":
			r.groupBy, err = stringList(path, v, "correlation.group-by", maxGroupBy)
		case "timespan":
			spanNode = v
		case "condition":
			condNode = v
		case "field":
			fieldNode = v
		case "aliases":
			err = r.compileAliases(v, path)
		case "generate":
			var g bool
			if g, err = parseGenerate(path, v); err == nil {
				if topGenerate != nil && *topGenerate != g {
					err = errAt(path, v, "correlation.generate: %v contradicts generate: %v", g, *topGenerate)
				}
				r.generate = g
			}
		default:
			return errAt(path, k, "unknown key correlation.%s (want type, rules, group-by, timespan, condition, aliases, generate)", k.Value)
		}
		if err != nil {
			return err
		}
	}
	if typeNode == nil {
		return errAt(path, n, "missing correlation.type")
	}
	r.typ = Type(typeNode.Value)
	switch r.typ {
	case EventCount, ValueCount, ValueSum, ValueAvg, ValueMin, ValueMax, Temporal, TemporalOrdered:
	default:
		return errAt(path, typeNode, "unknown correlation type %q (want event_count, value_count, value_sum, value_avg, value_min, value_max, temporal or temporal_ordered)", typeNode.Value)
	}
	if len(r.refs) == 0 {
		return errAt(path, n, "missing correlation.rules")
	}
	if spanNode == nil {
		return errAt(path, n, "missing correlation.timespan")
	}
	s, err := scalar(path, spanNode, "correlation.timespan")
	if err != nil {
		return err
	}
	if r.timespan, err = ParseTimespan(s); err != nil {
		return errAt(path, spanNode, "%v", err)
	}
	if fieldNode != nil {
		if r.fields, err = stringOrList(path, fieldNode, "correlation.field"); err != nil {
			return err
		}
	}
	if condNode != nil {
		if err := r.compileCondition(condNode, path); err != nil {
			return err
		}
	}
	temporal := r.typ == Temporal || r.typ == TemporalOrdered
	if r.typ == TemporalOrdered && r.cond.set {
		return errAt(path, condNode, "temporal_ordered takes no numeric condition: all rules must match in order")
	}
	if !temporal && !r.cond.set {
		return errAt(path, n, "%s needs a condition (e.g. condition: {gte: 10})", r.typ)
	}
	if r.typ != EventCount && !temporal && len(r.fields) == 0 {
		return errAt(path, orNode(condNode, n), "%s needs condition.field", r.typ)
	}
	if (r.typ == EventCount || temporal) && len(r.fields) > 0 {
		return errAt(path, orNode(fieldNode, condNode), "%s does not take a field", r.typ)
	}
	if r.typ == ValueSum || r.typ == ValueAvg || r.typ == ValueMin || r.typ == ValueMax {
		if len(r.fields) != 1 {
			return errAt(path, orNode(fieldNode, condNode), "%s takes exactly one field", r.typ)
		}
	}
	if temporal && len(r.refs) < 2 {
		// One rule "in temporal proximity" with itself is an event_count.
		return errAt(path, n, "%s needs at least two rules", r.typ)
	}
	for alias, m := range r.aliases {
		for name := range m {
			if !contains(r.refs, name) {
				return errAt(path, n, "alias %q names rule %q, which is not in correlation.rules", alias, name)
			}
		}
	}
	return nil
}

func orNode(ns ...*yaml.Node) *yaml.Node {
	for _, n := range ns {
		if n != nil {
			return n
		}
	}
	return nil
}

func (r *Rule) compileAliases(n *yaml.Node, path string) error {
	if n.Kind != yaml.MappingNode {
		return errAt(path, n, "correlation.aliases must be a mapping of alias → {rule name: field}")
	}
	if len(n.Content)/2 > maxAliases {
		return errAt(path, n, "correlation.aliases: more than %d aliases", maxAliases)
	}
	r.aliases = map[string]map[string]string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.MappingNode {
			return errAt(path, v, "alias %q must map rule names to field names", k.Value)
		}
		m := map[string]string{}
		for j := 0; j+1 < len(v.Content); j += 2 {
			rn, fn := v.Content[j], v.Content[j+1]
			f, err := scalar(path, fn, "alias field")
			if err != nil {
				return err
			}
			if rn.Kind != yaml.ScalarNode || rn.Value == "" {
				return errAt(path, rn, "alias %q: rule name must be a string", k.Value)
			}
			m[rn.Value] = f
		}
		r.aliases[k.Value] = m
	}
	return nil
}

func (r *Rule) compileCondition(n *yaml.Node, path string) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		if r.typ != Temporal && r.typ != TemporalOrdered {
			return errAt(path, n, "a condition expression is only allowed for temporal correlations; %s takes {gte: N}", r.typ)
		}
		if len(n.Value) > maxExprLen {
			return errAt(path, n, "condition expression longer than %d bytes", maxExprLen)
		}
		e, err := parseExpr(n.Value)
		if err != nil {
			return errAt(path, n, "condition: %v", err)
		}
		var bad string
		e.names(func(name string) {
			if bad == "" && !contains(r.refs, name) {
				bad = name
			}
		})
		if bad != "" {
			return errAt(path, n, "condition names %q, which is not in correlation.rules", bad)
		}
		r.expr = e
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return errAt(path, n, "condition must be a mapping such as {gte: 10}")
	}
	c := &r.cond
	var parts []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "field" {
			f, err := stringOrList(path, v, "condition.field")
			if err != nil {
				return err
			}
			r.fields = f
			continue
		}
		if v.Kind != yaml.ScalarNode {
			return errAt(path, v, "condition.%s must be a number", k.Value)
		}
		x, err := strconv.ParseFloat(v.Value, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || v.Tag == "!!str" {
			return errAt(path, v, "condition.%s: %q is not a number", k.Value, v.Value)
		}
		num := strconv.FormatFloat(x, 'f', -1, 64)
		switch k.Value {
		case "gt", "gte":
			if c.hasLo {
				return errAt(path, k, "condition has two lower bounds")
			}
			c.hasLo, c.lo, c.loIncl = true, x, k.Value == "gte"
			parts = append(parts, map[bool]string{true: "≥ ", false: "> "}[c.loIncl]+num)
		case "lt", "lte":
			if c.hasHi {
				return errAt(path, k, "condition has two upper bounds")
			}
			c.hasHi, c.hi, c.hiIncl = true, x, k.Value == "lte"
			parts = append(parts, map[bool]string{true: "≤ ", false: "< "}[c.hiIncl]+num)
		case "eq":
			if c.hasLo || c.hasHi {
				return errAt(path, k, "condition eq cannot be combined with other bounds")
			}
			c.hasLo, c.lo, c.loIncl = true, x, true
			c.hasHi, c.hi, c.hiIncl = true, x, true
			parts = append(parts, "= "+num)
		default:
			return errAt(path, k, "unknown condition operator %q (want gt, gte, lt, lte, eq, field)", k.Value)
		}
	}
	if !c.hasLo && !c.hasHi {
		if len(r.fields) > 0 {
			return errAt(path, n, "condition has a field but no bound (gt, gte, lt, lte or eq)")
		}
		return errAt(path, n, "condition needs a bound (gt, gte, lt, lte or eq)")
	}
	if c.hasLo && c.hasHi && (c.lo > c.hi || (c.lo == c.hi && !(c.loIncl && c.hiIncl))) {
		return errAt(path, n, "condition range %s can never hold", strings.Join(parts, " and "))
	}
	c.set = true
	c.needsWindowClose = c.hasHi
	c.text = strings.Join(parts, " and ")
	return nil
}

func scalar(path string, n *yaml.Node, what string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		return "", errAt(path, n, "%s must be a string", what)
	}
	if len(n.Value) > maxStringBytes && what != "title" {
		return "", errAt(path, n, "%s longer than %d bytes", what, maxStringBytes)
	}
	return n.Value, nil
}

func stringList(path string, n *yaml.Node, what string, max int) ([]string, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, errAt(path, n, "%s must be a list", what)
	}
	if len(n.Content) > max {
		return nil, errAt(path, n, "%s has more than %d items", what, max)
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		s, err := scalar(path, c, what+" item")
		if err != nil {
			return nil, err
		}
		if s == "" {
			return nil, errAt(path, c, "%s has an empty item", what)
		}
		if contains(out, s) {
			return nil, errAt(path, c, "%s lists %q twice", what, s)
		}
		out = append(out, s)
	}
	return out, nil
}

func stringOrList(path string, n *yaml.Node, what string) ([]string, error) {
	if n.Kind == yaml.ScalarNode {
		s, err := scalar(path, n, what)
		if err != nil || s == "" {
			return nil, errAt(path, n, "%s must be a field name", what)
		}
		return []string{s}, nil
	}
	return stringList(path, n, what, maxGroupBy)
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
