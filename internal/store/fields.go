package store

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
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
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.Grow(32 * len(fields))
	b.WriteByte('{')
	for i, k := range keys {
		if !utf8.ValidString(k) {
			return nil, fmt.Errorf("field name %q is not valid UTF-8", k)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, k)
		b.WriteByte(':')
		switch v := fields[k].(type) {
		case string:
			writeString(&b, v)
		case int64:
			b.WriteString(strconv.FormatInt(v, 10))
		case float64:
			writeFloat(&b, v)
		case bool:
			b.WriteString(strconv.FormatBool(v))
		case []string:
			b.WriteByte('[')
			for j, s := range v {
				if j > 0 {
					b.WriteByte(',')
				}
				writeString(&b, s)
			}
			b.WriteByte(']')
		default:
			return nil, fmt.Errorf("field %q has unsupported type %T (want string, int64, float64, bool or []string)", k, v)
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func writeString(b *bytes.Buffer, s string) {
	if utf8.ValidString(s) {
		writeJSONString(b, s)
		return
	}
	b.WriteString(`{"b64":"`)
	b.WriteString(base64.StdEncoding.EncodeToString([]byte(s)))
	b.WriteString(`"}`)
}

func writeFloat(b *bytes.Buffer, f float64) {
	switch {
	case math.IsNaN(f):
		b.WriteString(`{"f":"NaN"}`)
	case math.IsInf(f, 1):
		b.WriteString(`{"f":"+Inf"}`)
	case math.IsInf(f, -1):
		b.WriteString(`{"f":"-Inf"}`)
	default:
		s := strconv.FormatFloat(f, 'g', -1, 64)
		b.WriteString(s)
		if !bytes.ContainsAny([]byte(s), ".eE") {
			b.WriteString(".0") // mark as float so it does not decode as int64
		}
	}
}

// writeJSONString writes s (valid UTF-8) as a JSON string. It escapes only
// what JSON requires; json.Marshal per value was a third of AppendEvents' CPU.
func writeJSONString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b.WriteString(s[start:i])
		switch c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
		start = i + 1
	}
	b.WriteString(s[start:])
	b.WriteByte('"')
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
