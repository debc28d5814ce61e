package ioc

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// stixObject holds the fields of a STIX object this package reads; other
// fields are ignored.
type stixObject struct {
	Type           string   `json:"type"`
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Pattern        string   `json:"pattern"`
	PatternType    string   `json:"pattern_type"`
	ValidUntil     string   `json:"valid_until"`
	Revoked        bool     `json:"revoked"`
	Labels         []string `json:"labels"`
	IndicatorTypes []string `json:"indicator_types"`
}

type stixEnvelope struct {
	Type    string            `json:"type"`
	Objects []json.RawMessage `json:"objects"`
}

// stixIndicator is one supported conjunction of one STIX indicator.
type stixIndicator struct {
	obj   *stixObject
	until time.Time
	terms []Term
	index int
}

// stixSink receives what parseSTIX finds.
type stixSink struct {
	add         func(stixIndicator)
	bad         func(index int, err error)
	unsupported func(reason string)
	revoked     func()
}

// parseSTIX reads a STIX 2.x bundle (or a single indicator object). It fails
// only when the document is not a JSON object; bad objects go to bad.
func parseSTIX(data []byte, sink stixSink) error {
	var env stixEnvelope
	if err := json.Unmarshal(data, &env); err != nil {
		return fmt.Errorf("decoding stix json: %w", err)
	}
	objs := env.Objects
	switch env.Type {
	case "bundle":
	case "indicator":
		objs = []json.RawMessage{data}
	default:
		return fmt.Errorf("stix document type %q is neither bundle nor indicator", short(env.Type))
	}
	for i, raw := range objs {
		var o stixObject
		if err := json.Unmarshal(raw, &o); err != nil {
			sink.bad(i+1, fmt.Errorf("decoding object: %w", err))
			continue
		}
		if o.Type != "indicator" {
			continue
		}
		if o.Revoked {
			sink.revoked()
			continue
		}
		if err := stixObjectTerms(&o, i+1, sink); err != nil {
			sink.bad(i+1, fmt.Errorf("indicator %s: %w", short(o.ID), err))
		}
	}
	return nil
}

func stixObjectTerms(o *stixObject, index int, sink stixSink) error {
	if pt := strings.ToLower(o.PatternType); pt != "" && pt != "stix" {
		sink.unsupported("pattern_type " + short(pt))
		return nil
	}
	if o.Pattern == "" {
		return errors.New("no pattern")
	}
	var until time.Time
	if o.ValidUntil != "" {
		t, err := time.Parse(time.RFC3339Nano, o.ValidUntil)
		if err != nil {
			return fmt.Errorf("invalid valid_until %q", short(o.ValidUntil))
		}
		until = t.UTC()
	}
	pat, err := ParsePattern(o.Pattern)
	if err != nil {
		sink.unsupported("syntax error")
		return err
	}
	// A pattern counts once under each distinct reason it hits.
	seen := map[string]bool{}
	for _, r := range pat.Skipped {
		if !seen[r] {
			seen[r] = true
			sink.unsupported(r)
		}
	}
	for _, c := range pat.Conjunctions {
		sink.add(stixIndicator{obj: o, until: until, terms: c, index: index})
	}
	return nil
}
