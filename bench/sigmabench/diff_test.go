package sigmabench

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	sigmago "github.com/bradleyjkemp/sigma-go"
	"github.com/bradleyjkemp/sigma-go/evaluator"

	"github.com/rampart-ids/rampart/internal/sigma"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// TestDifferentialSigmaGo (RAMPART_DIFF=1) lists rule×event pairs where
// sigma-go matches and Rampart does not, on a sample of the corpus. sigma-go
// ignores logsource, so its extra matches are candidates, not proof.
func TestDifferentialSigmaGo(t *testing.T) {
	if os.Getenv("RAMPART_DIFF") == "" {
		t.Skip("diagnostic: set RAMPART_DIFF=1")
	}
	c := flatT(t)
	dir := testutil.SharedData(t, "sigma/rules/windows")
	ctx := context.Background()
	type rr struct {
		id string
		ev *evaluator.RuleEvaluator
	}
	var rules []rr
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yml") {
			return nil
		}
		data, _ := os.ReadFile(p)
		r, err := sigmago.ParseRule(data)
		if err != nil {
			return nil
		}
		rules = append(rules, rr{r.ID, evaluator.ForRule(r)})
		return nil
	})
	d, err := sigma.New(sigma.Options{Paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	step := len(c.events)/2000 + 1
	missing := map[string]int{}
	for i := 0; i < len(c.events); i += step {
		ours := map[string]bool{}
		_ = d.Detect(ctx, c.events[i], func(s signal.Signal) { ours[s.RuleID] = true })
		for _, r := range rules {
			res, err := r.ev.Matches(ctx, c.flat[i])
			if err == nil && res.Match && !ours[r.id] {
				missing[r.id]++
			}
		}
	}
	keys := make([]string, 0, len(missing))
	for k := range missing {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return missing[keys[i]] > missing[keys[j]] })
	for _, k := range keys {
		t.Logf("%5d  %s", missing[k], k)
	}
}
