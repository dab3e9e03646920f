//! The S3 operations: s3s-fs's `FileSystem` does the storing, and this
//! wrapper adds what the endpoint promises on top of it: a signed
//! `x-amz-checksum-sha256` and the declared size are checked *before* a body
//! lands (s3s-fs checks after renaming it into place, and not at all for
//! parts), parts keep their ETag and checksum, completion checks the listed
//! parts, and every write is announced on the bus before the answer leaves.
//!
//! Parts are Ferry's own (s3s-fs only creates and aborts uploads): they
//! are written in place into one staging file per upload, checked and hashed
//! in the same pass, and completion links that file into place
//! (`staging.rs` says how, and when it copies instead).
//!
//! Ferry's own records sit beside s3s-fs's in the data directory as
//! `.ferry-*.json` files (dot files, outside the bucket folder, so listings
//! never show them).

use crate::disk::{durable, io_error, write_durably, write_json};
use crate::events::{self, CreatedReason, RequestMeta, Sequencer};
use crate::staging::{Join, MIN_PART_SIZE, PartRecord, PartWriter, Placement, Staging, Written};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use ferry_core::clock::Clock;
use ferry_core::ports::{Bus, BusEntry};
use futures_core::Stream;
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, ChecksumAlgorithm, ChecksumType,
    CompleteMultipartUploadInput, CompleteMultipartUploadOutput, CopyObjectInput, CopyObjectOutput,
    CreateMultipartUploadInput, CreateMultipartUploadOutput, DeleteObjectInput, DeleteObjectOutput,
    DeleteObjectsInput, DeleteObjectsOutput, ETag, GetBucketLocationInput, GetBucketLocationOutput,
    GetObjectInput, GetObjectOutput, HeadBucketInput, HeadBucketOutput, HeadObjectInput,
    HeadObjectOutput, ListBucketsInput, ListBucketsOutput, ListMultipartUploadsInput,
    ListMultipartUploadsOutput, ListObjectsInput, ListObjectsOutput, ListObjectsV2Input,
    ListObjectsV2Output, ListPartsInput, ListPartsOutput, MultipartUpload, Part, PutObjectInput,
    PutObjectOutput, StorageClass, StreamingBlob, Timestamp, UploadPartInput, UploadPartOutput,
};
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::task::JoinHandle;

/// The upload's own record: which key it creates and since when.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UploadRecord {
    pub key: String,
    /// Unix seconds, from the injected clock.
    pub initiated: i64,
    /// The checksum algorithm the parts carry, when the client named one.
    #[serde(default)]
    pub checksum_algorithm: Option<String>,
}

/// What a completed upload became, so completing it again is idempotent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DoneRecord {
    pub key: String,
    pub etag: String,
}

/// Why a verified body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    BadDigest,
    /// A header-signed body that isn't the one its `x-amz-content-sha256`
    /// names.
    ContentSha256Mismatch,
    TooLong,
    TooShort,
}

/// A body stream that counts and hashes what passes, and fails at the end
/// (before the writer renames its temporary file) when the size or the
/// SHA-256 is not the declared one.
struct Verified {
    inner: StreamingBlob,
    sha: Option<(Sha256, Vec<u8>)>,
    expected_len: Option<u64>,
    seen: u64,
    done: bool,
    fault: Arc<Mutex<Option<Fault>>>,
}

impl Verified {
    fn fail(&mut self, fault: Fault) -> Poll<Option<Result<Bytes, std::io::Error>>> {
        if let Ok(mut slot) = self.fault.lock() {
            *slot = Some(fault);
        }
        self.done = true;
        Poll::Ready(Some(Err(std::io::Error::other(format!("{fault:?}")))))
    }
}

impl Stream for Verified {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(bytes))) => {
                self.seen += bytes.len() as u64;
                if self.expected_len.is_some_and(|n| self.seen > n) {
                    return self.fail(Fault::TooLong);
                }
                if let Some((hasher, _)) = self.sha.as_mut() {
                    hasher.update(&bytes);
                }
                Poll::Ready(Some(Ok(bytes)))
            }
            // s3s checks a header-signed body against its
            // `x-amz-content-sha256` as it streams; its error type is private,
            // so it is known by its message (s3s is pinned, and the
            // endpoint's tests hold this).
            Poll::Ready(Some(Err(e))) if e.to_string().contains("Sha256Mismatch") => {
                self.fail(Fault::ContentSha256Mismatch)
            }
            // The client went away mid-body (a dropped connection): the
            // body is incomplete, the client's doing, not the store's.
            Poll::Ready(Some(Err(_))) => self.fail(Fault::TooShort),
            Poll::Ready(None) => {
                if self.expected_len.is_some_and(|n| self.seen < n) {
                    return self.fail(Fault::TooShort);
                }
                if let Some((hasher, expected)) = self.sha.take()
                    && hasher.finalize().as_slice() != expected.as_slice()
                {
                    return self.fail(Fault::BadDigest);
                }
                self.done = true;
                Poll::Ready(None)
            }
        }
    }
}

/// Wraps `body` in a [`Verified`] stream; returns the shared fault slot.
fn verify_body(
    body: StreamingBlob,
    content_length: Option<i64>,
    checksum_sha256: Option<&str>,
) -> S3Result<(StreamingBlob, Arc<Mutex<Option<Fault>>>)> {
    let sha = match checksum_sha256 {
        Some(b64) => Some((Sha256::new(), checksum_bytes(b64)?.to_vec())),
        None => None,
    };
    let fault = Arc::new(Mutex::new(None));
    let stream = Verified {
        inner: body,
        sha,
        expected_len: content_length.and_then(|n| u64::try_from(n).ok()),
        seen: 0,
        done: false,
        fault: fault.clone(),
    };
    Ok((StreamingBlob::wrap(stream), fault))
}

/// Turns a failed write into the error the client must see: the verifier's
/// verdict when it refused the body, else the backend's own error.
fn body_error(err: S3Error, fault: &Arc<Mutex<Option<Fault>>>) -> S3Error {
    match fault.lock().ok().and_then(|f| *f) {
        Some(fault) => fault_error(fault),
        None => err,
    }
}

/// The error a client sees for a refused body.
fn fault_error(fault: Fault) -> S3Error {
    match fault {
        Fault::BadDigest => s3_error!(
            BadDigest,
            "The SHA256 you specified did not match the calculated checksum."
        ),
        Fault::ContentSha256Mismatch => {
            let mut error = S3Error::with_message(
                S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            );
            error.set_status_code(http::StatusCode::BAD_REQUEST);
            error
        }
        Fault::TooLong => s3_error!(
            InvalidRequest,
            "The body is longer than the declared Content-Length."
        ),
        Fault::TooShort => s3_error!(
            IncompleteBody,
            "You did not provide the number of bytes specified by the Content-Length HTTP header."
        ),
    }
}

/// A checksum header's value as bytes; S3's error for anything but 32
/// bytes of base64.
fn checksum_bytes(b64: &str) -> S3Result<[u8; 32]> {
    STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|raw| <[u8; 32]>::try_from(raw.as_slice()).ok())
        .ok_or_else(|| {
            s3_error!(
                InvalidRequest,
                "Value for x-amz-checksum-sha256 header is invalid."
            )
        })
}

/// A `Content-MD5` header's value as bytes; S3's error for anything but 16
/// bytes of base64.
fn md5_bytes(b64: &str) -> S3Result<[u8; 16]> {
    STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|raw| <[u8; 16]>::try_from(raw.as_slice()).ok())
        .ok_or_else(|| s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid."))
}

/// Why storing a part's body failed: the client's body, or the store.
#[derive(Debug)]
enum PartFailure {
    Body(Fault),
    Store(std::io::Error),
}

/// How much of a part's body is handed to a blocking thread at once.
const BATCH: usize = 1024 * 1024;

/// Streams a part's body into its placement: batches are hashed (SHA-256
/// when `sha`, MD5 when `md5` or not `sha`) and written on a blocking thread while the next
/// batch arrives, so every byte is read from the socket once and passes
/// each hash once, while still in cache. Fails, before anything names the
/// bytes, when the body isn't the declared length or s3s found it unlike
/// its signed `x-amz-content-sha256`.
async fn store_part(
    mut body: StreamingBlob,
    placement: &Placement,
    declared: Option<u64>,
    sha: bool,
    md5: bool,
) -> Result<Written, PartFailure> {
    let (path, offset) = placement.target();
    let opened = tokio::task::spawn_blocking(move || PartWriter::open(&path, offset, sha, md5))
        .await
        .map_err(|e| PartFailure::Store(std::io::Error::other(e)))?
        .map_err(PartFailure::Store)?;
    let mut idle = Some(opened);
    let mut pending: Option<JoinHandle<std::io::Result<PartWriter>>> = None;
    let mut batch = Vec::new();
    let mut batch_len = 0;
    let mut seen = 0_u64;
    let fault = loop {
        match std::future::poll_fn(|cx| Pin::new(&mut body).poll_next(cx)).await {
            Some(Ok(bytes)) => {
                seen += bytes.len() as u64;
                if declared.is_some_and(|n| seen > n) {
                    break Some(Fault::TooLong);
                }
                batch_len += bytes.len();
                batch.push(bytes);
                if batch_len >= BATCH {
                    let next = std::mem::take(&mut batch);
                    batch_len = 0;
                    hand_over(&mut idle, &mut pending, next).await?;
                }
            }
            // See `Verified`: s3s's own error, known by its message.
            Some(Err(e)) if e.to_string().contains("Sha256Mismatch") => {
                break Some(Fault::ContentSha256Mismatch);
            }
            Some(Err(_)) => break Some(Fault::TooShort),
            None => {
                break declared
                    .is_some_and(|n| seen < n)
                    .then_some(Fault::TooShort);
            }
        }
    };
    if let Some(fault) = fault {
        if let Some(job) = pending {
            let _ = job.await;
        }
        return Err(PartFailure::Body(fault));
    }
    if !batch.is_empty() {
        hand_over(&mut idle, &mut pending, batch).await?;
    }
    let writer = match pending {
        Some(job) => job
            .await
            .map_err(|e| PartFailure::Store(std::io::Error::other(e)))?
            .map_err(PartFailure::Store)?,
        None => idle.ok_or_else(|| PartFailure::Store(std::io::Error::other("no writer")))?,
    };
    tokio::task::spawn_blocking(move || writer.finish())
        .await
        .map_err(|e| PartFailure::Store(std::io::Error::other(e)))?
        .map_err(PartFailure::Store)
}

/// Starts writing `batch` once the previous batch is written.
async fn hand_over(
    idle: &mut Option<PartWriter>,
    pending: &mut Option<JoinHandle<std::io::Result<PartWriter>>>,
    batch: Vec<Bytes>,
) -> Result<(), PartFailure> {
    let writer = match pending.take() {
        Some(job) => job
            .await
            .map_err(|e| PartFailure::Store(std::io::Error::other(e)))?
            .map_err(PartFailure::Store)?,
        None => idle
            .take()
            .ok_or_else(|| PartFailure::Store(std::io::Error::other("no writer")))?,
    };
    *pending = Some(tokio::task::spawn_blocking(move || writer.write(batch)));
    Ok(())
}

/// A single PUT, and a part, hold at most 5 GiB, as on S3.
const MAX_PUT_SIZE: i64 = 5 * 1024 * 1024 * 1024;

/// `"abc"` and `abc` name the same ETag.
pub(crate) fn bare_etag(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}

/// The S3 service the endpoint runs: s3s-fs plus Ferry's checks and events.
#[derive(Clone)]
pub(crate) struct FerryS3 {
    fs: Arc<s3s_fs::FileSystem>,
    root: PathBuf,
    bucket: String,
    /// Where clients reach the endpoint (`Location` of a completed upload).
    public_url: String,
    staging: Arc<Staging>,
    bus: Arc<dyn Bus>,
    clock: Arc<dyn Clock>,
    sequencer: Arc<Sequencer>,
}

impl std::fmt::Debug for FerryS3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FerryS3")
            .field("root", &self.root)
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

fn meta_of<T>(req: &S3Request<T>) -> RequestMeta {
    req.extensions
        .get::<RequestMeta>()
        .cloned()
        .unwrap_or_else(RequestMeta::internal)
}

impl FerryS3 {
    /// Opens (and creates) the data directory and the bucket folder in it.
    pub(crate) fn new(
        root: &Path,
        bucket: &str,
        public_url: &str,
        bus: Arc<dyn Bus>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root.join(bucket))?;
        let fs = s3s_fs::FileSystem::new(root)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e:?}", root.display()))?;
        let root = root.canonicalize()?;
        let removed = crate::staging::remove_leftovers(&root)?;
        if removed > 0 {
            tracing::info!(removed, "removed what closed multipart uploads left behind");
        }
        let nanos = u64::try_from(clock.now().unix_timestamp_nanos()).unwrap_or(0);
        Ok(Self {
            fs: Arc::new(fs),
            staging: Arc::new(Staging::new(root.clone())),
            root,
            bucket: bucket.to_owned(),
            public_url: public_url.trim_end_matches('/').to_owned(),
            bus,
            clock,
            sequencer: Arc::new(Sequencer::new(nanos)),
        })
    }

    /// Only the configured bucket exists.
    fn check_bucket(&self, bucket: &str) -> S3Result<()> {
        if bucket == self.bucket {
            Ok(())
        } else {
            Err(s3_error!(NoSuchBucket))
        }
    }

    /// Keys are paths under the bucket folder here, so a key that could
    /// climb out of it or alias another (`..`, `.`, empty segments, a
    /// leading `/`) is refused; Ferry's keys are never like that.
    fn check_object(&self, bucket: &str, key: &str) -> S3Result<()> {
        self.check_bucket(bucket)?;
        let body = key.strip_suffix('/').unwrap_or(key);
        if body.is_empty()
            || body
                .split('/')
                .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        {
            return Err(s3_error!(
                InvalidArgument,
                "This object key is not supported by the local store."
            ));
        }
        Ok(())
    }

    /// The configured bucket's name.
    pub(crate) fn bucket(&self) -> &str {
        &self.bucket
    }

    fn sequencer(&self) -> String {
        let nanos = u64::try_from(self.clock.now().unix_timestamp_nanos()).unwrap_or(0);
        self.sequencer.next(nanos)
    }

    /// Puts one entry on the bus; a refusal becomes 503, so the client
    /// retries (the object may stay; the sweep reconciles).
    async fn emit(&self, entry: BusEntry) -> S3Result<()> {
        self.bus.put(vec![entry]).await.map_err(|e| {
            tracing::warn!(error = %e, "the bus refused an S3 notification");
            s3_error!(ServiceUnavailable, "Service is unable to handle request.")
        })
    }

    async fn emit_created(
        &self,
        bucket: &str,
        key: &str,
        etag: &str,
        meta: &RequestMeta,
        reason: CreatedReason,
    ) -> S3Result<()> {
        let size = match self.object_file(bucket, key) {
            Some(path) => tokio::fs::metadata(&path).await.map_err(io_error)?.len(),
            None => 0,
        };
        let entry = events::object_created(bucket, key, size, etag, self.sequencer(), meta, reason);
        self.emit(entry).await
    }

    /// The file holding `bucket/key`, when the key is a plain relative path
    /// (s3s-fs resolves the same way; this refuses anything that could
    /// climb out instead).
    pub(crate) fn object_file(&self, bucket: &str, key: &str) -> Option<PathBuf> {
        let rel = Path::new(bucket).join(key);
        if rel.components().all(|c| matches!(c, Component::Normal(_))) {
            Some(self.root.join(rel))
        } else {
            None
        }
    }

    fn object_exists(&self, bucket: &str, key: &str) -> bool {
        !key.ends_with('/') && self.object_file(bucket, key).is_some_and(|p| p.is_file())
    }

    fn sidecar(&self, name: String) -> PathBuf {
        self.root.join(name)
    }

    fn upload_record_path(&self, upload_id: &str) -> PathBuf {
        self.sidecar(format!(".ferry-upload-{upload_id}.json"))
    }

    fn done_record_path(&self, upload_id: &str) -> PathBuf {
        self.sidecar(format!(".ferry-done-{upload_id}.json"))
    }

    /// Forgets the records of multipart uploads completed before
    /// `before_unix` (seconds): they let a retried CompleteMultipartUpload
    /// get its first answer, which a client asks for within minutes, not
    /// days. Returns how many went.
    pub(crate) async fn prune_completions(&self, before_unix: i64) -> std::io::Result<usize> {
        let mut pruned = 0;
        let mut entries = tokio::fs::read_dir(&self.root).await?;
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                continue;
            };
            if !(name.starts_with(".ferry-done-") && name.ends_with(".json")) {
                continue;
            }
            let written = entry
                .metadata()
                .await?
                .modified()?
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            if written < before_unix {
                match tokio::fs::remove_file(entry.path()).await {
                    Ok(()) => pruned += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(pruned)
    }

    /// s3s-fs's own marker of an open upload.
    fn upload_open(&self, upload_id: &str) -> bool {
        uuid::Uuid::parse_str(upload_id).is_ok()
            && self.sidecar(format!(".upload-{upload_id}.json")).is_file()
    }

    /// An object's URL, as S3 puts it in `<Location>`: path-style here.
    fn location(&self, bucket: &str, key: &str) -> String {
        format!(
            "{}/{}/{}",
            self.public_url,
            crate::presign::encode_component(bucket),
            crate::presign::encode_path(key)
        )
    }

    /// s3s-fs's record of an object's ETag and checksums.
    fn internal_info_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.sidecar(format!(
            ".bucket-{}.object-{}.internal.json",
            URL_SAFE_NO_PAD.encode(bucket),
            URL_SAFE_NO_PAD.encode(key)
        ))
    }

    fn metadata_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.sidecar(format!(
            ".bucket-{}.object-{}.metadata.json",
            URL_SAFE_NO_PAD.encode(bucket),
            URL_SAFE_NO_PAD.encode(key)
        ))
    }

    /// The attributes (content type, metadata) s3s-fs keeps for an open
    /// upload, which become the object's when it completes.
    fn upload_metadata_path(&self, bucket: &str, key: &str, upload_id: &str) -> PathBuf {
        self.sidecar(format!(
            ".bucket-{}.object-{}.upload-{upload_id}.metadata.json",
            URL_SAFE_NO_PAD.encode(bucket),
            URL_SAFE_NO_PAD.encode(key)
        ))
    }

    async fn write_json<T: Serialize>(&self, path: &Path, value: &T) -> S3Result<()> {
        write_json(path, value).await
    }

    async fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
        let bytes = tokio::fs::read(path).await.ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Refuses, as S3 does with `NoSuchUpload`, an upload that isn't open
    /// or belongs to another key.
    async fn check_upload(&self, upload_id: &str, key: &str) -> S3Result<()> {
        if !self.upload_open(upload_id) {
            return Err(s3_error!(NoSuchUpload));
        }
        match Self::read_json::<UploadRecord>(&self.upload_record_path(upload_id)).await {
            Some(record) if record.key != key => Err(s3_error!(NoSuchUpload)),
            _ => Ok(()),
        }
    }

    /// The open uploads Ferry knows of, oldest first.
    pub(crate) async fn open_uploads(&self) -> S3Result<Vec<(String, UploadRecord)>> {
        let mut out = Vec::new();
        let mut dir = tokio::fs::read_dir(&self.root).await.map_err(io_error)?;
        while let Some(entry) = dir.next_entry().await.map_err(io_error)? {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(id) = name
                .strip_prefix(".ferry-upload-")
                .and_then(|r| r.strip_suffix(".json"))
            else {
                continue;
            };
            if !self.upload_open(id) {
                continue;
            }
            if let Some(record) = Self::read_json::<UploadRecord>(&entry.path()).await {
                out.push((id.to_owned(), record));
            }
        }
        out.sort_by(|a, b| (a.1.initiated, &a.0).cmp(&(b.1.initiated, &b.0)));
        Ok(out)
    }

    /// The stored parts of an open upload, by part number.
    pub(crate) async fn parts(&self, upload_id: &str) -> S3Result<Vec<(i32, PartRecord)>> {
        self.staging.parts(upload_id).await.map_err(io_error)
    }

    /// Removes Ferry's records of an upload, its staging file (only a
    /// name: a completed object keeps its bytes) and the parts in files of
    /// their own (parts a completion didn't list).
    async fn forget_upload(&self, upload_id: &str) {
        self.staging.forget(upload_id);
        let record = self.upload_record_path(upload_id);
        let log = self.staging.log_path(upload_id);
        let ours = format!(".ferry-part-{upload_id}-");
        let theirs = format!(".upload_id-{upload_id}.");
        let root = self.root.clone();
        // One blocking job, not a round trip to the blocking pool per file
        // (an upload of a GiB has 64 part records).
        let _ = tokio::task::spawn_blocking(move || {
            let _ = std::fs::remove_file(record);
            let _ = std::fs::remove_file(log);
            if let Ok(dir) = std::fs::read_dir(&root) {
                for entry in dir.flatten() {
                    if entry
                        .file_name()
                        .to_str()
                        .is_some_and(|n| n.starts_with(&ours) || n.starts_with(&theirs))
                    {
                        let _ = std::fs::remove_file(entry.path());
                    }
                }
            }
        })
        .await;
    }

    /// Refuses, as s3s-fs does, to let anyone but the upload's creator
    /// complete it (s3s-fs records the creator's access key).
    async fn check_creator(
        &self,
        upload_id: &str,
        credentials: Option<&s3s::auth::Credentials>,
    ) -> S3Result<()> {
        let creator: Option<Option<String>> =
            Self::read_json(&self.sidecar(format!(".upload-{upload_id}.json"))).await;
        match creator {
            Some(creator) if creator.as_deref() == credentials.map(|c| c.access_key.as_str()) => {
                Ok(())
            }
            Some(_) => Err(s3_error!(AccessDenied)),
            None => Err(s3_error!(NoSuchUpload)),
        }
    }

    /// The whole object's SHA-256 (base64), when Ferry computed it.
    pub(crate) async fn whole_sha256(&self, bucket: &str, key: &str) -> Option<String> {
        let info: serde_json::Map<String, serde_json::Value> =
            Self::read_json(&self.internal_info_path(bucket, key)).await?;
        info.get(WHOLE_SHA256)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    }

    /// The object's current ETag as s3s-fs recorded it.
    async fn stored_etag(&self, bucket: &str, key: &str) -> Option<String> {
        let info: serde_json::Map<String, serde_json::Value> =
            Self::read_json(&self.internal_info_path(bucket, key)).await?;
        info.get("e_tag")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    }
}

/// Where Ferry keeps, beside s3s-fs's checksums, the whole object's SHA-256
/// (base64): S3's checksum of a multipart object is only a composite of its
/// parts' checksums, which no one can check a download against.
pub(crate) const WHOLE_SHA256: &str = "ferry_sha256";

/// `"0a1b…"` as bytes; `None` unless it is all pairs of hex digits.
fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Copies byte ranges (`file`, offset, length), in order, into `dest`,
/// and, when `hash`, returns the SHA-256 of the whole. The slow way to
/// complete, for uploads whose parts don't sit in their staging slots (parts
/// of different sizes, a listing with gaps): the kernel copies the bytes
/// (`copy_file_range`, which `io::copy` uses between files) while a second
/// thread reads the same ranges for the hash. The object is written to a
/// temporary file, flushed and renamed into place: readers never see half of
/// it, and s3s-fs removes `.tmp.*.internal.part` files left by a crash when
/// it starts.
fn join_parts(
    root: &Path,
    dest: &Path,
    parts: &[(PathBuf, u64, u64)],
    hash: bool,
) -> std::io::Result<Option<[u8; 32]>> {
    use std::io::{Read as _, Seek as _};
    let tmp = root.join(format!(
        ".tmp.ferry-{}.internal.part",
        uuid::Uuid::new_v4().simple()
    ));
    let open = |path: &Path, offset: u64, len: u64| -> std::io::Result<_> {
        let mut file = std::fs::File::open(path)?;
        file.seek(std::io::SeekFrom::Start(offset))?;
        Ok(file.take(len))
    };
    let joined = std::thread::scope(|scope| -> std::io::Result<Option<[u8; 32]>> {
        let hashing = hash.then(|| {
            scope.spawn(|| -> std::io::Result<[u8; 32]> {
                let mut sha = Sha256::new();
                let mut buf = vec![0_u8; 1 << 20];
                for (path, offset, len) in parts {
                    let mut part = open(path, *offset, *len)?;
                    loop {
                        let n = part.read(&mut buf)?;
                        if n == 0 {
                            break;
                        }
                        sha.update(&buf[..n]);
                    }
                }
                Ok(sha.finalize().into())
            })
        });
        let copied = (|| {
            let mut out = std::fs::File::create(&tmp)?;
            for (path, offset, len) in parts {
                let copied = std::io::copy(&mut open(path, *offset, *len)?, &mut out)?;
                if copied != *len {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("{} ends before its part does", path.display()),
                    ));
                }
            }
            out.sync_all()
        })();
        let whole = match hashing {
            Some(job) => Some(
                job.join()
                    .map_err(|_| std::io::Error::other("hashing the parts failed"))??,
            ),
            None => None,
        };
        copied?;
        Ok(whole)
    });
    let placed = joined.and_then(|whole| {
        if let Some(folder) = dest.parent() {
            std::fs::create_dir_all(folder)?;
        }
        std::fs::rename(&tmp, dest)?;
        Ok(whole)
    });
    if placed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    placed
}

/// Makes the staging file the object without copying it: the listed parts
/// in files of their own are copied into their slots, the file is cut to
/// the object's length and flushed, then given the object's name (a second
/// link, so the upload's own name still reaches the bytes until the upload
/// is closed, and completing again after a crash finds them).
fn place_staged(
    root: &Path,
    dest: &Path,
    stage: &Path,
    total: u64,
    promote: &[(PathBuf, u64, u64)],
) -> std::io::Result<()> {
    use std::io::{Read as _, Seek as _};
    let mut file = std::fs::OpenOptions::new().write(true).open(stage)?;
    for (path, offset, len) in promote {
        file.seek(std::io::SeekFrom::Start(*offset))?;
        let copied = std::io::copy(&mut std::fs::File::open(path)?.take(*len), &mut file)?;
        if copied != *len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("{} ends before its part does", path.display()),
            ));
        }
    }
    if file.metadata()?.len() != total {
        file.set_len(total)?;
    }
    // The parts were flushed as they came; this flushes what was copied
    // in or cut off.
    file.sync_data()?;
    let tmp = root.join(format!(
        ".tmp.ferry-{}.internal.part",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::hard_link(stage, &tmp)?;
    let placed = (|| {
        if let Some(folder) = dest.parent() {
            std::fs::create_dir_all(folder)?;
        }
        std::fs::rename(&tmp, dest)
    })();
    // Renaming onto a link to the same file (completing again) leaves the
    // temporary name.
    let _ = std::fs::remove_file(&tmp);
    placed
}

fn md5_hex(bytes: &[u8]) -> String {
    use s3s::crypto::{Checksum as _, Md5};
    let mut md5 = Md5::new();
    md5.update(bytes);
    md5.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[async_trait::async_trait]
impl S3 for FerryS3 {
    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        self.check_object(&req.input.bucket, &req.input.key)?;
        let meta = meta_of(&req);
        let mut req = req;
        if req.input.content_length.is_some_and(|n| n > MAX_PUT_SIZE) {
            return Err(s3_error!(EntityTooLarge));
        }
        let body = req
            .input
            .body
            .take()
            .ok_or_else(|| s3_error!(IncompleteBody))?;
        let (body, fault) = verify_body(
            body,
            req.input.content_length,
            req.input.checksum_sha256.as_deref(),
        )?;
        req.input.body = Some(body);
        let bucket = req.input.bucket.clone();
        let key = req.input.key.clone();
        let out = self
            .fs
            .put_object(req)
            .await
            .map_err(|e| body_error(e, &fault))?;
        let mut written: Vec<PathBuf> = self.object_file(&bucket, &key).into_iter().collect();
        written.push(self.internal_info_path(&bucket, &key));
        written.push(self.metadata_path(&bucket, &key));
        durable(written).await?;
        if !key.ends_with('/') {
            let etag = out
                .output
                .e_tag
                .as_ref()
                .map(ETag::value)
                .unwrap_or_default()
                .to_owned();
            self.emit_created(&bucket, &key, &etag, &meta, CreatedReason::PutObject)
                .await?;
        }
        Ok(out)
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        self.check_object(&req.input.bucket, &req.input.key)?;
        let disposition = req.input.response_content_disposition.clone();
        let content_type = req.input.response_content_type.clone();
        let cache_control = req.input.response_cache_control.clone();
        let mut out = self.fs.get_object(req).await?;
        if disposition.is_some() {
            out.output.content_disposition = disposition;
        }
        if let Some(ct) = content_type.filter(|ct| !ct.is_empty()) {
            out.output.content_type = Some(ct);
        }
        if cache_control.is_some() {
            out.output.cache_control = cache_control;
        }
        Ok(out)
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.check_object(&req.input.bucket, &req.input.key)?;
        self.fs.head_object(req).await
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        if let s3s::dto::CopySource::Bucket { bucket, key, .. } = &req.input.copy_source {
            self.check_object(bucket, key)?;
        }
        self.check_object(&req.input.bucket, &req.input.key)?;
        let meta = meta_of(&req);
        let bucket = req.input.bucket.clone();
        let key = req.input.key.clone();
        let out = self.fs.copy_object(req).await?;
        durable(self.object_file(&bucket, &key).into_iter().collect()).await?;
        let etag = out
            .output
            .copy_object_result
            .as_ref()
            .and_then(|r| r.e_tag.as_ref())
            .map(ETag::value)
            .unwrap_or_default()
            .to_owned();
        self.emit_created(&bucket, &key, &etag, &meta, CreatedReason::CopyObject)
            .await?;
        Ok(out)
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.check_object(&req.input.bucket, &req.input.key)?;
        let meta = meta_of(&req);
        let bucket = req.input.bucket.clone();
        let key = req.input.key.clone();
        let existed = self.object_exists(&bucket, &key);
        let out = self.fs.delete_object(req).await?;
        if existed {
            let _ = tokio::fs::remove_file(self.internal_info_path(&bucket, &key)).await;
            let _ = tokio::fs::remove_file(self.metadata_path(&bucket, &key)).await;
            let entry = events::object_deleted(&bucket, &key, self.sequencer(), &meta);
            self.emit(entry).await?;
        }
        Ok(out)
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        for object in &req.input.delete.objects {
            self.check_object(&req.input.bucket, &object.key)?;
        }
        self.check_bucket(&req.input.bucket)?;
        let meta = meta_of(&req);
        let bucket = req.input.bucket.clone();
        let existing: Vec<String> = req
            .input
            .delete
            .objects
            .iter()
            .map(|o| o.key.clone())
            .filter(|k| self.object_exists(&bucket, k))
            .collect();
        let out = self.fs.delete_objects(req).await?;
        let mut entries = Vec::new();
        for key in existing {
            if !self.object_exists(&bucket, &key) {
                let _ = tokio::fs::remove_file(self.internal_info_path(&bucket, &key)).await;
                let _ = tokio::fs::remove_file(self.metadata_path(&bucket, &key)).await;
                entries.push(events::object_deleted(
                    &bucket,
                    &key,
                    self.sequencer(),
                    &meta,
                ));
            }
        }
        if !entries.is_empty() {
            self.bus.put(entries).await.map_err(|e| {
                tracing::warn!(error = %e, "the bus refused S3 notifications");
                s3_error!(ServiceUnavailable, "Service is unable to handle request.")
            })?;
        }
        Ok(out)
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.check_bucket(&req.input.bucket)?;
        self.fs.head_bucket(req).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.check_bucket(&req.input.bucket)?;
        self.fs.get_bucket_location(req).await
    }

    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        self.fs.list_buckets(req).await
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        self.check_bucket(&req.input.bucket)?;
        self.fs.list_objects(req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.check_bucket(&req.input.bucket)?;
        self.fs.list_objects_v2(req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.check_object(&req.input.bucket, &req.input.key)?;
        let key = req.input.key.clone();
        // S3 answers the checksum algorithm the parts will carry, and that
        // the object's checksum will be a composite of theirs.
        let algorithm = req.input.checksum_algorithm.clone();
        let checksum_type = req.input.checksum_type.clone().or_else(|| {
            algorithm
                .as_ref()
                .map(|_| ChecksumType::from_static(ChecksumType::COMPOSITE))
        });
        let mut out = self.fs.create_multipart_upload(req).await?;
        out.output.checksum_algorithm = algorithm.clone();
        out.output.checksum_type = checksum_type;
        if let Some(id) = out.output.upload_id.as_deref() {
            let record = UploadRecord {
                key,
                initiated: self.clock.unix(),
                checksum_algorithm: algorithm.map(|a| a.as_str().to_owned()),
            };
            self.write_json(&self.upload_record_path(id), &record)
                .await?;
        }
        Ok(out)
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        self.check_object(&req.input.bucket, &req.input.key)?;
        let upload_id = req.input.upload_id.clone();
        let part_number = req.input.part_number;
        if !(1..=10_000).contains(&part_number) {
            return Err(s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive"
            ));
        }
        self.check_upload(&upload_id, &req.input.key).await?;
        self.check_creator(&upload_id, req.credentials.as_ref())
            .await?;
        if req.input.content_length.is_some_and(|n| n > MAX_PUT_SIZE) {
            return Err(s3_error!(EntityTooLarge));
        }
        let checksum = req.input.checksum_sha256.clone();
        let expected = checksum.as_deref().map(checksum_bytes).transpose()?;
        let content_md5 = req
            .input
            .content_md5
            .as_deref()
            .map(md5_bytes)
            .transpose()?;
        let declared = req.input.content_length.and_then(|n| u64::try_from(n).ok());
        let body = req.input.body.ok_or_else(|| s3_error!(IncompleteBody))?;
        let placement = self
            .staging
            .place(&upload_id, part_number, declared)
            .await
            .map_err(io_error)?;
        let stored = store_part(
            body,
            &placement,
            declared,
            expected.is_some(),
            content_md5.is_some(),
        )
        .await;
        let refused = match stored {
            Ok(written) if expected.is_some_and(|e| written.sha256 != Some(e)) => {
                Err(fault_error(Fault::BadDigest))
            }
            Ok(written) if content_md5.is_some_and(|e| written.md5 != Some(e)) => Err(s3_error!(
                BadDigest,
                "The Content-MD5 you specified did not match what we received."
            )),
            Ok(written) => Ok(written),
            Err(PartFailure::Body(fault)) => Err(fault_error(fault)),
            Err(PartFailure::Store(e)) => Err(io_error(e)),
        };
        let written = match refused {
            Ok(written) => written,
            Err(e) => {
                self.staging.abandon(placement).await;
                return Err(e);
            }
        };
        let record = self
            .staging
            .commit(placement, &written, checksum.clone(), self.clock.unix())
            .await?;
        if !self.upload_open(&upload_id) {
            // Completed or aborted while this part streamed in.
            self.forget_upload(&upload_id).await;
            return Err(s3_error!(NoSuchUpload));
        }
        // The whole file's hash goes on in the background, so the answer
        // doesn't wait for it, unless it has fallen behind (the CPU is the
        // limit): then this answer waits, and completion finds little left.
        if self.staging.hash_lag(&upload_id) > crate::staging::MAX_HASH_LAG {
            if let Err(e) = self.staging.advance(&upload_id).await {
                tracing::debug!(error = %e, upload_id, "hashing the upload's parts paused");
            }
        } else {
            let staging = self.staging.clone();
            tokio::spawn(async move {
                if let Err(e) = staging.advance(&upload_id).await {
                    tracing::debug!(error = %e, upload_id, "hashing the upload's parts paused");
                }
            });
        }
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(ETag::Strong(record.etag)),
            checksum_sha256: checksum,
            ..Default::default()
        }))
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        self.check_object(&req.input.bucket, &req.input.key)?;
        let input = req.input;
        self.check_upload(&input.upload_id, &input.key).await?;
        let algorithm = Self::read_json::<UploadRecord>(&self.upload_record_path(&input.upload_id))
            .await
            .and_then(|r| r.checksum_algorithm);
        let after = input.part_number_marker.unwrap_or(0);
        let max = usize::try_from(input.max_parts.unwrap_or(1000)).unwrap_or(1000);
        let all: Vec<_> = self
            .parts(&input.upload_id)
            .await?
            .into_iter()
            .filter(|(n, _)| *n > after)
            .collect();
        let truncated = all.len() > max;
        let parts: Vec<Part> = all
            .into_iter()
            .take(max)
            .map(|(n, p)| Part {
                part_number: Some(n),
                e_tag: Some(ETag::Strong(p.etag)),
                checksum_sha256: p.checksum_sha256,
                size: i64::try_from(p.size).ok(),
                last_modified: p
                    .stored
                    .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
                    .map(Timestamp::from),
                ..Default::default()
            })
            .collect();
        let next = parts.last().and_then(|p| p.part_number);
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            is_truncated: Some(truncated),
            next_part_number_marker: if truncated { next } else { None },
            max_parts: Some(i32::try_from(max).unwrap_or(1000)),
            part_number_marker: input.part_number_marker,
            parts: Some(parts),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            checksum_type: algorithm
                .as_ref()
                .map(|_| ChecksumType::from_static(ChecksumType::COMPOSITE)),
            checksum_algorithm: algorithm.map(ChecksumAlgorithm::from),
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        self.check_object(&req.input.bucket, &req.input.key)?;
        let meta = meta_of(&req);
        let bucket = req.input.bucket.clone();
        let key = req.input.key.clone();
        let upload_id = req.input.upload_id.clone();

        // Completed before? Then answer the object as it is (also when a
        // crash brought the upload's marker back after it was closed).
        let done: Option<DoneRecord> = Self::read_json(&self.done_record_path(&upload_id)).await;
        if let Some(done) = done
            && done.key == key
            && self.object_exists(&bucket, &key)
            && self.stored_etag(&bucket, &key).await.as_deref() == Some(done.etag.as_str())
        {
            // The first answer may have been a 503 from the bus, so
            // announce it again; consumers are idempotent.
            self.emit_created(
                &bucket,
                &key,
                &done.etag,
                &meta,
                CreatedReason::CompleteMultipartUpload,
            )
            .await?;
            // What a crash before the upload was forgotten left (its
            // marker too, which a crash may have brought back).
            let _ = tokio::fs::remove_file(self.sidecar(format!(".upload-{upload_id}.json"))).await;
            let _ =
                tokio::fs::remove_file(self.upload_metadata_path(&bucket, &key, &upload_id)).await;
            self.forget_upload(&upload_id).await;
            return Ok(S3Response::new(CompleteMultipartUploadOutput {
                location: Some(self.location(&bucket, &key)),
                bucket: Some(bucket),
                key: Some(key),
                e_tag: Some(ETag::Strong(done.etag)),
                ..Default::default()
            }));
        }
        self.check_upload(&upload_id, &key).await?;

        let listed = req
            .input
            .multipart_upload
            .as_ref()
            .and_then(|m| m.parts.clone())
            .unwrap_or_default();
        let stored = self.parts(&upload_id).await?;
        let mut sha_concat = Vec::new();
        let mut all_sha = true;
        let mut previous = 0;
        for part in &listed {
            let number = part.part_number.ok_or_else(|| s3_error!(InvalidPart))?;
            if number <= previous {
                return Err(s3_error!(InvalidPartOrder));
            }
            previous = number;
            let Some((_, record)) = stored.iter().find(|(n, _)| *n == number) else {
                return Err(s3_error!(InvalidPart, "Part {number} was not uploaded."));
            };
            // Checked here, before s3s-fs starts consuming part files.
            if listed.last().and_then(|p| p.part_number) != Some(number)
                && record.size < MIN_PART_SIZE
            {
                return Err(s3_error!(EntityTooSmall));
            }
            if let Some(etag) = &part.e_tag
                && bare_etag(etag.value()) != bare_etag(&record.etag)
            {
                return Err(s3_error!(
                    InvalidPart,
                    "Part {number}'s ETag does not match."
                ));
            }
            if let Some(sum) = &part.checksum_sha256
                && record.checksum_sha256.as_deref() != Some(sum.as_str())
            {
                return Err(s3_error!(
                    InvalidPart,
                    "Part {number}'s checksum does not match."
                ));
            }
            match record
                .checksum_sha256
                .as_deref()
                .and_then(|s| STANDARD.decode(s).ok())
            {
                Some(raw) => sha_concat.extend_from_slice(&raw),
                None => all_sha = false,
            }
        }

        self.check_creator(&upload_id, req.credentials.as_ref())
            .await?;
        let object = self
            .object_file(&bucket, &key)
            .ok_or_else(|| s3_error!(InvalidArgument))?;
        if req.input.if_none_match.as_ref().is_some_and(|c| c.is_any()) && object.is_file() {
            return Err(s3_error!(PreconditionFailed, "Object already exists"));
        }
        if let Some(condition) = &req.input.if_match {
            let current = self.stored_etag(&bucket, &key).await;
            let holds = match condition.as_etag() {
                _ if !object.is_file() => false,
                None => condition.is_any(),
                Some(wanted) => {
                    current.as_deref().map(bare_etag) == Some(bare_etag(wanted.value()))
                }
            };
            if !holds {
                return Err(s3_error!(PreconditionFailed, "ETag does not match"));
            }
        }

        let mut numbers = Vec::with_capacity(listed.len());
        let mut md5s = Vec::with_capacity(listed.len() * 16);
        for part in &listed {
            let number = part.part_number.unwrap_or_default();
            let record = stored
                .iter()
                .find(|(n, _)| *n == number)
                .map(|(_, r)| r)
                .ok_or_else(|| s3_error!(InvalidPart))?;
            md5s.extend(
                hex_bytes(bare_etag(&record.etag))
                    .ok_or_else(|| io_error(format!("part {number}'s ETag is not an MD5")))?,
            );
            numbers.push(number);
        }
        // Sealed until this answer: no part goes in place meanwhile.
        let (join, seal) = self
            .staging
            .seal(&upload_id, &numbers)
            .await
            .map_err(io_error)?;
        // A part sent again since the checks above: its new bytes weren't
        // checked against the listing, so this completion stops.
        let unchanged = numbers.iter().zip(&seal.writes).all(|(number, write)| {
            stored
                .iter()
                .find(|(n, _)| n == number)
                .is_some_and(|(_, r)| crate::staging::write_of(r) == *write)
        });
        if !unchanged {
            return Err(s3_error!(
                InvalidPart,
                "A part was sent again while the upload was being completed."
            ));
        }
        let known = self
            .staging
            .whole_sha256(&upload_id, &seal)
            .await
            .map_err(io_error)?;
        let root = self.root.clone();
        let whole = match join {
            Join::InPlace {
                stage,
                total,
                promote,
                beyond,
            } => {
                // Parts past the object's end are discarded by this
                // completion; their records go before their bytes do.
                self.staging
                    .discard(&upload_id, &beyond)
                    .await
                    .map_err(io_error)?;
                let object = object.clone();
                tokio::task::spawn_blocking(move || -> std::io::Result<[u8; 32]> {
                    place_staged(&root, &object, &stage, total, &promote)?;
                    match known {
                        Some(whole) => Ok(whole),
                        // Only when hashing in the background failed.
                        None => {
                            let sha = crate::staging::hash_file(&object, total)?;
                            Ok(sha.finalize().into())
                        }
                    }
                })
                .await
                .map_err(io_error)?
                .map_err(io_error)?
            }
            Join::Copy(sources) => {
                let object = object.clone();
                let joined = tokio::task::spawn_blocking(move || {
                    join_parts(&root, &object, &sources, known.is_none())
                })
                .await
                .map_err(io_error)?
                .map_err(io_error)?;
                known
                    .or(joined)
                    .ok_or_else(|| io_error("the parts were joined without a hash"))?
            }
        };
        // S3's multipart ETag: the MD5 of the parts' MD5s, and their count.
        let etag = format!("{}-{}", md5_hex(&md5s), listed.len());

        // The upload's attributes (its content type) become the object's:
        // copied, so completing again after a crash finds them still.
        let attributes = self.upload_metadata_path(&bucket, &key, &upload_id);
        let metadata = self.metadata_path(&bucket, &key);
        let attributes_bytes = match tokio::fs::read(&attributes).await {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_error(e)),
        };
        let mut info = serde_json::Map::new();
        info.insert("e_tag".into(), etag.clone().into());
        info.insert(WHOLE_SHA256.into(), STANDARD.encode(whole).into());
        let mut output = CompleteMultipartUploadOutput {
            location: Some(self.location(&bucket, &key)),
            bucket: Some(bucket.clone()),
            key: Some(key.clone()),
            e_tag: Some(ETag::Strong(etag.clone())),
            ..Default::default()
        };
        if all_sha && !listed.is_empty() {
            let composite = format!(
                "{}-{}",
                STANDARD.encode(Sha256::digest(&sha_concat)),
                listed.len()
            );
            info.insert("checksum_sha256".into(), composite.clone().into());
            output.checksum_sha256 = Some(composite);
            output.checksum_type = Some(ChecksumType::from_static(ChecksumType::COMPOSITE));
        }
        let done = DoneRecord {
            key: key.clone(),
            etag: etag.clone(),
        };
        let mut records = vec![
            (
                self.internal_info_path(&bucket, &key),
                serde_json::to_vec(&info).map_err(io_error)?,
            ),
            (
                self.done_record_path(&upload_id),
                serde_json::to_vec(&done).map_err(io_error)?,
            ),
        ];
        match attributes_bytes {
            Some(bytes) => records.push((metadata, bytes)),
            None => {
                let _ = tokio::fs::remove_file(&metadata).await;
            }
        }
        // The object's ETag and hash, its attributes and the record of this
        // completion, flushed together, and with them the object's name (its
        // bytes already are). Until the upload is closed, below, a crash
        // leaves it open: completing again finds its parts.
        let folders: Vec<PathBuf> = object.parent().map(Path::to_owned).into_iter().collect();
        tokio::task::spawn_blocking(move || write_durably(records, folders))
            .await
            .map_err(io_error)?
            .map_err(io_error)?;
        // Closed last: a crash before this leaves the upload open and its
        // parts in place, so completing it again builds the same object.
        let _ = tokio::fs::remove_file(self.sidecar(format!(".upload-{upload_id}.json"))).await;
        let _ = tokio::fs::remove_file(&attributes).await;
        self.forget_upload(&upload_id).await;

        self.emit_created(
            &bucket,
            &key,
            &etag,
            &meta,
            CreatedReason::CompleteMultipartUpload,
        )
        .await?;
        Ok(S3Response::new(output))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.check_object(&req.input.bucket, &req.input.key)?;
        let upload_id = req.input.upload_id.clone();
        self.check_upload(&upload_id, &req.input.key).await?;
        let out = self.fs.abort_multipart_upload(req).await?;
        self.forget_upload(&upload_id).await;
        Ok(out)
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        self.check_bucket(&req.input.bucket)?;
        let input = req.input;
        let prefix = input.prefix.clone().unwrap_or_default();
        let uploads: Vec<MultipartUpload> = self
            .open_uploads()
            .await?
            .into_iter()
            .filter(|(_, r)| r.key.starts_with(&prefix))
            .map(|(id, r)| MultipartUpload {
                key: Some(r.key),
                upload_id: Some(id),
                initiated: time::OffsetDateTime::from_unix_timestamp(r.initiated)
                    .ok()
                    .map(Timestamp::from),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: input.prefix,
            is_truncated: Some(false),
            uploads: Some(uploads),
            ..Default::default()
        }))
    }
}
