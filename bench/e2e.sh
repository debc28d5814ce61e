#!/usr/bin/env bash
# End to end: `rampart serve` ingesting NDJSON over HTTP into SQLite with the
# rule layer on. Prints events/s and the server's peak RSS.
#   EVENTS=500000 bench/e2e.sh            (real Windows events from the shared corpus)
#   SYNTHETIC=1 EVENTS=500000 bench/e2e.sh
#   STORE_EVENTS=evidence bench/e2e.sh     (keep only events that raised a signal)
#   CPUPROFILE=/tmp/serve.prof bench/e2e.sh (the server's CPU profile, written at shutdown)
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-300000}
DATA=${RAMPART_SHARED_DATA:-../shared/data}
tmp=$(mktemp -d)
CGO_ENABLED=0 go build -o "$tmp/rampart" ./cmd/rampart
go build -o "$tmp/load" ./bench/load
port=$((20000 + RANDOM % 20000))
cat > "$tmp/rampart.yaml" <<YAML
data_dir: $tmp/data
http:
  listen: 127.0.0.1:$port
  ingest_rate: 0
pipeline:
  store_events: ${STORE_EVENTS:-all}
YAML
RAMPART_CPUPROFILE=${CPUPROFILE:-} "$tmp/rampart" serve --config "$tmp/rampart.yaml" > "$tmp/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do grep -q 'rmp_' "$tmp/serve.log" && grep -q 'listening' "$tmp/serve.log" && break; sleep 0.1; done
token=$(grep -o 'rmp_[A-Za-z0-9_-]*' "$tmp/serve.log" | head -1)
corpus=""
[ -z "${SYNTHETIC:-}" ] && [ -d "$DATA/windows-evtx/jsonl" ] && corpus="$DATA/windows-evtx/jsonl"
echo "corpus: ${corpus:-synthetic ECS}  store_events: ${STORE_EVENTS:-all}"
"$tmp/load" -url "http://127.0.0.1:$port" -token "$token" -pid "$pid" -events "$EVENTS" -corpus "$corpus"
echo "data folder: $(du -sk "$tmp/data" | cut -f1) kB (database and WAL)"
