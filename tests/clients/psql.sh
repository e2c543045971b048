#!/usr/bin/env bash
# psql against a PostgreSQL-wire server: \l, \dt, \d table, \di, \dv, \dn and \x output, compared
# with expected/psql_*.out after normalizing what legitimately differs between servers (owners,
# the database name, locales; rows of other programs' tables sharing the database). The connection
# comes from the libpq env vars (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE). Prints one line
# per check and exits 1 on the first failure. PSQL_UPDATE_EXPECTED=1 rewrites the expected files
# (do that only against a real PostgreSQL).
set -uo pipefail
cd "$(dirname "$0")"
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-10}"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

fail() { echo "FAIL $1: $2"; exit 1; }
ok() { echo "ok $1"; }

# -X: no psqlrc; the output format is pinned so that only the server decides the output.
psql_run() { psql -X -q -v ON_ERROR_STOP=1 -P pager=off -P null= "$@"; }

# psql's output format is its own version's: the expected files are psql 15's (Debian 12), for a
# server that reports version 15 or later.
psql_major=$(psql --version | sed -E 's/^[^0-9]*([0-9]+).*/\1/')
[ "$psql_major" = 15 ] || fail "psql version" "expected/psql_*.out are psql 15's output; this is $(psql --version)"
ok "psql version 15"

psql_run >"$out/setup" 2>&1 <<'SQL' || fail "setup" "$(cat "$out/setup")"
DROP VIEW IF EXISTS psql_items_view;
DROP TABLE IF EXISTS psql_orders;
DROP TABLE IF EXISTS psql_items;
CREATE TABLE psql_items (
  id INTEGER PRIMARY KEY,
  name VARCHAR(40) NOT NULL UNIQUE,
  qty INTEGER NOT NULL DEFAULT 0,
  big BIGINT,
  price DOUBLE PRECISION,
  ratio REAL,
  active BOOLEAN,
  data BYTEA,
  amount NUMERIC(10, 2),
  created TIMESTAMP,
  note TEXT
);
CREATE INDEX psql_items_qty_idx ON psql_items (qty);
CREATE TABLE psql_orders (
  id INTEGER PRIMARY KEY,
  item_id INTEGER NOT NULL REFERENCES psql_items (id),
  amount INTEGER NOT NULL
);
CREATE VIEW psql_items_view AS SELECT id, name FROM psql_items WHERE active;
INSERT INTO psql_items (id, name, qty, big, price, ratio, active, amount, created, note) VALUES
  (1, 'alpha', 7, 1099511627776, 2.5, 0.25, TRUE, 12.34, '2024-01-02 03:04:05', NULL),
  (2, 'beta', 0, NULL, -1.5, NULL, FALSE, NULL, NULL, 'second');
INSERT INTO psql_orders (id, item_id, amount) VALUES (1, 1, 3);
SQL
ok "setup"

# Unaligned lists: keep the title, the header and this program's rows (shared databases hold
# other tables too), drop the row-count footer, and blank the columns that differ by server.
# $1: the 1-based Owner column, $2: a regex the kept rows' leading fields match.
normalize_list() {
  awk -F'|' -v OFS='|' -v owner="$1" -v keep="$2" '
    NR <= 2 { if (NR == 2) $owner = "Owner"; print; next }
    /^\([0-9]+ rows?\)$/ { next }
    $0 ~ keep { $owner = "<owner>"; print }'
}

normalize_databases() {
  awk -F'|' -v OFS='|' -v db="${PGDATABASE:-}" '
    NR <= 2 { print; next }
    $1 == db { $1 = "<db>"; $2 = "<owner>"; $4 = "<locale>"; $5 = "<locale>"; $6 = "<locale>"; print }'
}

# SQLite's INTEGER is int8 and its REAL float8 on the gateway (README, "Types"), where
# PostgreSQL's are int4 and float4: \d output is compared with the gateway's type names on both
# sides, and without the column widths that follow from their lengths.
gateway_types() {
  sed -E 's/ +/ /g; s/-+/-/g; s/\| integer \|/| bigint |/g; s/\| real \|/| double precision |/g'
}

# $1: check name, $2: expected file stem, $3: normalizer command (or cat), then psql arguments.
# With CANON set, both the expected and the actual output go through it before the diff.
compare() {
  local name="$1" stem="$2" normalizer="$3"
  shift 3
  if ! psql_run "$@" >"$out/$stem.raw" 2>"$out/$stem.err" || [ -s "$out/$stem.err" ]; then
    fail "$name" "psql failed: $(cat "$out/$stem.err")"
  fi
  eval "$normalizer" <"$out/$stem.raw" >"$out/$stem.out"
  if [ "${PSQL_UPDATE_EXPECTED:-}" = 1 ]; then
    cp "$out/$stem.out" "expected/$stem.out"
  fi
  local want="expected/$stem.out" got="$out/$stem.out"
  if [ -n "${CANON:-}" ]; then
    eval "$CANON" <"$want" >"$out/$stem.want" && want="$out/$stem.want"
    eval "$CANON" <"$got" >"$out/$stem.got" && got="$out/$stem.got"
  fi
  if ! diff -u "$want" "$got" >"$out/$stem.diff"; then
    fail "$name" "output differs from expected/$stem.out:
$(cat "$out/$stem.diff")"
  fi
  ok "$name"
}

compare '\l' psql_l normalize_databases -A -c '\l'
compare '\dt' psql_dt "normalize_list 4 '^public[|]psql_'" -A -c '\dt'
CANON=gateway_types compare '\d psql_items' psql_d_items cat -c '\d psql_items'
CANON=gateway_types compare '\d psql_orders' psql_d_orders cat -c '\d psql_orders'
compare '\di' psql_di "normalize_list 4 '^public[|]psql_'" -A -c '\di'
compare '\dv' psql_dv "normalize_list 4 '^public[|]psql_'" -A -c '\dv'
compare '\dn' psql_dn "normalize_list 2 '^public[|]'" -A -c '\dn'
compare '\x expanded select' psql_x cat -c '\x on' \
  -c 'SELECT id, name, qty, big, price, ratio, active, amount, created, note FROM psql_items ORDER BY id'
compare '\x select from a view' psql_x_view cat -c '\x on' -c 'SELECT * FROM psql_items_view'

psql_run -c 'DROP VIEW psql_items_view' -c 'DROP TABLE psql_orders' -c 'DROP TABLE psql_items' \
  >"$out/teardown" 2>&1 || fail "teardown" "$(cat "$out/teardown")"
ok "drop tables"
echo "ok all"
