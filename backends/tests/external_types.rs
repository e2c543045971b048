//! Server-specific types against the real servers: every common PostgreSQL and MySQL type
//! decodes to the documented JSON form, PostgreSQL parameters bind with the types the
//! server inferred, both MySQL protocols (text and binary) decode alike, and TLS modes
//! behave against a server without TLS. Skipped with a note when a server is missing,
//! unless `CI=true`.
#![cfg(all(feature = "sqlite", feature = "postgres", feature = "mysql"))]
#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod common;

use common::{Harness, Outcome, http_rows, mysql_config, pg_config};
use serde_json::{Value as J, json};
use starbase_backends::BackendKind;
use starbase_backends::external::config::TlsMode;
use starbase_backends::mysql::MySqlBackend;
use starbase_backends::postgres::PgBackend;
use starbase_backends::sqlite::ExecOptions;
use starbase_protocol::{ExecMode, Params, SqlState, Value};

/// Column names with their HTTP values.
fn named(out: &Outcome) -> Vec<(String, J)> {
    let row = http_rows(out).remove(0);
    out.columns
        .iter()
        .map(|c| c.name.clone())
        .zip(row)
        .collect()
}

fn expect(out: &Outcome, expected: &[(&str, J)]) {
    let got = named(out);
    assert_eq!(got.len(), expected.len(), "{got:?}");
    for ((name, value), (want_name, want)) in got.iter().zip(expected) {
        assert_eq!(name, want_name);
        assert_eq!(value, want, "column {name}");
    }
}

#[tokio::test]
async fn postgres_types_decode_as_documented() {
    let Some(h) = Harness::start(BackendKind::Postgres).await else {
        return;
    };
    let sql = "SELECT 1::int2 AS i2, 2::int4 AS i4, 3::int8 AS i8, 4::oid AS o, \
        0.1::float4 AS f4, 2.5::float8 AS f8, 'NaN'::numeric AS nan, 123.4500::numeric AS n, \
        -0.001::numeric AS nn, true AS b, 'x'::varchar(3) AS vc, 'ab'::char(3) AS bp, \
        'n'::name AS nm, '\\x00ff'::bytea AS by, '{\"a\":1}'::json AS j, '{\"b\":2}'::jsonb AS jb, \
        'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u, '2024-02-29'::date AS d, \
        '01:02:03.5'::time AS t, '2024-02-29 01:02:03.5+02'::timestamptz AS tz, \
        '2024-02-29 01:02:03'::timestamp AS ts, \
        '1 year 2 mons 3 days 04:05:06.5'::interval AS iv, ARRAY[1, 2, NULL]::int[] AS ai, \
        ARRAY[['a', 'b'], ['c', 'd']]::text[] AS at, '10.0.0.1'::inet AS ip, \
        'infinity'::date AS inf, 12.34::money AS m, NULL::int AS nul";
    let out = h.run(sql).await.unwrap();
    expect(
        &out,
        &[
            ("i2", json!(1)),
            ("i4", json!(2)),
            ("i8", json!(3)),
            ("o", json!(4)),
            ("f4", json!(0.1)),
            ("f8", json!(2.5)),
            ("nan", json!("NaN")),
            ("n", json!("123.4500")),
            ("nn", json!("-0.001")),
            ("b", json!(true)),
            ("vc", json!("x")),
            ("bp", json!("ab ")),
            ("nm", json!("n")),
            ("by", json!({"$blob": "AP8="})),
            ("j", json!({"a": 1})),
            ("jb", json!({"b": 2})),
            ("u", json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")),
            ("d", json!("2024-02-29")),
            ("t", json!("01:02:03.5")),
            ("tz", json!("2024-02-28T23:02:03.5Z")),
            ("ts", json!("2024-02-29T01:02:03")),
            ("iv", json!("P1Y2M3DT4H5M6.5S")),
            ("ai", json!([1, 2, null])),
            ("at", json!([["a", "b"], ["c", "d"]])),
            ("ip", json!("10.0.0.1")),
            ("inf", json!("infinity")),
            ("m", json!("12.34")),
            ("nul", json!(null)),
        ],
    );
    let types: Vec<_> = out
        .columns
        .iter()
        .map(|c| c.source_type.clone().unwrap())
        .collect();
    assert_eq!(types[0], "int2");
    assert_eq!(types[22], "_int4");
    h.finish().await;
}

#[tokio::test]
async fn postgres_params_bind_with_inferred_types() {
    let Some(h) = Harness::start(BackendKind::Postgres).await else {
        return;
    };
    let sql = "SELECT $1::numeric AS n, $2::date AS d, $3::uuid AS u, $4::int2 AS s, \
        $5::jsonb AS j, $6::bool AS b, $7::float4 AS f, $8::text[] AS a, $9::bytea AS by, $10::int8 AS big";
    let params = Params::Positional(vec![
        Value::Text("1.50".into()),
        Value::Text("2024-01-02".into()),
        Value::Text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into()),
        Value::Int(5),
        Value::Json(json!({"k": [1]})),
        Value::Bool(true),
        Value::Float(0.5),
        Value::Text("{a,b}".into()),
        Value::Bytes(vec![0, 1]),
        Value::Int(i64::MIN),
    ]);
    let out = h.run_with(sql, params).await.unwrap();
    expect(
        &out,
        &[
            ("n", json!("1.50")),
            ("d", json!("2024-01-02")),
            ("u", json!("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")),
            ("s", json!(5)),
            ("j", json!({"k": [1]})),
            ("b", json!(true)),
            ("f", json!(0.5)),
            ("a", json!(["a", "b"])),
            ("by", json!({"$blob": "AAE="})),
            ("big", json!(i64::MIN)),
        ],
    );
    let err = h
        .run_with(
            "SELECT $1::int2",
            Params::Positional(vec![Value::Int(70_000)]),
        )
        .await
        .unwrap_err();
    assert_eq!(err.sqlstate(), SqlState::NUMERIC_VALUE_OUT_OF_RANGE);
    // Booleans into integers as SQLite stores them; integers into text and numeric.
    let params = Params::Positional(vec![Value::Bool(true), Value::Int(7), Value::Int(8)]);
    let out = h
        .run_with(
            "SELECT $1::int4 AS i, $2::text AS t, $3::numeric AS n",
            params,
        )
        .await
        .unwrap();
    expect(
        &out,
        &[("i", json!(1)), ("t", json!("7")), ("n", json!("8"))],
    );
    // Server errors keep their fields.
    h.run("CREATE TABLE u (id int PRIMARY KEY)").await.unwrap();
    h.run("INSERT INTO u VALUES (1)").await.unwrap();
    let err = h
        .run("INSERT INTO u VALUES (1)")
        .await
        .unwrap_err()
        .to_db_error();
    assert_eq!(err.code, SqlState::UNIQUE_VIOLATION);
    assert_eq!(err.constraint.as_deref(), Some("u_pkey"));
    let object = err.object.unwrap();
    assert_eq!(object.table.as_deref(), Some("u"));
    assert_eq!(object.schema.as_deref(), Some(h.name.as_str()));
    assert!(err.detail.unwrap().contains("already exists"));
    h.finish().await;
}

#[tokio::test]
async fn mysql_types_decode_alike_in_both_protocols() {
    let Some(h) = Harness::start(BackendKind::MySql).await else {
        return;
    };
    h.run("CREATE TABLE ty (tb TINYINT(1), ti TINYINT, si SMALLINT, mi MEDIUMINT, bi BIGINT, \
        bu BIGINT UNSIGNED, yr YEAR, bt BIT(10), de DECIMAL(10,3), fl FLOAT, db DOUBLE, ch CHAR(3), \
        vc VARCHAR(10), tx TEXT, en ENUM('a','b'), st SET('x','y'), bn BINARY(2), vb VARBINARY(4), \
        bl BLOB, js JSON, d DATE, dt DATETIME(3), ts TIMESTAMP(6) NULL, tm TIME)").await.unwrap();
    h.run("INSERT INTO ty VALUES (1, -5, 300, 70000, -9, 18446744073709551615, 2024, b'1000000001', \
        12.345, 0.1, 2.5, 'ab', 'v', 't', 'b', 'x,y', 0x00ff, 0x01, 0xfe, '{\"a\":1}', '2024-02-29', \
        '2024-02-29 01:02:03.500', '2024-02-29 01:02:03.000001', '-26:03:04')").await.unwrap();
    let expected = [
        ("tb", json!(true)),
        ("ti", json!(-5)),
        ("si", json!(300)),
        ("mi", json!(70000)),
        ("bi", json!(-9)),
        ("bu", json!("18446744073709551615")),
        ("yr", json!(2024)),
        ("bt", json!(513)),
        ("de", json!("12.345")),
        ("fl", json!(0.1)),
        ("db", json!(2.5)),
        ("ch", json!("ab")),
        ("vc", json!("v")),
        ("tx", json!("t")),
        ("en", json!("b")),
        ("st", json!("x,y")),
        ("bn", json!({"$blob": "AP8="})),
        ("vb", json!({"$blob": "AQ=="})),
        ("bl", json!({"$blob": "/g=="})),
        ("js", json!({"a": 1})),
        ("d", json!("2024-02-29")),
        ("dt", json!("2024-02-29T01:02:03.5")),
        ("ts", json!("2024-02-29T01:02:03.000001")),
        ("tm", json!("-26:03:04")),
    ];
    let text = h.run("SELECT * FROM ty").await.unwrap();
    let binary = h
        .run_with(
            "SELECT * FROM ty WHERE 1 = $1",
            Params::Positional(vec![Value::Int(1)]),
        )
        .await
        .unwrap();
    for out in [text, binary] {
        let mut out = out;
        // MariaDB's JSON is LONGTEXT: it reads back as text holding the document.
        if let Some(Value::Text(s)) = out.rows[0].get(19).cloned() {
            out.rows[0][19] = Value::Json(serde_json::from_str(&s).unwrap());
        }
        expect(&out, &expected);
    }
    h.finish().await;
}

#[tokio::test]
async fn mysql_reports_insert_ids() {
    let Some(h) = Harness::start(BackendKind::MySql).await else {
        return;
    };
    h.run("CREATE TABLE ai (id INTEGER AUTO_INCREMENT PRIMARY KEY, v INTEGER)")
        .await
        .unwrap();
    let plan = common::plan(
        BackendKind::MySql,
        ExecMode::Single,
        &[("INSERT INTO ai (v) VALUES (1), (2)", Params::None)],
    );
    let mut stream = h.db.execute(plan, ExecOptions::default()).await.unwrap();
    let mut done = None;
    while let Some(event) = stream.recv().await {
        if let starbase_backends::Event::Done(d) = event.unwrap() {
            done = Some(d);
        }
    }
    let done = done.unwrap();
    assert_eq!(done.rows_written, 2);
    assert_eq!(
        done.last_insert_id,
        Some(1),
        "MySQL reports the first id of a multi-row insert"
    );
    h.finish().await;
}

#[tokio::test]
async fn postgres_tls_modes() {
    let Some(h) = Harness::start(BackendKind::Postgres).await else {
        return;
    };
    let server_tls = h.run("SHOW ssl").await.unwrap().rows[0][0] == Value::Text("on".into());
    let check = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
    let plan = common::plan(
        BackendKind::Postgres,
        ExecMode::Single,
        &[(check, Params::None)],
    );
    // Prefer: encrypted when the server can (its self-signed certificate is accepted, as
    // libpq's prefer does), plain otherwise.
    let mut config = pg_config();
    config.tls = TlsMode::Prefer;
    let prefer = starbase_backends::AnyBackend::from(PgBackend::connect(&config).unwrap());
    let out = common::drain(
        prefer
            .execute(plan.clone(), ExecOptions::default())
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(out.rows, vec![vec![Value::Bool(server_tls)]]);
    // Require: a certificate no public root vouches for (or no TLS at all) is refused.
    config.tls = TlsMode::Require;
    let require = starbase_backends::AnyBackend::from(PgBackend::connect(&config).unwrap());
    let err = common::drain(require.execute(plan, ExecOptions::default()).await.unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.sqlstate(), SqlState::CONNECTION_FAILURE, "{err}");
    prefer.shutdown().await;
    require.shutdown().await;
    h.finish().await;
}

#[tokio::test]
async fn mysql_tls_modes_against_a_plain_server() {
    let Some(h) = Harness::start(BackendKind::MySql).await else {
        return;
    };
    let ssl = h.run("SELECT @@have_ssl").await.unwrap();
    if ssl.rows[0][0] == Value::Text("YES".into()) {
        eprintln!("skipped: the local MariaDB has TLS on; this test needs a plain server");
        return h.finish().await;
    }
    let plan = common::plan(
        BackendKind::MySql,
        ExecMode::Single,
        &[("SELECT 1", Params::None)],
    );
    let mut config = mysql_config();
    config.tls = TlsMode::Prefer;
    let prefer = starbase_backends::AnyBackend::from(MySqlBackend::connect(&config).unwrap());
    for _ in 0..2 {
        let out = common::drain(
            prefer
                .execute(plan.clone(), ExecOptions::default())
                .await
                .unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(out.rows, vec![vec![Value::Int(1)]]);
    }
    config.tls = TlsMode::Require;
    let require = starbase_backends::AnyBackend::from(MySqlBackend::connect(&config).unwrap());
    let err = common::drain(require.execute(plan, ExecOptions::default()).await.unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.sqlstate(), SqlState::CONNECTION_FAILURE, "{err}");
    prefer.shutdown().await;
    require.shutdown().await;
    h.finish().await;
}

/// Statements are cached per pooled connection; DDL that changes a cached statement's result
/// type must not break it (the statement is prepared again).
#[tokio::test]
async fn postgres_cached_statements_survive_ddl() {
    let Some(h) = Harness::start(BackendKind::Postgres).await else {
        return;
    };
    h.run("CREATE TABLE cached (a int4)").await.unwrap();
    h.run("INSERT INTO cached VALUES (1)").await.unwrap();
    for _ in 0..3 {
        let out = h.run("SELECT * FROM cached").await.unwrap();
        assert_eq!(out.columns.len(), 1);
    }
    h.run("ALTER TABLE cached ADD COLUMN b text DEFAULT 'x'")
        .await
        .unwrap();
    for _ in 0..3 {
        let out = h.run("SELECT * FROM cached").await.unwrap();
        assert_eq!(out.columns.len(), 2, "{:?}", out.columns);
        assert_eq!(out.rows.len(), 1);
    }
    h.finish().await;
}
