#!/usr/bin/env bash
# Builds every fuzz target once and runs each for a bounded time, one after the other, on the
# stable toolchain (no sanitizer: see README.md). Fails at the first crash, timeout or memory
# limit; the input is left in fuzz/artifacts/<target>/.
#
#   bash fuzz/run.sh SECONDS [TARGET...]        # every target when none is named
#
# Corpora grow in fuzz/corpus/<target>/ (git-ignored) and are reused by later runs. Each
# target's last libFuzzer status line (executions, cov, ft, corpus) is printed, and its whole
# output kept in fuzz/logs/<target>.log (git-ignored).
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:?usage: fuzz/run.sh SECONDS [TARGET...]}"
shift
if [ "$#" -gt 0 ]; then
    targets=("$@")  # built one by one below
else
    mapfile -t targets < <(cargo fuzz list)
fi

if [ "$#" -gt 0 ]; then
    for target in "${targets[@]}"; do cargo fuzz build --sanitizer none "$target"; done
else
    cargo fuzz build --sanitizer none
fi

mkdir -p logs
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    started=$(date +%s)
    # -timeout: one input taking longer is a finding (an endless loop, a quadratic re-scan).
    # -rss_limit_mb: well above what any target needs (the largest stays under 200 MB).
    if ! cargo fuzz run --sanitizer none "$target" "corpus/$target" -- \
            -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
            -print_final_stats=1 >"logs/$target.log" 2>&1; then
        tail -n 60 "logs/$target.log" >&2
        echo "error: fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    status=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "logs/$target.log" | tail -n 1 || true)
    printf '%-20s %4ss  %s\n' "$target" "$(( $(date +%s) - started ))" "${status:-?}"
done
