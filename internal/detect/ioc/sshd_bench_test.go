package ioc

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/format/auth/authtest"
	"github.com/rampart-ids/rampart/internal/signal"
)

// BenchmarkDetectSSHD is the sshd replay's IOC cost per event with the
// bundled example list (every indicator type loaded):
//
//	go test -run '^$' -bench DetectSSHD -benchmem ./internal/detect/ioc/
func BenchmarkDetectSSHD(b *testing.B) {
	d := mustNew(b, ListConfig{Path: filepath.Join("..", "..", "..", "rules", "ioc", "example.txt")})
	evs := authtest.LoghubOpenSSH(b, 2026)
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
