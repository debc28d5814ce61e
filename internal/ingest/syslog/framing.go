package syslog

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/rampart-ids/rampart/internal/ingest"
)

// ErrFraming means a TCP stream broke octet-counting framing (RFC 6587
// §3.4.1); the connection cannot be resynchronised and is closed.
var ErrFraming = errors.New("bad octet-counting frame")

// maxLenDigits bounds the MSG-LEN field (9 digits: under 1 GB, and the
// excess over the message limit is discarded as it streams past).
const maxLenDigits = 9

// Frame is one syslog message read from a TCP stream.
type Frame struct {
	// Data is the message without framing; it aliases the reader's buffer
	// until the next call. For an oversize message it is the first max bytes.
	Data     []byte
	Oversize bool
	// Empty marks a message with nothing but NULs and line breaks in it
	// (an octet-counted frame, or a newline-framed line of NULs); Data
	// holds those bytes.
	Empty bool
}

// FrameReader splits a TCP syslog stream into messages. The framing is
// detected from the first byte of the stream: a digit means octet counting
// ("LEN SP MSG", RFC 6587 §3.4.1, as sent by rsyslog omfwd
// TCP_Framing="octet-counted" and logger --octet-count); anything else means
// newline-terminated messages (RFC 6587 §3.4.2). Memory is bounded by max.
type FrameReader struct {
	br      *bufio.Reader
	max     int
	buf     []byte
	lines   *ingest.LineReader
	Octet   bool // set once the framing is known: true for octet counting
	decided bool
}

// NewFrameReader returns a FrameReader over r with messages limited to max bytes.
func NewFrameReader(r io.Reader, max int) *FrameReader {
	if max < 1 {
		max = 1
	}
	return &FrameReader{br: bufio.NewReaderSize(r, 32<<10), max: max}
}

// Next returns the next message, io.EOF at a clean end of stream, or an
// error (wrapping ErrFraming for a malformed octet count). Blank lines
// between newline-framed messages are skipped; other empty messages are
// returned with Empty set.
func (fr *FrameReader) Next() (Frame, error) {
	if !fr.decided {
		b, err := fr.br.Peek(1)
		if err != nil {
			return Frame{}, err
		}
		fr.decided = true
		fr.Octet = b[0] >= '0' && b[0] <= '9'
		if !fr.Octet {
			fr.lines = ingest.NewLineReader(fr.br, 0, fr.max)
		}
	}
	if fr.Octet {
		return fr.nextOctet()
	}
	return fr.nextLine()
}

func (fr *FrameReader) nextLine() (Frame, error) {
	for {
		ln, err := fr.lines.Next()
		if errors.Is(err, io.EOF) {
			ln, ok := fr.lines.Flush()
			if !ok {
				return Frame{}, io.EOF
			}
			if f, ok := lineFrame(ln); ok {
				return f, nil
			}
			return Frame{}, io.EOF
		}
		if err != nil {
			return Frame{}, err
		}
		if f, ok := lineFrame(ln); ok {
			return f, nil
		}
	}
}

func lineFrame(ln ingest.Line) (Frame, bool) {
	d := trimTrailer(ln.Data)
	if len(d) == 0 && !ln.Oversize {
		raw := bytes.TrimRight(ln.Data, "\r")
		return Frame{Data: raw, Empty: true}, len(raw) > 0 // NULs, not a blank line
	}
	return Frame{Data: d, Oversize: ln.Oversize}, true
}

func (fr *FrameReader) nextOctet() (Frame, error) {
	n, err := fr.readLen()
	if err != nil {
		return Frame{}, err
	}
	take := min(n, fr.max)
	if cap(fr.buf) < take {
		fr.buf = make([]byte, take)
	}
	fr.buf = fr.buf[:take]
	if _, err := io.ReadFull(fr.br, fr.buf); err != nil {
		return Frame{}, fmt.Errorf("reading %d-byte frame: %w", n, eofUnexpected(err))
	}
	if n > take {
		if _, err := fr.br.Discard(n - take); err != nil {
			return Frame{}, fmt.Errorf("skipping oversize frame: %w", eofUnexpected(err))
		}
	}
	d := trimTrailer(fr.buf)
	if len(d) == 0 && n <= take {
		return Frame{Data: fr.buf, Empty: true}, nil
	}
	return Frame{Data: d, Oversize: n > take}, nil
}

// readLen reads "LEN SP". Line breaks between frames, which some senders
// add, are skipped.
func (fr *FrameReader) readLen() (int, error) {
	n, digits := 0, 0
	for {
		b, err := fr.br.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) && digits == 0 {
				return 0, io.EOF
			}
			return 0, fmt.Errorf("reading frame length: %w", eofUnexpected(err))
		}
		switch {
		case b >= '0' && b <= '9':
			if digits == maxLenDigits {
				return 0, fmt.Errorf("%w: length longer than %d digits", ErrFraming, maxLenDigits)
			}
			n = n*10 + int(b-'0')
			digits++
		case b == ' ' && digits > 0:
			return n, nil
		case (b == '\n' || b == '\r') && digits == 0:
		default:
			return 0, fmt.Errorf("%w: unexpected byte %q in length", ErrFraming, b)
		}
	}
}

func eofUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// trimTrailer drops trailing line breaks and NULs some senders append.
func trimTrailer(b []byte) []byte {
	for len(b) > 0 {
		switch b[len(b)-1] {
		case '\n', '\r', 0:
			b = b[:len(b)-1]
		default:
			return b
		}
	}
	return b
}
