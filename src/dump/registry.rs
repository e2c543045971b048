//! The job registry: dump jobs and their finished parts, persisted in the gateway's
//! metadata database (`dump_jobs`, `dump_parts`).
//!
//! Owns the tables and every statement on them. A part and the job's progress are recorded
//! in one transaction, so the checkpoint never claims a part that is not recorded, nor the
//! reverse. Reading the parts back is in [`super::parts`]. Must not know formats, storage
//! or HTTP.

use starbase_backends::Event;
use starbase_backends::sqlite::ExecOptions;
use starbase_protocol::{DbError, Dialect, ExecMode, Params, Plan, Row, Statement, Value};

use super::model::{DumpRequest, Format, JobPlan, JobStatus, PartRecord};
use crate::error::Error;
use crate::meta::MetaDb;

const CREATE: &str = "CREATE TABLE IF NOT EXISTS dump_jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    format TEXT NOT NULL,
    source TEXT NOT NULL,
    request TEXT NOT NULL,
    plan TEXT,
    total_rows INTEGER NOT NULL DEFAULT 0,
    processed_rows INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    started_at TEXT,
    completed_at TEXT,
    error TEXT,
    error_code TEXT,
    base_url TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS dump_parts (
    job TEXT NOT NULL REFERENCES dump_jobs(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (job, seq)
);";

/// A stored job.
#[derive(Debug, Clone)]
pub struct JobRow {
    /// The progress key.
    pub id: String,
    /// Its status.
    pub status: JobStatus,
    /// What was asked.
    pub request: DumpRequest,
    /// The source's name.
    pub source: String,
    /// The plan, once the first run fixed it.
    pub plan: Option<JobPlan>,
    /// Rows to dump.
    pub total_rows: u64,
    /// Rows in recorded parts.
    pub processed_rows: u64,
    /// Bytes in recorded parts.
    pub bytes: u64,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, at the first run.
    pub started_at: Option<String>,
    /// RFC 3339, when completed or failed.
    pub completed_at: Option<String>,
    /// Why it failed.
    pub error: Option<DbError>,
    /// `scheme://host` the job was submitted to, for the callback's download URL.
    pub base_url: String,
}

impl JobRow {
    /// The job's format.
    #[must_use]
    pub fn format(&self) -> Format {
        self.request.format
    }
}

/// The registry over the metadata database.
#[derive(Debug, Clone)]
pub struct Registry {
    meta: MetaDb,
}

pub(super) fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

pub(super) fn int(n: u64) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn json<T: serde::Serialize>(v: &T) -> Value {
    Value::Text(serde_json::to_string(v).unwrap_or_default())
}

impl Registry {
    /// Creates the tables when missing.
    ///
    /// # Errors
    /// The metadata database's errors.
    pub async fn open(meta: MetaDb) -> Result<Self, Error> {
        let registry = Self { meta };
        registry
            .run(ExecMode::Batch, vec![(CREATE, vec![])])
            .await?;
        Ok(registry)
    }

    /// Runs statements (each with its parameters) and returns the rows of all of them.
    pub(super) async fn run(
        &self,
        mode: ExecMode,
        steps: Vec<(&str, Vec<Value>)>,
    ) -> Result<Vec<Row>, Error> {
        let plan = Plan {
            mode,
            steps: steps
                .into_iter()
                .map(|(sql, params)| {
                    let params = if params.is_empty() {
                        Params::None
                    } else {
                        Params::Positional(params)
                    };
                    Statement::new(sql, Dialect::Sqlite, params)
                })
                .collect(),
        };
        let mut stream = self
            .meta
            .backend()
            .execute(plan, ExecOptions::default())
            .await?;
        let mut rows = Vec::new();
        loop {
            match stream.recv().await {
                Some(Ok(Event::Rows(batch))) => rows.extend(batch),
                Some(Ok(Event::Finished)) => return Ok(rows),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Err(DbError::internal("the metadata database stopped").into()),
            }
        }
    }

    /// Inserts a new job; `false` when the key is taken.
    ///
    /// # Errors
    /// The metadata database's errors.
    pub async fn insert(
        &self,
        id: &str,
        request: &DumpRequest,
        source: &str,
        created_at: &str,
        base_url: &str,
    ) -> Result<bool, Error> {
        let rows = self
            .run(
                ExecMode::Single,
                vec![(
                    "INSERT INTO dump_jobs (id, status, format, source, request, created_at, base_url) \
                     VALUES ($1, 'pending', $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING RETURNING id",
                    vec![
                        text(id),
                        text(request.format.extension()),
                        text(source),
                        json(request),
                        text(created_at),
                        text(base_url),
                    ],
                )],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    /// One job.
    ///
    /// # Errors
    /// The metadata database's errors.
    pub async fn get(&self, id: &str) -> Result<Option<JobRow>, Error> {
        let rows = self
            .run(
                ExecMode::Single,
                vec![(&format!("{SELECT_JOB} WHERE id = $1"), vec![text(id)])],
            )
            .await?;
        rows.first().map(parse_job).transpose()
    }

    /// Jobs a stop interrupted (`pending` or `processing`), oldest first.
    ///
    /// # Errors
    /// The metadata database's errors.
    pub async fn unfinished(&self) -> Result<Vec<JobRow>, Error> {
        let rows = self
            .run(
                ExecMode::Single,
                vec![(
                    &format!(
                        "{SELECT_JOB} WHERE status IN ('pending', 'processing') ORDER BY created_at, id"
                    ),
                    vec![],
                )],
            )
            .await?;
        rows.iter().map(parse_job).collect()
    }

    /// Marks the job running with its plan and total (the start time is kept from the first run).
    ///
    /// # Errors
    /// The metadata database's errors.
    pub async fn start(
        &self,
        id: &str,
        plan: &JobPlan,
        total: u64,
        now: &str,
    ) -> Result<(), Error> {
        self.run(
            ExecMode::Single,
            vec![(
                "UPDATE dump_jobs SET status = 'processing', plan = $2, total_rows = $3, \
                 started_at = coalesce(started_at, $4), error = NULL, error_code = NULL, \
                 completed_at = NULL WHERE id = $1",
                vec![text(id), json(plan), int(total), text(now)],
            )],
        )
        .await?;
        Ok(())
    }

    /// Records the rows the job has to dump, once counted.
    ///
    /// # Errors
    /// The metadata database's errors.
    pub async fn set_total(&self, id: &str, total: u64) -> Result<(), Error> {
        self.run(
            ExecMode::Single,
            vec![(
                "UPDATE dump_jobs SET total_rows = $2 WHERE id = $1",
                vec![text(id), int(total)],
            )],
        )
        .await?;
        Ok(())
    }

    /// Marks a failed job `pending` again (it is about to be resumed).
    ///
    /// # Errors
    /// The metadata database's errors.
    pub async fn requeue(&self, id: &str) -> Result<(), Error> {
        self.run(
            ExecMode::Single,
            vec![(
                "UPDATE dump_jobs SET status = 'pending', error = NULL, error_code = NULL, \
                 completed_at = NULL WHERE id = $1",
                vec![text(id)],
            )],
        )
        .await?;
        Ok(())
    }

    /// Records a finished part and the job's progress in one transaction (the checkpoint).
    ///
    /// # Errors
    /// The metadata database's errors.
    pub async fn record_part(&self, id: &str, part: &PartRecord) -> Result<(), Error> {
        self.run(
            ExecMode::Transaction,
            vec![
                (
                    "INSERT OR REPLACE INTO dump_parts (job, seq, record) VALUES ($1, $2, $3)",
                    vec![text(id), int(part.seq), json(part)],
                ),
                (
                    "UPDATE dump_jobs SET processed_rows = processed_rows + $2, \
                     bytes = bytes + $3 WHERE id = $1",
                    vec![text(id), int(part.rows), int(part.bytes)],
                ),
            ],
        )
        .await?;
        Ok(())
    }

    /// Forgets the parts from `seq` on (a unit read in one pass restarts from its beginning).
    ///
    /// # Errors
    /// The metadata database's errors.
    pub async fn drop_parts_from(&self, id: &str, seq: u64) -> Result<(), Error> {
        self.run(
            ExecMode::Transaction,
            vec![
                (
                    "DELETE FROM dump_parts WHERE job = $1 AND seq >= $2",
                    vec![text(id), int(seq)],
                ),
                (
                    "UPDATE dump_jobs SET \
                     processed_rows = (SELECT coalesce(sum(json_extract(record, '$.rows')), 0) FROM dump_parts WHERE job = $1), \
                     bytes = (SELECT coalesce(sum(json_extract(record, '$.bytes')), 0) FROM dump_parts WHERE job = $1) \
                     WHERE id = $1",
                    vec![text(id)],
                ),
            ],
        )
        .await?;
        Ok(())
    }

    /// Ends the job: `completed`, its total then the rows it dumped (the total it had may
    /// have been an estimate, or counted in another snapshot), or `failed` with the error.
    ///
    /// # Errors
    /// The metadata database's errors.
    pub async fn finish(
        &self,
        id: &str,
        outcome: Result<(), &DbError>,
        now: &str,
    ) -> Result<(), Error> {
        let (status, error, code) = match outcome {
            Ok(()) => ("completed", Value::Null, Value::Null),
            Err(e) => ("failed", text(e.message.clone()), text(e.code.as_str())),
        };
        self.run(
            ExecMode::Single,
            vec![(
                "UPDATE dump_jobs SET status = $2, error = $3, error_code = $4, completed_at = $5, \
                 total_rows = CASE WHEN $2 = 'completed' THEN processed_rows ELSE total_rows END \
                 WHERE id = $1",
                vec![text(id), text(status), error, code, text(now)],
            )],
        )
        .await?;
        Ok(())
    }
}

const SELECT_JOB: &str = "SELECT id, status, request, source, plan, total_rows, processed_rows, \
     bytes, created_at, started_at, completed_at, error, error_code, base_url FROM dump_jobs";

fn parse_job(row: &Row) -> Result<JobRow, Error> {
    let bad = || Error::from(DbError::internal("a dump job record is damaged"));
    let t = |i: usize| match row.get(i) {
        Some(Value::Text(s)) => Some(s.clone()),
        _ => None,
    };
    let n = |i: usize| match row.get(i) {
        Some(Value::Int(v)) => u64::try_from(*v).unwrap_or(0),
        _ => 0,
    };
    let status = t(1).and_then(|s| JobStatus::parse(&s)).ok_or_else(bad)?;
    let request: DumpRequest = serde_json::from_str(&t(2).ok_or_else(bad)?).map_err(|_| bad())?;
    let plan = match t(4) {
        Some(p) => Some(serde_json::from_str(&p).map_err(|_| bad())?),
        None => None,
    };
    let error = match (t(11), t(12)) {
        (Some(message), Some(code)) => Some(DbError::new(
            starbase_protocol::SqlState::parse(&code)
                .unwrap_or(starbase_protocol::SqlState::INTERNAL_ERROR),
            message,
        )),
        _ => None,
    };
    Ok(JobRow {
        id: t(0).ok_or_else(bad)?,
        status,
        request,
        source: t(3).unwrap_or_default(),
        plan,
        total_rows: n(5),
        processed_rows: n(6),
        bytes: n(7),
        created_at: t(8).unwrap_or_default(),
        started_at: t(9),
        completed_at: t(10),
        error,
        base_url: t(13).unwrap_or_default(),
    })
}
