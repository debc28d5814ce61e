package syslog_test

import (
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-ids/rampart/internal/event"
	"github.com/rampart-ids/rampart/internal/format"
	_ "github.com/rampart-ids/rampart/internal/format/auth"
	"github.com/rampart-ids/rampart/internal/format/formattest"
	"github.com/rampart-ids/rampart/internal/format/syslog"
)

func TestGolden(t *testing.T) { formattest.Golden(t, syslog.Name) }

func TestParse(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		berlin = time.FixedZone("CET", 3600)
	}
	now := func() time.Time { return time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC) }
	tests := []struct {
		name     string
		opts     format.Options
		rec      string
		wantTime time.Time
		want     map[string]any
		wantErr  string
	}{
		{
			name: "rfc5424", rec: `<34>1 2003-10-11T22:14:15.003Z mymachine su - ID47 - 'su root' failed`,
			wantTime: time.Date(2003, 10, 11, 22, 14, 15, 3e6, time.UTC),
			want: map[string]any{"log.syslog.facility.code": int64(4), "log.syslog.severity.code": int64(2), "log.syslog.appname": "su",
				"log.syslog.msgid": "ID47", "log.syslog.version": "1", "host.hostname": "mymachine", "message": "'su root' failed"},
		},
		{
			name: "3164 year from Now: Dec 31 seen on Jan 1 is last year", opts: format.Options{Now: now},
			rec: "<13>Dec 31 23:59:59 host app[7]: m", wantTime: time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC),
			want: map[string]any{"process.pid": int64(7), "log.syslog.procid": "7", "process.name": "app"},
		},
		{
			name: "3164 explicit year and zone", opts: format.Options{Year: 2020, Location: berlin},
			rec: "Jul  4 12:00:00 host app: m", wantTime: time.Date(2020, 7, 4, 10, 0, 0, 0, time.UTC),
			want: map[string]any{"event.dataset": "system.syslog", "message": "m"},
		},
		{
			name: "fraction", opts: format.Options{Year: 2020},
			rec: "Jul  4 12:00:00.250 host app: m", wantTime: time.Date(2020, 7, 4, 12, 0, 0, 250e6, time.UTC),
		},
		{name: "garbage", rec: "hello world", wantErr: "invalid_syslog"},
		{name: "bad day", rec: "Jul 44 12:00:00 host app: m", wantErr: "invalid_syslog"},
		{name: "bad pri", rec: "<200>Jul 4 12:00:00 host app: m", wantErr: "invalid_syslog"},
	}
	f, _ := format.Lookup(syslog.Name)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := event.New()
			err := f.NewParser(tc.opts).Parse([]byte(tc.rec), ev)
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
			if !tc.wantTime.IsZero() && !ev.Time.Equal(tc.wantTime) {
				t.Errorf("time %v, want %v", ev.Time, tc.wantTime)
			}
			for k, want := range tc.want {
				if diff := cmp.Diff(want, ev.Fields[k]); diff != "" {
					t.Errorf("field %s (-want +got):\n%s", k, diff)
				}
			}
		})
	}
}

// TestSniff checks auto-detection splits auth programs from other syslog.
func TestSniff(t *testing.T) {
	tests := []struct {
		rec  string
		want string
	}{
		{"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186", "auth"},
		{"<38>Dec 10 06:55:46 LabSZ sudo: alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/ls", "auth"},
		{"Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0", "auth"},
		{"Jun 14 15:16:01 combo kernel: eth0 up", "syslog"},
		{"<13>1 2003-10-11T22:14:15.003Z host app - - - hi", "syslog"},
		{"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186", "auth"},
	}
	p := format.NewAuto(formattest.Opts())
	for _, tc := range tests {
		ev := event.New()
		if err := p.Parse([]byte(tc.rec), ev); err != nil {
			t.Fatalf("%q: %v", tc.rec, err)
		}
		if ev.Format != tc.want {
			t.Errorf("%q: format %s, want %s", tc.rec, ev.Format, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	data, err := os.ReadFile("testdata/golden/mixed.in")
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range formattest.Lines(data) {
		f.Add(l)
	}
	fm, _ := format.Lookup(syslog.Name)
	f.Fuzz(func(t *testing.T, rec []byte) { formattest.FuzzParse(t, fm, rec) })
}

func BenchmarkParseSyslog(b *testing.B) {
	data, err := os.ReadFile("testdata/golden/mixed.in")
	if err != nil {
		b.Fatal(err)
	}
	recs := formattest.Lines(data)[:12]
	fm, _ := format.Lookup(syslog.Name)
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
