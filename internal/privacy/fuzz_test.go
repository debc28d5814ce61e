package privacy

import (
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/event"
)

// FuzzEvent: arbitrary user names and free text never crash the
// pseudonymizer, and a configured value of at least minTextValue bytes
// never survives in the output text.
func FuzzEvent(f *testing.F) {
	f.Add("alice", "Accepted password for alice from 10.1.2.3 port 22", []byte("raw alice"))
	f.Add("ALICE", "ALICE alice Alice fe80::1%eth0 ::ffff:10.0.0.1 dead:beef:10.1.2.3", []byte{0xff, 0xfe})
	f.Add("a@b.c", "mail a@b.c and x@y.example 192.168.1.1:443", []byte(nil))
	f.Add("\xff\xfe", "\x00\x00::::::::....", []byte("\xff"))
	p, err := New(Config{Raw: RawScrub}, NewMemoryKeyStore(t0))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, user, msg string, raw []byte) {
		if len(user)+len(msg)+len(raw) > 1<<16 {
			t.Skip("input limit")
		}
		ev := event.New()
		ev.Set("user.name", user)
		ev.Set("message", msg+" "+user)
		ev.Raw = raw
		out := p.Event(ev)
		if len(user) < minTextValue || strings.ContainsFunc(user, func(r rune) bool { return r > 0x7f || !isWord(byte(r)) }) {
			return
		}
		// The guarantee: no token of the output text equals the user name.
		m := out.Fields["message"].(string)
		for _, tok := range strings.FieldsFunc(m, func(r rune) bool { return r < 0x80 && !isWord(byte(r)) }) {
			if asciiLower(tok) == asciiLower(user) {
				t.Fatalf("user %q survives as a token in %q", user, m)
			}
		}
	})
}

// FuzzKeyStoreFromJSON: key material from config is parsed strictly and
// never panics.
func FuzzKeyStoreFromJSON(f *testing.F) {
	f.Add([]byte(`{"version":1,"mapping_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","epochs":[{"N":1,"Secret":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}]}`))
	f.Add([]byte(`{"version":1,"epochs":[{"N":2}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			t.Skip("input limit")
		}
		ks, err := KeyStoreFromJSON(data)
		if err != nil {
			return
		}
		if _, err := New(Config{}, ks); err != nil {
			t.Fatalf("validated keys rejected by New: %v", err)
		}
	})
}

// FuzzExportText: the export scrubber never crashes on any text, and a
// user named in a "user=" pair never survives as a token of its output.
func FuzzExportText(f *testing.F) {
	f.Add("alice", "alert on host=ws1,user=alice: alice logged in from 10.1.2.3")
	f.Add("Bob.J", "false_positive by Bob.J: user=Bob.J; rhost=fs03.corp ==user= =")
	f.Add("x", "user=\xff\xfe=== ip=::ffff:10.0.0.1 mail=a@b.c")
	p, err := New(Config{}, NewMemoryKeyStore(t0))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, user, text string) {
		if len(user)+len(text) > 1<<16 {
			t.Skip("input limit")
		}
		known := Values(text)
		sc := p.NewTextScrubber(known)
		out := sc.Text(text + " user=" + user + " " + user)
		_ = p.Text(text, known)
		if len(user) < minTextValue || pseudonymRE.MatchString(user) ||
			strings.ContainsFunc(user, func(r rune) bool { return r > 0x7f || !isWord(byte(r)) }) {
			return // short values are not matched in text; a pseudonym is not pseudonymized again
		}
		for _, tok := range strings.FieldsFunc(out, func(r rune) bool { return r < 0x80 && !isWord(byte(r)) }) {
			if asciiLower(tok) == asciiLower(user) {
				t.Fatalf("user %q survives as a token in %q", user, out)
			}
		}
	})
}
