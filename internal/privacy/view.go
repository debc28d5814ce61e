package privacy

import (
	"slices"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
)

// entityKind maps signal entity kinds holding personal data to pseudonym
// kinds. Other entity kinds (process, file, url, hash, domain) are not
// replaced but scrubbed like free text.
func entityKind(k string) (Kind, bool) {
	switch k {
	case "user":
		return KindUser, true
	case "host":
		return KindHost, true
	case "ip":
		return KindIP, true
	case "email":
		return KindEmail, true
	}
	return "", false
}

// maxDetailsDepth bounds the walk over alert Details.
const maxDetailsDepth = 8

// Alert returns a pseudonymized copy of a: personal entities are replaced
// by pseudonyms (the same ones their events get), and the title, entity
// key, explanation, details and verdict reason are scrubbed of them and of
// in-scope addresses and e-mail addresses. Ids, rule data, times and counts
// are kept, so a pseudonymized alert still links to its pseudonymized events.
func (p *Pseudonymizer) Alert(a alert.Alert) alert.Alert {
	ek := p.cur.Load()
	var known []knownValue
	ents := make([]signal.Entity, len(a.Entities))
	for i, e := range a.Entities {
		ents[i] = e
		if k, ok := entityKind(e.Kind); ok {
			ents[i].Value = p.value(ek, k, e.Value, true)
			known = p.addKnown(known, ek, k, e.Value, ents[i].Value)
		}
	}
	sc := &scrubber{p: p, ek: ek, known: sortKnown(known)}
	for i, e := range ents {
		if _, ok := entityKind(e.Kind); !ok {
			ents[i].Value = sc.text(e.Value)
		}
	}
	out := a
	out.Entities = ents
	out.Title = sc.text(a.Title)
	out.EntityKey = sc.text(a.EntityKey)
	out.Explanation = sc.text(a.Explanation)
	out.Details = scrubMap(sc, a.Details, 0)
	out.Tags = slices.Clone(a.Tags)
	out.Techniques = slices.Clone(a.Techniques)
	out.EventIDs = slices.Clone(a.EventIDs)
	if a.Verdict != nil {
		v := *a.Verdict
		v.Reason = sc.text(v.Reason)
		out.Verdict = &v
	}
	return out
}

func scrubMap(sc *scrubber, m map[string]any, depth int) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = scrubAny(sc, v, depth+1)
	}
	return out
}

func scrubAny(sc *scrubber, v any, depth int) any {
	if depth > maxDetailsDepth {
		return nil // deeper than any detector writes: dropped, never leaked
	}
	switch x := v.(type) {
	case string:
		return sc.text(x)
	case []string:
		ys := make([]string, len(x))
		for i, s := range x {
			ys[i] = sc.text(s)
		}
		return ys
	case map[string]any:
		return scrubMap(sc, x, depth)
	case []any:
		ys := make([]any, len(x))
		for i, e := range x {
			ys[i] = scrubAny(sc, e, depth+1)
		}
		return ys
	case int, int64, float64, bool, nil:
		return x
	default:
		return nil // unknown types could hold anything
	}
}

// SeesClear reports whether role sees personal data in clear
// (Config.ClearRoles; by default responder and admin). Every other role
// (viewer, analyst, ingest, unknown) gets pseudonyms.
func (p *Pseudonymizer) SeesClear(role string) bool { return slices.Contains(p.cfg.clear, role) }

// EventFor returns ev unchanged for a role that sees clear data, and a
// pseudonymized copy otherwise.
func (p *Pseudonymizer) EventFor(role string, ev *event.Event) *event.Event {
	if p.SeesClear(role) {
		return ev
	}
	return p.Event(ev)
}

// AlertFor returns a unchanged for a role that sees clear data, and a
// pseudonymized copy otherwise.
func (p *Pseudonymizer) AlertFor(role string, a alert.Alert) alert.Alert {
	if p.SeesClear(role) {
		return a
	}
	return p.Alert(a)
}
