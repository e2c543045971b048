#!/usr/bin/env bash
# PostgreSQL-wire proxy benchmark, loopback only, bounded in time.
#
# pgbench -S (select-only, scale SCALE) against the same local PostgreSQL database three ways
# in one run: directly, through Starbase's wire proxy (database `external`, transaction
# pooling, 32 server connections), and through
# PgBouncer (Debian package, transaction pooling); -M extended and -M simple; CLIENTS_LIST
# clients. Prints TPS and the ratios to direct as Markdown.
#
# Needs: pgbench, psql, createdb, pgbouncer, a PostgreSQL at 127.0.0.1:5432 (user postgres,
# trust auth) and root (PgBouncer runs as the postgres user).
# Knobs: DURATION (s, default 10), SCALE (10), CLIENTS_LIST ("1 8 32"), THREADS (2),
# SERVER_HOST (127.0.0.1, or a socket directory such as /var/run/postgresql).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
SCALE=${SCALE:-10}
CLIENTS_LIST=${CLIENTS_LIST:-"1 8 32"}
THREADS=${THREADS:-2}
# How both proxies reach PostgreSQL: 127.0.0.1 (TCP) or its socket directory, e.g.
# /var/run/postgresql (a Unix-domain socket). pgbench reaches all three over TCP.
SERVER_HOST=${SERVER_HOST:-127.0.0.1}
CACHE="${HOME}/.cache/starbase"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
TOKEN="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
DB=starbase_proxy_bench

for tool in pgbench psql createdb pgbouncer python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install postgresql-client pgbouncer)" >&2; exit 1; }
done

cargo build --release --locked --bin starbase >&2
BIN="$CARGO_TARGET_DIR/release/starbase"

. "$(dirname "$0")/lib.sh"
chmod 755 "$work"
on_exit() { [ -f "$work/pgbouncer.pid" ] && kill "$(cat "$work/pgbouncer.pid")" 2>/dev/null || true; }

direct=(-h 127.0.0.1 -p 5432 -U postgres)
dropdb "${direct[@]}" --if-exists "$DB" >/dev/null 2>&1 || true
createdb "${direct[@]}" "$DB"
pgbench "${direct[@]}" -i -q -s "$SCALE" "$DB" >/dev/null 2>&1

# Starbase: the wire proxy to the local PostgreSQL as source `external`, transaction pooling
# with as many server connections as PgBouncer's pool below.
port=$(free_port)
mkdir -p "$work/data"
EXTERNAL_DB_TYPE=postgresql EXTERNAL_DB_HOST="$SERVER_HOST" EXTERNAL_DB_PORT=5432 EXTERNAL_DB_USER=postgres \
  EXTERNAL_DB_DATABASE="$DB" STARBASE_EXTERNAL_POOL_SIZE=32 ADMIN_AUTHORIZATION_TOKEN="$TOKEN" STARBASE_LOG=warn \
  "$BIN" serve --data-dir "$work/data" --http-listen 127.0.0.1:0 --pg-listen "127.0.0.1:$port" \
  >"$work/starbase.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  PGPASSWORD="$TOKEN" psql -h 127.0.0.1 -p "$port" -U bench -d external -XAtc 'SELECT 1' >/dev/null 2>&1 && break
  sleep 0.1
done
PGPASSWORD="$TOKEN" psql -h 127.0.0.1 -p "$port" -U bench -d external -XAtc 'SELECT count(*) FROM pgbench_branches' >&2

# PgBouncer in transaction mode in front of the same database.
bport=$(free_port)
cat > "$work/pgbouncer.ini" <<INI
[databases]
$DB = host=$SERVER_HOST port=5432 dbname=$DB user=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
auth_type = trust
auth_file = $work/users.txt
pool_mode = transaction
max_client_conn = 200
default_pool_size = 32
pidfile = $work/pgbouncer.pid
logfile = $work/pgbouncer.log
INI
echo '"postgres" ""' > "$work/users.txt"
chown -R postgres "$work"
su postgres -s /bin/sh -c "pgbouncer -d $work/pgbouncer.ini"
for _ in $(seq 1 50); do psql -h 127.0.0.1 -p "$bport" -U postgres -d "$DB" -XAtc 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.1; done

# run NAME MODE CLIENTS ARGS... -> appends "name mode clients tps" to $work/results
run() {
  local name=$1 mode=$2 clients=$3
  shift 3
  local out="$work/$name-$mode-$clients.txt"
  pgbench -n -S -M "$mode" -c "$clients" -j "$(( clients < THREADS ? clients : THREADS ))" -T "$DURATION" "$@" >"$out" 2>&1 \
    || { cat "$out" >&2; exit 1; }
  local tps
  tps=$(awk '/^tps = / {print $3; exit}' "$out")
  echo "$name $mode $clients $tps" >>"$work/results"
  echo "$name -M $mode -c $clients: $tps tps" >&2
}

for mode in extended simple; do
  for clients in $CLIENTS_LIST; do
    run direct "$mode" "$clients" "${direct[@]}" "$DB"
    PGPASSWORD="$TOKEN" run starbase "$mode" "$clients" -h 127.0.0.1 -p "$port" -U bench external
    run pgbouncer "$mode" "$clients" -h 127.0.0.1 -p "$bport" -U postgres "$DB"
  done
done
dropdb "${direct[@]}" --if-exists "$DB" >/dev/null 2>&1 || true

get() { awk -v n="$1" -v m="$2" -v c="$3" '$1 == n && $2 == m && $3 == c {print $4}' "$work/results"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo
echo "| protocol | clients | direct TPS | Starbase TPS | PgBouncer TPS | Starbase / direct | PgBouncer / direct |"
echo "|---|---|---|---|---|---|---|"
for mode in extended simple; do
  for clients in $CLIENTS_LIST; do
    d=$(get direct "$mode" "$clients"); s=$(get starbase "$mode" "$clients"); b=$(get pgbouncer "$mode" "$clients")
    echo "| $mode | $clients | $d | $s | $b | $(ratio "$s" "$d")× | $(ratio "$b" "$d")× |"
  done
done
echo
echo "- proxies reach PostgreSQL at $SERVER_HOST; pgbench -S, scale $SCALE, ${DURATION}s per run, $(nproc) cores, PostgreSQL $(psql "${direct[@]}" -d postgres -XAtc 'SHOW server_version' | cut -d' ' -f1), $(pgbouncer --version | head -n 1), $(date -u +%Y-%m-%d)"
