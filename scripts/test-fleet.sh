#!/usr/bin/env bash
# The fleet test: the Ansible role and playbook of contrib/ansible/ run for real with Debian's
# ansible-core against four "nodes", each a network namespace of this test running Debian's
# OpenSSH server, with a fixture sysroot per node (tests/fleet/). The controller is a namespace
# too, joined to each node by its own veth pair; addresses are from TEST-NET-1 (192.0.2.0/24),
# which exists only inside these namespaces. No traffic leaves them.
#
# Checks: every reachable node's bundle is fetched and verified, the pair is inspected together,
# one run directory with SUMMARY.txt and summary.json; the unreachable node is named, not fatal;
# a second run changes nothing on the nodes but the bundle (the binary is not copied again);
# --check writes nothing anywhere; nothing is left on the nodes but the binary.
#
# Usage (as root): scripts/test-fleet.sh [BINARY]   (default: the static build of scripts/dist.sh)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

. scripts/lib/needs.sh
need_root test-fleet.sh "it creates network namespaces and starts sshd"
need_commands test-fleet.sh ansible-playbook:ansible-core /usr/sbin/sshd:openssh-server \
    ssh:openssh-client ip:iproute2 python3:python3

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
bin=${1:-${DIST_DIR:-dist}/drx-collect-$version-x86_64-linux}
if [ ! -x "$bin" ]; then
    scripts/dist.sh linux
fi
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

tmp=$(mktemp -d /tmp/drx-fleet.XXXXXX)
chmod 0755 "$tmp"
tag=$$
nodes=(a1 a2 b1 down)
ctl=drxf$tag-ctl
sshd_pids=()
cleanup() {
    for pid in "${sshd_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for node in "${nodes[@]}"; do ip netns del "drxf$tag-$node" 2>/dev/null || true; done
    ip netns del "$ctl" 2>/dev/null || true
    [ -n "${DRX_FLEET_KEEP:-}" ] || rm -rf "$tmp" /tmp/.drxf-$tag
}
trap cleanup EXIT

fail() {
    echo "test-fleet.sh: FAIL: $*" >&2
    exit 1
}

# --- the network: a controller namespace and one namespace per node ---------------------------
ip netns add "$ctl"
ip -n "$ctl" link set lo up
declare -A address
i=0
for node in "${nodes[@]}"; do
    ns=drxf$tag-$node
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip link add "c$tag$i" netns "$ctl" type veth peer name eth0 netns "$ns"
    ip -n "$ctl" addr add "192.0.2.$((4 * i + 1))/30" dev "c$tag$i"
    ip -n "$ns" addr add "192.0.2.$((4 * i + 2))/30" dev eth0
    ip -n "$ctl" link set "c$tag$i" up
    ip -n "$ns" link set eth0 up
    address[$node]=192.0.2.$((4 * i + 2))
    i=$((i + 1))
done

# --- sshd in every node but "down" (its address answers with a refusal) ------------------------
mkdir -p /run/sshd
: >"$tmp/empty_bashrc"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/client_key" -C drx-fleet-test
cp "$tmp/client_key.pub" "$tmp/authorized_keys"
: >"$tmp/known_hosts"
for node in a1 a2 b1; do
    dir=$tmp/sshd-$node
    mkdir -p "$dir"
    ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key" -C "$node"
    cat >"$dir/sshd_config" <<CONF
ListenAddress ${address[$node]}
Port 22
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $tmp/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp /usr/lib/openssh/sftp-server
CONF
    # A mount namespace of its own: root's ~/.bashrc on this machine runs pyenv, which bash reads
    # for every ssh command; the nodes get an empty one, as on a plain server.
    ip netns exec "drxf$tag-$node" unshare -m --propagation private sh -c \
        "{ [ ! -e /root/.bashrc ] || mount --bind '$tmp/empty_bashrc' /root/.bashrc; } && exec /usr/sbin/sshd -D -e -f '$dir/sshd_config'" \
        2>"$dir/sshd.log" &
    sshd_pids+=($!)
    echo "${address[$node]} $(cut -d' ' -f1,2 "$dir/host_key.pub")" >>"$tmp/known_hosts"
done
for node in a1 a2 b1; do # bounded wait for each sshd to listen
    for _ in $(seq 50); do
        ip netns exec "$ctl" bash -c "exec 3<>/dev/tcp/${address[$node]}/22" 2>/dev/null && break
        sleep 0.1
    done
done

# --- fixture sysroots and the inventory -------------------------------------------------------
for node in a1 a2 b1; do
    mkdir -p "$tmp/roots/$node"
    cp -r "tests/fleet/roots/$node/." "$tmp/roots/$node/"
done
mkdir -p "$tmp/bin"
cat >"$tmp/bin/drx" <<'SH'
#!/bin/sh
# A stand-in DRX: prints the version of the node's sysroot (tests/fleet/roots/*/drx-version).
cat "$DRX_FLEET_ROOT/drx-version"
SH
chmod 0755 "$tmp/bin/drx"
inventory=$tmp/inventory.yml
host_entry() { # node
    echo "            $1:"
    echo "              ansible_host: ${address[$1]}"
    [ "$1" = down ] || echo "              drx_collect_root: $tmp/roots/$1"
}
{
    echo "all:"
    echo "  children:"
    echo "    drx_nodes:"
    echo "      vars:"
    echo "        ansible_user: root"
    echo "        ansible_ssh_private_key_file: $tmp/client_key"
    echo "        ansible_ssh_common_args: -o UserKnownHostsFile=$tmp/known_hosts -o StrictHostKeyChecking=yes -o ConnectTimeout=5"
    echo "        ansible_python_interpreter: /usr/bin/python3"
    echo "        drx_collect_work_dir: /tmp/.drxf-$tag/work/{{ inventory_hostname }}"
    echo "        drx_collect_install_path: /tmp/.drxf-$tag/bin/{{ inventory_hostname }}/drx-collect"
    echo "        drx_collect_environment:"
    echo "          PATH: $tmp/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    echo "          DRX_FLEET_ROOT: \"{{ drx_collect_root }}\""
    echo "      children:"
    echo "        drx_pair_a:"
    echo "          hosts:"
    host_entry a1
    host_entry a2
    echo "        drx_solo:"
    echo "          hosts:"
    host_entry b1
    host_entry down
} >"$inventory"
mkdir -p "/tmp/.drxf-$tag"
for node in a1 a2 b1 down; do mkdir -p "/tmp/.drxf-$tag/bin/$node" "/tmp/.drxf-$tag/work"; done

playbook() { # output-file ansible-playbook arguments…
    local log=$1
    shift
    ip netns exec "$ctl" env ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 \
        ANSIBLE_LOCAL_TEMP="$tmp/ansible-local" ANSIBLE_HOME="$tmp/ansible-home" \
        ANSIBLE_STDOUT_CALLBACK=json ANSIBLE_TIMEOUT=10 ANSIBLE_PIPELINING=1 \
        timeout 600 ansible-playbook -i "$inventory" contrib/ansible/collect.yml \
        -e "drx_collect_binary=$bin" -e "drx_fleet_output=$tmp/runs" "$@" >"$log" 2>"$log.stderr"
}

# --- 1. a run -----------------------------------------------------------------------------------
set +e
playbook "$tmp/run1.json"
rc=$?
set -e
# 4: a host was unreachable ("down"); everything else must have worked.
[ "$rc" = 4 ] || { cat "$tmp/run1.json.stderr" >&2; fail "first run exited $rc, expected 4 (down unreachable)"; }
python3 tests/fleet/check_run.py first "$tmp/run1.json" "$tmp/runs" "$bin" || fail "first run"

# --- 2. again: the binary is not copied again; a new run directory ---------------------------
set +e
playbook "$tmp/run2.json"
rc=$?
set -e
[ "$rc" = 4 ] || fail "second run exited $rc, expected 4"
python3 tests/fleet/check_run.py second "$tmp/run2.json" "$tmp/runs" "$bin" || fail "second run"

# --- 3. --check on a node set up anew: nothing written anywhere --------------------------------
before=$(find "$tmp/runs" /tmp/.drxf-$tag | sort | sha256sum)
set +e
playbook "$tmp/run3.json" --check -e "drx_collect_install_path=/tmp/.drxf-$tag/fresh/drx-collect"
rc=$?
set -e
[ "$rc" = 4 ] || fail "--check run exited $rc, expected 4"
after=$(find "$tmp/runs" /tmp/.drxf-$tag | sort | sha256sum)
[ "$before" = "$after" ] || fail "--check changed files"
python3 tests/fleet/check_run.py check "$tmp/run3.json" "$tmp/runs" "$bin" || fail "--check run"

# --- nothing left on the nodes but the binary ---------------------------------------------------
left=$(find "/tmp/.drxf-$tag" -type f | sort)
expected=$(for node in a1 a2 b1; do echo "/tmp/.drxf-$tag/bin/$node/drx-collect"; done | sort)
[ "$left" = "$expected" ] || fail "left on the nodes: $left"

echo "test-fleet.sh: the fleet test passed (3 nodes, 1 pair, 1 unreachable; idempotent; --check safe)"
