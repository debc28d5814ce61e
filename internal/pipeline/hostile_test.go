package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/detect"
	"github.com/rampart-ids/rampart/internal/ingest"
	"github.com/rampart-ids/rampart/internal/pipeline"
	"github.com/rampart-ids/rampart/internal/store"
)

// hostileCorpus returns records meant to break parsers: oversized, malformed,
// deeply nested, invalid encodings, binary garbage, format confusion.
func hostileCorpus(seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	var out [][]byte
	add := func(b []byte) { out = append(out, b) }
	add(bytes.Repeat([]byte("A"), 2<<20))                                                   // over the record limit
	add([]byte(strings.Repeat("[", 100000)))                                                // deep JSON array
	add([]byte(strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000)))            // deep JSON object
	add([]byte(`{"EventID": 4624, "Channel": "Security", "EventData": {"x": "\xff\xfe"}}`)) // invalid UTF-8 in JSON
	add([]byte("Nov 27 10:00:00 host sshd[12]: Failed password for \xc3\x28 from 10.0.0.1 port 22 ssh2"))
	add([]byte{0, 0, 0, 0, 0xff, 0xfe, 0x00, 0x41})
	add([]byte(`{"unterminated": "value`))
	add([]byte(`{"a":1}{"b":2}`))
	add([]byte(`{"a": NaN}`))
	add([]byte(`{"a": 1e999999}`))
	add([]byte(`{"` + strings.Repeat("k", 70000) + `": 1}`))
	add([]byte("#fields\tts\tuid\n"))
	add([]byte("#separator \\x09"))
	add([]byte(""))
	add([]byte("<999999>1 2026-11-27T10:00:00Z host app - - - msg"))
	add([]byte("<13>Feb 30 99:99:99 host app: impossible time"))
	add([]byte(`{"EventID":"../../../../etc/passwd","Channel":"\u0000Security"}`))
	var many strings.Builder
	many.WriteString("{")
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&many, `"f%d":%d,`, i, i)
	}
	many.WriteString(`"end":1}`)
	add([]byte(many.String()))
	for i := 0; i < 200; i++ { // random bytes and random mutations of valid records
		n := rng.IntN(512)
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(rng.UintN(256))
		}
		add(b)
		valid := []byte(`{"@timestamp":"2026-11-20T10:00:00Z","source":{"ip":"10.0.0.1"},"user":{"name":"alice"},"event":{"dataset":"x"}}`)
		for k := 0; k < 3; k++ {
			valid[rng.IntN(len(valid))] = byte(rng.UintN(256))
		}
		add(valid)
	}
	return out
}

// TestHostileCorpusAccounted ingests the hostile corpus: no crash, and every
// record is accounted for — stored as an event, quarantined with a reason, or
// a record that carries no event.
func TestHostileCorpusAccounted(t *testing.T) {
	st := openStore(t)
	p, err := pipeline.New(pipeline.Options{Engine: detect.NewEngine(&userDetector{}), Store: st, StoreAllEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	corpus := hostileCorpus(1)
	for i, data := range corpus {
		src := []string{"http", "syslog:udp", "file:/var/log/x"}[i%3]
		if err := p.Submit(ctx, []ingest.Record{{Source: src, Position: fmt.Sprint(i), Data: data}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s := p.Stats()
	if s.Received != uint64(len(corpus)) {
		t.Fatalf("received %d of %d", s.Received, len(corpus))
	}
	if s.Events+s.Quarantined+s.NoEvents != s.Received {
		t.Fatalf("not accounted: events %d + quarantined %d + no-event %d != received %d", s.Events, s.Quarantined, s.NoEvents, s.Received)
	}
	stats, err := st.(store.StatsStore).Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Stored events can be fewer than parsed ones only through identical ids
	// (same source, position and bytes), which this corpus never repeats.
	if uint64(stats.Events) != s.Events || uint64(stats.Quarantined) != s.Quarantined {
		t.Fatalf("store holds %d events and %d quarantined, pipeline counted %d and %d", stats.Events, stats.Quarantined, s.Events, s.Quarantined)
	}
	reasons, err := st.CountQuarantine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for r := range reasons {
		if r == "" {
			t.Error("a record was quarantined without a reason")
		}
	}
	if reasons["too_large"] == 0 {
		t.Errorf("the oversized record was not quarantined as too_large: %v", reasons)
	}
	t.Logf("records %d: events %d, quarantined %d %v, no-event %d", s.Received, s.Events, s.Quarantined, reasons, s.NoEvents)
}
