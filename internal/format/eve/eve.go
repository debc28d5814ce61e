// Package eve reads Suricata EVE JSON (alert, dns, http, tls, flow,
// fileinfo, ssh, anomaly, … records). Every key is kept flattened under
// suricata.eve. and the ECS copies of docs/fields.md are added.
package eve

import (
	"strconv"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/format/fieldkit"
)

// Name is the format name.
const Name = "eve"

func init() { format.Register(Format{}) }

// Format is the Suricata EVE JSON format.
type Format struct{}

// Name returns "eve".
func (Format) Name() string { return Name }

// Sniff scores 90 for JSON objects with event_type and Suricata's flow keys.
func (Format) Sniff(rec []byte) int {
	if !fieldkit.IsJSONObject(rec) || !fieldkit.HasJSONKey(rec, "event_type") {
		return 0
	}
	if fieldkit.HasJSONKey(rec, "src_ip") || fieldkit.HasJSONKey(rec, "flow_id") || fieldkit.HasJSONKey(rec, "timestamp") {
		return 90
	}
	return 40
}

// NewParser returns an EVE parser.
func (Format) NewParser(opts format.Options) format.Parser {
	return &Parser{maxDepth: fieldkit.MaxDepth(opts)}
}

// Parser parses EVE records. Not safe for concurrent use.
type Parser struct {
	maxDepth int
	jp       fastjson.Parser
	fl       fieldkit.Flattener
}

var _ format.Parser = (*Parser)(nil)

const prefix = "suricata.eve"

// Parse fills ev from one EVE record.
func (p *Parser) Parse(rec []byte, ev *event.Event) error {
	o, v, err := fieldkit.ParseObject(&p.jp, rec, p.maxDepth)
	if err != nil {
		return err
	}
	et, ok := fieldkit.Text(o.Get("event_type"))
	if !ok || et == "" {
		return format.Reject("invalid_record", "eve record has no event_type")
	}
	p.fl.Reset(ev)
	p.fl.Object(prefix, o)
	if t, ok := fieldkit.JSONTime(o.Get("timestamp"), nil); ok {
		ev.Time = t
	}
	ev.Set("event.module", "suricata")
	ev.Set("event.dataset", "suricata.eve")
	ev.Set("event.category", "network")
	ev.Set("event.kind", "event")
	s := func(keys ...string) string { t, _ := fieldkit.Text(v.Get(keys...)); return t }
	fieldkit.SetIP(ev, "source.ip", s("src_ip"))
	fieldkit.SetPort(ev, "source.port", s("src_port"))
	fieldkit.SetIP(ev, "destination.ip", s("dest_ip"))
	fieldkit.SetPort(ev, "destination.port", s("dest_port"))
	ev.Set("network.transport", strings.ToLower(s("proto")))
	ev.Set("network.protocol", strings.ToLower(s("app_proto")))
	ev.Set("host.name", s("host"))
	ev.Set("observer.ingress.interface.name", s("in_iface"))
	if id, ok := fieldkit.Int(v.Get("flow_id")); ok {
		ev.Set("network.flow_id", id)
	}

	switch et {
	case "alert":
		ev.Set("event.kind", "alert")
		ev.Set("rule.id", s("alert", "signature_id"))
		ev.Set("rule.name", s("alert", "signature"))
		ev.Set("rule.category", s("alert", "category"))
		ev.Set("message", s("alert", "signature"))
		ev.Set("event.action", s("alert", "action"))
		if sev, ok := fieldkit.Int(v.Get("alert", "severity")); ok {
			ev.Set("event.severity", sev)
		}
	case "anomaly":
		ev.Set("message", s("anomaly", "event"))
	case "flow", "netflow":
		ev.Set("event.type", "connection")
		if failedTCP(strings.ToLower(s("proto")), s("tcp", "tcp_flags_ts"), s("tcp", "tcp_flags_tc")) {
			ev.Set("event.outcome", "failure")
		}
	}
	// Protocol sections can appear on alerts too (metadata), so they are not
	// tied to event_type.
	if d := v.Get("dns"); d != nil {
		name := s("dns", "rrname")
		typ := s("dns", "rrtype")
		if name == "" {
			name, typ = s("dns", "queries", "0", "rrname"), s("dns", "queries", "0", "rrtype")
		}
		ev.Set("dns.question.name", name)
		ev.Set("dns.question.type", typ)
		ev.Set("dns.type", s("dns", "type"))
		ev.Set("dns.response_code", s("dns", "rcode"))
	}
	if v.Get("http") != nil {
		ev.Set("url.domain", s("http", "hostname"))
		if u := s("http", "url"); u != "" {
			ev.Set("url.original", u)
			path, query, _ := strings.Cut(u, "?")
			ev.Set("url.path", path)
			ev.Set("url.query", query)
		}
		ev.Set("http.request.method", s("http", "http_method"))
		ev.Set("user_agent.original", s("http", "http_user_agent"))
		ev.Set("http.request.referrer", s("http", "http_refer"))
		ev.Set("http.version", strings.TrimPrefix(s("http", "protocol"), "HTTP/"))
		if c, ok := fieldkit.Int(v.Get("http", "status")); ok {
			ev.Set("http.response.status_code", c)
		}
		if n, ok := fieldkit.Int(v.Get("http", "length")); ok {
			ev.Set("http.response.body.bytes", n)
		}
	}
	if v.Get("tls") != nil {
		ev.Set("tls.server.sni", s("tls", "sni"))
		ev.Set("tls.server.subject", s("tls", "subject"))
		ev.Set("tls.server.issuer", s("tls", "issuerdn"))
		ev.Set("tls.version", s("tls", "version"))
		ev.Set("tls.client.ja3", s("tls", "ja3", "hash"))
		ev.Set("tls.server.ja3s", s("tls", "ja3s", "hash"))
		ev.Set("tls.server.hash.sha1", strings.ReplaceAll(s("tls", "fingerprint"), ":", ""))
	}
	if v.Get("fileinfo") != nil {
		ev.Set("file.name", s("fileinfo", "filename"))
		ev.Set("file.path", s("fileinfo", "filename"))
		for _, h := range []string{"md5", "sha1", "sha256"} {
			if x := s("fileinfo", h); x != "" {
				ev.Set("file.hash."+h, x)
				fieldkit.AddRelated(ev, "related.hash", x)
			}
		}
		if n, ok := fieldkit.Int(v.Get("fileinfo", "size")); ok {
			ev.Set("file.size", n)
		}
	}
	if v.Get("ssh") != nil {
		ev.Set("ssh.client", s("ssh", "client", "software_version"))
		ev.Set("ssh.server", s("ssh", "server", "software_version"))
	}
	if v.Get("flow") != nil {
		ts, ok1 := fieldkit.Int(v.Get("flow", "bytes_toserver"))
		tc, ok2 := fieldkit.Int(v.Get("flow", "bytes_toclient"))
		if ok1 {
			ev.Set("source.bytes", ts)
		}
		if ok2 {
			ev.Set("destination.bytes", tc)
		}
		if ok1 || ok2 {
			ev.Set("network.bytes", ts+tc)
		}
		ps, _ := fieldkit.Int(v.Get("flow", "pkts_toserver"))
		pc, _ := fieldkit.Int(v.Get("flow", "pkts_toclient"))
		if ps+pc > 0 {
			ev.Set("network.packets", ps+pc)
		}
	}
	if _, ok := ev.Fields["message"]; !ok {
		ev.Set("message", et+eventSummary(ev))
	}
	ev.Format = Name
	return nil
}

// failedTCP reports a TCP flow that never became a connection carrying
// data, from the per-direction TCP flags (hex) of a flow record: the
// responder never sent SYN (no answer, or a RST: Zeek's S0 and REJ), or the
// originator answered the SYN-ACK with RST and sent no ACK (a SYN scan's
// open port, Zeek's "ShR"). Without per-direction flags nothing is said.
func failedTCP(proto, ts, tc string) bool {
	if proto != "tcp" || ts == "" {
		return false
	}
	const syn, rst, ack = 0x02, 0x04, 0x10
	fs, err1 := strconv.ParseUint(ts, 16, 8)
	fc, err2 := strconv.ParseUint(tc, 16, 8)
	if err1 != nil || (tc != "" && err2 != nil) || fs&syn == 0 {
		return false
	}
	if fc&syn == 0 {
		return true
	}
	return fs&rst != 0 && fs&ack == 0
}

// eventSummary gives non-alert records a short message for keyword search.
func eventSummary(ev *event.Event) string {
	for _, k := range []string{"dns.question.name", "url.original", "tls.server.sni", "file.name"} {
		if s, ok := ev.Fields[k].(string); ok {
			return " " + s
		}
	}
	if p, ok := ev.Fields["destination.port"].(int64); ok {
		return " " + event.ValueString(ev.Fields["destination.ip"]) + ":" + strconv.FormatInt(p, 10)
	}
	return ""
}
