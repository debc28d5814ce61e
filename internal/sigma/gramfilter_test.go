package sigma

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

var mimikatzLits = []string{"dpapi::masterkey", "eo.oe.kiwi", "event::clear", "event::drop", "gentilkiwi.com",
	"kerberos::golden", "kerberos::ptt", "kiwi legit printer", "lsadump::", "mimidrv.sys", `\mimilib.dll`,
	"misc::skeleton", "privilege::debug", "sekurlsa::"}

const sampleRecord = `{"System":{"Provider":{"Name":"Microsoft-Windows-Sysmon","Guid":"{5770385F-C22A-43E0-BF4C-06F5698FFBD9}"},` +
	`"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"WIN-10.example.local"},` +
	`"EventData":{"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd.exe /c whoami","User":"NT AUTHORITY\\SYSTEM"}}`

func TestGramFilter(t *testing.T) {
	g := newGramFilter(mimikatzLits)
	if g == nil || g.stride < 2 {
		t.Fatalf("filter %v: want a stride of at least 2", g)
	}
	tests := []struct {
		name string
		text string
		want bool
	}{
		{"plain record", sampleRecord, false},
		{"empty", "", false},
		{"shorter than a gram", "ls", false},
		{"literal alone", "sekurlsa::", true},
		{"literal upper case", "SEKURLSA::LogonPasswords", true},
		{"literal at the end", sampleRecord + "privilege::debug", true},
		{"literal at the start", "kerberos::ptt ticket.kirbi" + sampleRecord, true},
		{"literal in the middle", strings.Replace(sampleRecord, "whoami", "mimikatz lsadump::sam", 1), true},
		{"backslash literal", `C:\Temp\MIMILIB.DLL`, true},
		{"near miss", "kerberos:ptt lsadump: sekurlsa", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := g.mayContain(tc.text); got != tc.want {
				t.Errorf("mayContain(%q) = %v, want %v", tc.text, got, tc.want)
			}
		})
	}
}

func TestGramFilterShortLiterals(t *testing.T) {
	// A four-byte literal leaves nothing to skip: no filter.
	if g := newGramFilter([]string{"kali", "mimikatz"}); g != nil {
		t.Errorf("filter with a four-byte literal: got stride %d, want none", g.stride)
	}
	if g := newGramFilter(nil); g != nil {
		t.Error("filter of no literals: want none")
	}
}

// TestGramFilterEveryOffset puts each literal at every offset of a record:
// sampling must never miss it.
func TestGramFilterEveryOffset(t *testing.T) {
	g := newGramFilter(mimikatzLits)
	base := sampleRecord[:64]
	for _, lit := range mimikatzLits {
		for off := 0; off <= len(base); off++ {
			s := base[:off] + strings.ToUpper(lit) + base[off:]
			if !g.mayContain(s) {
				t.Fatalf("%q at offset %d missed", lit, off)
			}
		}
	}
}

// FuzzGramFilter checks the filter's one promise: no false negatives.
func FuzzGramFilter(f *testing.F) {
	f.Add(sampleRecord, 10)
	f.Add("SEKURLSA::", 0)
	f.Add("x", 100)
	g := newGramFilter(mimikatzLits)
	f.Fuzz(func(t *testing.T, s string, at int) {
		if !isASCII(s) {
			s = strings.ToLower(s) // what the keyword item passes for non-ASCII text
		}
		if at < 0 {
			at = -at
		}
		at %= len(s) + 1
		lit := mimikatzLits[at%len(mimikatzLits)]
		with := s[:at] + lit + s[at:]
		if !g.mayContain(with) {
			t.Fatalf("%q: literal %q missed", with, lit)
		}
		if strings.Contains(strings.ToLower(s), lit) && !g.mayContain(s) {
			t.Fatalf("%q holds a literal but was rejected", s)
		}
	})
}

// BenchmarkKeywordFilter compares the sampled filter with the keyword
// automaton over a Windows record without a keyword literal.
func BenchmarkKeywordFilter(b *testing.B) {
	rec := strings.Repeat(sampleRecord, 2)
	b.Run("gramFilter", func(b *testing.B) {
		g := newGramFilter(mimikatzLits)
		b.SetBytes(int64(len(rec)))
		for b.Loop() {
			if g.mayContain(rec) {
				b.Fatal("false positive")
			}
		}
	})
	b.Run("automaton", func(b *testing.B) {
		m := buildAC(mimikatzLits, 0)
		rs := &ruleSet{natoms: len(mimikatzLits), needOff: make([]uint32, len(mimikatzLits)+1)}
		c := newEvalCtx(rs)
		b.SetBytes(int64(len(rec)))
		for b.Loop() {
			c.reset(nil)
			m.scan(c, rec)
		}
	})
}

// TestLowersToASCII: the runes outside ASCII whose lower case is ASCII are
// exactly the two lowersToASCII looks for.
func TestLowersToASCII(t *testing.T) {
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		s := string(r)
		low := strings.ToLower(s)
		toASCII := false
		for i := 0; i < len(low); i++ {
			toASCII = toASCII || low[i] < utf8.RuneSelf
		}
		if toASCII != lowersToASCII(s) {
			t.Errorf("U+%04X lowers to %q: lowersToASCII = %v", r, low, lowersToASCII(s))
		}
	}
}

// TestKeywordRejectsNonASCII: a record with non-ASCII text is judged on its
// lower-cased form where it matters.
func TestKeywordRejectsNonASCII(t *testing.T) {
	it := &item{slot: keywordSlot, exists: -1}
	it.vals = []*valueMatcher{{op: opContains, pat: "sekurlsa::"}, {op: opContains, pat: "kerberos::ptt"}}
	it.kw = keywordFilter(it)
	if it.kw == nil || !it.kw.ascii {
		t.Fatal("want an ASCII filter")
	}
	c := newEvalCtx(newRuleSet())
	tests := []struct {
		raw    string
		reject bool
	}{
		{`{"User":"Müller","CommandLine":"sekurlsa::logonpasswords"}`, false},
		{`{"User":"Müller","CommandLine":"whoami"}`, true},
		{"{\"x\":\"\u212aERBEROS::PTT\"}", false}, // Kelvin sign lowers to k
		{"{\"x\":\"\u212aERBEROS::PT\"}", true},
	}
	for _, tc := range tests {
		f := &fval{present: true, raw: tc.raw}
		c.gen++
		if got := it.keywordRejects(c, f); got != tc.reject {
			t.Errorf("keywordRejects(%q) = %v, want %v", tc.raw, got, tc.reject)
		}
	}
}
