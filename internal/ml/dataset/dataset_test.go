package dataset

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/testutil"
)

func writeFile(t testing.TB, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// kddLine is the first record of KDDTrain+_20Percent.txt.
const kddLine = "0,tcp,ftp_data,SF,491,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,2,0.00,0.00,0.00,0.00,1.00,0.00,0.00,150,25,0.17,0.03,0.17,0.00,0.00,0.00,0.05,0.00,normal,20"

func TestReadKDD(t *testing.T) {
	attack := strings.Replace(strings.TrimSuffix(kddLine, ",20"), "normal", "neptune.", 1)
	for _, tc := range []struct {
		name, in string
		limit    int
		labels   []string // nil: want an error
		errHas   string
	}{
		{"with difficulty", kddLine + "\n", 10, []string{"normal"}, ""},
		{"without difficulty, dot label, blank lines", "\n" + attack + "\n\n" + kddLine + "\n", 10, []string{"neptune", "normal"}, ""},
		{"short row", "0,tcp,http,SF,1\n", 10, nil, ":1: 5 columns"},
		{"too many columns", kddLine + ",x,y\n", 10, nil, "45 columns"},
		{"over limit", kddLine + "\n" + kddLine + "\n", 1, nil, "more than 1 rows"},
		{"empty", "\n \n", 10, nil, "no rows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := ReadKDD(writeFile(t, tc.in), tc.limit)
			if tc.labels == nil {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want one containing %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(tc.labels) {
				t.Fatalf("%d rows, want %d", len(rows), len(tc.labels))
			}
			for i, r := range rows {
				if r.Label != tc.labels[i] || r.Attack != (tc.labels[i] != "normal") || len(r.F) != KDDFeatures {
					t.Errorf("row %d = %q attack=%v %d features", i, r.Label, r.Attack, len(r.F))
				}
			}
		})
	}
}

// TestKDDShared reads the real training file and fits the featuriser on
// its first 1,000 rows (3 protocols, 58 services, 7 flags there).
func TestKDDShared(t *testing.T) {
	dir := testutil.SharedData(t, "nsl-kdd")
	rows, err := ReadKDD(filepath.Join(dir, "KDDTrain+_20Percent.txt"), 100_000)
	if err != nil {
		t.Fatal(err)
	}
	normal := 0
	for _, r := range rows {
		if !r.Attack {
			normal++
		}
	}
	if len(rows) != 25192 || normal != 13449 {
		t.Fatalf("%d rows, %d normal; want 25192, 13449", len(rows), normal)
	}
	if _, err := ReadKDD(filepath.Join(dir, "KDDTrain+_20Percent.txt"), 25191); err == nil {
		t.Error("limit 25191 accepted 25192 rows")
	}
	z, dense, err := FitKDDFeaturiser(rows[:1000])
	if err != nil {
		t.Fatal(err)
	}
	if want := 38 + 3 + 58 + 7; len(z.Names) != want || len(dense) != 1000 || len(dense[0]) != want {
		t.Fatalf("%d names, %d vectors of %d; want %d", len(z.Names), len(dense), len(dense[0]), want)
	}
	if z.Names[0] != "duration" || z.Names[38] != "protocol_type=icmp" || z.Names[1] != "src_bytes" {
		t.Errorf("names start %v, one-hot at 38 = %q", z.Names[:2], z.Names[38])
	}
	// Row 0: src_bytes 491 → log1p; tcp, ftp_data and SF set one slot each.
	v := dense[0]
	if v[1] != math.Log1p(491) || v[z.Cats[1]["tcp"]] != 1 || v[z.Cats[2]["ftp_data"]] != 1 || v[z.Cats[3]["SF"]] != 1 {
		t.Errorf("row 0 vector wrong: src_bytes %v", v[1])
	}
	ones := 0
	for _, x := range v[38:] {
		ones += int(x)
	}
	if ones != 3 {
		t.Errorf("row 0 sets %d one-hot slots, want 3", ones)
	}
	// An unseen category sets no slot; a bad number is an error.
	r := KDDRow{F: append([]string(nil), rows[0].F...)}
	r.F[2] = "no-such-service"
	if u, err := z.Raw(r); err != nil || sum(u[38:]) != 2 {
		t.Errorf("unseen service: %v, %v one-hot", err, sum(u[38:]))
	}
	r.F[4] = "-1"
	if _, err := z.Raw(r); err == nil || !strings.Contains(err.Error(), "src_bytes") {
		t.Errorf("negative src_bytes: err = %v", err)
	}
	if _, err := z.Raw(KDDRow{F: []string{"1"}}); err == nil {
		t.Error("short row accepted by Raw")
	}
	// Sparse standardises the numeric part only, so its mean over the
	// fitted rows is 0 per numeric column.
	var s1 float64
	for _, d := range dense {
		for k, j := range z.Sparse(d).Idx {
			if j == 1 {
				s1 += z.Sparse(d).Val[k]
			}
		}
	}
	if math.Abs(s1/1000) > 1e-9 {
		t.Errorf("standardised src_bytes mean %v, want 0", s1/1000)
	}
	cats := z.Categories()
	if len(cats) != 3 || len(cats["service"]) != 58 {
		t.Errorf("categories: %d columns, %d services", len(cats), len(cats["service"]))
	}
}

func sum(xs []float64) (s float64) {
	for _, x := range xs {
		s += x
	}
	return s
}

func TestFitKDD(t *testing.T) {
	dir := testutil.SharedData(t, "nsl-kdd")
	rows, err := ReadKDD(filepath.Join(dir, "KDDTrain+_20Percent.txt"), 100_000)
	if err != nil {
		t.Fatal(err)
	}
	m, err := FitKDD(rows[:2000], 1)
	if err != nil {
		t.Fatal(err)
	}
	// The classifier must separate held-out rows far better than chance.
	right := 0
	test := rows[2000:4000]
	for _, r := range test {
		v, err := m.Raw(r)
		if err != nil {
			t.Fatal(err)
		}
		if (m.LR.Score(m.Sparse(v)) >= 0.5) == r.Attack {
			right++
		}
	}
	if acc := float64(right) / float64(len(test)); acc < 0.9 {
		t.Errorf("held-out accuracy %.3f, want ≥ 0.9", acc)
	}
	p := m.Params()
	if len(p.Features) != len(m.Names) || p.LR != m.LR || p.Forest != m.Forest || len(p.Categories["flag"]) == 0 {
		t.Error("Params does not carry the model")
	}
	// Same rows, same seed: the same forest threshold.
	m2, err := FitKDD(rows[:2000], 1)
	if err != nil {
		t.Fatal(err)
	}
	if m2.Forest.Threshold != m.Forest.Threshold {
		t.Error("FitKDD is not deterministic for one seed")
	}
	var attacks []KDDRow
	for _, r := range rows[:500] {
		if r.Attack {
			attacks = append(attacks, r)
		}
	}
	if _, err := FitKDD(attacks, 1); err == nil || !strings.Contains(err.Error(), "no normal rows") {
		t.Errorf("attack-only rows: err = %v", err)
	}
}

func TestReadPayloads(t *testing.T) {
	const head = "\"payload\",\"length\",\"attack_type\",\"label\"\n"
	for _, tc := range []struct {
		name, in string
		limit    int
		want     []PayloadRow // nil: want an error
		errHas   string
	}{
		{"two rows", head + "\"1' or 1=1--\",\"11\",\"sqli\",\"anom\"\n\"a,b\",\"3\",\"norm\",\"norm\"\n", 10,
			[]PayloadRow{{"1' or 1=1--", "sqli", true}, {"a,b", "norm", false}}, ""},
		{"BOM and other column order", "\ufefflabel,attack_type,payload\nanom,xss,<script>\n", 10,
			[]PayloadRow{{"<script>", "xss", true}}, ""},
		{"bad label", head + "x,1,norm,maybe\n", 10, nil, "neither norm nor anom"},
		{"missing column", "payload,label\nx,norm\n", 10, nil, "want columns"},
		{"short row", head + "x,1\n", 10, nil, ":2: short row"},
		{"over limit", head + "x,1,norm,norm\ny,1,norm,norm\n", 1, nil, "more than 1 rows"},
		{"header only", head, 10, nil, "no rows"},
		{"empty file", "", 10, nil, "header"},
		{"broken quote", head + "\"x,1,norm,norm\n", 10, nil, "reading"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, err := ReadPayloads(writeFile(t, tc.in), tc.limit)
			if tc.want == nil {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want one containing %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(tc.want) {
				t.Fatalf("got %v, want %v", rows, tc.want)
			}
			for i := range rows {
				if rows[i] != tc.want[i] {
					t.Errorf("row %d = %+v, want %+v", i, rows[i], tc.want[i])
				}
			}
		})
	}
}

func TestPayloadsShared(t *testing.T) {
	dir := testutil.SharedData(t, "http-params")
	rows, err := ReadPayloads(filepath.Join(dir, "payload_train.csv"), 100_000)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]int{}
	attacks := 0
	for _, r := range rows {
		types[r.Type]++
		if r.Attack {
			attacks++
		}
		if r.Attack == (r.Type == "norm") {
			t.Fatalf("row %+v: label and attack type disagree", r)
		}
	}
	want := map[string]int{"norm": 12870, "sqli": 7235, "xss": 355, "path-traversal": 193, "cmdi": 59}
	if len(rows) != 20712 || attacks != 7842 || len(types) != len(want) {
		t.Fatalf("%d rows, %d attacks, types %v", len(rows), attacks, types)
	}
	for k, n := range want {
		if types[k] != n {
			t.Errorf("%s: %d rows, want %d", k, types[k], n)
		}
	}
}

func TestReadSessions(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		limit    int
		want     []int // keys per session; nil: want an error
	}{
		{"keys and an empty session", "5 5 22\n\n 11\t9 \n", 10, []int{3, 0, 2}},
		{"no trailing newline", "5", 10, []int{1}},
		{"empty file", "", 10, []int{}},
		{"over limit", "5\n6\n7\n", 2, nil},
		{"line too long", strings.Repeat("5 ", MaxLineBytes/2+1), 10, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss, err := ReadSessions(writeFile(t, tc.in), tc.limit)
			if tc.want == nil {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ss) != len(tc.want) {
				t.Fatalf("%d sessions, want %d", len(ss), len(tc.want))
			}
			for i, s := range ss {
				if len(s) != tc.want[i] {
					t.Errorf("session %d has %d keys, want %d", i, len(s), tc.want[i])
				}
			}
		})
	}
	dir := testutil.SharedData(t, "hdfs-deeplog")
	ss, err := ReadSessions(filepath.Join(dir, "hdfs_train"), 100_000)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 3883 || strings.Join(ss[1], " ") != "22 5 5 5 11 9 11 9 11 9 26 26 26" {
		t.Errorf("%d sessions, second %v", len(ss), ss[1])
	}
}

func TestReadLines(t *testing.T) {
	p := writeFile(t, "a\r\n\nb\n\n")
	all, err := ReadLines(p, 10)
	if err != nil || strings.Join(all, "|") != "a||b|" {
		t.Errorf("ReadLines = %q, %v", all, err)
	}
	kept, err := ReadNonEmptyLines(p, 10)
	if err != nil || strings.Join(kept, "|") != "a|b" {
		t.Errorf("ReadNonEmptyLines = %q, %v", kept, err)
	}
	if _, err := ReadLines(p, 3); err == nil {
		t.Error("ReadLines: 4 lines accepted under limit 3")
	}
	// The limit counts kept lines: 2 non-empty lines pass a limit of 2.
	if _, err := ReadNonEmptyLines(p, 2); err != nil {
		t.Errorf("ReadNonEmptyLines limit 2: %v", err)
	}
	if _, err := ReadNonEmptyLines(p, 1); err == nil {
		t.Error("ReadNonEmptyLines: 2 non-empty lines accepted under limit 1")
	}
	if _, err := ReadLines(filepath.Join(t.TempDir(), "missing"), 10); err == nil || !strings.Contains(err.Error(), "opening log") {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestLoghubShared(t *testing.T) {
	dir := testutil.SharedData(t, "loghub-2k/OpenSSH")
	lines, err := ReadLines(filepath.Join(dir, "OpenSSH_2k.log"), 10_000)
	if err != nil {
		t.Fatal(err)
	}
	ids, tpls, err := ReadLoghubTruth(filepath.Join(dir, "OpenSSH_2k.log_structured.csv"), 10_000)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 2000 || len(ids) != 2000 || len(tpls) != 2000 {
		t.Fatalf("%d lines, %d ids, %d templates; want 2000 each", len(lines), len(ids), len(tpls))
	}
	if !strings.HasPrefix(ids[0], "E") || !strings.Contains(tpls[0], "<*>") {
		t.Errorf("first truth row %q %q", ids[0], tpls[0])
	}
	if _, _, err := ReadLoghubTruth(filepath.Join(dir, "OpenSSH_2k.log_structured.csv"), 1999); err == nil {
		t.Error("limit 1999 accepted 2000 rows")
	}
}

func TestReadLoghubTruthErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, errHas string }{
		{"no columns", "LineId,Content\n1,x\n", "no EventId/EventTemplate"},
		{"short row", "EventId,EventTemplate\nE1\n", "short row 2"},
		{"empty", "", "header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadLoghubTruth(writeFile(t, tc.in), 10)
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("err = %v, want one containing %q", err, tc.errHas)
			}
		})
	}
}

// FuzzReaders feeds arbitrary bytes to every reader: rows or a clear
// error, never a panic, never short rows. Seeds: testdata/fuzz/FuzzReaders.
func FuzzReaders(f *testing.F) {
	for _, seed := range []string{
		kddLine + "\n",
		"\"payload\",\"length\",\"attack_type\",\"label\"\n\"1' or 1=1--\",\"11\",\"sqli\",\"anom\"\n",
		"LineId,EventId,EventTemplate\n1,E1,a <*>\n",
		"5 5 5 22 11 9\n\n22 5\n",
		"\"a,\"b\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		p := writeFile(t, string(data))
		if rows, err := ReadKDD(p, 1000); err == nil {
			for _, r := range rows {
				if len(r.F) != KDDFeatures {
					t.Fatalf("row with %d features", len(r.F))
				}
			}
			if z, _, err := FitKDDFeaturiser(rows); err == nil {
				for _, r := range rows {
					if v, err := z.Raw(r); err != nil || len(v) != len(z.Names) {
						t.Fatalf("fitted row does not featurise: %v", err)
					}
				}
			}
		} else if err.Error() == "" {
			t.Fatal("empty error")
		}
		if rows, err := ReadPayloads(p, 1000); err == nil && len(rows) == 0 {
			t.Fatal("payloads: no rows and no error")
		}
		if ids, tpls, err := ReadLoghubTruth(p, 1000); err == nil && len(ids) != len(tpls) {
			t.Fatal("ids and templates differ in length")
		}
		_, _ = ReadSessions(p, 1000)
		all, err1 := ReadLines(p, 1000)
		kept, err2 := ReadNonEmptyLines(p, 1000)
		if err1 == nil && err2 == nil && len(kept) > len(all) {
			t.Fatal("more non-empty lines than lines")
		}
	})
}

func TestHDFSFiles(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{HDFSTrain, "hdfs_test_normal", "b_abnormal", "a_abnormal", "README.md"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "normal_dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	ab, no, err := HDFSFiles(dir)
	if err != nil || strings.Join(ab, ",") != "a_abnormal,b_abnormal" || strings.Join(no, ",") != "hdfs_test_normal" {
		t.Errorf("HDFSFiles = %v, %v, %v", ab, no, err)
	}
	if _, _, err := HDFSFiles(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing folder: no error")
	}
	ab, no, err = HDFSFiles(testutil.SharedData(t, "hdfs-deeplog"))
	if err != nil || strings.Join(ab, ",") != "hdfs_test_abnormal" || len(no) != 0 {
		t.Errorf("shared hdfs-deeplog: %v, %v, %v", ab, no, err)
	}
}

func TestKDDLineage(t *testing.T) {
	rows, err := ReadKDD(writeFile(t, kddLine+"\n"+strings.Replace(kddLine, "normal", "smurf", 1)+"\n"), 10)
	if err != nil {
		t.Fatal(err)
	}
	h, counts := KDDLineage(rows)
	if counts["normal"] != 1 || counts["attack"] != 1 || len(counts) != 2 {
		t.Errorf("counts %v", counts)
	}
	if h2, _ := KDDLineage(rows); h2 != h || h == "" {
		t.Errorf("content hash not stable: %q, %q", h, h2)
	}
	// The label is part of the content: relabelling a row changes the hash.
	rows[1].Label = "normal"
	if h3, _ := KDDLineage(rows); h3 == h {
		t.Error("relabelled rows give the same content hash")
	}
	// Order matters (the hash is of rows as used, in order).
	rows[0], rows[1] = rows[1], rows[0]
	rows[0].Label = "smurf"
	if h4, _ := KDDLineage(rows); h4 == h {
		t.Error("reordered rows give the same content hash")
	}
}
