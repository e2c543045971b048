//! Rendering a part: the bytes of one object of a dump, in its format.
//!
//! Owns `PartWriter`: the part's own header (CSV header row, JSON `[`, SQL `BEGIN`), its
//! rows, and its footer, rendered into a small buffer that the caller drains to storage as
//! it fills (so a part is never held whole), so that every part is loadable on its own (a SQL part is one
//! transaction of `INSERT`s, a CSV part a CSV file with its header, a JSON part an array of
//! row objects), and the schema and closing SQL of SQLite dumps. Values are written by the
//! same functions as the synchronous exports (`export::sql`, `export::csv`, JSON rendering).
//! Must not know storage or how rows are read.

use starbase_protocol::{Row, Value};

use super::model::{Format, JobPlan, Unit, UnitKind};
use crate::frontend::http::export::csv;
use crate::frontend::http::export::sql::{ident, literal};
use crate::frontend::http::render::write_json;

/// One part being written.
#[derive(Debug)]
pub struct PartWriter {
    format: Format,
    /// Rendered bytes not yet drained.
    buf: Vec<u8>,
    /// Bytes drained so far.
    drained: usize,
    head: usize,
    rows: u64,
    /// SQL: `INSERT INTO "t"("a","b") VALUES(`.
    insert_prefix: String,
    /// JSON: `"a":` per column.
    json_keys: Vec<Vec<u8>>,
    /// SQL: the statement being rendered (reused).
    line: String,
}

impl PartWriter {
    /// Starts a part of a table unit; `capacity` is the buffer drained to storage.
    #[must_use]
    pub fn new(format: Format, unit: &Unit, capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity);
        let mut insert_prefix = String::new();
        let mut json_keys = Vec::new();
        match format {
            Format::Sql => {
                buf.extend_from_slice(b"BEGIN TRANSACTION;\n");
                insert_prefix.push_str("INSERT INTO ");
                ident(&mut insert_prefix, &unit.name);
                insert_prefix.push('(');
                for (i, c) in unit.columns.iter().enumerate() {
                    if i > 0 {
                        insert_prefix.push(',');
                    }
                    ident(&mut insert_prefix, c);
                }
                insert_prefix.push_str(") VALUES(");
            }
            Format::Csv => {
                csv::record(&mut buf, unit.columns.iter().map(|c| csv::Field::Name(c)));
            }
            Format::Json => {
                buf.extend_from_slice(b"[\n");
                json_keys = unit
                    .columns
                    .iter()
                    .map(|c| {
                        let mut key = Vec::with_capacity(c.len() + 3);
                        write_json(&mut key, c);
                        key.push(b':');
                        key
                    })
                    .collect();
            }
        }
        // SQL parts are joined whole; CSV and JSON skip each part's own header when joined.
        let head = if format == Format::Sql { 0 } else { buf.len() };
        Self {
            format,
            buf,
            drained: 0,
            head,
            rows: 0,
            insert_prefix,
            json_keys,
            line: String::new(),
        }
    }

    /// Bytes of the part so far (drained or not).
    #[must_use]
    pub fn byte_len(&self) -> usize {
        self.drained + self.buf.len()
    }

    /// Bytes rendered and not yet drained.
    #[must_use]
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Forgets the buffered bytes (after they were written to storage).
    pub fn drain(&mut self) {
        self.drained += self.buf.len();
        self.buf.clear();
    }

    /// Rows written so far.
    #[must_use]
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends rows, leaving out their first `skip` values (the key columns of the page query).
    pub fn push(&mut self, rows: &[Row], skip: usize) {
        for row in rows {
            let values = row.get(skip..).unwrap_or_default();
            match self.format {
                Format::Sql => {
                    let line = &mut self.line;
                    line.clear();
                    line.push_str(&self.insert_prefix);
                    for (i, value) in values.iter().enumerate() {
                        if i > 0 {
                            line.push(',');
                        }
                        literal(line, value);
                    }
                    line.push_str(");\n");
                    self.buf.extend_from_slice(line.as_bytes());
                }
                Format::Csv => csv::record(&mut self.buf, values.iter().map(csv::Field::Value)),
                Format::Json => {
                    if self.rows > 0 {
                        self.buf.extend_from_slice(b",\n");
                    }
                    self.buf.push(b'{');
                    for (i, (key, value)) in self.json_keys.iter().zip(values).enumerate() {
                        if i > 0 {
                            self.buf.push(b',');
                        }
                        self.buf.extend_from_slice(key);
                        write_json(&mut self.buf, value);
                    }
                    self.buf.push(b'}');
                }
            }
            self.rows += 1;
        }
    }

    /// Closes the part: its last bytes (to drain), header length and footer length.
    #[must_use]
    pub fn finish(mut self) -> (Vec<u8>, u64, u64) {
        let tail: &[u8] = match self.format {
            Format::Sql => b"COMMIT;\n",
            Format::Csv => b"",
            Format::Json => b"\n]\n",
        };
        self.buf.extend_from_slice(tail);
        let tail = if self.format == Format::Sql {
            0
        } else {
            tail.len()
        };
        (self.buf, self.head as u64, tail as u64)
    }
}

/// The schema part of a SQLite SQL dump: `CREATE TABLE` statements before the data.
#[must_use]
pub fn sqlite_schema(plan: &JobPlan) -> Vec<u8> {
    let mut out = String::from("PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\n");
    for object in plan.schema.iter().filter(|o| o.kind == "table") {
        if object.is_data_table() {
            out.push_str(&object.sql);
            out.push_str(";\n");
        } else {
            out.push_str("-- virtual table \"");
            out.push_str(&object.name.replace('\n', " "));
            out.push_str("\" is not included\n");
        }
    }
    out.push_str("COMMIT;\n");
    out.into_bytes()
}

/// The closing part of a SQLite SQL dump: the AUTOINCREMENT counters (`sequence`: name and
/// value rows as read in the snapshot), then indexes, views and triggers.
#[must_use]
pub fn sqlite_post(plan: &JobPlan, sequence: &[Row]) -> Vec<u8> {
    let mut out = String::from("BEGIN TRANSACTION;\n");
    if plan.has_sequence {
        out.push_str("DELETE FROM sqlite_sequence;\n");
        for row in sequence {
            let dumped = matches!(row.first(), Some(Value::Text(name))
                if plan.units.iter().any(|u| u.kind == UnitKind::Table && &u.name == name));
            if !dumped {
                continue;
            }
            out.push_str("INSERT INTO \"sqlite_sequence\"(\"name\",\"seq\") VALUES(");
            for (i, value) in row.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                literal(&mut out, value);
            }
            out.push_str(");\n");
        }
    }
    for object in plan.schema.iter().filter(|o| o.kind != "table") {
        out.push_str(&object.sql);
        out.push_str(";\n");
    }
    out.push_str("COMMIT;\n");
    out.into_bytes()
}
