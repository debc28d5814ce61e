// Package eval is Rampart's evaluation harness: named suites that score the
// detection stack on a labeled data folder. Suites register themselves.
package eval

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
)

// Options are what `rampart eval` passes to a suite.
type Options struct {
	Data  string   // --data DIR
	Rules []string // --rules PATH (repeatable); empty means the suite's default
	Seed  int64    // --seed, for suites with randomness
	// Progress, if set, receives human progress lines (stderr on a terminal).
	Progress io.Writer
}

// Result is a suite's outcome.
type Result interface {
	// JSON returns the machine-readable result. It must include the suite's
	// documented keys; "suite" is added by the harness.
	JSON() map[string]any
	// Table writes the human-readable table.
	Table(w io.Writer) error
}

// Suite is one evaluation.
type Suite struct {
	Name    string
	Summary string
	Run     func(ctx context.Context, opts Options) (Result, error)
}

var (
	mu     sync.RWMutex
	suites = map[string]Suite{}
)

// Register adds a suite; it panics on a duplicate name.
func Register(s Suite) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := suites[s.Name]; dup {
		panic("eval: duplicate suite " + s.Name)
	}
	suites[s.Name] = s
}

// Lookup returns the suite named name.
func Lookup(name string) (Suite, error) {
	mu.RLock()
	defer mu.RUnlock()
	s, ok := suites[name]
	if !ok {
		return Suite{}, fmt.Errorf("unknown suite %q (have %v)", name, namesLocked())
	}
	return s, nil
}

// Names lists suites, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	return namesLocked()
}

func namesLocked() []string {
	out := make([]string, 0, len(suites))
	for n := range suites {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
