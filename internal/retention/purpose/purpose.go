// Package purpose tags data with the purposes it may be used for, and
// filters data sets (a training set above all) to what a purpose allows.
//
// A tag list allows a purpose when it names the purpose or "*", unless it
// also holds "!purpose" (a denial always wins). Untagged data allows
// nothing: a source must be given its purposes explicitly in the config, so
// no data drifts into model training by default.
package purpose

import (
	"slices"

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
