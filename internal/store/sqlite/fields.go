package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Event fields in a chunk are binary, not store.EncodeFields' JSON: the
// bytes are compressed inside the chunk, so JSON's readability bought
// nothing, and escaping and parsing it was a third of storing an event.
// Events moved from the old events table keep their JSON (entry flag).
//
//	uvarint fields, then per field: uvarint+bytes name, type byte, value
//	string: uvarint+bytes; int64: varint; float64: 8 bytes (IEEE 754 bits,
//	little-endian); bool: 1 byte; []string: uvarint count, uvarint+bytes each
const (
	tString byte = iota + 1
	tInt
	tFloat
	tBool
	tList
)

// appendFields appends the binary encoding of fields to b. A value of a
// type outside event.Event's closed set is an error.
func appendFields(b []byte, fields map[string]any) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(len(fields)))
	for k, v := range fields {
		b = appendBytes(b, k)
		switch v := v.(type) {
		case string:
			b = append(b, tString)
			b = appendBytes(b, v)
		case int64:
			b = append(b, tInt)
			b = binary.AppendVarint(b, v)
		case float64:
			b = append(b, tFloat)
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		case bool:
			x := byte(0)
			if v {
				x = 1
			}
			b = append(b, tBool, x)
		case []string:
			b = append(b, tList)
			b = binary.AppendUvarint(b, uint64(len(v)))
			for _, s := range v {
				b = appendBytes(b, s)
			}
		default:
			return b, fmt.Errorf("field %q has unsupported type %T (want string, int64, float64, bool or []string)", k, v)
		}
	}
	return b, nil
}

// decodeFields reads what appendFields wrote; anything else is an error.
func decodeFields(p []byte) (map[string]any, error) {
	n, p, ok := uvarint(p)
	// Each field takes at least 3 bytes: a bound before allocating.
	if !ok || n > uint64(len(p))/3 {
		return nil, errors.New("bad field count")
	}
	out := make(map[string]any, n)
	for range n {
		k, rest, ok := bytesField(p)
		if !ok || len(rest) == 0 {
			return nil, errors.New("bad field name")
		}
		name := string(k)
		t := rest[0]
		p = rest[1:]
		switch t {
		case tString:
			var s []byte
			if s, p, ok = bytesField(p); !ok {
				return nil, fmt.Errorf("field %q: bad string", name)
			}
			out[name] = string(s)
		case tInt:
			v, m := binary.Varint(p)
			if m <= 0 {
				return nil, fmt.Errorf("field %q: bad integer", name)
			}
			out[name], p = v, p[m:]
		case tFloat:
			if len(p) < 8 {
				return nil, fmt.Errorf("field %q: bad float", name)
			}
			out[name], p = math.Float64frombits(binary.LittleEndian.Uint64(p)), p[8:]
		case tBool:
			if len(p) < 1 || p[0] > 1 {
				return nil, fmt.Errorf("field %q: bad bool", name)
			}
			out[name], p = p[0] == 1, p[1:]
		case tList:
			var c uint64
			if c, p, ok = uvarint(p); !ok || c > uint64(len(p)) {
				return nil, fmt.Errorf("field %q: bad list", name)
			}
			list := make([]string, c)
			for i := range list {
				var s []byte
				if s, p, ok = bytesField(p); !ok {
					return nil, fmt.Errorf("field %q: bad list item", name)
				}
				list[i] = string(s)
			}
			out[name] = list
		default:
			return nil, fmt.Errorf("field %q: unknown type %d", name, t)
		}
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%d trailing bytes", len(p))
	}
	return out, nil
}
