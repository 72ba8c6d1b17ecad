#!/usr/bin/env bash
# The whole test suite, from a clean clone on a fresh machine:
#   1. installs what the tests need (Python peers in .venv, Autobahn|Testsuite in .autobahn),
#   2. checks formatting and lints,
#   3. runs every Rust test — unit, property, in-memory pair, interop with real Python peers —
#      inside a private network namespace (loopback only) when it can make one,
#   4. runs the Autobahn|Testsuite conformance suite in both modes (conformance/run.sh).
# Any missing peer fails the suite; nothing is skipped silently.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR="$(pwd)"
step() { printf '\n==> %s\n' "$*"; }

step "Python peers (websockets, websocket-client) in .venv"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check \
    "websockets==17.*" "websocket-client==1.9.*"
export SOCKEYE_PYTHON="$ROOT_DIR/.venv/bin/python"

step "Autobahn|Testsuite in .autobahn"
if [ ! -x .autobahn/venv/bin/wstest ]; then
    ROOT="$ROOT_DIR/.autobahn" bash conformance/autobahn-setup.sh
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, all features, warnings are errors)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

step "build tests"
cargo build --workspace --all-targets --locked
cargo test --workspace --locked --no-run

# Tests that start third-party peers run without any network but loopback.
in_private_net() {
    if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
        unshare -n sh -c 'ip link set lo up && exec "$@"' sh "$@"
    else
        echo "note: cannot create a network namespace (not root); running on the host's loopback" >&2
        "$@"
    fi
}

step "cargo test (unit, property, pair, interop with Python peers)"
in_private_net cargo test --workspace --locked --offline

step "conformance: Autobahn|Testsuite, sockeye server and client"
in_private_net bash conformance/run.sh

printf '\nAll tests passed.\n'
