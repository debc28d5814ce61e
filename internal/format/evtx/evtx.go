// Package evtx reads Windows XML Event Log (.evtx) files natively: file
// header, 64 KiB chunks with their CRC32 checks, event records and the
// Binary XML (BinXML) they hold, with templates, substitutions and every
// value type. It was written from the libyal EVTX format documentation and
// Microsoft's [MS-EVEN6] BinXML description.
//
// Each record becomes one flat JSON object in the layout of the Windows
// JSON exports Rampart already reads (record format "windows"): System
// fields at top level (Provider, ProviderGuid, EventID, Version, Level, Task, Opcode,
// Keywords, TimeCreated, EventRecordID, ActivityID, ProcessID, ThreadID,
// Channel, Computer, UserID), then EventData {Name: value} with unnamed
// items and Binary under "_data", or UserData {wrapper: {name: value}}.
//
// Bounds: memory and time per file are bounded whatever the bytes. Counts
// read from the file (substitutions, nesting, string lengths, element
// depth, expanded output) are capped and checked against the bytes that
// remain; a damaged chunk or record is reported as a *format.RecordError
// and reading continues with the next one. Reasons: bad_file_header_crc,
// truncated_chunk, bad_chunk_signature, bad_chunk_crc (the chunk is
// skipped), bad_record (the reader resynchronises on the next record
// header), bad_binxml, too_large, too_deep, and parser_panic (a bug caught
// at the record boundary).
package evtx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/rampart-ids/rampart/internal/format"
)

// Limits. They are far above anything Windows writes, and low enough that
// a hostile file cannot exhaust memory or time.
const (
	fileHeaderSize  = 4096
	chunkSize       = 65536
	chunkHeaderSize = 512
	recordHeader    = 24

	// MaxStreamBytes caps how much of a non-seekable input is buffered.
	MaxStreamBytes = 512 << 20
	// maxSubstitutions caps the substitution values of one template instance.
	maxSubstitutions = 4096
	// maxElementDepth caps element nesting inside one BinXML fragment.
	maxElementDepth = 64
	// maxNesting caps BinXML values nested inside substitution values.
	maxNesting = 8
	// maxRecordNodes caps the elements and attributes expanded for one record.
	maxRecordNodes = 50000
	// maxRecordText caps the rendered text of one record (templates may
	// reference a large value many times).
	maxRecordText = 8 << 20
)

var (
	magicFile  = []byte("ElfFile\x00")
	magicChunk = []byte("ElfChnk\x00")
)

// errNotEVTX is returned by Open for input without the file signature.
var errNotEVTX = errors.New("not an evtx file: bad signature")

func init() {
	format.RegisterStream(format.StreamFormat{
		Name:         "evtx",
		Magic:        magicFile,
		RecordFormat: "windows",
		Open:         openStream,
	})
}

// openStream adapts Open to format.StreamFormat: files are read in place
// through io.ReaderAt, other readers are buffered up to MaxStreamBytes.
func openStream(r io.Reader) (format.RecordReader, error) {
	if ra, ok := r.(io.ReaderAt); ok {
		if size, ok := sizeOf(r); ok {
			return Open(ra, size)
		}
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxStreamBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading evtx stream: %w", err)
	}
	if len(data) > MaxStreamBytes {
		return nil, &format.RecordError{Reason: "too_large", Detail: fmt.Sprintf("evtx stream larger than %d bytes", MaxStreamBytes)}
	}
	return Open(bytes.NewReader(data), int64(len(data)))
}

// sizeOf finds the size of seekable readers (os.File, bytes.Reader, …).
func sizeOf(r io.Reader) (int64, bool) {
	switch v := r.(type) {
	case interface{ Size() int64 }:
		return v.Size(), true
	case io.Seeker:
		cur, err := v.Seek(0, io.SeekCurrent)
		if err != nil {
			return 0, false
		}
		end, err := v.Seek(0, io.SeekEnd)
		if err != nil {
			return 0, false
		}
		if _, err := v.Seek(cur, io.SeekStart); err != nil {
			return 0, false
		}
		return end, true
	}
	return 0, false
}

// Reader yields the records of one .evtx file as flat JSON objects.
// It is used from one goroutine.
type Reader struct {
	r       io.ReaderAt
	size    int64
	nChunks int64
	next    int64 // next chunk index to load
	pending []error

	ch      *chunk // from chunkPool; returned at the end of the file
	inChunk bool
	recPos  int // next record offset inside the loaded chunk
	recEnd  int

	// Stats counts what was read, for eval and logs.
	Stats Stats
}

// Stats counts the pieces of a file.
type Stats struct {
	Chunks        int // chunks with a valid header
	ChunksBad     int // chunks quarantined (bad signature or header CRC)
	ChunksEmpty   int // unused (all zero) chunks
	Records       int // records returned
	RecordsBad    int // records quarantined
	DataCRCErrors int // chunks whose record data CRC did not match (records still read)
}

// Open starts reading an .evtx file of the given size. It checks the file
// header; chunks are read lazily by Next.
func Open(r io.ReaderAt, size int64) (*Reader, error) {
	var hdr [128]byte
	if size < int64(len(hdr)) {
		return nil, errNotEVTX
	}
	if _, err := r.ReadAt(hdr[:], 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading evtx file header: %w", err)
	}
	if !bytes.Equal(hdr[:8], magicFile) {
		return nil, errNotEVTX
	}
	rd := &Reader{r: r, size: size}
	if size > fileHeaderSize {
		// The header's chunk count is unreliable in dirty files; the file
		// size decides. A trailing partial chunk is reported by Next.
		rd.nChunks = (size - fileHeaderSize + chunkSize - 1) / chunkSize
	}
	if crc32.ChecksumIEEE(hdr[:120]) != binary.LittleEndian.Uint32(hdr[124:]) {
		rd.pending = append(rd.pending, format.Reject("bad_file_header_crc", "file header checksum mismatch (chunks are still read)"))
	}
	rd.ch = chunkPool.Get().(*chunk)
	return rd, nil
}

// Next returns the next record as one JSON object, io.EOF at the end, or a
// *format.RecordError for a damaged chunk or record (call Next again to go
// on). The returned slice is owned by the caller.
func (rd *Reader) Next() ([]byte, error) {
	for {
		if len(rd.pending) > 0 {
			err := rd.pending[0]
			rd.pending = rd.pending[1:]
			return nil, err
		}
		if rd.inChunk {
			out, err, ok := rd.nextRecord()
			if ok {
				return out, err
			}
			rd.inChunk = false
			continue
		}
		if rd.next >= rd.nChunks {
			if rd.ch != nil {
				chunkPool.Put(rd.ch)
				rd.ch = nil
			}
			return nil, io.EOF
		}
		if err := rd.loadChunk(rd.next); err != nil {
			rd.next++
			var re *format.RecordError
			if errors.As(err, &re) {
				return nil, err
			}
			if err == errEmptyChunk {
				continue
			}
			return nil, err
		}
		rd.next++
	}
}

var errEmptyChunk = errors.New("empty chunk")

// chunkPool recycles the 64 KiB chunk buffers and caches between files.
var chunkPool = sync.Pool{New: func() any {
	c := new(chunk)
	c.init()
	return c
}}

// loadChunk reads and checks chunk i.
func (rd *Reader) loadChunk(i int64) error {
	off := fileHeaderSize + i*chunkSize
	buf := rd.ch.buf[:]
	n, err := rd.r.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading evtx chunk %d: %w", i, err)
	}
	if n < chunkSize {
		if allZero(buf[:n]) {
			rd.Stats.ChunksEmpty++
			return errEmptyChunk
		}
		if n < chunkHeaderSize {
			rd.Stats.ChunksBad++
			return format.Reject("truncated_chunk", "chunk %d at offset %d: %d of %d bytes", i, off, n, chunkSize)
		}
		// Report the cut, then read the records the partial chunk holds.
		rd.pending = append(rd.pending, format.Reject("truncated_chunk",
			"chunk %d at offset %d: %d of %d bytes, records up to the cut are read", i, off, n, chunkSize))
		clear(buf[n:])
	}
	if !bytes.Equal(buf[:8], magicChunk) {
		if allZero(buf[:chunkHeaderSize]) {
			rd.Stats.ChunksEmpty++
			return errEmptyChunk
		}
		rd.Stats.ChunksBad++
		return format.Reject("bad_chunk_signature", "chunk %d at offset %d", i, off)
	}
	want := binary.LittleEndian.Uint32(buf[124:])
	crc := crc32.Update(crc32.ChecksumIEEE(buf[:120]), crc32.IEEETable, buf[128:chunkHeaderSize])
	if crc != want {
		rd.Stats.ChunksBad++
		return format.Reject("bad_chunk_crc", "chunk %d at offset %d: header checksum %08x, want %08x", i, off, crc, want)
	}
	rd.Stats.Chunks++
	rd.ch.reset()
	free := int(binary.LittleEndian.Uint32(buf[48:]))
	if free < chunkHeaderSize || free > chunkSize {
		free = chunkSize
	}
	if n < chunkSize && free > n {
		free = n
	}
	if dataCRC := binary.LittleEndian.Uint32(buf[52:]); crc32.ChecksumIEEE(buf[chunkHeaderSize:free]) != dataCRC {
		// Windows leaves a stale checksum in the chunk being written when
		// the log was not closed cleanly; records are checked one by one.
		rd.Stats.DataCRCErrors++
	}
	rd.inChunk = true
	rd.recPos = chunkHeaderSize
	rd.recEnd = free
	return nil
}

// nextRecord reads the record at recPos. ok is false at the end of the chunk.
func (rd *Reader) nextRecord() (out []byte, err error, ok bool) {
	c := rd.ch.buf[:]
	for rd.recPos+recordHeader+4 <= rd.recEnd {
		pos := rd.recPos
		if binary.LittleEndian.Uint32(c[pos:]) != 0x00002a2a {
			if allZero(c[pos:rd.recEnd]) {
				return nil, nil, false
			}
			next := rd.resync(pos + 1)
			rd.recPos = next
			rd.Stats.RecordsBad++
			return nil, format.Reject("bad_record", "chunk %d offset %d: bad record signature", rd.next-1, pos), true
		}
		size := int(binary.LittleEndian.Uint32(c[pos+4:]))
		if size < recordHeader+4 || pos+size > chunkSize || binary.LittleEndian.Uint32(c[pos+size-4:]) != uint32(size) {
			rd.recPos = rd.resync(pos + 1)
			rd.Stats.RecordsBad++
			return nil, format.Reject("bad_record", "chunk %d offset %d: bad record size %d", rd.next-1, pos, size), true
		}
		rd.recPos = pos + size
		out, err := rd.ch.record(pos, size)
		if err != nil {
			rd.Stats.RecordsBad++
			return nil, err, true
		}
		rd.Stats.Records++
		return out, nil, true
	}
	return nil, nil, false
}

// resync finds the next plausible record header at or after from.
func (rd *Reader) resync(from int) int {
	c := rd.ch.buf[:]
	for p := from; p+recordHeader+4 <= rd.recEnd; p++ {
		if c[p] != 0x2a || c[p+1] != 0x2a || c[p+2] != 0 || c[p+3] != 0 {
			continue
		}
		size := int(binary.LittleEndian.Uint32(c[p+4:]))
		if size >= recordHeader+4 && p+size <= chunkSize && binary.LittleEndian.Uint32(c[p+size-4:]) == uint32(size) {
			return p
		}
	}
	return rd.recEnd
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
