// Command genauthlog writes a large auth log derived from a real one: the
// input lines (e.g. Loghub's OpenSSH_2k.log) repeated with times shifted
// forward and IPv4 addresses and sshd pids remapped per repetition, so that
// every repetition looks like new hosts attacking at a later time.
//
//	go run ./bench/genauthlog -in ../shared/data/loghub-2k/OpenSSH/OpenSSH_2k.log -lines 1000000 > /tmp/auth.log
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"time"
)

var (
	ipRE  = regexp.MustCompile(`\b(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\b`)
	pidRE = regexp.MustCompile(`\[(\d+)\]:`)
)

func main() {
	in := flag.String("in", "", "source log (RFC 3164 lines)")
	n := flag.Int("lines", 1000000, "lines to write")
	flag.Parse()
	data, err := os.ReadFile(*in)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(sc.Text()) > 16 {
			lines = append(lines, sc.Text())
		}
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer w.Flush()
	first, _ := time.Parse("Jan _2 15:04:05", lines[0][:15])
	last, _ := time.Parse("Jan _2 15:04:05", lines[len(lines)-1][:15])
	span := last.Sub(first) + time.Minute
	base, _ := time.Parse("Jan _2 15:04:05", "Jan  1 00:00:00")
	for i := 0; i < *n; i++ {
		rep := i / len(lines)
		l := lines[i%len(lines)]
		ts, err := time.Parse("Jan _2 15:04:05", l[:15])
		if err != nil {
			continue
		}
		// Shift each repetition by the source's span, keeping order within it.
		t := base.Add(ts.Sub(first) + time.Duration(rep)*span)
		rest := l[15:]
		rest = ipRE.ReplaceAllStringFunc(rest, func(ip string) string {
			m := ipRE.FindStringSubmatch(ip)
			a, _ := strconv.Atoi(m[3])
			b, _ := strconv.Atoi(m[4])
			return fmt.Sprintf("%s.%d.%d.%d", m[1], (rep/256)%256, (a+rep)%256, b)
		})
		rest = pidRE.ReplaceAllStringFunc(rest, func(p string) string {
			m := pidRE.FindStringSubmatch(p)
			pid, _ := strconv.Atoi(m[1])
			return fmt.Sprintf("[%d]:", (pid+rep*7919)%4000000+1)
		})
		w.WriteString(t.Format("Jan _2 15:04:05"))
		w.WriteString(rest)
		w.WriteByte('\n')
	}
}
