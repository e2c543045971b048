//! `POST /import/dump` on an external source: a SQL script in the server's dialect, cut into
//! statements as it arrives and run on one pinned connection in one transaction.
//!
//! Owns the script conventions: the file's own `BEGIN`/`START TRANSACTION`/`COMMIT`/`END`/
//! `ROLLBACK` are skipped (the whole file is one transaction); PostgreSQL `COPY … FROM stdin`
//! data streams to the server; `psql`'s `\restrict`/`\unrestrict` lines (written by
//! `pg_dump`) are skipped and any other meta-command is `0A000`. What is atomic follows the
//! server: on PostgreSQL (transactional DDL) a failure commits nothing; on MySQL/MariaDB
//! every DDL statement commits implicitly, so a failure rolls back only the statements
//! after the last DDL statement, and the error says which ones stay. Statements are
//! numbered from 1 in file order (skipped ones included). Memory holds one statement. Must
//! not know either server's SQL beyond the first keyword.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use starbase_backends::BackendKind;
use starbase_backends::dump::{AnyLoad, ScriptItem, first_keyword};
use starbase_backends::mysql::dump::split::MySqlSplitter;
use starbase_backends::postgres::dump::split::PgSplitter;
use starbase_protocol::{DbError, SqlState};

use super::dump::Failure;
use crate::auth::Principal;
use crate::config::SourceName;
use crate::engine::Engine;

/// How much of a failing statement the report quotes.
const EXCERPT_CHARS: usize = 200;

/// Either dialect's splitter.
enum Splitter {
    Pg(PgSplitter),
    MySql(MySqlSplitter),
}

impl Splitter {
    fn push(&mut self, text: &str) {
        match self {
            Splitter::Pg(s) => s.push(text),
            Splitter::MySql(s) => s.push(text),
        }
    }

    fn next_item(&mut self) -> Option<ScriptItem> {
        match self {
            Splitter::Pg(s) => s.next_item(),
            Splitter::MySql(s) => s.next_item(),
        }
    }

    fn finish(&mut self) {
        match self {
            Splitter::Pg(s) => s.finish(),
            Splitter::MySql(s) => s.finish(),
        }
    }

    fn check_complete(&self) -> Result<(), DbError> {
        match self {
            Splitter::Pg(s) => s.check_complete(),
            Splitter::MySql(s) => s.check_complete(),
        }
    }

    fn pending_bytes(&self) -> usize {
        match self {
            Splitter::Pg(s) => s.pending_bytes(),
            Splitter::MySql(s) => s.pending_bytes(),
        }
    }
}

/// The running import.
struct Import {
    load: AnyLoad,
    kind: BackendKind,
    /// Statements seen so far (the number of the current one).
    number: u64,
    /// Statements run.
    ran: u64,
    /// MySQL: the number of the last DDL statement (everything up to it is committed).
    last_ddl: Option<u64>,
    /// The `COPY` statement whose data is streaming, with its number.
    copy: Option<(u64, String)>,
}

fn excerpt(sql: &str) -> String {
    let sql = sql.trim();
    match sql.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &sql[..cut]),
        None => sql.to_owned(),
    }
}

/// Whether a statement is the file's own transaction control.
fn is_transaction_control(sql: &str) -> bool {
    match first_keyword(sql).as_str() {
        "BEGIN" | "COMMIT" | "END" | "ROLLBACK" | "ABORT" => {
            // `BEGIN NOT ATOMIC` (MariaDB compound statement) is a block, not a transaction.
            !sql.to_ascii_uppercase().contains("ATOMIC")
        }
        "START" => sql.to_ascii_uppercase().contains("TRANSACTION"),
        _ => false,
    }
}

fn is_ddl(sql: &str) -> bool {
    matches!(
        first_keyword(sql).as_str(),
        "CREATE"
            | "ALTER"
            | "DROP"
            | "RENAME"
            | "TRUNCATE"
            | "GRANT"
            | "REVOKE"
            | "LOCK"
            | "UNLOCK"
    )
}

impl Import {
    /// The error report for statement `number` failing with `error`.
    fn failure(&self, number: u64, sql: &str, error: DbError) -> Failure {
        let outcome = match (self.kind, self.last_ddl) {
            (BackendKind::MySql, Some(ddl)) => format!(
                "MySQL commits each DDL statement implicitly: statements 1 to {ddl} stay \
                 committed, the later ones were rolled back"
            ),
            _ => "the import was rolled back, nothing was committed".to_owned(),
        };
        let error = DbError {
            detail: Some(format!(
                "statement {number} failed; {outcome}: {}",
                excerpt(sql)
            )),
            ..error
        };
        Failure {
            error,
            statement: None,
        }
    }

    async fn item(&mut self, item: ScriptItem) -> Result<(), Failure> {
        match item {
            ScriptItem::Statement(sql) => {
                self.number += 1;
                if is_transaction_control(&sql) {
                    return Ok(());
                }
                if let Err(e) = self.load.execute(&sql).await {
                    return Err(self.failure(self.number, &sql, e));
                }
                self.ran += 1;
                if self.kind == BackendKind::MySql && is_ddl(&sql) {
                    self.last_ddl = Some(self.number);
                }
            }
            ScriptItem::CopyStart(sql) => {
                self.number += 1;
                if let Err(e) = self.load.copy_start(&sql).await {
                    return Err(self.failure(self.number, &sql, e));
                }
                self.copy = Some((self.number, sql));
            }
            ScriptItem::CopyData(data) => {
                if let Err(e) = self.load.copy_data(Bytes::from(data)).await {
                    let (n, sql) = self.copy.take().unwrap_or_default();
                    return Err(self.failure(n, &sql, e));
                }
            }
            ScriptItem::CopyEnd => {
                let result = self.load.copy_finish().await;
                let (n, sql) = self.copy.take().unwrap_or_default();
                if let Err(e) = result {
                    return Err(self.failure(n, &sql, e));
                }
                self.ran += 1;
            }
            ScriptItem::Meta(line) => {
                let command = line.split_whitespace().next().unwrap_or("\\");
                if !matches!(command, "\\restrict" | "\\unrestrict") {
                    let error = DbError::new(
                        SqlState::FEATURE_NOT_SUPPORTED,
                        format!("the psql meta-command \"{command}\" is not supported"),
                    );
                    return Err(self.failure(self.number + 1, &line, error));
                }
            }
        }
        Ok(())
    }
}

/// Runs the uploaded script on source `name`; returns how many statements ran.
///
/// # Errors
/// The first failing statement (number, text, and what stays committed), malformed UTF-8,
/// a script ending inside a string (`42601`), or a statement longer than
/// `max_statement_bytes` (`54000`).
pub(super) async fn import(
    engine: &Engine,
    principal: &Principal,
    name: &SourceName,
    mut body: impl Stream<Item = Result<Bytes, DbError>> + Unpin,
    max_statement_bytes: usize,
) -> Result<u64, Failure> {
    let kind = engine
        .sources()
        .backend(name)
        .map_err(Failure::from)?
        .kind();
    let mut splitter = match kind {
        BackendKind::MySql => Splitter::MySql(MySqlSplitter::new()),
        BackendKind::Postgres | BackendKind::Sqlite => Splitter::Pg(PgSplitter::new()),
    };
    let load = engine
        .open_load(principal, name)
        .await
        .map_err(|e| Failure::from(e.to_client()))?;
    let mut import = Import {
        load,
        kind,
        number: 0,
        ran: 0,
        last_ddl: None,
        copy: None,
    };
    match feed(&mut import, &mut splitter, &mut body, max_statement_bytes).await {
        Ok(()) => {
            let ran = import.ran;
            import.load.commit().await.map_err(Failure::from)?;
            Ok(ran)
        }
        Err(failure) => {
            import.load.rollback().await;
            Err(failure)
        }
    }
}

async fn feed(
    import: &mut Import,
    splitter: &mut Splitter,
    body: &mut (impl Stream<Item = Result<Bytes, DbError>> + Unpin),
    max_statement_bytes: usize,
) -> Result<(), Failure> {
    let mut pending: Vec<u8> = Vec::new();
    let mut at_end = false;
    while !at_end {
        match body.next().await {
            Some(chunk) => pending.extend_from_slice(&chunk?),
            None => at_end = true,
        }
        let text = super::utf8::take_complete(&mut pending, at_end)?;
        splitter.push(&text);
        if at_end {
            splitter.finish();
        }
        while let Some(item) = splitter.next_item() {
            import.item(item).await?;
        }
        if splitter.pending_bytes() > max_statement_bytes {
            return Err(DbError::new(
                SqlState::PROGRAM_LIMIT_EXCEEDED,
                format!("a statement of the SQL file is longer than {max_statement_bytes} bytes"),
            )
            .into());
        }
    }
    splitter.check_complete().map_err(|e| {
        let error = DbError {
            detail: Some(format!(
                "after statement {}; the import was rolled back{}",
                import.number,
                if import.last_ddl.is_some() {
                    " (DDL statements before it stay committed on MySQL)"
                } else {
                    ", nothing was committed"
                }
            )),
            ..e
        };
        Failure::from(error)
    })?;
    if import.copy.is_some() {
        let result = import.load.copy_finish().await;
        let (n, sql) = import.copy.take().unwrap_or_default();
        if let Err(e) = result {
            return Err(import.failure(n, &sql, e));
        }
    }
    Ok(())
}
