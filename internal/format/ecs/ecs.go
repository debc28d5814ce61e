// Package ecs reads ECS JSON documents (Elastic Common Schema, as written by
// Beats, Elastic Agent or any ECS logger). Nested objects and dotted keys
// both flatten to the same dotted field names; "@timestamp" becomes the
// event time. event.module and event.dataset are kept as given (default
// "ecs"). It is also the fallback for JSON objects no other format claims.
package ecs

import (
	"github.com/valyala/fastjson"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/format/fieldkit"
)

// Name is the format name.
const Name = "ecs"

func init() { format.Register(Format{}) }

// Format is the ECS JSON format.
type Format struct{}

// Name returns "ecs".
func (Format) Name() string { return Name }

// Sniff scores below format.LockScore on purpose: ECS is the generic JSON
// fallback, so every record is offered to the specific formats first.
func (Format) Sniff(rec []byte) int {
	if !fieldkit.IsJSONObject(rec) {
		return 0
	}
	if fieldkit.HasJSONKey(rec, "@timestamp") || fieldkit.HasJSONKey(rec, "ecs") || fieldkit.HasJSONKey(rec, "ecs.version") {
		return 45
	}
	return 10
}

// NewParser returns an ECS parser.
func (Format) NewParser(opts format.Options) format.Parser {
	return &Parser{maxDepth: fieldkit.MaxDepth(opts)}
}

// Parser parses ECS documents. Not safe for concurrent use.
type Parser struct {
	maxDepth int
	jp       fastjson.Parser
	fl       fieldkit.Flattener
}

var _ format.Parser = (*Parser)(nil)

// Parse fills ev from one ECS JSON document.
func (p *Parser) Parse(rec []byte, ev *event.Event) error {
	o, _, err := fieldkit.ParseObject(&p.jp, rec, p.maxDepth)
	if err != nil {
		return err
	}
	p.fl.Reset(ev)
	o.Visit(func(k []byte, v *fastjson.Value) {
		if string(k) == "@timestamp" {
			if t, ok := fieldkit.JSONTime(v, nil); ok {
				ev.Time = t
				return
			}
		}
		p.fl.Value(string(k), v)
	})
	if _, ok := ev.Fields["event.module"]; !ok {
		ev.Set("event.module", "ecs")
	}
	if _, ok := ev.Fields["event.dataset"]; !ok {
		ev.Set("event.dataset", event.ValueString(ev.Fields["event.module"]))
	}
	// ECS numbers that the contract types as int64 may arrive as strings.
	for _, k := range []string{"source.port", "destination.port", "process.pid", "http.response.status_code", "process.parent.pid"} {
		if s, ok := ev.Fields[k].(string); ok {
			if n, ok := fieldkit.ParseInt(s); ok {
				ev.Fields[k] = n
			}
		}
	}
	if c, ok := ev.Fields["event.code"]; ok {
		ev.Fields["event.code"] = event.ValueString(c)
	}
	for _, k := range []string{"source.ip", "destination.ip", "client.ip", "server.ip"} {
		if s, ok := ev.Fields[k].(string); ok {
			fieldkit.AddRelated(ev, "related.ip", s)
		}
	}
	ev.Format = Name
	return nil
}
