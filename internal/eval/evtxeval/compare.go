package evtxeval

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
)

// maxRefLine caps one reference JSONL line.
const maxRefLine = 16 << 20

// rec is one record: decoded, and raw for the windows record format.
type rec struct {
	m   map[string]any
	raw []byte
}

func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// readJSONL reads the reference records of one windows-evtx file.
func readJSONL(path string) ([]rec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening reference: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), maxRefLine)
	var out []rec
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		m, err := decodeObject(sc.Bytes())
		if err != nil {
			return nil, fmt.Errorf("reading reference %s:%d: %w", path, line, err)
		}
		out = append(out, rec{m: m, raw: bytes.Clone(sc.Bytes())})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading reference %s: %w", path, err)
	}
	return out, nil
}

// readSigmaJSON reads a regression_data rendering (one or more concatenated
// {"Event": {...}} objects, "#attributes"/"#text" style) and flattens each
// to the windows-evtx layout.
func readSigmaJSON(path string) ([]rec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("opening reference: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out []rec
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading reference %s: %w", path, err)
		}
		o, err := decodeObject(raw)
		if err != nil {
			return nil, fmt.Errorf("reading reference %s: %w", path, err)
		}
		ev, _ := o["Event"].(map[string]any)
		if ev == nil {
			ev = o
		}
		out = append(out, rec{m: flattenSigma(ev), raw: raw})
	}
}

func flattenSigma(ev map[string]any) map[string]any {
	m := map[string]any{}
	sys, _ := ev["System"].(map[string]any)
	attr := func(v any, name string) any {
		if o, ok := v.(map[string]any); ok {
			if a, ok := o["#attributes"].(map[string]any); ok {
				return a[name]
			}
		}
		return nil
	}
	text := func(v any) any {
		if o, ok := v.(map[string]any); ok {
			return o["#text"]
		}
		return v
	}
	m["Provider"] = attr(sys["Provider"], "Name")
	for _, k := range []string{"EventID", "Version", "Level", "Task", "Opcode", "Keywords", "EventRecordID", "Channel", "Computer"} {
		if v, ok := sys[k]; ok {
			m[k] = text(v)
		}
	}
	m["TimeCreated"] = attr(sys["TimeCreated"], "SystemTime")
	if ed, ok := ev["EventData"].(map[string]any); ok {
		d := map[string]any{}
		var unnamed []any
		for k, v := range ed {
			switch k {
			case "#attributes":
			case "Data", "Binary", "#text":
				if l, ok := text(v).([]any); ok {
					unnamed = append(unnamed, l...)
				} else {
					unnamed = append(unnamed, text(v))
				}
			default:
				d[k] = v
			}
		}
		if unnamed != nil {
			d["_data"] = unnamed
		}
		m["EventData"] = d
	} else if _, ok := ev["EventData"]; ok {
		m["EventData"] = map[string]any{}
	}
	if ud, ok := ev["UserData"].(map[string]any); ok {
		m["UserData"] = stripAttrs(ud)
	}
	return m
}

func stripAttrs(v any) any {
	o, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := map[string]any{}
	for k, x := range o {
		if k == "#attributes" {
			continue
		}
		out[k] = stripAttrs(x)
	}
	if t, ok := out["#text"]; ok && len(out) == 1 {
		return t
	}
	return out
}

// compare matches reference records to Rampart's by EventRecordID and
// counts differing fields.
func (s *Section) compare(file string, refs, got []rec) {
	s.RecordsRampart += len(got)
	byID := map[string][]rec{}
	for _, g := range got {
		id := str(g.m["EventRecordID"])
		byID[id] = append(byID[id], g)
	}
	for _, r := range refs {
		ref := r.m
		s.RecordsReference++
		id := str(ref["EventRecordID"])
		cands := byID[id]
		if len(cands) == 0 {
			s.RecordsMissing++
			s.example("%s: record %s missing", file, id)
			continue
		}
		s.RecordsRead++
		// Several records may share an id (rare, in damaged logs): use the closest.
		best, bestDiff := 0, -1
		for i, c := range cands {
			d := len(s.diffRecord(ref, c.m, false))
			if bestDiff < 0 || d < bestDiff {
				best, bestDiff = i, d
			}
		}
		g := cands[best]
		byID[id] = append(cands[:best:best], cands[best+1:]...)
		for _, f := range s.diffRecord(ref, g.m, true) {
			s.FieldMismatches[f]++
		}
		s.compareEvents(r.raw, g.raw)
	}
}

// compareEvents parses both renderings with the windows record format and
// counts the normalized Event fields that differ.
func (s *Section) compareEvents(ref, got []byte) {
	if s.parser == nil {
		f, ok := format.Lookup("windows")
		if !ok {
			return
		}
		s.parser = f.NewParser(format.Options{})
		s.evRef, s.evGot = event.New(), event.New()
	}
	s.evRef.Reset()
	s.evGot.Reset()
	errRef := s.parser.Parse(ref, s.evRef)
	errGot := s.parser.Parse(got, s.evGot)
	s.EventsCompared++
	if errRef != nil || errGot != nil {
		if (errRef == nil) != (errGot == nil) {
			s.EventFieldMismatches["parse_error"]++
			s.example("windows format: reference error %v, rampart error %v", errRef, errGot)
		}
		return
	}
	if eq, _ := timeEqual(s.evRef.Time.Format(time.RFC3339Nano), s.evGot.Time.Format(time.RFC3339Nano), s.opts); !eq {
		s.EventFieldMismatches["@timestamp"]++
	}
	keys := map[string]bool{}
	for k := range s.evRef.Fields {
		keys[k] = true
	}
	for k := range s.evGot.Fields {
		keys[k] = true
	}
	for k := range keys {
		a, aok := s.evRef.Fields[k]
		b := s.evGot.Fields[k]
		if fieldEqual(a, b, s.opts) {
			continue
		}
		if !aok && k == "winlog.provider_guid" {
			// The windows-evtx JSONL layout has no provider GUID; the
			// reader adds it (field contract). Counted, not a mismatch.
			s.EventFieldsExtra[k]++
			continue
		}
		s.EventFieldMismatches[k]++
		s.example("windows format field %s: reference %s, rampart %s", k, clip(a), clip(b))
	}
}

func fieldEqual(a, b any, o cmpOpts) bool {
	al, aok := a.([]string)
	bl, bok := b.([]string)
	if aok || bok {
		if !aok || !bok || len(al) != len(bl) {
			if aok && !bok && len(al) == 1 {
				return leafEqual(al[0], b, o)
			}
			if bok && !aok && len(bl) == 1 {
				return leafEqual(a, bl[0], o)
			}
			return false
		}
		for i := range al {
			if !leafEqual(al[i], bl[i], o) {
				return false
			}
		}
		return true
	}
	if isEmpty(a) && isEmpty(b) {
		return true
	}
	switch x := a.(type) {
	case int64:
		if y, ok := b.(int64); ok {
			return x == y
		}
	case float64:
		if y, ok := b.(float64); ok {
			return x == y
		}
	case bool:
		if y, ok := b.(bool); ok {
			return x == y
		}
	}
	return leafEqual(a, b, o)
}

// diffRecord lists the compared fields that differ; s (optional) collects
// per-key counts, rounding notes and examples.
func (s *Section) diffRecord(ref, got map[string]any, count bool) []string {
	var out []string
	for _, k := range []string{"EventID", "Channel", "Provider", "Computer"} {
		if !leafEqual(ref[k], got[k], s.opts) {
			out = append(out, k)
			if count {
				s.example("record %v %s: reference %q, rampart %q", ref["EventRecordID"], k, str(ref[k]), str(got[k]))
			}
		}
	}
	switch eq, rounded := timeEqual(ref["TimeCreated"], got["TimeCreated"], s.opts); {
	case !eq:
		out = append(out, "TimeCreated")
		if count {
			s.example("record %v TimeCreated: reference %q, rampart %q", ref["EventRecordID"], str(ref["TimeCreated"]), str(got["TimeCreated"]))
		}
	case rounded && count:
		s.TimeRounded++
	}
	for _, part := range []string{"EventData", "UserData"} {
		rv, rok := ref[part]
		gv, gok := got[part]
		if !rok && !gok {
			continue
		}
		var keys []string
		deepDiff(part, rv, gv, s.opts, &keys)
		if len(keys) > 0 {
			out = append(out, part)
			if count {
				for _, k := range keys {
					s.DataKeyMismatch[k]++
				}
				s.example("record %v %s: %s differ (reference %s, rampart %s)", ref["EventRecordID"], part, strings.Join(keys, ","), clip(rv), clip(gv))
			}
		}
	}
	return out
}

func (s *Section) example(format string, args ...any) {
	if len(s.Examples) < maxExamples {
		s.Examples = append(s.Examples, fmt.Sprintf(format, args...))
	}
}

func clip(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// deepDiff appends the paths under which a and b differ.
func deepDiff(path string, a, b any, o cmpOpts, out *[]string) {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok || bok {
		if !aok || !bok {
			if isEmpty(a) && isEmpty(b) {
				return
			}
			*out = append(*out, path)
			return
		}
		for k, av := range am {
			deepDiff(path+"."+k, av, bm[k], o, out)
		}
		for k, bv := range bm {
			if _, ok := am[k]; !ok {
				deepDiff(path+"."+k, nil, bv, o, out)
			}
		}
		return
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok || bok {
		if !aok || !bok || len(al) != len(bl) {
			if !aok && bok && len(bl) == 1 {
				deepDiff(path, a, bl[0], o, out)
				return
			}
			if aok && !bok && len(al) == 1 {
				deepDiff(path, al[0], b, o, out)
				return
			}
			*out = append(*out, path)
			return
		}
		for i := range al {
			deepDiff(path, al[i], bl[i], o, out)
		}
		return
	}
	if !leafEqual(a, b, o) {
		*out = append(*out, path)
	}
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// norm normalizes a leaf rendering: line endings, case of hex and GUIDs,
// GUID braces, booleans.
func norm(v any) string {
	s := str(v)
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.Map(func(r rune) rune {
		// The reference went through XML, which cannot carry these.
		if r < 0x20 && r != '\t' && r != '\n' || r == 0xfffe || r == 0xffff {
			return -1
		}
		return r
	}, s)
	if strings.Contains(s, "<string>") {
		// String arrays ("<string>a</string>\n" per item): the reference
		// converter splits items with a byte regex that moves empty items
		// and treats any code point U+xx00 as a terminator (dropping it).
		// Compare the items' text only, without those code points.
		s = strings.ReplaceAll(s, "<string>", "")
		s = strings.ReplaceAll(s, "</string>\n", "")
		s = strings.Map(func(r rune) rune {
			if r > 0xff && r&0xff == 0 {
				return -1
			}
			return r
		}, s)
	}
	t := strings.TrimSpace(s)
	switch {
	case strings.EqualFold(t, "true"), strings.EqualFold(t, "false"):
		return strings.ToLower(t)
	case isGUID(t):
		return strings.ToLower(strings.Trim(t, "{}"))
	case len(t) > 2 && (t[:2] == "0x" || t[:2] == "0X") && isHex(t[2:]):
		n, err := strconv.ParseUint(t[2:], 16, 64)
		if err == nil {
			return "0x" + strconv.FormatUint(n, 16)
		}
		return strings.ToLower(t)
	}
	return s
}

// cmpOpts are the normalizations one reference rendering needs.
type cmpOpts struct {
	// trim compares values without surrounding whitespace (the
	// regression_data renderings trim it; the windows-evtx ones do not).
	trim bool
	// pyTime accepts a reference timestamp that is the float64 rendering
	// (python-evtx: float(ticks)*1e-7 - 11644473600, rounded half-even to
	// the microsecond) of a FILETIME within Rampart's microsecond.
	pyTime bool
}

// leafEqual compares a reference value a with Rampart's b.
func leafEqual(a, b any, o cmpOpts) bool {
	na, nb := norm(a), norm(b)
	if o.trim {
		na, nb = strings.TrimSpace(na), strings.TrimSpace(nb)
	}
	if na == nb {
		return true
	}
	if eq, _ := timeEqual(a, b, o); eq && looksTime(na) && looksTime(nb) {
		return true
	}
	// Binary: hex in one rendering, base64 in the other.
	if x, ok := binaryBytes(na); ok {
		if y, ok := binaryBytes(nb); ok && bytes.Equal(x, y) {
			return true
		}
	}
	return false
}

func binaryBytes(s string) ([]byte, bool) {
	if s == "" {
		return nil, false
	}
	if isHex(s) && len(s)%2 == 0 {
		b, err := hex.DecodeString(s)
		return b, err == nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return b, err == nil
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func isGUID(s string) bool {
	s = strings.Trim(s, "{}")
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return false
			}
			continue
		}
		if !isHex(s[i : i+1]) {
			return false
		}
	}
	return true
}

var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
}

func parseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func looksTime(s string) bool {
	_, ok := parseTime(s)
	return ok
}

// timeEqual says whether the reference timestamp a and Rampart's b name the
// same microsecond; with o.pyTime, a may instead be the float rendering of
// b's instant (rounded then reports that).
func timeEqual(a, b any, o cmpOpts) (eq, rounded bool) {
	ta, ok1 := parseTime(str(a))
	tb, ok2 := parseTime(str(b))
	if !ok1 || !ok2 {
		return norm(a) == norm(b), false
	}
	ua, ub := ta.UnixMicro(), tb.UnixMicro()
	if ua == ub {
		return true, false
	}
	if o.pyTime {
		// Rampart's value is the FILETIME truncated to the microsecond:
		// try the ten 100 ns ticks it stands for.
		q0 := (ub + filetimeEpochMicros) * 10
		for q := q0; q < q0+10; q++ {
			if q >= 0 && pyMicros(uint64(q)) == ua {
				return true, true
			}
		}
	}
	return false, false
}

// filetimeEpochMicros is 1601-01-01 to 1970-01-01 in microseconds.
const filetimeEpochMicros = 11644473600 * 1000000

// pyMicros is python-evtx's rendering of FILETIME q, in microseconds since
// 1970: datetime.fromtimestamp(float(q)*1e-7 - 11644473600), which rounds
// the fraction half-even to the microsecond.
func pyMicros(q uint64) int64 {
	x := float64(q)*1e-7 - 11644473600
	sec, frac := math.Modf(x)
	us := math.RoundToEven(frac * 1e6)
	if us >= 1e6 {
		us -= 1e6
		sec++
	} else if us < 0 {
		us += 1e6
		sec--
	}
	return int64(sec)*1000000 + int64(us)
}
