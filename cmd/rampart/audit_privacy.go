package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"

	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/privacy"
)

// Pseudonymized audit exports (issue 5): the export format is unchanged,
// but actors, subject ids, explanations and versions have personal data
// replaced by the node's pseudonyms. Content hashes then no longer match
// (the signatures and hash links still do), so such an export is for
// reading; `audit export --clear` (itself audited) is the verifiable one.

// Texts that name a person outside "kind=value" form.
var (
	tokenNameRE = regexp.MustCompile(`^token "([^"]{1,256})" with role`)
	// tokenRoleRE splits a token record's text: its role is no personal
	// data, even when a token or a user is named like one ("admin").
	tokenRoleRE = regexp.MustCompile(`^(token "[^"]{1,256}" with role) ([a-z_]{1,32})$`)
	verdictByRE = regexp.MustCompile(`^[a-z_]+ by (\S{1,256}): `)
)

// lineWriter calls fn with each complete line written to it.
type lineWriter struct {
	buf []byte
	fn  func(line []byte) error
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		if err := w.fn(w.buf[:i]); err != nil {
			return 0, err
		}
		w.buf = w.buf[i+1:]
	}
}

// Close passes on a last line without a newline.
func (w *lineWriter) Close() error {
	if len(bytes.TrimSpace(w.buf)) == 0 {
		return nil
	}
	err := w.fn(w.buf)
	w.buf = nil
	return err
}

// exportRecord is the part of an export line this file reads.
type exportRecord struct {
	Type        string `json:"type"`
	Actor       string `json:"actor"`
	Action      string `json:"action"`
	SubjectKind string `json:"subject_kind"`
	SubjectID   string `json:"subject_id"`
	Explanation string `json:"explanation"`
}

// personalValues are the names a record gives away: its actor, the
// kind=value pairs of its text, token names and verdict authors.
func personalValues(r exportRecord, into map[string]privacy.Kind) {
	if _, name, ok := privacy.ActorName(r.Actor); ok {
		into[name] = privacy.KindUser
	}
	for _, t := range []string{r.SubjectID, r.Explanation} {
		for v, k := range privacy.Values(t) {
			into[v] = k
		}
	}
	if m := tokenNameRE.FindStringSubmatch(r.Explanation); m != nil {
		into[m[1]] = privacy.KindUser
	}
	if m := verdictByRE.FindStringSubmatch(r.Explanation); m != nil && r.Action == audit.ActionVerdictSet {
		into[m[1]] = privacy.KindUser
	}
}

// exportPseudonymized writes the export of src with personal data
// pseudonymized. It reads the chain twice: first to learn every personal
// value any record names, so that a name is replaced wherever it appears.
func exportPseudonymized(ctx context.Context, src audit.Source, w io.Writer, opts audit.ExportOptions, p *privacy.Pseudonymizer) (int64, error) {
	known := map[string]privacy.Kind{}
	collect := &lineWriter{fn: func(line []byte) error {
		var r exportRecord
		if err := json.Unmarshal(line, &r); err != nil {
			return fmt.Errorf("reading export line: %w", err)
		}
		if r.Type == "record" {
			personalValues(r, known)
		}
		return nil
	}}
	if _, err := audit.Export(ctx, src, collect, opts); err != nil {
		return 0, err
	}
	if err := collect.Close(); err != nil {
		return 0, err
	}
	sc := p.NewTextScrubber(known)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	out := &lineWriter{fn: func(line []byte) error {
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return fmt.Errorf("reading export line: %w", err)
		}
		if m["type"] == "record" {
			if a, ok := m["actor"].(string); ok {
				m["actor"] = p.Actor(a)
			}
			if m["subject_kind"] != "pseudonym" {
				if s, ok := m["subject_id"].(string); ok {
					m["subject_id"] = sc.Text(s)
				}
			}
			if s, ok := m["explanation"].(string); ok {
				if r := tokenRoleRE.FindStringSubmatch(s); r != nil {
					m["explanation"] = sc.Text(r[1]) + " " + r[2]
				} else {
					m["explanation"] = sc.Text(s)
				}
			}
			if vs, ok := m["versions"].(map[string]any); ok {
				for k, v := range vs {
					if s, ok := v.(string); ok {
						vs[k] = sc.Text(s)
					}
				}
			}
		}
		return enc.Encode(m)
	}}
	n, err := audit.Export(ctx, src, out, opts)
	if err == nil {
		err = out.Close()
	}
	if err == nil {
		err = p.Flush(ctx) // the pseudonyms stay re-identifiable through the audited API
	}
	return n, err
}
