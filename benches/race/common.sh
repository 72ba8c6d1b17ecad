# Sourced by run.sh and scale.sh: the binaries, the results file, and stopping the server.
# Expects ROOT, TARGET and RESULTS; sets BIN and SERVER_PID, and stops the server on exit.

cd "$ROOT"
# BIN=DIR uses the binaries already built there (a fixed build while the tree changes).
if [[ -z ${BIN:-} ]]; then
    echo "building (release)..." >&2
    cargo build --release --quiet -p sockeye-race -p sockeye-cli
    BIN=$TARGET/release
fi
mkdir -p "$(dirname "$RESULTS")"
: > "$RESULTS"

SERVER_PID=
stop_server() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}
trap stop_server EXIT
