// Package evtxeval is the evtx-parity evaluation: it reads every .evtx of
// a labeled corpus with Rampart's native reader (internal/format/evtx) and
// compares each record with the reference JSON rendering of the same event
// (matched by EventRecordID): EventID, Channel, Provider, TimeCreated,
// Computer and the EventData/UserData values, after normalizing value
// renderings (numbers as text, case of hex and GUIDs, GUID braces, line
// endings, characters XML cannot carry, binary as hex or base64,
// timestamps to the microsecond, the reference's float64 FILETIME
// conversion, and its string-array splitting; see norm and timeEqual).
// Both renderings are also parsed by the windows record format and the
// resulting Event fields compared.
//
// Two layouts are understood: the windows-evtx corpus (labels.csv with
// evtx_path and jsonl_path, conversion_log.tsv) and Sigma's regression_data
// (each .evtx beside a .json rendering). Given DIR=windows-evtx, a sibling
// sigma/regression_data is checked too, as a second section.
package evtxeval

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/rampart-ids/rampart/internal/eval"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/format/evtx"
	// The windows record format reads the evtx records; the suite compares
	// the Event fields it produces from both renderings.
	_ "github.com/rampart-ids/rampart/internal/format/windows"
)

func init() {
	eval.Register(eval.Suite{
		Name:    "evtx-parity",
		Summary: "native .evtx reader against reference JSON renderings, record by record (DIR like windows-evtx or sigma)",
		Run:     run,
	})
}

// maxExamples bounds the mismatch examples kept for the table.
const maxExamples = 20

// Section is the outcome over one corpus layout.
type Section struct {
	Name             string
	Files            int
	FilesFailed      int
	FailedFiles      []string
	RecordsReference int
	RecordsRead      int // reference records found by Rampart (by EventRecordID)
	RecordsRampart   int // all records Rampart read from the compared files
	RecordsMissing   int
	FieldMismatches  map[string]int
	DataKeyMismatch  map[string]int // EventData/UserData key → count
	RecordErrors     map[string]int // quarantined pieces by reason
	TimeRounded      int            // timestamps equal only as the reference float rendering of Rampart's instant
	Examples         []string

	// Records of both renderings parsed by the windows record format and
	// compared as Event fields (field → count of differing records).
	EventsCompared       int
	EventFieldMismatches map[string]int
	EventFieldsExtra     map[string]int // fields only Rampart's rendering has

	parser       format.Parser
	evRef, evGot *event.Event

	opts cmpOpts

	// Files the reference conversion could not read (windows-evtx only).
	UnreadableFiles     int
	UnreadableRecovered int
}

// Result is the suite's result.
type Result struct {
	Sections []*Section
}

// JSON implements eval.Result. The first section's figures are at top level.
func (r *Result) JSON() map[string]any {
	out := map[string]any{}
	for i, s := range r.Sections {
		m := s.json()
		if i == 0 {
			for k, v := range m {
				out[k] = v
			}
			out["layout"] = s.Name
			continue
		}
		out[s.Name] = m
	}
	return out
}

func (s *Section) json() map[string]any {
	m := map[string]any{
		"files":                     s.Files,
		"files_failed":              s.FilesFailed,
		"records_reference":         s.RecordsReference,
		"records_read":              s.RecordsRead,
		"records_missing":           s.RecordsMissing,
		"records_rampart":           s.RecordsRampart,
		"field_mismatches":          nonNil(s.FieldMismatches),
		"data_key_mismatches":       nonNil(s.DataKeyMismatch),
		"record_errors":             nonNil(s.RecordErrors),
		"timestamps_float_rendered": s.TimeRounded,
		"events_compared":           s.EventsCompared,
		"event_field_mismatches":    nonNil(s.EventFieldMismatches),
		"event_fields_extra":        nonNil(s.EventFieldsExtra),
	}
	if s.FailedFiles != nil {
		m["failed_files"] = s.FailedFiles
	}
	if s.Name == "windows-evtx" {
		m["unreadable_by_reference_files"] = s.UnreadableFiles
		m["unreadable_by_reference_records_recovered"] = s.UnreadableRecovered
	}
	return m
}

func nonNil(m map[string]int) map[string]int {
	if m == nil {
		return map[string]int{}
	}
	return m
}

// Table implements eval.Result.
func (r *Result) Table(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range r.Sections {
		fmt.Fprintf(tw, "== %s\n", s.Name)
		fmt.Fprintf(tw, "files\t%d\t(failed %d)\n", s.Files, s.FilesFailed)
		fmt.Fprintf(tw, "records reference\t%d\n", s.RecordsReference)
		fmt.Fprintf(tw, "records read\t%d\t(missing %d; all records read by rampart %d)\n", s.RecordsRead, s.RecordsMissing, s.RecordsRampart)
		if s.Name == "windows-evtx" {
			fmt.Fprintf(tw, "unreadable by reference\t%d files\t%d records recovered\n", s.UnreadableFiles, s.UnreadableRecovered)
		}
		fmt.Fprintf(tw, "timestamps equal as float rendering\t%d\n", s.TimeRounded)
		for _, k := range sortedKeys(s.FieldMismatches) {
			fmt.Fprintf(tw, "mismatch %s\t%d\n", k, s.FieldMismatches[k])
		}
		for _, k := range sortedKeys(s.DataKeyMismatch) {
			fmt.Fprintf(tw, "  data key %s\t%d\n", k, s.DataKeyMismatch[k])
		}
		fmt.Fprintf(tw, "events compared via windows format\t%d\n", s.EventsCompared)
		for _, k := range sortedKeys(s.EventFieldMismatches) {
			fmt.Fprintf(tw, "event field mismatch %s\t%d\n", k, s.EventFieldMismatches[k])
		}
		for _, k := range sortedKeys(s.EventFieldsExtra) {
			fmt.Fprintf(tw, "event field only in rampart %s\t%d\n", k, s.EventFieldsExtra[k])
		}
		for _, k := range sortedKeys(s.RecordErrors) {
			fmt.Fprintf(tw, "quarantined %s\t%d\n", k, s.RecordErrors[k])
		}
		for _, f := range s.FailedFiles {
			fmt.Fprintf(tw, "failed file\t%s\n", f)
		}
		for _, e := range s.Examples {
			fmt.Fprintf(tw, "example\t%s\n", e)
		}
	}
	return tw.Flush()
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func run(ctx context.Context, opts eval.Options) (eval.Result, error) {
	dir := opts.Data
	if dir == "" {
		return nil, errors.New("evtx-parity needs --data DIR (windows-evtx or sigma)")
	}
	res := &Result{}
	if _, err := os.Stat(filepath.Join(dir, "labels.csv")); err == nil {
		s, err := RunWindowsEVTX(ctx, dir, opts.Progress)
		if err != nil {
			return nil, err
		}
		res.Sections = append(res.Sections, s)
		sib := filepath.Join(dir, "..", "sigma", "regression_data")
		if _, err := os.Stat(sib); err == nil {
			s, err := RunSigmaRegression(ctx, sib, opts.Progress)
			if err != nil {
				return nil, err
			}
			res.Sections = append(res.Sections, s)
		}
		return res, nil
	}
	rd := dir
	if _, err := os.Stat(filepath.Join(dir, "regression_data")); err == nil {
		rd = filepath.Join(dir, "regression_data")
	}
	s, err := RunSigmaRegression(ctx, rd, opts.Progress)
	if err != nil {
		return nil, err
	}
	if s.Files == 0 {
		return nil, fmt.Errorf("no labels.csv and no .evtx with .json renderings under %s", dir)
	}
	res.Sections = append(res.Sections, s)
	return res, nil
}

// RunWindowsEVTX checks the windows-evtx layout under dir.
func RunWindowsEVTX(ctx context.Context, dir string, progress io.Writer) (*Section, error) {
	rows, err := readLabels(filepath.Join(dir, "labels.csv"))
	if err != nil {
		return nil, err
	}
	s := newSection("windows-evtx")
	s.opts.pyTime = true
	for i, row := range rows {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if progress != nil && i%50 == 0 {
			fmt.Fprintf(progress, "evtx-parity: %d/%d files\n", i, len(rows))
		}
		evtxPath := filepath.Join(dir, row.evtx)
		recs, ferr := readEVTX(evtxPath, s.RecordErrors)
		if row.jsonl == "" || row.converted == 0 {
			s.UnreadableFiles++
			s.UnreadableRecovered += len(recs)
			continue
		}
		s.Files++
		if ferr != nil {
			s.FilesFailed++
			s.FailedFiles = append(s.FailedFiles, fmt.Sprintf("%s: %v", row.evtx, ferr))
		}
		refs, err := readJSONL(filepath.Join(dir, row.jsonl))
		if err != nil {
			return nil, err
		}
		s.compare(row.evtx, refs, recs)
	}
	return s, nil
}

// RunSigmaRegression checks every .evtx under dir against the .json beside it.
func RunSigmaRegression(ctx context.Context, dir string, progress io.Writer) (*Section, error) {
	s := newSection("sigma-regression")
	s.opts.trim = true
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.EqualFold(filepath.Ext(p), ".evtx") {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walking %s: %w", dir, err)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		jp := strings.TrimSuffix(p, filepath.Ext(p)) + ".json"
		if _, err := os.Stat(jp); err != nil {
			continue
		}
		s.Files++
		recs, ferr := readEVTX(p, s.RecordErrors)
		if ferr != nil {
			s.FilesFailed++
			s.FailedFiles = append(s.FailedFiles, fmt.Sprintf("%s: %v", p, ferr))
		}
		refs, err := readSigmaJSON(jp)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(dir, p)
		s.compare(rel, refs, recs)
	}
	return s, nil
}

func newSection(name string) *Section {
	return &Section{Name: name, FieldMismatches: map[string]int{}, DataKeyMismatch: map[string]int{},
		RecordErrors: map[string]int{}, EventFieldMismatches: map[string]int{}, EventFieldsExtra: map[string]int{}}
}

// readEVTX reads every record of one file; quarantined pieces are counted
// by reason. The error is a failure to open or read the file.
func readEVTX(path string, errs map[string]int) ([]rec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening evtx: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("opening evtx: %w", err)
	}
	r, err := evtx.Open(f, st.Size())
	if err != nil {
		return nil, err
	}
	var out []rec
	for {
		b, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		var re *format.RecordError
		if errors.As(err, &re) {
			errs[re.Reason]++
			continue
		}
		if err != nil {
			return out, err
		}
		m, err := decodeObject(b)
		if err != nil {
			errs["rampart_invalid_json"]++
			continue
		}
		out = append(out, rec{m: m, raw: b})
	}
}

type labelRow struct {
	evtx, jsonl string
	converted   int
}

func readLabels(path string) ([]labelRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening labels: %w", err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("reading %s: empty", path)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	ie, ok1 := col["evtx_path"]
	ij, ok2 := col["jsonl_path"]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("reading %s: need evtx_path and jsonl_path columns", path)
	}
	ic, hasConv := col["events_converted"]
	var out []labelRow
	for _, r := range recs[1:] {
		if ie >= len(r) || r[ie] == "" {
			continue
		}
		row := labelRow{evtx: r[ie], converted: -1}
		if ij < len(r) {
			row.jsonl = r[ij]
		}
		if hasConv && ic < len(r) {
			if n, err := strconv.Atoi(r[ic]); err == nil {
				row.converted = n
			}
		}
		out = append(out, row)
	}
	return out, nil
}
