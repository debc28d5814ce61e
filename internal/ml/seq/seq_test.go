package seq

import (
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
