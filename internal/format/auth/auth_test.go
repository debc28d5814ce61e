package auth_test

import (
	"encoding/csv"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/format/auth"
	"github.com/rampart-ids/rampart/internal/format/formattest"
	_ "github.com/rampart-ids/rampart/internal/format/syslog"
	"github.com/rampart-ids/rampart/internal/testutil"
)

func TestGolden(t *testing.T) { formattest.Golden(t, auth.Name) }

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		lines   []string // earlier lines feed the pid table; the last is checked
		want    map[string]any
		wantErr string
	}{
		{
			name:  "failed password invalid user",
			lines: []string{"Dec 10 07:07:45 LabSZ sshd[24206]: Failed password for invalid user test9 from 52.80.34.196 port 36060 ssh2"},
			want: map[string]any{"event.action": "ssh_login", "event.outcome": "failure", "user.name": "test9", "ssh.invalid_user": true,
				"source.ip": "52.80.34.196", "source.port": int64(36060), "ssh.method": "password", "process.name": "sshd",
				"process.pid": int64(24206), "event.dataset": "system.auth", "host.hostname": "LabSZ"},
		},
		{
			name:  "accepted publickey",
			lines: []string{"Dec 10 09:00:00 h sshd[1]: Accepted publickey for root from 10.1.2.3 port 22 ssh2: RSA SHA256:x"},
			want:  map[string]any{"event.action": "ssh_login", "event.outcome": "success", "ssh.method": "publickey", "user.name": "root", "source.ip": "10.1.2.3"},
		},
		{
			name: "preauth max auth attributed by pid",
			lines: []string{
				"Dec 10 07:13:43 LabSZ sshd[24227]: Failed password for root from 5.36.59.76 port 42393 ssh2",
				"Dec 10 07:13:50 LabSZ sshd[99999]: Failed password for root from 9.9.9.9 port 1 ssh2",
				"Dec 10 07:13:56 LabSZ sshd[24227]: Disconnecting: Too many authentication failures for root [preauth]",
			},
			want: map[string]any{"event.action": "ssh_preauth_max_auth", "event.outcome": "failure", "user.name": "root",
				"source.ip": "5.36.59.76", "source.port": int64(42393), "source.attributed": true},
		},
		{
			name:  "no earlier address",
			lines: []string{"Dec 10 07:13:56 LabSZ sshd[1]: Disconnecting: Too many authentication failures for root [preauth]"},
			want:  map[string]any{"event.action": "ssh_preauth_max_auth", "source.ip": nil},
		},
		{
			name:  "received disconnect",
			lines: []string{"Dec 10 07:07:45 LabSZ sshd[24206]: Received disconnect from 52.80.34.196: 11: Bye Bye [preauth]"},
			want:  map[string]any{"event.action": "ssh_disconnect", "source.ip": "52.80.34.196"},
		},
		{
			name:  "pam rhost and user",
			lines: []string{"Dec 10 06:55:48 LabSZ sshd[24200]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=173.234.31.186  user=root"},
			want:  map[string]any{"event.action": "pam_auth_failure", "event.outcome": "failure", "user.name": "root", "source.ip": "173.234.31.186", "pam.service": "sshd"},
		},
		{
			name:  "sudo command",
			lines: []string{"Nov 27 09:01:02 web1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id -u"},
			want: map[string]any{"event.action": "sudo_command", "event.outcome": "success", "user.name": "alice", "user.effective.name": "root",
				"sudo.tty": "pts/0", "sudo.pwd": "/home/alice", "process.command_line": "/usr/bin/id -u"},
		},
		{
			name:  "su session",
			lines: []string{"Jun 15 04:06:18 combo su(pam_unix)[21416]: session opened for user cyrus by (uid=0)"},
			want:  map[string]any{"event.action": "su_session", "event.outcome": "success", "user.effective.name": "cyrus"},
		},
		{name: "not auth", lines: []string{"Nov 27 09:08:00 web1 kernel: eth0 up"}, wantErr: "not_auth"},
		{name: "not syslog", lines: []string{"hello"}, wantErr: "invalid_syslog"},
	}
	f, _ := format.Lookup(auth.Name)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := f.NewParser(formattest.Opts())
			var err error
			ev := event.New()
			for _, l := range tc.lines {
				ev.Reset()
				err = p.Parse([]byte(l), ev)
			}
			if tc.wantErr != "" {
				re, ok := err.(*format.RecordError)
				if !ok || re.Reason != tc.wantErr {
					t.Fatalf("got %v, want reason %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			formattest.CheckTypes(t, ev)
			for k, want := range tc.want {
				if diff := cmp.Diff(want, ev.Fields[k]); diff != "" {
					t.Errorf("field %s (-want +got):\n%s", k, diff)
				}
			}
		})
	}
}

// TestPidTableBounded checks the sshd pid table stays within MaxPids.
func TestPidTableBounded(t *testing.T) {
	f, _ := format.Lookup(auth.Name)
	p := f.NewParser(formattest.Opts())
	ev := event.New()
	for i := range auth.MaxPids + 100 {
		ev.Reset()
		line := "Dec 10 07:13:43 h sshd[" + itoa(i) + "]: Failed password for root from 10.0.0.1 port 1 ssh2"
		if err := p.Parse([]byte(line), ev); err != nil {
			t.Fatal(err)
		}
	}
	ev.Reset()
	_ = p.Parse([]byte("Dec 10 07:13:56 h sshd[0]: Disconnecting: Too many authentication failures [preauth]"), ev)
	if _, ok := ev.Fields["source.ip"]; ok {
		t.Errorf("pid 0 should have been evicted")
	}
	ev.Reset()
	_ = p.Parse([]byte("Dec 10 07:13:56 h sshd["+itoa(auth.MaxPids+99)+"]: Disconnecting: Too many authentication failures [preauth]"), ev)
	if ev.Fields["source.ip"] != "10.0.0.1" {
		t.Errorf("recent pid lost its address: %v", ev.Fields)
	}
}

func itoa(i int) string { return string(appendInt(nil, i)) }

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

// TestOpenSSHCorpus: every line of OpenSSH_2k parses as auth, and every
// failure (per the derived auth labels) carries a source address.
func TestOpenSSHCorpus(t *testing.T) {
	dir := testutil.SharedData(t, "loghub-2k/OpenSSH")
	data, err := os.ReadFile(dir + "/OpenSSH_2k.log")
	if err != nil {
		t.Fatal(err)
	}
	res, st := formattest.DecodeAll(t, data, format.DecoderOptions{Parse: formattest.Opts()})
	if st.Events != 2000 || st.Formats["auth"] != 2000 {
		t.Fatalf("stats %+v, want 2000 auth events", st)
	}
	withIP := 0
	for _, r := range res {
		if r.Fields["source.ip"] != nil {
			withIP++
		}
		if r.Fields["event.outcome"] == "failure" && r.Fields["source.ip"] == nil && r.Fields["source.domain"] == nil {
			t.Errorf("%s: failure without source: %v", r.Pos, r.Fields["message"])
		}
	}
	t.Logf("%d of 2000 lines carry source.ip", withIP)
	if withIP < 1990 {
		t.Errorf("only %d lines carry source.ip", withIP)
	}
}

func TestLinuxCorpus(t *testing.T) {
	dir := testutil.SharedData(t, "loghub-2k/Linux")
	data, err := os.ReadFile(dir + "/Linux_2k.log")
	if err != nil {
		t.Fatal(err)
	}
	_, st := formattest.DecodeAll(t, data, format.DecoderOptions{Parse: formattest.Opts()})
	if st.Quarantined != 0 || st.Events != 2000 {
		t.Errorf("stats %+v", st)
	}
	if st.Formats["auth"] < 800 || st.Formats["syslog"] < 800 {
		t.Errorf("formats %v: want both auth and syslog", st.Formats)
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/golden/openssh.in", "testdata/golden/synthetic.in", "testdata/golden/linux.in"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range formattest.Lines(data) {
			f.Add(l)
		}
	}
	fm, _ := format.Lookup(auth.Name)
	f.Fuzz(func(t *testing.T, rec []byte) { formattest.FuzzParse(t, fm, rec) })
}

func BenchmarkParseAuth(b *testing.B) {
	data, err := os.ReadFile("testdata/golden/openssh.in")
	if err != nil {
		b.Fatal(err)
	}
	recs := formattest.Lines(data)
	fm, _ := format.Lookup(auth.Name)
	p := fm.NewParser(formattest.Opts())
	ev := event.New()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		ev.Reset()
		if err := p.Parse(recs[n%len(recs)], ev); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

// TestOpenSSHLabels compares the parse of OpenSSH_2k with the derived
// per-line auth categories (loghub-2k/_derived/OpenSSH_2k_auth_labels.csv):
// outcome/action per category, and the source address where the label has one.
func TestOpenSSHLabels(t *testing.T) {
	dir := testutil.SharedData(t, "loghub-2k")
	data, err := os.ReadFile(dir + "/OpenSSH/OpenSSH_2k.log")
	if err != nil {
		t.Fatal(err)
	}
	lf, err := os.Open(dir + "/_derived/OpenSSH_2k_auth_labels.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	rows, err := csv.NewReader(lf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	res, _ := formattest.DecodeAll(t, data, format.DecoderOptions{Parse: formattest.Opts()})
	if len(res) != len(rows)-1 {
		t.Fatalf("%d events, %d labels", len(res), len(rows)-1)
	}
	agree, ipAgree, ipTotal := 0, 0, 0
	for i, row := range rows[1:] {
		f := res[i].Fields
		action, _ := f["event.action"].(string)
		ok := false
		switch row[2] {
		case "auth_failure":
			ok = f["event.outcome"] == "failure"
		case "auth_success":
			ok = f["event.outcome"] == "success"
		case "invalid_user":
			ok = action == "ssh_invalid_user" || f["ssh.invalid_user"] == true
		case "disconnect":
			ok = action == "ssh_disconnect"
		case "break_in_warning":
			ok = action == "ssh_reverse_mapping_failed"
		case "scan_no_ident":
			ok = action == "ssh_bad_protocol"
		case "session":
			ok = strings.Contains(action, "session")
		}
		if ok {
			agree++
		} else if testing.Verbose() {
			t.Logf("line %s %s: action %q outcome %v: %v", row[0], row[2], action, f["event.outcome"], f["message"])
		}
		if row[3] != "" {
			ipTotal++
			if f["source.ip"] == row[3] {
				ipAgree++
			} else {
				t.Logf("line %s: source.ip %v, label %s: %v", row[0], f["source.ip"], row[3], f["message"])
			}
		}
	}
	t.Logf("category agreement %d/%d, source.ip agreement %d/%d", agree, len(rows)-1, ipAgree, ipTotal)
	// One label takes the leading digits of an rhost hostname
	// ("5.36.59.76.dynamic-dsl-ip…") as the address; the parser keeps it as source.domain.
	if agree < (len(rows)-1)*995/1000 || ipAgree < ipTotal-1 {
		t.Errorf("category agreement %d/%d, source.ip %d/%d", agree, len(rows)-1, ipAgree, ipTotal)
	}
}
