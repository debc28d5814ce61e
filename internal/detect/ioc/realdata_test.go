package ioc

import (
	"bufio"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// TestSysmonHashesRealData runs a hash list over every Sysmon event of the
// shared windows-evtx corpus (Hashes in all the layouts Sysmon writes) and
// checks the hits against an independent substring count.
func TestSysmonHashesRealData(t *testing.T) {
	root := testutil.SharedData(t, "windows-evtx/jsonl")
	// PsExec64.exe 2.2 as seen in EVTX-to-MITRE-Attack; MD5 of another binary for the md5 path.
	const psexec = "ad6b98c01ee849874e4b4502c3d7853196f6044240d3271e4ab3fc6e3c08e9a4"
	const md5 = "c729dea1888b1b047f51844ba5bd875f"
	list := filepath.Join(t.TempDir(), "hashes.txt")
	if err := os.WriteFile(list, []byte(psexec+"\n"+md5+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := mustNew(t, ListConfig{Path: list})
	wantHits, gotHits, withHashes := 0, 0, 0
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() || !strings.HasSuffix(p, ".jsonl") {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		line := 0
		for sc.Scan() {
			line++
			raw := sc.Bytes()
			if !strings.Contains(string(raw), `"Hashes"`) {
				continue
			}
			var rec struct {
				Computer  string
				EventData map[string]any
			}
			if err := json.Unmarshal(raw, &rec); err != nil {
				t.Fatalf("%s:%d: %v", p, line, err)
			}
			h, _ := rec.EventData["Hashes"].(string)
			if h == "" {
				continue
			}
			withHashes++
			lh := strings.ToLower(h)
			if strings.Contains(lh, "sha256="+psexec) {
				wantHits++
			}
			if strings.Contains(lh, "md5="+md5) {
				wantHits++
			}
			e := event.New()
			e.ID = p + ":" + strconv.Itoa(line)
			e.Set("host.name", rec.Computer)
			e.Set("winlog.event_data.Hashes", h)
			gotHits += len(run(t, d, e))
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events with Hashes, %d hits", withHashes, gotHits)
	if withHashes < 1000 || wantHits == 0 {
		t.Fatalf("corpus smaller than expected: %d events with hashes, %d expected hits", withHashes, wantHits)
	}
	if gotHits != wantHits {
		t.Errorf("got %d hits, want %d", gotHits, wantHits)
	}
}
