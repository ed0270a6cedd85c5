#!/usr/bin/env bash
# The performance benchmark of issue 8, as ratios measured in one run on this machine:
#   collect of a sysroot holding SIZE of syslog text (--max-file-size 1GiB)
#       vs  tar cf - . | pigz -p 2            (target: ratio <= 1.0)
#   peak RSS of that collect                   (target: <= 96 MiB, flat as the input grows)
#   inspect of that bundle (verify + all rules)
#       vs  zcat bundle | grep -c -E '<the rules' patterns>'   (target: ratio <= 1.0)
# Each pair runs alternately RUNS times; min / median / max are printed.
#
# Usage: bench/run.sh [SIZE] [RUNS]      e.g. bench/run.sh 256MiB 5
#        BIG=512MiB bench/run.sh          also checks RSS at a second, larger size
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-256MiB}"
runs="${2:-5}"
big="${BIG:-512MiB}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
need=()
command -v pigz >/dev/null || need+=(pigz)
command -v bc >/dev/null || need+=(bc)
[ -x /usr/bin/time ] || need+=(time)
if [ "${#need[@]}" -gt 0 ]; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

cargo build --release --quiet --example gen-syslog
cargo build --release --quiet
bin="$PWD/target/release/drx-collect"
work="${BENCH_DIR:-$PWD/target/bench}"
rm -rf "$work"
mkdir -p "$work/out" "$work/empty-path"

make_root() { # SIZE DIR
    mkdir -p "$2/etc" "$2/var/log"
    echo node1 > "$2/etc/hostname"
    echo "CentOS Linux release 7.9.2009 (Core)" > "$2/etc/redhat-release"
    target/release/examples/gen-syslog "$1" > "$2/var/log/messages"
}
make_root "$size" "$work/root"

# Seconds of wall time of a command (bash's own clock, to the millisecond).
seconds() {
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}
stats() { # prints min median max of its arguments
    printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {printf "%.3f %.3f %.3f", a[1], a[int((NR+1)/2)], a[NR]}'
}
collect() { # ROOT -> prints the bundle path
    rm -f "$work"/out/*
    # An empty PATH: under --root commands come from PATH only, so none run and the time is the files'.
    env PATH="$work/empty-path" "$bin" --root "$1" -o "$work/out" --max-file-size 1GiB --quiet
    ls "$work"/out/*.tgz
}
reference_tar() { (cd "$1" && tar cf - . | pigz -p 2 > "$work/reference.tgz"); }

# The rules' patterns, one extended regular expression a line, for grep -f (case folded, as
# most are; the few byte-level patterns have no grep equivalent and are left out).
grep -E '^patterns = ' manifests/rules.toml \
    | sed -e 's/^patterns = \[//' -e 's/\]$//' \
    | sed -e 's/", *"/\n/g' | sed -e 's/^ *"//' -e 's/" *$//' -e 's/(?i)//g' -e 's/\\\\/\\/g' \
    | grep -v '(?-u' | grep -v '^$' > "$work/patterns.txt"

ours=(); theirs=(); inspect_ours=(); inspect_theirs=()
for _ in $(seq "$runs"); do
    theirs+=("$(seconds reference_tar "$work/root")")
    ours+=("$(seconds collect "$work/root")")
    bundle=$(ls "$work"/out/*.tgz)
    inspect_theirs+=("$(seconds sh -c "zcat '$bundle' | grep -c -i -E -f '$work/patterns.txt' || true")")
    inspect_ours+=("$(seconds "$bin" inspect "$bundle" --quiet)")
done

size_ours=$(stat -c %s "$(ls "$work"/out/*.tgz)")
rss_kib() { # ROOT -> peak RSS of a collect, KiB
    rm -f "$work"/out/*
    env PATH="$work/empty-path" /usr/bin/time -f '%M' "$bin" --root "$1" -o "$work/out" --max-file-size 1GiB --quiet 2>&1 >/dev/null | tail -1
}
rss=$(rss_kib "$work/root")
make_root "$big" "$work/root-big"
rss_big=$(rss_kib "$work/root-big")

# A typical node: this machine collected live with the embedded manifest and its real commands.
typical=()
for _ in $(seq "$runs"); do
    rm -rf "$work/live"
    mkdir -p "$work/live"
    typical+=("$(seconds "$bin" -o "$work/live" --quiet)")
done

read -r o_min o_med o_max <<<"$(stats "${ours[@]}")"
read -r t_min t_med t_max <<<"$(stats "${theirs[@]}")"
read -r io_min io_med io_max <<<"$(stats "${inspect_ours[@]}")"
read -r it_min it_med it_max <<<"$(stats "${inspect_theirs[@]}")"
ratio() { echo "scale=2; $1 / $2" | bc -l; }
printf '\nmachine: %s, %s cores; input %s of syslog; %s runs each (min / median / max seconds)\n' \
    "$(uname -m)" "$(nproc)" "$size" "$runs"
printf '%-42s %s / %s / %s\n' "drx-collect collect" "$o_min" "$o_med" "$o_max"
printf '%-42s %s / %s / %s\n' "tar cf - . | pigz -p 2" "$t_min" "$t_med" "$t_max"
printf '%-42s %s   (target <= 1.0)\n' "collect ratio (median)" "$(ratio "$o_med" "$t_med")"
printf '%-42s %s / %s / %s\n' "drx-collect inspect" "$io_min" "$io_med" "$io_max"
printf '%-42s %s / %s / %s\n' "zcat | grep -c -E rules" "$it_min" "$it_med" "$it_max"
printf '%-42s %s   (target <= 1.0)\n' "inspect ratio (median)" "$(ratio "$io_med" "$it_med")"
printf '%-42s %s MiB at %s, %s MiB at %s   (target <= 96, flat)\n' "collect peak RSS" \
    "$((rss / 1024))" "$size" "$((rss_big / 1024))" "$big"
read -r ty_min ty_med ty_max <<<"$(stats "${typical[@]}")"
printf '%-42s %s / %s / %s   (target < 2 s plus the longest timeout hit)\n' "collect of this machine, live" "$ty_min" "$ty_med" "$ty_max"
printf '%-42s ours %s bytes, pigz %s bytes\n' "bundle size" "$size_ours" "$(stat -c %s "$work/reference.tgz")"
