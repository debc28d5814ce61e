package sigma

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rampart-ids/rampart/internal/signal"
	"go.yaml.in/yaml/v3"
)

// Options configure loading and rule selection.
type Options struct {
	// Paths are rule files or folders (walked for .yml/.yaml).
	Paths []string
	// Placeholders resolve %name% in values with the expand modifier.
	// An unresolved placeholder fails the rule.
	Placeholders map[string][]string
	// Statuses, if set, selects rules by status ("stable", "test", …).
	// Empty selects every status except deprecated and unsupported.
	Statuses []string
	// MinLevel, if set, drops rules below this level.
	MinLevel signal.Level
	// Tags, if set, keeps only rules with at least one of these tags.
	Tags []string
	// Disabled lists rule ids (or names) that are not loaded.
	Disabled []string
	// ExceptionsFile is a YAML list of local exceptions (see Exception).
	ExceptionsFile string
	// Logger receives load warnings; nil discards.
	Logger *slog.Logger
}

// Failure is one rule document (or file) that did not load.
type Failure struct {
	Path  string
	Error string
}

// Report is the outcome of loading rules: Loaded + Failed counts every
// rule document found (a file that cannot be parsed counts once).
type Report struct {
	Loaded   int
	Failed   int
	Failures []Failure
}

// Exception excludes the matches of one rule where an event field matches
// one of Values (Field may carry modifiers: "CommandLine|contains").
type Exception struct {
	Rule   string   `yaml:"rule"`
	Field  string   `yaml:"field"`
	Values []string `yaml:"values"`
}

// Check loads every rule document under paths and reports which compiled.
// Rule selection options do not apply: every document is checked.
func Check(paths []string, opts Options) Report {
	opts.Paths = paths
	_, rep := build(opts, false)
	return rep
}

// build loads, compiles and indexes rules. When selecting is set the
// selection options (status, level, tags, disabled) apply.
func build(opts Options, selecting bool) (*ruleSet, Report) {
	var rep Report
	fail := func(err error) {
		rep.Failed++
		var pe *PosError
		p := ""
		if errors.As(err, &pe) {
			p = pe.Path
		}
		rep.Failures = append(rep.Failures, Failure{Path: p, Error: err.Error()})
	}
	files, err := RuleFiles(opts.Paths)
	if err != nil {
		fail(err)
		return newRuleSet(), rep
	}
	var all []*Doc
	for _, f := range files {
		docs, errs := ReadFile(f)
		for _, e := range errs {
			fail(e)
		}
		all = append(all, docs...)
	}
	return buildDocs(all, opts, selecting, rep)
}

// buildDocs compiles parsed documents into a rule set; rep carries the
// failures found while reading.
func buildDocs(all []*Doc, opts Options, selecting bool, rep Report) (*ruleSet, Report) {
	fail := func(err error) {
		rep.Failed++
		var pe *PosError
		p := ""
		if errors.As(err, &pe) {
			p = pe.Path
		}
		rep.Failures = append(rep.Failures, Failure{Path: p, Error: err.Error()})
	}
	rs := newRuleSet()
	var dets, filters, corrs []*Doc
	{
		for _, d := range all {
			switch d.Kind {
			case KindDetection:
				dets = append(dets, d)
			case KindFilter:
				filters = append(filters, d)
			case KindCorrelation:
				corrs = append(corrs, d)
			}
		}
	}
	eidSlot := rs.slotOf(resolveField(Logsource{Product: "windows"}, "EventID"))
	byRef := map[string][]*crule{}
	for _, d := range dets {
		cp := &compiler{path: d.Path, ls: d.Logsource, placeholders: opts.Placeholders, slotOf: rs.slotOf}
		cond, _, err := cp.compileDetection(mapGet(d.Node, "detection"), false)
		if err != nil {
			fail(err)
			continue
		}
		rep.Loaded++
		if selecting && !selected(&d.Meta, opts) {
			continue
		}
		r := &crule{idx: len(rs.rules), meta: &d.Meta, cond: cond, tags: slices.Clip(slices.Clone(d.Meta.Tags)), techniques: slices.Clip(signal.TechniquesFromTags(lowerAll(d.Meta.Tags))),
			explHead: fmt.Sprintf("Sigma rule %q matched", d.Meta.Title), boxPath: filepath.Base(d.Meta.Path)}
		if d.Logsource.Product == "windows" {
			r.eids = requiredEIDs(cond, eidSlot)
		}
		rs.rules = append(rs.rules, r)
		if d.ID != "" {
			byRef[d.ID] = append(byRef[d.ID], r)
		}
		if d.Name != "" {
			byRef[d.Name] = append(byRef[d.Name], r)
		}
	}
	for _, d := range filters {
		if err := attachFilter(rs, d, opts, byRef); err != nil {
			fail(err)
			continue
		}
		rep.Loaded++
	}
	corr, n, errs := compileCorrelations(corrs, byRef)
	for _, e := range errs {
		fail(e)
	}
	rep.Loaded += n
	rs.corr = corr
	if opts.ExceptionsFile != "" {
		if err := attachExceptions(rs, opts, byRef); err != nil {
			fail(err)
		}
	}
	for _, r := range rs.rules {
		rs.index(r, logsourceClauses(r.meta.Logsource))
	}
	buildPrefilter(rs, eidSlot)
	orderSelections(rs)
	for _, r := range rs.rules {
		r.cond, _ = costOrder(r.cond)
		for i := range r.filters {
			r.filters[i], _ = costOrder(r.filters[i])
		}
	}
	return rs, rep
}

func selected(m *Meta, opts Options) bool {
	if slices.Contains(opts.Disabled, m.ID) || (m.Name != "" && slices.Contains(opts.Disabled, m.Name)) {
		return false
	}
	status := strings.ToLower(m.Status)
	if len(opts.Statuses) > 0 {
		if !slices.Contains(opts.Statuses, status) {
			return false
		}
	} else if status == "deprecated" || status == "unsupported" {
		return false
	}
	if opts.MinLevel != "" && signal.Level(m.Level).Rank() < opts.MinLevel.Rank() {
		return false
	}
	if len(opts.Tags) > 0 {
		ok := false
		for _, t := range m.Tags {
			if slices.Contains(opts.Tags, strings.ToLower(t)) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// attachFilter compiles a Sigma 2.1 filter document: its condition is
// ANDed to every rule it names, so events it rejects are not matches.
func attachFilter(rs *ruleSet, d *Doc, opts Options, byRef map[string][]*crule) error {
	f := mapGet(d.Node, "filter")
	if f == nil || f.Kind != yaml.MappingNode {
		return posErr(d.Path, f, "filter must be a mapping")
	}
	refs := mapGet(f, "rules")
	if refs == nil {
		return posErr(d.Path, f, "filter has no rules list")
	}
	var names []string
	switch refs.Kind {
	case yaml.ScalarNode:
		names = []string{refs.Value}
	case yaml.SequenceNode:
		for _, n := range refs.Content {
			if n.Kind != yaml.ScalarNode {
				return posErr(d.Path, n, "filter rules entries must be strings")
			}
			names = append(names, n.Value)
		}
	default:
		return posErr(d.Path, refs, "filter rules must be a list")
	}
	cp := &compiler{path: d.Path, ls: d.Logsource, placeholders: opts.Placeholders, slotOf: rs.slotOf}
	cond, _, err := cp.compileDetection(f, true)
	if err != nil {
		return err
	}
	for _, n := range names {
		rules := byRef[n]
		if len(rules) == 0 && opts.Logger != nil {
			opts.Logger.Debug("filter names a rule that is not loaded", "path", d.Path, "rule", n)
		}
		for _, r := range rules {
			r.filters = append(r.filters, cond)
		}
	}
	return nil
}

// attachExceptions reads the exceptions file and adds each exception to its rule.
func attachExceptions(rs *ruleSet, opts Options, byRef map[string][]*crule) error {
	data, err := os.ReadFile(opts.ExceptionsFile)
	if err != nil {
		return &PosError{Path: opts.ExceptionsFile, Msg: "reading exceptions: " + err.Error()}
	}
	if len(data) > MaxFileSize {
		return &PosError{Path: opts.ExceptionsFile, Msg: "exceptions file too large"}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return &PosError{Path: opts.ExceptionsFile, Msg: "yaml: " + err.Error()}
	}
	if len(root.Content) == 0 {
		return nil
	}
	list := root.Content[0]
	if ex := mapGet(list, "exceptions"); ex != nil {
		list = ex
	}
	if list.Kind != yaml.SequenceNode {
		return posErr(opts.ExceptionsFile, list, "exceptions must be a list")
	}
	for _, n := range list.Content {
		var e Exception
		if err := n.Decode(&e); err != nil {
			return posErr(opts.ExceptionsFile, n, "exception: %v", err)
		}
		if e.Rule == "" || e.Field == "" || len(e.Values) == 0 {
			return posErr(opts.ExceptionsFile, n, "exception needs rule, field and values")
		}
		for _, r := range byRef[e.Rule] {
			cp := &compiler{path: opts.ExceptionsFile, ls: r.meta.Logsource, placeholders: opts.Placeholders, slotOf: rs.slotOf}
			parts := strings.Split(e.Field, "|")
			var vals []*yaml.Node
			for _, v := range e.Values {
				vals = append(vals, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v})
			}
			it, err := cp.compileItem(parts[0], parts[1:], vals, n)
			if err != nil {
				return err
			}
			r.excepts = append(r.excepts, it)
		}
	}
	return nil
}

// LoadError summarises a failed load for Reload and New.
type LoadError struct{ Report Report }

func (e *LoadError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d sigma rule documents failed to load", e.Report.Failed, e.Report.Failed+e.Report.Loaded)
	for i, f := range e.Report.Failures {
		if i == 5 {
			fmt.Fprintf(&b, "; …")
			break
		}
		b.WriteString("; ")
		b.WriteString(f.Error)
	}
	return b.String()
}
