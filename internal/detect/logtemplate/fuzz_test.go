package logtemplate_test

import (
	"context"
	"testing"

	"github.com/rampart-ids/rampart/internal/detect/logtemplate"
	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/signal"
)

// FuzzLogTemplate mines arbitrary messages: no panic, at most one signal per
// event, scores in [0,1], and template state within its bound.
func FuzzLogTemplate(f *testing.F) {
	f.Add("Started Session 1 of user a", "usb 1-1: new device")
	f.Add("", "\xff\xfe<*> <*>")
	f.Add("a=1 b=[2] c=(3)", "a=1 b=[2] c=(3) d")
	f.Fuzz(func(t *testing.T, m1, m2 string) {
		d, err := logtemplate.New(logtemplate.Options{WarmUp: 1, MaxTemplates: 4})
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range []string{m1, m2, m1, m2 + " x"} {
			ev := event.New()
			ev.ID, ev.Format = string(rune('a'+i)), "syslog"
			ev.Set("message", m)
			n := 0
			_ = d.Detect(context.Background(), ev, func(s signal.Signal) {
				n++
				if s.Score < 0 || s.Score > 1 || s.Explanation == "" {
					t.Fatalf("bad signal %+v", s)
				}
			})
			if n > 1 || d.Templates() > 4 {
				t.Fatalf("%d signals, %d templates", n, d.Templates())
			}
		}
	})
}
