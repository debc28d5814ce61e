// Package model defines Rampart's model artifact: a versioned file that
// holds a trained model's parameters together with its training lineage
// (sources, time window, counts per class, what was excluded and why, a
// content hash of the training data), its metrics and thresholds, and a
// SHA-256 hash of its canonical serialisation. The loader refuses any file
// that is not exactly the canonical encoding of a body whose hash matches,
// so a flipped byte anywhere is refused. Signing (issue 4) signs Hash.
//
// File layout (JSON, canonical: compact, object keys sorted, numbers as
// written, one trailing newline):
//
//	{"body":{...},"format":"rampart-model","hash":"sha256:<hex>","version":1}
package model

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Format identifies model files; Version is the layout version this code writes.
const (
	Format  = "rampart-model"
	Version = 1
	// MaxFileBytes bounds a model file.
	MaxFileBytes = 512 << 20
)

// Errors returned by Load.
var (
	// ErrFormat means the file is not a model file of a known version.
	ErrFormat = errors.New("not a rampart model file of a supported version")
	// ErrNotCanonical means the file differs from the canonical encoding of
	// its content: it was edited or corrupted.
	ErrNotCanonical = errors.New("model file is not in canonical form")
	// ErrHash means the body's hash does not match the recorded hash.
	ErrHash = errors.New("model hash mismatch")
	// ErrTooLarge means the file exceeds MaxFileBytes.
	ErrTooLarge = errors.New("model file too large")
)

// Source is one input the training data came from.
type Source struct {
	Name   string `json:"name"`             // path, stream or table
	SHA256 string `json:"sha256,omitempty"` // hash of the source's bytes, when known
	Rows   int    `json:"rows"`
}

// Exclusion records training rows left out and why (alert-linked, a
// malicious verdict, suppressed, out of window, unparseable …).
type Exclusion struct {
	Reason string `json:"reason"`
	Rows   int    `json:"rows"`
}

// Lineage is where a model's training data came from.
type Lineage struct {
	Sources []Source `json:"sources"`
	// From and To bound the training window (event time); zero if unknown.
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// ClassCounts counts training rows per class ("normal", "attack", …).
	ClassCounts map[string]int `json:"class_counts"`
	Exclusions  []Exclusion    `json:"exclusions,omitempty"`
	// ContentHash is a ContentHasher digest of the training rows as used.
	ContentHash string `json:"content_hash"`
	// Seed is the random seed training used.
	Seed int64 `json:"seed"`
	// Privacy says how personal data in the inputs was pseudonymized before
	// features were built ("" when it was not).
	Privacy string `json:"privacy,omitempty"`
}

// Body is everything the hash covers.
type Body struct {
	Kind    string `json:"kind"`    // "iforest", "payload-lr", "seq", …
	Name    string `json:"name"`    // the model's id in Rampart
	Version string `json:"version"` // the model's own version (e.g. a date or counter)
	// Created is supplied by the trainer (event time of training, or the
	// trainer's clock); the package never reads the wall clock.
	Created  time.Time          `json:"created,omitzero"`
	Features []string           `json:"features,omitempty"`
	Lineage  Lineage            `json:"lineage"`
	Metrics  map[string]float64 `json:"metrics,omitempty"`
	// Thresholds holds the decision thresholds and the alert rates they were
	// derived from ("threshold", "target_rate").
	Thresholds map[string]float64 `json:"thresholds,omitempty"`
	// Params is the model itself, as the kind's package serialises it.
	Params json.RawMessage `json:"params"`
	// InputGuard is the input guard (internal/ml/guard) fitted on the
	// training inputs, hashed and signed with the model so it cannot be
	// swapped or loosened on its own. Absent in artifacts trained before
	// the guard existed.
	InputGuard json.RawMessage `json:"input_guard,omitempty"`
}

// Artifact is a loaded or built model file.
type Artifact struct {
	Body Body
	// Hash is "sha256:" and the hex SHA-256 of the canonical body.
	Hash string
}

type file struct {
	Body    json.RawMessage `json:"body"`
	Format  string          `json:"format"`
	Hash    string          `json:"hash"`
	Version int             `json:"version"`
}

// New builds an artifact, serialising params with encoding/json.
func New(body Body, params any) (*Artifact, error) {
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("encoding %s model params: %w", body.Kind, err)
	}
	body.Params = raw
	canon, err := canonicalBody(body)
	if err != nil {
		return nil, err
	}
	return &Artifact{Body: body, Hash: hashOf(canon)}, nil
}

// Params decodes the model parameters into v.
func (a *Artifact) Params(v any) error {
	if err := json.Unmarshal(a.Body.Params, v); err != nil {
		return fmt.Errorf("decoding %s model params: %w", a.Body.Kind, err)
	}
	return nil
}

func canonicalBody(b Body) ([]byte, error) {
	raw, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encoding model body: %w", err)
	}
	return Canonical(raw)
}

func hashOf(canon []byte) string {
	s := sha256.Sum256(canon)
	return "sha256:" + hex.EncodeToString(s[:])
}

// Canonical re-encodes JSON compactly with object keys sorted and numbers
// kept as written, so equal content has one byte form.
func Canonical(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonicalising json: %w", err)
	}
	if dec.More() {
		return nil, errors.New("canonicalising json: trailing data")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("canonicalising json: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Encode returns the file bytes of a.
func (a *Artifact) Encode() ([]byte, error) {
	canon, err := canonicalBody(a.Body)
	if err != nil {
		return nil, err
	}
	if h := hashOf(canon); h != a.Hash {
		return nil, fmt.Errorf("encoding model %s: body changed after hashing: %w", a.Body.Name, ErrHash)
	}
	raw, err := json.Marshal(file{Body: canon, Format: Format, Hash: a.Hash, Version: Version})
	if err != nil {
		return nil, fmt.Errorf("encoding model file: %w", err)
	}
	out, err := Canonical(raw)
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// Write writes a's file bytes to w.
func (a *Artifact) Write(w io.Writer) error {
	b, err := a.Encode()
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("writing model %s: %w", a.Body.Name, err)
	}
	return nil
}

// Load reads and verifies a model file: known format and version, exactly
// canonical bytes, and a body hash that matches. Any failure says why.
func Load(r io.Reader) (*Artifact, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading model file: %w", err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("loading model: %w (limit %d bytes)", ErrTooLarge, MaxFileBytes)
	}
	return Decode(data)
}

// Decode verifies and decodes model file bytes (see Load).
func Decode(data []byte) (*Artifact, error) {
	var f file
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("loading model: %w: %v", ErrFormat, err)
	}
	// encoding/json matches keys case-insensitively; a model file's keys
	// must be exactly the documented ones.
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil || len(keys) != 4 ||
		keys["body"] == nil || keys["format"] == nil || keys["hash"] == nil || keys["version"] == nil {
		return nil, fmt.Errorf("loading model: %w: want exactly the keys body, format, hash, version", ErrFormat)
	}
	if f.Format != Format || f.Version != Version {
		return nil, fmt.Errorf("loading model: %w (format %q version %d)", ErrFormat, f.Format, f.Version)
	}
	canon, err := Canonical(data)
	if err != nil || !bytes.Equal(append(canon, '\n'), data) {
		return nil, fmt.Errorf("loading model: %w", ErrNotCanonical)
	}
	if got := hashOf(f.Body); got != f.Hash {
		return nil, fmt.Errorf("loading model: %w (recorded %s, computed %s)", ErrHash, f.Hash, got)
	}
	var b Body
	bd := json.NewDecoder(bytes.NewReader(f.Body))
	bd.DisallowUnknownFields()
	if err := bd.Decode(&b); err != nil {
		return nil, fmt.Errorf("loading model body: %w: %v", ErrFormat, err)
	}
	// The body must round-trip to the bytes that were hashed, so what is
	// used is exactly what was verified.
	if again, err := canonicalBody(b); err != nil || !bytes.Equal(again, f.Body) {
		return nil, fmt.Errorf("loading model body: %w", ErrNotCanonical)
	}
	return &Artifact{Body: b, Hash: f.Hash}, nil
}

// ContentHasher digests training rows in order: the lineage's content hash.
// Rows are length-prefixed so row boundaries are part of the digest.
type ContentHasher struct {
	h    hashWriter
	rows int
}

type hashWriter interface {
	io.Writer
	Sum([]byte) []byte
}

// NewContentHasher returns an empty hasher.
func NewContentHasher() *ContentHasher { return &ContentHasher{h: sha256.New()} }

// Add adds one row.
func (c *ContentHasher) Add(row []byte) {
	var n [8]byte
	l := uint64(len(row))
	for i := range n {
		n[i] = byte(l >> (8 * i))
	}
	c.h.Write(n[:])
	c.h.Write(row)
	c.rows++
}

// Rows is the number of rows added.
func (c *ContentHasher) Rows() int { return c.rows }

// Sum returns "sha256:<hex>".
func (c *ContentHasher) Sum() string { return "sha256:" + hex.EncodeToString(c.h.Sum(nil)) }
