#!/usr/bin/env bash
# The case database at scale: import rate (bundles/s) and query times at COUNT bundles (default
# 10000, 200 hosts) on SQLite and on PostgreSQL (Debian's server, started in a temporary
# directory on a unix socket, as scripts/test-cases-pg.sh does; fsync on, as a real server).
# Prints one Markdown table row per engine for bench/README.md. Release build.
#
# Usage: bench/cases.sh [COUNT] [HOSTS]
set -euo pipefail
cd "$(dirname "$0")/.."

count=${1:-10000}
hosts=${2:-200}
. scripts/lib/postgres.sh
pg_find bench/cases.sh
[ -n "${CASES_BENCH_NO_BUILD:-}" ] || cargo build --quiet --release --locked --bin drx-collect --example gen-cases
bin=$PWD/target/release/drx-collect
gen=$PWD/target/release/examples/gen-cases

pg_workdir drx-cases-bench fast
pg_start "$work"
pg_createdb cases
pg=$(pg_url cases)
lite=$work/cases.sqlite

echo "generating $count bundles of $hosts hosts..." >&2
"$gen" "$work/bundles" "$count" "$hosts"
size=$(du -sm "$work/bundles" | cut -f1)

now() { date +%s.%N; }
# Median of 5 runs of one query, in milliseconds.
query_ms() {
    local db=$1
    shift
    local times=()
    for _ in 1 2 3 4 5; do
        local t0 t1
        t0=$(now)
        "$bin" cases "$@" --json --db "$db" >/dev/null
        t1=$(now)
        times+=("$(python3 -c "print(round(($t1 - $t0) * 1000))")")
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n 3p
}

for engine in sqlite postgresql; do
    db=$lite
    [ "$engine" = postgresql ] && db=$pg
    t0=$(now)
    "$bin" cases import "$work/bundles" --quiet --db "$db"
    t1=$(now)
    rate=$(python3 -c "print(round($count / ($t1 - $t0), 1))")
    secs=$(python3 -c "print(round($t1 - $t0, 1))")
    t0=$(now)
    "$bin" cases import "$work/bundles" --quiet --db "$db"
    t1=$(now)
    again=$(python3 -c "print(round($t1 - $t0, 1))")
    list=$(query_ms "$db" list --limit 50)
    show=$(query_ms "$db" show 4711)
    rule=$(query_ms "$db" search --rule CONFIG-BOM --limit 100000)
    version=$(query_ms "$db" search --version 'drbd<8.4.8' --limit 100000)
    host=$(query_ms "$db" search --host node042 --version 'drx>=3.2.5')
    stats=$(query_ms "$db" stats)
    history=$(query_ms "$db" history node042)
    echo "| $engine | $count bundles ($size MB) | $secs s = **$rate bundles/s** | $again s | $list | $show | $rule | $version | $host | $stats | $history |"
done
echo "(query times in ms, median of 5, each a whole drx-collect process; 'again' = re-import, all already imported)"
