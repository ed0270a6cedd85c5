#!/bin/sh
# Runs the whole test suite with what it needs: the HTML report's end-to-end test renders the
# report in headless Chromium (Debian package `chromium`), and fails, not skips, without it.
set -eu
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update && apt-get install -y chromium
    else
        sudo apt-get update && sudo apt-get install -y chromium
    fi
fi
cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test "$@"
echo "screenshots of the HTML report: target/test-artifacts/"
