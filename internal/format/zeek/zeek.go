// Package zeek reads Zeek logs, both as JSON lines and as TSV with
// "#separator", "#fields" and "#types" headers. Every column is kept as
// zeek.<column> and the ECS copies of docs/fields.md are added.
//
// TSV is stateful: the parser of a stream remembers the last header, so
// files must be fed in order. "-" (#unset_field) and "(empty)"
// (#empty_field) mean absent; set[...] and vector[...] columns are split on
// #set_separator into []string; count/int/port become int64, double and
// interval float64, bool T/F bool. The log name comes from "#path" or the
// JSON "_path" key, else from the columns present.
package zeek

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/format/fieldkit"
)

// Name is the format name.
const Name = "zeek"

// maxColumns bounds the #fields header.
const maxColumns = 512

func init() { format.Register(Format{}) }

// Format is the Zeek log format.
type Format struct{}

// Name returns "zeek".
func (Format) Name() string { return Name }

var headers = [][]byte{
	[]byte("#separator"), []byte("#set_separator"), []byte("#empty_field"), []byte("#unset_field"),
	[]byte("#path"), []byte("#open"), []byte("#close"), []byte("#fields"), []byte("#types"),
}

// Sniff: 100 for Zeek headers, 90 for Zeek JSON, 60 for a tab-separated line
// that starts with an epoch timestamp (a data line after a header).
func (Format) Sniff(rec []byte) int {
	if len(rec) == 0 {
		return 0
	}
	switch rec[0] {
	case '#':
		for _, h := range headers {
			if bytes.HasPrefix(rec, h) {
				return 100
			}
		}
		return 0
	case '{':
		if fieldkit.HasJSONKey(rec, "id.orig_h") || (fieldkit.HasJSONKey(rec, "_path") && fieldkit.HasJSONKey(rec, "ts")) ||
			(fieldkit.HasJSONKey(rec, "uid") && fieldkit.HasJSONKey(rec, "ts")) {
			return 90
		}
		return 0
	}
	tab := bytes.IndexByte(rec, '\t')
	if tab < 1 || bytes.Count(rec, []byte{'\t'}) < 3 {
		return 0
	}
	if _, err := strconv.ParseFloat(string(rec[:tab]), 64); err != nil {
		return 0
	}
	return 60
}

// NewParser returns a parser with default TSV header state.
func (Format) NewParser(opts format.Options) format.Parser {
	p := &Parser{opts: opts, maxDepth: fieldkit.MaxDepth(opts)}
	p.resetHeader()
	return p
}

// Parser parses the Zeek records of one stream. Not safe for concurrent use.
type Parser struct {
	opts     format.Options
	maxDepth int
	jp       fastjson.Parser
	fl       fieldkit.Flattener

	sep, setSep   string
	empty, unset  string
	path          string
	fields, types []string
	keys          []string // "zeek." + field, precomputed
	haveFields    bool
}

var _ format.Parser = (*Parser)(nil)

func (p *Parser) resetHeader() {
	p.sep, p.setSep, p.empty, p.unset, p.path = "\t", ",", "(empty)", "-", ""
	p.fields, p.types, p.keys, p.haveFields = nil, nil, nil, false
}

// Parse fills ev from one Zeek record; header lines return ErrNoEvent.
func (p *Parser) Parse(rec []byte, ev *event.Event) error {
	if len(rec) > 0 && rec[0] == '{' {
		return p.parseJSON(rec, ev)
	}
	rec = fieldkit.ValidText(rec)
	if len(rec) > 0 && rec[0] == '#' {
		return p.header(string(rec))
	}
	if len(bytes.TrimSpace(rec)) == 0 {
		return format.ErrNoEvent
	}
	if !p.haveFields {
		return format.Reject("zeek_no_header", "zeek tsv record before a #fields header")
	}
	p.fl.Reset(ev)
	line := string(rec)
	for i := 0; i < len(p.fields); i++ {
		var val string
		if i == len(p.fields)-1 {
			val, line = line, ""
		} else {
			j := strings.Index(line, p.sep)
			if j < 0 {
				return format.Reject("zeek_columns", "zeek record has %d columns, header has %d", i+1, len(p.fields))
			}
			val, line = line[:j], line[j+len(p.sep):]
		}
		if val == p.unset || val == p.empty || val == "" {
			continue
		}
		if p.fields[i] == "ts" {
			if t, ok := fieldkit.EpochText(val); ok {
				ev.Time = t
			}
		}
		p.tsvValue(ev, i, val)
	}
	path := p.path
	if path == "" {
		path = inferPath(func(k string) bool { _, ok := ev.Fields["zeek."+k]; return ok })
	}
	p.finish(ev, path)
	return nil
}

func (p *Parser) tsvValue(ev *event.Event, i int, val string) {
	key := p.keys[i]
	typ := ""
	if i < len(p.types) {
		typ = p.types[i]
	}
	switch {
	case strings.HasPrefix(typ, "set[") || strings.HasPrefix(typ, "vector[") || strings.HasPrefix(typ, "table["):
		parts := strings.Split(val, p.setSep)
		out := parts[:0]
		for _, s := range parts {
			if s != "" && s != p.unset {
				out = append(out, s)
			}
		}
		if len(out) > 0 {
			p.fl.Set(key, out)
		}
	case typ == "count" || typ == "int" || typ == "port":
		if n, err := strconv.ParseInt(val, 10, 64); err == nil {
			p.fl.Set(key, n)
		} else {
			p.fl.Set(key, val)
		}
	case typ == "double" || typ == "interval" || typ == "time":
		if f, err := strconv.ParseFloat(val, 64); err == nil {
			p.fl.Set(key, f)
		} else {
			p.fl.Set(key, val)
		}
	case typ == "bool":
		switch val {
		case "T":
			p.fl.Set(key, true)
		case "F":
			p.fl.Set(key, false)
		default:
			p.fl.Set(key, val)
		}
	default:
		p.fl.Set(key, val)
	}
}

// header applies one "#..." header line.
func (p *Parser) header(line string) error {
	if v, ok := strings.CutPrefix(line, "#separator "); ok {
		p.resetHeader()
		p.sep = unescape(strings.TrimSpace(v))
		if p.sep == "" {
			return format.Reject("zeek_header", "empty #separator")
		}
		return format.ErrNoEvent
	}
	name, val, _ := strings.Cut(line, p.sep)
	switch name {
	case "#set_separator":
		p.setSep = unescape(val)
		if p.setSep == "" {
			p.setSep = ","
		}
	case "#empty_field":
		p.empty = val
	case "#unset_field":
		p.unset = val
	case "#path":
		p.path = val
	case "#fields":
		cols := strings.Split(val, p.sep)
		if len(cols) > maxColumns {
			return format.Reject("zeek_header", "#fields has %d columns, limit %d", len(cols), maxColumns)
		}
		p.fields = cols
		p.keys = make([]string, len(cols))
		for i, c := range cols {
			p.keys[i] = "zeek." + c
		}
		p.haveFields = true
	case "#types":
		p.types = strings.Split(val, p.sep)
	case "#open", "#close":
	default:
		// Other comment lines carry no event.
	}
	return format.ErrNoEvent
}

// unescape decodes \xHH sequences in header values.
func unescape(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (p *Parser) parseJSON(rec []byte, ev *event.Event) error {
	o, _, err := fieldkit.ParseObject(&p.jp, rec, p.maxDepth)
	if err != nil {
		return err
	}
	p.fl.Reset(ev)
	path := ""
	o.Visit(func(k []byte, v *fastjson.Value) {
		if string(k) == "_path" {
			path, _ = fieldkit.Text(v)
			return
		}
		p.fl.Value("zeek."+string(k), v)
	})
	// ts is an epoch number, or ISO text with LogAscii::json_timestamps.
	if t, ok := fieldkit.JSONTime(o.Get("ts"), nil); ok {
		ev.Time = t
	}
	if path == "" {
		path = inferPath(func(k string) bool { _, ok := ev.Fields["zeek."+k]; return ok })
	}
	p.finish(ev, path)
	return nil
}

// inferPath names the log from its columns when no #path or _path says so.
func inferPath(has func(string) bool) string {
	switch {
	case has("query") && (has("qtype_name") || has("rcode") || has("trans_id")):
		return "dns"
	case has("method") && (has("uri") || has("host")) || has("status_code") && has("user_agent"):
		return "http"
	case has("conn_state") || has("history") && has("orig_bytes"):
		return "conn"
	case has("server_name") || has("cipher") || has("ja3") || has("cert_chain_fuids"):
		return "ssl"
	case has("auth_success") || has("auth_attempts") || has("hassh"):
		return "ssh"
	case has("fuid") && (has("mime_type") || has("md5") || has("sha1")):
		return "files"
	case has("note"):
		return "notice"
	case has("name") && has("addl"):
		return "weird"
	case has("software_type"):
		return "software"
	case has("tunnel_type"):
		return "tunnel"
	case has("call_id") && has("request_from"):
		return "sip"
	case has("mailfrom") || has("rcptto"):
		return "smtp"
	case has("certificate.subject") || has("certificate.serial"):
		return "x509"
	case has("host_ip"):
		return "known_hosts"
	}
	return "unknown"
}

// finish sets the common and ECS fields.
func (p *Parser) finish(ev *event.Event, path string) {
	f := ev.Fields
	ev.Set("event.module", "zeek")
	ev.Set("event.dataset", "zeek."+path)
	ev.Set("zeek.log", path)
	if ev.Time.IsZero() {
		if ts, ok := f["zeek.ts"].(float64); ok {
			ev.Time = fieldkit.Epoch(ts)
		} else if ts, ok := f["zeek.ts"].(int64); ok {
			ev.Time = fieldkit.Epoch(float64(ts))
		}
	}
	s := func(k string) string { return event.ValueString(f["zeek."+k]) }
	fieldkit.SetIP(ev, "source.ip", s("id.orig_h"))
	fieldkit.SetPort(ev, "source.port", s("id.orig_p"))
	fieldkit.SetIP(ev, "destination.ip", s("id.resp_h"))
	fieldkit.SetPort(ev, "destination.port", s("id.resp_p"))
	ev.Set("network.transport", s("proto"))
	ev.Set("network.protocol", firstString(f["zeek.service"]))
	ev.Set("event.id", s("uid"))
	switch path {
	case "dns":
		ev.Set("dns.question.name", s("query"))
		ev.Set("dns.question.type", s("qtype_name"))
		ev.Set("dns.response_code", s("rcode_name"))
		if a, ok := f["zeek.answers"].([]string); ok {
			ev.Fields["dns.answers.data"] = a
		}
	case "http":
		ev.Set("url.domain", s("host"))
		if uri := s("uri"); uri != "" {
			ev.Set("url.original", uri)
			path, query, _ := strings.Cut(uri, "?")
			ev.Set("url.path", path)
			ev.Set("url.query", query)
		}
		ev.Set("http.request.method", s("method"))
		ev.Set("user_agent.original", s("user_agent"))
		ev.Set("http.request.referrer", s("referrer"))
		if c, ok := f["zeek.status_code"].(int64); ok {
			ev.Set("http.response.status_code", c)
		} else if c, err := strconv.ParseInt(s("status_code"), 10, 64); err == nil {
			ev.Set("http.response.status_code", c)
		}
		ev.Set("user.name", s("username"))
	case "ssl":
		ev.Set("tls.server.sni", s("server_name"))
		ev.Set("tls.version", s("version"))
		ev.Set("tls.cipher", s("cipher"))
		ev.Set("tls.client.ja3", s("ja3"))
	case "ssh":
		if b, ok := f["zeek.auth_success"].(bool); ok {
			ev.Set("event.outcome", map[bool]string{true: "success", false: "failure"}[b])
		}
		ev.Set("ssh.client", s("client"))
		ev.Set("ssh.server", s("server"))
	case "files":
		ev.Set("file.hash.md5", s("md5"))
		ev.Set("file.hash.sha1", s("sha1"))
		ev.Set("file.hash.sha256", s("sha256"))
		ev.Set("file.mime_type", s("mime_type"))
		ev.Set("file.name", s("filename"))
	case "notice":
		ev.Set("rule.name", s("note"))
		ev.Set("message", s("msg"))
	case "weird":
		ev.Set("rule.name", s("name"))
	case "conn":
		ev.Set("event.category", "network")
		ev.Set("event.type", "connection")
		if failedTCP(s("proto"), s("conn_state"), s("history")) {
			ev.Set("event.outcome", "failure")
		}
		_, ob := f["zeek.orig_bytes"]
		_, rb := f["zeek.resp_bytes"]
		if ob || rb {
			ev.Set("network.bytes", sumInt(f["zeek.orig_bytes"], f["zeek.resp_bytes"]))
		}
	}
	ev.Format = Name
}

// failedTCP reports a TCP connection attempt that never carried data, as
// Zeek's policy/misc/scan.zeek counts them: no answer (S0), rejected (REJ),
// or reset by the originator before any payload (RSTOS0; RSTO without d/D,
// e.g. the "ShR" of a SYN scan's open port). UDP and ICMP are never
// classified: a missing UDP reply says nothing about failure.
func failedTCP(proto, state, history string) bool {
	if proto != "tcp" {
		return false
	}
	switch state {
	case "S0", "REJ", "RSTOS0":
		return true
	case "RSTO":
		return !strings.ContainsAny(history, "dD")
	}
	return false
}

func firstString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []string:
		if len(x) > 0 {
			return x[0]
		}
	}
	return ""
}

func sumInt(vs ...any) int64 {
	var n int64
	for _, v := range vs {
		if i, ok := v.(int64); ok {
			n += i
		}
	}
	return n
}
