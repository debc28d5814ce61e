package sigma

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/event"
)

// FuzzCompile feeds arbitrary rule files to the loader and compiler, then
// runs the compiled rules over a fixed event: nothing may panic, and every
// document is either loaded or reported.
func FuzzCompile(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/compile/*.yml")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	bundled, _ := filepath.Glob("../../rules/sigma/*.yml")
	for _, s := range bundled {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	ev := event.New()
	ev.ID = "e"
	for k, v := range map[string]any{"event.module": "windows", "winlog.channel": "Security", "winlog.event_id": int64(4688),
		"winlog.event_data.NewProcessName": `C:\Windows\System32\cmd.exe`, "winlog.event_data.CommandLine": "cmd /c whoami", "message": "x"} {
		ev.Set(k, v)
	}
	ev.Raw = []byte(`{"a":1}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		docs, errs := ParseDocs("fuzz.yml", data)
		var rep Report
		for _, e := range errs {
			rep.Failed++
			rep.Failures = append(rep.Failures, Failure{Path: "fuzz.yml", Error: e.Error()})
		}
		rs, rep := buildDocs(docs, Options{Placeholders: map[string][]string{"p": {"x"}}}, false, rep)
		if rep.Loaded+rep.Failed < len(docs) {
			t.Fatalf("loaded %d + failed %d < %d documents", rep.Loaded, rep.Failed, len(docs))
		}
		for _, fl := range rep.Failures {
			if !strings.HasPrefix(fl.Error, "fuzz.yml") {
				t.Fatalf("failure without position: %q", fl.Error)
			}
		}
		rs.run(ev, func(c *evalCtx, r *crule) { _ = newSignal(rs, c, r, ev) })
	})
}

// FuzzCondition parses arbitrary condition strings.
func FuzzCondition(f *testing.F) {
	b, err := os.ReadFile("testdata/conditions.txt")
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			f.Add(l)
		}
	}
	names := []string{"sel", "sel_a", "sel_b", "filter", "_x", "keywords"}
	sels := map[string]node{}
	for _, n := range names {
		sels[n] = &selection{}
	}
	f.Fuzz(func(t *testing.T, s string) {
		cn, err := parseCondition(s)
		if err != nil {
			return
		}
		_, _ = bindCondition(cn, sels, names)
	})
}

// FuzzLower checks the evaluation context's lower-casing against strings.ToLower.
func FuzzLower(f *testing.F) {
	for _, s := range []string{"", "ABC", "0123456789abcdef\xff", "01234567\x80", "Microsoft® Windows®", "İSTANBUL", "\xff\xfeA", "ÀÉÎ Straße KELVIN\u212a", "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[`az{\x00\x7f", "C:\\Windows\\System32\\CMD.EXE /C", "abcdefgh\xc4\xb0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := &evalCtx{arena: make([]byte, 0, 4)}
		if got, want := c.lower(s), strings.ToLower(s); got != want {
			t.Fatalf("lower(%q) = %q, want %q", s, got, want)
		}
		ascii := true
		for i := 0; i < len(s); i++ {
			ascii = ascii && s[i] < 0x80
		}
		if isASCII(s) != ascii {
			t.Fatalf("isASCII(%q) = %v", s, !ascii)
		}
	})
}

// FuzzAtoms checks the Aho-Corasick atom flags against the plain string
// functions: pats is a "|"-separated pattern list, text the scanned value.
func FuzzAtoms(f *testing.F) {
	f.Add("abc|bc|c|xabcx|ab", "xABCx")
	f.Add("\\cmd.exe|cmd|.exe| /c ", "C:\\Windows\\System32\\CMD.EXE /C whoami")
	f.Add("a|aa|aaa", "aaaa")
	f.Add("é|straße", "STRAßE é")
	// Every pattern three bytes or longer: the gram-table scan.
	f.Add("abc|bcd|cde|abcde|xabcx", "xABCDEx abcde")
	f.Add("\\windows\\system32\\|cmd.exe|/c whoami|whoami", "C:\\Windows\\System32\\cmd.exe /c whoami")
	f.Add("straße|ßen|éèà", "STRAßEN éèà")
	// Long walks from many positions: the linear-time DFA fallback.
	f.Add("aaaa|aaaaaaaaaaaaaaaaaaaa|aaab", strings.Repeat("a", 300)+"b")
	f.Fuzz(func(t *testing.T, pats, text string) {
		if len(pats) > 4096 || len(text) > 4096 {
			return
		}
		var lits []string
		seen := map[string]bool{}
		for _, p := range strings.Split(strings.ToLower(pats), "|") {
			if p != "" && !seen[p] {
				seen[p] = true
				lits = append(lits, p)
			}
		}
		if len(lits) == 0 {
			return
		}
		// Dense rows for every state, and for the root alone (every other
		// state deep: trie edges and failure links).
		for _, dense := range []int{acDenseCells, 1} {
			m := buildACDense(lits, 0, dense)
			if m == nil {
				t.Fatal("automaton refused")
			}
			rs := &ruleSet{needOff: make([]uint32, len(lits)+1)}
			c := &evalCtx{rs: rs, gen: 1, atomHit: make([]uint64, (len(lits)+63)/64), atomFl: make([]uint8, len(lits)), arena: make([]byte, 0, 16)}
			low := c.lower(text)
			if isASCII(text) {
				m.scan(c, text)
			} else {
				m.scan(c, low)
			}
			for i, p := range lits {
				want := map[uint8]bool{hitAny: strings.Contains(low, p), hitStart: strings.HasPrefix(low, p), hitEnd: strings.HasSuffix(low, p), hitWhole: low == p}
				for fl, w := range want {
					if got := c.has(int32(i), fl); got != w {
						t.Fatalf("dense budget %d: pattern %q in %q flag %d: got %v want %v", dense, p, low, fl, got, w)
					}
				}
			}
		}
	})
}
