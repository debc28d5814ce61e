package evtx

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strconv"
	"time"
)

// Value renderings follow the reference JSON conversion of the shared
// corpus (python-evtx): integers in decimal, size_t in decimal, hex32/64
// zero-padded lower case with 0x, GUIDs lower case in braces, booleans
// True/False, binary as base64, FILETIME and SYSTEMTIME as
// "2006-01-02 15:04:05.999999" (no fraction when zero), floats as Python's
// shortest repr, string arrays as "<string>a</string>\n" per item.

// fixedSize is the byte size of fixed-size value types, 0 otherwise.
func fixedSize(t uint8) int {
	switch t {
	case vtInt8, vtUint8:
		return 1
	case vtInt16, vtUint16:
		return 2
	case vtInt32, vtUint32, vtReal32, vtBool, vtHex32:
		return 4
	case vtInt64, vtUint64, vtReal64, vtFiletm, vtHex64:
		return 8
	case vtGUID, vtSystm:
		return 16
	}
	return 0
}

// appendValue renders a value of type t held in b.
func appendValue(dst []byte, t uint8, b []byte) []byte {
	if t&vtArray != 0 {
		return appendArray(dst, t&^vtArray, b)
	}
	switch t {
	case vtNull:
		return dst
	case vtString:
		start := len(dst)
		dst = decodeUTF16(dst, b)
		return dst[:start+len(trimNUL(dst[start:]))]
	case vtAnsi:
		start := len(dst)
		dst = decodeAnsi(dst, b)
		return dst[:start+len(trimNUL(dst[start:]))]
	case vtBinary:
		return base64.StdEncoding.AppendEncode(dst, b)
	case vtSizeT:
		switch len(b) {
		case 4:
			return strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(b)), 10)
		case 8:
			return strconv.AppendUint(dst, binary.LittleEndian.Uint64(b), 10)
		}
		return base64.StdEncoding.AppendEncode(dst, b)
	case vtSID:
		return appendSID(dst, b)
	case vtBinXML:
		return dst
	}
	size := fixedSize(t)
	if size == 0 || len(b) < size {
		// Unknown type or short data: keep the bytes visible rather than drop them.
		return base64.StdEncoding.AppendEncode(dst, b)
	}
	return appendFixed(dst, t, b[:size])
}

// appendFixed renders one fixed-size value; len(b) == fixedSize(t).
func appendFixed(dst []byte, t uint8, b []byte) []byte {
	le := binary.LittleEndian
	switch t {
	case vtInt8:
		return strconv.AppendInt(dst, int64(int8(b[0])), 10)
	case vtUint8:
		return strconv.AppendUint(dst, uint64(b[0]), 10)
	case vtInt16:
		return strconv.AppendInt(dst, int64(int16(le.Uint16(b))), 10)
	case vtUint16:
		return strconv.AppendUint(dst, uint64(le.Uint16(b)), 10)
	case vtInt32:
		return strconv.AppendInt(dst, int64(int32(le.Uint32(b))), 10)
	case vtUint32:
		return strconv.AppendUint(dst, uint64(le.Uint32(b)), 10)
	case vtInt64:
		return strconv.AppendInt(dst, int64(le.Uint64(b)), 10)
	case vtUint64:
		return strconv.AppendUint(dst, le.Uint64(b), 10)
	case vtReal32:
		return appendPyFloat(dst, float64(math.Float32frombits(le.Uint32(b))))
	case vtReal64:
		return appendPyFloat(dst, math.Float64frombits(le.Uint64(b)))
	case vtBool:
		if int32(le.Uint32(b)) > 0 {
			return append(dst, "True"...)
		}
		return append(dst, "False"...)
	case vtGUID:
		return appendGUID(dst, b)
	case vtFiletm:
		return appendFiletime(dst, le.Uint64(b))
	case vtSystm:
		return appendSystemtime(dst, b)
	case vtHex32:
		return appendHex(dst, uint64(le.Uint32(b)), 8)
	case vtHex64:
		return appendHex(dst, le.Uint64(b), 16)
	}
	return dst
}

// appendArray renders an array value: every item as <string>item</string>
// and a newline, the form the reference conversion gives string arrays.
func appendArray(dst []byte, t uint8, b []byte) []byte {
	switch t {
	case vtString:
		// NUL-terminated UTF-16 strings; each empty slot is an empty item.
		for len(b) >= 2 {
			i := 0
			for i+1 < len(b) && (b[i] != 0 || b[i+1] != 0) {
				i += 2
			}
			dst = append(dst, "<string>"...)
			dst = decodeUTF16(dst, b[:i])
			dst = append(dst, "</string>\n"...)
			if i+2 > len(b) {
				break
			}
			b = b[i+2:]
		}
		return dst
	case vtAnsi:
		for len(b) > 0 {
			i := 0
			for i < len(b) && b[i] != 0 {
				i++
			}
			dst = append(dst, "<string>"...)
			dst = decodeAnsi(dst, b[:i])
			dst = append(dst, "</string>\n"...)
			if i+1 > len(b) {
				break
			}
			b = b[i+1:]
		}
		return dst
	case vtSID:
		for len(b) >= 8 {
			n := 8 + 4*int(b[1])
			if n > len(b) {
				break
			}
			dst = append(dst, "<string>"...)
			dst = appendSID(dst, b[:n])
			dst = append(dst, "</string>\n"...)
			b = b[n:]
		}
		return dst
	}
	size := fixedSize(t)
	if t == vtSizeT {
		size = 8
	}
	if size == 0 {
		return base64.StdEncoding.AppendEncode(dst, b)
	}
	for len(b) >= size {
		dst = append(dst, "<string>"...)
		if t == vtSizeT {
			dst = strconv.AppendUint(dst, binary.LittleEndian.Uint64(b), 10)
		} else {
			dst = appendFixed(dst, t, b[:size])
		}
		dst = append(dst, "</string>\n"...)
		b = b[size:]
	}
	return dst
}

const hexdigits = "0123456789abcdef"

func appendHex(dst []byte, v uint64, digits int) []byte {
	dst = append(dst, '0', 'x')
	for i := digits - 1; i >= 0; i-- {
		dst = append(dst, hexdigits[(v>>(4*uint(i)))&0xf])
	}
	return dst
}

func appendHexBytes(dst []byte, b ...byte) []byte {
	for _, x := range b {
		dst = append(dst, hexdigits[x>>4], hexdigits[x&0xf])
	}
	return dst
}

// appendGUID renders a little-endian GUID as {xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}.
func appendGUID(dst []byte, b []byte) []byte {
	dst = append(dst, '{')
	dst = appendHexBytes(dst, b[3], b[2], b[1], b[0])
	dst = append(dst, '-')
	dst = appendHexBytes(dst, b[5], b[4])
	dst = append(dst, '-')
	dst = appendHexBytes(dst, b[7], b[6])
	dst = append(dst, '-')
	dst = appendHexBytes(dst, b[8], b[9])
	dst = append(dst, '-')
	dst = appendHexBytes(dst, b[10:16]...)
	return append(dst, '}')
}

// appendSID renders a security identifier S-R-A-S1-S2…
func appendSID(dst []byte, b []byte) []byte {
	if len(b) < 8 {
		return base64.StdEncoding.AppendEncode(dst, b)
	}
	n := int(b[1])
	if 8+4*n > len(b) {
		return base64.StdEncoding.AppendEncode(dst, b)
	}
	var auth uint64
	for _, x := range b[2:8] {
		auth = auth<<8 | uint64(x)
	}
	dst = append(dst, 'S', '-')
	dst = strconv.AppendUint(dst, uint64(b[0]), 10)
	dst = append(dst, '-')
	dst = strconv.AppendUint(dst, auth, 10)
	for i := range n {
		dst = append(dst, '-')
		dst = strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(b[8+4*i:])), 10)
	}
	return dst
}

// filetimeEpochDelta is 1601-01-01 to 1970-01-01 in 100 ns ticks.
const filetimeEpochDelta = 116444736000000000

// filetimeTime converts a FILETIME to time.Time (UTC), truncated to microseconds.
func filetimeTime(ft uint64) time.Time {
	us := (int64(ft/10) - filetimeEpochDelta/10)
	return time.UnixMicro(us).UTC()
}

// appendFiletime renders a FILETIME as "2006-01-02 15:04:05.999999".
func appendFiletime(dst []byte, ft uint64) []byte {
	return appendPyTime(dst, filetimeTime(ft))
}

func appendPyTime(dst []byte, t time.Time) []byte {
	if t.Nanosecond() == 0 {
		return t.AppendFormat(dst, "2006-01-02 15:04:05")
	}
	return t.AppendFormat(dst, "2006-01-02 15:04:05.000000")
}

// appendSystemtime renders a SYSTEMTIME (year, month, weekday, day, hour,
// minute, second, millisecond; 16-bit each).
func appendSystemtime(dst []byte, b []byte) []byte {
	le := binary.LittleEndian
	y, mo, d := int(le.Uint16(b)), int(le.Uint16(b[2:])), int(le.Uint16(b[6:]))
	h, mi, s, ms := int(le.Uint16(b[8:])), int(le.Uint16(b[10:])), int(le.Uint16(b[12:])), int(le.Uint16(b[14:]))
	if mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59 || ms > 999 {
		return base64.StdEncoding.AppendEncode(dst, b)
	}
	t := time.Date(y, time.Month(mo), d, h, mi, s, ms*int(time.Millisecond), time.UTC)
	return appendPyTime(dst, t)
}

// appendPyFloat renders f the way Python's repr does (shortest round-trip
// digits; exponent form below 1e-4 and from 1e16).
func appendPyFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "nan"...)
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	}
	if f == 0 {
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	exp := math.Floor(math.Log10(math.Abs(f)))
	// Decide by the decimal exponent of the shortest representation.
	e := strconv.AppendFloat(nil, f, 'e', -1, 64)
	if i := indexByte(e, 'e'); i >= 0 {
		if v, err := strconv.Atoi(string(e[i+1:])); err == nil {
			exp = float64(v)
		}
	}
	if exp < -4 || exp >= 16 {
		// Python: mantissa digits, then e-05 / e+16 (at least two exponent digits).
		i := indexByte(e, 'e')
		dst = append(dst, e[:i]...)
		dst = append(dst, 'e')
		x := e[i+1:]
		sign := byte('+')
		if x[0] == '-' || x[0] == '+' {
			sign = x[0]
			x = x[1:]
		}
		dst = append(dst, sign)
		if len(x) < 2 {
			dst = append(dst, '0')
		}
		return append(dst, x...)
	}
	s := strconv.AppendFloat(nil, f, 'f', -1, 64)
	dst = append(dst, s...)
	if indexByte(s, '.') < 0 {
		dst = append(dst, '.', '0')
	}
	return dst
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}
