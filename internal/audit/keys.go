package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// KeyFileName is the key file OpenKeyRing uses inside a data directory.
const KeyFileName = "audit-keys.json"

// maxKeyFile bounds the key and public key files we read.
const maxKeyFile = 1 << 20

// PublicKeys are the verification keys by key id.
type PublicKeys map[string]ed25519.PublicKey

// KeyRing holds the signing key and the public keys of every earlier key,
// in a JSON file outside the database with mode 0600. Only the active key
// keeps its private half: rotation discards the old private key and keeps
// its public key for verification. It is safe for concurrent use.
type KeyRing struct {
	path string
	mu   sync.Mutex
	f    keyFile
	priv ed25519.PrivateKey // of f.Active; nil for a public-only ring
	// info identifies the file loaded, so Sign notices a rotation made by
	// another process (rampart audit rotate-key beside a running server).
	info os.FileInfo
}

// keyFile is the on-disk form (docs/formats/audit.md).
type keyFile struct {
	Active string     `json:"active"`
	Keys   []keyEntry `json:"keys"`
}

type keyEntry struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Public  string    `json:"public"`         // base64 ed25519 public key
	Private string    `json:"seed,omitempty"` // base64 ed25519 seed, active key only
}

// OpenKeyRing loads the key file at path, or creates it with a new key
// (mode 0600, directory 0700 if it must be made). A key file readable by
// group or others is refused: the key would no longer prove anything.
func OpenKeyRing(path string, now time.Time) (*KeyRing, error) {
	k := &KeyRing{path: path}
	err := k.load()
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("creating audit key file %s: %w", path, err)
		}
		if _, err := k.rotateLocked(now); err != nil {
			return nil, err
		}
		return k, nil
	}
	if err != nil {
		return nil, err
	}
	return k, nil
}

func (k *KeyRing) load() error {
	st, err := os.Stat(k.path)
	if err != nil {
		return err // callers test fs.ErrNotExist
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("audit key file %s has mode %04o, want 0600 (chmod 600 it)", k.path, st.Mode().Perm())
	}
	data, err := readLimited(k.path)
	if err != nil {
		return fmt.Errorf("reading audit key file: %w", err)
	}
	var f keyFile
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("parsing audit key file %s: %w", k.path, err)
	}
	var priv ed25519.PrivateKey
	for _, e := range f.Keys {
		pub, err := decodeKey(e.Public, ed25519.PublicKeySize)
		if err != nil {
			return fmt.Errorf("parsing audit key file %s: key %q public: %w", k.path, e.ID, err)
		}
		if e.Private == "" {
			continue
		}
		if e.ID != f.Active {
			return fmt.Errorf("parsing audit key file %s: retired key %q still has a private key", k.path, e.ID)
		}
		seed, err := decodeKey(e.Private, ed25519.SeedSize)
		if err != nil {
			return fmt.Errorf("parsing audit key file %s: key %q seed: %w", k.path, e.ID, err)
		}
		priv = ed25519.NewKeyFromSeed(seed)
		if !priv.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(pub)) {
			return fmt.Errorf("parsing audit key file %s: key %q seed does not match its public key", k.path, e.ID)
		}
	}
	if priv == nil {
		return fmt.Errorf("parsing audit key file %s: active key %q has no private key", k.path, f.Active)
	}
	k.f, k.priv, k.info = f, priv, st
	return nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxKeyFile)
	}
	return data, nil
}

func decodeKey(s string, size int) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("bad base64: %w", err)
	}
	if len(b) != size {
		return nil, fmt.Errorf("%d bytes, want %d", len(b), size)
	}
	return b, nil
}

// Rotate makes a new active key and returns its id. The previous key's
// private half is discarded; its public key stays for verification.
func (k *KeyRing) Rotate(now time.Time) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.rotateLocked(now)
}

func (k *KeyRing) rotateLocked(now time.Time) (string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generating audit key: %w", err)
	}
	// The id is derived from the public key, so ids never repeat across rings.
	sum := Digest(pub)
	id := now.UTC().Format("20060102") + "-" + sum[:12]
	f := keyFile{Active: id}
	for _, e := range k.f.Keys {
		e.Private = ""
		f.Keys = append(f.Keys, e)
	}
	f.Keys = append(f.Keys, keyEntry{
		ID: id, Created: now.UTC().Truncate(time.Second),
		Public:  base64.StdEncoding.EncodeToString(pub),
		Private: base64.StdEncoding.EncodeToString(priv.Seed()),
	})
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encoding audit key file: %w", err)
	}
	if err := writeFileAtomic(k.path, append(data, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("writing audit key file: %w", err)
	}
	k.f, k.priv = f, priv
	k.info, _ = os.Stat(k.path) // nil only if the file vanished: Sign then reloads and reports it
	return id, nil
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it over path, so a crash leaves the old file or the new one, never half.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	ok = true
	return nil
}

// ActiveKeyID returns the id of the signing key.
func (k *KeyRing) ActiveKeyID() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.f.Active
}

// Sign returns a checkpoint of head signed by the active key. If the key
// file was replaced since it was loaded (a rotation by another process),
// it is loaded again first, so the retired key signs nothing more.
func (k *KeyRing) Sign(head Head, now time.Time) (Checkpoint, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if st, err := os.Stat(k.path); err != nil || k.info == nil || !os.SameFile(st, k.info) || !st.ModTime().Equal(k.info.ModTime()) || st.Mode() != k.info.Mode() {
		if err := k.load(); err != nil {
			return Checkpoint{}, fmt.Errorf("reloading audit key file: %w", err)
		}
	}
	if k.priv == nil {
		return Checkpoint{}, ErrNoKey
	}
	c := Checkpoint{Seq: head.Seq, Hash: head.Hash, Time: now.UTC().Truncate(time.Microsecond), KeyID: k.f.Active}
	c.Signature = ed25519.Sign(k.priv, CheckpointMessage(c))
	return c, nil
}

// Public returns the public keys of every key in the ring.
func (k *KeyRing) Public() PublicKeys {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make(PublicKeys, len(k.f.Keys))
	for _, e := range k.f.Keys {
		b, _ := base64.StdEncoding.DecodeString(e.Public) // checked at load
		out[e.ID] = ed25519.PublicKey(b)
	}
	return out
}

// Verify checks c's signature; an unknown key id is an error too.
func (p PublicKeys) Verify(c Checkpoint) error {
	pub, ok := p[c.KeyID]
	if !ok {
		return fmt.Errorf("checkpoint at seq %d is signed by unknown key %q", c.Seq, c.KeyID)
	}
	if !ed25519.Verify(pub, CheckpointMessage(c), c.Signature) {
		return fmt.Errorf("checkpoint at seq %d has an invalid signature (key %q)", c.Seq, c.KeyID)
	}
	return nil
}

// publicFile is the public key file for auditors (docs/formats/audit.md).
type publicFile struct {
	Keys []publicEntry `json:"keys"`
}

type publicEntry struct {
	ID     string `json:"id"`
	Public string `json:"public"`
}

// MarshalJSON writes the public key file format, keys sorted by id.
func (p PublicKeys) MarshalJSON() ([]byte, error) {
	f := publicFile{Keys: []publicEntry{}}
	for id, k := range p {
		f.Keys = append(f.Keys, publicEntry{ID: id, Public: base64.StdEncoding.EncodeToString(k)})
	}
	sort.Slice(f.Keys, func(i, j int) bool { return f.Keys[i].ID < f.Keys[j].ID })
	return json.MarshalIndent(f, "", "  ")
}

// LoadPublicKeys reads a public key file, or the public halves of a key
// file (both formats have a "keys" list with "id" and "public").
func LoadPublicKeys(path string) (PublicKeys, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, fmt.Errorf("reading audit public keys: %w", err)
	}
	var f publicFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parsing audit public keys %s: %w", path, err)
	}
	if len(f.Keys) == 0 {
		return nil, fmt.Errorf("parsing audit public keys %s: no keys", path)
	}
	out := make(PublicKeys, len(f.Keys))
	for _, e := range f.Keys {
		b, err := decodeKey(e.Public, ed25519.PublicKeySize)
		if err != nil {
			return nil, fmt.Errorf("parsing audit public keys %s: key %q: %w", path, e.ID, err)
		}
		out[e.ID] = b
	}
	return out, nil
}
