package modelreg

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzReaders feeds arbitrary bytes to the training-data readers: they
// return rows or a clear error, never panic, and never return short rows.
func FuzzReaders(f *testing.F) {
	f.Add([]byte("\"payload\",\"length\",\"attack_type\",\"label\"\n\"a' or 1=1\",\"10\",\"sqli\",\"anom\"\n"))
	f.Add([]byte("0,tcp,http,SF,181,5450,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,8,8,0,0,0,0,1,0,0,9,9,1,0,0.11,0,0,0,0,0,normal,21\n"))
	f.Add([]byte("5 5 5 22 11 9 11 9\n\n26 26\n"))
	f.Add([]byte("payload,attack_type,label\n\"unterminated\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "in")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if rows, err := readPayloads(p); err == nil && len(rows) == 0 {
			t.Fatal("payloads: no rows and no error")
		}
		if rows, err := readKDD(p); err == nil {
			for _, r := range rows {
				if len(r.f) != kddFeatures {
					t.Fatalf("kdd row with %d features", len(r.f))
				}
			}
		}
		_, _ = readSessions(p)
		_, _ = readLines(p, 1000)
	})
}

// FuzzLoad puts arbitrary bytes where a model file belongs: Load refuses
// anything that is not a verified artifact of that name and version.
func FuzzLoad(f *testing.F) {
	a, _ := artifactFor("m", "1")
	enc, _ := a.Encode()
	f.Add(enc)
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		r, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(dir, "m"), 0o750)
		os.WriteFile(filepath.Join(dir, "m", "1.model"), data, 0o600)
		got, err := r.Load("m", "1")
		if err == nil && (got.Body.Name != "m" || got.Body.Version != "1") {
			t.Fatalf("loaded %s@%s from m/1.model", got.Body.Name, got.Body.Version)
		}
	})
}
