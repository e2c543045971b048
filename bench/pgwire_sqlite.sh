#!/usr/bin/env bash
# PostgreSQL-wire benchmark over the embedded SQLite database, loopback only, bounded in time.
#
# In one run, the same 100k-row table `kv(id INTEGER PRIMARY KEY, name TEXT, value REAL)`:
#   1. in Starbase's SQLite database, queried through the gateway's pgwire listener;
#   2. in the local PostgreSQL (database starbase_bench), queried directly;
# each with pgbench and a custom select-by-primary-key script, -M prepared and -M simple,
# CLIENTS clients. Prints TPS, average latency and the gateway/PostgreSQL ratios as Markdown.
#
# Needs: pgbench, psql, createdb, sqlite3, and a PostgreSQL at PGHOST_DIRECT:PGPORT_DIRECT
# (default 127.0.0.1:5432, user postgres, trust auth).
# Knobs: DURATION (s, default 15), CLIENTS (8), THREADS (2), ROWS (100000).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-15}
CLIENTS=${CLIENTS:-8}
THREADS=${THREADS:-2}
ROWS=${ROWS:-100000}
PG_DIRECT_HOST=${PGHOST_DIRECT:-127.0.0.1}
PG_DIRECT_PORT=${PGPORT_DIRECT:-5432}
PG_DIRECT_USER=${PGUSER_DIRECT:-postgres}
CACHE="${HOME}/.cache/starbase"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
TOKEN="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"

for tool in pgbench psql createdb sqlite3 python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install postgresql-client sqlite3)" >&2; exit 1; }
done

cargo build --release --locked --bin starbase >&2
BIN="$CARGO_TARGET_DIR/release/starbase"

. "$(dirname "$0")/lib.sh"


mkdir -p "$work/data"
sqlite3 "$work/data/starbase.sqlite" >/dev/null <<SQL
PRAGMA journal_mode=WAL;
CREATE TABLE kv (id INTEGER PRIMARY KEY, name TEXT NOT NULL, value REAL);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $ROWS)
INSERT INTO kv SELECT i, 'name-' || i, i * 0.5 FROM c;
SQL

direct=(-h "$PG_DIRECT_HOST" -p "$PG_DIRECT_PORT" -U "$PG_DIRECT_USER")
dropdb "${direct[@]}" --if-exists starbase_bench >/dev/null 2>&1 || true
createdb "${direct[@]}" starbase_bench
psql "${direct[@]}" -q -d starbase_bench <<SQL
CREATE TABLE kv (id BIGINT PRIMARY KEY, name TEXT NOT NULL, value DOUBLE PRECISION);
INSERT INTO kv SELECT i, 'name-' || i, i * 0.5 FROM generate_series(1, $ROWS) AS i;
VACUUM ANALYZE kv;
SQL

cat > "$work/select.sql" <<SQL
\set id random(1, $ROWS)
SELECT name, value FROM kv WHERE id = :id;
SQL

port=$(free_port)
ADMIN_AUTHORIZATION_TOKEN="$TOKEN" STARBASE_LOG=warn "$BIN" serve --data-dir "$work/data" \
  --http-listen 127.0.0.1:0 --pg-listen "127.0.0.1:$port" >"$work/starbase.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  PGPASSWORD="$TOKEN" psql -h 127.0.0.1 -p "$port" -U bench -d main -XAtc 'SELECT 1' >/dev/null 2>&1 && break
  sleep 0.1
done
PGPASSWORD="$TOKEN" psql -h 127.0.0.1 -p "$port" -U bench -d main -XAtc 'SELECT name FROM kv WHERE id = 42' >&2

# run NAME MODE CONNINFO... -> appends "name tps latency_ms" to $work/results
run() {
  local name=$1 mode=$2
  shift 2
  local out="$work/$name.txt"
  pgbench -n -f "$work/select.sql" -M "$mode" -c "$CLIENTS" -j "$THREADS" -T "$DURATION" "$@" >"$out" 2>&1 \
    || { cat "$out" >&2; exit 1; }
  local tps lat
  tps=$(awk '/^tps = / {print $3; exit}' "$out")
  lat=$(awk '/^latency average = / {print $4; exit}' "$out")
  echo "$name $tps $lat" >>"$work/results"
  echo "$name: $tps tps, latency $lat ms" >&2
}

for mode in prepared simple; do
  PGPASSWORD="$TOKEN" run "gateway_$mode" "$mode" -h 127.0.0.1 -p "$port" -U bench main
  run "postgres_$mode" "$mode" "${direct[@]}" starbase_bench
done
dropdb "${direct[@]}" --if-exists starbase_bench >/dev/null 2>&1 || true

get() { awk -v n="$1" -v f="$2" '$1 == n {print $f}' "$work/results"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

cat <<MD

| target | protocol | clients | TPS | avg latency ms |
|---|---|---|---|---|
| Starbase pgwire (SQLite) | prepared | $CLIENTS | $(get gateway_prepared 2) | $(get gateway_prepared 3) |
| PostgreSQL $(psql "${direct[@]}" -d postgres -XAtc 'SHOW server_version' | cut -d' ' -f1) direct | prepared | $CLIENTS | $(get postgres_prepared 2) | $(get postgres_prepared 3) |
| Starbase pgwire (SQLite) | simple | $CLIENTS | $(get gateway_simple 2) | $(get gateway_simple 3) |
| PostgreSQL direct | simple | $CLIENTS | $(get postgres_simple 2) | $(get postgres_simple 3) |

- gateway / PostgreSQL, prepared: $(ratio "$(get gateway_prepared 2)" "$(get postgres_prepared 2)")×
- gateway / PostgreSQL, simple: $(ratio "$(get gateway_simple 2)" "$(get postgres_simple 2)")×
- ${ROWS} rows, ${DURATION}s per run, pgbench -j${THREADS}, $(nproc) cores, $(date -u +%Y-%m-%d)
MD
