package flow

import (
	"math"
	"testing"
)

// FuzzScoreFlows decodes bytes into flows (7 bytes a flow: source,
// destination, port, state, history, sizes) and checks the scorer neither
// crashes nor leaves [0,1], whatever the mix. Seeds: testdata/fuzz.
func FuzzScoreFlows(f *testing.F) {
	f.Add([]byte("\x01\x02\x16\x00\x00\x00\x00\x01\x02\x17\x03\x05\x10\x20"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 7*2000 {
			return
		}
		states := []string{"S0", "SF", "REJ", "OTH", "RSTO", "S1", "SH", "", "weird"}
		var flows []Flow
		for i := 0; i+7 <= len(data); i += 7 {
			b := data[i : i+7]
			flows = append(flows, Flow{
				Src: string(rune('a' + b[0]%16)), Dst: string(rune('a' + b[1]%16)), DstPort: int(b[2]),
				Proto: []string{"tcp", "udp", "icmp"}[b[3]%3], State: states[int(b[3])%len(states)],
				History: string(data[i : i+int(b[4]%4)]), Duration: float64(b[5]) / 7,
				OrigBytes: float64(b[6]), RespBytes: float64(b[5] & b[6]), OrigPkts: float64(b[6] % 3), RespPkts: float64(b[5] % 2),
			})
		}
		cfg := DefaultConfig()
		cfg.Trees = 10
		s, err := ScoreFlows(cfg, flows)
		if err != nil {
			t.Fatal(err) // every decoded flow is valid
		}
		if len(s) != len(flows) {
			t.Fatalf("%d scores for %d flows", len(s), len(flows))
		}
		for i, sc := range s {
			if math.IsNaN(sc.Score) || sc.Score < 0 || sc.Score > 1 || sc.Explanation.Sentence == "" {
				t.Fatalf("flow %d: %+v", i, sc)
			}
		}
	})
}
