#!/usr/bin/env bash
# Autobahn|Testsuite against every sockeye front-end: groups 1-10 in full and a representative
# subset of groups 12-13 (permessage-deflate: cases 1-6 and 11 of every data set and parameter
# set, 84 cases; the selection is in the JSON templates, the reasons in CONFORMANCE.md).
#
# Front-ends (the arguments, or FRONTENDS; default: all six, one after the other):
#   serve            `sockeye serve` (the tokio Server)
#   blocking-server  blocking::accept_with, a thread per connection    examples/autobahn_server.rs
#   tokio-accept     tokio::accept_async_with, a task per connection   examples/autobahn_server.rs
#   hyper            hyper's HTTP/1 server, tokio::hyper::upgrade      examples/autobahn_server.rs
#   blocking-client  blocking::connect_with                            examples/autobahn_client.rs
#   tokio-client     tokio::connect_async_with                         examples/autobahn_client.rs
# The servers are driven by `wstest -m fuzzingclient`, the clients by `wstest -m fuzzingserver`.
# A server is started on a port it picks itself (its first line: `listening on ws://ADDR`); a
# fuzzing server on a free port. Then prints the per-group table of each report (summarize.py)
# and fails unless every case is OK or INFORMATIONAL with a clean close (harness.py check).
# Reports: conformance/reports/<front-end>/ (index.json, per-case JSON, the logs).
#
#   bash conformance/run.sh              # needs .autobahn (ROOT=.autobahn bash conformance/autobahn-setup.sh)
#   bash conformance/run.sh hyper tokio-client        # only these front-ends
#   FRONTENDS="serve blocking-client" bash conformance/run.sh
#   AUTOBAHN=/tmp/autobahn bash conformance/run.sh
#   AUTOBAHN_FULL=1 bash conformance/run.sh   # all 517 cases: groups 12-13 take 10-25 min per front-end
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
ALL_FRONTENDS="serve blocking-server tokio-accept hyper blocking-client tokio-client"
if [ "$#" -gt 0 ]; then
    FRONTENDS="$*"
fi
FRONTENDS="${FRONTENDS:-$ALL_FRONTENDS}"
# Upper bounds, in seconds. The CI selection takes about 1 minute per front-end; all 517 cases
# up to 25 minutes per front-end on a busy machine (the suite's own zlib work dominates).
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

for frontend in $FRONTENDS; do
    case " $ALL_FRONTENDS " in
        *" $frontend "*) ;;
        *) die "unknown front-end '$frontend' (known: $ALL_FRONTENDS)" ;;
    esac
done
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
step "build (release): sockeye, the autobahn_server and autobahn_client examples"
bounded "$BUILD_TIMEOUT" cargo build --release --locked -p sockeye-cli --bin sockeye
bounded "$BUILD_TIMEOUT" cargo build --release --locked -p sockeye --features hyper \
    --example autobahn_server --example autobahn_client
TARGET_DIR="$(timeout 120 cargo metadata --format-version 1 --no-deps --locked \
    | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
SOCKEYE="$TARGET_DIR/release/sockeye"
SERVER="$TARGET_DIR/release/examples/autobahn_server"
DRIVER="$TARGET_DIR/release/examples/autobahn_client"

# COMMAND: what runs a front-end, a server (to be given its address) or a client driver (to be
# given the fuzzing server's URL and the agent name).
command_of() {
    case "$1" in
        serve) COMMAND=("$SOCKEYE" serve --listen) ;;
        blocking-server) COMMAND=("$SERVER" blocking) ;;
        tokio-accept) COMMAND=("$SERVER" tokio) ;;
        hyper) COMMAND=("$SERVER" hyper) ;;
        blocking-client) COMMAND=("$DRIVER") ;;
        tokio-client) COMMAND=("$DRIVER" --tokio) ;;
    esac
}

# --- server mode: wstest fuzzingclient -> a sockeye server -------------------------------------
server_mode() {
    local frontend=$1 dir="$REPORTS/$1" pid url="" started
    command_of "$frontend"
    # Made here: the background shell may open them only after the first look below.
    : >"$dir/server.stdout"
    "${COMMAND[@]}" 127.0.0.1:0 >"$dir/server.stdout" 2>"$dir/server.stderr" &
    pid=$!
    STARTED+=("$pid")
    for _ in $(seq $((START_TIMEOUT * 10))); do
        url="$(sed -n 's/^listening on \(ws:\/\/[^ ]*\)$/\1/p' "$dir/server.stdout")"
        [ -n "$url" ] && break
        kill -0 "$pid" 2>/dev/null || die "$frontend exited: $(cat "$dir/server.stderr")"
        sleep 0.1
    done
    [ -n "$url" ] || die "$frontend did not print its URL within $START_TIMEOUT s"
    echo "$frontend: $url"
    "$PY" "$HARNESS" spec conformance/fuzzingclient.json "$dir/spec.json" "$url" "$dir" "sockeye-$frontend"
    started=$SECONDS
    if ! bounded "$MODE_TIMEOUT" "$WSTEST" -m fuzzingclient -s "$dir/spec.json" \
            >"$dir/wstest.log" 2>&1; then
        tail -n 20 "$dir/wstest.log" >&2
        echo "conformance: wstest fuzzingclient failed or ran over $MODE_TIMEOUT s" >&2
    fi
    echo "$frontend: wstest fuzzingclient finished in $((SECONDS - started)) s (log: $dir/wstest.log)"
    stop "$pid"
}

# --- client mode: a sockeye client -> wstest fuzzingserver -------------------------------------
client_mode() {
    local frontend=$1 dir="$REPORTS/$1" pid="" port url attempt started
    for attempt in 1 2 3; do
        port="$("$PY" "$HARNESS" free-port)"
        url="ws://127.0.0.1:$port"
        "$PY" "$HARNESS" spec conformance/fuzzingserver.json "$dir/spec.json" "$url" "$dir" "sockeye-$frontend"
        # -u 0: no embedded web server (it would take port 8080).
        "$WSTEST" -m fuzzingserver -s "$dir/spec.json" -u 0 >"$dir/wstest.log" 2>&1 &
        pid=$!
        STARTED+=("$pid")
        if bounded $((START_TIMEOUT + 5)) "$PY" "$HARNESS" wait-port "$port" "$START_TIMEOUT" "$pid"; then
            break
        fi
        # The port may have been taken between picking and binding it: try another.
        stop "$pid"
        pid=""
        echo "attempt $attempt: wstest fuzzingserver did not start on port $port" >&2
    done
    [ -n "$pid" ] || die "wstest fuzzingserver did not start; see $dir/wstest.log"
    echo "wstest fuzzingserver: $url"
    started=$SECONDS
    command_of "$frontend"
    if ! bounded "$MODE_TIMEOUT" "${COMMAND[@]}" "$url" "sockeye-$frontend" \
            >"$dir/client.log" 2>&1; then
        tail -n 20 "$dir/client.log" >&2
        echo "conformance: $frontend failed or ran over $MODE_TIMEOUT s" >&2
    fi
    tail -n 2 "$dir/client.log"
    echo "$frontend: finished in $((SECONDS - started)) s (log: $dir/client.log)"
    stop "$pid"
}

# --- results -----------------------------------------------------------------------------------
# summarize.py prints the per-group table and fails on FAILED / NON-STRICT; harness.py check also
# fails on missing cases, UNIMPLEMENTED and any behaviorClose other than OK / INFORMATIONAL.
report() {
    local frontend=$1 spec="$REPORTS/$1/spec.json" index="$REPORTS/$1/index.json" result=0
    echo "# $frontend"
    if [ -f "$index" ]; then
        "$PY" "$AUTOBAHN/summarize.py" "$index" --strict || result=1
    else
        echo "no report: $index"
    fi
    "$PY" "$HARNESS" check "$spec" "$index" "$frontend" || result=1
    return "$result"
}

status=0
failed=()
mkdir -p "$REPORTS"
: >"$REPORTS/summary.txt"
for frontend in $FRONTENDS; do
    rm -rf "${REPORTS:?}/$frontend"
    mkdir -p "$REPORTS/$frontend"
    began=$SECONDS
    case "$frontend" in
        *-client)
            step "$frontend: client against wstest fuzzingserver"
            client_mode "$frontend"
            ;;
        *)
            step "$frontend: wstest fuzzingclient against the server"
            server_mode "$frontend"
            ;;
    esac
    step "results: $frontend ($REPORTS/$frontend/index.json)"
    if ! report "$frontend" | tee -a "$REPORTS/summary.txt"; then
        status=1
        failed+=("$frontend")
    fi
    echo "$frontend: $((SECONDS - began)) s in all" | tee -a "$REPORTS/summary.txt"
done

if [ "$status" -ne 0 ]; then
    printf '\nconformance: FAILED in %s (details above; per-case JSON in %s/<front-end>/*_case_*.json)\n' \
        "${failed[*]}" "$REPORTS"
    exit 1
fi
if [ "$AUTOBAHN_FULL" = 1 ]; then
    selection="all 517 cases (groups 1-13)"
else
    selection="groups 1-10 and the CI selection of groups 12-13"
fi
printf '\nconformance: %s OK or INFORMATIONAL, with a clean close, for %s.\n' "$selection" "$FRONTENDS"
