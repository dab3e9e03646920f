//! How the endpoint serves an object's bytes to a browser (issue 20): byte
//! ranges as S3 answers them (206, `Content-Range`, 416 `InvalidRange`),
//! through presigned GETs whose `Range` header isn't signed; and the
//! headers that keep user content from running in the app's origin, which
//! the endpoint shares: every answer is `nosniff` and sandboxed, and HTML,
//! SVG and XML are attachments of no renderable type whatever the request
//! asked for.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

mod common;

use common::*;
use ferry_core::ports::{ObjectStore, PutLimits};
use ferry_objects::presign::{PresignRequest, Signer};
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);

/// Stores `body` under `key` with `content_type` through a presigned PUT.
async fn put(s: &Stack, key: &str, body: &[u8], content_type: &str) {
    let limits = PutLimits {
        content_length: body.len() as u64,
        checksum_sha256: Some(sha256_b64(body)),
        content_type: Some(content_type.to_owned()),
    };
    let p = s
        .store
        .presign_put(key, &limits, s.now(), HOUR)
        .await
        .unwrap();
    let headers: Vec<(&str, &str)> = p
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = s.send("PUT", &p.url, &headers, body.to_vec()).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// A presigned URL made by hand, asking for whatever `query` says: what a
/// person holding the endpoint's key (or a bug in the API) could make.
fn hand_signed(s: &Stack, method: &str, key: &str, query: &[(&str, &str)]) -> String {
    let signer = Signer {
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: SECRET_KEY.into(),
        region: "local-1".into(),
        base_url: s.url.clone(),
    };
    signer.presign(&PresignRequest {
        method,
        path: &format!("/{BUCKET}/{key}"),
        query: query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        headers: vec![],
        now: s.now().get(),
        expires_secs: 600,
    })
}

fn assert_safe(r: &Reply, what: &str) {
    assert_eq!(
        r.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        r.header("content-security-policy"),
        Some("sandbox"),
        "{what}"
    );
    assert_eq!(
        r.header("cross-origin-resource-policy"),
        Some("cross-origin"),
        "{what}"
    );
}

#[tokio::test]
async fn presigned_gets_answer_byte_ranges_as_s3_does() {
    let s = start().await;
    let body = bytes_of(1000, 3);
    put(&s, "users/u1/video", &body, "video/mp4").await;
    let url = s
        .store
        .presign_get("users/u1/video", "clip.mp4", "video/mp4", s.now(), HOUR)
        .await
        .unwrap()
        .url;

    let whole = s.send("GET", &url, &[], Vec::new()).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));
    assert_eq!(whole.header("content-length"), Some("1000"));
    assert_eq!(whole.header("content-range"), None);

    // (Range, first byte, last byte): closed, open-ended, a suffix, and an
    // end past the object, which S3 cuts to the object's last byte.
    for (range, first, last) in [
        ("bytes=10-19", 10, 19),
        ("bytes=990-", 990, 999),
        ("bytes=-5", 995, 999),
        ("bytes=0-", 0, 999),
        ("bytes=500-5000", 500, 999),
        ("bytes=999-999", 999, 999),
        ("bytes=-5000", 0, 999),
    ] {
        let r = s.send("GET", &url, &[("range", range)], Vec::new()).await;
        assert_eq!(r.status, 206, "{range}: {}", r.text());
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {first}-{last}/1000").as_str()),
            "{range}"
        );
        let len = last - first + 1;
        assert_eq!(
            r.header("content-length"),
            Some(len.to_string().as_str()),
            "{range}"
        );
        assert_eq!(r.header("accept-ranges"), Some("bytes"), "{range}");
        assert_eq!(r.body.as_ref(), &body[first..=last], "{range}");
        // The presigned GET's own answer stays as asked: video inline
        // stays a video, its name in the disposition.
        assert_eq!(r.header("content-type"), Some("video/mp4"), "{range}");
        assert_safe(&r, range);
    }

    // Nothing of the object in range: 416 InvalidRange, as S3 answers.
    for range in ["bytes=1000-", "bytes=1000-2000", "bytes=-0"] {
        let r = s.send("GET", &url, &[("range", range)], Vec::new()).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (416, "InvalidRange"),
            "{range}"
        );
    }

    // A Range S3 can't read (not bytes, several ranges, backwards) is
    // ignored, as S3 ignores it: the whole object.
    for range in ["bytes=abc", "bytes=0-1,5-6", "bytes=9-3", "items=0-5"] {
        let r = s.send("GET", &url, &[("range", range)], Vec::new()).await;
        assert_eq!(r.status, 200, "{range}: {}", r.text());
        assert_eq!(r.body.len(), 1000, "{range}");
    }

    // HEAD says ranges are taken.
    let head = hand_signed(&s, "HEAD", "users/u1/video", &[]);
    let r = s.send("HEAD", &head, &[], Vec::new()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("content-length"), Some("1000"));
    assert_safe(&r, "HEAD");
}

#[tokio::test]
async fn markup_is_never_served_inline_whatever_the_request_asks() {
    let s = start().await;
    let html = b"<html><script>alert(1)</script></html>";
    let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>";
    put(&s, "users/u1/page", html, "text/html").await;
    put(&s, "users/u1/pic", svg, "image/svg+xml").await;
    put(&s, "users/u1/feed", b"<x/>", "application/xml").await;
    put(&s, "users/u1/photo", &bytes_of(64, 1), "image/png").await;

    let inline = "inline; filename*=UTF-8''x";
    for (key, asked) in [
        ("users/u1/page", "text/html"),
        ("users/u1/page", "application/xhtml+xml"),
        ("users/u1/pic", "image/svg+xml"),
        ("users/u1/feed", "text/xml"),
        ("users/u1/photo", "text/html; charset=utf-8"),
        ("users/u1/photo", "image/svg+xml"),
    ] {
        let what = format!("{key} as {asked}");
        let url = hand_signed(
            &s,
            "GET",
            key,
            &[
                ("response-content-type", asked),
                ("response-content-disposition", inline),
            ],
        );
        let r = s.send("GET", &url, &[], Vec::new()).await;
        assert_eq!(r.status, 200, "{what}: {}", r.text());
        assert_eq!(
            r.header("content-disposition"),
            Some("attachment; filename*=UTF-8''x"),
            "{what}"
        );
        assert_eq!(
            r.header("content-type"),
            Some("application/octet-stream"),
            "{what}"
        );
        assert_safe(&r, &what);
    }

    // No response-* at all: the stored type is the uploader's claim, and
    // markup is still an attachment.
    for key in ["users/u1/page", "users/u1/pic", "users/u1/feed"] {
        let r = s
            .send("GET", &hand_signed(&s, "GET", key, &[]), &[], Vec::new())
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-disposition"), Some("attachment"), "{key}");
        assert_eq!(
            r.header("content-type"),
            Some("application/octet-stream"),
            "{key}"
        );
        assert_safe(&r, key);
    }

    // The API's download of an HTML file: still an attachment with its
    // name, of no renderable type.
    let download = s
        .store
        .presign_get("users/u1/page", "page.html", "text/html", s.now(), HOUR)
        .await
        .unwrap();
    let r = s.send("GET", &download.url, &[], Vec::new()).await;
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename*=UTF-8''page.html")
    );
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.body.as_ref(), html);

    // A passive type asked inline stays inline; a type that isn't passive
    // but isn't markup keeps its type as an attachment.
    let url = hand_signed(
        &s,
        "GET",
        "users/u1/photo",
        &[("response-content-disposition", inline)],
    );
    let r = s.send("GET", &url, &[], Vec::new()).await;
    assert_eq!(r.header("content-disposition"), Some(inline));
    assert_eq!(r.header("content-type"), Some("image/png"));
    assert_safe(&r, "png inline");
    let url = hand_signed(
        &s,
        "GET",
        "users/u1/photo",
        &[
            ("response-content-disposition", inline),
            ("response-content-type", "application/zip"),
        ],
    );
    let r = s.send("GET", &url, &[], Vec::new()).await;
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename*=UTF-8''x")
    );
    assert_eq!(r.header("content-type"), Some("application/zip"));
}

#[tokio::test]
async fn refusals_and_listings_carry_the_safety_headers_too() {
    let s = start().await;
    let missing = hand_signed(&s, "GET", "users/u1/none", &[]);
    let r = s.send("GET", &missing, &[], Vec::new()).await;
    assert_eq!((r.status, r.code().as_str()), (404, "NoSuchKey"));
    assert_safe(&r, "404");
    let r = s
        .send(
            "GET",
            &format!("{}/{BUCKET}/users/u1/none", s.url),
            &[],
            Vec::new(),
        )
        .await;
    assert_eq!(r.status, 403);
    assert_safe(&r, "unsigned");
    let list = hand_signed(&s, "GET", "", &[("list-type", "2")]);
    let r = s.send("GET", &list, &[], Vec::new()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_safe(&r, "listing");
    // A listing is S3's XML for the SDKs, not an object: left as it is.
    assert_eq!(r.header("content-type"), Some("application/xml"));
    assert_eq!(r.header("content-disposition"), None);
}
