package sigmaeval

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxLabelRows bounds labels.csv.
const maxLabelRows = 1_000_000

// parseLabels reads labels.csv: the file is in column path, else
// jsonl_path, else evtx_path (rows with none are skipped); techniques are
// ATT&CK ids separated by spaces or semicolons.
func parseLabels(r io.Reader, name string) ([]labelRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("reading %s header: %w", name, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimSpace(strings.ToLower(h))] = i
	}
	get := func(rec []string, k string) string {
		if i, ok := col[k]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var out []labelRow
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		if len(out) >= maxLabelRows {
			return nil, fmt.Errorf("reading %s: more than %d rows", name, maxLabelRows)
		}
		p := get(rec, "path")
		if p == "" {
			p = get(rec, "jsonl_path")
		}
		if p == "" {
			p = get(rec, "evtx_path")
		}
		if p == "" {
			continue
		}
		var tech []string
		for _, t := range strings.FieldsFunc(get(rec, "techniques"), func(r rune) bool { return r == ' ' || r == ';' || r == ',' }) {
			tech = append(tech, strings.ToUpper(t))
		}
		out = append(out, labelRow{path: p, techniques: tech})
	}
}
