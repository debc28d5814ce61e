// Package ids passes the alerts of network IDSs through as Rampart signals:
// Suricata EVE records with event_type alert, and Zeek notice.log records.
// The IDS already decided; this detector only maps its verdict (signature,
// category, severity, ATT&CK metadata, addresses) onto a signal so it reaches
// alerting and triage like any other rule match. It is stateless: no I/O and
// no clock, one signal per alert record at most.
package ids

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
)

// Kind is the detector kind and the Signal.Detector value.
const Kind = "ids"

// Spec registers the detector kind.
var Spec = detect.Spec{
	Kind:    Kind,
	Layer:   signal.LayerRules,
	Summary: "Passes Suricata EVE alerts and Zeek notices through as signals (signature, severity, ATT&CK metadata).",
	New:     factory,
}

func init() { detect.Register(Spec) }

var _ detect.Detector = (*Detector)(nil)

// Config is the kind's configuration (detect.Options.Config keys in
// parentheses). The zero value gives the defaults.
type Config struct {
	// SuricataLevels maps a Suricata alert severity to a level
	// (suricata_levels). Default 1 high, 2 medium, 3 low, as Suricata's
	// classification priorities read.
	SuricataLevels map[int]signal.Level
	// SuricataDefault is the level of severities not in SuricataLevels, and
	// of alerts without one (suricata_default_level). Default low.
	SuricataDefault signal.Level
	// NoticeLevels maps a Zeek notice type to a level (zeek_notice_levels),
	// over the built-in table (DefaultNoticeLevels).
	NoticeLevels map[string]signal.Level
	// NoticeDefault is the level of notice types in neither table
	// (zeek_notice_default_level). Default low.
	NoticeDefault signal.Level
	// MinLevel drops IDS alerts below it (min_level). Default low, which
	// leaves out the informational Zeek notices (certificate validation,
	// protocol found on a non-standard port).
	MinLevel signal.Level
	// Sources limits the IDSs passed through (sources: suricata, zeek).
	// Default both.
	Sources []string
}

// DefaultSuricataLevels are Suricata's classification priorities.
var DefaultSuricataLevels = map[int]signal.Level{1: signal.LevelHigh, 2: signal.LevelMedium, 3: signal.LevelLow}

// noticeInfo is what Rampart knows about a Zeek notice type.
type noticeInfo struct {
	level signal.Level
	tags  []string
}

// builtinNotices are the notice types of Zeek's bundled scripts whose
// meaning is clear enough to rank; others get NoticeDefault.
var builtinNotices = map[string]noticeInfo{
	"Scan::Port_Scan":                          {signal.LevelMedium, []string{"attack.discovery", "attack.t1046"}},
	"Scan::Address_Scan":                       {signal.LevelMedium, []string{"attack.reconnaissance", "attack.t1595.001", "attack.discovery", "attack.t1046"}},
	"SSH::Password_Guessing":                   {signal.LevelHigh, []string{"attack.credential-access", "attack.t1110.001"}},
	"SSH::Login_By_Password_Guesser":           {signal.LevelHigh, []string{"attack.credential-access", "attack.t1110.001", "attack.initial-access", "attack.t1078"}},
	"FTP::Bruteforcing":                        {signal.LevelHigh, []string{"attack.credential-access", "attack.t1110.001"}},
	"HTTP::SQL_Injection_Attacker":             {signal.LevelHigh, []string{"attack.initial-access", "attack.t1190"}},
	"HTTP::SQL_Injection_Victim":               {signal.LevelMedium, []string{"attack.initial-access", "attack.t1190"}},
	"TeamCymruMalwareHashRegistry::Match":      {signal.LevelHigh, nil},
	"Intel::Notice":                            {signal.LevelHigh, nil},
	"Traceroute::Detected":                     {signal.LevelLow, []string{"attack.discovery", "attack.t1016"}},
	"SMTP::Blocklist_Error_Message":            {signal.LevelLow, nil},
	"SMTP::Suspicious_Origination":             {signal.LevelMedium, nil},
	"SSL::Invalid_Server_Cert":                 {signal.LevelInformational, nil},
	"SSL::Certificate_Expired":                 {signal.LevelInformational, nil},
	"SSL::Certificate_Expires_Soon":            {signal.LevelInformational, nil},
	"SSL::Certificate_Not_Valid_Yet":           {signal.LevelInformational, nil},
	"SSL::Invalid_Ocsp_Response":               {signal.LevelInformational, nil},
	"SSL::Weak_Key":                            {signal.LevelInformational, nil},
	"SSL::Old_Version":                         {signal.LevelInformational, nil},
	"SSL::Weak_Cipher":                         {signal.LevelInformational, nil},
	"ProtocolDetector::Protocol_Found":         {signal.LevelInformational, nil},
	"ProtocolDetector::Server_Found":           {signal.LevelInformational, nil},
	"CaptureLoss::Too_Much_Loss":               {signal.LevelInformational, nil},
	"CaptureLoss::Too_Little_Traffic":          {signal.LevelInformational, nil},
	"PacketFilter::Dropped_Packets":            {signal.LevelInformational, nil},
	"Weird::Activity":                          {signal.LevelInformational, nil},
	"Software::Vulnerable_Version":             {signal.LevelMedium, nil},
	"Conn::Retransmission_Inconsistency":       {signal.LevelInformational, nil},
	"Conn::Content_Gap":                        {signal.LevelInformational, nil},
	"DNS::External_Name":                       {signal.LevelLow, nil},
	"Heartbleed::SSL_Heartbeat_Attack":         {signal.LevelHigh, []string{"attack.initial-access", "attack.t1190"}},
	"Heartbleed::SSL_Heartbeat_Attack_Success": {signal.LevelCritical, []string{"attack.initial-access", "attack.t1190"}},
}

// DefaultNoticeLevels returns the built-in level of each known Zeek notice type.
func DefaultNoticeLevels() map[string]signal.Level {
	out := make(map[string]signal.Level, len(builtinNotices))
	for k, v := range builtinNotices {
		out[k] = v.level
	}
	return out
}

// Stats counts what the detector saw.
type Stats struct {
	Suricata, Zeek uint64 // alert records passed through as signals
	BelowMin       uint64 // alert records under MinLevel
}

// Detector passes IDS alerts through. Safe for concurrent use.
type Detector struct {
	cfg                   Config
	suricata, zeek        bool
	minRank               int
	nSur, nZeek, nBelowMn atomic.Uint64
}

// New builds a detector; zero Config fields take their defaults.
func New(cfg Config) (*Detector, error) {
	if cfg.SuricataLevels == nil {
		cfg.SuricataLevels = DefaultSuricataLevels
	}
	if cfg.SuricataDefault == "" {
		cfg.SuricataDefault = signal.LevelLow
	}
	if cfg.NoticeDefault == "" {
		cfg.NoticeDefault = signal.LevelLow
	}
	if cfg.MinLevel == "" {
		cfg.MinLevel = signal.LevelLow
	}
	for _, l := range []signal.Level{cfg.SuricataDefault, cfg.NoticeDefault, cfg.MinLevel} {
		if l.Rank() < 0 {
			return nil, fmt.Errorf("ids: unknown level %q", l)
		}
	}
	for sev, l := range cfg.SuricataLevels {
		if l.Rank() < 0 {
			return nil, fmt.Errorf("ids: suricata severity %d: unknown level %q", sev, l)
		}
	}
	for n, l := range cfg.NoticeLevels {
		if l.Rank() < 0 {
			return nil, fmt.Errorf("ids: zeek notice %s: unknown level %q", n, l)
		}
	}
	if len(cfg.Sources) == 0 {
		cfg.Sources = []string{"suricata", "zeek"}
	}
	d := &Detector{cfg: cfg, minRank: cfg.MinLevel.Rank()}
	for _, s := range cfg.Sources {
		switch s {
		case "suricata":
			d.suricata = true
		case "zeek":
			d.zeek = true
		default:
			return nil, fmt.Errorf("ids: unknown source %q (want suricata, zeek)", s)
		}
	}
	return d, nil
}

// factory decodes detect.Options.Config (see Config) and builds a detector.
func factory(o detect.Options) (detect.Detector, error) {
	var cfg Config
	keys := make([]string, 0, len(o.Config))
	for k := range o.Config {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	level := func(k string, v any) (signal.Level, error) {
		s, err := detect.ConfigString(k, v)
		if err != nil {
			return "", err
		}
		l := signal.Level(strings.ToLower(s))
		if l.Rank() < 0 {
			return "", fmt.Errorf("config %s: unknown level %q", k, s)
		}
		return l, nil
	}
	for _, k := range keys {
		v := o.Config[k]
		var err error
		switch k {
		case "suricata_levels":
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("ids: config %s: want a map of severity to level, got %T", k, v)
			}
			cfg.SuricataLevels = map[int]signal.Level{}
			for sk, sv := range m {
				sev, err := strconv.Atoi(sk)
				if err != nil || sev < 1 || sev > 255 {
					return nil, fmt.Errorf("ids: config %s: severity %q is not 1..255", k, sk)
				}
				if cfg.SuricataLevels[sev], err = level(k+"."+sk, sv); err != nil {
					return nil, fmt.Errorf("ids: %w", err)
				}
			}
		case "zeek_notice_levels":
			m, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("ids: config %s: want a map of notice type to level, got %T", k, v)
			}
			cfg.NoticeLevels = map[string]signal.Level{}
			for nk, nv := range m {
				if cfg.NoticeLevels[nk], err = level(k+"."+nk, nv); err != nil {
					return nil, fmt.Errorf("ids: %w", err)
				}
			}
		case "suricata_default_level":
			cfg.SuricataDefault, err = level(k, v)
		case "zeek_notice_default_level":
			cfg.NoticeDefault, err = level(k, v)
		case "min_level":
			cfg.MinLevel, err = level(k, v)
		case "sources":
			cfg.Sources, err = detect.ConfigList(k, v, "suricata", "zeek")
		default:
			return nil, fmt.Errorf("ids: unknown config key %q (want suricata_levels, suricata_default_level, zeek_notice_levels, zeek_notice_default_level, min_level, sources)", k)
		}
		if err != nil {
			return nil, fmt.Errorf("ids: %w", err)
		}
	}
	return New(cfg)
}

// Name returns "ids".
func (d *Detector) Name() string { return Kind }

// Stats returns the counters.
func (d *Detector) Stats() Stats {
	return Stats{Suricata: d.nSur.Load(), Zeek: d.nZeek.Load(), BelowMin: d.nBelowMn.Load()}
}

// Detect emits one signal for a Suricata alert or a Zeek notice.
func (d *Detector) Detect(_ context.Context, ev *event.Event, emit detect.Emit) error {
	var s signal.Signal
	var ok bool
	switch str(ev, "event.dataset") {
	case "suricata.eve":
		if d.suricata && str(ev, "suricata.eve.event_type") == "alert" {
			s, ok = d.suricataSignal(ev), true
		}
	case "zeek.notice":
		if d.zeek && str(ev, "zeek.note") != "" {
			s, ok = d.noticeSignal(ev), true
		}
	}
	if !ok {
		return nil
	}
	if s.Level.Rank() < d.minRank {
		d.nBelowMn.Add(1)
		return nil
	}
	if s.Details["ids"] == "suricata" {
		d.nSur.Add(1)
	} else {
		d.nZeek.Add(1)
	}
	s.Detector, s.Layer, s.Score = Kind, signal.LayerRules, 1
	s.Time = ev.Time
	s.EventIDs = []string{ev.ID}
	s.ID = signal.DeriveID(Kind, s.RuleID, ev.ID)
	s.Techniques = signal.TechniquesFromTags(s.Tags)
	emit(s)
	return nil
}

func (d *Detector) suricataSignal(ev *event.Event) signal.Signal {
	const p = "suricata.eve.alert."
	sid, gid, rev := str(ev, p+"signature_id"), str(ev, p+"gid"), str(ev, p+"rev")
	if gid == "" {
		gid = "1"
	}
	sig, cat, action := str(ev, p+"signature"), str(ev, p+"category"), str(ev, p+"action")
	if sig == "" {
		sig = "Suricata signature " + sid
	}
	level := d.cfg.SuricataDefault
	sevText := "no severity"
	sev, hasSev := ev.Fields[p+"severity"].(int64)
	if hasSev {
		sevText = "severity " + strconv.FormatInt(sev, 10)
		if l, ok := d.cfg.SuricataLevels[int(sev)]; ok {
			level = l
		}
	}
	tags := suricataTags(ev)
	details := map[string]any{"ids": "suricata", "signature_id": sid, "gid": gid, "signature": sig}
	for k, v := range map[string]string{"rev": rev, "category": cat, "action": action,
		"app_proto": str(ev, "network.protocol"), "flow_id": str(ev, "network.flow_id")} {
		if v != "" {
			details[k] = v
		}
	}
	if hasSev {
		details["severity"] = sev
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Suricata alert %q (sid %s", sig, sid)
	if cat != "" {
		b.WriteString(", " + cat)
	}
	fmt.Fprintf(&b, ", %s → %s)%s", sevText, level, flowPhrase(ev, "source.ip", "source.port", "destination.ip", "destination.port"))
	if action != "" {
		b.WriteString("; " + action)
	}
	b.WriteString(".")
	return signal.Signal{
		RuleID:      "suricata:" + gid + ":" + sid,
		RuleVersion: rev,
		Title:       sig,
		Level:       level,
		Tags:        tags,
		Entities:    entities(ev, "source.ip", "destination.ip"),
		Explanation: b.String(),
		Details:     details,
	}
}

// suricataTags builds ATT&CK tags from the rule metadata that ET and
// Suricata rules carry (mitre_tactic_name, mitre_technique_id), plus the
// Suricata category as "suricata.category.<slug>".
func suricataTags(ev *event.Event) []string {
	const m = "suricata.eve.alert.metadata."
	var tags []string
	for _, t := range list(ev, m+"mitre_tactic_name") {
		tags = appendNew(tags, "attack."+strings.ReplaceAll(strings.ToLower(t), "_", "-"))
	}
	for _, t := range list(ev, m+"mitre_technique_id") {
		if validTechnique(t) {
			tags = appendNew(tags, "attack."+strings.ToLower(t))
		}
	}
	if c := str(ev, "suricata.eve.alert.category"); c != "" {
		tags = appendNew(tags, "suricata.category."+slug(c))
	}
	return tags
}

func (d *Detector) noticeSignal(ev *event.Event) signal.Signal {
	note, msg, sub := str(ev, "zeek.note"), str(ev, "zeek.msg"), str(ev, "zeek.sub")
	info, known := builtinNotices[note]
	level := d.cfg.NoticeDefault
	if known {
		level = info.level
	}
	if l, ok := d.cfg.NoticeLevels[note]; ok {
		level = l
	}
	details := map[string]any{"ids": "zeek", "note": note}
	for k, v := range map[string]string{"msg": msg, "sub": sub, "uid": str(ev, "zeek.uid")} {
		if v != "" {
			details[k] = v
		}
	}
	// Scan and brute-force notices have no connection: their addresses are
	// in src and dst (and p) instead of id.*.
	src, dst := "source.ip", "destination.ip"
	if str(ev, src) == "" {
		src = "zeek.src"
	}
	if str(ev, dst) == "" {
		dst = "zeek.dst"
	}
	dport := "destination.port"
	if str(ev, dport) == "" {
		dport = "zeek.p"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Zeek notice %s", note)
	if msg != "" {
		fmt.Fprintf(&b, ": %q", msg)
	}
	b.WriteString(flowPhrase(ev, src, "source.port", dst, dport))
	fmt.Fprintf(&b, " (%s).", level)
	return signal.Signal{
		RuleID:      "zeek:" + note,
		Title:       "Zeek notice " + note,
		Level:       level,
		Tags:        slices.Clone(info.tags),
		Entities:    entities(ev, src, dst),
		Explanation: b.String(),
		Details:     details,
	}
}

// flowPhrase is " from A:p to B:q/tcp", with the parts the event has.
func flowPhrase(ev *event.Event, src, sport, dst, dport string) string {
	var b strings.Builder
	t := str(ev, "network.transport")
	if strings.Contains(t, "icmp") { // ICMP "ports" are type and code
		sport, dport = "", ""
	}
	if a := str(ev, src); a != "" {
		b.WriteString(" from " + hostPort(a, str(ev, sport)))
	}
	if a := str(ev, dst); a != "" {
		b.WriteString(" to " + hostPort(a, str(ev, dport)))
		if t != "" {
			b.WriteString("/" + t)
		}
	}
	return b.String()
}

func hostPort(a, p string) string {
	if p == "" {
		return a
	}
	if strings.Contains(a, ":") {
		return "[" + a + "]:" + p
	}
	return a + ":" + p
}

func entities(ev *event.Event, fields ...string) []signal.Entity {
	var out []signal.Entity
	for _, f := range fields {
		if v := str(ev, f); v != "" && !slices.Contains(out, signal.Entity{Kind: "ip", Value: v}) {
			out = append(out, signal.Entity{Kind: "ip", Value: v})
		}
	}
	return out
}

func str(ev *event.Event, k string) string {
	v, ok := ev.Fields[k]
	if !ok {
		return ""
	}
	return event.ValueString(v)
}

func list(ev *event.Event, k string) []string {
	switch x := ev.Fields[k].(type) {
	case string:
		return []string{x}
	case []string:
		return x
	}
	return nil
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// validTechnique accepts T1234 and T1234.001 (metadata is rule-author text).
func validTechnique(t string) bool {
	if len(t) != 5 && len(t) != 9 || (t[0] != 'T' && t[0] != 't') {
		return false
	}
	for i := 1; i < len(t); i++ {
		c := t[i]
		if i == 5 {
			if c != '.' {
				return false
			}
			continue
		}
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// slug lowercases and joins words with hyphens ("Potentially Bad Traffic" →
// "potentially-bad-traffic").
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	return b.String()
}
