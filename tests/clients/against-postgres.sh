#!/usr/bin/env bash
# Runs every client program (or those named) against a real PostgreSQL, each in a scratch database
# that is dropped afterwards: the proof that the programs themselves are right.
#   tests/clients/against-postgres.sh [psql pgbench psycopg3 psycopg2 asyncpg sqlalchemy node_pg jdbc]
# Server: PGHOST/PGPORT/PGUSER (default 127.0.0.1:5432, postgres; trust or PGPASSWORD).
# Runtimes: STARBASE_PYTHON (default python3), node with `npm ci` done here, STARBASE_PGJDBC_JAR.
set -uo pipefail
cd "$(dirname "$0")"
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
python="${STARBASE_PYTHON:-python3}"
jar="${STARBASE_PGJDBC_JAR:-/usr/share/java/postgresql.jar}"
programs=("$@")
[ ${#programs[@]} -gt 0 ] || programs=(psql pgbench psycopg3 psycopg2 asyncpg sqlalchemy node_pg jdbc)
status=0
for p in "${programs[@]}"; do
  case "$p" in
    psql | pgbench) cmd=(bash "./$p.sh") ;;
    psycopg3 | psycopg2 | asyncpg | sqlalchemy) cmd=("$python" "${p}_client.py") ;;
    node_pg) cmd=(node node_pg_client.js) ;;
    jdbc) cmd=(java -cp "$jar" JdbcClient.java) ;;
    *) echo "unknown program $p" >&2; exit 2 ;;
  esac
  db="starbase_clients_$p"
  dropdb --if-exists "$db" 2>/dev/null; createdb "$db" || exit 1
  if PGDATABASE="$db" "${cmd[@]}" >"/tmp/$db.log" 2>&1; then
    echo "$p: passed ($(grep -c '^ok ' "/tmp/$db.log") checks)"
  else
    echo "$p: FAILED"; sed 's/^/    /' "/tmp/$db.log"; status=1
  fi
  dropdb "$db"
done
exit "$status"
