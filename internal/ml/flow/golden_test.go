package flow

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// TestGolden: flows in, ranked explanations out. A small synthetic capture
// (clients browsing, a vertical scan, a distributed scan, a UDP probe sweep,
// a refused service) is scored and every flow's score and sentence, highest
// first, is compared with testdata/capture.golden (go test -update rewrites
// it; review the diff).
func TestGolden(t *testing.T) {
	var flows []Flow
	for k := 0; k < 60; k++ {
		flows = append(flows, answered(fmt.Sprintf("192.0.2.%d", 10+k%3), fmt.Sprintf("198.51.100.%d", 1+k%12), []int{443, 80}[k%2], k))
	}
	for p := 20; p < 32; p++ {
		flows = append(flows, probe("203.0.113.50", "192.0.2.10", p))
	}
	for k := 0; k < 8; k++ {
		flows = append(flows, probe(fmt.Sprintf("203.0.113.%d", 100+k), "192.0.2.11", 3389))
	}
	for k := 0; k < 6; k++ {
		flows = append(flows, Flow{Src: "203.0.113.77", Dst: "192.0.2.12", DstPort: 5060 + k, Proto: "udp", State: "S0", History: "D", OrigBytes: 440, OrigPkts: 1})
	}
	flows = append(flows, rejected("192.0.2.11", "198.51.100.3", 8080), rejected("192.0.2.11", "198.51.100.3", 8080))
	s, err := ScoreFlows(DefaultConfig(), flows)
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return s[idx[a]].Score > s[idx[b]].Score })
	var b strings.Builder
	for _, i := range idx {
		fmt.Fprintf(&b, "%.4f %s\n", s[i].Score, s[i].Explanation.Sentence)
	}
	path := filepath.Join("testdata", "capture.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("ranking differs from %s (go test -update to accept):\n%s", path, got)
	}
}
