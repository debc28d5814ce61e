// Package drain mines log templates from raw log lines (a Drain-style fixed
// depth parse tree, Du & He ICWS'17, with generic masking and a learned
// header split), so logs that no parser understands still become events
// with a stable template id and parameters. One global configuration serves
// every source: there are no per-system patterns.
//
// A Miner is not safe for concurrent use; a detector owns one and calls it
// from its Detect goroutine. Add does no I/O.
package drain

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Wildcard stands for a parameter in a template.
const Wildcard = "<*>"

// Errors returned by Add.
var (
	// ErrLineTooLong means the line exceeds Config.MaxLineBytes.
	ErrLineTooLong = errors.New("log line too long")
	// ErrTooManyClusters means the miner holds Config.MaxClusters templates
	// and the line matched none of them.
	ErrTooManyClusters = errors.New("template limit reached")
)

// Config is the miner's one global configuration.
type Config struct {
	// SimThreshold is the share of a template's constant tokens a line must
	// match to join it.
	SimThreshold float64
	// Depth is the number of leading tokens used to route a line in the tree.
	Depth int
	// MaxChildren bounds the children of one tree node; overflow goes to a
	// wildcard child.
	MaxChildren int
	// MaxClusters bounds the number of templates.
	MaxClusters int
	// MaxLineBytes bounds one line; MaxTokens bounds its tokens (the rest
	// are folded into the last token).
	MaxLineBytes int
	MaxTokens    int
	// MaxEnum is the most distinct plain words a position may hold and
	// still be an enumeration rather than a parameter (see Refined).
	MaxEnum int
}

// DefaultConfig is the configuration used for every source.
func DefaultConfig() Config {
	return Config{SimThreshold: 0.6, Depth: 2, MaxChildren: 100, MaxClusters: 50000, MaxLineBytes: 64 << 10, MaxTokens: 256, MaxEnum: 3}
}

// Validate checks c.
func (c Config) Validate() error {
	var errs []error
	if c.SimThreshold <= 0 || c.SimThreshold > 1 {
		errs = append(errs, fmt.Errorf("sim_threshold %v outside (0,1]", c.SimThreshold))
	}
	if c.Depth < 1 || c.Depth > 8 {
		errs = append(errs, fmt.Errorf("depth %d outside [1,8]", c.Depth))
	}
	if c.MaxChildren < 2 || c.MaxClusters < 1 || c.MaxLineBytes < 1 || c.MaxTokens < 1 {
		errs = append(errs, errors.New("limits must be positive"))
	}
	return errors.Join(errs...)
}

// Cluster is one template and the lines it has absorbed.
type Cluster struct {
	ID     int      // sequential, stable for the miner's life
	Tokens []string // template tokens; Wildcard marks parameters
	Count  int
	// words holds, per wildcard position that so far only held plain words
	// (no digits), the distinct words seen, up to maxEnum+1. A position with
	// few distinct words is an enumeration (a state, a verb) and stays part
	// of the refined template; once it exceeds maxEnum it is a parameter.
	words map[int]map[string]struct{}
	// tpl and tid cache Template and TemplateID for Add, which alone
	// changes Tokens and clears them then ("" = not computed).
	tpl, tid string
	nparam   int // tokens holding a wildcard, with tpl
}

// Template returns the template text.
func (c *Cluster) Template() string { return strings.Join(c.Tokens, " ") }

// TemplateID is a stable id: a hash of the template text, so the same
// template mined on another node or day has the same id.
func (c *Cluster) TemplateID() string { return TemplateID(c.Template()) }

// TemplateID hashes a template text.
func TemplateID(template string) string {
	s := sha256.Sum256([]byte(template))
	return hex.EncodeToString(s[:8])
}

// Match is the result of adding one line.
type Match struct {
	ClusterID  int
	TemplateID string
	Template   string
	Params     []string // the line's values at the template's wildcards
	New        bool     // the line created a new template
	Changed    bool     // the line generalised an existing template
	Count      int      // lines in the cluster so far, this one included
}

// Miner mines templates from log contents.
type Miner struct {
	cfg      Config
	root     map[int]*node // by token count
	clusters []*Cluster
	raw, msk []string // Add's token buffers, reused across lines
}

type node struct {
	children map[string]*node
	clusters []*Cluster
}

// New returns a miner; it fails when cfg is invalid.
func New(cfg Config) (*Miner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configuring drain: %w", err)
	}
	return &Miner{cfg: cfg, root: map[int]*node{}}, nil
}

// Clusters returns the miner's clusters in creation order (shared, do not modify).
func (m *Miner) Clusters() []*Cluster { return m.clusters }

// Cluster returns the cluster with id (from Match.ClusterID).
func (m *Miner) Cluster(id int) *Cluster {
	if id < 0 || id >= len(m.clusters) {
		return nil
	}
	return m.clusters[id]
}

// Add mines one log content (the message without its header; see Header).
func (m *Miner) Add(content string) (Match, error) {
	if len(content) > m.cfg.MaxLineBytes {
		return Match{}, fmt.Errorf("adding line of %d bytes: %w", len(content), ErrLineTooLong)
	}
	if !utf8.ValidString(content) {
		content = strings.ToValidUTF8(content, "\uFFFD")
	}
	m.raw = tokenize(m.raw[:0], content, m.cfg.MaxTokens)
	raw := m.raw
	masked := m.msk[:0]
	for _, t := range raw {
		masked = append(masked, Mask(t))
	}
	m.msk = masked
	leaf := m.route(raw, masked)
	c, sim := m.best(leaf.clusters, masked)
	if c == nil || sim < m.cfg.SimThreshold {
		if len(m.clusters) >= m.cfg.MaxClusters {
			return Match{}, ErrTooManyClusters
		}
		c = &Cluster{ID: len(m.clusters), Tokens: append([]string(nil), masked...)}
		m.clusters = append(m.clusters, c)
		leaf.clusters = append(leaf.clusters, c)
		c.Count = 1
		return m.match(c, raw, true, false), nil
	}
	changed := false
	for i, t := range c.Tokens {
		if t != masked[i] && t != Wildcard {
			if covers(t, masked[i]) {
				// mergeToken would give t back: nothing to generalise
			} else if merged := mergeToken(t, masked[i]); merged != t {
				c.Tokens[i] = merged
				c.tpl, c.tid = "", ""
				changed = true
				if _, tracked := c.words[i]; !tracked {
					// First generalisation here: start tracking the values
					// if so far they were one plain word.
					if c.words == nil {
						c.words = map[int]map[string]struct{}{}
					}
					c.words[i] = nil
					if plainWord(t) {
						c.words[i] = map[string]struct{}{t: {}}
					}
				}
			}
		}
		if _, tracked := c.words[i]; tracked {
			c.noteWord(i, masked[i], m.cfg.MaxEnum)
		}
	}
	c.Count++
	return m.match(c, raw, false, changed), nil
}

// plainWord reports a token without parameters (no digits once masked).
func plainWord(t string) bool { return !strings.Contains(t, Wildcard) }

func (c *Cluster) noteWord(i int, tok string, maxEnum int) {
	set, ok := c.words[i]
	if !ok || set == nil {
		return
	}
	if !plainWord(tok) {
		c.words[i] = nil
		return
	}
	set[tok] = struct{}{}
	if len(set) > maxEnum {
		c.words[i] = nil
	}
}

// Refined returns the template of content within cluster id: the cluster's
// template with its enumeration positions (wildcards that have held only a
// few distinct plain words) filled in from content. Lines that differ only
// in such a word (a state name, a verb) get different refined templates.
func (m *Miner) Refined(id int, content string) string {
	c := m.Cluster(id)
	if c == nil {
		return ""
	}
	if len(c.words) == 0 {
		return c.Template()
	}
	raw := Tokenize(content, m.cfg.MaxTokens)
	if len(raw) != len(c.Tokens) {
		return c.Template()
	}
	out := append([]string(nil), c.Tokens...)
	for i, set := range c.words {
		if set != nil {
			out[i] = Mask(raw[i])
		}
	}
	return strings.Join(out, " ")
}

func (m *Miner) match(c *Cluster, raw []string, isNew, changed bool) Match {
	if c.tid == "" {
		// Join and SHA-256 once per template change, not once per line.
		c.tpl = c.Template()
		c.tid = TemplateID(c.tpl)
		c.nparam = 0
		for _, t := range c.Tokens {
			if strings.Contains(t, Wildcard) {
				c.nparam++
			}
		}
	}
	var params []string
	if c.nparam > 0 {
		params = make([]string, 0, c.nparam)
	}
	for i, t := range c.Tokens {
		if strings.Contains(t, Wildcard) && i < len(raw) {
			params = append(params, raw[i])
		}
	}
	return Match{ClusterID: c.ID, TemplateID: c.tid, Template: c.tpl, Params: params, New: isNew, Changed: changed, Count: c.Count}
}

// route walks (and grows) the tree: token count, then the first Depth
// tokens; tokens holding parameters or digits go to the wildcard child.
func (m *Miner) route(raw, toks []string) *node {
	n, ok := m.root[len(toks)]
	if !ok {
		n = &node{children: map[string]*node{}}
		m.root[len(toks)] = n
	}
	for d := 0; d < m.cfg.Depth && d < len(toks); d++ {
		key := toks[d]
		// Any token holding a digit routes to the wildcard child, so a
		// value that Mask kept as a word (a host like web2) does not split
		// its template across branches.
		if strings.Contains(key, Wildcard) || strings.ContainsFunc(raw[d], unicode.IsDigit) {
			key = Wildcard
		}
		child, ok := n.children[key]
		if !ok {
			if len(n.children) >= m.cfg.MaxChildren {
				key = Wildcard
				child = n.children[key]
			}
			if child == nil {
				child = &node{children: map[string]*node{}}
				n.children[key] = child
			}
		}
		n = child
	}
	return n
}

// best returns the most similar cluster: the share of positions where the
// template equals the line (wildcards count as equal), ties to more constants.
func (m *Miner) best(cs []*Cluster, toks []string) (*Cluster, float64) {
	var best *Cluster
	bestSim, bestConst := -1.0, -1
	for _, c := range cs {
		eq, consts := 0, 0
		for i, t := range c.Tokens {
			if t == Wildcard {
				eq++
				continue
			}
			consts++
			if t == toks[i] || (strings.Contains(t, Wildcard) && covers(t, toks[i])) {
				eq++
			}
		}
		sim := 1.0
		if len(toks) > 0 {
			sim = float64(eq) / float64(len(toks))
		}
		if sim > bestSim || (sim == bestSim && consts > bestConst) {
			best, bestSim, bestConst = c, sim, consts
		}
	}
	return best, bestSim
}

// Tokenize splits content on white space, at most max tokens (the rest is
// folded into the last one so no text is dropped).
func Tokenize(content string, max int) []string { return tokenize(nil, content, max) }

// tokenize is Tokenize appending to dst.
func tokenize(dst []string, content string, max int) []string {
	n := 0
	for rest := content; ; {
		rest = strings.TrimLeftFunc(rest, unicode.IsSpace)
		if rest == "" {
			return dst
		}
		if n == max-1 {
			// The rest, its white space runs collapsed to one space as
			// strings.Join(strings.Fields(rest), " ") gives.
			return append(dst, strings.Join(strings.Fields(rest), " "))
		}
		end := strings.IndexFunc(rest, unicode.IsSpace)
		if end < 0 {
			end = len(rest)
		}
		dst = append(dst, rest[:end])
		n++
		rest = rest[end:]
	}
}

// isDelim reports characters that separate a token's parts (key=value,
// host:port, [addr], list,items); a part holding a digit is a parameter.
func isDelim(r rune) bool {
	switch r {
	case '=', ':', ',', ';', '(', ')', '[', ']', '{', '}', '<', '>', '"', '\'':
		return true
	}
	return false
}

// Mask replaces the parameters inside tok with Wildcard, keeping its
// structure: tok is cut at strong delimiters (key=value, host:port, [addr],
// list,items) into segments and each segment at '.' and '/' into parts. A
// part is a parameter when it looks like a number or an id (see isParam);
// a segment whose parts are all parameters becomes one Wildcard.
// "uid=0" → "uid=<*>", "/10.1.2.3:50010" → "<*>:<*>", "core.1234" →
// "core.<*>", while "ssh2" and "jk2_init()" stay words.
func Mask(tok string) string {
	if tok == Wildcard {
		return tok
	}
	// Month and weekday names are parts of dates: parameters. They have
	// three runes and ToLower maps rune by rune: count before ToLower,
	// which allocates for every capitalised word.
	if t := strings.Trim(tok, ",.;:()[]"); utf8.RuneCountInString(t) == 3 && monthWords[strings.ToLower(t)] {
		return Wildcard
	}
	if !strings.ContainsFunc(tok, unicode.IsDigit) {
		return tok
	}
	var b strings.Builder
	start := 0
	for i, r := range tok {
		if isDelim(r) {
			b.WriteString(maskSegment(tok[start:i]))
			b.WriteRune(r)
			start = i + utf8.RuneLen(r)
		}
	}
	b.WriteString(maskSegment(tok[start:]))
	return b.String()
}

// mergeToken generalises two tokens with the same delimiter skeleton part
// by part ("rhost=a.com" and "rhost=<*>" → "rhost=<*>", "(web)" and
// "(db)" → "(<*>)"); tokens with different skeletons merge to Wildcard.
func mergeToken(a, b string) string {
	if a == b {
		return a
	}
	pa, da := splitDelims(a)
	pb, db := splitDelims(b)
	if len(da) == 0 || da != db || len(pa) != len(pb) {
		return Wildcard
	}
	var out strings.Builder
	for i := range pa {
		if pa[i] == pb[i] {
			out.WriteString(pa[i])
		} else {
			out.WriteString(Wildcard)
		}
		if i < len(da) {
			out.WriteByte(da[i])
		}
	}
	return out.String()
}

// covers reports mergeToken(a, b) == a without building the merge: it
// streams the merged pieces against a (Add and best ask it of every
// template token with a wildcard, on every line).
func covers(a, b string) bool {
	if a == b {
		return true
	}
	ia, ib, off, delims := 0, 0, 0, 0
	eq := true // the merge so far equals a[:off]
	piece := func(p string) {
		if eq && strings.HasPrefix(a[off:], p) {
			off += len(p)
		} else {
			eq = false
		}
	}
	for {
		pa, da, na, moreA := nextPart(a, ia)
		pb, db, nb, moreB := nextPart(b, ib)
		if moreA != moreB || (moreA && da != db) {
			return a == Wildcard // different skeletons merge to Wildcard
		}
		if pa == pb {
			piece(pa)
		} else {
			piece(Wildcard)
		}
		if !moreA {
			break
		}
		piece(string(rune(da)))
		delims++
		ia, ib = na, nb
	}
	if delims == 0 {
		return a == Wildcard
	}
	return eq && off == len(a)
}

// nextPart is one step of splitDelims from start: the part, the strong
// delimiter after it and where the next part starts; more is false for
// the last part.
func nextPart(tok string, start int) (part string, delim byte, next int, more bool) {
	for i := start; i < len(tok); i++ {
		if strings.HasPrefix(tok[i:], Wildcard) {
			i += len(Wildcard) - 1
			continue
		}
		if tok[i] < utf8.RuneSelf && isDelim(rune(tok[i])) {
			return tok[start:i], tok[i], i + 1, true
		}
	}
	return tok[start:], 0, len(tok), false
}

// splitDelims cuts tok at strong delimiters: the parts between them and
// the delimiters in order (all ASCII).
func splitDelims(tok string) ([]string, string) {
	var parts []string
	var delims []byte
	start := 0
	for i := 0; i < len(tok); i++ {
		if strings.HasPrefix(tok[i:], Wildcard) {
			i += len(Wildcard) - 1 // a wildcard is part of a part, not delimiters
			continue
		}
		if tok[i] < utf8.RuneSelf && isDelim(rune(tok[i])) {
			parts = append(parts, tok[start:i])
			delims = append(delims, tok[i])
			start = i + 1
		}
	}
	parts = append(parts, tok[start:])
	return parts, string(delims)
}

func isWeakDelim(r rune) bool { return r == '.' || r == '/' }

func maskSegment(seg string) string {
	if seg == "" || !strings.ContainsFunc(seg, unicode.IsDigit) {
		return seg
	}
	// A path holding a number names one file among many: a parameter.
	if strings.Contains(seg, "/") {
		return Wildcard
	}
	var b strings.Builder
	words := 0 // parts kept as words
	start := 0
	flush := func(part string) {
		if part == "" {
			return
		}
		if isParam(part) {
			b.WriteString(Wildcard)
		} else {
			b.WriteString(part)
			words++
		}
	}
	for i, r := range seg {
		if isWeakDelim(r) {
			flush(seg[start:i])
			b.WriteRune(r)
			start = i + 1
		}
	}
	flush(seg[start:])
	if words == 0 {
		return Wildcard
	}
	return b.String()
}

// isParam reports a part that is a value rather than a word: it starts with
// a digit, holds two or more digits, or has as many digits as letters.
// Words with one digit (ssh2, log4j, eth0) are kept.
func isParam(part string) bool {
	digits, letters := 0, 0
	for _, r := range part {
		switch {
		case unicode.IsDigit(r):
			digits++
		case unicode.IsLetter(r):
			letters++
		}
	}
	if digits == 0 {
		return false
	}
	first, _ := utf8.DecodeRuneInString(part)
	return unicode.IsDigit(first) || digits >= 2 || digits >= letters
}
