"""SQLAlchemy 2 (psycopg2 dialect) against a PostgreSQL-wire server: create_all, ORM insert, select
and update, a rolled-back session, a unique violation, and inspect() get_columns /
get_pk_constraint / get_foreign_keys / get_indexes. The connection comes from the libpq env vars
(PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE). Prints one line per check and exits 1 on the
first failure."""

import datetime
import decimal
import os

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from clientcheck import check, describe, fail, step


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "sqla_authors"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50), nullable=False, unique=True)
    books: Mapped[list["Book"]] = relationship(back_populates="author")


class Book(Base):
    __tablename__ = "sqla_books"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    title: Mapped[str] = mapped_column(sa.Text, nullable=False)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("sqla_authors.id"), nullable=False)
    price: Mapped[decimal.Decimal | None] = mapped_column(sa.Numeric(10, 2))
    rating: Mapped[float | None] = mapped_column(sa.Double)
    in_print: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    cover: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    published: Mapped[datetime.datetime | None] = mapped_column(sa.DateTime)
    author: Mapped[Author] = relationship(back_populates="books")
    __table_args__ = (sa.Index("sqla_books_title_idx", "title"),)


def engine():
    url = sa.URL.create(
        "postgresql+psycopg2",
        username=os.environ.get("PGUSER"),
        password=os.environ.get("PGPASSWORD"),
        host=os.environ.get("PGHOST"),
        port=int(os.environ["PGPORT"]) if os.environ.get("PGPORT") else None,
        database=os.environ.get("PGDATABASE"),
    )
    return sa.create_engine(url)


def orm(eng):
    with Session(eng) as s:
        ada = Author(name="Ada")
        s.add_all(
            [
                ada,
                Book(title="Notes", author=ada, price=decimal.Decimal("9.90"), rating=4.5,
                     cover=b"\x89PNG", published=datetime.datetime(1843, 9, 1, 12, 0)),
                Book(title="Letters", author=ada, in_print=False),
            ]
        )
        step("orm insert", s.commit)
        check("orm insert assigns an int id", ada.id, kind=int)
    with Session(eng) as s:
        books = step("orm select", lambda: s.scalars(sa.select(Book).order_by(Book.title)).all())
        check("orm select count", len(books), 2, int)
        letters, notes = books
        check("orm str", notes.title, "Notes", str)
        check("orm numeric", notes.price, decimal.Decimal("9.90"), decimal.Decimal)
        check("orm float", notes.rating, 4.5, float)
        check("orm bool", (notes.in_print, letters.in_print), (True, False))
        check("orm bytes", notes.cover, b"\x89PNG", bytes)
        check("orm datetime", notes.published, datetime.datetime(1843, 9, 1, 12, 0), datetime.datetime)
        check("orm None", letters.price is None and letters.cover is None, True)
        check("orm relationship", step("relationship", lambda: notes.author.name), "Ada", str)
        notes.rating = 5.0
        step("orm update", s.commit)
    with Session(eng) as s:
        got = step("orm select updated", lambda: s.scalar(sa.select(Book.rating).where(Book.title == "Notes")))
        check("orm update persisted", got, 5.0, float)
        result = step("bulk update", lambda: s.execute(sa.update(Book).where(Book.in_print.is_(False)).values(price=decimal.Decimal("1.50"))))
        check("bulk update rowcount", result.rowcount, 1, int)
        step("commit bulk update", s.commit)
        joined = step("join select", lambda: s.execute(
            sa.select(Author.name, sa.func.count(Book.id)).join(Book).group_by(Author.name)).all())
        check("join and count", [tuple(r) for r in joined], [("Ada", 2)])
    with Session(eng) as s:
        s.add(Author(name="Ghost"))
        step("flush in transaction", s.flush)
        step("rollback", s.rollback)
        check("rollback leaves nothing", step("count", lambda: s.scalar(sa.select(sa.func.count()).select_from(Author).where(Author.name == "Ghost"))), 0, int)
    with Session(eng) as s:
        s.add(Author(name="Ada"))
        try:
            s.commit()
            fail("unique violation", "a duplicate name was accepted")
        except sa_exc.IntegrityError as err:
            check("unique violation is IntegrityError / 23505", getattr(err.orig, "pgcode", None), "23505")
        except Exception as err:
            fail("unique violation", describe(err))


def introspect(eng):
    insp = step("inspect", lambda: sa.inspect(eng))
    check("has_table", step("has_table", lambda: insp.has_table("sqla_books")), True, bool)
    tables = step("get_table_names", insp.get_table_names)
    check("get_table_names", sorted(t for t in tables if t.startswith("sqla_")), ["sqla_authors", "sqla_books"])
    cols = step("get_columns", lambda: insp.get_columns("sqla_books"))
    check("get_columns names", [c["name"] for c in cols],
          ["id", "title", "author_id", "price", "rating", "in_print", "cover", "published"])
    types = {c["name"]: c["type"] for c in cols}
    # INTEGER on PostgreSQL (int4); BIGINT on the gateway, where SQLite's INTEGER is 64-bit.
    check("get_columns id INTEGER", types["id"], kind=(sa.INTEGER, sa.BIGINT))
    check("get_columns title TEXT", types["title"], kind=sa.TEXT)
    check("get_columns price NUMERIC(10,2)", (type(types["price"]), types["price"].precision, types["price"].scale), (sa.NUMERIC, 10, 2))
    check("get_columns rating DOUBLE PRECISION", types["rating"], kind=sa.DOUBLE_PRECISION)
    check("get_columns in_print BOOLEAN", types["in_print"], kind=sa.BOOLEAN)
    check("get_columns published TIMESTAMP", types["published"], kind=sa.TIMESTAMP)
    check("get_columns cover BYTEA", type(types["cover"]).__name__, "BYTEA")
    nullable = {c["name"]: c["nullable"] for c in cols}
    check("get_columns nullable", (nullable["id"], nullable["title"], nullable["price"]), (False, False, True))
    author_cols = step("get_columns authors", lambda: insp.get_columns("sqla_authors"))
    name_type = {c["name"]: c["type"] for c in author_cols}["name"]
    check("get_columns VARCHAR(50)", (type(name_type), name_type.length), (sa.VARCHAR, 50))

    pk = step("get_pk_constraint", lambda: insp.get_pk_constraint("sqla_books"))
    check("get_pk_constraint columns", pk["constrained_columns"], ["id"])
    check("get_pk_constraint name", pk["name"], "sqla_books_pkey")
    fks = step("get_foreign_keys", lambda: insp.get_foreign_keys("sqla_books"))
    check("get_foreign_keys", [(f["constrained_columns"], f["referred_table"], f["referred_columns"]) for f in fks],
          [(["author_id"], "sqla_authors", ["id"])])
    check("get_foreign_keys name", fks[0]["name"], "sqla_books_author_id_fkey")
    idx = step("get_indexes", lambda: insp.get_indexes("sqla_books"))
    check("get_indexes", [(i["name"], i["column_names"], i["unique"]) for i in idx],
          [("sqla_books_title_idx", ["title"], False)])
    uniq = step("get_unique_constraints", lambda: insp.get_unique_constraints("sqla_authors"))
    check("get_unique_constraints", [u["column_names"] for u in uniq], [["name"]])


def main():
    eng = engine()
    with step("connect", eng.connect) as conn:
        print("ok connect")
        check("select 1", step("select 1", lambda: conn.execute(sa.text("SELECT 1")).scalar()), 1, int)
    step("drop old tables", lambda: Base.metadata.drop_all(eng))
    step("create_all", lambda: Base.metadata.create_all(eng))
    print("ok create_all")
    orm(eng)
    introspect(eng)
    step("drop_all", lambda: Base.metadata.drop_all(eng))
    print("ok drop_all")
    eng.dispose()
    print("ok all")


if __name__ == "__main__":
    main()
