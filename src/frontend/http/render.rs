//! Renders a result stream as StarbaseDB's `/query` or `/query/raw` JSON body.
//!
//! Owns the response shapes (spec §5.1) and the response limits: rows are encoded as they
//! arrive, and once the body passes `max_bytes` or `max_rows` the stream is dropped (which
//! cancels the statement and rolls back a transaction) and a `54000` error is returned.
//! Must not know how the rows were produced.

use std::collections::HashSet;

use starbase_backends::{Event, ExecSummary, ResultStream};
use starbase_protocol::{Column, DbError, Row};

/// Which response shape to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `/query`: each statement's rows as an array of objects.
    Objects,
    /// `/query/raw`: `{columns, rows, meta}` per statement.
    Raw,
}

/// How many results the body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// `{"result": <one result>}`: the last statement of the text, as SQLite's exec returns it.
    One,
    /// `{"result": [<result per step>, …]}` for `{"transaction": […]}`.
    PerStep,
}

/// Response limits.
#[derive(Debug, Clone, Copy)]
pub struct ResponseLimits {
    /// Maximum body size in bytes.
    pub max_bytes: usize,
    /// Maximum number of rows over all statements.
    pub max_rows: u64,
}

/// Drains `stream` into a complete JSON body: `{"result": …}`.
///
/// # Errors
/// The first error on the stream, `54000` when a limit is exceeded, `XX000` if the stream
/// ends without finishing.
pub async fn render(
    stream: ResultStream,
    shape: Shape,
    arity: Arity,
    limits: ResponseLimits,
) -> Result<Vec<u8>, DbError> {
    render_framed(stream, shape, arity, limits, b"{\"result\":", b"}").await
}

/// Drains `stream` into `prefix`, the result, `suffix` (e.g. a bare result for WebSocket
/// replies, or one wrapped with a request id).
///
/// # Errors
/// As [`render`].
pub async fn render_framed(
    mut stream: ResultStream,
    shape: Shape,
    arity: Arity,
    limits: ResponseLimits,
    prefix: &[u8],
    suffix: &[u8],
) -> Result<Vec<u8>, DbError> {
    let mut out = Writer::new(shape, arity, limits, prefix);
    while let Some(event) = stream.recv().await {
        match event.map_err(|e| e.to_db_error())? {
            Event::Step(_) => out.begin_step(),
            Event::Columns(columns) => out.begin_statement(&columns),
            Event::Rows(rows) => out.rows(&rows)?,
            Event::Done(summary) => out.end_statement(summary),
            Event::Finished => return Ok(out.finish(suffix)),
        }
    }
    Err(DbError::internal(
        "the database worker stopped before the statement finished",
    ))
}

struct Writer {
    shape: Shape,
    arity: Arity,
    limits: ResponseLimits,
    buf: Vec<u8>,
    /// Where the current step's result starts: a step's text may hold several statements,
    /// and its result is the last one's (as SQLite's exec returns it).
    step_start: usize,
    steps: usize,
    /// Rows of the steps before the current one.
    rows_before_step: u64,
    rows_in_statement: u64,
    /// JSON-encoded `"name":` per column, `None` for a column shadowed by a later duplicate.
    keys: Vec<Option<Vec<u8>>>,
}

impl Writer {
    fn new(shape: Shape, arity: Arity, limits: ResponseLimits, prefix: &[u8]) -> Self {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(prefix);
        if arity == Arity::PerStep {
            buf.push(b'[');
        }
        let step_start = buf.len();
        Self {
            shape,
            arity,
            limits,
            buf,
            step_start,
            steps: 0,
            rows_before_step: 0,
            rows_in_statement: 0,
            keys: Vec::new(),
        }
    }

    fn begin_step(&mut self) {
        match self.arity {
            Arity::One => {
                self.buf.truncate(self.step_start);
                self.rows_in_statement = 0;
            }
            Arity::PerStep => {
                if self.steps > 0 {
                    self.buf.push(b',');
                }
                self.rows_before_step += self.rows_in_statement;
                self.rows_in_statement = 0;
                self.step_start = self.buf.len();
            }
        }
        self.steps += 1;
    }

    fn begin_statement(&mut self, columns: &[Column]) {
        if self.steps == 0 {
            self.begin_step();
        }
        // A later statement of the same step replaces the earlier one's result.
        self.buf.truncate(self.step_start);
        self.rows_in_statement = 0;
        match self.shape {
            Shape::Objects => {
                self.keys = object_keys(columns);
                self.buf.push(b'[');
            }
            Shape::Raw => {
                self.buf.extend_from_slice(b"{\"columns\":");
                let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
                write_json(&mut self.buf, &names);
                self.buf.extend_from_slice(b",\"rows\":[");
            }
        }
    }

    fn rows(&mut self, rows: &[Row]) -> Result<(), DbError> {
        for row in rows {
            if self.rows_in_statement > 0 {
                self.buf.push(b',');
            }
            self.rows_in_statement += 1;
            match self.shape {
                Shape::Objects => {
                    self.buf.push(b'{');
                    let mut first = true;
                    for (key, value) in self.keys.iter().zip(row) {
                        if let Some(key) = key {
                            if !first {
                                self.buf.push(b',');
                            }
                            first = false;
                            self.buf.extend_from_slice(key);
                            write_json(&mut self.buf, value);
                        }
                    }
                    self.buf.push(b'}');
                }
                Shape::Raw => write_json(&mut self.buf, row),
            }
            self.check_limits()?;
        }
        Ok(())
    }

    fn check_limits(&self) -> Result<(), DbError> {
        if self.buf.len() > self.limits.max_bytes {
            return Err(DbError::limit_exceeded(format!(
                "response exceeds the maximum of {} bytes",
                self.limits.max_bytes
            ))
            .with_hint("add a LIMIT, page with WHERE, or use the /export routes"));
        }
        if self.rows_before_step + self.rows_in_statement > self.limits.max_rows {
            return Err(DbError::limit_exceeded(format!(
                "response exceeds the maximum of {} rows",
                self.limits.max_rows
            ))
            .with_hint("add a LIMIT, page with WHERE, or use the /export routes"));
        }
        Ok(())
    }

    fn end_statement(&mut self, summary: ExecSummary) {
        match self.shape {
            Shape::Objects => self.buf.push(b']'),
            Shape::Raw => {
                self.buf.extend_from_slice(b"],\"meta\":{\"rows_read\":");
                self.buf
                    .extend_from_slice(summary.rows_read.to_string().as_bytes());
                self.buf.extend_from_slice(b",\"rows_written\":");
                self.buf
                    .extend_from_slice(summary.rows_written.to_string().as_bytes());
                self.buf.extend_from_slice(b"}}");
            }
        }
    }

    fn finish(mut self, suffix: &[u8]) -> Vec<u8> {
        if self.arity == Arity::PerStep {
            self.buf.push(b']');
        }
        self.buf.extend_from_slice(suffix);
        self.buf
    }
}

/// Object keys for `/query` rows: duplicate names collapse to the last column of that name,
/// as a JavaScript object built from the row would.
pub(crate) fn object_keys(columns: &[Column]) -> Vec<Option<Vec<u8>>> {
    let mut seen = HashSet::new();
    let mut keys: Vec<Option<Vec<u8>>> = columns
        .iter()
        .rev()
        .map(|c| {
            seen.insert(c.name.as_str()).then(|| {
                let mut key = Vec::with_capacity(c.name.len() + 3);
                write_json(&mut key, &c.name);
                key.push(b':');
                key
            })
        })
        .collect();
    keys.reverse();
    keys
}

pub(crate) fn write_json<T: serde::Serialize + ?Sized>(buf: &mut Vec<u8>, value: &T) {
    // Serialising values, strings and vectors of them into a Vec cannot fail.
    if serde_json::to_writer(&mut *buf, value).is_err() {
        buf.extend_from_slice(b"null");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use starbase_protocol::{ColumnType, Value};

    fn col(name: &str) -> Column {
        Column {
            name: name.into(),
            ty: ColumnType::Unknown,
            source_type: None,
            origin: None,
        }
    }

    async fn run(
        events: Vec<Event>,
        shape: Shape,
        arity: Arity,
        limits: ResponseLimits,
    ) -> Result<String, DbError> {
        let (tx, rx) = ResultStream::channel(1);
        tx.send(events.into_iter().map(Ok).collect()).await.unwrap();
        drop(tx);
        render(rx, shape, arity, limits)
            .await
            .map(|b| String::from_utf8(b).unwrap())
    }

    const LIMITS: ResponseLimits = ResponseLimits {
        max_bytes: 1 << 20,
        max_rows: 1000,
    };

    fn select(cols: &[&str], rows: Vec<Row>, written: u64) -> Vec<Event> {
        let n = rows.len() as u64;
        vec![
            Event::Step(0),
            Event::Columns(cols.iter().map(|c| col(c)).collect::<Vec<_>>().into()),
            Event::Rows(rows),
            Event::Done(ExecSummary {
                rows_read: n,
                rows_written: written,
                last_insert_id: None,
            }),
        ]
    }

    #[tokio::test]
    async fn objects_and_raw_shapes() {
        let rows = vec![vec![Value::Int(1), Value::Text("a".into())]];
        let mut events = select(&["id", "name"], rows.clone(), 0);
        events.push(Event::Finished);
        let body = run(events.clone(), Shape::Objects, Arity::One, LIMITS)
            .await
            .unwrap();
        assert_eq!(body, r#"{"result":[{"id":1,"name":"a"}]}"#);
        let body = run(events, Shape::Raw, Arity::One, LIMITS).await.unwrap();
        assert_eq!(
            body,
            r#"{"result":{"columns":["id","name"],"rows":[[1,"a"]],"meta":{"rows_read":1,"rows_written":0}}}"#
        );
    }

    #[tokio::test]
    async fn duplicate_columns_collapse_in_objects_but_not_raw() {
        let rows = vec![vec![Value::Int(1), Value::Int(2)]];
        let mut events = select(&["a", "a"], rows, 0);
        events.push(Event::Finished);
        let body = run(events.clone(), Shape::Objects, Arity::One, LIMITS)
            .await
            .unwrap();
        assert_eq!(body, r#"{"result":[{"a":2}]}"#);
        let body = run(events, Shape::Raw, Arity::One, LIMITS).await.unwrap();
        assert!(
            body.contains(r#""columns":["a","a"],"rows":[[1,2]]"#),
            "{body}"
        );
    }

    #[tokio::test]
    async fn transaction_has_one_result_per_step_and_single_keeps_last() {
        let mut events = select(&[], vec![], 3);
        events.extend(select(&["x"], vec![vec![Value::Null]], 0));
        events.push(Event::Finished);
        let body = run(events.clone(), Shape::Objects, Arity::PerStep, LIMITS)
            .await
            .unwrap();
        assert_eq!(body, r#"{"result":[[],[{"x":null}]]}"#);
        let body = run(events.clone(), Shape::Objects, Arity::One, LIMITS)
            .await
            .unwrap();
        assert_eq!(body, r#"{"result":[{"x":null}]}"#);
        let body = run(events, Shape::Raw, Arity::PerStep, LIMITS)
            .await
            .unwrap();
        assert_eq!(
            body,
            r#"{"result":[{"columns":[],"rows":[],"meta":{"rows_read":0,"rows_written":3}},{"columns":["x"],"rows":[[null]],"meta":{"rows_read":1,"rows_written":0}}]}"#
        );
    }

    #[tokio::test]
    async fn limits_and_unfinished_streams_are_errors() {
        let rows: Vec<Row> = (0..10).map(|i| vec![Value::Int(i)]).collect();
        let mut events = select(&["i"], rows, 0);
        events.push(Event::Finished);
        let small_rows = ResponseLimits {
            max_bytes: 1 << 20,
            max_rows: 5,
        };
        let err = run(events.clone(), Shape::Raw, Arity::One, small_rows)
            .await
            .unwrap_err();
        assert_eq!(err.code.as_str(), "54000");
        assert!(err.message.contains("5 rows"));
        let small_bytes = ResponseLimits {
            max_bytes: 40,
            max_rows: 1000,
        };
        let err = run(events.clone(), Shape::Raw, Arity::One, small_bytes)
            .await
            .unwrap_err();
        assert!(err.message.contains("40 bytes"));
        events.pop();
        let err = run(events, Shape::Raw, Arity::One, LIMITS)
            .await
            .unwrap_err();
        assert_eq!(err.code.as_str(), "XX000");
    }
}
