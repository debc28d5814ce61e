#!/usr/bin/env bash
# sshd throughput: `rampart replay` against `fail2ban-regex FILE sshd` on the
# same large real-derived auth log (Loghub OpenSSH lines repeated with
# shifted times, addresses and pids), in one run. Prints lines/s for both,
# the ratio, Rampart's peak RSS, and the brute-force signals raised.
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
echo "input: $LINES lines ($(du -h "$tmp/auth.log" | cut -f1))"

/usr/bin/time -f "%e %M" -o "$tmp/r.time" "$tmp/rampart" replay --year 2026 "$tmp/auth.log" > "$tmp/signals.jsonl" 2> "$tmp/summary.txt"
read -r r_sec r_kb < "$tmp/r.time"
brute=$(grep -c '"detector":"threshold"' "$tmp/signals.jsonl" || true)
r_rate=$(awk -v n="$LINES" -v s="$r_sec" 'BEGIN{printf "%.0f", n/(s>0?s:0.001)}')
echo "rampart replay:  ${r_sec}s  ${r_rate} lines/s  peak RSS $((r_kb/1024)) MB  threshold signals: $brute  total signals: $(wc -l < "$tmp/signals.jsonl")"

if command -v fail2ban-regex >/dev/null; then
  /usr/bin/time -f "%e %M" -o "$tmp/f.time" fail2ban-regex "$tmp/auth.log" sshd > "$tmp/f2b.txt" 2>&1 || true
  read -r f_sec f_kb < "$tmp/f.time"
  f_rate=$(awk -v n="$LINES" -v s="$f_sec" 'BEGIN{printf "%.0f", n/(s>0?s:0.001)}')
  echo "fail2ban-regex:  ${f_sec}s  ${f_rate} lines/s  peak RSS $((f_kb/1024)) MB  ($(grep -m1 -E '^Lines:' "$tmp/f2b.txt" || true))"
  awk -v a="$r_rate" -v b="$f_rate" 'BEGIN{printf "ratio rampart/fail2ban: %.1fx\n", a/(b>0?b:1)}'
else
  echo "fail2ban-regex not installed (apt-get install fail2ban): no ratio"
fi
