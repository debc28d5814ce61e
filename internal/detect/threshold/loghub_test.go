package threshold

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	_ "github.com/rampart-ids/rampart/internal/format/all"
	"github.com/rampart-ids/rampart/internal/format/auth/authtest"
	"github.com/rampart-ids/rampart/internal/format/formattest"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// TestLoghubOpenSSH replays the real sshd log of Loghub (OpenSSH_2k.log)
// through the auth parser and the bundled rules. Every address with at
// least 10 "Failed … for … from <addr>" lines (per the derived labels file)
// must raise ssh-brute-force; addresses with fewer than 6 failures cannot
// overflow a capacity-5 bucket and must not.
func TestLoghubOpenSSH(t *testing.T) {
	dir := testutil.SharedData(t, "loghub-2k")
	if _, ok := format.Lookup("auth"); !ok {
		t.Skip("auth format not registered in this build")
	}
	// Expected: failed-password lines (templates E8, E9, E10) per address.
	lf, err := os.Open(filepath.Join(dir, "_derived", "OpenSSH_2k_auth_labels.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	recs, err := csv.NewReader(lf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]int{}
	for _, r := range recs[1:] {
		if r[2] == "auth_failure" && r[3] != "" && (r[1] == "E8" || r[1] == "E9" || r[1] == "E10") {
			failed[r[3]]++
		}
	}

	f, err := os.Open(filepath.Join(dir, "OpenSSH", "OpenSSH_2k.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	det, err := New(Options{Paths: []string{bundledRules()}})
	if err != nil {
		t.Fatal(err)
	}
	dec := format.NewDecoder(f, "file:OpenSSH_2k.log", format.DecoderOptions{Format: "auth", Parse: format.Options{Year: 2017}})
	fired := map[string]map[string]int{} // rule → address → signals
	var sigs []signal.Signal
	n := 0
	for {
		ev := event.New()
		err := dec.Next(ev)
		if errors.Is(err, io.EOF) {
			break
		}
		var re *format.RecordError
		if errors.As(err, &re) || errors.Is(err, format.ErrNoEvent) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		_ = det.Detect(context.Background(), ev, func(s signal.Signal) { sigs = append(sigs, s) })
	}
	if n < 1900 {
		t.Fatalf("only %d events parsed from 2000 lines", n)
	}
	for _, s := range sigs {
		if fired[s.RuleID] == nil {
			fired[s.RuleID] = map[string]int{}
		}
		fired[s.RuleID][s.Entities[0].Value]++
	}
	var addrs []string
	for a := range failed {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	for _, a := range addrs {
		got := fired["ssh-brute-force"][a]
		switch {
		case failed[a] >= 10 && got == 0:
			t.Errorf("%s: %d failed logins, no ssh-brute-force signal", a, failed[a])
		case failed[a] < 6 && got > 0:
			t.Errorf("%s: only %d failed logins, but %d ssh-brute-force signals", a, failed[a], got)
		}
		t.Logf("%-16s failed %4d  brute-force signals %d", a, failed[a], got)
	}
	for a := range fired["ssh-brute-force"] {
		if failed[a] == 0 {
			t.Errorf("ssh-brute-force fired for %s, which has no labelled failures", a)
		}
	}
	var summary []string
	for r, m := range fired {
		total := 0
		for _, c := range m {
			total += c
		}
		summary = append(summary, r+"="+strconv.Itoa(total))
	}
	sort.Strings(summary)
	t.Logf("%d events, signals: %s", n, strings.Join(summary, " "))
}

// TestAuthSudoFailures: sudo password failures as the auth parser reads
// them from syslog lines raise sudo-auth-failures for the user.
func TestAuthSudoFailures(t *testing.T) {
	if _, ok := format.Lookup("auth"); !ok {
		t.Skip("auth format not registered in this build")
	}
	lines := strings.Repeat("Mar  4 10:00:0X web1 sudo: pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice\n", 4)
	for i := 0; i < 4; i++ {
		lines = strings.Replace(lines, "0X", "0"+strconv.Itoa(i), 1)
	}
	det, err := New(Options{Paths: []string{bundledRules()}})
	if err != nil {
		t.Fatal(err)
	}
	evs, skipped := formattest.Events(t, strings.NewReader(lines), "test", format.DecoderOptions{Format: "auth", Parse: format.Options{Year: 2024}})
	if skipped != 0 {
		t.Fatalf("%d records not read", skipped)
	}
	var sigs []signal.Signal
	for _, ev := range evs {
		_ = det.Detect(context.Background(), ev, func(s signal.Signal) { sigs = append(sigs, s) })
	}
	if len(sigs) != 1 || sigs[0].RuleID != "sudo-auth-failures" || sigs[0].Entities[0] != (signal.Entity{Kind: "user", Value: "alice"}) {
		t.Fatalf("signals %+v, want one sudo-auth-failures for alice", sigs)
	}
}

// BenchmarkDetectOpenSSH measures Detect per event over the real Loghub
// sshd log (OpenSSH_2k.log through the auth parser) and the bundled rules,
// the per-event cost of `rampart replay` on sshd logs. Each pass shifts the
// events past the previous pass in time, so buckets fill, overflow and
// drain as they do in a long log.
func BenchmarkDetectOpenSSH(b *testing.B) {
	evs := authtest.LoghubOpenSSH(b, 2017)
	t0 := make([]time.Time, len(evs))
	for i, ev := range evs {
		t0[i] = ev.Time
	}
	span := evs[len(evs)-1].Time.Sub(evs[0].Time) + time.Hour
	d, err := New(Options{Paths: []string{bundledRules()}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	ctx, signals := context.Background(), 0
	emit := func(signal.Signal) { signals++ }
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		i := n % len(evs)
		if i == 0 {
			shift := time.Duration(n/len(evs)) * span
			for j, ev := range evs {
				ev.Time = t0[j].Add(shift)
			}
		}
		_ = d.Detect(ctx, evs[i], emit)
		n++
	}
	if signals == 0 {
		b.Fatal("no signals")
	}
}
