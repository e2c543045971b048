//! The job's recorded parts, read back from the registry a page at a time: the last one
//! (the resume point), each unit's span of positions and sums, and pages of records.
//!
//! A dump's parts are as many as its size over the part size (a terabyte in 4 MiB parts
//! is a quarter of a million records), so nothing here reads them all at once: the manifest
//! and the download walk them through [`Registry::parts_page`]. Must not know formats,
//! storage or HTTP.

use starbase_protocol::{DbError, ExecMode, Row, Value};

use super::model::PartRecord;
use super::registry::{Registry, int, text};
use crate::error::Error;

/// Part records read per page by the manifest and the download (a few hundred KiB).
pub const PAGE_PARTS: u64 = 1024;

/// One unit's recorded parts: their positions, which follow each other (a unit's parts are
/// written one after another, and a unit that starts again drops its parts first), and sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitSpan {
    /// Index of the unit in the plan.
    pub unit: usize,
    /// Position of its first part.
    pub first: u64,
    /// Position of its last part.
    pub last: u64,
    /// Its parts.
    pub parts: u64,
    /// Data rows in them.
    pub rows: u64,
    /// Bytes in them.
    pub bytes: u64,
}

fn damaged() -> Error {
    DbError::internal("a dump part record is damaged").into()
}

fn record(row: &Row) -> Result<PartRecord, Error> {
    match row.first() {
        Some(Value::Text(t)) => serde_json::from_str(t).map_err(|_| damaged()),
        _ => Err(damaged()),
    }
}

fn count(row: &Row, i: usize) -> Result<u64, Error> {
    match row.get(i) {
        Some(Value::Int(v)) => u64::try_from(*v).map_err(|_| damaged()),
        _ => Err(damaged()),
    }
}

impl Registry {
    /// The job's last recorded part.
    ///
    /// # Errors
    /// The metadata database's errors; `XX000` for a damaged record.
    pub async fn last_part(&self, id: &str) -> Result<Option<PartRecord>, Error> {
        let rows = self
            .run(
                ExecMode::Single,
                vec![(
                    "SELECT record FROM dump_parts WHERE job = $1 ORDER BY seq DESC LIMIT 1",
                    vec![text(id)],
                )],
            )
            .await?;
        rows.first().map(record).transpose()
    }

    /// Each unit with recorded parts, in the order of its first part.
    ///
    /// # Errors
    /// The metadata database's errors; `XX000` for a damaged record.
    pub async fn unit_spans(&self, id: &str) -> Result<Vec<UnitSpan>, Error> {
        let rows = self
            .run(
                ExecMode::Single,
                vec![(
                    "SELECT json_extract(record, '$.unit'), min(seq), max(seq), count(*), \
                     sum(json_extract(record, '$.rows')), sum(json_extract(record, '$.bytes')) \
                     FROM dump_parts WHERE job = $1 GROUP BY 1 ORDER BY 2",
                    vec![text(id)],
                )],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(UnitSpan {
                    unit: usize::try_from(count(row, 0)?).map_err(|_| damaged())?,
                    first: count(row, 1)?,
                    last: count(row, 2)?,
                    parts: count(row, 3)?,
                    rows: count(row, 4)?,
                    bytes: count(row, 5)?,
                })
            })
            .collect()
    }

    /// At most `limit` parts at positions `from..=to`, in order.
    ///
    /// # Errors
    /// The metadata database's errors; `XX000` for a damaged record.
    pub async fn parts_page(
        &self,
        id: &str,
        from: u64,
        to: u64,
        limit: u64,
    ) -> Result<Vec<PartRecord>, Error> {
        let rows = self
            .run(
                ExecMode::Single,
                vec![(
                    "SELECT record FROM dump_parts WHERE job = $1 AND seq >= $2 AND seq <= $3 \
                     ORDER BY seq LIMIT $4",
                    vec![text(id), int(from), int(to), int(limit)],
                )],
            )
            .await?;
        rows.iter().map(record).collect()
    }
}
