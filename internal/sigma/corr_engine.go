package sigma

import (
	"fmt"
	"strings"

	"github.com/rampart-ids/rampart/internal/correlation"
	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
)

func init() { correlationBackend = compileWithEngine }

// compileWithEngine compiles correlation documents with internal/correlation
// and wires the base rules they reference to the engine.
func compileWithEngine(docs []*Doc, byRef map[string][]*crule) (*corrState, int, []error) {
	var errs []error
	var rules []*correlation.Rule
	var rdocs []*Doc
	keys := map[string]bool{}
	for _, d := range docs {
		r, err := correlation.Compile(d.Node, d.Path)
		if err != nil {
			errs = append(errs, docErr(d, err))
			continue
		}
		rules = append(rules, r)
		rdocs = append(rdocs, d)
		for _, k := range []string{r.ID(), r.Name()} {
			if k != "" {
				keys[k] = true
			}
		}
	}
	// Every reference must name a loaded base rule or a correlation rule.
	var ok []*correlation.Rule
	for i, r := range rules {
		var missing []string
		for _, ref := range r.Referenced() {
			if !keys[ref] && len(byRef[ref]) == 0 {
				missing = append(missing, ref)
			}
		}
		if len(missing) > 0 {
			errs = append(errs, posErr(rdocs[i].Path, rdocs[i].Node, "correlation references rules that are not loaded: %s", strings.Join(missing, ", ")))
			continue
		}
		ok = append(ok, r)
	}
	if len(ok) == 0 {
		return nil, 0, errs
	}
	eng, err := correlation.NewEngine(ok, FieldValue)
	if err != nil {
		for _, d := range rdocs {
			errs = append(errs, docErr(d, err))
		}
		return nil, 0, errs
	}
	// A base rule stays silent unless some correlation using it says generate: true.
	generate := map[*crule]bool{}
	for _, r := range ok {
		for _, ref := range r.Referenced() {
			for _, cr := range byRef[ref] {
				cr.corr = true
				generate[cr] = generate[cr] || r.Generate()
			}
		}
	}
	for cr, g := range generate {
		cr.silent = !g
	}
	st := &corrState{
		observe: func(r *crule, ev *event.Event, sig *signal.Signal, emit detect.Emit) {
			eng.Observe(correlation.Match{RuleID: r.meta.ID, RuleName: r.meta.Name, Title: r.meta.Title, Event: ev, Signal: sig}, emit)
		},
		flush: eng.Flush,
		eng:   eng,
	}
	return st, len(ok), errs
}

// docErr gives an error the document's position unless it already has one.
func docErr(d *Doc, err error) error {
	msg := err.Error()
	if strings.HasPrefix(msg, d.Path) {
		return &PosError{Path: d.Path, Msg: strings.TrimPrefix(strings.TrimPrefix(msg, d.Path), ":"), raw: true}
	}
	return &PosError{Path: d.Path, Line: d.Line, Msg: fmt.Sprintf("correlation: %s", msg)}
}
