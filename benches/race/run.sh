#!/usr/bin/env bash
# The race: sockeye's tokio echo server against tokio-tungstenite's, fastwebsockets' and a TCP
# ceiling, one after another under the same load generator (`sockeye bench`), and the Markdown
# table of msgs/s and p99 written into BENCHMARKS.md.
#
#   benches/race/run.sh                  # the whole matrix (~8 minutes), table into BENCHMARKS.md
#   REPEAT=3 CONNS=100 SIZES="16 1024" WINDOWS=64 benches/race/run.sh   # key rows, 3 times each
#
# Matrix: servers × connections × sizes × windows × runtime threads, each run DURATION seconds
# after WARMUP seconds of load (binary messages). Each row runs every server in turn, so the
# servers of one row share the machine's conditions; with REPEAT=N each row is run N times
# (servers interleaved) and the median msgs/s and p99 are kept. The load generator uses the same
# runtime flavour as the server (--threads). A fresh server process serves each measurement; its
# CPU time (utime + stime from /proc/PID/stat) per echoed message is recorded too.
#
# Environment: SERVERS, CONNS, SIZES, WINDOWS, THREADS, DURATION, WARMUP, REPEAT;
# RESULTS (a JSON-lines file, default target/race/results.jsonl); MARKER (the block of
# BENCHMARKS.md to replace, default race-servers); NO_WRITE=1 prints the table
# instead of writing BENCHMARKS.md. Everything runs on 127.0.0.1; every process started here is
# stopped here.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# The settings given in the environment, to print with the command.
GIVEN=
for var in SERVERS CONNS SIZES WINDOWS THREADS DURATION WARMUP REPEAT; do
    if [[ -n ${!var:-} ]]; then GIVEN+="$var=\"${!var}\" "; fi
done
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SERVERS=${SERVERS:-"sockeye sockeye-loop tungstenite fastwebsockets tcp"}
CONNS=${CONNS:-"1 100"}
SIZES=${SIZES:-"16 1024 65536"}
WINDOWS=${WINDOWS:-"1 64"}
THREADS=${THREADS:-"1 2"}
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-0.5}
REPEAT=${REPEAT:-1}
RESULTS=${RESULTS:-$TARGET/race/results.jsonl}
PYTHON=${PYTHON:-python3}

# shellcheck source=benches/race/common.sh
source "$ROOT/benches/race/common.sh"

# Starts race-server $1 with $2 threads; sets SERVER_PID and URL.
start_server() {
    local out
    out=$(mktemp)
    "$BIN/race-server" "$1" --threads "$2" --max-seconds 120 > "$out" &
    SERVER_PID=$!
    URL=
    for _ in $(seq 100); do
        URL=$(sed -n 's/^listening on //p' "$out")
        [[ -n $URL ]] && break
        sleep 0.05
    done
    rm -f "$out"
    [[ -n $URL ]] || { echo "race-server $1 did not start" >&2; exit 1; }
}

# CPU ticks (utime + stime) the process has used.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

runs=0
for threads in $THREADS; do
  for conns in $CONNS; do
    for size in $SIZES; do
      for window in $WINDOWS; do
        for round in $(seq "$REPEAT"); do
          for server in $SERVERS; do
            start_server "$server" "$threads"
            before=$(cpu_ticks "$SERVER_PID")
            json=$(timeout 60 "$BIN/sockeye" bench "$URL" --json --quiet --binary \
                -c "$conns" -s "$size" -w "$window" --threads "$threads" \
                -d "$DURATION" --warmup "$WARMUP") || json='{"errors":["sockeye bench failed"]}'
            after=$(cpu_ticks "$SERVER_PID")
            stop_server
            echo "$json" | "$PYTHON" -c '
import json, sys
run = json.loads(sys.stdin.read())
run.update(server=sys.argv[1], threads=int(sys.argv[2]), round=int(sys.argv[3]),
           connections=int(sys.argv[4]), size=int(sys.argv[5]), window=int(sys.argv[6]),
           server_cpu_ticks=int(sys.argv[7]) - int(sys.argv[8]))
print(json.dumps(run))' "$server" "$threads" "$round" "$conns" "$size" "$window" "$after" "$before" \
                >> "$RESULTS"
            runs=$((runs + 1))
            printf '\r%d runs: %s threads=%s c=%s s=%s w=%s   ' \
                "$runs" "$server" "$threads" "$conns" "$size" "$window" >&2
          done
        done
      done
    done
  done
done
echo >&2

COMMAND="${GIVEN}benches/race/run.sh"
if [[ ${NO_WRITE:-} == 1 ]]; then
    "$PYTHON" benches/race/report.py servers "$RESULTS" --command "$COMMAND"
else
    "$PYTHON" benches/race/report.py servers "$RESULTS" --command "$COMMAND" \
        --write "${BENCHMARKS:-BENCHMARKS.md}" --marker "${MARKER:-race-servers}"
    echo "table written into ${BENCHMARKS:-BENCHMARKS.md} (results in $RESULTS)" >&2
fi
