//! A keyed table's parts with each part's upload finishing while the next one renders.
//!
//! Owns that loop for every source (the internal database's pages and an external source's
//! scans): a part is rendered into its upload by the caller's `render`; its finish (last
//! chunk, multipart completion, local rename) then runs concurrently with the next part's
//! render, whose own chunk uploads wait for it (`PartUpload::after`), so memory stays at one
//! chunk filling and one in flight. Parts are recorded in order, once both are done. When a
//! finish fails, what was rendered since is dropped (its upload aborted, its rows taken back
//! from the progress) and the failed part is rendered again from its first key, up to
//! `PART_ATTEMPTS` times; a failed render is retried the same way. Must not know formats,
//! sources or SQL.

use std::future::Future;
use std::sync::atomic::Ordering;

use tokio::sync::oneshot;

use super::run::{Run, Stop};
use super::storage::PartUpload;
use super::table::PartFail;

/// A part rendered into its upload, which is not finished yet. `K` is the source's key.
pub(super) struct Rendered<K> {
    pub(super) upload: PartUpload,
    /// The key to continue after.
    pub(super) next: K,
    pub(super) part: RenderedPart<K>,
}

/// What recording (or writing again) a rendered part needs.
pub(super) struct RenderedPart<K> {
    pub(super) part_no: u64,
    /// The key the part started after.
    pub(super) first: K,
    /// The checkpoint key (`None` for the table's last part).
    pub(super) key: Option<serde_json::Value>,
    pub(super) rows: u64,
    pub(super) head_tail: (u64, u64),
    /// Rows it added to the progress.
    pub(super) counted: u64,
    /// It is the table's last part.
    pub(super) done: bool,
}

/// Renders one part of a keyed table into its upload, not finished yet.
pub(super) trait RenderPart<K> {
    /// The part `part_no` after key `first`, its chunk uploads held back by `gate` (the
    /// previous part's finish); on failure the upload is aborted and its rows taken back.
    fn render(
        &mut self,
        run: &mut Run<'_>,
        first: K,
        part_no: u64,
        gate: Option<oneshot::Receiver<()>>,
    ) -> impl Future<Output = Result<Rendered<K>, PartFail>> + Send;
}

impl Run<'_> {
    /// Renders the parts of unit `index` from `after`/`part_no` to the table's end with
    /// `parts` (see the module doc).
    pub(super) async fn overlapped<K: Clone + Send>(
        &mut self,
        index: usize,
        mut after: K,
        mut part_no: u64,
        parts: &mut impl RenderPart<K>,
    ) -> Result<(), Stop> {
        let mut attempt = 1;
        let mut finishing: Option<Rendered<K>> = None;
        loop {
            let (settled, rendered) = match finishing.take() {
                None => (None, parts.render(self, after.clone(), part_no, None).await),
                Some(prev) => {
                    let (done_tx, done_rx) = oneshot::channel::<()>();
                    let Rendered { upload, part, .. } = prev;
                    let finish = async move {
                        let finished = upload.finish().await;
                        drop(done_tx);
                        finished
                    };
                    let next = parts.render(self, after.clone(), part_no, Some(done_rx));
                    let (finished, rendered) = tokio::join!(finish, next);
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

    /// Takes `rows` back from the progress (a part that will be rendered again).
    pub(super) fn uncount(&self, rows: u64) {
        self.progress.processed.fetch_sub(rows, Ordering::AcqRel);
    }
}
