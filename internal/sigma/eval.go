package sigma

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/rampart-ids/rampart/internal/event"
)

// fval is one field's value for the current event, resolved once and
// lower-cased at most once (lazily) per event.
type fval struct {
	gen     uint32
	present bool
	isList  bool
	isInt   bool
	lowOK   bool
	// l2a caches lowersToASCII(raw) for keyword items (0 unknown, 1 no, 2 yes).
	l2a uint8
	// ipSt caches raw parsed as an address for cidr matchers (0 unknown,
	// 1 not an address, 2 ip holds it): a rule lists several ranges.
	ipSt    uint8
	ip      netip.Addr
	ival    int64
	raw     string
	low     string
	list    []string
	lowList []string
}

// evalCtx is the per-event evaluation state. It is reused across events
// (gen invalidates the field cache) so evaluation does not allocate.
type evalCtx struct {
	ev       *event.Event
	rs       *ruleSet
	gen      uint32
	slots    []fval
	seen     []uint32 // per rule: gen when it was last evaluated (routing dedupe)
	possible []uint64 // bit r: the prefilter found a required literal of rule r (a bit set: routing tests it per rule, and it stays in cache)
	scanned  []uint32 // per slot: gen when its automaton scanned it
	atomHit  []uint64 // bit a: atom a occurred in this event (a bit set: matchers test it, and it stays in cache)
	atomDirt []int32  // the words of atomHit set in this event (cleared at the next)
	atomFl   []uint8  // per atom: hit flags (valid when its atomHit bit is set)
	keys     []keyVal // per event key: its value, read once per event
	arena    []byte
	// slow disables every shortcut (prefilter, trigram skips, regex
	// literals): the reference path the differential tests compare with.
	slow bool
	// explain, when set, collects matched field items (after a match only).
	explain *[]matchedItem
	items   []matchedItem // explain's scratch
	route   chanRoute     // the last event's channel routes (of rs)
}

// keyVal is an event key's value (ok: present) as read in event gen.
type keyVal struct {
	gen uint32
	ok  bool
	v   any
}

type matchedItem struct {
	field  string
	mods   string
	value  string // the event's value (raw), not copied: valid during the event
	values []string
	head   string // describeHead of the item (computed when empty)
	it     *item  // the compiled item (nil in tests that build items by hand)
}

func newEvalCtx(rs *ruleSet) *evalCtx {
	return &evalCtx{rs: rs, slots: make([]fval, len(rs.slotKeys)), seen: make([]uint32, len(rs.rules)),
		possible: make([]uint64, (len(rs.rules)+63)/64), scanned: make([]uint32, len(rs.slotKeys)),
		atomHit: make([]uint64, (rs.natoms+63)/64), atomFl: make([]uint8, rs.natoms), arena: make([]byte, 0, 8192),
		keys: make([]keyVal, len(rs.keyNames))}
}

func (c *evalCtx) reset(ev *event.Event) {
	c.ev = ev
	clear(c.possible)
	for _, w := range c.atomDirt {
		c.atomHit[w] = 0
	}
	c.atomDirt = c.atomDirt[:0]
	c.gen++
	if c.gen == 0 { // wrapped: clear stale marks
		for i := range c.slots {
			c.slots[i].gen = 0
		}
		clear(c.seen)
		clear(c.scanned)
		clear(c.keys)
		c.gen = 1
	}
	c.arena = c.arena[:0]
}

// field returns the cached value of slot for the current event.
func (c *evalCtx) field(slot int) *fval {
	f := &c.slots[slot]
	if f.gen == c.gen {
		return f
	}
	f.gen = c.gen
	f.present, f.isList, f.isInt, f.lowOK, f.l2a, f.ipSt = false, false, false, false, 0, 0
	f.raw, f.low, f.list, f.lowList = "", "", nil, f.lowList[:0]
	if slot == keywordSlot {
		if v, ok := c.ev.Fields["message"]; ok {
			c.setValue(f, v)
		} else if len(c.ev.Raw) > 0 {
			f.present = true
			f.raw = unsafe.String(unsafe.SliceData(c.ev.Raw), len(c.ev.Raw))
		}
		return f
	}
	for _, k := range c.rs.slotKeyIDs[slot] {
		if v, ok := c.key(k); ok {
			c.setValue(f, v)
			if f.present {
				break
			}
		}
	}
	return f
}

// key returns the event's value of key id k, looked up once per event.
func (c *evalCtx) key(k int32) (any, bool) {
	e := &c.keys[k]
	if e.gen == c.gen {
		return e.v, e.ok
	}
	v, ok := c.ev.Fields[c.rs.keyNames[k]]
	e.gen, e.v, e.ok = c.gen, v, ok
	return v, ok
}

func (c *evalCtx) setValue(f *fval, v any) {
	switch x := v.(type) {
	case string:
		f.present, f.raw = x != "", x
	case int64:
		f.present, f.isInt, f.ival = true, true, x
		start := len(c.arena)
		c.arena = strconv.AppendInt(c.arena, x, 10)
		f.raw = c.arenaString(start)
		f.low, f.lowOK = f.raw, true
	case float64:
		f.present = true
		start := len(c.arena)
		c.arena = strconv.AppendFloat(c.arena, x, 'f', -1, 64)
		f.raw = c.arenaString(start)
		f.low, f.lowOK = f.raw, true
	case bool:
		f.present = true
		f.raw = strconv.FormatBool(x)
		f.low, f.lowOK = f.raw, true
	case []string:
		f.present, f.isList = len(x) > 0, true
		f.list = x // read only
	}
}

// arenaString returns the arena bytes from start as a string without
// copying. The arena is only appended to during one event; when it must
// grow, a new array is allocated and the old one stays alive while strings
// point into it, so these strings stay valid for the whole event.
func (c *evalCtx) arenaString(start int) string {
	if len(c.arena) == start {
		return ""
	}
	return unsafe.String(&c.arena[start], len(c.arena)-start)
}

func (c *evalCtx) lower(s string) string {
	// Eight bytes at a time (values are lowered once per event, but the
	// matchers the atom table cannot answer lower many of them).
	var up uint64 // high bit of each upper-case letter seen
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))
		if w&hiBits != 0 {
			return c.lowerUnicode(s)
		}
		up |= upperBits(w)
	}
	hasUpper := up != 0
	for ; i < len(s); i++ {
		b := s[i]
		if b >= utf8.RuneSelf {
			return c.lowerUnicode(s)
		}
		if 'A' <= b && b <= 'Z' {
			hasUpper = true
		}
	}
	if !hasUpper {
		return s
	}
	if cap(c.arena)-len(c.arena) < len(s) {
		c.arena = make([]byte, 0, 2*cap(c.arena)+len(s))
	}
	start := len(c.arena)
	c.arena = c.arena[:start+len(s)]
	dst := c.arena[start:]
	i = 0
	for ; i+8 <= len(s); i += 8 {
		w := binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))
		binary.LittleEndian.PutUint64(dst[i:], w|upperBits(w)>>2) // 0x80>>2 is 'a'-'A'
	}
	for ; i < len(s); i++ {
		b := s[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		dst[i] = b
	}
	return c.arenaString(start)
}

const hiBits = 0x8080808080808080

// upperBits has the high bit of each byte of w (all ASCII) that is 'A'..'Z':
// b+0x3f reaches 0x80 from 'A' on, b+0x25 from 'Z'+1 on, and neither
// carries into the next byte.
func upperBits(w uint64) uint64 {
	return (w + 0x3f3f3f3f3f3f3f3f) &^ (w + 0x2525252525252525) & hiBits
}

// lowerUnicode is strings.ToLower(s) (invalid bytes become U+FFFD, as
// strings.Map writes them) into the arena.
func (c *evalCtx) lowerUnicode(s string) string {
	if cap(c.arena)-len(c.arena) < len(s)+8 {
		// Values a third longer after lowering are rare; append grows otherwise.
		c.arena = make([]byte, 0, 2*cap(c.arena)+2*len(s))
	}
	start := len(c.arena)
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			c.arena = append(c.arena, b)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		c.arena = utf8.AppendRune(c.arena, unicode.ToLower(r))
		i += n
	}
	return c.arenaString(start)
}

func (c *evalCtx) lowOf(f *fval) string {
	if !f.lowOK {
		f.low, f.lowOK = c.lower(f.raw), true
	}
	return f.low
}

func (c *evalCtx) lowListOf(f *fval) []string {
	if len(f.lowList) != len(f.list) {
		f.lowList = f.lowList[:0]
		for _, s := range f.list {
			f.lowList = append(f.lowList, c.lower(s))
		}
	}
	return f.lowList
}

// match applies one value matcher to a field value. An absent field reads
// as the empty string (docs/fields.md: absent and empty are the same).
func (vm *valueMatcher) match(c *evalCtx, f *fval) bool {
	switch vm.op {
	case opNull:
		return !f.present
	case opAny:
		return true
	case opFieldref:
		return vm.matchRef(c, f)
	case opRe:
		if c.slow {
			// The reference path runs the regex as written.
			if f.isList {
				return slices.ContainsFunc(f.list, vm.reOrig.MatchString)
			}
			return vm.reOrig.MatchString(f.raw)
		}
	}
	if f.isList {
		if vm.op == opRe || vm.op == opCidr || vm.op == opNum || vm.cased {
			for _, s := range f.list {
				if vm.matchStr(s) {
					return true
				}
			}
			return false
		}
		for _, s := range c.lowListOf(f) {
			if vm.matchStr(s) {
				return true
			}
		}
		return false
	}
	if vm.isInt && f.isInt {
		return f.ival == vm.ival
	}
	switch vm.op {
	case opRe:
		if len(vm.reFactors) > 0 && !c.slow {
			low := c.lowOf(f)
			for _, alts := range vm.reFactors {
				if !containsAny(low, alts) {
					return false
				}
			}
		}
		return vm.matchStr(f.raw)
	case opCidr:
		if f.ipSt == 0 {
			f.ipSt = 1
			if a, ok := parseAddr(f.raw); ok {
				f.ipSt, f.ip = 2, a
			}
		}
		return f.ipSt == 2 && vm.pfx.Contains(f.ip)
	case opNum:
		return vm.matchStr(f.raw)
	}
	if vm.cased {
		return vm.matchStr(f.raw)
	}
	return vm.matchStr(c.lowOf(f))
}

// matchStr tests one text (already lower-cased unless cased).
func (vm *valueMatcher) matchStr(s string) bool {
	switch vm.op {
	case opEq:
		return s == vm.pat
	case opContains:
		return strings.Contains(s, vm.pat)
	case opPrefix:
		return strings.HasPrefix(s, vm.pat)
	case opSuffix:
		return strings.HasSuffix(s, vm.pat)
	case opGlob:
		return globMatch(vm.glob, s)
	case opAny:
		return true
	case opRe:
		if vm.wholeRun != nil {
			return vm.wholeRun.whole(s)
		}
		if vm.run != nil && !vm.run.ok(s) {
			return false
		}
		if vm.minRun > 0 {
			return hasRun(s, vm.minRun)
		}
		if vm.lead != nil {
			return vm.lead.match(s)
		}
		return vm.re.MatchString(s)
	case opCidr:
		a, ok := parseAddr(s)
		return ok && vm.pfx.Contains(a)
	case opNum:
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return false
		}
		switch vm.cmp {
		case cmpGT:
			return x > vm.num
		case cmpGTE:
			return x >= vm.num
		case cmpLT:
			return x < vm.num
		default:
			return x <= vm.num
		}
	}
	return false
}

// parseAddr reads a field value as the address cidr matchers compare
// (surrounding space allowed, IPv4-mapped IPv6 as IPv4).
func parseAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	return a.Unmap(), err == nil
}

func (vm *valueMatcher) matchRef(c *evalCtx, f *fval) bool {
	g := c.field(vm.ref)
	if !g.present || !f.present {
		return false
	}
	a, b := f.raw, g.raw
	if f.isList && len(f.list) > 0 {
		a = f.list[0]
	}
	if g.isList && len(g.list) > 0 {
		b = g.list[0]
	}
	if !vm.cased {
		a, b = c.lower(a), c.lower(b)
	}
	switch vm.refOp {
	case opContains:
		return strings.Contains(a, b)
	case opPrefix:
		return strings.HasPrefix(a, b)
	case opSuffix:
		return strings.HasSuffix(a, b)
	}
	return a == b
}

// hasRun reports whether s has n consecutive characters other than '\n'
// (what .{n,} matches without the s flag).
func hasRun(s string, n int) bool {
	run := 0
	for _, r := range s {
		if r == '\n' {
			run = 0
			continue
		}
		run++
		if run >= n {
			return true
		}
	}
	return false
}

func containsAny(s string, subs []string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}
