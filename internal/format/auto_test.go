package format_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/format/formattest"
)

// TestAutoMixed feeds one stream mixing every format: each record must be
// detected as its own format, and stream state (the Zeek header, the sshd
// pid table) must survive the switches between formats.
func TestAutoMixed(t *testing.T) {
	lines := []struct{ rec, want string }{
		{`{"EventID":"4624","Channel":"Security","Provider":"Microsoft-Windows-Security-Auditing","EventData":{"TargetUserName":"u"}}`, "windows"},
		{`{"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational"},"EventData":{"Image":"x"}}}`, "windows"},
		{`{"@timestamp":"2023-01-05T09:12:00Z","winlog":{"channel":"Security","event_id":4625}}`, "windows"},
		{"#separator \\x09", "-"},
		{"#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto", "-"},
		{"#types\ttime\tstring\taddr\tport\taddr\tport\tenum", "-"},
		{"1655071198.444458\tC1\t10.0.0.1\t5000\t10.0.0.2\t22\ttcp", "zeek"},
		{"Dec 10 07:13:43 LabSZ sshd[24227]: Failed password for root from 5.36.59.76 port 42393 ssh2", "auth"},
		{"1655071199.444458\tC2\t10.0.0.1\t5001\t10.0.0.2\t22\ttcp", "zeek"},
		{"Dec 10 07:13:44 LabSZ kernel: eth0 link up", "syslog"},
		{"Dec 10 07:13:56 LabSZ sshd[24227]: Disconnecting: Too many authentication failures for root [preauth]", "auth"},
		{`{"timestamp":"2017-04-07T22:24:37.251547+0100","event_type":"alert","src_ip":"1.2.3.4","dest_ip":"5.6.7.8","alert":{"signature":"x","signature_id":1}}`, "eve"},
		{`{"ts":1663683561.702855,"uid":"Cw","id.orig_h":"10.0.83.193","id.orig_p":33728,"id.resp_h":"172.16.1.49","id.resp_p":22}`, "zeek"},
		{`{"class_uid":3002,"time":1700000000123,"user":{"name":"a"}}`, "ocsf"},
		{`{"@timestamp":"2023-05-01T12:00:00Z","event":{"module":"system"},"message":"m"}`, "ecs"},
		{`{"some":"json"}`, "ecs"},
		{`127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "-" "curl"`, "web"},
		{`<34>1 2003-10-11T22:14:15.003Z mymachine app - ID47 - hello`, "syslog"},
		{`<38>Oct 11 22:14:15 mymachine sudo:  alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/ls`, "auth"},
		{"just some words", "!unknown_format"},
	}
	var in strings.Builder
	var want []string
	for _, l := range lines {
		in.WriteString(l.rec + "\n")
		if l.want != "-" {
			want = append(want, l.want)
		}
	}
	res, st := formattest.DecodeAll(t, []byte(in.String()), format.DecoderOptions{Parse: formattest.Opts()})
	var got []string
	for _, r := range res {
		if r.Error != "" {
			got = append(got, "!"+r.Error)
		} else {
			got = append(got, r.Format)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("formats (-want +got):\n%s", diff)
	}
	if st.NoEvent != 3 {
		t.Errorf("no-event records %d, want 3 (zeek headers)", st.NoEvent)
	}
	// The preauth line got its address through the pid table across other formats.
	for _, r := range res {
		if r.Fields["event.action"] == "ssh_preauth_max_auth" && r.Fields["source.ip"] != "5.36.59.76" {
			t.Errorf("preauth line not attributed: %v", r.Fields)
		}
	}
}
