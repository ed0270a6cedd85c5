# A throw-away PostgreSQL server (Debian's) for scripts/test-cases-pg.sh and bench/cases.sh; source
# it, then:
#   pg_find CALLER           the newest server's bin directory into $pgbin, or a sentence and exit 1
#   pg_workdir NAME MODE     a fresh /tmp/NAME.XXXXXX into $work; on exit the server is stopped
#                            (pg_ctl stop -m MODE: fast, immediate) and $work removed
#   pg_start WORK [OPTION…]  initdb + pg_ctl start with its data, socket and logs under WORK, as the
#                            unprivileged `postgres` user when run as root; listens on a unix socket
#                            in WORK only (listen_addresses='', no TCP); OPTIONs go to the server
#                            (e.g. `-c fsync=off`); a failure prints the server's own words
#   pg_createdb DB, pg_url DB (the drx-collect --db URL), pg_psql DB ARG…
# Needs bash with `set -euo pipefail` semantics in mind: every variable here is set before use.

pgbin=
pgdata=
pgsock=
pgport=
pg_as=()
pg_stop_mode=fast

pg_find() {
    pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ] || [ ! -x "$pgbin/pg_ctl" ]; then
        echo "$1: no PostgreSQL server under /usr/lib/postgresql; apt-get install postgresql" >&2
        exit 1
    fi
}

pg_workdir() {
    work=$(mktemp -d "/tmp/$1.XXXXXX")
    chmod 755 "$work" # the postgres user reaches its data and socket inside
    pg_stop_mode=$2
    trap pg_cleanup EXIT
}

pg_cleanup() {
    pg_stop "$pg_stop_mode"
    rm -rf "$work"
}

pg_start() {
    local work=$1
    shift
    pgdata=$work/pgdata
    pgsock=$work/sock
    mkdir -p "$pgsock" "$pgdata" "$work/log"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
        chown postgres "$pgsock" "$pgdata" "$work/log"
        pg_as=(runuser -u postgres --)
    fi
    # No TCP at all; the port only names the socket file, chosen unused.
    pgport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "${pg_as[@]}" "$pgbin/initdb" -D "$pgdata" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
        >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; exit 1; }
    "${pg_as[@]}" "$pgbin/pg_ctl" -D "$pgdata" -w -t 60 -l "$work/log/server.log" \
        -o "-c listen_addresses='' -k $pgsock -p $pgport $*" start >/dev/null \
        || { cat "$work/log/server.log" >&2; exit 1; }
}

# Stops the server if one was started; never fails (it runs from an EXIT trap).
pg_stop() {
    [ -n "$pgdata" ] || return 0
    "${pg_as[@]}" "$pgbin/pg_ctl" -D "$pgdata" -m "${1:-fast}" stop >/dev/null 2>&1 || true
}

pg_createdb() { "$pgbin/createdb" -h "$pgsock" -p "$pgport" -U postgres "$1"; }
pg_url() { echo "postgresql://postgres@localhost/$1?host=$pgsock&port=$pgport"; }
pg_psql() {
    local db=$1
    shift
    "$pgbin/psql" -h "$pgsock" -p "$pgport" -U postgres -d "$db" "$@"
}
