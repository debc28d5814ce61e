package threshold

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/detect/detecttest"
	"github.com/rampart-ids/rampart/internal/format/auth/authtest"
)

func newBundled(t *testing.T) *Detector {
	t.Helper()
	d, err := New(Options{Paths: []string{bundledRules()}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSnapshotResumes: on Loghub's real sshd log, stopping anywhere,
// snapshotting and restoring into a new detector gives exactly the signals
// (ids, counts, evidence) of one uninterrupted run; starting over with
// empty buckets does not.
func TestSnapshotResumes(t *testing.T) {
	evs := authtest.LoghubOpenSSH(t, 2017)
	want := detecttest.JSONSignals(t, newBundled(t), evs)
	if len(want) == 0 {
		t.Fatal("no threshold signals on the Loghub sshd log")
	}
	differs := 0
	for _, cut := range []int{len(evs) / 7, len(evs) / 3, len(evs) / 2, 2 * len(evs) / 3} {
		first := newBundled(t)
		got := detecttest.JSONSignals(t, first, evs[:cut])
		var buf bytes.Buffer
		if err := first.Snapshot(&buf); err != nil {
			t.Fatal(err)
		}
		second := newBundled(t)
		if err := second.Restore(bytes.NewReader(buf.Bytes())); err != nil {
			t.Fatal(err)
		}
		if second.Stats().Buckets != first.Stats().Buckets {
			t.Errorf("cut %d: %d buckets restored, %d snapshotted", cut, second.Stats().Buckets, first.Stats().Buckets)
		}
		got = append(got, detecttest.JSONSignals(t, second, evs[cut:])...)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("cut %d: %d signals after a restore, want the %d of one run", cut, len(got), len(want))
		}
		fresh := append(detecttest.JSONSignals(t, newBundled(t), evs[:cut]), detecttest.JSONSignals(t, newBundled(t), evs[cut:])...)
		if strings.Join(fresh, "\n") != strings.Join(want, "\n") {
			differs++
		}
	}
	if differs == 0 {
		t.Error("no cut changes the signals when buckets start empty: the test cannot tell a restore from none")
	}
}

// TestRestoreRefuses: a snapshot with a flipped byte is refused and the
// live buckets stay; buckets of a changed rule are dropped.
func TestRestoreRefuses(t *testing.T) {
	evs := authtest.LoghubOpenSSH(t, 2017)
	d := newBundled(t)
	detecttest.JSONSignals(t, d, evs[:len(evs)/2])
	var buf bytes.Buffer
	if err := d.Snapshot(&buf); err != nil {
		t.Fatal(err)
	}
	live := d.Stats().Buckets
	if live == 0 {
		t.Fatal("no live buckets to snapshot")
	}
	for _, i := range []int{0, 20, buf.Len() / 2, buf.Len() - 1} {
		bad := bytes.Clone(buf.Bytes())
		bad[i] ^= 0x20
		if err := d.Restore(bytes.NewReader(bad)); err == nil {
			t.Errorf("byte %d flipped: restored", i)
		}
		if d.Stats().Buckets != live {
			t.Errorf("byte %d flipped: %d buckets after the refused restore, want %d", i, d.Stats().Buckets, live)
		}
	}

	// The same rules with one rule's capacity changed: its buckets go.
	src, err := os.ReadFile(filepath.Join(bundledRules(), "ssh.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	changed := strings.Replace(string(src), "capacity: 5", "capacity: 6", 1)
	if changed == string(src) {
		t.Fatal("ssh.yml has no capacity: 5 to change")
	}
	if err := os.WriteFile(filepath.Join(dir, "ssh.yml"), []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	d2, err := New(Options{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.Restore(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	if n := d2.Stats().Buckets; n >= live || n == 0 {
		t.Errorf("%d buckets restored under one changed rule, want fewer than %d and some", n, live)
	}
}
