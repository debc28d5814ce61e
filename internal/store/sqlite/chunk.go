package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/pierrec/lz4/v4"
)

// Events are stored in chunks: one row per write batch holding its events
// in LZ4-compressed frames of frameEvents events each. One row instead of a
// row per event, and a fifth of the bytes, is what lets the single writer
// keep up with ingest; a frame is the unit a reader decompresses, so fetching
// one event by id costs one frame, not the chunk.
//
// Chunk blob, version 1:
//
//	byte     version (1)
//	uvarint  events
//	uvarint  frames
//	frames × (uvarint decoded length, uvarint stored length; 0 = stored uncompressed)
//	frame bytes, concatenated
//
// A decoded frame is its events one after another:
//
//	byte     flags (entryDeleted: nothing follows; entryJSON: fields are
//	         store.EncodeFields' JSON, else appendFields' binary)
//	uvarint+bytes id, varint time, varint received (Unix µs),
//	uvarint+bytes source, format, fields, raw
//
// A deleted entry keeps its position, so index locations stay valid when a
// purge rewrites part of a chunk.
const (
	chunkVersion = 1
	frameEvents  = 64
	// chunkMaxEvents bounds the events in one chunk: a location packs the
	// position into its low 16 bits.
	chunkMaxEvents = 1 << 12
	// maxFrameBytes bounds a frame's decoded size, so a corrupt length
	// cannot make a reader allocate without limit.
	maxFrameBytes = 256 << 20
	entryDeleted  = 1
	entryJSON     = 2
)

// entry is one event slot of a chunk, encoded fields kept as bytes.
type entry struct {
	deleted  bool
	id       string
	time     int64 // Unix µs
	received int64 // Unix µs
	source   string
	format   string
	fields   []byte
	json     bool // fields are store.EncodeFields' JSON (moved from the events table)
	raw      []byte
}

// idKey is the event index key of an event id: 64 bits of FNV-1a (ids are
// arbitrary strings; stored keys must not change between versions). Two
// ids with one key are told apart by the id kept in the chunk.
func idKey(id string) int64 {
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= prime64
	}
	return int64(h)
}

// keyOf is idKey; tests swap in a weak hash to force key collisions.
var keyOf = idKey

// loc packs a chunk id and a position in it into one index value.
func loc(chunk int64, pos int) int64 { return chunk<<16 | int64(pos) }

func splitLoc(l int64) (chunk int64, pos int) { return l >> 16, int(l & 0xffff) }

// chunkScratch is encodeChunk's reusable state.
type chunkScratch struct {
	c                   lz4.Compressor
	head, plain, packed []byte
	body                []byte
}

var scratches = sync.Pool{New: func() any { return new(chunkScratch) }}

// encodeChunk renders entries as a chunk blob.
func encodeChunk(es []entry) []byte {
	sc := scratches.Get().(*chunkScratch)
	defer scratches.Put(sc)
	nFrames := (len(es) + frameEvents - 1) / frameEvents
	head := append(sc.head[:0], chunkVersion)
	head = binary.AppendUvarint(head, uint64(len(es)))
	head = binary.AppendUvarint(head, uint64(nFrames))
	plain, packed, body := sc.plain, sc.packed, sc.body[:0]
	for f := 0; f < nFrames; f++ {
		plain = plain[:0]
		for i := f * frameEvents; i < min((f+1)*frameEvents, len(es)); i++ {
			plain = appendEntry(plain, &es[i])
		}
		if bound := lz4.CompressBlockBound(len(plain)); cap(packed) < bound {
			packed = make([]byte, bound)
		}
		n, err := sc.c.CompressBlock(plain, packed[:cap(packed)])
		head = binary.AppendUvarint(head, uint64(len(plain)))
		if err != nil || n == 0 || n >= len(plain) {
			// Incompressible (or empty): stored as is.
			head = binary.AppendUvarint(head, 0)
			body = append(body, plain...)
			continue
		}
		head = binary.AppendUvarint(head, uint64(n))
		body = append(body, packed[:n]...)
	}
	sc.head, sc.plain, sc.packed, sc.body = head, plain, packed, body
	blob := make([]byte, 0, len(head)+len(body))
	return append(append(blob, head...), body...)
}

func appendEntry(b []byte, e *entry) []byte {
	if e.deleted {
		return append(b, entryDeleted)
	}
	flags := byte(0)
	if e.json {
		flags = entryJSON
	}
	b = append(b, flags)
	b = appendBytes(b, e.id)
	b = binary.AppendVarint(b, e.time)
	b = binary.AppendVarint(b, e.received)
	b = appendBytes(b, e.source)
	b = appendBytes(b, e.format)
	b = appendBytes(b, e.fields)
	return appendBytes(b, e.raw)
}

func appendBytes[T string | []byte](b []byte, s T) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errCorrupt = errors.New("corrupt event chunk")

// chunkReader reads a chunk blob's frames on demand.
type chunkReader struct {
	data    []byte // frame bytes
	events  int
	frames  []frameRef
	decoded map[int][]entry // frames at has decoded
}

type frameRef struct {
	off, stored, size int // stored 0: uncompressed, size bytes
}

func openChunk(blob []byte) (*chunkReader, error) {
	if len(blob) == 0 || blob[0] != chunkVersion {
		return nil, fmt.Errorf("%w: unknown version", errCorrupt)
	}
	p := blob[1:]
	events, p, ok := uvarint(p)
	if !ok || events > chunkMaxEvents {
		return nil, fmt.Errorf("%w: bad event count", errCorrupt)
	}
	nFrames, p, ok := uvarint(p)
	if !ok || nFrames != (events+frameEvents-1)/frameEvents {
		return nil, fmt.Errorf("%w: bad frame count", errCorrupt)
	}
	r := &chunkReader{events: int(events), frames: make([]frameRef, nFrames)}
	off := 0
	for i := range r.frames {
		var size, stored uint64
		if size, p, ok = uvarint(p); !ok || size > maxFrameBytes {
			return nil, fmt.Errorf("%w: bad frame size", errCorrupt)
		}
		// LZ4 expands by at most 255:1, so a small frame cannot claim a huge size.
		if stored, p, ok = uvarint(p); !ok || stored > size+size/255+16 || (stored > 0 && size > 255*stored+64) {
			return nil, fmt.Errorf("%w: bad frame size", errCorrupt)
		}
		r.frames[i] = frameRef{off: off, stored: int(stored), size: int(size)}
		if stored == 0 {
			off += int(size)
		} else {
			off += int(stored)
		}
	}
	if off != len(p) {
		return nil, fmt.Errorf("%w: %d frame bytes, header says %d", errCorrupt, len(p), off)
	}
	r.data = p
	return r, nil
}

// frame decodes frame f into its entries. Entries alias the decoded frame.
func (r *chunkReader) frame(f int) ([]entry, error) {
	fr := r.frames[f]
	var plain []byte
	if fr.stored == 0 {
		plain = r.data[fr.off : fr.off+fr.size]
	} else {
		plain = make([]byte, fr.size)
		n, err := lz4.UncompressBlock(r.data[fr.off:fr.off+fr.stored], plain)
		if err != nil || n != fr.size {
			return nil, fmt.Errorf("%w: frame %d does not decompress", errCorrupt, f)
		}
	}
	n := min(frameEvents, r.events-f*frameEvents)
	es := make([]entry, n)
	for i := range es {
		var err error
		if plain, err = readEntry(plain, &es[i]); err != nil {
			return nil, fmt.Errorf("%w: frame %d entry %d: %w", errCorrupt, f, i, err)
		}
	}
	if len(plain) != 0 {
		return nil, fmt.Errorf("%w: frame %d has %d trailing bytes", errCorrupt, f, len(plain))
	}
	return es, nil
}

// all decodes every entry of the chunk.
func (r *chunkReader) all() ([]entry, error) {
	out := make([]entry, 0, r.events)
	for f := range r.frames {
		es, err := r.frame(f)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	return out, nil
}

// at returns the entry at position pos, decoding its frame once.
func (r *chunkReader) at(pos int) (entry, error) {
	if pos < 0 || pos >= r.events {
		return entry{}, fmt.Errorf("%w: position %d of %d", errCorrupt, pos, r.events)
	}
	f := pos / frameEvents
	es, ok := r.decoded[f]
	if !ok {
		var err error
		if es, err = r.frame(f); err != nil {
			return entry{}, err
		}
		if r.decoded == nil {
			r.decoded = map[int][]entry{}
		}
		r.decoded[f] = es
	}
	return es[pos%frameEvents], nil
}

func readEntry(p []byte, e *entry) ([]byte, error) {
	if len(p) == 0 {
		return nil, errors.New("truncated")
	}
	flags := p[0]
	p = p[1:]
	if flags == entryDeleted {
		e.deleted = true
		return p, nil
	}
	if flags&^entryJSON != 0 {
		return nil, fmt.Errorf("unknown flags %#x", flags)
	}
	e.json = flags == entryJSON
	var (
		b  []byte
		ok bool
	)
	if b, p, ok = bytesField(p); !ok {
		return nil, errors.New("bad id")
	}
	e.id = string(b)
	var n int
	if e.time, n = binary.Varint(p); n <= 0 {
		return nil, errors.New("bad time")
	}
	p = p[n:]
	if e.received, n = binary.Varint(p); n <= 0 {
		return nil, errors.New("bad received")
	}
	p = p[n:]
	if b, p, ok = bytesField(p); !ok {
		return nil, errors.New("bad source")
	}
	e.source = string(b)
	if b, p, ok = bytesField(p); !ok {
		return nil, errors.New("bad format")
	}
	e.format = string(b)
	if e.fields, p, ok = bytesField(p); !ok {
		return nil, errors.New("bad fields")
	}
	if e.raw, p, ok = bytesField(p); !ok {
		return nil, errors.New("bad raw")
	}
	return p, nil
}

func uvarint(p []byte) (uint64, []byte, bool) {
	v, n := binary.Uvarint(p)
	if n <= 0 {
		return 0, p, false
	}
	return v, p[n:], true
}

func bytesField(p []byte) ([]byte, []byte, bool) {
	n, p, ok := uvarint(p)
	if !ok || n > uint64(len(p)) {
		return nil, p, false
	}
	return p[:n], p[n:], true
}
