#!/usr/bin/env bash
# Memory of dumps with many parts: the server's peak RSS over a dump and a whole download,
# for each binary in BINS and each size in SIZES, with pages of CHUNK rows (100) and parts of
# PART_BYTES (4 KiB): a part closes at the first page boundary past its size, so 1M rows make
# 10,000 parts and 5M 50,000 (a terabyte at the default 4 MiB makes 250,000). A server whose
# memory grows with the number of parts shows it as a peak that grows with the size; one
# that holds a page of part records at a time has the same peak for both sizes.
#
# Needs: sqlite3, curl, python3. Knobs: BINS (binaries, default the release build), SIZES
# ("1000000 5000000"), CHUNK (100), PART_BYTES (4096), REPEAT (1: runs per binary and size,
# taking turns).
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"1000000 5000000"}
CHUNK=${CHUNK:-100}
PART_BYTES=${PART_BYTES:-4096}
REPEAT=${REPEAT:-1}
CACHE="${HOME}/.cache/starbase"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
TOKEN="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
if [ -z "${BINS:-}" ]; then
  cargo build --release --locked --bin starbase >&2
  BINS="$CARGO_TARGET_DIR/release/starbase"
fi
for tool in sqlite3 curl python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dump_lib.sh"

rss_mib() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$SPID/status"; }

echo "| binary | rows | parts | peak RSS after the dump (MiB) | after its download (MiB) |"
echo "|---|---|---|---|---|"
for ROWS in $SIZES; do
  seed="$work/seed-$ROWS.sqlite"
  sqlite3 "$seed" >/dev/null <<SQL
PRAGMA journal_mode=WAL;
CREATE TABLE kv (id INTEGER PRIMARY KEY, name TEXT NOT NULL, value REAL);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $ROWS)
INSERT INTO kv SELECT i, 'name-' || i, i * 0.5 FROM c;
SQL
  for _ in $(seq 1 "$REPEAT"); do
    for BIN in $BINS; do
      rm -rf "$work/data" && mkdir -p "$work/data"
      cp "$seed" "$work/data/starbase.sqlite"
      PORT=$(free_port)
      DUMP_CHUNK_SIZE=$CHUNK STARBASE_DUMP_PART_BYTES=$PART_BYTES ADMIN_AUTHORIZATION_TOKEN="$TOKEN" STARBASE_LOG=warn \
        "$BIN" serve --data-dir "$work/data" --http-listen "127.0.0.1:$PORT" \
        --pg-listen 127.0.0.1:0 >"$work/starbase.log" 2>&1 &
      SPID=$!
      pids+=("$SPID")
      wait_http "http://127.0.0.1:$PORT/healthz"
      dump_once >/dev/null
      key=$(cat "$work/last_dump_key")
      after_dump=$(rss_mib)
      parts=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["parts"]))' \
        "$work/data/dumps/$key/manifest.json")
      curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" \
        "http://127.0.0.1:$PORT/export/dump/download/$key.sql"
      after_download=$(rss_mib)
      kill "$SPID"; wait "$SPID" 2>/dev/null || true
      echo "| $BIN | $ROWS | $parts | $after_dump | $after_download |"
    done
  done
done
