package baseline

import (
	"io"

	"github.com/rampart-ids/rampart/internal/snapshot"
)

// ErrSnapshot marks a snapshot that cannot be restored (snapshot.ErrInvalid).
var ErrSnapshot = snapshot.ErrInvalid

// WriteSnapshot is snapshot.Write.
func WriteSnapshot(w io.Writer, kind string, version uint32, v any) error {
	return snapshot.Write(w, kind, version, v)
}

// ReadSnapshot is snapshot.Read.
func ReadSnapshot(r io.Reader, kind string, version uint32, maxBytes int64, v any) error {
	return snapshot.Read(r, kind, version, maxBytes, v)
}
