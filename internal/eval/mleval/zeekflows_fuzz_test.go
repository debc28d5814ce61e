package mleval

import (
	"strings"
	"testing"

	mlflow "github.com/rampart-ids/rampart/internal/ml/flow"
)

const zeekConnHeader = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n" +
	"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\tlabel\tdetailedlabel\n" +
	"#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\tstring\tstring\n"

// FuzzReadConnFlows: whatever a labeled conn log holds, the reader gives
// flows or an error, and every flow it gives can be scored. Seeds:
// testdata/fuzz/FuzzReadConnFlows and the lines below (synthetic, in the
// layout of the Stratosphere labeled logs).
func FuzzReadConnFlows(f *testing.F) {
	f.Add([]byte(zeekConnHeader +
		"1.5\tC1\t198.51.100.7\t46563\t192.0.2.10\t3933\ttcp\t-\t0.000010\t0\t0\tS0\tF\tT\t0\tS\t2\t80\t0\t0\t(empty)\tMalicious\tExternal-Attack\n" +
		"2.5\tC2\t192.0.2.10\t62773\t203.0.113.44\t80\ttcp\thttp\t0.012744\t408\t878\tSF\tT\tF\t0\tShADadfF\t10\t1240\t10\t2180\t(empty)\tBenign\tweb\n"))
	f.Add([]byte(zeekConnHeader + "1\tC3\t-\t1\t192.0.2.1\t99999\tudp\t-\t-\t-\t-\tS0\tF\tF\t0\tD\t1\t1\t0\t0\t(empty)\tBenign\t-\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		flows, err := readConnFlows(fuzzFile(t, data))
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("empty error")
			}
			return
		}
		in := make([]mlflow.Flow, len(flows))
		for i := range flows {
			in[i] = flows[i].Flow
		}
		cfg := mlflow.DefaultConfig()
		cfg.Trees = 5
		if _, err := mlflow.ScoreFlows(cfg, in); err != nil {
			t.Fatalf("reader gave a flow the scorer rejects: %v", err)
		}
	})
}
