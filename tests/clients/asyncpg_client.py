"""asyncpg against a PostgreSQL-wire server: prepared statements with int, float, str, bytes,
bool and None parameters, fetch, executemany, transactions. asyncpg encodes every parameter by the
type the server infers for it and asks for binary results. The connection comes from the libpq
env vars (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE). Prints one line per check and exits 1
on the first failure."""

import asyncio

import asyncpg

from clientcheck import check, describe, fail

T = "asyncpg_items"


FAMILIES = {"int2": "int", "int4": "int", "int8": "int", "float4": "float", "float8": "float", "varchar": "text"}


def families(types):
    """Type names with the integer widths and float widths folded, so INTEGER may be int4 or int8."""
    return [FAMILIES.get(t.name, t.name) for t in types]


async def step(name, awaitable):
    """Awaits `awaitable`; any exception fails the check `name`."""
    try:
        return await awaitable
    except Exception as exc:  # every driver error is a failed check
        fail(name, describe(exc))


async def main():
    conn = await step("connect", asyncpg.connect())
    print("ok connect")
    check("select 1", await step("select 1", conn.fetchval("SELECT 1")), 1, int)

    await step("drop old table", conn.execute(f"DROP TABLE IF EXISTS {T}"))
    await step(
        "create table",
        conn.execute(
            f"""CREATE TABLE {T} (
                id INTEGER PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                score DOUBLE PRECISION,
                data BYTEA,
                flag BOOLEAN,
                note TEXT)"""
        ),
    )
    print("ok create table")

    insert = await step(
        "prepare insert",
        conn.prepare(f"INSERT INTO {T} (id, name, score, data, flag, note) VALUES ($1, $2, $3, $4, $5, $6)"),
    )
    check("insert parameter types", families(insert.get_parameters()), ["int", "text", "float", "bytea", "bool", "text"])
    status = await step("insert int/str/float/bytes/bool/None", insert.fetch(1, "one", 1.5, b"\x00\xfe", True, None))
    check("insert returns no rows", status, [])
    await step("insert again", insert.fetch(2, "two", -0.25, b"", False, "n2"))
    print("ok prepared insert")

    select = await step("prepare select", conn.prepare(f"SELECT id, name, score, data, flag, note FROM {T} WHERE id = $1"))
    check("select parameter type", families(select.get_parameters()), ["int"])
    check("select result types", families(a.type for a in select.get_attributes()), ["int", "text", "float", "bytea", "bool", "text"])
    row = await step("fetchrow by int", select.fetchrow(1))
    check("int result", row["id"], 1, int)
    check("str result", row["name"], "one", str)
    check("float result", row["score"], 1.5, float)
    check("bytes result", row["data"], b"\x00\xfe", bytes)
    check("bool result", row["flag"], True, bool)
    check("None result", row["note"] is None, True)
    row = await step("fetchrow 2", select.fetchrow(2))
    check("empty bytes and false", (row["data"], row["flag"], row["note"]), (b"", False, "n2"))
    check("no row for a missing id", await step("fetchrow missing", select.fetchrow(99)) is None, True)

    by_str = await step("fetch by str", conn.fetch(f"SELECT id FROM {T} WHERE name = $1", "two"))
    check("fetch by str param", [r["id"] for r in by_str], [2])
    by_float = await step("fetch by float", conn.fetch(f"SELECT id FROM {T} WHERE score > $1 ORDER BY id", 0.0))
    check("fetch by float param", [r["id"] for r in by_float], [1])
    by_bytes = await step("fetch by bytes", conn.fetch(f"SELECT id FROM {T} WHERE data = $1", b"\x00\xfe"))
    check("fetch by bytes param", [r["id"] for r in by_bytes], [1])
    by_bool = await step("fetch by bool", conn.fetch(f"SELECT id FROM {T} WHERE flag = $1", False))
    check("fetch by bool param", [r["id"] for r in by_bool], [2])
    null_cmp = await step("fetch by None", conn.fetch(f"SELECT id FROM {T} WHERE note IS NOT DISTINCT FROM $1", None))
    check("fetch by None param", [r["id"] for r in null_cmp], [1])

    rows = [(10 + i, f"many{i}", i * 1.25, bytes([i]), i % 2 == 0, None if i % 2 else f"n{i}") for i in range(5)]
    await step("executemany", conn.executemany(f"INSERT INTO {T} (id, name, score, data, flag, note) VALUES ($1, $2, $3, $4, $5, $6)", rows))
    got = await step("fetch executemany rows", conn.fetch(f"SELECT id, name, score, data, flag, note FROM {T} WHERE id >= $1 ORDER BY id", 10))
    check("executemany rows", [tuple(r) for r in got], rows)
    check("count", await step("count", conn.fetchval(f"SELECT count(*) FROM {T}")), 7, int)

    # A transaction that raises rolls back.
    try:
        async with conn.transaction():
            await conn.execute(f"INSERT INTO {T} (id, name) VALUES ($1, $2)", 50, "ghost")
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    except Exception as exc:
        fail("transaction", describe(exc))
    check("rollback leaves nothing", await step("count ghost", conn.fetchval(f"SELECT count(*) FROM {T} WHERE id = $1", 50)), 0, int)

    async with conn.transaction():
        status = await step("update in transaction", conn.execute(f"UPDATE {T} SET score = $1 WHERE id = $2", 9.5, 2))
    check("update status", status, "UPDATE 1")
    check("commit keeps the update", await step("score", conn.fetchval(f"SELECT score FROM {T} WHERE id = 2")), 9.5, float)

    try:
        await insert.fetch(1, "dup", 0.0, b"", False, None)
        fail("unique violation", "a duplicate id was accepted")
    except asyncpg.exceptions.UniqueViolationError as exc:
        check("unique violation is UniqueViolationError / 23505", exc.sqlstate, "23505")
    except Exception as exc:
        fail("unique violation", describe(exc))

    upsert = await step(
        "on conflict do update",
        conn.fetchval(
            f"INSERT INTO {T} (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = excluded.name RETURNING name",
            1,
            "uno",
        ),
    )
    check("on conflict do update", upsert, "uno", str)

    await step("drop table", conn.execute(f"DROP TABLE {T}"))
    print("ok drop table")
    await conn.close()
    print("ok all")


if __name__ == "__main__":
    asyncio.run(main())
