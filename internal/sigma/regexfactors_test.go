package sigma

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRegexFactors(t *testing.T) {
	for _, tc := range []struct {
		re   string
		want [][]string
		hits []string // texts the regex matches: each must satisfy every factor
	}{
		{`abc.*def`, [][]string{{"abc"}, {"def"}}, []string{"xxabcyydef"}},
		{`(Get-Item|gci|Get-ChildItem).{1,64}-Path.{1,64}\\(currentcontrolset\\services|CurrentVersion\\Run)\\`,
			[][]string{{"-path"}, {`\`}, {`currentcontrolset\services`, `currentversion\run`}, {"gci", "get-childitem", "get-item"}},
			[]string{`gci -Path HKLM:\System\currentcontrolset\services\x`, `Get-ChildItem -Path x\CurrentVersion\Run\`}},
		{`(?i)kerberos`, [][]string{{"erbero"}}, []string{"KERBEROS", "\u212aerberos"}},
		{`(?i)ſ?tart`, [][]string{{"tart"}}, []string{"START"}},
		{`(a|bc)x`, [][]string{{"x"}}, []string{"ax"}}, // a one-byte branch gives no factor
		{`a?b*`, nil, []string{""}},
		{`\w+` + "`" + `(\w+|-|.)`, [][]string{{"`"}}, []string{"a`b"}},
	} {
		got := regexFactors(tc.re)
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s: factors (-want +got):\n%s", tc.re, d)
		}
		re := regexp.MustCompile(tc.re)
		for _, h := range tc.hits {
			if !re.MatchString(h) {
				t.Fatalf("%s does not match %q", tc.re, h)
			}
			for _, f := range got {
				if !containsAny(strings.ToLower(h), f) {
					t.Errorf("%s matches %q but factor %q is missing", tc.re, h, f)
				}
			}
		}
	}
}

// FuzzMatchOnlyRegexp: the search-only rewrite matches exactly the texts
// the original matches.
func FuzzMatchOnlyRegexp(f *testing.F) {
	for _, s := range [][2]string{
		{"\\w+`(\\w+|-|.)`[\\w+|\\s]", "IN`V`o`Ke-eXp`ResSIOn"},
		{"(?i)a+b*", "xAAb"},
		{"^a+b+$", "aab"},
		{"(?m)^x+\\s*$", "y\nxx  \nz"},
		{"(?s).*secret.*", "a\nsecret\n"},
		{"\\d+\\b", "abc123 x"},
		{"a?", ""},
		{"\\w`x+\\b", "\xe2`xx é`x"},
		{"[é]-(?m)^a", "é-\na"},
		{".ab(?i)c", "\xf0\x9f`abC"},
		{"(?i)\\$\\{`?e`?n`?v`?:`?p`?a`?t`?h`?\\}", "${E`Nv:pATh}"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pat, text string) {
		if len(pat) > 256 || len(text) > 1024 {
			return
		}
		re, err := regexp.Compile(pat)
		if err != nil {
			return
		}
		fast, lead := matchOnlyRegexp(re, pat)
		want := re.MatchString(text)
		if got := fast.MatchString(text); got != want {
			t.Fatalf("%q (rewritten %q) on %q: %v, original %v", pat, fast.String(), text, got, want)
		}
		if lead != nil {
			if got := lead.match(text); got != want {
				t.Fatalf("%q (lead %q + %q) on %q: %v, original %v", pat, lead.lit, lead.rest.String(), text, got, want)
			}
		}
	})
}
