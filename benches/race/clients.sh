#!/usr/bin/env bash
# The client side of the race: the same pipelined echo loop written with sockeye's tokio
# client, tokio-tungstenite's and fastwebsockets' (`race-client`), `sockeye bench` itself, and
# Python's websocket-client (`wsclient_bench.py`), each driving one fixed server: the TCP
# ceiling of race-server on a current-thread runtime, so the client is what is measured. One
# connection, binary messages, SIZES × WINDOWS, DURATION seconds after WARMUP, REPEAT times
# (clients interleaved; the table shows medians). The table goes into BENCHMARKS.md (block
# race-clients; NO_WRITE=1 prints it instead).
#
#   benches/race/clients.sh
#
# Everything runs on 127.0.0.1; the server started here is stopped here.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SIZES=${SIZES:-"16 1024 65536"}
WINDOWS=${WINDOWS:-"1 64"}
DURATION=${DURATION:-3}
REPEAT=${REPEAT:-3}
WARMUP=${WARMUP:-0.5}
RESULTS=${RESULTS:-$TARGET/race/clients.jsonl}
PYTHON=${PYTHON:-python3}
VENV_PYTHON=${VENV_PYTHON:-$ROOT/.venv/bin/python}

cd "$ROOT"
# BIN=DIR uses the binaries already built there (a fixed build while the tree changes).
if [[ -z ${BIN:-} ]]; then
    echo "building (release)..." >&2
    cargo build --release --quiet -p sockeye-race -p sockeye-cli
    BIN=$TARGET/release
fi
mkdir -p "$(dirname "$RESULTS")"
: > "$RESULTS"

out=$(mktemp)
"$BIN/race-server" tcp --threads 1 --max-seconds 900 > "$out" &
SERVER_PID=$!
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; rm -f "$out" "${run_out:-}" "${cpu_out:-}"' EXIT
URL=
for _ in $(seq 100); do
    URL=$(sed -n 's/^listening on //p' "$out")
    [[ -n $URL ]] && break
    sleep 0.05
done
[[ -n $URL ]] || { echo "race-server did not start" >&2; exit 1; }

# Runs one client (its command after the name): its JSON, labelled with the client's name and
# the CPU time (user + system, from bash's `time`) the client process used, goes into RESULTS.
measure() {
    local name=$1 cpu
    shift
    if ! { time timeout 60 "$@" > "$run_out" 2>/dev/null ; } 2> "$cpu_out"; then
        echo '{"errors": ["failed"]}' > "$run_out"
    fi
    cpu=$(awk '{ print $1 + $2 }' "$cpu_out")
    "$PYTHON" -c '
import json, sys
run = json.loads(open(sys.argv[5]).read() or "{\"errors\": [\"failed\"]}")
run.update(client=sys.argv[1], size=int(sys.argv[2]), window=int(sys.argv[3]),
           client_cpu_s=float(sys.argv[4]))
print(json.dumps(run))' "$name" "$size" "$window" "$cpu" "$run_out" >> "$RESULTS"
}
TIMEFORMAT='%3U %3S'
cpu_out=$(mktemp)
run_out=$(mktemp)

for size in $SIZES; do
  for window in $WINDOWS; do
    for round in $(seq "$REPEAT"); do
      common=(-s "$size" -w "$window" -d "$DURATION" --warmup "$WARMUP" --binary)
      measure "sockeye bench" "$BIN/sockeye" bench "$URL" --json --quiet "${common[@]}"
      for lib in sockeye tungstenite fastwebsockets; do
          measure "$lib" "$BIN/race-client" "$lib" "$URL" "${common[@]}"
      done
      if [[ -x $VENV_PYTHON ]]; then
          measure "websocket-client (Python)" "$VENV_PYTHON" benches/race/wsclient_bench.py \
              "$URL" "${common[@]}"
      fi
      printf '\rsize %s window %s round %s done   ' "$size" "$window" "$round" >&2
    done
  done
done
echo >&2

COMMAND="benches/race/clients.sh"
if [[ ${NO_WRITE:-} == 1 ]]; then
    "$PYTHON" benches/race/report.py clients "$RESULTS" --command "$COMMAND"
else
    "$PYTHON" benches/race/report.py clients "$RESULTS" --command "$COMMAND" \
        --write "${BENCHMARKS:-BENCHMARKS.md}" --marker race-clients
    echo "table written into ${BENCHMARKS:-BENCHMARKS.md} (results in $RESULTS)" >&2
fi
