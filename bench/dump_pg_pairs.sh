#!/usr/bin/env bash
# PostgreSQL dumps, binary against binary, in pairs with pg_dump (loopback only).
#
# On a PG_ROWS-row (1M) `kv` table in a scratch database, for each binary in BINS (default:
# the release build), PAIRS times: `pg_dump` then the gateway's `POST /export/dump`
# (`format: sql`, source `external`, local storage), timed by the server (`createdAt` to
# `completedAt`); and once per binary the point-select p99 through `POST /query` (wrk,
# DURATION seconds each, after a two-second warm-up) idle and while dumps run back to back
# (bench/dump_loop.py, whose status polls also run beside the idle phase). The binaries take
# turns round by round (ROUNDS), so that a slow spell of the machine falls on all of them.
# Prints each pair's ratio, sorted, and the p99 figures. For telling two builds apart on a
# machine whose speed moves between runs.
#
# Needs: wrk, psql, pg_dump, curl, python3. Knobs: BINS, PAIRS (6), ROUNDS (2), DURATION (5),
# PG_ROWS (1000000), SERVER_ENV (VAR=value words for every server).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${HOME}/.cache/starbase"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
PAIRS=${PAIRS:-6}
ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-5}
PG_ROWS=${PG_ROWS:-1000000}
if [ -z "${BINS:-}" ]; then
  cargo build --release --locked --bin starbase >&2
  BINS="$CARGO_TARGET_DIR/release/starbase"
fi
TOKEN="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
for tool in wrk psql pg_dump curl python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dump_lib.sh"

psql_() { psql -X -q -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 "$@"; }
pgdb="bench_pairs_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
on_exit() { psql_ -d postgres -c "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null 2>&1 || true; }
psql_ -d postgres -c "CREATE DATABASE $pgdb" >/dev/null
psql_ -d "$pgdb" >/dev/null <<SQL
CREATE TABLE kv (id integer PRIMARY KEY, name text NOT NULL, value double precision);
INSERT INTO kv SELECT i, 'name-' || i, i * 0.5 FROM generate_series(1, $PG_ROWS) i;
VACUUM ANALYZE kv;
CHECKPOINT;
SQL

start_server() {
  PORT=$(free_port)
  rm -rf "$work/data" && mkdir -p "$work/data"
  # shellcheck disable=SC2086 # SERVER_ENV is a list of VAR=value words
  env ${SERVER_ENV:-} ADMIN_AUTHORIZATION_TOKEN="$TOKEN" STARBASE_LOG=warn \
    STARBASE_EXTERNAL_URL="postgres://postgres@127.0.0.1:5432/$pgdb" "$1" serve \
    --data-dir "$work/data" --http-listen "127.0.0.1:$PORT" --pg-listen 127.0.0.1:0 \
    >"$work/starbase.log" 2>&1 &
  SPID=$!
  pids+=("$SPID")
  wait_http "http://127.0.0.1:$PORT/healthz"
}
stop_server() { kill "$SPID"; wait "$SPID" 2>/dev/null || true; }
# dump -> the dump's seconds (dump_once); its files are removed
dump() {
  dump_once external
  rm -rf "$work/data/dumps"/dump_*
}
cat >"$work/query.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
wrk.headers["X-Starbase-Source"] = "external"
request = function()
  return wrk.format(nil, nil, nil, '{"sql":"SELECT * FROM kv WHERE id = \$1","params":[' .. math.random(1, $PG_ROWS) .. ']}')
end
LUA
p99() {
  wrk -t2 -c8 -d"$1s" --latency -s "$work/query.lua" "http://127.0.0.1:$PORT/query" >"$work/wrk.txt"
  to_ms "$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")"
}

echo "| round | binary | ratios to pg_dump (sorted) | point-select p99 idle ms | p99 during dumps ms (ratio) |"
echo "|---|---|---|---|---|"
for round in $(seq 1 "$ROUNDS"); do
  for bin in $BINS; do
    start_server "$bin"
    ratios=()
    for _ in $(seq 1 "$PAIRS"); do
      start=$(now); pg_dump -h 127.0.0.1 -U postgres "$pgdb" >"$work/peer.sql"
      peer=$(elapsed "$start" "$(now)")
      ours=$(dump)
      ratios+=("$(awk -v a="$ours" -v b="$peer" 'BEGIN { printf "%.2f", a / b }')")
    done
    p99 2 >/dev/null
    python3 bench/dump_loop.py "$PORT" "$TOKEN" external loop "$work/stop" "$work/data/dumps" "$(cat "$work/last_dump_key")" &
    loop=$!
    idle=$(p99 "$DURATION")
    touch "$work/stop"; wait "$loop"; rm -f "$work/stop"
    python3 bench/dump_loop.py "$PORT" "$TOKEN" external loop "$work/stop" "$work/data/dumps" &
    loop=$!
    busy=$(p99 "$DURATION")
    touch "$work/stop"; wait "$loop"; rm -f "$work/stop"
    stop_server
    sorted=$(printf '%s\n' "${ratios[@]}" | sort -n | paste -sd' ')
    echo "| $round | $bin | $sorted | $idle | $busy ($(awk -v a="$busy" -v b="$idle" 'BEGIN { printf "%.2f", a / b }')×) |"
  done
done
