package seq

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// Sessions from hdfs-deeplog's hdfs_train (DeepLog, MIT; Loghub HDFS data).
var normal = []string{
	"5 5 5 22 11 9 11 9 11 9 26 26 26 23 23 23 21 21 21",
	"22 5 5 5 11 9 11 9 11 9 26 26 26",
	"22 5 5 5 26 26 26 11 9 11 9 11 9 2 3 23 23 23 21 21 21",
	"5 22 5 5 11 9 11 9 11 9 26 26 26",
	"5 5 22 5 11 9 11 9 11 9 26 26 26 23 23 23 21 21 21",
	"22 5 5 5 11 9 11 9 11 9 26 26 26 4 3 3 3 4 23 23 23 21 21 21",
}

func sessions(lines []string) [][]string {
	out := make([][]string, len(lines))
	for i, l := range lines {
		out[i] = strings.Fields(l)
	}
	return out
}

func TestScore(t *testing.T) {
	train := sessions(append(append(append([]string{}, normal...), normal...), normal...))
	m, err := Fit(DefaultConfig(), train, 0.05, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		session string
		want    bool
	}{
		{"seen normal", normal[0], false},
		{"reordered replicas", "5 5 22 5 11 9 11 9 11 9 26 26 26", false},
		{"unseen key", "22 5 5 5 11 9 11 9 11 9 26 26 26 28", true},
		{"stops after allocation", "22 5", true},
		{"ends before any block is received", "22 5 5 5", true},
	}
	for _, tc := range tests {
		r, err := m.Score(strings.Fields(tc.session))
		if err != nil {
			t.Fatal(err)
		}
		if r.Anomalous != tc.want {
			t.Errorf("%s: anomalous %v (surprise %.2f, threshold %.2f), want %v: %s", tc.name, r.Anomalous, r.Surprise, m.Threshold, tc.want, r.Explanation.Sentence)
		}
		if r.Explanation.Sentence == "" || len(r.Explanation.Top) == 0 {
			t.Errorf("%s: no explanation", tc.name)
		}
		if tc.want && (r.Score < 0.5 || r.Score > 1) {
			t.Errorf("%s: score %v outside [0.5,1]", tc.name, r.Score)
		}
	}
}

func TestFitDeterministic(t *testing.T) {
	train := sessions(append(append([]string{}, normal...), normal...))
	a, err := Fit(DefaultConfig(), train, 0.1, 3, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Fit(DefaultConfig(), train, 0.1, 3, 7)
	if a.Threshold != b.Threshold {
		t.Errorf("thresholds %v and %v for one seed", a.Threshold, b.Threshold)
	}
}

// TestContent checks the key-count component: a reordering of a normal
// session keeps the counts of training, a session missing its "received"
// keys has counts training never showed.
func TestContent(t *testing.T) {
	train := sessions(append(append(append([]string{}, normal...), normal...), normal...))
	m, err := Train(DefaultConfig(), train)
	if err != nil {
		t.Fatal(err)
	}
	seenCounts, err := m.Score(strings.Fields("5 5 22 5 11 9 11 9 26 11 9 26 26"))
	if err != nil {
		t.Fatal(err)
	}
	missing, err := m.Score(strings.Fields("22 5 5 5 11 11 11 26 26 26"))
	if err != nil {
		t.Fatal(err)
	}
	if seenCounts.ContentSeen == 0 || missing.ContentSeen != 0 {
		t.Errorf("counts seen in %d and %d training sessions, want >0 and 0", seenCounts.ContentSeen, missing.ContentSeen)
	}
	if missing.Content <= seenCounts.Content {
		t.Errorf("content surprise %.2f for unseen counts, %.2f for seen ones", missing.Content, seenCounts.Content)
	}
	if s := missing.Order + missing.Content; s != missing.Surprise {
		t.Errorf("surprise %v, want order+content %v", missing.Surprise, s)
	}
	if !strings.Contains(missing.Explanation.Sentence, "seen in 0 of 18 training sessions") {
		t.Errorf("explanation without the counts: %s", missing.Explanation.Sentence)
	}
	cfg := DefaultConfig()
	cfg.ContentCap = 0
	orderOnly, err := Train(cfg, train)
	if err != nil {
		t.Fatal(err)
	}
	r, err := orderOnly.Score(strings.Fields("22 5 5 5 11 11 11 26 26 26"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Content != 0 || r.Surprise != missing.Order {
		t.Errorf("order-only model: content %v, surprise %v (want 0, %v)", r.Content, r.Surprise, missing.Order)
	}
}

// TestTrim checks that Fit leaves out the most surprising training
// sessions: the contaminated one is never learnt, so it still alerts.
func TestTrim(t *testing.T) {
	var lines []string
	for range 10 {
		lines = append(lines, normal...)
	}
	bad := "22 5 5 5 11 9 11 9 11 9 26 26 26 28 28 28 23 23 23 21 21 21"
	train := sessions(append(lines, bad))
	cfg := DefaultConfig()
	cfg.Trim = 1.0 / 61
	m, err := Fit(cfg, train, 0.05, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Trimmed != 1 || m.Sessions != 60 || m.Keys["28"] != 0 {
		t.Fatalf("trimmed %d, trained on %d sessions, key 28 seen %d times; want 1, 60, 0", m.Trimmed, m.Sessions, m.Keys["28"])
	}
	r, err := m.Score(strings.Fields(bad))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Anomalous {
		t.Errorf("trimmed session not anomalous: %s", r.Explanation.Sentence)
	}
	naive, err := Fit(DefaultConfig(), train, 0.05, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	if naive.Trimmed != 0 || naive.Keys["28"] == 0 {
		t.Errorf("untrimmed fit: trimmed %d, key 28 seen %d times", naive.Trimmed, naive.Keys["28"])
	}
	cfg.Trim = 0.5
	if _, err := Fit(cfg, train, 0.05, 5, 1); err == nil {
		t.Error("trim 0.5 accepted")
	}
}

// TestJSONRoundTrip checks that a model read back from its JSON form (as
// model artifacts store it) scores exactly as the trained one.
func TestJSONRoundTrip(t *testing.T) {
	train := sessions(append(append([]string{}, normal...), normal...))
	m, err := Fit(DefaultConfig(), train, 0.1, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back Model
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, s := range append(normal, "22 5 5 5 11 11 11 26 26 26", "22 5 28") {
		a, _ := m.Score(strings.Fields(s))
		c, _ := back.Score(strings.Fields(s))
		if a.Surprise != c.Surprise || a.Anomalous != c.Anomalous {
			t.Errorf("%q: surprise %v after the round trip, %v before", s, c.Surprise, a.Surprise)
		}
	}
}

func TestErrors(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxSessionKeys = 3
	if _, err := Train(cfg, sessions([]string{"1 2 3 4"})); !errors.Is(err, ErrSessionTooLong) {
		t.Errorf("long training session: %v", err)
	}
	if _, err := Train(DefaultConfig(), nil); err == nil {
		t.Error("no sessions accepted")
	}
	if _, err := Fit(DefaultConfig(), sessions(normal), 0, 3, 1); err == nil {
		t.Error("target rate 0 accepted")
	}
	bad := DefaultConfig()
	bad.History = 0
	if _, err := Train(bad, sessions(normal)); err == nil {
		t.Error("history 0 accepted")
	}
	m, _ := Train(cfg, sessions([]string{"1 2"}))
	if _, err := m.Score([]string{"1", "2", "3", "4"}); !errors.Is(err, ErrSessionTooLong) {
		t.Errorf("long scored session: %v", err)
	}
}

func FuzzScore(f *testing.F) {
	for _, s := range normal {
		f.Add(s)
	}
	f.Add("")
	m, err := Fit(DefaultConfig(), sessions(append(append([]string{}, normal...), normal...)), 0.1, 3, 1)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := m.Score(strings.Fields(s))
		if err != nil {
			return
		}
		if r.Score < 0 || r.Score > 1 || r.Surprise < 0 {
			t.Fatalf("score %v surprise %v", r.Score, r.Surprise)
		}
	})
}
