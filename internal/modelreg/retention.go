package modelreg

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/rampart-ids/rampart/internal/ml/model"
	"github.com/rampart-ids/rampart/internal/ml/robust"
)

// Pruned is one model version removed by Prune.
type Pruned struct {
	Name, Version string
	Created       time.Time
}

// Prune deletes stored versions created before the cut-off (Body.Created,
// or the file time when the artifact does not load) that rollback can no
// longer need: the active version, every version a promotion still on the
// rollback stack replaced, and the newest version below the active one
// (the previous active when versions were activated without promote) are
// always kept. Artifact and signature go together. It returns what it
// removed, in name and version order.
func (r *Registry) Prune(before time.Time) ([]Pruned, error) {
	ix, err := r.readIndex()
	if err != nil {
		return nil, err
	}
	names, err := r.names()
	if err != nil {
		return nil, fmt.Errorf("pruning models: %w", err)
	}
	if len(names) == 0 {
		return nil, nil // nothing to prune: no decisions to read
	}
	ds, err := r.Decisions("")
	if err != nil {
		return nil, fmt.Errorf("pruning models: %w", err)
	}
	var out []Pruned
	for _, name := range names {
		vs, err := r.versions(name)
		if err != nil {
			return out, err
		}
		keep := keptVersions(name, ix.Active[name], vs, ds)
		for _, v := range vs {
			if keep[v] {
				continue
			}
			created := r.created(name, v)
			if created.IsZero() || !created.Before(before) {
				continue
			}
			p := r.path(name, v)
			// The artifact first: a crash in between leaves a stray .sig,
			// never a model without its signature.
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return out, fmt.Errorf("pruning model %s@%s: %w", name, v, err)
			}
			if err := os.Remove(model.SigPath(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return out, fmt.Errorf("pruning model %s@%s: %w", name, v, err)
			}
			out = append(out, Pruned{Name: name, Version: v, Created: created})
		}
	}
	return out, nil
}

// keptVersions are the versions of name Prune never removes.
func keptVersions(name, active string, vs []string, ds []robust.Decision) map[string]bool {
	keep := map[string]bool{}
	if active == "" {
		return keep // no active version: nothing to roll back to, all age out
	}
	keep[active] = true
	if i := slices.Index(vs, active); i > 0 {
		keep[vs[i-1]] = true
	}
	var stack []string // From of each promotion not yet rolled back
	for _, d := range ds {
		if d.Name != name {
			continue
		}
		switch d.Action {
		case robust.ActionPromote:
			stack = append(stack, d.From)
		case robust.ActionRollback:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		}
	}
	for _, v := range stack {
		keep[v] = true
	}
	return keep
}

// created is when a version was trained: the artifact's Created, else the
// file's modification time (zero if neither is readable).
func (r *Registry) created(name, version string) time.Time {
	if a, _, err := r.load(name, version); err == nil && !a.Body.Created.IsZero() {
		return a.Body.Created
	}
	if st, err := os.Stat(r.path(name, version)); err == nil {
		return st.ModTime()
	}
	return time.Time{}
}
