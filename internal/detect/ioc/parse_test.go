package ioc

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePlainLine(t *testing.T) {
	tests := []struct {
		in      string
		want    string // "type value"
		wantErr string
	}{
		{in: "192.0.2.1", want: "ip 192.0.2.1/32"},
		{in: "::ffff:192.0.2.1", want: "ip 192.0.2.1/32"},
		{in: "2001:db8::1", want: "ip 2001:db8::1/128"},
		{in: "ip:2001:DB8::1", want: "ip 2001:db8::1/128"},
		{in: "cidr:192.0.2.77/24", want: "ip 192.0.2.0/24"},
		{in: "Evil.Example.", want: "domain evil.example"},
		{in: "domain:c2.example.net", want: "domain c2.example.net"},
		{in: "evil[.]example", want: "domain evil.example"},
		{in: "http://Bad.Example:80/a/b?q=1#frag", want: "url bad.example/a/b?q=1"},
		{in: "hxxps://bad[.]example", want: "url bad.example/"},
		{in: "url:https://bad.example:8443/x", want: "url bad.example:8443/x"},
		{in: "44D88612FEA8A8F36DE82E1278ABB02F", want: "md5 44d88612fea8a8f36de82e1278abb02f"},
		{in: "hash:3395856ce81f2b7382dee72602f798b642f14140", want: "sha1 3395856ce81f2b7382dee72602f798b642f14140"},
		{in: "sha256:275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", want: "sha256 275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"},
		{in: "md5:1234", wantErr: "invalid md5"},
		{in: "ip:evil.example", wantErr: "invalid ip"},
		{in: "cidr:192.0.2.0/33", wantErr: "invalid cidr"},
		{in: "999.1.1.1", wantErr: "cannot detect"},
		{in: "localhost", wantErr: "cannot detect"},
		{in: "two words", wantErr: "unexpected text"},
		{in: "domain:bad_domain!.example", wantErr: "invalid domain"},
		{in: "url:/relative/only", wantErr: "invalid url"},
		{in: "url:bad.example/x", want: "url bad.example/x"},
		{in: strings.Repeat("a", 5000) + ".example", wantErr: "longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.in[:min(len(tc.in), 40)], func(t *testing.T) {
			got, err := parsePlainLine(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got err %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if s := string(got.Type) + " " + got.Value; s != tc.want {
				t.Errorf("got %q, want %q", s, tc.want)
			}
		})
	}
}

func TestParsePlainFile(t *testing.T) {
	data := "# comment\n\n192.0.2.1 # trailing\n\tevil.example\t# tab comment\nnope nope\r\n" +
		strings.Repeat("x", maxLineLen+1) + "\nlast.example"
	var got []string
	var bad []string
	parsePlain([]byte(data), func(pt parsedTerm) {
		got = append(got, fmt.Sprintf("%d:%s", pt.Line, pt.Value))
	}, func(line int, err error) { bad = append(bad, fmt.Sprintf("%d:%v", line, err)) })
	if diff := cmp.Diff([]string{"3:192.0.2.1/32", "4:evil.example", "7:last.example"}, got); diff != "" {
		t.Errorf("terms (-want +got):\n%s", diff)
	}
	if len(bad) != 2 || !strings.HasPrefix(bad[0], "5:") || !strings.HasPrefix(bad[1], "6:line longer") {
		t.Errorf("bad lines = %q, want lines 5 and 6", bad)
	}
}

func TestParseCSV(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		bad     []int
		wantErr string
	}{
		{name: "typed", in: "type,value\nip,192.0.2.1\ndomain,a.example\n", want: []string{"ip 192.0.2.1/32", "domain a.example"}},
		{name: "auto and comments", in: "indicator\n# c\n192.0.2.2\nb.example\n", want: []string{"ip 192.0.2.2/32", "domain b.example"}},
		{name: "bad rows", in: "ioc,type\n192.0.2.3,md5\nc.example,bogus\n,ip\n", bad: []int{2, 3, 4}},
		{name: "short row", in: "a,b,value\nx\n", bad: []int{2}},
		{name: "no value column", in: "a,b\n1,2\n", wantErr: "no value column"},
		{name: "empty", in: "", wantErr: "reading csv header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			var bad []int
			err := parseCSV([]byte(tc.in), func(pt parsedTerm) { got = append(got, string(pt.Type)+" "+pt.Value) },
				func(line int, err error) { bad = append(bad, line) })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got err %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("terms (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.bad, bad); diff != "" {
				t.Errorf("bad lines (-want +got):\n%s", diff)
			}
		})
	}
}

// render prints a pattern's conjunctions as "type=value&type=value | …".
func render(p Pattern) string {
	var ors []string
	for _, c := range p.Conjunctions {
		var ands []string
		for _, t := range c {
			ands = append(ands, string(t.Type)+"="+t.Value)
		}
		ors = append(ors, strings.Join(ands, "&"))
	}
	return strings.Join(ors, " | ")
}

func TestParsePattern(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		skipped []string
		wantErr string
	}{
		{in: "[ipv4-addr:value = '192.0.2.1']", want: "ip=192.0.2.1/32"},
		{in: "[ ipv4-addr:value = '10.0.0.0' ]", want: "ip=10.0.0.0/32"},
		{in: "[ipv4-addr:value = '58.246.0.0/15']", want: "ip=58.246.0.0/15"},
		{in: "[ipv6-addr:value ISSUBSET '2001:db8::/32']", want: "ip=2001:db8::/32"},
		{in: "[domain-name:value = 'a.example' OR ipv4-addr:value = '192.0.2.2']", want: "domain=a.example | ip=192.0.2.2/32"},
		{in: "[url:value = 'http://x.example/a\\'b']", want: "url=x.example/a'b"},
		{in: "[file:hashes.'SHA-256' = '275A021BBFB6489E54D471899F7DB9D1663FC695EC2FE2A2C4538AABF651FD0F']", want: "sha256=275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"},
		{in: "[file:hashes.md5 = '44d88612fea8a8f36de82e1278abb02f' AND file:hashes.'SHA-1' = '3395856ce81f2b7382dee72602f798b642f14140']",
			want: "md5=44d88612fea8a8f36de82e1278abb02f&sha1=3395856ce81f2b7382dee72602f798b642f14140"},
		{in: "[domain-name:value IN ('a.example', 'b.example')]", want: "domain=a.example | domain=b.example"},
		{in: "([domain-name:value = 'a.example']) OR [url:value = 'http://u.example/']", want: "domain=a.example | url=u.example/"},
		{in: "[(file:hashes.MD5 = '44d88612fea8a8f36de82e1278abb02f' OR file:hashes.MD5 = '00dbb9e1c09dbdafb360f3163ba5a3de') AND file:hashes.SHA256 = '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f']",
			want: "md5=44d88612fea8a8f36de82e1278abb02f&sha256=275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f | md5=00dbb9e1c09dbdafb360f3163ba5a3de&sha256=275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"},
		// Unsupported, well-formed.
		{in: "[x509-certificate:issuer = 'CN=X' AND x509-certificate:serial_number = '1']", skipped: []string{"object path x509-certificate:issuer", "object path x509-certificate:serial_number"}},
		{in: "[domain-name:value MATCHES '^x' OR domain-name:value = 'ok.example']", want: "domain=ok.example", skipped: []string{"operator MATCHES"}},
		{in: "[domain-name:value = 'a.example' AND file:name = 'x']", skipped: []string{"object path file:name"}},
		{in: "[domain-name:value = 'a.example' AND ipv4-addr:value = '192.0.2.1']", skipped: []string{"AND across object types"}},
		{in: "[ipv4-addr:value != '192.0.2.1']", skipped: []string{"negation"}},
		{in: "[ipv4-addr:value NOT IN ('192.0.2.1')]", skipped: []string{"negation"}},
		{in: "[ipv4-addr:value = '192.0.2.1'] AND [ipv4-addr:value = '192.0.2.2']", skipped: []string{"observation AND"}},
		{in: "[ipv4-addr:value = '192.0.2.1'] REPEATS 5 TIMES", skipped: []string{"qualifier REPEATS"}},
		{in: "[ipv4-addr:value = '192.0.2.1'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'", skipped: []string{"qualifier START/STOP"}},
		{in: "[file:size > 1000]", skipped: []string{"object path file:size"}},
		{in: "[file:hashes.'SHA-512' = 'ab']", skipped: []string{"hash algorithm SHA512"}},
		{in: "[domain-name:value = 'domain autuo.xicp.net' OR ipv4-addr:value = '60.10.1.115']", want: "ip=60.10.1.115/32", skipped: []string{"invalid value"}},
		{in: "[email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\\\.exe$']", skipped: []string{"object path email-message:body_multipart[*].body_raw_ref.name"}},
		{in: "[EXISTS windows-registry-key:values]", skipped: []string{"operator EXISTS"}},
		{in: "[ipv4-addr:value = 42]", skipped: []string{"non-string literal"}},
		// Syntax errors.
		{in: "", wantErr: "want '[' or '('"},
		{in: "[ipv4-addr:value = '192.0.2.1'", wantErr: "want ']'"},
		{in: "[ipv4-addr:value = '192.0.2.1]", wantErr: "unterminated string"},
		{in: "[ipv4-addr:value ~ '1']", wantErr: "want operator"},
		{in: "[value = '1']", wantErr: "want object path"},
		{in: "[ipv4-addr:value = '1'] junk", wantErr: "unexpected"},
		{in: "[ipv4-addr:value = '1'] WITHIN x SECONDS", wantErr: "want number"},
		{in: strings.Repeat("(", 100) + "[a:b = '1']" + strings.Repeat(")", 100), wantErr: "nesting deeper"},
	}
	for _, tc := range tests {
		t.Run(tc.in[:min(len(tc.in), 50)], func(t *testing.T) {
			got, err := ParsePattern(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got err %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if r := render(got); r != tc.want {
				t.Errorf("got %q, want %q", r, tc.want)
			}
			sort.Strings(got.Skipped)
			sort.Strings(tc.skipped)
			if diff := cmp.Diff(tc.skipped, got.Skipped); diff != "" {
				t.Errorf("skipped (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParsePatternTooComplex(t *testing.T) {
	// 11 ANDed ORs of 2 give 2^11 conjunctions: over the limit, skipped not exploded.
	var parts []string
	for i := range 11 {
		parts = append(parts, fmt.Sprintf("(file:hashes.MD5 = '%032x' OR file:hashes.MD5 = '%032x')", 2*i, 2*i+1))
	}
	got, err := ParsePattern("[" + strings.Join(parts, " AND ") + "]")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Conjunctions) != 0 || len(got.Skipped) == 0 || got.Skipped[len(got.Skipped)-1] != "too complex" {
		t.Errorf("got %d conjunctions, skipped %q; want none and \"too complex\"", len(got.Conjunctions), got.Skipped)
	}
}

func TestURLKey(t *testing.T) {
	tests := []struct {
		raw, host, want string
		ok              bool
	}{
		{"http://Bad.Example/a/B?q=1#f", "", "bad.example/a/B?q=1", true},
		{"https://user:pw@bad.example:443", "", "bad.example/", true},
		{"http://bad.example:8080/x?", "", "bad.example:8080/x", true},
		{"http://[2001:DB8::1]:8080/x", "", "[2001:db8::1]:8080/x", true},
		{"http://bad.example?x=1", "", "bad.example/?x=1", true},
		{"/p?x=1", "Bad.Example", "bad.example/p?x=1", true},
		{"/p", "", "", false},
		{"p", "bad.example", "", false},
		{"://x", "", "", false},
		{"http:///x", "", "", false},
		{"http://a b/x", "", "", false},
	}
	for _, tc := range tests {
		got, ok := urlKey(tc.raw, tc.host)
		if got != tc.want || ok != tc.ok {
			t.Errorf("urlKey(%q, %q) = %q, %v; want %q, %v", tc.raw, tc.host, got, ok, tc.want, tc.ok)
		}
	}
}
