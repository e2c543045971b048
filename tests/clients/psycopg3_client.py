"""psycopg 3 against a PostgreSQL-wire server: connect, DDL, insert, select, executemany,
transactions and types. The connection comes from the libpq env vars (PGHOST, PGPORT, PGUSER,
PGPASSWORD, PGDATABASE). Prints one line per check and exits 1 on the first failure."""

import datetime
import decimal

import psycopg
from psycopg import errors

from clientcheck import check, describe, fail, step

T = "psycopg3_items"


def main():
    conn = step("connect", lambda: psycopg.connect(""))
    print("ok connect")
    cur = conn.cursor()
    check("select 1", step("select 1", lambda: cur.execute("SELECT 1").fetchone())[0], 1, int)
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
        lambda: cur.execute(
            f"INSERT INTO {T} (name, qty, big, price, ratio, active, data, amount, created, note)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (
                "alpha",
                7,
                2**40,
                2.5,
                0.25,
                True,
                b"\x00\x01\xff",
                decimal.Decimal("12.34"),
                datetime.datetime(2024, 1, 2, 3, 4, 5),
                None,
            ),
        ).fetchone(),
    )
    check("insert returning id is an int", row[0], 1, int)
    conn.commit()

    row = step(
        "select typed row",
        lambda: cur.execute(
            f"SELECT id, name, qty, big, price, ratio, active, data, amount, created, note FROM {T}"
            " WHERE name = %s",
            ("alpha",),
        ).fetchone(),
    )
    check("int column", row[2], 7, int)
    check("bigint column", row[3], 2**40, int)
    check("double precision column", row[4], 2.5, float)
    check("real column", row[5], 0.25, float)
    check("boolean column", row[6], True, bool)
    check("bytea column", row[7], b"\x00\x01\xff", bytes)
    check("numeric column", row[8], decimal.Decimal("12.34"), decimal.Decimal)
    check("timestamp column", row[9], datetime.datetime(2024, 1, 2, 3, 4, 5), datetime.datetime)
    check("NULL is None", row[10] is None, True)
    check("varchar column", row[1], "alpha", str)
    conn.commit()

    rows = [(f"bulk{i}", i, i * 0.5, i % 2 == 0) for i in range(1, 6)]
    step(
        "executemany",
        lambda: cur.executemany(
            f"INSERT INTO {T} (name, qty, price, active) VALUES (%s, %s, %s, %s)", rows
        ),
    )
    conn.commit()
    count = step("count after executemany", lambda: cur.execute(f"SELECT count(*) FROM {T}").fetchone())
    check("count after executemany", count[0], 6, int)
    got = step(
        "select many",
        lambda: cur.execute(
            f"SELECT name, qty, price, active FROM {T} WHERE name LIKE %s AND qty >= %s ORDER BY qty",
            ("bulk%", 2),
        ).fetchall(),
    )
    check("select many rows", got, [r for r in rows if r[1] >= 2])
    conn.commit()

    # A transaction that raises rolls back: nothing it wrote stays.
    def rolled_back():
        with conn.transaction():
            conn.execute(f"INSERT INTO {T} (name, qty) VALUES (%s, %s)", ("ghost", 99))
            raise RuntimeError("roll back")

    try:
        rolled_back()
    except RuntimeError:
        pass
    ghost = step(
        "rollback leaves nothing",
        lambda: cur.execute(f"SELECT count(*) FROM {T} WHERE name = %s", ("ghost",)).fetchone(),
    )
    check("rollback leaves nothing", ghost[0], 0, int)
    conn.commit()

    # An explicit commit keeps the rows.
    step("commit", lambda: (cur.execute(f"UPDATE {T} SET qty = qty + 100 WHERE name = %s", ("bulk1",)), conn.commit()))
    check("update rowcount", cur.rowcount, 1, int)
    kept = step("commit keeps", lambda: cur.execute(f"SELECT qty FROM {T} WHERE name = 'bulk1'").fetchone())
    check("commit keeps the update", kept[0], 101, int)
    conn.commit()

    try:
        cur.execute(f"INSERT INTO {T} (name) VALUES (%s)", ("alpha",))
        fail("unique violation", "a duplicate name was accepted")
    except errors.UniqueViolation as exc:
        check("unique violation is UniqueViolation / 23505", exc.sqlstate, "23505")
    except psycopg.Error as exc:
        fail("unique violation", describe(exc))
    conn.rollback()

    upsert = step(
        "on conflict do update",
        lambda: cur.execute(
            f"INSERT INTO {T} (name, qty) VALUES (%s, %s)"
            " ON CONFLICT (name) DO UPDATE SET qty = excluded.qty RETURNING qty",
            ("alpha", 70),
        ).fetchone(),
    )
    check("on conflict do update", upsert[0], 70, int)
    conn.commit()

    # Binary results: psycopg decodes each type from its binary wire form.
    bcur = conn.cursor(binary=True)
    brow = step(
        "binary select",
        lambda: bcur.execute(
            f"SELECT id, qty, big, price, active, data, amount, note FROM {T} WHERE name = %s",
            ("alpha",),
        ).fetchone(),
    )
    check("binary int", brow[1], 70, int)
    check("binary bigint", brow[2], 2**40, int)
    check("binary double", brow[3], 2.5, float)
    check("binary bool", brow[4], True, bool)
    check("binary bytea", brow[5], b"\x00\x01\xff", bytes)
    check("binary numeric", brow[6], decimal.Decimal("12.34"), decimal.Decimal)
    check("binary NULL", brow[7] is None, True)
    conn.commit()

    step("autocommit", lambda: setattr(conn, "autocommit", True))
    step("drop table", lambda: conn.execute(f"DROP TABLE {T}"))
    print("ok drop table")
    conn.close()
    print("ok all")


if __name__ == "__main__":
    main()
