package syslog

import (
	"bytes"
	"strconv"
	"time"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/format/fieldkit"
)

// Header is the parsed header of one syslog line. Its byte slices point into
// the parsed line.
type Header struct {
	// Kind is "rfc5424", "rfc3164" (with PRI) or "bsd" (a /var/log line without PRI).
	Kind     string
	Pri      int // -1 when the line has no PRI
	Version  []byte
	Time     time.Time
	Hostname []byte
	AppName  []byte
	ProcID   []byte
	MsgID    []byte
	SD       []byte // RFC 5424 structured data, raw ("" or "-" when none)
	Msg      []byte

	msg string       // message as stored by Apply
	c   *headerCache // boxed names and procids, kept across ParseHeader
}

// headerCache keeps the boxed values Apply stores, per Header. A stream's
// lines mostly repeat one host and program and run a process's lines
// together, so the last few names and the last procid are compared before
// the maps are hashed.
type headerCache struct {
	intern map[string]any // boxed host and program names
	recent [4]boxedName   // the names boxed last, a ring
	next   int
	pids   map[string]pid // boxed procids
	last   pid            // the procid boxed last (last.s == nil before any)
}

type boxedName struct {
	s string
	v any
}

func (h *Header) cache() *headerCache {
	if h.c == nil {
		h.c = &headerCache{}
	}
	return h.c
}

// pid is a procid boxed as log.syslog.procid and, when numeric, process.pid.
type pid struct {
	s, n any
	ok   bool
}

// maxPids bounds the per-Header procid cache; a process logs several lines
// in a row (sshd: one connection), so a small cache hits most of them.
const maxPids = 1024

func (h *Header) pid(b []byte) pid {
	c := h.cache()
	if s, ok := c.last.s.(string); ok && s == string(b) {
		return c.last
	}
	p, ok := c.pids[string(b)]
	if !ok {
		if c.pids == nil || len(c.pids) >= maxPids {
			c.pids = make(map[string]pid, 64)
		}
		s := string(b)
		p = pid{s: s}
		if n, ok := parsePid(b); ok {
			p.n, p.ok = n, true
		}
		c.pids[s] = p
	}
	c.last = p
	return p
}

// maxIntern bounds the per-Header cache of boxed host and program names.
const maxIntern = 256

// boxed returns b as a boxed string, reusing one value per distinct name:
// hosts and programs repeat on nearly every line, and each fresh string put
// in an event costs two allocations.
func (h *Header) boxed(b []byte) any {
	c := h.cache()
	for i := range c.recent {
		if r := &c.recent[i]; r.v != nil && r.s == string(b) {
			return r.v
		}
	}
	v, ok := c.intern[string(b)]
	if !ok {
		if c.intern == nil || len(c.intern) >= maxIntern {
			c.intern = make(map[string]any, 16)
		}
		s := string(b)
		v = s
		c.intern[s] = v
	}
	c.recent[c.next] = boxedName{s: v.(string), v: v}
	c.next = (c.next + 1) % len(c.recent)
	return v
}

// Message returns the message as Apply stored it in the "message" field
// (trailing blanks trimmed), or "" before Apply.
func (h *Header) Message() string { return h.msg }

// maxLine bounds what the header parser looks at; longer lines are still
// parsed, the message just keeps the rest.
const maxHeader = 512

// ParseHeader parses the syslog header of line. It reports false when line
// is not syslog. With wantTime false the timestamp is only validated, which
// keeps Sniff cheap. opts resolve RFC 3164's missing year and zone.
func ParseHeader(line []byte, opts format.Options, h *Header, wantTime bool) bool {
	*h = Header{Pri: -1, c: h.c}
	rest := line
	if len(rest) > 0 && rest[0] == '<' {
		end := bytes.IndexByte(rest[:min(len(rest), 6)], '>')
		if end < 2 {
			return false
		}
		pri, err := strconv.Atoi(string(rest[1:end]))
		if err != nil || pri < 0 || pri > 191 {
			return false
		}
		h.Pri = pri
		rest = rest[end+1:]
		if len(rest) >= 2 && rest[0] >= '1' && rest[0] <= '9' && rest[1] == ' ' {
			return parse5424(rest, h, wantTime)
		}
		h.Kind = "rfc3164"
	} else {
		h.Kind = "bsd"
	}
	return parse3164(rest, opts, h, wantTime)
}

func parse5424(rest []byte, h *Header, wantTime bool) bool {
	h.Kind = "rfc5424"
	var tok [5][]byte
	for i := range tok {
		sp := bytes.IndexByte(rest, ' ')
		if sp <= 0 {
			return false
		}
		tok[i], rest = rest[:sp], rest[sp+1:]
	}
	h.Version = tok[0]
	if string(tok[1]) != "-" {
		t, err := time.Parse(time.RFC3339Nano, string(tok[1]))
		if err != nil {
			return false
		}
		if wantTime {
			h.Time = t.UTC()
		}
	}
	h.Hostname, h.AppName, h.ProcID = nilDash(tok[2]), nilDash(tok[3]), nilDash(tok[4])
	sp := bytes.IndexByte(rest, ' ')
	if sp < 0 {
		sp = len(rest)
	}
	h.MsgID = nilDash(rest[:sp])
	if sp == len(rest) {
		return true
	}
	rest = rest[sp+1:]
	sd, msg, ok := splitSD(rest)
	if !ok {
		return false
	}
	h.SD = sd
	h.Msg = bytes.TrimPrefix(msg, []byte("\xEF\xBB\xBF")) // BOM
	return true
}

// splitSD splits "[id k="v"][id2 …] msg" or "- msg".
func splitSD(b []byte) (sd, msg []byte, ok bool) {
	if len(b) == 0 {
		return nil, nil, true
	}
	if b[0] == '-' {
		return nil, bytes.TrimPrefix(b[1:], []byte{' '}), true
	}
	if b[0] != '[' {
		return nil, nil, false
	}
	i, inQ, esc := 0, false, false
	for i < len(b) {
		c := b[i]
		switch {
		case esc:
			esc = false
		case inQ && c == '\\':
			esc = true
		case c == '"':
			inQ = !inQ
		case !inQ && c == ']':
			if i+1 == len(b) || b[i+1] != '[' {
				return b[:i+1], bytes.TrimPrefix(b[i+1:], []byte{' '}), true
			}
		}
		i++
	}
	return nil, nil, false
}

func nilDash(b []byte) []byte {
	if len(b) == 1 && b[0] == '-' {
		return nil
	}
	return b
}

var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// parse3164 parses "Mmm dd hh:mm:ss host tag[pid]: msg", also with an RFC 3339
// timestamp (rsyslog high precision) and without the host.
func parse3164(rest []byte, opts format.Options, h *Header, wantTime bool) bool {
	ts, n := stamp3164(rest, opts, wantTime)
	if n == 0 {
		ts, n = stampISO(rest)
	}
	if n == 0 {
		if h.Pri >= 0 { // a PRI with a free-form message: still syslog
			h.Msg = rest
			return true
		}
		return false
	}
	h.Time = ts
	rest = rest[n:]
	if len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	// Host, unless the first token is already the tag.
	if sp := bytes.IndexByte(rest[:min(len(rest), maxHeader)], ' '); sp > 0 {
		tok := rest[:sp]
		if tok[len(tok)-1] != ':' && bytes.IndexByte(tok, '[') < 0 {
			h.Hostname, rest = tok, rest[sp+1:]
		}
	}
	tagEnd := 0
	for tagEnd < len(rest) && tagEnd < 128 {
		c := rest[tagEnd]
		if c == '[' || c == ':' || c == ' ' {
			break
		}
		tagEnd++
	}
	tag, after := rest[:tagEnd], rest[tagEnd:]
	var pid []byte
	if len(after) > 0 && after[0] == '[' {
		if end := bytes.IndexByte(after[:min(len(after), 32)], ']'); end > 0 {
			pid, after = after[1:end], after[end+1:]
		}
	}
	if len(tag) > 0 && len(after) > 0 && after[0] == ':' {
		h.AppName, h.ProcID = tag, pid
		h.Msg = bytes.TrimPrefix(after[1:], []byte{' '})
	} else {
		h.Msg = rest
	}
	return true
}

// stamp3164 parses "Mmm dd hh:mm:ss" (day may be space padded, optional
// fraction) and returns the time and the bytes used.
func stamp3164(b []byte, opts format.Options, wantTime bool) (time.Time, int) {
	if len(b) < 15 || b[3] != ' ' {
		return time.Time{}, 0
	}
	mon := -1
	for i, m := range months {
		if string(b[:3]) == m {
			mon = i + 1
			break
		}
	}
	if mon < 0 {
		return time.Time{}, 0
	}
	i := 4
	if b[i] == ' ' {
		i++
	}
	day := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9' && day < 100; i++ {
		day = day*10 + int(b[i]-'0')
	}
	if day < 1 || day > 31 || i+9 > len(b) || b[i] != ' ' {
		return time.Time{}, 0
	}
	i++
	c := b[i : i+8]
	if c[2] != ':' || c[5] != ':' || !digits(c[0:2]) || !digits(c[3:5]) || !digits(c[6:8]) {
		return time.Time{}, 0
	}
	hh, mm, ss := atoi2(c[0:2]), atoi2(c[3:5]), atoi2(c[6:8])
	if hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, 0
	}
	i += 8
	nsec := 0
	if i < len(b) && b[i] == '.' {
		j, scale := i+1, 100000000
		for ; j < len(b) && b[j] >= '0' && b[j] <= '9'; j++ {
			nsec += int(b[j]-'0') * scale
			scale /= 10
		}
		i = j
	}
	if i < len(b) && b[i] != ' ' {
		return time.Time{}, 0
	}
	if !wantTime {
		return time.Time{}, i
	}
	loc := fieldkit.Location(opts)
	year := opts.Year
	var now time.Time
	if year == 0 {
		if opts.Now != nil {
			now = opts.Now()
		} else {
			now = time.Now()
		}
		year = now.In(loc).Year()
	}
	t := time.Date(year, time.Month(mon), day, hh, mm, ss, nsec, loc)
	// No year in the stamp: the event is not more than a day in the future.
	if opts.Year == 0 && t.After(now.Add(24*time.Hour)) {
		t = time.Date(year-1, time.Month(mon), day, hh, mm, ss, nsec, loc)
	}
	return t.UTC(), i
}

// stampISO parses a leading RFC 3339 timestamp token.
func stampISO(b []byte) (time.Time, int) {
	if len(b) < 20 || !digits(b[0:4]) || b[4] != '-' || b[10] != 'T' {
		return time.Time{}, 0
	}
	sp := bytes.IndexByte(b[:min(len(b), 40)], ' ')
	if sp < 0 {
		return time.Time{}, 0
	}
	t, err := time.Parse(time.RFC3339Nano, string(b[:sp]))
	if err != nil {
		return time.Time{}, 0
	}
	return t.UTC(), sp
}

func digits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

func atoi2(b []byte) int { return int(b[0]-'0')*10 + int(b[1]-'0') }

// Program returns the program name of an app name: "sshd(pam_unix)" → "sshd",
// "/usr/sbin/cron" → "cron".
func Program(app []byte) []byte {
	if i := bytes.IndexByte(app, '('); i > 0 {
		app = app[:i]
	}
	if i := bytes.LastIndexByte(app, '/'); i >= 0 {
		app = app[i+1:]
	}
	return app
}

// Apply sets the syslog fields of the contract on ev: log.syslog.*,
// process.name, process.pid, host.hostname, message and the event time.
func (h *Header) Apply(ev *event.Event) {
	if h.Pri >= 0 {
		ev.Set("log.syslog.priority", int64(h.Pri))
		ev.Set("log.syslog.facility.code", int64(h.Pri/8))
		ev.Set("log.syslog.severity.code", int64(h.Pri%8))
		ev.Set("log.syslog.facility.name", facilities[h.Pri/8])
		ev.Set("log.syslog.severity.name", severities[h.Pri%8])
	}
	ev.Set("log.syslog.version", string(h.Version))
	if len(h.Hostname) > 0 {
		host := h.boxed(h.Hostname)
		ev.Set("log.syslog.hostname", host)
		ev.Set("host.hostname", host)
		ev.Set("host.name", host)
	}
	if len(h.AppName) > 0 {
		ev.Set("log.syslog.appname", h.boxed(h.AppName))
		ev.Set("process.name", h.boxed(Program(h.AppName)))
	}
	if len(h.ProcID) > 0 {
		p := h.pid(h.ProcID)
		ev.Set("log.syslog.procid", p.s)
		if p.ok {
			ev.Set("process.pid", p.n)
		}
	}
	ev.Set("log.syslog.msgid", string(h.MsgID))
	if len(h.SD) > 0 {
		applySD(ev, h.SD)
	}
	h.msg = string(bytes.TrimRight(h.Msg, " \t"))
	ev.Set("message", h.msg)
	if !h.Time.IsZero() {
		ev.Time = h.Time
	}
}

// parsePid is strconv.ParseInt(string(b), 10, 64) without the string
// allocation for the usual all-digit pid.
func parsePid(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		n, err := strconv.ParseInt(string(b), 10, 64)
		return n, err == nil
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			n, err := strconv.ParseInt(string(b), 10, 64)
			return n, err == nil
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

var facilities = [...]string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
	"authpriv", "ftp", "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3",
	"local4", "local5", "local6", "local7"}

var severities = [...]string{"emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"}

// applySD stores structured data params as log.syslog.structured_data.<id>.<name>.
func applySD(ev *event.Event, sd []byte) {
	for len(sd) > 0 && sd[0] == '[' {
		i := 1
		for i < len(sd) && sd[i] != ' ' && sd[i] != ']' {
			i++
		}
		id := string(sd[1:i])
		for i < len(sd) && sd[i] == ' ' {
			j := i + 1
			eq := bytes.IndexByte(sd[j:], '=')
			if eq < 0 || j+eq+1 >= len(sd) || sd[j+eq+1] != '"' {
				return
			}
			name := string(sd[j : j+eq])
			k := j + eq + 2
			var val []byte
			for k < len(sd) && sd[k] != '"' {
				if sd[k] == '\\' && k+1 < len(sd) {
					k++
				}
				val = append(val, sd[k])
				k++
			}
			ev.Set("log.syslog.structured_data."+id+"."+name, string(val))
			i = k + 1
		}
		if i >= len(sd) || sd[i] != ']' {
			return
		}
		sd = sd[i+1:]
	}
}
