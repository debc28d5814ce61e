package sigma

import (
	"encoding/binary"
	"strings"
	"unsafe"
)

// Keyword items search the whole record (the keyword slot: message, else
// the raw record), and a rule such as "Mimikatz Use" routes to every
// Windows event. The slot's automaton finds every keyword literal of every
// rule, one byte at a time; a gramFilter answers "can one of this item's
// literals occur?" by looking at every stride-th position only, and the
// automaton runs only when it says yes.
//
// Each literal is represented by one window (a substring of length w, the
// same w for every literal of the item); the filter holds the hashes of
// every 4-gram of every window. An occurrence of a window covers w-3
// consecutive 4-gram starts, so sampling every stride = w-3 positions
// meets at least one of them. A sampled gram that is in the set is checked
// against the windows it belongs to; a window found there means the item
// may match and the exact path decides. So the filter has false positives
// only where a window occurs without its whole literal, and no false
// negatives.

const gramQ = 4

// maxGramWindow caps the window: a longer one samples less often but
// leaves fewer window positions to avoid grams common in records.
const maxGramWindow = 12

type gramFilter struct {
	stride int
	ascii  bool                 // every window is ASCII
	bits   [1 << 16 / 64]uint64 // hashed grams
	wins   []string             // per literal, its window
	// refs[gram] are the windows holding gram, as window index<<8 | offset.
	refs map[uint32][]uint32
}

// gram4 is the 4-gram at s[p:] (s[p] in the low byte) with gramCase: the
// key the filter is built and queried by.
func gram4(s string, p int) uint32 {
	return binary.LittleEndian.Uint32(unsafe.Slice(unsafe.StringData(s[p:]), gramQ)) | gramCase
}

func gramHash16(w uint32) uint32 { return (w * 0x9E3779B1) >> 16 }

// newGramFilter builds the filter of lits (lower-case). It returns nil
// when sampling would not skip anything (a literal shorter than 5 bytes).
func newGramFilter(lits []string) *gramFilter {
	w := maxGramWindow
	for _, l := range lits {
		w = min(w, len(l))
	}
	if w < gramQ+1 || len(lits) == 0 {
		return nil
	}
	g := &gramFilter{stride: w - gramQ + 1, refs: map[uint32][]uint32{}, ascii: true}
	for _, l := range lits {
		best, bestCost := 0, -1
		for off := 0; off+w <= len(l); off++ {
			cost := 0
			for p := off; p+gramQ <= off+w; p++ {
				cost += gramCost(l[p : p+gramQ])
			}
			if bestCost < 0 || cost < bestCost {
				best, bestCost = off, cost
			}
		}
		win := l[best : best+w]
		for p := 0; p+gramQ <= len(win); p++ {
			k := gram4(win, p)
			h := gramHash16(k)
			g.bits[h>>6] |= 1 << (h & 63)
			g.refs[k] = append(g.refs[k], uint32(len(g.wins))<<8|uint32(p))
		}
		g.wins = append(g.wins, win)
		g.ascii = g.ascii && isASCII(win)
	}
	return g
}

// commonWords are words frequent in records (field names of Windows and
// ECS JSON, common values): a window avoids their grams when it can.
var commonWords = []string{
	"event", "eventdata", "eventid", "eventrecordid", "windows", "microsoft", "system", "systemtime",
	"security", "process", "processid", "channel", "provider", "computer", "correlation", "execution",
	"thread", "threadid", "keywords", "level", "task", "opcode", "version", "timecreated", "guid",
	"name", "data", "time", "user", "logon", "status", "state", "command", "commandline", "script",
	"service", "services", "install", "string", "image", "target", "source", "value", "type",
	"description", "application", "change", "exchange", "manage", "management", "object", "access",
	"account", "domain", "address", "network", "message", "program", "files", "local", "registry",
	"software", "control", "current", "session", "parent", "original", "file", "company", "product",
	"hashes", "integrity", "directory", "policy", "privilege", "authority", "package", "request",
	"create", "created", "creation", "operation", "information", "subject", "workstation", "true",
	"false", "null", "http", "https", "sysmon", "powershell", "host", "path", "kerberos", "driver",
	"backup", "default", ".exe", ".dll", ".com", ".sys", "config", "configuration",
}

var commonGrams = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range commonWords {
		for p := 0; p+gramQ <= len(w); p++ {
			m[w[p:p+gramQ]] = true
		}
	}
	return m
}()

// gramCost guesses how common a 4-gram is in records: grams of common
// words cost most, then letters (parts of other words), then separators;
// digits and other punctuation cost nothing.
func gramCost(s string) int {
	if commonGrams[s] {
		return 100
	}
	cost := 0
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b >= 'a' && b <= 'z':
			cost += 2
		case b == ' ' || b == '.' || b == '\\' || b == '"' || b == ':' || b == ',' || b == '-':
			cost++ // separators of JSON, paths and names
		}
	}
	return cost
}

// mayContain reports whether one of the filter's literals may occur in s
// (ASCII upper case folds; callers pass non-ASCII text lower-cased).
func (g *gramFilter) mayContain(s string) bool {
	for p := 0; p+gramQ <= len(s); p += g.stride {
		k := gram4(s, p)
		h := gramHash16(k)
		if g.bits[h>>6]&(1<<(h&63)) != 0 && g.windowAt(s, p, k) {
			return true
		}
	}
	return false
}

// gramCase, or-ed into a 4-gram (s[p] in the low byte), folds ASCII upper
// case with one operation. It merges every byte b with b|0x20 (punctuation
// pairs such as \ and |, control characters with digits and punctuation,
// UTF-8 bytes 0x80-0x9F with 0xA0-0xBF): more candidates for windowAt,
// which compares exactly, never fewer.
const gramCase = 0x20202020

// windowAt reports whether a window holding gram k (with gramCase) at
// s[p:] occurs there.
func (g *gramFilter) windowAt(s string, p int, k uint32) bool {
	for _, ref := range g.refs[k] {
		win := g.wins[ref>>8]
		start := p - int(ref&0xff)
		if start < 0 || start+len(win) > len(s) {
			continue
		}
		if foldEqual(s[start:start+len(win)], win) {
			return true
		}
	}
	return false
}

// foldEqual reports whether s, ASCII-folded, equals low.
func foldEqual(s, low string) bool {
	for i := 0; i < len(s); i++ {
		if fold[s[i]] != low[i] {
			return false
		}
	}
	return true
}

// keywordFilter returns the filter of a keyword item whose match needs one
// of its literals (nil when the item has a value without one).
func keywordFilter(it *item) *gramFilter {
	if it.slot != keywordSlot || it.exists >= 0 || it.neq || len(it.vals) == 0 {
		return nil
	}
	vals := it.vals
	if it.all && len(it.groups) > 0 {
		vals = it.groups[0] // every group must match: the first one's literals are necessary
	}
	lits := make([]string, 0, len(vals))
	for _, v := range vals {
		l, _, ok := exactAtom(v)
		if !ok || v.isInt {
			return nil
		}
		lits = append(lits, l)
	}
	return newGramFilter(lits)
}

// keywordRejects reports whether the item's filter proves that none of its
// literals occurs in f (so the item cannot match).
func (it *item) keywordRejects(c *evalCtx, f *fval) bool {
	if it.kw == nil || c.slow || !f.present || f.isList || f.isInt {
		return false
	}
	if it.kw.ascii && !f.lowersToASCII() {
		// The matchers see strings.ToLower(raw). With ASCII windows that
		// text has a window exactly where the ASCII-folded raw has one,
		// unless a non-ASCII rune lowers to ASCII: no need to lower it.
		return !it.kw.mayContain(f.raw)
	}
	if isASCII(f.raw) {
		return !it.kw.mayContain(f.raw)
	}
	return !it.kw.mayContain(c.lowOf(f))
}

// lowersToASCII is lowersToASCII(f.raw), computed once per event: every
// keyword item of the event's rules reads the same record.
func (f *fval) lowersToASCII() bool {
	if f.l2a == 0 {
		f.l2a = 1 + b2u8(lowersToASCII(f.raw))
	}
	return f.l2a == 2
}

func b2u8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// lowersToASCII reports whether s has a rune outside ASCII whose lower
// case is ASCII: U+0130 (İ → i) and U+212A (Kelvin sign → k), the only
// two (TestLowersToASCII checks every rune).
func lowersToASCII(s string) bool {
	return strings.Contains(s, "\u0130") || strings.Contains(s, "\u212a")
}
