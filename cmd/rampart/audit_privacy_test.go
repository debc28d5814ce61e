package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/app"
	"github.com/rampart-ids/rampart/internal/config"
)

// TestPseudonymizedExportKeepsRoles: a token's name is personal, its role
// is not. The first-start token is named "admin" like its role, and a
// pseudonymized export once replaced the role word too ("with role u_…").
func TestPseudonymizedExportKeepsRoles(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	for _, tc := range []struct{ name, role string }{{"admin", "admin"}, {"alice.smith", "viewer"}, {"viewer", "analyst"}} {
		if _, err := app.CreateToken(context.Background(), cfg, tc.name, tc.role); err != nil {
			t.Fatal(err)
		}
	}
	export := filepath.Join(t.TempDir(), "audit.jsonl")
	if out, code := runAudit(t, "export", "--data-dir", cfg.DataDir, "-o", export); code != 0 {
		t.Fatalf("export: code %d\n%s", code, out)
	}
	data, err := os.ReadFile(export)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`" with role admin"`, `" with role viewer"`, `" with role analyst"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("export lacks %s:\n%s", want, data)
		}
	}
	for _, raw := range []string{`token \"admin\"`, "alice.smith", `token \"viewer\"`} {
		if strings.Contains(string(data), raw) {
			t.Errorf("export holds the token name %s in clear", raw)
		}
	}
}
