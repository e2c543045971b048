//! SQL-format dumps of external sources, in the server's own dialect, through the backends'
//! `DumpSource` (the same text as the streamed `GET /export/dump` of that source).
//!
//! Owns mapping that source onto parts: the prologue and every table's `CREATE` are the
//! schema part, each table's `INSERT`s are cut into parts at page boundaries (pages of
//! `chunk_size` rows, rounded up to whole `INSERT` batches, so the joined parts are the
//! streamed dump byte for byte), and the epilogue is the closing part. The checkpoint key is
//! the source's own `DumpKey` text. Row counts for the progress come from a second snapshot
//! (an estimate when writers are busy). Must not know HTTP.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use starbase_backends::dump::{AnyDump, DUMP_BATCH_ROWS, DumpKey, DumpSink, DumpSource, DumpTable};
use starbase_protocol::{DbError, SqlState};
use tokio_util::sync::CancellationToken;

use super::model::{JobPlan, Manifest, Unit, UnitKind};
use super::registry::JobRow;
use super::run::{Run, Stop};
use super::source::{DumpSource as Snapshot, quote};
use super::{Inner, Progress};
use crate::config::SourceName;
use crate::engine::Target;
use crate::error::Error;

/// Collects a page's statements into the part being written.
struct PartSink<'a>(&'a mut Vec<u8>);

impl DumpSink for PartSink<'_> {
    async fn write(&mut self, sql: String) -> Result<(), starbase_backends::Error> {
        self.0.extend_from_slice(sql.as_bytes());
        Ok(())
    }
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(backend)`
fn backend(e: starbase_backends::Error) -> Stop {
    Stop::Failed(e.to_db_error())
}

/// Runs a SQL dump of external source `name`.
pub(super) async fn run(
    inner: &Inner,
    job: &JobRow,
    name: &SourceName,
    target: &Target,
    progress: Arc<Progress>,
    cancel: CancellationToken,
) -> Result<Manifest, Stop> {
    let source = inner.engine.sources().backend(name)?;
    let mut dump = tokio::select! {
        d = source.open_dump() => d.map_err(backend)?,
        () = cancel.cancelled() => return Err(Stop::Interrupted),
    };
    let outcome = run_in(inner, job, target, &mut dump, progress, cancel).await;
    dump.close().await;
    outcome
}

async fn run_in(
    inner: &Inner,
    job: &JobRow,
    target: &Target,
    dump: &mut AnyDump,
    progress: Arc<Progress>,
    cancel: CancellationToken,
) -> Result<Manifest, Stop> {
    let dialect = dump.dialect();
    let tables = dump.tables().await.map_err(backend)?;
    let wanted = job.request.tables.as_ref();
    let mut units = vec![special(UnitKind::Schema)];
    for t in &tables {
        if wanted.is_some_and(|w| !w.iter().any(|n| n == &t.name)) {
            continue;
        }
        let qualified = match &t.schema {
            Some(schema) => format!("{}.{}", quote(dialect, schema), quote(dialect, &t.name)),
            None => quote(dialect, &t.name),
        };
        units.push(Unit {
            kind: UnitKind::Table,
            name: t.name.clone(),
            qualified,
            columns: t.columns.clone(),
            key: t.key.clone().unwrap_or_default(),
        });
    }
    if let Some(missing) =
        wanted.and_then(|w| w.iter().find(|n| !units.iter().any(|u| &u.name == *n)))
    {
        return Err(DbError::new(
            SqlState::UNDEFINED_TABLE,
            format!("relation \"{missing}\" does not exist"),
        )
        .into());
    }
    units.push(special(UnitKind::Post));
    let plan = job.plan.clone().unwrap_or(JobPlan {
        units,
        schema: Vec::new(),
        has_sequence: false,
    });
    let total = count(inner, target, &plan).await?;
    let mut run = Run::resume(inner, job, plan, progress, cancel, total).await?;
    let (first, resume_key, next_part) = run.resume_point();
    let chosen: Vec<&DumpTable> = run
        .plan
        .units
        .iter()
        .filter(|u| u.kind == UnitKind::Table)
        .map(|u| {
            tables.iter().find(|t| t.name == u.name).ok_or_else(|| {
                Stop::Failed(DbError::new(
                    SqlState::UNDEFINED_TABLE,
                    format!("relation \"{}\" does not exist any more", u.name),
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    for index in first..run.plan.units.len() {
        let unit = run.plan.units[index].clone();
        match unit.kind {
            UnitKind::Schema => {
                let mut text = dump.prologue().await.map_err(backend)?;
                for t in &chosen {
                    text.push_str(&dump.ddl(t).await.map_err(backend)?);
                }
                run.write_part(index, 1, (text.into_bytes(), 0, 0), 0, None, true)
                    .await?;
            }
            UnitKind::Post => {
                let text = dump.epilogue().await.map_err(backend)?;
                run.write_part(index, 1, (text.into_bytes(), 0, 0), 0, None, true)
                    .await?;
            }
            UnitKind::Table => {
                let table = chosen
                    .iter()
                    .find(|t| t.name == unit.name)
                    .copied()
                    .ok_or_else(|| DbError::internal("a planned table vanished"))?;
                let (after, part_no) = if index == first {
                    let key = resume_key
                        .as_ref()
                        .and_then(|k| k.as_str())
                        .map(|k| DumpKey::from_checkpoint(k.to_owned()));
                    (key, next_part)
                } else {
                    (None, 1)
                };
                table_parts(&mut run, dump, index, table, after, part_no).await?;
            }
        }
    }
    run.finish().await
}

/// Pages of one table into parts.
async fn table_parts(
    run: &mut Run<'_>,
    dump: &mut AnyDump,
    index: usize,
    table: &DumpTable,
    mut after: Option<DumpKey>,
    mut part_no: u64,
) -> Result<(), Stop> {
    let batch = DUMP_BATCH_ROWS as u64;
    let page = run.chunk_size.div_ceil(batch) * batch;
    let keyed = table.key.is_some();
    let part_bytes = run.inner.config.part_bytes;
    let mut buf = Vec::new();
    let mut rows = 0;
    loop {
        run.pace().await?;
        let end = dump
            .scan(
                table,
                after.as_ref(),
                keyed.then_some(page),
                &mut PartSink(&mut buf),
            )
            .await
            .map_err(backend)?;
        rows += end.rows;
        run.progress.processed.fetch_add(end.rows, Ordering::AcqRel);
        if end.last_key.is_some() {
            after = end.last_key;
        }
        let done = end.complete || !keyed;
        if done || buf.len() >= part_bytes {
            let key = (!done)
                .then(|| after.as_ref().map(|k| serde_json::Value::from(k.as_str())))
                .flatten();
            let bytes = std::mem::take(&mut buf);
            run.write_part(index, part_no, (bytes, 0, 0), rows, key, done)
                .await?;
            rows = 0;
            part_no += 1;
            if done {
                return Ok(());
            }
        }
    }
}

/// Rows of the planned tables, read in a snapshot of their own.
async fn count(inner: &Inner, target: &Target, plan: &JobPlan) -> Result<u64, Error> {
    let mut snapshot = Snapshot::open(&inner.engine, target).await?;
    let mut total = 0;
    let mut result = Ok(());
    for unit in &plan.units {
        match snapshot.count(unit).await {
            Ok(n) => total += n,
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    snapshot.close().await;
    result.map(|()| total)
}

fn special(kind: UnitKind) -> Unit {
    Unit {
        kind,
        name: String::new(),
        qualified: String::new(),
        columns: Vec::new(),
        key: Vec::new(),
    }
}
