package auth_test

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/format/auth"
	"github.com/rampart-ids/rampart/internal/format/formattest"
)

// claimSeeds are lines on the edge of Sniff's claim: not syslog, syslog of
// another program, invalid UTF-8 in header and message, blank.
var claimSeeds = []string{
	"",
	"   ",
	"hello world",
	"Dec 10 06:55:46 LabSZ cron[24200]: job done",
	"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
	"Dec 10 06:55:46 LabSZ sshd[24200]: Failed password for root from 1.2.3.4 port 22 ssh2 \xff\xfe",
	"Dec 10 06:55:46 Lab\xffSZ sshd[24200]: Failed password for root from 1.2.3.4 port 22 ssh2",
	"Dec 10 06:55:46 LabSZ ss\xffhd[24200]: Failed password for root from 1.2.3.4 port 22 ssh2",
	"Dec 10 06:55:46 LabSZ foo[1]: pam_unix(foo:auth): authentication failure; rhost=5.6.7.8 user=bob",
	"<38>1 2024-01-02T03:04:05Z host sshd 77 - - Accepted password for alice from 10.0.0.1 port 5000 ssh2",
	"De\xff 10 06:55:46 LabSZ sshd[24200]: Failed password for root from 1.2.3.4 port 22 ssh2",
}

// parseBySniff is Auto's locked path without ClaimParser: Sniff, then Parse.
func parseBySniff(fm format.Format, p format.Parser, rec []byte, ev *event.Event) (bool, error) {
	if fm.Sniff(rec) < format.LockScore {
		return false, nil
	}
	return true, p.Parse(rec, ev)
}

// TestParseClaimedMatchesSniff: over the golden inputs and the edge seeds,
// in stream order (the sshd pid table carries state), ParseClaimed claims
// exactly the lines Sniff scores at LockScore or more and fills the same
// event with the same error as Parse.
func TestParseClaimedMatchesSniff(t *testing.T) {
	var lines [][]byte
	for _, p := range []string{"testdata/golden/openssh.in", "testdata/golden/synthetic.in", "testdata/golden/linux.in"} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, formattest.Lines(data)...)
	}
	for _, s := range claimSeeds {
		lines = append(lines, []byte(s))
	}
	fm, _ := format.Lookup(auth.Name)
	ref := fm.NewParser(formattest.Opts())
	got := fm.NewParser(formattest.Opts()).(format.ClaimParser)
	claimed := 0
	for _, l := range lines {
		compareClaim(t, fm, ref, got, l)
		if fm.Sniff(l) >= format.LockScore {
			claimed++
		}
	}
	if claimed < len(lines)/2 {
		t.Fatalf("only %d of %d lines claimed: the comparison tested little", claimed, len(lines))
	}
}

func compareClaim(t *testing.T, fm format.Format, ref format.Parser, got format.ClaimParser, rec []byte) {
	t.Helper()
	evRef, evGot := event.New(), event.New()
	okRef, errRef := parseBySniff(fm, ref, rec, evRef)
	okGot, errGot := got.ParseClaimed(rec, evGot)
	if okRef != okGot || (errRef == nil) != (errGot == nil) || (errRef != nil && errRef.Error() != errGot.Error()) {
		t.Fatalf("%q: claimed %v err %v, want %v err %v", rec, okGot, errGot, okRef, errRef)
	}
	if !okGot && len(evGot.Fields) != 0 {
		t.Fatalf("%q: unclaimed line wrote fields %v", rec, evGot.Fields)
	}
	if d := cmp.Diff(evRef, evGot); d != "" {
		t.Fatalf("%q: event differs (-Parse +ParseClaimed):\n%s", rec, d)
	}
}

func FuzzParseClaimed(f *testing.F) {
	for _, s := range claimSeeds {
		f.Add([]byte(s))
	}
	fm, _ := format.Lookup(auth.Name)
	f.Fuzz(func(t *testing.T, rec []byte) {
		compareClaim(t, fm, fm.NewParser(formattest.Opts()), fm.NewParser(formattest.Opts()).(format.ClaimParser), rec)
	})
}
