package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/api"
	"github.com/rampart-ids/rampart/internal/app"
	"github.com/rampart-ids/rampart/internal/audit"
	"github.com/rampart-ids/rampart/internal/config"
	"github.com/rampart-ids/rampart/internal/ml/model"
	"github.com/rampart-ids/rampart/internal/privacy"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/store/sqlite"
)

// rawValues are the personal values seeded below: none may appear in a
// pseudonymized export or training set.
var rawValues = []string{"alice.smith", "alice", "bob.jones", "carol.white", "dave.king", "ws-fin-07", "corp.example",
	"10.20.30.40", "10.20.30.41", "10.20.30.50", "192.168.77.5"}

// TestPseudonymizedExportsAndTraining is issue 5's "pseudonymized exports
// and training sets contain none of the configured raw values": a node's
// data with known names, e-mail addresses, internal addresses and hosts
// is exported (audit log) and trained on (log templates), and every
// output is searched for every raw value.
func TestPseudonymizedExportsAndTraining(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfgPath := filepath.Join(t.TempDir(), "rampart.yaml")
	cfgText := fmt.Sprintf(`data_dir: %s
privacy:
  purposes:
    - source: "allowed*.log"
      tags: [training, detection]
    - source: "*.csv"
      tags: ["*", "!training"]
`, dir)
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	seedGovernanceData(t, ctx, cfg)

	// Audit export, pseudonymized by default.
	export := filepath.Join(t.TempDir(), "audit.jsonl")
	out, code := runAudit(t, "export", "--config", cfgPath, "-o", export)
	if code != 0 || !strings.Contains(out, "pseudonymized") {
		t.Fatalf("export: code %d\n%s", code, out)
	}
	data, err := os.ReadFile(export)
	if err != nil {
		t.Fatal(err)
	}
	assertNoRawValues(t, "pseudonymized audit export", data)
	for _, want := range []string{`"actor":"token:u_`, `user=u_`, `host=h_`, `"action":"verdict_set"`, `"action":"reidentified"`, `"action":"token_created"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("pseudonymized export lacks %s", want)
		}
	}
	// Its pseudonyms are the node's: re-identifiable through the audited call.
	p, maps, err := app.OpenPrivacy(dir, cfg.Privacy.Config, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), p.Value(privacy.KindUser, "alice.smith")) {
		t.Error("export does not use the node's pseudonym of alice.smith")
	}
	maps.Close()

	// --clear is recorded first, then verifies offline as before.
	clearOut := filepath.Join(t.TempDir(), "clear.jsonl")
	if out, code = runAudit(t, "export", "--config", cfgPath, "--clear", "--reason", "regulator request 7", "--actor", "user:auditor", "-o", clearOut); code != 0 {
		t.Fatalf("export --clear: code %d\n%s", code, out)
	}
	clearData, _ := os.ReadFile(clearOut)
	if !strings.Contains(string(clearData), "alice.smith") || !strings.Contains(string(clearData), `"action":"audit_exported_clear"`) ||
		!strings.Contains(string(clearData), "regulator request 7") {
		t.Errorf("clear export lacks the clear values or its own record:\n%.2000s", clearData)
	}
	pub := filepath.Join(t.TempDir(), "keys.pub")
	out, _ = runAudit(t, "pubkey", "--config", cfgPath)
	if err := os.WriteFile(pub, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code = runAudit(t, "verify", "--file", clearOut, "--pubkey", pub); code != 0 {
		t.Errorf("verify clear export: code %d\n%s", code, out)
	}

	// Training: the tagged log file, pseudonymized; the untagged one excluded.
	trainDir := t.TempDir()
	var allowed, untagged strings.Builder
	for i := range 40 {
		fmt.Fprintf(&allowed, "Nov 27 10:%02d:01 ws-fin-07 sshd[%d]: Accepted password for alice.smith from 10.20.30.40 port %d ssh2\n", i, 1000+i, 50000+i)
		fmt.Fprintf(&allowed, "Nov 27 10:%02d:05 ws-fin-07 sshd[%d]: Failed password for invalid user bob.jones from 10.20.30.41 port %d ssh2\n", i, 2000+i, 51000+i)
		fmt.Fprintf(&allowed, "Nov 27 10:%02d:09 ws-fin-07 sudo: alice.smith : TTY=pts/%d ; PWD=/home/alice.smith ; USER=root ; COMMAND=/bin/ls\n", i, i%4)
		fmt.Fprintf(&allowed, "Nov 27 10:%02d:20 ws-fin-07 sshd(pam_unix)[%d]: authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.168.77.5  user=dave.king\n", i, 3000+i)
		fmt.Fprintf(&allowed, "Nov 27 10:%02d:30 ws-fin-07 postfix/smtpd[%d]: warning: mail from carol.white@corp.example via 10.20.30.50 rejected\n", i, 4000+i)
		fmt.Fprintf(&untagged, "Nov 27 11:%02d:00 ws-fin-07 sshd[%d]: Accepted password for alice.smith from 10.20.30.40 port 22 ssh2\n", i, 5000+i)
	}
	if err := os.WriteFile(filepath.Join(trainDir, "allowed_auth.log"), []byte(allowed.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(trainDir, "other"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(trainDir, "other", "untagged.log"), []byte(untagged.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runModel(t, "train", "--config", cfgPath, "--kind", "loghub-templates", "--data", trainDir, "--name", "tpl"); err != nil {
		t.Fatalf("train: %v\n%s", err, out)
	}
	artifactPath := filepath.Join(dir, "models", "tpl", "1.model")
	art, err := os.ReadFile(artifactPath)
	if err != nil {
		t.Fatal(err)
	}
	assertNoRawValues(t, "trained model artifact", art)
	// Control: the same data trained without the privacy config leaks, so
	// the check above can fail.
	plain := filepath.Join(t.TempDir(), "models")
	if out, err := runModel(t, "train", "--models", plain, "--kind", "loghub-templates", "--data", trainDir, "--name", "tpl"); err != nil {
		t.Fatalf("train without privacy: %v\n%s", err, out)
	}
	if leaked, _ := os.ReadFile(filepath.Join(plain, "tpl", "1.model")); !strings.Contains(string(leaked), "alice.smith") {
		t.Error("control: a model trained on the raw lines holds no raw user name; the leak check proves nothing")
	}
	out, err = runModel(t, "inspect", "--config", cfgPath, "tpl", "--json")
	if err != nil {
		t.Fatalf("inspect: %v\n%s", err, out)
	}
	var v struct {
		Lineage model.Lineage `json:"lineage"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("inspect --json: %v\n%s", err, out)
	}
	if !strings.Contains(v.Lineage.Privacy, "pseudonymized") {
		t.Errorf("lineage privacy %q: the pseudonymization is not recorded", v.Lineage.Privacy)
	}
	if len(v.Lineage.Sources) != 1 || len(v.Lineage.Exclusions) != 1 || v.Lineage.Exclusions[0].Rows != 40 ||
		!strings.Contains(v.Lineage.Exclusions[0].Reason, "untagged") {
		t.Errorf("lineage sources %+v exclusions %+v: want the tagged file used and the 40 untagged lines excluded",
			v.Lineage.Sources, v.Lineage.Exclusions)
	}

	// The training is in the node's audit log, with its privacy treatment.
	st, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var trained []audit.Record
	_ = st.Audit().Range(ctx, 0, 0, func(r audit.Record) error {
		if r.Action == audit.ActionModelTrained {
			trained = append(trained, r)
		}
		return nil
	})
	st.Close()
	if len(trained) != 1 || trained[0].SubjectID != "tpl@1" || !strings.Contains(trained[0].Explanation, "pseudonymized") ||
		!strings.Contains(trained[0].Explanation, "excluded 40 rows") || trained[0].InputDigest == "" {
		t.Errorf("model_trained records: %+v", trained)
	}

	// A kind whose only training file the purposes forbid is refused.
	payDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(payDir, "payload_train.csv"), []byte("payload,length,attack_type,label\nq=alice.smith,13,norm,norm\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runModel(t, "train", "--config", cfgPath, "--kind", "payload", "--data", payDir); err == nil || !strings.Contains(err.Error(), "may not be used") {
		t.Errorf("payload training on a !training file: %v\n%s", err, out)
	}

	// Privacy disabled: nothing is pseudonymized, but the purposes still apply.
	offPath := filepath.Join(t.TempDir(), "off.yaml")
	if err := os.WriteFile(offPath, []byte(strings.Replace(cfgText, "privacy:\n", "privacy:\n  disabled: true\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runModel(t, "train", "--config", offPath, "--kind", "loghub-templates", "--data", trainDir, "--name", "off"); err != nil {
		t.Fatalf("train with privacy off: %v\n%s", err, out)
	}
	out, err = runModel(t, "inspect", "--config", offPath, "off", "--json")
	if err != nil {
		t.Fatal(err)
	}
	v.Lineage = model.Lineage{}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if v.Lineage.Privacy != "" || len(v.Lineage.Exclusions) != 1 {
		t.Errorf("privacy off: lineage privacy %q exclusions %+v; want none and the untagged file excluded", v.Lineage.Privacy, v.Lineage.Exclusions)
	}
}

func assertNoRawValues(t *testing.T, what string, data []byte) {
	t.Helper()
	low := strings.ToLower(string(data))
	for _, v := range rawValues {
		if i := strings.Index(low, strings.ToLower(v)); i >= 0 {
			t.Errorf("%s holds raw value %q: …%s…", what, v, low[max(0, i-80):min(len(low), i+80)])
		}
	}
}

// seedGovernanceData writes alerts, a verdict, a token and a
// re-identification into the node's store and audit log.
func seedGovernanceData(t *testing.T, ctx context.Context, cfg config.Config) {
	t.Helper()
	st, err := sqlite.Open(ctx, cfg.DataDir, sqlite.Options{Audit: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := audit.OpenLog(st.Audit(), filepath.Join(cfg.DataDir, audit.KeyFileName), audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	sig := signal.Signal{ID: "s1", Detector: "sigma", Layer: signal.LayerRules, RuleID: "ssh_login", RuleVersion: "1",
		Title: "Login of alice.smith on ws-fin-07", Level: signal.LevelHigh, Score: 1, Time: now,
		Entities: []signal.Entity{{Kind: "user", Value: "alice.smith"}, {Kind: "host", Value: "ws-fin-07.corp.example"},
			{Kind: "ip", Value: "10.20.30.40"}, {Kind: "email", Value: "alice.smith@corp.example"}},
		Explanation: "alice.smith logged in to ws-fin-07.corp.example from 10.20.30.40 (mail alice.smith@corp.example)"}
	if _, _, err := st.RecordSignals(ctx, []signal.Signal{sig}, []string{"a1"}); err != nil {
		t.Fatal(err)
	}
	vctx := audit.WithActor(ctx, "token:bob.jones")
	if err := st.SetVerdict(vctx, alert.Verdict{AlertID: "a1", Kind: alert.BenignTruePositive, Author: "bob.jones", Time: now,
		Reason: "called alice.smith: she was on ws-fin-07 at 10.20.30.40, as planned"}); err != nil {
		t.Fatal(err)
	}
	_, tok, err := api.NewToken("carol.white", api.RoleAnalyst, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateToken(audit.WithActor(ctx, "token:admin"), tok); err != nil {
		t.Fatal(err)
	}
	p, maps, err := app.OpenPrivacy(cfg.DataDir, cfg.Privacy.Config, l, now)
	if err != nil {
		t.Fatal(err)
	}
	defer maps.Close()
	ps := p.Value(privacy.KindUser, "alice.smith")
	if _, err := p.ReidentifyReason(privacy.WithRole(ctx, "admin"), ps, "token:dave.king", "asked by alice.smith's manager"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
}
