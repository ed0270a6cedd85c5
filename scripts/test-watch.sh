#!/usr/bin/env bash
# The `watch` test in network namespaces (tests/e2e/watch.rs, #[ignore]d in a plain cargo test):
# two namespaces made by the test, a real TCP listener in one, a DROP rule that leaves SYN_SENT;
# `record` on a small tmpfs of its own that is filled while it writes (a full disk).
# Needs root; installs what is missing; never skips. Traffic stays inside the namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib/needs.sh
need_root test-watch.sh "it creates network namespaces and mounts a tmpfs"
need_commands test-watch.sh ip:iproute2 iptables:iptables mount:mount dd:coreutils
cargo test --locked --test e2e -- --ignored --test-threads=1 watch::
