#!/usr/bin/env bash
# pgbench against a PostgreSQL-wire server with a custom select script (pgbench/select.sql) in the
# simple, extended and prepared query modes. The connection comes from the libpq env vars (PGHOST,
# PGPORT, PGUSER, PGPASSWORD, PGDATABASE). Prints one line per check and exits 1 on the first failure.
set -uo pipefail
cd "$(dirname "$0")"
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-10}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

fail() { echo "FAIL $1: $2"; exit 1; }
ok() { echo "ok $1"; }

psql_run() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

values=$(for i in $(seq 1 100); do printf "(%d, 'val-%d')" "$i" "$i"; [ "$i" -lt 100 ] && printf ', '; done)
psql_run -c "DROP TABLE IF EXISTS pgbench_client_kv" >"$out/setup" 2>&1 || fail "drop old table" "$(cat "$out/setup")"
psql_run -c "CREATE TABLE pgbench_client_kv (id INTEGER PRIMARY KEY, v TEXT NOT NULL)" >"$out/setup" 2>&1 \
  || fail "create table" "$(cat "$out/setup")"
psql_run -c "INSERT INTO pgbench_client_kv (id, v) VALUES $values" >"$out/setup" 2>&1 \
  || fail "insert 100 rows" "$(cat "$out/setup")"
ok "setup"

clients=2
per_client=100
for mode in simple extended prepared; do
  if ! pgbench -n -f pgbench/select.sql -D offset=0 -M "$mode" -c "$clients" -j 1 -t "$per_client" \
      >"$out/$mode" 2>&1; then
    fail "pgbench -M $mode" "exit $?: $(grep -v '^progress' "$out/$mode" | head -n 20)"
  fi
  want="number of transactions actually processed: $((clients * per_client))/$((clients * per_client))"
  grep -qF "$want" "$out/$mode" || fail "pgbench -M $mode transactions" "no '$want' in: $(cat "$out/$mode")"
  grep -qE '^number of failed transactions: 0 ' "$out/$mode" \
    || fail "pgbench -M $mode failures" "$(cat "$out/$mode")"
  ok "pgbench -M $mode: $((clients * per_client)) checked selects"
done

# The script's check is real: a wrong expectation makes pgbench fail.
if pgbench -n -f pgbench/select.sql -D offset=1 -M extended -c 1 -j 1 -t 5 >"$out/negative" 2>&1; then
  fail "pgbench detects a wrong row" "a run expecting other ids passed: $(cat "$out/negative")"
fi
grep -q 'division by zero' "$out/negative" \
  || fail "pgbench detects a wrong row" "failed for another reason: $(head -n 20 "$out/negative")"
ok "pgbench detects a wrong row"

psql_run -c "DROP TABLE pgbench_client_kv" >"$out/setup" 2>&1 || fail "drop table" "$(cat "$out/setup")"
ok "drop table"
echo "ok all"
