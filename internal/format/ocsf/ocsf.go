// Package ocsf reads OCSF JSON events (Open Cybersecurity Schema Framework,
// as written by AWS Security Lake, Amazon GuardDuty exports and OCSF
// producers). Every attribute is kept flattened under ocsf., and the
// common ones are copied to ECS: endpoints, actor user and process, files,
// HTTP, DNS queries, status and time.
package ocsf

import (
	"strconv"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/format/fieldkit"
)

// Name is the format name.
const Name = "ocsf"

func init() { format.Register(Format{}) }

// Format is the OCSF JSON format.
type Format struct{}

// Name returns "ocsf".
func (Format) Name() string { return Name }

// Sniff scores 90 for JSON objects with class_uid.
func (Format) Sniff(rec []byte) int {
	if !fieldkit.IsJSONObject(rec) || !fieldkit.HasJSONKey(rec, "class_uid") {
		return 0
	}
	return 90
}

// NewParser returns an OCSF parser.
func (Format) NewParser(opts format.Options) format.Parser {
	return &Parser{maxDepth: fieldkit.MaxDepth(opts)}
}

// Parser parses OCSF events. Not safe for concurrent use.
type Parser struct {
	maxDepth int
	jp       fastjson.Parser
	fl       fieldkit.Flattener
}

var _ format.Parser = (*Parser)(nil)

// Parse fills ev from one OCSF event.
func (p *Parser) Parse(rec []byte, ev *event.Event) error {
	o, v, err := fieldkit.ParseObject(&p.jp, rec, p.maxDepth)
	if err != nil {
		return err
	}
	class, ok := fieldkit.Int(o.Get("class_uid"))
	if !ok {
		return format.Reject("invalid_record", "ocsf event has no numeric class_uid")
	}
	p.fl.Reset(ev)
	p.fl.Object("ocsf", o)
	ev.Fields["ocsf.class_uid"] = class
	if c, ok := fieldkit.Int(o.Get("category_uid")); ok {
		ev.Fields["ocsf.category_uid"] = c
	} else if class >= 1000 {
		ev.Fields["ocsf.category_uid"] = class / 1000
	}
	if t, ok := fieldkit.JSONTime(firstOf(o.Get("time"), o.Get("time_dt")), nil); ok {
		ev.Time = t
	}
	s := func(keys ...string) string { t, _ := fieldkit.Text(v.Get(keys...)); return t }
	ev.Set("event.module", "ocsf")
	ev.Set("event.dataset", "ocsf."+strconv.FormatInt(class, 10))
	ev.Set("event.code", strconv.FormatInt(class, 10))
	ev.Set("event.action", strings.ToLower(strings.ReplaceAll(s("activity_name"), " ", "_")))
	ev.Set("message", s("message"))
	if sev, ok := fieldkit.Int(o.Get("severity_id")); ok {
		ev.Set("event.severity", sev)
	}
	switch st, _ := fieldkit.Int(o.Get("status_id")); {
	case st == 1 || strings.EqualFold(s("status"), "success"):
		ev.Set("event.outcome", "success")
	case st == 2 || strings.EqualFold(s("status"), "failure"):
		ev.Set("event.outcome", "failure")
	}
	category := map[int64]string{1: "host", 2: "intrusion_detection", 3: "iam", 4: "network", 5: "configuration", 6: "web"}
	ev.Set("event.category", category[event64(ev.Fields["ocsf.category_uid"])])

	fieldkit.SetIP(ev, "source.ip", s("src_endpoint", "ip"))
	fieldkit.SetPort(ev, "source.port", s("src_endpoint", "port"))
	ev.Set("source.domain", s("src_endpoint", "hostname"))
	fieldkit.SetIP(ev, "destination.ip", s("dst_endpoint", "ip"))
	fieldkit.SetPort(ev, "destination.port", s("dst_endpoint", "port"))
	ev.Set("destination.domain", s("dst_endpoint", "hostname"))
	ev.Set("network.transport", strings.ToLower(s("connection_info", "protocol_name")))
	ev.Set("host.name", first(s("device", "hostname"), s("device", "name")))
	fieldkit.SetIP(ev, "host.ip", s("device", "ip"))

	// "user" is the subject (the account logging on); actor.user acted.
	user := first(s("user", "name"), s("actor", "user", "name"))
	ev.Set("user.name", user)
	ev.Set("user.id", first(s("user", "uid"), s("actor", "user", "uid")))
	ev.Set("user.domain", first(s("user", "domain"), s("actor", "user", "domain")))
	if user != "" {
		fieldkit.AddRelated(ev, "related.user", user)
	}

	proc := "process"
	if v.Get("process") == nil && v.Get("actor", "process") != nil {
		proc = "actor"
	}
	pv := func(keys ...string) string {
		if proc == "actor" {
			return s(append([]string{"actor", "process"}, keys...)...)
		}
		return s(append([]string{"process"}, keys...)...)
	}
	ev.Set("process.name", pv("name"))
	ev.Set("process.command_line", pv("cmd_line"))
	ev.Set("process.executable", pv("file", "path"))
	if pid, ok := fieldkit.ParseInt(pv("pid")); ok {
		ev.Set("process.pid", pid)
	}
	ev.Set("process.parent.executable", pv("parent_process", "file", "path"))
	ev.Set("process.parent.command_line", pv("parent_process", "cmd_line"))

	ev.Set("file.path", s("file", "path"))
	ev.Set("file.name", s("file", "name"))
	for _, h := range v.GetArray("file", "hashes") {
		alg, _ := fieldkit.Int(h.Get("algorithm_id"))
		val, _ := fieldkit.Text(h.Get("value"))
		name := map[int64]string{1: "md5", 2: "sha1", 3: "sha256", 4: "sha512"}[alg]
		if name != "" && val != "" {
			ev.Set("file.hash."+name, strings.ToLower(val))
			fieldkit.AddRelated(ev, "related.hash", strings.ToLower(val))
		}
	}

	ev.Set("http.request.method", s("http_request", "http_method"))
	ev.Set("url.domain", s("http_request", "url", "hostname"))
	ev.Set("url.path", s("http_request", "url", "path"))
	ev.Set("url.query", s("http_request", "url", "query_string"))
	ev.Set("url.original", s("http_request", "url", "url_string"))
	ev.Set("user_agent.original", s("http_request", "user_agent"))
	if c, ok := fieldkit.Int(v.Get("http_response", "code")); ok {
		ev.Set("http.response.status_code", c)
	}
	ev.Set("dns.question.name", s("query", "hostname"))
	ev.Set("dns.question.type", s("query", "type"))
	ev.Format = Name
	return nil
}

func event64(v any) int64 { i, _ := v.(int64); return i }

func first(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func firstOf(vs ...*fastjson.Value) *fastjson.Value {
	for _, v := range vs {
		if v != nil && v.Type() != fastjson.TypeNull {
			return v
		}
	}
	return nil
}
