package syslog

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	_ "github.com/rampart-ids/rampart/internal/format/auth"
	_ "github.com/rampart-ids/rampart/internal/format/syslog"
)

// TestLoggerToEvents is the contract with the format package: a real
// client's sshd message, received over each transport, auto-detects as a
// Linux auth event with the fields docs/fields.md promises.
func TestLoggerToEvents(t *testing.T) {
	logger := need(t, "logger")
	srv, s, stop := start(t, Config{})
	udp, tcp := strconv.Itoa(srv.UDPAddr().Port), strconv.Itoa(srv.TCPAddr().Port)
	transports := [][]string{
		{"--udp", "--port", udp, "--rfc3164"},
		{"--udp", "--port", udp, "--rfc5424"},
		{"--tcp", "--port", tcp, "--rfc5424", "--octet-count"},
		{"--tcp", "--port", tcp, "--rfc3164"},
	}
	for i, tr := range transports {
		msg := fmt.Sprintf("Failed password for invalid user admin%d from 203.0.113.%d port 5123%d ssh2", i, i+1, i)
		args := append([]string{"--server", "127.0.0.1", "-t", "sshd", "-p", "authpriv.info", "--id=4242"}, tr...)
		if out, err := exec.Command(logger, append(args, msg)...).CombinedOutput(); err != nil {
			t.Fatalf("logger %v: %v: %s", tr, err, out)
		}
	}
	waitFor(t, "all messages", func() bool { return len(s.snapshot()) == len(transports) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	type fields struct {
		Dataset, Outcome, User, IP, Process string
	}
	got := map[string]fields{}
	for _, r := range s.snapshot() {
		ev := event.New()
		if err := format.NewAuto(format.Options{}).Parse(r.Data, ev); err != nil {
			t.Errorf("%s record %q: %v", r.Source, r.Data, err)
			continue
		}
		str := func(k string) string { v, _ := ev.GetString(k); return v }
		user := str("user.name")
		got[user] = fields{str("event.dataset"), str("event.outcome"), user, str("source.ip"), str("process.name")}
	}
	want := map[string]fields{}
	for i := range transports {
		u := "admin" + strconv.Itoa(i)
		want[u] = fields{"system.auth", "failure", u, "203.0.113." + strconv.Itoa(i+1), "sshd"}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
		for _, r := range s.snapshot() {
			t.Logf("%s %q", r.Source, strings.TrimSpace(string(r.Data)))
		}
	}
}
