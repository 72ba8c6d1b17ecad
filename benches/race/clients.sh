#!/usr/bin/env bash
# The client side of the race: the same pipelined echo loop written with sockeye's tokio
# client, tokio-tungstenite's and fastwebsockets' (`race-client`), `sockeye bench` itself, and
# Python's websocket-client (`wsclient_bench.py`), each driving one fixed server: the TCP
# ceiling of race-server on a current-thread runtime, so the client is what is measured. One
# connection, binary messages, SIZES × WINDOWS, DURATION seconds after WARMUP. The table goes
# into BENCHMARKS.md (block race-clients; NO_WRITE=1 prints it instead).
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
trap 'kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; rm -f "$out"' EXIT
URL=
for _ in $(seq 100); do
    URL=$(sed -n 's/^listening on //p' "$out")
    [[ -n $URL ]] && break
    sleep 0.05
done
[[ -n $URL ]] || { echo "race-server did not start" >&2; exit 1; }

# Appends one run's JSON, labelled with the client's name.
record() {
    "$PYTHON" -c '
import json, sys
run = json.loads(sys.stdin.read() or "{\"errors\": [\"failed\"]}")
run.update(client=sys.argv[1], size=int(sys.argv[2]), window=int(sys.argv[3]))
print(json.dumps(run))' "$1" "$2" "$3" >> "$RESULTS"
}

for size in $SIZES; do
    for window in $WINDOWS; do
        common=(-s "$size" -w "$window" -d "$DURATION" --warmup "$WARMUP" --binary)
        timeout 60 "$BIN/sockeye" bench "$URL" --json --quiet "${common[@]}" \
            | record "sockeye bench" "$size" "$window" || true
        for lib in sockeye tungstenite fastwebsockets; do
            timeout 60 "$BIN/race-client" "$lib" "$URL" "${common[@]}" \
                | record "$lib" "$size" "$window" || true
        done
        if [[ -x $VENV_PYTHON ]]; then
            timeout 60 "$VENV_PYTHON" benches/race/wsclient_bench.py "$URL" "${common[@]}" \
                | record "websocket-client (Python)" "$size" "$window" || true
        fi
        printf '\rsize %s window %s done   ' "$size" "$window" >&2
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
