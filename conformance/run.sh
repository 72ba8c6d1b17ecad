#!/usr/bin/env bash
# Autobahn|Testsuite against sockeye, both ways: groups 1-10 in full and a representative subset
# of groups 12-13 (permessage-deflate: cases 1-6 and 11 of every data set and parameter set, 84
# cases; the selection is in the JSON templates, the reasons in CONFORMANCE.md):
#   1. server: `sockeye serve` on a port it picks itself, driven by `wstest -m fuzzingclient`;
#   2. client: `wstest -m fuzzingserver` on a free port, driven by examples/autobahn_client.rs.
# Then prints the per-group table of each report (summarize.py) and fails unless every case is
# OK or INFORMATIONAL with a clean close (harness.py check). Reports: conformance/reports/.
#
#   bash conformance/run.sh              # needs .autobahn (ROOT=.autobahn bash conformance/autobahn-setup.sh)
#   AUTOBAHN=/tmp/autobahn bash conformance/run.sh
#   AUTOBAHN_FULL=1 bash conformance/run.sh   # all 517 cases: groups 12-13 take 10-25 min per mode
#
# Everything it starts is stopped on exit, and every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR="$(pwd)"
AUTOBAHN="${AUTOBAHN:-$ROOT_DIR/.autobahn}"
WSTEST="$AUTOBAHN/venv/bin/wstest"
PY="$AUTOBAHN/venv/bin/python"
HARNESS="$ROOT_DIR/conformance/harness.py"
REPORTS="conformance/reports"
# Upper bounds, in seconds. The CI selection takes about 1 minute per mode; all 517 cases up to
# 25 minutes per mode on a busy machine (the suite's own zlib work dominates).
BUILD_TIMEOUT="${BUILD_TIMEOUT:-1200}"
if [ "${AUTOBAHN_FULL:-0}" = 1 ]; then
    MODE_TIMEOUT="${MODE_TIMEOUT:-3600}"
else
    MODE_TIMEOUT="${MODE_TIMEOUT:-900}"
fi
export AUTOBAHN_FULL="${AUTOBAHN_FULL:-0}"
START_TIMEOUT=30

step() { printf '\n==> %s\n' "$*"; }
die() { printf 'conformance: %s\n' "$*" >&2; exit 2; }

if [ ! -x "$WSTEST" ]; then
    die "no wstest at $WSTEST; run: ROOT=$AUTOBAHN bash conformance/autobahn-setup.sh"
fi

# --- processes we start, stopped on any exit ----------------------------------------------
# Only processes this script started, by pid; a pid leaves the list once it has been reaped, so a
# reused pid is never signalled.
STARTED=()
forget() {
    local keep=() pid
    for pid in "${STARTED[@]}"; do
        [ "$pid" = "$1" ] || keep+=("$pid")
    done
    STARTED=("${keep[@]}")
}
stop() {
    local pid=$1
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    forget "$pid"
}
cleanup() {
    local pid
    for pid in "${STARTED[@]}"; do
        stop "$pid"
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Runs a command with a time limit, in the background so that a signal to this script stops it
# at once (bash runs traps only between foreground commands, but interrupts `wait`).
bounded() {
    local limit=$1 pid result=0
    shift
    timeout -k 10 "$limit" "$@" &
    pid=$!
    STARTED+=("$pid")
    wait "$pid" || result=$?
    forget "$pid"
    return "$result"
}

# --- build ------------------------------------------------------------------------------------
step "build sockeye (release) and the autobahn_client example"
bounded "$BUILD_TIMEOUT" cargo build --release --locked -p sockeye-cli --bin sockeye
bounded "$BUILD_TIMEOUT" cargo build --release --locked -p sockeye --example autobahn_client
TARGET_DIR="$(timeout 120 cargo metadata --format-version 1 --no-deps --locked \
    | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
SOCKEYE="$TARGET_DIR/release/sockeye"
DRIVER="$TARGET_DIR/release/examples/autobahn_client"

rm -rf "$REPORTS/servers" "$REPORTS/clients"
mkdir -p "$REPORTS"

# --- 1. server mode: wstest fuzzingclient -> sockeye serve ------------------------------------
step "server: wstest fuzzingclient against sockeye serve"
"$SOCKEYE" serve --listen 127.0.0.1:0 >"$REPORTS/serve.stdout" 2>"$REPORTS/serve.stderr" &
SERVE_PID=$!
STARTED+=("$SERVE_PID")
SERVER_URL=""
for _ in $(seq $((START_TIMEOUT * 10))); do
    SERVER_URL="$(sed -n 's/^listening on \(ws:\/\/[^ ]*\)$/\1/p' "$REPORTS/serve.stdout")"
    [ -n "$SERVER_URL" ] && break
    kill -0 "$SERVE_PID" 2>/dev/null || die "sockeye serve exited: $(cat "$REPORTS/serve.stderr")"
    sleep 0.1
done
[ -n "$SERVER_URL" ] || die "sockeye serve did not print its URL within $START_TIMEOUT s"
echo "sockeye serve: $SERVER_URL"
"$PY" "$HARNESS" spec conformance/fuzzingclient.json "$REPORTS/fuzzingclient.json" "$SERVER_URL"
started=$SECONDS
if ! bounded "$MODE_TIMEOUT" "$WSTEST" -m fuzzingclient -s "$REPORTS/fuzzingclient.json" \
        >"$REPORTS/fuzzingclient.log" 2>&1; then
    tail -n 20 "$REPORTS/fuzzingclient.log" >&2
    echo "conformance: wstest fuzzingclient failed or ran over $MODE_TIMEOUT s" >&2
fi
echo "wstest fuzzingclient finished in $((SECONDS - started)) s (log: $REPORTS/fuzzingclient.log)"
stop "$SERVE_PID"

# --- 2. client mode: autobahn_client -> wstest fuzzingserver ---------------------------------
step "client: autobahn_client against wstest fuzzingserver"
FUZZ_PID=""
for attempt in 1 2 3; do
    PORT="$("$PY" "$HARNESS" free-port)"
    FUZZ_URL="ws://127.0.0.1:$PORT"
    "$PY" "$HARNESS" spec conformance/fuzzingserver.json "$REPORTS/fuzzingserver.json" "$FUZZ_URL"
    # -u 0: no embedded web server (it would take port 8080).
    "$WSTEST" -m fuzzingserver -s "$REPORTS/fuzzingserver.json" -u 0 \
        >"$REPORTS/fuzzingserver.log" 2>&1 &
    FUZZ_PID=$!
    STARTED+=("$FUZZ_PID")
    if bounded $((START_TIMEOUT + 5)) "$PY" "$HARNESS" wait-port "$PORT" "$START_TIMEOUT" "$FUZZ_PID"; then
        break
    fi
    # The port may have been taken between picking and binding it: try another.
    stop "$FUZZ_PID"
    FUZZ_PID=""
    echo "attempt $attempt: wstest fuzzingserver did not start on port $PORT" >&2
done
[ -n "$FUZZ_PID" ] || die "wstest fuzzingserver did not start; see $REPORTS/fuzzingserver.log"
echo "wstest fuzzingserver: $FUZZ_URL"
started=$SECONDS
if ! bounded "$MODE_TIMEOUT" "$DRIVER" "$FUZZ_URL" sockeye >"$REPORTS/autobahn_client.log" 2>&1; then
    tail -n 20 "$REPORTS/autobahn_client.log" >&2
    echo "conformance: autobahn_client failed or ran over $MODE_TIMEOUT s" >&2
fi
tail -n 2 "$REPORTS/autobahn_client.log"
echo "autobahn_client finished in $((SECONDS - started)) s (log: $REPORTS/autobahn_client.log)"
stop "$FUZZ_PID"

# --- 3. results ------------------------------------------------------------------------------
# summarize.py prints the per-group table and fails on FAILED / NON-STRICT; harness.py check also
# fails on missing cases, UNIMPLEMENTED and any behaviorClose other than OK / INFORMATIONAL.
report() {
    local mode=$1 spec=$2 result=0
    echo "# $mode"
    if [ -f "$REPORTS/$mode/index.json" ]; then
        "$PY" "$AUTOBAHN/summarize.py" "$REPORTS/$mode/index.json" --strict || result=1
    else
        echo "no report: $REPORTS/$mode/index.json"
    fi
    "$PY" "$HARNESS" check "$spec" "$REPORTS/$mode/index.json" "$mode" || result=1
    return "$result"
}
status=0
: >"$REPORTS/summary.txt"
step "results: server mode ($REPORTS/servers/index.json)"
report servers "$REPORTS/fuzzingclient.json" | tee -a "$REPORTS/summary.txt" || status=1
step "results: client mode ($REPORTS/clients/index.json)"
report clients "$REPORTS/fuzzingserver.json" | tee -a "$REPORTS/summary.txt" || status=1

if [ "$status" -ne 0 ]; then
    printf '\nconformance: FAILED (details above; per-case JSON in %s/*/sockeye_case_*.json)\n' "$REPORTS"
    exit 1
fi
if [ "$AUTOBAHN_FULL" = 1 ]; then
    selection="all 517 cases (groups 1-13)"
else
    selection="groups 1-10 and the CI selection of groups 12-13"
fi
printf '\nconformance: %s OK or INFORMATIONAL, with a clean close, in both modes.\n' "$selection"
