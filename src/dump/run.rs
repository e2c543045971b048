//! Running one dump job: snapshot, plan, units, parts, checkpoints, manifest.
//!
//! Owns the job's loop: it opens one snapshot of the source, fixes the plan at the first run
//! (so a resumed job writes the same units), continues after the last recorded part, reads
//! each table in pages of `chunk_size` rows by key, closes a part once it holds `part_bytes`
//! (at a page boundary, so its last key is the checkpoint), records it together with the
//! progress, pauses `breathing_interval` after each `max_execution_time` of work, and writes
//! the manifest last. How a table's rows become streamed parts is in [`super::table`].
//! Must not know HTTP.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use starbase_protocol::{DbError, Value};
use tokio_util::sync::CancellationToken;

use super::contention::Contention;
use super::format::{sqlite_post, sqlite_schema};
use super::model::{JobPlan, PartRecord, UnitKind, key_from_json};
use super::registry::JobRow;
use super::source::{DumpSource, drain};
use super::storage::PartUpload;
use super::{Inner, Progress, now};
use crate::engine::Target;
use crate::error::Error;

/// Why a run ended without completing.
#[derive(Debug)]
pub(super) enum Stop {
    /// The server is shutting down: the job stays `processing` and resumes at the next start.
    Interrupted,
    /// The job failed.
    Failed(DbError),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Failed(e.to_client())
    }
}

impl From<DbError> for Stop {
    fn from(e: DbError) -> Self {
        Stop::Failed(e)
    }
}

/// State of one run.
pub(super) struct Run<'a> {
    pub(super) inner: &'a Inner,
    pub(super) job: &'a JobRow,
    pub(super) plan: JobPlan,
    /// The last recorded part (where the run continues from), and the next part's position.
    pub(super) last: Option<PartRecord>,
    pub(super) next_seq: u64,
    pub(super) progress: Arc<Progress>,
    pub(super) cancel: CancellationToken,
    pub(super) slice_started: Instant,
    pub(super) chunk_size: u64,
    /// Whether live work is holding the dump thread off the CPU (see [`Run::pace`]).
    pub(super) contention: Contention,
    /// The pause after a chunk while it is.
    pub(super) contended_pause: Duration,
}

/// The pause after a chunk while the machine is contended (see [`Run::pace`]), reading the
/// embedded database: its rows are read on the dump's own idle-class threads.
const CONTENDED_PAUSE: Duration = Duration::from_millis(20);

/// The same, reading an external server: each read lets the server's process (at the live
/// queries' priority) produce the next rows, and what raises a p99 is the share of time it
/// runs, which the rate of the dump's reads sets: 1,000-row chunks at one per 100 ms take a
/// PostgreSQL backend about 1 % of a core. Point-select p99 under 8 clients on two cores,
/// the median of ten 2-second phases paired with idle ones: 1.44–1.79× idle at 20 ms a
/// chunk, 1.43–1.49× at 100 ms.
const CONTENDED_PAUSE_EXTERNAL: Duration = Duration::from_millis(100);

/// Runs `job` until it completes, fails or the server stops.
pub(super) async fn run(
    inner: &Inner,
    job: &JobRow,
    progress: Arc<Progress>,
    cancel: CancellationToken,
) -> Result<u64, Stop> {
    let target = inner.engine.resolve(&job.source)?;
    if job.format() == super::model::Format::Sql
        && let Target::External(name) = &target
    {
        return super::external_sql::run(inner, job, name, &target, progress, cancel).await;
    }
    let mut source = tokio::select! {
        s = DumpSource::open(&inner.engine, &target) => s?,
        () = cancel.cancelled() => return Err(Stop::Interrupted),
    };
    let outcome = run_in(inner, job, &target, &mut source, progress, cancel).await;
    source.close().await;
    outcome
}

async fn run_in(
    inner: &Inner,
    job: &JobRow,
    target: &Target,
    source: &mut DumpSource,
    progress: Arc<Progress>,
    cancel: CancellationToken,
) -> Result<u64, Stop> {
    let plan = match &job.plan {
        Some(plan) => plan.clone(),
        None => source.plan(&job.request).await?,
    };
    let mut total = 0;
    for unit in &plan.units {
        total += source.count(unit).await?;
    }
    let mut run = Run::resume(inner, job, target, plan, progress, cancel, total).await?;
    let (first_unit, resume_key, next_part) = run.resume_point();
    for index in first_unit..run.plan.units.len() {
        let (after, part_no) = if index == first_unit {
            (
                resume_key.as_ref().map(key_from_json).transpose()?,
                next_part,
            )
        } else {
            (None, 1)
        };
        run.unit(source, index, after, part_no).await?;
    }
    run.finish().await
}

impl<'a> Run<'a> {
    /// A run continuing after the job's recorded parts. A unit that cannot continue in the
    /// middle (read in one pass, or keyed by a row id valid in one snapshot only: `ctid`, as
    /// plans recorded by earlier versions key PostgreSQL tables without a primary key)
    /// starts again.
    pub(super) async fn resume(
        inner: &'a Inner,
        job: &'a JobRow,
        target: &Target,
        plan: JobPlan,
        progress: Arc<Progress>,
        cancel: CancellationToken,
        total: u64,
    ) -> Result<Run<'a>, Stop> {
        inner.registry.start(&job.id, &plan, total, &now()).await?;
        let mut last = inner.registry.last_part(&job.id).await?;
        let mut spans = inner.registry.unit_spans(&job.id).await?;
        if let Some(p) = &last
            && !p.unit_done
            && plan
                .units
                .get(p.unit)
                .is_some_and(|u| u.key.is_empty() || u.key == ["ctid"])
        {
            let from = spans
                .iter()
                .find(|s| s.unit == p.unit)
                .map_or(0, |s| s.first);
            inner.registry.drop_parts_from(&job.id, from).await?;
            last = inner.registry.last_part(&job.id).await?;
            spans = inner.registry.unit_spans(&job.id).await?;
        }
        let processed: u64 = spans.iter().map(|s| s.rows).sum();
        progress
            .total
            .store(total.max(processed), Ordering::Release);
        progress.processed.store(processed, Ordering::Release);
        let chunk_size = job
            .request
            .chunk_size
            .unwrap_or(inner.config.chunk_size)
            .max(1);
        Ok(Run {
            inner,
            job,
            plan,
            next_seq: last.as_ref().map_or(0, |p| p.seq + 1),
            last,
            progress,
            cancel,
            slice_started: Instant::now(),
            chunk_size,
            contention: Contention::new(Some(inner.live.clone())),
            contended_pause: match target {
                Target::External(_) => CONTENDED_PAUSE_EXTERNAL,
                Target::Internal => CONTENDED_PAUSE,
            },
        })
    }

    /// The unit to continue with, the key to continue after, and the next part's number.
    pub(super) fn resume_point(&self) -> (usize, Option<serde_json::Value>, u64) {
        match &self.last {
            None => (0, None, 1),
            Some(p) if p.unit_done => (p.unit + 1, None, 1),
            Some(p) => (p.unit, p.last_key.clone(), p.part_no + 1),
        }
    }

    async fn unit(
        &mut self,
        source: &mut DumpSource,
        index: usize,
        after: Option<Vec<Value>>,
        part_no: u64,
    ) -> Result<(), Stop> {
        let unit = self.plan.units[index].clone();
        match unit.kind {
            UnitKind::Schema => {
                let bytes = sqlite_schema(&self.plan);
                self.write_part(index, 1, (bytes, 0, 0), 0, None, true)
                    .await
            }
            UnitKind::Post => {
                let sequence = if self.plan.has_sequence {
                    drain(
                        source
                            .query("SELECT name, seq FROM sqlite_sequence".to_owned(), vec![])
                            .await?,
                    )
                    .await?
                } else {
                    Vec::new()
                };
                let bytes = sqlite_post(&self.plan, &sequence);
                self.write_part(index, 1, (bytes, 0, 0), 0, None, true)
                    .await
            }
            UnitKind::Table if unit.key.is_empty() => self.one_pass(source, index).await,
            UnitKind::Table => self.paged(source, index, after, part_no).await,
        }
    }

    /// A new upload for part `part_no` of unit `index`.
    pub(super) fn upload(&self, index: usize, part_no: u64) -> PartUpload {
        self.inner.storage.upload(self.part_path(index, part_no))
    }

    fn part_path(&self, index: usize, part_no: u64) -> object_store::path::Path {
        self.inner.storage.part_path(
            &self.job.id,
            &self.plan.units[index],
            part_no,
            self.job.format().extension(),
        )
    }

    /// Stops for shutdown; pauses after each slice of work, and after each chunk while the
    /// dump thread is kept waiting for a CPU (unless the dumps run at normal priority,
    /// `dump_nice = 0`). The dump thread itself only gets what live queries leave, but the
    /// process it reads from may not: a PostgreSQL backend producing `COPY` output refills
    /// the connection's buffers at normal priority each time the dump reads, so on a busy
    /// machine the reads slow to a chunk per [`CONTENDED_PAUSE_EXTERNAL`], and the source's
    /// backend waits with them. On an idle machine nothing waits and the dump runs at full speed.
    pub(super) async fn pace(&mut self) -> Result<(), Stop> {
        if self.cancel.is_cancelled() {
            return Err(Stop::Interrupted);
        }
        let config = &self.inner.config;
        let slice_over = !config.breathing_interval.is_zero()
            && self.slice_started.elapsed() >= config.max_execution_time;
        let pause = if slice_over {
            config.breathing_interval
        } else if config.nice > 0 && self.contention.contended() {
            self.contended_pause
        } else {
            return Ok(());
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = self.cancel.cancelled() => return Err(Stop::Interrupted),
        }
        if slice_over {
            self.slice_started = Instant::now();
        }
        Ok(())
    }

    /// Writes a small part held in memory (schema, closing statements) to storage, with
    /// retries, then records it.
    pub(super) async fn write_part(
        &mut self,
        unit: usize,
        part_no: u64,
        (bytes, head, tail): (Vec<u8>, u64, u64),
        rows: u64,
        last_key: Option<serde_json::Value>,
        unit_done: bool,
    ) -> Result<(), Stop> {
        let path = self.part_path(unit, part_no);
        let written = tokio::select! {
            r = self.inner.storage.put(&path, &bytes) => r?,
            () = self.cancel.cancelled() => return Err(Stop::Interrupted),
        };
        self.record(
            unit,
            part_no,
            written,
            (head, tail),
            rows,
            last_key,
            unit_done,
        )
        .await
    }

    /// Records a part written to storage and the progress (the checkpoint).
    #[allow(clippy::too_many_arguments)] // One call per way of writing a part.
    pub(super) async fn record(
        &mut self,
        unit: usize,
        part_no: u64,
        (size, sha256): (u64, String),
        (head, tail): (u64, u64),
        rows: u64,
        last_key: Option<serde_json::Value>,
        unit_done: bool,
    ) -> Result<(), Stop> {
        let path = self.part_path(unit, part_no);
        let record = PartRecord {
            seq: self.next_seq,
            unit,
            part_no,
            path: path.to_string(),
            rows,
            bytes: size,
            sha256,
            head,
            tail,
            last_key,
            unit_done,
        };
        self.inner
            .registry
            .record_part(&self.job.id, &record)
            .await?;
        self.progress.bytes.fetch_add(size, Ordering::AcqRel);
        self.next_seq += 1;
        self.last = Some(record);
        Ok(())
    }

    /// Writes the manifest: the dump is complete once it exists. Returns the dump's bytes.
    pub(super) async fn finish(self) -> Result<u64, Stop> {
        tokio::select! {
            r = super::manifest::write(self.inner, self.job, &self.plan, now()) => Ok(r?),
            () = self.cancel.cancelled() => Err(Stop::Interrupted),
        }
    }
}

/// Lowercase hex.
pub(super) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}
