//! The S3 operations: s3s-fs's `FileSystem` does the storing, and this
//! wrapper adds what the endpoint promises on top of it: a signed
//! `x-amz-checksum-sha256` and the declared size are checked *before* a body
//! lands (`body.rs`; s3s-fs checks after renaming it into place, and not at
//! all for parts), parts keep their ETag and checksum, completion checks the listed
//! parts, and every write is announced on the bus before the answer leaves.
//!
//! Parts are Ferry's own (s3s-fs only creates and aborts uploads): they
//! are written in place into one staging file per upload, checked and hashed
//! in the same pass (`staging.rs` says how), and completion is Ferry's too
//! (`complete.rs`): it links that file into place, or copies when it must.
//!
//! Ferry's own records sit beside s3s-fs's in the data directory
//! (`sidecars.rs` names both).

mod body;
mod complete;

use crate::disk::{durable, io_error, write_json};
use crate::events::{self, CreatedReason, RequestMeta, Sequencer};
use crate::sidecars;
use crate::staging::{PartRecord, Staging};
use body::{
    Fault, PartFailure, body_error, checksum_bytes, fault_error, md5_bytes, store_part, verify_body,
};
use ferry_core::clock::Clock;
use ferry_core::ports::{Bus, BusEntry};
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, ChecksumAlgorithm, ChecksumType,
    CompleteMultipartUploadInput, CompleteMultipartUploadOutput, CopyObjectInput, CopyObjectOutput,
    CreateMultipartUploadInput, CreateMultipartUploadOutput, DeleteObjectInput, DeleteObjectOutput,
    DeleteObjectsInput, DeleteObjectsOutput, ETag, GetBucketLocationInput, GetBucketLocationOutput,
    GetObjectInput, GetObjectOutput, HeadBucketInput, HeadBucketOutput, HeadObjectInput,
    HeadObjectOutput, ListBucketsInput, ListBucketsOutput, ListMultipartUploadsInput,
    ListMultipartUploadsOutput, ListObjectsInput, ListObjectsOutput, ListObjectsV2Input,
    ListObjectsV2Output, ListPartsInput, ListPartsOutput, MultipartUpload, Part, PutObjectInput,
    PutObjectOutput, StorageClass, Timestamp, UploadPartInput, UploadPartOutput,
};
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

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

    /// Puts entries on the bus; a refusal becomes 503, so the client
    /// retries (the object may stay; the sweep reconciles).
    async fn emit(&self, entries: Vec<BusEntry>) -> S3Result<()> {
        self.bus.put(entries).await.map_err(|e| {
            tracing::warn!(error = %e, "the bus refused S3 notifications");
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
        self.emit(vec![entry]).await
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

    /// A file beside the objects (`sidecars` names them).
    fn sidecar(&self, name: String) -> PathBuf {
        self.root.join(name)
    }

    fn upload_record_path(&self, upload_id: &str) -> PathBuf {
        self.sidecar(sidecars::upload_record(upload_id))
    }

    /// s3s-fs's own marker of an open upload.
    fn upload_open(&self, upload_id: &str) -> bool {
        uuid::Uuid::parse_str(upload_id).is_ok()
            && self.sidecar(sidecars::upload_marker(upload_id)).is_file()
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
        self.sidecar(sidecars::object_info(bucket, key))
    }

    /// s3s-fs's record of an object's attributes.
    fn metadata_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.sidecar(sidecars::object_metadata(bucket, key))
    }

    /// Removes s3s-fs's records of a deleted object (s3s-fs leaves them).
    async fn forget_object(&self, bucket: &str, key: &str) {
        let _ = tokio::fs::remove_file(self.internal_info_path(bucket, key)).await;
        let _ = tokio::fs::remove_file(self.metadata_path(bucket, key)).await;
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
            let Some(id) = sidecars::upload_record_id(name) else {
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
        let ours = sidecars::part_records_prefix(upload_id);
        let theirs = sidecars::upload_files_prefix(upload_id);
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
            Self::read_json(&self.sidecar(sidecars::upload_marker(upload_id))).await;
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

/// Marks a response whose body is an object's bytes (a GetObject), so the
/// endpoint knows which answers to make safe for a browser.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ObjectBytes;

/// The `Content-Type` and `Content-Disposition` an object GET is answered
/// with, from what the object and the request's `response-*` parameters
/// asked for: user content must never run in the app's origin, which the
/// endpoint shares. A passive type (`ferry_protocol::preview::is_inline_safe`:
/// images but SVG, audio, video, PDF, plain text) keeps both. Anything else
/// is an attachment (its `filename*` kept), and a type a browser would
/// render as an active document (HTML, XHTML, SVG, XML), or none at all,
/// becomes `application/octet-stream`. S3 serves what it is asked; this is
/// one of the places the local stack knowingly differs (ARCHITECTURE.md).
pub(crate) fn served_safely(
    content_type: Option<String>,
    disposition: Option<String>,
) -> (String, Option<String>) {
    use ferry_protocol::preview::{is_active_type, is_inline_safe};
    let content_type = content_type.unwrap_or_default();
    if is_inline_safe(&content_type) {
        return (content_type, disposition);
    }
    // `inline; filename*=…` → `attachment; filename*=…`: the parameters
    // after the first `;` are kept, the disposition type is replaced.
    let params = disposition
        .as_deref()
        .and_then(|d| d.split_once(';'))
        .map(|(_, params)| params.trim())
        .filter(|params| !params.is_empty());
    let disposition = match params {
        Some(params) => format!("attachment; {params}"),
        None => "attachment".to_owned(),
    };
    let content_type = if is_active_type(&content_type) {
        "application/octet-stream".to_owned()
    } else {
        content_type
    };
    (content_type, Some(disposition))
}

/// Runs file work on a blocking thread; its failure is the store's (500).
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> S3Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(io_error)?
        .map_err(io_error)
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
        let mut req = req;
        // `bytes=-n` with n past the object's size is the whole object (206,
        // `bytes 0-{size-1}/{size}`), as on S3; s3s-fs would seek before the
        // start and fail.
        if let Some(s3s::dto::Range::Suffix { length }) = req.input.range
            && let Some(path) = self.object_file(&req.input.bucket, &req.input.key)
            && let Ok(meta) = tokio::fs::metadata(&path).await
            && length > meta.len()
            && meta.len() > 0
        {
            req.input.range = Some(s3s::dto::Range::Int {
                first: 0,
                last: None,
            });
        }
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
        // The type and disposition are made safe in `ObjectEndpoint::handle`,
        // after s3s has applied the request's `response-*` overrides; this
        // marks the answer as an object's bytes (not a listing's XML).
        out.output.accept_ranges = Some("bytes".to_owned());
        out.extensions.insert(ObjectBytes);
        Ok(out)
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.check_object(&req.input.bucket, &req.input.key)?;
        let mut out = self.fs.head_object(req).await?;
        out.output.accept_ranges = Some("bytes".to_owned());
        Ok(out)
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
            self.forget_object(&bucket, &key).await;
            let entry = events::object_deleted(&bucket, &key, self.sequencer(), &meta);
            self.emit(vec![entry]).await?;
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
                self.forget_object(&bucket, &key).await;
                entries.push(events::object_deleted(
                    &bucket,
                    &key,
                    self.sequencer(),
                    &meta,
                ));
            }
        }
        if !entries.is_empty() {
            self.emit(entries).await?;
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
        self.complete(req).await
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
