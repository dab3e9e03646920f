//! The object store on S3: presigned PUT, GET and UploadPart from the SDK's
//! presigner (checksums computed only when required, so a presigned PUT never
//! carries the checksum of an empty body; a given SHA-256 is signed in), and
//! the multipart and object calls the domain makes itself.

use crate::AwsSettings;
use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::RequestChecksumCalculation;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use ferry_core::ports::{
    ObjectInfo, ObjectRead, ObjectStore, PartInfo, PortError, PortResult, Presigned, PutLimits,
    UploadInfo, attachment_disposition,
};
use ferry_protocol::Timestamp;
use ferry_protocol::messages::UploadedPart;
use std::time::{Duration, SystemTime};

/// The largest object whose whole SHA-256 is computed by reading it
/// through: at about 100 MB/s, well inside a 15-minute function.
const MAX_HASHED_BYTES: u64 = 50 * 1024 * 1024 * 1024;

/// SigV4 presigned URLs live at most a week.
const MAX_PRESIGNED: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Ferry's objects in one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3ObjectStore {
    client: Client,
    bucket: String,
}

impl S3ObjectStore {
    /// The store for `bucket`.
    pub fn new(settings: &AwsSettings, bucket: &str) -> Self {
        let config = aws_sdk_s3::config::Builder::from(&settings.sdk_config())
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            // A stand-in answers on one host: path-style addressing.
            .force_path_style(settings.endpoint_url.is_some());
        Self {
            client: Client::from_conf(config.build()),
            bucket: bucket.to_owned(),
        }
    }

    /// The presigner's window for a URL signed at `now` living `expires`
    /// (1 s to a week), and when it ends.
    fn presigning(now: Timestamp, expires: Duration) -> PortResult<(PresigningConfig, Timestamp)> {
        let expires = expires.clamp(Duration::from_secs(1), MAX_PRESIGNED);
        let config = PresigningConfig::builder()
            .start_time(SystemTime::from(now.get()))
            .expires_in(expires)
            .build()
            .map_err(|e| PortError::Other(format!("presigning: {e}")))?;
        let ends = Timestamp::new(
            now.get() + time::Duration::seconds(i64::try_from(expires.as_secs()).unwrap_or(0)),
        );
        Ok((config, ends))
    }
}

/// The SDK's presigned request as the port gives it: the headers the
/// browser must send (not `host` or `content-length`, which it sets itself).
fn presigned(request: &PresignedRequest, expires_at: Timestamp) -> Presigned {
    Presigned {
        method: request.method().to_owned(),
        url: request.uri().to_owned(),
        headers: request
            .headers()
            .filter(|(name, _)| {
                !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("content-length")
            })
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
            .collect(),
        expires_at,
    }
}

/// An SDK error in the port's words: what the caller can do about it.
fn port_error<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    error: SdkError<E, R>,
) -> PortError {
    let code = error.code().unwrap_or_default().to_owned();
    let message = match error.message() {
        Some(m) => format!("{code}: {m}"),
        None => format!("{code}: {}", aws_sdk_s3::error::DisplayErrorContext(&error)),
    };
    match code.as_str() {
        "NoSuchKey" | "NoSuchUpload" | "NoSuchBucket" | "NotFound" => PortError::NotFound(message),
        "InvalidPart" | "InvalidPartOrder" | "EntityTooSmall" | "BadDigest" | "InvalidDigest"
        | "InvalidArgument" | "InvalidRequest" => PortError::Invalid(message),
        "PreconditionFailed" => PortError::Conflict(message),
        "SlowDown" | "ServiceUnavailable" | "InternalError" | "RequestTimeout" => {
            PortError::Unavailable(message)
        }
        _ => match error {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
                PortError::Unavailable(message)
            }
            _ => PortError::Other(message),
        },
    }
}

fn timestamp(at: Option<&aws_sdk_s3::primitives::DateTime>) -> Timestamp {
    let at = at
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t.secs()).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    Timestamp::new(at)
}

fn quoted(etag: &str) -> String {
    format!("\"{}\"", etag.trim_matches('"'))
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn presign_put(
        &self,
        key: &str,
        limits: &PutLimits,
        now: Timestamp,
        expires: Duration,
    ) -> PortResult<Presigned> {
        let (window, expires_at) = Self::presigning(now, expires)?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_length(i64::try_from(limits.content_length).unwrap_or(i64::MAX))
            .set_checksum_sha256(limits.checksum_sha256.clone())
            .set_content_type(limits.content_type.clone())
            .presigned(window)
            .await
            .map_err(port_error)?;
        Ok(presigned(&request, expires_at))
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
        let (window, expires_at) = Self::presigning(now, expires)?;
        let request = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(i32::try_from(part_number).unwrap_or(i32::MAX))
            .content_length(i64::try_from(limits.content_length).unwrap_or(i64::MAX))
            .set_checksum_sha256(limits.checksum_sha256.clone())
            .presigned(window)
            .await
            .map_err(port_error)?;
        Ok(presigned(&request, expires_at))
    }

    async fn presign_get(
        &self,
        key: &str,
        download_name: &str,
        content_type: &str,
        now: Timestamp,
        expires: Duration,
    ) -> PortResult<Presigned> {
        let (window, expires_at) = Self::presigning(now, expires)?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(attachment_disposition(download_name))
            .set_response_content_type(Some(content_type.to_owned()).filter(|t| !t.is_empty()))
            .presigned(window)
            .await
            .map_err(port_error)?;
        Ok(presigned(&request, expires_at))
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
        // S3 serves what the URL asks for (it sets no CSP or nosniff of its
        // own), so the refusal of active types happens here, before signing.
        ferry_core::ports::check_inline_type(content_type)?;
        let (window, expires_at) = Self::presigning(now, expires)?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_disposition(ferry_core::ports::inline_disposition(name))
            .response_content_type(content_type)
            .set_response_cache_control(cache_control.map(str::to_owned))
            .presigned(window)
            .await
            .map_err(port_error)?;
        Ok(presigned(&request, expires_at))
    }

    async fn create_multipart(
        &self,
        key: &str,
        content_type: &str,
        part_checksums: bool,
    ) -> PortResult<String> {
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .set_checksum_algorithm(part_checksums.then_some(ChecksumAlgorithm::Sha256))
            .send()
            .await
            .map_err(port_error)?;
        out.upload_id
            .ok_or_else(|| PortError::Other("S3 gave no upload id".to_owned()))
    }

    async fn list_parts(&self, key: &str, upload_id: &str) -> PortResult<Vec<PartInfo>> {
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .client
                .list_parts()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .set_part_number_marker(marker.take())
                .send()
                .await
                .map_err(port_error)?;
            for part in out.parts() {
                parts.push(PartInfo {
                    part_number: part
                        .part_number()
                        .and_then(|n| u32::try_from(n).ok())
                        .unwrap_or(0),
                    size: part.size().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                    etag: part.e_tag().map(quoted).unwrap_or_default(),
                    checksum_sha256: part.checksum_sha256().map(str::to_owned),
                });
            }
            match (out.is_truncated(), out.next_part_number_marker()) {
                (Some(true), Some(next)) => marker = Some(next.to_owned()),
                _ => break,
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
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .iter()
                    .map(|p| {
                        CompletedPart::builder()
                            .part_number(i32::try_from(p.part_number).unwrap_or(i32::MAX))
                            .e_tag(quoted(&p.e_tag))
                            .set_checksum_sha256(p.checksum_sha256.clone())
                            .build()
                    })
                    .collect(),
            ))
            .build();
        let done = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(completed)
            .send()
            .await;
        if let Err(error) = done {
            // Completed before (an answer lost on the way): the object is
            // there and the upload is gone, so answer the object.
            let gone = error.code() == Some("NoSuchUpload");
            match self.head(key).await? {
                Some(object) if gone => return Ok(object),
                _ => return Err(port_error(error)),
            }
        }
        self.head(key)
            .await?
            .ok_or_else(|| PortError::Other(format!("{key} vanished after completing")))
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> PortResult<()> {
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if error.code() == Some("NoSuchUpload") => Ok(()),
            Err(error) => Err(port_error(error)),
        }
    }

    async fn head(&self, key: &str) -> PortResult<Option<ObjectInfo>> {
        if key.is_empty() || key.ends_with('/') {
            return Ok(None);
        }
        let out = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await;
        match out {
            Ok(o) => {
                let etag = o.e_tag().map(quoted).unwrap_or_default();
                // A multipart object (its ETag ends in `-N`) has only a
                // composite of its parts' SHA-256s: not the whole object's.
                let multipart = etag.trim_matches('"').contains('-');
                Ok(Some(ObjectInfo {
                    key: key.to_owned(),
                    size: o
                        .content_length()
                        .and_then(|n| u64::try_from(n).ok())
                        .unwrap_or(0),
                    checksum_sha256: o
                        .checksum_sha256()
                        .filter(|c| !multipart && !c.contains('-'))
                        .map(str::to_owned),
                    etag,
                    last_modified: timestamp(o.last_modified()),
                }))
            }
            Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 404 => Ok(None),
            Err(error) => Err(port_error(error)),
        }
    }

    async fn whole_sha256(&self, key: &str) -> PortResult<Option<String>> {
        use base64::Engine as _;
        use sha2::Digest as _;
        let Some(info) = self.head(key).await? else {
            return Ok(None);
        };
        if info.checksum_sha256.is_some() {
            return Ok(info.checksum_sha256);
        }
        if info.size > MAX_HASHED_BYTES {
            tracing::warn!(%key, size = info.size, "too large to read through for its SHA-256");
            return Ok(None);
        }
        // Read through, pinned to the object just described (a new one
        // under the key meanwhile makes this fail, and the indexer retry).
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .if_match(&info.etag)
            .send()
            .await;
        let mut body = match out {
            Ok(out) => out.body,
            Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 404 => return Ok(None),
            Err(error) => return Err(port_error(error)),
        };
        let mut hasher = sha2::Sha256::new();
        let mut read = 0u64;
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| PortError::Unavailable(format!("S3 read of {key}: {e}")))?
        {
            read += chunk.len() as u64;
            hasher.update(&chunk);
        }
        if read != info.size {
            return Err(PortError::Unavailable(format!(
                "S3 gave {read} bytes of {key}, not {}",
                info.size
            )));
        }
        Ok(Some(
            base64::engine::general_purpose::STANDARD.encode(hasher.finalize()),
        ))
    }

    async fn delete(&self, key: &str) -> PortResult<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(port_error)
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> PortResult<Vec<ObjectInfo>> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .set_start_after(after.map(str::to_owned))
            .max_keys(i32::try_from(limit.min(1000)).unwrap_or(1000))
            .send()
            .await
            .map_err(port_error)?;
        Ok(out
            .contents()
            .iter()
            .filter_map(|o| {
                Some(ObjectInfo {
                    key: o.key()?.to_owned(),
                    size: o.size().and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
                    etag: o.e_tag().map(quoted).unwrap_or_default(),
                    // A listing carries no checksums; `head` has them.
                    checksum_sha256: None,
                    last_modified: timestamp(o.last_modified()),
                })
            })
            .collect())
    }

    async fn read(&self, key: &str, max_bytes: u64) -> PortResult<ObjectRead> {
        let Some(info) = self.head(key).await? else {
            return Ok(ObjectRead::Missing);
        };
        if info.size > max_bytes {
            return Ok(ObjectRead::TooLarge { size: info.size });
        }
        // Pinned to the object just described, so what is read is at most
        // the size checked (a new object under the key fails the read, and
        // the consumer tries again).
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .if_match(&info.etag)
            .send()
            .await;
        let mut body = match out {
            Ok(out) => out.body,
            Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 404 => {
                return Ok(ObjectRead::Missing);
            }
            Err(error) => return Err(port_error(error)),
        };
        let mut bytes = Vec::with_capacity(usize::try_from(info.size).unwrap_or(0));
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| PortError::Unavailable(format!("S3 read of {key}: {e}")))?
        {
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
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(aws_sdk_s3::primitives::ByteStream::from(bytes))
            .send()
            .await
            .map(|_| ())
            .map_err(port_error)
    }

    async fn list_uploads(&self) -> PortResult<Vec<UploadInfo>> {
        let mut uploads = Vec::new();
        let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
        loop {
            let out = self
                .client
                .list_multipart_uploads()
                .bucket(&self.bucket)
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(id_marker.take())
                .send()
                .await
                .map_err(port_error)?;
            for upload in out.uploads() {
                if let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) {
                    uploads.push(UploadInfo {
                        key: key.to_owned(),
                        upload_id: id.to_owned(),
                        initiated: timestamp(upload.initiated()),
                    });
                }
            }
            if out.is_truncated() != Some(true) {
                break;
            }
            key_marker = out.next_key_marker().map(str::to_owned);
            id_marker = out.next_upload_id_marker().map(str::to_owned);
            if key_marker.is_none() {
                break;
            }
        }
        uploads.sort_by(|a, b| (a.initiated, &a.key).cmp(&(b.initiated, &b.key)));
        Ok(uploads)
    }
}
