package privacy

import (
	"net/netip"
	"regexp"
	"strings"

	"github.com/rampart-ids/rampart/internal/event"
)

// entityKeys are the keys of "kind=value" pairs in free text that name
// personal data: alert entity keys ("host=ws1,user=alice") and key=value
// log fields ("user=alice", "rhost=10.1.2.3").
var entityKeys = map[string]bool{"user": true, "username": true, "user_name": true, "ruser": true, "logname": true,
	"account": true, "login": true, "host": true, "hostname": true, "rhost": true, "shost": true, "email": true,
	"mail": true, "ip": true, "src_ip": true, "dst_ip": true, "addr": true}

// maxEntityValue bounds the value of one pair.
const maxEntityValue = 256

// entityPairs calls fn with each "key=value" pair of t whose key (matched
// case-insensitively, as a whole word) is an entityKeys key; the value
// runs to the next space or separator. A scanner, not a regexp: exports
// run it over every record.
func entityPairs(t string, fn func(key, value string)) {
	for i := strings.IndexByte(t, '='); i >= 0 && i < len(t); {
		s := i
		for s > 0 && (t[s-1] >= 'a' && t[s-1] <= 'z' || t[s-1] >= 'A' && t[s-1] <= 'Z' || t[s-1] == '_') {
			s--
		}
		e := i + 1
		if s < i && (s == 0 || !asciiWord(t[s-1])) && entityKeys[asciiLower(t[s:i])] {
			for e < len(t) && e-i-1 < maxEntityValue && valueByte(t[e]) {
				e++
			}
			if e > i+1 {
				fn(asciiLower(t[s:i]), t[i+1:e])
			}
		}
		n := strings.IndexByte(t[e:], '=')
		if n < 0 {
			return
		}
		i = e + n
	}
}

// asciiWord is a regexp \w byte.
func asciiWord(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// valueByte reports whether c may be part of a pair's value.
func valueByte(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\f', '\r', ',', ';', '&', '"', '\'', '<', '>', '(', ')', '[', ']', '{', '}':
		return false
	}
	return true
}

// pseudonymRE is the shape of a name pseudonym.
var pseudonymRE = regexp.MustCompile(`^[uehp]_[0-9a-f]{20}$`)

// textKind maps an entityKeys key to the kind of its value.
func textKind(k string) Kind {
	switch k {
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
	entityPairs(t, func(key, v string) {
		kind, v := textKind(key), trimValue(v)
		if v == "" {
			return
		}
		if kind == KindIP {
			if isAddr(v) {
				return // the address scan below finds it (and leaves out-of-scope ones)
			}
			kind = KindHost // "rhost=ws7.corp": a host name
		}
		if pseudonymRE.MatchString(v) {
			return // already a pseudonym (a reason quoting one)
		}
		kv = p.addKnown(kv, ek, kind, v, p.value(ek, kind, v, true))
	})
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
	entityPairs(t, func(key, v string) {
		kind, v := textKind(key), trimValue(v)
		if v == "" || (kind == KindIP && isAddr(v)) || pseudonymRE.MatchString(v) {
			return
		}
		if kind == KindIP {
			kind = KindHost
		}
		out[v] = kind
	})
	return out
}

// TextScrubber scrubs many texts with one set of known values (an
// export): the known values' pseudonyms are computed once and indexed by
// their first word, so a text costs about its length, not the number of
// known values.
type TextScrubber struct {
	p     *Pseudonymizer
	ek    *epochKeys
	idx   map[string][]knownValue // first word → values, longest first
	lower map[string]bool         // every indexed value, lowercased
}

// NewTextScrubber returns a scrubber for the known values (original → kind).
func (p *Pseudonymizer) NewTextScrubber(known map[string]Kind) *TextScrubber {
	ek := p.cur.Load()
	var kv []knownValue
	for orig, kind := range known {
		kv = p.addKnown(kv, ek, kind, orig, p.value(ek, kind, orig, true))
	}
	s := &TextScrubber{p: p, ek: ek, idx: map[string][]knownValue{}, lower: map[string]bool{}}
	for _, k := range sortKnown(kv) {
		w := firstWord(k.lower)
		if w == "" {
			continue // starts with punctuation: not a name
		}
		s.idx[w] = append(s.idx[w], k) // kv is longest first, so each list is too
		s.lower[k.lower] = true
	}
	return s
}

// Text is Pseudonymizer.Text with the scrubber's known values.
func (s *TextScrubber) Text(t string) string {
	if t == "" {
		return t
	}
	var extra []knownValue // kind=value pairs of t the scrubber does not know
	entityPairs(t, func(key, v string) {
		kind, v := textKind(key), trimValue(v)
		if v == "" || s.lower[asciiLower(v)] || pseudonymRE.MatchString(v) || (kind == KindIP && isAddr(v)) {
			return
		}
		if kind == KindIP {
			kind = KindHost
		}
		extra = s.p.addKnown(extra, s.ek, kind, v, s.p.value(s.ek, kind, v, true))
	})
	if len(extra) > 0 {
		t = replaceTokens(t, sortKnown(extra))
	}
	t = replaceIndexed(t, s.idx)
	sc := &scrubber{p: s.p, ek: s.ek}
	return sc.text(t) // e-mail addresses and in-scope addresses
}

// trimValue drops sentence punctuation after a value ("on user=alice: …").
func trimValue(v string) string { return strings.TrimRight(v, ".:!?") }
