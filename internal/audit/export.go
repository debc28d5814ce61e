package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Limits on an export being read back.
const (
	MaxExportLine    = 1 << 20
	MaxExportRecords = 10_000_000
)

// ExportOptions select the records Export writes. Zero times do not filter.
type ExportOptions struct {
	Since time.Time // records with Time >= Since
	Until time.Time // records with Time < Until
}

// exportLine is one JSON line of an export (docs/formats/audit.md).
type exportLine struct {
	Type        string            `json:"type"` // "record" or "checkpoint"
	Seq         int64             `json:"seq"`
	Time        string            `json:"time"`
	Actor       string            `json:"actor,omitempty"`
	Action      string            `json:"action,omitempty"`
	SubjectKind string            `json:"subject_kind,omitempty"`
	SubjectID   string            `json:"subject_id,omitempty"`
	InputDigest string            `json:"input_digest,omitempty"`
	Versions    map[string]string `json:"versions,omitempty"`
	Explanation string            `json:"explanation,omitempty"`
	PrevHash    string            `json:"prev_hash,omitempty"`
	Hash        string            `json:"hash"`
	KeyID       string            `json:"key_id,omitempty"`
	Signature   string            `json:"signature,omitempty"`
}

// Export writes the selected records as JSON lines, each checkpoint on the
// line after the record it signs. The selection is one contiguous run of
// the chain, from the first record at or after Since through the last
// before Until, extended to the next checkpoint so that a signature vouches
// for every exported record. It returns the number of records written.
func Export(ctx context.Context, src Source, w io.Writer, opts ExportOptions) (int64, error) {
	cps, err := src.Checkpoints(ctx)
	if err != nil {
		return 0, fmt.Errorf("exporting audit chain: reading checkpoints: %w", err)
	}
	from, to := int64(0), int64(-1)
	err = src.Range(ctx, 0, 0, func(r Record) error {
		if !opts.Since.IsZero() && r.Time.Before(opts.Since) {
			return nil
		}
		if !opts.Until.IsZero() && !r.Time.Before(opts.Until) {
			return nil
		}
		if from == 0 {
			from = r.Seq
		}
		to = r.Seq
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("exporting audit chain: %w", err)
	}
	if to < from {
		return 0, nil
	}
	end := int64(0) // through the head unless a checkpoint closes the run
	for _, c := range cps {
		if c.Seq >= to {
			end = c.Seq
			break
		}
	}
	bySeq := map[int64][]Checkpoint{}
	for _, c := range cps {
		bySeq[c.Seq] = append(bySeq[c.Seq], c)
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	n := int64(0)
	err = src.Range(ctx, from, end, func(r Record) error {
		if err := enc.Encode(recordLine(r)); err != nil {
			return err
		}
		n++
		for _, c := range bySeq[r.Seq] {
			if err := enc.Encode(checkpointLine(c)); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return n, fmt.Errorf("exporting audit chain: %w", err)
	}
	return n, nil
}

func recordLine(r Record) exportLine {
	return exportLine{Type: "record", Seq: r.Seq, Time: r.Time.UTC().Format(TimeFormat), Actor: r.Actor, Action: r.Action,
		SubjectKind: r.SubjectKind, SubjectID: r.SubjectID, InputDigest: r.InputDigest, Versions: r.Versions,
		Explanation: r.Explanation, PrevHash: r.PrevHash, Hash: r.Hash}
}

func checkpointLine(c Checkpoint) exportLine {
	return exportLine{Type: "checkpoint", Seq: c.Seq, Time: c.Time.UTC().Format(TimeFormat), Hash: c.Hash,
		KeyID: c.KeyID, Signature: base64.StdEncoding.EncodeToString(c.Signature)}
}

// ReadExport parses an export into a Memory store (records in file order,
// which Verify checks) for verification. Malformed lines are errors naming
// the line; nothing is skipped.
func ReadExport(r io.Reader) (*Memory, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxExportLine)
	var recs []Record
	var cps []Checkpoint
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var l exportLine
		if err := dec.Decode(&l); err != nil {
			return nil, fmt.Errorf("reading audit export: line %d: %w", line, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("reading audit export: line %d: more than one JSON value", line)
		}
		t, err := time.Parse(TimeFormat, l.Time)
		if err != nil {
			return nil, fmt.Errorf("reading audit export: line %d: bad time: %w", line, err)
		}
		switch l.Type {
		case "record":
			if len(recs) >= MaxExportRecords {
				return nil, fmt.Errorf("reading audit export: line %d: more than %d records", line, MaxExportRecords)
			}
			recs = append(recs, Record{Seq: l.Seq, Time: t, Actor: l.Actor, Action: l.Action, SubjectKind: l.SubjectKind,
				SubjectID: l.SubjectID, InputDigest: l.InputDigest, Versions: l.Versions, Explanation: l.Explanation,
				PrevHash: l.PrevHash, Hash: l.Hash})
		case "checkpoint":
			sig, err := base64.StdEncoding.DecodeString(l.Signature)
			if err != nil {
				return nil, fmt.Errorf("reading audit export: line %d: bad signature encoding: %w", line, err)
			}
			cps = append(cps, Checkpoint{Seq: l.Seq, Hash: l.Hash, Time: t, KeyID: l.KeyID, Signature: sig})
		default:
			return nil, fmt.Errorf("reading audit export: line %d: unknown type %q", line, l.Type)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("reading audit export: line %d: longer than %d bytes", line+1, MaxExportLine)
		}
		return nil, fmt.Errorf("reading audit export: %w", err)
	}
	m := NewMemory(nil)
	m.SetRecords(recs)
	m.SetCheckpoints(cps)
	return m, nil
}
