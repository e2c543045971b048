//! The PostgreSQL dialect as the pgwire frontend sees it: client text → statements to run on
//! SQLite, settings commands, and what is known of their types.
//!
//! Owns the adapter between the frontend and the translator: command tags for what the
//! translator passes through, and statement splitting for texts SQLite runs as they are.
//! Must not know sessions or the wire.

use starbase_backends::sqlite::split::split;
use starbase_protocol::sql::classify::classify;
use starbase_protocol::{DbError, PgType, StmtKind};

/// What the frontend knows about the session, for inlining session functions.
#[allow(missing_debug_implementations)]
pub struct SessionContext<'a> {
    /// Database name the client connected to.
    pub database: &'a str,
    /// User name the client connected as.
    pub user: &'a str,
    /// The connection's backend process id.
    pub backend_pid: i32,
    /// A setting's current value.
    pub setting: &'a dyn Fn(&str) -> Option<String>,
}

/// One column of a table of the embedded database.
#[derive(Debug, Clone)]
pub struct SchemaColumn {
    /// Column name.
    pub name: String,
    /// Declared type.
    pub decl: Option<String>,
    /// `NOT NULL`.
    pub not_null: bool,
    /// Part of the primary key.
    pub pk: bool,
}

/// Tables and their columns.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    tables: Vec<(String, Vec<SchemaColumn>)>,
}

impl Schema {
    /// A schema of these tables.
    #[must_use]
    pub fn new(tables: Vec<(String, Vec<SchemaColumn>)>) -> Self {
        Self { tables }
    }

    /// The columns of `table` (ASCII case-insensitive).
    #[must_use]
    pub fn columns(&self, table: &str) -> Option<&[SchemaColumn]> {
        self.tables
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(table))
            .map(|(_, cols)| cols.as_slice())
    }
}

/// One statement of a client text.
#[derive(Debug, Clone)]
pub enum PgStatement {
    /// Run this on SQLite.
    Query(Translated),
    /// `SET` / `RESET`.
    Set(SetCommand),
    /// `SHOW name`.
    Show(String),
    /// `SELECT pg_advisory_lock(k)` and friends, alone.
    Advisory(Advisory),
    /// Nothing but comments and semicolons.
    Empty,
}

/// A statement for SQLite and what is known about it.
#[derive(Debug, Clone)]
pub struct Translated {
    /// SQLite text.
    pub sql: String,
    /// Classification.
    pub kind: StmtKind,
    /// Command tag without the row count.
    pub tag: String,
    /// Whether the row count follows the tag.
    pub tag_counts_rows: bool,
    /// Inferred parameter types (`$1` first).
    pub params: Vec<PgType>,
    /// Inferred result column types, when known from the text.
    pub columns: Vec<PgType>,
}

/// `SET` and `RESET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetCommand {
    /// `SET [LOCAL] name = value`.
    Value {
        /// Lowercase name.
        name: String,
        /// Value as `SHOW` prints it.
        value: String,
        /// `SET LOCAL`.
        local: bool,
    },
    /// `SET name TO DEFAULT`, `RESET name`.
    Default {
        /// Lowercase name.
        name: String,
        /// `SET LOCAL`.
        local: bool,
    },
    /// `RESET ALL`.
    ResetAll,
}

/// Advisory lock functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advisory {
    /// `pg_advisory_lock(k)`.
    Lock(i64),
    /// `pg_try_advisory_lock(k)`.
    TryLock(i64),
    /// `pg_advisory_unlock(k)`.
    Unlock(i64),
    /// `pg_advisory_unlock_all()`.
    UnlockAll,
    /// `pg_advisory_xact_lock(k)`.
    XactLock(i64),
    /// `pg_try_advisory_xact_lock(k)`.
    TryXactLock(i64),
}

/// Splits and translates a client text.
///
/// # Errors
/// `0A000` for what cannot be translated.
pub fn translate(
    sql: &str,
    _ctx: &SessionContext<'_>,
    _schema: &Schema,
) -> Result<Vec<PgStatement>, DbError> {
    let pieces = split(sql);
    let mut out = Vec::with_capacity(pieces.len());
    for piece in pieces {
        let text = piece.text.trim().trim_end_matches(';').trim();
        if text.is_empty() {
            continue;
        }
        out.push(passthrough(text));
    }
    if out.is_empty() {
        out.push(PgStatement::Empty);
    }
    Ok(out)
}

/// A statement SQLite runs as written.
fn passthrough(text: &str) -> PgStatement {
    let (tag, counts) = command_tag(text);
    PgStatement::Query(Translated {
        sql: text.to_owned(),
        kind: classify(text),
        tag,
        tag_counts_rows: counts,
        params: vec![PgType::Unknown; max_param(text)],
        columns: Vec::new(),
    })
}

/// The command tag PostgreSQL sends for a statement, from its first keywords, and whether a
/// row count follows it.
#[must_use]
pub fn command_tag(text: &str) -> (String, bool) {
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .filter(|w| !w.is_empty())
        .take(3)
        .map(str::to_ascii_uppercase)
        .collect();
    let first = words.first().map_or("", String::as_str);
    let second = words.get(1).map_or("", String::as_str);
    match first {
        "SELECT" | "VALUES" | "WITH" | "TABLE" | "PRAGMA" | "EXPLAIN" => ("SELECT".into(), true),
        "INSERT" | "REPLACE" => ("INSERT 0".into(), true),
        "UPDATE" => ("UPDATE".into(), true),
        "DELETE" => ("DELETE".into(), true),
        "BEGIN" => ("BEGIN".into(), false),
        "START" => ("START TRANSACTION".into(), false),
        "COMMIT" | "END" => ("COMMIT".into(), false),
        "ROLLBACK" | "ABORT" => ("ROLLBACK".into(), false),
        "SAVEPOINT" => ("SAVEPOINT".into(), false),
        "RELEASE" => ("RELEASE".into(), false),
        "CREATE" | "DROP" | "ALTER" => {
            let object = match second {
                "UNIQUE" => "INDEX",
                "TEMP" | "TEMPORARY" => words.get(2).map_or("TABLE", String::as_str),
                "VIRTUAL" => "TABLE",
                other => other,
            };
            (format!("{first} {object}"), false)
        }
        other => (other.to_owned(), false),
    }
}

/// The highest `$n` in a text outside quotes and comments.
fn max_param(text: &str) -> usize {
    let bytes = text.as_bytes();
    let (mut i, mut max) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'\'' | b'"') => {
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'$' => {
                let digits: String = text[i + 1..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                if let Ok(n) = digits.parse::<usize>() {
                    max = max.max(n);
                }
            }
            _ => {}
        }
        i += 1;
    }
    max
}
