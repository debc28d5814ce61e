package sigma

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// op is what a compiled value does with a field's text.
type op uint8

const (
	opEq op = iota
	opContains
	opPrefix
	opSuffix
	opGlob
	opAny // "*": any value, including empty
	opRe
	opCidr
	opNum
	opNull
	opFieldref
)

// numCmp is the comparison of a numeric modifier.
type numCmp uint8

const (
	cmpGT numCmp = iota
	cmpGTE
	cmpLT
	cmpLTE
)

// valueMatcher is one compiled value of a field item. Patterns are
// lower-cased at compile time unless cased; the field text is lower-cased
// once per event by the evaluation cache.
type valueMatcher struct {
	// What the atom table answers from comes first: matching reads these
	// for every value of an item, and one cache line holds them.
	acID   int32 // 1 + the atom deciding this matcher (0: none)
	acFl   uint8 // the atom's hit flag that means a match
	isInt  bool  // pat is a plain integer: compared numerically with int64 fields
	op     op
	cased  bool
	preIDs [][]int32 // per factor, atoms one of which every match contains
	ival   int64
	pat    string
	glob   []globTok
	re     *regexp.Regexp
	pfx    netip.Prefix
	num    float64
	cmp    numCmp
	ref    int // fieldref: slot of the referenced field
	refOp  op  // fieldref: opEq, opContains, opPrefix, opSuffix
	// re: per factor, lower-case literals one of which every match contains
	// (checked before running the regex)
	reFactors [][]string
	reOrig    *regexp.Regexp // re as written (re may be a cheaper equivalent; see matchOnlyRegexp)
	lead      *leadMatcher   // re is "one character, then a literal, then the rest"
	minRun    int            // re of the form .{N,}: a run of N non-newline characters
	run       *classRun      // re needs a run of bytes of a class (checked before it runs)
	wholeRun  *classRun      // re is ^x{n}$ of an ASCII class: this decides it
	text      string         // the value as written, for explanations
}

// globTok is one element of a wildcard pattern.
type globTok struct {
	kind byte // 'l' literal byte, '*' any run, '?' one character
	b    byte
}

// modSet is the parsed modifier chain of one field item.
type modSet struct {
	contains, startswith, endswith, all, cased, neq bool
	re, reI, reM, reS                               bool
	cidr, base64, base64offset, windash, expand     bool
	exists, fieldref                                bool
	utf16le, utf16be, utf16bom                      bool
	num                                             bool
	cmp                                             numCmp
	timePart                                        string
}

// knownModifiers are the Sigma 2.1 modifiers; anything else fails the rule.
func parseModifiers(mods []string) (modSet, error) {
	var m modSet
	for _, raw := range mods {
		switch strings.ToLower(raw) {
		case "contains":
			m.contains = true
		case "startswith":
			m.startswith = true
		case "endswith":
			m.endswith = true
		case "all":
			m.all = true
		case "cased":
			m.cased = true
		case "neq":
			m.neq = true
		case "re":
			m.re = true
		case "i":
			m.reI = true
		case "m":
			m.reM = true
		case "s":
			m.reS = true
		case "cidr":
			m.cidr = true
		case "base64":
			m.base64 = true
		case "base64offset":
			m.base64offset = true
		case "windash":
			m.windash = true
		case "expand":
			m.expand = true
		case "exists":
			m.exists = true
		case "fieldref":
			m.fieldref = true
		case "utf16le", "wide":
			m.utf16le = true
		case "utf16be":
			m.utf16be = true
		case "utf16":
			m.utf16bom = true
		case "gt":
			m.num, m.cmp = true, cmpGT
		case "gte":
			m.num, m.cmp = true, cmpGTE
		case "lt":
			m.num, m.cmp = true, cmpLT
		case "lte":
			m.num, m.cmp = true, cmpLTE
		case "minute", "hour", "day", "week", "month", "year":
			m.timePart = strings.ToLower(raw)
		case "":
			return m, fmt.Errorf("empty modifier")
		default:
			return m, fmt.Errorf("unknown modifier %q", raw)
		}
	}
	return m, m.validate()
}

// transforms reports modifiers that turn a value into other bytes before it
// is matched (encodings, windash, placeholder expansion).
func (m modSet) transforms() bool {
	return m.base64 || m.base64offset || m.utf16le || m.utf16be || m.utf16bom || m.windash || m.expand
}

func (m modSet) validate() error {
	nPos := b2i(m.contains) + b2i(m.startswith) + b2i(m.endswith)
	if nPos > 1 {
		return fmt.Errorf("contains, startswith and endswith are exclusive")
	}
	if (m.reI || m.reM || m.reS) && !m.re {
		return fmt.Errorf("regex flags i, m, s need the re modifier")
	}
	special := b2i(m.re) + b2i(m.cidr) + b2i(m.num) + b2i(m.exists) + b2i(m.timePart != "")
	if special > 1 {
		return fmt.Errorf("re, cidr, gt/gte/lt/lte, exists and time modifiers cannot be combined")
	}
	enc := m.transforms()
	if special > 0 && (nPos > 0 || enc || m.fieldref) {
		return fmt.Errorf("re, cidr, numeric, exists and time modifiers cannot be combined with string modifiers")
	}
	if m.base64 && m.base64offset {
		return fmt.Errorf("base64 and base64offset are exclusive")
	}
	if (m.utf16le || m.utf16be || m.utf16bom) && !(m.base64 || m.base64offset) {
		return fmt.Errorf("utf16 modifiers need base64 or base64offset")
	}
	if b2i(m.utf16le)+b2i(m.utf16be)+b2i(m.utf16bom) > 1 {
		return fmt.Errorf("utf16 modifiers are exclusive")
	}
	if m.fieldref && (enc || m.neq) {
		return fmt.Errorf("fieldref cannot be combined with encoding modifiers or neq")
	}
	if m.timePart != "" {
		return fmt.Errorf("time modifier %s is not supported", m.timePart)
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// compileValues turns the YAML values of one field item into matchers.
// vals holds nil for a YAML null. resolveRef maps a fieldref name to a slot.
// Each value gives one group: the variants it expands to (windash,
// base64offset, placeholders), any of which may match.
func compileValues(m modSet, vals []*string, placeholders map[string][]string, resolveRef func(string) int) ([][]*valueMatcher, error) {
	var groups [][]*valueMatcher
	total := 0
	for _, vp := range vals {
		var out []*valueMatcher
		if vp == nil {
			if m.re || m.cidr || m.num || m.fieldref || m.base64 || m.base64offset {
				return nil, fmt.Errorf("null value with a modifier")
			}
			groups = append(groups, []*valueMatcher{{op: opNull, text: "null"}})
			continue
		}
		v := *vp
		switch {
		case m.re:
			if len(v) > MaxRegexLen {
				return nil, fmt.Errorf("regular expression longer than %d bytes", MaxRegexLen)
			}
			flags := ""
			if m.reI {
				flags += "i"
			}
			if m.reM {
				flags += "m"
			}
			if m.reS {
				flags += "s"
			}
			src := v
			if flags != "" {
				src = "(?" + flags + ")" + v
			}
			re, err := regexp.Compile(src)
			if err != nil {
				return nil, fmt.Errorf("bad regular expression %q: %w", v, err)
			}
			orig := re
			re, lead := matchOnlyRegexp(re, src)
			vm := &valueMatcher{op: opRe, re: re, reOrig: orig, lead: lead, text: v, reFactors: regexFactors(src), run: regexClassRun(src)}
			// Go's RE2 compiles .{1000,} into a thousand states; a length
			// check is equivalent and cheap.
			if mm := minRunRe.FindStringSubmatch(v); mm != nil && !m.reS {
				vm.minRun, _ = strconv.Atoi(mm[1])
			}
			vm.wholeRun = regexWholeRun(src)
			groups = append(groups, []*valueMatcher{vm})
			continue
		case m.cidr:
			p, err := netip.ParsePrefix(strings.TrimSpace(v))
			if err != nil {
				return nil, fmt.Errorf("bad cidr %q: %w", v, err)
			}
			groups = append(groups, []*valueMatcher{&valueMatcher{op: opCidr, pfx: p.Masked(), text: v}})
			continue
		case m.num:
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return nil, fmt.Errorf("numeric modifier needs a number, got %q", v)
			}
			groups = append(groups, []*valueMatcher{&valueMatcher{op: opNum, num: f, cmp: m.cmp, text: v}})
			continue
		case m.fieldref:
			vm := &valueMatcher{op: opFieldref, ref: resolveRef(v), refOp: opEq, cased: m.cased, text: v}
			switch {
			case m.contains:
				vm.refOp = opContains
			case m.startswith:
				vm.refOp = opPrefix
			case m.endswith:
				vm.refOp = opSuffix
			}
			groups = append(groups, []*valueMatcher{vm})
			continue
		}
		strs := []string{v}
		if m.expand {
			var err error
			if strs, err = expandPlaceholders(v, placeholders); err != nil {
				return nil, err
			}
		}
		if m.windash {
			strs = windashAll(strs)
		}
		encoded := false
		if m.base64 || m.base64offset {
			strs = encodeAll(strs, m)
			encoded = true
		}
		total += len(strs)
		if total > MaxValuesPerItem {
			return nil, fmt.Errorf("more than %d values after expansion", MaxValuesPerItem)
		}
		for _, s := range strs {
			out = append(out, compileString(s, v, encoded, m))
		}
		groups = append(groups, out)
	}
	return groups, nil
}

// compileString builds a plain string matcher (wildcards, escapes and the
// contains/startswith/endswith wrapping). Encoded (base64) values are
// literal: their text is not parsed for wildcards.
func compileString(s, text string, encoded bool, m modSet) *valueMatcher {
	var toks []globTok
	if encoded {
		for i := 0; i < len(s); i++ {
			toks = append(toks, globTok{kind: 'l', b: s[i]})
		}
	} else {
		toks = parseWildcards(s)
	}
	return compileTokens(toks, text, encoded, m)
}

// compileTokens is compileString on a parsed pattern.
func compileTokens(toks []globTok, text string, encoded bool, m modSet) *valueMatcher {
	if m.contains || m.endswith {
		if len(toks) == 0 || toks[0].kind != '*' {
			toks = append([]globTok{{kind: '*'}}, toks...)
		}
	}
	if m.contains || m.startswith {
		if len(toks) == 0 || toks[len(toks)-1].kind != '*' {
			toks = append(toks, globTok{kind: '*'})
		}
	}
	vm := &valueMatcher{cased: m.cased || encoded, text: text}
	// base64 is case-sensitive by nature; lowering it would match other bytes.
	classify(vm, toks)
	return vm
}

func classify(vm *valueMatcher, toks []globTok) {
	// Collapse runs of '*'.
	var t []globTok
	for _, k := range toks {
		if k.kind == '*' && len(t) > 0 && t[len(t)-1].kind == '*' {
			continue
		}
		t = append(t, k)
	}
	lead := len(t) > 0 && t[0].kind == '*'
	trail := len(t) > 1 && t[len(t)-1].kind == '*'
	inner := t
	if lead {
		inner = inner[1:]
	}
	if trail {
		inner = inner[:len(inner)-1]
	}
	simple := true
	var b strings.Builder
	for _, k := range inner {
		if k.kind != 'l' {
			simple = false
			break
		}
		b.WriteByte(k.b)
	}
	low := func(s string) string {
		if vm.cased {
			return s
		}
		return strings.ToLower(s)
	}
	if !simple {
		vm.op = opGlob
		vm.glob = lowerGlob(t, vm.cased)
		return
	}
	vm.pat = low(b.String())
	switch {
	case lead && len(inner) == 0:
		vm.op = opAny
	case lead && trail:
		vm.op = opContains
	case lead:
		vm.op = opSuffix
	case trail:
		vm.op = opPrefix
	default:
		vm.op = opEq
		if n, err := strconv.ParseInt(vm.pat, 10, 64); err == nil && strconv.FormatInt(n, 10) == vm.pat {
			vm.isInt, vm.ival = true, n
		}
	}
}

func lowerGlob(t []globTok, cased bool) []globTok {
	if cased {
		return t
	}
	var lit []byte
	var out []globTok
	flush := func() {
		for _, c := range []byte(strings.ToLower(string(lit))) {
			out = append(out, globTok{kind: 'l', b: c})
		}
		lit = lit[:0]
	}
	for _, k := range t {
		if k.kind == 'l' {
			lit = append(lit, k.b)
			continue
		}
		flush()
		out = append(out, k)
	}
	flush()
	return out
}

// parseWildcards reads a Sigma plain value: * and ? are wildcards; a
// backslash escapes *, ? and backslash and is literal before anything else.
func parseWildcards(s string) []globTok {
	toks := make([]globTok, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			if i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\') {
				toks = append(toks, globTok{kind: 'l', b: s[i+1]})
				i++
				continue
			}
			toks = append(toks, globTok{kind: 'l', b: c})
		case '*':
			toks = append(toks, globTok{kind: '*'})
		case '?':
			toks = append(toks, globTok{kind: '?'})
		default:
			toks = append(toks, globTok{kind: 'l', b: c})
		}
	}
	return toks
}

// globMatch matches s against a wildcard pattern; '?' consumes one UTF-8
// character. Iterative with single backtrack point: O(len(s)*len(p)).
func globMatch(p []globTok, s string) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch p[pi].kind {
			case '*':
				starP, starS = pi, si
				pi++
				continue
			case '?':
				si += utf8Len(s[si])
				pi++
				continue
			default:
				if p[pi].b == s[si] {
					pi++
					si++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		si = starS
		pi = starP + 1
	}
	for pi < len(p) && p[pi].kind == '*' {
		pi++
	}
	return pi == len(p)
}

func utf8Len(b byte) int {
	switch {
	case b < 0x80:
		return 1
	case b>>5 == 0x6:
		return 2
	case b>>4 == 0xe:
		return 3
	case b>>3 == 0x1e:
		return 4
	}
	return 1
}

// windashRe finds option dashes: a - or / at the start of a word.
var windashRe = regexp.MustCompile(`\B[-/]\b`)

// windashChars are the characters Windows accepts as option prefixes.
var windashChars = []string{"-", "/", "–", "—", "―"}

func windashAll(in []string) []string {
	var out []string
	for _, s := range in {
		locs := windashRe.FindAllStringIndex(s, -1)
		if len(locs) == 0 {
			out = append(out, s)
			continue
		}
		if len(locs) > 4 {
			locs = locs[:4] // 5^4 variants is the cap; more is never written in practice
		}
		variants := []string{""}
		prev := 0
		for _, l := range locs {
			seg := s[prev:l[0]]
			next := make([]string, 0, len(variants)*len(windashChars))
			for _, v := range variants {
				for _, c := range windashChars {
					next = append(next, v+seg+c)
				}
			}
			variants = next
			prev = l[1]
		}
		for _, v := range variants {
			out = append(out, v+s[prev:])
		}
	}
	return out
}

func encodeAll(in []string, m modSet) []string {
	var out []string
	for _, s := range in {
		b := []byte(s)
		switch {
		case m.utf16le:
			b = utf16Bytes(s, false, false)
		case m.utf16be:
			b = utf16Bytes(s, true, false)
		case m.utf16bom:
			b = utf16Bytes(s, false, true)
		}
		if m.base64 {
			out = append(out, base64.StdEncoding.EncodeToString(b))
			continue
		}
		out = append(out, base64Offsets(b)...)
	}
	return out
}

// base64Offsets returns the three encodings of b shifted by 0, 1 and 2
// bytes, trimmed to the characters that do not depend on the neighbours.
func base64Offsets(b []byte) []string {
	start := [3]int{0, 2, 3}
	endTrim := [3]int{0, 3, 2}
	var out []string
	for i := 0; i < 3; i++ {
		buf := append(make([]byte, i, i+len(b)), b...)
		for j := 0; j < i; j++ {
			buf[j] = ' '
		}
		enc := base64.StdEncoding.EncodeToString(buf)
		e := len(enc) - endTrim[(len(b)+i)%3]
		if start[i] > e {
			continue
		}
		out = append(out, enc[start[i]:e])
	}
	return out
}

func utf16Bytes(s string, be, bom bool) []byte {
	u := utf16.Encode([]rune(s))
	out := make([]byte, 0, 2*len(u)+2)
	if bom {
		out = append(out, 0xff, 0xfe)
	}
	for _, c := range u {
		if be {
			out = append(out, byte(c>>8), byte(c))
		} else {
			out = append(out, byte(c), byte(c>>8))
		}
	}
	return out
}

var minRunRe = regexp.MustCompile(`^\^?\.\{([0-9]{1,6}),\}$`)

var placeholderRe = regexp.MustCompile(`%[A-Za-z0-9_.\-]+%`)

// expandPlaceholders replaces each %name% by every value configured for it.
func expandPlaceholders(v string, ph map[string][]string) ([]string, error) {
	locs := placeholderRe.FindAllStringIndex(v, -1)
	if len(locs) == 0 {
		return []string{v}, nil
	}
	variants := []string{""}
	prev := 0
	for _, l := range locs {
		name := v[l[0]+1 : l[1]-1]
		vals, ok := ph[name]
		if !ok || len(vals) == 0 {
			return nil, fmt.Errorf("unresolved placeholder %%%s%% (configure it in placeholders)", name)
		}
		next := make([]string, 0, len(variants)*len(vals))
		for _, p := range variants {
			for _, r := range vals {
				next = append(next, p+v[prev:l[0]]+r)
			}
		}
		if len(next) > MaxValuesPerItem {
			return nil, fmt.Errorf("placeholder expansion gives more than %d values", MaxValuesPerItem)
		}
		variants = next
		prev = l[1]
	}
	for i := range variants {
		variants[i] += v[prev:]
	}
	return variants, nil
}

// matchOnlyRegexp returns a regexp that matches exactly the texts re
// matches somewhere, and is cheaper to search with: a leading or trailing
// x+ becomes x and a leading or trailing x* or x? goes (a match of the
// longer form contains a match of the shorter one and vice versa). Without
// it, a leading \w+ costs time quadratic in the length of word runs.
func matchOnlyRegexp(re *regexp.Regexp, src string) (*regexp.Regexp, *leadMatcher) {
	t, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return re, nil
	}
	t = t.Simplify()
	changed := false
	trim := func(x *syntax.Regexp) (*syntax.Regexp, bool) {
		switch x.Op {
		case syntax.OpPlus:
			changed = true
			return x.Sub[0], true
		case syntax.OpStar, syntax.OpQuest:
			changed = true
			return nil, true
		}
		return x, false
	}
	switch t.Op {
	case syntax.OpPlus:
		t, _ = trim(t)
	case syntax.OpConcat:
		subs := slices.Clone(t.Sub)
		for len(subs) > 0 {
			x, ok := trim(subs[0])
			if !ok {
				break
			}
			if x == nil {
				subs = subs[1:]
				continue
			}
			subs[0] = x
			break
		}
		for len(subs) > 0 {
			x, ok := trim(subs[len(subs)-1])
			if !ok {
				break
			}
			if x == nil {
				subs = subs[:len(subs)-1]
				continue
			}
			subs[len(subs)-1] = x
			break
		}
		if len(subs) == 0 {
			t = &syntax.Regexp{Op: syntax.OpEmptyMatch}
		} else {
			t = &syntax.Regexp{Op: syntax.OpConcat, Flags: t.Flags, Sub: subs}
		}
	}
	out := re
	if changed {
		if out, err = regexp.Compile(t.String()); err != nil {
			return re, nil
		}
	}
	return out, newLeadMatcher(t, out)
}

// leadMatcher searches a regex of the form C L R (C one character, L a
// literal starting with an ASCII byte, R the rest) by finding L with
// strings.Index and checking C before it and L R anchored at it: Go's
// regexp only skips ahead to a literal that starts the pattern.
type leadMatcher struct {
	full  *regexp.Regexp // fallback for text that is not valid UTF-8 before L
	first *regexp.Regexp // \A(?:C)\z
	lit   string
	rest  *regexp.Regexp // \A(?:L R)
}

func newLeadMatcher(t *syntax.Regexp, full *regexp.Regexp) *leadMatcher {
	if t.Op != syntax.OpConcat || len(t.Sub) < 2 {
		return nil
	}
	c, l := t.Sub[0], t.Sub[1]
	switch c.Op {
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
	default:
		return nil
	}
	if l.Op != syntax.OpLiteral || l.Flags&syntax.FoldCase != 0 || len(l.Rune) == 0 || l.Rune[0] >= utf8.RuneSelf {
		return nil
	}
	// R is matched on the text from L on: it must not look behind L.
	for _, x := range t.Sub[1:] {
		if looksBehind(x) {
			return nil
		}
	}
	rest := &syntax.Regexp{Op: syntax.OpConcat, Flags: t.Flags, Sub: t.Sub[1:]}
	first, err1 := regexp.Compile(`\A(?:` + c.String() + `)\z`)
	restRe, err2 := regexp.Compile(`\A(?:` + rest.String() + `)`)
	if err1 != nil || err2 != nil {
		return nil
	}
	return &leadMatcher{full: full, first: first, lit: string(l.Rune), rest: restRe}
}

func looksBehind(x *syntax.Regexp) bool {
	switch x.Op {
	case syntax.OpBeginLine, syntax.OpBeginText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return true
	}
	for _, s := range x.Sub {
		if looksBehind(s) {
			return true
		}
	}
	return false
}

func (m *leadMatcher) match(s string) bool {
	for off := 0; ; {
		i := strings.Index(s[off:], m.lit)
		if i < 0 {
			return false
		}
		i += off
		if i > 0 {
			r, n := utf8.DecodeLastRuneInString(s[:i])
			if r == utf8.RuneError {
				return m.full.MatchString(s)
			}
			if m.first.MatchString(s[i-n:i]) && m.rest.MatchString(s[i:]) {
				return true
			}
		}
		off = i + 1
	}
}
