package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/ingest/httpin"
	"github.com/rampart-ids/rampart/internal/ingest/syslog"
	"github.com/rampart-ids/rampart/internal/pipeline"
	"github.com/rampart-ids/rampart/internal/store"
)

// metricSums gathers reg and sums each counter family over its labels.
func metricSums(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetType() != dto.MetricType_COUNTER {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[mf.GetName()] += m.GetCounter().GetValue()
		}
	}
	return out
}

// TestHTTPReplyMatchesStoreAndMetrics posts hostile mixed batches (deep,
// malformed, oversized, binary, valid) and checks that the reply, the
// pipeline's counts, /metrics and what SQLite holds all agree: received =
// events + quarantined (+ records without an event), by reason too.
func TestHTTPReplyMatchesStoreAndMetrics(t *testing.T) {
	var hostile bytes.Buffer
	for _, r := range oneLineCorpus() {
		hostile.WriteString(r.data + "\n")
	}
	for _, b := range hostileCorpus(2) { // random bytes may hold line breaks: more lines
		hostile.Write(b)
		hostile.WriteByte('\n')
	}
	tests := []struct {
		name string
		body string
		want *httpin.Response // nil: only consistency is checked
	}{
		// The QA report: the reply said 2 accepted and 3 quarantined, the
		// store held 1 event and 4 quarantine entries (the framing counted a
		// well-formed object nested 100 deep as accepted; the parser
		// quarantined it as too_deep after the reply was sent).
		{"qa report", `{"@timestamp":"2026-11-20T10:00:00Z","user":{"name":"alice"},"event":{"dataset":"x"}}` + "\n" +
			nest(`{"a":`, "1", "}", 100) + "\n" + `{"a": NaN}` + "\n" + strings.Repeat("[", 100) + "\n" + `{"unterminated": "x` + "\n",
			&httpin.Response{Accepted: 1, Quarantined: 4, Reasons: map[string]int{"too_deep": 2, "invalid_json": 2}}},
		{"hostile mixed", hostile.String(), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkHTTPAccounting(t, tc.body, tc.want)
		})
	}
}

func checkHTTPAccounting(t *testing.T, body string, want *httpin.Response) {
	st := openStore(t)
	reg := prometheus.NewRegistry()
	p, err := pipeline.New(pipeline.Options{Engine: detect.NewEngine(&userDetector{}), Store: st, StoreAllEvents: true, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpin.NewHandler(httpin.Config{}, p))
	defer srv.Close()
	resp, err := http.Post(srv.URL, "application/x-ndjson", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var reply httpin.Response
	err = json.NewDecoder(resp.Body).Decode(&reply)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d: %v", resp.StatusCode, err)
	}
	if want != nil {
		if diff := cmp.Diff(*want, reply); diff != "" {
			t.Errorf("reply (-want +got):\n%s", diff)
		}
	}
	ctx := context.Background()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s := p.Stats()
	received := uint64(reply.Accepted + reply.Quarantined + reply.NoEvent)
	if s.Received != received || s.Events != uint64(reply.Accepted) || s.Quarantined != uint64(reply.Quarantined) || s.NoEvents != uint64(reply.NoEvent) {
		t.Errorf("reply %+v, pipeline %+v", reply, s)
	}
	stats, err := st.(store.StatsStore).Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(stats.Events) != s.Events || uint64(stats.Quarantined) != s.Quarantined {
		t.Errorf("store holds %d events and %d quarantined; reply %+v", stats.Events, stats.Quarantined, reply)
	}
	byReason, err := st.CountQuarantine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantReasons := map[string]int64{}
	for r, n := range reply.Reasons {
		wantReasons[r] = int64(n)
	}
	if diff := cmp.Diff(wantReasons, byReason); diff != "" {
		t.Errorf("quarantine by reason, reply (-) and store (+):\n%s", diff)
	}
	m := metricSums(t, reg)
	if m["rampart_records_received_total"] != float64(received) || m["rampart_events_total"] != float64(reply.Accepted) ||
		m["rampart_quarantined_total"] != float64(reply.Quarantined) || m["rampart_records_done_total"] != float64(received) {
		t.Errorf("metrics %v, reply %+v", m, reply)
	}
	if reply.Accepted == 0 || reply.Quarantined == 0 {
		t.Errorf("reply %+v: the batch holds both good and bad records", reply)
	}
	t.Logf("reply %+v", reply)
}

// TestSyslogUDPEveryDatagramCounted sends empty and all-NUL datagrams
// among good ones: each is a record, quarantined as empty_message.
func TestSyslogUDPEveryDatagramCounted(t *testing.T) {
	st := openStore(t)
	reg := prometheus.NewRegistry()
	p, err := pipeline.New(pipeline.Options{Engine: detect.NewEngine(&userDetector{}), Store: st, StoreAllEvents: true, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := syslog.New(syslog.Config{UDP: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, p) }()
	c, err := net.Dial("udp", srv.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	sent := []string{"<13>Nov 27 10:00:00 host app: one", "", "\x00\x00\x00\x00", "\n\x00", "<13>Nov 27 10:00:01 host app: two"}
	for _, m := range sent {
		if _, err := c.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	for deadline := time.Now().Add(30 * time.Second); p.Stats().Received < uint64(len(sent)) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := p.Stats()
	if s.Received != uint64(len(sent)) || s.Events+s.Quarantined+s.NoEvents != s.Received {
		t.Fatalf("%d datagrams sent, pipeline %+v (the kernel drops none on loopback at this rate)", len(sent), s)
	}
	reasons, err := st.CountQuarantine(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int64{format.ReasonEmpty: 3}, reasons); diff != "" {
		t.Errorf("quarantine (-want +got):\n%s", diff)
	}
	if st := srv.Stats(); st.Records != uint64(len(sent)) {
		t.Errorf("input counted %d records, want %d", st.Records, len(sent))
	}
	if m := metricSums(t, reg); m["rampart_records_received_total"] != float64(len(sent)) {
		t.Errorf("rampart_records_received_total %v, want %d", m["rampart_records_received_total"], len(sent))
	}
	qs, _ := st.ListQuarantine(context.Background(), format.ReasonEmpty, 10)
	for _, q := range qs {
		if strings.Trim(string(q.Raw), "\x00\n") != "" {
			t.Errorf("empty_message entry holds %q", q.Raw)
		}
	}
}
