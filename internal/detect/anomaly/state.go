package anomaly

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
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

// SaveSnapshot writes s's state to path atomically (temp file, fsync,
// rename), so a crash leaves the previous snapshot intact.
func SaveSnapshot(path string, s Snapshotter) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("%s snapshot: %w", s.Name(), err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	w := bufio.NewWriterSize(tmp, 1<<20)
	if err := s.Snapshot(w); err != nil {
		tmp.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("%s snapshot: %w", s.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("%s snapshot: %w", s.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("%s snapshot: %w", s.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("%s snapshot: %w", s.Name(), err)
	}
	return nil
}

// LoadSnapshot restores s from path. A missing file returns an error
// wrapping os.ErrNotExist (start fresh); a snapshot that does not verify
// returns one wrapping baseline.ErrSnapshot and leaves s unchanged.
func LoadSnapshot(path string, s Snapshotter) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s restore: %w", s.Name(), err)
	}
	defer f.Close()
	return s.Restore(bufio.NewReaderSize(f, 1<<20))
}
