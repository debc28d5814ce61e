package drain

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

func readSample(t testing.TB, name string) []string {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{"uid=0", "uid=<*>"},
		{"/10.251.73.220:50010", "<*>:<*>"},
		{"[173.234.31.186]", "[<*>]"},
		{"blk_-6952295868487656571", "<*>"},
		{"(HWID=1973)", "(HWID=<*>)"},
		{"preauth", "preauth"},
		{"Jul", "<*>"},
		{"(Mon),", "<*>"},
		{"FR\u0130", "<*>"}, // dotted capital I lowers to ASCII i: "fri"
		{"Month", "Month"},
		{"ssh2", "ssh2"},
		{"jk2_init()", "jk2_init()"},
		{"core.12345", "core.<*>"},
		{"/etc/httpd/workers2.properties", "<*>"},
		{"/etc/httpd/workers.properties", "/etc/httpd/workers.properties"},
		{"/var/log/app.1", "<*>"},
		{"node-246", "<*>"},
		{"<*>", "<*>"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := Mask(tc.in); got != tc.want {
			t.Errorf("Mask(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHeaderSplit(t *testing.T) {
	tests := []struct {
		file, line, wantContent string
	}{
		{"openssh_40.log", "Dec 10 07:07:38 LabSZ sshd[24206]: Invalid user test9 from 52.80.34.196", "Invalid user test9 from 52.80.34.196"},
		{"hdfs_40.log", "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating", "PacketResponder 1 for block blk_38865049064139660 terminating"},
		// A line that does not fit the learned header is all content.
		{"openssh_40.log", "continuation of a stack trace", "continuation of a stack trace"},
	}
	for _, tc := range tests {
		h := LearnHeader(readSample(t, tc.file))
		if _, got := h.Split(tc.line); got != tc.wantContent {
			t.Errorf("%s: Split content = %q, want %q (header %v)", tc.file, got, tc.wantContent, h.Classes)
		}
	}
	// Pipe-separated headers (HealthApp layout) are found too.
	pipe := []string{
		"20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
		"20171223-22:15:29:615|Step_LSC|30002312|onExtend:1514038530000 14 0 4",
		"20171223-22:15:29:633|Step_StandReportReceiver|30002312|onReceive action: android.intent.action.SCREEN_ON",
		"20171223-22:15:29:635|Step_LSC|30002312|processHandleBroadcastAction action:android.intent.action.SCREEN_ON",
	}
	h := LearnHeader(pipe)
	if _, got := h.Split(pipe[0]); got != "onStandStepChanged 3579" {
		t.Errorf("pipe header: content %q (header %v)", got, h.Classes)
	}
}

func TestMinerGroupsOpenSSH(t *testing.T) {
	lines := readSample(t, "openssh_40.log")
	h := LearnHeader(lines)
	m, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	byLine := map[int]Match{}
	for i, l := range lines {
		_, c := h.Split(l)
		mt, err := m.Add(c)
		if err != nil {
			t.Fatal(err)
		}
		byLine[i+1] = mt
	}
	// Lines 2 and 9 ("Invalid user X from IP") share a cluster; 2 and 3 do not.
	if byLine[2].ClusterID != byLine[9].ClusterID {
		t.Errorf("lines 2 and 9 in clusters %d and %d, want one", byLine[2].ClusterID, byLine[9].ClusterID)
	}
	if byLine[2].ClusterID == byLine[3].ClusterID {
		t.Errorf("lines 2 and 3 share cluster %d", byLine[2].ClusterID)
	}
	got := m.Cluster(byLine[9].ClusterID).Template()
	if got != "Invalid user <*> from <*>" && got != "Invalid user webmaster from <*>" {
		t.Errorf("template %q", got)
	}
	if !byLine[1].New || byLine[1].TemplateID == "" {
		t.Errorf("first line: %+v", byLine[1])
	}
}

func TestMergeToken(t *testing.T) {
	tests := []struct{ a, b, want string }{
		{"rhost=<*>", "rhost=a.example.com", "rhost=<*>"},
		{"(web)", "(db)", "(<*>)"},
		{"user=root", "user=<*>", "user=<*>"},
		{"alpha", "beta", "<*>"},
		{"a=b", "a:b", "<*>"},
		{"same", "same", "same"},
	}
	for _, tc := range tests {
		if got := mergeToken(tc.a, tc.b); got != tc.want {
			t.Errorf("mergeToken(%q, %q) = %q, want %q", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestTemplateIDStable(t *testing.T) {
	a, b := TemplateID("Invalid user <*> from <*>"), TemplateID("Invalid user <*> from <*>")
	if a != b || len(a) != 16 || a == TemplateID("Invalid user <*>") {
		t.Errorf("ids %q %q", a, b)
	}
}

func TestAddLimits(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxLineBytes = 10
	m, _ := New(cfg)
	if _, err := m.Add(strings.Repeat("x", 11)); !errors.Is(err, ErrLineTooLong) {
		t.Errorf("long line: err %v", err)
	}
	cfg = DefaultConfig()
	cfg.MaxClusters = 1
	m, _ = New(cfg)
	if _, err := m.Add("alpha beta"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Add("gamma delta epsilon"); !errors.Is(err, ErrTooManyClusters) {
		t.Errorf("cluster limit: err %v", err)
	}
	bad := DefaultConfig()
	bad.SimThreshold = 0
	if _, err := New(bad); err == nil {
		t.Error("invalid config accepted")
	}
}

func TestRefinedEnumerations(t *testing.T) {
	m, _ := New(DefaultConfig())
	lines := []string{
		"task 1 Transitioned from NEW to SCHEDULED",
		"task 2 Transitioned from SCHEDULED to RUNNING",
		"task 3 Transitioned from NEW to SCHEDULED",
	}
	var ids []int
	for _, l := range lines {
		mt, err := m.Add(l)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, mt.ClusterID)
	}
	r0, r1, r2 := m.Refined(ids[0], lines[0]), m.Refined(ids[1], lines[1]), m.Refined(ids[2], lines[2])
	if r0 != r2 || r0 == r1 {
		t.Errorf("refined %q %q %q", r0, r1, r2)
	}
	if r0 != "task <*> Transitioned from NEW to SCHEDULED" {
		t.Errorf("refined %q", r0)
	}
}

func FuzzMiner(f *testing.F) {
	for _, name := range []string{"openssh_40.log", "hdfs_40.log"} {
		for _, l := range readSample(f, name) {
			f.Add(l)
		}
	}
	f.Add("[unbalanced (bracket")
	f.Add("\xff\xfe| |||")
	f.Fuzz(func(t *testing.T, line string) {
		if len(line) > 4096 {
			return
		}
		h := LearnHeader([]string{line, line})
		hd, c := h.Split(line)
		if len(hd)+len(c) > len(line) {
			t.Fatalf("split grew the line")
		}
		m, _ := New(DefaultConfig())
		mt, err := m.Add(c)
		if err != nil {
			t.Fatal(err)
		}
		if mt2, err := m.Add(c); err != nil || mt2.ClusterID != mt.ClusterID {
			t.Fatalf("same line, clusters %d and %d (%v)", mt.ClusterID, mt2.ClusterID, err)
		}
		_ = m.Refined(mt.ClusterID, c)
	})
}

func TestSnapshotRestore(t *testing.T) {
	lines := readSample(t, "openssh_40.log")
	h := LearnHeader(lines)
	m, _ := New(DefaultConfig())
	for _, l := range lines[:30] {
		_, c := h.Split(l)
		if _, err := m.Add(c); err != nil {
			t.Fatal(err)
		}
	}
	snap := m.Snapshot()
	raw, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	var back Snapshot
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	r, err := Restore(back)
	if err != nil {
		t.Fatal(err)
	}
	// Both miners treat the remaining lines the same way.
	for _, l := range lines[30:] {
		_, c := h.Split(l)
		a, _ := m.Add(c)
		b, _ := r.Add(c)
		if a.ClusterID != b.ClusterID || a.Template != b.Template || a.New != b.New {
			t.Fatalf("line %q: original %+v, restored %+v", c, a, b)
		}
	}
	back.Clusters[0].ID = 7
	if _, err := Restore(back); err == nil {
		t.Error("damaged snapshot accepted")
	}
}

// TestTokenizeMatchesFields: the allocation-free tokenizer splits as
// strings.Fields and folds the tail past max tokens the same way.
func TestTokenizeMatchesFields(t *testing.T) {
	ref := func(s string, max int) []string {
		toks := strings.Fields(s)
		if len(toks) > max {
			toks = append(toks[:max-1], strings.Join(toks[max-1:], " "))
		}
		return toks
	}
	lines := []string{"", "   ", "a", " a  b\tc\n", "x\u00a0y\u2003z  \u0085 w", "a b c d e f", "\xff bad \xfe utf8 "}
	for _, s := range lines {
		for _, max := range []int{1, 2, 3, 256} {
			got, want := Tokenize(s, max), ref(s, max)
			if len(want) == 0 {
				want = nil
			}
			if !slices.Equal(got, want) {
				t.Errorf("Tokenize(%q, %d) = %q, want %q", s, max, got, want)
			}
		}
	}
}

// TestCoversMatchesMergeToken: covers(a, b) is mergeToken(a, b) == a, on
// every pair of tokens built from delimiters, wildcards and words.
func TestCoversMatchesMergeToken(t *testing.T) {
	pieces := []string{"", "a", "b", "ab", Wildcard, "=", ":", ",", "<", ">", "*", ".", "/"}
	var toks []string
	for _, x := range pieces {
		for _, y := range pieces {
			toks = append(toks, x+y)
		}
	}
	few := []string{"a", Wildcard, "=", "<", "."}
	for _, x := range few {
		for _, y := range few {
			for _, z := range few {
				toks = append(toks, x+y+z, x+"b"+y+z)
			}
		}
	}
	toks = slices.Compact(slices.Sorted(slices.Values(toks)))
	for _, a := range toks {
		for _, b := range toks {
			if got, want := covers(a, b), mergeToken(a, b) == a; got != want {
				t.Fatalf("covers(%q, %q) = %v, mergeToken gives %q", a, b, got, mergeToken(a, b))
			}
		}
	}
}
