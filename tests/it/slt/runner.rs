//! Runs one sqllogictest file twice in step: through the pgwire frontend of a real gateway
//! (tokio-postgres, simple query protocol, text results) and directly on a fresh SQLite
//! database (rusqlite). Each record must (a) give the same outcome on both sides — success
//! or failure of a statement, identical formatted values of a query after its sort mode —
//! and (b) give, on the direct side, what the file expects (the runner's own sanity check).
//!
//! Owns running records and collecting mismatches. Must not know the record syntax (parser)
//! or how a value is printed (format).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use super::engines::{TIMED_OUT, direct_query, direct_statement, pg_query, pg_statement};
use super::format::{md5_of, printed, sort_values};
use super::parser::{Expected, Kind, Record, parse};
use crate::common::TestGateway;

/// The engine name `skipif`/`onlyif` are matched against: we are SQLite.
const ENGINE: &str = "sqlite";
/// `DEFAULT_HASH_THRESHOLD` of SQLite's runner, until a `hash-threshold` record says otherwise.
const DEFAULT_HASH_THRESHOLD: usize = 8;
/// How many mismatches a failure message shows.
const SHOWN_MISMATCHES: usize = 20;
/// How many values of a result a mismatch shows.
const SHOWN_VALUES: usize = 12;

/// What a record gave on one side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A statement succeeded.
    Ok,
    /// It failed, with this message.
    Error(String),
    /// A query's formatted values, in the record's sort order.
    Values(Vec<String>),
}

impl Outcome {
    /// Whether both are errors (messages may differ) or both are the same success.
    fn agrees_with(&self, other: &Outcome) -> bool {
        match (self, other) {
            (Outcome::Error(_), Outcome::Error(_)) => true,
            (a, b) => a == b,
        }
    }

    fn show(&self) -> String {
        match self {
            Outcome::Ok => "ok".into(),
            Outcome::Error(e) => format!("error: {e}"),
            Outcome::Values(v) => {
                let head = v.iter().take(SHOWN_VALUES).cloned().collect::<Vec<_>>();
                let more = v.len().saturating_sub(SHOWN_VALUES);
                let tail = if more > 0 {
                    format!(" … +{more}")
                } else {
                    String::new()
                };
                format!("{} values {head:?}{tail}", v.len())
            }
        }
    }
}

/// One record that failed a check.
#[derive(Debug, Clone)]
pub struct Mismatch {
    /// 1-based line of the record.
    pub line: usize,
    /// Which check: `pgwire != sqlite` or `sqlite != expected`.
    pub check: &'static str,
    /// The SQL.
    pub sql: String,
    /// The pgwire side's outcome.
    pub pgwire: String,
    /// The direct side's outcome.
    pub sqlite: String,
    /// For the sanity check, what the file expects.
    pub expected: Option<String>,
}

/// The result of one file.
#[derive(Debug, Default)]
pub struct Report {
    /// The file's name.
    pub file: String,
    /// Statements and queries run.
    pub run: usize,
    /// Of those, how many agreed between pgwire and SQLite.
    pub agreed: usize,
    /// Records skipped by `skipif`/`onlyif`.
    pub skipped: usize,
    /// Every failed check, in file order.
    pub mismatches: Vec<Mismatch>,
    /// The line where pgwire stopped answering, if it did (the rest was not run).
    pub stalled_at: Option<usize>,
}

impl Report {
    /// One line: file, records run / agreed / mismatched, skipped.
    pub fn headline(&self) -> String {
        let stalled = self.stalled_at.map_or_else(String::new, |line| {
            format!("; pgwire {TIMED_OUT} at line {line}, the rest was not run")
        });
        format!(
            "{}: {} records run, {} agreed, {} mismatched checks, {} skipped{stalled}",
            self.file,
            self.run,
            self.agreed,
            self.mismatches.len(),
            self.skipped
        )
    }

    /// The headline and the first mismatches, readable.
    pub fn summary(&self) -> String {
        let mut out = self.headline();
        for m in self.mismatches.iter().take(SHOWN_MISMATCHES) {
            let _ = write!(
                out,
                "\n\n{}:{}: {}\n  sql:    {}\n  pgwire: {}\n  sqlite: {}",
                self.file,
                m.line,
                m.check,
                m.sql.replace('\n', "\n          "),
                m.pgwire,
                m.sqlite,
            );
            if let Some(expected) = &m.expected {
                let _ = write!(out, "\n  expect: {expected}");
            }
        }
        if self.mismatches.len() > SHOWN_MISMATCHES {
            let _ = write!(
                out,
                "\n\n… and {} more",
                self.mismatches.len() - SHOWN_MISMATCHES
            );
        }
        out
    }
}

/// The check that pgwire and SQLite agree.
pub const CHECK_AGREE: &str = "pgwire != sqlite";
/// The check that SQLite gives what the file expects.
pub const CHECK_SANITY: &str = "sqlite != expected";

/// The state of a file's run.
struct Run {
    pg: tokio_postgres::Client,
    direct: rusqlite::Connection,
    threshold: usize,
    labels: HashMap<String, String>,
    report: Report,
}

/// Runs `tests/fixtures/slt/<file>` on a fresh gateway and a fresh SQLite database.
pub async fn run_file(file: &str) -> Report {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/slt")
        .join(file);
    let script = std::fs::read_to_string(&path).unwrap();
    run_script(file, &script).await
}

/// Runs the records of `script` (named `file` in reports) on a fresh gateway and a fresh
/// SQLite database.
pub async fn run_script(file: &str, script: &str) -> Report {
    let records = parse(script).unwrap_or_else(|e| panic!("{file}: {e}"));
    let gw = TestGateway::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut run = Run {
        pg: gw.pg_client().await,
        direct: rusqlite::Connection::open(dir.path().join("direct.db")).unwrap(),
        threshold: DEFAULT_HASH_THRESHOLD,
        labels: HashMap::new(),
        report: Report {
            file: file.to_owned(),
            ..Report::default()
        },
    };
    for record in &records {
        if !record.applies_to(ENGINE) {
            run.skip(record);
            continue;
        }
        match &record.kind {
            Kind::HashThreshold(n) => run.threshold = *n,
            Kind::Halt => break,
            Kind::Statement { expect_ok, sql } => run.statement(record.line, *expect_ok, sql).await,
            Kind::Query { .. } => run.query(record).await,
        }
        if run.report.stalled_at.is_some() {
            break;
        }
    }
    drop(run.pg);
    gw.stop().await;
    run.report
}

impl Run {
    /// A record for another engine. As SQLite's runner does, a skipped labelled query still
    /// registers its expected hash under its label.
    fn skip(&mut self, record: &Record) {
        self.report.skipped += 1;
        if let Kind::Query {
            label: Some(label),
            expected,
            sql,
            ..
        } = &record.kind
        {
            let hash = match expected {
                Expected::Hash { md5, .. } => md5.clone(),
                Expected::Values(values) => md5_of(values),
            };
            self.check_label(record.line, sql, label, &hash);
        }
    }

    async fn statement(&mut self, line: usize, expect_ok: bool, sql: &str) {
        let pg = pg_statement(&self.pg, sql)
            .await
            .map_or_else(Outcome::Error, |()| Outcome::Ok);
        let direct =
            direct_statement(&self.direct, sql).map_or_else(Outcome::Error, |()| Outcome::Ok);
        self.agree(line, sql, &pg, &direct);
        if matches!(direct, Outcome::Ok) != expect_ok {
            let want = if expect_ok { "ok" } else { "an error" };
            self.mismatch(line, CHECK_SANITY, sql, &pg, &direct, Some(want.to_owned()));
        }
    }

    async fn query(&mut self, record: &Record) {
        let Kind::Query {
            types,
            sort,
            label,
            sql,
            expected,
        } = &record.kind
        else {
            return;
        };
        let sorted = |mut values: Vec<String>| {
            sort_values(&mut values, types.len(), *sort);
            Outcome::Values(values)
        };
        let pg = pg_query(&self.pg, sql, types)
            .await
            .map_or_else(Outcome::Error, sorted);
        let direct = direct_query(&self.direct, sql, types);
        let agreed = match &direct {
            Ok((values, None)) => sorted(values.clone()),
            Err(e) | Ok((_, Some(e))) => Outcome::Error(e.clone()),
        };
        self.agree(record.line, sql, &pg, &agreed);
        // What SQLite's runner sees: a failed step ends the rows without an error.
        let Ok((mut values, _)) = direct else {
            let want = Some(show_expected(expected));
            self.mismatch(record.line, CHECK_SANITY, sql, &pg, &agreed, want);
            return;
        };
        sort_values(&mut values, types.len(), *sort);
        if let Some(label) = label {
            self.check_label(record.line, sql, label, &md5_of(&values));
        }
        let want = match expected {
            Expected::Values(lines) => lines.clone(),
            Expected::Hash { count, md5 } => vec![format!("{count} values hashing to {md5}")],
        };
        let got = printed(&values, self.threshold);
        if got != want {
            let got = Outcome::Values(got);
            let want = Some(show_expected(expected));
            self.mismatch(record.line, CHECK_SANITY, sql, &pg, &got, want);
        }
    }

    fn agree(&mut self, line: usize, sql: &str, pg: &Outcome, direct: &Outcome) {
        self.report.run += 1;
        if matches!(pg, Outcome::Error(e) if e.starts_with(TIMED_OUT)) {
            self.report.stalled_at = Some(line);
        }
        if pg.agrees_with(direct) {
            self.report.agreed += 1;
        } else {
            self.mismatch(line, CHECK_AGREE, sql, pg, direct, None);
        }
    }

    fn check_label(&mut self, line: usize, sql: &str, label: &str, hash: &str) {
        let previous = self
            .labels
            .entry(label.to_owned())
            .or_insert_with(|| hash.to_owned());
        if *previous != hash {
            let expected = format!("label {label}: values hashing to {previous}, as before");
            self.report.mismatches.push(Mismatch {
                line,
                check: CHECK_SANITY,
                sql: sql.to_owned(),
                pgwire: String::from("-"),
                sqlite: format!("values hashing to {hash}"),
                expected: Some(expected),
            });
        }
    }

    fn mismatch(
        &mut self,
        line: usize,
        check: &'static str,
        sql: &str,
        pg: &Outcome,
        sqlite: &Outcome,
        expected: Option<String>,
    ) {
        self.report.mismatches.push(Mismatch {
            line,
            check,
            sql: sql.to_owned(),
            pgwire: pg.show(),
            sqlite: sqlite.show(),
            expected,
        });
    }
}

fn show_expected(expected: &Expected) -> String {
    match expected {
        Expected::Values(v) => Outcome::Values(v.clone()).show(),
        Expected::Hash { count, md5 } => format!("{count} values hashing to {md5}"),
    }
}
