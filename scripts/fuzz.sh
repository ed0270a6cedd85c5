#!/usr/bin/env sh
# Runs the bundle reader fuzz target for a few seconds (default 20), starting from the committed
# seeds in fuzz/seeds/bundle_reader. Needs the nightly toolchain; installs cargo-fuzz if missing.
# Usage: scripts/fuzz.sh [SECONDS]
set -eu
seconds="${1:-20}"
cd "$(dirname "$0")/.."

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo +nightly install cargo-fuzz --locked
fi

# New inputs go to a scratch corpus, so the committed seeds stay as they are.
mkdir -p fuzz/corpus/bundle_reader
exec cargo +nightly fuzz run bundle_reader \
    fuzz/corpus/bundle_reader fuzz/seeds/bundle_reader \
    -- -max_total_time="$seconds" -rss_limit_mb=1024 -timeout=10
