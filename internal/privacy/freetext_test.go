package privacy

import (
	"context"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/event"
)

func TestText(t *testing.T) {
	p, _, _, _ := newTestPseudonymizer(t, Config{})
	tests := []struct {
		name  string
		in    string
		known map[string]Kind
		gone  []string // raw values that must not survive
		kept  []string // text that must survive
	}{
		{name: "entity key", in: `high alert "SSH brute force" (rule) on host=ws7.corp.lan,ip=10.1.2.3,user=alice: 12 failures`,
			gone: []string{"ws7", "10.1.2.3", "alice"}, kept: []string{"SSH brute force", "12 failures", "host=h_", "user=u_"}},
		{name: "key=value log", in: "authentication failure; logname= uid=0 ruser=bob rhost=192.168.7.9 user=carol",
			gone: []string{"bob", "192.168.7.9", "carol"}, kept: []string{"authentication failure", "uid=0"}},
		{name: "value before a colon", in: `alert on host=ws7,user=alice.smith: alice.smith logged in`, gone: []string{"alice", "ws7"}},
		{name: "rhost name", in: "rhost=fs03.corp user=dave", gone: []string{"fs03.corp", "dave"}},
		{name: "e-mail and external address", in: "mail from eve@corp.example via 8.8.8.8",
			gone: []string{"eve@corp.example"}, kept: []string{"8.8.8.8"}},
		{name: "known actor", in: "false_positive by frank: frank checked it with Frankfurt", known: map[string]Kind{"frank": KindUser},
			gone: []string{"frank "}, kept: []string{"Frankfurt"}},
		{name: "nothing personal", in: "rules and indicator files reloaded", kept: []string{"rules and indicator files reloaded"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := p.Text(tc.in, tc.known)
			for _, g := range tc.gone {
				if strings.Contains(got, g) {
					t.Errorf("Text(%q) = %q still holds %q", tc.in, got, g)
				}
			}
			for _, k := range tc.kept {
				if !strings.Contains(got, k) {
					t.Errorf("Text(%q) = %q lost %q", tc.in, got, k)
				}
			}
		})
	}
}

// TestTextReidentifiable: pseudonyms made in free text are in the mapping.
func TestTextReidentifiable(t *testing.T) {
	p, _, _, _ := newTestPseudonymizer(t, Config{})
	out := p.Text("on user=alice", nil)
	ps := strings.TrimPrefix(out, "on user=")
	got, err := p.ReidentifyReason(WithRole(context.Background(), "admin"), ps, "token:admin", "case 7")
	if err != nil || got != "alice" {
		t.Fatalf("Reidentify(%s) = %q, %v; want alice", ps, got, err)
	}
}

func TestActor(t *testing.T) {
	p, _, _, _ := newTestPseudonymizer(t, Config{})
	for in, want := range map[string]string{
		"user:alice": "user:" + p.Value(KindUser, "alice"), "token:Alice": "token:" + p.Value(KindUser, "alice"),
		"component:pipeline": "component:pipeline", "token:": "token:", "": "",
	} {
		if got := p.Actor(in); got != want {
			t.Errorf("Actor(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRawAlwaysScrubbed(t *testing.T) {
	p, _, _, _ := newTestPseudonymizer(t, Config{}) // Raw: drop
	ev := event.New()
	ev.Set("user.name", "alice")
	ev.Set("host.name", "ws7")
	ev.Raw = []byte("Nov 27 10:00:00 ws7 sshd[1]: Accepted password for alice from 10.1.2.3")
	got := p.Raw(ev)
	for _, g := range []string{"alice", "ws7", "10.1.2.3"} {
		if strings.Contains(got, g) {
			t.Errorf("Raw = %q still holds %q", got, g)
		}
	}
	if !strings.Contains(got, "Accepted password for u_") {
		t.Errorf("Raw = %q: text around the values changed", got)
	}
	if p.Event(ev).Raw != nil {
		t.Error("Event dropped no raw record under raw: drop")
	}
}

func TestLine(t *testing.T) {
	p, _, _, _ := newTestPseudonymizer(t, Config{})
	ev := event.New()
	ev.Set("host.name", "combo")
	ev.Set("user.name", "guest")
	line := "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=10.3.4.5  user=guest"
	got := p.Line(ev, line)
	for _, g := range []string{"combo", "guest", "10.3.4.5"} {
		if strings.Contains(got, g) {
			t.Errorf("Line = %q still holds %q", got, g)
		}
	}
	if !strings.Contains(got, "user="+p.Value(KindUser, "guest")) || !strings.Contains(got, "uid=0 euid=0") {
		t.Errorf("Line = %q: want the field pseudonym in place and the rest kept", got)
	}
	// Name pseudonyms are not pseudonymized again (addresses would be: they
	// are addresses, so callers scrub a line once).
	if again := p.Line(nil, got); strings.Count(again, "u_") != 1 || !strings.Contains(again, "user="+p.Value(KindUser, "guest")) {
		t.Errorf("Line on its own output changed the user pseudonym: %q", again)
	}
}

func TestTextScrubber(t *testing.T) {
	p, _, _, _ := newTestPseudonymizer(t, Config{})
	known := Values("high alert on host=ws7.corp,user=alice,rhost=10.1.2.3")
	if len(known) != 2 || known["ws7.corp"] != KindHost || known["alice"] != KindUser {
		t.Fatalf("Values = %v", known)
	}
	sc := p.NewTextScrubber(known)
	for _, in := range []string{"benign: alice was on ws7 all day", "user=bob asked alice"} {
		got := sc.Text(in)
		if strings.Contains(got, "alice") || strings.Contains(got, "ws7") || strings.Contains(got, "bob") {
			t.Errorf("Text(%q) = %q", in, got)
		}
	}
}
