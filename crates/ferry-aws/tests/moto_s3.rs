//! The S3 object store against moto's server mode (PyPI `moto[server]`,
//! pinned in tools/python and installed by `cargo xtask test`): presigned
//! PUT, GET and UploadPart from AWS's SDK, then used over plain HTTP as a
//! browser would; multipart create, list, complete (twice), abort; head,
//! list and delete. moto does not check signatures; the local stack's tests
//! and the AWS SDK for JavaScript check ours.
//!
//! Two things moto 5.2.5 does otherwise than S3, so they aren't checked
//! here: it keeps a PUT's `x-amz-checksum-sha256` only when the request also
//! names the algorithm (`x-amz-sdk-checksum-algorithm`), and it answers
//! `ListParts` with a `ListPartsResponse` root, which AWS's SDK refuses (S3's
//! is `ListPartsResult`).

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

use base64::Engine as _;
mod common;

use common::{Moto, settings, start_moto};
use ferry_aws::S3ObjectStore;
use ferry_core::ports::{ObjectStore, PutLimits, attachment_disposition};
use ferry_protocol::Timestamp;
use ferry_protocol::messages::UploadedPart;
use sha2::Digest as _;
use std::io::{Read as _, Write as _};
use std::time::Duration;

const BUCKET: &str = "ferry-files";
const HOUR: Duration = Duration::from_secs(3600);

/// A plain HTTP/1.1 request, as a browser sends a presigned one.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn send(method: &str, url: &str, headers: &[(String, String)], body: &[u8]) -> Answer {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {host}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let text = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = text.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = unchunk(&body);
    }
    Answer {
        status,
        headers,
        body,
    }
}

fn unchunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(
            std::str::from_utf8(&data[..line_end])
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap();
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

fn sha256_b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes))
}

fn bytes_of(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn now() -> Timestamp {
    Timestamp::new(time::OffsetDateTime::now_utc())
}

/// Whether the store lists `upload_id` among its open uploads.
async fn is_open(store: &S3ObjectStore, upload_id: &str) -> bool {
    store
        .list_uploads()
        .await
        .unwrap()
        .iter()
        .any(|u| u.upload_id == upload_id)
}

async fn store_with_bucket(moto: &Moto) -> S3ObjectStore {
    common::s3_client(moto)
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    S3ObjectStore::new(&settings(moto), BUCKET)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_put_and_get_keep_bytes_checksum_type_and_name() {
    let moto = start_moto();
    let store = store_with_bucket(&moto).await;
    let key = "objects/u1/f1";
    let body = b"hello from the browser".to_vec();
    let limits = PutLimits {
        content_length: body.len() as u64,
        checksum_sha256: Some(sha256_b64(&body)),
        content_type: Some("text/plain".into()),
    };
    let put = store.presign_put(key, &limits, now(), HOUR).await.unwrap();
    assert_eq!(put.method, "PUT");
    // The checksum is signed: the browser must send it as given.
    assert!(put.url.contains("X-Amz-Signature="), "{}", put.url);
    assert!(
        put.headers
            .iter()
            .any(|(n, v)| n == "x-amz-checksum-sha256" && *v == sha256_b64(&body)),
        "{:?}",
        put.headers
    );
    assert!(
        !put.headers
            .iter()
            .any(|(n, _)| n == "content-length" || n == "host")
    );
    let answer = send("PUT", &put.url, &put.headers, &body);
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );

    let head = store.head(key).await.unwrap().unwrap();
    assert_eq!(head.size, body.len() as u64);
    assert!(
        head.etag.starts_with('"') && head.etag.ends_with('"'),
        "{}",
        head.etag
    );

    let get = store
        .presign_get(key, "Grüße & notes.txt", "text/plain", now(), HOUR)
        .await
        .unwrap();
    let answer = send("GET", &get.url, &get.headers, b"");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, body);
    assert_eq!(
        answer.header("content-disposition"),
        Some(attachment_disposition("Grüße & notes.txt").as_str())
    );

    let listed = store.list("objects/u1/", None, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|o| o.key.as_str()).collect::<Vec<_>>(),
        [key]
    );
    store.delete(key).await.unwrap();
    assert!(store.head(key).await.unwrap().is_none());
    // Deleting what isn't there is no error.
    store.delete(key).await.unwrap();
}

/// A preview's presigned GET (issue 20): S3 answers with the signed
/// `response-*` values (inline, the type, the cache policy); an active type
/// is never signed inline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inline_get_is_signed_only_for_passive_types() {
    let moto = start_moto();
    let store = store_with_bucket(&moto).await;
    let key = "objects/u1/notes";
    let body = b"# notes\n<script>alert(1)</script>".to_vec();
    let limits = PutLimits {
        content_length: body.len() as u64,
        checksum_sha256: Some(sha256_b64(&body)),
        content_type: Some("text/markdown".into()),
    };
    let put = store.presign_put(key, &limits, now(), HOUR).await.unwrap();
    assert_eq!(send("PUT", &put.url, &put.headers, &body).status, 200);

    let get = store
        .presign_inline_get(
            key,
            "notes.md",
            "text/plain; charset=utf-8",
            Some("private, max-age=900"),
            now(),
            HOUR,
        )
        .await
        .unwrap();
    let answer = send("GET", &get.url, &get.headers, b"");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, body);
    assert_eq!(
        answer.header("content-disposition"),
        Some("inline; filename*=UTF-8''notes.md")
    );
    assert_eq!(
        answer.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(answer.header("cache-control"), Some("private, max-age=900"));

    for ty in ["text/html", "image/svg+xml", "application/xml", ""] {
        let refused = store
            .presign_inline_get(key, "notes.md", ty, None, now(), HOUR)
            .await;
        assert!(
            matches!(refused, Err(ferry_core::ports::PortError::Invalid(_))),
            "{ty}: {refused:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_upload_from_presigned_parts_completes_once_and_aborts_cleanly() {
    let moto = start_moto();
    let store = store_with_bucket(&moto).await;
    let key = "objects/u1/big";
    let upload_id = store
        .create_multipart(key, "application/octet-stream", true)
        .await
        .unwrap();
    let parts = [bytes_of(5 * 1024 * 1024, 1), bytes_of(12_345, 2)];
    let mut uploaded = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let number = i as u32 + 1;
        let limits = PutLimits {
            content_length: part.len() as u64,
            checksum_sha256: Some(sha256_b64(part)),
            content_type: None,
        };
        let url = store
            .presign_part(key, &upload_id, number, &limits, now(), HOUR)
            .await
            .unwrap();
        assert!(
            url.url.contains(&format!("partNumber={number}")),
            "{}",
            url.url
        );
        assert!(url.url.contains("uploadId="), "{}", url.url);
        let answer = send("PUT", &url.url, &url.headers, part);
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        uploaded.push(UploadedPart {
            part_number: number,
            e_tag: answer.header("etag").unwrap().to_owned(),
            checksum_sha256: Some(sha256_b64(part)),
        });
    }
    let open = store.list_uploads().await.unwrap();
    assert!(
        open.iter()
            .any(|u| u.upload_id == upload_id && u.key == key)
    );

    let object = store
        .complete_multipart(key, &upload_id, &uploaded)
        .await
        .unwrap();
    assert_eq!(object.size, (parts[0].len() + parts[1].len()) as u64);
    assert!(object.etag.ends_with("-2\""), "{}", object.etag);
    // A multipart object's SHA-256 from S3 is a composite: not reported as
    // the whole object's, which is read through when asked for.
    assert_eq!(object.checksum_sha256, None);
    let whole: Vec<u8> = parts.concat();
    assert_eq!(
        store.whole_sha256(key).await.unwrap(),
        Some(sha256_b64(&whole))
    );
    assert_eq!(store.whole_sha256("objects/u1/none").await.unwrap(), None);
    // Completing again (an answer lost on the way) answers the object.
    let again = store
        .complete_multipart(key, &upload_id, &uploaded)
        .await
        .unwrap();
    assert_eq!(again.etag, object.etag);
    assert!(!is_open(&store, &upload_id).await);

    // An aborted upload is gone; aborting it again is no error.
    let other = store
        .create_multipart("objects/u1/gone", "text/plain", false)
        .await
        .unwrap();
    store
        .abort_multipart("objects/u1/gone", &other)
        .await
        .unwrap();
    assert!(!is_open(&store, &other).await);
    store
        .abort_multipart("objects/u1/gone", &other)
        .await
        .unwrap();
}

/// A derived object (a thumbnail) is written with its type and read back
/// whole; an object over the cap is not read; a missing one is said so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_derived_object_is_written_and_read_back_within_its_cap() {
    use ferry_core::ports::ObjectRead;
    let moto = start_moto();
    let store = store_with_bucket(&moto).await;
    let key = "users/ann/thumbs/00000000-0000-0000-0000-000000000007/small";
    store
        .put_derived(key, b"thumbnail bytes".to_vec(), "image/jpeg")
        .await
        .unwrap();
    assert_eq!(
        store.read(key, 1024).await.unwrap(),
        ObjectRead::Bytes(b"thumbnail bytes".to_vec())
    );
    assert_eq!(
        store.read(key, 4).await.unwrap(),
        ObjectRead::TooLarge { size: 15 }
    );
    assert_eq!(
        store.read("users/ann/nothing", 4).await.unwrap(),
        ObjectRead::Missing
    );
    let now = Timestamp::new(time::OffsetDateTime::now_utc());
    let get = store
        .presign_get(key, "photo.jpg", "image/jpeg", now, HOUR)
        .await
        .unwrap();
    let answer = send("GET", &get.url, &[], &[]);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("image/jpeg"));
    assert_eq!(answer.body, b"thumbnail bytes");
}
