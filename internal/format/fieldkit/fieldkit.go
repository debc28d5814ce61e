// Package fieldkit holds the helpers the record formats share: JSON limits
// checked before parsing, flattening JSON into dotted fields, rendering JSON
// scalars as field values, timestamp parsing and a few ECS conveniences.
// It keeps the formats consistent: one place decides what "too deep" or
// "a number" means.
package fieldkit

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
)

// DefaultMaxDepth bounds JSON nesting when Options.MaxDepth is zero.
const DefaultMaxDepth = 64

// MaxFields bounds how many fields one record may produce; beyond it the
// record is kept with TruncatedField set, so a hostile record cannot blow up
// memory or detector time.
const MaxFields = 2048

// TruncatedField is set (true) on events whose field count hit MaxFields.
const TruncatedField = "rampart.fields_truncated"

// MaxDepth returns opts.MaxDepth or the default.
func MaxDepth(opts format.Options) int {
	if opts.MaxDepth > 0 {
		return opts.MaxDepth
	}
	return DefaultMaxDepth
}

// Location returns opts.Location or UTC.
func Location(opts format.Options) *time.Location {
	if opts.Location != nil {
		return opts.Location
	}
	return time.UTC
}

// JSONDepth returns the maximum bracket nesting of rec outside strings.
func JSONDepth(rec []byte) int { return format.JSONDepth(rec) }

// ParseJSON checks rec with format.CheckJSON (encoding, depth, strict
// syntax: one order of reasons for every input), then parses it with p.
// The returned value points into p's and rec's memory: copy what you keep.
func ParseJSON(p *fastjson.Parser, rec []byte, maxDepth int) (*fastjson.Value, error) {
	if err := format.CheckJSON(rec, maxDepth); err != nil {
		return nil, err
	}
	v, err := p.ParseBytes(rec)
	if err != nil {
		return nil, format.Reject("invalid_json", "%v", err)
	}
	return v, nil
}

// ParseObject is ParseJSON for formats whose records are JSON objects.
func ParseObject(p *fastjson.Parser, rec []byte, maxDepth int) (*fastjson.Object, *fastjson.Value, error) {
	v, err := ParseJSON(p, rec, maxDepth)
	if err != nil {
		return nil, nil, err
	}
	o, err := v.Object()
	if err != nil {
		return nil, nil, format.Reject("invalid_record", "json record is a %s, not an object", v.Type())
	}
	return o, v, nil
}

// Scalar converts a JSON scalar to a field value: string, int64 for
// integers, float64 for other numbers, bool. ok is false for null, objects
// and arrays.
func Scalar(v *fastjson.Value) (any, bool) {
	switch v.Type() {
	case fastjson.TypeString:
		return string(v.GetStringBytes()), true
	case fastjson.TypeNumber:
		if i, err := v.Int64(); err == nil {
			return i, true
		}
		f, err := v.Float64()
		if err != nil {
			return nil, false
		}
		return f, true
	case fastjson.TypeTrue:
		return true, true
	case fastjson.TypeFalse:
		return false, true
	default:
		return nil, false
	}
}

// Text renders a JSON scalar as text: strings as they are, numbers as
// written, booleans as true/false. ok is false for null, objects and arrays.
func Text(v *fastjson.Value) (string, bool) {
	if v == nil {
		return "", false
	}
	switch v.Type() {
	case fastjson.TypeString:
		return string(v.GetStringBytes()), true
	case fastjson.TypeNumber:
		return string(v.MarshalTo(nil)), true
	case fastjson.TypeTrue:
		return "true", true
	case fastjson.TypeFalse:
		return "false", true
	default:
		return "", false
	}
}

// Int converts a JSON number or a numeric string (decimal or 0x hex) to int64.
func Int(v *fastjson.Value) (int64, bool) {
	if v == nil {
		return 0, false
	}
	switch v.Type() {
	case fastjson.TypeNumber:
		if i, err := v.Int64(); err == nil {
			return i, true
		}
		if f, err := v.Float64(); err == nil && f == float64(int64(f)) {
			return int64(f), true
		}
	case fastjson.TypeString:
		return ParseInt(string(v.GetStringBytes()))
	}
	return 0, false
}

// ParseInt parses a decimal or 0x-prefixed hexadecimal integer.
func ParseInt(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		u, err := strconv.ParseUint(s[2:], 16, 64)
		if err != nil || u > 1<<63-1 {
			return 0, false
		}
		return int64(u), true
	}
	i, err := strconv.ParseInt(s, 10, 64)
	return i, err == nil
}

// Flattener flattens JSON objects into dotted event fields, counting fields
// against MaxFields.
type Flattener struct {
	Ev  *event.Event
	n   int
	buf []byte
}

// Reset points the flattener at ev.
func (f *Flattener) Reset(ev *event.Event) { f.Ev, f.n = ev, len(ev.Fields) }

// Full reports whether MaxFields was reached.
func (f *Flattener) Full() bool { return f.n >= MaxFields }

// Set stores one field, honouring MaxFields. Keys from empty JSON names
// ("" or ending in ".") are dropped: they cannot be addressed by detectors.
func (f *Flattener) Set(key string, v any) {
	if key == "" || key[len(key)-1] == '.' {
		return
	}
	if f.n >= MaxFields {
		f.Ev.Fields[TruncatedField] = true
		return
	}
	if _, exists := f.Ev.Fields[key]; !exists {
		f.n++
	}
	f.Ev.Set(key, v)
}

// Append adds s to the list field key (a single value stays a string).
func (f *Flattener) Append(key, s string) {
	old, ok := f.Ev.Fields[key]
	if !ok {
		f.Set(key, s)
		return
	}
	switch x := old.(type) {
	case []string:
		f.Ev.Fields[key] = append(x, s)
	default:
		f.Ev.Fields[key] = []string{event.ValueString(x), s}
	}
}

// appendList adds s to the list field key, always a []string.
func (f *Flattener) appendList(key, s string) {
	switch x := f.Ev.Fields[key].(type) {
	case nil:
		f.Set(key, []string{s})
	case []string:
		f.Ev.Fields[key] = append(x, s)
	default:
		f.Ev.Fields[key] = []string{event.ValueString(x), s}
	}
}

// Value flattens v under key: objects recurse with dotted keys, arrays of
// scalars become []string, objects inside arrays add their leaves to list
// fields, scalars are stored with Scalar. Nulls are skipped.
func (f *Flattener) Value(key string, v *fastjson.Value) {
	f.value(key, v, false)
}

func (f *Flattener) value(key string, v *fastjson.Value, inArray bool) {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		o.Visit(func(k []byte, c *fastjson.Value) {
			if f.n >= MaxFields {
				f.Ev.Fields[TruncatedField] = true
				return
			}
			f.value(f.join(key, k), c, inArray)
		})
	case fastjson.TypeArray:
		arr, _ := v.Array()
		if len(arr) == 0 {
			return
		}
		for _, c := range arr {
			f.value(key, c, true)
		}
	case fastjson.TypeNull:
	default:
		if inArray {
			if s, ok := Text(v); ok {
				f.appendList(key, s)
			}
			return
		}
		if sv, ok := Scalar(v); ok {
			f.Set(key, sv)
		}
	}
}

func (f *Flattener) join(prefix string, k []byte) string {
	if prefix == "" {
		return string(k)
	}
	f.buf = append(append(append(f.buf[:0], prefix...), '.'), k...)
	return string(f.buf)
}

// Object flattens every member of o under prefix ("" for top level).
func (f *Flattener) Object(prefix string, o *fastjson.Object) {
	o.Visit(func(k []byte, c *fastjson.Value) {
		f.value(f.join(prefix, k), c, false)
	})
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999 -0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04:05.999999999 MST",
	"02/Jan/2006:15:04:05 -0700",
}

// ParseTime parses the common textual timestamp layouts (RFC 3339 and
// variants with a space, with or without a zone; zone-less times are in loc)
// and decimal Unix epochs (seconds, or milliseconds when implausibly large
// for seconds). The result is UTC.
func ParseTime(s string, loc *time.Location) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	if loc == nil {
		loc = time.UTC
	}
	if c := s[0]; c >= '0' && c <= '9' && !strings.ContainsAny(s, "-/: ") {
		return EpochText(s)
	}
	if t, ok := isoFast(s, loc); ok {
		return t, true
	}
	// .NET JSON dates: "/Date(1596556800000)/" (PowerShell ConvertTo-Json).
	if ms, ok := strings.CutPrefix(s, "/Date("); ok {
		ms, _, _ = strings.Cut(ms, ")")
		if n, err := strconv.ParseInt(ms, 10, 64); err == nil {
			return time.UnixMilli(n).UTC(), true
		}
		return time.Time{}, false
	}
	for _, l := range timeLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// Epoch converts Unix seconds (or milliseconds, when > 1e11) to UTC time.
func Epoch(f float64) time.Time {
	if f > 1e11 {
		f /= 1000
	}
	sec := int64(f)
	nsec := int64((f - float64(sec)) * 1e9)
	return time.Unix(sec, nsec).UTC()
}

// isoFast parses "YYYY-MM-DD[T ]hh:mm:ss[.frac][Z|±hh:mm|±hhmm]" without
// trying layouts one by one (the common case on the ingest path).
func isoFast(s string, loc *time.Location) (time.Time, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(a, b int) int {
		n := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	y, mo, d, h, mi, se := num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19)
	if y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60 {
		return time.Time{}, false
	}
	i, ns := 19, 0
	if i < len(s) && (s[i] == '.' || s[i] == ',') {
		scale := 100000000
		for i++; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			ns += int(s[i]-'0') * scale
			scale /= 10
		}
	}
	rest := strings.TrimSpace(s[i:])
	switch {
	case rest == "":
	case rest == "Z" || rest == "UTC":
		loc = time.UTC
	case (rest[0] == '+' || rest[0] == '-') && (len(rest) == 6 && rest[3] == ':' || len(rest) == 5):
		hh, mm := 0, 0
		if len(rest) == 6 {
			hh, mm = atoi2(rest[1:3]), atoi2(rest[4:6])
		} else {
			hh, mm = atoi2(rest[1:3]), atoi2(rest[3:5])
		}
		if hh < 0 || mm < 0 {
			return time.Time{}, false
		}
		off := hh*3600 + mm*60
		if rest[0] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
	default:
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, se, ns, loc)
	if t.Day() != d { // Feb 30 and friends
		return time.Time{}, false
	}
	return t.UTC(), true
}

func atoi2(s string) int {
	if s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return -1
	}
	return int(s[0]-'0')*10 + int(s[1]-'0')
}

// EpochText parses a decimal Unix epoch in seconds ("1655071198.444458")
// exactly, without float rounding; values over 1e11 are milliseconds.
func EpochText(s string) (time.Time, bool) {
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, false
	}
	unit, scale := int64(1e9), int64(1e8)
	if n > 1e11 { // milliseconds
		unit, scale = 1e6, 1e5
	}
	var ns int64
	for i := 0; i < len(frac); i++ {
		c := frac[i]
		if c < '0' || c > '9' {
			return time.Time{}, false
		}
		ns += int64(c-'0') * scale
		scale /= 10
	}
	if unit == 1e6 {
		return time.Unix(n/1000, (n%1000)*1e6+ns).UTC(), true
	}
	return time.Unix(n, ns).UTC(), true
}

// JSONTime reads a JSON timestamp that is either text or a number (epoch).
func JSONTime(v *fastjson.Value, loc *time.Location) (time.Time, bool) {
	if v == nil {
		return time.Time{}, false
	}
	switch v.Type() {
	case fastjson.TypeNumber:
		if t, ok := EpochText(string(v.MarshalTo(nil))); ok {
			return t, true
		}
		f, err := v.Float64()
		if err != nil {
			return time.Time{}, false
		}
		return Epoch(f), true
	case fastjson.TypeString:
		return ParseTime(string(v.GetStringBytes()), loc)
	}
	return time.Time{}, false
}

// IsIP reports whether s is an IPv4 or IPv6 address.
func IsIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// SetIP stores an address field and adds it to related.ip, when s is an address.
func SetIP(ev *event.Event, key, s string) {
	addr, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return
	}
	a := addr.Unmap().String()
	ev.Set(key, a)
	AddRelated(ev, "related.ip", a)
}

// SetPort stores a port field when s is a port number.
func SetPort(ev *event.Event, key, s string) {
	if p, ok := ParsePort(s); ok {
		ev.Set(key, p)
	}
}

// ParsePort reads a decimal port (0-65535, surrounding space allowed).
func ParsePort(s string) (int64, bool) {
	if s == "" { // the usual "no port": skip ParseUint's error allocation
		return 0, false
	}
	p, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	return int64(p), err == nil
}

// AddRelated appends s to a related.* list unless present.
func AddRelated(ev *event.Event, key, s string) {
	if s == "" || s == "-" {
		return
	}
	cur, _ := ev.Fields[key].([]string)
	for _, x := range cur {
		if x == s {
			return
		}
	}
	ev.Fields[key] = append(cur, s)
}

// ValidText returns rec unchanged when it is valid UTF-8, otherwise a copy
// with each invalid byte sequence replaced by U+FFFD. Text formats keep such
// lines (the raw record keeps the original bytes) rather than lose them.
func ValidText(rec []byte) []byte {
	if utf8.Valid(rec) {
		return rec
	}
	return bytes.ToValidUTF8(rec, []byte("\uFFFD"))
}

// HasJSONKey reports whether rec contains "key" followed by optional space
// and a colon: a cheap sniff that never parses.
func HasJSONKey(rec []byte, key string) bool {
	for off := 0; off < len(rec); {
		i := bytes.Index(rec[off:], []byte(key))
		if i < 0 {
			return false
		}
		i += off
		end := i + len(key)
		if i > 0 && rec[i-1] == '"' && end < len(rec) && rec[end] == '"' {
			j := end + 1
			for j < len(rec) && (rec[j] == ' ' || rec[j] == '\t' || rec[j] == '\n' || rec[j] == '\r') {
				j++
			}
			if j < len(rec) && rec[j] == ':' {
				return true
			}
		}
		off = end
	}
	return false
}

// IsJSONObject reports whether rec starts (after space) with '{'.
func IsJSONObject(rec []byte) bool {
	for _, c := range rec {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		default:
			return false
		}
	}
	return false
}
