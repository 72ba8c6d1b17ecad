#!/usr/bin/env bash
# The whole test suite, from a clean clone on a fresh machine:
#   1. installs what the tests need (Debian packages such as nginx, Python peers in .venv,
#      Autobahn|Testsuite in .autobahn),
#   2. checks formatting and lints,
#   3. runs every Rust test — unit, property, in-memory pair, interop with real Python peers —
#      inside a private network namespace (loopback only) when it can make one,
#   4. runs the Autobahn|Testsuite conformance suite (conformance/run.sh) through every front-end:
#      `sockeye serve`, the blocking, tokio and hyper servers, the blocking and tokio clients.
# Any missing peer fails the suite; nothing is skipped silently.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR="$(pwd)"
step() { printf '\n==> %s\n' "$*"; }

# ---- system packages --------------------------------------------------------------------------
# Debian packages of the real components the tests start. Each entry is "COMMAND-or-/FILE:PACKAGE":
# the package is installed (non-interactively, as root) only when the command or file is missing.
step "system packages (Debian)"
SYSTEM_PACKAGES=(
    "nginx:nginx"                                            # TLS-terminating reverse proxy
    "/etc/ssl/certs/ca-certificates.crt:ca-certificates"     # the system trust store (TLS tests)
    # Proxy tests (crates/sockeye/tests/proxies.rs, crates/sockeye-cli/tests/proxies.rs):
    "tinyproxy:tinyproxy"                                    # HTTP CONNECT, Basic auth
    "squid:squid"                                            # HTTP CONNECT, https_port, ncsa auth
    "danted:dante-server"                                    # SOCKS4, SOCKS5 (+ system accounts)
    "microsocks:microsocks"                                  # SOCKS5 with username/password
    "sshd:openssh-server"                                    # ssh -D: the SOCKS4a server
    "ssh:openssh-client"
    "openssl:openssl"                                        # squid's password file; the Chromium wss:// test's SPKI hash
    # Node and browser peers (crates/sockeye/tests/interop_node.rs, crates/sockeye-cli/tests/chromium.rs):
    "node:nodejs"                                            # runs ws and playwright-core
    "npm:npm"                                                # installs them (see below)
    "/usr/bin/chromium:chromium"                             # the browser playwright-core drives
    # `sockeye man` pages rendered with groff's warnings on (crates/sockeye-cli/tests/cli_docs.rs):
    "man:man-db"
    "groff:groff-base"
    # `sockeye connect -r` and `--timings` on a terminal (crates/sockeye-cli/tests/cli_verbose.rs):
    "script:bsdutils"
)
missing_packages=()
for entry in "${SYSTEM_PACKAGES[@]}"; do
    what="${entry%%:*}"
    package="${entry#*:}"
    if [[ "$what" == /* ]]; then
        [ -e "$what" ] || missing_packages+=("$package")
    elif ! command -v "$what" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$what" ]; then
        missing_packages+=("$package")
    fi
done
if [ "${#missing_packages[@]}" -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "error: missing Debian packages: ${missing_packages[*]} (run as root, or install them)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing_packages[@]}"
fi
# ---- end of system packages -------------------------------------------------------------------

# ---- proxy tests: the throwaway account dante's SOCKS5 username method checks ----------------
# danted's `socksmethod: username` checks real system accounts; this one has no home and no
# login shell, and exists only for crates/sockeye/tests/proxies.rs (proxy_servers::SYSTEM_USER).
if ! id sockeye-proxy >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        echo "error: the proxy tests need the system account sockeye-proxy (run as root)" >&2
        exit 1
    fi
    useradd --system --no-create-home --shell /usr/sbin/nologin sockeye-proxy
    echo 'sockeye-proxy:sockeye-proxy-pw' | chpasswd
fi
# ---- end of proxy tests' account ---------------------------------------------------------------

step "Python peers (websockets, websocket-client, python-socks) in .venv"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check \
    "websockets==17.*" "websocket-client==1.9.*" "python-socks==3.*"
export SOCKEYE_PYTHON="$ROOT_DIR/.venv/bin/python"

# ---- Node packages: ws (interop_node.rs) and playwright-core (chromium.rs) --------------------
# Installed into .node/node_modules (git-ignored) with --no-save: no package.json, no lock file.
# The tests find them there (or in $SOCKEYE_NODE_MODULES) and fail when they are missing.
step "Node packages (ws 8, playwright-core 1) in .node"
if ! NODE_PATH="$ROOT_DIR/.node/node_modules" node -e \
        "require('ws/package.json').version.startsWith('8.') || process.exit(1); require('playwright-core/package.json')" \
        >/dev/null 2>&1; then
    mkdir -p .node
    npm install --no-save --no-audit --no-fund --prefix .node "ws@8" "playwright-core@1"
fi
export SOCKEYE_NODE_MODULES="$ROOT_DIR/.node/node_modules"
# ---- end of Node packages ---------------------------------------------------------------------

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

step "cargo test (unit, property, pair, interop with Python, Node and Chromium peers)"
in_private_net cargo test --workspace --locked --offline

# ---- fuzzing: every target for a bounded time (fuzz/README.md) ------------------------------
# cargo-fuzz on the stable toolchain without a sanitizer (no nightly, no RUSTC_BOOTSTRAP needed).
# Budget, measured on 2 cores: installing cargo-fuzz ~1 min (once), building the 10 targets
# ~55 s, 30 s per target = ~7 min in all (under 8). A crash, an input slower than 20 s or a
# failed memory bound fails the suite; the input is left in fuzz/artifacts/<target>/.
step "fuzzing: every fuzz target for 30 s (cargo-fuzz, no sanitizer)"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
bash fuzz/run.sh "${SOCKEYE_FUZZ_SECONDS:-30}"
# ---- end of fuzzing ---------------------------------------------------------------------------

# The CI selection (385 cases) for each of the six front-ends, one after the other: 30-40 s each,
# 3 min 40 s in all with the build (measured on 2 busy cores, 2026-12-05).
step "conformance: Autobahn|Testsuite, every server and client front-end"
in_private_net bash conformance/run.sh

printf '\nAll tests passed.\n'
