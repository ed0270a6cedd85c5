#!/usr/bin/env bash
# The --peer end-to-end tests (tests/e2e/peer.rs, #[ignore]d in a plain cargo test): two network
# namespaces made by each test, Debian's OpenSSH server in the peer's, fixture sysroots on both
# sides. Needs root; installs what is missing; never skips. Traffic stays inside the namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "test-peer.sh: run as root (it creates network namespaces and starts sshd)" >&2
    exit 1
fi
missing=()
for pair in /usr/sbin/sshd:openssh-server ssh:openssh-client ip:iproute2 unshare:util-linux \
    ssh-keygen:openssh-client ping:iputils-ping iptables:iptables; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "test-peer.sh: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# One at a time: each test makes its own namespaces, and the check that nothing is left in the
# peer's /tmp must not see another test's files.
cargo test --locked --test e2e -- --ignored --test-threads=1 peer::
