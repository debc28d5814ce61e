package privacy

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/rampart-ids/rampart/internal/event"
)

// entityRE finds "kind=value" pairs in free text: alert entity keys
// ("host=ws1,user=alice") and key=value log fields ("user=alice",
// "rhost=10.1.2.3"). The value runs to the next separator.
var entityRE = regexp.MustCompile(`(?i)\b(user|username|user_name|ruser|logname|account|login|host|hostname|rhost|shost|email|mail|ip|src_ip|dst_ip|addr)=([^\s,;&"'<>()\[\]{}]{1,256})`)

// pseudonymRE is the shape of a name pseudonym.
var pseudonymRE = regexp.MustCompile(`^[uehp]_[0-9a-f]{20}$`)

// textKind maps an entityRE key to the kind of its value.
func textKind(k string) Kind {
	switch strings.ToLower(k) {
	case "host", "hostname", "shost":
		return KindHost
	case "email", "mail":
		return KindEmail
	case "ip", "src_ip", "dst_ip", "addr", "rhost":
		return KindIP
	}
	return KindUser
}

// Text returns t scrubbed for an export or a training set: the values of
// "kind=value" pairs naming users, hosts, e-mail addresses and addresses
// (as in alert entity keys and key=value logs), the known values given
// (original → kind, e.g. the actor of an audit record), every e-mail
// address and every in-scope address are replaced by their pseudonyms,
// matched as whole tokens. Personal values that appear in no such form are
// not recognized (see docs/privacy.md).
func (p *Pseudonymizer) Text(t string, known map[string]Kind) string {
	if t == "" {
		return t
	}
	ek := p.cur.Load()
	var kv []knownValue
	for orig, kind := range known {
		kv = p.addKnown(kv, ek, kind, orig, p.value(ek, kind, orig, true))
	}
	return p.scrubLine(ek, kv, t)
}

// Line returns a raw log line scrubbed for a training set: the personal
// values of ev (the line parsed; nil if it did not parse) and everything
// Text finds are replaced, in one pass.
func (p *Pseudonymizer) Line(ev *event.Event, line string) string {
	if line == "" {
		return line
	}
	ek := p.cur.Load()
	var kv []knownValue
	if ev != nil {
		for k, v := range ev.Fields {
			kind, ok := p.cfg.fields[k]
			if !ok {
				continue
			}
			switch x := v.(type) {
			case string:
				kv = p.addKnown(kv, ek, kind, x, p.value(ek, kind, x, true))
			case []string:
				for _, s := range x {
					kv = p.addKnown(kv, ek, kind, s, p.value(ek, kind, s, true))
				}
			default:
				s := event.ValueString(x)
				kv = p.addKnown(kv, ek, KindName, s, p.value(ek, KindName, s, true))
			}
		}
	}
	return p.scrubLine(ek, kv, line)
}

// scrubLine adds the "kind=value" pairs of t to kv and scrubs t.
func (p *Pseudonymizer) scrubLine(ek *epochKeys, kv []knownValue, t string) string {
	for _, m := range entityRE.FindAllStringSubmatch(t, -1) {
		kind, v := textKind(m[1]), trimValue(m[2])
		if v == "" {
			continue
		}
		if kind == KindIP {
			if isAddr(v) {
				continue // the address scan below finds it (and leaves out-of-scope ones)
			}
			kind = KindHost // "rhost=ws7.corp": a host name
		}
		if pseudonymRE.MatchString(v) {
			continue // already a pseudonym (a reason quoting one)
		}
		kv = p.addKnown(kv, ek, kind, v, p.value(ek, kind, v, true))
	}
	sc := &scrubber{p: p, ek: ek, known: sortKnown(kv)}
	return sc.text(t)
}

// actorKinds are the actor prefixes that name a person (a user, or a token,
// whose name is usually its owner's); components are kept.
var actorKinds = []string{"user:", "token:"}

// Actor returns an audit actor ("user:alice", "token:alice-laptop",
// "component:pipeline") with the name of a person pseudonymized as a user
// name, so the same person reads the same in actors and in verdict texts.
func (p *Pseudonymizer) Actor(a string) string {
	pfx, name, ok := ActorName(a)
	if !ok {
		return a
	}
	return pfx + p.Value(KindUser, name)
}

// ActorName splits an actor naming a person into its prefix and name.
func ActorName(a string) (prefix, name string, ok bool) {
	for _, k := range actorKinds {
		if n, found := strings.CutPrefix(a, k); found && n != "" {
			return k, n, true
		}
	}
	return "", "", false
}

func isAddr(v string) bool {
	_, err := netip.ParseAddr(v)
	return err == nil
}

// Values returns the personal values t names in "kind=value" form (see
// Text), by kind; addresses are left to the address scan. An export
// collects them over every record first, so a name is recognized in any
// record's text once one record names it.
func Values(t string) map[string]Kind {
	out := map[string]Kind{}
	for _, m := range entityRE.FindAllStringSubmatch(t, -1) {
		kind, v := textKind(m[1]), trimValue(m[2])
		if v == "" {
			continue
		}
		if kind == KindIP {
			if isAddr(v) {
				continue
			}
			kind = KindHost
		}
		if !pseudonymRE.MatchString(v) {
			out[v] = kind
		}
	}
	return out
}

// TextScrubber scrubs many texts with one set of known values (an
// export): the known values' pseudonyms are computed once.
type TextScrubber struct {
	p  *Pseudonymizer
	ek *epochKeys
	kv []knownValue
}

// NewTextScrubber returns a scrubber for the known values (original → kind).
func (p *Pseudonymizer) NewTextScrubber(known map[string]Kind) *TextScrubber {
	ek := p.cur.Load()
	var kv []knownValue
	for orig, kind := range known {
		kv = p.addKnown(kv, ek, kind, orig, p.value(ek, kind, orig, true))
	}
	return &TextScrubber{p: p, ek: ek, kv: kv}
}

// Text is Pseudonymizer.Text with the scrubber's known values.
func (s *TextScrubber) Text(t string) string {
	if t == "" {
		return t
	}
	return s.p.scrubLine(s.ek, slices.Clone(s.kv), t) // scrubLine sorts and appends
}

// trimValue drops sentence punctuation after a value ("on user=alice: …").
func trimValue(v string) string { return strings.TrimRight(v, ".:!?") }
