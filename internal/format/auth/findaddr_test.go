package auth

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format/fieldkit"
)

// refFindAddr is findAddr as it was before the in-place word walk (split
// with strings.Fields, address as fieldkit.SetIP stores it): the fast path
// must give the same answers.
func refFindAddr(msg string) (ip, port string) {
	fields := strings.Fields(msg)
	for i, f := range fields {
		f = strings.TrimPrefix(f, "rhost=")
		f = strings.Trim(f, "[](),;:'\"")
		if strings.IndexByte(f, '.') < 0 && strings.Count(f, ":") < 2 {
			continue
		}
		if !fieldkit.IsIP(f) {
			continue
		}
		if i+2 < len(fields) && fields[i+1] == "port" {
			port = strings.TrimRight(fields[i+2], ":.,")
			if j := strings.IndexByte(port, ':'); j >= 0 {
				port = port[:j]
			}
		}
		return canonIP(f), port
	}
	return "", ""
}

func canonIP(s string) string {
	ev := event.New()
	fieldkit.SetIP(ev, "source.ip", s)
	v, _ := ev.Fields["source.ip"].(string)
	return v
}

var findAddrCases = []string{
	"Failed password for root from 173.234.31.186 port 38926 ssh2",
	"Accepted publickey for bob from 2001:db8::1 port 22 ssh2",
	"Connection from ::ffff:10.0.0.1 port 4022 on 10.0.0.2 port 22",
	"reverse mapping checking getaddrinfo for x [187.141.143.180] failed - POSSIBLE BREAK-IN ATTEMPT!",
	"pam_unix(sshd:auth): authentication failure; logname= uid=0 rhost=112.95.230.3  user=root",
	"Received disconnect from 10.1.1.1 port 5555:11: Bye Bye [preauth]",
	"Failed password for x from 1.2.3.4 port",
	"Failed password for x from 1.2.3.4\u00a0port\u2003 22",
	"from 01.2.3.4 port 22 then 5.6.7.8 port 1:2",
	"\t\v from\r\n9.9.9.9 port\f7",
	"no address here: 1.2.3 fe80::1%eth0 port 2",
	"host ns.example.com [1.2.3.4] :: a:b: 10.0.0.1: port 9",
	"Connection from ::ffff:10.0.0.1 port 4022",
	"x.y\u00a01.2.3.4 port 5",
	"é 1.2.3.4 port 6",
	"rhost=2001:db8::1 port 22",
	"bad utf8 \xff 4.4.4.4 \xfe port 3",
	"",
	"   ",
}

func TestFindAddrMatchesFields(t *testing.T) {
	for _, msg := range findAddrCases {
		gi, gp := findAddr(msg)
		wi, wp := refFindAddr(msg)
		if gi != wi || gp != wp {
			t.Errorf("findAddr(%q) = %q, %q; want %q, %q", msg, gi, gp, wi, wp)
		}
		checkKnown(t, msg, wi, wp)
	}
}

// The whole Loghub OpenSSH sample, when present, through both.
func TestFindAddrMatchesFieldsCorpus(t *testing.T) {
	f, err := os.Open("testdata/golden/openssh.in")
	if err != nil {
		t.Skip("no openssh golden input:", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		msg := sc.Text()
		gi, gp := findAddr(msg)
		wi, wp := refFindAddr(msg)
		if gi != wi || gp != wp {
			t.Errorf("findAddr(%q) = %q, %q; want %q, %q", msg, gi, gp, wi, wp)
		}
		checkKnown(t, msg, wi, wp)
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("empty corpus")
	}
}

func FuzzFindAddr(f *testing.F) {
	for _, c := range findAddrCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		gi, gp := findAddr(msg)
		wi, wp := refFindAddr(msg)
		if gi != wi || gp != wp {
			t.Errorf("findAddr(%q) = %q, %q; want %q, %q", msg, gi, gp, wi, wp)
		}
		checkKnown(t, msg, wi, wp)
	})
}

// checkKnown: the address a process logged before, given as a hint, must
// not change the answer, whether or not the line holds it.
func checkKnown(t *testing.T, msg, wi, wp string) {
	t.Helper()
	for _, known := range []string{wi, "1.2.3.4", "2001:db8::1", "10.0.0.1"} {
		if gi, gp := findAddrKnown(msg, known); gi != wi || gp != wp {
			t.Errorf("findAddrKnown(%q, %q) = %q, %q; want %q, %q", msg, known, gi, gp, wi, wp)
		}
	}
}

func TestTrimPunct(t *testing.T) {
	for _, s := range []string{"", "[", "[]", "[1.2.3.4]", "'a'", "(x),;:", "\"é\"", "]é[", "a:b", "::1", ";;"} {
		if got, want := trimPunct(s), strings.Trim(s, "[](),;:'\""); got != want {
			t.Errorf("trimPunct(%q) = %q, want %q", s, got, want)
		}
	}
}

// TestWordHelpers: the allocation-free helpers agree with the expressions
// they replace.
func TestWordHelpers(t *testing.T) {
	for _, s := range []string{"", " ", "  a b", "a\tb", "\ta", "é x", "ab", " é\tx y"} {
		want := strings.TrimLeft(s, " ")
		if i := strings.IndexAny(want, " \t"); i >= 0 {
			want = want[:i]
		}
		if got := firstWord(s); got != want {
			t.Errorf("firstWord(%q) = %q, want %q", s, got, want)
		}
	}
	for _, app := range []string{"", "sshd", "sshd(pam_unix)", "sshd(pam", "/usr/sbin/sshd(pam_unix)", "(pam_unix)", "su(pam_x)", "sudo(pam_unix)"} {
		for _, prog := range []string{"", "sshd", "su", "sudo"} {
			if got, want := pamApp([]byte(app), prog), strings.HasPrefix(app, prog+"(pam_"); got != want {
				t.Errorf("pamApp(%q, %q) = %v, want %v", app, prog, got, want)
			}
		}
	}
}
