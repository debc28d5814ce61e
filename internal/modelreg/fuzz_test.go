package modelreg

import (
	"os"
	"path/filepath"
	"testing"
)

// The training-data readers are fuzzed in internal/ml/dataset (FuzzReaders).

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

// FuzzLoadSigned puts arbitrary bytes in a model file and its .sig beside a
// key directory that has signed exactly one artifact: anything Load accepts
// must be that artifact (no forged or altered model verifies).
func FuzzLoadSigned(f *testing.F) {
	keys := f.TempDir()
	seedReg, err := OpenKeys(filepath.Join(f.TempDir(), "models"), keys)
	if err != nil {
		f.Fatal(err)
	}
	a, _ := artifactFor("m", "1")
	p, _, err := seedReg.Save(a, false)
	if err != nil {
		f.Fatal(err)
	}
	enc, _ := os.ReadFile(p)
	sig, _ := os.ReadFile(p + ".sig")
	f.Add(enc, sig)
	f.Add(enc, []byte{})
	f.Add([]byte("{}"), sig)
	f.Fuzz(func(t *testing.T, data, sigData []byte) {
		dir := t.TempDir()
		r, err := OpenKeys(dir, keys)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(dir, "m"), 0o750)
		os.WriteFile(filepath.Join(dir, "m", "1.model"), data, 0o600)
		os.WriteFile(filepath.Join(dir, "m", "1.model.sig"), sigData, 0o600)
		got, err := r.Load("m", "1")
		if err == nil && got.Hash != a.Hash {
			t.Fatalf("loaded an artifact with hash %s; only %s was signed", got.Hash, a.Hash)
		}
	})
}
