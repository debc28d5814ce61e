package model

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/ml/iforest"
)

func smallForest(t testing.TB) *iforest.Forest {
	t.Helper()
	cfg := iforest.DefaultConfig()
	cfg.Trees, cfg.SampleSize = 3, 8
	rows := [][]float64{{1, 2}, {2, 1}, {3, 3}, {4, 1}, {1, 5}, {2, 2}, {3, 1}, {9, 9}}
	f, err := iforest.Fit(cfg, []string{"bytes", "pkts"}, rows)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func sampleArtifact(t testing.TB) *Artifact {
	t.Helper()
	f := smallForest(t)
	ch := NewContentHasher()
	ch.Add([]byte("1,2"))
	ch.Add([]byte("2,1"))
	a, err := New(Body{
		Kind: "iforest", Name: "zeek-conn", Version: "1",
		Created:  time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
		Features: f.Features,
		Lineage: Lineage{
			Sources:     []Source{{Name: "conn.log", Rows: 8}},
			From:        time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
			To:          time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC),
			ClassCounts: map[string]int{"normal": 8},
			Exclusions:  []Exclusion{{Reason: "alert-linked <script>", Rows: 2}},
			ContentHash: ch.Sum(), Seed: 1,
		},
		Metrics:    map[string]float64{"auc": 0.98},
		Thresholds: map[string]float64{"threshold": f.Threshold, "target_rate": 0.01},
	}, f)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestRoundTrip(t *testing.T) {
	a := sampleArtifact(t)
	var buf bytes.Buffer
	if err := a.Write(&buf); err != nil {
		t.Fatal(err)
	}
	b, err := Load(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if b.Hash != a.Hash || !strings.HasPrefix(b.Hash, "sha256:") {
		t.Errorf("hash %s, want %s", b.Hash, a.Hash)
	}
	var f iforest.Forest
	if err := b.Params(&f); err != nil {
		t.Fatal(err)
	}
	orig := smallForest(t)
	x := []float64{9, 9}
	s1, _ := orig.Score(x)
	s2, _ := f.Score(x)
	if s1.Score != s2.Score {
		t.Errorf("loaded forest scores %v, original %v", s2.Score, s1.Score)
	}
	if b.Body.Lineage.Exclusions[0].Reason != "alert-linked <script>" || !b.Body.Lineage.To.Equal(a.Body.Lineage.To) {
		t.Errorf("lineage %+v", b.Body.Lineage)
	}
	// Encoding is deterministic.
	again, _ := b.Encode()
	if !bytes.Equal(again, buf.Bytes()) {
		t.Error("re-encoding a loaded artifact changed its bytes")
	}
}

// TestTamperRefused flips every byte of a model file, one at a time, and
// checks that each altered file is refused.
func TestTamperRefused(t *testing.T) {
	data, err := sampleArtifact(t).Encode()
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		for _, mask := range []byte{0x01, 0x20, 0x80} {
			bad := bytes.Clone(data)
			bad[i] ^= mask
			if _, err := Decode(bad); err == nil {
				t.Fatalf("byte %d ^ %#x accepted", i, mask)
			}
		}
	}
}

func TestLoadErrors(t *testing.T) {
	good, _ := sampleArtifact(t).Encode()
	tests := []struct {
		name string
		data string
		want error
	}{
		{"empty", "", ErrFormat},
		{"other format", `{"body":{},"format":"x","hash":"","version":1}` + "\n", ErrFormat},
		{"future version", strings.Replace(string(good), `"version":1}`, `"version":2}`, 1), ErrFormat},
		{"pretty printed", strings.Replace(string(good), `{"body":`, `{ "body":`, 1), ErrNotCanonical},
		{"changed threshold", strings.Replace(string(good), `"target_rate":0.01`, `"target_rate":0.02`, 1), ErrHash},
	}
	for _, tc := range tests {
		_, err := Decode([]byte(tc.data))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestContentHasher(t *testing.T) {
	a, b := NewContentHasher(), NewContentHasher()
	a.Add([]byte("ab"))
	a.Add([]byte("c"))
	b.Add([]byte("a"))
	b.Add([]byte("bc"))
	if a.Sum() == b.Sum() || a.Rows() != 2 {
		t.Errorf("row boundaries not hashed: %s %s", a.Sum(), b.Sum())
	}
}

func TestGoldenFile(t *testing.T) {
	data, err := sampleArtifact(t).Encode()
	if err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/iforest.model"
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, want) {
		t.Errorf("encoding differs from %s (UPDATE_GOLDEN=1 to rewrite)", golden)
	}
}

func FuzzDecode(f *testing.F) {
	good, err := os.ReadFile("testdata/iforest.model")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"body":{},"format":"rampart-model","hash":"sha256:00","version":1}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Decode(data)
		if err != nil {
			return
		}
		// Whatever is accepted re-encodes to the same bytes.
		out, err := a.Encode()
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("accepted file does not round-trip: %v", err)
		}
	})
}
