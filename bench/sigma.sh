#!/usr/bin/env bash
# Sigma layer throughput: Rampart (all SigmaHQ Windows rules) against
# bradleyjkemp/sigma-go v0.6.6 (the Windows rules it can load and evaluate)
# over the windows-evtx JSONL events, one core, in one run. Prints both
# results and the ratio of events/s.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCHTIME=${BENCHTIME:-3s}
out=$(GOMAXPROCS=1 go test -run '^$' -bench . -benchmem -benchtime "$BENCHTIME" -cpu 1 ./bench/sigmabench)
echo "$out" | grep -E '^Benchmark'
r=$(echo "$out" | awk '/^BenchmarkRampart/{for(i=1;i<=NF;i++) if($i=="events/s") print $(i-1)}')
s=$(echo "$out" | awk '/^BenchmarkSigmaGo/{for(i=1;i<=NF;i++) if($i=="events/s") print $(i-1)}')
awk -v r="$r" -v s="$s" 'BEGIN{printf "rampart %.0f events/s/core, sigma-go %.0f events/s/core, ratio %.1fx\n", r, s, r/s}'
