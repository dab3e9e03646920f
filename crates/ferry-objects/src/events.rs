//! S3's EventBridge notifications, shaped as S3 sends them (`source`
//! `aws.s3`, detail-type `Object Created` / `Object Deleted`), so the same
//! rules and consumers work against AWS and the local stack.

use ferry_core::ports::BusEntry;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};

/// The account id the local stack reports as the requester (S3 reports the
/// 12-digit account of the caller).
pub const LOCAL_ACCOUNT_ID: &str = "000000000000";

/// Who asked, for the `request-id`, `requester` and `source-ip-address`
/// fields. The endpoint puts one in each request's extensions.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// The `x-amz-request-id` the response carries.
    pub request_id: String,
    /// The client's address, or `127.0.0.1` when unknown.
    pub source_ip: String,
}

impl RequestMeta {
    /// For calls that don't come over HTTP (the `ObjectStore` adapter).
    pub fn internal() -> Self {
        Self {
            request_id: new_request_id(),
            source_ip: "127.0.0.1".to_owned(),
        }
    }
}

/// A request id in S3's style: 16 upper-case hex characters.
pub fn new_request_id() -> String {
    let id = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .to_ascii_uppercase();
    id[..16].to_owned()
}

/// Hands out S3 `sequencer` values: hex strings that grow with every event,
/// so a consumer can order events for the same key by comparing them (as
/// strings of equal length). Seeded from the clock so they keep growing
/// across restarts.
#[derive(Debug)]
pub struct Sequencer(AtomicU64);

impl Sequencer {
    /// Starts above `unix_nanos`.
    pub fn new(unix_nanos: u64) -> Self {
        Self(AtomicU64::new(unix_nanos))
    }

    /// The next value, never below `unix_nanos`.
    pub fn next(&self, unix_nanos: u64) -> String {
        let mut current = self.0.load(Ordering::SeqCst);
        loop {
            let candidate = current.saturating_add(1).max(unix_nanos);
            match self
                .0
                .compare_exchange(current, candidate, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return format!("{candidate:016X}"),
                Err(seen) => current = seen,
            }
        }
    }
}

/// Why the object appeared, as S3 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreatedReason {
    /// A single PUT.
    PutObject,
    /// A completed multipart upload.
    CompleteMultipartUpload,
    /// A server-side copy.
    CopyObject,
}

impl CreatedReason {
    fn as_str(self) -> &'static str {
        match self {
            Self::PutObject => "PutObject",
            Self::CompleteMultipartUpload => "CompleteMultipartUpload",
            Self::CopyObject => "CopyObject",
        }
    }
}

/// `Object Created` for `key`; `etag` may carry S3's quotes, they are dropped.
pub fn object_created(
    bucket: &str,
    key: &str,
    size: u64,
    etag: &str,
    sequencer: String,
    meta: &RequestMeta,
    reason: CreatedReason,
) -> BusEntry {
    BusEntry {
        source: "aws.s3".to_owned(),
        detail_type: "Object Created".to_owned(),
        detail: json!({
            "version": "0",
            "bucket": { "name": bucket },
            "object": {
                "key": key,
                "size": size,
                "etag": etag.trim_matches('"'),
                "sequencer": sequencer,
            },
            "request-id": meta.request_id,
            "requester": LOCAL_ACCOUNT_ID,
            "source-ip-address": meta.source_ip,
            "reason": reason.as_str(),
        }),
    }
}

/// `Object Deleted` for `key` (a permanent delete; the bucket is not
/// versioned).
pub fn object_deleted(bucket: &str, key: &str, sequencer: String, meta: &RequestMeta) -> BusEntry {
    BusEntry {
        source: "aws.s3".to_owned(),
        detail_type: "Object Deleted".to_owned(),
        detail: json!({
            "version": "0",
            "bucket": { "name": bucket },
            "object": { "key": key, "sequencer": sequencer },
            "request-id": meta.request_id,
            "requester": LOCAL_ACCOUNT_ID,
            "source-ip-address": meta.source_ip,
            "reason": "DeleteObject",
            "deletion-type": "Permanently Deleted",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequencers_grow_even_when_the_clock_stands_still() {
        let s = Sequencer::new(100);
        let a = s.next(50);
        let b = s.next(50);
        let c = s.next(1_000);
        assert!(a < b && b < c, "{a} {b} {c}");
        assert_eq!(a.len(), 16);
    }

    #[test]
    fn created_event_has_s3s_shape() {
        let meta = RequestMeta {
            request_id: "R".into(),
            source_ip: "1.2.3.4".into(),
        };
        let e = object_created(
            "b",
            "k",
            5,
            "\"abc\"",
            "01".into(),
            &meta,
            CreatedReason::PutObject,
        );
        assert_eq!(e.source, "aws.s3");
        assert_eq!(e.detail_type, "Object Created");
        assert_eq!(e.detail["object"]["etag"], "abc");
        assert_eq!(e.detail["reason"], "PutObject");
        assert_eq!(e.detail["source-ip-address"], "1.2.3.4");
    }
}
