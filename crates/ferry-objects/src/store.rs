//! The `ObjectStore` port over the local endpoint: presigning is this
//! crate's SigV4 signer, and every other call goes through the same S3
//! operations the endpoint runs (with the admin credentials), so the port and
//! HTTP clients see the same objects, the same checks and the same events.

use crate::backend::{FerryS3, bare_etag};
use crate::events::RequestMeta;
use crate::presign::{self, PresignRequest, Signer};
use async_trait::async_trait;
use ferry_core::clock::Clock;
use ferry_core::ports::{
    ObjectInfo, ObjectRead, ObjectStore, PartInfo, PortError, PortResult, Presigned, PutLimits,
    UploadInfo,
};
use ferry_protocol::Timestamp;
use ferry_protocol::messages::UploadedPart;
use futures_core::Stream as _;
use s3s::auth::{Credentials, SecretKey};
use s3s::dto::{
    AbortMultipartUploadInput, CompleteMultipartUploadInput, CompletedMultipartUpload,
    CompletedPart, CreateMultipartUploadInput, DeleteObjectInput, ETag, GetObjectInput,
    HeadObjectInput, ListObjectsV2Input, ListPartsInput, PutObjectInput, StreamingBlob,
};
use s3s::{S3, S3Error, S3ErrorCode, S3Request};
use std::sync::Arc;
use std::time::Duration;

/// The local [`ObjectStore`]: files on disk behind the S3 endpoint.
pub struct LocalObjectStore {
    backend: FerryS3,
    signer: Signer,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for LocalObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalObjectStore")
            .field("bucket", &self.backend.bucket())
            .field("base_url", &self.signer.base_url)
            .finish_non_exhaustive()
    }
}

/// Maps an S3 error to the port's vocabulary.
fn port_error(e: &S3Error) -> PortError {
    let message = e.message().map_or_else(
        || e.code().as_str().to_owned(),
        |m| format!("{}: {m}", e.code().as_str()),
    );
    match e.code() {
        S3ErrorCode::NoSuchKey | S3ErrorCode::NoSuchUpload | S3ErrorCode::NoSuchBucket => {
            PortError::NotFound(message)
        }
        S3ErrorCode::InvalidPart
        | S3ErrorCode::InvalidPartOrder
        | S3ErrorCode::EntityTooSmall
        | S3ErrorCode::BadDigest
        | S3ErrorCode::InvalidDigest
        | S3ErrorCode::InvalidArgument
        | S3ErrorCode::InvalidRequest => PortError::Invalid(message),
        S3ErrorCode::ServiceUnavailable | S3ErrorCode::SlowDown => PortError::Unavailable(message),
        S3ErrorCode::PreconditionFailed => PortError::Conflict(message),
        _ => PortError::Other(message),
    }
}

fn timestamp(ts: Option<s3s::dto::Timestamp>) -> Timestamp {
    Timestamp::new(ts.map_or(time::OffsetDateTime::UNIX_EPOCH, time::OffsetDateTime::from))
}

impl LocalObjectStore {
    pub(crate) fn new(backend: FerryS3, signer: Signer, clock: Arc<dyn Clock>) -> Self {
        Self {
            backend,
            signer,
            clock,
        }
    }

    /// An S3 request as the admin makes it, from inside the process.
    fn request<T>(&self, input: T) -> S3Request<T> {
        let mut extensions = http::Extensions::new();
        extensions.insert(RequestMeta::internal());
        S3Request {
            input,
            method: http::Method::POST,
            uri: http::Uri::default(),
            headers: http::HeaderMap::new(),
            extensions,
            credentials: Some(Credentials {
                access_key: self.signer.access_key_id.clone(),
                secret_key: SecretKey::from(self.signer.secret_access_key.as_str()),
            }),
            region: None,
            service: None,
            trailing_headers: None,
        }
    }

    fn path(&self, key: &str) -> String {
        format!("/{}/{key}", self.backend.bucket())
    }

    fn presigned(
        &self,
        method: &str,
        key: &str,
        query: Vec<(String, String)>,
        headers: Vec<(String, String)>,
        now: Timestamp,
        expires: Duration,
    ) -> Presigned {
        let expires_secs = expires.as_secs().clamp(1, presign::MAX_EXPIRES_SECS);
        // AWS's SDK presigners carry this too; with it our URLs equal theirs.
        let mut query = query;
        query.push((
            "X-Amz-Content-Sha256".to_owned(),
            "UNSIGNED-PAYLOAD".to_owned(),
        ));
        let url = self.signer.presign(&PresignRequest {
            method,
            path: &self.path(key),
            query,
            headers: headers.clone(),
            now: now.get(),
            expires_secs,
        });
        let expires_at = Timestamp::new(
            now.get() + time::Duration::seconds(i64::try_from(expires_secs).unwrap_or(i64::MAX)),
        );
        Presigned {
            method: method.to_owned(),
            url,
            headers: headers
                .into_iter()
                .filter(|(k, _)| k != "content-length")
                .collect(),
            expires_at,
        }
    }

    /// The signed headers of a PUT: `content-length`, and the checksum and
    /// type when given.
    fn put_headers(limits: &PutLimits, with_type: bool) -> Vec<(String, String)> {
        let mut headers = vec![(
            "content-length".to_owned(),
            limits.content_length.to_string(),
        )];
        if let Some(sum) = &limits.checksum_sha256 {
            headers.push(("x-amz-checksum-sha256".to_owned(), sum.clone()));
        }
        if with_type && let Some(ct) = &limits.content_type {
            headers.push(("content-type".to_owned(), ct.clone()));
        }
        headers
    }
}

#[async_trait]
impl ObjectStore for LocalObjectStore {
    async fn presign_put(
        &self,
        key: &str,
        limits: &PutLimits,
        now: Timestamp,
        expires: Duration,
    ) -> PortResult<Presigned> {
        Ok(self.presigned(
            "PUT",
            key,
            vec![],
            Self::put_headers(limits, true),
            now,
            expires,
        ))
    }

    async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        limits: &PutLimits,
        now: Timestamp,
        expires: Duration,
    ) -> PortResult<Presigned> {
        let query = vec![
            ("partNumber".to_owned(), part_number.to_string()),
            ("uploadId".to_owned(), upload_id.to_owned()),
        ];
        Ok(self.presigned(
            "PUT",
            key,
            query,
            Self::put_headers(limits, false),
            now,
            expires,
        ))
    }

    async fn presign_get(
        &self,
        key: &str,
        download_name: &str,
        content_type: &str,
        now: Timestamp,
        expires: Duration,
    ) -> PortResult<Presigned> {
        let mut query = vec![(
            "response-content-disposition".to_owned(),
            ferry_core::ports::attachment_disposition(download_name),
        )];
        if !content_type.is_empty() {
            query.push(("response-content-type".to_owned(), content_type.to_owned()));
        }
        Ok(self.presigned("GET", key, query, vec![], now, expires))
    }

    async fn presign_inline_get(
        &self,
        key: &str,
        name: &str,
        content_type: &str,
        cache_control: Option<&str>,
        now: Timestamp,
        expires: Duration,
    ) -> PortResult<Presigned> {
        ferry_core::ports::check_inline_type(content_type)?;
        let mut query = vec![
            (
                "response-content-disposition".to_owned(),
                ferry_core::ports::inline_disposition(name),
            ),
            ("response-content-type".to_owned(), content_type.to_owned()),
        ];
        if let Some(cache) = cache_control {
            query.push(("response-cache-control".to_owned(), cache.to_owned()));
        }
        Ok(self.presigned("GET", key, query, vec![], now, expires))
    }

    async fn create_multipart(
        &self,
        key: &str,
        content_type: &str,
        // The endpoint takes parts with or without a checksum either way.
        _part_checksums: bool,
    ) -> PortResult<String> {
        let input = CreateMultipartUploadInput {
            bucket: self.backend.bucket().to_owned(),
            key: key.to_owned(),
            content_type: Some(content_type.to_owned()),
            ..Default::default()
        };
        let out = self
            .backend
            .create_multipart_upload(self.request(input))
            .await
            .map_err(|e| port_error(&e))?;
        out.output
            .upload_id
            .ok_or_else(|| PortError::Other("no upload id".to_owned()))
    }

    async fn list_parts(&self, key: &str, upload_id: &str) -> PortResult<Vec<PartInfo>> {
        let mut parts = Vec::new();
        let mut marker = None;
        loop {
            let input = ListPartsInput {
                bucket: self.backend.bucket().to_owned(),
                key: key.to_owned(),
                upload_id: upload_id.to_owned(),
                part_number_marker: marker,
                ..Default::default()
            };
            let out = self
                .backend
                .list_parts(self.request(input))
                .await
                .map_err(|e| port_error(&e))?
                .output;
            for p in out.parts.unwrap_or_default() {
                parts.push(PartInfo {
                    part_number: p
                        .part_number
                        .and_then(|n| u32::try_from(n).ok())
                        .unwrap_or(0),
                    size: p.size.and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                    etag: p
                        .e_tag
                        .map(|e| format!("\"{}\"", e.value()))
                        .unwrap_or_default(),
                    checksum_sha256: p.checksum_sha256,
                });
            }
            match (out.is_truncated, out.next_part_number_marker) {
                (Some(true), Some(next)) => marker = Some(next),
                _ => break,
            }
            if marker.is_none() {
                break;
            }
        }
        Ok(parts)
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> PortResult<ObjectInfo> {
        let input = CompleteMultipartUploadInput {
            bucket: self.backend.bucket().to_owned(),
            key: key.to_owned(),
            upload_id: upload_id.to_owned(),
            multipart_upload: Some(CompletedMultipartUpload {
                parts: Some(
                    parts
                        .iter()
                        .map(|p| CompletedPart {
                            part_number: i32::try_from(p.part_number).ok(),
                            e_tag: Some(ETag::Strong(bare_etag(&p.e_tag).to_owned())),
                            checksum_sha256: p.checksum_sha256.clone(),
                            ..Default::default()
                        })
                        .collect(),
                ),
            }),
            ..Default::default()
        };
        self.backend
            .complete_multipart_upload(self.request(input))
            .await
            .map_err(|e| port_error(&e))?;
        self.head(key)
            .await?
            .ok_or_else(|| PortError::Other(format!("{key} vanished after completing")))
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> PortResult<()> {
        let input = AbortMultipartUploadInput {
            bucket: self.backend.bucket().to_owned(),
            key: key.to_owned(),
            upload_id: upload_id.to_owned(),
            ..Default::default()
        };
        match self
            .backend
            .abort_multipart_upload(self.request(input))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if *e.code() == S3ErrorCode::NoSuchUpload => Ok(()),
            Err(e) => Err(port_error(&e)),
        }
    }

    async fn head(&self, key: &str) -> PortResult<Option<ObjectInfo>> {
        if key.is_empty() || key.ends_with('/') {
            return Ok(None);
        }
        let input = HeadObjectInput {
            bucket: self.backend.bucket().to_owned(),
            key: key.to_owned(),
            ..Default::default()
        };
        match self.backend.head_object(self.request(input)).await {
            Ok(out) => {
                let o = out.output;
                // A multipart object's S3 checksum is a composite of its
                // parts'; the whole object's SHA-256 is kept beside it.
                let whole = match self.backend.whole_sha256(self.backend.bucket(), key).await {
                    Some(sum) => Some(sum),
                    None => o.checksum_sha256.filter(|c| !c.contains('-')),
                };
                Ok(Some(ObjectInfo {
                    key: key.to_owned(),
                    size: o
                        .content_length
                        .and_then(|n| u64::try_from(n).ok())
                        .unwrap_or(0),
                    etag: o
                        .e_tag
                        .map(|e| format!("\"{}\"", e.value()))
                        .unwrap_or_default(),
                    checksum_sha256: whole,
                    last_modified: timestamp(o.last_modified),
                }))
            }
            Err(e) if *e.code() == S3ErrorCode::NoSuchKey => Ok(None),
            Err(e) => Err(port_error(&e)),
        }
    }

    async fn delete(&self, key: &str) -> PortResult<()> {
        let input = DeleteObjectInput {
            bucket: self.backend.bucket().to_owned(),
            key: key.to_owned(),
            ..Default::default()
        };
        self.backend
            .delete_object(self.request(input))
            .await
            .map(|_| ())
            .map_err(|e| port_error(&e))
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> PortResult<Vec<ObjectInfo>> {
        let input = ListObjectsV2Input {
            bucket: self.backend.bucket().to_owned(),
            prefix: Some(prefix.to_owned()),
            start_after: after.map(str::to_owned),
            max_keys: Some(i32::try_from(limit.min(1000)).unwrap_or(1000)),
            ..Default::default()
        };
        let out = self
            .backend
            .list_objects_v2(self.request(input))
            .await
            .map_err(|e| port_error(&e))?
            .output;
        let mut objects = Vec::new();
        for o in out.contents.unwrap_or_default() {
            let Some(key) = o.key else { continue };
            if let Some(info) = self.head(&key).await? {
                objects.push(info);
            }
        }
        Ok(objects)
    }

    async fn read(&self, key: &str, max_bytes: u64) -> PortResult<ObjectRead> {
        let Some(object) = self.head(key).await? else {
            return Ok(ObjectRead::Missing);
        };
        if object.size > max_bytes {
            return Ok(ObjectRead::TooLarge { size: object.size });
        }
        let input = GetObjectInput {
            bucket: self.backend.bucket().to_owned(),
            key: key.to_owned(),
            ..Default::default()
        };
        let out = match self.backend.get_object(self.request(input)).await {
            Ok(out) => out.output,
            Err(e) if *e.code() == S3ErrorCode::NoSuchKey => return Ok(ObjectRead::Missing),
            Err(e) => return Err(port_error(&e)),
        };
        let Some(mut body) = out.body else {
            return Ok(ObjectRead::Bytes(Vec::new()));
        };
        let mut bytes = Vec::with_capacity(usize::try_from(object.size).unwrap_or(0));
        while let Some(chunk) =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_next(cx)).await
        {
            let chunk = chunk.map_err(|e| PortError::Unavailable(e.to_string()))?;
            // Written over since the head, and larger now: still not read
            // past the cap.
            if (bytes.len() + chunk.len()) as u64 > max_bytes {
                return Ok(ObjectRead::TooLarge {
                    size: (bytes.len() + chunk.len()) as u64,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(ObjectRead::Bytes(bytes))
    }

    async fn put_derived(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> PortResult<()> {
        let length = i64::try_from(bytes.len())
            .map_err(|_| PortError::Invalid(format!("{key} is too large")))?;
        let input = PutObjectInput {
            bucket: self.backend.bucket().to_owned(),
            key: key.to_owned(),
            body: Some(StreamingBlob::from(s3s::Body::from(bytes::Bytes::from(
                bytes,
            )))),
            content_length: Some(length),
            content_type: Some(content_type.to_owned()),
            ..Default::default()
        };
        self.backend
            .put_object(self.request(input))
            .await
            .map(|_| ())
            .map_err(|e| port_error(&e))
    }

    async fn list_uploads(&self) -> PortResult<Vec<UploadInfo>> {
        let _ = &self.clock;
        Ok(self
            .backend
            .open_uploads()
            .await
            .map_err(|e| port_error(&e))?
            .into_iter()
            .map(|(id, r)| UploadInfo {
                key: r.key,
                upload_id: id,
                initiated: Timestamp::new(
                    time::OffsetDateTime::from_unix_timestamp(r.initiated)
                        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
                ),
            })
            .collect())
    }
}
