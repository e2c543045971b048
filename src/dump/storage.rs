//! Where dump parts go: an `object_store` (a directory under the data dir by default, or
//! S3/R2/any S3-compatible endpoint for `s3://bucket/prefix`).
//!
//! Owns building the store from the configuration, object paths
//! (`<prefix>/<job>/<table>/part-00001.<ext>`, `<prefix>/<job>/manifest.json`), streaming a
//! part to the store as it is produced ([`PartUpload`]: its SHA-256 computed on the way,
//! one PUT when it fits in one chunk, else a multipart upload of fixed-size chunks with at
//! most [`MAX_IN_FLIGHT`] uploading at once), and reading byte ranges back. A local part is
//! written to a temporary name (`part-00001.sql#1`) and renamed when complete, an S3 PUT or
//! multipart completion is atomic: an object either exists whole or not at all, and an
//! aborted upload leaves nothing that looks complete. Memory per part: the chunk being
//! filled and the chunks in flight, whatever the part's size. Must not know formats or SQL.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientOptions, GetOptions, GetRange, ObjectStore, PutPayloadMut, RetryConfig,
    WriteMultipart,
};
use starbase_protocol::{DbError, SqlState};
use tokio::sync::oneshot;

use super::model::{Unit, UnitKind};
use crate::config::Config;
use crate::error::Error;

/// Size of one multipart chunk on S3 (its minimum part size is 5 MiB except for the last);
/// a part smaller than this goes up in one PUT.
pub const S3_CHUNK_BYTES: usize = 5 * 1024 * 1024;
/// Size of one chunk written to a local file.
pub const LOCAL_CHUNK_BYTES: usize = 1024 * 1024;
/// Chunks of one part uploading at once, besides the one being filled: one overlaps the
/// upload with rendering. A second made a loopback dump about 10 % faster but cost 10 MiB
/// of peak memory, past the 64 MiB the dump is held to.
pub const MAX_IN_FLIGHT: usize = 1;
/// A chunk is collected in blocks of this size: small allocations are reused at once by the
/// allocator, where chunk-sized ones would be retained between chunks.
const BLOCK_BYTES: usize = 64 * 1024;
/// Attempts at writing one part before the job fails.
pub const PART_ATTEMPTS: u32 = 4;
/// First pause between attempts; doubled each time.
pub const PART_BACKOFF: Duration = Duration::from_millis(500);

/// The dump store.
#[derive(Debug, Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    chunk_bytes: usize,
    part_bytes: usize,
}

/// A write to the store failed (after the store client's own request retries); the part
/// being written is aborted. Carries `58030`.
#[derive(Debug, Clone)]
pub struct StorageError(pub DbError);

fn storage_error(what: &str, e: &dyn std::fmt::Display) -> DbError {
    DbError::new(SqlState::IO_ERROR, format!("dump storage: {what}: {e}"))
}

impl Storage {
    /// The store named by `dump_url` (`s3://bucket/prefix`, a directory, or by default
    /// `<data_dir>/dumps`).
    ///
    /// # Errors
    /// `22023` for a URL that is not `s3://bucket[/prefix]` or a path; `58030` when the
    /// directory cannot be created.
    pub fn from_config(config: &Config) -> Result<Self, Error> {
        let url = config.dump.url.as_deref().unwrap_or_default();
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(DbError::invalid_parameter(
                    "dump_url: s3:// needs a bucket name (s3://bucket/prefix)",
                )
                .into());
            }
            let s3 = &config.dump.s3;
            let mut builder = AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region(s3.region.clone().unwrap_or_else(|| "us-east-1".to_owned()))
                .with_retry(RetryConfig {
                    backoff: BackoffConfig::default(),
                    max_retries: 3,
                    retry_timeout: Duration::from_secs(30),
                })
                .with_client_options(
                    ClientOptions::new()
                        .with_timeout(Duration::from_secs(120))
                        .with_connect_timeout(Duration::from_secs(5)),
                );
            // Over TLS the payload is protected in transit, so its hash is not signed: each
            // chunk is hashed once (for the manifest) instead of twice, and the store does not
            // hash it again to check the signature. AWS's SDKs do the same on HTTPS. A plain
            // HTTP endpoint keeps the signed payload.
            let tls = s3
                .endpoint
                .as_deref()
                .is_none_or(|e| e.starts_with("https://"));
            builder = builder.with_unsigned_payload(tls);
            if let Some(endpoint) = &s3.endpoint {
                builder = builder
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            if let Some(key) = &s3.access_key_id {
                builder = builder.with_access_key_id(key);
            }
            if let Some(secret) = &s3.secret_access_key {
                builder = builder.with_secret_access_key(secret.expose());
            }
            if let Some(token) = &s3.session_token {
                builder = builder.with_token(token.expose());
            }
            let store = builder
                .build()
                .map_err(|e| DbError::invalid_parameter(format!("dump_url: {e}")))?;
            let prefix = Path::parse(prefix.trim_matches('/'))
                .map_err(|e| DbError::invalid_parameter(format!("dump_url prefix: {e}")))?;
            return Ok(Self {
                store: Arc::new(store),
                prefix,
                chunk_bytes: S3_CHUNK_BYTES,
                part_bytes: config
                    .dump
                    .part_bytes
                    .unwrap_or(crate::config::DEFAULT_S3_DUMP_PART_BYTES),
            });
        }
        let dir = match url.strip_prefix("file://") {
            Some(path) => std::path::PathBuf::from(path),
            None if url.is_empty() => config.data_dir.join("dumps"),
            None if url.contains("://") => {
                return Err(DbError::invalid_parameter(format!(
                    "dump_url: \"{url}\" is neither s3://bucket/prefix nor a directory"
                ))
                .into());
            }
            None => std::path::PathBuf::from(url),
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating dump directory {}", dir.display()), e))?;
        let store = LocalFileSystem::new_with_prefix(&dir)
            .map_err(|e| Error::io("opening the dump directory", std::io::Error::other(e)))?;
        Ok(Self {
            store: Arc::new(store),
            prefix: Path::default(),
            chunk_bytes: LOCAL_CHUNK_BYTES,
            part_bytes: config
                .dump
                .part_bytes
                .unwrap_or(crate::config::DEFAULT_DUMP_PART_BYTES),
        })
    }

    /// A part is closed at the first page boundary past this many bytes.
    #[must_use]
    pub fn part_bytes(&self) -> usize {
        self.part_bytes
    }

    fn job_dir(&self, job: &str) -> Path {
        self.prefix.child(job)
    }

    /// The path of part `part_no` of `unit`.
    #[must_use]
    pub fn part_path(&self, job: &str, unit: &Unit, part_no: u64, extension: &str) -> Path {
        let dir = match unit.kind {
            UnitKind::Schema => "@schema".to_owned(),
            UnitKind::Post => "@post".to_owned(),
            UnitKind::Table => encode(&unit.name),
        };
        self.job_dir(job)
            .child(dir.as_str())
            .child(format!("part-{part_no:05}.{extension}").as_str())
    }

    /// Starts streaming the object at `path`; nothing exists there until
    /// [`PartUpload::finish`] succeeds.
    #[must_use]
    pub fn upload(&self, path: Path) -> PartUpload {
        PartUpload {
            store: Arc::clone(&self.store),
            path,
            chunk_bytes: self.chunk_bytes,
            buf: Vec::new(),
            pending: Vec::new(),
            pending_bytes: 0,
            multipart: None,
            gate: None,
            sha: ring::digest::Context::new(&ring::digest::SHA256),
            size: 0,
        }
    }

    /// Writes one small object whole, retrying with backoff.
    ///
    /// # Errors
    /// `58030` naming the path and the store's last error.
    pub async fn put(&self, path: &Path, bytes: &[u8]) -> Result<(u64, String), DbError> {
        let mut retry = Retry::default();
        loop {
            let mut upload = self.upload(path.clone());
            let written = match upload.write(bytes).await {
                Ok(()) => upload.finish().await,
                Err(e) => {
                    upload.abort().await;
                    Err(e)
                }
            };
            match written {
                Ok(done) => return Ok(done),
                Err(StorageError(e)) => retry.after(path, e).await?,
            }
        }
    }

    /// Where the manifest of `job` goes.
    #[must_use]
    pub fn manifest_path(&self, job: &str) -> Path {
        self.job_dir(job).child("manifest.json")
    }

    /// Whether the dump has its manifest (it is complete).
    ///
    /// # Errors
    /// `58030` for a store failure.
    pub async fn has_manifest(&self, job: &str) -> Result<bool, DbError> {
        match self.store.head(&self.manifest_path(job)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(storage_error("reading the manifest", &e)),
        }
    }

    /// Streams bytes `start..end` of the object at `path`.
    pub fn read_range(
        &self,
        path: &str,
        start: u64,
        end: u64,
    ) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        let store = Arc::clone(&self.store);
        let path = Path::parse(path);
        futures::stream::once(async move {
            let path = path.map_err(std::io::Error::other)?;
            let options = GetOptions {
                range: Some(GetRange::Bounded(start..end)),
                ..GetOptions::default()
            };
            let result = store
                .get_opts(&path, options)
                .await
                .map_err(std::io::Error::other)?;
            Ok::<_, std::io::Error>(
                result
                    .into_stream()
                    .map(|r| r.map_err(std::io::Error::other)),
            )
        })
        .map(|r| match r {
            Ok(stream) => stream.boxed(),
            Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
        })
        .flatten()
    }
}

/// The attempts at writing one object: [`PART_ATTEMPTS`], [`PART_BACKOFF`] apart and
/// doubling.
#[derive(Debug)]
pub struct Retry {
    attempt: u32,
    pause: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempt: 1,
            pause: PART_BACKOFF,
        }
    }
}

impl Retry {
    /// After attempt failed with `error`: waits for the next attempt, or returns `error`
    /// once they are used up.
    ///
    /// # Errors
    /// `error`, after the last attempt.
    pub async fn after(&mut self, path: &Path, error: DbError) -> Result<(), DbError> {
        if self.attempt >= PART_ATTEMPTS {
            return Err(error);
        }
        tracing::warn!(%path, attempt = self.attempt, error = %error.message, "writing a dump object failed; retrying");
        tokio::time::sleep(self.pause).await;
        self.pause *= 2;
        self.attempt += 1;
        Ok(())
    }
}

/// One object being streamed to the store (see the module doc). Dropping it unfinished
/// abandons the upload: a local temporary file is removed, an S3 multipart upload is never
/// completed.
pub struct PartUpload {
    store: Arc<dyn ObjectStore>,
    path: Path,
    chunk_bytes: usize,
    /// The block being filled.
    buf: Vec<u8>,
    /// Full blocks not yet handed to an upload (less than a chunk: the object may still
    /// fit one PUT).
    pending: Vec<Bytes>,
    pending_bytes: usize,
    /// Started once the object outgrows one chunk.
    multipart: Option<WriteMultipart>,
    /// Resolves (or is dropped) when the previous part's upload has finished: this one
    /// starts its own chunk uploads only then (see [`PartUpload::after`]).
    gate: Option<oneshot::Receiver<()>>,
    sha: ring::digest::Context,
    size: u64,
}

impl std::fmt::Debug for PartUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartUpload")
            .field("path", &self.path)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl PartUpload {
    fn failed(&self, e: &object_store::Error) -> StorageError {
        StorageError(storage_error(&format!("writing \"{}\"", self.path), e))
    }

    /// Holds this upload's chunks back until `gate` resolves (or its sender is dropped):
    /// a part rendered while the previous one finishes uploading then keeps memory at one
    /// chunk filling and one in flight, as within a part. Bytes collect meanwhile up to one
    /// chunk, as they do before any upload starts.
    #[must_use]
    pub fn after(mut self, gate: oneshot::Receiver<()>) -> Self {
        self.gate = Some(gate);
        self
    }

    /// Bytes written so far.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends `bytes`; waits while [`MAX_IN_FLIGHT`] chunks are uploading.
    ///
    /// # Errors
    /// [`StorageError`] when the store refuses a chunk; the upload should be aborted.
    pub async fn write(&mut self, mut bytes: &[u8]) -> Result<(), StorageError> {
        self.sha.update(bytes);
        self.size += bytes.len() as u64;
        let block = BLOCK_BYTES.min(self.chunk_bytes);
        while !bytes.is_empty() {
            if self.buf.capacity() == 0 {
                self.buf.reserve_exact(block);
            }
            let take = (block - self.buf.len()).min(bytes.len());
            let (head, rest) = bytes.split_at(take);
            self.buf.extend_from_slice(head);
            bytes = rest;
            if self.buf.len() >= block {
                let full = Bytes::from(std::mem::take(&mut self.buf));
                self.send(full).await?;
            }
        }
        Ok(())
    }

    /// Hands a full block on: kept while the object may still fit one PUT, then to the
    /// multipart upload (which starts a chunk upload at each `chunk_bytes`).
    async fn send(&mut self, block: Bytes) -> Result<(), StorageError> {
        if self.multipart.is_none() {
            self.pending_bytes += block.len();
            self.pending.push(block);
            if self.pending_bytes < self.chunk_bytes {
                return Ok(());
            }
            if let Some(gate) = self.gate.take() {
                // Sent or dropped, either way the previous part is no longer uploading.
                let _ = gate.await;
            }
            let upload = self
                .store
                .put_multipart(&self.path)
                .await
                .map_err(|e| self.failed(&e))?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, self.chunk_bytes);
            for block in self.pending.drain(..) {
                writer.put(block);
            }
            self.pending_bytes = 0;
            self.multipart = Some(writer);
            return Ok(());
        }
        let Some(writer) = self.multipart.as_mut() else {
            return Ok(());
        };
        let waited = writer.wait_for_capacity(MAX_IN_FLIGHT).await;
        if let Err(e) = waited {
            return Err(self.failed(&e));
        }
        writer.put(block);
        Ok(())
    }

    /// Completes the object: its size and lowercase hex SHA-256.
    ///
    /// # Errors
    /// [`StorageError`]; the object does not exist then.
    pub async fn finish(mut self) -> Result<(u64, String), StorageError> {
        let last = Bytes::from(std::mem::take(&mut self.buf));
        let done = match self.multipart.take() {
            None => {
                let mut payload = PutPayloadMut::new();
                for block in self.pending.drain(..) {
                    payload.push(block);
                }
                payload.push(last);
                self.store.put(&self.path, payload.freeze()).await.map(drop)
            }
            Some(mut writer) => {
                if !last.is_empty() {
                    if let Err(e) = writer.wait_for_capacity(MAX_IN_FLIGHT).await {
                        drop(writer.abort().await);
                        return Err(self.failed(&e));
                    }
                    writer.put(last);
                }
                writer.finish().await.map(drop)
            }
        };
        done.map_err(|e| self.failed(&e))?;
        let sha = self.sha.clone().finish();
        Ok((self.size, super::run::hex(sha.as_ref())))
    }

    /// Abandons the upload, removing what the store allows (uploaded S3 parts, the local
    /// temporary file).
    pub async fn abort(mut self) {
        if let Some(writer) = self.multipart.take()
            && let Err(e) = writer.abort().await
        {
            tracing::warn!(path = %self.path, error = %e, "aborting a dump upload failed");
        }
    }
}

/// A table name as one path segment: letters, digits, `_`, `-` and inner `.` as they are,
/// every other byte as `=XX`, so names never collide with each other or with `@schema`.
fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, b) in name.bytes().enumerate() {
        let plain = b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && i > 0);
        if plain {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("=00");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_become_distinct_segments() {
        assert_eq!(encode("users"), "users");
        assert_eq!(encode("a/b"), "a=2Fb");
        assert_eq!(encode("@schema"), "=40schema");
        assert_eq!(encode(".."), "=2E.");
        assert_eq!(encode("a=2F"), "a=3D2F");
        assert_ne!(encode("a b"), encode("a_b"));
    }
}
