package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store"
)

// AuditHarness is what RunAudit needs from a store under test.
type AuditHarness struct {
	// Store is a new, empty audit store.
	Store audit.Store
	// Exec runs one SQL statement directly on the store's database, as an
	// attacker with database access would (no parameters; the statements
	// RunAudit writes are valid in SQLite and PostgreSQL). Nil skips the
	// in-database tamper cases.
	Exec func(ctx context.Context, query string) error
}

// RunAudit runs the audit.Store conformance suite, including the randomized
// tamper test. newHarness must return a fresh store each call and register
// its own cleanup.
func RunAudit(t *testing.T, newHarness func(t *testing.T) AuditHarness) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, h AuditHarness)
	}{
		{"AppendRange", testAuditAppendRange},
		{"OddText", testAuditOddText},
		{"BadInput", testAuditBadInput},
		{"Concurrent", testAuditConcurrent},
		{"Checkpoints", testAuditCheckpoints},
		{"Retention", testAuditRetention},
		{"KeyRotation", testAuditKeyRotation},
		{"ExportRoundTrip", testAuditExport},
		{"TamperRandomized", testAuditTamperRandomized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newHarness(t)) })
	}
	t.Run("TamperInDatabase", func(t *testing.T) {
		if newHarness(t).Exec == nil {
			t.Skip("store has no database to tamper with")
		}
		testAuditTamperInDatabase(t, newHarness)
	})
}

var auditCmp = cmp.Options{cmpopts.EquateEmpty()}

func auditRec(i int) audit.Record {
	return audit.Record{
		Time:  base.Add(time.Duration(i) * time.Second),
		Actor: "component:test", Action: audit.ActionAlertCreated,
		SubjectKind: "alert", SubjectID: fmt.Sprintf("a%03d", i),
		InputDigest: audit.Digest([]byte(fmt.Sprint(i))),
		Versions:    map[string]string{"rule": fmt.Sprintf("r%d@1", i%3)},
		Explanation: fmt.Sprintf("record %d", i),
	}
}

func allRecords(t *testing.T, s audit.Store) []audit.Record {
	t.Helper()
	var out []audit.Record
	if err := s.Range(ctxFor(t), 0, 0, func(r audit.Record) error { out = append(out, r); return nil }); err != nil {
		t.Fatalf("Range: %v", err)
	}
	return out
}

func mustAuditAppend(t *testing.T, s audit.Store, recs ...audit.Record) []audit.Record {
	t.Helper()
	out, err := s.Append(ctxFor(t), recs)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return out
}

func newKeys(t *testing.T) *audit.KeyRing {
	t.Helper()
	k, err := audit.OpenKeyRing(filepath.Join(t.TempDir(), "keys", audit.KeyFileName), base)
	if err != nil {
		t.Fatalf("OpenKeyRing: %v", err)
	}
	return k
}

func mustVerifyOK(t *testing.T, l *audit.Log) audit.Report {
	t.Helper()
	rep, err := l.Verify(ctxFor(t))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !rep.OK {
		t.Fatalf("Verify of an untouched chain failed: %+v %v", rep, rep.Problem)
	}
	return rep
}

func testAuditAppendRange(t *testing.T, h AuditHarness) {
	ctx := ctxFor(t)
	s := h.Store
	head, err := s.Head(ctx)
	if err != nil || head.Seq != 0 || head.Hash != audit.ZeroHash {
		t.Fatalf("empty Head = %+v, %v; want {0 ZeroHash}", head, err)
	}
	if got := allRecords(t, s); len(got) != 0 {
		t.Fatalf("empty Range returned %d records", len(got))
	}
	if out, err := s.Append(ctx, nil); err != nil || len(out) != 0 {
		t.Fatalf("Append(nil) = %v, %v", out, err)
	}
	var sealed []audit.Record
	for i := range 5 {
		sealed = append(sealed, mustAuditAppend(t, s, auditRec(2*i), auditRec(2*i+1))...)
	}
	for i, r := range sealed {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
		if i > 0 && r.PrevHash != sealed[i-1].Hash {
			t.Fatalf("record %d prev hash does not link", i)
		}
		if r.Hash != audit.HashRecord(r) {
			t.Fatalf("record %d hash does not match its content", i)
		}
	}
	if diff := cmp.Diff(sealed, allRecords(t, s), auditCmp); diff != "" {
		t.Errorf("Range differs from what Append returned (-appended +stored):\n%s", diff)
	}
	head, err = s.Head(ctx)
	if err != nil || head != (audit.Head{Seq: 10, Hash: sealed[9].Hash}) {
		t.Errorf("Head = %+v, %v; want seq 10 and the last hash", head, err)
	}
	var sub []int64
	if err := s.Range(ctx, 3, 6, func(r audit.Record) error { sub = append(sub, r.Seq); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sub, []int64{3, 4, 5, 6}) {
		t.Errorf("Range(3, 6) = %v", sub)
	}
	stop := errors.New("stop here")
	n := 0
	if err := s.Range(ctx, 0, 0, func(audit.Record) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("Range with a failing fn: err %v after %d calls, want the fn's error after 1", err, n)
	}
	// Time defaults to the store's clock when zero.
	r := auditRec(99)
	r.Time = time.Time{}
	out := mustAuditAppend(t, s, r)
	if out[0].Time.IsZero() {
		t.Errorf("zero Time was not filled in")
	}
}

func testAuditOddText(t *testing.T, h AuditHarness) {
	r := auditRec(1)
	r.Actor = "user:\xffbad\x00nul"
	r.SubjectID = "id with \"quotes\" and \\ and \n"
	r.Explanation = strings.Repeat("é", audit.MaxExplanation) // twice the limit in bytes
	r.Versions = map[string]string{"model": "m\x00", "rule": ""}
	r.Time = base.Add(1234567 * time.Nanosecond) // sub-microsecond part is dropped
	out := mustAuditAppend(t, h.Store, r)
	got := allRecords(t, h.Store)
	if diff := cmp.Diff(out, got, auditCmp); diff != "" {
		t.Fatalf("stored record differs (-appended +stored):\n%s", diff)
	}
	if got[0].Actor != "user:\uFFFDbad\uFFFDnul" || len(got[0].Explanation) > audit.MaxExplanation ||
		!strings.HasSuffix(got[0].Explanation, "[truncated]") || got[0].Time != base.Add(1234*time.Microsecond) {
		t.Errorf("normalization: actor %q, explanation %d bytes, time %v", got[0].Actor, len(got[0].Explanation), got[0].Time)
	}
	if got[0].Hash != audit.HashRecord(got[0]) {
		t.Errorf("stored record does not hash to its hash")
	}
}

func testAuditBadInput(t *testing.T, h AuditHarness) {
	ctx := ctxFor(t)
	mustAuditAppend(t, h.Store, auditRec(1))
	bad := []audit.Record{
		{Actor: "x", Action: "Alert Created"},
		{Actor: "", Action: "alert_created"},
		{Actor: "x", Action: "alert_created", InputDigest: "abc"},
		{Actor: strings.Repeat("x", audit.MaxActor+1), Action: "alert_created"},
		{Actor: "x", Action: "alert_created", SubjectID: strings.Repeat("x", audit.MaxSubjectID+1)},
	}
	for i, r := range bad {
		// A bad record in a batch fails the whole batch: nothing is appended.
		_, err := h.Store.Append(ctx, []audit.Record{auditRec(2), r})
		if !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("bad record %d: error %v, want ErrInvalid", i, err)
		}
	}
	if head, err := h.Store.Head(ctx); err != nil || head.Seq != 1 {
		t.Errorf("after rejected appends Head = %+v, %v; want seq 1", head, err)
	}
}

func testAuditConcurrent(t *testing.T, h AuditHarness) {
	const workers, each = 6, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := auditRec(w*100 + i)
				batch := []audit.Record{r}
				if i%5 == 0 {
					batch = append(batch, auditRec(w*100+i+50))
				}
				if _, err := h.Store.Append(ctxFor(t), batch); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Append: %v", err)
	}
	want := int64(workers * (each + each/5))
	l := audit.New(h.Store, newKeys(t), audit.Options{AnchorPath: filepath.Join(t.TempDir(), "anchor.json")})
	if _, err := l.Checkpoint(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	rep := mustVerifyOK(t, l)
	if rep.Records != want || rep.LastSeq != want || rep.Unsigned != 0 {
		t.Errorf("report %+v, want %d records all signed", rep, want)
	}
}

func testAuditCheckpoints(t *testing.T, h AuditHarness) {
	ctx := ctxFor(t)
	keys := newKeys(t)
	out := mustAuditAppend(t, h.Store, auditRec(1), auditRec(2), auditRec(3))
	var want []audit.Checkpoint
	for _, i := range []int{2, 0} {
		c, err := keys.Sign(audit.Head{Seq: out[i].Seq, Hash: out[i].Hash}, base.Add(time.Duration(i)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Store.AddCheckpoint(ctx, c); err != nil {
			t.Fatalf("AddCheckpoint: %v", err)
		}
		want = append(want, c)
	}
	// The same checkpoint twice is stored once.
	if err := h.Store.AddCheckpoint(ctx, want[0]); err != nil {
		t.Fatalf("AddCheckpoint again: %v", err)
	}
	got, err := h.Store.Checkpoints(ctx)
	if err != nil {
		t.Fatalf("Checkpoints: %v", err)
	}
	slices.Reverse(want) // ascending by seq
	if diff := cmp.Diff(want, got, auditCmp); diff != "" {
		t.Errorf("Checkpoints (-want +got):\n%s", diff)
	}
	for _, c := range got {
		if err := keys.Public().Verify(c); err != nil {
			t.Errorf("stored checkpoint does not verify: %v", err)
		}
	}
}

func testAuditRetention(t *testing.T, h AuditHarness) {
	ctx := ctxFor(t)
	l := audit.New(h.Store, newKeys(t), audit.Options{AnchorPath: filepath.Join(t.TempDir(), "anchor.json"), CheckpointEvery: 10})
	for i := range 35 {
		if _, err := l.Record(ctx, auditRec(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Checkpoints at 1 (first record), 11, 21, 31; records 32..35 unsigned.
	if n, err := h.Store.DeleteBefore(ctx, 0); err != nil || n != 0 {
		t.Errorf("DeleteBefore(0) = %d, %v; want nothing removed", n, err)
	}
	n, err := l.Prune(ctx, 25, "component:retention")
	if err != nil || n != 20 {
		t.Fatalf("Prune(25) = %d, %v; want 20 (cut at the checkpoint on seq 21)", n, err)
	}
	// The audit_pruned record is seq 36, signed before the delete.
	rep := mustVerifyOK(t, l)
	if rep.FirstSeq != 21 || rep.LastSeq != 36 || rep.SignedThrough != 36 || rep.Unsigned != 0 {
		t.Errorf("after retention report %+v, want 21..36 all signed", rep)
	}
	cps, err := h.Store.Checkpoints(ctx)
	if err != nil || len(cps) != 3 || cps[0].Seq != 21 {
		t.Errorf("checkpoints after retention = %+v, %v; want 21, 31 and 36", cps, err)
	}
	// Deleting a prefix straight in the store, without the signed record
	// Prune writes, is tampering even though it cuts at a checkpoint.
	if n, err := h.Store.DeleteBefore(ctx, 31); err != nil || n != 10 {
		t.Fatalf("DeleteBefore(31) = %d, %v; want 10", n, err)
	}
	if rep, err := l.Verify(ctx); err != nil || rep.OK || rep.Problem.Seq != 31 || !strings.Contains(rep.Problem.Reason, "audit_pruned") {
		t.Errorf("verify after an unrecorded cut = %+v, %v; want a problem at seq 31", rep, err)
	}
	// Asking to cut past the newest checkpoint cuts only at it (36, the
	// record of the first prune), and records itself.
	if n, err := l.Prune(ctx, 1000, "component:retention"); err != nil || n != 5 {
		t.Errorf("Prune(1000) = %d, %v; want 5", n, err)
	}
	rep = mustVerifyOK(t, l)
	if rep.FirstSeq != 36 || rep.LastSeq != 37 {
		t.Errorf("report %+v, want 36..37", rep)
	}
	// Appends continue the chain after retention.
	if _, err := l.Record(ctx, auditRec(100)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if rep := mustVerifyOK(t, l); rep.LastSeq != 38 || rep.Unsigned != 0 {
		t.Errorf("after append report %+v", rep)
	}
}

func testAuditKeyRotation(t *testing.T, h AuditHarness) {
	ctx := ctxFor(t)
	keys := newKeys(t)
	l := audit.New(h.Store, keys, audit.Options{AnchorPath: filepath.Join(t.TempDir(), "anchor.json"), CheckpointEvery: 3})
	for i := range 5 {
		if _, err := l.Record(ctx, auditRec(i)); err != nil {
			t.Fatal(err)
		}
	}
	old := keys.ActiveKeyID()
	id, err := l.RotateKey(ctx, "user:admin")
	if err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	if id == old || keys.ActiveKeyID() != id {
		t.Fatalf("rotation kept key %q", old)
	}
	for i := range 4 {
		if _, err := l.Record(ctx, auditRec(10+i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	mustVerifyOK(t, l)
	cps, _ := h.Store.Checkpoints(ctx)
	signers := map[string]bool{}
	for _, c := range cps {
		signers[c.KeyID] = true
	}
	if !signers[old] || !signers[id] {
		t.Errorf("checkpoints signed by %v, want both %s and %s", signers, old, id)
	}
	// Without the retired public key the old checkpoints do not verify.
	pub := keys.Public()
	delete(pub, old)
	rep, err := audit.Verify(ctx, h.Store, pub, audit.VerifyOptions{})
	if err != nil || rep.OK || !strings.Contains(rep.Problem.Reason, "unknown key") {
		t.Errorf("verify without the old key = %+v, %v; want an unknown key problem", rep, err)
	}
}

func testAuditExport(t *testing.T, h AuditHarness) {
	ctx := ctxFor(t)
	keys := newKeys(t)
	l := audit.New(h.Store, keys, audit.Options{AnchorPath: filepath.Join(t.TempDir(), "anchor.json"), CheckpointEvery: 4})
	for i := range 13 {
		r := auditRec(i)
		r.Explanation = fmt.Sprintf("line %d with \"json\" <chars> & \u2028", i)
		if _, err := l.Record(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name             string
		opts             audit.ExportOptions
		first, last      int64
		partial, wantErr bool
	}{
		{name: "all", first: 1, last: 13},
		// records 3..5 by time (rec i has time base+i s, seq i+1): seq 4..6, extended to the checkpoint at 9
		{name: "window", opts: audit.ExportOptions{Since: base.Add(3 * time.Second), Until: base.Add(6 * time.Second)}, first: 4, last: 9, partial: true},
		{name: "window strict", opts: audit.ExportOptions{Since: base.Add(3 * time.Second)}, first: 4, last: 13, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf strings.Builder
			n, err := audit.Export(ctx, h.Store, &buf, tc.opts)
			if err != nil {
				t.Fatalf("Export: %v", err)
			}
			if n != tc.last-tc.first+1 {
				t.Errorf("exported %d records, want %d", n, tc.last-tc.first+1)
			}
			m, err := audit.ReadExport(strings.NewReader(buf.String()))
			if err != nil {
				t.Fatalf("ReadExport: %v", err)
			}
			rep, err := audit.Verify(ctx, m, keys.Public(), audit.VerifyOptions{Partial: tc.partial})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK == tc.wantErr {
				t.Fatalf("verify export: %+v %v (want failure %v)", rep, rep.Problem, tc.wantErr)
			}
			if !tc.wantErr && (rep.FirstSeq != tc.first || rep.LastSeq != tc.last || rep.Unsigned != 0) {
				t.Errorf("report %+v, want %d..%d all signed", rep, tc.first, tc.last)
			}
			// Any edited line must fail verification of the export.
			if tc.wantErr {
				return
			}
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			for i := range lines {
				edited := slices.Clone(lines)
				edited[i] = strings.Replace(edited[i], `"seq":`, `"seq":1`, 1)
				m, err := audit.ReadExport(strings.NewReader(strings.Join(edited, "\n")))
				if err != nil {
					t.Fatal(err)
				}
				if rep, _ := audit.Verify(ctx, m, keys.Public(), audit.VerifyOptions{Partial: tc.partial}); rep.OK {
					t.Errorf("export with line %d edited verified OK", i+1)
				}
			}
		})
	}
}

// chainFixture builds a random chain of n records through a Log with
// checkpoints at random points, the first record and the head; it returns
// the stored records and checkpoints and the public keys and anchor.
func chainFixture(t *testing.T, h AuditHarness, rng *rand.Rand, n int) (*audit.Log, *audit.Checkpoint) {
	t.Helper()
	ctx := ctxFor(t)
	keys := newKeys(t)
	anchor := filepath.Join(t.TempDir(), "anchor.json")
	l := audit.New(h.Store, keys, audit.Options{AnchorPath: anchor, CheckpointEvery: 1 << 30})
	actions := []string{audit.ActionAlertCreated, audit.ActionVerdictSet, audit.ActionTokenCreated, audit.ActionRulesReloaded, audit.ActionModelPromoted}
	for i := 0; i < n; {
		batch := min(1+rng.IntN(3), n-i)
		recs := make([]audit.Record, batch)
		for j := range recs {
			r := audit.Record{
				Time:        base.Add(time.Duration(i+j) * time.Second),
				Actor:       fmt.Sprintf("user:u%d", rng.IntN(5)),
				Action:      actions[rng.IntN(len(actions))],
				SubjectKind: "alert", SubjectID: fmt.Sprintf("id-%d", rng.IntN(1000)),
				Explanation: fmt.Sprintf("because %d", rng.Int()),
			}
			if rng.IntN(2) == 0 {
				r.InputDigest = audit.Digest([]byte(r.SubjectID))
			}
			if rng.IntN(2) == 0 {
				r.Versions = map[string]string{"rule": fmt.Sprintf("v%d", rng.IntN(9)), "model": "m1"}
			}
			recs[j] = r
		}
		if _, err := l.Record(ctx, recs...); err != nil {
			t.Fatal(err)
		}
		i += batch
		if rng.IntN(6) == 0 {
			if _, err := l.Checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	a, err := audit.ReadAnchor(anchor)
	if err != nil || a == nil {
		t.Fatalf("ReadAnchor: %v, %v", a, err)
	}
	return l, a
}

// testAuditTamperRandomized reads a chain back from the store and checks,
// over many seeded random single changes, that Verify rejects every one.
func testAuditTamperRandomized(t *testing.T, h AuditHarness) {
	ctx := ctxFor(t)
	// RAMPART_AUDIT_SEED explores other seeds; the default is fixed so a
	// failure reproduces.
	seed := uint64(5)
	if v := os.Getenv("RAMPART_AUDIT_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("RAMPART_AUDIT_SEED: %v", err)
		}
		seed = n
	}
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(42, seed))
	l, anchor := chainFixture(t, h, rng, 60)
	pub := l.Keys().Public()
	recs := allRecords(t, h.Store)
	cps, err := h.Store.Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	verify := func(rs []audit.Record, cs []audit.Checkpoint, a *audit.Checkpoint) audit.Report {
		m := audit.NewMemory(nil)
		m.SetRecords(rs)
		m.SetCheckpoints(cs)
		rep, err := audit.Verify(ctx, m, pub, audit.VerifyOptions{Anchor: a})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := verify(recs, cps, anchor); !rep.OK {
		t.Fatalf("untouched chain failed: %v", rep.Problem)
	}
	iterations := 2000
	if testing.Short() {
		iterations = 200
	}
	counts := map[string]int{}
	for it := range iterations {
		rs := cloneRecords(recs)
		cs := slices.Clone(cps)
		a := *anchor
		kind := mutate(rng, &rs, &cs, &a)
		counts[kind]++
		rep := verify(rs, cs, &a)
		if rep.OK {
			t.Fatalf("iteration %d: mutation %q was not detected: %+v (first %d, last %d)", it, kind, rep, rs[0].Seq, rs[len(rs)-1].Seq)
		}
	}
	t.Logf("%d mutations, all detected: %v", iterations, counts)
	// Retention is not tampering: after DeleteBefore the chain verifies.
	mid := recs[len(recs)/2].Seq
	if _, err := l.Prune(ctx, mid, "component:retention"); err != nil {
		t.Fatal(err)
	}
	rep, err := l.Verify(ctx)
	if err != nil || !rep.OK || rep.FirstSeq <= 1 {
		t.Fatalf("chain after retention: %+v %v", rep, err)
	}
}

func cloneRecords(rs []audit.Record) []audit.Record {
	out := slices.Clone(rs)
	for i := range out {
		if out[i].Versions != nil {
			v := make(map[string]string, len(out[i].Versions))
			for k, x := range out[i].Versions {
				v[k] = x
			}
			out[i].Versions = v
		}
	}
	return out
}

// rehashFrom recomputes hashes from index i on and links every later
// record to its predecessor, as an attacker who knows the (unkeyed) hash
// would; only checkpoints can catch that. rs[i].PrevHash is kept.
func rehashFrom(rs []audit.Record, i int) {
	for j := i; j < len(rs); j++ {
		if j > i {
			rs[j].PrevHash = rs[j-1].Hash
		}
		rs[j].Hash = audit.HashRecord(rs[j])
	}
}

// relinkFrom is rehashFrom that also links rs[i] to rs[i-1].
func relinkFrom(rs []audit.Record, i int) {
	if i > 0 && i < len(rs) {
		rs[i].PrevHash = rs[i-1].Hash
	}
	rehashFrom(rs, i)
}

// mutate applies one random tampering to the chain and names it.
func mutate(rng *rand.Rand, rs *[]audit.Record, cs *[]audit.Checkpoint, a *audit.Checkpoint) string {
	recs := *rs
	i := rng.IntN(len(recs))
	// rehash: 0 leaves hashes, 1 rehashes the record, 2 the rest of the chain.
	rehash := rng.IntN(3)
	finish := func(kind string) string {
		switch rehash {
		case 1:
			recs[i].Hash = audit.HashRecord(recs[i])
			kind += "+rehash"
		case 2:
			rehashFrom(recs, i)
			kind += "+rehash_tail"
		}
		return kind
	}
	switch k := rng.IntN(17); k {
	case 0:
		recs[i].Seq += int64(1 + rng.IntN(3))
		return finish("field_seq")
	case 1:
		recs[i].Time = recs[i].Time.Add(time.Duration(1+rng.IntN(1000)) * time.Microsecond)
		return finish("field_time")
	case 2:
		recs[i].Actor += "x"
		return finish("field_actor")
	case 3:
		recs[i].Action = "policy_changed_" + recs[i].Action
		return finish("field_action")
	case 4:
		recs[i].SubjectKind = "not_" + recs[i].SubjectKind
		return finish("field_subject_kind")
	case 5:
		recs[i].SubjectID += "0"
		return finish("field_subject_id")
	case 6:
		if recs[i].InputDigest == "" {
			recs[i].InputDigest = audit.Digest([]byte("forged"))
		} else {
			recs[i].InputDigest = ""
		}
		return finish("field_input_digest")
	case 7:
		if recs[i].Versions == nil {
			recs[i].Versions = map[string]string{"rule": "forged"}
		} else if rng.IntN(2) == 0 {
			recs[i].Versions["rule"] += "'"
		} else {
			recs[i].Versions = nil
		}
		return finish("field_versions")
	case 8:
		recs[i].Explanation += " (edited)"
		return finish("field_explanation")
	case 9:
		recs[i].PrevHash = audit.Digest([]byte(recs[i].PrevHash))
		return finish("field_prev_hash")
	case 10:
		recs[i].Hash = audit.Digest([]byte(recs[i].Hash))
		return "field_hash"
	case 11:
		*rs = slices.Delete(recs, i, i+1)
		if rng.IntN(2) == 0 && i < len(*rs) {
			for j := i; j < len(*rs); j++ {
				(*rs)[j].Seq--
			}
			relinkFrom(*rs, i)
			return "delete+renumber"
		}
		return "delete"
	case 12:
		j := rng.IntN(len(recs))
		for j == i {
			j = rng.IntN(len(recs))
		}
		recs[i], recs[j] = recs[j], recs[i]
		if rng.IntN(2) == 0 {
			recs[i].Seq, recs[j].Seq = recs[j].Seq, recs[i].Seq
			relinkFrom(recs, min(i, j))
			return "reorder+renumber"
		}
		return "reorder"
	case 13:
		forged := recs[i]
		forged.Explanation = "forged"
		forged.Hash = audit.HashRecord(forged)
		out := slices.Insert(recs, i, forged)
		if rng.IntN(2) == 0 {
			for j := i + 1; j < len(out); j++ {
				out[j].Seq++
			}
			relinkFrom(out, i)
			*rs = out
			return "insert+renumber"
		}
		*rs = out
		return "insert"
	case 14:
		// Truncate the tail, removing the database checkpoints past the
		// cut as well: the anchor outside the database still catches it.
		cut := rng.IntN(len(recs)) // keep recs[:cut]
		last := int64(0)
		if cut > 0 {
			last = recs[cut-1].Seq
		}
		*rs = recs[:cut]
		if rng.IntN(2) == 0 {
			*cs = slices.DeleteFunc(*cs, func(c audit.Checkpoint) bool { return c.Seq > last })
			return "truncate+drop_checkpoints"
		}
		return "truncate"
	case 15:
		// Tamper with one checkpoint: its seq, hash, time, key or signature.
		c := &(*cs)[rng.IntN(len(*cs))]
		if rng.IntN(4) == 0 {
			c = a
		}
		switch rng.IntN(5) {
		case 0:
			c.Seq++
		case 1:
			c.Hash = audit.Digest([]byte(c.Hash))
		case 2:
			c.Time = c.Time.Add(time.Second)
		case 3:
			c.KeyID += "x"
		default:
			c.Signature = slices.Clone(c.Signature)
			c.Signature[rng.IntN(len(c.Signature))] ^= 1 << rng.IntN(8)
		}
		return "checkpoint"
	default:
		// Replace the anchor by a genuine older checkpoint and cut the tail
		// after it: the database checkpoints past it catch that.
		if len(*cs) < 2 {
			recs[i].Actor += "y"
			return finish("field_actor")
		}
		old := (*cs)[rng.IntN(len(*cs)-1)]
		*a = old
		for n, r := range recs {
			if r.Seq == old.Seq {
				*rs = recs[:n+1]
				break
			}
		}
		return "truncate+old_anchor"
	}
}

// testAuditTamperInDatabase changes rows in the database itself, one
// change at a time on a restored copy of one chain, and checks that Verify (reading through the
// store) names the first bad record.
func testAuditTamperInDatabase(t *testing.T, newHarness func(t *testing.T) AuditHarness) {
	tests := []struct {
		name    string
		sql     []string
		wantSeq int64 // the record Verify must name
		reason  string
	}{
		{name: "actor", sql: []string{"UPDATE audit_records SET actor = 'user:mallory' WHERE seq = 5"}, wantSeq: 5, reason: "does not match its hash"},
		{name: "action", sql: []string{"UPDATE audit_records SET action = 'verdict_set' WHERE seq = 3"}, wantSeq: 3, reason: "does not match its hash"},
		{name: "subject", sql: []string{"UPDATE audit_records SET subject_id = 'other' WHERE seq = 7"}, wantSeq: 7, reason: "does not match its hash"},
		{name: "time", sql: []string{"UPDATE audit_records SET time = time + 1 WHERE seq = 2"}, wantSeq: 2, reason: "does not match its hash"},
		{name: "digest", sql: []string{"UPDATE audit_records SET input_digest = '' WHERE seq = 4"}, wantSeq: 4, reason: "does not match its hash"},
		{name: "versions", sql: []string{`UPDATE audit_records SET versions = '{"rule":"x"}' WHERE seq = 6`}, wantSeq: 6, reason: "does not match its hash"},
		{name: "versions garbage", sql: []string{"UPDATE audit_records SET versions = 'not json' WHERE seq = 3"}, wantSeq: 3, reason: "undecodable"},
		{name: "explanation", sql: []string{"UPDATE audit_records SET explanation = 'nothing to see' WHERE seq = 8"}, wantSeq: 8, reason: "does not match its hash"},
		{name: "prev hash", sql: []string{"UPDATE audit_records SET prev_hash = hash WHERE seq = 9"}, wantSeq: 9, reason: "previous hash"},
		{name: "hash", sql: []string{"UPDATE audit_records SET hash = prev_hash WHERE seq = 10"}, wantSeq: 10, reason: "does not match its hash"},
		{name: "delete", sql: []string{"DELETE FROM audit_records WHERE seq = 6"}, wantSeq: 6, reason: "record missing"},
		{name: "delete first", sql: []string{"DELETE FROM audit_records WHERE seq = 1"}, wantSeq: 2, reason: "without a checkpoint"},
		{name: "reorder", sql: []string{
			"UPDATE audit_records SET seq = -1 WHERE seq = 4",
			"UPDATE audit_records SET seq = 4 WHERE seq = 5",
			"UPDATE audit_records SET seq = 5 WHERE seq = -1"}, wantSeq: 4, reason: "previous hash"},
		{name: "insert", sql: []string{
			"UPDATE audit_records SET seq = -seq - 1 WHERE seq >= 6",
			"UPDATE audit_records SET seq = -seq WHERE seq < 0",
			"INSERT INTO audit_records SELECT 6, time, actor, action, subject_kind, subject_id, input_digest, versions, 'forged', prev_hash, hash FROM audit_records WHERE seq = 5"},
			wantSeq: 6, reason: "previous hash"},
		{name: "truncate tail", sql: []string{
			"DELETE FROM audit_records WHERE seq > 9",
			"DELETE FROM audit_checkpoints WHERE seq > 9"}, wantSeq: 10, reason: "cut off the end"},
		{name: "checkpoint signature", sql: []string{"UPDATE audit_checkpoints SET seq = seq - 1 WHERE seq = 12"}, wantSeq: 11, reason: "invalid signature"},
	}
	// One chain, copied aside and restored before each change.
	h := newHarness(t)
	ctx := ctxFor(t)
	l := audit.New(h.Store, newKeys(t), audit.Options{AnchorPath: filepath.Join(t.TempDir(), "anchor.json"), CheckpointEvery: 1 << 30})
	for i := range 12 {
		if _, err := l.Record(ctx, auditRec(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Checkpoint(ctx); err != nil { // signs seq 12 (seq 1 was signed on append)
		t.Fatal(err)
	}
	exec := func(t *testing.T, qs ...string) {
		t.Helper()
		for _, q := range qs {
			if err := h.Exec(ctx, q); err != nil {
				t.Fatalf("executing %q: %v", q, err)
			}
		}
	}
	exec(t, "CREATE TABLE audit_records_copy AS SELECT * FROM audit_records",
		"CREATE TABLE audit_checkpoints_copy AS SELECT * FROM audit_checkpoints")
	restore := func(t *testing.T) {
		exec(t, "DELETE FROM audit_records", "INSERT INTO audit_records SELECT * FROM audit_records_copy",
			"DELETE FROM audit_checkpoints", "INSERT INTO audit_checkpoints SELECT * FROM audit_checkpoints_copy")
	}
	// Random single changes made with SQL: every one must be caught.
	t.Run("random", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 11))
		cols := []string{"actor", "action", "subject_kind", "subject_id", "input_digest", "explanation", "prev_hash", "hash"}
		for it := range 40 {
			k := 1 + rng.IntN(12)
			var qs []string
			switch rng.IntN(6) {
			case 0:
				col := cols[rng.IntN(len(cols))]
				qs = []string{fmt.Sprintf("UPDATE audit_records SET %s = %s || 'x' WHERE seq = %d", col, col, k)}
			case 1:
				qs = []string{fmt.Sprintf("UPDATE audit_records SET time = time + %d WHERE seq = %d", 1+rng.IntN(1000000), k)}
			case 2:
				qs = []string{fmt.Sprintf(`UPDATE audit_records SET versions = '{"rule":"x%d"}' WHERE seq = %d`, rng.IntN(10), k)}
			case 3:
				qs = []string{fmt.Sprintf("DELETE FROM audit_records WHERE seq = %d", k)}
			case 4:
				if k == 12 {
					k = 11
				}
				qs = []string{fmt.Sprintf("UPDATE audit_records SET seq = -1 WHERE seq = %d", k),
					fmt.Sprintf("UPDATE audit_records SET seq = %d WHERE seq = %d", k, k+1),
					fmt.Sprintf("UPDATE audit_records SET seq = %d WHERE seq = -1", k+1)}
			default:
				qs = []string{fmt.Sprintf("DELETE FROM audit_records WHERE seq >= %d", k),
					fmt.Sprintf("DELETE FROM audit_checkpoints WHERE seq >= %d", k)}
			}
			restore(t)
			exec(t, qs...)
			rep, err := l.Verify(ctx)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if rep.OK {
				t.Fatalf("iteration %d: %v not detected", it, qs)
			}
		}
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			restore(t)
			mustVerifyOK(t, l)
			exec(t, tc.sql...)
			rep, err := l.Verify(ctx)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if rep.OK {
				t.Fatalf("tampering (%s) not detected: %+v", tc.name, rep)
			}
			if rep.Problem.Seq != tc.wantSeq || !strings.Contains(rep.Problem.Reason, tc.reason) {
				t.Errorf("problem = seq %d %q, want seq %d containing %q", rep.Problem.Seq, rep.Problem.Reason, tc.wantSeq, tc.reason)
			}
		})
	}
}

// RunAuditIntegration checks that a store opened with auditing on writes
// audit records in the same transaction as the changes they record:
// alert creation (not folds or replays), verdicts and token creation, with
// the actor from audit.WithActor, and nothing when the change fails.
// newStore returns a fresh store with auditing on and its audit chain.
func RunAuditIntegration(t *testing.T, newStore func(t *testing.T) (store.Store, audit.Store)) {
	t.Helper()
	s, as := newStore(t)
	ctx := ctxFor(t)
	actions := func() []string {
		var out []string
		for _, r := range allRecords(t, as) {
			out = append(out, r.Action+" "+r.SubjectKind+"/"+r.SubjectID+" by "+r.Actor)
		}
		return out
	}
	// Two new alerts and one fold in one batch, then a replay of the batch.
	sigs := []signal.Signal{mkSig("s1", "r1", base, "e1"), mkSig("s2", "r2", base, "e2"), mkSig("s3", "r1", base.Add(time.Second), "e3")}
	ids := []string{"A", "B", "A"}
	record(t, s, sigs, ids)
	record(t, s, sigs, ids)
	want := []string{"alert_created alert/A by component:pipeline", "alert_created alert/B by component:pipeline"}
	if diff := cmp.Diff(want, actions()); diff != "" {
		t.Fatalf("after RecordSignals (-want +got):\n%s", diff)
	}
	recs := allRecords(t, as)
	if recs[0].Versions["rule"] != "r1@v1" || recs[0].InputDigest != audit.Digest([]byte("s1"), []byte("e1")) {
		t.Errorf("alert_created record %+v", recs[0])
	}
	// A verdict by an authenticated token.
	tokCtx := audit.WithActor(ctx, "token:analyst-1")
	if err := s.SetVerdict(tokCtx, alert.Verdict{AlertID: "A", Kind: alert.FalsePositive, Reason: "pen test", Author: "bob"}); err != nil {
		t.Fatalf("SetVerdict: %v", err)
	}
	// A verdict on a missing alert fails and records nothing.
	if err := s.SetVerdict(tokCtx, alert.Verdict{AlertID: "nope", Kind: alert.TruePositive, Author: "bob"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("SetVerdict on a missing alert: %v", err)
	}
	if err := s.CreateToken(ctx, store.Token{ID: "t1", Name: "ci", Role: "ingest", Hash: audit.Digest([]byte("secret"))}); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	// A duplicate token fails and records nothing.
	if err := s.CreateToken(ctx, store.Token{ID: "t2", Name: "ci", Role: "ingest", Hash: audit.Digest([]byte("other"))}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate CreateToken: %v", err)
	}
	want = append(want, "verdict_set alert/A by token:analyst-1", "token_created token/t1 by component:system")
	if diff := cmp.Diff(want, actions()); diff != "" {
		t.Fatalf("after verdict and token (-want +got):\n%s", diff)
	}
	for _, r := range allRecords(t, as) {
		if strings.Contains(r.Explanation, audit.Digest([]byte("secret"))) {
			t.Errorf("token hash in the audit log: %+v", r)
		}
	}
	// Concurrent writers of alerts and verdicts still make one valid chain.
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				id := fmt.Sprintf("W%d-%d", w, i)
				if _, _, err := s.RecordSignals(ctxFor(t), []signal.Signal{mkSig(id, "r9", base, "e"+id)}, []string{id}); err != nil {
					t.Errorf("RecordSignals: %v", err)
					return
				}
				if err := s.SetVerdict(ctxFor(t), alert.Verdict{AlertID: id, Kind: alert.TruePositive, Author: "w"}); err != nil {
					t.Errorf("SetVerdict: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	l := audit.New(as, newKeys(t), audit.Options{AnchorPath: filepath.Join(t.TempDir(), "anchor.json")})
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if rep := mustVerifyOK(t, l); rep.Records != 4+40 {
		t.Errorf("chain has %d records, want 44", rep.Records)
	}
}
