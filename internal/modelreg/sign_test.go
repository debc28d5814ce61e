package modelreg

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/ml/model"
)

// newSigned returns a registry in a fresh data folder and the path of a
// saved, signed m@1.
func newSigned(t *testing.T) (*Registry, string) {
	t.Helper()
	data := t.TempDir()
	reg, err := Open(filepath.Join(data, "models"))
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := reg.Save(artifact(t, "m", "1", map[string]float64{"w": 0.5, "b": -1}), false)
	if err != nil {
		t.Fatal(err)
	}
	return reg, p
}

func TestSaveSignsWithKeysOutsideModels(t *testing.T) {
	reg, p := newSigned(t)
	if want := filepath.Join(filepath.Dir(reg.Dir()), "keys", "models"); reg.KeyDir() != want {
		t.Fatalf("key dir %s, want %s", reg.KeyDir(), want)
	}
	if _, err := os.Stat(model.SigPath(p)); err != nil {
		t.Fatalf("no signature beside the model: %v", err)
	}
	kr, err := reg.Keys()
	if err != nil {
		t.Fatal(err)
	}
	keys := kr.Keys()
	if len(keys) != 1 || !keys[0].Active || !keys[0].Private {
		t.Fatalf("keys after first save: %+v", keys)
	}
	st, err := os.Stat(filepath.Join(reg.KeyDir(), keys[0].ID+".key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode: %v %v, want 0600", st.Mode().Perm(), err)
	}
	es, err := reg.List()
	if err != nil || len(es) != 1 || es[0].Error != "" || es[0].KeyID != keys[0].ID {
		t.Fatalf("list: %+v %v", es, err)
	}
	// A private key others can read is refused, so nothing is signed with it.
	os.Chmod(filepath.Join(reg.KeyDir(), keys[0].ID+".key"), 0o644)
	if _, _, err := reg.Save(artifact(t, "m", "2", []int{2}), false); !errors.Is(err, model.ErrKeyPerm) {
		t.Fatalf("save with a 0644 private key: %v, want ErrKeyPerm", err)
	}
	if _, err := os.Stat(reg.path("m", "2")); err == nil {
		t.Fatal("model written although signing failed")
	}
}

// TestTamperEveryByte flips every byte of a saved model and of its
// signature in turn: every flip is refused.
func TestTamperEveryByte(t *testing.T) {
	reg, p := newSigned(t)
	if _, err := reg.Load("m", "1"); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{p, model.SigPath(p)} {
		orig, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i := range orig {
			for _, mask := range []byte{0x01, 0x20} {
				bad := append([]byte(nil), orig...)
				bad[i] ^= mask
				if err := os.WriteFile(file, bad, 0o644); err != nil {
					t.Fatal(err)
				}
				if _, err := reg.Load("m", "1"); err == nil {
					t.Fatalf("%s: byte %d ^ %#x (%q) loaded", filepath.Base(file), i, mask, orig[i])
				}
			}
		}
		// Truncation and an appended byte too.
		for _, bad := range [][]byte{orig[:len(orig)-1], append(append([]byte(nil), orig...), ' ')} {
			os.WriteFile(file, bad, 0o644)
			if _, err := reg.Load("m", "1"); err == nil {
				t.Fatalf("%s: length %d of %d loaded", filepath.Base(file), len(bad), len(orig))
			}
		}
		os.WriteFile(file, orig, 0o644)
	}
	if _, err := reg.Load("m", "1"); err != nil {
		t.Fatalf("restored files refused: %v", err)
	}
}

func TestRefusalReasons(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, reg *Registry, p string)
		want   error
		text   string
	}{
		{"sig removed", func(t *testing.T, reg *Registry, p string) {
			os.Remove(model.SigPath(p))
		}, model.ErrUnsigned, "no 1.model.sig"},
		{"empty sig", func(t *testing.T, reg *Registry, p string) {
			os.WriteFile(model.SigPath(p), nil, 0o644)
		}, model.ErrUnsigned, ""},
		{"model re-hashed with new params", func(t *testing.T, reg *Registry, p string) {
			// A consistent artifact (its hash verifies) that was never signed.
			a := artifact(t, "m", "1", map[string]float64{"w": 99})
			f, _ := os.Create(p)
			defer f.Close()
			if err := a.Write(f); err != nil {
				t.Fatal(err)
			}
		}, model.ErrSignature, "signature is for"},
		{"signed by a foreign key", func(t *testing.T, reg *Registry, p string) {
			kr, err := model.InitKeyRing(t.TempDir(), rand.Reader, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			a := artifact(t, "m", "1", map[string]float64{"w": 99})
			if err := kr.WriteSigned(p, a); err != nil {
				t.Fatal(err)
			}
		}, model.ErrUnknownKey, "key id"},
		{"public key deleted (revoked)", func(t *testing.T, reg *Registry, p string) {
			kr, _ := reg.Keys()
			os.Remove(filepath.Join(reg.KeyDir(), kr.ActiveKeyID()+".pub"))
			os.Remove(filepath.Join(reg.KeyDir(), kr.ActiveKeyID()+".key"))
		}, model.ErrUnknownKey, ""},
		{"key directory missing", func(t *testing.T, reg *Registry, p string) {
			os.RemoveAll(reg.KeyDir())
		}, nil, "cannot verify its signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg, p := newSigned(t)
			tc.change(t, reg, p)
			_, err := reg.Load("m", "1")
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) || !strings.Contains(err.Error(), p) {
				t.Fatalf("load: %v, want %v mentioning %q and the file", err, tc.want, tc.text)
			}
			if _, err := reg.Load("m", ""); err == nil {
				t.Fatal("active load succeeded")
			}
			if err := reg.Activate("m", "1"); err == nil {
				t.Fatal("activate succeeded")
			}
			es, _ := reg.List()
			if len(es) != 1 || es[0].Error == "" || es[0].KeyID != "" {
				t.Fatalf("list does not report the refusal: %+v", es)
			}
		})
	}
}

func TestRotateKeepsOldModels(t *testing.T) {
	reg, _ := newSigned(t)
	kr, _ := reg.Keys()
	old := kr.ActiveKeyID()
	id, err := reg.RotateKey()
	if err != nil || id == old || id == "" {
		t.Fatalf("rotate: %q %v (old %q)", id, err, old)
	}
	if _, _, err := reg.Save(artifact(t, "m", "2", []int{2}), false); err != nil {
		t.Fatal(err)
	}
	es, err := reg.List()
	if err != nil || len(es) != 2 {
		t.Fatalf("list: %+v %v", es, err)
	}
	if es[0].Error != "" || es[0].KeyID != old || es[1].Error != "" || es[1].KeyID != id {
		t.Fatalf("after rotation: %+v, want m@1 by %s and m@2 by %s", es, old, id)
	}
	if err := reg.Activate("m", "2"); err != nil {
		t.Fatal(err)
	}
	kr, _ = reg.Keys()
	if keys := kr.Keys(); len(keys) != 2 || keys[1].ID != id || !keys[1].Active || keys[0].Active {
		t.Fatalf("keys after rotation: %+v", keys)
	}
	// Revoking the old key (deleting its public key) refuses only m@1.
	os.Remove(filepath.Join(reg.KeyDir(), old+".pub"))
	if _, err := reg.Load("m", "1"); !errors.Is(err, model.ErrUnknownKey) {
		t.Fatalf("m@1 after revoking %s: %v", old, err)
	}
	if _, err := reg.Load("m", "2"); err != nil {
		t.Fatal(err)
	}
}

func TestRotateCreatesFirstKey(t *testing.T) {
	reg, err := OpenKeys(filepath.Join(t.TempDir(), "models"), filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Keys(); err == nil {
		t.Fatal("keys of a missing key directory opened")
	}
	id, err := reg.RotateKey()
	if err != nil || id == "" {
		t.Fatalf("first rotate: %q %v", id, err)
	}
	kr, err := reg.Keys()
	if err != nil || kr.ActiveKeyID() != id || len(kr.Keys()) != 1 {
		t.Fatalf("keys: %v %v", kr, err)
	}
}
