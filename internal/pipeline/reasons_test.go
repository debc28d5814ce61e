package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/ingest"
	"github.com/rampart-ids/rampart/internal/ingest/file"
	"github.com/rampart-ids/rampart/internal/ingest/httpin"
	"github.com/rampart-ids/rampart/internal/ingest/stdin"
	"github.com/rampart-ids/rampart/internal/ingest/syslog"
	"github.com/rampart-ids/rampart/internal/pipeline"
	"github.com/rampart-ids/rampart/internal/store"
)

// oneLineRecord is a hostile record that every line-framed input reads as
// one record (no line break, no leading or trailing space or NUL, which
// some inputs trim).
type oneLineRecord struct {
	name string
	data string
	// want is the outcome every input must give: a quarantine reason, or
	// "event".
	want string
	// decoderFrames is false for records the stream Decoder (replay,
	// explain) frames differently from a line: it splits back-to-back
	// objects and one-line arrays of objects into their elements.
	decoderFrames bool
}

func nest(open, leaf, close string, n int) string {
	return strings.Repeat(open, n) + leaf + strings.Repeat(close, n)
}

// oneLineCorpus is the hostile corpus compared across inputs. Limits: 64
// levels of JSON nesting, 256 KiB per record (set alike on every input).
func oneLineCorpus() []oneLineRecord {
	const ok = "event"
	return []oneLineRecord{
		{"ecs event", `{"@timestamp":"2026-11-20T10:00:00Z","user":{"name":"alice"},"event":{"dataset":"x"}}`, ok, true},
		{"nesting at the limit", `{"@timestamp":"2026-11-20T10:00:00Z","x":` + nest(`{"a":`, "1", "}", 63) + `}`, ok, true},
		{"nesting one past the limit", `{"x":` + nest(`{"a":`, "1", "}", 64) + `}`, format.ReasonTooDeep, true},
		{"deep object", nest(`{"a":`, "1", "}", 5000), format.ReasonTooDeep, true},
		{"deeper than encoding/json accepts", nest(`{"a":`, "1", "}", 12000), format.ReasonTooDeep, true},
		{"deep array", nest("[", "1", "]", 5000), format.ReasonTooDeep, true},
		{"deep unclosed array", strings.Repeat("[", 100000), format.ReasonTooDeep, true},
		{"deep unclosed object", strings.Repeat(`{"a":`, 100), format.ReasonTooDeep, true},
		{"deep array of objects", "[" + nest(`{"a":`, "1", "}", 100) + "]", format.ReasonTooDeep, false},
		{"unterminated string", `{"unterminated": "value`, format.ReasonInvalidJSON, true},
		{"unclosed object", `{"a": {"b": 1}`, format.ReasonInvalidJSON, true},
		{"NaN", `{"a": NaN}`, format.ReasonInvalidJSON, true},
		{"trailing garbage", `{"a": 1} trailing`, format.ReasonInvalidJSON, true},
		{"two objects on a line", `{"a":1}{"b":2}`, format.ReasonInvalidJSON, false},
		{"bad escape", `{"a": "\q"}`, format.ReasonInvalidJSON, true},
		{"invalid UTF-8 in a string", "{\"EventID\": 4624, \"Channel\": \"Security\", \"EventData\": {\"x\": \"\xff\xfe\"}}", format.ReasonInvalidUTF8, true},
		{"invalid UTF-8 and too deep", nest(`{"a":`, "\"\xff\"", "}", 100), format.ReasonInvalidUTF8, true},
		{"invalid UTF-8 and invalid JSON", "{\"a\": \"\xc3\x28\"", format.ReasonInvalidUTF8, true},
		{"json array of numbers", `[1,2,3]`, format.ReasonUnknownFormat, true},
		{"json string", `"just a string"`, format.ReasonUnknownFormat, true},
		{"array of objects on one line", `[{"a":1},{"b":2}]`, format.ReasonUnknownFormat, false},
		{"binary garbage", "\x01\x02\xff\xfe\x00A", format.ReasonUnknownFormat, true},
		{"oversized", strings.Repeat("A", 300<<10), format.ReasonTooLarge, true},
		{"oversized json", `{"k":"` + strings.Repeat("x", 300<<10) + `"}`, format.ReasonTooLarge, true},
		{"huge key", `{"` + strings.Repeat("k", 70000) + `": 1}`, ok, true},
		{"bracketed text line", "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties", format.ReasonUnknownFormat, true},
		{"dmesg line", "[    0.000000] Linux version 5.10.0", format.ReasonUnknownFormat, true},
		{"sshd line with invalid UTF-8", "Nov 27 10:00:00 host sshd[12]: Failed password for \xc3\x28 from 10.0.0.1 port 22 ssh2", ok, true},
		{"path tricks", `{"EventID":"../../../../etc/passwd","Channel":"\u0000Security"}`, ok, true},
	}
}

const corpusMaxRecord = 256 << 10

// outcomes runs body through one input into a pipeline on real SQLite and
// returns each record's outcome by the record's leading bytes.
type inputRun func(t *testing.T, ctx context.Context, body []byte, sink ingest.Sink, p *pipeline.Pipeline, n int)

func runFile(t *testing.T, ctx context.Context, body []byte, sink ingest.Sink, _ *pipeline.Pipeline, _ int) {
	path := filepath.Join(t.TempDir(), "hostile.log")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := file.New(file.Config{Paths: []string{path}, Once: true, MaxRecordBytes: corpusMaxRecord}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Run(ctx, sink); err != nil {
		t.Fatal(err)
	}
}

func runStdin(t *testing.T, ctx context.Context, body []byte, sink ingest.Sink, _ *pipeline.Pipeline, _ int) {
	if err := stdin.NewReader(stdin.Config{MaxRecordBytes: corpusMaxRecord}, bytes.NewReader(body)).Run(ctx, sink); err != nil {
		t.Fatal(err)
	}
}

func runHTTP(t *testing.T, ctx context.Context, body []byte, sink ingest.Sink, p *pipeline.Pipeline, n int) {
	srv := httptest.NewServer(httpin.NewHandler(httpin.Config{MaxLineBytes: corpusMaxRecord}, sink))
	defer srv.Close()
	resp, err := http.Post(srv.URL, "application/x-ndjson", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got httpin.Response
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d, body error %v", resp.StatusCode, err)
	}
	// The reply counts what the pipeline did with the records, exactly.
	s := p.Stats()
	if uint64(got.Accepted) != s.Events || uint64(got.Quarantined) != s.Quarantined || got.Accepted+got.Quarantined+got.NoEvent != n {
		t.Errorf("reply %+v, pipeline %+v, %d records sent", got, s, n)
	}
}

func runSyslogTCP(t *testing.T, ctx context.Context, body []byte, sink ingest.Sink, p *pipeline.Pipeline, n int) {
	srv, err := syslog.New(syslog.Config{TCP: "127.0.0.1:0", MaxMessage: corpusMaxRecord}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(rctx, sink) }()
	c, err := net.Dial("tcp", srv.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(body); err != nil {
		t.Fatal(err)
	}
	c.Close()
	for deadline := time.Now().Add(30 * time.Second); p.Stats().Received < uint64(n) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// key identifies a corpus record by its length and leading bytes
// (quarantine keeps at most store.MaxQuarantineRaw bytes of a record).
func key(b []byte) string {
	if len(b) >= store.MaxQuarantineRaw {
		return "long:" + string(b[:200])
	}
	return fmt.Sprint(len(b)) + ":" + string(b[:min(len(b), 200)])
}

// TestSameReasonsEveryInput runs one hostile corpus through the file,
// stdin, HTTP and syslog TCP inputs into the pipeline on real SQLite, and
// through the stream Decoder (replay): the same bytes get the same outcome
// everywhere, and every record is accounted for.
func TestSameReasonsEveryInput(t *testing.T) {
	corpus := oneLineCorpus()
	var body bytes.Buffer
	for _, r := range corpus {
		if strings.ContainsAny(r.data, "\n\r") || r.data != strings.Trim(r.data, " \t\x00") {
			t.Fatalf("corpus record %q is not one line", r.name)
		}
		body.WriteString(r.data)
		body.WriteByte('\n')
	}
	want := map[string]string{}
	for _, r := range corpus {
		if _, dup := want[key([]byte(r.data))]; dup {
			t.Fatalf("corpus record %q: leading bytes not unique", r.name)
		}
		want[key([]byte(r.data))] = r.want
	}
	inputs := []struct {
		name string
		run  inputRun
	}{{"file", runFile}, {"stdin", runStdin}, {"http", runHTTP}, {"syslog_tcp", runSyslogTCP}}
	got := map[string]map[string]string{} // record name → input → outcome
	for _, r := range corpus {
		got[r.name] = map[string]string{}
	}
	for _, in := range inputs {
		ctx := context.Background()
		st := openStore(t)
		p, err := pipeline.New(pipeline.Options{Engine: detect.NewEngine(&userDetector{}), Store: st, StoreAllEvents: true, MaxRecordBytes: corpusMaxRecord})
		if err != nil {
			t.Fatal(err)
		}
		in.run(t, ctx, body.Bytes(), p, p, len(corpus))
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}
		s := p.Stats()
		if s.Received != uint64(len(corpus)) || s.Events+s.Quarantined+s.NoEvents != s.Received {
			t.Errorf("%s: %d records sent, pipeline %+v", in.name, len(corpus), s)
		}
		stats, err := st.(store.StatsStore).Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if uint64(stats.Events) != s.Events || uint64(stats.Quarantined) != s.Quarantined {
			t.Errorf("%s: store holds %d events and %d quarantined, pipeline counted %+v", in.name, stats.Events, stats.Quarantined, s)
		}
		qs, err := st.ListQuarantine(ctx, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		reasons := map[string]string{}
		for _, q := range qs {
			reasons[key(q.Raw)] = q.Reason
		}
		for _, r := range corpus {
			out, ok := reasons[key([]byte(r.data))]
			if !ok {
				out = "event"
			}
			got[r.name][in.name] = out
		}
	}
	// The stream Decoder of replay and explain, one record per stream (it
	// frames JSON by structure, so a broken record may take in the lines
	// after it).
	for _, r := range corpus {
		if !r.decoderFrames {
			continue
		}
		dec := format.NewDecoder(strings.NewReader(r.data+"\n"), "file:hostile.log", format.DecoderOptions{MaxRecordBytes: corpusMaxRecord})
		var outs []string
		for {
			var ev event.Event
			err := dec.Next(&ev)
			if errors.Is(err, io.EOF) {
				break
			}
			raw, _ := dec.Last()
			if !bytes.Equal(raw, []byte(r.data)) && !(len(r.data) > corpusMaxRecord && bytes.HasPrefix([]byte(r.data), raw)) {
				t.Errorf("%s: decoder framed %.40q", r.name, raw)
			}
			var re *format.RecordError
			switch {
			case err == nil:
				outs = append(outs, "event")
			case errors.As(err, &re):
				outs = append(outs, re.Reason)
			default:
				t.Fatal(err)
			}
		}
		got[r.name]["replay"] = strings.Join(outs, ",")
	}
	for _, r := range corpus {
		wantRow := map[string]string{}
		for in := range got[r.name] {
			wantRow[in] = r.want
		}
		if diff := cmp.Diff(wantRow, got[r.name]); diff != "" {
			t.Errorf("%s: outcome by input (-want +got):\n%s", r.name, diff)
		}
	}
}
