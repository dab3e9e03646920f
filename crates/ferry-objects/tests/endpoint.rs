//! The endpoint over a real socket, driven with this crate's presigner and a
//! plain HTTP client: presigned PUT/GET/part uploads, every refusal a
//! browser could meet, CORS, and the bus entries each write leaves.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

mod common;

use common::*;
use ferry_core::clock::Clock;
use ferry_core::ports::{ObjectStore, PutLimits};
use ferry_objects::presign::{PresignRequest, Signer};
use ferry_protocol::messages::UploadedPart;
use sha2::{Digest as _, Sha256};
use std::sync::atomic::Ordering;
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);

fn limits(body: &[u8], content_type: Option<&str>) -> PutLimits {
    PutLimits {
        content_length: body.len() as u64,
        checksum_sha256: Some(sha256_b64(body)),
        content_type: content_type.map(str::to_owned),
    }
}

fn headers_of(p: &ferry_core::ports::Presigned) -> Vec<(&str, &str)> {
    p.headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[tokio::test]
async fn presigned_put_then_get_keeps_bytes_type_and_download_name() {
    let s = start().await;
    let body = bytes_of(4096, 7);
    let put = s
        .store
        .presign_put(
            "users/u1/f1",
            &limits(&body, Some("text/plain")),
            s.now(),
            HOUR,
        )
        .await
        .unwrap();
    assert_eq!(put.method, "PUT");
    let mut names: Vec<_> = put.headers.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["content-type", "x-amz-checksum-sha256"]);
    assert!(put.url.contains(
        "X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bx-amz-checksum-sha256"
    ));

    let r = s
        .send("PUT", &put.url, &headers_of(&put), body.clone())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let etag = r.header("etag").unwrap().to_owned();

    let events = s.bus.take();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.source, "aws.s3");
    assert_eq!(e.detail_type, "Object Created");
    assert_eq!(e.detail["version"], "0");
    assert_eq!(e.detail["bucket"]["name"], BUCKET);
    assert_eq!(e.detail["object"]["key"], "users/u1/f1");
    assert_eq!(e.detail["object"]["size"], 4096);
    assert_eq!(e.detail["object"]["etag"], etag.trim_matches('"'));
    assert_eq!(e.detail["reason"], "PutObject");
    assert_eq!(e.detail["source-ip-address"], "127.0.0.1");
    assert_eq!(
        e.detail["request-id"],
        r.header("x-amz-request-id").unwrap()
    );
    assert!(e.detail["object"]["sequencer"].as_str().unwrap().len() >= 16);

    let head = s.store.head("users/u1/f1").await.unwrap().unwrap();
    assert_eq!(head.size, 4096);
    assert_eq!(head.etag, etag);
    assert_eq!(head.checksum_sha256, Some(sha256_b64(&body)));

    let get = s
        .store
        .presign_get(
            "users/u1/f1",
            "Résumé 2026.txt",
            "text/plain; charset=utf-8",
            s.now(),
            HOUR,
        )
        .await
        .unwrap();
    assert!(get.headers.is_empty());
    let r = s.send("GET", &get.url, &[], Vec::new()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body.as_ref(), body.as_slice());
    assert_eq!(
        r.header("content-disposition").unwrap(),
        "attachment; filename*=UTF-8''R%C3%A9sum%C3%A9%202026.txt"
    );
    assert_eq!(
        r.header("content-type").unwrap(),
        "text/plain; charset=utf-8"
    );
}

#[tokio::test]
async fn tampered_urls_and_signatures_are_refused() {
    let s = start().await;
    let body = bytes_of(100, 1);
    let put = s
        .store
        .presign_put("k/a", &limits(&body, None), s.now(), HOUR)
        .await
        .unwrap();
    let h = headers_of(&put);

    // Another signature.
    let last = put.url.chars().last().unwrap();
    let flipped = if last == '0' { '1' } else { '0' };
    let forged = format!("{}{flipped}", &put.url[..put.url.len() - 1]);
    let r = s.send("PUT", &forged, &h, body.clone()).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "SignatureDoesNotMatch")
    );

    // Another key.
    let moved = put.url.replace("/k/a?", "/k/b?");
    let r = s.send("PUT", &moved, &h, body.clone()).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "SignatureDoesNotMatch")
    );

    // A longer expiry.
    let longer = put.url.replace("X-Amz-Expires=3600", "X-Amz-Expires=7200");
    let r = s.send("PUT", &longer, &h, body.clone()).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "SignatureDoesNotMatch")
    );

    // Another method.
    let r = s.send("GET", &put.url, &h, Vec::new()).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "SignatureDoesNotMatch")
    );

    // The signed checksum left out.
    let r = s.send("PUT", &put.url, &[], body.clone()).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "SignatureDoesNotMatch")
    );

    // A signed checksum edited to fit another body.
    let other = bytes_of(100, 2);
    let edited = sha256_b64(&other);
    let r = s
        .send(
            "PUT",
            &put.url,
            &[("x-amz-checksum-sha256", &edited)],
            other,
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "SignatureDoesNotMatch")
    );

    // A body of another size (its Content-Length follows the body).
    let r = s.send("PUT", &put.url, &h, bytes_of(101, 1)).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "SignatureDoesNotMatch")
    );
    let r = s.send("PUT", &put.url, &h, bytes_of(99, 1)).await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (403, "SignatureDoesNotMatch")
    );

    // A key the endpoint doesn't know.
    let stranger = Signer {
        access_key_id: "AKIDSTRANGER".into(),
        secret_access_key: SECRET_KEY.into(),
        region: "local-1".into(),
        base_url: s.url.clone(),
    };
    let url = stranger.presign(&PresignRequest {
        method: "GET",
        path: "/ferry/k/a",
        query: vec![],
        headers: vec![],
        now: s.clock.now(),
        expires_secs: 60,
    });
    let r = s.send("GET", &url, &[], Vec::new()).await;
    assert_eq!((r.status, r.code().as_str()), (403, "InvalidAccessKeyId"));

    // No signature at all.
    let r = s
        .send("GET", &format!("{}/ferry/k/a", s.url), &[], Vec::new())
        .await;
    assert_eq!(r.status, 403, "{}", r.text());

    assert!(s.store.head("k/a").await.unwrap().is_none());
    assert!(s.store.head("k/b").await.unwrap().is_none());
    assert!(s.bus.take().is_empty());
}

#[tokio::test]
async fn a_longer_body_under_the_signed_length_is_refused_without_a_socket() {
    let s = start().await;
    let body = bytes_of(100, 3);
    let put = s
        .store
        .presign_put("k/len", &limits(&body, None), s.now(), HOUR)
        .await
        .unwrap();
    let mut longer = body.clone();
    longer.extend_from_slice(b"extra bytes");
    let req = http::Request::builder()
        .method("PUT")
        .uri(&put.url)
        .header("host", s.url.trim_start_matches("http://"))
        .header("content-length", "100")
        .header("x-amz-checksum-sha256", sha256_b64(&body))
        .body(axum::body::Body::from(longer))
        .unwrap();
    let resp = s.endpoint.handle(req).await;
    assert_eq!(resp.status(), 400);
    assert!(s.store.head("k/len").await.unwrap().is_none());
    assert!(s.bus.take().is_empty());
}

/// A request body given chunk by chunk (an error is a dropped connection).
struct Chunks(std::collections::VecDeque<Result<bytes::Bytes, std::io::Error>>);

impl futures_core::Stream for Chunks {
    type Item = Result<bytes::Bytes, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.0.pop_front())
    }
}

#[tokio::test]
async fn a_body_cut_short_by_a_dropped_connection_is_incomplete_and_stores_nothing() {
    let s = start().await;
    let body = bytes_of(100, 5);
    let put = s
        .store
        .presign_put("k/cut", &limits(&body, None), s.now(), HOUR)
        .await
        .unwrap();
    // Half the body, then the connection drops.
    let half = bytes::Bytes::copy_from_slice(&body[..50]);
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = vec![
        Ok(half),
        Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
    ];
    let req = http::Request::builder()
        .method("PUT")
        .uri(&put.url)
        .header("host", s.url.trim_start_matches("http://"))
        .header("content-length", "100")
        .header("x-amz-checksum-sha256", sha256_b64(&body))
        .body(axum::body::Body::from_stream(Chunks(chunks.into())))
        .unwrap();
    let resp = s.endpoint.handle(req).await;
    assert_eq!(resp.status(), 400);
    let text = String::from_utf8(
        axum::body::to_bytes(resp.into_body(), 10_000)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(text.contains("IncompleteBody"), "{text}");
    assert!(s.store.head("k/cut").await.unwrap().is_none());
    assert!(s.bus.take().is_empty());
}

#[tokio::test]
async fn expired_urls_are_refused_by_the_injected_clock() {
    let s = start().await;
    let body = bytes_of(10, 4);
    let put = s
        .store
        .presign_put(
            "k/e",
            &limits(&body, None),
            s.now(),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    s.clock.advance(61);
    let r = s
        .send("PUT", &put.url, &headers_of(&put), body.clone())
        .await;
    assert_eq!((r.status, r.code().as_str()), (403, "AccessDenied"));
    assert!(r.text().contains("Request has expired"));

    // Signed long ago, by the system clock too.
    let then = ferry_protocol::Timestamp::new(s.clock.now() - time::Duration::hours(3));
    let get = s
        .store
        .presign_get("k/e", "e", "text/plain", then, HOUR)
        .await
        .unwrap();
    let r = s.send("GET", &get.url, &[], Vec::new()).await;
    assert_eq!((r.status, r.code().as_str()), (403, "AccessDenied"));

    // More than seven days is never valid.
    let week = s
        .store
        .presign_get(
            "k/e",
            "e",
            "text/plain",
            s.now(),
            Duration::from_secs(30 * 86_400),
        )
        .await
        .unwrap();
    assert!(week.url.contains("X-Amz-Expires=604800"));
    assert_eq!(
        week.expires_at.get(),
        s.clock.now() + time::Duration::days(7)
    );
}

#[tokio::test]
async fn a_signed_checksum_is_enforced_and_nothing_is_stored_on_mismatch() {
    let s = start().await;
    let body = bytes_of(2048, 5);
    let mut wrong = limits(&body, None);
    wrong.checksum_sha256 = Some(sha256_b64(b"something else"));
    let put = s
        .store
        .presign_put("k/sum", &wrong, s.now(), HOUR)
        .await
        .unwrap();
    let r = s
        .send("PUT", &put.url, &headers_of(&put), body.clone())
        .await;
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "BadDigest"),
        "{}",
        r.text()
    );
    assert!(s.store.head("k/sum").await.unwrap().is_none());
    assert!(s.bus.take().is_empty());

    // An earlier version stays as it was.
    let good = s
        .store
        .presign_put("k/sum", &limits(&body, None), s.now(), HOUR)
        .await
        .unwrap();
    assert_eq!(
        s.send("PUT", &good.url, &headers_of(&good), body.clone())
            .await
            .status,
        200
    );
    let r = s
        .send("PUT", &put.url, &headers_of(&put), body.clone())
        .await;
    assert_eq!(r.code(), "BadDigest");
    let head = s.store.head("k/sum").await.unwrap().unwrap();
    assert_eq!(head.checksum_sha256, Some(sha256_b64(&body)));

    // A value that isn't a SHA-256 at all is S3's InvalidRequest
    // (InvalidDigest is Content-MD5's), and changes nothing.
    let mut malformed = limits(&body, None);
    malformed.checksum_sha256 = Some("AAAA".into());
    let put = s
        .store
        .presign_put("k/sum", &malformed, s.now(), HOUR)
        .await
        .unwrap();
    let r = s
        .send("PUT", &put.url, &headers_of(&put), body.clone())
        .await;
    assert_eq!((r.status, r.code().as_str()), (400, "InvalidRequest"));
    assert!(
        r.text()
            .contains("Value for x-amz-checksum-sha256 header is invalid."),
        "{}",
        r.text()
    );
    let head = s.store.head("k/sum").await.unwrap().unwrap();
    assert_eq!(head.checksum_sha256, Some(sha256_b64(&body)));
}

#[tokio::test]
async fn multipart_upload_with_presigned_parts() {
    let s = start().await;
    let key = "users/u1/big";
    let upload_id = s
        .store
        .create_multipart(key, "application/octet-stream", true)
        .await
        .unwrap();
    let p1 = bytes_of(5 * 1024 * 1024, 1);
    let p2 = bytes_of(1024, 2);

    let mut uploaded = Vec::new();
    for (n, part) in [(1u32, &p1), (2, &p2)] {
        let url = s
            .store
            .presign_part(key, &upload_id, n, &limits(part, None), s.now(), HOUR)
            .await
            .unwrap();
        assert_eq!(
            url.headers.len(),
            1,
            "only the checksum is the browser's to send"
        );
        assert!(url.url.contains("partNumber=") && url.url.contains("uploadId="));
        let r = s
            .send("PUT", &url.url, &headers_of(&url), part.to_vec())
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        uploaded.push(UploadedPart {
            part_number: n,
            e_tag: r.header("etag").unwrap().to_owned(),
            checksum_sha256: Some(sha256_b64(part)),
        });
    }

    // A corrupted part is refused and leaves the stored one alone.
    let mut wrong = limits(&p2, None);
    wrong.checksum_sha256 = Some(sha256_b64(b"nope"));
    let url = s
        .store
        .presign_part(key, &upload_id, 2, &wrong, s.now(), HOUR)
        .await
        .unwrap();
    let r = s.send("PUT", &url.url, &headers_of(&url), p2.clone()).await;
    assert_eq!((r.status, r.code().as_str()), (400, "BadDigest"));

    // A part URL of another upload or number doesn't verify.
    let url = s
        .store
        .presign_part(key, &upload_id, 3, &limits(&p2, None), s.now(), HOUR)
        .await
        .unwrap();
    let moved = url.url.replace("partNumber=3", "partNumber=4");
    let r = s.send("PUT", &moved, &headers_of(&url), p2.clone()).await;
    assert_eq!(r.code(), "SignatureDoesNotMatch");

    let parts = s.store.list_parts(key, &upload_id).await.unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].part_number, 1);
    assert_eq!(parts[0].size, p1.len() as u64);
    assert_eq!(parts[0].etag, uploaded[0].e_tag);
    assert_eq!(parts[0].checksum_sha256, Some(sha256_b64(&p1)));
    assert_eq!(parts[1].checksum_sha256, Some(sha256_b64(&p2)));

    let uploads = s.store.list_uploads().await.unwrap();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].key, key);
    assert_eq!(uploads[0].initiated.get(), s.clock.now());
    assert!(s.bus.take().is_empty());

    // A wrong ETag is refused; the upload stays open.
    let mut bad = uploaded.clone();
    bad[0].e_tag = "\"0123\"".into();
    let err = s
        .store
        .complete_multipart(key, &upload_id, &bad)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ferry_core::ports::PortError::Invalid(_)),
        "{err:?}"
    );

    let info = s
        .store
        .complete_multipart(key, &upload_id, &uploaded)
        .await
        .unwrap();
    assert_eq!(info.size, (p1.len() + p2.len()) as u64);
    // S3's multipart ETag: the MD5 of the parts' ETags, then the count. A
    // part checked by its SHA-256 has an ETag made from that (no MD5 pass).
    let md5 = |bytes: &[u8]| {
        use s3s::crypto::{Checksum as _, Md5};
        let mut h = Md5::new();
        h.update(bytes);
        h.finalize().to_vec()
    };
    let sha_etag = |bytes: &[u8]| {
        let sha: String = Sha256::digest(bytes)[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("\"{sha}\"")
    };
    assert_eq!(uploaded[0].e_tag, sha_etag(&p1));
    assert_eq!(uploaded[1].e_tag, sha_etag(&p2));
    let md5s = [&Sha256::digest(&p1)[..16], &Sha256::digest(&p2)[..16]].concat();
    let hex: String = md5(&md5s).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(info.etag, format!("\"{hex}-2\""));
    // The whole object's SHA-256, not the composite of the parts'.
    assert_eq!(
        info.checksum_sha256,
        Some(sha256_b64(&[p1.as_slice(), p2.as_slice()].concat()))
    );
    let events = s.bus.take();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].detail["reason"], "CompleteMultipartUpload");
    assert_eq!(events[0].detail["object"]["size"], info.size);
    assert_eq!(
        events[0].detail["object"]["etag"],
        info.etag.trim_matches('"')
    );

    // Completing again answers the object as it is.
    let again = s
        .store
        .complete_multipart(key, &upload_id, &uploaded)
        .await
        .unwrap();
    assert_eq!(again.etag, info.etag);
    assert!(s.store.list_uploads().await.unwrap().is_empty());

    let get = s
        .store
        .presign_get(key, "big.bin", "application/octet-stream", s.now(), HOUR)
        .await
        .unwrap();
    let r = s.send("GET", &get.url, &[], Vec::new()).await;
    assert_eq!(r.status, 200);
    assert_eq!(&r.body[..p1.len()], p1.as_slice());
    assert_eq!(&r.body[p1.len()..], p2.as_slice());
}

#[tokio::test]
async fn abort_removes_parts_and_unknown_uploads_are_fine() {
    let s = start().await;
    let id = s
        .store
        .create_multipart("k/abort", "text/plain", true)
        .await
        .unwrap();
    let part = bytes_of(10, 9);
    let url = s
        .store
        .presign_part("k/abort", &id, 1, &limits(&part, None), s.now(), HOUR)
        .await
        .unwrap();
    assert_eq!(
        s.send("PUT", &url.url, &headers_of(&url), part.clone())
            .await
            .status,
        200
    );
    s.store.abort_multipart("k/abort", &id).await.unwrap();
    assert!(s.store.list_uploads().await.unwrap().is_empty());
    assert!(s.store.list_parts("k/abort", &id).await.is_err());
    let leftovers: Vec<_> = std::fs::read_dir(s.dir.path().join("objects"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains(&id))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    s.store.abort_multipart("k/abort", &id).await.unwrap();
    s.store
        .abort_multipart("k/abort", "00000000-0000-0000-0000-000000000000")
        .await
        .unwrap();
    s.store
        .abort_multipart("k/abort", "not-an-id")
        .await
        .unwrap();
    // A part for the aborted upload is refused.
    let r = s.send("PUT", &url.url, &headers_of(&url), part).await;
    assert_eq!((r.status, r.code().as_str()), (404, "NoSuchUpload"));
}

#[tokio::test]
async fn cors_preflight_and_response_headers() {
    let s = start().await;
    let url = format!("{}/ferry/k/c", s.url);
    let r = s
        .send(
            "OPTIONS",
            &url,
            &[
                ("origin", ORIGIN),
                ("access-control-request-method", "PUT"),
                (
                    "access-control-request-headers",
                    "content-type,x-amz-checksum-sha256",
                ),
            ],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    let methods = r.header("access-control-allow-methods").unwrap();
    for m in ["GET", "PUT", "HEAD", "POST", "DELETE"] {
        assert!(methods.contains(m), "{methods}");
    }
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("content-type,x-amz-checksum-sha256")
    );
    let expose = r.header("access-control-expose-headers").unwrap();
    assert!(
        expose.contains("ETag")
            && expose.contains("x-amz-checksum-sha256")
            && expose.contains("x-amz-version-id")
    );

    let r = s
        .send(
            "OPTIONS",
            &url,
            &[
                ("origin", "http://evil.example"),
                ("access-control-request-method", "PUT"),
            ],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(r.header("access-control-allow-origin").is_none());

    // Actual requests: the allowed origin may read the ETag; others get no
    // CORS headers.
    let body = bytes_of(5, 5);
    let put = s
        .store
        .presign_put("k/c", &limits(&body, None), s.now(), HOUR)
        .await
        .unwrap();
    let mut h = headers_of(&put);
    h.push(("origin", ORIGIN));
    let r = s.send("PUT", &put.url, &h, body.clone()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), Some(ORIGIN));
    assert!(
        r.header("access-control-expose-headers")
            .unwrap()
            .contains("ETag")
    );

    let get = s
        .store
        .presign_get("k/c", "c", "text/plain", s.now(), HOUR)
        .await
        .unwrap();
    let r = s
        .send(
            "GET",
            &get.url,
            &[("origin", "http://evil.example")],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.header("access-control-allow-origin").is_none());
    assert!(r.header("access-control-expose-headers").is_none());
}

#[tokio::test]
async fn a_bus_failure_answers_503() {
    let s = start().await;
    s.bus.failing.store(true, Ordering::SeqCst);
    let body = bytes_of(5, 6);
    let put = s
        .store
        .presign_put("k/bus", &limits(&body, None), s.now(), HOUR)
        .await
        .unwrap();
    let r = s.send("PUT", &put.url, &headers_of(&put), body).await;
    assert_eq!((r.status, r.code().as_str()), (503, "ServiceUnavailable"));
    // S3's words for it; "reduce your request rate" is SlowDown's.
    assert!(
        r.text()
            .contains("<Message>Service is unable to handle request.</Message>"),
        "{}",
        r.text()
    );
    let err = s.store.delete("k/bus").await.unwrap_err();
    assert!(
        matches!(err, ferry_core::ports::PortError::Unavailable(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn delete_and_list_through_the_port() {
    let s = start().await;
    for key in ["a/1", "a/2", "a/3", "b/1"] {
        let body = key.as_bytes().to_vec();
        let put = s
            .store
            .presign_put(key, &limits(&body, None), s.now(), HOUR)
            .await
            .unwrap();
        assert_eq!(
            s.send("PUT", &put.url, &headers_of(&put), body)
                .await
                .status,
            200
        );
    }
    s.bus.take();
    let keys =
        |v: Vec<ferry_core::ports::ObjectInfo>| v.into_iter().map(|o| o.key).collect::<Vec<_>>();
    assert_eq!(
        keys(s.store.list("a/", None, 10).await.unwrap()),
        ["a/1", "a/2", "a/3"]
    );
    assert_eq!(
        keys(s.store.list("a/", Some("a/1"), 1).await.unwrap()),
        ["a/2"]
    );
    let all = s.store.list("", None, 100).await.unwrap();
    assert_eq!(all.len(), 4);
    assert!(
        all.iter()
            .all(|o| o.checksum_sha256.is_some() && o.etag.starts_with('"'))
    );

    s.store.delete("a/2").await.unwrap();
    let events = s.bus.take();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].detail_type, "Object Deleted");
    assert_eq!(events[0].detail["object"]["key"], "a/2");
    assert_eq!(events[0].detail["reason"], "DeleteObject");
    s.store.delete("a/2").await.unwrap();
    assert!(s.bus.take().is_empty(), "no event for a missing object");
    assert!(s.store.head("a/2").await.unwrap().is_none());
}

#[tokio::test]
async fn list_buckets_at_the_root() {
    let s = start().await;
    let signer = Signer {
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: SECRET_KEY.into(),
        region: "local-1".into(),
        base_url: s.url.clone(),
    };
    let url = signer.presign(&PresignRequest {
        method: "GET",
        path: "/",
        query: vec![],
        headers: vec![],
        now: s.clock.now(),
        expires_secs: 60,
    });
    let r = s.send("GET", &url, &[], Vec::new()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("<Name>ferry</Name>"), "{}", r.text());
}

#[tokio::test]
async fn a_small_middle_part_is_refused_and_the_upload_survives() {
    let s = start().await;
    let key = "k/small-parts";
    let id = s
        .store
        .create_multipart(key, "text/plain", true)
        .await
        .unwrap();
    let mut uploaded = Vec::new();
    for n in 1..=2u32 {
        let part = bytes_of(1000, n as u8);
        let url = s
            .store
            .presign_part(key, &id, n, &limits(&part, None), s.now(), HOUR)
            .await
            .unwrap();
        let r = s
            .send("PUT", &url.url, &headers_of(&url), part.clone())
            .await;
        assert_eq!(r.status, 200);
        uploaded.push(UploadedPart {
            part_number: n,
            e_tag: r.header("etag").unwrap().to_owned(),
            checksum_sha256: None,
        });
    }
    let err = s
        .store
        .complete_multipart(key, &id, &uploaded)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("EntityTooSmall"), "{err}");
    assert_eq!(s.store.list_parts(key, &id).await.unwrap().len(), 2);
    // The last part alone may be small.
    let info = s
        .store
        .complete_multipart(key, &id, &uploaded[..1])
        .await
        .unwrap();
    assert_eq!(info.size, 1000);
    let leftovers: Vec<_> = std::fs::read_dir(s.dir.path().join("objects"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.contains(&id) && !n.starts_with(".ferry-done-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // An upload answers only for its own key.
    let other = s
        .store
        .create_multipart("k/other", "text/plain", true)
        .await
        .unwrap();
    let err = s.store.list_parts("k/not-other", &other).await.unwrap_err();
    assert!(
        matches!(err, ferry_core::ports::PortError::NotFound(_)),
        "{err:?}"
    );
    let err = s
        .store
        .complete_multipart("k/x", "no-such-upload", &uploaded)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ferry_core::ports::PortError::NotFound(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_empty_file_uploads_with_a_presigned_put() {
    let s = start().await;
    let put = s
        .store
        .presign_put("k/empty", &limits(b"", None), s.now(), HOUR)
        .await
        .unwrap();
    // Browsers send `Content-Length: 0` for an empty PUT; hyper's client
    // leaves it out unless told.
    let mut h = headers_of(&put);
    h.push(("content-length", "0"));
    let r = s.send("PUT", &put.url, &h, Vec::new()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let head = s.store.head("k/empty").await.unwrap().unwrap();
    assert_eq!(head.size, 0);
    assert_eq!(s.bus.take()[0].detail["object"]["size"], 0);
}

#[tokio::test]
async fn keys_cannot_climb_out_and_other_buckets_do_not_exist() {
    let s = start().await;
    let body = bytes_of(10, 1);
    for key in ["../escape", "a/../../escape", "a//b", "./a"] {
        let put = s
            .store
            .presign_put(key, &limits(&body, None), s.now(), HOUR)
            .await
            .unwrap();
        let r = s
            .send("PUT", &put.url, &headers_of(&put), body.clone())
            .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "InvalidArgument"),
            "{key}: {}",
            r.text()
        );
    }
    let signer = Signer {
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: SECRET_KEY.into(),
        region: "local-1".into(),
        base_url: s.url.clone(),
    };
    let url = signer.presign(&PresignRequest {
        method: "PUT",
        path: "/other/k",
        query: vec![],
        headers: vec![("content-length".into(), "10".into())],
        now: s.clock.now(),
        expires_secs: 60,
    });
    let r = s.send("PUT", &url, &[], body).await;
    assert_eq!((r.status, r.code().as_str()), (404, "NoSuchBucket"));
    assert!(!s.dir.path().join("escape").exists());
    assert!(!s.dir.path().join("objects/escape").exists());
    assert!(!s.dir.path().join("objects/other").exists());
    assert!(s.bus.take().is_empty());
}

#[tokio::test]
async fn keys_with_any_characters_sign_and_verify() {
    let s = start().await;
    for key in [
        "u/a file (1).txt",
        "u/ünïcødé – 日本.txt",
        "u/plus+equals=amp&semi;.bin",
        "u/percent%20tilde~star*.bin",
        "u/quote'\"bang!at@hash#.bin",
    ] {
        let body = key.as_bytes().to_vec();
        let put = s
            .store
            .presign_put(key, &limits(&body, Some("text/plain")), s.now(), HOUR)
            .await
            .unwrap();
        let r = s
            .send("PUT", &put.url, &headers_of(&put), body.clone())
            .await;
        assert_eq!(r.status, 200, "{key}: {}", r.text());
        let get = s
            .store
            .presign_get(key, "x", "text/plain", s.now(), HOUR)
            .await
            .unwrap();
        let r = s.send("GET", &get.url, &[], Vec::new()).await;
        assert_eq!(r.status, 200, "{key}: {}", r.text());
        assert_eq!(r.body.as_ref(), body.as_slice());
        assert!(s.store.head(key).await.unwrap().is_some(), "{key}");
    }
    let keys: Vec<_> = s
        .store
        .list("u/", None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
}

#[tokio::test]
async fn signing_times_are_judged_by_the_injected_clock() {
    let s = start().await;
    // The clock runs two hours ahead of the system's: URLs it signs work.
    s.clock.advance(2 * 3600);
    let body = bytes_of(10, 8);
    let put = s
        .store
        .presign_put("k/ahead", &limits(&body, None), s.now(), HOUR)
        .await
        .unwrap();
    let r = s
        .send("PUT", &put.url, &headers_of(&put), body.clone())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // ... and expire by it.
    s.clock.advance(3601);
    let r = s
        .send("PUT", &put.url, &headers_of(&put), body.clone())
        .await;
    assert_eq!((r.status, r.code().as_str()), (403, "AccessDenied"));

    // A URL signed well after the clock's now is refused.
    let later = ferry_protocol::Timestamp::new(s.clock.now() + time::Duration::hours(1));
    let put = s
        .store
        .presign_put("k/ahead", &limits(&body, None), later, HOUR)
        .await
        .unwrap();
    let r = s.send("PUT", &put.url, &headers_of(&put), body).await;
    assert_eq!((r.status, r.code().as_str()), (403, "RequestTimeTooSkewed"));
}

/// A completed upload's record (which answers a retried complete) is
/// pruned once it is older than what the server keeps, and not before.
#[tokio::test]
async fn completed_uploads_records_are_pruned_when_old() {
    let s = start().await;
    let mut ids = Vec::new();
    for key in ["k/old-done", "k/new-done"] {
        let id = s
            .store
            .create_multipart(key, "text/plain", false)
            .await
            .unwrap();
        let part = bytes_of(1000, 3);
        let url = s
            .store
            .presign_part(key, &id, 1, &limits(&part, None), s.now(), HOUR)
            .await
            .unwrap();
        let r = s.send("PUT", &url.url, &headers_of(&url), part).await;
        assert_eq!(r.status, 200);
        let done = [UploadedPart {
            part_number: 1,
            e_tag: r.header("etag").unwrap().to_owned(),
            checksum_sha256: None,
        }];
        s.store.complete_multipart(key, &id, &done).await.unwrap();
        ids.push(id);
    }
    let record = |id: &str| s.dir.path().join(format!("objects/.ferry-done-{id}.json"));
    let at = |seconds_ago: u64| {
        let now = u64::try_from(s.clock.unix()).unwrap();
        std::time::UNIX_EPOCH + Duration::from_secs(now - seconds_ago)
    };
    let day = Duration::from_secs(24 * 3600);
    for (id, age) in [(&ids[0], 2 * 24 * 3600), (&ids[1], 3600)] {
        let file = std::fs::File::options()
            .write(true)
            .open(record(id))
            .unwrap();
        file.set_modified(at(age)).unwrap();
    }
    assert_eq!(s.endpoint.prune_completions(day).await.unwrap(), 1);
    assert!(!record(&ids[0]).exists());
    assert!(record(&ids[1]).exists());
    assert_eq!(s.endpoint.prune_completions(day).await.unwrap(), 0);
}
