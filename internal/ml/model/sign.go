package model

// Signing (issue 4): an ed25519 signature over an artifact's Hash, kept in
// a sidecar file "<model>.sig" so the model file layout stays as it is.
// Keys live in a key directory Rampart manages, outside the database:
//
//	<dir>/<id>.key   private key (0600): {"created","key_id","seed"}
//	<dir>/<id>.pub   public key:         {"created","key_id","public"}
//	<dir>/active     the id new signatures use
//
// Rotation writes a new pair and moves "active"; old public keys stay, so
// models signed before a rotation still verify. Deleting an old .pub file
// revokes every signature made with it.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// SigFormat identifies signature files.
const SigFormat = "rampart-model-sig"

// maxKeyFileBytes bounds key and signature files.
const maxKeyFileBytes = 64 << 10

// sigDomain separates model signatures from any other use of the key.
const sigDomain = "rampart-model-signature-v1\x00"

// Errors returned by signature verification and key handling.
var (
	// ErrUnsigned means there is no signature for the model.
	ErrUnsigned = errors.New("model is not signed")
	// ErrUnknownKey means the signature names a key id with no public key.
	ErrUnknownKey = errors.New("model signed with an unknown key")
	// ErrSignature means the signature does not verify.
	ErrSignature = errors.New("model signature does not verify")
	// ErrKeyPerm means a private key file is readable by others.
	ErrKeyPerm = errors.New("private key file permissions too open")
	// ErrNoKey means the key directory has no active signing key.
	ErrNoKey = errors.New("no active model signing key")
)

var keyIDRe = regexp.MustCompile(`^[0-9a-f]{16}$`)

// Signature is the content of a .sig file.
type Signature struct {
	Format string `json:"format"`
	KeyID  string `json:"key_id"`
	Hash   string `json:"hash"` // the artifact Hash that was signed
	Sig    string `json:"sig"`  // base64 ed25519 signature
}

// Encode returns the canonical .sig bytes.
func (s *Signature) Encode() ([]byte, error) {
	raw, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encoding model signature: %w", err)
	}
	out, err := Canonical(raw)
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// DecodeSignature parses .sig bytes; only the exact canonical form is accepted.
func DecodeSignature(data []byte) (*Signature, error) {
	if len(data) == 0 {
		return nil, ErrUnsigned
	}
	if len(data) > maxKeyFileBytes {
		return nil, fmt.Errorf("reading model signature: %w: file too large", ErrSignature)
	}
	var s Signature
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("reading model signature: %w: %v", ErrSignature, err)
	}
	if s.Format != SigFormat {
		return nil, fmt.Errorf("reading model signature: %w: format %q", ErrSignature, s.Format)
	}
	if again, err := s.Encode(); err != nil || !bytes.Equal(again, data) {
		return nil, fmt.Errorf("reading model signature: %w: not in canonical form", ErrSignature)
	}
	return &s, nil
}

// KeyID is the id of a public key: the first 16 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:8])
}

func signedMessage(hash string) []byte { return []byte(sigDomain + hash) }

type privFile struct {
	Created time.Time `json:"created"`
	KeyID   string    `json:"key_id"`
	Seed    string    `json:"seed"`
}

type pubFile struct {
	Created time.Time `json:"created"`
	KeyID   string    `json:"key_id"`
	Public  string    `json:"public"`
}

// KeyInfo describes one public key in a key ring.
type KeyInfo struct {
	ID      string
	Created time.Time
	Active  bool
	Private bool // the private key is present
}

// KeyRing is a key directory: every public key for verification and the
// active private key for signing.
type KeyRing struct {
	dir    string
	active string
	pubs   map[string]ed25519.PublicKey
	info   map[string]KeyInfo
	priv   ed25519.PrivateKey // active key, nil when verify-only
}

// InitKeyRing creates dir (0700) with a first key if it has none, and opens it.
func InitKeyRing(dir string, rnd io.Reader, now time.Time) (*KeyRing, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating model key directory: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "active")); errors.Is(err, fs.ErrNotExist) {
		if _, err := newKey(dir, rnd, now); err != nil {
			return nil, err
		}
	}
	return OpenKeyRing(dir)
}

// newKey writes a new key pair and makes it active.
func newKey(dir string, rnd io.Reader, now time.Time) (string, error) {
	pub, priv, err := ed25519.GenerateKey(rnd)
	if err != nil {
		return "", fmt.Errorf("generating model signing key: %w", err)
	}
	id := KeyID(pub)
	pb, _ := json.Marshal(pubFile{Created: now.UTC(), KeyID: id, Public: base64.StdEncoding.EncodeToString(pub)})
	kb, _ := json.Marshal(privFile{Created: now.UTC(), KeyID: id, Seed: base64.StdEncoding.EncodeToString(priv.Seed())})
	if err := writeFileAtomic(filepath.Join(dir, id+".key"), append(kb, '\n'), 0o600); err != nil {
		return "", err
	}
	if err := writeFileAtomic(filepath.Join(dir, id+".pub"), append(pb, '\n'), 0o644); err != nil {
		return "", err
	}
	if err := writeFileAtomic(filepath.Join(dir, "active"), []byte(id+"\n"), 0o600); err != nil {
		return "", err
	}
	return id, nil
}

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err == nil {
		_, err = tmp.Write(data)
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), path)
		}
		if err == nil {
			return nil
		}
	} else {
		tmp.Close()
	}
	return fmt.Errorf("writing %s: %w", path, err)
}

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFileBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxKeyFileBytes)
	}
	return data, nil
}

// OpenKeyRing loads every public key in dir and the active private key, if
// present. A private key file readable by group or others is refused.
func OpenKeyRing(dir string) (*KeyRing, error) {
	k := &KeyRing{dir: dir, pubs: map[string]ed25519.PublicKey{}, info: map[string]KeyInfo{}}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("opening model key directory: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".pub") {
			continue
		}
		id := strings.TrimSuffix(name, ".pub")
		data, err := readSmall(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("reading public key: %w", err)
		}
		var pf pubFile
		if err := json.Unmarshal(data, &pf); err != nil {
			return nil, fmt.Errorf("public key %s: %w", name, err)
		}
		pub, err := base64.StdEncoding.DecodeString(pf.Public)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("public key %s: not an ed25519 public key", name)
		}
		if KeyID(pub) != id || pf.KeyID != id {
			return nil, fmt.Errorf("public key %s: key id does not match the key", name)
		}
		k.pubs[id] = pub
		k.info[id] = KeyInfo{ID: id, Created: pf.Created}
	}
	act, err := readSmall(filepath.Join(dir, "active"))
	if errors.Is(err, fs.ErrNotExist) {
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading active key id: %w", err)
	}
	id := strings.TrimSpace(string(act))
	if !keyIDRe.MatchString(id) {
		return nil, fmt.Errorf("active key id %q is malformed", id)
	}
	kp := filepath.Join(dir, id+".key")
	st, err := os.Stat(kp)
	if errors.Is(err, fs.ErrNotExist) {
		// Verify-only copy of the key directory.
		k.active = id
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading private key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %v, want 0600: %w", kp, st.Mode().Perm(), ErrKeyPerm)
	}
	data, err := readSmall(kp)
	if err != nil {
		return nil, fmt.Errorf("reading private key: %w", err)
	}
	var pf privFile
	if err := json.Unmarshal(data, &pf); err != nil {
		return nil, fmt.Errorf("private key %s: %w", kp, err)
	}
	seed, err := base64.StdEncoding.DecodeString(pf.Seed)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("private key %s: not an ed25519 seed", kp)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	if KeyID(pub) != id || pf.KeyID != id {
		return nil, fmt.Errorf("private key %s: key id does not match the key", kp)
	}
	if have, ok := k.pubs[id]; !ok || !have.Equal(pub) {
		return nil, fmt.Errorf("private key %s: its public key file is missing or different", kp)
	}
	k.active, k.priv = id, priv
	in := k.info[id]
	in.Private = true
	k.info[id] = in
	return k, nil
}

// Rotate makes a new active key; old public keys stay for verification.
func (k *KeyRing) Rotate(rnd io.Reader, now time.Time) (string, error) {
	id, err := newKey(k.dir, rnd, now)
	if err != nil {
		return "", err
	}
	nk, err := OpenKeyRing(k.dir)
	if err != nil {
		return "", err
	}
	*k = *nk
	return id, nil
}

// ActiveKeyID is the id new signatures use ("" when none).
func (k *KeyRing) ActiveKeyID() string { return k.active }

// Keys lists the ring's public keys, oldest first.
func (k *KeyRing) Keys() []KeyInfo {
	out := make([]KeyInfo, 0, len(k.info))
	for id, in := range k.info {
		in.Active = id == k.active
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Sign signs a's Hash with the active key.
func (k *KeyRing) Sign(a *Artifact) (*Signature, error) {
	if k.priv == nil {
		return nil, fmt.Errorf("signing model %s: %w", a.Body.Name, ErrNoKey)
	}
	return &Signature{Format: SigFormat, KeyID: k.active, Hash: a.Hash,
		Sig: base64.StdEncoding.EncodeToString(ed25519.Sign(k.priv, signedMessage(a.Hash)))}, nil
}

// Verify checks that s is a valid signature of a by a key in the ring.
func (k *KeyRing) Verify(a *Artifact, s *Signature) error {
	if s == nil {
		return fmt.Errorf("verifying model %s: %w", a.Body.Name, ErrUnsigned)
	}
	pub, ok := k.pubs[s.KeyID]
	if !ok {
		return fmt.Errorf("verifying model %s: %w (key id %q)", a.Body.Name, ErrUnknownKey, s.KeyID)
	}
	if s.Hash != a.Hash {
		return fmt.Errorf("verifying model %s: %w: signature is for %s, model hash is %s", a.Body.Name, ErrSignature, s.Hash, a.Hash)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(s.Sig)
	if err != nil || len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, signedMessage(a.Hash), sig) {
		return fmt.Errorf("verifying model %s: %w (key %s)", a.Body.Name, ErrSignature, s.KeyID)
	}
	return nil
}

// DecodeSigned verifies model file bytes (as Decode) and their signature
// bytes against the ring; any failure says why.
func (k *KeyRing) DecodeSigned(modelData, sigData []byte) (*Artifact, error) {
	a, err := Decode(modelData)
	if err != nil {
		return nil, err
	}
	s, err := DecodeSignature(sigData)
	if err != nil {
		return nil, fmt.Errorf("loading model %s: %w", a.Body.Name, err)
	}
	if err := k.Verify(a, s); err != nil {
		return nil, err
	}
	return a, nil
}

// SigPath is the signature file of a model file.
func SigPath(modelPath string) string { return modelPath + ".sig" }

// WriteSigned writes a to path and its signature to SigPath(path).
func (k *KeyRing) WriteSigned(path string, a *Artifact) error {
	s, err := k.Sign(a)
	if err != nil {
		return err
	}
	data, err := a.Encode()
	if err != nil {
		return err
	}
	sb, err := s.Encode()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, data, 0o644); err != nil {
		return err
	}
	return writeFileAtomic(SigPath(path), sb, 0o644)
}

// LoadSigned reads path and SigPath(path) and verifies both.
func (k *KeyRing) LoadSigned(path string) (*Artifact, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("loading model: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading model file: %w", err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("loading model: %w (limit %d bytes)", ErrTooLarge, MaxFileBytes)
	}
	sig, err := readSmall(SigPath(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("loading model %s: %w (no %s)", path, ErrUnsigned, filepath.Base(SigPath(path)))
	}
	if err != nil {
		return nil, fmt.Errorf("loading model signature: %w", err)
	}
	return k.DecodeSigned(data, sig)
}
