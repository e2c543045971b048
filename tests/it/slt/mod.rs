//! SQLite's sqllogictest corpus (`tests/fixtures/slt/`) through the pgwire frontend, checked
//! record by record against the same file run directly on SQLite: one test per file.
//!
//! Owns the list of files. Must not know the record format or value formatting (see
//! `parser`, `format`, `engines`, `runner`).

mod engines;
mod format;
mod parser;
mod runner;

/// Runs one file and fails once, with every mismatch of the file summarised.
async fn check(file: &str) {
    let report = runner::run_file(file).await;
    report_line(&report.headline());
    assert!(report.mismatches.is_empty(), "{}", report.summary());
}

/// The per-file counts, visible with `--no-capture` (and in the log of a failing test).
#[allow(clippy::print_stderr)]
fn report_line(line: &str) {
    eprintln!("slt {line}");
}

/// The runner is not vacuous: a disagreement between pgwire and SQLite, and a result the
/// file does not expect, are both reported with their line, SQL and outputs. The
/// disagreement used is the one known kind: a REAL in a `T` column, which SQLite prints as
/// `1.0` and pgwire as PostgreSQL's `float8` text, `1`.
#[tokio::test]
async fn disagreements_and_wrong_expectations_are_reported() {
    let script = "statement ok\nCREATE TABLE t(r REAL)\n\nstatement ok\nINSERT INTO t VALUES(1.0)\n\n\
                  query T nosort\nSELECT r FROM t\n----\n1.0\n\n\
                  query R nosort\nSELECT r FROM t\n----\n1.000\n\n\
                  query I nosort\nSELECT 1\n----\n2\n\n\
                  statement error\nSELECT * FROM missing\n";
    let report = runner::run_script("inline.test", script).await;
    report_line(&report.summary());
    assert_eq!((report.run, report.agreed), (6, 5), "{}", report.summary());
    let found: Vec<(usize, &str)> = report
        .mismatches
        .iter()
        .map(|m| (m.line, m.check))
        .collect();
    assert_eq!(
        found,
        [(7, runner::CHECK_AGREE), (17, runner::CHECK_SANITY)],
        "{}",
        report.summary()
    );
    let summary = report.summary();
    assert!(
        summary.contains("inline.test:7: pgwire != sqlite"),
        "{summary}"
    );
    assert!(summary.contains(r#"pgwire: 1 values ["1"]"#), "{summary}");
    assert!(summary.contains(r#"sqlite: 1 values ["1.0"]"#), "{summary}");
    assert!(summary.contains(r#"expect: 1 values ["2"]"#), "{summary}");
}

macro_rules! slt_files {
    ($($name:ident => $file:literal,)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                check($file).await;
            }
        )*
    };
}

slt_files! {
    select1 => "select1.test",
    in1 => "in1.test",
    in2 => "in2.test",
    lang_aggfunc => "slt_lang_aggfunc.test",
    lang_createtrigger => "slt_lang_createtrigger.test",
    lang_createview => "slt_lang_createview.test",
    lang_dropindex => "slt_lang_dropindex.test",
    lang_droptable => "slt_lang_droptable.test",
    lang_droptrigger => "slt_lang_droptrigger.test",
    lang_dropview => "slt_lang_dropview.test",
    lang_reindex => "slt_lang_reindex.test",
    lang_replace => "slt_lang_replace.test",
    lang_update => "slt_lang_update.test",
}
