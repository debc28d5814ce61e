package drain

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Lookup matches content against the templates without learning from it:
// no template is created or generalised and no count moves. It serves
// lines a detector must score but may not learn from (data whose purpose
// does not allow training). A matching template's Match has Count as Add
// would report it (this line included); a line matching none gets New set,
// ClusterID -1 and its masked tokens as Template.
func (m *Miner) Lookup(content string) (Match, error) {
	if len(content) > m.cfg.MaxLineBytes {
		return Match{}, fmt.Errorf("looking up line of %d bytes: %w", len(content), ErrLineTooLong)
	}
	if !utf8.ValidString(content) {
		content = strings.ToValidUTF8(content, "\uFFFD")
	}
	raw := tokenize(nil, content, m.cfg.MaxTokens)
	masked := make([]string, len(raw))
	for i, t := range raw {
		masked[i] = Mask(t)
	}
	if leaf := m.find(raw, masked); leaf != nil {
		if c, sim := m.best(leaf.clusters, masked); c != nil && sim >= m.cfg.SimThreshold {
			mt := m.match(c, raw, false, false)
			mt.Count++
			return mt, nil
		}
	}
	tpl := strings.Join(masked, " ")
	var params []string
	for i, t := range masked {
		if strings.Contains(t, Wildcard) {
			params = append(params, raw[i])
		}
	}
	return Match{ClusterID: -1, TemplateID: TemplateID(tpl), Template: tpl, Params: params, New: true, Count: 1}, nil
}

// find is route without growing the tree: nil when the line's path does
// not exist (no template can match it).
func (m *Miner) find(raw, toks []string) *node {
	n, ok := m.root[len(toks)]
	if !ok {
		return nil
	}
	for d := 0; d < m.cfg.Depth && d < len(toks); d++ {
		key := toks[d]
		if strings.Contains(key, Wildcard) || strings.ContainsFunc(raw[d], unicode.IsDigit) {
			key = Wildcard
		}
		child, ok := n.children[key]
		if !ok && len(n.children) >= m.cfg.MaxChildren {
			child = n.children[Wildcard]
		}
		if child == nil {
			return nil
		}
		n = child
	}
	return n
}
