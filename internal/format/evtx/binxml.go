package evtx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/rampart-ids/rampart/internal/format"
)

// BinXML tokens ([MS-EVEN6] 2.2.12; libyal "Token types"). The 0x40 bit
// marks "more data follows" (values) or "has attributes" (elements).
const (
	tokEOF          = 0x00
	tokOpenStart    = 0x01
	tokCloseStart   = 0x02
	tokCloseEmpty   = 0x03
	tokEndElement   = 0x04
	tokValue        = 0x05
	tokAttribute    = 0x06
	tokCDATA        = 0x07
	tokCharRef      = 0x08
	tokEntityRef    = 0x09
	tokPITarget     = 0x0a
	tokPIData       = 0x0b
	tokTemplate     = 0x0c
	tokNormalSubst  = 0x0d
	tokOptionalSubs = 0x0e
	tokFragment     = 0x0f
)

// Value types.
const (
	vtNull    = 0x00
	vtString  = 0x01
	vtAnsi    = 0x02
	vtInt8    = 0x03
	vtUint8   = 0x04
	vtInt16   = 0x05
	vtUint16  = 0x06
	vtInt32   = 0x07
	vtUint32  = 0x08
	vtInt64   = 0x09
	vtUint64  = 0x0a
	vtReal32  = 0x0b
	vtReal64  = 0x0c
	vtBool    = 0x0d
	vtBinary  = 0x0e
	vtGUID    = 0x0f
	vtSizeT   = 0x10
	vtFiletm  = 0x11
	vtSystm   = 0x12
	vtSID     = 0x13
	vtHex32   = 0x14
	vtHex64   = 0x15
	vtBinXML  = 0x21
	vtArray   = 0x80
	vtTypeMax = 0x15
)

// errBinXML is the parse failure of one record; the reason is its text.
type parseError struct {
	reason string
	detail string
}

func (e *parseError) Error() string { return e.reason + ": " + e.detail }

func bad(format string, args ...any) error {
	return &parseError{reason: "bad_binxml", detail: fmt.Sprintf(format, args...)}
}

var (
	errTooDeep  = &parseError{reason: "too_deep", detail: "binxml nesting exceeds limits"}
	errTooLarge = &parseError{reason: "too_large", detail: "record expands beyond limits"}
)

// tnode is one node of a compiled BinXML fragment (a template definition or
// an inline element tree). Substitutions stay symbolic until instantiation.
type tnode struct {
	kind  uint8 // nElem, nText, nSubst
	opt   bool  // optional substitution
	vtype uint8 // declared type of a substitution
	idx   uint16
	name  string
	text  string
	attrs []tattr
	kids  []tnode
}

const (
	nElem = iota
	nText
	nSubst
)

type tattr struct {
	name  string
	value []tnode // nText / nSubst pieces
}

// tmpl is a compiled template definition, cached per chunk by offset.
type tmpl struct {
	nodes []tnode
	// refs are the names the definition references outside its own bytes;
	// a cached compilation is reused in another chunk only if they match.
	refs []nameRec
}

type nameRec struct {
	off  uint32
	name string
}

// maxTemplateCache bounds the cross-chunk template cache: key bytes plus
// an estimate of the compiled nodes' size.
const (
	maxTemplateCache = 16 << 20
	nodeCost         = 128
)

// val is one substitution value: its type and where its bytes are in the chunk.
type val struct {
	t   uint8
	off int
	n   int
}

// elem is one expanded XML element. Elements, attributes and text live in
// per-record arenas of the chunk (reused record after record); children
// are a linked list so that no per-element slices are allocated.
type elem struct {
	name  string
	attrs []attr
	text  []byte // all text content, concatenated
	kid   *elem  // first child
	last  *elem  // last child
	next  *elem  // next sibling
}

type attr struct {
	name  string
	value []byte
}

// addKid appends k to e's children.
func (e *elem) addKid(k *elem) {
	if e.last == nil {
		e.kid = k
	} else {
		e.last.next = k
	}
	e.last = k
}

// elemBlock is the arena block size.
const elemBlock = 256

// chunk holds one 64 KiB chunk and its per-chunk caches (the string and
// template tables are chunk-relative, so they are rebuilt per chunk).
type chunk struct {
	buf   [chunkSize]byte
	names map[uint32]string
	tmpls map[uint32]*tmpl

	// Template definitions repeat in every chunk of a log: compilations are
	// cached across chunks (and files) keyed by offset and bytes.
	tcache      map[string]*tmpl
	tcacheBytes int
	keyBuf      []byte
	scratch     []byte
	logRefs     bool
	refs        []nameRec

	// per record
	nodes   int
	textLen int
	out     []byte
	blocks  [][]elem // element arena
	blk, ix int      // next free element: blocks[blk][ix]
	attrBuf []attr
	textBuf []byte
	valBuf  []val
}

// newElem returns a zeroed element from the arena.
func (c *chunk) newElem(name string) *elem {
	if c.blk == len(c.blocks) {
		c.blocks = append(c.blocks, make([]elem, elemBlock))
	}
	e := &c.blocks[c.blk][c.ix]
	*e = elem{name: name}
	c.ix++
	if c.ix == elemBlock {
		c.blk, c.ix = c.blk+1, 0
	}
	return e
}

// resetArena recycles the per-record arenas. Slices handed out for the
// previous record must no longer be used.
func (c *chunk) resetArena() {
	c.blk, c.ix = 0, 0
	c.attrBuf = c.attrBuf[:0]
	c.textBuf = c.textBuf[:0]
	c.valBuf = c.valBuf[:0]
	if len(c.blocks) > 64 { // do not keep a hostile record's arena
		c.blocks = c.blocks[:64]
	}
	if cap(c.textBuf) > 1<<20 {
		c.textBuf = nil
	}
	if cap(c.attrBuf) > 1<<14 {
		c.attrBuf = nil
	}
}

func (c *chunk) init() {
	c.names = make(map[uint32]string, 64)
	c.tmpls = make(map[uint32]*tmpl, 16)
	c.tcache = make(map[string]*tmpl, 64)
}

// cachedTemplate looks the definition at d (data bytes body) up in the
// cross-chunk cache, or compiles it and adds it.
func (c *chunk) cachedTemplate(d int, body []byte) (*tmpl, error) {
	c.keyBuf = binary.LittleEndian.AppendUint32(c.keyBuf[:0], uint32(d))
	c.keyBuf = append(c.keyBuf, body...)
	if t, ok := c.tcache[string(c.keyBuf)]; ok && c.refsMatch(t) {
		return t, nil
	}
	c.logRefs, c.refs = true, c.refs[:0]
	before := c.nodes
	nodes, err := c.compileFragment(d+24, d+24+len(body), true)
	if err != nil {
		c.refs = c.refs[:0]
		nodes, err = c.compileFragment(d+24, d+24+len(body), false)
	}
	c.logRefs = false
	if err != nil {
		return nil, err
	}
	t := &tmpl{nodes: nodes, refs: append([]nameRec(nil), c.refs...)}
	cost := len(c.keyBuf) + nodeCost*(c.nodes-before)
	if c.tcacheBytes+cost > maxTemplateCache {
		clear(c.tcache)
		c.tcacheBytes = 0
	}
	c.tcache[string(c.keyBuf)] = t
	c.tcacheBytes += cost
	return t, nil
}

func (c *chunk) refsMatch(t *tmpl) bool {
	for _, r := range t.refs {
		if s, _, err := c.name(r.off); err != nil || s != r.name {
			return false
		}
	}
	return true
}

func (c *chunk) reset() {
	clear(c.names)
	clear(c.tmpls)
}

// record parses the record at pos (size bytes, checked by the caller) and
// renders it as JSON. A panic here would be a parser bug; it is recovered
// as a backstop and the record quarantined with the reason.
func (c *chunk) record(pos, size int) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			out = nil
			st := debug.Stack()
			if len(st) > 2048 {
				st = st[:2048]
			}
			err = format.Reject("parser_panic", "record at chunk offset %d: %v\n%s", pos, r, st)
		}
	}()
	c.nodes, c.textLen = 0, 0
	c.resetArena()
	recID := binary.LittleEndian.Uint64(c.buf[pos+8:])
	written := binary.LittleEndian.Uint64(c.buf[pos+16:])
	root := c.newElem("")
	err = c.documentEither(root, pos+recordHeader, pos+size-4, 0, true)
	if err != nil {
		var pe *parseError
		if errors.As(err, &pe) {
			return nil, &format.RecordError{Reason: pe.reason, Detail: fmt.Sprintf("record %d: %s", recID, pe.detail)}
		}
		return nil, format.Reject("bad_binxml", "record %d: %v", recID, err)
	}
	ev := child(root, "Event")
	if ev == nil {
		return nil, format.Reject("bad_binxml", "record %d: no Event element", recID)
	}
	c.out = renderJSON(c.out[:0], ev, recID, written)
	if cap(c.out) > 1<<20 {
		defer func() { c.out = nil }() // do not keep a huge buffer
	}
	return append([]byte(nil), c.out...), nil
}

// u16/u32 read little-endian values, checking bounds against end.
func (c *chunk) u8(pos, end int) (uint8, error) {
	if pos < 0 || pos+1 > end {
		return 0, bad("truncated at %d", pos)
	}
	return c.buf[pos], nil
}

func (c *chunk) u16(pos, end int) (uint16, error) {
	if pos < 0 || pos+2 > end {
		return 0, bad("truncated at %d", pos)
	}
	return binary.LittleEndian.Uint16(c.buf[pos:]), nil
}

func (c *chunk) u32(pos, end int) (uint32, error) {
	if pos < 0 || pos+4 > end {
		return 0, bad("truncated at %d", pos)
	}
	return binary.LittleEndian.Uint32(c.buf[pos:]), nil
}

// name reads the name structure at chunk offset off (cached) and returns it
// with the structure's size.
func (c *chunk) name(off uint32) (string, int, error) {
	o := int(off)
	if o < 0 || o+8 > chunkSize {
		return "", 0, bad("name offset %d out of chunk", off)
	}
	n := int(binary.LittleEndian.Uint16(c.buf[o+6:]))
	size := 8 + 2*n + 2
	if o+8+2*n > chunkSize {
		return "", 0, bad("name at %d overruns chunk", off)
	}
	if s, ok := c.names[off]; ok {
		return s, size, nil
	}
	c.scratch = decodeUTF16(c.scratch[:0], c.buf[o+8:o+8+2*n])
	str := string(c.scratch)
	c.names[off] = str
	return str, size, nil
}

// nameRef reads a 4-byte name offset at pos; an inline name (stored right
// there, the first time a chunk uses it) is skipped. It returns the name
// and the position after it.
func (c *chunk) nameRef(pos, end int) (string, int, error) {
	off, err := c.u32(pos, end)
	if err != nil {
		return "", 0, err
	}
	pos += 4
	s, size, err := c.name(off)
	if err != nil {
		return "", 0, bad("at %d: %v", pos-4, err.(*parseError).detail)
	}
	if int(off) == pos {
		if pos+size > end {
			return "", 0, bad("inline name at %d overruns", pos)
		}
		pos += size
	} else if c.logRefs {
		c.refs = append(c.refs, nameRec{off: off, name: s})
	}
	return s, pos, nil
}

// document parses a BinXML document between pos and end (fragment
// headers, template instances or elements, up to the end-of-file token)
// and adds its elements as children of parent.
func (c *chunk) document(parent *elem, pos, end, depth int, depID bool) error {
	if depth > maxNesting {
		return errTooDeep
	}
	for pos < end {
		tok := c.buf[pos]
		switch tok & 0x1f {
		case tokEOF:
			return nil
		case tokFragment:
			pos += 4
		case tokTemplate:
			p, err := c.templateInstance(parent, pos, end, depth)
			if err != nil {
				return err
			}
			pos = p
		case tokOpenStart:
			var n tnode
			p, err := c.compileElement(pos, end, &n, 0, depID)
			if err != nil {
				return err
			}
			if err := c.expand(parent, &n, nil, depth); err != nil {
				return err
			}
			pos = p
		case tokPITarget:
			_, p, err := c.nameRef(pos+1, end)
			if err != nil {
				return err
			}
			pos = p
		case tokPIData:
			n, err := c.u16(pos+1, end)
			if err != nil {
				return err
			}
			pos += 3 + 2*int(n)
		default:
			return bad("unexpected token 0x%02x at %d", tok, pos)
		}
	}
	return nil
}

// templateInstance reads a template instance at pos (token 0x0c): the
// definition (inline or a reference to an earlier one), then the
// substitution array, and expands it.
func (c *chunk) templateInstance(parent *elem, pos, end, depth int) (int, error) {
	defOff, err := c.u32(pos+6, end)
	if err != nil {
		return 0, err
	}
	pos += 10
	t, ok := c.tmpls[defOff]
	if ok && t == nil {
		return 0, bad("template at %d does not parse", defOff)
	}
	if !ok || int(defOff) == pos {
		d := int(defOff)
		if d < chunkHeaderSize || d+24 > chunkSize {
			return 0, bad("template offset %d out of chunk", defOff)
		}
		dataSize := int(binary.LittleEndian.Uint32(c.buf[d+20:]))
		if dataSize > chunkSize-d-24 {
			return 0, bad("template at %d: size %d overruns chunk", d, dataSize)
		}
		if !ok {
			var err error
			t, err = c.cachedTemplate(d, c.buf[d+24:d+24+dataSize])
			if err != nil {
				if pe, ok := err.(*parseError); ok && pe.reason == "bad_binxml" {
					c.tmpls[defOff] = nil // do not compile it again for every record
				}
				return 0, err
			}
			c.tmpls[defOff] = t
		}
		if d == pos {
			pos += 24 + dataSize
		}
	}
	count, err := c.u32(pos, end)
	if err != nil {
		return 0, err
	}
	pos += 4
	if count > maxSubstitutions || int(count)*4 > end-pos {
		return 0, bad("substitution count %d exceeds record", count)
	}
	vstart := len(c.valBuf)
	c.valBuf = append(c.valBuf, make([]val, count)...)
	vals := c.valBuf[vstart:len(c.valBuf):len(c.valBuf)]
	dp := pos + 4*int(count)
	for i := range vals {
		size := int(binary.LittleEndian.Uint16(c.buf[pos+4*i:]))
		vals[i] = val{t: c.buf[pos+4*i+2], off: dp, n: size}
		if size > end-dp {
			return 0, bad("substitution %d size %d exceeds record", i, size)
		}
		dp += size
	}
	for i := range t.nodes {
		n := &t.nodes[i]
		if n.kind != nElem {
			continue
		}
		if err := c.expand(parent, n, vals, depth); err != nil {
			return 0, err
		}
	}
	return dp, nil
}

// compileFragment compiles a template body: fragment header, element(s), EOF.
func (c *chunk) compileFragment(pos, end int, depID bool) ([]tnode, error) {
	var out []tnode
	for pos < end {
		tok := c.buf[pos]
		switch tok & 0x1f {
		case tokEOF:
			return out, nil
		case tokFragment:
			pos += 4
		case tokOpenStart:
			out = append(out, tnode{})
			p, err := c.compileElement(pos, end, &out[len(out)-1], 0, depID)
			if err != nil {
				return nil, err
			}
			pos = p
		default:
			return nil, bad("unexpected token 0x%02x in template at %d", tok, pos)
		}
	}
	return out, nil
}

// compileElement compiles the element starting at pos into n.
func (c *chunk) compileElement(pos, end int, n *tnode, depth int, depID bool) (int, error) {
	if depth > maxElementDepth {
		return 0, errTooDeep
	}
	c.nodes++
	if c.nodes > maxRecordNodes*4 {
		return 0, errTooLarge
	}
	tok := c.buf[pos]
	pos++
	if depID {
		pos += 2 // dependency identifier
	}
	pos += 4 // data size
	name, p, err := c.nameRef(pos, end)
	if err != nil {
		return 0, err
	}
	pos = p
	n.kind = nElem
	n.name = name
	if tok&0x40 != 0 {
		pos += 4 // attribute list size
		for pos < end {
			t := c.buf[pos]
			if t&0x1f != tokAttribute {
				break
			}
			aname, p, err := c.nameRef(pos+1, end)
			if err != nil {
				return 0, err
			}
			pos = p
			var pieces []tnode
			pieces, pos, err = c.compileValue(pos, end)
			if err != nil {
				return 0, err
			}
			n.attrs = append(n.attrs, tattr{name: aname, value: pieces})
			if t&0x40 == 0 {
				break
			}
		}
	}
	if pos >= end {
		return 0, bad("element %q truncated", name)
	}
	switch c.buf[pos] {
	case tokCloseEmpty:
		return pos + 1, nil
	case tokCloseStart:
		pos++
	default:
		return 0, bad("element %q: unexpected token 0x%02x at %d", name, c.buf[pos], pos)
	}
	for pos < end {
		t := c.buf[pos]
		switch t & 0x1f {
		case tokEndElement:
			return pos + 1, nil
		case tokOpenStart:
			n.kids = append(n.kids, tnode{})
			p, err := c.compileElement(pos, end, &n.kids[len(n.kids)-1], depth+1, depID)
			if err != nil {
				return 0, err
			}
			pos = p
		case tokValue, tokNormalSubst, tokOptionalSubs, tokCharRef, tokEntityRef, tokCDATA:
			pieces, p, err := c.compileValue(pos, end)
			if err != nil {
				return 0, err
			}
			if p == pos {
				return 0, bad("element %q: stuck at %d", name, pos)
			}
			n.kids = append(n.kids, pieces...)
			pos = p
		case tokPITarget:
			_, p, err := c.nameRef(pos+1, end)
			if err != nil {
				return 0, err
			}
			pos = p
		case tokPIData:
			l, err := c.u16(pos+1, end)
			if err != nil {
				return 0, err
			}
			pos += 3 + 2*int(l)
		default:
			return 0, bad("element %q: unexpected token 0x%02x at %d", name, t, pos)
		}
	}
	return 0, bad("element %q not closed", name)
}

// compileValue reads consecutive value pieces (text, substitutions,
// character and entity references, CDATA) at pos.
func (c *chunk) compileValue(pos, end int) ([]tnode, int, error) {
	var out []tnode
	for pos < end {
		t := c.buf[pos]
		switch t & 0x1f {
		case tokValue:
			vt, err := c.u8(pos+1, end)
			if err != nil {
				return nil, 0, err
			}
			s, p, err := c.inlineValue(vt, pos+2, end)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, tnode{kind: nText, text: s})
			pos = p
		case tokCDATA:
			l, err := c.u16(pos+1, end)
			if err != nil {
				return nil, 0, err
			}
			if 3+2*int(l) > end-pos {
				return nil, 0, bad("cdata at %d overruns", pos)
			}
			c.scratch = decodeUTF16(c.scratch[:0], c.buf[pos+3:pos+3+2*int(l)])
			out = append(out, tnode{kind: nText, text: string(c.scratch)})
			pos += 3 + 2*int(l)
		case tokCharRef:
			v, err := c.u16(pos+1, end)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, tnode{kind: nText, text: string(rune(v))})
			pos += 3
		case tokEntityRef:
			name, p, err := c.nameRef(pos+1, end)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, tnode{kind: nText, text: entity(name)})
			pos = p
		case tokNormalSubst, tokOptionalSubs:
			if pos+4 > end {
				return nil, 0, bad("substitution at %d truncated", pos)
			}
			out = append(out, tnode{kind: nSubst, opt: t&0x1f == tokOptionalSubs,
				idx: binary.LittleEndian.Uint16(c.buf[pos+1:]), vtype: c.buf[pos+3]})
			pos += 4
		default:
			return out, pos, nil
		}
	}
	return out, pos, nil
}

// entity resolves the XML predefined entities; others stay as references.
func entity(name string) string {
	switch name {
	case "lt":
		return "<"
	case "gt":
		return ">"
	case "amp":
		return "&"
	case "quot":
		return "\""
	case "apos":
		return "'"
	}
	return "&" + name + ";"
}

// inlineValue reads a value token's data (normally a length-prefixed
// UTF-16 string) and renders it.
func (c *chunk) inlineValue(vt uint8, pos, end int) (string, int, error) {
	switch vt {
	case vtString:
		l, err := c.u16(pos, end)
		if err != nil {
			return "", 0, err
		}
		if 2+2*int(l) > end-pos {
			return "", 0, bad("value at %d overruns", pos)
		}
		c.scratch = decodeUTF16(c.scratch[:0], c.buf[pos+2:pos+2+2*int(l)])
		return string(trimNUL(c.scratch)), pos + 2 + 2*int(l), nil
	case vtAnsi:
		l, err := c.u16(pos, end)
		if err != nil {
			return "", 0, err
		}
		if 2+int(l) > end-pos {
			return "", 0, bad("value at %d overruns", pos)
		}
		c.scratch = decodeAnsi(c.scratch[:0], c.buf[pos+2:pos+2+int(l)])
		return string(trimNUL(c.scratch)), pos + 2 + int(l), nil
	}
	size := fixedSize(vt)
	if size <= 0 || size > end-pos {
		return "", 0, bad("value token of type 0x%02x at %d", vt, pos)
	}
	c.scratch = appendValue(c.scratch[:0], vt, c.buf[pos:pos+size])
	return string(c.scratch), pos + size, nil
}

// expand instantiates a compiled element with substitution values and
// adds it to parent. The element's text pieces are expanded before its
// children, so that its text is contiguous in the arena (the layout uses an
// element's text only as a whole).
func (c *chunk) expand(parent *elem, n *tnode, vals []val, depth int) error {
	c.nodes++
	if c.nodes > maxRecordNodes {
		return errTooLarge
	}
	e := c.newElem(n.name)
	parent.addKid(e)
	c.textLen += len(n.name)
	if len(n.attrs) > 0 {
		astart := len(c.attrBuf)
		for i := range n.attrs {
			a := &n.attrs[i]
			vstart := len(c.textBuf)
			present := len(a.value) == 0
			for j := range a.value {
				p := &a.value[j]
				if p.kind == nText {
					c.textBuf = append(c.textBuf, p.text...)
					present = true
					continue
				}
				if int(p.idx) >= len(vals) || vals[p.idx].t == vtNull {
					if !p.opt {
						present = true
					}
					continue
				}
				present = true
				if x := vals[p.idx]; x.t != vtBinXML { // an element cannot be an attribute value
					c.textBuf = c.appendVal(c.textBuf, x)
				}
			}
			if !present {
				c.textBuf = c.textBuf[:vstart]
				continue // optional substitution without a value: no attribute
			}
			c.textLen += len(c.textBuf) - vstart + len(a.name)
			if c.textLen > maxRecordText {
				return errTooLarge
			}
			c.attrBuf = append(c.attrBuf, attr{name: a.name, value: c.textBuf[vstart:len(c.textBuf):len(c.textBuf)]})
		}
		e.attrs = c.attrBuf[astart:len(c.attrBuf):len(c.attrBuf)]
	}
	tstart := len(c.textBuf)
	for i := range n.kids {
		k := &n.kids[i]
		switch k.kind {
		case nText:
			c.textBuf = append(c.textBuf, k.text...)
		case nSubst:
			if int(k.idx) < len(vals) {
				if x := vals[k.idx]; x.t != vtNull && x.t != vtBinXML {
					c.textBuf = c.appendVal(c.textBuf, x)
				}
			}
		}
		if c.textLen+len(c.textBuf)-tstart > maxRecordText {
			return errTooLarge
		}
	}
	c.textLen += len(c.textBuf) - tstart
	e.text = c.textBuf[tstart:len(c.textBuf):len(c.textBuf)]
	for i := range n.kids {
		k := &n.kids[i]
		switch {
		case k.kind == nElem:
			if err := c.expand(e, k, vals, depth); err != nil {
				return err
			}
		case k.kind == nSubst && int(k.idx) < len(vals) && vals[k.idx].t == vtBinXML:
			if err := c.nested(e, vals[k.idx], depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// nested parses a BinXML substitution value into parent. Elements stored
// directly in such a value carry no dependency identifier (libyal notes
// this; template definitions do carry it).
func (c *chunk) nested(parent *elem, x val, depth int) error {
	if depth > maxNesting {
		return errTooDeep
	}
	return c.documentEither(parent, x.off, x.off+x.n, depth, false)
}

// documentEither parses a document with or without element dependency
// identifiers: prefer first, then the other way when that fails (some
// writers, e.g. tools that rewrite logs, store records without them).
func (c *chunk) documentEither(parent *elem, pos, end, depth int, prefer bool) error {
	// The budgets are not reset for the second try: retries (nested up
	// to maxNesting) spend the same per-record budget.
	kid, last := parent.kid, parent.last
	err := c.document(parent, pos, end, depth, prefer)
	if err == nil {
		return nil
	}
	var pe *parseError
	if errors.As(err, &pe) && pe.reason != "bad_binxml" {
		return err
	}
	parent.kid, parent.last = kid, last // drop what the failed try added
	if last != nil {
		last.next = nil
	}
	if err2 := c.document(parent, pos, end, depth, !prefer); err2 == nil {
		return nil
	}
	return err
}

// appendVal renders substitution value x.
func (c *chunk) appendVal(dst []byte, x val) []byte {
	return appendValue(dst, x.t, c.buf[x.off:x.off+x.n])
}

// decodeUTF16 appends the UTF-8 form of UTF-16LE b (odd trailing byte
// dropped, unpaired surrogates replaced).
func decodeUTF16(dst, b []byte) []byte {
	dst = slices.Grow(dst, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		// Fast path: four ASCII code units at a time.
		for i+8 <= len(b) && binary.LittleEndian.Uint64(b[i:])&0xff80ff80ff80ff80 == 0 {
			dst = append(dst, b[i], b[i+2], b[i+4], b[i+6])
			i += 8
		}
		if i+1 >= len(b) {
			break
		}
		u := uint16(b[i]) | uint16(b[i+1])<<8
		if u < 0x80 {
			dst = append(dst, byte(u))
			continue
		}
		r := rune(u)
		if utf16.IsSurrogate(r) {
			if u < 0xdc00 && i+3 < len(b) {
				u2 := uint16(b[i+2]) | uint16(b[i+3])<<8
				if r2 := utf16.DecodeRune(r, rune(u2)); r2 != utf8.RuneError {
					dst = utf8.AppendRune(dst, r2)
					i += 2
					continue
				}
			}
			r = utf8.RuneError
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// decodeAnsi decodes a single-byte string as Latin-1 (the codepage is not
// recorded in the file).
func decodeAnsi(dst, b []byte) []byte {
	for _, x := range b {
		if x < 0x80 {
			dst = append(dst, x)
		} else {
			dst = utf8.AppendRune(dst, rune(x))
		}
	}
	return dst
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}
