// Package demo generates the synthetic demo stream of `rampart serve --demo`:
// ordinary sshd, sudo, web and Windows activity with a few attacks mixed in
// (an SSH brute force, a web scan with injection attempts, an encoded
// PowerShell launch), so every bundled layer has something to find.
// It is a demonstration feed, never evidence of detection quality.
package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/rampart-ids/rampart/internal/ingest"
)

// Generator produces demo records.
type Generator struct {
	rng  *rand.Rand
	seq  uint64
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
)

// Next returns the next batch of demo records (a few seconds of activity).
func (g *Generator) Next() []ingest.Record {
	now := g.now().UTC()
	var recs []ingest.Record
	add := func(source, format, line string) {
		g.seq++
		recs = append(recs, ingest.Record{
			Source: "demo:" + source, Position: strconv.FormatUint(g.seq, 10), Data: []byte(line),
			Received: now, Format: format,
		})
	}
	ts := now.Format("Jan _2 15:04:05")
	pid := 1000 + g.rng.IntN(30000)
	// Ordinary logins.
	for i := 0; i < 3; i++ {
		u := users[g.rng.IntN(len(users))]
		c := clients[g.rng.IntN(len(clients))]
		add("auth", "", fmt.Sprintf("%s %s sshd[%d]: Accepted publickey for %s from %s port %d ssh2: ED25519 SHA256:q1w2e3", ts, g.host, pid+i, u, c, 40000+g.rng.IntN(20000)))
	}
	add("auth", "", fmt.Sprintf("%s %s sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx", ts, g.host))
	// Web traffic.
	for i := 0; i < 6; i++ {
		c := clients[g.rng.IntN(len(clients))]
		p := paths[g.rng.IntN(len(paths))]
		add("web", "", fmt.Sprintf(`%s - - [%s] "GET %s HTTP/1.1" 200 %d "-" "Mozilla/5.0 (X11; Linux x86_64)"`, c, now.Format("02/Jan/2006:15:04:05 -0700"), p, 200+g.rng.IntN(5000)))
	}
	// Now and then, an attack burst.
	switch g.rng.IntN(6) {
	case 0: // SSH brute force from one address against several users.
		a := attackers[g.rng.IntN(len(attackers))]
		for i := 0; i < 12; i++ {
			u := []string{"root", "admin", "oracle", "test", "ubuntu"}[i%5]
			add("auth", "", fmt.Sprintf("%s %s sshd[%d]: Failed password for invalid user %s from %s port %d ssh2", ts, g.host, pid+100+i, u, a, 50000+i))
		}
	case 1: // Web scan with injection attempts.
		a := attackers[g.rng.IntN(len(attackers))]
		for _, p := range attacks {
			add("web", "", fmt.Sprintf(`%s - - [%s] "GET %s HTTP/1.1" 404 153 "-" "sqlmap/1.7.2#stable (https://sqlmap.org)"`, a, now.Format("02/Jan/2006:15:04:05 -0700"), p))
		}
	case 2: // Encoded PowerShell on a Windows host (Sysmon process creation, flat export layout).
		add("windows", "", fmt.Sprintf(`{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Provider_Name":"Microsoft-Windows-Sysmon","Computer":"WS-042.corp.example","TimeCreated":%q,"Image":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","CommandLine":"powershell.exe -NoP -W Hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA","ParentImage":"C:\\Windows\\System32\\cmd.exe","User":"CORP\\bob","ProcessId":"4242"}`, now.Format(time.RFC3339Nano)))
	}
	return recs
}

// Run submits demo records to sink every interval until ctx is done.
func (g *Generator) Run(ctx context.Context, sink ingest.Sink, interval time.Duration) error {
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
