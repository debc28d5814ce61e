package ioc

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxLineLen bounds one line of a plain or CSV list.
const maxLineLen = 8192

// LineError locates a bad line (or STIX object) in an indicator file.
type LineError struct {
	File string
	Line int // 1-based line; for STIX, the 1-based object index
	Err  string
}

func (e LineError) String() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Err) }

// parsedTerm is a term read from a list, with where it came from.
type parsedTerm struct {
	Term
	Line int
}

// parsePlain reads a plain list: one indicator per line, '#' comments,
// optional "type:" prefix. Bad lines go to bad; parsing never stops early.
func parsePlain(data []byte, add func(parsedTerm), bad func(line int, err error)) {
	line := 0
	for len(data) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			l, data = data, nil
		}
		if line == 1 {
			l = bytes.TrimPrefix(l, []byte("\xef\xbb\xbf")) // UTF-8 BOM
		}
		if len(l) > maxLineLen {
			bad(line, fmt.Errorf("line longer than %d bytes", maxLineLen))
			continue
		}
		s := strings.TrimSpace(string(l))
		if i := strings.Index(s, " #"); i >= 0 {
			s = strings.TrimSpace(s[:i])
		}
		if i := strings.Index(s, "\t#"); i >= 0 {
			s = strings.TrimSpace(s[:i])
		}
		if s == "" || s[0] == '#' {
			continue
		}
		t, err := parsePlainLine(s)
		if err != nil {
			bad(line, err)
			continue
		}
		add(parsedTerm{Term: t, Line: line})
	}
}

// parsePlainLine reads "[type:]value".
func parsePlainLine(s string) (Term, error) {
	typ, auto := Type(""), true
	if i := strings.IndexByte(s, ':'); i > 0 {
		if t, a, err := parseTypeName(s[:i]); err == nil && (!a || strings.EqualFold(s[:i], "hash")) {
			typ, auto, s = t, a, strings.TrimSpace(s[i+1:])
		}
	}
	if strings.ContainsAny(s, " \t") {
		return Term{}, fmt.Errorf("unexpected text after value in %q", short(s))
	}
	return newTerm(typ, auto, s)
}

// csvValueColumns are accepted header names for the value column.
var csvValueColumns = []string{"value", "indicator", "ioc", "observable", "ioc_value"}

// parseCSV reads a CSV list whose first row is a header with a value column
// and an optional type column. It returns an error only when the header is
// unusable; bad rows go to bad.
func parseCSV(data []byte, add func(parsedTerm), bad func(line int, err error)) error {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.Comment = '#'
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return fmt.Errorf("reading csv header: %w", err)
	}
	valCol, typCol := -1, -1
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "type" || h == "indicator_type" || h == "ioc_type" {
			typCol = i
		}
		for _, v := range csvValueColumns {
			if h == v && valCol < 0 {
				valCol = i
			}
		}
	}
	if valCol < 0 {
		return fmt.Errorf("csv header has no value column (want one of %s)", strings.Join(csvValueColumns, ", "))
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return fmt.Errorf("reading csv: %w", err)
			}
			bad(pe.Line, pe.Err)
			continue
		}
		if valCol >= len(rec) {
			bad(line, errors.New("row has no value column"))
			continue
		}
		v := strings.TrimSpace(rec[valCol])
		if len(v) > maxLineLen {
			bad(line, fmt.Errorf("value longer than %d bytes", maxLineLen))
			continue
		}
		typ, auto := Type(""), true
		if typCol >= 0 && typCol < len(rec) {
			if typ, auto, err = parseTypeName(rec[typCol]); err != nil {
				bad(line, err)
				continue
			}
		}
		t, err := newTerm(typ, auto, v)
		if err != nil {
			bad(line, err)
			continue
		}
		add(parsedTerm{Term: t, Line: line})
	}
}
