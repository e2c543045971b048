//! The download of a finished dump: its parts joined into one file, as byte segments.
//!
//! Owns how parts join: SQL parts follow each other whole; a CSV table is its first part
//! whole and the rest without their header rows; JSON is `{"table": [rows…], …}` built from
//! the parts' rows without their brackets. A `Range` is served by cutting these segments.
//! Must not know HTTP.

use bytes::Bytes;
use futures::StreamExt as _;
use starbase_protocol::{DbError, SqlState};

use super::model::{Format, Manifest, ManifestPart, UnitKind};
use super::storage::Storage;
use crate::frontend::http::render::write_json;

/// A piece of the download.
#[derive(Debug, Clone)]
pub enum Segment {
    /// Bytes written by the gateway.
    Literal(Bytes),
    /// Bytes `start..end` of an object.
    Object {
        /// Object path.
        path: String,
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
}

impl Segment {
    fn len(&self) -> u64 {
        match self {
            Segment::Literal(b) => b.len() as u64,
            Segment::Object { start, end, .. } => end - start,
        }
    }
}

fn body(part: &ManifestPart, skip_head: bool) -> Segment {
    let start = if skip_head { part.head } else { 0 };
    Segment::Object {
        path: part.path.clone(),
        start,
        end: part.bytes,
    }
}

/// The segments of the download of `manifest` (`table`: one table of a CSV dump).
///
/// # Errors
/// `22023` when a CSV dump of several tables is downloaded without `table`, `42P01` for a
/// table the dump does not hold.
pub fn segments(manifest: &Manifest, table: Option<&str>) -> Result<Vec<Segment>, DbError> {
    if let Some(name) = table
        && !manifest.tables.iter().any(|t| t.name == name)
    {
        return Err(DbError::new(
            SqlState::UNDEFINED_TABLE,
            format!("the dump holds no table \"{name}\""),
        ));
    }
    let wanted = |p: &ManifestPart| table.is_none_or(|t| p.kind == UnitKind::Table && p.table == t);
    let parts = manifest.parts.iter().filter(|p| wanted(p));
    match manifest.format {
        Format::Sql => Ok(parts.map(|p| body(p, false)).collect()),
        Format::Csv => {
            let names: Vec<&str> = manifest.tables.iter().map(|t| t.name.as_str()).collect();
            if table.is_none() && names.len() > 1 {
                return Err(DbError::invalid_parameter(format!(
                    "this CSV dump holds {} tables; download one with ?table= ({})",
                    names.len(),
                    names.join(", ")
                )));
            }
            let mut out = Vec::new();
            for (i, p) in parts.enumerate() {
                out.push(body(p, i > 0));
            }
            Ok(out)
        }
        Format::Json => {
            let mut out = vec![Segment::Literal(Bytes::from_static(b"{"))];
            for (i, t) in manifest
                .tables
                .iter()
                .filter(|t| table.is_none_or(|n| n == t.name))
                .enumerate()
            {
                let mut head = Vec::new();
                if i > 0 {
                    head.push(b',');
                }
                head.push(b'\n');
                write_json(&mut head, &t.name);
                head.extend_from_slice(b":[");
                out.push(Segment::Literal(Bytes::from(head)));
                let mut first = true;
                for p in manifest
                    .parts
                    .iter()
                    .filter(|p| p.kind == UnitKind::Table && p.table == t.name)
                {
                    if p.rows == 0 {
                        continue;
                    }
                    out.push(Segment::Literal(Bytes::from_static(if first {
                        b"\n"
                    } else {
                        b",\n"
                    })));
                    first = false;
                    out.push(Segment::Object {
                        path: p.path.clone(),
                        start: p.head,
                        end: p.bytes - p.tail,
                    });
                }
                out.push(Segment::Literal(Bytes::from_static(if first {
                    b"]"
                } else {
                    b"\n]"
                })));
            }
            out.push(Segment::Literal(Bytes::from_static(b"\n}\n")));
            Ok(out)
        }
    }
}

/// Total bytes of `segments`.
#[must_use]
pub fn total_len(segments: &[Segment]) -> u64 {
    segments.iter().map(Segment::len).sum()
}

/// Streams bytes `from..to` of the joined segments.
pub fn stream(
    storage: &Storage,
    segments: Vec<Segment>,
    from: u64,
    to: u64,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let mut pieces = Vec::new();
    let mut offset = 0u64;
    for segment in segments {
        let len = segment.len();
        let (seg_start, seg_end) = (offset, offset + len);
        offset = seg_end;
        let (a, b) = (from.max(seg_start), to.min(seg_end));
        if a >= b {
            continue;
        }
        let (a, b) = (a - seg_start, b - seg_start);
        pieces.push(match segment {
            Segment::Literal(bytes) => {
                let (a, b) = (
                    usize::try_from(a).unwrap_or(0),
                    usize::try_from(b).unwrap_or(0),
                );
                futures::stream::once(async move { Ok(bytes.slice(a..b)) }).boxed()
            }
            Segment::Object { path, start, .. } => {
                storage.read_range(&path, start + a, start + b).boxed()
            }
        });
    }
    futures::stream::iter(pieces).flatten()
}
