package format

import "io"

// A RecordReader yields the records of one binary container, in order.
// Next returns io.EOF at the end, or a *RecordError for a damaged piece
// (the caller quarantines it and calls Next again: a corrupt chunk must not
// stop the rest of the file from being read).
type RecordReader interface {
	Next() ([]byte, error)
}

// StreamFormat is a binary container (e.g. Windows .evtx) recognised by its
// magic bytes. Its records are then parsed by the record Format named
// RecordFormat.
type StreamFormat struct {
	Name         string
	Magic        []byte
	RecordFormat string
	// Open starts reading r. Implementations may type-assert r to
	// io.ReaderAt (files) and must bound memory and time whatever the bytes.
	Open func(r io.Reader) (RecordReader, error)
}

var streams []StreamFormat

// RegisterStream adds a binary container format.
func RegisterStream(s StreamFormat) {
	regMu.Lock()
	defer regMu.Unlock()
	streams = append(streams, s)
}

// Streams returns the registered container formats.
func Streams() []StreamFormat {
	regMu.RLock()
	defer regMu.RUnlock()
	return append([]StreamFormat(nil), streams...)
}
