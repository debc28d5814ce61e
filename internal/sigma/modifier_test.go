package sigma

import (
	"strings"
	"testing"
)

type modCase struct {
	name string
	det  string // detection body (indented two spaces)
	ev   []any
	want bool
}

// runModCases compiles each case's rule and checks whether ev matches.
func runModCases(t *testing.T, cases []modCase, opts Options) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := opts
			opts.Paths = []string{writeRule(t, testRule(tc.det))}
			rs, rep := build(opts, true)
			if rep.Failed > 0 {
				t.Fatalf("load failed: %v", rep.Failures)
			}
			got := len(matchIDs(rs, mkEvent(tc.ev...))) == 1
			if got != tc.want {
				t.Errorf("match = %v, want %v", got, tc.want)
			}
		})
	}
}

func sel(item string) string { return "  sel:\n    " + item + "\n  condition: sel\n" }

func TestPlainValues(t *testing.T) {
	runModCases(t, []modCase{
		{"equal case-insensitive", sel("F: 'Foo.EXE'"), []any{"F", "foo.exe"}, true},
		{"equal no substring", sel("F: 'foo'"), []any{"F", "foobar"}, false},
		{"star wildcard", sel("F: 'a*c'"), []any{"F", "aXYZc"}, true},
		{"star wildcard miss", sel("F: 'a*c'"), []any{"F", "aXYZ"}, false},
		{"question wildcard", sel("F: 'a?c'"), []any{"F", "abc"}, true},
		{"question wildcard one char", sel("F: 'a?c'"), []any{"F", "abbc"}, false},
		{"question unicode char", sel("F: 'a?c'"), []any{"F", "aéc"}, true},
		{"escaped star literal", sel(`F: 'a\*c'`), []any{"F", "a*c"}, true},
		{"escaped star not wildcard", sel(`F: 'a\*c'`), []any{"F", "abc"}, false},
		{"escaped backslash then wildcard", sel(`F: 'a\\*'`), []any{"F", `a\xyz`}, true},
		{"lone backslash literal", sel(`F: 'C:\Windows\cmd.exe'`), []any{"F", `c:\windows\CMD.exe`}, true},
		{"list is OR", sel("F: [a, b]"), []any{"F", "b"}, true},
		{"number vs int64", sel("EventID: 4688"), []any{"EventID", int64(4688)}, true},
		{"number vs int64 miss", sel("EventID: 4688"), []any{"EventID", int64(4689)}, false},
		{"number vs string", sel("EventID: 4688"), []any{"EventID", "4688"}, true},
		{"bool", sel("F: true"), []any{"F", true}, true},
		{"null matches absent", sel("F: null"), []any{"G", "x"}, true},
		{"null fails present", sel("F: null"), []any{"F", "x"}, false},
		{"empty string matches absent", sel("F: ''"), []any{"G", "x"}, true},
		{"empty string fails present", sel("F: ''"), []any{"F", "x"}, false},
		{"list field any element", sel("F: b"), []any{"F", []string{"a", "B"}}, true},
		{"list field no element", sel("F: c"), []any{"F", []string{"a", "b"}}, false},
		{"star alone matches present", sel("F: '*'"), []any{"F", "x"}, true},
		{"non-ascii lowering", sel("F: 'ÄBC'"), []any{"F", "äbc"}, true},
	}, Options{})
}

func TestModifierContainsStartsEnds(t *testing.T) {
	runModCases(t, []modCase{
		{"contains", sel("F|contains: 'FOO'"), []any{"F", "xfoox"}, true},
		{"contains miss", sel("F|contains: 'foo'"), []any{"F", "fo"}, false},
		{"contains with inner wildcard", sel("F|contains: 'a*b'"), []any{"F", "xxaQQbyy"}, true},
		{"startswith", sel("F|startswith: 'adm_'"), []any{"F", "ADM_bob"}, true},
		{"startswith miss", sel("F|startswith: 'adm_'"), []any{"F", "x_adm_"}, false},
		{"endswith", sel(`F|endswith: '\cmd.exe'`), []any{"F", `C:\Windows\System32\CMD.EXE`}, true},
		{"endswith miss", sel(`F|endswith: '\cmd.exe'`), []any{"F", `C:\cmd.exe.bak`}, false},
		{"absent field no contains", sel("F|contains: 'a'"), []any{"G", "a"}, false},
	}, Options{})
}

func TestModifierAll(t *testing.T) {
	runModCases(t, []modCase{
		{"all present", sel("F|contains|all: [' -a', ' -b']"), []any{"F", "x -b -a"}, true},
		{"all one missing", sel("F|contains|all: [' -a', ' -b']"), []any{"F", "x -a"}, false},
		{"all over list field", sel("F|all: [a, b]"), []any{"F", []string{"a", "b"}}, true},
	}, Options{})
}

func TestModifierRe(t *testing.T) {
	runModCases(t, []modCase{
		{"re", sel("F|re: '^foo.*bar$'"), []any{"F", "foobazbar"}, true},
		{"re case-sensitive", sel("F|re: '^foo'"), []any{"F", "FOO"}, false},
		{"re i", sel("F|re|i: '^foo'"), []any{"F", "FOO"}, true},
		{"re without m", sel("F|re: '^bar$'"), []any{"F", "foo\nbar"}, false},
		{"re m", sel("F|re|m: '^bar$'"), []any{"F", "foo\nbar"}, true},
		{"re without s", sel("F|re: 'foo.bar'"), []any{"F", "foo\nbar"}, false},
		{"re s", sel("F|re|s: 'foo.bar'"), []any{"F", "foo\nbar"}, true},
		{"re unanchored", sel("F|re: 'o+b'"), []any{"F", "fooob"}, true},
		{"re inline flag with literals", sel("F|re: '(?i)(set).*&&\\s?SET'"), []any{"F", "Set a && set b"}, true},
		{"re literal absent", sel("F|re: '(?i)(set).*&&'"), []any{"F", "set a & b"}, false},
		{"re length", sel("F|re: '.{5,}'"), []any{"F", "abcd\nabcd"}, false},
		{"re length hit", sel("F|re: '.{5,}'"), []any{"F", "abcdé"}, true},
	}, Options{})
}

func TestModifierCidr(t *testing.T) {
	runModCases(t, []modCase{
		{"v4 in", sel("F|cidr: '192.168.0.0/16'"), []any{"F", "192.168.1.5"}, true},
		{"v4 out", sel("F|cidr: '192.168.0.0/16'"), []any{"F", "10.0.0.1"}, false},
		{"v6 in", sel("F|cidr: '2001:db8::/32'"), []any{"F", "2001:db8::1"}, true},
		{"v4-mapped v6", sel("F|cidr: '10.0.0.0/8'"), []any{"F", "::ffff:10.1.2.3"}, true},
		{"list", sel("F|cidr: ['10.0.0.0/8', '172.16.0.0/12']"), []any{"F", "172.20.1.1"}, true},
		{"not an ip", sel("F|cidr: '10.0.0.0/8'"), []any{"F", "host"}, false},
	}, Options{})
}

func TestModifierBase64(t *testing.T) {
	runModCases(t, []modCase{
		// base64('/bin/sh') = L2Jpbi9zaA==
		{"base64 exact", sel("F|base64: '/bin/sh'"), []any{"F", "L2Jpbi9zaA=="}, true},
		{"base64 case-sensitive", sel("F|base64: '/bin/sh'"), []any{"F", "l2jpbi9zaa=="}, false},
		{"base64 contains", sel("F|base64|contains: 'cmd'"), []any{"F", "x Y21k y"}, true},
		// base64offset variants of '/bin/sh': L2Jpbi9za, 9iaW4vc2, vYmluL3No (pySigma)
		{"base64offset shift 0", sel("F|base64offset|contains: '/bin/sh'"), []any{"F", "ZWNobyAvYmluL3NoOyBpZA=="}, true},
		{"base64offset shift 1", sel("F|base64offset|contains: '/bin/sh'"), []any{"F", "YWVjaG8gL2Jpbi9zaDsgaWQ="}, true},
		{"base64offset shift 2", sel("F|base64offset|contains: '/bin/sh'"), []any{"F", "YWJlY2hvIC9iaW4vc2g7IGlk"}, true},
		{"base64offset miss", sel("F|base64offset|contains: '/bin/sh'"), []any{"F", "ZWNobyBoaQ=="}, false},
		// utf16le('cmd') offsets: YwBtAGQA, MAbQBkA, jAG0AZA
		{"utf16le base64offset", sel("F|utf16le|base64offset|contains: 'cmd'"), []any{"F", "-enc xxjAG0AZAyy"}, true},
		{"wide alias", sel("F|wide|base64offset|contains: 'cmd'"), []any{"F", "YwBtAGQA"}, true},
		{"utf16be base64", sel("F|utf16be|base64: 'cmd'"), []any{"F", "AGMAbQBk"}, true},
		{"utf16 bom base64", sel("F|utf16|base64: 'cmd'"), []any{"F", "//5jAG0AZAA="}, true},
	}, Options{})
}

func TestModifierWindash(t *testing.T) {
	runModCases(t, []modCase{
		{"dash as written", sel("F|windash|contains: ' -exec '"), []any{"F", "x.exe -exec y"}, true},
		{"slash variant", sel("F|windash|contains: ' -exec '"), []any{"F", "x.exe /exec y"}, true},
		{"en dash variant", sel("F|windash|contains: ' -exec '"), []any{"F", "x.exe –exec y"}, true},
		{"em dash variant", sel("F|windash|contains: ' -exec '"), []any{"F", "x.exe —exec y"}, true},
		{"horizontal bar variant", sel("F|windash|contains: ' -exec '"), []any{"F", "x.exe ―exec y"}, true},
		{"other char", sel("F|windash|contains: ' -exec '"), []any{"F", "x.exe +exec y"}, false},
		{"two flags permutations", sel("F|windash|contains|all: ['-a -b']"), []any{"F", "x /a -b"}, true},
		{"mid-word dash untouched", sel("F|windash: 'a-b'"), []any{"F", "a/b"}, false},
	}, Options{})
}

func TestModifierExistsFieldrefCased(t *testing.T) {
	runModCases(t, []modCase{
		{"exists true present", sel("F|exists: true"), []any{"F", "x"}, true},
		{"exists true absent", sel("F|exists: true"), []any{"G", "x"}, false},
		{"exists false absent", sel("F|exists: false"), []any{"G", "x"}, true},
		{"exists false present", sel("F|exists: false"), []any{"F", "x"}, false},
		{"fieldref equal", sel("F|fieldref: G"), []any{"F", "Same", "G", "same"}, true},
		{"fieldref differ", sel("F|fieldref: G"), []any{"F", "a", "G", "b"}, false},
		{"fieldref absent", sel("F|fieldref: G"), []any{"F", "a"}, false},
		{"fieldref endswith", sel("F|fieldref|endswith: G"), []any{"F", `c:\x\a.exe`, "G", "a.exe"}, true},
		{"cased match", sel("F|cased: 'Foo'"), []any{"F", "Foo"}, true},
		{"cased miss", sel("F|cased: 'Foo'"), []any{"F", "foo"}, false},
		{"cased contains", sel("F|contains|cased: 'Ab'"), []any{"F", "xAby"}, true},
	}, Options{})
}

func TestModifierNumeric(t *testing.T) {
	runModCases(t, []modCase{
		{"gt int", sel("F|gt: 10"), []any{"F", int64(11)}, true},
		{"gt equal", sel("F|gt: 10"), []any{"F", int64(10)}, false},
		{"gte equal", sel("F|gte: 10"), []any{"F", int64(10)}, true},
		{"lt string", sel("F|lt: 10"), []any{"F", "9.5"}, true},
		{"lte", sel("F|lte: 10"), []any{"F", "11"}, false},
		{"not a number", sel("F|gt: 1"), []any{"F", "abc"}, false},
	}, Options{})
}

func TestModifierNeqExpand(t *testing.T) {
	runModCases(t, []modCase{
		{"neq differ", sel("F|neq: 'a'"), []any{"F", "b"}, true},
		{"neq equal", sel("F|neq: 'a'"), []any{"F", "A"}, false},
		// A list: the field equals none of the values (spec: "the field is different from the value").
		{"neq list none", sel("F|neq: ['a', 'b']"), []any{"F", "c"}, true},
		{"neq list first", sel("F|neq: ['a', 'b']"), []any{"F", "a"}, false},
		{"neq list second", sel("F|neq: ['a', 'b']"), []any{"F", "B"}, false},
		{"neq all list", sel("F|all|neq: ['a', 'b']"), []any{"F", "b"}, false},
		{"neq contains list", sel("F|contains|neq: ['x', 'y']"), []any{"F", "aya"}, false},
		{"neq contains list none", sel("F|contains|neq: ['x', 'y']"), []any{"F", "aza"}, true},
		{"neq int list", sel("F|neq: [4624, 4625]"), []any{"F", int64(4625)}, false},
		{"neq int list none", sel("F|neq: [4624, 4625]"), []any{"F", int64(4634)}, true},
		{"neq windash variants", sel("F|windash|neq: '-enc'"), []any{"F", "/enc"}, false},
		{"neq null", sel("F|neq: null"), []any{"F", "v"}, true},
		{"neq null absent", sel("F|neq: null"), []any{"G", "v"}, false},
		{"neq absent field", sel("F|neq: ['a', 'b']"), []any{"G", "a"}, true},
		{"expand", sel(`F|expand: '%dirs%\x.exe'`), []any{"F", `c:\tools\x.exe`}, true},
		{"expand other value", sel(`F|expand: '%dirs%\x.exe'`), []any{"F", `d:\bin\x.exe`}, true},
		{"expand miss", sel(`F|expand: '%dirs%\x.exe'`), []any{"F", `e:\x.exe`}, false},
	}, Options{Placeholders: map[string][]string{"dirs": {`C:\tools`, `D:\bin`}}})
}

func TestKeywords(t *testing.T) {
	runModCases(t, []modCase{
		{"keyword in message", "  kw:\n    - 'Failed password'\n  condition: kw\n", []any{"message", "sshd: failed PASSWORD for root"}, true},
		{"keyword miss", "  kw:\n    - 'Accepted'\n  condition: kw\n", []any{"message", "Failed password"}, false},
		{"keyword list OR", "  kw:\n    - 'a1'\n    - 'b2'\n  condition: kw\n", []any{"message", "x b2 y"}, true},
		{"keyword wildcard", "  kw:\n    - 'fail*root'\n  condition: kw\n", []any{"message", "failed for root"}, true},
		{"keyword scalar", "  kw: 'mimikatz'\n  condition: kw\n", []any{"message", "ran MIMIKATZ.exe"}, true},
		{"keyword all", "  kw:\n    '|all':\n      - 'a1'\n      - 'b2'\n  condition: kw\n", []any{"message", "b2 a1"}, true},
	}, Options{})
	// Without a message, keywords search the raw record.
	p := writeRule(t, testRule("  kw:\n    - 'evil.exe'\n  condition: kw\n"))
	rs, rep := build(Options{Paths: []string{p}}, true)
	if rep.Failed > 0 {
		t.Fatal(rep.Failures)
	}
	ev := mkEvent("F", "x")
	ev.Raw = []byte(`{"Image":"C:\\EVIL.exe"}`)
	if len(matchIDs(rs, ev)) != 1 {
		t.Error("keyword did not match the raw record")
	}
}

func TestConditions(t *testing.T) {
	body := func(cond string) string {
		return "  sel_a:\n    A: 1\n  sel_b:\n    B: 1\n  filter:\n    C: 1\n  _hidden:\n    D: 1\n  condition: " + cond + "\n"
	}
	a, b, c, d := []any{"A", "1"}, []any{"B", "1"}, []any{"C", "1"}, []any{"D", "1"}
	join := func(xs ...[]any) []any {
		var out []any
		for _, x := range xs {
			out = append(out, x...)
		}
		return out
	}
	runModCases(t, []modCase{
		{"and", body("sel_a and sel_b"), join(a, b), true},
		{"and miss", body("sel_a and sel_b"), a, false},
		{"or", body("sel_a or sel_b"), b, true},
		{"not", body("sel_a and not filter"), join(a, c), false},
		{"not passes", body("sel_a and not filter"), a, true},
		{"precedence and over or", body("sel_a or sel_b and filter"), a, true},
		{"parens", body("(sel_a or sel_b) and filter"), a, false},
		{"1 of wildcard", body("1 of sel_*"), b, true},
		{"all of wildcard", body("all of sel_*"), b, false},
		{"all of wildcard both", body("all of sel_*"), join(a, b), true},
		{"1 of them", body("1 of them"), c, true},
		{"them skips underscore", body("1 of them"), d, false},
		{"all of them", body("all of them"), join(a, b, c), true},
		{"not not", body("not not sel_a"), a, true},
		{"uppercase keywords", body("sel_a AND NOT filter"), a, true},
		{"any of", body("any of sel_*"), a, true},
		{"list of conditions", "  sel_a:\n    A: 1\n  sel_b:\n    B: 1\n  condition:\n    - sel_a\n    - sel_b\n", b, true},
		{"list of maps is OR", "  sel:\n    - A: 1\n    - B: 1\n  condition: sel\n", b, true},
		{"map is AND", "  sel:\n    A: 1\n    B: 1\n  condition: sel\n", a, false},
	}, Options{})
}

func TestLoadFailures(t *testing.T) {
	cases := []struct {
		name, rule, want string
	}{
		{"unknown modifier", testRule(sel("F|bogus: x")), `:7: field "F": unknown modifier "bogus"`},
		{"bad regex", testRule(sel("F|re: '(a'")), `bad regular expression`},
		{"regex too long", testRule(sel("F|re: '" + strings.Repeat("a", MaxRegexLen+1) + "'")), "longer than"},
		{"lookahead is not RE2", testRule(sel("F|re: 'a(?=b)'")), "bad regular expression"},
		{"missing selection", testRule(sel("F: x")+"") + "", ""},
		{"condition references missing", testRule("  sel:\n    F: x\n  condition: sel and nothere\n"), `:8: condition: references missing selection "nothere"`},
		{"of matches nothing", testRule("  sel:\n    F: x\n  condition: 1 of filter_*\n"), `matches no selection`},
		{"aggregation", testRule("  sel:\n    F: x\n  condition: sel | count() > 5\n"), "aggregation"},
		{"unresolved placeholder", testRule(sel("F|expand: '%nope%'")), "unresolved placeholder %nope%"},
		{"bad cidr", testRule(sel("F|cidr: 'x/8'")), "bad cidr"},
		{"gt not number", testRule(sel("F|gt: abc")), "needs a number"},
		{"exists not bool", testRule(sel("F|exists: maybe")), "exists needs true or false"},
		{"contains and re", testRule(sel("F|re|contains: a")), "cannot be combined"},
		{"flag without re", testRule(sel("F|i: a")), "need the re modifier"},
		{"utf16 without base64", testRule(sel("F|utf16le: a")), "need base64"},
		{"missing condition", testRule("  sel:\n    F: x\n"), "missing condition"},
		{"bad condition syntax", testRule("  sel:\n    F: x\n  condition: sel and\n"), "ends unexpectedly"},
		{"unbalanced paren", testRule("  sel:\n    F: x\n  condition: (sel\n"), "missing )"},
		{"missing title", "id: x\nlogsource:\n  product: test\ndetection:\n  sel:\n    F: x\n  condition: sel\n", "missing title"},
		{"bad level", "title: t\nlevel: severe\nlogsource:\n  product: test\ndetection:\n  sel:\n    F: x\n  condition: sel\n", "unknown level"},
		{"yaml syntax", "title: [unclosed\n", "yaml"},
		{"duplicate key", testRule("  sel:\n    F: x\n  sel:\n    F: y\n  condition: sel\n"), `duplicate key "sel"`},
		{"empty selection", testRule("  sel: {}\n  condition: sel\n"), "empty selection"},
		{"time modifier", testRule(sel("F|hour: 3")), "not supported"},
	}
	for _, tc := range cases {
		if tc.want == "" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			p := writeRule(t, tc.rule)
			rep := Check([]string{p}, Options{})
			if rep.Failed != 1 || rep.Loaded != 0 {
				t.Fatalf("loaded %d failed %d, want 0/1: %+v", rep.Loaded, rep.Failed, rep.Failures)
			}
			msg := rep.Failures[0].Error
			if !strings.HasPrefix(msg, p) || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q: want prefix %s and %q", msg, p, tc.want)
			}
		})
	}
}
