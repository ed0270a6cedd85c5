#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine with only the Rust toolchain, then runs
# every test: formatting, lints, unit and end-to-end tests, the Windows build under wine, and a
# short fuzzing run. Nothing is skipped because a tool is missing: it is installed, or this fails.
#
# Usage: scripts/test.sh            (as root, or with sudo available)
#        FUZZ_SECONDS=60 scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian packages the tests use: the real drbdadm (its parse error for a BOM file), file, tar,
# gzip, pigz, unzip/zip, sha256sum, pgrep, Python's tarfile; chromium renders the HTML report;
# iptables, ufw and firewalld (firewall-offline-cmd) make real rulesets in network namespaces
# (tests/e2e/realworld.rs); ansible-core, OpenSSH and iproute2 run the fleet and --peer tests;
# age, python3-jsonschema, man-db, rpm/rpm2cpio/cpio check sealed bundles, schemas and packages;
# postgresql: the case database's server (scripts/test-cases-pg.sh starts its own cluster);
# systemd: systemd-analyze verify checks the units `schedule install --systemd` writes;
# bash-completion, zsh, fish and tmux drive the completion scripts in real shells (tests/e2e/shell.rs).
packages=(drbd-utils file tar gzip pigz unzip zip coreutils procps python3 chromium
    iptables ufw firewalld iproute2 util-linux time
    ansible-core openssh-server openssh-client iputils-ping
    age python3-jsonschema man-db rpm rpm2cpio cpio postgresql systemd
    bash-completion zsh fish tmux)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "test.sh: installing ${missing[*]}" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --locked
echo "== the case database on PostgreSQL, against SQLite"
scripts/test-cases-pg.sh

echo "== --peer for real: two network namespaces, sshd, probes (tests/e2e/peer.rs)"
scripts/test-peer.sh

echo "== watch for real: network namespaces, a listener, a DROP rule (tests/e2e/watch.rs)"
scripts/test-watch.sh

echo "== a case file with TMPDIR on a small tmpfs (tests/e2e/case_file.rs)"
scripts/test-root.sh

echo "== release artefacts: static Linux binary and Windows .exe, checked"
scripts/dist.sh
scripts/check-dist.sh
echo "== the fleet: contrib/ansible against sshd in network namespaces"
scripts/test-fleet.sh
echo "== the Windows .exe under wine"
scripts/test-windows.sh

echo "== fuzzing the bundle reader, the split-set reader and the config parser for ${FUZZ_SECONDS:-30} s in all"
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
echo "test.sh: all tests passed"
