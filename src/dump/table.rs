//! A table's rows into parts, streamed to storage as they are rendered.
//!
//! Owns the table loops of a run: a keyed table is read in pages of `chunk_size` rows after
//! the last key and cut into parts at page boundaries once a part holds `part_bytes`; a
//! part's upload finishes while the next part renders (its completion, a multipart join on
//! S3, is off the critical path), and parts are recorded in order; when the store fails
//! mid-part or at a part's finish, the upload is aborted, the progress it (and anything
//! rendered after it) counted taken back and the part rendered again from its first key
//! (the snapshot still holds the same rows), up to `PART_ATTEMPTS` times. A table without a key is one streamed query cut into parts at
//! batch boundaries (a store failure fails the run; the resumed run starts that table
//! again). Memory holds one page, the render buffer and the upload's chunks, whatever the
//! table's size. Must not know HTTP or the manifest.

use std::sync::atomic::Ordering;

use starbase_backends::Event;
use starbase_protocol::{DbError, Row, Value};
use tokio::sync::oneshot;

use super::format::PartWriter;
use super::model::key_to_json;
use super::run::{Run, Stop};
use super::source::DumpSource;
use super::storage::{PART_ATTEMPTS, PART_BACKOFF, PartUpload, StorageError};
use crate::error::Error;

/// Rendered bytes are handed to the upload once this many have collected.
const DRAIN_BYTES: usize = 128 * 1024;

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

/// A keyed part rendered into its upload, which is not finished yet.
struct Rendered {
    upload: PartUpload,
    /// The key to continue after.
    next: Option<Vec<Value>>,
    part: RenderedPart,
}

/// What recording (or writing again) a rendered part needs.
struct RenderedPart {
    part_no: u64,
    /// The key the part started after (`None`: the table's start).
    first: Option<Vec<Value>>,
    /// The checkpoint key (`None` for the table's last part).
    key: Option<serde_json::Value>,
    rows: u64,
    head_tail: (u64, u64),
    /// Rows it added to the progress.
    counted: u64,
    /// It is the table's last part.
    done: bool,
}

impl Run<'_> {
    /// A table with a key: pages of `chunk_size` rows after the last key, parts cut at
    /// page boundaries, each part retried from its first key when the store fails. A part's
    /// upload finishes (its last chunk, the multipart completion, the rename) while the next
    /// part renders; the next part's own uploads wait for it (`PartUpload::after`), and the
    /// part is recorded, in order, once both are done. When the finish fails, what was
    /// rendered since is dropped and the failed part is written again.
    pub(super) async fn paged(
        &mut self,
        source: &mut DumpSource,
        index: usize,
        mut after: Option<Vec<Value>>,
        mut part_no: u64,
    ) -> Result<(), Stop> {
        let mut attempt = 1;
        let mut finishing: Option<Rendered> = None;
        loop {
            let (settled, rendered) = match finishing.take() {
                None => {
                    let rendered = self
                        .render_part(source, index, after.clone(), part_no, None)
                        .await;
                    (None, rendered)
                }
                Some(prev) => {
                    let (done_tx, done_rx) = oneshot::channel::<()>();
                    let Rendered { upload, part, .. } = prev;
                    let finish = async move {
                        let finished = upload.finish().await;
                        drop(done_tx);
                        finished
                    };
                    let render =
                        self.render_part(source, index, after.clone(), part_no, Some(done_rx));
                    let (finished, rendered) = tokio::join!(finish, render);
                    (Some((finished, part)), rendered)
                }
            };
            if let Some((finished, prev)) = settled {
                match finished {
                    Ok(written) => {
                        self.record(
                            index,
                            prev.part_no,
                            written,
                            prev.head_tail,
                            prev.rows,
                            prev.key,
                            false,
                        )
                        .await?;
                        attempt = 1;
                    }
                    Err(e) => {
                        self.uncount(prev.counted);
                        match rendered {
                            Ok(r) => {
                                self.uncount(r.part.counted);
                                r.upload.abort().await;
                            }
                            Err(PartFail::Stop(stop)) => return Err(stop),
                            Err(PartFail::Storage(_)) => {}
                        }
                        self.retry_after(&mut attempt, e.0).await?;
                        after = prev.first;
                        part_no = prev.part_no;
                        continue;
                    }
                }
            }
            let rendered = match rendered {
                Ok(rendered) => rendered,
                Err(PartFail::Stop(stop)) => return Err(stop),
                Err(PartFail::Storage(e)) => {
                    self.retry_after(&mut attempt, e).await?;
                    continue;
                }
            };
            if !rendered.part.done {
                after.clone_from(&rendered.next);
                part_no += 1;
                finishing = Some(rendered);
                continue;
            }
            // The table's last part: nothing left to overlap its finish with.
            let Rendered { upload, part, .. } = rendered;
            match upload.finish().await {
                Ok(written) => {
                    return self
                        .record(
                            index,
                            part.part_no,
                            written,
                            part.head_tail,
                            part.rows,
                            None,
                            true,
                        )
                        .await;
                }
                Err(e) => {
                    self.uncount(part.counted);
                    self.retry_after(&mut attempt, e.0).await?;
                }
            }
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

    /// Renders one part of a keyed table into its upload, not finished yet; on failure the
    /// progress it counted is taken back and the upload aborted. With `gate`, the upload's
    /// chunks wait for the previous part's finish.
    async fn render_part(
        &mut self,
        source: &mut DumpSource,
        index: usize,
        after: Option<Vec<Value>>,
        part_no: u64,
        gate: Option<oneshot::Receiver<()>>,
    ) -> Result<Rendered, PartFail> {
        let mut upload = self.upload(index, part_no);
        if let Some(gate) = gate {
            upload = upload.after(gate);
        }
        let mut counted = 0;
        let result = self
            .paged_into(source, index, after.clone(), &mut upload, &mut counted)
            .await;
        let (writer, (next, done)) = match result {
            Ok(rendered) => rendered,
            Err(e) => {
                upload.abort().await;
                self.uncount(counted);
                return Err(e);
            }
        };
        let rows = writer.rows();
        let key = if done {
            None
        } else {
            next.as_deref().map(key_to_json)
        };
        let (tail_bytes, head, tail) = writer.finish();
        if let Err(e) = upload.write(&tail_bytes).await {
            upload.abort().await;
            self.uncount(counted);
            return Err(e.into());
        }
        Ok(Rendered {
            upload,
            next,
            part: RenderedPart {
                part_no,
                first: after,
                key,
                rows,
                head_tail: (head, tail),
                counted,
                done,
            },
        })
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
    pub(super) async fn one_pass(
        &mut self,
        source: &mut DumpSource,
        index: usize,
    ) -> Result<(), Stop> {
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
}

/// Writes `bytes` to `upload`; a store failure stops the run (the upload is dropped, which
/// abandons it).
async fn write_or_abort(upload: &mut PartUpload, bytes: &[u8]) -> Result<(), Stop> {
    upload.write(bytes).await.map_err(|e| Stop::Failed(e.0))
}
