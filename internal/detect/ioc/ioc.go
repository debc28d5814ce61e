package ioc

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
)

// Kind is the detector kind and the Signal.Detector value.
const Kind = "ioc"

// Spec registers the detector kind.
var Spec = detect.Spec{
	Kind:    Kind,
	Layer:   signal.LayerRules,
	Summary: "Matches IPs, CIDRs, domains, URLs and file hashes against plain, CSV and STIX 2.1 indicator lists.",
	New:     factory,
}

func init() { detect.Register(Spec) }

var (
	_ detect.Detector = (*Detector)(nil)
	_ detect.Reloader = (*Detector)(nil)
)

// factory builds a Detector from generic detector options: each rule path is
// a list named after its files; Config is decoded as Config.
func factory(o detect.Options) (detect.Detector, error) {
	c, err := decodeConfig(o.Config)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("validating ioc config: %w", err)
	}
	lists := append([]ListConfig(nil), c.Lists...)
	for _, p := range o.RulePaths {
		lists = append(lists, ListConfig{Path: p})
	}
	return New(Options{Lists: lists, DefaultLevel: c.Level, MaxFileBytes: c.MaxFileBytes, MaxIndicators: c.MaxIndicators})
}

// Detector matches events against indicator tables. Detect may run
// concurrently with Reload; each Detect sees one consistent table set.
type Detector struct {
	opts   Options
	log    *slog.Logger
	cur    atomic.Pointer[tables]
	reload sync.Mutex
	views  sync.Pool
}

// New loads every list and returns the detector. A missing or unreadable
// file, or a malformed STIX document, is an error; bad lines are counted in
// Stats and logged, not fatal.
func New(opts Options) (*Detector, error) {
	if opts.DefaultLevel == "" {
		opts.DefaultLevel = signal.LevelHigh
	}
	if opts.DefaultLevel.Rank() < 0 {
		return nil, fmt.Errorf("ioc: unknown level %q", opts.DefaultLevel)
	}
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = DefaultMaxFileBytes
	}
	if opts.MaxIndicators <= 0 {
		opts.MaxIndicators = DefaultMaxIndicators
	}
	for i, l := range opts.Lists {
		if err := l.Validate(); err != nil {
			return nil, fmt.Errorf("ioc: lists[%d]: %w", i, err)
		}
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Detector{opts: opts, log: log.With("component", "detect/ioc")}
	d.views.New = func() any { return new(view) }
	t, err := load(opts)
	if err != nil {
		return nil, fmt.Errorf("ioc: %w", err)
	}
	d.logStats(t.stats)
	d.cur.Store(t)
	return d, nil
}

// Name implements detect.Detector.
func (d *Detector) Name() string { return Kind }

// Reload re-reads every list and swaps the new tables in atomically. On
// error the old tables stay in use.
func (d *Detector) Reload(ctx context.Context) error {
	d.reload.Lock()
	defer d.reload.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := load(d.opts)
	if err != nil {
		d.log.Error("reload failed, keeping previous indicators", "err", err)
		return fmt.Errorf("ioc: reloading: %w", err)
	}
	d.cur.Store(t)
	d.logStats(t.stats)
	return nil
}

// Stats reports what the current tables hold (a copy the caller may keep).
func (d *Detector) Stats() Stats {
	s := d.cur.Load().stats
	s.Indicators = maps.Clone(s.Indicators)
	s.Unsupported = maps.Clone(s.Unsupported)
	s.Errors = slices.Clone(s.Errors)
	return s
}

func (d *Detector) logStats(s Stats) {
	d.log.Info("indicators loaded", "files", s.Files, "indicators", s.Total(), "bad_lines", s.BadLines,
		"duplicates", s.Duplicates, "revoked", s.Revoked, "unsupported", len(s.Unsupported))
	for i, e := range s.Errors {
		if i == 10 {
			break
		}
		d.log.Warn("bad indicator line", "at", e.String())
	}
}

// Field lists read by Detect, in the order matches are reported.
var (
	IPFields     = []string{"source.ip", "destination.ip", "related.ip"}
	DomainFields = []string{"dns.question.name", "url.domain", "tls.server.sni", "destination.domain"}
	HashFields   = []string{
		"file.hash.sha256", "file.hash.sha1", "file.hash.md5",
		"process.hash.sha256", "process.hash.sha1", "process.hash.md5", "related.hash",
	}
)

// Fields with special handling.
const (
	fieldURL         = "url.original"
	fieldURLDomain   = "url.domain"
	fieldWinlogHashe = "winlog.event_data.Hashes"
)

// obs is one observed value of an event and the field it came from.
type obs struct {
	field string
	value string // normalized (lower-case domain/hash, URL key, canonical IP)
	raw   string // as in the event
	addr  netip.Addr
}

// view is the observable values of one event; pooled.
type view struct {
	ips, domains, urls, hashes []obs
	hits                       []hit
	memo                       ipMemo
}

// ipMemo remembers the last few IP field values parsed, across events: an
// event names its address in source.ip and again in related.ip, and
// consecutive events repeat addresses. The zero entries map "" to "not an
// address", which is what parsing "" gives.
type ipMemo struct {
	raw  [4]string
	addr [4]netip.Addr
	ok   [4]bool
	next uint8
}

// parse is netip.ParseAddr of s trimmed, unmapped and without a zone.
func (m *ipMemo) parse(s string) (netip.Addr, bool) {
	for i := range m.raw {
		if m.raw[i] == s {
			return m.addr[i], m.ok[i]
		}
	}
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err == nil {
		a = a.Unmap().WithZone("")
	}
	i := m.next % uint8(len(m.raw))
	m.raw[i], m.addr[i], m.ok[i] = s, a, err == nil
	m.next = i + 1
	return m.addr[i], m.ok[i]
}

type hit struct {
	ind *Indicator
	o   obs
}

func (v *view) reset() {
	v.ips, v.domains, v.urls, v.hashes, v.hits = v.ips[:0], v.domains[:0], v.urls[:0], v.hashes[:0], v.hits[:0]
}

// eachString calls f for a string field or each element of a []string field.
func eachString(ev *event.Event, field string, f func(string)) {
	switch x := ev.Fields[field].(type) {
	case string:
		f(x)
	case []string:
		for _, s := range x {
			f(s)
		}
	}
}

func (v *view) collect(ev *event.Event) {
	for _, fld := range IPFields {
		eachString(ev, fld, func(s string) {
			if a, ok := v.memo.parse(s); ok {
				v.ips = append(v.ips, obs{field: fld, raw: s, addr: a})
			}
		})
	}
	for _, fld := range DomainFields {
		eachString(ev, fld, func(s string) {
			// A host given as an address (HTTP Host, SNI-less TLS) is checked as an IP.
			if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
				v.ips = append(v.ips, obs{field: fld, raw: s, addr: a.Unmap().WithZone("")})
				return
			}
			// Longer than a DNS name can be: never listed, and suffix walking a
			// hostile megabyte of dots would be quadratic.
			if len(s) > maxDomainLen+1 {
				return
			}
			d := strings.TrimSuffix(strings.ToLower(s), ".")
			if d != "" {
				v.domains = append(v.domains, obs{field: fld, value: d, raw: s})
			}
		})
	}
	host, _ := ev.Fields[fieldURLDomain].(string)
	eachString(ev, fieldURL, func(s string) {
		if k, ok := urlKey(s, host); ok {
			raw := s
			if !strings.Contains(s, "://") {
				raw = host + s // a path: name the host in the entity
			}
			v.urls = append(v.urls, obs{field: fieldURL, value: k, raw: raw})
		}
	})
	for _, fld := range HashFields {
		eachString(ev, fld, func(s string) {
			if h := strings.ToLower(strings.TrimSpace(s)); isHex(h) {
				v.hashes = append(v.hashes, obs{field: fld, value: h, raw: s})
			}
		})
	}
	eachString(ev, fieldWinlogHashe, func(s string) {
		// Sysmon: "SHA1=…,MD5=…,SHA256=…,IMPHASH=…"; IMPHASH is not a file hash.
		for rest := s; rest != ""; {
			var part string
			part, rest, _ = strings.Cut(rest, ",")
			alg, h, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok {
				continue
			}
			switch strings.ToUpper(alg) {
			case "MD5", "SHA1", "SHA256":
				if h = strings.ToLower(h); isHex(h) {
					v.hashes = append(v.hashes, obs{field: fieldWinlogHashe, value: h, raw: h})
				}
			}
		}
	})
}

// Detect implements detect.Detector.
func (d *Detector) Detect(_ context.Context, ev *event.Event, emit detect.Emit) error {
	t := d.cur.Load()
	v := d.views.Get().(*view)
	defer d.views.Put(v)
	v.reset()
	v.collect(ev)
	for i, o := range v.ips {
		// An address repeated by the next field (source.ip then the same
		// address in related.ip) matches the same indicators, all already
		// hit; other repeats are left to match's de-duplication.
		if i > 0 && o.addr == v.ips[i-1].addr {
			continue
		}
		if _, ok := t.ips.Lookup(o.addr); !ok {
			continue
		}
		// Lookup gives the longest match only; other lists may hold wider prefixes.
		for _, inds := range t.ips.Supernets(prefixOf(o.addr)) {
			v.match(ev, inds, o)
		}
	}
	for _, o := range v.domains {
		for dom := o.value; ; {
			if inds, ok := t.domains[dom]; ok {
				v.match(ev, inds, o)
			}
			i := strings.IndexByte(dom, '.')
			if i < 0 {
				break
			}
			dom = dom[i+1:]
		}
	}
	for _, o := range v.urls {
		v.match(ev, t.urls[o.value], o)
	}
	for _, o := range v.hashes {
		v.match(ev, t.hashes[o.value], o)
	}
	for _, h := range v.hits {
		emit(newSignal(ev, h))
	}
	return nil
}

// match records the indicators that apply: not expired at event time, all
// AND terms present, and not already hit on this event.
func (v *view) match(ev *event.Event, inds []*Indicator, o obs) {
next:
	for _, ind := range inds {
		if !ind.ValidUntil.IsZero() && !ev.Time.IsZero() && !ev.Time.Before(ind.ValidUntil) {
			continue
		}
		for _, h := range v.hits {
			if h.ind == ind {
				continue next
			}
		}
		for _, term := range ind.AllOf {
			if !v.has(term) {
				continue next
			}
		}
		v.hits = append(v.hits, hit{ind: ind, o: o})
	}
}

// has reports whether the event contains a value matching term.
func (v *view) has(term Term) bool {
	switch term.Type {
	case TypeIP:
		for _, o := range v.ips {
			if term.Prefix.Contains(o.addr) {
				return true
			}
		}
	case TypeDomain:
		for _, o := range v.domains {
			if o.value == term.Value || strings.HasSuffix(o.value, "."+term.Value) {
				return true
			}
		}
	case TypeURL:
		for _, o := range v.urls {
			if o.value == term.Value {
				return true
			}
		}
	default:
		for _, o := range v.hashes {
			if o.value == term.Value {
				return true
			}
		}
	}
	return false
}

func newSignal(ev *event.Event, h hit) signal.Signal {
	ind := h.ind
	matched := h.o.raw
	if ind.Type == TypeDomain {
		matched = h.o.value
	}
	if ind.Type == TypeIP {
		matched = h.o.addr.String()
	}
	// Show the canonical value; URLs keep their scheme as listed.
	shown := ind.Value
	switch {
	case ind.Type == TypeURL:
		shown = ind.Original
	case ind.Type == TypeIP && ind.Prefix.IsSingleIP():
		shown = ind.Prefix.Addr().String()
	}
	ruleID := "ioc:" + ind.Source
	details := map[string]any{
		"indicator": shown,
		"type":      string(ind.Type),
		"field":     h.o.field,
		"value":     matched,
		"source":    ind.Source,
	}
	if ind.STIXID != "" {
		details["stix_id"] = ind.STIXID
	}
	if ind.Name != "" {
		details["stix_name"] = ind.Name
	}
	if len(ind.Labels) > 0 {
		details["labels"] = append([]string(nil), ind.Labels...)
	}
	if !ind.ValidUntil.IsZero() {
		details["valid_until"] = ind.ValidUntil
	}
	ents := []signal.Entity{{Kind: ind.Type.entityKind(), Value: matched}}
	if hn, ok := ev.GetString("host.name"); ok && hn != "" {
		ents = append(ents, signal.Entity{Kind: "host", Value: hn})
	} else if hn, ok := ev.GetString("host.hostname"); ok && hn != "" {
		ents = append(ents, signal.Entity{Kind: "host", Value: hn})
	}
	if u, ok := ev.GetString("user.name"); ok && u != "" {
		ents = append(ents, signal.Entity{Kind: "user", Value: u})
	}
	explain := fmt.Sprintf("%s %s matches %s indicator %s from list %s", h.o.field, matched, ind.Type, shown, ind.Source)
	return signal.Signal{
		ID:          signal.DeriveID(Kind, ruleID+"\x00"+string(ind.Type)+":"+ind.Value, ev.ID),
		Detector:    Kind,
		Layer:       signal.LayerRules,
		RuleID:      ruleID,
		RuleVersion: ind.Version,
		Title:       fmt.Sprintf("Known-bad %s %s (%s)", ind.Type, shown, ind.Source),
		Level:       ind.Level,
		Score:       1,
		Entities:    ents,
		Time:        ev.Time,
		EventIDs:    []string{ev.ID},
		Explanation: explain,
		Details:     details,
	}
}
