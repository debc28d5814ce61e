#!/usr/bin/env bash
# sshd throughput: `rampart replay` against `fail2ban-regex FILE sshd` on the
# same large real-derived auth log (Loghub OpenSSH lines repeated with
# shifted times, addresses and pids), in one run. Prints lines/s for both
# on the wall clock and per CPU-second (user+sys), the ratios, peak RSS,
# and the brute-force signals raised.
#
# Fairness: fail2ban-regex runs in one Python thread. rampart replay runs
# decoding (framing, auth parsing) in one goroutine, detection in another
# and signal encoding in a third (plus the Go runtime's GC workers), so on
# two or more cores its wall-clock rate gains from a second core; the
# per-CPU-second ratio is the like-for-like comparison of work per line.
# On a busy host the wall-clock ratio swings with the load; to see where
# replay's time goes, profile it by stage:
#   RAMPART_CPUPROFILE=cpu.prof rampart replay --year 2026 auth.log
#   go tool pprof -tagfocus=replay=detect -top rampart cpu.prof  (or decode, write)
#   LINES=1000000 bench/sshd.sh
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${LINES:-1000000}
DATA=${RAMPART_SHARED_DATA:-../shared/data}
SRC=$DATA/loghub-2k/OpenSSH/OpenSSH_2k.log
[ -f "$SRC" ] || { echo "missing $SRC"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
CGO_ENABLED=0 go build -o "$tmp/rampart" ./cmd/rampart
go run ./bench/genauthlog -in "$SRC" -lines "$LINES" > "$tmp/auth.log"
# Wall-clock rates mean little on a busy host: the load average is printed
# so a reader can tell; the CPU-second rates are steadier.
echo "input: $LINES lines ($(du -h "$tmp/auth.log" | cut -f1)), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# rate N SECONDS: lines per second.
rate() { awk -v n="$1" -v s="$2" 'BEGIN{printf "%.0f", n/(s>0?s:0.001)}'; }

/usr/bin/time -f "%e %U %S %M" -o "$tmp/r.time" "$tmp/rampart" replay --year 2026 "$tmp/auth.log" > "$tmp/signals.jsonl" 2> "$tmp/summary.txt"
read -r r_sec r_usr r_sys r_kb < "$tmp/r.time"
r_cpu=$(awk -v u="$r_usr" -v s="$r_sys" 'BEGIN{printf "%.2f", u+s}')
brute=$(grep -c '"detector":"threshold"' "$tmp/signals.jsonl" || true)
r_rate=$(rate "$LINES" "$r_sec"); r_cpurate=$(rate "$LINES" "$r_cpu")
echo "rampart replay:  ${r_sec}s wall  ${r_rate} lines/s  |  ${r_cpu} CPU-s (user+sys)  ${r_cpurate} lines/CPU-s  |  peak RSS $((r_kb/1024)) MB  threshold signals: $brute  total signals: $(wc -l < "$tmp/signals.jsonl")"

if command -v fail2ban-regex >/dev/null; then
  /usr/bin/time -f "%e %U %S %M" -o "$tmp/f.time" fail2ban-regex "$tmp/auth.log" sshd > "$tmp/f2b.txt" 2>&1 || true
  read -r f_sec f_usr f_sys f_kb < "$tmp/f.time"
  f_cpu=$(awk -v u="$f_usr" -v s="$f_sys" 'BEGIN{printf "%.2f", u+s}')
  f_rate=$(rate "$LINES" "$f_sec"); f_cpurate=$(rate "$LINES" "$f_cpu")
  echo "fail2ban-regex:  ${f_sec}s wall  ${f_rate} lines/s  |  ${f_cpu} CPU-s (user+sys)  ${f_cpurate} lines/CPU-s  |  peak RSS $((f_kb/1024)) MB  ($(grep -m1 -E '^Lines:' "$tmp/f2b.txt" || true))"
  awk -v a="$r_rate" -v b="$f_rate" -v c="$r_cpurate" -v d="$f_cpurate" 'BEGIN{
    printf "ratio rampart/fail2ban: %.1fx wall clock (rampart: 3 goroutines, fail2ban: 1 thread), %.1fx per CPU-second\n", a/(b>0?b:1), c/(d>0?d:1)}'
else
  echo "fail2ban-regex not installed (apt-get install fail2ban): no ratio"
fi
