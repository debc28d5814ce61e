package ioc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// maxFuzzInput caps fuzz inputs so the fuzzer explores structure, not size.
const maxFuzzInput = 64 << 10

// FuzzParsePlain checks that the plain-list parser never panics, reports every
// non-comment line exactly once (as a term or as a bad line) and that IP,
// domain and hash terms are stable under re-normalization.
func FuzzParsePlain(f *testing.F) {
	for _, p := range []string{"testdata/lists/mixed.txt", "../../../rules/ioc/example.txt"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("ip:::1\nhash:\n#\n hxxp://[.]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			t.Skip()
		}
		lines := map[int]int{}
		parsePlain(data, func(pt parsedTerm) {
			lines[pt.Line]++
			switch pt.Type {
			case TypeIP, TypeDomain, TypeMD5, TypeSHA1, TypeSHA256:
				again, err := newTerm(pt.Type, false, pt.Value)
				if err != nil || again.Value != pt.Value {
					t.Fatalf("term %s %q not stable: %q, %v", pt.Type, pt.Value, again.Value, err)
				}
			}
		}, func(line int, err error) {
			lines[line]++
			if err == nil {
				t.Fatal("bad line without error")
			}
		})
		for l, n := range lines {
			if n != 1 || l < 1 || l > strings.Count(string(data), "\n")+1 {
				t.Fatalf("line %d reported %d times", l, n)
			}
		}
	})
}

// FuzzParsePattern checks that the STIX pattern parser never panics, stays
// within its conjunction bound and yields only valid terms.
func FuzzParsePattern(f *testing.F) {
	seeds := []string{
		"[ipv4-addr:value = '192.0.2.1']",
		"[domain-name:value = 'a.example' OR ipv4-addr:value = '192.0.2.2']",
		"[file:hashes.'SHA-256' = '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f' AND file:hashes.MD5 = '44d88612fea8a8f36de82e1278abb02f']",
		"[ipv6-addr:value ISSUBSET '2001:db8::/32'] OR ([url:value = 'http://x.example/'] AND [a:b = 'c']) WITHIN 5 SECONDS",
		"[domain-name:value IN ('a.example', 'b.example')] REPEATS 2 TIMES",
		"[x:y NOT MATCHES '\\\\'] START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00Z'",
		"[email-message:body_multipart[*].body_raw_ref.name = b'AAAA']",
	}
	// Every pattern in the example bundles.
	files, _ := filepath.Glob("testdata/stix/*.json")
	for _, fn := range files {
		b, err := os.ReadFile(fn)
		if err != nil {
			f.Fatal(err)
		}
		_ = parseSTIX(b, stixSink{
			add: func(si stixIndicator) { seeds = append(seeds, si.obj.Pattern) },
			bad: func(int, error) {}, unsupported: func(string) {}, revoked: func() {},
		})
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > maxFuzzInput {
			t.Skip()
		}
		p, err := ParsePattern(s)
		if err != nil {
			return
		}
		if len(p.Conjunctions) > maxConjunctions {
			t.Fatalf("%d conjunctions over the bound", len(p.Conjunctions))
		}
		for _, c := range p.Conjunctions {
			if len(c) == 0 {
				t.Fatal("empty conjunction")
			}
			for _, term := range c {
				if term.Value == "" || term.Type == TypeIP && !term.Prefix.IsValid() {
					t.Fatalf("invalid term %+v", term)
				}
			}
		}
	})
}

// FuzzParseSTIX feeds whole documents to the bundle reader.
func FuzzParseSTIX(f *testing.F) {
	files, _ := filepath.Glob("testdata/stix/*.json")
	for _, fn := range files {
		// Small bundles only: big seeds slow every mutation down.
		if b, err := os.ReadFile(fn); err == nil && len(b) < 8<<10 {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"type":"indicator","pattern":"[url:value = 'http://x.example/']","valid_until":"bad"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			t.Skip()
		}
		_ = parseSTIX(data, stixSink{
			add: func(si stixIndicator) {
				if len(si.terms) == 0 {
					t.Fatal("indicator without terms")
				}
			},
			bad: func(int, error) {}, unsupported: func(string) {}, revoked: func() {},
		})
	})
}
