//! The sqllogictest record format, read as SQLite's own runner (`sqllogictest.c`) reads it:
//! records separated by blank lines, `#` comment lines invisible, a trailing `\r` dropped,
//! `skipif`/`onlyif` lines before a record, and the record types `statement ok|error`,
//! `query <types> [nosort|rowsort|valuesort] [label]`, `hash-threshold N` and `halt`.
//!
//! Owns parsing only. Must not know how records are run or how values are formatted.

use std::fmt;

/// How a query's values are ordered before they are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortMode {
    /// As returned (`nosort`).
    Unsorted,
    /// Rows sorted, comparing column by column as strings (`rowsort`).
    Rows,
    /// Every value sorted on its own (`valuesort`).
    Values,
}

/// A query's expected results as the file writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// One value per line.
    Values(Vec<String>),
    /// `N values hashing to <md5>`.
    Hash {
        /// N.
        count: usize,
        /// The md5, lowercase hex.
        md5: String,
    },
}

/// A `skipif <db>` or `onlyif <db>` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// Skip the record on this engine.
    SkipIf(String),
    /// Run the record only on this engine.
    OnlyIf(String),
}

/// What a record asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `statement ok` (`expect_ok`) or `statement error`.
    Statement {
        /// Whether success is expected.
        expect_ok: bool,
        /// The SQL text (lines joined with `\n`).
        sql: String,
    },
    /// `query ...`.
    Query {
        /// Type letters, one per column (`I`, `R`, `T`).
        types: String,
        /// Sort mode.
        sort: SortMode,
        /// Optional label: queries with the same label must hash alike.
        label: Option<String>,
        /// The SQL text.
        sql: String,
        /// Expected results.
        expected: Expected,
    },
    /// `hash-threshold N`.
    HashThreshold(usize),
    /// `halt`: stop reading the file.
    Halt,
}

/// One record of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// 1-based line of the record's `statement`/`query`/… line.
    pub line: usize,
    /// `skipif`/`onlyif` lines before it.
    pub conditions: Vec<Condition>,
    /// The record.
    pub kind: Kind,
}

impl Record {
    /// Whether an engine named `engine` runs this record (case-insensitive, like the
    /// C runner's `stricmp`).
    pub fn applies_to(&self, engine: &str) -> bool {
        self.conditions.iter().all(|c| match c {
            Condition::SkipIf(db) => !db.eq_ignore_ascii_case(engine),
            Condition::OnlyIf(db) => db.eq_ignore_ascii_case(engine),
        })
    }
}

/// A line that cannot be read as a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Reads every record of a script.
pub fn parse(script: &str) -> Result<Vec<Record>, ParseError> {
    let mut records = Vec::new();
    for block in blocks(script) {
        records.push(record(&block)?);
    }
    Ok(records)
}

/// The non-comment lines of the script, numbered, grouped into blank-line separated blocks.
fn blocks(script: &str) -> Vec<Vec<(usize, &str)>> {
    let mut out = Vec::new();
    let mut current: Vec<(usize, &str)> = Vec::new();
    for (i, raw) in script.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else if !line.starts_with('#') {
            current.push((i + 1, line));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn record(block: &[(usize, &str)]) -> Result<Record, ParseError> {
    let mut conditions = Vec::new();
    let mut rest = block;
    while let Some(((line, text), tail)) = rest.split_first() {
        let tokens: Vec<&str> = text.split_whitespace().collect();
        match tokens.first().copied() {
            Some(word @ ("skipif" | "onlyif")) => {
                let db = tokens.get(1).map(|s| (*s).to_owned()).ok_or(ParseError {
                    line: *line,
                    message: format!("{word} without an engine name"),
                })?;
                conditions.push(if word == "skipif" {
                    Condition::SkipIf(db)
                } else {
                    Condition::OnlyIf(db)
                });
                rest = tail;
            }
            _ => break,
        }
    }
    let Some(((line, header), body)) = rest.split_first() else {
        let line = block.last().map_or(0, |(l, _)| *l);
        return Err(ParseError {
            line,
            message: "skipif/onlyif without a record".into(),
        });
    };
    let kind = kind(*line, header, body)?;
    Ok(Record {
        line: *line,
        conditions,
        kind,
    })
}

fn kind(line: usize, header: &str, body: &[(usize, &str)]) -> Result<Kind, ParseError> {
    let error = |message: String| ParseError { line, message };
    let tokens: Vec<&str> = header.split_whitespace().collect();
    let arg = |i: usize| tokens.get(i).copied();
    match tokens.first().copied() {
        Some("statement") => {
            let expect_ok = match arg(1) {
                Some("ok") => true,
                Some("error") => false,
                other => return Err(error(format!("statement {other:?}: want ok or error"))),
            };
            Ok(Kind::Statement {
                expect_ok,
                sql: join(body),
            })
        }
        Some("query") => query(&tokens, body).map_err(error),
        Some("hash-threshold") => arg(1)
            .and_then(|n| n.parse().ok())
            .map(Kind::HashThreshold)
            .ok_or_else(|| error(format!("bad hash-threshold: {header:?}"))),
        Some("halt") => Ok(Kind::Halt),
        _ => Err(error(format!("unknown record type: {header:?}"))),
    }
}

fn query(tokens: &[&str], body: &[(usize, &str)]) -> Result<Kind, String> {
    let types = tokens.get(1).copied().unwrap_or_default();
    if types.is_empty() || !types.chars().all(|c| matches!(c, 'I' | 'R' | 'T')) {
        return Err(format!("bad type string {types:?}"));
    }
    let sort = match tokens.get(2).copied() {
        None | Some("nosort") => SortMode::Unsorted,
        Some("rowsort") => SortMode::Rows,
        Some("valuesort") => SortMode::Values,
        Some(other) => return Err(format!("unknown sort method {other:?}")),
    };
    let split = body.iter().position(|(_, l)| *l == "----");
    let (sql, results) = match split {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (body, &[][..]),
    };
    let results: Vec<String> = results.iter().map(|(_, l)| (*l).to_owned()).collect();
    let expected = match results.as_slice() {
        [only] => hash_line(only).unwrap_or_else(|| Expected::Values(results.clone())),
        _ => Expected::Values(results),
    };
    Ok(Kind::Query {
        types: types.to_owned(),
        sort,
        label: tokens.get(3).map(|s| (*s).to_owned()),
        sql: join(sql),
        expected,
    })
}

/// `N values hashing to <32 hex digits>`.
fn hash_line(line: &str) -> Option<Expected> {
    let (count, md5) = line.split_once(" values hashing to ")?;
    let count = count.trim().parse().ok()?;
    let md5 = md5.trim();
    (md5.len() == 32 && md5.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Expected::Hash {
        count,
        md5: md5.to_ascii_lowercase(),
    })
}

fn join(lines: &[(usize, &str)]) -> String {
    lines.iter().map(|(_, l)| *l).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "# comment\r\nhash-threshold 8\r\n\r\nstatement ok\r\nCREATE TABLE t(a)\r\n\
        \n  \nskipif mysql # why\nonlyif sqlite\nquery IT rowsort label-1\nSELECT a,\n# inner\n\
        'x' FROM t\n----\n1\nx\n\nquery R\nSELECT 1\n----\n30 values hashing to \
        3c13dee48d9356ae19af2515e05e6b54\n\nstatement error\nSELECT nope\n\nonlyif mssql\nhalt\n";

    #[test]
    fn reads_records_as_the_c_runner_does() {
        let records = parse(SCRIPT).unwrap();
        assert_eq!(records.len(), 6);
        assert_eq!(records[0].kind, Kind::HashThreshold(8));
        assert_eq!(
            records[1].kind,
            Kind::Statement {
                expect_ok: true,
                sql: "CREATE TABLE t(a)".into()
            }
        );
        assert_eq!(records[2].line, 10);
        assert_eq!(
            records[2].kind,
            Kind::Query {
                types: "IT".into(),
                sort: SortMode::Rows,
                label: Some("label-1".into()),
                sql: "SELECT a,\n'x' FROM t".into(),
                expected: Expected::Values(vec!["1".into(), "x".into()]),
            }
        );
        assert!(records[2].applies_to("SQLite"));
        assert!(!records[2].applies_to("mysql"));
        let Kind::Query { expected, .. } = &records[3].kind else {
            panic!("{:?}", records[3]);
        };
        assert_eq!(
            *expected,
            Expected::Hash {
                count: 30,
                md5: "3c13dee48d9356ae19af2515e05e6b54".into()
            }
        );
        assert!(matches!(
            records[4].kind,
            Kind::Statement {
                expect_ok: false,
                ..
            }
        ));
        assert_eq!(records[5].kind, Kind::Halt);
        assert!(!records[5].applies_to("sqlite"));
    }

    #[test]
    fn rejects_unknown_records() {
        let err = parse("frobnicate\nSELECT 1\n").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(parse("query X\nSELECT 1\n").is_err());
        assert!(parse("query I sideways\nSELECT 1\n").is_err());
    }
}
