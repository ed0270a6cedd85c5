#!/usr/bin/env sh
# Runs every fuzz target for a share of SECONDS (default 30 in all, split evenly, so CI's total
# fuzzing time stays the same as targets are added), each starting from its committed seeds in
# fuzz/seeds/<target>. Needs the nightly toolchain; installs cargo-fuzz if missing.
# Usage: scripts/fuzz.sh [SECONDS]
set -eu
seconds="${1:-30}"
targets="bundle_reader split_set resfile"
cd "$(dirname "$0")/.."

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo +nightly install cargo-fuzz --locked
fi

count=$(echo $targets | wc -w)
share=$((seconds / count))
[ "$share" -ge 1 ] || share=1
for target in $targets; do
    echo "fuzz.sh: $target for ${share} s" >&2
    # New inputs go to a scratch corpus, so the committed seeds stay as they are.
    mkdir -p "fuzz/corpus/$target"
    cargo +nightly fuzz run "$target" \
        "fuzz/corpus/$target" "fuzz/seeds/$target" \
        -- -max_total_time="$share" -rss_limit_mb=1024 -timeout=10
done
