//! The S3 operations: s3s-fs's `FileSystem` does the storing, and this
//! wrapper adds what the endpoint promises on top of it: a signed
//! `x-amz-checksum-sha256` and the declared size are checked *before* a body
//! lands (s3s-fs checks after renaming it into place, and not at all for
//! parts), parts keep their ETag and checksum, completion checks the listed
//! parts, and every write is announced on the bus before the answer leaves.
//!
//! Ferry's own records sit beside s3s-fs's in the data directory as
//! `.ferry-*.json` files (dot files, outside the bucket folder, so listings
//! never show them).

use crate::events::{self, CreatedReason, RequestMeta, Sequencer};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use ferry_core::clock::Clock;
use ferry_core::ports::{Bus, BusEntry};
use futures_core::Stream;
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CompleteMultipartUploadInput,
    CompleteMultipartUploadOutput, CopyObjectInput, CopyObjectOutput, CreateMultipartUploadInput,
    CreateMultipartUploadOutput, DeleteObjectInput, DeleteObjectOutput, DeleteObjectsInput,
    DeleteObjectsOutput, ETag, GetBucketLocationInput, GetBucketLocationOutput, GetObjectInput,
    GetObjectOutput, HeadBucketInput, HeadBucketOutput, HeadObjectInput, HeadObjectOutput,
    ListBucketsInput, ListBucketsOutput, ListMultipartUploadsInput, ListMultipartUploadsOutput,
    ListObjectsInput, ListObjectsOutput, ListObjectsV2Input, ListObjectsV2Output, ListPartsInput,
    ListPartsOutput, MultipartUpload, Part, PutObjectInput, PutObjectOutput, StreamingBlob,
    Timestamp, UploadPartInput, UploadPartOutput,
};
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// The upload's own record: which key it creates and since when.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct UploadRecord {
    pub key: String,
    /// Unix seconds, from the injected clock.
    pub initiated: i64,
}

/// A stored part's ETag, checksum and size.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PartRecord {
    pub etag: String,
    pub checksum_sha256: Option<String>,
    pub size: u64,
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
        Some(b64) => {
            let expected = STANDARD.decode(b64.trim()).map_err(|_| {
                s3_error!(
                    InvalidRequest,
                    "Value for x-amz-checksum-sha256 header is invalid."
                )
            })?;
            if expected.len() != 32 {
                return Err(s3_error!(
                    InvalidRequest,
                    "Value for x-amz-checksum-sha256 header is invalid."
                ));
            }
            Some((Sha256::new(), expected))
        }
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
        Some(Fault::BadDigest) => s3_error!(
            BadDigest,
            "The SHA256 you specified did not match the calculated checksum."
        ),
        Some(Fault::ContentSha256Mismatch) => {
            let mut error = S3Error::with_message(
                S3ErrorCode::Custom("XAmzContentSHA256Mismatch".into()),
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            );
            error.set_status_code(http::StatusCode::BAD_REQUEST);
            error
        }
        Some(Fault::TooLong) => s3_error!(
            InvalidRequest,
            "The body is longer than the declared Content-Length."
        ),
        Some(Fault::TooShort) => s3_error!(
            IncompleteBody,
            "You did not provide the number of bytes specified by the Content-Length HTTP header."
        ),
        None => err,
    }
}

/// A single PUT, and a part, hold at most 5 GiB, as on S3.
const MAX_PUT_SIZE: i64 = 5 * 1024 * 1024 * 1024;

/// Every part but the last must be at least 5 MiB, as on S3.
const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

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

fn io_error(e: impl std::fmt::Display) -> S3Error {
    S3Error::with_message(S3ErrorCode::InternalError, e.to_string())
}

/// Flushes files and the folders that name them to disk: an answered write
/// survives a power cut, as S3's answer promises. (s3s-fs only renames its
/// temporary file into place.) Missing files are skipped.
async fn durable(paths: Vec<PathBuf>) -> S3Result<()> {
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut folders = std::collections::BTreeSet::new();
        for path in &paths {
            if let Ok(file) = std::fs::File::open(path) {
                file.sync_all()?;
            }
            if let Some(folder) = path.parent() {
                folders.insert(folder.to_owned());
            }
        }
        for folder in folders {
            if let Ok(handle) = std::fs::File::open(&folder) {
                handle.sync_all()?;
            }
        }
        Ok(())
    })
    .await
    .map_err(io_error)?
    .map_err(io_error)
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
        bus: Arc<dyn Bus>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root.join(bucket))?;
        let fs = s3s_fs::FileSystem::new(root)
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e:?}", root.display()))?;
        let root = root.canonicalize()?;
        let nanos = u64::try_from(clock.now().unix_timestamp_nanos()).unwrap_or(0);
        Ok(Self {
            fs: Arc::new(fs),
            root,
            bucket: bucket.to_owned(),
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

    fn part_record_path(&self, upload_id: &str, part_number: i32) -> PathBuf {
        self.sidecar(format!(".ferry-part-{upload_id}-{part_number}.json"))
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

    fn part_file(&self, upload_id: &str, part_number: i32) -> PathBuf {
        self.sidecar(format!(".upload_id-{upload_id}.part-{part_number}"))
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
        let bytes = serde_json::to_vec(value).map_err(io_error)?;
        let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::write(&tmp, bytes).await.map_err(io_error)?;
        durable(vec![tmp.clone()]).await?;
        tokio::fs::rename(&tmp, path).await.map_err(io_error)?;
        durable(vec![path.to_owned()]).await
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
        let prefix = format!(".upload_id-{upload_id}.part-");
        let mut out = Vec::new();
        let mut dir = tokio::fs::read_dir(&self.root).await.map_err(io_error)?;
        while let Some(entry) = dir.next_entry().await.map_err(io_error)? {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(Ok(number)) = name.strip_prefix(&prefix).map(str::parse::<i32>) else {
                continue;
            };
            let record = match Self::read_json::<PartRecord>(
                &self.part_record_path(upload_id, number),
            )
            .await
            {
                Some(r) => r,
                None => {
                    // A part written some other way (UploadPartCopy): its
                    // ETag is the MD5 of its bytes.
                    let bytes = tokio::fs::read(entry.path()).await.map_err(io_error)?;
                    PartRecord {
                        etag: md5_hex(&bytes),
                        checksum_sha256: None,
                        size: bytes.len() as u64,
                    }
                }
            };
            out.push((number, record));
        }
        out.sort_by_key(|(n, _)| *n);
        Ok(out)
    }

    /// Removes Ferry's records of an upload, and any part s3s-fs left
    /// behind (parts a completion didn't list).
    async fn forget_upload(&self, upload_id: &str) {
        let _ = tokio::fs::remove_file(self.upload_record_path(upload_id)).await;
        let ours = format!(".ferry-part-{upload_id}-");
        let theirs = format!(".upload_id-{upload_id}.part-");
        if let Ok(mut dir) = tokio::fs::read_dir(&self.root).await {
            while let Ok(Some(entry)) = dir.next_entry().await {
                if entry
                    .file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with(&ours) || n.starts_with(&theirs))
                {
                    let _ = tokio::fs::remove_file(entry.path()).await;
                }
            }
        }
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

/// Joins `parts`, in order, into `dest`, and returns the SHA-256 of the
/// whole. The kernel copies the bytes (`copy_file_range`, which `io::copy`
/// uses between files) while a second thread reads the same parts for the
/// hash, so neither pass goes through the async runtime in small chunks. The
/// object is written to a temporary file, flushed and renamed into place:
/// readers never see half of it, and s3s-fs removes `.tmp.*.internal.part`
/// files left by a crash when it starts.
fn join_parts(root: &Path, dest: &Path, parts: &[PathBuf]) -> std::io::Result<[u8; 32]> {
    use std::io::Read as _;
    let tmp = root.join(format!(
        ".tmp.ferry-{}.internal.part",
        uuid::Uuid::new_v4().simple()
    ));
    let joined = std::thread::scope(|scope| -> std::io::Result<[u8; 32]> {
        let hashing = scope.spawn(|| -> std::io::Result<[u8; 32]> {
            let mut sha = Sha256::new();
            let mut buf = vec![0_u8; 1 << 20];
            for part in parts {
                let mut file = std::fs::File::open(part)?;
                loop {
                    let n = file.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    sha.update(&buf[..n]);
                }
            }
            Ok(sha.finalize().into())
        });
        let copied = (|| {
            let mut out = std::fs::File::create(&tmp)?;
            for part in parts {
                std::io::copy(&mut std::fs::File::open(part)?, &mut out)?;
            }
            out.sync_all()
        })();
        let whole = hashing
            .join()
            .map_err(|_| std::io::Error::other("hashing the parts failed"))?;
        copied?;
        whole
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
        let out = self.fs.create_multipart_upload(req).await?;
        if let Some(id) = out.output.upload_id.as_deref() {
            let record = UploadRecord {
                key,
                initiated: self.clock.unix(),
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
        let mut req = req;
        let upload_id = req.input.upload_id.clone();
        let part_number = req.input.part_number;
        if !(1..=10_000).contains(&part_number) {
            return Err(s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive"
            ));
        }
        self.check_upload(&upload_id, &req.input.key).await?;
        if req.input.content_length.is_some_and(|n| n > MAX_PUT_SIZE) {
            return Err(s3_error!(EntityTooLarge));
        }
        let checksum = req.input.checksum_sha256.clone();
        let body = req
            .input
            .body
            .take()
            .ok_or_else(|| s3_error!(IncompleteBody))?;
        let (body, fault) = verify_body(body, req.input.content_length, checksum.as_deref())?;
        req.input.body = Some(body);
        let mut out = self
            .fs
            .upload_part(req)
            .await
            .map_err(|e| body_error(e, &fault))?;
        let etag = out
            .output
            .e_tag
            .as_ref()
            .map(ETag::value)
            .unwrap_or_default()
            .to_owned();
        durable(vec![self.part_file(&upload_id, part_number)]).await?;
        let size = tokio::fs::metadata(self.part_file(&upload_id, part_number))
            .await
            .map_err(io_error)?
            .len();
        let record = PartRecord {
            etag,
            checksum_sha256: checksum.clone(),
            size,
        };
        self.write_json(&self.part_record_path(&upload_id, part_number), &record)
            .await?;
        out.output.checksum_sha256 = checksum;
        Ok(out)
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        self.check_object(&req.input.bucket, &req.input.key)?;
        let input = req.input;
        self.check_upload(&input.upload_id, &input.key).await?;
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
            parts: Some(parts),
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

        if !self.upload_open(&upload_id) {
            // Completed before? Then answer the object as it is.
            let done: Option<DoneRecord> =
                Self::read_json(&self.done_record_path(&upload_id)).await;
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
                return Ok(S3Response::new(CompleteMultipartUploadOutput {
                    bucket: Some(bucket),
                    key: Some(key),
                    e_tag: Some(ETag::Strong(done.etag)),
                    ..Default::default()
                }));
            }
            return Err(s3_error!(NoSuchUpload));
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

        let mut sources = Vec::with_capacity(listed.len());
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
            sources.push(self.part_file(&upload_id, number));
        }
        let root = self.root.clone();
        let whole = tokio::task::spawn_blocking({
            let object = object.clone();
            move || join_parts(&root, &object, &sources)
        })
        .await
        .map_err(io_error)?
        .map_err(io_error)?;
        // S3's multipart ETag: the MD5 of the parts' MD5s, and their count.
        let etag = format!("{}-{}", md5_hex(&md5s), listed.len());

        // The upload's attributes (its content type) become the object's.
        let attributes = self.upload_metadata_path(&bucket, &key, &upload_id);
        let metadata = self.metadata_path(&bucket, &key);
        if attributes.is_file() {
            tokio::fs::rename(&attributes, &metadata)
                .await
                .map_err(io_error)?;
        } else {
            let _ = tokio::fs::remove_file(&metadata).await;
        }
        let mut info = serde_json::Map::new();
        info.insert("e_tag".into(), etag.clone().into());
        info.insert(WHOLE_SHA256.into(), STANDARD.encode(whole).into());
        let mut output = CompleteMultipartUploadOutput {
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
        }
        durable(vec![object, metadata]).await?;
        self.write_json(&self.internal_info_path(&bucket, &key), &info)
            .await?;
        self.write_json(
            &self.done_record_path(&upload_id),
            &DoneRecord {
                key: key.clone(),
                etag: etag.clone(),
            },
        )
        .await?;
        // Closed last: a crash before this leaves the upload open and its
        // parts in place, so completing it again builds the same object.
        let _ = tokio::fs::remove_file(self.sidecar(format!(".upload-{upload_id}.json"))).await;
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
