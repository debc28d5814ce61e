package sigma

import (
	"regexp/syntax"
	"unicode/utf8"
)

// classRun is a necessary condition of a regex without a usable literal:
// a run of at least n consecutive bytes from a set. It comes from a
// mandatory x{n,} of the top-level concatenation where x is a character
// class (SigmaHQ's hash and token patterns, such as [a-fA-F0-9]{64}). One
// pass over the text rules out most values before the regex engine runs.
//
// A class of runes becomes a set of bytes: its ASCII members, and every
// byte from 0x80 on when the class has any non-ASCII rune. Each rune of
// a matching run is then one or more bytes of the set, so the byte run is
// at least as long: an over-approximation, never a false rejection.
type classRun struct {
	n   int
	set [4]uint64
}

// minClassRun is the shortest run worth a pass over the text.
const minClassRun = 8

func (r *classRun) has(b byte) bool { return r.set[b>>6]&(1<<(b&63)) != 0 }

// ok reports whether s has a run of r.n bytes of the set.
func (r *classRun) ok(s string) bool {
	if len(s) < r.n {
		return false
	}
	run := 0
	for i := 0; i < len(s); i++ {
		if r.has(s[i]) {
			if run++; run >= r.n {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// regexClassRun derives the longest mandatory class run of src (nil if
// none reaches minClassRun).
func regexClassRun(src string) *classRun {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return nil
	}
	best := requiredRun(re, 0)
	if best == nil || best.n < minClassRun {
		return nil
	}
	return best
}

func requiredRun(re *syntax.Regexp, depth int) *classRun {
	if depth > 20 {
		return nil
	}
	switch re.Op {
	case syntax.OpCapture:
		return requiredRun(re.Sub[0], depth+1)
	case syntax.OpConcat:
		var best *classRun
		for _, s := range re.Sub {
			if r := requiredRun(s, depth+1); r != nil && (best == nil || r.n > best.n) {
				best = r
			}
		}
		return best
	case syntax.OpRepeat:
		if re.Min < 1 {
			return nil
		}
		r := runeSetBytes(re.Sub[0])
		if r == nil {
			return nil
		}
		r.n = re.Min
		return r
	}
	return nil
}

// runeSetBytes is the byte set of a one-character expression (nil if x
// is not one).
func runeSetBytes(x *syntax.Regexp) *classRun {
	r := &classRun{}
	add := func(lo, hi rune) {
		for c := lo; c <= hi && c < utf8.RuneSelf; c++ {
			r.set[c>>6] |= 1 << (c & 63)
		}
		if hi >= utf8.RuneSelf {
			r.set[2], r.set[3] = ^uint64(0), ^uint64(0)
		}
	}
	switch x.Op {
	case syntax.OpCharClass:
		for i := 0; i+1 < len(x.Rune); i += 2 {
			add(x.Rune[i], x.Rune[i+1])
		}
	case syntax.OpAnyCharNotNL:
		add(0, '\n'-1)
		add('\n'+1, utf8.MaxRune)
	case syntax.OpLiteral:
		if len(x.Rune) != 1 || x.Flags&syntax.FoldCase != 0 {
			return nil
		}
		add(x.Rune[0], x.Rune[0])
	default:
		return nil
	}
	return r
}

// regexWholeRun returns the class run that decides src exactly when src
// is ^x{n}$ with x a class of ASCII characters (such as ^[A-Za-z0-9]{16}$):
// a value matches iff it is n bytes of the set, so no regex engine runs.
// nil otherwise (multi-line $, a range of counts, non-ASCII members).
func regexWholeRun(src string) *classRun {
	re, err := syntax.Parse(src, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) != 3 {
		return nil
	}
	rep := re.Sub[1]
	if re.Sub[0].Op != syntax.OpBeginText || re.Sub[2].Op != syntax.OpEndText ||
		rep.Op != syntax.OpRepeat || rep.Min != rep.Max || rep.Min < 1 || rep.Sub[0].Op != syntax.OpCharClass {
		return nil
	}
	r := runeSetBytes(rep.Sub[0])
	if r == nil || r.set[2]|r.set[3] != 0 { // a non-ASCII member marks every high byte
		return nil
	}
	r.n = rep.Min
	return r
}

// whole reports whether s is exactly r.n bytes of the set.
func (r *classRun) whole(s string) bool {
	if len(s) != r.n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !r.has(s[i]) {
			return false
		}
	}
	return true
}
