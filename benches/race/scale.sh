#!/usr/bin/env bash
# Scale: 10,000 idle connections on an echo server, and the server's resident memory per
# connection (VmRSS from /proc/PID/status: idle, after one 16 B echo on each, after one 64 KiB
# echo on each). SERVERS defaults to `sockeye serve` itself (sockeye-serve: the CLI's echo mode,
# which keeps a handle to every connection for broadcast), sockeye's tokio Server and its hand
# loop, with the peers for comparison; CONNECTIONS to 10000. COMPRESSION=1 makes the client offer
# permessage-deflate (only sockeye-serve accepts it), to show what compression state costs. The table goes into BENCHMARKS.md (block race-scale;
# NO_WRITE=1 prints it instead).
#
#   benches/race/scale.sh
#
# Raises the open-file limit to what the hard limit allows (the server and the client each
# need CONNECTIONS descriptors). Everything runs on 127.0.0.1; every server started is stopped.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SERVERS=${SERVERS:-"sockeye-serve sockeye sockeye-loop tungstenite fastwebsockets"}
CONNECTIONS=${CONNECTIONS:-10000}
# Seconds to wait before each reading: sockeye gives a grown buffer back after 1 s idle.
SETTLE=${SETTLE:-4}
RESULTS=${RESULTS:-$TARGET/race/scale.jsonl}
PYTHON=${PYTHON:-python3}

ulimit -n "$(ulimit -Hn)"
if (( $(ulimit -n) < CONNECTIONS + 100 )); then
    echo "the open-file limit ($(ulimit -n)) is below $CONNECTIONS connections" >&2
    exit 1
fi

# shellcheck source=benches/race/common.sh
source "$ROOT/benches/race/common.sh"

for server in $SERVERS; do
    out=$(mktemp)
    if [[ $server == sockeye-serve ]]; then
        # Its default runtime, like a user's; quiet, so nothing per connection is printed.
        "$BIN/sockeye" serve --listen 127.0.0.1:0 > "$out" &
    else
        "$BIN/race-server" "$server" --threads 1 --max-seconds 300 > "$out" &
    fi
    SERVER_PID=$!
    URL=
    for _ in $(seq 100); do
        URL=$(sed -n 's/^listening on //p' "$out")
        [[ -n $URL ]] && break
        sleep 0.05
    done
    rm -f "$out"
    [[ -n $URL ]] || { echo "race-server $server did not start" >&2; exit 1; }
    json=$(timeout 240 "$BIN/race-scale" "$URL" --pid "$SERVER_PID" -c "$CONNECTIONS" --settle "$SETTLE" \
        ${COMPRESSION:+--compression}) \
        || json="{\"error\": \"race-scale failed\", \"connections\": $CONNECTIONS}"
    stop_server
    echo "$json" | "$PYTHON" -c '
import json, sys
run = json.loads(sys.stdin.read())
run["server"] = sys.argv[1] + (" (deflate)" if run.get("compression") else "")
print(json.dumps(run))' "$server" >> "$RESULTS"
    echo "$server: $json" >&2
done

COMMAND="benches/race/scale.sh"
if [[ ${NO_WRITE:-} == 1 ]]; then
    "$PYTHON" benches/race/report.py scale "$RESULTS" --command "$COMMAND"
else
    "$PYTHON" benches/race/report.py scale "$RESULTS" --command "$COMMAND" \
        --write "${BENCHMARKS:-BENCHMARKS.md}" --marker race-scale
    echo "table written into ${BENCHMARKS:-BENCHMARKS.md} (results in $RESULTS)" >&2
fi
