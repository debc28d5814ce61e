// Command load drives `rampart serve` over HTTP ingest: it POSTs NDJSON
// batches of events (real Windows events from the windows-evtx JSONL corpus,
// cycled, or a synthetic ECS mix with -synthetic) with several connections,
// waits until the server has been through the store writes for them all
// (rampart_records_done_total in /metrics), and prints
// events/s and the server's peak RSS (from /proc/PID/status).
//
//	go run ./bench/load -url http://127.0.0.1:8080 -token $TOKEN -pid $PID -events 500000
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "server base URL")
	token := flag.String("token", os.Getenv("RAMPART_TOKEN"), "ingest or admin token")
	pid := flag.Int("pid", 0, "server pid (for peak RSS)")
	events := flag.Int("events", 200000, "events to send")
	batch := flag.Int("batch", 2000, "events per request")
	conns := flag.Int("conns", 4, "concurrent connections")
	corpus := flag.String("corpus", "", "folder of .jsonl files to cycle (default: synthetic ECS events)")
	flag.Parse()

	lines := loadCorpus(*corpus)
	var bodies [][]byte
	for i := 0; i < *events; i += *batch {
		var b bytes.Buffer
		for j := i; j < i+*batch && j < *events; j++ {
			b.Write(lines[j%len(lines)])
			b.WriteByte('\n')
		}
		bodies = append(bodies, b.Bytes())
	}
	// Done means through the store writes (rampart_records_done_total), not
	// just normalized: events still waiting for the writer do not count.
	before := metric(*url, *token, "rampart_records_done_total")
	cpu0 := cpuSeconds(*pid)
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failures atomic.Int64
	for c := 0; c < *conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				for attempt := 0; ; attempt++ {
					req, _ := http.NewRequest("POST", *url+"/api/v1/events", bytes.NewReader(bodies[i]))
					req.Header.Set("Authorization", "Bearer "+*token)
					req.Header.Set("Content-Type", "application/x-ndjson")
					resp, err := http.DefaultClient.Do(req)
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == 202 {
							break
						}
						if resp.StatusCode != 503 && resp.StatusCode != 429 {
							fmt.Fprintln(os.Stderr, "unexpected status", resp.StatusCode)
							failures.Add(1)
							break
						}
					}
					if attempt > 200 {
						failures.Add(1)
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	sent := time.Since(start)
	// Wait until the server has stored (or quarantined) everything.
	target := before + float64(*events)
	for time.Since(start) < 10*time.Minute {
		done := metric(*url, *token, "rampart_records_done_total")
		if done >= target {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	el := time.Since(start)
	cpu := cpuSeconds(*pid) - cpu0
	fmt.Printf("events: %d  requests: %d  failed requests: %d\n", *events, len(bodies), failures.Load())
	fmt.Printf("accepted in %s (%.0f events/s); through the store in %s: %.0f events/s\n",
		sent.Round(time.Millisecond), float64(*events)/sent.Seconds(), el.Round(time.Millisecond), float64(*events)/el.Seconds())
	if *pid > 0 {
		fmt.Printf("server peak RSS: %s\n", peakRSS(*pid))
		// On a shared machine events/s moves with the neighbours' load; the
		// server's CPU time per event does much less.
		if cpu > 0 {
			fmt.Printf("server CPU: %.1fs, %.1f µs/event, %.0f events per CPU-second\n",
				cpu, cpu*1e6/float64(*events), float64(*events)/cpu)
		}
	}
}

func loadCorpus(dir string) [][]byte {
	var out [][]byte
	if dir != "" {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".jsonl") {
				return nil
			}
			f, err := os.Open(p)
			if err != nil {
				return nil
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				out = append(out, append([]byte(nil), sc.Bytes()...))
			}
			return nil
		})
	}
	if len(out) == 0 {
		for i := 0; i < 1000; i++ {
			out = append(out, []byte(fmt.Sprintf(`{"@timestamp":"2026-11-27T10:%02d:%02dZ","event":{"category":["authentication"],"outcome":"%s"},"source":{"ip":"10.0.%d.%d"},"user":{"name":"user%d"},"host":{"name":"web-%d"},"message":"login attempt %d"}`,
				i/60%60, i%60, map[bool]string{true: "failure", false: "success"}[i%7 == 0], i/250, i%250, i%50, i%5, i)))
		}
	}
	return out
}

func metric(url, token, name string) float64 {
	req, _ := http.NewRequest("GET", url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, name+"{") || strings.HasPrefix(l, name+" ") {
			f := strings.Fields(l)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			sum += v
		}
	}
	return sum
}

// cpuSeconds is the user+system CPU time of process pid (0 if unknown).
func cpuSeconds(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields of the whole line, in clock ticks (USER_HZ, 100 on Linux).
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100
}

func peakRSS(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
		}
	}
	return "unknown"
}
