#!/usr/bin/env bash
# End-to-end tests that need root for a mount of their own (#[ignore]d in a plain cargo test):
# inspect of a case file with a TMPDIR on a small tmpfs (tests/e2e/case_file.rs). Never skips.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib/needs.sh
need_root test-root.sh "it mounts a small tmpfs"
need_commands test-root.sh mount:mount umount:mount
cargo test --locked --test e2e -- --ignored --test-threads=1 case_file::
