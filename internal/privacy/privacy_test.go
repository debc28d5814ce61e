package privacy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-ids/rampart/internal/alert"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type auditLog struct {
	mu      sync.Mutex
	entries []AuditEntry
	fail    error
}

func (a *auditLog) record(_ context.Context, e AuditEntry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, e)
	return a.fail
}

var t0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func newTestPseudonymizer(t testing.TB, cfg Config) (*Pseudonymizer, *MemoryMappings, *auditLog, *fakeClock) {
	t.Helper()
	clk := &fakeClock{t: t0}
	maps, audit := NewMemoryMappings(), &auditLog{}
	cfg.Deps = Deps{Mappings: maps, Audit: audit.record, Now: clk.Now}
	p, err := New(cfg, NewMemoryKeyStore(t0))
	if err != nil {
		t.Fatal(err)
	}
	return p, maps, audit, clk
}

func TestValue(t *testing.T) {
	p, _, _, _ := newTestPseudonymizer(t, Config{InternalNetworks: []string{"10.0.0.0/8", "fd00::/8"}})
	hexRE := regexp.MustCompile(`^[0-9a-f]{20}$`)
	tests := []struct {
		name   string
		kind   Kind
		in     string
		prefix string // for hashed kinds
		same   string // input that must give the same pseudonym
		keep   bool   // output equals input
		inNet  string // output must lie in this prefix
	}{
		{name: "user", kind: KindUser, in: "alice", prefix: "u_", same: "ALICE"},
		{name: "email", kind: KindEmail, in: "Alice@Example.org", prefix: "e_", same: "alice@example.org"},
		{name: "host", kind: KindHost, in: "WS-042.corp.local", prefix: "h_", same: "ws-042.corp.local"},
		{name: "name is case sensitive", kind: KindName, in: "S-1-5-21-1", prefix: "p_"},
		{name: "ip not an address is hashed", kind: KindIP, in: "10.0.0.300", prefix: "p_"},
		{name: "internal v4 stays in network", kind: KindIP, in: "10.20.30.40", inNet: "10.0.0.0/8"},
		{name: "internal v6 stays in network", kind: KindIP, in: "fd12:3456::1", inNet: "fd00::/8"},
		{name: "mapped v4 is v4", kind: KindIP, in: "::ffff:10.1.1.1", inNet: "10.0.0.0/8"},
		{name: "external kept", kind: KindIP, in: "8.8.8.8", keep: true},
		{name: "empty", kind: KindUser, in: "", keep: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := p.Value(tc.kind, tc.in)
			if again := p.Value(tc.kind, tc.in); again != got {
				t.Errorf("not deterministic: %q then %q", got, again)
			}
			switch {
			case tc.keep:
				if got != tc.in {
					t.Errorf("Value(%q) = %q, want unchanged", tc.in, got)
				}
			case tc.inNet != "":
				a, err := netip.ParseAddr(got)
				if err != nil || !netip.MustParsePrefix(tc.inNet).Contains(a) {
					t.Errorf("Value(%q) = %q, want an address in %s", tc.in, got, tc.inNet)
				}
				if got == netip.MustParseAddr(tc.in).Unmap().String() {
					t.Errorf("Value(%q) unchanged", tc.in)
				}
			default:
				if !strings.HasPrefix(got, tc.prefix) || !hexRE.MatchString(got[2:]) {
					t.Errorf("Value(%q) = %q, want %s + 20 hex digits", tc.in, got, tc.prefix)
				}
			}
			if tc.same != "" {
				if s := p.Value(tc.kind, tc.same); s != got {
					t.Errorf("Value(%q) = %q, want same as %q (%q)", tc.same, s, tc.in, got)
				}
			}
		})
	}
	if p.Value(KindUser, "x") == p.Value(KindHost, "x") {
		t.Error("user and host pseudonyms of the same text collide: kind must be in the HMAC input")
	}
}

// TestDeterminismAndKeys: same keys give the same pseudonyms in another
// instance; other keys give others.
func TestDeterminismAndKeys(t *testing.T) {
	keys := NewMemoryKeyStore(t0)
	a, _ := New(Config{}, keys)
	b, _ := New(Config{}, keys)
	c, _ := New(Config{}, NewMemoryKeyStore(t0))
	for _, v := range []string{"alice", "bob", "10.1.2.3"} {
		k := KindUser
		if strings.Contains(v, ".") {
			k = KindIP
		}
		if a.Value(k, v) != b.Value(k, v) {
			t.Errorf("%q: two instances with one key store disagree", v)
		}
		if a.Value(k, v) == c.Value(k, v) {
			t.Errorf("%q: different keys gave the same pseudonym", v)
		}
	}
}

// TestAddressPrefixPreserved: pseudonyms of two internal addresses share
// exactly as many leading bits as the addresses do.
func TestAddressPrefixPreserved(t *testing.T) {
	for _, hide := range []bool{false, true} {
		p, _, _, _ := newTestPseudonymizer(t, Config{InternalNetworks: []string{"10.0.0.0/8"}, HideNetworkPrefix: hide})
		r := rand.New(rand.NewPCG(3, 4))
		for range 500 {
			a := [4]byte{10, byte(r.UintN(256)), byte(r.UintN(256)), byte(r.UintN(256))}
			b := a
			k := 8 + r.IntN(24)
			b[k/8] ^= 0x80 >> (k % 8)
			pa := netip.MustParseAddr(p.Value(KindIP, netip.AddrFrom4(a).String())).As4()
			pb := netip.MustParseAddr(p.Value(KindIP, netip.AddrFrom4(b).String())).As4()
			if got := commonPrefix(pa[:], pb[:]); got != k {
				t.Fatalf("hide=%v: %v and %v share %d bits, pseudonyms %v %v share %d", hide, a, b, k, pa, pb, got)
			}
			if !hide && pa[0] != 10 {
				t.Fatalf("pseudonym %v left 10.0.0.0/8", pa)
			}
		}
	}
}

// rawValue makes a distinctive random value: upper-case letters never occur
// in pseudonyms (lower-case hex), so a match is a real leak.
func rawValue(r *rand.Rand, n int) string {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, n)
	for i := range b {
		b[i] = alpha[r.IntN(len(alpha))]
	}
	return string(b)
}

// containsAddr reports whether text contains addr as a whole token (not as
// part of a longer number such as 110.1.2.34).
func containsAddr(text, addr string) bool {
	for i := 0; ; {
		j := strings.Index(text[i:], addr)
		if j < 0 {
			return false
		}
		s, e := i+j, i+j+len(addr)
		digitish := func(c byte) bool { return c >= '0' && c <= '9' || c == '.' || c == ':' || c >= 'a' && c <= 'f' }
		if (s == 0 || !digitish(text[s-1])) && (e == len(text) || !digitish(text[e])) {
			return true
		}
		i = s + 1
	}
}

// TestEventNoRawValueLeaks is the property test of issue 5: random events
// whose personal values sit in configured fields, in free text and in the
// raw record; the serialized pseudonymized events (as an export or a
// training set would write them) contain none of the raw values.
func TestEventNoRawValueLeaks(t *testing.T) {
	for _, rawMode := range []string{RawDrop, RawScrub} {
		t.Run(rawMode, func(t *testing.T) {
			p, _, _, _ := newTestPseudonymizer(t, Config{Raw: rawMode, InternalNetworks: []string{"10.0.0.0/8", "192.168.0.0/16", "fd00::/8"},
				ExtraFields: map[string]Kind{"labels.owner": KindName}})
			r := rand.New(rand.NewPCG(5, 6))
			var training bytes.Buffer
			for i := range 400 {
				user, host, owner := rawValue(r, 4+r.IntN(8)), rawValue(r, 3+r.IntN(6))+".CORP.LOCAL", rawValue(r, 6)
				mail := strings.ToLower(rawValue(r, 6)) + "@" + strings.ToLower(rawValue(r, 5)) + ".example"
				ip4 := netip.AddrFrom4([4]byte{10, byte(r.UintN(256)), byte(r.UintN(256)), byte(1 + r.UintN(254))}).String()
				ip4b := netip.AddrFrom4([4]byte{192, 168, byte(r.UintN(256)), byte(1 + r.UintN(254))}).String()
				var v6 [16]byte
				v6[0] = 0xfd
				for j := 1; j < 16; j++ {
					v6[j] = byte(r.UintN(256))
				}
				ip6 := netip.AddrFrom16(v6).String()
				ev := event.New()
				ev.ID = fmt.Sprint(i)
				ev.Source = "syslog:" + host
				ev.Set("user.name", user)
				ev.Set("user.email", mail)
				ev.Set("host.name", host)
				ev.Set("labels.owner", owner)
				ev.Set("source.ip", ip4)
				ev.Set("destination.ip", "8.8.4.4")
				ev.Set("zeek.id.orig_h", ip4b) // not configured: found by parsing
				ev.Set("related.ip", []string{ip4, ip6})
				ev.Set("related.user", []string{user, strings.ToLower(user)})
				ev.Set("source.port", int64(r.IntN(65536)))
				msg := fmt.Sprintf("Accepted password for %s from %s port 22 ssh2; host=%s mail=<%s> v6=[%s] lb=%s:443 owner=%s peer=%s",
					user, ip4, host, mail, ip6, ip4b, owner, strings.ToLower(user))
				ev.Set("message", msg)
				ev.Set("process.command_line", "ssh "+user+"@"+ip4b)
				ev.Raw = []byte(`{"msg":"` + msg + `","u":"` + user + `"}`)
				out := p.Event(ev)
				b, err := json.Marshal(map[string]any{"id": out.ID, "source": out.Source, "fields": out.Nested(), "raw": string(out.Raw)})
				if err != nil {
					t.Fatal(err)
				}
				training.Write(b)
				training.WriteByte('\n')
				s := string(b)
				for _, v := range []string{user, strings.ToLower(user), host, strings.ToLower(host), mail, owner} {
					if strings.Contains(s, v) {
						t.Fatalf("event %d: output contains raw value %q:\n%s", i, v, s)
					}
				}
				for _, a := range []string{ip4, ip4b, ip6} {
					// Any permutation has fixed points (about one per
					// network for Crypto-PAn); the pseudonym of such an
					// address is the address itself, which is not a leak:
					// nobody can tell it from the others.
					if containsAddr(s, a) && p.Value(KindIP, a) != a {
						t.Fatalf("event %d: output contains raw address %s:\n%s", i, a, s)
					}
				}
				if !strings.Contains(s, "8.8.4.4") {
					t.Fatalf("event %d: external address was changed:\n%s", i, s)
				}
				if ev.Fields["user.name"] != user {
					t.Fatal("input event was modified")
				}
				// Consistency: the same entity has one pseudonym in fields and text.
				if pu := out.Fields["user.name"].(string); !strings.Contains(out.Fields["message"].(string), "for "+pu+" from "+out.Fields["source.ip"].(string)) {
					t.Fatalf("message and fields disagree: %q vs %q / %v", out.Fields["message"], pu, out.Fields["source.ip"])
				}
			}
			if training.Len() == 0 {
				t.Fatal("nothing written")
			}
		})
	}
}

func TestEventDropAndTypes(t *testing.T) {
	p, _, _, _ := newTestPseudonymizer(t, Config{DropFields: []string{"user.full_name"}, ExtraFields: map[string]Kind{"user.uid": KindName}})
	ev := event.New()
	ev.Set("user.full_name", "Alice Liddell")
	ev.Set("user.uid", int64(1001))
	ev.Set("event.outcome", "success")
	ev.Raw = []byte("raw alice")
	out := p.Event(ev)
	if _, ok := out.Fields["user.full_name"]; ok {
		t.Error("dropped field present")
	}
	if s, _ := out.Fields["user.uid"].(string); !strings.HasPrefix(s, "p_") {
		t.Errorf("numeric personal field = %v, want a p_ pseudonym", out.Fields["user.uid"])
	}
	if out.Fields["event.outcome"] != "success" {
		t.Errorf("non-personal field changed: %v", out.Fields["event.outcome"])
	}
	if out.Raw != nil {
		t.Errorf("raw kept in drop mode: %q", out.Raw)
	}
	if p.Event(nil) != nil {
		t.Error("Event(nil) != nil")
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{name: "defaults", cfg: Config{}},
		{name: "bad kind", cfg: Config{ExtraFields: map[string]Kind{"x": "phone"}}, wantErr: `invalid kind "phone"`},
		{name: "bad cidr", cfg: Config{InternalNetworks: []string{"10.0.0.0/33"}}, wantErr: "internal_networks"},
		{name: "bad raw", cfg: Config{Raw: "keep"}, wantErr: "privacy.raw"},
		{name: "negative", cfg: Config{TouchEvery: -1}, wantErr: "must not be negative"},
		{name: "all at once", cfg: Config{Raw: "keep", InternalNetworks: []string{"nope"}}, wantErr: "internal_networks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Validate() = %v, want %q", err, tc.wantErr)
			}
		})
	}
	if err := (Config{Raw: "keep", InternalNetworks: []string{"nope"}}).Validate(); !strings.Contains(err.Error(), "privacy.raw") {
		t.Errorf("not every problem reported: %v", err)
	}
}

func TestReidentify(t *testing.T) {
	p, _, audit, _ := newTestPseudonymizer(t, Config{ReidentifyRoles: []string{"admin", "responder"}})
	ev := event.New()
	ev.Set("user.name", "alice")
	ev.Set("source.ip", "10.9.8.7")
	out := p.Event(ev)
	pu, pip := out.Fields["user.name"].(string), out.Fields["source.ip"].(string)
	admin := WithRole(context.Background(), "admin")
	tests := []struct {
		name    string
		ctx     context.Context
		actor   string
		ps      string
		want    string
		wantErr error
		outcome string
	}{
		{name: "admin user", ctx: admin, actor: "tok:1", ps: pu, want: "alice", outcome: "allowed"},
		{name: "responder address with epoch", ctx: WithRole(context.Background(), "responder"), actor: "tok:2", ps: pip + "@1", want: "10.9.8.7", outcome: "allowed"},
		{name: "analyst denied", ctx: WithRole(context.Background(), "analyst"), actor: "tok:3", ps: pu, wantErr: ErrDenied, outcome: "denied"},
		{name: "no role denied", ctx: context.Background(), actor: "tok:4", ps: pu, wantErr: ErrDenied, outcome: "denied"},
		{name: "no actor denied", ctx: admin, actor: "", ps: pu, wantErr: ErrDenied, outcome: "denied"},
		{name: "unknown", ctx: admin, actor: "tok:1", ps: "u_00000000000000000000", wantErr: ErrNotFound, outcome: "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := len(audit.entries)
			got, err := p.Reidentify(tc.ctx, tc.ps, tc.actor)
			if !errors.Is(err, tc.wantErr) || got != tc.want {
				t.Fatalf("Reidentify = %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
			if len(audit.entries) != n+1 {
				t.Fatalf("%d audit entries written, want 1", len(audit.entries)-n)
			}
			e := audit.entries[n]
			if e.Outcome != tc.outcome || e.Actor != tc.actor || e.Pseudonym != tc.ps || e.Action != "privacy.reidentify" {
				t.Errorf("audit entry %+v, want outcome %s actor %s", e, tc.outcome, tc.actor)
			}
			if strings.Contains(fmt.Sprintf("%+v", e), "alice") {
				t.Error("audit entry holds the original")
			}
		})
	}
	audit.fail = errors.New("audit store down")
	if got, err := p.Reidentify(admin, pu, "tok:1"); err == nil || got != "" {
		t.Errorf("with failing audit got %q, %v; want no original and an error", got, err)
	}
	noAudit, _ := New(Config{Deps: Deps{Mappings: NewMemoryMappings()}}, NewMemoryKeyStore(t0))
	if _, err := noAudit.Reidentify(admin, pu, "tok:1"); !errors.Is(err, ErrDisabled) {
		t.Errorf("without audit func: %v, want ErrDisabled", err)
	}
}

// TestSealedMappingBound: a sealed value moved to another pseudonym's row
// does not open.
func TestSealedMappingBound(t *testing.T) {
	p, maps, _, _ := newTestPseudonymizer(t, Config{})
	a, b := p.Value(KindUser, "alice"), p.Value(KindUser, "bob")
	ctx := WithRole(context.Background(), "admin")
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ma, _ := maps.Get(ctx, 1, a)
	mb, _ := maps.Get(ctx, 1, b)
	maps.m[mapKey{1, b}] = Mapping{Epoch: 1, Pseudonym: b, Kind: KindUser, Sealed: ma.Sealed, LastSeen: mb.LastSeen}
	if got, err := p.Reidentify(ctx, b, "tok"); err == nil {
		t.Errorf("swapped sealed value opened as %q", got)
	}
}

// TestRotateContinuity: after rotation every entity has a new pseudonym;
// entities seen within the continuity window get a continuity entry (so a
// baseline can rename its state), older ones do not; both epochs stay
// re-identifiable.
func TestRotateContinuity(t *testing.T) {
	p, maps, _, clk := newTestPseudonymizer(t, Config{ContinuityWindow: 7 * 24 * time.Hour})
	ctx := WithRole(context.Background(), "admin")
	oldUser := p.Value(KindUser, "carol") // seen 10 days before rotation
	clk.Add(10 * 24 * time.Hour)
	u1, ip1 := p.Value(KindUser, "alice"), p.Value(KindIP, "10.1.2.3")
	h1 := p.Value(KindHost, "ws1")
	clk.Add(time.Hour)
	cont, err := p.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p.Epoch() != 2 {
		t.Fatalf("epoch %d, want 2", p.Epoch())
	}
	u2, ip2, h2 := p.Value(KindUser, "alice"), p.Value(KindIP, "10.1.2.3"), p.Value(KindHost, "ws1")
	for _, c := range [][2]string{{u1, u2}, {ip1, ip2}, {h1, h2}} {
		if c[0] == c[1] {
			t.Errorf("pseudonym %s unchanged by rotation", c[0])
		}
		if got := cont[c[0]]; got != c[1] {
			t.Errorf("continuity[%s] = %q, want %q", c[0], got, c[1])
		}
		if s, ok := p.Successor(c[0]); !ok || s != c[1] {
			t.Errorf("Successor(%s) = %q, %v", c[0], s, ok)
		}
	}
	if _, ok := cont[oldUser]; ok || len(cont) != 3 {
		t.Errorf("continuity = %v: want exactly the 3 entities seen within the window", cont)
	}
	if m, err := maps.Get(ctx, 2, u2); err != nil || m.Previous != u1 {
		t.Errorf("epoch 2 mapping of %s: %+v, %v; want Previous %s", u2, m, err, u1)
	}
	for ps, want := range map[string]string{u2: "alice", u1: "alice", oldUser: "carol", ip1 + "@1": "10.1.2.3", ip2 + "@2": "10.1.2.3"} {
		if got, err := p.Reidentify(ctx, ps, "tok"); err != nil || got != want {
			t.Errorf("Reidentify(%s) = %q, %v; want %q", ps, got, err, want)
		}
	}
	// Prefix structure holds in the new epoch too.
	a, b := netip.MustParseAddr(p.Value(KindIP, "10.1.2.3")).As4(), netip.MustParseAddr(p.Value(KindIP, "10.1.2.200")).As4()
	if commonPrefix(a[:], b[:]) != 24 {
		t.Errorf("epoch 2 pseudonyms %v %v do not share a /24", a, b)
	}
}

// TestRotateNeedsMappings: without a mapping store there is nothing to
// carry over, so rotation refuses rather than orphaning every baseline.
func TestRotateNeedsMappings(t *testing.T) {
	keys := NewMemoryKeyStore(t0)
	p, _ := New(Config{}, keys)
	if _, err := p.Rotate(context.Background()); !errors.Is(err, ErrDisabled) {
		t.Fatalf("Rotate = %v, want ErrDisabled", err)
	}
	if e, _ := keys.Current(); e.N != 1 {
		t.Errorf("keys rotated anyway: epoch %d", e.N)
	}
}

type failingMappings struct{ *MemoryMappings }

func (failingMappings) Put(context.Context, []Mapping) error { return errors.New("disk full") }

func TestFlushFailureKeepsPending(t *testing.T) {
	p, _ := New(Config{MaxPending: 2, Deps: Deps{Mappings: failingMappings{NewMemoryMappings()}}}, NewMemoryKeyStore(t0))
	for _, u := range []string{"a1a", "b2b", "c3c"} {
		p.Value(KindUser, u)
	}
	if err := p.Flush(context.Background()); err == nil {
		t.Fatal("flush error not reported")
	}
	if s := p.Stats(); s.Pending != 2 || s.MappingsDropped != 1 {
		t.Errorf("stats %+v, want 2 pending and 1 dropped", s)
	}
}

func TestReplaceTokens(t *testing.T) {
	kv := sortKnown([]knownValue{{"system", "U1"}, {"alice", "U2"}, {"alice.smith", "U3"}, {"fs03", "H1"}, {`corp\bob`, "U4"}})
	tests := []struct{ in, want string }{
		{`C:\Windows\System32\cmd.exe`, `C:\Windows\System32\cmd.exe`},
		{`user SYSTEM logged on`, `user U1 logged on`},
		{`Alice.Smith and alice and malice and alice_x`, `U3 and U2 and malice and alice_x`},
		{`\\FS03\C$ fs03.corp.lan FS033`, `\\H1\C$ H1.corp.lan FS033`},
		{`CORP\Bob: CORP\bobby`, `U4: CORP\bobby`},
		{`alice`, `U2`},
		{`ålice alice`, `ålice U2`},
		{`no match`, `no match`},
	}
	for _, tc := range tests {
		if got := replaceTokens(tc.in, kv); got != tc.want {
			t.Errorf("replaceTokens(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestReplaceAddrs(t *testing.T) {
	mark := func(s string) string { return "<" + s + ">" }
	tests := []struct{ in, want string }{
		{"from 10.1.2.3 port 22", "from <10.1.2.3> port 22"},
		{"10.1.2.3:443, 10.1.2.4.", "<10.1.2.3>:443, <10.1.2.4>."},
		{"[fd00::1]:8080 fe80::1%eth0 ::ffff:10.0.0.1", "[<fd00::1>]:8080 <fe80::1>%eth0 <::ffff:10.0.0.1>"},
		{"dead:beef:10.1.2.3", "dead:beef:<10.1.2.3>"},
		{"a10.1.2.3b", "a<10.1.2.3>b"},
		{"13:39:12.731903 v10.0.17763.1 1.2.3.4.5", "13:39:12.731903 v10.0.17763.1 <1.2.3.4>.5"}, // errs on the side of hiding
		{"10.1.2.345 256.1.1.1 1.2.3", "10.1.2.345 256.1.1.1 1.2.3"},
		{"2001:db8::1. end", "<2001:db8::1>. end"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := replaceAddrs(tc.in, mark); got != tc.want {
			t.Errorf("replaceAddrs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestAlertAndRoles(t *testing.T) {
	p, _, _, _ := newTestPseudonymizer(t, Config{})
	ev := event.New()
	ev.Set("user.name", "Administrator")
	ev.Set("host.name", "DC01.corp.lan")
	ev.Set("source.ip", "10.0.0.7")
	pev := p.Event(ev)
	a := alert.Alert{ID: "a1", Title: "Brute force on DC01 by Administrator",
		Entities:    []signal.Entity{{Kind: "user", Value: "Administrator"}, {Kind: "host", Value: "DC01.corp.lan"}, {Kind: "ip", Value: "10.0.0.7"}, {Kind: "process", Value: `C:\Users\Administrator\x.exe`}},
		EntityKey:   "user:administrator",
		Explanation: "30 failures for administrator from 10.0.0.7 on dc01.corp.lan",
		Details:     map[string]any{"users": []string{"Administrator"}, "n": int64(30), "deep": map[string]any{"src": "10.0.0.7", "odd": struct{}{}}},
		Verdict:     &alert.Verdict{Reason: "Administrator confirmed the login"},
		EventIDs:    []string{"e1"},
	}
	out := p.Alert(a)
	if out.Entities[0].Value != pev.Fields["user.name"] || out.Entities[1].Value != pev.Fields["host.name"] || out.Entities[2].Value != pev.Fields["source.ip"] {
		t.Errorf("alert entities %v do not match the event's pseudonyms %v", out.Entities, pev.Fields)
	}
	b, _ := json.Marshal(out)
	for _, raw := range []string{"administrator", "dc01", "10.0.0.7"} {
		if strings.Contains(strings.ToLower(string(b)), raw) {
			t.Errorf("pseudonymized alert contains %q: %s", raw, b)
		}
	}
	if a.Entities[0].Value != "Administrator" || a.Verdict.Reason != "Administrator confirmed the login" {
		t.Error("input alert modified")
	}
	if out.Details["n"] != int64(30) || out.ID != "a1" {
		t.Errorf("non-personal data changed: %+v", out)
	}
	for role, clear := range map[string]bool{"viewer": false, "analyst": false, "ingest": false, "": false, "responder": true, "admin": true} {
		if got := p.EventFor(role, ev) == ev; got != clear {
			t.Errorf("EventFor(%q) clear = %v, want %v", role, got, clear)
		}
		if got := p.AlertFor(role, a).Entities[0].Value == "Administrator"; got != clear {
			t.Errorf("AlertFor(%q) clear = %v, want %v", role, got, clear)
		}
	}
}

func TestLongValueNotMapped(t *testing.T) {
	p, maps, _, _ := newTestPseudonymizer(t, Config{})
	long := strings.Repeat("A", maxMappedValue+1)
	ps := p.Value(KindUser, long)
	if !strings.HasPrefix(ps, "u_") {
		t.Fatalf("long value pseudonym %q", ps)
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if maps.Len() != 0 || p.Stats().NotMapped != 1 {
		t.Errorf("mapping has %d entries, stats %+v; want none mapped and NotMapped 1", maps.Len(), p.Stats())
	}
}
