//! Running one dump job: snapshot, plan, units, parts, checkpoints, manifest.
//!
//! Owns the job's loop: it opens one snapshot of the source, fixes the plan at the first run
//! (so a resumed job writes the same units), continues after the last recorded part, reads
//! each table in pages of `chunk_size` rows by key, closes a part once it holds `part_bytes`
//! (at a page boundary, so its last key is the checkpoint), records it together with the
//! progress, pauses `breathing_interval` after each `max_execution_time` of work, and writes
//! the manifest last. A part is streamed to storage as it is rendered; when the store fails
//! mid-part, the upload is aborted and the part is rendered again from its first key (the
//! snapshot still holds the same rows), up to `PART_ATTEMPTS` times. Memory holds one page,
//! the render buffer and the upload's chunks, whatever the table's size. Must not know HTTP.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use starbase_backends::Event;
use starbase_protocol::{DbError, Row, Value};
use tokio_util::sync::CancellationToken;

use super::format::{PartWriter, sqlite_post, sqlite_schema};
use super::model::{
    JobPlan, Manifest, ManifestPart, ManifestTable, PartRecord, UnitKind, key_from_json,
    key_to_json,
};
use super::registry::JobRow;
use super::source::{DumpSource, drain};
use super::storage::{PART_ATTEMPTS, PART_BACKOFF, PartUpload, StorageError};
use super::{Inner, Progress, now};
use crate::error::Error;

/// Rendered bytes are handed to the upload once this many have collected.
pub(super) const DRAIN_BYTES: usize = 128 * 1024;

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

/// Why writing one part stopped: the store (worth another attempt) or anything else.
#[derive(Debug)]
pub(super) enum PartFail {
    /// The store failed; the upload was aborted.
    Storage(DbError),
    /// The run stops.
    Stop(Stop),
}

impl From<StorageError> for PartFail {
    fn from(e: StorageError) -> Self {
        PartFail::Storage(e.0)
    }
}

impl From<Stop> for PartFail {
    fn from(e: Stop) -> Self {
        PartFail::Stop(e)
    }
}

impl From<Error> for PartFail {
    fn from(e: Error) -> Self {
        PartFail::Stop(e.into())
    }
}

impl From<DbError> for PartFail {
    fn from(e: DbError) -> Self {
        PartFail::Stop(e.into())
    }
}

/// Where a part ended: the key to continue after, and whether the unit is done.
type PartEnd = (Option<Vec<Value>>, bool);

/// State of one run.
pub(super) struct Run<'a> {
    pub(super) inner: &'a Inner,
    pub(super) job: &'a JobRow,
    pub(super) plan: JobPlan,
    pub(super) parts: Vec<PartRecord>,
    pub(super) progress: Arc<Progress>,
    pub(super) cancel: CancellationToken,
    pub(super) slice_started: Instant,
    pub(super) chunk_size: u64,
}

/// Runs `job` until it completes, fails or the server stops.
pub(super) async fn run(
    inner: &Inner,
    job: &JobRow,
    progress: Arc<Progress>,
    cancel: CancellationToken,
) -> Result<Manifest, Stop> {
    let target = inner.engine.resolve(&job.source)?;
    if job.format() == super::model::Format::Sql
        && let crate::engine::Target::External(name) = &target
    {
        return super::external_sql::run(inner, job, name, &target, progress, cancel).await;
    }
    let mut source = tokio::select! {
        s = DumpSource::open(&inner.engine, &target) => s?,
        () = cancel.cancelled() => return Err(Stop::Interrupted),
    };
    let outcome = run_in(inner, job, &mut source, progress, cancel).await;
    source.close().await;
    outcome
}

async fn run_in(
    inner: &Inner,
    job: &JobRow,
    source: &mut DumpSource,
    progress: Arc<Progress>,
    cancel: CancellationToken,
) -> Result<Manifest, Stop> {
    let plan = match &job.plan {
        Some(plan) => plan.clone(),
        None => source.plan(&job.request).await?,
    };
    let mut total = 0;
    for unit in &plan.units {
        total += source.count(unit).await?;
    }
    let mut run = Run::resume(inner, job, plan, progress, cancel, total).await?;
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
    /// middle (read in one pass, or keyed by a row id valid in one snapshot only) starts again.
    pub(super) async fn resume(
        inner: &'a Inner,
        job: &'a JobRow,
        plan: JobPlan,
        progress: Arc<Progress>,
        cancel: CancellationToken,
        total: u64,
    ) -> Result<Run<'a>, Stop> {
        inner.registry.start(&job.id, &plan, total, &now()).await?;
        let mut parts = inner.registry.parts(&job.id).await?;
        if let Some(last) = parts.last()
            && !last.unit_done
            && plan
                .units
                .get(last.unit)
                .is_some_and(|u| u.key.is_empty() || u.key == ["ctid"])
        {
            let unit = last.unit;
            let from = parts.iter().find(|p| p.unit == unit).map_or(0, |p| p.seq);
            inner.registry.drop_parts_from(&job.id, from).await?;
            parts.retain(|p| p.seq < from);
        }
        let processed: u64 = parts.iter().map(|p| p.rows).sum();
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
            parts,
            progress,
            cancel,
            slice_started: Instant::now(),
            chunk_size,
        })
    }

    /// The unit to continue with, the key to continue after, and the next part's number.
    pub(super) fn resume_point(&self) -> (usize, Option<serde_json::Value>, u64) {
        match self.parts.last() {
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

    /// A table with a key: pages of `chunk_size` rows after the last key, parts cut at
    /// page boundaries, each part retried from its first key when the store fails.
    async fn paged(
        &mut self,
        source: &mut DumpSource,
        index: usize,
        mut after: Option<Vec<Value>>,
        mut part_no: u64,
    ) -> Result<(), Stop> {
        loop {
            let mut attempt = 1;
            let (next, done) = loop {
                match self.paged_part(source, index, after.clone(), part_no).await {
                    Ok(end) => break end,
                    Err(PartFail::Stop(stop)) => return Err(stop),
                    Err(PartFail::Storage(e)) => self.retry_after(&mut attempt, e).await?,
                }
            };
            if done {
                return Ok(());
            }
            after = next;
            part_no += 1;
        }
    }

    /// Counts a failed attempt at a part: waits before the next one, or fails the run
    /// after `PART_ATTEMPTS`.
    pub(super) async fn retry_after(&mut self, attempt: &mut u32, e: DbError) -> Result<(), Stop> {
        if *attempt >= PART_ATTEMPTS {
            return Err(Stop::Failed(e));
        }
        tracing::warn!(job = %self.job.id, attempt = *attempt, error = %e.message,
            "writing a dump part failed; writing it again");
        let pause = PART_BACKOFF * 2u32.saturating_pow(*attempt - 1);
        *attempt += 1;
        tokio::select! {
            () = tokio::time::sleep(pause) => Ok(()),
            () = self.cancel.cancelled() => Err(Stop::Interrupted),
        }
    }

    /// One part of a keyed table, streamed to storage; on failure the progress it counted
    /// is taken back and the upload aborted.
    async fn paged_part(
        &mut self,
        source: &mut DumpSource,
        index: usize,
        after: Option<Vec<Value>>,
        part_no: u64,
    ) -> Result<PartEnd, PartFail> {
        let mut upload = self.upload(index, part_no);
        let mut counted = 0;
        let result = self
            .paged_into(source, index, after, &mut upload, &mut counted)
            .await;
        match result {
            Ok((writer, end)) => {
                let rows = writer.rows();
                let done = end.1;
                let key = if done {
                    None
                } else {
                    end.0.as_deref().map(key_to_json)
                };
                let (tail_bytes, head, tail) = writer.finish();
                let finished = match upload.write(&tail_bytes).await {
                    Ok(()) => upload.finish().await,
                    Err(e) => {
                        upload.abort().await;
                        Err(e)
                    }
                };
                match finished {
                    Ok(written) => {
                        self.record(index, part_no, written, (head, tail), rows, key, done)
                            .await?;
                        Ok(end)
                    }
                    Err(e) => {
                        self.uncount(counted);
                        Err(e.into())
                    }
                }
            }
            Err(e) => {
                upload.abort().await;
                self.uncount(counted);
                Err(e)
            }
        }
    }

    fn uncount(&self, rows: u64) {
        self.progress.processed.fetch_sub(rows, Ordering::AcqRel);
    }

    /// Renders pages after `after` into `upload` until the part is full or the table ends.
    async fn paged_into(
        &mut self,
        source: &mut DumpSource,
        index: usize,
        mut after: Option<Vec<Value>>,
        upload: &mut PartUpload,
        counted: &mut u64,
    ) -> Result<(PartWriter, PartEnd), PartFail> {
        let unit = self.plan.units[index].clone();
        let key_len = unit.key.len();
        let part_bytes = self.inner.config.part_bytes;
        let mut writer = PartWriter::new(self.job.format(), &unit, DRAIN_BYTES * 2);
        loop {
            self.pace().await?;
            let sql = source.page_sql(&unit, after.is_some(), self.chunk_size);
            let mut stream = source.query(sql, after.clone().unwrap_or_default()).await?;
            let mut page_rows = 0u64;
            let mut last: Option<Row> = None;
            loop {
                match stream.recv().await {
                    Some(Ok(Event::Rows(rows))) => {
                        writer.push(&rows, key_len);
                        let n = rows.len() as u64;
                        page_rows += n;
                        *counted += n;
                        self.progress.processed.fetch_add(n, Ordering::AcqRel);
                        last = rows.into_iter().last().or(last);
                        if writer.buffered().len() >= DRAIN_BYTES {
                            upload.write(writer.buffered()).await?;
                            writer.drain();
                        }
                    }
                    Some(Ok(Event::Finished)) => break,
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(Error::from(e).into()),
                    None => return Err(DbError::internal("the dump's source stopped early").into()),
                }
            }
            if let Some(row) = last {
                after = Some(row.into_iter().take(key_len).collect());
            }
            let done = page_rows < self.chunk_size;
            if done || writer.byte_len() >= part_bytes {
                return Ok((writer, (after, done)));
            }
        }
    }

    /// A table without a key: one streamed pass cut into parts at batch boundaries
    /// (restarted whole on resume; a store failure fails the run).
    async fn one_pass(&mut self, source: &mut DumpSource, index: usize) -> Result<(), Stop> {
        let unit = self.plan.units[index].clone();
        let format = self.job.format();
        let part_bytes = self.inner.config.part_bytes;
        let mut writer = PartWriter::new(format, &unit, DRAIN_BYTES * 2);
        let mut part_no = 1;
        let mut upload = self.upload(index, part_no);
        let mut stream = source
            .query(source.page_sql(&unit, false, 0), vec![])
            .await?;
        loop {
            match stream.recv().await {
                Some(Ok(Event::Rows(rows))) => {
                    // Cut before a batch, never after one: the last part is never empty.
                    if writer.rows() > 0 && writer.byte_len() >= part_bytes {
                        let full = std::mem::replace(
                            &mut writer,
                            PartWriter::new(format, &unit, DRAIN_BYTES * 2),
                        );
                        let next = self.upload(index, part_no + 1);
                        let full_upload = std::mem::replace(&mut upload, next);
                        self.close_part(index, part_no, full, full_upload, false)
                            .await?;
                        part_no += 1;
                    }
                    writer.push(&rows, 0);
                    self.progress
                        .processed
                        .fetch_add(rows.len() as u64, Ordering::AcqRel);
                    if writer.buffered().len() >= DRAIN_BYTES {
                        write_or_abort(&mut upload, writer.buffered()).await?;
                        writer.drain();
                    }
                    self.pace().await?;
                }
                Some(Ok(Event::Finished)) => break,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(Error::from(e).into()),
                None => return Err(DbError::internal("the dump's source stopped early").into()),
            }
        }
        self.close_part(index, part_no, writer, upload, true).await
    }

    /// Finishes a streamed part without a checkpoint key and records it.
    async fn close_part(
        &mut self,
        index: usize,
        part_no: u64,
        writer: PartWriter,
        mut upload: PartUpload,
        unit_done: bool,
    ) -> Result<(), Stop> {
        let rows = writer.rows();
        let (bytes, head, tail) = writer.finish();
        write_or_abort(&mut upload, &bytes).await?;
        let written = upload.finish().await.map_err(|e| Stop::Failed(e.0))?;
        self.record(index, part_no, written, (head, tail), rows, None, unit_done)
            .await
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

    /// Stops for shutdown; pauses after each slice of work.
    pub(super) async fn pace(&mut self) -> Result<(), Stop> {
        if self.cancel.is_cancelled() {
            return Err(Stop::Interrupted);
        }
        let config = &self.inner.config;
        if !config.breathing_interval.is_zero()
            && self.slice_started.elapsed() >= config.max_execution_time
        {
            tokio::select! {
                () = tokio::time::sleep(config.breathing_interval) => {}
                () = self.cancel.cancelled() => return Err(Stop::Interrupted),
            }
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
            seq: self.parts.len() as u64,
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
        self.parts.push(record);
        Ok(())
    }

    /// Writes the manifest: the dump is complete once it exists.
    pub(super) async fn finish(self) -> Result<Manifest, Stop> {
        let mut tables = Vec::new();
        let mut parts = Vec::new();
        for p in &self.parts {
            let unit = &self.plan.units[p.unit];
            if unit.kind == UnitKind::Table {
                match tables
                    .iter_mut()
                    .find(|t: &&mut ManifestTable| t.name == unit.name)
                {
                    Some(t) => {
                        t.rows += p.rows;
                        t.bytes += p.bytes;
                    }
                    None => tables.push(ManifestTable {
                        name: unit.name.clone(),
                        rows: p.rows,
                        bytes: p.bytes,
                        columns: unit.columns.clone(),
                    }),
                }
            }
            parts.push(ManifestPart {
                kind: unit.kind,
                table: unit.name.clone(),
                path: p.path.clone(),
                rows: p.rows,
                bytes: p.bytes,
                sha256: p.sha256.clone(),
                head: p.head,
                tail: p.tail,
            });
        }
        let manifest = Manifest {
            version: 1,
            dump_id: self.job.id.clone(),
            format: self.job.format(),
            source: self.job.source.clone(),
            created_at: self.job.created_at.clone(),
            completed_at: now(),
            total_rows: parts.iter().map(|p| p.rows).sum(),
            total_bytes: parts.iter().map(|p| p.bytes).sum(),
            tables,
            parts,
            schema: self.plan.schema.iter().map(|o| o.sql.clone()).collect(),
        };
        tokio::select! {
            r = self.inner.storage.put_manifest(&manifest) => r?,
            () = self.cancel.cancelled() => return Err(Stop::Interrupted),
        }
        Ok(manifest)
    }
}

/// Writes `bytes` to `upload`; a store failure stops the run (the upload is dropped, which
/// abandons it).
pub(super) async fn write_or_abort(upload: &mut PartUpload, bytes: &[u8]) -> Result<(), Stop> {
    upload.write(bytes).await.map_err(|e| Stop::Failed(e.0))
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
