//! What client drivers read from the gateway beyond values: the origin of each result column
//! in `RowDescription` (pgJDBC's `isNullable`, sqlx), catalog column types, timestamptz
//! text, and bytea literals.

use crate::common::TestGateway;

#[tokio::test]
async fn row_description_names_the_table_and_attnum_pg_attribute_has() {
    let gw = TestGateway::start().await;
    let c = gw.pg_client().await;
    c.batch_execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INT)")
        .await
        .unwrap();
    let stmt = c
        .prepare("SELECT qty, name, id + 1 AS next FROM items")
        .await
        .unwrap();
    let origins: Vec<_> = stmt
        .columns()
        .iter()
        .map(|col| (col.table_oid(), col.column_id()))
        .collect();
    let (oid, _) = origins[0];
    assert!(oid.is_some_and(|o| o > 0), "{origins:?}");
    assert_eq!(origins[1], (oid, Some(2)));
    assert_eq!(origins[2], (None, None), "an expression has no origin");
    let sql = format!(
        "SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = {} AND attnum = 2",
        oid.unwrap()
    );
    let row = c.query_one(&sql, &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "name");
    assert!(row.get::<_, bool>(1));
}

#[tokio::test]
async fn computed_catalog_columns_have_their_postgresql_types() {
    let gw = TestGateway::start().await;
    let c = gw.pg_client().await;
    c.batch_execute("CREATE TABLE t (a INT); CREATE INDEX t_a ON t (a)")
        .await
        .unwrap();
    let rows = c
        .simple_query("SELECT relhasindex FROM pg_catalog.pg_class WHERE relname = 't'")
        .await
        .unwrap();
    let got: Vec<_> = rows
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .collect();
    assert_eq!(got, ["t"]);
    let stmt = c
        .prepare("SELECT relhasindex FROM pg_class WHERE relname = 't'")
        .await
        .unwrap();
    assert_eq!(
        stmt.columns()[0].type_(),
        &tokio_postgres::types::Type::BOOL
    );
}

#[tokio::test]
async fn stored_utc_text_is_sent_as_timestamptz_with_offset_and_bytea_literals_store_bytes() {
    let gw = TestGateway::start().await;
    let c = gw.pg_client().await;
    c.batch_execute(
        "CREATE TABLE ev (at TIMESTAMPTZ, data BYTEA); \
         INSERT INTO ev VALUES ('2026-12-01 07:55:45', '\\x0001ff'::bytea), \
                               ('2026-12-01 08:00:00', E'\\\\x89504e47'::bytea)",
    )
    .await
    .unwrap();
    let rows = c
        .simple_query("SELECT at, data, length(data) FROM ev ORDER BY at")
        .await
        .unwrap();
    let got: Vec<Vec<String>> = rows
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("NULL").to_owned())
                    .collect(),
            ),
            _ => None,
        })
        .collect();
    assert_eq!(
        got,
        [
            ["2026-12-01 07:55:45+00", "\\x0001ff", "3"],
            ["2026-12-01 08:00:00+00", "\\x89504e47", "4"],
        ]
    );
    let err = c
        .simple_query("SELECT '\\xzz'::bytea")
        .await
        .expect_err("malformed bytea");
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::INVALID_TEXT_REPRESENTATION)
    );
}
