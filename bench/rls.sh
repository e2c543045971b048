#!/usr/bin/env bash
# Row-level security overhead: HTTP point selects by a JWT user with RLS off and on.
#
# One SQLite file with a 100k-row table `kv (id, owner, name)`. The same gateway binary is
# started twice on it, both with HS256 JWT auth, once plain and once with ENABLE_RLS=true and
# a SELECT policy `kv.owner = context.id()`; wrk sends `SELECT * FROM kv WHERE id = ?` with
# random ids of rows that user owns (so both runs return one row per request) as that user. Runs alternate (off, on, off, on …) so drift on a shared
# machine hits both. Prints req/s, p50, p99 per run and the on/off ratio (target ≥ 0.8×).
#
# Needs: wrk, sqlite3, python3, curl. Knobs: DURATION (s, default 10), CONNS (64),
# THREADS (2), ROWS (100000), ROUNDS (2).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
ROWS=${ROWS:-100000}
ROUNDS=${ROUNDS:-2}
export ROWS
CACHE="${HOME}/.cache/starbase"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
ADMIN="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
SECRET="bench-secret-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"

for tool in wrk sqlite3 python3 curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

cargo build --release --locked --bin starbase >&2
BIN="$CARGO_TARGET_DIR/release/starbase"

. "$(dirname "$0")/lib.sh"
pid=""
on_exit() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi; }

# An HS256 JWT for subject u7, valid for an hour.
JWT=$(SECRET="$SECRET" python3 - <<'PY'
import base64, hashlib, hmac, json, os, time
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b64(json.dumps({"sub": "u7", "exp": int(time.time()) + 3600}).encode())
sig = hmac.new(os.environ["SECRET"].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
print(f"{head}.{body}.{b64(sig)}")
PY
)
export JWT

mkdir -p "$work/data"
sqlite3 "$work/data/starbase.sqlite" >/dev/null <<SQL
PRAGMA journal_mode=WAL;
CREATE TABLE kv (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $ROWS)
INSERT INTO kv SELECT i, 'u' || (i % 10), 'name-' || i FROM c;
SQL

cat > "$work/query.lua" <<'LUA'
local rows = tonumber(os.getenv("ROWS"))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("JWT")
-- Ids of rows the user owns (id % 10 = 7), so both runs return one row per request.
request = function()
  local id = math.random(0, rows / 10 - 1) * 10 + 7
  return wrk.format(nil, nil, nil, '{"sql":"SELECT * FROM kv WHERE id = ?","params":[' .. id .. ']}')
end
LUA

# serve RLS(true|false): starts the gateway, adds the policy when RLS is on.
serve() {
  port=$(free_port)
  ADMIN_AUTHORIZATION_TOKEN="$ADMIN" AUTH_JWT_SECRET="$SECRET" ENABLE_RLS="$1" STARBASE_LOG=warn \
    "$BIN" serve --data-dir "$work/data" --http-listen "127.0.0.1:$port" --pg-listen 127.0.0.1:0 \
    >"$work/starbase.log" 2>&1 &
  pid=$!
  wait_http "http://127.0.0.1:$port/healthz"
  # The policy lives in the metadata database: present in both runs, enforced when RLS is on.
  curl -sf -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
    "http://127.0.0.1:$port/admin/rls/policies" >"$work/policies.json"
  if ! grep -q '"kv"' "$work/policies.json"; then
    curl -sf -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
      -d '{"actions":"SELECT","table":"kv","column":"owner","value":"context.id()"}' \
      "http://127.0.0.1:$port/admin/rls/policies" >/dev/null
  fi
  # Sanity: the JWT user sees its own row and, with RLS on, not another's.
  own=$(curl -sf -H "Authorization: Bearer $JWT" -H 'Content-Type: application/json' \
    -d '{"sql":"SELECT id FROM kv WHERE id = 7"}' "http://127.0.0.1:$port/query")
  other=$(curl -sf -H "Authorization: Bearer $JWT" -H 'Content-Type: application/json' \
    -d '{"sql":"SELECT id FROM kv WHERE id = 8"}' "http://127.0.0.1:$port/query")
  echo "rls=$1 own=$own other=$other" >&2
  if [ "$1" = true ] && [ "$other" != '{"result":[]}' ]; then
    echo "row-level security is not filtering: $other" >&2; exit 1
  fi
}

run() { # NAME -> appends "name rps p50 p99"
  local out="$work/$1.txt"
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$work/query.lua" \
    "http://127.0.0.1:$port/query" >"$out"
  if grep -q 'Non-2xx' "$out"; then
    echo "$1: some responses were not 2xx:" >&2; cat "$out" >&2; exit 1
  fi
  local rps p50 p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
  echo "$1 $rps $p50 $p99" >>"$work/results"
  echo "$1: $rps req/s, p50 ${p50} ms, p99 ${p99} ms" >&2
}

for round in $(seq 1 "$ROUNDS"); do
  for rls in false true; do
    serve "$rls"
    run "rls_${rls}_$round"
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  done
done

sum() { awk -v p="$1" '$1 ~ "^"p {s += $2} END {printf "%.0f", s}' "$work/results"; }
echo
echo "| run | req/s | p50 ms | p99 ms |"
echo "|---|---|---|---|"
awk '{printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4}' "$work/results"
off=$(sum rls_false); on=$(sum rls_true)
echo
echo "- RLS on / off: $(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.2f", a / b }')× (sum over $ROUNDS rounds)"
echo "- ${ROWS} rows, ${DURATION}s per run, wrk -t${THREADS} -c${CONNS}, $(nproc) cores, $(date -u +%Y-%m-%d)"
