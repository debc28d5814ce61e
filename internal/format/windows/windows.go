// Package windows reads Windows event log records rendered as JSON, in every
// layout Rampart meets, and normalizes them to the winlog.* contract of
// docs/fields.md:
//
//   - flat: System fields at top level (EventID, Channel, Provider,
//     Computer, TimeCreated, …) with EventData/UserData objects
//     (the windows-evtx jsonl export), or with the EventData items
//     themselves at top level (NXLog / Mordor style exports with
//     EventID, Channel, SourceName or Provider_Name);
//   - XML-shaped: {"Event": {"System": {...}, "EventData": {...}}} with
//     "#attributes" (the SigmaHQ regression_data JSON and the .evtx reader);
//   - Winlogbeat: nested "winlog" object (or dotted "winlog.*" keys).
package windows

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
const Name = "windows"

func init() { format.Register(Format{}) }

// Format is the Windows JSON record format.
type Format struct{}

// Name returns "windows".
func (Format) Name() string { return Name }

// Sniff recognises the System fields of each layout.
func (Format) Sniff(rec []byte) int {
	if !fieldkit.IsJSONObject(rec) {
		return 0
	}
	switch {
	case fieldkit.HasJSONKey(rec, "System") && (fieldkit.HasJSONKey(rec, "EventID") || fieldkit.HasJSONKey(rec, "Event")):
		return 95
	case bytes.Contains(rec, []byte("winlog")) && // one scan, as Auto re-sniffs every record, before three
		(fieldkit.HasJSONKey(rec, "winlog") || fieldkit.HasJSONKey(rec, "winlog.event_id") || fieldkit.HasJSONKey(rec, "winlog.channel")):
		return 90
	case fieldkit.HasJSONKey(rec, "EventID") && (fieldkit.HasJSONKey(rec, "Channel") ||
		fieldkit.HasJSONKey(rec, "Provider") || fieldkit.HasJSONKey(rec, "SourceName") ||
		fieldkit.HasJSONKey(rec, "Provider_Name") || fieldkit.HasJSONKey(rec, "EventData")):
		return 90
	case fieldkit.HasJSONKey(rec, "LogName") && fieldkit.HasJSONKey(rec, "Id") && fieldkit.HasJSONKey(rec, "ProviderName"):
		return 85
	case fieldkit.HasJSONKey(rec, "EventID"):
		return 40
	}
	return 0
}

// NewParser returns a parser; it keeps only a reusable JSON parser.
func (Format) NewParser(opts format.Options) format.Parser {
	return &Parser{opts: opts, maxDepth: fieldkit.MaxDepth(opts)}
}

// Parser parses Windows JSON records. Not safe for concurrent use.
type Parser struct {
	opts     format.Options
	maxDepth int
	jp       fastjson.Parser
	fl       fieldkit.Flattener
	buf      []byte
	keys     map[string]string // joined field names, interned (see join)
}

var _ format.Parser = (*Parser)(nil)

// Parse fills ev from one JSON record.
func (p *Parser) Parse(rec []byte, ev *event.Event) error {
	o, v, err := fieldkit.ParseObject(&p.jp, rec, p.maxDepth)
	if err != nil {
		return err
	}
	p.fl.Reset(ev)
	switch {
	case o.Get("Event") != nil && v.GetObject("Event", "System") != nil:
		p.xml(v.Get("Event"), ev)
	case o.Get("System") != nil && v.GetObject("System") != nil:
		p.xml(v, ev)
	case v.GetObject("winlog") != nil || o.Get("winlog.event_id") != nil || o.Get("winlog.channel") != nil:
		p.winlogbeat(o, ev)
	case o.Get("EventID") != nil || o.Get("EventId") != nil || (o.Get("Id") != nil && o.Get("LogName") != nil):
		p.flat(o, ev)
	default:
		return format.Reject("unknown_layout", "json object has no Windows System fields (EventID, System, winlog)")
	}
	if _, ok := ev.Fields["winlog.event_id"]; !ok {
		return format.Reject("invalid_record", "windows record has no usable event id")
	}
	for _, k := range systemGUIDs {
		if s, ok := ev.Fields[k].(string); ok {
			ev.Fields[k] = nativeGUID(s)
		}
	}
	finish(ev)
	ev.Format = Name
	return nil
}

// xml handles {"System": {...}, "EventData": {...}, "UserData": {...}} with
// XML attributes under "#attributes".
func (p *Parser) xml(e *fastjson.Value, ev *event.Event) {
	sys := e.Get("System")
	eid := sys.Get("EventID")
	if eid != nil && eid.Type() == fastjson.TypeObject {
		eid = firstOf(eid.Get("#text"), eid.Get("Value"))
	}
	setInt(ev, "winlog.event_id", eid)
	if q := sys.Get("EventID", "#attributes", "Qualifiers"); q != nil {
		setText(ev, "winlog.event_qualifiers", q)
	}
	setText(ev, "winlog.provider_name", firstOf(sys.Get("Provider", "#attributes", "Name"), sys.Get("Provider", "Name")))
	setText(ev, "winlog.provider_guid", firstOf(sys.Get("Provider", "#attributes", "Guid"), sys.Get("Provider", "Guid")))
	setText(ev, "winlog.event_source", sys.Get("Provider", "#attributes", "EventSourceName"))
	setText(ev, "winlog.version", sys.Get("Version"))
	setText(ev, "winlog.level", sys.Get("Level"))
	setText(ev, "winlog.task", sys.Get("Task"))
	setText(ev, "winlog.opcode", sys.Get("Opcode"))
	setText(ev, "winlog.keywords", sys.Get("Keywords"))
	setInt(ev, "winlog.record_id", sys.Get("EventRecordID"))
	setText(ev, "winlog.channel", sys.Get("Channel"))
	setText(ev, "winlog.computer_name", sys.Get("Computer"))
	setInt(ev, "winlog.process.pid", firstOf(sys.Get("Execution", "#attributes", "ProcessID"), sys.Get("Execution", "ProcessID")))
	setInt(ev, "winlog.process.thread.id", firstOf(sys.Get("Execution", "#attributes", "ThreadID"), sys.Get("Execution", "ThreadID")))
	setText(ev, "winlog.user.identifier", firstOf(sys.Get("Security", "#attributes", "UserID"), sys.Get("Security", "UserID")))
	setText(ev, "winlog.activity_id", firstOf(sys.Get("Correlation", "#attributes", "ActivityID"), sys.Get("Correlation", "ActivityID")))
	setText(ev, "winlog.related_activity_id", sys.Get("Correlation", "#attributes", "RelatedActivityID"))
	if t, ok := fieldkit.JSONTime(firstOf(sys.Get("TimeCreated", "#attributes", "SystemTime"), sys.Get("TimeCreated", "SystemTime"), sys.Get("TimeCreated")), nil); ok {
		ev.Time = t
	}
	p.eventData(e.Get("EventData"), ev)
	p.userData(e.Get("UserData"), ev)
	setText(ev, "message", firstOf(e.Get("Message"), e.Get("RenderingInfo", "Message")))
}

// flatSystem maps the top-level System names of flat exports to winlog.*.
// Names are matched exactly; exports spell them in several ways.
var flatSystem = map[string]string{
	"EventID": "winlog.event_id", "EventId": "winlog.event_id",
	"Provider": "winlog.provider_name", "Provider_Name": "winlog.provider_name", "ProviderName": "winlog.provider_name", "SourceName": "winlog.provider_name",
	"ProviderGuid": "winlog.provider_guid", "Provider_Guid": "winlog.provider_guid",
	"Version": "winlog.version", "Level": "winlog.level", "Task": "winlog.task", "Opcode": "winlog.opcode",
	"OpcodeValue": "winlog.opcode", "Keywords": "winlog.keywords",
	"EventRecordID": "winlog.record_id", "RecordNumber": "winlog.record_id", "RecordID": "winlog.record_id",
	"ProcessID": "winlog.process.pid", "ExecutionProcessID": "winlog.process.pid",
	"ThreadID": "winlog.process.thread.id", "ExecutionThreadID": "winlog.process.thread.id",
	"Channel":  "winlog.channel",
	"Computer": "winlog.computer_name", "Hostname": "winlog.computer_name", "ComputerName": "winlog.computer_name",
	"UserID": "winlog.user.identifier", "UserId": "winlog.user.identifier", "UserSid": "winlog.user.identifier", "Security_UserID": "winlog.user.identifier",
	"ActivityID": "winlog.activity_id", "RelatedActivityID": "winlog.related_activity_id",
	"Message": "message",
	// PowerShell Get-WinEvent | ConvertTo-Json.
	"Id": "winlog.event_id", "LogName": "winlog.channel", "MachineName": "winlog.computer_name",
	"RecordId": "winlog.record_id", "ProviderId": "winlog.provider_guid", "ThreadId": "winlog.process.thread.id",
}

// flatTime lists time keys by preference: zone-less NXLog EventTime comes after the UTC ones.
var flatTime = []string{"TimeCreated", "SystemTime", "TimeCreated_SystemTime", "@timestamp", "UtcTime", "EventTime", "TimeGenerated", "EventReceivedTime"}

// flatIgnore are shipper metadata keys of flat exports that are not EventData.
var flatIgnore = map[string]bool{
	"@version": true, "@timestamp": true, "host": true, "port": true, "tags": true, "type": true,
	"EventType": true, "Severity": true, "SeverityValue": true, "EventReceivedTime": true,
	"SourceModuleName": true, "SourceModuleType": true, "Category": true, "EventTime": true,
	"TimeCreated": true, "SystemTime": true, "TimeCreated_SystemTime": true, "TimeGenerated": true,
	"log_name": true, "beat": true, "agent": true, "ecs": true,
	"LevelDisplayName": true, "TaskDisplayName": true, "OpcodeDisplayName": true, "KeywordsDisplayNames": true,
	"ContainerLog": true, "MatchedQueryIds": true, "Bookmark": true, "Qualifiers": true,
}

// flat handles records with System fields at top level; EventData and
// UserData objects are read as such, other scalar keys are EventData items.
func (p *Parser) flat(o *fastjson.Object, ev *event.Event) {
	getWinEvent := o.Get("LogName") != nil && o.Get("Channel") == nil
	o.Visit(func(k []byte, v *fastjson.Value) {
		key := string(k)
		if getWinEvent && key == "ProcessId" { // System execution pid in Get-WinEvent output
			setInt(ev, "winlog.process.pid", v)
			return
		}
		if key == "Keywords" && v.Type() == fastjson.TypeNumber { // Get-WinEvent: signed int64
			if i, err := v.Int64(); err == nil {
				ev.Set("winlog.keywords", "0x"+strconv.FormatUint(uint64(i), 16))
				return
			}
		}
		if dst, ok := flatSystem[key]; ok {
			switch dst {
			case "winlog.event_id", "winlog.record_id", "winlog.process.pid", "winlog.process.thread.id":
				setInt(ev, dst, v)
			default:
				if _, done := ev.Fields[dst]; !done {
					setText(ev, dst, v)
				}
			}
			return
		}
		switch key {
		case "EventData", "Event_Data", "event_data":
			p.eventData(v, ev)
			return
		case "UserData", "User_Data", "user_data":
			p.userData(v, ev)
			return
		case "Properties": // Get-WinEvent: unnamed values [{"Value": x}, ...]
			for _, it := range v.GetArray() {
				p.unnamed(firstOf(it.Get("Value"), it))
			}
			return
		}
		if flatIgnore[key] {
			return
		}
		if s, ok := fieldkit.Text(v); ok {
			p.fl.Set(p.join("winlog.event_data.", key), nativeValue(key, s))
		}
	})
	for _, k := range flatTime {
		if t, ok := fieldkit.JSONTime(o.Get(k), nil); ok {
			ev.Time = t
			break
		}
	}
	if v := o.Get("EventID"); v != nil && v.Type() == fastjson.TypeObject {
		setInt(ev, "winlog.event_id", v.Get("#text"))
	}
}

// winlogbeat handles the nested or dotted Winlogbeat layout: the document is
// flattened as ECS, then winlog.* values are coerced to the contract types.
func (p *Parser) winlogbeat(o *fastjson.Object, ev *event.Event) {
	o.Visit(func(k []byte, v *fastjson.Value) {
		key := string(k)
		switch {
		case key == "@timestamp":
			if t, ok := fieldkit.JSONTime(v, nil); ok {
				ev.Time = t
			}
		case key == "winlog":
			wo, _ := v.Object()
			wo.Visit(func(wk []byte, wv *fastjson.Value) { p.winlogKey(p.join("winlog.", string(wk)), wv, ev) })
		case strings.HasPrefix(key, "winlog."):
			p.winlogKey(key, v, ev)
		case key == "event" || key == "host" || key == "process" || key == "user" || key == "log" || key == "message":
			p.fl.Value(key, v)
		case key == "agent" || key == "ecs" || key == "@metadata":
		default:
			if strings.HasPrefix(key, "event.") || strings.HasPrefix(key, "host.") {
				p.fl.Value(key, v)
			}
		}
	})
	// Winlogbeat's own event.module/dataset are replaced by the contract's.
	delete(ev.Fields, "event.module")
	delete(ev.Fields, "event.dataset")
}

func (p *Parser) winlogKey(key string, v *fastjson.Value, ev *event.Event) {
	switch key {
	case "winlog.event_id", "winlog.record_id", "winlog.process.pid", "winlog.process.thread.id":
		setInt(ev, key, v)
	case "winlog.event_data":
		p.eventData(v, ev)
	case "winlog.user_data":
		p.userData(v, ev)
	case "winlog.level", "winlog.task", "winlog.opcode", "winlog.version", "winlog.channel",
		"winlog.provider_name", "winlog.provider_guid", "winlog.computer_name":
		setText(ev, key, v)
	case "winlog.keywords":
		if v.Type() == fastjson.TypeArray {
			p.fl.Value(key, v)
		} else {
			setText(ev, key, v)
		}
	default:
		if name, ok := strings.CutPrefix(key, "winlog.event_data."); ok {
			if s, ok := fieldkit.Text(v); ok {
				p.fl.Set(key, nativeValue(name, s))
			}
			return
		}
		p.fl.Value(key, v)
	}
}

// eventData stores every named item as winlog.event_data.<Name> (text as
// rendered) and unnamed items as winlog.event_data.Data. It understands
// {"Name": value}, {"Data": [{"Name": n, "Value"|"#text": v}]}, {"Data": [..]}
// and the jsonl export's "_data" list.
func (p *Parser) eventData(v *fastjson.Value, ev *event.Event) {
	if v == nil {
		return
	}
	switch v.Type() {
	case fastjson.TypeString, fastjson.TypeNumber:
		p.unnamed(v)
		return
	case fastjson.TypeArray:
		p.dataItems(v)
		return
	case fastjson.TypeObject:
	default:
		return
	}
	o, _ := v.Object()
	o.Visit(func(k []byte, c *fastjson.Value) {
		key := string(k)
		switch key {
		case "#attributes", "xmlns":
			return
		case "Data", "_data", "#text":
			p.dataItems(c)
			return
		}
		if s, ok := fieldkit.Text(c); ok {
			p.fl.Set(p.join("winlog.event_data.", key), nativeValue(key, s))
		} else if c.Type() == fastjson.TypeObject {
			if s, ok := fieldkit.Text(firstOf(c.Get("#text"), c.Get("Value"))); ok {
				p.fl.Set(p.join("winlog.event_data.", key), nativeValue(key, s))
			}
		}
	})
}

// dataItems reads a <Data> list: named items become fields, unnamed go to Data.
func (p *Parser) dataItems(v *fastjson.Value) {
	switch v.Type() {
	case fastjson.TypeArray:
		arr, _ := v.Array()
		for _, it := range arr {
			p.dataItem(it)
		}
	default:
		p.dataItem(v)
	}
}

func (p *Parser) dataItem(it *fastjson.Value) {
	if it.Type() != fastjson.TypeObject {
		p.unnamed(it)
		return
	}
	name := firstOf(it.Get("#attributes", "Name"), it.Get("Name"), it.Get("@Name"))
	val := firstOf(it.Get("#text"), it.Get("Value"), it.Get(""))
	n, ok := fieldkit.Text(name)
	if !ok || n == "" {
		p.unnamed(val)
		return
	}
	if s, ok := fieldkit.Text(val); ok {
		p.fl.Set(p.join("winlog.event_data.", n), nativeValue(n, s))
	}
}

func (p *Parser) unnamed(v *fastjson.Value) {
	if s, ok := fieldkit.Text(v); ok {
		p.fl.Append("winlog.event_data.Data", nativeValue("", s))
	}
}

// userData stores every leaf below the wrapper element as winlog.user_data.<Name>.
func (p *Parser) userData(v *fastjson.Value, ev *event.Event) {
	if v == nil || v.Type() != fastjson.TypeObject {
		return
	}
	o, _ := v.Object()
	o.Visit(func(_ []byte, wrapper *fastjson.Value) {
		if wrapper.Type() == fastjson.TypeObject {
			p.leaves(wrapper)
		}
	})
}

func (p *Parser) leaves(v *fastjson.Value) {
	o, _ := v.Object()
	o.Visit(func(k []byte, c *fastjson.Value) {
		if string(k) == "#attributes" || string(k) == "xmlns" {
			return
		}
		switch c.Type() {
		case fastjson.TypeObject:
			p.leaves(c)
		case fastjson.TypeArray:
			arr, _ := c.Array()
			key := p.join("winlog.user_data.", string(k))
			for _, it := range arr {
				if it.Type() == fastjson.TypeObject {
					p.leaves(it)
				} else if s, ok := fieldkit.Text(it); ok {
					p.fl.Append(key, nativeValue(string(k), s))
				}
			}
		default:
			if s, ok := fieldkit.Text(c); ok {
				p.fl.Set(p.join("winlog.user_data.", string(k)), nativeValue(string(k), s))
			}
		}
	})
}

// maxKeys bounds the interned field names of one Parser; the set is emptied
// when full, so records with ever-new names cost allocations, not memory.
const maxKeys = 4096

// join returns prefix+key. Field names repeat from record to record, so
// each is allocated once per Parser and shared by the events using it.
func (p *Parser) join(prefix, key string) string {
	p.buf = append(append(p.buf[:0], prefix...), key...)
	if s, ok := p.keys[string(p.buf)]; ok {
		return s
	}
	if p.keys == nil || len(p.keys) >= maxKeys {
		p.keys = make(map[string]string, 64)
	}
	s := string(p.buf)
	p.keys[s] = s
	return s
}

func firstOf(vs ...*fastjson.Value) *fastjson.Value {
	for _, v := range vs {
		if v != nil && v.Type() != fastjson.TypeNull {
			return v
		}
	}
	return nil
}

func setText(ev *event.Event, key string, v *fastjson.Value) {
	if s, ok := fieldkit.Text(v); ok {
		ev.Set(key, s)
	}
}

func setInt(ev *event.Event, key string, v *fastjson.Value) {
	if i, ok := fieldkit.Int(v); ok {
		ev.Set(key, i)
	}
}
