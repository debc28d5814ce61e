// Package snapshot is the framing every stateful detector's saved state
// uses (ML baselines, threshold buckets, correlation windows, flow and
// template state): a gob payload behind a header naming its kind and
// version, followed by a SHA-256 over both, checked before decoding.
package snapshot

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
)

// Magic opens every snapshot. The framing:
//
//	"RAMPSNAP" | kind length (uint16) | kind | version (uint32) |
//	payload length (uint64) | payload (gob) | SHA-256 of everything before it
//
// Integers are big-endian. The hash is checked before the payload is
// decoded, so a truncated or altered snapshot is refused, never half-loaded.
const Magic = "RAMPSNAP"

// ErrInvalid marks a snapshot that cannot be restored (wrong kind or
// version, hash mismatch, truncation, over the size limit).
var ErrInvalid = errors.New("invalid snapshot")

// Write gob-encodes v and writes it framed and hashed.
func Write(w io.Writer, kind string, version uint32, v any) error {
	var payload bytes.Buffer
	if err := gob.NewEncoder(&payload).Encode(v); err != nil {
		return fmt.Errorf("snapshot %s: encode: %w", kind, err)
	}
	var hdr bytes.Buffer
	hdr.WriteString(Magic)
	binary.Write(&hdr, binary.BigEndian, uint16(len(kind)))
	hdr.WriteString(kind)
	binary.Write(&hdr, binary.BigEndian, version)
	binary.Write(&hdr, binary.BigEndian, uint64(payload.Len()))
	h := sha256.New()
	h.Write(hdr.Bytes())
	h.Write(payload.Bytes())
	for _, b := range [][]byte{hdr.Bytes(), payload.Bytes(), h.Sum(nil)} {
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("snapshot %s: write: %w", kind, err)
		}
	}
	return nil
}

// Read reads a snapshot written by Write with the same kind
// and version into v. Payloads over maxBytes are refused before reading.
func Read(r io.Reader, kind string, version uint32, maxBytes int64, v any) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("snapshot %s: %w: %s", kind, ErrInvalid, fmt.Sprintf(format, args...))
	}
	h := sha256.New()
	tr := io.TeeReader(r, h)
	magic := make([]byte, len(Magic))
	if _, err := io.ReadFull(tr, magic); err != nil || string(magic) != Magic {
		return fail("not a Rampart snapshot")
	}
	var klen uint16
	if err := binary.Read(tr, binary.BigEndian, &klen); err != nil {
		return fail("truncated header")
	}
	k := make([]byte, klen)
	if _, err := io.ReadFull(tr, k); err != nil {
		return fail("truncated header")
	}
	if string(k) != kind {
		return fail("snapshot is of kind %q", k)
	}
	var ver uint32
	var n uint64
	if err := binary.Read(tr, binary.BigEndian, &ver); err != nil {
		return fail("truncated header")
	}
	if ver != version {
		return fail("version %d, this build reads %d", ver, version)
	}
	if err := binary.Read(tr, binary.BigEndian, &n); err != nil {
		return fail("truncated header")
	}
	if n > uint64(maxBytes) {
		return fail("payload of %d bytes exceeds the %d-byte limit", n, maxBytes)
	}
	var payload bytes.Buffer
	if _, err := io.CopyN(&payload, tr, int64(n)); err != nil {
		return fail("truncated payload")
	}
	sum := h.Sum(nil)
	got := make([]byte, sha256.Size)
	if _, err := io.ReadFull(r, got); err != nil {
		return fail("missing hash")
	}
	if !bytes.Equal(sum, got) {
		return fail("hash does not verify")
	}
	if err := gob.NewDecoder(&payload).Decode(v); err != nil {
		return fail("decode: %v", err)
	}
	return nil
}
