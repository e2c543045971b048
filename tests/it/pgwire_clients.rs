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

#[tokio::test]
async fn array_agg_arrives_as_a_typed_array_in_both_formats() {
    let gw = TestGateway::start().await;
    let c = gw.pg_client().await;
    c.batch_execute(
        "CREATE TABLE a (id INTEGER PRIMARY KEY, name TEXT, ok BOOLEAN); \
         INSERT INTO a VALUES (1, 'x y', TRUE), (2, NULL, FALSE)",
    )
    .await
    .unwrap();
    // tokio-postgres asks for binary results.
    let row = c
        .query_one(
            "SELECT array_agg(name ORDER BY id), array_agg(id ORDER BY id), \
             array_agg(ok ORDER BY id) FROM a",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        row.get::<_, Vec<Option<String>>>(0),
        [Some("x y".to_owned()), None]
    );
    assert_eq!(row.get::<_, Vec<i64>>(1), [1, 2]);
    assert_eq!(row.get::<_, Vec<bool>>(2), [true, false]);
    let text = c
        // The simple protocol types without the schema: a comparison is known to be bool.
        .simple_query("SELECT array_agg(id = 1 ORDER BY id), array_agg(name ORDER BY id) FROM a")
        .await
        .unwrap();
    let got: Vec<_> = text
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((r.get(0).map(str::to_owned), r.get(1).map(str::to_owned)))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        got,
        [(Some("{t,f}".to_owned()), Some("{\"x y\",NULL}".to_owned()))]
    );
}

#[tokio::test]
async fn catalog_array_columns_work_with_any_subscripts_and_unnest() {
    let gw = TestGateway::start().await;
    let c = gw.pg_client().await;
    c.batch_execute("CREATE TABLE k (a INT, b INT, c INT); CREATE INDEX k_cb ON k (c, b)")
        .await
        .unwrap();
    let names = |sql: &'static str| {
        let c = &c;
        async move {
            c.simple_query(sql)
                .await
                .unwrap()
                .iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => {
                        Some(r.get(0).unwrap_or("NULL").to_owned())
                    }
                    _ => None,
                })
                .collect::<Vec<_>>()
        }
    };
    let any = names(
        "SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
         WHERE c.relname = 'k_cb' ORDER BY a.attnum",
    )
    .await;
    assert_eq!(any, ["b", "c"]);
    let first = names(
        "SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
         WHERE c.relname = 'k_cb'",
    )
    .await;
    assert_eq!(first, ["c"]);
    let ordered = names(
        "SELECT array_to_string(array_agg(attname ORDER BY ord), ',') FROM ( \
           SELECT unnest(i.indkey) AS attnum, generate_subscripts(i.indkey, 1) AS ord, \
                  i.indrelid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
            WHERE c.relname = 'k_cb') x \
         JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.attnum",
    )
    .await;
    assert_eq!(ordered, ["c,b"]);
    // A result column `::regclass` is the relation's name, in binary format too.
    let row = c
        .query_one(
            "SELECT c.oid::regclass FROM pg_class c WHERE relname = 'k_cb'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "k_cb");
    let db = names("SELECT datname FROM pg_catalog.pg_database").await;
    assert_eq!(db, ["main"], "the session's database");
}
