//! SQL-format dumps of external sources, in the server's own dialect, through the backends'
//! `DumpSource` (the same text as the streamed `GET /export/dump` of that source).
//!
//! Owns mapping that source onto parts: the prologue and every table's `CREATE` are the
//! schema part, each table's rows are cut into parts at scan boundaries (scans of
//! `chunk_size` rows, rounded up to whole 500-row `INSERT` batches on MySQL; up to 50,000
//! rows on PostgreSQL, whose scans continue one `COPY` statement; the job paces itself every
//! `chunk_size` rows either way), and the epilogue is the closing part. The joined parts are
//! the streamed dump byte for byte: a MySQL table's `INSERT`s are the same batches whatever
//! the pages, and a PostgreSQL table is one `COPY … FROM stdin;` block whose header goes into
//! its first part and whose `\.` into its last (the parts in between are bare data lines; a
//! part may even be only the `\.`). Text streams to storage as the scan writes it; a keyed
//! part whose upload fails is written again from its first key. A table without a key (no
//! primary key) is one streamed query cut into parts at statement or line boundaries once a
//! part holds `part_bytes` (no `OFFSET` re-scans; restarted whole on resume). The
//! checkpoint key is the source's own `DumpKey` text. Row counts for the progress come from
//! a second snapshot read beside the dump (an estimate when writers are busy). Must not know
//! HTTP.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use starbase_backends::dump::{AnyDump, DUMP_BATCH_ROWS, DumpKey, DumpSink, DumpSource, DumpTable};
use starbase_protocol::{DbError, SqlState};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::model::{JobPlan, Unit, UnitKind};
use super::overlap::{RenderPart, Rendered, RenderedPart};
use super::registry::JobRow;
use super::run::{Run, Stop};
use super::source::{DumpSource as Snapshot, quote};
use super::storage::PartUpload;
use super::table::PartFail;
use super::{Inner, Progress};
use crate::config::SourceName;
use crate::engine::Target;
use crate::error::Error;

/// Streams a scan's statements (or `COPY` lines) into the part being uploaded; with `cut`
/// (a table without a key) it also closes a part and starts the next once one holds
/// `part_bytes`.
struct PartSink<'r, 'a> {
    run: &'r mut Run<'a>,
    index: usize,
    part_no: u64,
    upload: Option<PartUpload>,
    /// Rows in the current part.
    rows: u64,
    cut: bool,
    /// Rows written since the job last paced itself.
    unpaced: u64,
    /// Why the sink refused a write (the scan only sees that it did).
    failed: Option<PartFail>,
}

impl<'r, 'a> PartSink<'r, 'a> {
    fn new(run: &'r mut Run<'a>, index: usize, part_no: u64, cut: bool) -> Self {
        let upload = Some(run.upload(index, part_no));
        Self {
            run,
            index,
            part_no,
            upload,
            rows: 0,
            cut,
            unpaced: 0,
            failed: None,
        }
    }

    fn size(&self) -> u64 {
        self.upload.as_ref().map_or(0, PartUpload::size)
    }

    async fn accept(&mut self, sql: &str, rows: u64) -> Result<(), PartFail> {
        // Cut before the statement, never after it: the last part is never empty.
        if self.cut && self.rows > 0 && self.size() >= self.run.inner.storage.part_bytes() as u64 {
            self.close(None, false).await?;
            self.part_no += 1;
            self.upload = Some(self.run.upload(self.index, self.part_no));
        }
        let upload = self
            .upload
            .as_mut()
            .ok_or_else(|| DbError::internal("a dump part was written after it closed"))?;
        upload.write(sql.as_bytes()).await?;
        self.rows += rows;
        self.run
            .progress
            .processed
            .fetch_add(rows, Ordering::AcqRel);
        // Pages may be larger than the chunk size (`DumpSource::page_rows`): the job still
        // paces itself every chunk of rows.
        self.unpaced += rows;
        if self.unpaced >= self.run.chunk_size {
            self.unpaced = 0;
            self.run.pace().await.map_err(PartFail::Stop)?;
        }
        Ok(())
    }

    /// Completes the current part and records it.
    async fn close(
        &mut self,
        key: Option<serde_json::Value>,
        unit_done: bool,
    ) -> Result<(), PartFail> {
        let upload = self
            .upload
            .take()
            .ok_or_else(|| DbError::internal("a dump part was closed twice"))?;
        let rows = std::mem::take(&mut self.rows);
        match upload.finish().await {
            Ok(written) => {
                self.run
                    .record(
                        self.index,
                        self.part_no,
                        written,
                        (0, 0),
                        rows,
                        key,
                        unit_done,
                    )
                    .await?;
                Ok(())
            }
            Err(e) => {
                self.run
                    .progress
                    .processed
                    .fetch_sub(rows, Ordering::AcqRel);
                Err(e.into())
            }
        }
    }

    /// Abandons the current part and takes back the progress it counted.
    async fn abort(mut self) {
        self.run
            .progress
            .processed
            .fetch_sub(self.rows, Ordering::AcqRel);
        if let Some(upload) = self.upload.take() {
            upload.abort().await;
        }
    }

    /// The scan's outcome, with the sink's own failure first.
    fn check<T>(&mut self, scanned: Result<T, starbase_backends::Error>) -> Result<T, PartFail> {
        match (self.failed.take(), scanned) {
            (Some(failed), _) => Err(failed),
            (None, Ok(t)) => Ok(t),
            (None, Err(e)) => Err(backend(e).into()),
        }
    }
}

impl DumpSink for PartSink<'_, '_> {
    async fn write(&mut self, sql: String, rows: u64) -> Result<(), starbase_backends::Error> {
        match self.accept(&sql, rows).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.failed = Some(e);
                Err(starbase_backends::Error::Closed)
            }
        }
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
) -> Result<u64, Stop> {
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
) -> Result<u64, Stop> {
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
    let total = job.total_rows;
    let run = Run::resume(
        inner,
        job,
        target,
        plan.clone(),
        progress.clone(),
        cancel.clone(),
        total,
    )
    .await?;
    // Counting reads every row once more: it runs beside the dump instead of before it,
    // and the progress has no total until it is done (a resumed job keeps its last one).
    let counting = count_into(inner, target, &plan, &progress, &job.id, &cancel);
    let (outcome, ()) = tokio::join!(dump_units(run, dump, &tables), counting);
    outcome
}

/// Writes the units from the resume point on, then the manifest.
async fn dump_units(
    mut run: Run<'_>,
    dump: &mut AnyDump,
    tables: &[DumpTable],
) -> Result<u64, Stop> {
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

/// Pages of one table into parts; a keyed table's parts overlap each finish with the next
/// part's read (`overlap`).
async fn table_parts(
    run: &mut Run<'_>,
    dump: &mut AnyDump,
    index: usize,
    table: &DumpTable,
    after: Option<DumpKey>,
    part_no: u64,
) -> Result<(), Stop> {
    if table.key.is_none() {
        let mut sink = PartSink::new(run, index, 1, true);
        let scanned = dump.scan(table, None, None, &mut sink).await;
        return match sink.check(scanned) {
            Ok(_) => sink.close(None, true).await,
            Err(e) => Err(e),
        }
        .map_err(|e| match e {
            PartFail::Storage(e) => Stop::Failed(e),
            PartFail::Stop(stop) => stop,
        });
    }
    let pages = Pages::new(run, dump);
    let mut scans = Scans {
        dump,
        index,
        table,
        pages,
        row_bytes: None,
    };
    run.overlapped(index, after, part_no, &mut scans).await
}

/// An external source's keyed parts, for `Run::overlapped`.
struct Scans<'d> {
    dump: &'d mut AnyDump,
    index: usize,
    table: &'d DumpTable,
    pages: Pages,
    /// Bytes per row so far (see [`page_for`]).
    row_bytes: Option<u64>,
}

impl RenderPart<Option<DumpKey>> for Scans<'_> {
    async fn render(
        &mut self,
        run: &mut Run<'_>,
        first: Option<DumpKey>,
        part_no: u64,
        gate: Option<oneshot::Receiver<()>>,
    ) -> Result<Rendered<Option<DumpKey>>, PartFail> {
        read_part(self, run, (first, part_no), gate).await
    }
}

/// Page sizes of a keyed table's scans (see [`page_for`]).
struct Pages {
    chunk: u64,
    page: u64,
    part_bytes: u64,
}

impl Pages {
    fn new(run: &Run<'_>, dump: &AnyDump) -> Self {
        let batch = DUMP_BATCH_ROWS as u64;
        let chunk = run.chunk_size.div_ceil(batch) * batch;
        Self {
            chunk,
            page: dump.page_rows(chunk),
            part_bytes: run.inner.storage.part_bytes() as u64,
        }
    }
}

/// Reads one keyed part after `first` into its upload (held back by `gate` while the
/// previous part finishes), until it holds `part_bytes` or the table ends; on failure the
/// upload is aborted and its rows taken back from the progress.
async fn read_part(
    scans: &mut Scans<'_>,
    run: &mut Run<'_>,
    (first, part_no): (Option<DumpKey>, u64),
    gate: Option<oneshot::Receiver<()>>,
) -> Result<Rendered<Option<DumpKey>>, PartFail> {
    let Scans {
        dump,
        index,
        table,
        pages,
        row_bytes,
    } = scans;
    let (index, table) = (*index, *table);
    let mut sink = PartSink::new(run, index, part_no, false);
    if let Some(gate) = gate {
        sink.upload = sink.upload.take().map(|u| u.after(gate));
    }
    let mut at = first.clone();
    let outcome: Result<bool, PartFail> = async {
        loop {
            sink.run.pace().await?;
            let room = pages.part_bytes.saturating_sub(sink.size());
            let ask = page_for(pages.chunk, pages.page, *row_bytes, room);
            let scanned = dump.scan(table, at.as_ref(), Some(ask), &mut sink).await;
            let end = sink.check(scanned)?;
            if let Some(per_row) = sink.size().checked_div(sink.rows) {
                *row_bytes = Some(per_row);
            }
            if end.last_key.is_some() {
                at = end.last_key;
            }
            if end.complete || sink.size() >= pages.part_bytes {
                return Ok(end.complete);
            }
        }
    }
    .await;
    match outcome {
        Ok(done) => {
            let key = (!done)
                .then(|| at.as_ref().map(|k| serde_json::Value::from(k.as_str())))
                .flatten();
            let rows = std::mem::take(&mut sink.rows);
            let upload = sink
                .upload
                .take()
                .ok_or_else(|| DbError::internal("a dump part was read after it closed"))?;
            Ok(Rendered {
                upload,
                next: at,
                part: RenderedPart {
                    part_no,
                    first,
                    key,
                    rows,
                    head_tail: (0, 0),
                    counted: rows,
                    done,
                },
            })
        }
        Err(e) => {
            sink.abort().await;
            Err(e)
        }
    }
}

/// Rows to ask of the next scan: `chunk` at first, then as many as fit in `room` bytes at
/// `row_bytes` each, within `chunk..=page`, in whole `INSERT` batches.
fn page_for(chunk: u64, page: u64, row_bytes: Option<u64>, room: u64) -> u64 {
    let batch = DUMP_BATCH_ROWS as u64;
    let fits = match row_bytes {
        Some(per_row) if per_row > 0 => room / per_row + 1,
        _ => chunk,
    };
    (fits.clamp(chunk, page.max(chunk)).div_ceil(batch) * batch).max(batch)
}

/// Counts the rows of the planned tables in a snapshot of their own, then makes that the
/// job's total. A failed count only leaves the progress without a total.
async fn count_into(
    inner: &Inner,
    target: &Target,
    plan: &JobPlan,
    progress: &Progress,
    id: &str,
    cancel: &CancellationToken,
) {
    let counted = tokio::select! {
        n = count(inner, target, plan) => n,
        () = cancel.cancelled() => return,
    };
    match counted {
        Ok(total) => {
            progress.total.fetch_max(total, Ordering::AcqRel);
            if let Err(e) = inner.registry.set_total(id, total).await {
                tracing::warn!(job = id, error = %e, "recording a dump's row count failed");
            }
        }
        Err(e) => tracing::warn!(job = id, error = %e, "counting a dump's rows failed"),
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

#[cfg(test)]
mod tests {
    use super::page_for;

    #[test]
    fn pages_fill_the_room_left_in_a_part() {
        // No row size known yet: one chunk.
        assert_eq!(page_for(1000, 50_000, None, 16 << 20), 1000);
        // 16 MiB left at 60 bytes a row: the largest page.
        assert_eq!(page_for(1000, 50_000, Some(60), 16 << 20), 50_000);
        // 1 MiB left at 60 bytes a row: about 17,476 rows, in whole batches.
        assert_eq!(page_for(1000, 50_000, Some(60), 1 << 20), 17_500);
        // Almost full: never less than a chunk.
        assert_eq!(page_for(1000, 50_000, Some(60), 100), 1000);
        // A source without larger pages (MySQL): the chunk.
        assert_eq!(page_for(1000, 1000, Some(60), 16 << 20), 1000);
    }
}
