package sigma

import (
	"regexp"
	"strings"
	"testing"
)

func TestRegexClassRun(t *testing.T) {
	tests := []struct {
		re   string
		want int // 0: no run
	}{
		{`\s[a-fA-F0-9]{64}\s[a-fA-F0-9]{16}`, 64},
		{`^[A-Za-z0-9]{16}$`, 16},
		{`(?i)[a-z0-9]{12,}\.exe`, 12},
		{`([0-9]{10})`, 10},
		{`x{9}`, 9},
		{`.{20}`, 20},
		{`[a-z]{4}`, 0},              // too short to pay for a pass
		{`(?i)k{9}`, 0},              // folded literal: left to the regex
		{`(?s).{20}`, 0},             // any byte at all
		{`a|[0-9]{32}`, 0},           // not mandatory
		{`(?:[0-9]{32})?x`, 0},       // optional
		{`[0-9]{8}|[a-f]{8}`, 0},     // alternation
		{`\\[a-zA-Z0-9]{1,32}\.`, 0}, // minimum 1
		{`[^\x00-\x7f]{10}`, 10},     // non-ASCII class: every high byte
		{`[a-f0-9]{8}-[a-f0-9]{40}`, 40},
	}
	for _, tc := range tests {
		t.Run(tc.re, func(t *testing.T) {
			r := regexClassRun(tc.re)
			got := 0
			if r != nil {
				got = r.n
			}
			if got != tc.want {
				t.Errorf("run of %q = %d, want %d", tc.re, got, tc.want)
			}
		})
	}
}

func TestClassRunOK(t *testing.T) {
	r := regexClassRun(`\s[a-fA-F0-9]{64}\s`)
	hex := strings.Repeat("0123456789abcdefABCDEF", 3)[:64]
	tests := []struct {
		text string
		want bool
	}{
		{"jpsetup.exe " + hex + " 0011223344556677", true},
		{"jpsetup.exe " + hex[:63] + " 0011223344556677", false},
		{hex, true},
		{"", false},
		{"C:\\Windows\\System32\\cmd.exe /c whoami", false},
	}
	for _, tc := range tests {
		if got := r.ok(tc.text); got != tc.want {
			t.Errorf("ok(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

// FuzzClassRun checks the run's one promise: a text the regex matches is
// never rejected.
func FuzzClassRun(f *testing.F) {
	res := []string{`\s[a-fA-F0-9]{64}\s[a-fA-F0-9]{16}`, `^[A-Za-z0-9]{16}$`, `(?i)[a-z0-9]{12,}\.exe`,
		`.{10}x`, `[^\x00-\x7f]{10}`, `(?i)[k-s]{9}`, `\p{Greek}{8}`}
	var compiled []*regexp.Regexp
	var runs []*classRun
	for _, s := range res {
		compiled = append(compiled, regexp.MustCompile(s))
		runs = append(runs, regexClassRun(s))
	}
	f.Add("abcdefABCDEF0123456789abcdef", uint8(0))
	f.Add("KKKKKKKKKKSSSS\u212a\u212a\u017f", uint8(5))
	f.Add("αβγδεζηθικλ", uint8(6))
	f.Add("\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6", uint8(4))
	f.Fuzz(func(t *testing.T, s string, k uint8) {
		i := int(k) % len(res)
		if runs[i] == nil {
			t.Fatalf("%q: no run derived", res[i])
		}
		if compiled[i].MatchString(s) && !runs[i].ok(s) {
			t.Fatalf("%q matches %q but the run check rejects it", res[i], s)
		}
	})
}

// BenchmarkClassRun compares the run check with the regex on a command
// line without a hash (the common case for the SNAKE rule).
func BenchmarkClassRun(b *testing.B) {
	src := `\s[a-fA-F0-9]{64}\s[a-fA-F0-9]{16}`
	text := `"C:\Program Files\Google\Chrome\Application\chrome.exe" --type=renderer --field-trial-handle=1740,1233,131072 --lang=en-US --disable-client-side-phishing-detection`
	b.Run("run", func(b *testing.B) {
		r := regexClassRun(src)
		for b.Loop() {
			if r.ok(text) {
				b.Fatal("run found")
			}
		}
	})
	b.Run("regexp", func(b *testing.B) {
		re := regexp.MustCompile(src)
		for b.Loop() {
			if re.MatchString(text) {
				b.Fatal("match")
			}
		}
	})
}

// TestRegexWholeRun checks the ^x{n}$ shortcut against the regex engine,
// and that forms it does not decide exactly are left to the regex.
func TestRegexWholeRun(t *testing.T) {
	decided := []string{`^[A-Za-z0-9]{16}$`, `(?i)^[a-f0-9]{4}$`, `(?s)^[0-9]{2}$`}
	for _, src := range []string{`^[a-z]{2,3}$`, `(?m)^[a-z]{3}$`, `^[a-zé]{3}$`, `^[a-z]{3}`, `[a-z]{3}$`, `^x{3}$`, `^[a-z]{3}x$`,
		`^[^a-z]{3}$`, `(?i)^[a-z]{2}$`} { // the last two: non-ASCII members (the Kelvin sign folds to k)
		if regexWholeRun(src) != nil {
			t.Errorf("%q: decided by the class run, want the regex", src)
		}
	}
	inputs := []string{"", "abc", "ABC", "aBc1", "abcd", "0123456789abcdef", "0123456789ABCDEF", "0123456789abcde!",
		"0123456789abcdef0", "12", "1\n", "é12", "12\n", "ab\xff", "A\u212a", "zz9", "1234", "!!!", "AF09"}
	for _, src := range decided {
		r := regexWholeRun(src)
		if r == nil {
			t.Errorf("%q: not decided by a class run", src)
			continue
		}
		re := regexp.MustCompile(src)
		for _, in := range inputs {
			if got, want := r.whole(in), re.MatchString(in); got != want {
				t.Errorf("%q on %q: class run %v, regex %v", src, in, got, want)
			}
		}
	}
}
