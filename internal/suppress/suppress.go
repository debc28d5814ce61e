// Package suppress defines Suppression (DESIGN.md: a scoped, expiring rule,
// usually born from a verdict, that hides matching signals) and Matcher, the
// in-memory index the serve process checks every signal against.
//
// A suppression's scope is a detector, a rule id, or an explicit entity list
// (or any combination, all of which must match); there is no "suppress
// everything". Expiry is on the wall clock: a suppression is an operational
// object an analyst sets for a period of real time, not a statement about
// event time. It is a leaf package (standard library plus alert and signal).
package suppress

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/signal"
)

// Bounds on what one suppression may hold.
const (
	DefaultTTL  = 7 * 24 * time.Hour
	MaxTTL      = 90 * 24 * time.Hour
	MaxReason   = 1024
	MaxEntities = 16
	MaxText     = 256 // detector, rule id, entity kind and value
	// MaxActive bounds the suppressions a node holds, so the matcher and
	// the list stay small.
	MaxActive = 10000
)

// ErrInvalid means a suppression is malformed; the message says why.
var ErrInvalid = errors.New("invalid suppression")

// Entity is one entity match: Kind is a signal entity kind ("user", "host",
// "ip", "process", …); Value is compared case-insensitively for user and
// host, as an address or CIDR prefix for ip, and exactly otherwise.
type Entity struct {
	Kind  string
	Value string
}

// String renders e as "kind:value".
func (e Entity) String() string { return e.Kind + ":" + e.Value }

// kindAliases map ECS field names people type to the signal entity kinds.
// Signals carry ip entities without their direction, so source.ip and
// destination.ip both match an ip entity.
var kindAliases = map[string]string{
	"user.name": "user", "host.name": "host", "host.hostname": "host",
	"source.ip": "ip", "destination.ip": "ip", "client.ip": "ip", "server.ip": "ip",
	"process.executable": "process", "process.name": "process",
}

// ParseEntity reads "kind:value" (e.g. "user:alice", "source.ip:10.0.0.0/8").
func ParseEntity(s string) (Entity, error) {
	k, v, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return Entity{}, fmt.Errorf("%w: entity %q is not kind:value", ErrInvalid, clip(s))
	}
	return Entity{Kind: k, Value: v}, nil
}

// Suppression hides signals matching its scope until Expires.
type Suppression struct {
	ID       string
	Detector string // empty: any detector
	RuleID   string // empty: any rule
	// Entities must all be present among a signal's entities.
	Entities  []Entity
	Reason    string
	CreatedBy string
	Created   time.Time
	Expires   time.Time
	// OriginAlert and OriginVerdict name the alert (and its verdict, if
	// any) the suppression was born from; empty when made by hand.
	OriginAlert   string
	OriginVerdict alert.VerdictKind
	// Hits counts the signals hidden; LastHit (wall clock) and
	// LastEventID name the newest, whose event is stored as evidence.
	Hits        int64
	LastHit     time.Time
	LastEventID string
}

// Active reports whether s applies at wall-clock time now.
func (s *Suppression) Active(now time.Time) bool { return now.Before(s.Expires) }

// Scope renders the scope for people and audit records.
func (s *Suppression) Scope() string {
	var parts []string
	if s.Detector != "" {
		parts = append(parts, "detector="+s.Detector)
	}
	if s.RuleID != "" {
		parts = append(parts, "rule="+s.RuleID)
	}
	for _, e := range s.Entities {
		parts = append(parts, e.String())
	}
	return strings.Join(parts, " ")
}

// Spec is what a person asks for; New validates it.
type Spec struct {
	Detector, RuleID string
	Entities         []Entity
	Reason           string
	CreatedBy        string
	// TTL is how long it lasts from now (0: DefaultTTL; at most MaxTTL).
	TTL           time.Duration
	OriginAlert   string
	OriginVerdict alert.VerdictKind
}

// New validates sp and returns the suppression, created at now with a
// random id. Errors wrap ErrInvalid and say what is wrong.
func New(sp Spec, now time.Time) (Suppression, error) {
	ttl := sp.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < 0 || ttl > MaxTTL {
		return Suppression{}, fmt.Errorf("%w: duration must be between 1s and %s", ErrInvalid, MaxTTL)
	}
	if ttl < time.Second {
		return Suppression{}, fmt.Errorf("%w: duration must be between 1s and %s", ErrInvalid, MaxTTL)
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	now = now.UTC().Truncate(time.Microsecond)
	s := Suppression{
		ID: hex.EncodeToString(b[:]), Detector: strings.TrimSpace(sp.Detector), RuleID: strings.TrimSpace(sp.RuleID),
		Reason: strings.TrimSpace(sp.Reason), CreatedBy: sp.CreatedBy, Created: now, Expires: now.Add(ttl),
		OriginAlert: sp.OriginAlert, OriginVerdict: sp.OriginVerdict,
	}
	for _, e := range sp.Entities {
		s.Entities = append(s.Entities, Entity{Kind: strings.TrimSpace(e.Kind), Value: strings.TrimSpace(e.Value)})
	}
	if err := s.Validate(); err != nil {
		return Suppression{}, err
	}
	for i, e := range s.Entities {
		s.Entities[i] = canonical(e)
	}
	return s, nil
}

// Validate checks scope, bounds and times (stores call it before writing).
func (s *Suppression) Validate() error {
	if s.ID == "" || len(s.ID) > 64 {
		return fmt.Errorf("%w: id must be 1..64 bytes", ErrInvalid)
	}
	if s.Detector == "" && s.RuleID == "" && len(s.Entities) == 0 {
		return fmt.Errorf("%w: a detector, a rule id or at least one entity is required (a suppression never hides everything)", ErrInvalid)
	}
	for name, v := range map[string]string{"detector": s.Detector, "rule_id": s.RuleID, "created_by": s.CreatedBy, "origin_alert": s.OriginAlert} {
		if len(v) > MaxText || !utf8.ValidString(v) {
			return fmt.Errorf("%w: %s must be valid UTF-8 of at most %d bytes", ErrInvalid, name, MaxText)
		}
	}
	if s.Reason == "" || len(s.Reason) > MaxReason || !utf8.ValidString(s.Reason) {
		return fmt.Errorf("%w: a reason (up to %d bytes) is required", ErrInvalid, MaxReason)
	}
	if len(s.Entities) > MaxEntities {
		return fmt.Errorf("%w: at most %d entities", ErrInvalid, MaxEntities)
	}
	for _, e := range s.Entities {
		if err := checkEntity(e); err != nil {
			return err
		}
	}
	if s.OriginVerdict != "" && !s.OriginVerdict.Valid() {
		return fmt.Errorf("%w: unknown origin verdict %q", ErrInvalid, clip(string(s.OriginVerdict)))
	}
	if s.Created.IsZero() || !s.Expires.After(s.Created) {
		return fmt.Errorf("%w: expiry must be after creation", ErrInvalid)
	}
	if s.Expires.Sub(s.Created) > MaxTTL {
		return fmt.Errorf("%w: a suppression lasts at most %s", ErrInvalid, MaxTTL)
	}
	return nil
}

func checkEntity(e Entity) error {
	k := kindOf(e.Kind)
	if k == "" || len(e.Kind) > MaxText || strings.ContainsAny(e.Kind, " \t:") {
		return fmt.Errorf("%w: entity kind %q is empty or malformed", ErrInvalid, clip(e.Kind))
	}
	if e.Value == "" || len(e.Value) > MaxText || !utf8.ValidString(e.Value) {
		return fmt.Errorf("%w: entity %s needs a value of 1..%d bytes", ErrInvalid, k, MaxText)
	}
	if k == "ip" {
		if _, err := parsePrefix(e.Value); err != nil {
			return fmt.Errorf("%w: entity ip:%s is not an address or CIDR prefix", ErrInvalid, clip(e.Value))
		}
	}
	return nil
}

func kindOf(k string) string {
	if a, ok := kindAliases[k]; ok {
		return a
	}
	return k
}

// canonical maps aliases to kinds, lower-cases user and host names and
// writes addresses and prefixes canonically.
func canonical(e Entity) Entity {
	e.Kind = kindOf(e.Kind)
	switch e.Kind {
	case "user", "host":
		e.Value = strings.ToLower(e.Value)
	case "ip":
		if p, err := parsePrefix(e.Value); err == nil {
			if p.IsSingleIP() {
				e.Value = p.Addr().String()
			} else {
				e.Value = p.String()
			}
		}
	}
	return e
}

func parsePrefix(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return p, err
		}
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()).Masked(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func clip(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// FromAlert is the Spec of "suppress similar" for alert a: the same
// detector and rule, and a's user, host and ip entities (the ones that
// identify who or what; process and file values vary too much to scope by).
func FromAlert(a alert.Alert) Spec {
	sp := Spec{Detector: a.Detector, RuleID: a.RuleID, OriginAlert: a.ID}
	if a.Verdict != nil {
		sp.OriginVerdict = a.Verdict.Kind
	}
	for _, e := range a.Entities {
		switch e.Kind {
		case "user", "host", "ip":
			if len(sp.Entities) < MaxEntities {
				sp.Entities = append(sp.Entities, Entity{Kind: e.Kind, Value: e.Value})
			}
		}
	}
	return sp
}

// matchEntities reports whether every entity of s is among sig's.
func (c *compiled) matchEntities(sig *signal.Signal) bool {
	for i := range c.ents {
		if !c.ents[i].matchAny(sig.Entities) {
			return false
		}
	}
	return true
}
