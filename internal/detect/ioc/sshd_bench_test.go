package ioc

import (
	"bufio"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/format/auth"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// sshdEvents parses the shared Loghub OpenSSH sample with the auth parser.
func sshdEvents(tb testing.TB) []*event.Event {
	tb.Helper()
	root := testutil.SharedData(tb, "loghub-2k")
	f, err := os.Open(filepath.Join(root, "OpenSSH", "OpenSSH_2k.log"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	p := auth.Format{}.NewParser(format.Options{Year: 2026})
	var evs []*event.Event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		ev := event.New()
		if p.Parse(sc.Bytes(), ev) == nil {
			ev.ID = string(rune('a' + len(evs)%26))
			evs = append(evs, ev)
		}
	}
	if len(evs) < 1000 {
		tb.Fatalf("parsed %d sshd events", len(evs))
	}
	return evs
}

// BenchmarkDetectSSHD is the sshd replay's IOC cost per event with the
// bundled example list (every indicator type loaded):
//
//	go test -run '^$' -bench DetectSSHD -benchmem ./internal/detect/ioc/
func BenchmarkDetectSSHD(b *testing.B) {
	d := mustNew(b, ListConfig{Path: filepath.Join("..", "..", "..", "rules", "ioc", "example.txt")})
	evs := sshdEvents(b)
	ctx := context.Background()
	emit := func(signal.Signal) {}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = d.Detect(ctx, evs[i%len(evs)], emit)
		i++
	}
}

// TestIPMemoMatchesParse: the memo gives what parsing gives, for hits,
// misses, evictions and the zero entries.
func TestIPMemoMatchesParse(t *testing.T) {
	var m ipMemo
	in := []string{"", " 10.0.0.1", "10.0.0.1", "::ffff:10.0.0.1", "fe80::1%eth0", "x", "", "10.0.0.1",
		"192.0.2.66", "2001:db8::1", "x", "10.0.0.1", "::ffff:10.0.0.1", "", "1.2.3.4", "5.6.7.8", " 10.0.0.1"}
	for round := range 3 {
		for _, s := range in {
			want, err := netip.ParseAddr(strings.TrimSpace(s))
			if err == nil {
				want = want.Unmap().WithZone("")
			}
			got, ok := m.parse(s)
			if ok != (err == nil) || got != want {
				t.Fatalf("round %d: parse(%q) = %v, %v; want %v, %v", round, s, got, ok, want, err == nil)
			}
		}
	}
}
