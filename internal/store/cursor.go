package store

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// Cursor is the keyset position after the last alert of a ListAlerts page
// (newest LastSeen first, then id). Both stores encode it the same way, so a
// cursor is opaque to clients and checked as untrusted input.
type Cursor struct {
	LastSeen int64 // Unix microseconds
	ID       string
}

// Encode renders c for AlertPage.Next.
func (c Cursor) Encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.LastSeen, 10) + ":" + c.ID))
}

// DecodeCursor parses a client's cursor; anything malformed is ErrInvalid.
func DecodeCursor(s string) (Cursor, error) {
	if len(s) > 512 {
		return Cursor{}, fmt.Errorf("%w: cursor too long", ErrInvalid)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, fmt.Errorf("%w: malformed cursor", ErrInvalid)
	}
	ts, id, ok := strings.Cut(string(b), ":")
	if !ok || id == "" {
		return Cursor{}, fmt.Errorf("%w: malformed cursor", ErrInvalid)
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return Cursor{}, fmt.Errorf("%w: malformed cursor", ErrInvalid)
	}
	return Cursor{LastSeen: n, ID: id}, nil
}
