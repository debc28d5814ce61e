#!/usr/bin/env bash
# Sigma layer throughput: Rampart (all SigmaHQ Windows rules) against
# bradleyjkemp/sigma-go v0.6.6 (the Windows rules it can load and evaluate)
# over the windows-evtx JSONL events, one core, in one run. Prints both
# results and the ratio of events/s, by wall clock and by the process's CPU
# time (the steadier figure on a shared machine).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCHTIME=${BENCHTIME:-3s}
out=$(GOMAXPROCS=1 go test -run '^$' -bench . -benchmem -benchtime "$BENCHTIME" -cpu 1 ./bench/sigmabench)
echo "$out" | grep -E '^Benchmark'
metric() { echo "$out" | awk -v b="$1" -v m="$2" '$1 ~ "^"b {for(i=1;i<=NF;i++) if($i==m) print $(i-1)}'; }
r=$(metric BenchmarkRampart events/s)
s=$(metric BenchmarkSigmaGo events/s)
rc=$(metric BenchmarkRampart events/cpu-s)
sc=$(metric BenchmarkSigmaGo events/cpu-s)
awk -v r="$r" -v s="$s" 'BEGIN{printf "rampart %.0f events/s/core, sigma-go %.0f events/s/core, ratio %.1fx\n", r, s, r/s}'
awk -v r="$rc" -v s="$sc" 'BEGIN{printf "per CPU-second: rampart %.0f events, sigma-go %.0f events, ratio %.1fx\n", r, s, r/s}'
