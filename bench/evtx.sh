#!/usr/bin/env bash
# .evtx reading throughput: Rampart's native reader (internal/format/evtx)
# against the Velocidex reader (www.velocidex.com/golang/evtx v0.2.0) over
# the shared windows-evtx corpus (593 files, read from memory), one core, in
# one run of BenchmarkReadCorpus. Prints records/s per core for each reader
# and their ratio on the files both read (the Velocidex reader fails on some).
#
# Per core = records per CPU-second of the process (user+system, GC
# included), which a shared machine does not distort; wall-clock records/s
# are printed beside it.
#
# The benchmark runs COUNT times and each figure is the median.
#
#   bench/evtx.sh                # BENCHTIME=3x (3 passes over the corpus per reader), COUNT=3
#   BENCHTIME=10x COUNT=5 bench/evtx.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BENCHTIME=${BENCHTIME:-3x}
COUNT=${COUNT:-3}
out=$(GOMAXPROCS=1 go test ./internal/format/evtx/ -run '^$' -bench 'ReadCorpus' \
	-benchtime "$BENCHTIME" -count "$COUNT" -cpu 1 -benchmem)
if ! echo "$out" | grep -q '^BenchmarkReadCorpus/'; then
	echo "$out"
	echo "evtx.sh: benchmark produced no results (is ../shared/data/windows-evtx present?)" >&2
	exit 1
fi
echo "$out" | grep -E '^Benchmark'
# metric NAME UNIT: the median over the runs of the value before UNIT on
# the benchmark lines NAME.
metric() {
	echo "$out" | awk -v n="BenchmarkReadCorpus/$1" -v u="$2" '
		$1 == n || index($1, n "-") == 1 { for (i = 2; i <= NF; i++) if ($i == u) print $(i-1) }' |
		sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2) }'
}
for b in rampart/all rampart/velocidex-readable velocidex/velocidex-readable velocidex+json/velocidex-readable; do
	for u in records/cpu-s records/s records/op; do
		if [ -z "$(metric "$b" "$u")" ]; then
			echo "evtx.sh: no $u for $b" >&2
			exit 1
		fi
	done
done
awk -v ra="$(metric rampart/all records/cpu-s)" -v raw="$(metric rampart/all records/s)" -v rn="$(metric rampart/all records/op)" \
	-v rv="$(metric rampart/velocidex-readable records/cpu-s)" -v rvw="$(metric rampart/velocidex-readable records/s)" -v rvn="$(metric rampart/velocidex-readable records/op)" \
	-v v="$(metric velocidex/velocidex-readable records/cpu-s)" -v vw="$(metric velocidex/velocidex-readable records/s)" -v vn="$(metric velocidex/velocidex-readable records/op)" \
	-v count="$COUNT" -v vj="$(metric velocidex+json/velocidex-readable records/cpu-s)" -v vjw="$(metric velocidex+json/velocidex-readable records/s)" 'BEGIN {
	printf "\nmedians of %s runs\n%-44s %14s %14s %12s\n", count, "reader (files)", "records/s/core", "wall records/s", "records/pass"
	printf "%-44s %14.0f %14.0f %12.0f\n", "rampart (all 593 files)", ra, raw, rn
	printf "%-44s %14.0f %14.0f %12.0f\n", "rampart (files velocidex reads)", rv, rvw, rvn
	printf "%-44s %14.0f %14.0f %12.0f\n", "velocidex (same files, records only)", v, vw, vn
	printf "%-44s %14.0f %14.0f %12.0f\n", "velocidex (same files, records to JSON)", vj, vjw, vn
	printf "ratio rampart/velocidex per core: %.2fx (records only), %.2fx (both producing JSON)\n", rv / v, rv / vj
	printf "goal >= 100000 records/s/core: %s\n", (ra >= 100000 ? "met" : "NOT met")
}'
