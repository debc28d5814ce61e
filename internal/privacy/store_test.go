package privacy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/event"
)

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "privacy-keys.json")
	ks, err := OpenKeyFile(path, t0)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o, want 0600", fi.Mode().Perm())
	}
	p1, _ := New(Config{}, ks)
	want := p1.Value(KindUser, "alice")
	// Reopened: the same keys, so the same pseudonyms.
	ks2, err := OpenKeyFile(path, t0)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := New(Config{}, ks2)
	if got := p2.Value(KindUser, "alice"); got != want {
		t.Errorf("after reopen %q, want %q", got, want)
	}
	// A rotation persists.
	if _, err := ks2.Rotate(t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	ks3, err := OpenKeyFile(path, t0)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := ks3.Current(); e.N != 2 {
		t.Errorf("after rotation and reopen epoch %d, want 2", e.N)
	}
	if _, err := ks3.Epoch(3); !errors.Is(err, ErrUnknownEpoch) {
		t.Errorf("Epoch(3) = %v, want ErrUnknownEpoch", err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("rotated key file mode %04o, want 0600", fi.Mode().Perm())
	}

	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		wantErr string
	}{
		{name: "group readable", content: "{}", mode: 0o640, wantErr: "chmod 600"},
		{name: "not json", content: "not json", mode: 0o600, wantErr: "parsing key file"},
		{name: "no epochs", content: `{"version":1,"mapping_key":"` + strings.Repeat("A", 43) + `="}`, mode: 0o600, wantErr: "no key epochs"},
		{name: "bad version", content: `{"version":2}`, mode: 0o600, wantErr: "unsupported key file version"},
		{name: "short mapping key", content: `{"version":1,"mapping_key":"AAAA"}`, mode: 0o600, wantErr: "mapping key must be 32 bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			_, err := OpenKeyFile(p, t0)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("OpenKeyFile = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestKeyStoreFromJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.json")
	if _, err := OpenKeyFile(path, t0); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	ks, err := KeyStoreFromJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := ks.Current(); e.N != 1 || len(e.Secret) != 32 {
		t.Errorf("epoch %+v", e)
	}
	if _, err := KeyStoreFromJSON([]byte(`{"version":1}`)); err == nil {
		t.Error("incomplete keys accepted")
	}
}

func TestFileMappings(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mappings.jsonl")
	fm, err := OpenFileMappings(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(Config{Deps: Deps{Mappings: fm, Audit: func(context.Context, AuditEntry) error { return nil }}}, NewMemoryKeyStore(t0))
	if err != nil {
		t.Fatal(err)
	}
	ps := p.Value(KindUser, "alice")
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	later := Mapping{Epoch: 1, Pseudonym: ps, Kind: KindUser, Sealed: []byte("ignored"), LastSeen: t0.Add(48 * time.Hour)}
	if err := fm.Put(ctx, []Mapping{later}); err != nil {
		t.Fatal(err)
	}
	if err := fm.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mapping file mode %04o, want 0600", fi.Mode().Perm())
	}
	fm2, err := OpenFileMappings(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := fm2.Get(ctx, 1, ps)
	if err != nil {
		t.Fatal(err)
	}
	if !m.LastSeen.Equal(later.LastSeen) || string(m.Sealed) == "ignored" {
		t.Errorf("upsert rule broken after replay: %+v", m)
	}
	p.deps.Mappings = fm2
	if got, err := p.Reidentify(WithRole(ctx, "admin"), ps, "tok"); err != nil || got != "alice" {
		t.Errorf("Reidentify after reopen = %q, %v", got, err)
	}
	n := 0
	_ = fm2.SeenSince(ctx, 1, t0.Add(24*time.Hour), func(Mapping) error { n++; return nil })
	if n != 1 {
		t.Errorf("SeenSince found %d, want 1", n)
	}
	fm2.Close()

	// A crash mid-append leaves a partial last line: skipped. A bad line
	// in the middle is an error naming it.
	data, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(append([]byte(nil), data...), `{"Epoch":1,"Pseu`...), 0o600); err != nil {
		t.Fatal(err)
	}
	if fm3, err := OpenFileMappings(path, nil); err != nil {
		t.Errorf("partial last line: %v", err)
	} else {
		fm3.Close()
	}
	if err := os.WriteFile(path, append([]byte("{\"Epoch\":1}\n"), data...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFileMappings(path, nil); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad line: %v, want an error naming line 1", err)
	}
}

func TestMappingsPurgeBefore(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.jsonl")
	fm, err := OpenFileMappings(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fm.Close()
	old := Mapping{Epoch: 1, Pseudonym: "u_old", Kind: KindUser, Sealed: []byte("SEALED-OLD"), LastSeen: t0.Add(-400 * 24 * time.Hour)}
	recent := Mapping{Epoch: 1, Pseudonym: "u_new", Kind: KindUser, Sealed: []byte("SEALED-NEW"), LastSeen: t0}
	if err := fm.Put(ctx, []Mapping{old, recent}); err != nil {
		t.Fatal(err)
	}
	n, err := fm.PurgeBefore(ctx, t0.Add(-365*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("PurgeBefore = %d, %v; want 1", n, err)
	}
	if _, err := fm.Get(ctx, 1, "u_old"); !errors.Is(err, ErrNotFound) {
		t.Errorf("purged entry still readable: %v", err)
	}
	// Appends after the rewrite land in the new file.
	if err := fm.Put(ctx, []Mapping{{Epoch: 1, Pseudonym: "u_later", Kind: KindUser, Sealed: []byte("x"), LastSeen: t0}}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), "u_old") || !strings.Contains(string(data), "u_later") || !strings.Contains(string(data), "u_new") {
		t.Errorf("file after purge:\n%s", data)
	}
}

// TestConcurrentRotate pseudonymizes from several goroutines while the
// keys rotate (run with -race); afterwards every pseudonym handed out is
// re-identifiable.
func TestConcurrentRotate(t *testing.T) {
	p, _, _, _ := newTestPseudonymizer(t, Config{})
	ctx := WithRole(context.Background(), "admin")
	var wg sync.WaitGroup
	results := make([][]string, 4)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				ev := event.New()
				ev.Set("user.name", fmt.Sprintf("user%d-%d", g, i))
				results[g] = append(results[g], p.Event(ev).Fields["user.name"].(string))
			}
		}()
	}
	for range 3 {
		if _, err := p.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for g, ps := range results {
		for i, s := range ps {
			want := fmt.Sprintf("user%d-%d", g, i)
			got, err := p.Reidentify(ctx, s, "tok")
			if err != nil || got != want {
				t.Fatalf("Reidentify(%s) = %q, %v; want %q", s, got, err, want)
			}
		}
	}
}

// TestSharedMappingsDoNotCompact: a second process opening a node's
// mapping file must not replace it (the node appends through its open
// descriptor); the node's own open compacts.
func TestSharedMappingsDoNotCompact(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.json")
	fm, err := OpenFileMappings(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := Mapping{Epoch: 1, Pseudonym: "u_00000000000000000001", Kind: KindUser, Sealed: []byte("x"), FirstSeen: t0}
	for i := range 1500 { // one entity touched 1500 times: 1500 lines
		m.LastSeen = t0.Add(time.Duration(i) * time.Minute)
		if err := fm.Put(ctx, []Mapping{m}); err != nil {
			t.Fatal(err)
		}
	}
	fm.Close()
	before, _ := os.Stat(path)
	shared, err := OpenFileMappingsShared(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	shared.Close()
	if after, _ := os.Stat(path); !os.SameFile(before, after) || after.Size() != before.Size() {
		t.Fatalf("shared open replaced or rewrote the file (%d → %d bytes)", before.Size(), after.Size())
	}
	own, err := OpenFileMappings(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	if after, _ := os.Stat(path); after.Size() >= before.Size()/100 {
		t.Errorf("the node's open did not compact: %d → %d bytes", before.Size(), after.Size())
	}
	if got, err := own.Get(ctx, 1, m.Pseudonym); err != nil || !got.LastSeen.Equal(m.LastSeen) {
		t.Errorf("after compaction: %+v, %v", got, err)
	}
}
