package drain

import (
	"fmt"
	"sort"
)

// Snapshot is a miner's persistent state: its configuration and templates.
// It serialises with encoding/json (see ml/model for the artifact around it).
type Snapshot struct {
	Config   Config            `json:"config"`
	Clusters []ClusterSnapshot `json:"clusters"`
}

// ClusterSnapshot is one template in a Snapshot.
type ClusterSnapshot struct {
	ID     int      `json:"id"`
	Tokens []string `json:"tokens"`
	Count  int      `json:"count"`
	// Enums maps a tracked position to its words so far; an empty list
	// means the position has become a parameter.
	Enums map[int][]string `json:"enums,omitempty"`
}

// Snapshot returns the miner's state.
func (m *Miner) Snapshot() Snapshot {
	s := Snapshot{Config: m.cfg, Clusters: make([]ClusterSnapshot, 0, len(m.clusters))}
	for _, c := range m.clusters {
		cs := ClusterSnapshot{ID: c.ID, Tokens: append([]string(nil), c.Tokens...), Count: c.Count}
		if len(c.words) > 0 {
			cs.Enums = map[int][]string{}
			for i, set := range c.words {
				words := make([]string, 0, len(set))
				for w := range set {
					words = append(words, w)
				}
				sort.Strings(words)
				cs.Enums[i] = words
			}
		}
		s.Clusters = append(s.Clusters, cs)
	}
	return s
}

// Restore rebuilds a miner from a snapshot; it checks the snapshot first so
// a damaged one is refused rather than half-loaded.
func Restore(s Snapshot) (*Miner, error) {
	m, err := New(s.Config)
	if err != nil {
		return nil, err
	}
	if len(s.Clusters) > s.Config.MaxClusters {
		return nil, fmt.Errorf("restoring drain: %d clusters exceed the limit of %d", len(s.Clusters), s.Config.MaxClusters)
	}
	for i, cs := range s.Clusters {
		if cs.ID != i {
			return nil, fmt.Errorf("restoring drain: cluster %d has id %d", i, cs.ID)
		}
		if len(cs.Tokens) > s.Config.MaxTokens || cs.Count < 1 {
			return nil, fmt.Errorf("restoring drain: cluster %d has %d tokens and count %d", i, len(cs.Tokens), cs.Count)
		}
		c := &Cluster{ID: i, Tokens: append([]string(nil), cs.Tokens...), Count: cs.Count}
		for pos, words := range cs.Enums {
			if pos < 0 || pos >= len(c.Tokens) || len(words) > s.Config.MaxEnum {
				return nil, fmt.Errorf("restoring drain: cluster %d has a bad enumeration at %d", i, pos)
			}
			if c.words == nil {
				c.words = map[int]map[string]struct{}{}
			}
			if len(words) == 0 {
				c.words[pos] = nil
				continue
			}
			set := map[string]struct{}{}
			for _, w := range words {
				set[w] = struct{}{}
			}
			c.words[pos] = set
		}
		// Templates route like the lines they absorbed: wildcards and
		// digit-holding tokens go to the wildcard child.
		leaf := m.route(c.Tokens, c.Tokens)
		leaf.clusters = append(leaf.clusters, c)
		m.clusters = append(m.clusters, c)
	}
	return m, nil
}
