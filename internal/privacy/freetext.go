package privacy

import (
	"net/netip"
	"regexp"
	"strings"
)

// entityRE finds "kind=value" pairs in free text: alert entity keys
// ("host=ws1,user=alice") and key=value log fields ("user=alice",
// "rhost=10.1.2.3"). The value runs to the next separator.
var entityRE = regexp.MustCompile(`(?i)\b(user|username|user_name|ruser|logname|account|login|host|hostname|rhost|shost|email|mail|ip|src_ip|dst_ip|addr)=([^\s,;&"'<>()\[\]{}]{1,256})`)

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
	for _, m := range entityRE.FindAllStringSubmatch(t, -1) {
		kind, v := textKind(m[1]), m[2]
		if kind == KindIP {
			if isAddr(v) {
				continue // the address scan below finds it (and leaves out-of-scope ones)
			}
			kind = KindHost // "rhost=ws7.corp": a host name
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
