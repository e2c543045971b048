//! Asynchronous, chunked, resumable dumps (`POST /export/dump`) of any source to object
//! storage.
//!
//! Layout:
//! - this file: `DumpService` (submit, status, resume, download, start-up resume, shutdown)
//!   and the running-job table that enforces `max_concurrent`;
//! - [`model`]: formats, requests, parts, manifest; [`registry`]: jobs and checkpoints in
//!   the metadata database, [`parts`]: the recorded parts read back a page at a time;
//!   `manifest`: the manifest, streamed from them; [`source`]: the snapshot and its keyset pages;
//!   [`format`]: rendering parts; [`storage`]: `object_store`; [`run`]: one job's loop;
//!   `table`: a table's rows into streamed parts;
//!   [`download`]: joining parts for the download; [`callback`]: signed callbacks;
//!   `external_sql`: SQL dumps of external sources in their own dialect; [`runtime`]: the
//!   low-priority thread every job runs on.
//!
//! Must not know HTTP types: the frontend turns requests into calls here.

pub mod callback;
mod contention;
pub mod download;
mod external_sql;
pub mod format;
mod manifest;
pub mod model;
mod overlap;
pub mod parts;
pub mod registry;
mod run;
pub mod runtime;
pub mod source;
pub mod storage;
mod table;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use starbase_protocol::{DbError, SqlState};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, DumpConfig};
use crate::engine::Engine;
use crate::error::Error;
use crate::meta::MetaDb;
use model::{DumpRequest, JobStatus};
use registry::{JobRow, Registry};
use storage::Storage;

/// Live progress of a running job.
#[derive(Debug, Default)]
pub struct Progress {
    /// Rows to dump.
    pub total: AtomicU64,
    /// Rows read so far.
    pub processed: AtomicU64,
    /// Bytes of the parts written so far in this run.
    pub bytes: AtomicU64,
    /// Set once the job has stopped, before its end is recorded: its slot counts as free
    /// from then on, so a client told "completed" can start the next dump at once.
    pub ended: AtomicBool,
}

/// Whether `max` jobs that have not ended are in `running`.
fn at_capacity(running: &HashMap<String, Arc<Progress>>, max: u64) -> bool {
    let live = running
        .values()
        .filter(|p| !p.ended.load(Ordering::Acquire))
        .count();
    live as u64 >= max
}

/// Why a dump was not accepted.
#[derive(Debug)]
pub enum SubmitError {
    /// Too many dumps are running; try again after this many seconds.
    Busy(u64),
    /// A bad request or a failure, with its SQLSTATE.
    Rejected(Error),
}

impl From<Error> for SubmitError {
    fn from(e: Error) -> Self {
        SubmitError::Rejected(e)
    }
}

impl From<DbError> for SubmitError {
    fn from(e: DbError) -> Self {
        SubmitError::Rejected(e.into())
    }
}

/// Seconds a refused client is told to wait (`Retry-After`).
const RETRY_AFTER_SECS: u64 = 10;

/// The dump service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DumpService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    engine: Engine,
    registry: Registry,
    storage: Storage,
    config: DumpConfig,
    callback_key: Vec<u8>,
    running: Mutex<HashMap<String, Arc<Progress>>>,
    tracker: TaskTracker,
    cancel: CancellationToken,
    http: reqwest::Client,
    runtime: runtime::DumpRuntime,
    /// The runtime serving live requests (the one the service is opened on), whose busy time
    /// tells a job that queries are being served (`contention`).
    live: tokio::runtime::RuntimeMetrics,
}

/// Now, RFC 3339 with milliseconds, UTC.
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A new progress key: `dump_YYYYMMDD-HHMMSS-` and 12 random hex digits.
fn new_key() -> String {
    let random: u64 = rand::random();
    format!(
        "dump_{}-{:012x}",
        chrono::Utc::now().format("%Y%m%d-%H%M%S"),
        random & 0xffff_ffff_ffff
    )
}

/// A key as clients may send it (so it can be used in SQL parameters and paths safely).
fn valid_key(key: &str) -> bool {
    key.starts_with("dump_")
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl DumpService {
    /// Opens the registry and the store.
    ///
    /// # Errors
    /// The metadata database's errors; `22023`/`58030` for a bad `dump_url`.
    pub async fn open(config: &Config, engine: Engine, meta: MetaDb) -> Result<Self, Error> {
        let registry = Registry::open(meta).await?;
        let storage = Storage::from_config(config)?;
        let callback_key = config
            .dump
            .callback_secret
            .as_ref()
            .or(config.admin_token.as_ref())
            .map(|s| s.expose().as_bytes().to_vec())
            .unwrap_or_default();
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| Error::io("building the callback client", std::io::Error::other(e)))?;
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                registry,
                storage,
                config: config.dump.clone(),
                callback_key,
                running: Mutex::new(HashMap::new()),
                tracker: TaskTracker::new(),
                cancel: CancellationToken::new(),
                http,
                runtime: runtime::DumpRuntime::start(config.dump.nice)?,
                live: tokio::runtime::Handle::current().metrics(),
            }),
        })
    }

    /// Starts again every job a stop interrupted.
    ///
    /// # Errors
    /// The metadata database's errors.
    pub async fn resume_unfinished(&self) -> Result<(), Error> {
        for job in self.inner.registry.unfinished().await? {
            tracing::info!(job = %job.id, "resuming an interrupted dump");
            let progress = Arc::new(Progress::default());
            self.running().insert(job.id.clone(), Arc::clone(&progress));
            self.spawn(job, progress);
        }
        Ok(())
    }

    fn running(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Progress>>> {
        self.inner
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Accepts a dump of `source` and starts it; returns its progress key.
    ///
    /// # Errors
    /// `Busy` when `max_concurrent` dumps run; `22023` for a bad request (callback URL,
    /// chunk size, tables).
    pub async fn submit(
        &self,
        request: DumpRequest,
        source: &str,
        base_url: &str,
    ) -> Result<String, SubmitError> {
        if let Some(url) = &request.callback_url {
            callback::check_url(url, self.inner.config.allow_http_callbacks)?;
        }
        if request.chunk_size == Some(0) {
            return Err(DbError::invalid_parameter("chunkSize must be a positive number").into());
        }
        if request.tables.as_ref().is_some_and(Vec::is_empty) {
            return Err(DbError::invalid_parameter("tables must name at least one table").into());
        }
        let progress = Arc::new(Progress::default());
        let key = {
            let mut running = self.running();
            if at_capacity(&running, self.inner.config.max_concurrent) {
                return Err(SubmitError::Busy(RETRY_AFTER_SECS));
            }
            let key = new_key();
            running.insert(key.clone(), Arc::clone(&progress));
            key
        };
        let created = now();
        let inserted = self
            .inner
            .registry
            .insert(&key, &request, source, &created, base_url)
            .await;
        match inserted {
            Ok(true) => {}
            Ok(false) => {
                self.running().remove(&key);
                return Err(DbError::internal("a dump key was generated twice").into());
            }
            Err(e) => {
                self.running().remove(&key);
                return Err(e.into());
            }
        }
        let job = self
            .inner
            .registry
            .get(&key)
            .await?
            .ok_or_else(|| DbError::internal("a new dump job vanished"))?;
        self.spawn(job, progress);
        Ok(key)
    }

    /// Starts a failed job again from its last checkpoint.
    ///
    /// # Errors
    /// `42704` for an unknown key; `55000` for a job that is not failed; `Busy` as for
    /// [`DumpService::submit`].
    pub async fn resume(&self, key: &str) -> Result<(), SubmitError> {
        let job = self.job(key).await?;
        if job.status != JobStatus::Failed {
            return Err(DbError::new(
                object_not_in_prerequisite_state(),
                format!("dump \"{key}\" is {}, not failed", job.status.as_str()),
            )
            .into());
        }
        let progress = Arc::new(Progress::default());
        {
            let mut running = self.running();
            if running.contains_key(key) {
                return Ok(());
            }
            if at_capacity(&running, self.inner.config.max_concurrent) {
                return Err(SubmitError::Busy(RETRY_AFTER_SECS));
            }
            running.insert(key.to_owned(), Arc::clone(&progress));
        }
        if let Err(e) = self.inner.registry.requeue(key).await {
            self.running().remove(key);
            return Err(e.into());
        }
        self.spawn(job, progress);
        Ok(())
    }

    async fn job(&self, key: &str) -> Result<JobRow, Error> {
        let not_found = || {
            Error::from(DbError::new(
                SqlState::UNDEFINED_OBJECT,
                format!("dump \"{key}\" not found"),
            ))
        };
        if !valid_key(key) {
            return Err(not_found());
        }
        self.inner.registry.get(key).await?.ok_or_else(not_found)
    }

    fn spawn(&self, job: JobRow, progress: Arc<Progress>) {
        let service = self.clone();
        let on = self.inner.runtime.handle().clone();
        self.inner.tracker.spawn_on(async move {
            let inner = &service.inner;
            let cancel = inner.cancel.child_token();
            let outcome = run::run(inner, &job, Arc::clone(&progress), cancel).await;
            progress.ended.store(true, Ordering::Release);
            let finished = match &outcome {
                Ok(bytes) => Some((Ok(()), *bytes)),
                Err(run::Stop::Failed(e)) => {
                    tracing::warn!(job = %job.id, error = %e, "dump failed");
                    Some((Err(e.clone()), 0))
                }
                Err(run::Stop::Interrupted) => None,
            };
            if let Some((result, size)) = finished {
                let completed_at = now();
                if let Err(e) = inner
                    .registry
                    .finish(&job.id, result.as_ref().map(|_| ()), &completed_at)
                    .await
                {
                    tracing::error!(job = %job.id, error = %e, "recording the end of a dump failed");
                }
                service.running().remove(&job.id);
                if let Some(url) = &job.request.callback_url {
                    let body = callback_body(&job, &result, size, &completed_at);
                    callback::deliver(&inner.http, url, &inner.callback_key, &body, &inner.cancel)
                        .await;
                }
            } else {
                service.running().remove(&job.id);
            }
        }, &on);
    }

    /// The status of a job: `{status, progress{…}, error?}` and a few more fields.
    ///
    /// # Errors
    /// `42704` for an unknown key.
    pub async fn status(&self, key: &str) -> Result<serde_json::Value, Error> {
        let job = self.job(key).await?;
        let live = self.running().get(key).cloned();
        let (total, processed) = match (&live, job.status) {
            (Some(p), JobStatus::Processing | JobStatus::Pending) => (
                p.total.load(Ordering::Acquire),
                p.processed.load(Ordering::Acquire),
            ),
            _ => (job.total_rows, job.processed_rows),
        };
        // A total may be an estimate (`DumpSource::count`): never below the rows dumped.
        let total = total.max(processed);
        let percent = match job.status {
            JobStatus::Completed => 100,
            _ if total == 0 => 0,
            // Rounded down, so 100 only once the manifest is written.
            _ => (processed.min(total) * 100 / total).min(99),
        };
        let estimated = estimate(job.started_at.as_deref(), processed, total, job.status);
        let mut body = serde_json::json!({
            "status": job.status.as_str(),
            "progressKey": job.id,
            "format": job.format().extension(),
            "source": job.source,
            "progress": {
                "totalRows": total,
                "processedRows": processed,
                "percentComplete": percent,
                "bytes": job.bytes,
                "startedAt": job.started_at,
                "estimatedCompletion": estimated,
            },
            "createdAt": job.created_at,
        });
        if let Some(completed) = &job.completed_at {
            body["completedAt"] = completed.clone().into();
        }
        if job.status == JobStatus::Completed {
            body["size"] = job.bytes.into();
            body["downloadUrl"] = download_path(&job).into();
        }
        if let Some(e) = &job.error {
            body["error"] = e.message.clone().into();
            body["code"] = e.code.as_str().into();
        }
        Ok(body)
    }

    /// The download of a completed job as `key.extension` (`table`: one of its tables).
    ///
    /// # Errors
    /// `42704` for an unknown key or another format's extension; `55000` when it is not
    /// completed; as [`download::Download::open`].
    pub async fn download(
        &self,
        key: &str,
        extension: &str,
        table: Option<&str>,
    ) -> Result<download::Download, Error> {
        let job = self.job(key).await?;
        let not_complete =
            |why: String| Error::from(DbError::new(object_not_in_prerequisite_state(), why));
        if job.status != JobStatus::Completed {
            return Err(not_complete(format!(
                "dump \"{key}\" is {}, not completed",
                job.status.as_str()
            )));
        }
        let format = job.format().extension();
        if extension != format {
            return Err(DbError::new(
                SqlState::UNDEFINED_OBJECT,
                format!("dump \"{key}\" is in {format} format: download {key}.{format}"),
            )
            .into());
        }
        if !self.inner.storage.has_manifest(key).await? {
            return Err(not_complete(format!(
                "dump \"{key}\" has no manifest in storage"
            )));
        }
        let plan = job
            .plan
            .as_ref()
            .ok_or_else(|| DbError::internal("a completed dump has no plan"))?;
        download::Download::open(
            self.inner.registry.clone(),
            self.inner.storage.clone(),
            key,
            job.format(),
            plan,
            table,
        )
        .await
    }

    /// Stops every running job at its next page (they resume at the next start) and waits.
    pub async fn shutdown(&self) {
        self.inner.cancel.cancel();
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
    }
}

/// `55000 object_not_in_prerequisite_state`.
fn object_not_in_prerequisite_state() -> SqlState {
    SqlState::parse("55000").unwrap_or(SqlState::INTERNAL_ERROR)
}

fn download_path(job: &JobRow) -> String {
    format!(
        "/export/dump/download/{}.{}",
        job.id,
        job.format().extension()
    )
}

fn callback_body(
    job: &JobRow,
    result: &Result<(), DbError>,
    size: u64,
    completed_at: &str,
) -> serde_json::Value {
    let mut body = serde_json::json!({
        "status": if result.is_ok() { "completed" } else { "failed" },
        "dumpId": job.id,
        "downloadUrl": format!("{}{}", job.base_url, download_path(job)),
        "format": job.format().extension(),
        "size": size,
        "completedAt": completed_at,
    });
    if let Err(e) = result {
        body["error"] = e.message.clone().into();
        body["code"] = e.code.as_str().into();
        body["downloadUrl"] = serde_json::Value::Null;
    }
    body
}

/// When the job should end at its current pace.
fn estimate(
    started: Option<&str>,
    processed: u64,
    total: u64,
    status: JobStatus,
) -> Option<String> {
    if status != JobStatus::Processing || processed == 0 || total == 0 {
        return None;
    }
    let started = chrono::DateTime::parse_from_rfc3339(started?).ok()?;
    let elapsed = chrono::Utc::now().signed_duration_since(started);
    let ms = elapsed.num_milliseconds().max(0);
    let rest = i64::try_from(total.saturating_sub(processed)).ok()?;
    let rest_ms = ms.checked_mul(rest)? / i64::try_from(processed).ok()?;
    let at = chrono::Utc::now() + chrono::Duration::milliseconds(rest_ms);
    Some(at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}
