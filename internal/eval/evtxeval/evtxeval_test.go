package evtxeval

import (
	"context"
	"os"
	"testing"

	"github.com/rampart-ids/rampart/internal/eval"
	"github.com/rampart-ids/rampart/internal/testutil"
)

func TestParityWindowsEVTX(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the whole corpus")
	}
	dir := testutil.SharedData(t, "windows-evtx")
	res, err := run(context.Background(), eval.Options{Data: dir})
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("EVTX_PARITY_TABLE") != "" {
		_ = res.Table(os.Stdout)
	}
	r := res.(*Result)
	s := r.Sections[0]
	if s.RecordsReference != 23371 {
		t.Errorf("records_reference = %d, want 23371", s.RecordsReference)
	}
	if s.RecordsRead != s.RecordsReference {
		t.Errorf("records_read = %d, want %d", s.RecordsRead, s.RecordsReference)
	}
	if len(s.FieldMismatches) != 0 {
		t.Errorf("field_mismatches = %v", s.FieldMismatches)
	}
}
