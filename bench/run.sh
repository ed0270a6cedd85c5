#!/usr/bin/env bash
# The performance targets of issue 17, as ratios and bounds measured in one run on this machine,
# so that the machine's speed cancels out. Exits non-zero when a target is missed.
#   1. inspect of a collected bundle of SIZE syslog (verify + all rules)
#        vs  zcat bundle | grep -c -i -E -f <the rules' patterns>      ratio <= 0.5
#      peak RSS of that inspect, at SIZE and at BIG                      <= 96 MiB, flat
#   2. collect of a sysroot holding SIZE of syslog (--max-file-size 1GiB)
#        vs  tar cf - . | pigz -p 2                                      ratio <= 0.8
#      bundle size vs pigz's (same level, 6)                             <= 1.0
#      peak RSS of that collect, at SIZE and at BIG                      <= 96 MiB, flat
#   3. the support queue: inspect --json of BUNDLES typical bundles in one process
#        time per bundle; peak RSS at FEW and at BUNDLES bundles         flat, <= 96 MiB
#      inspect --html of a pair of PAIR bundles: time, RSS, report size  <= 8 MB, RSS <= 96 MiB
#   4. collect of this machine, live, embedded manifest                  median < 0.5 s
# Each timed pair runs alternately RUNS times; min / median / max are printed, and the targets
# are judged on the medians. Run it on an otherwise idle machine.
#
# Usage: bench/run.sh [SIZE] [RUNS]          e.g. bench/run.sh 256MiB 5
# Environment: BIG (512MiB), PAIR (512MiB), BUNDLES (1000), FEW (100),
#   BIN=path   measure that drx-collect binary instead of building this tree's (before/after),
#   BENCH_DIR  where the data goes (default /tmp; it is deleted at the end unless KEEP=1).
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-256MiB}"
runs="${2:-5}"
big="${BIG:-512MiB}"
pair="${PAIR:-512MiB}"
many="${BUNDLES:-1000}"
few="${FEW:-100}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
need=()
command -v pigz >/dev/null || need+=(pigz)
command -v bc >/dev/null || need+=(bc)
[ -x /usr/bin/time ] || need+=(time)
if [ "${#need[@]}" -gt 0 ]; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

cargo build --release --quiet --example gen-syslog --example gen-cases
if [ -n "${BIN:-}" ]; then
    bin=$(realpath "$BIN")
else
    cargo build --release --quiet --bin drx-collect
    bin="$PWD/target/release/drx-collect"
fi
gen_syslog="$PWD/target/release/examples/gen-syslog"
gen_cases="$PWD/target/release/examples/gen-cases"
work=$(mktemp -d "${BENCH_DIR:-/tmp}/drx-bench.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work/out" "$work/empty-path"

make_root() { # SIZE DIR [HOST]
    mkdir -p "$2/etc" "$2/var/log"
    echo "${3:-node1}" > "$2/etc/hostname"
    echo "CentOS Linux release 7.9.2009 (Core)" > "$2/etc/redhat-release"
    "$gen_syslog" "$1" > "$2/var/log/messages"
}

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
rss_mib() { # COMMAND... -> peak RSS in MiB (output discarded; a failure is reported, not fatal)
    local out
    out=$(/usr/bin/time -f 'rss %M' "$@" 2>&1 >/dev/null | awk '$1 == "rss" {print $2}' | tail -1)
    echo $(( ${out:-0} / 1024 ))
}
collect_into() { # ROOT OUT -> the bundle is the only .tgz in OUT
    rm -rf "$2"
    mkdir -p "$2"
    # An empty PATH: under --root commands come from PATH only, so none run and the time is the files'.
    env PATH="$work/empty-path" "$bin" --root "$1" -o "$2" --max-file-size 1GiB --quiet
}
collect() { collect_into "$1" "$work/out"; }
collect_rss() { # ROOT OUT -> peak RSS of the collect, MiB
    rm -rf "$2"
    mkdir -p "$2"
    rss_mib env PATH="$work/empty-path" "$bin" --root "$1" -o "$2" --max-file-size 1GiB --quiet
}
reference_tar() { (cd "$1" && tar cf - . | pigz -p 2 > "$work/reference.tgz"); }
ratio() { echo "scale=2; $1 / $2" | bc -l; }

missed=()
judge() { # NAME VALUE OP LIMIT   (OP: <= or <)
    if [ "$(echo "$2 $3 $4" | bc -l)" = 1 ]; then
        printf '    %-40s %s %s %s   met\n' "$1" "$2" "$3" "$4"
    else
        printf '    %-40s %s %s %s   MISSED\n' "$1" "$2" "$3" "$4"
        missed+=("$1")
    fi
}
flat() { # NAME SMALL BIG: the larger run may use at most 8 MiB more
    judge "$1 ($2 MiB, then $3 MiB)" "$3" "<=" "$(($2 + 8))"
}

# The rules' patterns, one extended regular expression a line, for grep -f (case folded, as
# most are; arrays written over several lines joined first; non-capturing groups made plain
# groups; the few byte-level patterns have no grep equivalent and are left out).
awk '/^patterns = \[/ {joining = 1; joined = ""} joining {joined = joined $0} joining && /\]$/ {print joined; joining = 0}' \
    manifests/rules.toml \
    | sed -e 's/^patterns = \[//' -e 's/,\? *\]$//' \
    | sed -e 's/", *"/\n/g' | sed -e 's/^ *"//' -e 's/" *$//' -e 's/(?i)//g' -e 's/(?:/(/g' -e 's/\\\\/\\/g' \
    | grep -v '(?-u' | grep -v '^$' > "$work/patterns.txt"

printf 'machine: %s, %s cores, %s; load average %s\n' "$(uname -m)" "$(nproc)" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'binary: %s\n' "$bin"

# ---- 1 and 2: collect and inspect of SIZE of syslog ---------------------------------------
make_root "$size" "$work/root"
ours=(); theirs=(); inspect_ours=(); inspect_theirs=()
for _ in $(seq "$runs"); do
    theirs+=("$(seconds reference_tar "$work/root")")
    ours+=("$(seconds collect "$work/root")")
    bundle=$(ls "$work"/out/*.tgz)
    inspect_theirs+=("$(seconds sh -c "zcat '$bundle' | grep -c -i -E -f '$work/patterns.txt' 2>/dev/null || true")")
    inspect_ours+=("$(seconds "$bin" inspect "$bundle" --quiet)")
done
bundle=$(ls "$work"/out/*.tgz)
size_ours=$(stat -c %s "$bundle")
size_pigz=$(stat -c %s "$work/reference.tgz")
collect_rss=$(collect_rss "$work/root" "$work/out")
bundle=$(ls "$work"/out/*.tgz)
inspect_rss=$(rss_mib "$bin" inspect "$bundle" --quiet)
rm -rf "$work/root"
make_root "$big" "$work/root-big"
collect_rss_big=$(collect_rss "$work/root-big" "$work/out-big")
rm -rf "$work/root-big"
inspect_rss_big=$(rss_mib "$bin" inspect "$(ls "$work"/out-big/*.tgz)" --quiet)
rm -rf "$work/out-big"

read -r o_min o_med o_max <<<"$(stats "${ours[@]}")"
read -r t_min t_med t_max <<<"$(stats "${theirs[@]}")"
read -r io_min io_med io_max <<<"$(stats "${inspect_ours[@]}")"
read -r it_min it_med it_max <<<"$(stats "${inspect_theirs[@]}")"
printf '\n1. inspect, %s of syslog, %s runs (min / median / max seconds)\n' "$size" "$runs"
printf '    %-40s %s / %s / %s\n' "drx-collect inspect" "$io_min" "$io_med" "$io_max"
printf '    %-40s %s / %s / %s\n' "zcat | grep -c -i -E -f rules" "$it_min" "$it_med" "$it_max"
printf '    %-40s %s\n' "ratio of the minimums" "$(ratio "$io_min" "$it_min")"
judge "inspect ratio (median)" "$(ratio "$io_med" "$it_med")" "<=" 0.5
judge "inspect peak RSS at $size, MiB" "$inspect_rss" "<=" 96
flat "inspect peak RSS flat at $big" "$inspect_rss" "$inspect_rss_big"

printf '\n2. collect, %s of syslog, %s runs (min / median / max seconds)\n' "$size" "$runs"
printf '    %-40s %s / %s / %s\n' "drx-collect collect" "$o_min" "$o_med" "$o_max"
printf '    %-40s %s / %s / %s\n' "tar cf - . | pigz -p 2" "$t_min" "$t_med" "$t_max"
printf '    %-40s %s\n' "ratio of the minimums" "$(ratio "$o_min" "$t_min")"
judge "collect ratio (median)" "$(ratio "$o_med" "$t_med")" "<=" 0.8
printf '    %-40s ours %s bytes, pigz %s bytes\n' "bundle size" "$size_ours" "$size_pigz"
judge "bundle size / pigz's" "$(echo "scale=4; $size_ours / $size_pigz" | bc -l)" "<=" 1.0
judge "collect peak RSS at $size, MiB" "$collect_rss" "<=" 96
flat "collect peak RSS flat at $big" "$collect_rss" "$collect_rss_big"
rm -rf "$work/out"

# ---- 3: the support queue ------------------------------------------------------------------
printf '\n3. the support queue\n'
"$gen_cases" "$work/cases" "$many" >/dev/null
mapfile -t all < <(find "$work/cases" -name '*.tgz' | sort)
first=("${all[@]:0:$few}")
json_ok=1
"$bin" inspect --json "${first[@]:0:3}" >/dev/null 2>"$work/json.err" || json_ok=0
if [ "$json_ok" = 1 ]; then
    json_times=()
    for _ in $(seq "$runs"); do
        json_times+=("$(seconds "$bin" inspect --json "${all[@]}")")
    done
    read -r j_min j_med j_max <<<"$(stats "${json_times[@]}")"
    printf '    %-40s %s / %s / %s s, %s ms per bundle (median)\n' "inspect --json of $many bundles" \
        "$j_min" "$j_med" "$j_max" "$(echo "scale=2; 1000 * $j_med / $many" | bc -l)"
    json_rss_few=$(rss_mib "$bin" inspect --json "${first[@]}")
    json_rss_many=$(rss_mib "$bin" inspect --json "${all[@]}")
    judge "inspect --json peak RSS, MiB" "$json_rss_many" "<=" 96
    flat "inspect --json RSS flat, $few then $many" "$json_rss_few" "$json_rss_many"
else
    printf '    inspect --json of several bundles in one process is refused: %s\n' "$(head -c 300 "$work/json.err")"
    missed+=("inspect --json of many bundles")
fi
# For comparison: one process per bundle, over the first FEW.
per_process=$(seconds sh -c 'for b in "$@"; do "$0" inspect --json "$b" || exit; done' "$bin" "${first[@]}")
printf '    %-40s %s ms per bundle\n' "one process per bundle ($few)" "$(echo "scale=2; 1000 * $per_process / $few" | bc -l)"
rm -rf "$work/cases"

make_root "$pair" "$work/pair1" node1
mkdir -p "$work/pair2/etc"
cp -a "$work/pair1/var" "$work/pair2/" # the same log on both nodes: the timeline is at its densest
cp "$work/pair1/etc/redhat-release" "$work/pair2/etc/"
echo node2 > "$work/pair2/etc/hostname"
collect_into "$work/pair1" "$work/p1"
rm -rf "$work/pair1"
collect_into "$work/pair2" "$work/p2"
rm -rf "$work/pair2"
p1=$(ls "$work"/p1/*.tgz)
p2=$(ls "$work"/p2/*.tgz)
html_time=$(seconds "$bin" inspect --quiet --html "$work/report.html" "$p1" "$p2")
html_rss=$(rss_mib "$bin" inspect --quiet --html "$work/report.html" "$p1" "$p2")
html_size=$(stat -c %s "$work/report.html" 2>/dev/null || echo 0)
printf '    %-40s %.3f s\n' "inspect --html of a $pair pair" "$html_time"
judge "inspect --html peak RSS, MiB" "$html_rss" "<=" 96
judge "inspect --html report, bytes" "$html_size" "<=" 8000000
rm -rf "$work/p1" "$work/p2" "$work/report.html"

# ---- 4: a typical live node ---------------------------------------------------------------
typical=()
for _ in $(seq "$runs"); do
    rm -rf "$work/live"
    mkdir -p "$work/live"
    typical+=("$(seconds "$bin" -o "$work/live" --quiet)")
done
rm -rf "$work/live"
read -r ty_min ty_med ty_max <<<"$(stats "${typical[@]}")"
printf '\n4. collect of this machine, live: %s / %s / %s s\n' "$ty_min" "$ty_med" "$ty_max"
judge "live collect (median), s" "$ty_med" "<" 0.5

printf '\nload average at the end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
if [ "${#missed[@]}" -gt 0 ]; then
    printf 'missed:'
    printf ' [%s]' "${missed[@]}"
    printf '\n'
    exit 1
fi
echo "all targets met"
