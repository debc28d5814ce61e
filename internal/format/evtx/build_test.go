package evtx

import (
	"encoding/binary"
	"hash/crc32"
	"unicode/utf16"
)

// A tiny BinXML/EVTX writer for crafted test inputs. Offsets in BinXML are
// chunk-relative, so the writer tracks where its bytes will sit.

type bx struct {
	b    []byte
	base int // chunk offset of b[0]
}

func (w *bx) pos() int { return w.base + len(w.b) }
func (w *bx) u8(v uint8) *bx {
	w.b = append(w.b, v)
	return w
}
func (w *bx) u16(v uint16) *bx {
	w.b = binary.LittleEndian.AppendUint16(w.b, v)
	return w
}
func (w *bx) u32(v uint32) *bx {
	w.b = binary.LittleEndian.AppendUint32(w.b, v)
	return w
}
func (w *bx) raw(b ...byte) *bx {
	w.b = append(w.b, b...)
	return w
}

func utf16le(s string) []byte {
	var out []byte
	for _, u := range utf16.Encode([]rune(s)) {
		out = binary.LittleEndian.AppendUint16(out, u)
	}
	return out
}

// name writes a name reference followed by the name stored inline.
func (w *bx) name(s string) *bx {
	w.u32(uint32(w.pos() + 4))
	u := utf16le(s)
	w.u32(0).u16(0).u16(uint16(len(u) / 2)).raw(u...).u16(0)
	return w
}

// open writes an element start; attrs marks that an attribute list follows.
func (w *bx) open(name string, attrs bool) *bx {
	tok := uint8(tokOpenStart)
	if attrs {
		tok |= 0x40
	}
	return w.u8(tok).u16(0xffff).u32(0).name(name)
}

func (w *bx) attrList() *bx { return w.u32(0) }
func (w *bx) attr(name string, more bool) *bx {
	tok := uint8(tokAttribute)
	if more {
		tok |= 0x40
	}
	return w.u8(tok).name(name)
}
func (w *bx) text(s string) *bx {
	u := utf16le(s)
	return w.u8(tokValue).u8(vtString).u16(uint16(len(u) / 2)).raw(u...)
}
func (w *bx) sub(idx uint16, t uint8, optional bool) *bx {
	tok := uint8(tokNormalSubst)
	if optional {
		tok = tokOptionalSubs
	}
	return w.u8(tok).u16(idx).u8(t)
}
func (w *bx) closeStart() *bx { return w.u8(tokCloseStart) }
func (w *bx) closeEmpty() *bx { return w.u8(tokCloseEmpty) }
func (w *bx) end() *bx        { return w.u8(tokEndElement) }
func (w *bx) fragment() *bx   { return w.raw(tokFragment, 1, 1, 0) }

// template writes a template instance whose definition is inline: body
// writes the definition's element(s); vals are the substitution values.
func (w *bx) template(body func(*bx), vals ...tv) *bx {
	w.u8(tokTemplate).u8(1).u32(0)
	w.u32(uint32(w.pos() + 4)) // definition right here
	w.u32(0).raw(make([]byte, 16)...)
	sizeAt := len(w.b)
	w.u32(0)
	start := len(w.b)
	w.fragment()
	body(w)
	w.u8(tokEOF)
	binary.LittleEndian.PutUint32(w.b[sizeAt:], uint32(len(w.b)-start))
	w.u32(uint32(len(vals)))
	for _, v := range vals {
		w.u16(uint16(len(v.b))).u8(v.t).u8(0)
	}
	for _, v := range vals {
		w.raw(v.b...)
	}
	return w
}

// tv is a typed substitution value.
type tv struct {
	t uint8
	b []byte
}

// buildChunk lays out records (each written by a func given a writer at
// the record's BinXML offset) in one chunk with valid checksums.
func buildChunk(firstID uint64, recs ...func(*bx)) []byte {
	c := make([]byte, chunkSize)
	copy(c, magicChunk)
	pos := chunkHeaderSize
	id := firstID
	for _, rec := range recs {
		w := &bx{base: pos + recordHeader}
		rec(w)
		size := recordHeader + len(w.b) + 4
		if pos+size > chunkSize {
			panic("test chunk overflow")
		}
		binary.LittleEndian.PutUint32(c[pos:], 0x00002a2a)
		binary.LittleEndian.PutUint32(c[pos+4:], uint32(size))
		binary.LittleEndian.PutUint64(c[pos+8:], id)
		binary.LittleEndian.PutUint64(c[pos+16:], 132000000000000000)
		copy(c[pos+recordHeader:], w.b)
		binary.LittleEndian.PutUint32(c[pos+size-4:], uint32(size))
		pos += size
		id++
	}
	binary.LittleEndian.PutUint64(c[8:], firstID)
	binary.LittleEndian.PutUint64(c[16:], id-1)
	binary.LittleEndian.PutUint32(c[40:], 128)
	binary.LittleEndian.PutUint32(c[48:], uint32(pos))
	binary.LittleEndian.PutUint32(c[52:], crc32.ChecksumIEEE(c[chunkHeaderSize:pos]))
	fixChunkCRC(c)
	return c
}

func fixChunkCRC(c []byte) {
	crc := crc32.Update(crc32.ChecksumIEEE(c[:120]), crc32.IEEETable, c[128:chunkHeaderSize])
	binary.LittleEndian.PutUint32(c[124:], crc)
}

// buildFile prepends a valid file header to chunks.
func buildFile(chunks ...[]byte) []byte {
	h := make([]byte, fileHeaderSize)
	copy(h, magicFile)
	binary.LittleEndian.PutUint32(h[32:], 128)
	binary.LittleEndian.PutUint16(h[36:], 1)
	binary.LittleEndian.PutUint16(h[38:], 3)
	binary.LittleEndian.PutUint16(h[40:], fileHeaderSize)
	binary.LittleEndian.PutUint16(h[42:], uint16(len(chunks)))
	binary.LittleEndian.PutUint32(h[124:], crc32.ChecksumIEEE(h[:120]))
	for _, c := range chunks {
		h = append(h, c...)
	}
	return h
}

// simpleEvent writes a small templated Event with System fields and one
// EventData item from substitutions.
func simpleEvent(eventID uint16, data string) func(*bx) {
	return func(w *bx) {
		w.fragment().template(func(w *bx) {
			w.open("Event", false).closeStart()
			w.open("System", false).closeStart()
			w.open("Provider", true).attrList().attr("Name", false).text("Test-Provider").closeEmpty()
			w.open("EventID", false).closeStart().sub(0, vtUint16, false).end()
			w.open("Channel", false).closeStart().text("Security").end()
			w.open("Computer", false).closeStart().text("host1").end()
			w.end()
			w.open("EventData", false).closeStart()
			w.open("Data", true).attrList().attr("Name", false).text("Value").closeStart().sub(1, vtString, true).end()
			w.end()
			w.end()
		}, tv{vtUint16, binary.LittleEndian.AppendUint16(nil, eventID)}, tv{vtString, utf16le(data)})
	}
}
