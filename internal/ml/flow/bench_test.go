package flow

import (
	"fmt"
	"testing"
)

// BenchmarkScoreFlows100k scores a synthetic capture of 100,000 flows
// (90% answered from 50 clients to 2,000 servers, 10% probes from 1,000
// scanners): run with -benchtime=1x -benchmem for time and bytes per call.
func BenchmarkScoreFlows100k(b *testing.B) {
	flows := make([]Flow, 0, 100_000)
	for k := 0; len(flows) < cap(flows); k++ {
		if k%10 == 0 {
			flows = append(flows, probe(fmt.Sprintf("203.0.%d.%d", k%1000/250, k%250), "192.0.2.1", k%65536))
		} else {
			flows = append(flows, answered(fmt.Sprintf("192.0.2.%d", k%50), fmt.Sprintf("198.51.%d.%d", k%2000/250, k%250), 443, k))
		}
	}
	b.ResetTimer()
	for range b.N {
		if _, err := ScoreFlows(DefaultConfig(), flows); err != nil {
			b.Fatal(err)
		}
	}
}
