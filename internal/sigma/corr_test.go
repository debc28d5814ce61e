package sigma

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/event"
)

const bruteForce = `title: SSH failed password
id: aaaaaaaa-0000-4000-8000-000000000001
name: ssh_failed
level: low
logsource:
    product: linux
    service: sshd
detection:
    keywords:
        - 'Failed password'
    condition: keywords
---
title: SSH brute force
id: aaaaaaaa-0000-4000-8000-000000000002
level: high
tags: [attack.t1110.001]
correlation:
    type: event_count
    rules:
        - ssh_failed
    group-by:
        - source.ip
    timespan: 5m
    condition:
        gte: 3
generate: %s
`

func TestCorrelationInsideDetect(t *testing.T) {
	for _, tc := range []struct {
		gen    bool
		nested bool // generate inside the correlation section (pySigma's place)
	}{{false, false}, {true, false}, {false, true}, {true, true}} {
		gen := tc.gen
		t.Run(fmt.Sprint("generate=", gen, "/nested=", tc.nested), func(t *testing.T) {
			doc := fmt.Sprintf(bruteForce, fmt.Sprint(gen))
			if tc.nested {
				doc = strings.Replace(doc, "\ngenerate: ", "\n    generate: ", 1)
			}
			d, err := New(Options{Paths: []string{writeRule(t, doc)}})
			if err != nil {
				t.Fatal(err)
			}
			if rep := d.Report(); rep.Loaded != 2 || rep.Failed != 0 {
				t.Fatalf("report %+v", rep)
			}
			base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			counts := map[string]int{}
			for i := 0; i < 3; i++ {
				ev := event.New()
				ev.ID = fmt.Sprint("e", i)
				ev.Time = base.Add(time.Duration(i) * time.Minute)
				ev.Set("event.dataset", "system.auth")
				ev.Set("process.name", "sshd")
				ev.Set("source.ip", "203.0.113.9")
				ev.Set("message", "Failed password for root from 203.0.113.9")
				for _, s := range detectAll(t, d, ev) {
					counts[s.RuleID]++
				}
			}
			if counts["aaaaaaaa-0000-4000-8000-000000000002"] != 1 {
				t.Errorf("correlation signals %v, want 1", counts)
			}
			wantBase := 0
			if gen {
				wantBase = 3
			}
			if counts["aaaaaaaa-0000-4000-8000-000000000001"] != wantBase {
				t.Errorf("base signals %v, want %d", counts, wantBase)
			}
		})
	}
}

func TestCorrelationUnknownReference(t *testing.T) {
	p := writeRule(t, "title: c\ncorrelation:\n  type: event_count\n  rules: [nothere]\n  group-by: [x]\n  timespan: 5m\n  condition: {gte: 3}\n")
	rep := Check([]string{p}, Options{})
	if rep.Failed != 1 || !strings.Contains(rep.Failures[0].Error, "not loaded: nothere") || !strings.HasPrefix(rep.Failures[0].Error, p+":") {
		t.Errorf("report %+v", rep)
	}
}
