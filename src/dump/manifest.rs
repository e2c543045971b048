//! Writing the manifest, the last object of a dump: its tables with their rows and bytes,
//! then every part with its size and checksum.
//!
//! The sums come from the registry's per-unit spans, and the parts are written a page of
//! records at a time into a streamed upload, so the manifest of a dump with a quarter of a
//! million parts costs no more memory than one with ten. Must not know formats or HTTP.

use starbase_protocol::DbError;

use super::Inner;
use super::model::{JobPlan, ManifestHead, ManifestPart, ManifestTable, PartRecord, UnitKind};
use super::parts::{PAGE_PARTS, UnitSpan};
use super::registry::JobRow;
use super::storage::{PartUpload, Retry, StorageError};
use crate::error::Error;

/// Why one attempt at writing the manifest stopped.
enum Attempt {
    /// The store refused it: worth another attempt.
    Store(DbError),
    /// The registry failed: the job fails.
    Registry(Box<Error>),
}

impl From<StorageError> for Attempt {
    fn from(e: StorageError) -> Self {
        Attempt::Store(e.0)
    }
}

/// The manifest's head: the job, the totals and each table's sums, from `spans`.
fn head(job: &JobRow, plan: &JobPlan, spans: &[UnitSpan], completed_at: String) -> ManifestHead {
    let mut tables: Vec<ManifestTable> = Vec::new();
    for span in spans {
        let Some(unit) = plan.units.get(span.unit) else {
            continue;
        };
        if unit.kind != UnitKind::Table {
            continue;
        }
        match tables.iter_mut().find(|t| t.name == unit.name) {
            Some(t) => {
                t.rows += span.rows;
                t.bytes += span.bytes;
            }
            None => tables.push(ManifestTable {
                name: unit.name.clone(),
                rows: span.rows,
                bytes: span.bytes,
                columns: unit.columns.clone(),
            }),
        }
    }
    ManifestHead {
        version: 1,
        dump_id: job.id.clone(),
        format: job.format(),
        source: job.source.clone(),
        created_at: job.created_at.clone(),
        completed_at,
        total_rows: spans.iter().map(|s| s.rows).sum(),
        total_bytes: spans.iter().map(|s| s.bytes).sum(),
        tables,
        schema: plan.schema.iter().map(|o| o.sql.clone()).collect(),
    }
}

/// A part as the manifest lists it.
fn entry(plan: &JobPlan, p: PartRecord) -> ManifestPart {
    let (kind, table) = plan
        .units
        .get(p.unit)
        .map_or((UnitKind::Table, String::new()), |u| {
            (u.kind, u.name.clone())
        });
    ManifestPart {
        kind,
        table,
        path: p.path,
        rows: p.rows,
        bytes: p.bytes,
        sha256: p.sha256,
        head: p.head,
        tail: p.tail,
    }
}

fn encode<T: serde::Serialize>(value: &T, out: &mut Vec<u8>) -> Result<(), Attempt> {
    serde_json::to_writer(out, value).map_err(|e| {
        Attempt::Registry(Box::new(
            DbError::internal(format!("encoding the manifest: {e}")).into(),
        ))
    })
}

/// The end of the manifest, after the last part.
const CLOSING: &[u8] = b"\n  ]\n}\n";

/// The head as a JSON object without its closing brace, and `parts` opened after it.
fn opening(head: &ManifestHead) -> Result<Vec<u8>, Error> {
    let mut out = serde_json::to_vec_pretty(head)
        .map_err(|e| DbError::internal(format!("encoding the manifest: {e}")))?;
    if out.pop() != Some(b'}') {
        return Err(DbError::internal("encoding the manifest: the head is not an object").into());
    }
    while out.last().is_some_and(u8::is_ascii_whitespace) {
        out.pop();
    }
    out.extend_from_slice(b",\n  \"parts\": [");
    Ok(out)
}

/// Writes the manifest of `job`, retrying the store with backoff; returns the dump's bytes.
///
/// # Errors
/// `58030` once the store refused every attempt; the registry's errors.
pub(super) async fn write(
    inner: &Inner,
    job: &JobRow,
    plan: &JobPlan,
    completed_at: String,
) -> Result<u64, Error> {
    let spans = inner.registry.unit_spans(&job.id).await?;
    let head = head(job, plan, &spans, completed_at);
    let opening = opening(&head)?;
    let path = inner.storage.manifest_path(&job.id);
    let mut retry = Retry::default();
    loop {
        let mut upload = inner.storage.upload(path.clone());
        match attempt(inner, job, plan, &opening, &mut upload).await {
            Ok(()) => match upload.finish().await {
                Ok(_) => return Ok(head.total_bytes),
                Err(StorageError(e)) => retry.after(&path, e).await?,
            },
            Err(Attempt::Store(e)) => {
                upload.abort().await;
                retry.after(&path, e).await?;
            }
            Err(Attempt::Registry(e)) => {
                upload.abort().await;
                return Err(*e);
            }
        }
    }
}

/// Streams the manifest into `upload`: the head, then the parts page by page.
async fn attempt(
    inner: &Inner,
    job: &JobRow,
    plan: &JobPlan,
    opening: &[u8],
    upload: &mut PartUpload,
) -> Result<(), Attempt> {
    upload.write(opening).await?;
    let mut from = 0;
    let mut first = true;
    let mut buf = Vec::new();
    loop {
        let page = inner
            .registry
            .parts_page(&job.id, from, u64::MAX, PAGE_PARTS)
            .await
            .map_err(|e| Attempt::Registry(Box::new(e)))?;
        let full = page.len() as u64 == PAGE_PARTS;
        let Some(last) = page.last().map(|p| p.seq) else {
            break;
        };
        buf.clear();
        for part in page {
            buf.extend_from_slice(if first { b"\n    " } else { b",\n    " });
            first = false;
            encode(&entry(plan, part), &mut buf)?;
        }
        upload.write(&buf).await?;
        if !full {
            break;
        }
        from = last + 1;
    }
    upload.write(CLOSING).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::model::Format;

    fn sample_head() -> ManifestHead {
        ManifestHead {
            version: 1,
            dump_id: "dump_1".into(),
            format: Format::Csv,
            source: "internal".into(),
            created_at: "a".into(),
            completed_at: "b".into(),
            total_rows: 7,
            total_bytes: 9,
            tables: vec![ManifestTable {
                name: "t}".into(),
                rows: 7,
                bytes: 9,
                columns: vec!["a".into()],
            }],
            schema: vec![],
        }
    }

    #[test]
    fn the_manifest_is_one_object_whether_it_has_parts_or_none() {
        let open = opening(&sample_head()).unwrap();
        let empty: serde_json::Value = serde_json::from_slice(&[&open, CLOSING].concat()).unwrap();
        assert_eq!(empty["parts"], serde_json::json!([]));
        assert_eq!(empty["tables"][0]["name"], "t}");
        assert_eq!(empty["totalRows"], 7);

        let mut two = open;
        for (i, sep) in [&b"\n    "[..], &b",\n    "[..]].into_iter().enumerate() {
            two.extend_from_slice(sep);
            let part = ManifestPart {
                kind: UnitKind::Table,
                table: "t}".into(),
                path: format!("p{i}"),
                rows: 1,
                bytes: 2,
                sha256: "00".into(),
                head: 0,
                tail: 0,
            };
            two.extend_from_slice(&serde_json::to_vec(&part).unwrap());
        }
        two.extend_from_slice(CLOSING);
        let v: serde_json::Value = serde_json::from_slice(&two).unwrap();
        assert_eq!(v["parts"][1]["path"], "p1");
        assert_eq!(v["dumpId"], "dump_1");
    }
}
