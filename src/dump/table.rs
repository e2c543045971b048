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
use super::overlap::{RenderPart, Rendered, RenderedPart};
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

impl Run<'_> {
    /// A table with a key: pages of `chunk_size` rows after the last key, parts cut at
    /// page boundaries, each part's finish overlapped with the next part's render and
    /// retried from its first key when the store fails (`overlap`).
    pub(super) async fn paged(
        &mut self,
        source: &mut DumpSource,
        index: usize,
        after: Option<Vec<Value>>,
        part_no: u64,
    ) -> Result<(), Stop> {
        self.overlapped(index, after, part_no, &mut Pages { source, index })
            .await
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
    ) -> Result<Rendered<Option<Vec<Value>>>, PartFail> {
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
        let part_bytes = self.inner.storage.part_bytes();
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
        let part_bytes = self.inner.storage.part_bytes();
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

/// The internal database's keyed parts, for `Run::overlapped`.
struct Pages<'s> {
    source: &'s mut DumpSource,
    index: usize,
}

impl RenderPart<Option<Vec<Value>>> for Pages<'_> {
    async fn render(
        &mut self,
        run: &mut Run<'_>,
        first: Option<Vec<Value>>,
        part_no: u64,
        gate: Option<oneshot::Receiver<()>>,
    ) -> Result<Rendered<Option<Vec<Value>>>, PartFail> {
        run.render_part(self.source, self.index, first, part_no, gate)
            .await
    }
}
