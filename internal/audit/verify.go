package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strconv"
	"time"
)

// Source is what Verify reads: the records and checkpoints of a chain.
// A Store is a Source; so is a parsed export (ReadExport).
type Source interface {
	Range(ctx context.Context, from, to int64, fn func(Record) error) error
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
}

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Anchor is the newest checkpoint as kept outside the database (see
	// ReadAnchor); nil when there is none. A chain that ends before it was cut.
	Anchor *Checkpoint
	// Partial accepts a chain that starts after seq 1 without a checkpoint
	// on its first record (a time-window export): the first record's
	// PrevHash is taken as given, and later checkpoints vouch for the rest.
	Partial bool
}

// Report is the outcome of Verify.
type Report struct {
	OK          bool
	Records     int64
	FirstSeq    int64
	LastSeq     int64
	Checkpoints int
	// SignedThrough is the highest seq covered by a valid checkpoint; records
	// after it are chained but not yet signed (Unsigned of them).
	SignedThrough int64
	Unsigned      int64
	// Problem is the first failure found, nil when OK.
	Problem *Problem
}

// Problem names the first bad record or checkpoint.
type Problem struct {
	Seq    int64
	Reason string
}

func (p *Problem) Error() string {
	return fmt.Sprintf("audit chain broken at seq %d: %s", p.Seq, p.Reason)
}

// RecordError is returned by a Store's Range for a stored record that
// cannot even be decoded (a column edited into garbage); Verify reports it
// as the problem at that seq.
type RecordError struct {
	Seq int64
	Err error
}

func (e *RecordError) Error() string { return fmt.Sprintf("audit record %d: %v", e.Seq, e.Err) }

func (e *RecordError) Unwrap() error { return e.Err }

// errStop ends a Range early once a problem is found.
var errStop = errors.New("stop")

// Verify checks the chain in src: consecutive sequence numbers, each
// record's hash recomputed from its fields, each PrevHash equal to the
// previous record's hash, a first record that is seq 1 after ZeroHash or
// carries a checkpoint and a signed audit_pruned record naming it
// (retention, see Log.Prune), every checkpoint signed by a known key
// and matching the record it names, and no checkpoint (nor the anchor)
// naming a record that is missing. It stops at the first problem. The
// error is for failures to read src; a broken chain is a Report with
// OK false and Problem set.
func Verify(ctx context.Context, src Source, keys PublicKeys, opts VerifyOptions) (Report, error) {
	cps, err := src.Checkpoints(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("verifying audit chain: reading checkpoints: %w", err)
	}
	if a := opts.Anchor; a != nil && !slices.ContainsFunc(cps, func(c Checkpoint) bool {
		return c.Seq == a.Seq && c.KeyID == a.KeyID && c.Hash == a.Hash && c.Time.Equal(a.Time) && bytes.Equal(c.Signature, a.Signature)
	}) {
		cps = append(cps, *a)
	}
	sort.SliceStable(cps, func(i, j int) bool { return cps[i].Seq < cps[j].Seq })
	var rep Report
	fail := func(seq int64, format string, args ...any) (Report, error) {
		rep.OK = false
		rep.Problem = &Problem{Seq: seq, Reason: fmt.Sprintf(format, args...)}
		return rep, nil
	}
	bySeq := make(map[int64][]Checkpoint, len(cps))
	for _, c := range cps {
		if err := keys.Verify(c); err != nil {
			return fail(c.Seq, "%v", err)
		}
		bySeq[c.Seq] = append(bySeq[c.Seq], c)
	}
	rep.Checkpoints = len(cps)

	var prev Record
	var problem *Problem
	pruned := map[string]int64{} // audit_pruned subject id -> seq of the record
	err = src.Range(ctx, 0, 0, func(r Record) error {
		p := checkRecord(&rep, prev, r, bySeq, opts.Partial)
		if p != nil {
			problem = p
			return errStop
		}
		if r.Action == ActionPruned {
			pruned[r.SubjectID] = r.Seq
		}
		prev = r
		return nil
	})
	var re *RecordError
	if errors.As(err, &re) {
		return fail(re.Seq, "undecodable record: %v", re.Err)
	}
	if err != nil && !errors.Is(err, errStop) {
		return Report{}, fmt.Errorf("verifying audit chain: reading records: %w", err)
	}
	if problem != nil {
		rep.Problem = problem
		return rep, nil
	}
	// A checkpoint outside the records present means records were removed.
	for _, c := range cps {
		switch {
		case rep.Records == 0:
			return fail(c.Seq, "chain is empty but a checkpoint signs seq %d: records were removed", c.Seq)
		case c.Seq > rep.LastSeq:
			return fail(rep.LastSeq+1, "chain ends at seq %d but a checkpoint signs seq %d: records were cut off the end", rep.LastSeq, c.Seq)
		case c.Seq < rep.FirstSeq:
			return fail(c.Seq, "checkpoint signs seq %d but the chain starts at seq %d: records were removed", c.Seq, rep.FirstSeq)
		}
	}
	// A chain that starts after seq 1 must say so in a signed record:
	// retention (Log.Prune) writes one before it deletes.
	if rep.FirstSeq > 1 && !opts.Partial {
		at, ok := pruned[strconv.FormatInt(rep.FirstSeq, 10)]
		if !ok || at > rep.SignedThrough {
			return fail(rep.FirstSeq, "chain starts at seq %d but no signed %s record allows it: earlier records were removed", rep.FirstSeq, ActionPruned)
		}
	}
	rep.Unsigned = rep.LastSeq - rep.SignedThrough
	if rep.Records == 0 {
		rep.Unsigned = 0
	}
	rep.OK = true
	return rep, nil
}

func checkRecord(rep *Report, prev, r Record, bySeq map[int64][]Checkpoint, partial bool) *Problem {
	bad := func(format string, args ...any) *Problem {
		return &Problem{Seq: r.Seq, Reason: fmt.Sprintf(format, args...)}
	}
	if rep.Records == 0 {
		rep.FirstSeq = r.Seq
		switch {
		case r.Seq < 1:
			return bad("sequence number %d is below 1", r.Seq)
		case r.Seq == 1 && r.PrevHash != ZeroHash:
			return bad("first record does not follow the zero hash")
		case r.Seq > 1 && len(bySeq[r.Seq]) == 0 && !partial:
			return bad("chain starts at seq %d without a checkpoint on that record: earlier records were removed", r.Seq)
		}
	} else {
		switch {
		case r.Seq <= prev.Seq:
			return bad("out of order: seq %d follows seq %d", r.Seq, prev.Seq)
		case r.Seq != prev.Seq+1:
			return &Problem{Seq: prev.Seq + 1, Reason: fmt.Sprintf("record missing: seq %d follows seq %d", r.Seq, prev.Seq)}
		case r.PrevHash != prev.Hash:
			return bad("previous hash %.16s… does not match the hash of seq %d (%.16s…)", r.PrevHash, prev.Seq, prev.Hash)
		}
	}
	if n, err := Normalize(r); err != nil {
		return bad("malformed record: %v", err)
	} else if n.Explanation != r.Explanation || n.Time != r.Time {
		return bad("record is not in normal form")
	}
	if got := HashRecord(r); got != r.Hash {
		return bad("content does not match its hash (stored %.16s…, computed %.16s…)", r.Hash, got)
	}
	for _, c := range bySeq[r.Seq] {
		if c.Hash != r.Hash {
			return bad("hash does not match the checkpoint signed by key %q at %s", c.KeyID, c.Time.Format(time.RFC3339))
		}
		rep.SignedThrough = r.Seq
	}
	rep.Records++
	rep.LastSeq = r.Seq
	return nil
}

// anchorFile is the on-disk form of the anchor (docs/formats/audit.md).
type anchorFile struct {
	Seq       int64  `json:"seq"`
	Hash      string `json:"hash"`
	Time      string `json:"time"`
	KeyID     string `json:"key_id"`
	Signature string `json:"signature"`
}

// WriteAnchor saves c as the anchor file at path (mode 0600, atomically).
func WriteAnchor(path string, c Checkpoint) error {
	data, err := json.Marshal(anchorFile{Seq: c.Seq, Hash: c.Hash, Time: c.Time.UTC().Format(TimeFormat),
		KeyID: c.KeyID, Signature: base64.StdEncoding.EncodeToString(c.Signature)})
	if err != nil {
		return fmt.Errorf("encoding audit anchor: %w", err)
	}
	if err := writeFileAtomic(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("writing audit anchor: %w", err)
	}
	return nil
}

// ReadAnchor loads the anchor file at path; a missing file is (nil, nil).
func ReadAnchor(path string) (*Checkpoint, error) {
	data, err := readLimited(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading audit anchor: %w", err)
	}
	var a anchorFile
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("parsing audit anchor %s: %w", path, err)
	}
	c, err := a.checkpoint()
	if err != nil {
		return nil, fmt.Errorf("parsing audit anchor %s: %w", path, err)
	}
	return &c, nil
}

func (a anchorFile) checkpoint() (Checkpoint, error) {
	t, err := time.Parse(TimeFormat, a.Time)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("bad time: %w", err)
	}
	sig, err := base64.StdEncoding.DecodeString(a.Signature)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("bad signature encoding: %w", err)
	}
	return Checkpoint{Seq: a.Seq, Hash: a.Hash, Time: t, KeyID: a.KeyID, Signature: sig}, nil
}
