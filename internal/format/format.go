// Package format turns raw records into normalized events. Each record
// format (ECS JSON, OCSF, Suricata EVE, Zeek, Windows JSON, Linux auth
// syslog, generic syslog, …) is one Format registered here; Auto detects
// the format of each input.
package format

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/rampart-ids/rampart/internal/event"
)

// ErrNoEvent is returned by Parse for records that carry no event (a Zeek
// "#fields" header, a comment line, a blank line). They are not quarantined.
var ErrNoEvent = errors.New("record carries no event")

// A RecordError says why one record could not be read; the record is
// quarantined with Reason. Reason is a short, stable, lower_snake label
// ("invalid_json", "invalid_utf8", "too_large", "too_deep", "unknown_format", …)
// suitable as a metric label; Detail is free text.
type RecordError struct {
	Reason string
	Detail string
}

func (e *RecordError) Error() string {
	if e.Detail == "" {
		return e.Reason
	}
	return e.Reason + ": " + e.Detail
}

// Reject builds a RecordError.
func Reject(reason, format string, args ...any) error {
	return &RecordError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// Options configure parsing. The zero value is usable.
type Options struct {
	// Location resolves timestamps without a zone (RFC 3164). Default UTC.
	Location *time.Location
	// Now supplies the current time for RFC 3164's missing year (the year is
	// chosen so the timestamp is not more than a day in the future). Default time.Now.
	Now func() time.Time
	// Year, when non-zero, is used for RFC 3164 timestamps instead of inferring from Now.
	Year int
	// MaxDepth bounds JSON nesting. Default 64.
	MaxDepth int
}

// A Format is one record format.
type Format interface {
	// Name is the format's stable name ("ecs", "ocsf", "eve", "zeek", "windows", "auth", "syslog", …).
	Name() string
	// Sniff returns how confident the format is that rec is one of its
	// records: 0 (not mine) to 100 (certain). Cheap; called on every record by Auto.
	Sniff(rec []byte) int
	// NewParser returns a parser for one stream of records. Parsers keep
	// per-stream state (Zeek headers, sshd pid → address) and are used from
	// one goroutine.
	NewParser(opts Options) Parser
}

// A Parser normalizes the records of one stream, in order.
type Parser interface {
	// Parse fills ev (already Reset, with Source/Raw/ID/Received set by the
	// caller) from rec. It returns ErrNoEvent for records without an event,
	// or a *RecordError for a record it cannot read. ev.Format is set by Parse
	// to the name of the format that read rec. Parse must not retain rec.
	Parse(rec []byte, ev *event.Event) error
}

var (
	regMu   sync.RWMutex
	formats = map[string]Format{}
)

// Register adds a format; it panics on a duplicate name.
func Register(f Format) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := formats[f.Name()]; dup {
		panic("format: duplicate format " + f.Name())
	}
	formats[f.Name()] = f
}

// Lookup returns a registered format by name.
func Lookup(name string) (Format, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	f, ok := formats[name]
	return f, ok
}

// Names lists registered formats, sorted.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(formats))
	for n := range formats {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
