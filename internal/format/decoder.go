package format

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"time"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"github.com/rampart-ids/rampart/internal/event"
)

// DefaultMaxRecordBytes bounds one record when DecoderOptions.MaxRecordBytes is zero.
const DefaultMaxRecordBytes = 1 << 20

// defaultMaxDepth mirrors fieldkit.DefaultMaxDepth (format cannot import it).
const defaultMaxDepth = 64

// Quarantine reasons set by the Decoder itself (parsers add their own).
const (
	ReasonTooLarge      = "too_large"
	ReasonTooDeep       = "too_deep"
	ReasonInvalidJSON   = "invalid_json"
	ReasonInvalidUTF8   = "invalid_utf8"
	ReasonUnknownFormat = "unknown_format"
	ReasonContainer     = "container_error"
	ReasonParseError    = "parse_error"
	// ReasonEmpty is set by the pipeline for an empty message (a syslog
	// datagram with nothing but NULs and line breaks in it).
	ReasonEmpty = "empty_message"
)

// DecoderOptions configure a Decoder.
type DecoderOptions struct {
	// Format names the record format; "" or "auto" detects it per record.
	Format string
	// Parse is passed to the format parsers. Parse.Now, when set, also
	// stamps Event.Received (deterministic tests and replays).
	Parse Options
	// MaxRecordBytes bounds one record; longer ones are quarantined as
	// "too_large" and skipped. Default 1 MiB.
	MaxRecordBytes int
}

// DecoderStats counts what a Decoder read. Records = Events + Quarantined + NoEvent.
type DecoderStats struct {
	Records     int64            // records framed (blank lines and JSON array brackets are framing, not records)
	Events      int64            // records that produced an event
	Quarantined int64            // records returned as *RecordError
	NoEvent     int64            // records without an event (headers, comments), skipped
	Bytes       int64            // input bytes consumed
	Reasons     map[string]int64 // quarantined records by reason
	Formats     map[string]int64 // events by format
}

// A Decoder splits a stream into records, parses each into an event and
// accounts for every record. It is used from one goroutine.
//
// Framing: records are lines; a record starting with '{' is framed by JSON
// structure instead, so pretty-printed and back-to-back objects and the
// elements of a top-level array of objects are records too. A malformed
// object ends (as "invalid_json") at a newline inside a string, or at a line
// that starts, at column 0, with '{' or a letter (other than true/false/null)
// while the object is still open — so it never swallows the good records
// after it. A stream that starts with the magic of a registered
// StreamFormat is read with its RecordReader.
//
// Encodings: JSON records must be valid UTF-8 ("invalid_utf8" otherwise).
// Text formats keep lines with invalid UTF-8, replacing bad bytes with
// U+FFFD in the parsed fields (Raw keeps the original bytes).
//
// Position is the record's byte offset in the stream ("#<n>" for the n-th
// record of a binary container).
type Decoder struct {
	r      io.Reader
	source string
	opts   DecoderOptions
	max    int
	depth  int
	parser Parser
	badFmt string // named format that is not registered

	// framing state
	buf     []byte // unread input is buf[i:]
	i       int
	off     int64 // stream offset of buf[i]
	eof     bool
	readErr error
	inArray bool
	started bool
	rec     []byte // current record

	// container state
	rr      RecordReader
	rrIndex int64

	readAt  time.Time // wall clock of the last read from r (see received)
	lastRaw []byte
	lastPos []byte // in posBuf
	posBuf  []byte // scratch for the record's position
	idBuf   []byte // scratch for event.DeriveIDInto
	slab    []byte // free space for records' Raw copies (see clone)
	format  string
	stats   DecoderStats
	now     func() time.Time
}

// NewDecoder returns a Decoder reading r; source names the stream (it feeds
// event IDs and Event.Source).
func NewDecoder(r io.Reader, source string, opts DecoderOptions) *Decoder {
	d := &Decoder{r: r, source: source, opts: opts, max: opts.MaxRecordBytes, depth: opts.Parse.MaxDepth}
	if d.max <= 0 {
		d.max = DefaultMaxRecordBytes
	}
	if d.depth <= 0 {
		d.depth = defaultMaxDepth
	}
	d.now = time.Now
	if opts.Parse.Now != nil {
		d.now = opts.Parse.Now
	}
	d.stats.Reasons = map[string]int64{}
	d.stats.Formats = map[string]int64{}
	d.parser, d.badFmt = d.newParser(opts.Format)
	return d
}

func (d *Decoder) newParser(name string) (Parser, string) {
	if name == "" || name == "auto" {
		return NewAuto(d.opts.Parse), ""
	}
	f, ok := Lookup(name)
	if !ok {
		return nil, name
	}
	return f.NewParser(d.opts.Parse), ""
}

// Last returns the raw bytes and position of the record last returned by
// Next (the one to quarantine after a *RecordError). The bytes are valid
// until the next call to Next.
func (d *Decoder) Last() (raw []byte, position string) { return d.lastRaw, string(d.lastPos) }

// Format returns the format of the last record that produced an event.
func (d *Decoder) Format() string { return d.format }

// Stats returns the counters so far.
func (d *Decoder) Stats() DecoderStats {
	s := d.stats
	s.Reasons = maps.Clone(d.stats.Reasons)
	s.Formats = maps.Clone(d.stats.Formats)
	return s
}

// Next fills ev with the next event. It returns io.EOF at the end of the
// stream, a *RecordError for one bad record (call Next again to continue),
// or another error when reading the stream failed.
func (d *Decoder) Next(ev *event.Event) error {
	for {
		raw, pos, reason, detail, err := d.frame()
		if err != nil {
			var re *RecordError
			if errors.As(err, &re) { // a damaged container piece: no raw bytes
				d.stats.Records++
				d.lastRaw, d.lastPos = nil, pos
				ev.Reset()
				ev.ID = event.DeriveIDInto(&d.idBuf, d.source, pos, nil)
				ev.Source = d.source
				ev.Received = d.now().UTC()
				return d.quarantine(ev, re)
			}
			return err
		}
		d.stats.Records++
		d.lastRaw, d.lastPos = raw, pos
		ev.Reset()
		ev.ID = event.DeriveIDInto(&d.idBuf, d.source, pos, raw)
		ev.Source = d.source
		ev.Raw = d.clone(raw)
		ev.Received = d.received()
		if reason != "" {
			return d.quarantine(ev, &RecordError{Reason: reason, Detail: detail})
		}
		if d.parser == nil {
			return d.quarantine(ev, &RecordError{Reason: ReasonUnknownFormat, Detail: fmt.Sprintf("format %q is not registered", d.badFmt)})
		}
		err = d.parser.Parse(raw, ev)
		switch {
		case err == nil:
			d.stats.Events++
			d.stats.Formats[ev.Format]++
			d.format = ev.Format
			return nil
		case errors.Is(err, ErrNoEvent):
			d.stats.NoEvent++
			continue
		}
		var re *RecordError
		if !errors.As(err, &re) {
			re = &RecordError{Reason: ReasonParseError, Detail: err.Error()}
		}
		return d.quarantine(ev, re)
	}
}

// received is Event.Received: when the record's bytes were read. For text
// it is the clock read at the buffer fill that completed them, one read
// per fill rather than per record (a clock read per record cost a few per
// cent of decoding); container records read it per record.
func (d *Decoder) received() time.Time {
	if d.rr != nil || d.readAt.IsZero() {
		return d.now().UTC()
	}
	return d.readAt
}

// slabSize is the block that small records' Raw copies are cut from.
const slabSize = 32 << 10

// clone copies raw for Event.Raw. Small records are cut from a shared block
// (one allocation per block instead of one per record); each copy's
// capacity ends at its length, so no append can reach a neighbour. A copy
// keeps its block alive, which costs at most slabSize per kept event.
func (d *Decoder) clone(raw []byte) []byte {
	n := len(raw)
	if n == 0 || n > slabSize/8 {
		return bytes.Clone(raw)
	}
	if len(d.slab) < n {
		d.slab = make([]byte, slabSize)
	}
	c := d.slab[:n:n]
	copy(c, raw)
	d.slab = d.slab[n:]
	return c
}

func (d *Decoder) quarantine(ev *event.Event, re *RecordError) error {
	clear(ev.Fields)
	ev.Time, ev.Format = time.Time{}, ""
	d.stats.Quarantined++
	d.stats.Reasons[re.Reason]++
	return re
}

// frame returns the next record. reason is set for records quarantined by
// framing itself.
// pos, the record's position, is valid until the next call.
func (d *Decoder) frame() (raw, pos []byte, reason, detail string, err error) {
	if !d.started {
		d.started = true
		if err := d.openContainer(); err != nil {
			return nil, nil, "", "", err
		}
		// A UTF-8 byte order mark (PowerShell, Notepad exports) is not data.
		if d.rr == nil {
			for len(d.buf)-d.i < 3 && d.fill() {
			}
			head := d.buf[d.i:]
			switch {
			case bytes.HasPrefix(head, []byte("\xEF\xBB\xBF")):
				d.advance(3)
			case bytes.HasPrefix(head, []byte("\xFF\xFE")), bytes.HasPrefix(head, []byte("\xFE\xFF")):
				// UTF-16 (PowerShell 5.1 redirection writes UTF-16LE): decode
				// to UTF-8 from here on. Offsets then count UTF-8 bytes.
				rest := io.MultiReader(bytes.NewReader(bytes.Clone(head)), d.r)
				d.r = transform.NewReader(rest, unicode.BOMOverride(unicode.UTF8.NewDecoder()))
				d.buf, d.i, d.eof = d.buf[:0], 0, false
			}
		}
	}
	if d.rr != nil {
		return d.containerNext()
	}
	for {
		if !d.skipSpace() {
			if d.readErr != nil {
				return nil, nil, "", "", fmt.Errorf("reading %s: %w", d.source, d.readErr)
			}
			return nil, nil, "", "", io.EOF
		}
		c := d.buf[d.i]
		if d.inArray && c == ']' {
			d.advance(1)
			d.inArray = false
			continue
		}
		if c == '[' && !d.inArray && d.arrayOfObjects() {
			d.advance(1)
			d.inArray = true
			continue
		}
		d.posBuf = strconv.AppendInt(d.posBuf[:0], d.off, 10)
		pos = d.posBuf
		if c == '{' || d.inArray {
			reason, detail = d.frameJSON()
		} else {
			reason, detail = d.frameLine()
		}
		return d.rec, pos, reason, detail, nil
	}
}

// fill reads more input; it returns false when no more can be read.
func (d *Decoder) fill() bool {
	if d.eof {
		return false
	}
	if d.i > 0 {
		n := copy(d.buf, d.buf[d.i:])
		d.buf = d.buf[:n]
		d.i = 0
	}
	if cap(d.buf)-len(d.buf) < 32<<10 {
		nb := make([]byte, len(d.buf), max(2*cap(d.buf), 64<<10))
		copy(nb, d.buf)
		d.buf = nb
	}
	for range 100 {
		n, err := d.r.Read(d.buf[len(d.buf):cap(d.buf)])
		d.buf = d.buf[:len(d.buf)+n]
		if err != nil {
			d.eof = true
			if !errors.Is(err, io.EOF) {
				d.readErr = err
			}
			if n > 0 {
				d.readAt = d.now().UTC()
			}
			return n > 0
		}
		if n > 0 {
			d.readAt = d.now().UTC()
			return true
		}
	}
	d.eof = true
	d.readErr = io.ErrNoProgress
	return false
}

func (d *Decoder) advance(n int) {
	d.i += n
	d.off += int64(n)
	d.stats.Bytes += int64(n)
}

// skipSpace skips blank space (and commas between array elements); false at end of input.
func (d *Decoder) skipSpace() bool {
	for {
		for d.i < len(d.buf) {
			switch d.buf[d.i] {
			case ' ', '\t', '\r', '\n':
				d.advance(1)
				continue
			case ',':
				if d.inArray {
					d.advance(1)
					continue
				}
			}
			return true
		}
		if !d.fill() {
			return false
		}
	}
}

// arrayOfObjects peeks past '[' and reports whether a JSON array of objects
// (or an empty array) starts here, as opposed to a text line such as
// "[Sun Dec 04 04:47:44 2005] [notice] …".
func (d *Decoder) arrayOfObjects() bool {
	for j := 1; j < 4096; j++ {
		for d.i+j >= len(d.buf) {
			if !d.fill() {
				return false
			}
		}
		switch d.buf[d.i+j] {
		case ' ', '\t', '\r', '\n':
			continue
		case '{', ']':
			return true
		default:
			return false
		}
	}
	return false
}

// frameLine reads one text line (without the newline and a trailing '\r').
func (d *Decoder) frameLine() (reason, detail string) {
	d.rec = d.rec[:0]
	tooLarge := false
	for {
		rest := d.buf[d.i:]
		nl := bytes.IndexByte(rest, '\n')
		chunk := rest
		if nl >= 0 {
			chunk = rest[:nl]
		}
		if !tooLarge {
			if len(d.rec)+len(chunk) > d.max {
				tooLarge = true
				d.rec = append(d.rec, chunk[:d.max-len(d.rec)]...)
			} else {
				d.rec = append(d.rec, chunk...)
			}
		}
		if nl >= 0 {
			d.advance(nl + 1)
			break
		}
		d.advance(len(chunk))
		if !d.fill() {
			break
		}
	}
	if tooLarge {
		return ReasonTooLarge, fmt.Sprintf("line longer than %d bytes (first %d kept)", d.max, len(d.rec))
	}
	d.rec = bytes.TrimSuffix(d.rec, []byte{'\r'})
	return "", ""
}

// frameJSON reads one JSON value by tracking nesting and strings.
func (d *Decoder) frameJSON() (reason, detail string) {
	d.rec = d.rec[:0]
	depth := 0
	inStr, esc, lineStart := false, false, false
	tooLarge := false
	isObject := d.buf[d.i] == '{'
	put := func(c byte) {
		if tooLarge {
			return
		}
		if len(d.rec) >= d.max {
			tooLarge = true
			return
		}
		d.rec = append(d.rec, c)
	}
	// A well-framed record is judged by its parser; a badly framed one by
	// CheckJSON, so both give the reasons the live inputs give.
	end := func(r, det string) (string, string) {
		d.rec = bytes.TrimRight(d.rec, " \t\r\n")
		switch {
		case tooLarge:
			return ReasonTooLarge, fmt.Sprintf("json record longer than %d bytes (first %d kept)", d.max, len(d.rec))
		case r != "":
			var re *RecordError
			if errors.As(CheckJSON(d.rec, d.depth), &re) {
				return re.Reason, re.Detail
			}
			return r, det
		}
		return "", ""
	}
	for {
		if d.i >= len(d.buf) && !d.fill() {
			if depth > 0 || inStr {
				return end(ReasonInvalidJSON, "unexpected end of input inside a json value")
			}
			return end("", "")
		}
		c := d.buf[d.i]
		if inStr {
			if c == '\n' && !esc {
				d.advance(1)
				return end(ReasonInvalidJSON, "newline inside a json string (unterminated string)")
			}
			inStr, esc = stepString(c, esc)
			put(c)
			d.advance(1)
			continue
		}
		if c == '\n' {
			if depth == 0 {
				d.advance(1)
				return end("", "")
			}
			lineStart = true
			put(c)
			d.advance(1)
			continue
		}
		if lineStart && depth > 0 && d.startsRecord(c) {
			return end(ReasonInvalidJSON, "json object not closed before the next record")
		}
		if c != ' ' && c != '\t' && c != '\r' {
			lineStart = false
		}
		if depth == 0 && len(d.rec) > 0 && isObject {
			// After a complete top-level object: the rest of the line may be
			// only space, or the start of the next value.
			switch c {
			case ' ', '\t', '\r': // kept for trailing data, trimmed otherwise
				put(c)
				d.advance(1)
				continue
			case '{', '[':
				return end("", "")
			case ',', ']':
				if d.inArray {
					return end("", "")
				}
			}
			reason, detail := d.trailing()
			return end(reason, detail)
		}
		if depth == 0 && !isObject && (c == ',' || c == ']') {
			return end("", "")
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth < 0 {
				depth = 0
			}
		}
		put(c)
		d.advance(1)
	}
}

// trailing absorbs text after a complete object up to the end of the line.
func (d *Decoder) trailing() (reason, detail string) {
	for {
		if d.i >= len(d.buf) && !d.fill() {
			break
		}
		c := d.buf[d.i]
		d.advance(1)
		if c == '\n' {
			break
		}
		if len(d.rec) < d.max {
			d.rec = append(d.rec, c)
		}
	}
	return ReasonInvalidJSON, "unexpected data after a json object"
}

// startsRecord reports whether a line starting with c, inside an open JSON
// object, must be a new record instead: '{' at column 0, or a letter that
// does not begin true, false or null.
func (d *Decoder) startsRecord(c byte) bool {
	if c == '{' || c == '<' || c == '#' {
		return true
	}
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		return false
	}
	for d.i+5 >= len(d.buf) && !d.eof {
		if !d.fill() {
			break
		}
	}
	rest := d.buf[d.i:]
	for _, lit := range [...]string{"true", "false", "null"} {
		if bytes.HasPrefix(rest, []byte(lit)) {
			return false
		}
	}
	return true
}

// openContainer checks the stream start for a registered container magic.
func (d *Decoder) openContainer() error {
	ss := Streams()
	if len(ss) == 0 {
		return nil
	}
	need := 0
	for _, s := range ss {
		need = max(need, len(s.Magic))
	}
	for len(d.buf)-d.i < need && d.fill() {
	}
	head := d.buf[d.i:]
	for _, s := range ss {
		if len(s.Magic) == 0 || !bytes.HasPrefix(head, s.Magic) {
			continue
		}
		r := d.r
		if sk, ok := d.r.(io.Seeker); ok {
			if _, err := sk.Seek(-int64(len(d.buf)), io.SeekCurrent); err != nil {
				r = io.MultiReader(bytes.NewReader(bytes.Clone(head)), d.r)
			}
		} else {
			r = io.MultiReader(bytes.NewReader(bytes.Clone(head)), d.r)
		}
		d.buf, d.i = nil, 0
		rr, err := s.Open(r)
		if err != nil {
			return fmt.Errorf("opening %s container %s: %w", s.Name, d.source, err)
		}
		d.rr = rr
		if d.opts.Format == "" || d.opts.Format == "auto" {
			d.parser, d.badFmt = d.newParser(s.RecordFormat)
		}
		return nil
	}
	return nil
}

func (d *Decoder) containerNext() (raw, pos []byte, reason, detail string, err error) {
	rec, err := d.rr.Next()
	d.posBuf = strconv.AppendInt(append(d.posBuf[:0], '#'), d.rrIndex, 10)
	pos = d.posBuf
	d.rrIndex++
	if err != nil {
		var re *RecordError
		if errors.As(err, &re) {
			return nil, pos, "", "", err
		}
		if errors.Is(err, io.EOF) {
			return nil, pos, "", "", io.EOF
		}
		return nil, pos, "", "", fmt.Errorf("reading container %s: %w", d.source, err)
	}
	d.stats.Bytes += int64(len(rec))
	if len(rec) > d.max {
		return rec[:d.max], pos, ReasonTooLarge, fmt.Sprintf("container record longer than %d bytes", d.max), nil
	}
	return rec, pos, "", "", nil
}
