package syslog

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	gosyslog "github.com/leodido/go-syslog/v4"
	"github.com/leodido/go-syslog/v4/octetcounting"
	"github.com/leodido/go-syslog/v4/rfc5424"
	"go.yaml.in/yaml/v3"

	"github.com/rampart-ids/rampart/internal/output"
	"github.com/rampart-ids/rampart/internal/output/outputtest"
)

var fixedNow = func() time.Time { return time.Date(2026, 11, 27, 10, 0, 0, 500000000, time.UTC) }

// udpReceiver is a real UDP socket returning each datagram.
func udpReceiver(t *testing.T) (string, func() string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	buf := make([]byte, 70000)
	return pc.LocalAddr().String(), func() string {
		t.Helper()
		_ = pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("reading datagram: %v", err)
		}
		return string(buf[:n])
	}
}

func parse5424(t *testing.T, raw string) *rfc5424.SyslogMessage {
	t.Helper()
	m, err := rfc5424.NewParser().Parse([]byte(raw))
	if err != nil {
		t.Fatalf("not valid RFC 5424: %v\n%s", err, raw)
	}
	return m.(*rfc5424.SyslogMessage)
}

func TestRFC5424OverUDP(t *testing.T) {
	addr, recv := udpReceiver(t)
	o, err := New(Config{Address: addr, Hostname: "rampart host", Facility: "local4"}, output.Deps{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	as := outputtest.Alerts()
	if err := o.Send(context.Background(), as); err != nil {
		t.Fatal(err)
	}
	first, second := recv(), recv()

	m := parse5424(t, first)
	if *m.Priority != 20*8+3 || *m.Facility != 20 || *m.Severity != 3 {
		t.Errorf("priority %d facility %d severity %d, want local4.err", *m.Priority, *m.Facility, *m.Severity)
	}
	if *m.Hostname != "ramparthost" {
		t.Errorf("hostname %q, want spaces removed", *m.Hostname)
	}
	if *m.Appname != "rampart" || *m.MsgID != "alert" || m.Timestamp.UnixNano() != fixedNow().UnixNano() {
		t.Errorf("header app=%q msgid=%q ts=%v", *m.Appname, *m.MsgID, m.Timestamp)
	}
	sd := (*m.StructuredData)["rampart@32473"]
	want := map[string]string{
		"id": "a1b2c3", "rule_id": "ioc:example", "level": "high", "detector": "ioc", "layer": "rules",
		"rule_version": "0123456789ab", "score": "1", "count": "2",
		"first_seen": "2026-11-27T09:30:00.123456Z", "last_seen": "2026-11-27T09:31:00.123456Z",
		"entity": "host=ws1", // the parser keeps the last of repeated params
	}
	for k, v := range want {
		if sd[k] != v {
			t.Errorf("sd %s = %q, want %q", k, sd[k], v)
		}
	}
	if !strings.Contains(first, ` entity="ip=192.0.2.66" entity="host=ws1"]`) {
		t.Errorf("repeated entity params missing: %s", first)
	}
	if *m.Message != as[0].Title+": "+as[0].Explanation {
		t.Errorf("message %q", *m.Message)
	}

	// The hostile alert: SD escaping must round-trip through a real parser.
	m = parse5424(t, second)
	sd = (*m.StructuredData)["rampart@32473"]
	if sd["rule_id"] != `rule|with=odd"chars]` || sd["level"] != "critical" || sd["techniques"] != "T1059.001" || sd["entity"] != "ip=2001:db8::1" {
		t.Errorf("sd %v", sd)
	}
	if !strings.Contains(second, `rule_id="rule|with=odd\"chars\]"`) || !strings.Contains(second, `entity="user=DOM\\adm=in"`) {
		t.Errorf("raw escaping wrong: %s", second)
	}
	if *m.Severity != 2 {
		t.Errorf("severity %d, want 2 (crit)", *m.Severity)
	}
	wantMsg := "Pipe | back\\slash = \"quote\" ]bracket newline é: line1 line2 | a=b \\ c ] \"q\""
	if *m.Message != wantMsg {
		t.Errorf("message %q, want %q", *m.Message, wantMsg)
	}
}

func TestTruncation(t *testing.T) {
	addr, recv := udpReceiver(t)
	o, err := New(Config{Address: addr, MaxMessageBytes: 480}, output.Deps{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	as := outputtest.Alerts()[:1]
	as[0].Explanation = strings.Repeat("é", 1000)
	for range 40 {
		as[0].Entities = append(as[0].Entities, as[0].Entities[0])
	}
	if err := o.Send(context.Background(), as); err != nil {
		t.Fatal(err)
	}
	raw := recv()
	if len(raw) > 480 {
		t.Errorf("message %d bytes, want ≤ 480", len(raw))
	}
	m := parse5424(t, raw)
	if sd := (*m.StructuredData)["rampart@32473"]; sd["id"] != "a1b2c3" || sd["rule_id"] != "ioc:example" {
		t.Errorf("minimal sd missing: %v", sd)
	}
}

func TestTCPFraming(t *testing.T) {
	for _, framing := range []string{"octet-counting", "lf"} {
		t.Run(framing, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			got := make(chan []string, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					got <- nil
					return
				}
				defer c.Close()
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				var msgs []string
				if framing == "lf" {
					sc := bufio.NewScanner(c)
					for len(msgs) < 2 && sc.Scan() {
						msgs = append(msgs, sc.Text())
					}
				} else {
					done := make(chan struct{})
					p := octetcounting.NewParser(gosyslog.WithListener(func(r *gosyslog.Result) {
						if r.Error == nil {
							msgs = append(msgs, *r.Message.(*rfc5424.SyslogMessage).Message)
						}
						if len(msgs) == 2 {
							close(done)
						}
					}))
					go p.Parse(c)
					select {
					case <-done:
					case <-time.After(5 * time.Second):
					}
				}
				got <- msgs
			}()
			o, err := New(Config{Address: ln.Addr().String(), Network: "tcp", Framing: framing}, output.Deps{Now: fixedNow})
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			as := outputtest.Alerts()
			if err := o.Send(context.Background(), as); err != nil {
				t.Fatal(err)
			}
			msgs := <-got
			if len(msgs) != 2 {
				t.Fatalf("got %d messages, want 2: %q", len(msgs), msgs)
			}
			if framing == "lf" {
				if m := parse5424(t, msgs[1]); (*m.StructuredData)["rampart@32473"]["rule_id"] != as[1].RuleID {
					t.Errorf("lf message %q", msgs[1])
				}
			} else if !strings.HasPrefix(msgs[1], "Pipe | back") {
				t.Errorf("octet-counted message %q", msgs[1])
			}
		})
	}
}

// parseCEF splits a CEF record into its 7 header fields and extension map,
// undoing the escaping (an independent reading of the spec for the test).
func parseCEF(t *testing.T, s string) ([]string, map[string]string) {
	t.Helper()
	var fields []string
	var cur strings.Builder
	i := 0
	for ; i < len(s) && len(fields) < 7; i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '|' || s[i+1] == '\\'):
			cur.WriteByte(s[i+1])
			i++
		case c == '|':
			fields = append(fields, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if len(fields) != 7 {
		t.Fatalf("CEF header has %d fields: %q", len(fields), s)
	}
	ext := map[string]string{}
	rest := s[i:]
	// Keys are [A-Za-z0-9]+ followed by an unescaped '='; values run to the next key.
	var key string
	cur.Reset()
	for j := 0; j < len(rest); j++ {
		c := rest[j]
		if c == '\\' && j+1 < len(rest) {
			switch rest[j+1] {
			case 'n':
				cur.WriteByte('\n')
			case 'r':
				cur.WriteByte('\r')
			default:
				cur.WriteByte(rest[j+1])
			}
			j++
			continue
		}
		if c == '=' {
			v := cur.String()
			k := strings.LastIndexByte(v, ' ')
			if key != "" {
				ext[key] = v[:max(k, 0)]
			}
			key = v[k+1:]
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	if key != "" {
		ext[key] = cur.String()
	}
	return fields, ext
}

func TestCEF(t *testing.T) {
	addr, recv := udpReceiver(t)
	o, err := New(Config{Address: addr, Format: "cef", DeviceVersion: "0.1"}, output.Deps{Now: fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	as := outputtest.Alerts()
	if err := o.Send(context.Background(), as); err != nil {
		t.Fatal(err)
	}
	recv()
	raw := recv()
	m := parse5424(t, raw)
	if m.StructuredData != nil {
		t.Errorf("CEF message has structured data")
	}
	msg := *m.Message
	wantHead := `CEF:0|Rampart|Rampart|0.1|rule\|with=odd"chars]|Pipe \| back\\slash = "quote" ]bracket newline é|10|`
	if !strings.HasPrefix(msg, wantHead) {
		t.Fatalf("CEF header\n got %q\nwant %q", msg, wantHead)
	}
	if !strings.Contains(msg, ` msg=line1\r\nline2 | a\=b \\ c ] "q" `) || !strings.Contains(msg, `suser=DOM\\adm\=in`) {
		t.Errorf("CEF extension escaping wrong: %q", msg)
	}
	head, ext := parseCEF(t, msg)
	if head[4] != as[1].RuleID || head[5] != "Pipe | back\\slash = \"quote\" ]bracket newline é" || head[6] != "10" {
		t.Errorf("header %q", head)
	}
	want := map[string]string{
		"msg": as[1].Explanation, "suser": `DOM\adm=in`, "externalId": "d4e5f6", "cat": "sigma", "cnt": "1",
		"rt": "1795771800123", "cs4": "T1059.001", "cs5": "critical", "cfp1": "0.5",
		"cs3": `ip=2001:db8::1,user=DOM\adm=in`,
	}
	for k, v := range want {
		if ext[k] != v {
			t.Errorf("ext %s = %q, want %q", k, ext[k], v)
		}
	}
}

func TestSendErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	o, err := New(Config{Address: addr, Network: "tcp", Timeout: time.Second}, output.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	err = o.Send(context.Background(), outputtest.Alerts())
	if err == nil || !strings.Contains(err.Error(), "sent 0 of 2") {
		t.Fatalf("got %v, want a connection error", err)
	}
	o.Close()
	if err := o.Send(context.Background(), outputtest.Alerts()); !errors.Is(err, output.ErrClosed) {
		t.Errorf("send after close: %v", err)
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{name: "ok", yaml: "kind: syslog\nname: siem\naddress: 127.0.0.1:514\nnetwork: tcp\nformat: cef\nfacility: local7\n"},
		{name: "no address", yaml: "kind: syslog\n", wantErr: "address: want host:port"},
		{name: "bad network", yaml: "kind: syslog\naddress: h:1\nnetwork: sctp\n", wantErr: "network"},
		{name: "bad format", yaml: "kind: syslog\naddress: h:1\nformat: leef\n", wantErr: "format"},
		{name: "bad facility", yaml: "kind: syslog\naddress: h:1\nfacility: local9\n", wantErr: "facility"},
		{name: "bad sd id", yaml: "kind: syslog\naddress: h:1\nsd_id: 'a b'\n", wantErr: "sd_id"},
		{name: "udp max", yaml: "kind: syslog\naddress: h:1\nmax_message_bytes: 70000\n", wantErr: "UDP datagram"},
		{name: "tiny max", yaml: "kind: syslog\naddress: h:1\nmax_message_bytes: 100\n", wantErr: "max_message_bytes"},
		{name: "unknown key", yaml: "kind: syslog\naddress: h:1\nport: 514\n", wantErr: "line 3: port: unknown key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n yaml.Node
			if err := yaml.Unmarshal([]byte(tc.yaml), &n); err != nil {
				t.Fatal(err)
			}
			o, err := output.New(Kind, &n, output.Deps{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got err %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Name() != "siem" {
				t.Errorf("name %q", o.Name())
			}
			o.Close()
		})
	}
}
