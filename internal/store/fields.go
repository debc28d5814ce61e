package store

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"
	"unicode/utf8"
)

// MaxFieldsJSON bounds the encoded size DecodeFields accepts, so a corrupt
// row cannot make a reader allocate without limit.
const MaxFieldsJSON = 16 << 20

// EncodeFields renders event fields as a JSON object that DecodeFields turns
// back into exactly the same values and Go types: plain JSON stays readable
// and queryable (json_extract, ->>) while int64 and float64 stay distinct.
//
//   - string: a JSON string; a string that is not valid UTF-8 is {"b64": "..."}
//   - int64: an integer literal
//   - float64: a literal that always has a '.' or an exponent ("1.0");
//     NaN and ±Inf are {"f": "NaN"|"+Inf"|"-Inf"}
//   - bool: true/false
//   - []string: an array of strings (invalid UTF-8 elements as {"b64": ...})
//
// Any other value type breaks the event.Event contract and is an error.
// Keys are written sorted so equal maps encode to equal bytes.
func EncodeFields(fields map[string]any) ([]byte, error) {
	return AppendFields(make([]byte, 0, 64*len(fields)+2), fields)
}

// AppendFields appends EncodeFields' encoding of fields to dst and returns
// the extended buffer (dst unchanged on error), so a batch can be encoded
// into one buffer.
func AppendFields(dst []byte, fields map[string]any) ([]byte, error) {
	// Events of one kind share a key set: its sorted order and rendered keys
	// are cached, since sorting keys with long common prefixes ("winlog.
	// event_data.…") was a third of the encoding time.
	if l := layoutFor(fields); l != nil {
		if out, ok, err := l.encode(dst, fields); ok || err != nil {
			return out, err
		}
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !utf8.ValidString(k) {
			return dst, fmt.Errorf("field name %q is not valid UTF-8", k)
		}
	}
	l := newLayout(keys)
	out, _, err := l.encode(dst, fields)
	if err == nil {
		storeLayout(fields, l)
	}
	return out, err
}

// layout is a sorted key set with each key pre-rendered as `,"key":`.
type layout struct {
	keys  []string
	heads []string
}

func newLayout(keys []string) *layout {
	l := &layout{keys: keys, heads: make([]string, len(keys))}
	var b []byte
	for i, k := range keys {
		b = b[:0]
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		l.heads[i] = string(b)
	}
	return l
}

// encode writes fields in l's key order. ok is false (and dst returned
// unchanged) when fields does not hold exactly l's keys.
func (l *layout) encode(dst []byte, fields map[string]any) (out []byte, ok bool, err error) {
	if len(fields) != len(l.keys) {
		return dst, false, nil
	}
	b := append(dst, '{')
	for i, k := range l.keys {
		v, found := fields[k]
		if !found {
			return dst, false, nil
		}
		b = append(b, l.heads[i]...)
		switch v := v.(type) {
		case string:
			b = appendString(b, v)
		case int64:
			b = strconv.AppendInt(b, v, 10)
		case float64:
			b = appendFloat(b, v)
		case bool:
			b = strconv.AppendBool(b, v)
		case []string:
			b = append(b, '[')
			for j, s := range v {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendString(b, s)
			}
			b = append(b, ']')
		default:
			return dst, true, fmt.Errorf("field %q has unsupported type %T (want string, int64, float64, bool or []string)", k, v)
		}
	}
	return append(b, '}'), true, nil
}

// maxLayouts bounds the layout cache; it is emptied when full, so odd
// key sets (one per event) cost a sort, never unbounded memory.
const maxLayouts = 1024

var (
	layoutMu sync.RWMutex
	layouts  = map[uint64]*layout{}
)

// keySetHash identifies a key set independently of map order, from each
// key's length and last eight bytes (where dotted names differ; cheaper
// than hashing whole keys). Collisions are harmless: layout.encode checks
// the keys themselves.
func keySetHash(fields map[string]any) uint64 {
	h := uint64(len(fields))
	for k := range fields {
		var w uint64
		if len(k) >= 8 {
			w = binary.LittleEndian.Uint64([]byte(k[len(k)-8:]))
		} else {
			for i := 0; i < len(k); i++ {
				w = w<<8 | uint64(k[i])
			}
		}
		v := (w ^ uint64(len(k))<<56) * 0x9e3779b97f4a7c15
		h += v ^ v>>29
	}
	return h
}

func layoutFor(fields map[string]any) *layout {
	h := keySetHash(fields)
	layoutMu.RLock()
	l := layouts[h]
	layoutMu.RUnlock()
	return l
}

func storeLayout(fields map[string]any, l *layout) {
	h := keySetHash(fields)
	layoutMu.Lock()
	if len(layouts) >= maxLayouts {
		clear(layouts)
	}
	layouts[h] = l
	layoutMu.Unlock()
}

func appendString(b []byte, s string) []byte {
	if utf8.ValidString(s) {
		return appendJSONString(b, s)
	}
	b = append(b, `{"b64":"`...)
	b = base64.StdEncoding.AppendEncode(b, []byte(s))
	return append(b, `"}`...)
}

func appendFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `{"f":"NaN"}`...)
	case math.IsInf(f, 1):
		return append(b, `{"f":"+Inf"}`...)
	case math.IsInf(f, -1):
		return append(b, `{"f":"-Inf"}`...)
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, 'g', -1, 64)
	if !bytes.ContainsAny(b[start:], ".eE") {
		b = append(b, ".0"...) // mark as float so it does not decode as int64
	}
	return b
}

// appendJSONString appends s (valid UTF-8) as a JSON string. It escapes only
// what JSON requires; json.Marshal per value was a third of AppendEvents' CPU.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		default:
			b = append(b, `\u00`...)
			b = append(b, hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// DecodeFields parses what EncodeFields wrote. Anything else is an error.
func DecodeFields(data []byte) (map[string]any, error) {
	if len(data) > MaxFieldsJSON {
		return nil, fmt.Errorf("fields json is %d bytes, limit %d", len(data), MaxFieldsJSON)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("decoding fields json: %w", err)
	}
	if raw == nil {
		return nil, errors.New("decoding fields json: not an object")
	}
	out := make(map[string]any, len(raw))
	for k, r := range raw {
		v, err := decodeValue(r)
		if err != nil {
			return nil, fmt.Errorf("decoding field %q: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

func decodeValue(r json.RawMessage) (any, error) {
	r = bytes.TrimSpace(r)
	if len(r) == 0 {
		return nil, errors.New("empty value")
	}
	switch c := r[0]; {
	case c == '"':
		var s string
		err := json.Unmarshal(r, &s)
		return s, err
	case c == 't' || c == 'f':
		var v bool
		err := json.Unmarshal(r, &v)
		return v, err
	case c == '[':
		var items []json.RawMessage
		if err := json.Unmarshal(r, &items); err != nil {
			return nil, err
		}
		list := make([]string, len(items))
		for i, it := range items {
			s, err := decodeString(it)
			if err != nil {
				return nil, fmt.Errorf("list item %d: %w", i, err)
			}
			list[i] = s
		}
		return list, nil
	case c == '{':
		var tagged map[string]string
		if err := json.Unmarshal(r, &tagged); err != nil {
			return nil, err
		}
		if len(tagged) != 1 {
			return nil, errors.New("tagged value must have exactly one key")
		}
		if f, ok := tagged["f"]; ok {
			switch f {
			case "NaN":
				return math.NaN(), nil
			case "+Inf":
				return math.Inf(1), nil
			case "-Inf":
				return math.Inf(-1), nil
			}
			return nil, fmt.Errorf("unknown special float %q", f)
		}
		return decodeString(r)
	case c == '-' || (c >= '0' && c <= '9'):
		s := string(r)
		if bytes.ContainsAny(r, ".eE") {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("bad float %q: %w", s, err)
			}
			return f, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad integer %q: %w", s, err)
		}
		return n, nil
	default:
		return nil, fmt.Errorf("unsupported value %.20q", r)
	}
}

// decodeString reads a JSON string or a {"b64": ...} tagged byte string.
func decodeString(r json.RawMessage) (string, error) {
	r = bytes.TrimSpace(r)
	if len(r) > 0 && r[0] == '{' {
		var tagged map[string]string
		if err := json.Unmarshal(r, &tagged); err != nil {
			return "", err
		}
		b64, ok := tagged["b64"]
		if !ok || len(tagged) != 1 {
			return "", errors.New(`tagged string must be {"b64": ...}`)
		}
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return "", fmt.Errorf("bad base64: %w", err)
		}
		return string(b), nil
	}
	var s string
	if err := json.Unmarshal(r, &s); err != nil {
		return "", err
	}
	return s, nil
}
