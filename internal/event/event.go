// Package event defines Event, one normalized record of telemetry.
//
// It is a leaf package: it imports only the standard library, so that
// parsers, detectors, stores and the API can share it without cycles.
package event

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Event is one normalized record. Fields uses flat, dotted ECS names
// ("source.ip", "user.name", "winlog.event_data.Image").
//
// Field values are one of: string, int64, float64, bool, []string.
// Parsers MUST NOT store other types; detectors rely on this closed set.
// An Event is owned by one goroutine at a time; detectors must not modify it.
type Event struct {
	// ID is deterministic: the same raw record from the same source and
	// position always gets the same ID, so a replay never duplicates alerts.
	ID string
	// Time is the event time (from the record), UTC. Zero if the record had none
	// and the input could not supply one.
	Time time.Time
	// Received is when Rampart read the record (wall clock).
	Received time.Time
	// Source names the input the record came from (e.g. "file:/var/log/auth.log").
	Source string
	// Format is the name of the parser that read the record.
	Format string
	// Fields holds the normalized ECS fields, flat and dotted.
	Fields map[string]any
	// Raw is the original record, unchanged.
	Raw []byte
}

// New returns an Event with an allocated field map.
func New() *Event { return &Event{Fields: make(map[string]any, 16)} }

// Reset clears ev for reuse, keeping the map's storage.
func (ev *Event) Reset() {
	clear(ev.Fields)
	if ev.Fields == nil {
		ev.Fields = make(map[string]any, 16)
	}
	ev.ID, ev.Source, ev.Format, ev.Raw = "", "", "", nil
	ev.Time, ev.Received = time.Time{}, time.Time{}
}

// Set stores a field. Empty strings are not stored: absent and empty mean the same to detectors.
func (ev *Event) Set(key string, v any) {
	if s, ok := v.(string); ok && s == "" {
		return
	}
	if ev.Fields == nil {
		ev.Fields = make(map[string]any, 16)
	}
	ev.Fields[key] = v
}

// Get returns a field's value.
func (ev *Event) Get(key string) (any, bool) {
	v, ok := ev.Fields[key]
	return v, ok
}

// GetString returns a field rendered as text ("" and false if absent).
// Lists render as their first element.
func (ev *Event) GetString(key string) (string, bool) {
	v, ok := ev.Fields[key]
	if !ok {
		return "", false
	}
	return ValueString(v), true
}

// ValueString renders a field value as text.
func ValueString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case []string:
		if len(x) > 0 {
			return x[0]
		}
		return ""
	case nil:
		return ""
	default:
		return ""
	}
}

// DeriveID computes a deterministic event id from the source, a position
// within it (offset or sequence; may be empty) and the raw bytes: the hex of
// the first 16 bytes of SHA-256(source NUL position NUL raw).
func DeriveID(source, position string, raw []byte) string {
	return DeriveIDInto(nil, source, position, raw)
}

// DeriveIDInto is DeriveID hashing in *scratch (nil: a buffer of its own),
// which it keeps for the next call when it is of a usual record's size, so
// a stream of records costs one allocation per id.
func DeriveIDInto[P ~string | ~[]byte](scratch *[]byte, source string, position P, raw []byte) string {
	var b []byte
	if scratch != nil {
		b = (*scratch)[:0]
	}
	b = append(append(b, source...), 0)
	b = append(append(append(b, position...), 0), raw...)
	if scratch != nil && cap(b) <= 64<<10 {
		*scratch = b
	}
	sum := sha256.Sum256(b)
	var h [32]byte
	hex.Encode(h[:], sum[:16])
	return string(h[:])
}

// Nested renders the flat fields as nested objects ("source.ip" becomes
// {"source": {"ip": ...}}), the shape ECS documents use. A key that is both a
// leaf and a prefix keeps the leaf under its full dotted name.
func (ev *Event) Nested() map[string]any {
	keys := make([]string, 0, len(ev.Fields))
	for k := range ev.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := map[string]any{}
	for _, k := range keys {
		v := ev.Fields[k]
		parts := strings.Split(k, ".")
		m := out
		ok := true
		for _, p := range parts[:len(parts)-1] {
			next, exists := m[p]
			if !exists {
				nm := map[string]any{}
				m[p] = nm
				m = nm
				continue
			}
			nm, isMap := next.(map[string]any)
			if !isMap {
				ok = false
				break
			}
			m = nm
		}
		last := parts[len(parts)-1]
		if _, clash := m[last]; ok && !clash {
			m[last] = v
		} else {
			out[k] = v
		}
	}
	return out
}
