// Package purpose tags data with the purposes it may be used for, and
// filters data sets (a training set above all) to what a purpose allows.
//
// A tag list allows a purpose when it names the purpose or "*", unless it
// also holds "!purpose" (a denial always wins). Untagged data allows
// nothing: a source must be given its purposes explicitly in the config, so
// no data drifts into model training by default.
package purpose

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/rampart-ids/rampart/internal/event"
)

// Well-known purposes.
const (
	Detection     = "detection"
	Investigation = "investigation"
	Training      = "training"
	Export        = "export"
	// Any allows every purpose not explicitly denied.
	Any = "*"
)

// Field is the event field holding an event's purpose tags ([]string).
const Field = "rampart.purpose"

// Allowed reports whether tags allow purpose p.
func Allowed(tags []string, p string) bool {
	if p == "" || slices.Contains(tags, "!"+p) {
		return false
	}
	return slices.Contains(tags, p) || slices.Contains(tags, Any)
}

// Of returns ev's purpose tags (nil if untagged).
func Of(ev *event.Event) []string {
	switch v := ev.Fields[Field].(type) {
	case []string:
		return v
	case string:
		return []string{v}
	}
	return nil
}

// Tag sets ev's purpose tags (a copy of tags), replacing any earlier ones.
func Tag(ev *event.Event, tags []string) {
	if len(tags) == 0 {
		delete(ev.Fields, Field)
		return
	}
	ev.Set(Field, slices.Clone(tags))
}

// Filter returns the items whose tags allow purpose p, in order, and how
// many were left out. The input is not modified.
func Filter[T any](items []T, tagsOf func(T) []string, p string) (kept []T, excluded int) {
	for _, it := range items {
		if Allowed(tagsOf(it), p) {
			kept = append(kept, it)
		} else {
			excluded++
		}
	}
	return kept, excluded
}

// TrainingSet filters events to those whose purpose allows training.
func TrainingSet(evs []*event.Event) (kept []*event.Event, excluded int) {
	return Filter(evs, Of, Training)
}

// Rule gives the data of matching sources their purposes.
type Rule struct {
	// Source is a path.Match pattern over a source name: an input name
	// ("file:auth", "syslog"), a file path ("/data/loghub/*/*.log"), or, with
	// no '/' in the pattern, a file's base name ("*.log").
	Source string `yaml:"source"`
	// Tags are the purposes ("training", "!export", "*").
	Tags []string `yaml:"tags"`
}

// Rules are the configured purpose declarations; the first matching rule
// wins. Nil Rules declare nothing (see Declared).
type Rules []Rule

// Declared reports whether any purposes are configured. When they are,
// data from a source no rule matches is untagged and allows nothing.
func (rs Rules) Declared() bool { return len(rs) > 0 }

// Validate reports every malformed rule at once.
func (rs Rules) Validate() error {
	var errs []error
	for i, r := range rs {
		if r.Source == "" {
			errs = append(errs, fmt.Errorf("purposes[%d]: source is empty", i))
		} else if _, err := path.Match(r.Source, ""); err != nil {
			errs = append(errs, fmt.Errorf("purposes[%d]: source %q: %w", i, r.Source, err))
		}
		if len(r.Tags) == 0 {
			errs = append(errs, fmt.Errorf("purposes[%d]: no tags (use \"*\" for any purpose)", i))
		}
		for _, t := range r.Tags {
			if t == "" || t == "!" || t == "!"+Any {
				errs = append(errs, fmt.Errorf("purposes[%d]: invalid tag %q", i, t))
			}
		}
	}
	return errors.Join(errs...)
}

// For returns the tags of source (nil when no rule matches).
func (rs Rules) For(source string) []string {
	for _, r := range rs {
		if r.matches(source) {
			return r.Tags
		}
	}
	return nil
}

// ForInput returns the tags of a live record: the first rule matching the
// input's name ("file:auth", "syslog", "http") or the record's source
// ("syslog:udp", "file:/var/log/auth.log", and then the file's path, so
// the rules written for training files apply to the same files read live).
// The result is the rule's own slice, shared by every record it tags: do
// not modify it. Nil when no rule matches.
func (rs Rules) ForInput(input, source string) []string {
	file, isFile := strings.CutPrefix(source, "file:")
	for _, r := range rs {
		if r.matches(input) || r.matches(source) || (isFile && r.matches(file)) {
			return r.Tags
		}
	}
	return nil
}

// matches reports whether r's pattern matches name, or name's base name
// when the pattern has no '/'.
func (r Rule) matches(name string) bool {
	if ok, _ := path.Match(r.Source, name); ok {
		return true
	}
	if !strings.Contains(r.Source, "/") {
		ok, _ := path.Match(r.Source, path.Base(name))
		return ok
	}
	return false
}

// Decide says whether data from source may be used for purpose p under
// rs, and if not, why (for lineage and logs). Without declarations every
// source is allowed: purposes are opt-in per deployment.
func (rs Rules) Decide(source, p string) (bool, string) {
	if !rs.Declared() {
		return true, ""
	}
	tags := rs.For(source)
	if tags == nil {
		return false, "untagged (no purposes rule matches the source), so no purpose allows " + p
	}
	if !Allowed(tags, p) {
		return false, fmt.Sprintf("purposes %v do not allow %s", tags, p)
	}
	return true, ""
}
