package threshold

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/format/formattest"
	"github.com/rampart-ids/rampart/internal/signal"
	"github.com/rampart-ids/rampart/internal/testutil"
)

// TestWindowsEVTXCorpus replays every file of the windows-evtx JSONL corpus
// (real attack captures, one detector per file) through the bundled rules
// and checks that the credential-access samples raise the Windows rules.
func TestWindowsEVTXCorpus(t *testing.T) {
	root := testutil.SharedData(t, "windows-evtx/jsonl")
	if _, ok := format.Lookup("windows"); !ok {
		t.Skip("windows format not registered in this build")
	}
	rules, err := LoadRules(bundledRules())
	if err != nil {
		t.Fatal(err)
	}
	fired := map[string]map[string]int{} // file → rule → signals
	total, events := 0, 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".jsonl") {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		det := NewFromRules(rules, Options{})
		rel, _ := filepath.Rel(root, p)
		evs, _ := formattest.Events(t, f, "file:"+rel, format.DecoderOptions{Format: "windows"})
		for _, ev := range evs {
			events++
			_ = det.Detect(context.Background(), ev, func(s signal.Signal) {
				if fired[rel] == nil {
					fired[rel] = map[string]int{}
				}
				fired[rel][s.RuleID]++
				total++
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"DeepBlueCLI/password-spray.jsonl":                 "windows-explicit-credential-spray",
		"DeepBlueCLI/smb-password-guessing-security.jsonl": "windows-failed-logons",
		"EVTX-to-MITRE-Attack/TA0006-Credential Access/T1110.xxx-Brut force/ID4771-Kerberos brutforce with valid user.jsonl":        "windows-kerberos-preauth-failures",
		"EVTX-to-MITRE-Attack/TA0006-Credential Access/T1110.xxx-Brut force/ID4768-4771-Kerberos user enumeration (Kerbrute).jsonl": "windows-kerberos-preauth-failures",
		"EVTX-to-MITRE-Attack/TA0006-Credential Access/T1110.xxx-Brut force/ID 4776,4625-AccountRestore local bruteforce.jsonl":     "windows-failed-logons-account",
	}
	for file, rule := range want {
		if fired[file][rule] == 0 {
			t.Errorf("%s: no %s signal (got %v)", file, rule, fired[file])
		}
	}
	var files []string
	for f := range fired {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		t.Logf("%s: %v", f, fired[f])
	}
	t.Logf("%d events, %d signals in %d of the files", events, total, len(files))
}
