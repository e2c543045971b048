"""psycopg2 against a PostgreSQL-wire server: connect, DDL, insert, select, executemany,
transactions and types. psycopg2 interpolates parameters on the client and sends simple queries.
The connection comes from the libpq env vars (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE).
Prints one line per check and exits 1 on the first failure."""

import datetime
import decimal

import psycopg2
import psycopg2.errors
from psycopg2 import errorcodes

from clientcheck import check, describe, fail, step

T = "psycopg2_items"


def main():
    conn = step("connect", lambda: psycopg2.connect(""))
    print("ok connect")
    cur = conn.cursor()

    def one(sql, params=None):
        cur.execute(sql, params)
        return cur.fetchone()

    check("select 1", step("select 1", lambda: one("SELECT 1"))[0], 1, int)
    conn.commit()

    step("drop old table", lambda: cur.execute(f"DROP TABLE IF EXISTS {T}"))
    step(
        "create table",
        lambda: cur.execute(
            f"""CREATE TABLE {T} (
                id SERIAL PRIMARY KEY,
                name VARCHAR(40) NOT NULL UNIQUE,
                qty INTEGER,
                big BIGINT,
                price DOUBLE PRECISION,
                ratio REAL,
                active BOOLEAN,
                data BYTEA,
                amount NUMERIC(10, 2),
                created TIMESTAMP,
                note TEXT)"""
        ),
    )
    conn.commit()
    print("ok create table")

    row = step(
        "insert returning",
        lambda: one(
            f"INSERT INTO {T} (name, qty, big, price, ratio, active, data, amount, created, note)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (
                "alpha",
                7,
                2**40,
                2.5,
                0.25,
                True,
                psycopg2.Binary(b"\x00\x01\xff"),
                decimal.Decimal("12.34"),
                datetime.datetime(2024, 1, 2, 3, 4, 5),
                None,
            ),
        ),
    )
    check("insert returning id is an int", row[0], 1, int)
    conn.commit()

    row = step(
        "select typed row",
        lambda: one(
            f"SELECT id, name, qty, big, price, ratio, active, data, amount, created, note FROM {T}"
            " WHERE name = %s",
            ("alpha",),
        ),
    )
    check("varchar column", row[1], "alpha", str)
    check("int column", row[2], 7, int)
    check("bigint column", row[3], 2**40, int)
    check("double precision column", row[4], 2.5, float)
    check("real column", row[5], 0.25, float)
    check("boolean column", row[6], True, bool)
    # psycopg2's Python type for bytea is memoryview.
    check("bytea column is a memoryview", row[7], kind=memoryview)
    check("bytea column bytes", bytes(row[7]), b"\x00\x01\xff", bytes)
    check("numeric column", row[8], decimal.Decimal("12.34"), decimal.Decimal)
    check("timestamp column", row[9], datetime.datetime(2024, 1, 2, 3, 4, 5), datetime.datetime)
    check("NULL is None", row[10] is None, True)
    names = [d.name for d in cur.description]
    check("column names", names, ["id", "name", "qty", "big", "price", "ratio", "active", "data", "amount", "created", "note"])
    conn.commit()

    rows = [(f"bulk{i}", i, i * 0.5, i % 2 == 0) for i in range(1, 6)]
    step(
        "executemany",
        lambda: cur.executemany(
            f"INSERT INTO {T} (name, qty, price, active) VALUES (%s, %s, %s, %s)", rows
        ),
    )
    check("executemany rowcount", cur.rowcount, 5, int)
    conn.commit()
    check("count after executemany", step("count", lambda: one(f"SELECT count(*) FROM {T}"))[0], 6, int)

    def select_many():
        cur.execute(
            f"SELECT name, qty, price, active FROM {T} WHERE name LIKE %s AND qty >= %s ORDER BY qty",
            ("bulk%", 2),
        )
        return cur.fetchall()

    check("select many rows", step("select many", select_many), [r for r in rows if r[1] >= 2])
    conn.commit()

    # A rolled-back transaction leaves nothing.
    step("insert in transaction", lambda: cur.execute(f"INSERT INTO {T} (name, qty) VALUES (%s, %s)", ("ghost", 99)))
    check("row visible inside the transaction", step("count", lambda: one(f"SELECT count(*) FROM {T} WHERE name = 'ghost'"))[0], 1, int)
    step("rollback", conn.rollback)
    check("rollback leaves nothing", step("count", lambda: one(f"SELECT count(*) FROM {T} WHERE name = 'ghost'"))[0], 0, int)
    conn.commit()

    # The connection as a context manager commits on success.
    def committed():
        with conn:
            cur.execute(f"UPDATE {T} SET qty = qty + 100 WHERE name = %s", ("bulk1",))
            return cur.rowcount

    check("update rowcount", step("update", committed), 1, int)
    check("commit keeps the update", step("select", lambda: one(f"SELECT qty FROM {T} WHERE name = 'bulk1'"))[0], 101, int)
    conn.commit()

    try:
        cur.execute(f"INSERT INTO {T} (name) VALUES (%s)", ("alpha",))
        fail("unique violation", "a duplicate name was accepted")
    except psycopg2.errors.UniqueViolation as exc:
        check("unique violation is UniqueViolation / 23505", exc.pgcode, errorcodes.UNIQUE_VIOLATION)
    except psycopg2.Error as exc:
        fail("unique violation", describe(exc))
    # After an error the transaction is aborted until ROLLBACK (25P02).
    try:
        cur.execute("SELECT 1")
        fail("aborted transaction", "a statement after an error was accepted")
    except psycopg2.errors.InFailedSqlTransaction as exc:
        check("aborted transaction refuses statements / 25P02", exc.pgcode, "25P02")
    except psycopg2.Error as exc:
        fail("aborted transaction", describe(exc))
    conn.rollback()

    upsert = step(
        "on conflict do update",
        lambda: one(
            f"INSERT INTO {T} (name, qty) VALUES (%s, %s)"
            " ON CONFLICT (name) DO UPDATE SET qty = excluded.qty RETURNING qty",
            ("alpha", 70),
        ),
    )
    check("on conflict do update", upsert[0], 70, int)
    conn.commit()

    conn.autocommit = True
    step("drop table", lambda: cur.execute(f"DROP TABLE {T}"))
    print("ok drop table")
    conn.close()
    print("ok all")


if __name__ == "__main__":
    main()
