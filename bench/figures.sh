#!/usr/bin/env bash
# Reruns every detection-quality figure in README.md (the speed figures come
# from bench/sigma.sh, bench/sshd.sh, bench/e2e.sh, bench/evtx.sh and
# bench/mlcost.sh). Needs ../shared/data (or RAMPART_SHARED_DATA).
set -euo pipefail
cd "$(dirname "$0")/.."
D=${RAMPART_SHARED_DATA:-../shared/data}
bin=$(mktemp -d)/rampart
CGO_ENABLED=0 go build -o "$bin" ./cmd/rampart
S="$D/sigma"
run() { echo "\$ rampart $*" | sed "s|$D|../shared/data|g"; "$bin" "$@" || true; echo; }
echo "\$ rampart rules check ../shared/data/sigma/rules ../shared/data/sigma/rules-emerging-threats ../shared/data/sigma/rules-threat-hunting"
"$bin" rules check "$S/rules" "$S/rules-emerging-threats" "$S/rules-threat-hunting" | tail -3 || true
echo
run eval --suite sigma-regression --data "$S" --json
run eval --suite coverage --data "$D/windows-evtx" --rules "$S/rules" --rules "$S/rules-emerging-threats" --rules "$S/rules-threat-hunting" --json
run eval --suite evtx-parity --data "$D/windows-evtx" --json
run eval --suite loghub --data "$D/loghub-2k" --json
run eval --suite hdfs --data "$D/hdfs-deeplog" --json
run eval --suite http-params --data "$D/http-params" --json
run eval --suite nsl-kdd --data "$D/nsl-kdd" --json
run eval --suite zeek-flows --data "$D/stratosphere-zeek" --json
if "$bin" eval --suite list | grep -c adversarial >/dev/null; then
  run eval --suite adversarial --data "$D/nsl-kdd" --json
  run eval --suite adversarial --data "$D/http-params" --json
  run eval --suite adversarial --data "$D/hdfs-deeplog" --json
fi
