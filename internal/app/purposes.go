package app

import (
	"context"
	"sync"

	"github.com/rampart-ids/rampart/internal/ingest"
	"github.com/rampart-ids/rampart/internal/retention/purpose"
)

// Live events get their purpose tags (issue 5, item 3) from the same
// privacy.purposes rules as training files, matched against the input's
// name ("file:auth", "syslog", "http", "demo") and each record's source
// (a file's path, "syslog:udp"). The learning detectors then skip events
// whose tags do not allow training (see learnGate).

// maxPurposeSources bounds a purposeSink's cache of sources; past it the
// rules are matched per record (files matched by a glob are few).
const maxPurposeSources = 4096

// purposeSink sets Record.Purposes on the records of one input. The tags
// are the matching rule's own slice, so tagging allocates nothing per record.
type purposeSink struct {
	next  ingest.Sink
	input string
	rules purpose.Rules

	mu       sync.Mutex // HTTP ingest submits from many requests at once
	bySource map[string][]string
}

// withPurposes returns next tagging the records of input by rules; next
// itself when no rules are declared (nothing is tagged, as before).
func withPurposes(input string, rules purpose.Rules, next ingest.Sink) ingest.Sink {
	if !rules.Declared() {
		return next
	}
	return &purposeSink{next: next, input: input, rules: rules, bySource: map[string][]string{}}
}

// Submit implements ingest.Sink.
func (s *purposeSink) Submit(ctx context.Context, recs []ingest.Record) error {
	s.mu.Lock()
	last, tags := "", []string(nil)
	for i := range recs {
		src := recs[i].Source
		if i == 0 || src != last {
			last, tags = src, s.tagsOf(src)
		}
		recs[i].Purposes = tags
	}
	s.mu.Unlock()
	return s.next.Submit(ctx, recs)
}

// tagsOf returns the tags of source (s.mu held).
func (s *purposeSink) tagsOf(source string) []string {
	if tags, ok := s.bySource[source]; ok {
		return tags
	}
	tags := s.rules.ForInput(s.input, source)
	if len(s.bySource) < maxPurposeSources {
		s.bySource[source] = tags
	}
	return tags
}
