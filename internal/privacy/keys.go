package privacy

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// EpochKey is the secret of one key epoch. Pseudonyms are computed with keys
// derived from Secret; rotation starts a new epoch with a new Secret.
type EpochKey struct {
	// N numbers epochs from 1 upwards.
	N uint32
	// Created is when the epoch began.
	Created time.Time
	// Secret is 32 random bytes.
	Secret []byte
}

// A KeyStore holds the pseudonymization keys. Keys live outside the
// database (a 0600 key file in the data dir, or the config/environment), so
// a database dump alone cannot reverse or recompute pseudonyms.
//
// Methods are safe for concurrent use. Returned slices must not be modified.
type KeyStore interface {
	// Current returns the newest epoch.
	Current() (EpochKey, error)
	// Epoch returns epoch n, or an error wrapping ErrUnknownEpoch.
	Epoch(n uint32) (EpochKey, error)
	// Rotate starts epoch Current().N+1 created at now and returns it.
	Rotate(now time.Time) (EpochKey, error)
	// MappingKey returns the 32-byte AES-GCM key that seals the
	// re-identification mapping. It is separate from every epoch secret.
	MappingKey() ([]byte, error)
}

// keyFile is the persisted form of a key store (JSON; []byte as base64).
type keyFile struct {
	Version    int        `json:"version"`
	MappingKey []byte     `json:"mapping_key"`
	Epochs     []EpochKey `json:"epochs"`
}

func (kf *keyFile) validate() error {
	if kf.Version != 1 {
		return fmt.Errorf("unsupported key file version %d", kf.Version)
	}
	if len(kf.MappingKey) != 32 {
		return fmt.Errorf("mapping key must be 32 bytes, got %d", len(kf.MappingKey))
	}
	if len(kf.Epochs) == 0 {
		return errors.New("no key epochs")
	}
	for i, e := range kf.Epochs {
		if e.N != uint32(i+1) {
			return fmt.Errorf("epoch %d out of sequence (want %d)", e.N, i+1)
		}
		if len(e.Secret) != 32 {
			return fmt.Errorf("epoch %d secret must be 32 bytes, got %d", e.N, len(e.Secret))
		}
	}
	return nil
}

func newKeyFile(now time.Time) *keyFile {
	return &keyFile{Version: 1, MappingKey: randomKey(), Epochs: []EpochKey{{N: 1, Created: now.UTC(), Secret: randomKey()}}}
}

func randomKey() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}

// memKeys is the shared in-memory part of both key stores.
type memKeys struct {
	mu   sync.RWMutex
	kf   *keyFile
	save func(*keyFile) error // nil: not persisted
}

// Current implements KeyStore.
func (m *memKeys) Current() (EpochKey, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.kf.Epochs[len(m.kf.Epochs)-1], nil
}

// Epoch implements KeyStore.
func (m *memKeys) Epoch(n uint32) (EpochKey, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if n == 0 || int(n) > len(m.kf.Epochs) {
		return EpochKey{}, fmt.Errorf("epoch %d: %w", n, ErrUnknownEpoch)
	}
	return m.kf.Epochs[n-1], nil
}

// Rotate implements KeyStore; with a key file the new epoch is on disk
// before it is used.
func (m *memKeys) Rotate(now time.Time) (EpochKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := EpochKey{N: uint32(len(m.kf.Epochs) + 1), Created: now.UTC(), Secret: randomKey()}
	kf := *m.kf
	kf.Epochs = append(append([]EpochKey(nil), m.kf.Epochs...), next)
	if m.save != nil {
		if err := m.save(&kf); err != nil {
			return EpochKey{}, err
		}
	}
	m.kf = &kf
	return next, nil
}

// MappingKey implements KeyStore.
func (m *memKeys) MappingKey() ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.kf.MappingKey, nil
}

// NewMemoryKeyStore returns a key store with fresh random keys that lives
// only in memory (tests, and throw-away pseudonymization of one export).
func NewMemoryKeyStore(now time.Time) KeyStore {
	return &memKeys{kf: newKeyFile(now)}
}

// KeyStoreFromJSON parses a key store given in the configuration or the
// environment (the same JSON as the key file). Rotate on it works in memory
// only; persist rotations by using a key file instead.
func KeyStoreFromJSON(data []byte) (KeyStore, error) {
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		return nil, fmt.Errorf("parsing privacy keys: %w", err)
	}
	if err := kf.validate(); err != nil {
		return nil, fmt.Errorf("parsing privacy keys: %w", err)
	}
	return &memKeys{kf: &kf}, nil
}

// OpenKeyFile opens the key file at path, creating it with fresh keys (mode
// 0600, parent directory 0700) when it does not exist. A key file readable
// or writable by group or others is refused rather than silently used.
// Rotations are written back atomically (temporary file and rename).
func OpenKeyFile(path string, now time.Time) (KeyStore, error) {
	save := func(kf *keyFile) error { return writeKeyFile(path, kf) }
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		kf := newKeyFile(now)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("creating key directory: %w", err)
		}
		if err := save(kf); err != nil {
			return nil, err
		}
		return &memKeys{kf: kf, save: save}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening key file: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("key file %s has mode %04o: must not be accessible by group or others (chmod 600)", path, perm)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading key file: %w", err)
	}
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		return nil, fmt.Errorf("parsing key file %s: %w", path, err)
	}
	if err := kf.validate(); err != nil {
		return nil, fmt.Errorf("parsing key file %s: %w", path, err)
	}
	return &memKeys{kf: &kf, save: save}, nil
}

func writeKeyFile(path string, kf *keyFile) error {
	data, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding key file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".privacy-keys-*")
	if err != nil {
		return fmt.Errorf("writing key file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("writing key file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing key file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing key file: %w", err)
	}
	return nil
}

// epochKeys are the working keys derived from one epoch secret.
type epochKeys struct {
	n    uint32
	hmac []byte // names, e-mail addresses, host names
	pan  *cryptoPAn
}

func deriveEpoch(e EpochKey) (*epochKeys, error) {
	hk, err := hkdf.Key(sha256.New, e.Secret, nil, "rampart privacy v1 names", 32)
	if err != nil {
		return nil, fmt.Errorf("deriving epoch %d keys: %w", e.N, err)
	}
	pk, err := hkdf.Key(sha256.New, e.Secret, nil, "rampart privacy v1 crypto-pan", 32)
	if err != nil {
		return nil, fmt.Errorf("deriving epoch %d keys: %w", e.N, err)
	}
	pan, err := newCryptoPAn(pk)
	if err != nil {
		return nil, err
	}
	return &epochKeys{n: e.N, hmac: hk, pan: pan}, nil
}
