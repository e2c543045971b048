//! `GET /export/dump`: the whole embedded database as one SQL script, streamed (an external
//! source's dump is `external_dump`'s).
//!
//! Owns the dump's shape: `PRAGMA foreign_keys=OFF; BEGIN TRANSACTION;`, every table's
//! `CREATE`, its rows as `INSERT INTO "t"("col", …) VALUES(…);` (generated columns left out),
//! AUTOINCREMENT counters, then indexes, views and triggers (after the data, so triggers do not
//! fire while loading), `COMMIT;`. All rows come from one read transaction, so the dump is
//! one consistent snapshot; SQLite's internal tables are left out (except the AUTOINCREMENT
//! counters) and virtual tables are skipped with a comment. Must not know HTTP beyond the
//! handler.

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use starbase_backends::{Event, ResultStream};
use starbase_protocol::{
    DbError, Dialect, ExecMode, Params, Plan, Row, SqlState, Statement, Value,
};

use super::sql::{ident, literal};
use crate::auth::Principal;
use crate::engine::Target;
use crate::frontend::http::AppState;
use crate::frontend::http::error::ApiError;
use crate::frontend::http::source::resolve_source;

/// The schema, in creation order; read once to plan the dump and again inside its snapshot.
const SCHEMA_SQL: &str = "SELECT type, name, tbl_name, sql FROM sqlite_schema \
     WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid";

/// How often the dump is re-planned when the schema changes between planning and reading.
const ATTEMPTS: usize = 3;

/// One `sqlite_schema` row.
#[derive(Debug, Clone, PartialEq)]
struct Object {
    kind: String,
    name: String,
    sql: String,
}

impl Object {
    fn is_data_table(&self) -> bool {
        self.kind == "table" && !self.sql.to_ascii_uppercase().starts_with("CREATE VIRTUAL")
    }
}

/// A table to dump: its name and the columns an INSERT may name.
#[derive(Debug)]
struct Table {
    name: String,
    columns: Vec<String>,
}

/// `GET /export/dump`.
pub(in crate::frontend::http) async fn handle_export_dump(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    state.engine.check_bulk_route(&principal, "a SQL dump")?;
    if let Target::External(name) = resolve_source(&state.engine, &headers, &uri)? {
        return super::external_dump::export(&state, &principal, &name).await;
    }
    for _ in 0..ATTEMPTS {
        let objects = rows_to_objects(&query(&state, &principal, SCHEMA_SQL, vec![]).await?);
        let mut tables = Vec::new();
        for object in objects.iter().filter(|o| o.is_data_table()) {
            let columns = query(
                &state,
                &principal,
                "SELECT name FROM pragma_table_xinfo($1) WHERE hidden = 0 ORDER BY cid",
                vec![Value::Text(object.name.clone())],
            )
            .await?
            .into_iter()
            .filter_map(|r| text(&r, 0))
            .collect();
            tables.push(Table {
                name: object.name.clone(),
                columns,
            });
        }
        let has_sequence = !query(
            &state,
            &principal,
            "SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_sequence'",
            vec![],
        )
        .await?
        .is_empty();
        let mut steps = vec![statement(SCHEMA_SQL.to_owned())];
        for table in &tables {
            let mut sql = String::from("SELECT ");
            for (i, column) in table.columns.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                ident(&mut sql, column);
            }
            sql.push_str(" FROM main.");
            ident(&mut sql, &table.name);
            steps.push(statement(sql));
        }
        if has_sequence {
            steps.push(statement(
                "SELECT name, seq FROM sqlite_sequence".to_owned(),
            ));
        }
        // All steps are reads: they run in one read transaction on a reader, one snapshot.
        let plan = Plan {
            mode: ExecMode::Transaction,
            steps,
        };
        let mut stream = state.engine.execute_export(&principal, plan).await?;
        let seen = first_step_rows(&mut stream).await?;
        if rows_to_objects(&seen) != objects {
            tracing::debug!("schema changed while planning a dump; planning again");
            continue;
        }
        let body = Body::from_stream(encode(stream, objects, tables, has_sequence));
        return Ok((
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/sql; charset=utf-8"),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_static("attachment; filename=\"database_dump.sql\""),
                ),
            ],
            body,
        )
            .into_response());
    }
    Err(ApiError::new(DbError::new(
        SqlState::LOCK_NOT_AVAILABLE,
        "the schema kept changing while the dump was being planned; try again",
    )))
}

fn statement(sql: String) -> Statement {
    Statement::new(sql, Dialect::Sqlite, Params::None)
}

async fn query(
    state: &AppState,
    principal: &Principal,
    sql: &str,
    params: Vec<Value>,
) -> Result<Vec<Row>, ApiError> {
    Ok(crate::frontend::http::rest::schema::query(&state.engine, principal, sql, params).await?)
}

/// Reads the rows of step 0 (the schema as the snapshot sees it).
async fn first_step_rows(stream: &mut ResultStream) -> Result<Vec<Row>, ApiError> {
    let mut rows = Vec::new();
    loop {
        match stream.recv().await {
            Some(Ok(Event::Rows(batch))) => rows.extend(batch),
            Some(Ok(Event::Done(_))) => return Ok(rows),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(ApiError::new(e.to_db_error())),
            None => return Err(ApiError::new(DbError::internal("the dump stopped early"))),
        }
    }
}

fn text(row: &Row, i: usize) -> Option<String> {
    match row.get(i) {
        Some(Value::Text(s)) => Some(s.clone()),
        _ => None,
    }
}

fn rows_to_objects(rows: &[Row]) -> Vec<Object> {
    rows.iter()
        .map(|r| Object {
            kind: text(r, 0).unwrap_or_default(),
            name: text(r, 1).unwrap_or_default(),
            sql: text(r, 3).unwrap_or_default(),
        })
        .collect()
}

/// What the body stream is writing.
struct Writer {
    stream: ResultStream,
    objects: Vec<Object>,
    tables: Vec<Table>,
    has_sequence: bool,
    /// The plan step whose rows arrive now (0 is the schema, then one per table).
    step: usize,
    started: bool,
}

fn encode(
    stream: ResultStream,
    objects: Vec<Object>,
    tables: Vec<Table>,
    has_sequence: bool,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let writer = Writer {
        stream,
        objects,
        tables,
        has_sequence,
        step: 0,
        started: false,
    };
    futures::stream::unfold(Some(writer), |writer| async move {
        let mut w = writer?;
        if !w.started {
            w.started = true;
            return Some((Ok(Bytes::from(w.head())), Some(w)));
        }
        loop {
            match w.stream.recv().await {
                Some(Ok(Event::Step(i))) => {
                    w.step = i;
                    // The data has set the counters by now; restore the dumped ones instead.
                    if w.has_sequence && i == w.tables.len() + 1 {
                        let reset = Bytes::from_static(b"DELETE FROM sqlite_sequence;\n");
                        return Some((Ok(reset), Some(w)));
                    }
                }
                Some(Ok(Event::Rows(rows))) => {
                    let chunk = w.inserts(&rows);
                    return Some((Ok(Bytes::from(chunk)), Some(w)));
                }
                Some(Ok(Event::Finished)) => return Some((Ok(Bytes::from(w.tail())), None)),
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "dump failed mid-stream");
                    return Some((Err(std::io::Error::other(e.to_string())), None));
                }
                None => return Some((Err(std::io::Error::other("the dump stopped early")), None)),
            }
        }
    })
}

impl Writer {
    fn head(&self) -> String {
        let mut out = String::from("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n");
        for object in self.objects.iter().filter(|o| o.kind == "table") {
            if object.is_data_table() {
                out.push_str(&object.sql);
                out.push_str(";\n");
            } else {
                out.push_str("-- virtual table \"");
                out.push_str(&object.name.replace('\n', " "));
                out.push_str("\" is not included\n");
            }
        }
        out
    }

    fn inserts(&self, rows: &[Row]) -> String {
        let sequence_step = self.tables.len() + 1;
        let mut out = String::with_capacity(rows.len() * 64);
        let (name, columns): (&str, Vec<&str>) = match self.tables.get(self.step.wrapping_sub(1)) {
            Some(table) => (
                &table.name,
                table.columns.iter().map(String::as_str).collect(),
            ),
            None if self.has_sequence && self.step == sequence_step => {
                ("sqlite_sequence", vec!["name", "seq"])
            }
            None => return out,
        };
        let mut prefix = String::from("INSERT INTO ");
        ident(&mut prefix, name);
        prefix.push('(');
        for (i, column) in columns.iter().enumerate() {
            if i > 0 {
                prefix.push(',');
            }
            ident(&mut prefix, column);
        }
        prefix.push_str(") VALUES(");
        for row in rows {
            out.push_str(&prefix);
            for (i, value) in row.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                literal(&mut out, value);
            }
            out.push_str(");\n");
        }
        out
    }

    fn tail(&self) -> String {
        let mut out = String::new();
        for object in self.objects.iter().filter(|o| o.kind != "table") {
            out.push_str(&object.sql);
            out.push_str(";\n");
        }
        out.push_str("COMMIT;\n");
        out
    }
}
