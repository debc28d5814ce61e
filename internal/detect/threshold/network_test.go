package threshold

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"testing"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/format/formattest"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// replayZeek runs the bundled rules over one Zeek log and returns the
// network-scan signals and each event's zeek.label (labeled files only).
func replayZeek(t *testing.T, path string) ([]signal.Signal, map[string]string) {
	t.Helper()
	rules, err := LoadRules(bundledRules())
	if err != nil {
		t.Fatal(err)
	}
	det := NewFromRules(rules, Options{})
	evs, _ := formattest.FileEvents(t, path, format.DecoderOptions{Format: "zeek"})
	labels := map[string]string{}
	var sigs []signal.Signal
	for _, ev := range evs {
		if l, ok := ev.Fields["zeek.label"].(string); ok {
			labels[ev.ID] = l
		}
		_ = det.Detect(context.Background(), ev, func(s signal.Signal) {
			if s.RuleID == "net-port-scan" || s.RuleID == "net-address-scan" {
				sigs = append(sigs, s)
			}
		})
	}
	return sigs, labels
}

// TestStratosphereScans: the Nmap scenario (one scanner, 172.16.1.11) raises
// port-scan and address-scan signals naming only the scanner; on the mixed
// captures no scan signal rests on a flow labeled Benign or Background.
// Thresholds are scan.zeek's defaults, not tuned on these files.
func TestStratosphereScans(t *testing.T) {
	root := testutil.SharedData(t, "stratosphere-zeek")
	if _, ok := format.Lookup("zeek"); !ok {
		t.Skip("zeek format not registered in this build")
	}
	sigs, _ := replayZeek(t, filepath.Join(root, "002-zeek-scenario-port-scanning", "conn.log"))
	by := map[string]int{}
	for _, s := range sigs {
		by[s.RuleID]++
		if s.Entities[0].Value != "172.16.1.11" {
			t.Errorf("%s names %v, want the scanner 172.16.1.11 first", s.RuleID, s.Entities)
		}
	}
	if by["net-port-scan"] < 10 || by["net-address-scan"] < 1 {
		t.Errorf("port-scanning scenario: signals by rule %v, want ≥10 net-port-scan and ≥1 net-address-scan", by)
	}
	t.Logf("002 port scanning: %v", by)

	for _, name := range []string{"008-zeek-mixed", "010-zeek-mixed"} {
		sigs, labels := replayZeek(t, filepath.Join(root, name, "data", "conn.log.labeled"))
		fp := 0
		for _, s := range sigs {
			for _, id := range s.EventIDs {
				if l := labels[id]; l != "Malicious" {
					fp++
					t.Errorf("%s: %s (%s) rests on a %q flow", name, s.RuleID, s.Explanation, l)
					break
				}
			}
		}
		t.Logf("%s: %d scan signals, %d on benign or background flows", name, len(sigs), fp)
	}
}

// TestEVEFlowPortScan: Suricata flow records count like Zeek conn ones. 15
// SYNs to distinct ports of one host that get no SYN-ACK (RST or nothing)
// overflow net-port-scan; 20 answered connections to distinct ports of
// another host pour nothing.
func TestEVEFlowPortScan(t *testing.T) {
	if _, ok := format.Lookup("eve"); !ok {
		t.Skip("eve format not registered in this build")
	}
	rules, err := LoadRules(bundledRules())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for i := 0; i < 20; i++ {
		tc := "00"
		if i%2 == 1 {
			tc = "14" // RST-ACK: a closed port
		}
		fmt.Fprintf(&buf, `{"timestamp":"2024-05-01T10:00:%02d.000000+0000","flow_id":%d,"event_type":"flow","src_ip":"192.0.2.7","src_port":%d,"dest_ip":"10.9.0.1","dest_port":%d,"proto":"TCP","flow":{"pkts_toserver":1,"pkts_toclient":0,"state":"new"},"tcp":{"tcp_flags":"02","tcp_flags_ts":"02","tcp_flags_tc":"%s"}}`+"\n",
			i, i+1, 40000+i, 1000+i, tc)
		fmt.Fprintf(&buf, `{"timestamp":"2024-05-01T10:00:%02d.500000+0000","flow_id":%d,"event_type":"flow","src_ip":"192.0.2.8","src_port":%d,"dest_ip":"10.9.0.2","dest_port":%d,"proto":"TCP","flow":{"pkts_toserver":5,"pkts_toclient":4,"state":"closed"},"tcp":{"tcp_flags":"1b","tcp_flags_ts":"1b","tcp_flags_tc":"1b"}}`+"\n",
			i, 100+i, 41000+i, 2000+i)
	}
	det := NewFromRules(rules, Options{})
	evs, skipped := formattest.Events(t, &buf, "test", format.DecoderOptions{Format: "eve"})
	if skipped != 0 {
		t.Fatalf("%d records not read", skipped)
	}
	var got []signal.Signal
	for _, ev := range evs {
		_ = det.Detect(context.Background(), ev, func(s signal.Signal) { got = append(got, s) })
	}
	if len(got) != 1 || got[0].RuleID != "net-port-scan" || got[0].Entities[0].Value != "192.0.2.7" || got[0].Entities[1].Value != "10.9.0.1" {
		t.Fatalf("got %+v, want one net-port-scan from 192.0.2.7 to 10.9.0.1", got)
	}
	if got[0].Details["count"] != 15 {
		t.Errorf("count %v, want the 15th distinct port to overflow", got[0].Details["count"])
	}
}

// TestFirewallDeniedScan: ECS firewall records (event.type denied, as
// Filebeat's firewall modules write them) to one port on 25 hosts overflow
// net-address-scan-denied; 24 hosts do not.
func TestFirewallDeniedScan(t *testing.T) {
	if _, ok := format.Lookup("ecs"); !ok {
		t.Skip("ecs format not registered in this build")
	}
	rules, err := LoadRules(bundledRules())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ hosts, want int }{{24, 0}, {25, 1}} {
		var buf bytes.Buffer
		for i := 0; i < tc.hosts; i++ {
			fmt.Fprintf(&buf, `{"@timestamp":"2024-05-01T10:00:%02dZ","event":{"category":["network"],"type":["connection","denied"],"action":"drop"},"source":{"ip":"192.0.2.9","port":%d},"destination":{"ip":"10.9.0.%d","port":3389},"network":{"transport":"tcp"}}`+"\n", i, 40000+i, i+1)
		}
		det := NewFromRules(rules, Options{})
		dec := format.NewDecoder(&buf, "test", format.DecoderOptions{Format: "ecs"})
		var got []string
		for {
			ev := event.New()
			err := dec.Next(ev)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			_ = det.Detect(context.Background(), ev, func(s signal.Signal) { got = append(got, s.RuleID) })
		}
		if len(got) != tc.want || (tc.want == 1 && got[0] != "net-address-scan-denied") {
			t.Errorf("%d hosts: signals %v, want %d net-address-scan-denied", tc.hosts, got, tc.want)
		}
	}
}
