package ioc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
)

// writeBenchList writes n synthetic indicators: 40% IPs, 10% CIDRs, 25%
// domains, 5% URLs, 20% SHA-256 hashes.
func writeBenchList(tb testing.TB, n int) string {
	tb.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	for i := range n {
		switch p := i % 20; {
		case p < 8:
			fmt.Fprintf(&b, "10.%d.%d.%d\n", i>>16&255, i>>8&255, i&255)
		case p < 10:
			fmt.Fprintf(&b, "cidr:11.%d.%d.0/24\n", i>>8&255, i&255)
		case p < 15:
			fmt.Fprintf(&b, "bad%d.example\n", i)
		case p < 16:
			fmt.Fprintf(&b, "url:http://u%d.example/p/%d\n", i, i)
		default:
			fmt.Fprintf(&b, "sha256:%016x%016x%016x%016x\n", r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64())
		}
	}
	p := filepath.Join(tb.TempDir(), "bench.txt")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// benchEvents mixes network, DNS, HTTP and Sysmon-like events; about one in
// a hundred carries a listed value.
func benchEvents(n int) []*event.Event {
	r := rand.New(rand.NewPCG(3, 4))
	evs := make([]*event.Event, n)
	for i := range evs {
		e := event.New()
		e.ID = fmt.Sprint(i)
		e.Set("source.ip", fmt.Sprintf("192.168.%d.%d", r.IntN(256), r.IntN(256)))
		e.Set("destination.ip", fmt.Sprintf("10.%d.%d.%d", r.IntN(256), r.IntN(256), r.IntN(256)))
		e.Set("related.ip", []string{e.Fields["source.ip"].(string), e.Fields["destination.ip"].(string)})
		switch i % 3 {
		case 0:
			e.Set("dns.question.name", fmt.Sprintf("host%d.corp.example.com", r.IntN(1000)))
		case 1:
			e.Set("url.domain", "www.example.org")
			e.Set("url.original", fmt.Sprintf("/index.php?id=%d", i))
		case 2:
			e.Set("winlog.event_data.Hashes", fmt.Sprintf("SHA1=%040X,MD5=%032X,SHA256=%064X,IMPHASH=%032X", i, i, i, i))
		}
		if i%100 == 0 {
			e.Set("dns.question.name", "www.bad25.example")
		}
		evs[i] = e
	}
	return evs
}

// BenchmarkDetect100k measures events/s against 100k indicators:
//
//	go test -run '^$' -bench Detect100k -benchmem ./internal/detect/ioc/
func BenchmarkDetect100k(b *testing.B) {
	d, err := New(Options{Lists: []ListConfig{{Path: writeBenchList(b, 100_000)}}})
	if err != nil {
		b.Fatal(err)
	}
	if got := d.Stats().Total(); got != 100_000 {
		b.Fatalf("loaded %d indicators", got)
	}
	evs := benchEvents(4096)
	ctx := context.Background()
	hits := 0
	emit := func(signal.Signal) { hits++ }
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = d.Detect(ctx, evs[i%len(evs)], emit)
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "events/s")
	if hits == 0 {
		b.Fatal("no hits")
	}
}

// BenchmarkLoad100k measures building the tables from a 100k-line list.
func BenchmarkLoad100k(b *testing.B) {
	p := writeBenchList(b, 100_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(Options{Lists: []ListConfig{{Path: p}}}); err != nil {
			b.Fatal(err)
		}
	}
}
