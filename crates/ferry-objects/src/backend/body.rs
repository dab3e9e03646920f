//! Request bodies checked as they stream in, before anything names their
//! bytes: the declared size, a signed `x-amz-checksum-sha256`, a
//! `Content-MD5`, and s3s's own check of a header-signed body. A single
//! PUT's body is wrapped ([`Verified`]) for s3s-fs to write; a part's body
//! is hashed and written into its placement here ([`store_part`]), in one
//! pass.

use crate::staging::{PartWriter, Placement, Written};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures_core::Stream;
use s3s::dto::StreamingBlob;
use s3s::{S3Error, S3ErrorCode, S3Result, s3_error};
use sha2::{Digest as _, Sha256};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::task::JoinHandle;

/// Why a verified body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
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
pub(super) fn verify_body(
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
pub(super) fn body_error(err: S3Error, fault: &Arc<Mutex<Option<Fault>>>) -> S3Error {
    match fault.lock().ok().and_then(|f| *f) {
        Some(fault) => fault_error(fault),
        None => err,
    }
}

/// The error a client sees for a refused body.
pub(super) fn fault_error(fault: Fault) -> S3Error {
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
pub(super) fn checksum_bytes(b64: &str) -> S3Result<[u8; 32]> {
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
pub(super) fn md5_bytes(b64: &str) -> S3Result<[u8; 16]> {
    STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|raw| <[u8; 16]>::try_from(raw.as_slice()).ok())
        .ok_or_else(|| s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid."))
}

/// Why storing a part's body failed: the client's body, or the store.
#[derive(Debug)]
pub(super) enum PartFailure {
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
pub(super) async fn store_part(
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
