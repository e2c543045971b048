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
