package mleval

import (
	"os"
	"path/filepath"
	"testing"
)

// The suites' readers take files from users' DIRs: bad input must give an
// error, never a crash.

func fuzzFile(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func FuzzReaders(f *testing.F) {
	for _, seed := range []string{
		"0,tcp,ftp_data,SF,491,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0.00,0.00,0.00,0.00,1.00,0.00,0.00,150,25,0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00,normal,20\n",
		"\"payload\",\"length\",\"attack_type\",\"label\"\n\"1' or 1=1--\",\"11\",\"sqli\",\"anom\"\n",
		"LineId,EventId,EventTemplate\n1,E1,a <*>\n",
		"5 5 5 22 11 9\n\n22 5\n",
		"\"a,\"b\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		p := fuzzFile(t, data)
		if rows, err := readKDD(p); err == nil {
			for _, r := range rows {
				if len(r.F) != kddFeatures {
					t.Fatalf("row with %d features", len(r.F))
				}
			}
		}
		if rows, err := readPayloads(p); err == nil && len(rows) == 0 {
			t.Fatal("no rows and no error")
		}
		if ids, tpls, err := readLoghubTruth(p); err == nil && len(ids) != len(tpls) {
			t.Fatal("ids and templates differ in length")
		}
		_, _ = readSessions(p)
		_, _ = readLines(p, 1000)
	})
}
