#!/usr/bin/env bash
# HTTP query benchmark against an external PostgreSQL, loopback only, bounded in time.
#
# The same 100k-row table `kv(id, name, value)` in Starbase's embedded SQLite database and in the
# local PostgreSQL (database starbase_http_bench, source `external` from EXTERNAL_DB_*); in one
# run, wrk POSTs the same point select by primary key to /query on both, with the load of
# bench/http_query.sh, and prints req/s, p50, p99 and the ratio as Markdown.
#
# Needs: wrk, sqlite3, psql, createdb, a PostgreSQL at 127.0.0.1:5432 (user postgres, trust).
# Knobs: DURATION (s, default 15), CONNS (64), THREADS (2), ROWS (100000), POOL (16).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-15}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
ROWS=${ROWS:-100000}
POOL=${POOL:-16}
export ROWS
CACHE="${HOME}/.cache/starbase"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
TOKEN="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export TOKEN
DB=starbase_http_bench

for tool in wrk sqlite3 psql createdb python3 curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
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
direct=(-h 127.0.0.1 -p 5432 -U postgres)
dropdb "${direct[@]}" --if-exists "$DB" >/dev/null 2>&1 || true
createdb "${direct[@]}" "$DB"
psql "${direct[@]}" -q -d "$DB" <<SQL
CREATE TABLE kv (id BIGINT PRIMARY KEY, name TEXT NOT NULL, value DOUBLE PRECISION);
INSERT INTO kv SELECT i, 'name-' || i, i * 0.5 FROM generate_series(1, $ROWS) AS i;
VACUUM ANALYZE kv;
SQL

for source in internal external; do
  cat > "$work/$source.lua" <<LUA
local rows = tonumber(os.getenv("ROWS"))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["X-Starbase-Source"] = "$source"
request = function()
  return wrk.format(nil, nil, nil, '{"sql":"SELECT * FROM kv WHERE id = \$1","params":[' .. math.random(1, rows) .. ']}')
end
LUA
done

run() {
  local name=$1 url=$2 script=$3
  local out="$work/$name.txt"
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$script" "$url" >"$out"
  if grep -q 'Non-2xx' "$out"; then
    echo "$name: some responses were not 2xx:" >&2; cat "$out" >&2; exit 1
  fi
  local rps p50 p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
  echo "$name $rps $p50 $p99" >>"$work/results"
  echo "$name: $rps req/s, p50 ${p50} ms, p99 ${p99} ms" >&2
}

port=$(free_port)
EXTERNAL_DB_TYPE=postgresql EXTERNAL_DB_HOST=127.0.0.1 EXTERNAL_DB_PORT=5432 EXTERNAL_DB_USER=postgres \
  EXTERNAL_DB_DATABASE="$DB" STARBASE_EXTERNAL_POOL_SIZE="$POOL" ADMIN_AUTHORIZATION_TOKEN="$TOKEN" \
  STARBASE_LOG=warn "$BIN" serve --data-dir "$work/data" --http-listen "127.0.0.1:$port" \
  --pg-listen 127.0.0.1:0 >"$work/starbase.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
for source in internal external; do
  curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -H "X-Starbase-Source: $source" \
    -d '{"sql":"SELECT * FROM kv WHERE id = $1","params":[42]}' "http://127.0.0.1:$port/query" >&2
  echo >&2
done

run internal "http://127.0.0.1:$port/query" "$work/internal.lua"
run external "http://127.0.0.1:$port/query" "$work/external.lua"
dropdb "${direct[@]}" --if-exists "$DB" >/dev/null 2>&1 || true

get() { awk -v n="$1" -v f="$2" '$1 == n {print $f}' "$work/results"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
cat <<MD

| source | connections | req/s | p50 ms | p99 ms |
|---|---|---|---|---|
| embedded SQLite | $CONNS | $(get internal 2) | $(get internal 3) | $(get internal 4) |
| external PostgreSQL (pool $POOL) | $CONNS | $(get external 2) | $(get external 3) | $(get external 4) |

- external / embedded: $(ratio "$(get external 2)" "$(get internal 2)")×
- ${ROWS} rows, ${DURATION}s per load, wrk -t${THREADS}, $(nproc) cores, $(date -u +%Y-%m-%d)
MD
