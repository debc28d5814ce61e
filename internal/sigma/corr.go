package sigma

import (
	"github.com/rampart-ids/rampart/internal/correlation"
	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
)

// corrState runs the correlation rules of a rule set: every base-rule
// match is observed (before the base rule's own signal, if any, is emitted).
type corrState struct {
	observe func(r *crule, ev *event.Event, sig *signal.Signal, emit detect.Emit)
	flush   func(emit detect.Emit)
	// eng holds the open windows (Snapshot, Restore).
	eng *correlation.Engine
}

// correlationBackend compiles correlation documents. It is set by
// corr_engine.go (package internal/correlation); without it every
// correlation document fails to load with a clear reason.
var correlationBackend func(docs []*Doc, byRef map[string][]*crule) (*corrState, int, []error)

func compileCorrelations(docs []*Doc, byRef map[string][]*crule) (*corrState, int, []error) {
	if len(docs) == 0 {
		return nil, 0, nil
	}
	if correlationBackend == nil {
		var errs []error
		for _, d := range docs {
			errs = append(errs, posErr(d.Path, d.Node, "correlation rules need the correlation engine, which is not built in"))
		}
		return nil, 0, errs
	}
	return correlationBackend(docs, byRef)
}

// FieldValue reads a Sigma field name from ev through the field mapping
// (Windows, then Linux, web and Zeek names, then the name itself). It is the
// field function correlation rules use for group-by and value fields.
func FieldValue(ev *event.Event, name string) (string, bool) {
	for _, ls := range []Logsource{{Product: "windows", Category: "process_creation"}, {Product: "linux"}, {Category: "webserver"}, {Product: "zeek"}} {
		for _, k := range resolveField(ls, name) {
			if v, ok := ev.Fields[k]; ok {
				return event.ValueString(v), true
			}
		}
	}
	return "", false
}
