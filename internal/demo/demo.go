// Package demo generates the synthetic demo stream of `rampart serve --demo`:
// ordinary sshd, sudo, system, web and Windows activity with a few attacks
// mixed in (an SSH brute force followed by a successful login, a web scan
// with injection attempts, an encoded PowerShell launch, a burst of failed
// logins for one account, a kernel message never seen before), so every
// bundled layer — rules, thresholds and the ML baselines — has something to
// find within a minute. It is a demonstration feed, never evidence of
// detection quality.
package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/rampart-ids/rampart/internal/ingest"
)

// History is how much ordinary activity Run replays (in event time) before
// the live stream: the ML layer learns for 24 hours of event time before it
// scores anything, so without a past day the demo would show no ML signal.
const (
	History = 26 * time.Hour
	// HistoryStep is the spacing of ordinary activity, in the history and
	// live alike: the live stream keeps the rate the baselines learned, so
	// only the attack scenarios stand out.
	HistoryStep = time.Minute
)

// Generator produces demo records.
type Generator struct {
	rng  *rand.Rand
	seq  uint64
	live uint64 // live batches so far, to cycle through the scenarios
	// ordinaryAt is the event time of the last ordinary batch.
	ordinaryAt time.Time
	// pos prefixes record positions (history batches: their minute).
	pos  string
	now  func() time.Time
	host string
}

// New returns a deterministic generator for seed.
func New(seed uint64, now func() time.Time) *Generator {
	if now == nil {
		now = time.Now
	}
	return &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), now: now, host: "demo-web-01"}
}

var (
	users     = []string{"alice", "bob", "carol", "deploy", "backup"}
	attackers = []string{"203.0.113.7", "198.51.100.23", "192.0.2.44"}
	clients   = []string{"10.1.2.3", "10.1.2.4", "10.1.5.9", "172.16.3.10"}
	paths     = []string{"/", "/index.html", "/login", "/api/items?id=42", "/static/app.js", "/search?q=shoes"}
	attacks   = []string{
		"/search?q=%27%20OR%201%3D1--", "/item?id=1%20UNION%20SELECT%20username,password%20FROM%20users",
		"/../../../../etc/passwd", "/index.php?page=../../../../etc/passwd", "/cgi-bin/test.cgi?x=;cat%20/etc/passwd",
		"/search?q=<script>alert(1)</script>", "/.env", "/wp-login.php", "/.git/config", "/phpmyadmin/",
	}
	// Ordinary system messages: a handful of templates for the log-template model.
	system = []string{
		"CRON[%d]: (root) CMD (run-parts /etc/cron.hourly)",
		"systemd[1]: Started Session %d of user %s.",
		"systemd[1]: Finished Daily apt download activities.",
		"nginx[%d]: signal process started",
	}
	// Messages never seen in the history: new-template signals.
	novel = []string{
		"kernel: [%d.123456] nginx[4242]: segfault at 0 ip 00007f3a2b1c4d5e sp 00007ffd1e2f3a40 error 4 in libc.so.6",
		"kernel: [%d.654321] EXT4-fs error (device sda1): ext4_find_entry:1455: inode #2: comm nginx: reading directory lblock 0",
		"kernel: [%d.111111] Out of memory: Killed process 4242 (nginx) total-vm:2048000kB, anon-rss:1024000kB",
	}
	// Ordinary process launches on the Windows host (parent, child).
	winPairs = [][2]string{
		{`C:\Windows\explorer.exe`, `C:\Program Files\Google\Chrome\Application\chrome.exe`},
		{`C:\Windows\explorer.exe`, `C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE`},
		{`C:\Windows\System32\services.exe`, `C:\Windows\System32\svchost.exe`},
		{`C:\Windows\System32\svchost.exe`, `C:\Windows\System32\taskhostw.exe`},
	}
)

// Next returns the next batch of live demo records (a few seconds of
// activity at the current time): ordinary activity once per HistoryStep
// and, every third batch, the next attack scenario in turn, so each appears
// within a minute.
func (g *Generator) Next() []ingest.Record {
	now := g.now().UTC()
	var recs []ingest.Record
	if g.ordinaryAt.IsZero() || now.Sub(g.ordinaryAt) >= HistoryStep {
		recs = g.ordinary(recs, now)
	}
	if g.live%3 == 0 {
		recs = g.scenario(recs, now, int(g.live/3)%5)
	}
	g.live++
	return recs
}

// HistoryBatches returns ordinary activity (never an attack) from History
// before now up to now, one batch per HistoryStep, oldest first. A batch
// depends only on its minute, whatever the seed: a restarted demo sends
// the same records (same event ids, stored once) for the overlap.
func (g *Generator) HistoryBatches() [][]ingest.Record {
	end := g.now().UTC().Truncate(HistoryStep)
	var out [][]ingest.Record
	for t := end.Add(-History); t.Before(end); t = t.Add(HistoryStep) {
		m := uint64(t.Unix())
		h := &Generator{rng: rand.New(rand.NewPCG(m, m^0x5eed)), now: g.now, host: g.host, pos: "h" + strconv.FormatUint(m, 10) + ":"}
		out = append(out, h.ordinary(nil, t))
		g.ordinaryAt = t
	}
	return out
}

func (g *Generator) add(recs []ingest.Record, received time.Time, source, line string) []ingest.Record {
	g.seq++
	return append(recs, ingest.Record{
		Source: "demo:" + source, Position: g.pos + strconv.FormatUint(g.seq, 10), Data: []byte(line),
		Received: received, Format: "",
	})
}

// syslogTS is the high-precision syslog timestamp (RFC 3339): it carries its
// zone, so a configured time.zone cannot shift the demo's events.
func syslogTS(t time.Time) string { return t.Format("2006-01-02T15:04:05.000000Z07:00") }

func (g *Generator) ordinary(recs []ingest.Record, now time.Time) []ingest.Record {
	g.ordinaryAt = now
	received := g.now().UTC()
	ts := syslogTS(now)
	pid := 1000 + g.rng.IntN(30000)
	for i := 0; i < 3; i++ {
		u := users[g.rng.IntN(len(users))]
		c := clients[g.rng.IntN(len(clients))]
		recs = g.add(recs, received, "auth", fmt.Sprintf("%s %s sshd[%d]: Accepted publickey for %s from %s port %d ssh2: ED25519 SHA256:q1w2e3", ts, g.host, pid+i, u, c, 40000+g.rng.IntN(20000)))
	}
	recs = g.add(recs, received, "auth", fmt.Sprintf("%s %s sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx", ts, g.host))
	for i := 0; i < 4; i++ {
		msg := system[g.rng.IntN(len(system))]
		switch msg {
		case system[1]:
			msg = fmt.Sprintf(msg, 1+g.rng.IntN(5000), users[g.rng.IntN(len(users))])
		case system[2]:
		default:
			msg = fmt.Sprintf(msg, pid+10+i)
		}
		recs = g.add(recs, received, "syslog", fmt.Sprintf("%s %s %s", ts, g.host, msg))
	}
	for i := 0; i < 6; i++ {
		c := clients[g.rng.IntN(len(clients))]
		p := paths[g.rng.IntN(len(paths))]
		recs = g.add(recs, received, "web", fmt.Sprintf(`%s - - [%s] "GET %s HTTP/1.1" 200 %d "-" "Mozilla/5.0 (X11; Linux x86_64)"`, c, now.Format("02/Jan/2006:15:04:05 -0700"), p, 200+g.rng.IntN(5000)))
	}
	pair := winPairs[g.rng.IntN(len(winPairs))]
	return g.add(recs, received, "windows", sysmon(now, pair[0], pair[1], pair[1], "CORP\\bob"))
}

// sysmon renders a Sysmon process creation (flat export layout).
func sysmon(t time.Time, parent, image, cmdline, user string) string {
	return fmt.Sprintf(`{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Provider_Name":"Microsoft-Windows-Sysmon","Computer":"WS-042.corp.example","TimeCreated":%q,"Image":%q,"CommandLine":%q,"ParentImage":%q,"User":%q,"ProcessId":"4242"}`,
		t.Format(time.RFC3339Nano), image, cmdline, parent, user)
}

func (g *Generator) scenario(recs []ingest.Record, now time.Time, which int) []ingest.Record {
	received := g.now().UTC()
	ts := syslogTS(now)
	pid := 1000 + g.rng.IntN(30000)
	switch which {
	case 0: // SSH brute force from one address against several users, then a success (a new source for that user).
		a := attackers[g.rng.IntN(len(attackers))]
		for i := 0; i < 12; i++ {
			u := []string{"root", "admin", "oracle", "test", "ubuntu"}[i%5]
			recs = g.add(recs, received, "auth", fmt.Sprintf("%s %s sshd[%d]: Failed password for invalid user %s from %s port %d ssh2", ts, g.host, pid+100+i, u, a, 50000+i))
		}
		recs = g.add(recs, received, "auth", fmt.Sprintf("%s %s sshd[%d]: Accepted password for deploy from %s port %d ssh2", ts, g.host, pid+120, a, 50020))
	case 1: // Web scan with injection attempts.
		a := attackers[g.rng.IntN(len(attackers))]
		for _, p := range attacks {
			recs = g.add(recs, received, "web", fmt.Sprintf(`%s - - [%s] "GET %s HTTP/1.1" 404 153 "-" "sqlmap/1.7.2#stable (https://sqlmap.org)"`, a, now.Format("02/Jan/2006:15:04:05 -0700"), p))
		}
	case 2: // Encoded PowerShell from cmd.exe on a Windows host: a parent→child pair that host never ran.
		recs = g.add(recs, received, "windows", sysmon(now, `C:\Windows\System32\cmd.exe`, `C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe`,
			"powershell.exe -NoP -W Hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA", "CORP\\bob"))
	case 3: // A burst of failed logins for one ordinary account from inside: far above its baseline.
		u := users[g.rng.IntN(len(users))]
		c := clients[g.rng.IntN(len(clients))]
		for i := 0; i < 20; i++ {
			recs = g.add(recs, received, "auth", fmt.Sprintf("%s %s sshd[%d]: Failed password for %s from %s port %d ssh2", ts, g.host, pid+200+i, u, c, 51000+i))
		}
	case 4: // A kernel message of a kind the host never logged.
		msg := novel[g.rng.IntN(len(novel))]
		recs = g.add(recs, received, "syslog", fmt.Sprintf("%s %s %s", ts, g.host, fmt.Sprintf(msg, 100000+g.rng.IntN(900000))))
	}
	return recs
}

// Run submits the past day (HistoryBatches) and then live demo records to
// sink every interval until ctx is done.
func (g *Generator) Run(ctx context.Context, sink ingest.Sink, interval time.Duration) error {
	for _, b := range g.HistoryBatches() {
		if err := sink.Submit(ctx, b); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := sink.Submit(ctx, g.Next()); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
