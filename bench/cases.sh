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
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
    echo "bench/cases.sh: no PostgreSQL server under /usr/lib/postgresql; apt-get install postgresql" >&2
    exit 1
fi
[ -n "${CASES_BENCH_NO_BUILD:-}" ] || cargo build --quiet --release --locked --bin drx-collect --example gen-cases
bin=$PWD/target/release/drx-collect
gen=$PWD/target/release/examples/gen-cases

work=$(mktemp -d /tmp/drx-cases-bench.XXXXXX)
chmod 755 "$work"
pgdata=$work/pgdata
sock=$work/sock
mkdir -p "$sock" "$pgdata" "$work/log"
as_pg=()
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    chown postgres "$sock" "$pgdata" "$work/log"
    as_pg=(runuser -u postgres --)
fi
stop() {
    "${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdata" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap stop EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as_pg[@]}" "$pgbin/initdb" -D "$pgdata" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$pgdata" -w -t 60 -l "$work/log/server.log" \
    -o "-c listen_addresses='' -k $sock -p $port" start >/dev/null
"$pgbin/createdb" -h "$sock" -p "$port" -U postgres cases
pg="postgresql://postgres@localhost/cases?host=$sock&port=$port"
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
