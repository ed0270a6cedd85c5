#!/usr/bin/env bash
# The --peer end-to-end tests (tests/e2e/peer.rs, #[ignore]d in a plain cargo test): two network
# namespaces made by each test, Debian's OpenSSH server in the peer's, fixture sysroots on both
# sides. Needs root; installs what is missing; never skips. Traffic stays inside the namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib/needs.sh
need_root test-peer.sh "it creates network namespaces and starts sshd"
need_commands test-peer.sh /usr/sbin/sshd:openssh-server ssh:openssh-client ip:iproute2 \
    unshare:util-linux ssh-keygen:openssh-client ping:iputils-ping iptables:iptables
# One at a time: each test makes its own namespaces, and the check that nothing is left in the
# peer's /tmp must not see another test's files.
cargo test --locked --test e2e -- --ignored --test-threads=1 peer::
