package dataset

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// PayloadRow is one HttpParamsDataset row.
type PayloadRow struct {
	Payload string
	Type    string // attack_type: norm, sqli, xss, cmdi, path-traversal
	Attack  bool   // label == "anom"
}

// ReadPayloads reads the HttpParamsDataset CSV (columns payload, length,
// attack_type, label in any order; a UTF-8 BOM is tolerated). A label other
// than norm or anom, a short row, more than limit rows or no rows is an error.
func ReadPayloads(path string, limit int) ([]PayloadRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening payloads: %w", err)
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReader(f))
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("reading %s header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimPrefix(strings.TrimSpace(h), "\ufeff")] = i
	}
	pi, ok1 := col["payload"]
	ti, ok2 := col["attack_type"]
	li, ok3 := col["label"]
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("%s: want columns payload, attack_type, label; have %v", path, head)
	}
	var out []PayloadRow
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		if len(rec) <= max(pi, ti, li) {
			return nil, fmt.Errorf("%s:%d: short row", path, line)
		}
		if len(out) >= limit {
			return nil, fmt.Errorf("%s: more than %d rows", path, limit)
		}
		lab := rec[li]
		if lab != "norm" && lab != "anom" {
			return nil, fmt.Errorf("%s:%d: label %q is neither norm nor anom", path, line, lab)
		}
		out = append(out, PayloadRow{Payload: rec[pi], Type: rec[ti], Attack: lab == "anom"})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no rows", path)
	}
	return out, nil
}
