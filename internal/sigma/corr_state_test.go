package sigma

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/detect/detecttest"
	"github.com/rampart-ids/rampart/internal/format/auth/authtest"
)

// corrStateRules: event_count (eager: bruteForce) and value_count with an
// upper bound (judged when the window closes) over sshd failures per source
// address.
var corrStateRules = fmt.Sprintf(bruteForce, "false") + `---
title: SSH failures against few accounts
id: aaaaaaaa-0000-4000-8000-000000000003
level: medium
correlation:
    type: value_count
    rules: [ssh_failed]
    group-by: [source.ip]
    timespan: 30m
    condition:
        field: user.name
        lt: 3
`

// TestCorrelationSnapshotResumes: on Loghub's real sshd log, a detector cut
// anywhere, snapshotted and restored into a new one raises exactly the
// signals of one uninterrupted run (windows, counts, distinct values,
// evidence); a reload carries the open windows over too. Starting over
// with no windows does not.
func TestCorrelationSnapshotResumes(t *testing.T) {
	evs := authtest.LoghubOpenSSH(t, 2017)
	path := writeRule(t, corrStateRules)
	newDet := func() *Detector {
		d, err := New(Options{Paths: []string{path}})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	want := detecttest.JSONSignals(t, newDet(), evs)
	if len(want) == 0 {
		t.Fatal("no correlation signals on the Loghub sshd log")
	}
	differs := 0
	for _, cut := range []int{len(evs) / 5, len(evs) / 2, 4 * len(evs) / 5} {
		first := newDet()
		got := detecttest.JSONSignals(t, first, evs[:cut])
		var b bytes.Buffer
		if err := first.Snapshot(&b); err != nil {
			t.Fatal(err)
		}
		second := newDet()
		if err := second.Restore(&b); err != nil {
			t.Fatal(err)
		}
		got = append(got, detecttest.JSONSignals(t, second, evs[cut:])...)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("cut %d: %d signals after a restore, want the %d of one run", cut, len(got), len(want))
		}
		fresh := append(detecttest.JSONSignals(t, newDet(), evs[:cut]), detecttest.JSONSignals(t, newDet(), evs[cut:])...)
		if strings.Join(fresh, "\n") != strings.Join(want, "\n") {
			differs++
		}

		reloaded := newDet()
		got = detecttest.JSONSignals(t, reloaded, evs[:cut])
		if err := reloaded.Reload(context.Background()); err != nil {
			t.Fatal(err)
		}
		got = append(got, detecttest.JSONSignals(t, reloaded, evs[cut:])...)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("cut %d: %d signals across a reload, want %d", cut, len(got), len(want))
		}
	}
	if differs == 0 {
		t.Error("no cut changes the signals when windows start empty: the test cannot tell a restore from none")
	}

	// A rule set without correlation rules writes and reads an empty state;
	// a corrupt snapshot is refused.
	plain, err := New(Options{Paths: []string{writeRule(t, strings.SplitN(corrStateRules, "---", 2)[0])}})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := plain.Snapshot(&b); err != nil {
		t.Fatal(err)
	}
	if err := newDet().Restore(bytes.NewReader(b.Bytes())); err != nil {
		t.Errorf("restoring an empty state: %v", err)
	}
	bad := b.Bytes()
	bad[len(bad)-1] ^= 1
	if err := plain.Restore(bytes.NewReader(bad)); err == nil {
		t.Error("a corrupt snapshot was restored")
	}
}
