package ioc

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/testutil"
)

func mustNew(t testing.TB, lists ...ListConfig) *Detector {
	t.Helper()
	d, err := New(Options{Lists: lists})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func ev(id string, at time.Time, kv ...any) *event.Event {
	e := event.New()
	e.ID, e.Time = id, at
	for i := 0; i+1 < len(kv); i += 2 {
		e.Set(kv[i].(string), kv[i+1])
	}
	return e
}

func run(t testing.TB, d *Detector, e *event.Event) []signal.Signal {
	t.Helper()
	var out []signal.Signal
	if err := d.Detect(context.Background(), e, func(s signal.Signal) { out = append(out, s) }); err != nil {
		t.Fatal(err)
	}
	return out
}

// brief renders a signal as "ruleID type indicator field".
func brief(s signal.Signal) string {
	return s.RuleID + " " + s.Details["type"].(string) + " " + s.Details["indicator"].(string) + " " + s.Details["field"].(string)
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestDetect(t *testing.T) {
	d := mustNew(t,
		ListConfig{Path: "testdata/lists"},
		ListConfig{Name: "stix", Path: "testdata/stix/custom.json", Level: signal.LevelCritical},
	)
	tests := []struct {
		name string
		ev   *event.Event
		want []string
	}{
		{"source ip exact", ev("e1", t0, "source.ip", "192.0.2.10"), []string{"ioc:mixed ip 192.0.2.10 source.ip"}},
		{"destination in cidr", ev("e2", t0, "destination.ip", "203.0.113.5"), []string{"ioc:mixed ip 203.0.113.0/24 destination.ip"}},
		{"csv auto ip inside listed cidr: both lists", ev("e3", t0, "destination.ip", "203.0.113.77"),
			[]string{"ioc:mixed ip 203.0.113.0/24 destination.ip", "ioc:feed ip 203.0.113.77 destination.ip"}},
		{"related ip list, dedup per indicator", ev("e4", t0, "source.ip", "192.0.2.10", "related.ip", []string{"192.0.2.10", "198.51.100.3"}),
			[]string{"ioc:mixed ip 192.0.2.10 source.ip", "ioc:mixed ip 198.51.100.0/25 related.ip"}},
		{"mapped v6 and v6", ev("e5", t0, "source.ip", "::ffff:192.0.2.10", "destination.ip", "2001:db8::10"),
			[]string{"ioc:mixed ip 192.0.2.10 source.ip", "ioc:mixed ip 2001:db8::10 destination.ip"}},
		{"outside cidr", ev("e6", t0, "source.ip", "198.51.100.200"), nil},
		{"not an ip", ev("e7", t0, "source.ip", "garbage"), nil},
		{"subdomain dns", ev("e8", t0, "dns.question.name", "a.b.EVIL.example."), []string{"ioc:mixed domain evil.example dns.question.name"}},
		{"sni", ev("e9", t0, "tls.server.sni", "c2.example.net"), []string{"ioc:mixed domain c2.example.net tls.server.sni"}},
		{"suffix but not subdomain", ev("e10", t0, "dns.question.name", "notevil.example"), nil},
		{"url original", ev("e11", t0, "url.original", "https://BAD.example/dl/payload.exe#x"),
			[]string{"ioc:mixed url http://bad.example/dl/payload.exe url.original", "ioc:stix url http://bad.example/dl/payload.exe url.original"}},
		{"url path + domain", ev("e12", t0, "url.domain", "phish.example", "url.original", "/login?x=1"),
			[]string{"ioc:mixed url https://phish.example/login?x=1 url.original"}},
		{"md5 upper case", ev("e13", t0, "file.hash.md5", "44D88612FEA8A8F36DE82E1278ABB02F"), []string{"ioc:mixed md5 44d88612fea8a8f36de82e1278abb02f file.hash.md5"}},
		{"sysmon hashes, AND satisfied", ev("e14", t0, "winlog.event_data.Hashes",
			"SHA1=3395856CE81F2B7382DEE72602F798B642F14140,MD5=44D88612FEA8A8F36DE82E1278ABB02F,SHA256=275A021BBFB6489E54D471899F7DB9D1663FC695EC2FE2A2C4538AABF651FD0F,IMPHASH=00000000000000000000000000000000"),
			[]string{
				"ioc:mixed sha1 3395856ce81f2b7382dee72602f798b642f14140 winlog.event_data.Hashes",
				"ioc:mixed md5 44d88612fea8a8f36de82e1278abb02f winlog.event_data.Hashes",
				"ioc:stix md5 44d88612fea8a8f36de82e1278abb02f winlog.event_data.Hashes",
				"ioc:mixed sha256 275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f winlog.event_data.Hashes",
			}},
		{"STIX AND not satisfied", ev("e15", t0, "related.hash", "44d88612fea8a8f36de82e1278abb02f"),
			[]string{"ioc:mixed md5 44d88612fea8a8f36de82e1278abb02f related.hash"}},
		{"imphash ignored", ev("e16", t0, "winlog.event_data.Hashes", "IMPHASH=44D88612FEA8A8F36DE82E1278ABB02F"), nil},
		{"stix valid before valid_until", ev("e17", t0, "destination.ip", "198.51.100.7"),
			[]string{"ioc:mixed ip 198.51.100.0/25 destination.ip", "ioc:stix ip 198.51.100.7 destination.ip"}},
		{"stix expired at event time", ev("e18", t0.AddDate(0, 6, 0), "destination.ip", "198.51.100.7"),
			[]string{"ioc:mixed ip 198.51.100.0/25 destination.ip"}},
		{"stix issubset v6", ev("e19", t0, "source.ip", "2001:db8:bad::1"), []string{"ioc:stix ip 2001:db8:bad::/48 source.ip"}},
		{"stix revoked never loaded", ev("e20", t0, "dns.question.name", "revoked.example"), nil},
		{"stix IN", ev("e21", t0, "dns.question.name", "in2.example"), []string{"ioc:stix domain in2.example dns.question.name"}},
		{"csv domain", ev("e22", t0, "url.domain", "www.csv.example"), []string{"ioc:feed domain csv.example url.domain"}},
		{"no fields", ev("e23", t0), nil},
		{"overlong domain ignored", ev("e25", t0, "dns.question.name", strings.Repeat("a.", 200)+"evil.example"), nil},
		{"address as url.domain", ev("e24", t0, "url.domain", "192.0.2.10"), []string{"ioc:mixed ip 192.0.2.10 url.domain"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, s := range run(t, d, tc.ev) {
				got = append(got, brief(s))
			}
			// Order is deterministic but not part of the contract.
			sort.Strings(got)
			sort.Strings(tc.want)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("signals (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSignalShape(t *testing.T) {
	d := mustNew(t, ListConfig{Name: "stix", Path: "testdata/stix/custom.json", Level: signal.LevelCritical})
	e := ev("evt-1", t0, "destination.ip", "198.51.100.7", "host.name", "ws1", "user.name", "alice")
	got := run(t, d, e)
	if len(got) != 1 {
		t.Fatalf("got %d signals, want 1", len(got))
	}
	s := got[0]
	want := signal.Signal{
		ID:          signal.DeriveID("ioc", "ioc:stix\x00ip:198.51.100.7/32", "evt-1"),
		Detector:    "ioc",
		Layer:       signal.LayerRules,
		RuleID:      "ioc:stix",
		RuleVersion: s.RuleVersion,
		Title:       "Known-bad ip 198.51.100.7 (stix)",
		Level:       signal.LevelCritical,
		Score:       1,
		Entities:    []signal.Entity{{Kind: "ip", Value: "198.51.100.7"}, {Kind: "host", Value: "ws1"}, {Kind: "user", Value: "alice"}},
		Time:        t0,
		EventIDs:    []string{"evt-1"},
		Explanation: "destination.ip 198.51.100.7 matches ip indicator 198.51.100.7 from list stix",
		Details: map[string]any{
			"indicator": "198.51.100.7", "type": "ip", "field": "destination.ip", "value": "198.51.100.7", "source": "stix",
			"stix_id": "indicator--00000000-0000-4000-8000-000000000010", "stix_name": "expiring C2",
			"labels": []string{"malicious-activity"}, "valid_until": time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC),
		},
	}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("signal (-want +got):\n%s", diff)
	}
	if len(s.RuleVersion) != 12 {
		t.Errorf("RuleVersion %q, want 12 hex digits of the file hash", s.RuleVersion)
	}
	// Deterministic: the same event gives the same signal id.
	if again := run(t, d, e); again[0].ID != s.ID {
		t.Errorf("signal id not deterministic: %s vs %s", again[0].ID, s.ID)
	}
}

func TestLoadStats(t *testing.T) {
	d := mustNew(t, ListConfig{Path: "testdata/lists"}, ListConfig{Path: "testdata/stix/custom.json"})
	st := d.Stats()
	if st.Files != 3 {
		t.Errorf("files = %d, want 3", st.Files)
	}
	wantInd := map[Type]int{TypeIP: 8, TypeDomain: 5, TypeURL: 3, TypeMD5: 2, TypeSHA1: 1, TypeSHA256: 1}
	if diff := cmp.Diff(wantInd, st.Indicators); diff != "" {
		t.Errorf("indicators (-want +got):\n%s", diff)
	}
	if st.Duplicates != 1 || st.Revoked != 1 {
		t.Errorf("duplicates=%d revoked=%d, want 1 and 1", st.Duplicates, st.Revoked)
	}
	var errs []string
	for _, e := range st.Errors {
		errs = append(errs, filepath.Base(e.File)+":"+strconv.Itoa(e.Line))
	}
	want := []string{"feed.csv:5", "feed.csv:6", "mixed.txt:15", "mixed.txt:16", "mixed.txt:17", "mixed.txt:18", "custom.json:9", "custom.json:10"}
	sort.Strings(errs)
	sort.Strings(want)
	if diff := cmp.Diff(want, errs); diff != "" {
		t.Errorf("bad lines (-want +got):\n%s\n%v", diff, st.Errors)
	}
	if st.BadLines != len(want) {
		t.Errorf("BadLines = %d, want %d", st.BadLines, len(want))
	}
	wantUnsup := map[string]int{"observation FOLLOWEDBY": 1, "pattern_type snort": 1, "operator MATCHES": 1, "syntax error": 1}
	if diff := cmp.Diff(wantUnsup, st.Unsupported); diff != "" {
		t.Errorf("unsupported (-want +got):\n%s", diff)
	}
}

// TestSTIXExampleBundles loads real STIX bundles (OASIS examples shipped with
// github.com/TcM1911/stix2, see testdata/stix/ATTRIBUTION.md).
func TestSTIXExampleBundles(t *testing.T) {
	d := mustNew(t,
		ListConfig{Path: "testdata/stix/poisonivy.json"},
		ListConfig{Path: "testdata/stix/apt1-report.json"},
		ListConfig{Path: "testdata/stix/indicator-for-c2-ip-address.json"},
	)
	st := d.Stats()
	wantUnsup := map[string]int{
		"object path file:name":                      2, // poisonivy
		"invalid value":                              1, // poisonivy 'domain autuo.xicp.net'
		"object path x509-certificate:issuer":        2, // apt1
		"object path x509-certificate:serial_number": 2,
	}
	if diff := cmp.Diff(wantUnsup, st.Unsupported); diff != "" {
		t.Errorf("unsupported (-want +got):\n%s", diff)
	}
	if st.BadLines != 0 {
		t.Errorf("bad lines: %v", st.Errors)
	}
	if st.Total() < 40 {
		t.Errorf("loaded %d indicators, want at least 40: %v", st.Total(), st.Indicators)
	}
	tests := []struct {
		e    *event.Event
		want string
	}{
		{ev("p1", t0, "destination.ip", "60.10.1.120"), "ioc:poisonivy ip 60.10.1.120 destination.ip"},
		{ev("p2", t0, "dns.question.name", "apple.cmdnetview.com"), "ioc:poisonivy domain apple.cmdnetview.com dns.question.name"},
		{ev("a1", t0, "source.ip", "58.247.1.2"), "ioc:apt1-report ip 58.246.0.0/15 source.ip"},
		{ev("a2", t0, "file.hash.md5", "001DD76872D80801692FF942308C64E6"), "ioc:apt1-report md5 001dd76872d80801692ff942308c64e6 file.hash.md5"},
		{ev("a3", t0, "url.domain", "www.hugesoft.org"), "ioc:apt1-report domain hugesoft.org url.domain"},
		{ev("c1", t0, "source.ip", "10.0.0.0"), "ioc:indicator-for-c2-ip-address ip 10.0.0.0 source.ip"},
	}
	for _, tc := range tests {
		got := run(t, d, tc.e)
		if len(got) != 1 || brief(got[0]) != tc.want {
			var b []string
			for _, s := range got {
				b = append(b, brief(s))
			}
			t.Errorf("event %s: got %q, want [%q]", tc.e.ID, b, tc.want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"missing file", Options{Lists: []ListConfig{{Path: filepath.Join(dir, "nope.txt")}}}, "no such file"},
		{"bad json", Options{Lists: []ListConfig{{Path: write("b.json", "{not json")}}}, "decoding stix json"},
		{"not a bundle", Options{Lists: []ListConfig{{Path: write("c.json", `{"type":"malware"}`)}}}, "neither bundle nor indicator"},
		{"csv without header", Options{Lists: []ListConfig{{Path: write("d.csv", "a,b\n")}}}, "no value column"},
		{"too big", Options{MaxFileBytes: 4, Lists: []ListConfig{{Path: write("e.txt", "192.0.2.1\n")}}}, "larger than 4 bytes"},
		{"too many", Options{MaxIndicators: 1, Lists: []ListConfig{{Path: write("f.txt", "192.0.2.1\n192.0.2.2\n")}}}, "too many indicators"},
		{"bad format", Options{Lists: []ListConfig{{Path: write("g.txt", ""), Format: "xml"}}}, "format"},
		{"bad level", Options{DefaultLevel: "severe", Lists: nil}, "unknown level"},
		{"empty path", Options{Lists: []ListConfig{{}}}, "path: required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got err %v, want containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "live.txt")
	if err := os.WriteFile(p, []byte("192.0.2.1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := mustNew(t, ListConfig{Path: dir})
	hit := func(ip string) bool { return len(run(t, d, ev("r", t0, "source.ip", ip))) > 0 }
	if !hit("192.0.2.1") || hit("192.0.2.2") {
		t.Fatal("initial table wrong")
	}
	if err := os.WriteFile(p, []byte("192.0.2.2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if hit("192.0.2.1") || !hit("192.0.2.2") {
		t.Fatal("reloaded table wrong")
	}
	// A broken file keeps the previous tables.
	if err := os.WriteFile(filepath.Join(dir, "broken.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(context.Background()); err == nil {
		t.Fatal("reload of a broken file succeeded")
	}
	if !hit("192.0.2.2") {
		t.Fatal("previous table lost after failed reload")
	}
}

// TestReloadConcurrent runs Detect while reloading (meaningful under -race).
func TestReloadConcurrent(t *testing.T) {
	d := mustNew(t, ListConfig{Path: "testdata/lists"})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			if err := d.Reload(context.Background()); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	e := ev("c", t0, "source.ip", "192.0.2.10")
	for {
		select {
		case <-done:
			return
		default:
		}
		if got := run(t, d, e); len(got) != 1 {
			t.Fatalf("got %d signals during reload, want 1", len(got))
		}
	}
}

func TestFactory(t *testing.T) {
	spec, ok := detect.Lookup("ioc")
	if !ok {
		t.Fatal("ioc not registered")
	}
	if spec.Layer != signal.LayerRules {
		t.Errorf("layer %q", spec.Layer)
	}
	det, err := spec.New(detect.Options{
		RulePaths: []string{filepath.Join(testutil.ModuleRoot(), "rules", "ioc")},
		Config: map[string]any{
			"level": "medium",
			"lists": []any{map[string]any{"name": "extra", "path": "testdata/lists/feed.csv", "level": "low"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	d := det.(*Detector)
	if st := d.Stats(); st.BadLines != 2 || st.Files != 2 { // the 2 bad rows of feed.csv
		t.Errorf("bundled example list: files=%d bad=%v", st.Files, st.Errors)
	}
	got := run(t, d, ev("f", t0, "source.ip", "192.0.2.66", "destination.ip", "192.0.2.200"))
	if len(got) != 2 || got[0].RuleID != "ioc:example" || got[0].Level != signal.LevelMedium ||
		got[1].RuleID != "ioc:extra" || got[1].Level != signal.LevelLow {
		t.Errorf("got %+v", got)
	}
	for _, bad := range []map[string]any{
		{"levle": "high"},
		{"level": "severe"},
		{"lists": []any{map[string]any{"format": "xml", "path": "x"}}},
	} {
		if _, err := spec.New(detect.Options{Config: bad}); err == nil {
			t.Errorf("config %v accepted", bad)
		}
	}
}
