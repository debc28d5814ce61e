package sigma

import (
	"encoding/binary"
	"unsafe"
)

// Aho-Corasick over the literal atoms of one field slot. Every lower-case
// literal any rule tests on the slot (contains/startswith/endswith/equals
// patterns, regex and wildcard literals, prefilter needs) is an atom; one
// pass over the field value per event finds all of them, with where they
// occur (anywhere, at the start, at the end, the whole value), so the
// matchers answer from a table instead of searching the value once per
// pattern. The automaton is a DFA over byte classes with ASCII case folding
// in the class map: ASCII values are scanned without lower-casing them.

// Atom hit flags.
const (
	hitAny   uint8 = 1 << iota // occurs somewhere
	hitStart                   // occurs at offset 0
	hitEnd                     // occurs at the end
	hitWhole                   // is the whole value
)

// maxACCells bounds one slot's transition table (uint32 cells): beyond it
// the slot keeps the per-pattern search (an absurd rule set, not SigmaHQ).
const maxACCells = 1 << 25

type acMatcher struct {
	class  [256]uint16
	nclass uint32
	// The first ndense states (breadth-first: the root and the shallow
	// states, where a scan spends most steps) have dense rows of DFA
	// transitions: dense[state*nclass+class] = target<<1 | 1 if the target
	// has outputs. The deeper states keep only their trie edges and a
	// failure link: a big automaton (thousands of command-line literals)
	// as a full table is megabytes of rows that a scan visits one cache
	// miss at a time. Deep states are numbered depth-first, so following
	// one literal reads consecutive memory.
	ndense uint32
	dense  []uint32
	// For deep state ndense+d: its edges are edges[edgeOff[d]:edgeOff[d+1]],
	// each class<<33 | out<<32 | target; fail[d] is its failure state.
	edgeOff []uint32
	edges   []uint64
	fail    []uint32
	outOff  []uint32 // state id's outputs: outs[outOff[id]:outOff[id+1]]
	outs    []int32  // local pattern ids
	plen    []int32  // local pattern id → length
	pats    []string // local pattern id → pattern (for benchmarks and diagnostics)
	base    int32    // global atom id of local pattern 0
	// start has bit a<<8|b set when some pattern starts with the bytes a, b
	// (ASCII-folded; a one-byte pattern sets every b). In the root state,
	// the scan skips positions no pattern starts at without walking the DFA.
	start [1 << 16 / 64]uint64
	// When every pattern has at least gramLen (3 or 4) bytes, gram has the
	// hashed first gramLen bytes of each pattern set, and the skip tests
	// those instead of byte pairs: far fewer false starts on long text.
	// The table has at least 64 bits per pattern (so under 2% of them are
	// set): the big automata (thousands of command-line or hash literals)
	// are the ones whose DFA walks miss the cache.
	gramLen   int
	gramShift uint32
	gram      []uint64
}

func (m *acMatcher) gramHash(w uint32) uint32 { return (w * 0x9E3779B1) >> m.gramShift }

func (m *acMatcher) gramSet(h uint32) bool { return m.gram[h>>6]&(1<<(h&63)) != 0 }

// fold is ASCII lower-casing of one byte.
var fold = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] = byte(i + 'a' - 'A')
		}
	}
	return t
}()

func (m *acMatcher) mayStart(a, b byte) bool {
	k := uint32(fold[a])<<8 | uint32(fold[b])
	return m.start[k>>6]&(1<<(k&63)) != 0
}

func (m *acMatcher) setStart(a, b byte) {
	k := uint32(a)<<8 | uint32(b)
	m.start[k>>6] |= 1 << (k & 63)
}

// acDenseCells is the budget of an automaton's dense rows (uint32 cells).
const acDenseCells = 1 << 16

// buildAC compiles patterns (lower-case, non-empty, distinct). It returns
// nil if the construction table would exceed maxACCells.
func buildAC(pats []string, base int32) *acMatcher {
	return buildACDense(pats, base, acDenseCells)
}

// buildACDense is buildAC with a dense-row budget (tests force deep states).
func buildACDense(pats []string, base int32, denseCells int) *acMatcher {
	m := &acMatcher{base: base, pats: pats}
	used := [256]bool{}
	total := 1
	for _, p := range pats {
		total += len(p)
		for i := 0; i < len(p); i++ {
			used[p[i]] = true
		}
	}
	m.nclass = 1 // class 0: bytes no pattern has
	for b := 0; b < 256; b++ {
		if used[b] {
			m.class[b] = uint16(m.nclass)
			m.nclass++
		}
	}
	for b := 'A'; b <= 'Z'; b++ {
		if !used[b] {
			m.class[b] = m.class[b+'a'-'A']
		}
	}
	nc := int(m.nclass)
	if total*nc > maxACCells {
		return nil
	}
	// Trie with a dense goto table (0 = no edge; the root has no in-edges).
	trans := make([]int32, total*nc)
	own := make([][]int32, 1, total)
	states := 1
	m.plen = make([]int32, len(pats))
	minLen := -1
	for _, p := range pats {
		if minLen < 0 || len(p) < minLen {
			minLen = len(p)
		}
	}
	if minLen >= 3 {
		m.gramLen = min(minLen, 4)
		bits := uint32(16)
		for 1<<bits < 64*len(pats) && bits < 22 {
			bits++
		}
		m.gramShift = 32 - bits
		m.gram = make([]uint64, 1<<bits/64)
		for _, p := range pats {
			w := uint32(0)
			for i := 0; i < m.gramLen; i++ {
				w = w<<8 | uint32(p[i])
			}
			h := m.gramHash(w)
			m.gram[h>>6] |= 1 << (h & 63)
		}
	}
	for id, p := range pats {
		m.plen[id] = int32(len(p))
		if len(p) == 1 {
			for b := 0; b < 256; b++ {
				m.setStart(p[0], byte(b))
			}
		} else {
			m.setStart(p[0], p[1])
		}
		s := 0
		for i := 0; i < len(p); i++ {
			cl := int(m.class[p[i]])
			t := trans[s*nc+cl]
			if t == 0 {
				t = int32(states)
				trans[s*nc+cl] = t
				states++
				own = append(own, nil)
			}
			s = int(t)
		}
		own[s] = append(own[s], int32(id))
	}
	trans = trans[:states*nc]
	// The trie's edges, before the DFA fill hides them: kids[kidOff[s]:kidOff[s+1]].
	kidOff := make([]int32, states+1)
	kids := make([]uint64, 0, states) // class<<32 | child
	for st := 0; st < states; st++ {
		for cl := 0; cl < nc; cl++ {
			if t := trans[st*nc+cl]; t != 0 {
				kids = append(kids, uint64(cl)<<32|uint64(t))
			}
		}
		kidOff[st+1] = int32(len(kids))
	}
	// BFS: failure links, full DFA transitions and output sets.
	fail := make([]int32, states)
	outs := make([][]int32, states)
	queue := make([]int32, 0, states)
	for cl := 0; cl < nc; cl++ {
		if t := trans[cl]; t != 0 {
			fail[t] = 0
			queue = append(queue, t)
		}
	}
	outs[0] = own[0]
	for qi := 0; qi < len(queue); qi++ {
		s := int(queue[qi])
		outs[s] = append(append([]int32(nil), own[s]...), outs[fail[s]]...)
		for cl := 0; cl < nc; cl++ {
			t := trans[s*nc+cl]
			if t != 0 {
				fail[t] = trans[int(fail[s])*nc+cl]
				queue = append(queue, t)
			} else {
				trans[s*nc+cl] = trans[int(fail[s])*nc+cl]
			}
		}
	}
	// Dense states: the first ones in BFS order, within the budget.
	order := append([]int32{0}, queue...)
	nd := max(1, min(states, denseCells/nc))
	newID := make([]int32, states)
	for i := range newID {
		newID[i] = -1
	}
	for k, st := range order[:nd] {
		newID[st] = int32(k)
	}
	// Deep states: depth-first from the dense ones, children in class order.
	next := int32(nd)
	deep := make([]int32, 0, states-nd)
	var stack []int32
	for _, st := range order[:nd] {
		for i := kidOff[st+1] - 1; i >= kidOff[st]; i-- {
			if t := int32(uint32(kids[i])); newID[t] < 0 {
				stack = append(stack, t)
			}
		}
		for len(stack) > 0 {
			t := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			newID[t] = next
			next++
			deep = append(deep, t)
			for i := kidOff[t+1] - 1; i >= kidOff[t]; i-- {
				stack = append(stack, int32(uint32(kids[i])))
			}
		}
	}
	out := func(t int32) uint32 { return uint32(b2i(len(outs[t]) > 0)) }
	m.ndense = uint32(nd)
	m.dense = make([]uint32, nd*nc)
	for k, st := range order[:nd] {
		for cl := 0; cl < nc; cl++ {
			t := trans[int(st)*nc+cl]
			m.dense[k*nc+cl] = uint32(newID[t])<<1 | out(t)
		}
	}
	m.edgeOff = make([]uint32, len(deep)+1)
	m.fail = make([]uint32, len(deep))
	for d, st := range deep {
		for _, e := range kids[kidOff[st]:kidOff[st+1]] {
			t := int32(uint32(e))
			m.edges = append(m.edges, e>>32<<33|uint64(out(t))<<32|uint64(newID[t]))
		}
		m.edgeOff[d+1] = uint32(len(m.edges))
		m.fail[d] = uint32(newID[fail[st]])
	}
	order = append(order[:nd:nd], deep...) // new id → old state
	m.outOff = make([]uint32, states+1)
	for k, s := range order {
		m.outOff[k+1] = m.outOff[k] + uint32(len(outs[s]))
		m.outs = append(m.outs, outs[s]...)
	}
	return m
}

// scan runs the automaton over s (ASCII upper case folds through the class
// map; callers pass non-ASCII text already lower-cased) and records hits.
func (m *acMatcher) scan(c *evalCtx, s string) {
	n := len(s)
	nc, nd := m.nclass, m.ndense
	st := uint32(0)
	for i := 0; i < n; i++ {
		if st == 0 {
			// No match in progress: no match can start at a position
			// whose first bytes no pattern starts with.
			if k := m.gramLen; k > 0 {
				if i+k > n {
					return // every pattern is longer than what is left
				}
				w := uint32(0)
				for j := i; j < i+k-1; j++ {
					w = w<<8 | uint32(fold[s[j]])
				}
				j := i + k - 1
				for ; j < n; j++ {
					w = w<<8 | uint32(fold[s[j]])
					if k == 3 {
						w &= 0xFFFFFF
					}
					if m.gramSet(m.gramHash(w)) {
						break
					}
				}
				if j == n {
					return
				}
				i = j - k + 1
			} else {
				for i+1 < n && !m.mayStart(s[i], s[i+1]) {
					i++
				}
			}
		}
		cl := uint32(m.class[s[i]])
		var v uint32 // target<<1 | has outputs
	step:
		for {
			if st < nd {
				v = m.dense[st*nc+cl]
				break
			}
			d := st - nd
			for _, e := range m.edges[m.edgeOff[d]:m.edgeOff[d+1]] {
				if uint32(e>>33) == cl {
					v = uint32(e)<<1 | uint32(e>>32)&1
					break step
				}
			}
			st = m.fail[d] // shallower: the loop ends at a dense state
		}
		st = v >> 1
		if v&1 == 0 {
			continue
		}
		id := st
		end := i + 1
		for _, p := range m.outs[m.outOff[id]:m.outOff[id+1]] {
			start := end - int(m.plen[p])
			fl := hitAny
			if start == 0 {
				fl |= hitStart
			}
			if end == n {
				fl |= hitEnd
				if start == 0 {
					fl |= hitWhole
				}
			}
			c.hit(m.base+p, fl)
		}
	}
}

// hit records an atom occurrence; the first one in an event marks the
// rules whose prefilter need it satisfies.
func (c *evalCtx) hit(atom int32, fl uint8) {
	w, bit := atom>>6, uint64(1)<<(atom&63)
	if c.atomHit[w]&bit != 0 {
		c.atomFl[atom] |= fl
		return
	}
	if c.atomHit[w] == 0 {
		c.atomDirt = append(c.atomDirt, w)
	}
	c.atomHit[w] |= bit
	c.atomFl[atom] = fl
	rs := c.rs
	for _, r := range rs.needPost[rs.needOff[atom]:rs.needOff[atom+1]] {
		c.possible[r>>6] |= 1 << (r & 63)
	}
}

// has reports whether atom occurred in the current event with flag fl.
func (c *evalCtx) has(atom int32, fl uint8) bool {
	return c.atomHit[atom>>6]&(1<<(atom&63)) != 0 && c.atomFl[atom]&fl != 0
}

// scanSlot runs slot's automaton over its value once per event and
// reports whether the atom table is valid for the slot.
func (c *evalCtx) scanSlot(slot int) bool {
	m, mu := c.rs.ac[slot], c.rs.acU[slot]
	if (m == nil && mu == nil) || c.slow {
		return false
	}
	if c.scanned[slot] == c.gen {
		return true
	}
	c.scanned[slot] = c.gen
	f := c.field(slot)
	if !f.present {
		return true
	}
	if f.isList {
		for _, s := range f.list {
			if isASCII(s) {
				m.scanIf(c, s)
			} else {
				low := c.lower(s)
				m.scanIf(c, low)
				mu.scanIf(c, low)
			}
		}
		return true
	}
	if isASCII(f.raw) {
		m.scanIf(c, f.raw)
	} else {
		low := c.lowOf(f)
		m.scanIf(c, low)
		mu.scanIf(c, low)
	}
	return true
}

// scanIf is scan on a possibly absent automaton.
func (m *acMatcher) scanIf(c *evalCtx, s string) {
	if m != nil {
		m.scan(c, s)
	}
}

func isASCII(s string) bool {
	i := 0
	// Eight bytes at a time: whole records are checked once per event.
	for ; i+8 <= len(s); i += 8 {
		if binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))&0x8080808080808080 != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
