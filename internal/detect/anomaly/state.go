package anomaly

import (
	"bufio"
	"fmt"
	"io"
	"os"
)

// Snapshotter is a detector whose state survives a restart (Anomaly, Rarity).
type Snapshotter interface {
	Name() string
	Snapshot(w io.Writer) error
	Restore(r io.Reader) error
}

var (
	_ Snapshotter = (*Anomaly)(nil)
	_ Snapshotter = (*Rarity)(nil)
)

// WriteSnapshot writes s's state to path, unsynced: the caller (serve's
// checkpoints) syncs and renames the folder holding it into place.
func WriteSnapshot(path string, s Snapshotter) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("%s snapshot: %w", s.Name(), err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = s.Snapshot(w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s snapshot: %w", s.Name(), err)
	}
	return nil
}

// LoadSnapshot restores s from path. A missing file returns an error
// wrapping os.ErrNotExist (start fresh); a snapshot that does not verify
// returns one wrapping snapshot.ErrInvalid and leaves s unchanged.
func LoadSnapshot(path string, s Snapshotter) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s restore: %w", s.Name(), err)
	}
	defer f.Close()
	return s.Restore(bufio.NewReaderSize(f, 1<<20))
}
