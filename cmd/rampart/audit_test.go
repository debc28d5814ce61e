package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/store/sqlite"
)

// runAudit runs `rampart audit args...` and returns its output and exit code.
func runAudit(t *testing.T, args ...string) (string, int) {
	t.Helper()
	return runCmd(t, newAuditCmd(), args...)
}

func TestAuditCommands(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := audit.OpenKeyRing(filepath.Join(dir, audit.KeyFileName), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	l := audit.New(s.Audit(), keys, audit.Options{CheckpointEvery: 4})
	for i := range 10 {
		if _, err := l.Record(ctx, audit.Record{Actor: "user:alice", Action: audit.ActionVerdictSet, SubjectKind: "alert",
			SubjectID: "a" + string(rune('0'+i)), Explanation: "checked"}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()

	out, code := runAudit(t, "verify", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "audit chain OK: 10 records") || !strings.Contains(out, "1 newer record(s) not yet signed") {
		t.Fatalf("verify untouched: code %d\n%s", code, out)
	}
	out, code = runAudit(t, "checkpoint", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "signed seq 10") {
		t.Fatalf("checkpoint: code %d\n%s", code, out)
	}
	out, code = runAudit(t, "verify", "--data-dir", dir, "--json")
	if code != 0 || !strings.Contains(out, `"ok": true`) || !strings.Contains(out, `"unsigned": 0`) {
		t.Fatalf("verify --json: code %d\n%s", code, out)
	}

	// Export, then verify the export offline with the public keys only
	// (privacy off: records as stored; see TestPseudonymizedExportsAndTraining).
	export := filepath.Join(t.TempDir(), "export.jsonl")
	pub := filepath.Join(t.TempDir(), "keys.pub")
	noPrivacy := filepath.Join(t.TempDir(), "rampart.yaml")
	if err := os.WriteFile(noPrivacy, []byte("privacy:\n  disabled: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, code = runAudit(t, "export", "--config", noPrivacy, "--data-dir", dir, "-o", export); code != 0 || !strings.Contains(out, "exported 10") {
		t.Fatalf("export: code %d\n%s", code, out)
	}
	out, code = runAudit(t, "pubkey", "--data-dir", dir)
	if code != 0 || strings.Contains(out, "seed") {
		t.Fatalf("pubkey: code %d\n%s", code, out)
	}
	if err := os.WriteFile(pub, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code = runAudit(t, "verify", "--file", export, "--pubkey", pub); code != 0 || !strings.Contains(out, "OK: 10 records") {
		t.Fatalf("verify export: code %d\n%s", code, out)
	}
	if out, code = runAudit(t, "verify", "--file", export, "--pubkey", pub, "--strict"); code != 0 {
		t.Fatalf("verify --strict full export: code %d\n%s", code, out)
	}
	// Public keys of several nodes are merged; a ring without ours fails.
	other := filepath.Join(t.TempDir(), audit.KeyFileName)
	if _, err := audit.OpenKeyRing(other, time.Now()); err != nil {
		t.Fatal(err)
	}
	if out, code = runAudit(t, "verify", "--file", export, "--pubkey", other, "--pubkey", pub); code != 0 {
		t.Fatalf("verify with two key files: code %d\n%s", code, out)
	}
	if out, code = runAudit(t, "verify", "--file", export, "--pubkey", other); code != 1 || !strings.Contains(out, "unknown key") {
		t.Fatalf("verify with a foreign key file: code %d\n%s", code, out)
	}
	data, _ := os.ReadFile(export)
	// Without its first lines the export passes as a window, but not --strict.
	headless := filepath.Join(t.TempDir(), "headless.jsonl")
	if err := os.WriteFile(headless, data[bytes.Index(data, []byte(`{"type":"record","seq":3,`)):], 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code = runAudit(t, "verify", "--file", headless, "--pubkey", pub); code != 0 || !strings.Contains(out, "seq 3..10") {
		t.Fatalf("verify headless window: code %d\n%s", code, out)
	}
	if out, code = runAudit(t, "verify", "--file", headless, "--pubkey", pub, "--strict"); code != 1 || !strings.Contains(out, "BROKEN at seq 3") {
		t.Fatalf("verify --strict headless: code %d\n%s", code, out)
	}
	edited := filepath.Join(t.TempDir(), "edited.jsonl")
	if err := os.WriteFile(edited, bytes.Replace(data, []byte(`"subject_id":"a3"`), []byte(`"subject_id":"a9"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code = runAudit(t, "verify", "--file", edited, "--pubkey", pub); code != 1 || !strings.Contains(out, "BROKEN at seq 4") {
		t.Fatalf("verify edited export: code %d\n%s", code, out)
	}

	// Rotation keeps the chain verifiable.
	if out, code = runAudit(t, "rotate-key", "--data-dir", dir, "--actor", "user:admin"); code != 0 {
		t.Fatalf("rotate-key: code %d\n%s", code, out)
	}
	if out, code = runAudit(t, "verify", "--data-dir", dir); code != 0 || !strings.Contains(out, "OK: 11 records") {
		t.Fatalf("verify after rotation: code %d\n%s", code, out)
	}

	// Tampering in the database: verify names the record and exits 1.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_records SET explanation = 'nothing happened' WHERE seq = 7`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, code = runAudit(t, "verify", "--data-dir", dir, "--json")
	if code != 1 || !strings.Contains(out, `"seq": 7`) || !strings.Contains(out, "does not match its hash") {
		t.Fatalf("verify tampered: code %d\n%s", code, out)
	}

	// Bad invocations fail with a message, not a crash.
	if out, code = runAudit(t, "verify", "--data-dir", t.TempDir()); code != 2 || !strings.Contains(out, "audit public keys") {
		t.Errorf("verify without keys: code %d\n%s", code, out)
	}
	if out, code = runAudit(t, "export", "--data-dir", dir, "--since", "yesterday"); code != 2 || !strings.Contains(out, "--since") {
		t.Errorf("export bad --since: code %d\n%s", code, out)
	}
}
