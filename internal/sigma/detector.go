package sigma

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
)

func init() {
	detect.Register(detect.Spec{
		Kind:    "sigma",
		Layer:   signal.LayerRules,
		Summary: "Matches Sigma rules (detection, filter and correlation documents) against events.",
		New:     factory,
	})
}

// Detector runs a compiled Sigma rule set. Detect may be called from
// several goroutines; Reload swaps the rule set atomically.
type Detector struct {
	opts Options
	log  *slog.Logger
	set  atomic.Pointer[ruleSet]
	rep  atomic.Pointer[Report]
	mu   sync.Mutex // serialises Reload and the correlation engine
}

var (
	_ detect.Detector = (*Detector)(nil)
	_ detect.Reloader = (*Detector)(nil)
	_ detect.Flusher  = (*Detector)(nil)
)

// New loads and compiles the rules in opts.Paths. Rules that fail to
// compile are reported by Report and skipped (logged at warn level): one
// bad community rule must not stop detection. New fails only when no path
// can be read.
func New(opts Options) (*Detector, error) {
	d := &Detector{opts: opts, log: opts.Logger}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	d.log = d.log.With("component", "sigma")
	rs, rep := build(opts, true)
	if rep.Loaded == 0 && rep.Failed > 0 {
		return nil, fmt.Errorf("loading sigma rules: %w", &LoadError{Report: rep})
	}
	d.logFailures(rep)
	d.set.Store(rs)
	d.rep.Store(&rep)
	return d, nil
}

func (d *Detector) logFailures(rep Report) {
	for _, f := range rep.Failures {
		d.log.Warn("rule skipped", "path", f.Path, "err", f.Error)
	}
}

// factory builds a Detector from generic detector options. Config keys:
// placeholders (map of lists), statuses, tags, disabled (lists), min_level,
// exceptions (file path).
func factory(o detect.Options) (detect.Detector, error) {
	opts := Options{Paths: o.RulePaths, Logger: slog.Default()} // skipped rules are warned about, not dropped silently
	for k, v := range o.Config {
		switch k {
		case "placeholders":
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("sigma config: placeholders must be a map")
			}
			opts.Placeholders = map[string][]string{}
			for name, vals := range m {
				l, err := stringList(vals)
				if err != nil {
					return nil, fmt.Errorf("sigma config: placeholders.%s: %w", name, err)
				}
				opts.Placeholders[name] = l
			}
		case "statuses", "tags", "disabled":
			l, err := stringList(v)
			if err != nil {
				return nil, fmt.Errorf("sigma config: %s: %w", k, err)
			}
			switch k {
			case "statuses":
				opts.Statuses = l
			case "tags":
				opts.Tags = l
			default:
				opts.Disabled = l
			}
		case "min_level":
			s, _ := v.(string)
			if signal.Level(s).Rank() < 0 {
				return nil, fmt.Errorf("sigma config: unknown min_level %v", v)
			}
			opts.MinLevel = signal.Level(s)
		case "exceptions":
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("sigma config: exceptions must be a file path")
			}
			opts.ExceptionsFile = s
		default:
			return nil, fmt.Errorf("sigma config: unknown key %q", k)
		}
	}
	return New(opts)
}

func stringList(v any) ([]string, error) {
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case []string:
		return x, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("list entries must be strings")
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("must be a list of strings")
}

// Name implements detect.Detector.
func (d *Detector) Name() string { return "sigma" }

// Report returns the outcome of the last successful load.
func (d *Detector) Report() Report { return *d.rep.Load() }

// Rules returns the number of active (selected and compiled) detection rules.
func (d *Detector) Rules() int { return len(d.set.Load().rules) }

// Reload rebuilds the rule set from the configured paths and swaps it in.
// If any rule document fails, the old set stays and the error lists why.
func (d *Detector) Reload(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	rs, rep := build(d.opts, true)
	if rep.Failed > 0 {
		return fmt.Errorf("reloading sigma rules: %w", &LoadError{Report: rep})
	}
	// Open correlation windows carry over to the new rule set (those of
	// rules unchanged by the reload).
	if old := d.set.Load(); old.corr != nil && rs.corr != nil {
		var b bytes.Buffer
		err := old.corr.eng.Snapshot(&b)
		if err == nil {
			err = rs.corr.eng.Restore(&b)
		}
		if err != nil {
			d.log.Error("correlation windows not carried over the reload", "err", err)
		}
	}
	d.set.Store(rs)
	d.rep.Store(&rep)
	d.log.Info("rules reloaded", "rules", len(rs.rules))
	return nil
}

// Snapshot writes the correlation rules' open windows (an empty state
// without correlation rules), so serve's checkpoints resume them.
func (d *Detector) Snapshot(w io.Writer) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.set.Load().corrEngine().Snapshot(w)
}

// Restore resumes the open windows of a snapshot; windows of correlation
// rules changed or removed since are dropped.
func (d *Detector) Restore(r io.Reader) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.set.Load().corrEngine().Restore(r)
}

// Detect implements detect.Detector: every matching rule emits one signal,
// and every match of a rule used by a correlation feeds that correlation.
func (d *Detector) Detect(ctx context.Context, ev *event.Event, emit detect.Emit) error {
	rs := d.set.Load()
	rs.run(ev, func(c *evalCtx, r *crule) {
		sig := newSignal(rs, c, r, ev)
		if r.corr {
			obs := sig // only this copy escapes
			d.mu.Lock()
			// The current set's engine: a reload may have swapped sets (and
			// carried the windows over) since rs was loaded; observing into
			// the old engine would lose the match. Matches name rules by id.
			if corr := d.set.Load().corr; corr != nil {
				corr.observe(r, ev, &obs, emit)
			}
			d.mu.Unlock()
		}
		if !r.silent {
			emit(sig)
		}
	})
	return nil
}

// Flush implements detect.Flusher for correlations that report at window close.
func (d *Detector) Flush(ctx context.Context, emit detect.Emit) {
	rs := d.set.Load()
	if rs.corr != nil && rs.corr.flush != nil {
		d.mu.Lock()
		rs.corr.flush(emit)
		d.mu.Unlock()
	}
}

// Match is one rule match, for callers that want matches without signals
// (rule tests, eval suites).
type Match struct {
	RuleID string
	Title  string
	Level  string
	Tags   []string
}

// Matches returns the rules that match ev (ignoring correlation).
func (d *Detector) Matches(ev *event.Event) []Match {
	var out []Match
	d.set.Load().run(ev, func(c *evalCtx, r *crule) {
		out = append(out, Match{RuleID: ruleID(r.meta), Title: r.meta.Title, Level: r.meta.Level, Tags: r.meta.Tags})
	})
	return out
}

// Matched is one field item a Sigma signal's match rests on: the entries
// of Details["matched"]. It encodes as a JSON object with the keys in the
// order encoding/json writes a map's (field, modifiers, patterns, value).
type Matched struct {
	Field     string   `json:"field"`
	Modifiers string   `json:"modifiers"`
	Patterns  []string `json:"patterns"` // the rule's values (shared by every signal of the rule: read only)
	Value     string   `json:"value"`
}

// newSignal builds the signal of a match. The event's values and the
// explanation are copied into one buffer; the rule's constants (field,
// modifiers, patterns, tags, file name) are shared read-only by every
// signal, with no spare capacity, so an append by a consumer copies
// (explanations reference the event only while it is being evaluated).
func newSignal(rs *ruleSet, c *evalCtx, r *crule, ev *event.Event) signal.Signal {
	m := r.meta
	id := ruleID(m)
	items := rs.explain(c, r)
	nv := 0
	for i := range items {
		nv += len(items[i].value)
	}
	// buf: the id, the values, the explanation (each not written again
	// once the next is appended).
	buf := make([]byte, 0, signal.IDLen+nv+explainLen(r.explHead, items))
	buf = signal.AppendID1(buf, "sigma", id, ev.ID)
	sid := unsafe.String(unsafe.SliceData(buf), len(buf))
	for i := range items {
		buf = append(buf, items[i].value...)
	}
	vals := unsafe.String(unsafe.SliceData(buf[len(sid):]), nv)
	matched := make([]Matched, len(items))
	off := 0
	for i := range items {
		it := &items[i]
		v := vals[off : off+len(it.value)]
		off += len(it.value)
		it.value = v
		mt := &matched[i]
		mt.Field, mt.Modifiers, mt.Value = it.field, it.mods, v
		if ci := it.it; ci != nil {
			mt.Patterns = ci.pats
		} else {
			mt.Patterns = slices.Clone(it.values)
		}
	}
	details := map[string]any{"path": r.boxPath, "matched": matched}
	buf = append(buf, r.explHead...)
	if len(items) > 0 {
		buf = append(buf, ": "...)
		buf = appendDescribe(buf, items)
	}
	buf = append(buf, '.')
	expl := buf[len(sid)+nv:]
	level := signal.Level(m.Level)
	if level == "" {
		level = signal.LevelMedium
	}
	// One allocation for the evidence id and the entities.
	parts := new(struct {
		ids  [1]string
		ents [maxEntities]signal.Entity
	})
	parts.ids[0] = ev.ID
	return signal.Signal{
		ID:          sid,
		Detector:    "sigma",
		Layer:       signal.LayerRules,
		RuleID:      id,
		RuleVersion: m.Version,
		Title:       m.Title,
		Level:       level,
		Score:       1,
		Tags:        r.tags,
		Techniques:  r.techniques,
		Entities:    entities(ev, parts.ents[:0]),
		Time:        ev.Time,
		EventIDs:    parts.ids[:],
		Explanation: unsafe.String(unsafe.SliceData(expl), len(expl)), // buf is not written again
		Details:     details,
	}
}

// explainLen is about the length of the explanation of items (exact but
// for non-ASCII escapes, which make append grow the buffer).
func explainLen(head string, items []matchedItem) int {
	n := len(head) + len(": .")
	for i := range items {
		it := &items[i]
		if it.head == "" {
			it.head = describeHead(it.field, it.mods, it.values)
		}
		v := it.value
		n += len("; ") + len(it.head) + len(v) + len(`""`)
		if len(v) > 120 {
			v = v[:120]
			n += len("…") - (len(it.value) - 120)
		}
		for j := 0; j < len(v); j++ {
			if b := v[j]; b == '\\' || b == '"' {
				n++
			} else if b < ' ' || b == 0x7f {
				n += 3
			}
		}
	}
	return n
}

func lowerAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = strings.ToLower(s)
	}
	return out
}

// entityFields are the ECS fields a signal's entities come from, in order.
var entityFields = []struct{ kind, key string }{
	{"user", "user.name"},
	{"host", "host.name"},
	{"host", "host.hostname"},
	{"ip", "source.ip"},
	{"ip", "destination.ip"},
	{"process", "process.executable"},
	{"process", "process.name"},
}

// maxEntities bounds a signal's entities: entityFields' kinds, with one
// host and one process at most (user, host, two ip, process).
const maxEntities = 5

// entities returns ev's entities, appended to dst (nil when there are none).
func entities(ev *event.Event, dst []signal.Entity) []signal.Entity {
	out := dst[:0]
	var seenHost, seenProcess bool
	for _, f := range entityFields {
		v, ok := ev.GetString(f.key)
		if !ok || v == "" || v == "-" {
			continue
		}
		if (f.kind == "host" && seenHost) || (f.kind == "process" && seenProcess) {
			continue
		}
		dup := false
		for _, e := range out {
			if e.Kind == f.kind && e.Value == v {
				dup = true
			}
		}
		if !dup {
			out = append(out, signal.Entity{Kind: f.kind, Value: v})
			seenHost = seenHost || f.kind == "host"
			seenProcess = seenProcess || f.kind == "process"
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// ruleID is the rule's id, else its name, else a hash of its document (so
// signals of id-less local rules still get a stable identity).
func ruleID(m *Meta) string {
	switch {
	case m.ID != "":
		return m.ID
	case m.Name != "":
		return m.Name
	}
	return "sigma:" + m.Version
}
