package privacy

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-ids/rampart/internal/event"
)

var (
	// ErrNotFound means no mapping exists for a pseudonym.
	ErrNotFound = errors.New("pseudonym not found")
	// ErrDenied means the caller's role may not re-identify.
	ErrDenied = errors.New("re-identification not allowed")
	// ErrUnknownEpoch means a key epoch does not exist.
	ErrUnknownEpoch = errors.New("unknown key epoch")
	// ErrDisabled means re-identification is not configured (no mapping
	// store or no audit func).
	ErrDisabled = errors.New("re-identification disabled")
)

// hashBytes is the pseudonym length in bytes (80 bits: 20 hex digits).
const hashBytes = 10

// maxMappedValue bounds the originals kept in the re-identification mapping.
const maxMappedValue = 4096

// minTextValue: known values shorter than this are not replaced inside free
// text, where they would match unrelated words.
const minTextValue = 3

// AuditEntry describes one Reidentify call. It never holds the original.
type AuditEntry struct {
	Time      time.Time
	Actor     string
	Role      string
	Action    string // always "privacy.reidentify"
	Pseudonym string
	// Reason is the caller's stated reason (free text, bounded by the caller).
	Reason  string
	Epoch   uint32 // 0 when not resolved
	Outcome string // "allowed", "denied", "not_found", "error"
}

// AuditFunc records an AuditEntry. If it fails for an allowed call, the
// original is not returned (fail closed).
type AuditFunc func(ctx context.Context, e AuditEntry) error

type roleKey struct{}

// WithRole returns ctx carrying the caller's role, as the API's auth
// middleware knows it. Reidentify reads it.
func WithRole(ctx context.Context, role string) context.Context {
	return context.WithValue(ctx, roleKey{}, role)
}

// RoleFrom returns the role stored by WithRole ("" if none).
func RoleFrom(ctx context.Context) string {
	r, _ := ctx.Value(roleKey{}).(string)
	return r
}

// Continuity maps each recently seen entity's pseudonym in the previous
// epoch to its pseudonym in the new one.
type Continuity map[string]string

// Stats counts the Pseudonymizer's work.
type Stats struct {
	Epoch   uint32
	Pending int
	// MappingsDropped counts entities whose mapping could not be buffered
	// (MaxPending reached): they are pseudonymized but not re-identifiable
	// until seen again after a Flush.
	MappingsDropped int64
	// NotMapped counts values longer than 4 KiB, pseudonymized one-way.
	NotMapped int64
}

// Pseudonymizer pseudonymizes events and values. It is safe for concurrent use.
type Pseudonymizer struct {
	cfg   *compiled
	keys  KeyStore
	deps  Deps
	log   *slog.Logger
	now   func() time.Time
	cur   atomic.Pointer[epochKeys]
	aead  cipher.AEAD // nil without a mapping store
	rotMu sync.Mutex  // serializes Rotate

	mu      sync.Mutex
	seen    map[string]time.Time // pseudonym → last LastSeen buffered, current epoch
	pending []Mapping
	dropped int64
	tooLong int64
	last    Continuity
}

// New validates cfg and loads the current key epoch.
func New(cfg Config, keys KeyStore) (*Pseudonymizer, error) {
	cc, err := cfg.compile()
	if err != nil {
		return nil, err
	}
	if keys == nil {
		return nil, errors.New("privacy: no key store")
	}
	p := &Pseudonymizer{cfg: cc, keys: keys, deps: cfg.Deps, log: cfg.Deps.Logger, now: cfg.Deps.Now, seen: map[string]time.Time{}}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.log = p.log.With("component", "privacy")
	if p.now == nil {
		p.now = time.Now
	}
	cur, err := keys.Current()
	if err != nil {
		return nil, fmt.Errorf("loading privacy keys: %w", err)
	}
	ek, err := deriveEpoch(cur)
	if err != nil {
		return nil, err
	}
	p.cur.Store(ek)
	if cfg.Deps.Mappings != nil {
		mk, err := keys.MappingKey()
		if err != nil {
			return nil, fmt.Errorf("loading mapping key: %w", err)
		}
		blk, err := aes.NewCipher(mk)
		if err != nil {
			return nil, fmt.Errorf("creating mapping cipher: %w", err)
		}
		if p.aead, err = cipher.NewGCM(blk); err != nil {
			return nil, fmt.Errorf("creating mapping cipher: %w", err)
		}
	}
	return p, nil
}

// Epoch returns the current key epoch number.
func (p *Pseudonymizer) Epoch() uint32 { return p.cur.Load().n }

// Value returns the pseudonym of v as a value of kind. Addresses outside the
// configured scope are returned unchanged (they are not personal data by
// configuration); a KindIP value that is not an address is hashed as a name.
func (p *Pseudonymizer) Value(kind Kind, v string) string {
	return p.value(p.cur.Load(), kind, v, true)
}

func (p *Pseudonymizer) value(ek *epochKeys, kind Kind, v string, record bool) string {
	if v == "" {
		return ""
	}
	var ps string
	if kind == KindIP {
		a, err := netip.ParseAddr(v)
		if err != nil {
			kind = KindName
		} else {
			pa, ok := p.addr(ek, a)
			if !ok {
				return v
			}
			ps = pa.String()
		}
	}
	if ps == "" {
		ps = nameHash(ek, kind, v)
	}
	if record {
		p.record(ek, kind, ps, v)
	}
	return ps
}

func prefixOf(k Kind) string {
	switch k {
	case KindUser:
		return "u_"
	case KindEmail:
		return "e_"
	case KindHost:
		return "h_"
	}
	return "p_"
}

// nameHash is the keyed pseudonym of a name. E-mail addresses and host
// names are case-insensitive, as are user names on the Windows hosts that
// dominate the data, so all three are lowercased first.
func nameHash(ek *epochKeys, kind Kind, v string) string {
	if kind != KindName {
		v = strings.ToLower(v)
	}
	m := hmac.New(sha256.New, ek.hmac)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(v))
	return prefixOf(kind) + hex.EncodeToString(m.Sum(nil)[:hashBytes])
}

// addr returns the pseudonym of a and whether a is in scope.
func (p *Pseudonymizer) addr(ek *epochKeys, a netip.Addr) (netip.Addr, bool) {
	a = a.Unmap().WithZone("")
	var keep netip.Prefix
	for _, n := range p.cfg.nets {
		if n.Contains(a) {
			keep = n
			break
		}
	}
	if !keep.IsValid() && !p.cfg.allAddrs {
		return netip.Addr{}, false
	}
	pa := ek.pan.addr(a)
	if keep.IsValid() && !p.cfg.hidePfx {
		pa = splice(a, pa, keep.Bits())
	}
	return pa, true
}

// splice returns the first bits of orig followed by the rest of pseud. Since
// Crypto-PAn is prefix-preserving, this stays a bijection on the network.
func splice(orig, pseud netip.Addr, bits int) netip.Addr {
	o, s := orig.AsSlice(), pseud.AsSlice()
	for i := range o {
		switch {
		case bits >= 8:
			s[i] = o[i]
			bits -= 8
		case bits > 0:
			m := byte(0xff << (8 - bits))
			s[i] = o[i]&m | s[i]&^m
			bits = 0
		}
	}
	r, _ := netip.AddrFromSlice(s)
	return r
}

// record buffers a sealed mapping entry for a pseudonym not recorded
// within TouchEvery.
func (p *Pseudonymizer) record(ek *epochKeys, kind Kind, ps, orig string) {
	if p.aead == nil {
		return
	}
	if len(orig) > maxMappedValue {
		// Such a value is no identifier; it would only bloat the mapping
		// (and exceed its line limit). It stays pseudonymized, one-way.
		p.mu.Lock()
		p.tooLong++
		p.mu.Unlock()
		return
	}
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	// ek may be the previous epoch if a rotation raced this event: the
	// entry is still recorded (under that epoch), so every pseudonym
	// handed out stays re-identifiable.
	if t, ok := p.seen[ps]; ok && now.Sub(t) < p.cfg.touch {
		return
	}
	if len(p.pending) >= p.cfg.pending {
		p.dropped++
		if p.dropped&(p.dropped-1) == 0 { // log at powers of two: rate-limited
			p.log.Warn("mapping buffer full, entity not re-identifiable until next flush", "dropped", p.dropped)
		}
		return
	}
	if len(p.seen) >= 4*p.cfg.pending {
		clear(p.seen) // bounded memory; costs only repeated (idempotent) puts
	}
	p.seen[ps] = now
	p.pending = append(p.pending, Mapping{Epoch: ek.n, Pseudonym: ps, Kind: kind,
		Sealed: p.seal(ek.n, kind, ps, orig), FirstSeen: now, LastSeen: now})
}

func aad(epoch uint32, kind Kind, ps string) []byte {
	b := binary.BigEndian.AppendUint32(nil, epoch)
	b = append(b, kind...)
	b = append(b, 0)
	return append(b, ps...)
}

func (p *Pseudonymizer) seal(epoch uint32, kind Kind, ps, orig string) []byte {
	nonce := make([]byte, p.aead.NonceSize(), p.aead.NonceSize()+len(orig)+p.aead.Overhead())
	_, _ = rand.Read(nonce)
	return p.aead.Seal(nonce, nonce, []byte(orig), aad(epoch, kind, ps))
}

func (p *Pseudonymizer) open(m Mapping) (string, error) {
	ns := p.aead.NonceSize()
	if len(m.Sealed) < ns {
		return "", fmt.Errorf("opening mapping of %q: sealed value too short", m.Pseudonym)
	}
	pt, err := p.aead.Open(nil, m.Sealed[:ns], m.Sealed[ns:], aad(m.Epoch, m.Kind, m.Pseudonym))
	if err != nil {
		return "", fmt.Errorf("opening mapping of %q: %w", m.Pseudonym, err)
	}
	return string(pt), nil
}

// Flush writes buffered mapping entries to the mapping store. Call it after
// each batch (or on a short interval); Reidentify and Rotate flush first.
func (p *Pseudonymizer) Flush(ctx context.Context) error {
	if p.deps.Mappings == nil {
		return nil
	}
	p.mu.Lock()
	batch := p.pending
	p.pending = nil
	p.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	if err := p.deps.Mappings.Put(ctx, batch); err != nil {
		p.mu.Lock()
		// Keep what fits so a transient failure loses nothing within bounds.
		room := max(p.cfg.pending-len(p.pending), 0)
		if len(batch) > room {
			p.dropped += int64(len(batch) - room)
			for _, m := range batch[room:] {
				delete(p.seen, m.Pseudonym) // retried when seen again
			}
			batch = batch[:room]
		}
		p.pending = append(batch, p.pending...)
		p.mu.Unlock()
		return fmt.Errorf("flushing privacy mappings: %w", err)
	}
	return nil
}

// Stats returns counters.
func (p *Pseudonymizer) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{Epoch: p.cur.Load().n, Pending: len(p.pending), MappingsDropped: p.dropped, NotMapped: p.tooLong}
}

// Event returns a pseudonymized copy of ev (ev is not modified). Configured
// fields are replaced by pseudonyms; every other text field (message,
// command lines, paths, URLs, Source) is scrubbed of this event's known
// personal values, of e-mail addresses and of in-scope addresses; dropped
// fields are removed; Raw is dropped, or scrubbed the same way with
// Config.Raw = "scrub". ID, times and Format are kept.
func (p *Pseudonymizer) Event(ev *event.Event) *event.Event {
	return p.event(ev, p.cfg.rawScrub)
}

// Raw returns ev's raw record scrubbed of the event's personal values, of
// e-mail addresses and of in-scope addresses, whatever Config.Raw says:
// for training sets built from raw lines.
func (p *Pseudonymizer) Raw(ev *event.Event) string {
	if ev == nil || len(ev.Raw) == 0 {
		return ""
	}
	return string(p.event(ev, true).Raw)
}

func (p *Pseudonymizer) event(ev *event.Event, rawScrub bool) *event.Event {
	if ev == nil {
		return nil
	}
	ek := p.cur.Load()
	out := &event.Event{ID: ev.ID, Time: ev.Time, Received: ev.Received, Format: ev.Format,
		Fields: make(map[string]any, len(ev.Fields))}
	var known []knownValue // this event's personal values, for the text scan
	addPair := func(kind Kind, orig, ps string) { known = p.addKnown(known, ek, kind, orig, ps) }
	for k, v := range ev.Fields {
		kind, ok := p.cfg.fields[k]
		if !ok || p.cfg.drop[k] {
			continue
		}
		switch x := v.(type) {
		case string:
			ps := p.value(ek, kind, x, true)
			out.Fields[k] = ps
			addPair(kind, x, ps)
		case []string:
			ys := make([]string, len(x))
			for i, s := range x {
				ys[i] = p.value(ek, kind, s, true)
				addPair(kind, s, ys[i])
			}
			out.Fields[k] = ys
		default:
			// A number or bool in a personal field (a numeric user id) is
			// hashed as text so its value cannot leak.
			s := event.ValueString(x)
			ps := p.value(ek, KindName, s, true)
			out.Fields[k] = ps
			addPair(KindName, s, ps)
		}
	}
	sc := &scrubber{p: p, ek: ek, known: sortKnown(known)}
	for k, v := range ev.Fields {
		if _, done := p.cfg.fields[k]; done || p.cfg.drop[k] {
			continue
		}
		switch x := v.(type) {
		case string:
			out.Fields[k] = sc.text(x)
		case []string:
			ys := make([]string, len(x))
			for i, s := range x {
				ys[i] = sc.text(s)
			}
			out.Fields[k] = ys
		default:
			out.Fields[k] = v
		}
	}
	out.Source = sc.text(ev.Source)
	if rawScrub && ev.Raw != nil {
		out.Raw = []byte(sc.text(string(ev.Raw)))
	}
	return out
}

// addKnown adds a personal value and its pseudonym to the text scan list.
func (p *Pseudonymizer) addKnown(known []knownValue, ek *epochKeys, kind Kind, orig, ps string) []knownValue {
	// Addresses are left to the address scan, which finds every spelling
	// and must not pseudonymize an already pseudonymized address again.
	if kind == KindIP || orig == ps {
		return known
	}
	known = addKnown(known, orig, ps)
	if kind == KindHost {
		// The short name of a host appears alone in text ("FS03" for
		// "FS03.corp.lan"); it gets the pseudonym of the short name.
		if i := strings.IndexByte(orig, '.'); i > 0 && net.ParseIP(orig) == nil {
			known = addKnown(known, orig[:i], p.value(ek, KindHost, orig[:i], true))
		}
	}
	return known
}

// Events pseudonymizes a batch (a training set or an export).
func (p *Pseudonymizer) Events(evs []*event.Event) []*event.Event {
	out := make([]*event.Event, len(evs))
	for i, ev := range evs {
		out[i] = p.Event(ev)
	}
	return out
}

// emailRE finds e-mail addresses in free text (only run when t has an '@').
var emailRE = regexp.MustCompile(`[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})+`)

// scrubber cleans free text of one event.
type scrubber struct {
	p     *Pseudonymizer
	ek    *epochKeys
	known []knownValue
}

func (s *scrubber) text(t string) string {
	if t == "" {
		return t
	}
	if len(s.known) > 0 {
		t = replaceTokens(t, s.known)
	}
	if strings.IndexByte(t, '@') >= 0 {
		t = emailRE.ReplaceAllStringFunc(t, func(m string) string { return s.p.value(s.ek, KindEmail, m, true) })
	}
	return replaceAddrs(t, s.addr)
}

// addr pseudonymizes one address found in text, leaving other matches alone.
func (s *scrubber) addr(m string) string {
	a, err := netip.ParseAddr(m)
	if err != nil {
		return m
	}
	pa, ok := s.p.addr(s.ek, a)
	if !ok {
		return m
	}
	s.p.record(s.ek, KindIP, pa.String(), a.Unmap().WithZone("").String())
	return pa.String()
}

// Reidentify returns the original of a pseudonym. The caller's role (from
// WithRole) must be one of Config.ReidentifyRoles; every call, allowed or
// not, is passed to the audit func, and an allowed call whose audit fails
// returns no original. A pseudonym may carry "@<epoch>" to pick the epoch
// (needed for addresses, whose pseudonyms can recur across epochs); without
// it epochs are searched newest first.
func (p *Pseudonymizer) Reidentify(ctx context.Context, pseudonym, actor string) (string, error) {
	return p.ReidentifyReason(ctx, pseudonym, actor, "")
}

// MayReidentify reports whether role is one of Config.ReidentifyRoles
// (default admin).
func (p *Pseudonymizer) MayReidentify(role string) bool { return slices.Contains(p.cfg.roles, role) }

// ReidentifyReason is Reidentify with the caller's reason, which goes into
// the audit entry.
func (p *Pseudonymizer) ReidentifyReason(ctx context.Context, pseudonym, actor, reason string) (string, error) {
	if p.deps.Mappings == nil || p.deps.Audit == nil {
		return "", ErrDisabled
	}
	role := RoleFrom(ctx)
	entry := AuditEntry{Time: p.now().UTC(), Actor: actor, Role: role, Action: "privacy.reidentify", Pseudonym: pseudonym, Reason: reason}
	if actor == "" || !slices.Contains(p.cfg.roles, role) {
		entry.Outcome = "denied"
		if err := p.deps.Audit(ctx, entry); err != nil {
			return "", fmt.Errorf("auditing denied re-identification: %w", err)
		}
		return "", fmt.Errorf("role %q: %w", role, ErrDenied)
	}
	if err := p.Flush(ctx); err != nil {
		p.log.Warn("flush before re-identification failed", "err", err)
	}
	ps, epochs := pseudonym, []uint32(nil)
	if i := strings.LastIndexByte(pseudonym, '@'); i > 0 {
		n, err := strconv.ParseUint(pseudonym[i+1:], 10, 32)
		if err == nil {
			ps, epochs = pseudonym[:i], []uint32{uint32(n)}
		}
	}
	if epochs == nil {
		for n := p.Epoch(); n >= 1; n-- {
			epochs = append(epochs, n)
		}
	}
	for _, n := range epochs {
		m, err := p.deps.Mappings.Get(ctx, n, ps)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err == nil {
			var orig string
			if orig, err = p.open(m); err == nil {
				entry.Epoch, entry.Outcome = n, "allowed"
				if aerr := p.deps.Audit(ctx, entry); aerr != nil {
					return "", fmt.Errorf("auditing re-identification: %w", aerr)
				}
				return orig, nil
			}
		}
		entry.Outcome = "error"
		_ = p.deps.Audit(ctx, entry) // the lookup error below is what the caller needs
		return "", fmt.Errorf("re-identifying %q: %w", pseudonym, err)
	}
	entry.Outcome = "not_found"
	if err := p.deps.Audit(ctx, entry); err != nil {
		return "", fmt.Errorf("auditing re-identification: %w", err)
	}
	return "", fmt.Errorf("re-identifying %q: %w", pseudonym, ErrNotFound)
}

// Rotate starts a new key epoch. From the moment it returns (and for events
// pseudonymized concurrently after the switch) pseudonyms use the new keys.
// Every entity of the previous epoch seen within ContinuityWindow is
// carried over: its new pseudonym is computed from the sealed original,
// recorded with Previous set, and returned in the Continuity table so that
// baselines and models can rename their state. It needs the mapping store;
// without one it fails before changing keys.
func (p *Pseudonymizer) Rotate(ctx context.Context) (Continuity, error) {
	if p.deps.Mappings == nil {
		return nil, fmt.Errorf("rotating privacy keys: %w", ErrDisabled)
	}
	p.rotMu.Lock()
	defer p.rotMu.Unlock()
	if err := p.Flush(ctx); err != nil {
		return nil, fmt.Errorf("rotating privacy keys: %w", err)
	}
	now := p.now()
	old := p.cur.Load()
	ne, err := p.keys.Rotate(now)
	if err != nil {
		return nil, fmt.Errorf("rotating privacy keys: %w", err)
	}
	nk, err := deriveEpoch(ne)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.cur.Store(nk)
	stale := p.pending // recorded under the old epoch after the flush above
	p.pending = nil
	clear(p.seen)
	p.mu.Unlock()
	if len(stale) > 0 {
		if err := p.deps.Mappings.Put(ctx, stale); err != nil {
			return nil, fmt.Errorf("rotating privacy keys: %w", err)
		}
	}
	cont := Continuity{}
	var carry []Mapping
	err = p.deps.Mappings.SeenSince(ctx, old.n, now.Add(-p.cfg.window), func(m Mapping) error {
		orig, err := p.open(m)
		if err != nil {
			return err
		}
		nps := p.value(nk, m.Kind, orig, false)
		if m.Kind == KindIP && nps == orig {
			return nil // out of scope now (config changed): nothing to carry
		}
		cont[m.Pseudonym] = nps
		carry = append(carry, Mapping{Epoch: nk.n, Pseudonym: nps, Kind: m.Kind, Sealed: p.seal(nk.n, m.Kind, nps, orig),
			FirstSeen: now, LastSeen: m.LastSeen, Previous: m.Pseudonym})
		return nil
	})
	if err == nil {
		err = p.deps.Mappings.Put(ctx, carry)
	}
	if err != nil {
		// The new epoch is in force; entities not carried will look new.
		return nil, fmt.Errorf("carrying entities into epoch %d: %w", nk.n, err)
	}
	p.mu.Lock()
	p.last = cont
	p.mu.Unlock()
	p.log.Info("privacy key epoch rotated", "epoch", nk.n, "carried", len(cont))
	return cont, nil
}

// Successor returns the new pseudonym of an entity carried over by the
// last Rotate.
func (p *Pseudonymizer) Successor(old string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, ok := p.last[old]
	return n, ok
}
