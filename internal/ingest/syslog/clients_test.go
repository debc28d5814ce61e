package syslog

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests drive the server with real syslog clients: util-linux logger
// and rsyslogd. They skip when the programs are missing.

func need(t *testing.T, prog string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		t.Skipf("%s not installed (util-linux logger / Debian package rsyslog): %v", prog, err)
	}
	return p
}

var (
	rfc3164 = regexp.MustCompile(`^<13>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \S+ rampart-test(\[\d+\])?: `)
	rfc5424 = regexp.MustCompile(`^<13>1 \d{4}-\d\d-\d\dT\S+ \S+ rampart-test \S+ \S+ `)
)

func TestLogger(t *testing.T) {
	logger := need(t, "logger")
	srv, s, stop := start(t, Config{})
	udpPort := strconv.Itoa(srv.UDPAddr().Port)
	tcpPort := strconv.Itoa(srv.TCPAddr().Port)
	tests := []struct {
		name string
		args []string
		re   *regexp.Regexp
	}{
		{"udp rfc3164", []string{"--udp", "--port", udpPort, "--rfc3164"}, rfc3164},
		{"udp rfc5424", []string{"--udp", "--port", udpPort, "--rfc5424"}, rfc5424},
		{"tcp rfc5424 octet", []string{"--tcp", "--port", tcpPort, "--rfc5424", "--octet-count"}, rfc5424},
		{"tcp rfc3164 octet", []string{"--tcp", "--port", tcpPort, "--rfc3164", "--octet-count"}, rfc3164},
		{"tcp rfc5424 newline", []string{"--tcp", "--port", tcpPort, "--rfc5424"}, rfc5424},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := fmt.Sprintf("Failed password for root from 10.0.0.%d port 22 ssh2 case=%d", i+1, i)
			args := append([]string{"--server", "127.0.0.1", "-t", "rampart-test", "-p", "user.notice"}, tc.args...)
			out, err := exec.Command(logger, append(args, msg)...).CombinedOutput()
			if err != nil {
				t.Fatalf("logger %v: %v: %s", args, err, out)
			}
			var got string
			waitFor(t, "message from logger", func() bool {
				for _, d := range s.data() {
					if strings.HasSuffix(d, msg) {
						got = d
						return true
					}
				}
				return false
			})
			if !tc.re.MatchString(got) {
				t.Errorf("message %q does not match %s", got, tc.re)
			}
		})
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, r := range s.snapshot() {
		if r.Host != "127.0.0.1" || r.Format != "" {
			t.Errorf("record host %q format %q, want 127.0.0.1 and auto", r.Host, r.Format)
		}
	}
}

// TestRsyslogForward runs an rsyslogd in the foreground with its own config:
// messages written to its imuxsock socket are forwarded with omfwd to the
// server over TCP (octet-counted) and over UDP.
func TestRsyslogForward(t *testing.T) {
	rsyslogd := need(t, "rsyslogd")
	logger := need(t, "logger")
	if testing.Short() {
		t.Skip("starts rsyslogd; skipped with -short")
	}
	srv, s, stop := start(t, Config{})
	dir := t.TempDir()
	sock := filepath.Join(dir, "log.sock")
	conf := filepath.Join(dir, "rsyslog.conf")
	cfg := fmt.Sprintf(`global(workDirectory=%q)
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket=%q CreatePath="on")
action(type="omfwd" target="127.0.0.1" port="%d" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
action(type="omfwd" target="127.0.0.1" port="%d" protocol="udp" template="RSYSLOG_TraditionalForwardFormat")
`, dir, sock, srv.TCPAddr().Port, srv.UDPAddr().Port)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(rsyslogd, "-N1", "-f", conf).CombinedOutput(); err != nil {
		t.Fatalf("rsyslogd rejects config: %v: %s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, rsyslogd, "-n", "-f", conf, "-i", filepath.Join(dir, "rsyslogd.pid"))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	waitFor(t, "rsyslogd socket", func() bool { _, err := os.Stat(sock); return err == nil })

	msg := "sudo: alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/cat /etc/shadow"
	out, err := exec.Command(logger, "-u", sock, "-t", "rampart-test", "-p", "authpriv.notice", msg).CombinedOutput()
	if err != nil {
		t.Fatalf("logger to rsyslogd: %v: %s", err, out)
	}
	var tcp, udp string
	waitFor(t, "forwarded over tcp and udp", func() bool {
		for _, r := range s.snapshot() {
			if !strings.HasSuffix(string(r.Data), msg) {
				continue
			}
			switch r.Source {
			case SourceTCP:
				tcp = string(r.Data)
			case SourceUDP:
				udp = string(r.Data)
			}
		}
		return tcp != "" && udp != ""
	})
	t.Logf("tcp: %q", tcp)
	t.Logf("udp: %q", udp)
	// authpriv.notice = 10*8+5 = 85.
	if !strings.HasPrefix(tcp, "<85>1 ") {
		t.Errorf("tcp (RFC 5424) message %q", tcp)
	}
	if !regexp.MustCompile(`^<85>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \S+ rampart-test`).MatchString(udp) {
		t.Errorf("udp (RFC 3164) message %q", udp)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
