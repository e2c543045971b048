#!/usr/bin/env bash
# Export and import benchmark, loopback only: a 1M-row table through Starbase's streamed
# /export/{dump,json,csv} and /import/{dump,json,csv}, against the sqlite3 shell's .dump,
# .import and .read on the same data, in the same run. Reports rows/s and peak RSS (the
# server's VmHWM for Starbase — a fresh server per operation — and /usr/bin/time for sqlite3).
#
# With PG=1 (the default when psql and pg_dump are installed) it also dumps the same rows from
# the local PostgreSQL (127.0.0.1:5432, user postgres, a scratch database) through
# /export/dump?source=external against pg_dump (COPY and --inserts) in the same run, and loads
# the dump back through /import/dump against psql -f.
#
# Needs: curl, sqlite3, /usr/bin/time, python3. Knobs: ROWS (default 1000000), SKIP_SQLITE=1,
# PG=0|1.
set -euo pipefail
cd "$(dirname "$0")/.."

ROWS=${ROWS:-1000000}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/starbase/target}"
TOKEN="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
for tool in curl sqlite3 python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
cargo build --release --locked --bin starbase >&2
BIN="$CARGO_TARGET_DIR/release/starbase"

. "$(dirname "$0")/lib.sh"
pid=""
on_exit() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi; }

SCHEMA="CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL, qty INTEGER, note TEXT);"
mkdir -p "$work/src"
sqlite3 "$work/src/starbase.sqlite" >/dev/null <<SQL
PRAGMA journal_mode=WAL;
$SCHEMA
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $ROWS)
INSERT INTO items SELECT i, 'item ' || i, i * 0.25, i % 1000, CASE WHEN i % 10 = 0 THEN NULL ELSE 'note, "quoted" ' || i END FROM c;
SQL

start() { # start DATA_DIR -> sets $pid and $url
  local port; port=$(free_port)
  ADMIN_AUTHORIZATION_TOKEN="$TOKEN" STARBASE_LOG=warn "$BIN" serve --data-dir "$1" \
    --http-listen "127.0.0.1:$port" --pg-listen 127.0.0.1:0 >"$work/server.log" 2>&1 &
  pid=$!
  url="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do curl -s -o /dev/null "$url/healthz" && return 0; sleep 0.1; done
  echo "server did not start" >&2; exit 1
}
stop() { # prints the server's peak RSS in MiB
  local hwm; hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  echo $((hwm / 1024))
}
now() { date +%s.%N; }
rate() { awk -v n="$ROWS" -v s="$1" 'BEGIN { printf "%.0f", n / s }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
results=()

start_with() { # start_with URL DATA_DIR: a server fronting an external source
  local port; port=$(free_port)
  STARBASE_EXTERNAL_URL="$1" ADMIN_AUTHORIZATION_TOKEN="$TOKEN" STARBASE_LOG=warn "$BIN" serve \
    --data-dir "$2" --http-listen "127.0.0.1:$port" --pg-listen 127.0.0.1:0 >"$work/server.log" 2>&1 &
  pid=$!
  url="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do curl -s -o /dev/null "$url/healthz" && return 0; sleep 0.1; done
  echo "server did not start" >&2; exit 1
}

for fmt in dump json csv; do
  [ "${SKIP_SQLITE:-0}" = 1 ] && break
  start "$work/src"
  path="/export/$fmt"; [ "$fmt" = dump ] || path="/export/$fmt/items"
  t0=$(now)
  curl -sf -H "Authorization: Bearer $TOKEN" "$url$path" -o "$work/out.$fmt"
  t1=$(now)
  rss=$(stop)
  s=$(secs "$t0" "$t1")
  results+=("| Starbase export $fmt | $s | $(rate "$s") | $rss | $(du -m "$work/out.$fmt" | cut -f1) |")
done

for fmt in dump json csv; do
  [ "${SKIP_SQLITE:-0}" = 1 ] && break
  rm -rf "$work/dst" && mkdir -p "$work/dst"
  if [ "$fmt" != dump ]; then sqlite3 "$work/dst/starbase.sqlite" "$SCHEMA"; fi
  start "$work/dst"
  t0=$(now)
  case $fmt in
    dump) curl -sf -H "Authorization: Bearer $TOKEN" -F "sqlFile=@$work/out.dump;filename=dump.sql" "$url/import/dump" >/dev/null ;;
    json) { printf '{"data": '; cat "$work/out.json"; printf '}'; } >"$work/in.json"
          curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' --data-binary "@$work/in.json" "$url/import/json/items" >/dev/null ;;
    csv)  curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: text/csv' --data-binary "@$work/out.csv" "$url/import/csv/items" >/dev/null ;;
  esac
  t1=$(now)
  got=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"sql":"SELECT count(*) AS n FROM items"}' "$url/query/raw" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["rows"][0][0])')
  rss=$(stop)
  [ "$got" = "$ROWS" ] || { echo "import $fmt: $got rows, expected $ROWS" >&2; exit 1; }
  s=$(secs "$t0" "$t1")
  results+=("| Starbase import $fmt | $s | $(rate "$s") | $rss | |")
done

peer() { # peer LABEL COMMAND... ; times a sqlite3 command with /usr/bin/time
  local label=$1; shift
  local t0 t1; t0=$(now)
  /usr/bin/time -f '%M' -o "$work/time.txt" "$@"
  t1=$(now)
  local s; s=$(secs "$t0" "$t1")
  results+=("| $label | $s | $(rate "$s") | $(( $(cat "$work/time.txt") / 1024 )) | |")
}
if [ "${SKIP_SQLITE:-0}" != 1 ]; then
peer "sqlite3 .dump" sh -c "sqlite3 '$work/src/starbase.sqlite' .dump > '$work/peer.sql'"
peer "sqlite3 .read (load dump)" sh -c "sqlite3 '$work/peer-load.db' < '$work/peer.sql'"
peer "sqlite3 -csv export" sh -c "sqlite3 -csv -header '$work/src/starbase.sqlite' 'SELECT * FROM items' > '$work/peer.csv'"
sqlite3 "$work/peer-import.db" "$SCHEMA"
peer "sqlite3 .import --csv" sqlite3 "$work/peer-import.db" ".import --csv --skip 1 '$work/peer.csv' items"
fi

PG=${PG:-$(command -v psql >/dev/null && command -v pg_dump >/dev/null && echo 1 || echo 0)}
if [ "$PG" = 1 ]; then
  pgdb="bench_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  psql_() { psql -X -q -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 "$@"; }
  pg_cleanup() { for d in "$pgdb" "${pgdb}_in" "${pgdb}_peer"; do psql_ -d postgres -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true; done; }
  trap 'pg_cleanup; cleanup' EXIT
  for d in "$pgdb" "${pgdb}_in" "${pgdb}_peer"; do psql_ -d postgres -c "CREATE DATABASE $d" >/dev/null; done
  psql_ -d "$pgdb" >/dev/null <<SQL
CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL, price double precision, qty integer, note text);
INSERT INTO items SELECT i, 'item ' || i, i * 0.25, i % 1000, CASE WHEN i % 10 = 0 THEN NULL ELSE 'note, "quoted" ' || i END
  FROM generate_series(1, $ROWS) i;
VACUUM ANALYZE items;
SQL
  mkdir -p "$work/pg"
  start_with "postgres://postgres@127.0.0.1:5432/$pgdb" "$work/pg"
  t0=$(now)
  curl -sf -H "Authorization: Bearer $TOKEN" "$url/export/dump?source=external" -o "$work/pg.sql"
  t1=$(now)
  rss=$(stop)
  s=$(secs "$t0" "$t1")
  results+=("| Starbase export dump (PostgreSQL source) | $s | $(rate "$s") | $rss | $(du -m "$work/pg.sql" | cut -f1) |")
  peer "pg_dump (COPY)" sh -c "pg_dump -h 127.0.0.1 -U postgres $pgdb > '$work/pg_dump.sql'"
  peer "pg_dump --inserts --rows-per-insert=500" sh -c "pg_dump -h 127.0.0.1 -U postgres --inserts --rows-per-insert=500 $pgdb > '$work/pg_dump_inserts.sql'"
  start_with "postgres://postgres@127.0.0.1:5432/${pgdb}_in" "$work/pg"
  t0=$(now)
  curl -sf -H "Authorization: Bearer $TOKEN" -F "sqlFile=@$work/pg.sql;filename=dump.sql" "$url/import/dump?source=external" >/dev/null
  t1=$(now)
  rss=$(stop)
  s=$(secs "$t0" "$t1")
  got=$(psql_ -At -d "${pgdb}_in" -c "SELECT count(*) FROM items")
  [ "$got" = "$ROWS" ] || { echo "PostgreSQL import: $got rows, expected $ROWS" >&2; exit 1; }
  results+=("| Starbase import dump (PostgreSQL source) | $s | $(rate "$s") | $rss | |")
  peer "psql -f (load our dump)" psql -X -q -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -d "${pgdb}_peer" -o /dev/null -f "$work/pg.sql"
fi

echo
echo "| operation ($ROWS rows) | seconds | rows/s | peak RSS MiB | file MiB |"
echo "|---|---|---|---|---|"
printf '%s\n' "${results[@]}"
echo
echo "- $(nproc) cores, $(date -u +%Y-%m-%d), sqlite3 $(sqlite3 --version | cut -d' ' -f1)"
