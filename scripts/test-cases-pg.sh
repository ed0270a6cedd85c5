#!/usr/bin/env bash
# The case database on a real PostgreSQL server, checked against SQLite:
#   - starts Debian's PostgreSQL (initdb + pg_ctl) in a temporary directory, as the unprivileged
#     `postgres` user when run as root, listening on a unix socket in that directory only (no TCP);
#   - generates CASES_PG_BUNDLES (default 300) valid bundles with examples/gen-cases.rs;
#   - imports them into PostgreSQL and into SQLite, and compares the --json answers of every query
#     (list, show by id and by sha256 prefix, search by rule / version / host / case id, stats,
#     history; the desk's: pages, label, text, severity, dates, export as JSON and CSV, set,
#     rediagnose) between the two;
#   - refuses a damaged bundle on both (exit 3), re-imports nothing twice;
#   - imports the same directory from two processes at once, on both engines: no duplicates and
#     no lost rows;
#   - stores a bundle whose index.json holds NUL characters and a 5124-byte case id alike on both
#     (PostgreSQL text holds no NUL, its B-tree index no entry above ~2.7 kB);
#   - always stops the server (trap).
# Usage: scripts/test-cases-pg.sh        (needs the `postgresql` package; scripts/test.sh installs it)
set -euo pipefail
cd "$(dirname "$0")/.."

count=${CASES_PG_BUNDLES:-200}
. scripts/lib/postgres.sh
pg_find test-cases-pg.sh

cargo build --quiet --locked --bin drx-collect --example gen-cases
bin=$PWD/target/debug/drx-collect
gen=$PWD/target/debug/examples/gen-cases

pg_workdir drx-cases-pg immediate

pg_start "$work" -c fsync=off
for db in cases cases2 cases3; do
    pg_createdb "$db"
done
pg=$(pg_url cases)
pg2=$(pg_url cases2)
lite=$work/cases.sqlite
lite2=$work/cases2.sqlite

fail() {
    echo "test-cases-pg.sh: FAILED: $*" >&2
    exit 1
}

echo "== generating $count bundles"
start=$(date +%s)
"$gen" "$work/bundles" "$count" 30
echo "   $(ls "$work/bundles" | wc -l) files in $(($(date +%s) - start)) s"

# The answer to a query, without what differs by nature (the import time).
normalised() {
    python3 -c '
import json, sys
def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k != "imported_at"}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v
print(json.dumps(strip(json.load(sys.stdin)), indent=1, sort_keys=True))'
}

# Runs one query on both databases and compares the JSON answers.
compare() {
    local a b
    a=$("$bin" cases "$@" --json --db "$lite" | normalised) || fail "sqlite: cases $*"
    b=$("$bin" cases "$@" --json --db "$pg" | normalised) || fail "postgres: cases $*"
    if [ "$a" != "$b" ]; then
        diff <(echo "$a") <(echo "$b") | head -n 40 >&2
        fail "cases $* differs between SQLite and PostgreSQL"
    fi
    echo "   same answer: cases $*"
}

imported() { python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["imported"], r["already"], r["refused"])'; }

echo "== importing into SQLite and PostgreSQL"
for target in "$lite" "$pg"; do
    start=$(date +%s)
    got=$("$bin" cases import "$work/bundles" --json --db "$target" | imported)
    [ "$got" = "$count 0 0" ] || fail "import into $target: imported/already/refused = $got, expected $count 0 0"
    echo "   $count bundles in $(($(date +%s) - start)) s"
done

echo "== comparing every query"
compare list --limit 100000
compare list --limit 7
first_sha=$("$bin" cases list --limit 1 --json --db "$lite" | python3 -c 'import json,sys; print(json.load(sys.stdin)["bundles"][0]["sha256"])')
compare show 1
compare show "$count"
compare show 17
compare show "${first_sha:0:12}"
compare search --rule CONFIG-BOM --limit 100000
compare search --rule VERSION-DRBD-OLD --limit 100000
compare search --rule DRX-CONNECTION-REFUSED --rule CONFIG-BOM --limit 100000
compare search --version 'drbd<8.4.8' --limit 100000
compare search --version 'drbd>=8.4.7' --version 'drx!=3.2.1' --limit 100000
compare search --version 'drbd-utils=9.5' --limit 100000
compare search --version 'bsr>1.6.4' --limit 100000
compare search --version 'bsr-utils<=1.6.5' --limit 100000
compare search --host NODE007 --limit 100000
compare search --case-id CASE-1003 --limit 100000
compare search --host node005 --rule CONFIG-BOM --limit 100000
compare stats
compare history node001
compare history node012 --limit 3
compare history node029
# The desk's queries (issue 28 item 5): pages, label, text (LIKE wildcards as characters, ASCII
# case folding only), severity, dates, export.
compare list --limit 5 --offset 3
compare list --limit 5 --offset 100000
compare search --label nightly --limit 100000
compare search --label '50% off_x Ä' --limit 100000
compare search --text '50%' --limit 100000
compare search --text '%' --limit 100000
compare search --text '_x' --limit 100000
compare search --text 'ä' --limit 100000
compare search --text 'Ä' --limit 100000
compare search --text 'NODE01' --limit 100000
compare search --text 'bom' --limit 100000
compare search --text 'case-100' --limit 100000
compare search --severity error --limit 100000
compare search --severity warning --limit 30 --offset 10
compare search --severity info --rule CONFIG-BOM --limit 100000
compare search --since 2025-01-03 --until 2025-01-05 --limit 100000
compare search --since 2025-01-02T08:30:00Z --host node003 --limit 100000
compare search --until 2025-01-02T08:00:00+09:00 --limit 100000
compare export
compare export --severity error --label nightly
a=$("$bin" cases export --db "$lite") || fail "sqlite: cases export"
b=$("$bin" cases export --db "$pg") || fail "postgres: cases export"
[ "$a" = "$b" ] || { diff <(echo "$a") <(echo "$b") | head -n 20 >&2; fail "cases export (CSV) differs"; }
echo "   same answer: cases export (CSV, $(echo "$a" | wc -l) lines)"
for target in "$lite" "$pg"; do
    "$bin" cases set CASE-1003 --status waiting --assignee 김민수 --note '=1+1, "quoted"' \
        --ticket https://desk.example/T-1003 --json --db "$target" >/dev/null || fail "cases set on $target"
    "$bin" cases set CASE-1003 --ticket '' --json --db "$target" >/dev/null || fail "cases set '' on $target"
done
compare search --case-id CASE-1003 --limit 100000
compare export --case-id CASE-1003
compare rediagnose CASE-1003
compare rediagnose CASE-1005
a=$("$bin" cases export --case-id CASE-1003 --db "$pg") || fail "postgres: cases export"
grep -q "waiting,김민수,,\"'=1+1, \"\"quoted\"\"\"" <<<"$a" || fail "the desk's fields are not exported as set: $a"

# Non-empty where the generator guarantees it, so the comparisons above compared something.
for q in "--rule CONFIG-BOM" "--version drbd<8.4.8" "--case-id CASE-1003" "--version bsr>1.6.4" \
    "--version drbd>=8.4.7 --version drx!=3.2.1" "--host node005 --rule CONFIG-BOM" \
    "--label nightly" "--text 50%" "--text bom" "--text NODE01" "--severity error" \
    "--since 2025-01-03 --until 2025-01-05"; do
    # shellcheck disable=SC2086
    n=$("$bin" cases search $q --limit 100000 --json --db "$pg" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["bundles"]))')
    [ "$n" -gt 0 ] || fail "search $q found nothing; the generated bundles should have some"
done

echo "== a damaged bundle is refused (exit 3) on both; nothing is imported twice"
mkdir -p "$work/bad"
# The first bundle by name (a glob: `ls | head` dies of SIGPIPE under pipefail).
bundles=("$work"/bundles/*)
one=$(basename "${bundles[0]}")
head -c 2000 "$work/bundles/$one" >"$work/bad/drx-collect-broken-20250101T000000Z.tgz"
cp "$work/bundles/$one" "$work/bad/"
for target in "$lite" "$pg"; do
    set +e
    got=$("$bin" cases import "$work/bad" --json --db "$target" | imported)
    code=$?
    set -e
    [ "$got" = "0 1 1" ] || fail "damaged + known bundle into $target: $got, expected 0 1 1"
    [ "$code" = 3 ] || fail "a refused bundle must exit 3, got $code"
done
n=$(pg_psql cases -Atc 'SELECT COUNT(*), COUNT(DISTINCT sha256) FROM bundles')
[ "$n" = "$count|$count" ] || fail "PostgreSQL holds $n bundles (rows|distinct), expected $count"

echo "== two importers at once"
for target in "$lite2" "$pg2"; do
    "$bin" cases import "$work/bundles" --json --db "$target" >"$work/a.json" &
    a=$!
    "$bin" cases import "$work/bundles" --json --db "$target" >"$work/b.json" &
    b=$!
    wait "$a" || fail "first concurrent importer into $target failed"
    wait "$b" || fail "second concurrent importer into $target failed"
    total=$(python3 -c '
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
print(a["imported"] + b["imported"], a["already"] + b["already"], a["refused"] + b["refused"])' "$work/a.json" "$work/b.json")
    [ "$total" = "$count $count 0" ] || fail "concurrent imports into $target: imported/already/refused = $total"
    # No lost rows: the same totals (bundles, hosts, findings, per rule) as the sequential import.
    want=$("$bin" cases stats --json --db "$lite" | normalised)
    got=$("$bin" cases stats --json --db "$target" | normalised)
    [ "$want" = "$got" ] || fail "stats after concurrent imports into $target differ from the sequential import"
    echo "   $target: $count imported once, same stats"
done
n=$(pg_psql cases2 -Atc \
    'SELECT (SELECT COUNT(*) FROM bundles), (SELECT COUNT(DISTINCT sha256) FROM bundles), (SELECT COUNT(*) FROM findings)')
want_findings=$(pg_psql cases -Atc 'SELECT COUNT(*) FROM findings')
[ "$n" = "$count|$count|$want_findings" ] || fail "PostgreSQL after concurrent imports: $n, expected $count|$count|$want_findings"

echo "== NUL characters and an overlong case id in index.json: imported alike on both"
mkdir -p "$work/nul"
python3 - "$work/bundles/$one" "$work/nul/drx-collect-nul-20250101T000000Z.tgz" <<'PY'
import hashlib, io, json, sys, tarfile
src, out = sys.argv[1], sys.argv[2]
with tarfile.open(src, "r:gz") as t:
    members = [(m, t.extractfile(m).read() if m.isfile() else None) for m in t.getmembers()]
top = members[0][0].name.split("/")[0]
index_name = top + "/index.json"
data = {m.name: d for m, d in members if d is not None}
index = json.loads(data[index_name])
# Random hex: PostgreSQL compresses an index entry that compresses well, this one does not.
index["case_id"] = "CASE\u0000" + "".join(hashlib.sha256(b"%d" % i).hexdigest() for i in range(80))
index["label"] = "before\u0000after"
data[index_name] = json.dumps(index).encode()
sums = "".join(
    f"{hashlib.sha256(d).hexdigest()}  {n[len(top) + 1:]}\n"
    for n, d in sorted(data.items())
    if n != top + "/SHA256SUMS"
)
data[top + "/SHA256SUMS"] = sums.encode()
with tarfile.open(out, "w:gz") as t:
    for m, d in members:
        if d is None:
            t.addfile(m)
        else:
            m.size = len(data[m.name])
            t.addfile(m, io.BytesIO(data[m.name]))
PY
pg3=$(pg_url cases3)
lite3=$work/cases3.sqlite
for target in "$lite3" "$pg3"; do
    got=$("$bin" cases import "$work/nul" --json --db "$target" | imported) || fail "NUL bundle into $target"
    [ "$got" = "1 0 0" ] || fail "NUL bundle into $target: imported/already/refused = $got, expected 1 0 0"
done
a=$("$bin" cases show 1 --json --db "$lite3" | normalised)
b=$("$bin" cases show 1 --json --db "$pg3" | normalised)
[ "$a" = "$b" ] || fail "the NUL bundle reads back differently from SQLite and PostgreSQL"
python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["label"] == "before\ufffdafter", s["label"]
assert s["case_id"].startswith("CASE\ufffd") and s["case_id"].endswith("\u2026"), s["case_id"][:20]
assert len(s["case_id"].encode()) <= 1024, len(s["case_id"].encode())
' <<<"$b" || fail "the NUL bundle is not stored as documented"
echo "   stored alike: NUL as U+FFFD, the case id cut at 1 KiB"

echo "test-cases-pg.sh: all checks passed"
