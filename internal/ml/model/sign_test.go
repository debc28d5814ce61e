package model

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// seeded is a deterministic byte source for key generation in tests.
type seeded struct{ r *rand.ChaCha8 }

func (s seeded) Read(p []byte) (int, error) { return s.r.Read(p) }

func newSeeded(n byte) seeded { return seeded{rand.NewChaCha8([32]byte{n})} }

var t0 = time.Date(2026, 11, 27, 11, 0, 0, 0, time.UTC)

func TestSignVerifyRotate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	kr, err := InitKeyRing(dir, newSeeded(1), t0)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, kr.ActiveKeyID()+".key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode %v, err %v", st.Mode().Perm(), err)
	}
	a := sampleArtifact(t)
	mp := filepath.Join(t.TempDir(), "m.json")
	if err := kr.WriteSigned(mp, a); err != nil {
		t.Fatal(err)
	}
	got, err := kr.LoadSigned(mp)
	if err != nil || got.Hash != a.Hash {
		t.Fatalf("LoadSigned: %v", err)
	}
	old := kr.ActiveKeyID()
	nid, err := kr.Rotate(newSeeded(2), t0.Add(time.Hour))
	if err != nil || nid == old || kr.ActiveKeyID() != nid {
		t.Fatalf("rotate: %v (%s→%s)", err, old, nid)
	}
	// Reopening sees both keys; the old signature still verifies.
	kr2, err := OpenKeyRing(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ks := kr2.Keys(); len(ks) != 2 || ks[0].ID != old || ks[1].ID != nid || !ks[1].Active || ks[0].Active {
		t.Fatalf("keys %+v", ks)
	}
	if _, err := kr2.LoadSigned(mp); err != nil {
		t.Fatalf("model signed before rotation: %v", err)
	}
	s, _ := kr2.Sign(a)
	if s.KeyID != nid {
		t.Errorf("new signature by %s, want %s", s.KeyID, nid)
	}
	// Removing the old public key revokes its signatures.
	if err := os.Remove(filepath.Join(dir, old+".pub")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, old+".key")); err != nil {
		t.Fatal(err)
	}
	kr3, err := OpenKeyRing(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr3.LoadSigned(mp); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("revoked key: err %v, want ErrUnknownKey", err)
	}
}

func TestVerifyRefusals(t *testing.T) {
	kr, err := InitKeyRing(filepath.Join(t.TempDir(), "k"), newSeeded(3), t0)
	if err != nil {
		t.Fatal(err)
	}
	other, err := InitKeyRing(filepath.Join(t.TempDir(), "o"), newSeeded(4), t0)
	if err != nil {
		t.Fatal(err)
	}
	a := sampleArtifact(t)
	data, _ := a.Encode()
	s, _ := kr.Sign(a)
	sig, _ := s.Encode()
	so, _ := other.Sign(a)
	osig, _ := so.Encode()
	b := sampleArtifact(t)
	b.Body.Version = "2"
	b, _ = New(b.Body, map[string]int{"x": 1})
	sb, _ := kr.Sign(b)
	bsig, _ := sb.Encode() // valid signature, other model
	forged := *s
	forged.KeyID = so.KeyID
	fsig, _ := forged.Encode()
	tests := []struct {
		name      string
		model     []byte
		sig       []byte
		want      error
		wantInMsg string
	}{
		{"no signature", data, nil, ErrUnsigned, "not signed"},
		{"other ring's key", data, osig, ErrUnknownKey, so.KeyID},
		{"signature of another model", data, bsig, ErrSignature, "signature is for"},
		{"key id swapped", data, fsig, ErrUnknownKey, ""},
		{"sig not canonical", data, bytes.Replace(sig, []byte(`{"format"`), []byte(`{ "format"`), 1), ErrSignature, "canonical"},
		{"model edited", bytes.Replace(data, []byte(`"target_rate":0.01`), []byte(`"target_rate":0.02`), 1), sig, ErrHash, "recorded"},
	}
	for _, tc := range tests {
		_, err := kr.DecodeSigned(tc.model, tc.sig)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.wantInMsg) {
			t.Errorf("%s: err %v, want %v containing %q", tc.name, err, tc.want, tc.wantInMsg)
		}
	}
	if _, err := kr.DecodeSigned(data, sig); err != nil {
		t.Errorf("good pair refused: %v", err)
	}
}

// TestSignedTamperRefused flips bits in every byte of the model file and of
// its signature file; each altered pair must be refused.
func TestSignedTamperRefused(t *testing.T) {
	kr, err := InitKeyRing(filepath.Join(t.TempDir(), "k"), newSeeded(5), t0)
	if err != nil {
		t.Fatal(err)
	}
	a := sampleArtifact(t)
	data, _ := a.Encode()
	s, _ := kr.Sign(a)
	sig, _ := s.Encode()
	trials := 0
	for _, which := range []int{0, 1} {
		src := [][]byte{data, sig}[which]
		for i := range src {
			for _, mask := range []byte{0x01, 0x40} {
				bad := bytes.Clone(src)
				bad[i] ^= mask
				m, g := data, sig
				if which == 0 {
					m = bad
				} else {
					g = bad
				}
				trials++
				if _, err := kr.DecodeSigned(m, g); err == nil {
					t.Fatalf("file %d byte %d ^ %#x accepted", which, i, mask)
				}
			}
		}
	}
	if trials < 1000 {
		t.Fatalf("only %d trials", trials)
	}
}

func TestKeyPermissionsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "k")
	kr, err := InitKeyRing(dir, newSeeded(6), t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, kr.ActiveKeyID()+".key"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenKeyRing(dir); !errors.Is(err, ErrKeyPerm) {
		t.Errorf("world-readable key: err %v, want ErrKeyPerm", err)
	}
	// A verify-only copy (public keys only) verifies but cannot sign.
	vdir := filepath.Join(t.TempDir(), "v")
	os.MkdirAll(vdir, 0o700)
	id := kr.ActiveKeyID()
	pub, _ := os.ReadFile(filepath.Join(dir, id+".pub"))
	os.WriteFile(filepath.Join(vdir, id+".pub"), pub, 0o644)
	os.WriteFile(filepath.Join(vdir, "active"), []byte(id+"\n"), 0o600)
	v, err := OpenKeyRing(vdir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Sign(sampleArtifact(t)); !errors.Is(err, ErrNoKey) {
		t.Errorf("verify-only ring signed: %v", err)
	}
}

func FuzzDecodeSignature(f *testing.F) {
	f.Add([]byte(`{"format":"rampart-model-sig","hash":"sha256:00","key_id":"0123456789abcdef","sig":"AA=="}` + "\n"))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeSignature(data)
		if err != nil {
			return
		}
		again, err := s.Encode()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("accepted non-canonical signature %q", data)
		}
	})
}
