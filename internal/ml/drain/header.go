package drain

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Header splits log lines into a header (timestamp, level, host, component…)
// and the free-text content. It is learned from a sample of one source's
// lines by generic token classes and per-position statistics, never from a
// per-system pattern, so it works on formats it was never tuned on.
type Header struct {
	// Classes is the class of each header position ("D" digits, "M" month or
	// weekday, "L" severity, "P" punctuation, "B" bracketed, "C" component
	// ending in ':', "W" word); empty means no header.
	Classes []string
}

// Token classes.
const (
	clsDigit   = "D"
	clsMonth   = "M"
	clsLevel   = "L"
	clsPunct   = "P"
	clsBracket = "B"
	clsComp    = "C"
	clsWord    = "W"
)

const (
	maxHeaderTokens = 12
	maxBracketLen   = 256
	// headerConsistency is the share of lines whose token at a position
	// must have the position's dominant class for it to be a header field.
	headerConsistency = 0.9
	// maxWordValues bounds the distinct values of a trailing plain-word
	// header field (a host or subsystem name), so the first content word,
	// which varies with the message, is not taken for a header field.
	maxWordValues = 4
)

var levelWords = map[string]bool{
	"info": true, "information": true, "informational": true, "warn": true, "warning": true,
	"error": true, "err": true, "debug": true, "trace": true, "fatal": true, "notice": true,
	"crit": true, "critical": true, "alert": true, "emerg": true, "severe": true, "fine": true,
	"verbose": true, "panic": true,
}

var monthWords = map[string]bool{
	"jan": true, "feb": true, "mar": true, "apr": true, "may": true, "jun": true, "jul": true,
	"aug": true, "sep": true, "oct": true, "nov": true, "dec": true,
	"mon": true, "tue": true, "wed": true, "thu": true, "fri": true, "sat": true, "sun": true,
}

// span is one header token: its byte range in the line.
type span struct{ start, end int }

// isSep reports a header field separator: white space or '|'.
func isSep(r rune) bool { return unicode.IsSpace(r) || r == '|' }

// headerTokens splits the first max tokens of line. A token that opens with
// '[' or '(' runs to its balanced close, so "[IPC Server handler 5]" is one field.
func headerTokens(line string, max int) []span {
	var out []span
	i := 0
	for len(out) < max && i < len(line) {
		r, w := utf8.DecodeRuneInString(line[i:])
		if isSep(r) {
			i += w
			continue
		}
		start := i
		if r == '[' || r == '(' {
			if end, ok := balanced(line, i); ok {
				i = end
			}
		}
		for i < len(line) {
			r, w = utf8.DecodeRuneInString(line[i:])
			if isSep(r) {
				break
			}
			i += w
		}
		out = append(out, span{start, i})
	}
	return out
}

// balanced returns the index after the bracket closing the one at i.
func balanced(s string, i int) (int, bool) {
	depth := 0
	for j := i; j < len(s) && j-i < maxBracketLen; j++ {
		switch s[j] {
		case '[', '(':
			depth++
		case ']', ')':
			depth--
			if depth == 0 {
				return j + 1, true
			}
		}
	}
	return 0, false
}

func classOf(tok string) string {
	bare := strings.Trim(tok, "[]():,;")
	low := strings.ToLower(bare)
	switch {
	case tok == "":
		return clsPunct
	case levelWords[low]:
		return clsLevel
	case monthWords[low]:
		return clsMonth
	}
	hasDigit, hasLetter := false, false
	for _, r := range tok {
		if unicode.IsDigit(r) {
			hasDigit = true
		} else if unicode.IsLetter(r) {
			hasLetter = true
		}
	}
	switch {
	case !hasDigit && !hasLetter:
		return clsPunct
	case (tok[0] == '[' || tok[0] == '(') && (strings.HasSuffix(tok, "]") || strings.HasSuffix(tok, ")")):
		return clsBracket
	case hasLetter && strings.HasSuffix(tok, ":"):
		return clsComp
	case hasDigit:
		return clsDigit
	}
	return clsWord
}

// LearnHeader learns the header layout from a sample of one source's lines.
func LearnHeader(sample []string) Header {
	if len(sample) == 0 {
		return Header{}
	}
	type posStat struct {
		classes map[string]int
		values  map[string]int
	}
	stats := make([]posStat, maxHeaderTokens)
	for i := range stats {
		stats[i] = posStat{classes: map[string]int{}, values: map[string]int{}}
	}
	coarse := make([]map[string]int, maxHeaderTokens)
	for i := range coarse {
		coarse[i] = map[string]int{}
	}
	for _, line := range sample {
		toks := headerTokens(line, maxHeaderTokens)
		for i, sp := range toks {
			tok := line[sp.start:sp.end]
			c := classOf(tok)
			stats[i].classes[c]++
			coarse[i][coarseClass(c)]++
			if len(stats[i].values) <= 64 {
				stats[i].values[tok]++
			}
		}
	}
	n := float64(len(sample))
	var dom []string
	for i := range stats {
		_, coarseN := dominant(coarse[i])
		if float64(coarseN) < headerConsistency*n {
			break
		}
		best, _ := dominant(stats[i].classes)
		dom = append(dom, best)
	}
	// The header ends at its last anchoring field: one with a structural
	// class, or a plain word with few distinct values. A field in the
	// middle may be any consistent class (host names, subsystems).
	h := 0
	for i, c := range dom {
		switch c {
		case clsWord:
			if len(stats[i].values) <= maxWordValues {
				h = i + 1
			}
		default:
			h = i + 1
		}
		if c == clsComp {
			break // a component name closes the header
		}
	}
	// Keep at least one token of content on typical lines.
	return Header{Classes: dom[:h]}
}

// coarseClass folds the word-like classes: a header field holding a word
// (a state, a level, a host) keeps its place even when its values differ in class.
func coarseClass(c string) string {
	switch c {
	case clsLevel, clsMonth, clsComp:
		return clsWord
	}
	return c
}

func dominant(m map[string]int) (string, int) {
	best, bestN := "", 0
	for c, k := range m {
		if k > bestN || (k == bestN && c < best) {
			best, bestN = c, k
		}
	}
	return best, bestN
}

// Split returns the header and content of line. A line whose leading tokens
// do not have the learned classes (a continuation line, a stack trace) is
// all content.
func (h Header) Split(line string) (header, content string) {
	if len(h.Classes) == 0 {
		return "", strings.TrimSpace(line)
	}
	toks := headerTokens(line, len(h.Classes)+1)
	if len(toks) <= len(h.Classes) {
		return "", strings.TrimSpace(line)
	}
	// One odd field in a long header (a tag in place of "-") still leaves
	// the layout recognisable; more is another kind of line.
	allowed := 0
	if len(h.Classes) >= 4 {
		allowed = 1
	}
	for i, c := range h.Classes {
		tc := coarseClass(classOf(line[toks[i].start:toks[i].end]))
		if cc := coarseClass(c); tc != cc && !(cc == clsDigit && tc == clsWord) {
			if allowed == 0 {
				return "", strings.TrimSpace(line)
			}
			allowed--
		}
	}
	cut := toks[len(h.Classes)].start
	return strings.TrimSpace(line[:cut]), strings.TrimSpace(line[cut:])
}
