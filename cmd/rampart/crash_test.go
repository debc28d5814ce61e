package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/store/sqlite"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// crashCopies copies of Loghub's 2,000 sshd lines, each a day later, give
// more events than one merge of held keys (65,536) takes.
const crashCopies = 50

// crashMaxRecord is serve's max_record_bytes in the test.
const crashMaxRecord = 4096

// crashSigma is a stateless rule: one signal per failed password line, its
// id derived from the event id, so the alerts it folds into must come out
// identical however often a line is read.
const crashSigma = `title: SSH failed password (crash test)
id: 0d6c1f9e-5b7a-4e61-9d59-6a1f2c3b4d5e
status: test
logsource:
    product: linux
    service: sshd
detection:
    keywords:
        - 'Failed password for'
    condition: keywords
level: low
`

// TestServeCrashRecovery builds rampart, runs `serve` over a growing sshd
// log, SIGKILLs it mid-ingest several times (seeded: RAMPART_CRASH_SEED),
// restarts it on the same data dir each time, and compares the store with
// a clean single run over the same file: every line's event stored exactly
// once and readable, the same quarantined positions, the same alerts of the
// stateless rule and of the stateful detectors (thresholds, ML baselines:
// they resume from aligned checkpoints), alert counts equal to their
// distinct signals, and an intact database and audit chain.
func TestServeCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and ingests 100k lines")
	}
	src := filepath.Join(testutil.SharedData(t, "loghub-2k"), "OpenSSH", "OpenSSH_2k.log")
	lines := shiftedSSHLines(t, src, crashCopies)
	// Every 500th line is also written again padded past max_record_bytes:
	// quarantined as too_large, so the quarantine is compared too.
	for i := 499; i < len(lines); i += 501 {
		long := append([]byte(nil), lines[i]...)
		for len(long) <= crashMaxRecord {
			long = append(append(long, ' '), lines[i]...)
		}
		lines = slices.Insert(lines, i+1, long)
	}
	seed := uint64(1)
	if s := os.Getenv("RAMPART_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (RAMPART_CRASH_SEED), %d lines", seed, len(lines))

	root := t.TempDir()
	bin := filepath.Join(root, "rampart")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building rampart: %v\n%s", err, out)
	}
	sigmaDir := filepath.Join(root, "sigma")
	if err := os.MkdirAll(sigmaDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sigmaDir, "failed.yml"), []byte(crashSigma), 0o644); err != nil {
		t.Fatal(err)
	}
	// Both runs read the same path: event ids derive from the source name.
	logPath := filepath.Join(root, "logs", "auth.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, l := range lines {
		all = append(append(all, l...), '\n')
	}

	// The clean run: the whole file, one process, a graceful stop.
	cleanDir := filepath.Join(root, "clean")
	if err := os.WriteFile(logPath, all, 0o644); err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, bin: bin, dir: cleanDir, logPath: logPath, sigma: sigmaDir}
	n.start(2048)
	n.waitIngested(int64(len(all)), 60*time.Second)
	n.stop()
	clean := readCrashStore(t, cleanDir, logPath, lines)

	// The crashed run: a fresh file (new inode) grown while serve reads it.
	if err := os.Remove(logPath); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // appends in slices of 500-3000 lines, every 100-250 ms (~10k lines/s)
		defer wg.Done()
		defer f.Close()
		r := rand.New(rand.NewPCG(seed, 0xa99e))
		for i := 0; i < len(lines); {
			j := min(len(lines), i+500+r.IntN(2500))
			var b []byte
			for _, l := range lines[i:j] {
				b = append(append(b, l...), '\n')
			}
			if _, err := f.Write(b); err != nil {
				t.Error(err)
				return
			}
			i = j
			time.Sleep(time.Duration(100+r.IntN(150)) * time.Millisecond)
		}
	}()
	crashDir := filepath.Join(root, "crashed")
	c := &node{t: t, bin: bin, dir: crashDir, logPath: logPath, sigma: sigmaDir}
	// Kill points in stored events. One lands right after the append that
	// crosses 65,536 held keys, when the merge into event_index runs; the
	// rounds with 16,384-event batches are killed a random moment after a
	// batch became visible, while the next large batch is being written.
	total := len(lines)
	targets := []struct {
		events int64
		batch  int
		delay  time.Duration
	}{
		{int64(2000 + rng.IntN(15000)), 2048, time.Duration(rng.IntN(50)) * time.Millisecond},
		{int64(20000 + rng.IntN(15000)), 16384, time.Duration(20+rng.IntN(150)) * time.Millisecond},
		{65536, 2048, 0},
		{int64(total - 15000 - rng.IntN(10000)), 16384, time.Duration(20+rng.IntN(150)) * time.Millisecond},
	}
	var killedAt []int64
	for i, tg := range targets {
		c.start(tg.batch)
		if i == 3 {
			// Whether the merge at 65,536 keys had committed before the
			// last kill (read as soon as the restarted serve recovered).
			merged := c.poll(`SELECT count(*) FROM event_chunks WHERE keys IS NULL`, func(int64) bool { return true }, 60*time.Second)
			t.Logf("after the kill at the merge: %d chunks merged", merged)
		}
		got := c.waitStored(tg.events, 60*time.Second)
		if i == 0 {
			// Every chunk written before the first kill must be merged by the end.
			c.firstChunks = maxChunk(t, crashDir)
		}
		time.Sleep(tg.delay)
		c.kill()
		killedAt = append(killedAt, got)
		t.Logf("round %d: batch %d, SIGKILL %v after %d events were visible (target %d)", i, tg.batch, tg.delay, got, tg.events)
	}
	wg.Wait()
	c.start(2048)
	c.waitIngested(int64(len(all)), 60*time.Second)
	c.stop()
	crashed := readCrashStore(t, crashDir, logPath, lines)

	// Events: each line's event exactly once, readable, and the same as the clean run's.
	if clean.live != int64(len(clean.found)) {
		t.Errorf("clean run: %d live events in chunks, %d distinct ids found", clean.live, len(clean.found))
	}
	if crashed.live != int64(len(crashed.found)) {
		t.Errorf("crashed run: %d live events in chunks for %d distinct ids: an event is stored more than once", crashed.live, len(crashed.found))
	}
	// Every line is an event or quarantined (Loghub's sshd lines all parse).
	if len(clean.found)+len(clean.quarPos) != len(lines) || len(clean.quarPos) == 0 {
		t.Fatalf("clean run: %d events and %d quarantined of %d lines", len(clean.found), len(clean.quarPos), len(lines))
	}
	lost := 0
	for id, raw := range clean.found {
		got, ok := crashed.found[id]
		switch {
		case !ok:
			lost++
			if lost <= 5 {
				t.Errorf("event %s (%q) lost after the crashes", id, raw)
			}
		case got != raw:
			t.Errorf("event %s: raw %q after the crashes, %q in the clean run", id, got, raw)
		}
	}
	for id := range crashed.found {
		if _, ok := clean.found[id]; !ok {
			t.Errorf("event %s stored after the crashes only", id)
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d events lost", lost, len(clean.found))
	}

	// Quarantine: the same positions for the same reasons.
	if !equalSets(clean.quarPos, crashed.quarPos) {
		t.Errorf("quarantined positions differ: clean %d, crashed %d", len(clean.quarPos), len(crashed.quarPos))
	}
	// Each quarantined line is one row (store.QuarantineKey), however often
	// it was read.
	if crashed.quarRows != clean.quarRows {
		t.Errorf("quarantine rows: clean %d, crashed %d", clean.quarRows, crashed.quarRows)
	}

	// Alerts of the stateless rule: the same ids and counts.
	for _, r := range []*crashStore{clean, crashed} {
		for id, a := range r.alerts {
			if a.count != a.signals {
				t.Errorf("%s: alert %s (%s) count %d, but %d signals folded in", r.name, id, a.rule, a.count, a.signals)
			}
		}
	}
	sigmaClean, sigmaCrashed := clean.byDetector("sigma"), crashed.byDetector("sigma")
	if len(sigmaClean) == 0 {
		t.Fatal("clean run: no sigma alert; the test rule matched nothing")
	}
	for id, want := range sigmaClean {
		if got, ok := sigmaCrashed[id]; !ok {
			t.Errorf("sigma alert %s (count %d) missing after the crashes", id, want)
		} else if got != want {
			t.Errorf("sigma alert %s: count %d after the crashes, %d in the clean run", id, got, want)
		}
	}
	for id, got := range sigmaCrashed {
		if _, ok := sigmaClean[id]; !ok {
			t.Errorf("sigma alert %s (count %d) only after the crashes", id, got)
		}
	}
	// Stateful detectors resume from the last aligned checkpoint (state and
	// file offsets saved together every second, app.Checkpoints), so the
	// lines read again after a kill are counted into buckets and baselines
	// once: their alerts equal the clean run's, ids and counts.
	for _, det := range []string{"threshold", "anomaly", "rarity", "logtemplate"} {
		a, b := clean.byDetector(det), crashed.byDetector(det)
		same, sumA, sumB := 0, 0, 0
		var diff []string
		for id, n := range a {
			sumA += n
			if b[id] == n {
				same++
			} else if len(diff) < 3 {
				diff = append(diff, fmt.Sprintf("%s %s: clean %d, crashed %d", id, clean.alerts[id].rule, n, b[id]))
			}
		}
		for id, n := range b {
			sumB += n
			if _, ok := a[id]; !ok && len(diff) < 6 {
				diff = append(diff, fmt.Sprintf("%s %s: crashed only, %d", id, crashed.alerts[id].rule, n))
			}
		}
		t.Logf("%s alerts: clean %d (count %d), crashed %d (count %d), %d identical; e.g. %v", det, len(a), sumA, len(b), sumB, same, diff)
		if same != len(a) || len(b) != len(a) {
			t.Errorf("%s alerts differ after the crashes: clean %d, crashed %d, %d identical; e.g. %v", det, len(a), len(b), same, diff)
		}
	}

	// A merge ran across the kills: chunks written before the first one are merged.
	if c.firstChunks == 0 {
		t.Error("no chunk was written before the first kill")
	} else if crashed.stagedUpTo(t, c.firstChunks) > 0 {
		t.Errorf("chunks 1..%d written before the first kill still hold unmerged keys", c.firstChunks)
	}
	t.Logf("events visible at the kills: %v; clean %d events, crashed %d", killedAt, len(clean.found), len(crashed.found))

	for _, dir := range []string{cleanDir, crashDir} {
		db := openRO(t, dir)
		var res string
		if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil || res != "ok" {
			t.Errorf("%s: integrity_check %q %v", dir, res, err)
		}
		db.Close()
		if out, code := runAudit(t, "verify", "--data-dir", dir); code != 0 {
			t.Errorf("%s: audit verify exit %d:\n%s", dir, code, out)
		}
	}
}

// shiftedSSHLines returns copies of the sshd log, copy k moved to k days
// after a start copies+5 days ago (so no copy's burst shares a bucket or an
// alert with another's). The dates must be recent: serve purges alerts
// older than the alert retention (a year) at every start, and RFC 3164
// lines get the year inferred from the clock.
func shiftedSSHLines(t *testing.T, path string, copies int) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var base [][]byte
	var times []time.Time
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		l := sc.Bytes()
		if len(l) < 16 {
			continue
		}
		tm, err := time.Parse(time.Stamp, string(l[:15]))
		if err != nil {
			t.Fatalf("%s: %q: %v", path, l[:15], err)
		}
		base = append(base, append([]byte(nil), l[15:]...))
		times = append(times, tm)
	}
	if len(base) < 1000 {
		t.Fatalf("%s: only %d lines", path, len(base))
	}
	start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -copies-5)
	shift := start.Sub(time.Date(times[0].Year(), times[0].Month(), times[0].Day(), 0, 0, 0, 0, time.UTC))
	out := make([][]byte, 0, copies*len(base))
	for k := range copies {
		for i, rest := range base {
			tm := times[i].Add(shift).AddDate(0, 0, k)
			out = append(out, append([]byte(tm.Format(time.Stamp)), rest...))
		}
	}
	return out
}

// node is one data dir served by the built binary, started and stopped in turns.
type node struct {
	t                        *testing.T
	bin, dir, logPath, sigma string
	cmd                      *exec.Cmd
	stderr                   *testutil.SyncBuffer
	exited                   chan struct{} // closed once cmd has exited
	waitErr                  error
	firstChunks              int64
}

func (n *node) start(batch int) {
	t := n.t
	t.Helper()
	cfg := fmt.Sprintf("data_dir: %q\nhttp:\n  listen: 127.0.0.1:0\nfiles:\n  - name: sshd\n    paths: [%q]\n    format: auth\n"+
		"rules:\n  sigma: [%q]\npipeline:\n  batch_size: %d\n  max_record_bytes: %d\n  checkpoint_every: 1s\ntime:\n  zone: UTC\n", n.dir, n.logPath, n.sigma, batch, crashMaxRecord)
	path := filepath.Join(filepath.Dir(n.dir), filepath.Base(n.dir)+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	n.stderr = &testutil.SyncBuffer{}
	cmd := exec.Command(n.bin, "serve", "--config", path)
	cmd.Stderr = n.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	n.cmd, n.exited = cmd, exited
	go func() { n.waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
}

func (n *node) kill() {
	n.t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		n.t.Fatal(err)
	}
	<-n.exited
}

func (n *node) stop() {
	n.t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		n.t.Fatal(err)
	}
	<-n.exited
	if n.waitErr != nil {
		n.t.Fatalf("serve did not stop cleanly: %v\n%s", n.waitErr, n.stderr)
	}
	if strings.Contains(n.stderr.String(), "level=ERROR") {
		n.t.Errorf("serve logged errors:\n%s", n.stderr)
	}
}

// poll runs q on a read-only connection (which never checkpoints, so a
// killed process's WAL is left for serve to recover) until ok or timeout.
func (n *node) poll(q string, ok func(int64) bool, timeout time.Duration) int64 {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	var db *sql.DB
	defer func() {
		if db != nil {
			db.Close()
		}
	}()
	var v int64
	for time.Now().Before(deadline) {
		select {
		case <-n.exited:
			n.t.Fatalf("serve exited: %v\n%s", n.waitErr, n.stderr)
		default:
		}
		if db == nil {
			if _, err := os.Stat(filepath.Join(n.dir, sqlite.FileName+"-wal")); err == nil {
				db = openRO(n.t, n.dir)
			}
		}
		if db != nil {
			var x sql.NullInt64
			if err := db.QueryRow(q).Scan(&x); err == nil && ok(x.Int64) {
				return x.Int64
			}
			v = x.Int64
		}
		time.Sleep(2 * time.Millisecond)
	}
	n.t.Fatalf("timed out at %d: %s\n%s", v, q, n.stderr)
	return 0
}

func (n *node) waitStored(events int64, timeout time.Duration) int64 {
	return n.poll(`SELECT sum(events) FROM event_chunks`, func(v int64) bool { return v >= events }, timeout)
}

// waitIngested waits until the saved file offset reaches size: every line
// is stored and committed.
func (n *node) waitIngested(size int64, timeout time.Duration) {
	n.poll(`SELECT max(byte_offset) FROM offsets`, func(v int64) bool { return v >= size }, timeout)
}

func openRO(t *testing.T, dir string) *sql.DB {
	t.Helper()
	q := url.Values{}
	q.Set("mode", "ro")
	q.Add("_pragma", "busy_timeout(5000)")
	db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: filepath.Join(dir, sqlite.FileName)}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func maxChunk(t *testing.T, dir string) int64 {
	t.Helper()
	db := openRO(t, dir)
	defer db.Close()
	var v sql.NullInt64
	if err := db.QueryRow(`SELECT max(id) FROM event_chunks`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v.Int64
}

type crashAlert struct {
	detector, rule string
	count, signals int
}

// crashStore is what a run left in its data dir.
type crashStore struct {
	name     string
	dir      string
	live     int64             // live events over all chunks
	found    map[string]string // event id → raw, for every line whose event is stored
	quarPos  map[string]bool   // position/reason of quarantined lines
	quarRows int
	alerts   map[string]crashAlert
}

func (r *crashStore) byDetector(det string) map[string]int {
	out := map[string]int{}
	for id, a := range r.alerts {
		if a.detector == det {
			out[id] = a.count
		}
	}
	return out
}

func (r *crashStore) stagedUpTo(t *testing.T, chunk int64) int {
	t.Helper()
	db := openRO(t, r.dir)
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM event_chunks WHERE id <= ? AND keys IS NOT NULL`, chunk).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// readCrashStore opens the store as serve does and reads every line's
// event by its id (file source, byte offset, line).
func readCrashStore(t *testing.T, dir, logPath string, lines [][]byte) *crashStore {
	t.Helper()
	ctx := context.Background()
	r := &crashStore{name: filepath.Base(dir), dir: dir, found: map[string]string{}, quarPos: map[string]bool{}, alerts: map[string]crashAlert{}}
	s, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	source := "file:" + logPath
	ids := make([]string, len(lines))
	off := 0
	for i, l := range lines {
		ids[i] = event.DeriveID(source, strconv.Itoa(off), l)
		off += len(l) + 1
	}
	for i := 0; i < len(ids); i += sqlite.MaxGetEvents {
		evs, err := s.GetEvents(ctx, ids[i:min(len(ids), i+sqlite.MaxGetEvents)])
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		for _, ev := range evs {
			if _, dup := r.found[ev.ID]; dup {
				t.Errorf("%s: event %s returned twice", dir, ev.ID)
			}
			r.found[ev.ID] = string(ev.Raw)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db := openRO(t, dir)
	defer db.Close()
	if err := db.QueryRow(`SELECT coalesce(sum(events), 0) FROM event_chunks`).Scan(&r.live); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT position, reason FROM quarantine WHERE source = ?`, source)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var pos, reason string
		if err := rows.Scan(&pos, &reason); err != nil {
			t.Fatal(err)
		}
		r.quarPos[pos+"/"+reason] = true
		r.quarRows++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows, err = db.Query(`SELECT a.id, a.detector, a.rule_id, a.count, (SELECT count(*) FROM alert_signals s WHERE s.alert_id = a.id) FROM alerts a`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var a crashAlert
		if err := rows.Scan(&id, &a.detector, &a.rule, &a.count, &a.signals); err != nil {
			t.Fatal(err)
		}
		r.alerts[id] = a
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var dets []string
	for _, a := range r.alerts {
		dets = append(dets, a.detector)
	}
	sort.Strings(dets)
	t.Logf("%s: %d events, %d live in chunks, %d quarantine rows, %d alerts (%s)", r.name, len(r.found), r.live, r.quarRows, len(r.alerts), strings.Join(slicesCompact(dets), ","))
	return r
}

func slicesCompact(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func equalSets(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}
