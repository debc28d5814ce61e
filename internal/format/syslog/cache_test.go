package syslog_test

import (
	"fmt"
	"testing"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	"github.com/rampart-ids/rampart/internal/format/syslog"
)

// One Header reused over many lines (as parsers do) keeps boxed host,
// program and pid values across lines: every line must still get its own,
// also past the caches' bounds and for non-numeric procids.
func TestHeaderReuseCaches(t *testing.T) {
	var h syslog.Header
	for i := range 3000 {
		host, app, procid := fmt.Sprintf("Host%d", i%300), fmt.Sprintf("/usr/sbin/prog%d", i%7), fmt.Sprint(1000+i%1500)
		var wantPid any = int64(1000 + i%1500)
		if i%11 == 0 {
			procid, wantPid = fmt.Sprintf("w%d", i), nil
		}
		line := fmt.Sprintf("Dec 10 06:55:46 %s %s[%s]: message %d  ", host, app, procid, i)
		if !syslog.ParseHeader([]byte(line), format.Options{Year: 2026}, &h, true) {
			t.Fatalf("line %d not parsed: %q", i, line)
		}
		ev := event.New()
		h.Apply(ev)
		want := map[string]any{
			"host.name": host, "host.hostname": host, "log.syslog.hostname": host,
			"log.syslog.appname": app, "process.name": fmt.Sprintf("prog%d", i%7),
			"log.syslog.procid": procid, "process.pid": wantPid, "message": fmt.Sprintf("message %d", i),
		}
		for k, w := range want {
			if got := ev.Fields[k]; got != w {
				t.Fatalf("line %d %s = %#v, want %#v", i, k, got, w)
			}
		}
		if h.Message() != want["message"] {
			t.Fatalf("line %d Message() = %q", i, h.Message())
		}
	}
}
