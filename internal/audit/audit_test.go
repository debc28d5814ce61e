package audit_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/store/storetest"
)

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

// TestMemoryConformance runs the store suite on the in-memory store that
// exports are read into.
func TestMemoryConformance(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T) storetest.AuditHarness {
		return storetest.AuditHarness{Store: audit.NewMemory(nil)}
	})
}

// TestCanonicalRecord pins the hashed encoding: changing it breaks every
// stored chain, so this test must only change with a new format version
// (docs/formats/audit.md shows the same example).
func TestCanonicalRecord(t *testing.T) {
	r := audit.Record{
		Seq: 1, Time: t0.Add(1500 * time.Microsecond), Actor: "user:alice", Action: "verdict_set",
		SubjectKind: "alert", SubjectID: "a1", InputDigest: audit.Digest([]byte("x")),
		Versions:    map[string]string{"rule": "r@2", "model": "m@1"},
		Explanation: "false positive:\nbackup job", PrevHash: audit.ZeroHash,
	}
	want := "rampart.audit.record.v1\n" +
		"1:1\n" + "27:2026-11-27T10:00:00.001500Z\n" + "10:user:alice\n" + "11:verdict_set\n" + "5:alert\n" + "2:a1\n" +
		"64:" + audit.Digest([]byte("x")) + "\n" +
		"1:2\n" + "5:model\n" + "3:m@1\n" + "4:rule\n" + "3:r@2\n" +
		"26:false positive:\nbackup job\n" +
		"64:" + audit.ZeroHash + "\n"
	if got := string(audit.CanonicalRecord(r)); got != want {
		t.Fatalf("canonical encoding changed:\n%s", cmp.Diff(want, got))
	}
	if got, want := audit.HashRecord(r), "d68ae747d743c22292c4bcc44d9f0f55fb3ec5a29f79bcc1d74cefed9511dde1"; got != want {
		t.Errorf("hash of the example is %s, want %s", got, want)
	}
	if audit.Digest([]byte("ab"), []byte("c")) == audit.Digest([]byte("a"), []byte("bc")) {
		t.Error("Digest does not separate its parts")
	}
}

func TestSeal(t *testing.T) {
	tests := []struct {
		name    string
		head    audit.Head
		recs    []audit.Record
		wantErr string
		check   func(t *testing.T, out []audit.Record)
	}{
		{name: "empty head starts at 1 after zero hash", recs: []audit.Record{{Actor: "a", Action: "x"}},
			check: func(t *testing.T, out []audit.Record) {
				if out[0].Seq != 1 || out[0].PrevHash != audit.ZeroHash || !out[0].Time.Equal(t0) {
					t.Errorf("got %+v", out[0])
				}
			}},
		{name: "continues head", head: audit.Head{Seq: 7, Hash: strings.Repeat("a", 64)},
			recs: []audit.Record{{Actor: "a", Action: "x"}, {Actor: "a", Action: "y"}},
			check: func(t *testing.T, out []audit.Record) {
				if out[0].Seq != 8 || out[0].PrevHash != strings.Repeat("a", 64) || out[1].Seq != 9 || out[1].PrevHash != out[0].Hash {
					t.Errorf("got %+v", out)
				}
			}},
		{name: "time truncated to microseconds", recs: []audit.Record{{Actor: "a", Action: "x", Time: t0.Add(999)}},
			check: func(t *testing.T, out []audit.Record) {
				if !out[0].Time.Equal(t0) {
					t.Errorf("time %v", out[0].Time)
				}
			}},
		{name: "empty versions map is nil", recs: []audit.Record{{Actor: "a", Action: "x", Versions: map[string]string{}}},
			check: func(t *testing.T, out []audit.Record) {
				if out[0].Versions != nil {
					t.Errorf("versions %#v", out[0].Versions)
				}
			}},
		{name: "long explanation cut", recs: []audit.Record{{Actor: "a", Action: "x", Explanation: strings.Repeat("€", audit.MaxExplanation)}},
			check: func(t *testing.T, out []audit.Record) {
				e := out[0].Explanation
				if len(e) > audit.MaxExplanation || !strings.HasSuffix(e, "…[truncated]") || !strings.HasPrefix(e, "€€") {
					t.Errorf("explanation %d bytes, suffix %q", len(e), e[len(e)-20:])
				}
			}},
		{name: "bad action", recs: []audit.Record{{Actor: "a", Action: "DROP TABLE"}}, wantErr: "not lower_snake"},
		{name: "missing actor", recs: []audit.Record{{Action: "x"}}, wantErr: "actor is empty"},
		{name: "digest not hex", recs: []audit.Record{{Actor: "a", Action: "x", InputDigest: strings.Repeat("G", 64)}}, wantErr: "input digest"},
		{name: "too many versions", recs: []audit.Record{{Actor: "a", Action: "x", Versions: func() map[string]string {
			m := map[string]string{}
			for i := range audit.MaxVersions + 1 {
				m[string(rune('a'+i%26))+strings.Repeat("k", i)] = "v"
			}
			return m
		}()}}, wantErr: "versions, limit"},
		{name: "empty version key", recs: []audit.Record{{Actor: "a", Action: "x", Versions: map[string]string{"": "v"}}}, wantErr: "version"},
		{name: "second record bad", recs: []audit.Record{{Actor: "a", Action: "x"}, {Actor: "a", Action: ""}}, wantErr: "record 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := audit.Seal(tc.head, tc.recs, t0)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, audit.ErrInvalid) {
					t.Fatalf("error = %v, want ErrInvalid containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			for _, r := range out {
				if r.Hash != audit.HashRecord(r) {
					t.Errorf("seq %d hash does not match content", r.Seq)
				}
			}
			tc.check(t, out)
		})
	}
}

func TestKeyRing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", audit.KeyFileName)
	k, err := audit.OpenKeyRing(path, t0)
	if err != nil {
		t.Fatalf("OpenKeyRing: %v", err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v; want 0600", st.Mode(), err)
	}
	first := k.ActiveKeyID()
	head := audit.Head{Seq: 3, Hash: audit.Digest([]byte("h"))}
	c1, err := k.Sign(head, t0)
	if err != nil {
		t.Fatal(err)
	}
	// Reopening loads the same key.
	k2, err := audit.OpenKeyRing(path, t0)
	if err != nil || k2.ActiveKeyID() != first {
		t.Fatalf("reopen: %v, id %q want %q", err, k2.ActiveKeyID(), first)
	}
	if err := k2.Public().Verify(c1); err != nil {
		t.Errorf("reopened ring does not verify: %v", err)
	}
	// Rotation: new id, the old public key stays, its private key goes.
	second, err := k2.Rotate(t0.Add(time.Hour))
	if err != nil || second == first {
		t.Fatalf("Rotate = %q, %v", second, err)
	}
	data, _ := os.ReadFile(path)
	if n := strings.Count(string(data), `"seed"`); n != 1 {
		t.Errorf("key file holds %d private keys after rotation, want 1", n)
	}
	k3, err := audit.OpenKeyRing(path, t0)
	if err != nil || k3.ActiveKeyID() != second {
		t.Fatalf("reopen after rotation: %v, %q", err, k3.ActiveKeyID())
	}
	c2, _ := k3.Sign(head, t0)
	pub := k3.Public()
	for _, c := range []audit.Checkpoint{c1, c2} {
		if err := pub.Verify(c); err != nil {
			t.Errorf("verify %s: %v", c.KeyID, err)
		}
	}
	// Public key file round trip.
	pubPath := filepath.Join(dir, "keys.pub")
	b, err := pub.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("seed")) {
		t.Error("public key file contains a private key")
	}
	if err := os.WriteFile(pubPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := audit.LoadPublicKeys(pubPath)
	if err != nil || len(loaded) != 2 || loaded.Verify(c1) != nil {
		t.Errorf("LoadPublicKeys = %v, %v", loaded, err)
	}
	// The key file itself also serves as a public key file.
	if fromKeyFile, err := audit.LoadPublicKeys(path); err != nil || len(fromKeyFile) != 2 {
		t.Errorf("LoadPublicKeys(key file) = %v, %v", fromKeyFile, err)
	}
	// A tampered signature or checkpoint fails.
	bad := c2
	bad.Seq++
	if err := pub.Verify(bad); err == nil || !strings.Contains(err.Error(), "invalid signature") {
		t.Errorf("verify of a changed checkpoint: %v", err)
	}
	// A rotation by another process is picked up by the next Sign.
	third, err := audit.OpenKeyRing(path, t0)
	if err != nil {
		t.Fatal(err)
	}
	newID, err := third.Rotate(t0.Add(2 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if c, err := k3.Sign(head, t0); err != nil || c.KeyID != newID {
		t.Errorf("Sign after an outside rotation used key %q (%v), want %q", c.KeyID, err, newID)
	}
	// A key file others can read is refused.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.OpenKeyRing(path, t0); err == nil || !strings.Contains(err.Error(), "want 0600") {
		t.Errorf("group-readable key file: %v", err)
	}
	if _, err := k3.Sign(head, t0); err == nil {
		t.Errorf("Sign with a group-readable key file succeeded")
	}
}

func TestKeyRingBadFiles(t *testing.T) {
	tests := []struct{ name, content, wantErr string }{
		{"not json", "{", "parsing audit key file"},
		{"no private key", `{"active":"a","keys":[{"id":"a","public":"` + strings.Repeat("A", 43) + `="}]}`, "has no private key"},
		{"bad public", `{"active":"a","keys":[{"id":"a","public":"!!"}]}`, "bad base64"},
		{"short public", `{"active":"a","keys":[{"id":"a","public":"AAAA"}]}`, "want 32"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "k.json")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := audit.OpenKeyRing(path, t0); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want %q", err, tc.wantErr)
			}
		})
	}
	// A seed that does not match its public key.
	dir := t.TempDir()
	a, _ := audit.OpenKeyRing(filepath.Join(dir, "a.json"), t0)
	b, _ := audit.OpenKeyRing(filepath.Join(dir, "b.json"), t0)
	_, _ = a, b
	da, _ := os.ReadFile(filepath.Join(dir, "a.json"))
	db, _ := os.ReadFile(filepath.Join(dir, "b.json"))
	mixed := string(da[:bytes.Index(da, []byte(`"seed"`))]) + string(db[bytes.Index(db, []byte(`"seed"`)):])
	p := filepath.Join(dir, "mixed.json")
	if err := os.WriteFile(p, []byte(mixed), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.OpenKeyRing(p, t0); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("mismatched seed: %v", err)
	}
}

func TestAnchor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anchor.json")
	if a, err := audit.ReadAnchor(path); a != nil || err != nil {
		t.Fatalf("missing anchor = %v, %v; want nil, nil", a, err)
	}
	k, _ := audit.OpenKeyRing(filepath.Join(t.TempDir(), "k.json"), t0)
	c, _ := k.Sign(audit.Head{Seq: 9, Hash: audit.Digest()}, t0)
	if err := audit.WriteAnchor(path, c); err != nil {
		t.Fatal(err)
	}
	got, err := audit.ReadAnchor(path)
	if err != nil || got == nil || !cmp.Equal(*got, c) {
		t.Fatalf("ReadAnchor = %+v, %v; want %+v", got, err, c)
	}
	if err := os.WriteFile(path, []byte(`{"seq":1,"time":"yesterday"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.ReadAnchor(path); err == nil || !strings.Contains(err.Error(), "bad time") {
		t.Errorf("bad anchor: %v", err)
	}
}

func TestReadExportErrors(t *testing.T) {
	tests := []struct{ name, in, wantErr string }{
		{"not json", "nope\n", "line 2"},
		{"unknown field", `{"type":"record","seq":1,"time":"2026-11-27T10:00:00.000000Z","hash":"","extra":1}`, "unknown field"},
		{"unknown type", `{"type":"other","seq":1,"time":"2026-11-27T10:00:00.000000Z","hash":""}`, "unknown type"},
		{"bad time", `{"type":"record","seq":1,"time":"2026-11-27","hash":""}`, "bad time"},
		{"two values", `{"type":"record","seq":1,"time":"2026-11-27T10:00:00.000000Z","hash":""} {}`, "more than one"},
		{"bad signature", `{"type":"checkpoint","seq":1,"time":"2026-11-27T10:00:00.000000Z","hash":"","signature":"!"}`, "signature"},
		{"line too long", `{"type":"record","explanation":"` + strings.Repeat("x", audit.MaxExportLine) + `"}`, "longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := audit.ReadExport(strings.NewReader("\n" + tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// FuzzReadExport feeds arbitrary export files to ReadExport and Verify:
// they must fail cleanly or verify, never panic.
func FuzzReadExport(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "export.jsonl"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"type":"record","seq":1,"time":"2026-11-27T10:00:00.000000Z","hash":"x"}`))
	f.Add([]byte(`{"type":"checkpoint","seq":-1,"time":"2026-11-27T10:00:00.000000Z","hash":"","signature":""}`))
	pub, err := audit.LoadPublicKeys(filepath.Join("testdata", "export.pub"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := audit.ReadExport(bytes.NewReader(data))
		if err != nil {
			return
		}
		rep, err := audit.Verify(context.Background(), m, pub, audit.VerifyOptions{Partial: true})
		if err != nil {
			t.Fatalf("Verify on an in-memory chain returned an error: %v", err)
		}
		if !rep.OK && rep.Problem == nil {
			t.Fatal("failed report without a problem")
		}
		if bytes.Equal(data, seed) && !rep.OK {
			t.Fatalf("seed export does not verify: %v", rep.Problem)
		}
	})
}

// TestExportGolden checks that the committed example export (also the fuzz
// seed) still verifies with its public key, and that a fresh export of the
// same chain content has the same shape. UPDATE_GOLDEN=1 rewrites both
// files with a new key.
func TestExportGolden(t *testing.T) {
	jsonl, pubFile := filepath.Join("testdata", "export.jsonl"), filepath.Join("testdata", "export.pub")
	ctx := context.Background()
	if os.Getenv("UPDATE_GOLDEN") != "" {
		k, err := audit.OpenKeyRing(filepath.Join(t.TempDir(), audit.KeyFileName), t0)
		if err != nil {
			t.Fatal(err)
		}
		clock := t0
		m := audit.NewMemory(func() time.Time { clock = clock.Add(time.Second); return clock })
		l := audit.New(m, k, audit.Options{AnchorPath: filepath.Join(t.TempDir(), "a.json"), CheckpointEvery: 3, Now: func() time.Time { return clock }})
		for _, r := range []audit.Record{
			{Actor: "component:pipeline", Action: audit.ActionAlertCreated, SubjectKind: "alert", SubjectID: "al-1",
				InputDigest: audit.Digest([]byte("sig-1")), Versions: map[string]string{"rule": "sigma/lnx_sshd_failed_password@1"},
				Explanation: "5 failed logins for root from 203.0.113.9 in 60s"},
			{Actor: "token:analyst-1", Action: audit.ActionVerdictSet, SubjectKind: "alert", SubjectID: "al-1", Explanation: "false_positive: pen test"},
			{Actor: "user:admin", Action: audit.ActionTokenCreated, SubjectKind: "token", SubjectID: "tok-2", Explanation: "role analyst"},
			{Actor: "component:app", Action: audit.ActionRulesReloaded, SubjectKind: "ruleset", SubjectID: "sigma",
				InputDigest: audit.Digest([]byte("rules")), Explanation: "42 rules"},
		} {
			if _, err := l.Record(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := l.RotateKey(ctx, "user:admin"); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := audit.Export(ctx, m, &buf, audit.ExportOptions{}); err != nil {
			t.Fatal(err)
		}
		pub, _ := k.Public().MarshalJSON()
		if err := os.WriteFile(jsonl, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pubFile, append(pub, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(jsonl)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := audit.ReadExport(f)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := audit.LoadPublicKeys(pubFile)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(ctx, m, pub, audit.VerifyOptions{})
	if err != nil || !rep.OK || rep.Records != 5 || rep.Unsigned != 0 {
		t.Fatalf("golden export: %+v %v, %v", rep, rep.Problem, err)
	}
	// Re-exporting what was read gives the same bytes.
	var again bytes.Buffer
	if _, err := audit.Export(ctx, m, &again, audit.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(jsonl)
	if diff := cmp.Diff(string(orig), again.String()); diff != "" {
		t.Errorf("export → read → export changed (-file +again):\n%s", diff)
	}
}

// TestLogRun checks that the timer signs records appended behind the Log's
// back (as stores do in their own transactions) and signs once more on exit.
func TestLogRun(t *testing.T) {
	m := audit.NewMemory(nil)
	l, err := audit.OpenLog(m, filepath.Join(t.TempDir(), "keys", audit.KeyFileName), audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx, 2*time.Millisecond); close(done) }()
	signed := func() int64 {
		rep, err := l.Verify(context.Background())
		if err != nil || !rep.OK {
			t.Fatalf("Verify: %+v, %v", rep, err)
		}
		return rep.SignedThrough
	}
	if _, err := m.Append(ctx, []audit.Record{{Actor: "a", Action: "x"}, {Actor: "a", Action: "y"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for signed() != 2 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not sign the head within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := m.Append(ctx, []audit.Record{{Actor: "a", Action: "z"}}); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	if got := signed(); got != 3 {
		t.Errorf("after Run returned, signed through %d, want 3 (the final checkpoint)", got)
	}
}
