package ingest

import (
	"bytes"
	"errors"
	"io"
)

// FormatOversize is the Record.Format of a record longer than its input's
// size limit: Data holds only the first limit bytes and the pipeline
// quarantines it as "too_large" (it is counted, never silently dropped).
const FormatOversize = "oversize"

// FormatInvalidJSON is the Record.Format of a record an input already
// knows is not the JSON it requires; the pipeline quarantines it as
// "invalid_json". No built-in input sets it any more: a malformed line is
// judged by the format parsers, so that every input gives the same bytes
// the same reason.
const FormatInvalidJSON = "invalid_json"

// FormatEmpty is the Record.Format of a message that is empty (an empty or
// all-NUL syslog datagram or octet-counted frame): the pipeline quarantines
// it as "empty_message", so it is counted instead of dropped.
const FormatEmpty = "empty"

// ErrNoProgress is returned by LineReader.Next when the underlying reader
// keeps returning no data and no error.
var ErrNoProgress = errors.New("reader returned no data and no error repeatedly")

// Line is one newline-delimited record found by a LineReader.
type Line struct {
	// Data is the line without its "\n" or "\r\n"; for an oversize line, its
	// first Max bytes. It aliases the reader's buffer until the next call.
	Data []byte
	// Offset is the byte offset of the line's first byte; End the offset
	// just past its newline (where the next line starts).
	Offset, End int64
	// Oversize reports that the line was longer than Max and Data is its head.
	Oversize bool
}

// LineReader frames newline-delimited records with a bounded buffer: memory
// stays below max+bufSize whatever the input. It is not safe for concurrent use.
//
// Next returns io.EOF when no complete line is buffered and the reader is at
// its end; the partial line is kept, so a later Next on a growing file picks
// it up (tailing). Flush returns that partial line when the stream is over.
type LineReader struct {
	r          io.Reader
	buf        []byte
	head, tail int
	off        int64 // offset of buf[head]
	max        int
	bufMax     int

	over      bool // skipping the rest of an oversize line
	overStart int64
	overHead  []byte
}

// NewLineReader returns a LineReader over r starting at offset off, with
// lines limited to max bytes (max ≥ 1).
func NewLineReader(r io.Reader, off int64, max int) *LineReader {
	if max < 1 {
		max = 1
	}
	initial := 64 << 10
	if initial > max+2 {
		initial = max + 2
	}
	return &LineReader{r: r, off: off, max: max, bufMax: max + 2, buf: make([]byte, initial)}
}

// Reset discards buffered data and continues with r at offset off.
func (l *LineReader) Reset(r io.Reader, off int64) {
	l.r, l.off, l.head, l.tail = r, off, 0, 0
	l.over, l.overHead = false, nil
}

// ReadOffset is the offset just past the last byte read from the underlying reader.
func (l *LineReader) ReadOffset() int64 { return l.off + int64(l.tail-l.head) }

// Consumed is the offset just past the last line returned: where the
// buffered partial (or oversize) line starts.
func (l *LineReader) Consumed() int64 {
	if l.over {
		return l.overStart
	}
	return l.off
}

// Buffered reports whether a complete line is buffered, so Next returns
// without reading.
func (l *LineReader) Buffered() bool {
	return bytes.IndexByte(l.buf[l.head:l.tail], '\n') >= 0
}

// Pending reports whether a partial line is buffered.
func (l *LineReader) Pending() bool { return l.over || l.tail > l.head }

// Next returns the next complete line.
func (l *LineReader) Next() (Line, error) {
	idle := 0
	for {
		if ln, ok := l.scan(); ok {
			return ln, nil
		}
		if l.head > 0 {
			n := copy(l.buf, l.buf[l.head:l.tail])
			l.head, l.tail = 0, n
		}
		if l.tail == len(l.buf) && len(l.buf) < l.bufMax {
			nb := make([]byte, min(2*len(l.buf), l.bufMax))
			copy(nb, l.buf[:l.tail])
			l.buf = nb
		}
		n, err := l.r.Read(l.buf[l.tail:])
		l.tail += n
		if n > 0 {
			idle = 0
			continue
		}
		if err != nil {
			return Line{}, err
		}
		if idle++; idle > 100 {
			return Line{}, ErrNoProgress
		}
	}
}

// scan extracts one line from the buffer, or consumes what an oversize line
// makes useless.
func (l *LineReader) scan() (Line, bool) {
	data := l.buf[l.head:l.tail]
	i := bytes.IndexByte(data, '\n')
	if i >= 0 {
		end := l.off + int64(i) + 1
		if l.over {
			ln := Line{Data: l.overHead, Offset: l.overStart, End: end, Oversize: true}
			l.over, l.overHead = false, nil
			l.consume(i + 1)
			return ln, true
		}
		ln := Line{Data: trimCR(data[:i]), Offset: l.off, End: end}
		if len(ln.Data) > l.max {
			ln.Data, ln.Oversize = ln.Data[:l.max], true
		}
		l.consume(i + 1)
		return ln, true
	}
	switch {
	case l.over:
		l.consume(len(data))
	case len(data) > l.max+1 || (len(data) == l.max+1 && data[l.max] != '\r'):
		// The line cannot fit: keep its head and skip to its newline, so the
		// record (and its commit offset) covers the whole line.
		l.over, l.overStart = true, l.off
		l.overHead = append([]byte(nil), data[:l.max]...)
		l.consume(len(data))
	}
	return Line{}, false
}

func (l *LineReader) consume(n int) {
	l.head += n
	l.off += int64(n)
	if l.head == l.tail {
		l.head, l.tail = 0, 0
	}
}

// Flush returns the buffered partial line (no trailing newline) at the end
// of a stream and clears it; ok is false if nothing is buffered.
func (l *LineReader) Flush() (Line, bool) {
	if l.over {
		ln := Line{Data: l.overHead, Offset: l.overStart, End: l.ReadOffset(), Oversize: true}
		l.over, l.overHead = false, nil
		l.consume(l.tail - l.head)
		return ln, true
	}
	if l.tail == l.head {
		return Line{}, false
	}
	data := trimCR(l.buf[l.head:l.tail])
	ln := Line{Data: data, Offset: l.off, End: l.ReadOffset()}
	if len(data) > l.max {
		ln.Data, ln.Oversize = data[:l.max], true
	}
	l.consume(l.tail - l.head)
	return ln, true
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}
