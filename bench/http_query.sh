#!/usr/bin/env bash
# HTTP query benchmark, loopback only, bounded in time.
#
# In one run, on one SQLite file with a 100k-row table:
#   1. GET  /healthz on Starbase                  (ceiling of the HTTP stack)
#   2. POST /query point-select by primary key    (Starbase, 64 connections)
#   3. GET  /<db>/kv/<id>.json on Datasette       (the peer a user would otherwise pick)
#   4. POST /query INSERT                         (Starbase, 8 connections)
# and prints req/s, p50, p99 and the ratios as a Markdown table.
#
# Needs: wrk, sqlite3, python3 (Datasette is installed into a venv under ~/.cache on first use).
# Knobs: DURATION (s, default 15), CONNS (64), INSERT_CONNS (8), THREADS (2), ROWS (100000).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-15}
CONNS=${CONNS:-64}
INSERT_CONNS=${INSERT_CONNS:-8}
THREADS=${THREADS:-2}
ROWS=${ROWS:-100000}
export ROWS
CACHE="${HOME}/.cache/starbase"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
TOKEN="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export TOKEN

for tool in wrk sqlite3 python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install wrk sqlite3 python3-venv)" >&2; exit 1; }
done
if [ ! -x "$CACHE/bench-venv/bin/datasette" ]; then
  python3 -m venv "$CACHE/bench-venv"
  "$CACHE/bench-venv/bin/pip" install -q datasette
fi

cargo build --release --locked --bin starbase >&2
BIN="$CARGO_TARGET_DIR/release/starbase"

. "$(dirname "$0")/lib.sh"


mkdir -p "$work/data"
DB="$work/data/starbase.sqlite"
sqlite3 "$DB" >/dev/null <<SQL
PRAGMA journal_mode=WAL;
CREATE TABLE kv (id INTEGER PRIMARY KEY, name TEXT NOT NULL, value REAL);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $ROWS)
INSERT INTO kv SELECT i, 'name-' || i, i * 0.5 FROM c;
CREATE TABLE ins (id INTEGER PRIMARY KEY, v TEXT);
SQL

cat > "$work/query.lua" <<'LUA'
local rows = tonumber(os.getenv("ROWS"))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
request = function()
  return wrk.format(nil, nil, nil, '{"sql":"SELECT * FROM kv WHERE id = ?","params":[' .. math.random(1, rows) .. ']}')
end
LUA
cat > "$work/insert.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
request = function()
  return wrk.format(nil, nil, nil, '{"sql":"INSERT INTO ins (v) VALUES (?)","params":["v-' .. math.random(1, 1000000) .. '"]}')
end
LUA
cat > "$work/datasette.lua" <<'LUA'
local rows = tonumber(os.getenv("ROWS"))
request = function()
  return wrk.format("GET", "/starbase/kv/" .. math.random(1, rows) .. ".json")
end
LUA


# run NAME CONNS URL [LUA] -> appends "name rps p50 p99" to $work/results
run() {
  local name=$1 conns=$2 url=$3 script=${4:-}
  local out="$work/$name.txt"
  if [ -n "$script" ]; then
    wrk -t"$THREADS" -c"$conns" -d"${DURATION}s" --latency -s "$script" "$url" >"$out"
  else
    wrk -t"$THREADS" -c"$conns" -d"${DURATION}s" --latency "$url" >"$out"
  fi
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
ADMIN_AUTHORIZATION_TOKEN="$TOKEN" STARBASE_LOG=warn "$BIN" serve --data-dir "$work/data" \
  --http-listen "127.0.0.1:$port" --pg-listen 127.0.0.1:0 >"$work/starbase.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$port/healthz"
curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  -d '{"sql":"SELECT * FROM kv WHERE id = ?","params":[42]}' "http://127.0.0.1:$port/query" >&2
echo >&2

run healthz "$CONNS" "http://127.0.0.1:$port/healthz"
run point_select "$CONNS" "http://127.0.0.1:$port/query" "$work/query.lua"
run insert "$INSERT_CONNS" "http://127.0.0.1:$port/query" "$work/insert.lua"
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true

dport=$(free_port)
"$CACHE/bench-venv/bin/datasette" serve "$DB" -h 127.0.0.1 -p "$dport" >"$work/datasette.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$dport/-/versions.json"
curl -sf "http://127.0.0.1:$dport/starbase/kv/42.json" >/dev/null
run datasette_point "$CONNS" "http://127.0.0.1:$dport" "$work/datasette.lua"

get() { awk -v n="$1" -v f="$2" '$1 == n {print $f}' "$work/results"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

cat <<MD

| load | connections | req/s | p50 ms | p99 ms |
|---|---|---|---|---|
| Starbase \`GET /healthz\` | $CONNS | $(get healthz 2) | $(get healthz 3) | $(get healthz 4) |
| Starbase \`POST /query\` point select | $CONNS | $(get point_select 2) | $(get point_select 3) | $(get point_select 4) |
| Datasette row JSON point select | $CONNS | $(get datasette_point 2) | $(get datasette_point 3) | $(get datasette_point 4) |
| Starbase \`POST /query\` INSERT | $INSERT_CONNS | $(get insert 2) | $(get insert 3) | $(get insert 4) |

- point select / healthz: $(ratio "$(get point_select 2)" "$(get healthz 2)")×
- point select / Datasette: $(ratio "$(get point_select 2)" "$(get datasette_point 2)")×
- ${ROWS} rows, ${DURATION}s per load, wrk -t${THREADS}, $(nproc) cores, $(date -u +%Y-%m-%d)
MD
