//! Multipart uploads as the local store stages them: parts written in place
//! into one file (out of order, sent again, refused, of other sizes),
//! completion that links that file into place instead of copying it,
//! aborts that free it, and the store killed (`kill -9`) at any point of an
//! upload or its completion: after a restart the upload goes on from its
//! parts, or the object is whole; never torn.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

mod common;

use common::*;
use ferry_core::ports::ObjectStore as _;
use ferry_objects::presign::{PresignRequest, Signer};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

const MIB: usize = 1024 * 1024;

/// An S3 client over HTTP that presigns every request with the endpoint's
/// key, as any SDK would sign it.
struct S3 {
    signer: Signer,
    client: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<bytes::Bytes>,
    >,
}

impl S3 {
    fn new(url: &str) -> Self {
        Self {
            signer: Signer {
                access_key_id: ACCESS_KEY.into(),
                secret_access_key: SECRET_KEY.into(),
                region: "local-1".into(),
                base_url: url.into(),
            },
            client: hyper_util::client::legacy::Client::builder(
                hyper_util::rt::TokioExecutor::new(),
            )
            .build_http(),
        }
    }

    async fn send(
        &self,
        method: &str,
        key: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Reply {
        use http_body_util::BodyExt as _;
        let mut query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        query.push(("X-Amz-Content-Sha256".into(), "UNSIGNED-PAYLOAD".into()));
        let url = self.signer.presign(&PresignRequest {
            method,
            path: &format!("/{BUCKET}/{key}"),
            query,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            now: time::OffsetDateTime::now_utc(),
            expires_secs: 900,
        });
        let mut request = http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = self
            .client
            .request(
                request
                    .body(http_body_util::Full::new(body.into()))
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn create(&self, key: &str) -> String {
        let reply = self
            .send("POST", key, &[("uploads", "")], &[], vec![])
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        between(&reply.text(), "UploadId")
    }

    /// Sends part `n`; its checksum is signed in unless `checksum` says
    /// otherwise (`Some` with a wrong one).
    async fn part(
        &self,
        key: &str,
        id: &str,
        n: u32,
        bytes: &[u8],
        checksum: Option<&str>,
    ) -> Reply {
        let length = bytes.len().to_string();
        let right = sha256_b64(bytes);
        let number = n.to_string();
        let headers = [
            ("content-length", length.as_str()),
            ("x-amz-checksum-sha256", checksum.unwrap_or(&right)),
        ];
        self.send(
            "PUT",
            key,
            &[("partNumber", &number), ("uploadId", id)],
            &headers,
            bytes.to_vec(),
        )
        .await
    }

    async fn complete(&self, key: &str, id: &str, parts: &[(u32, String)]) -> Reply {
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (n, etag) in parts {
            xml.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        self.send("POST", key, &[("uploadId", id)], &[], xml.into_bytes())
            .await
    }

    async fn list_parts(&self, key: &str, id: &str) -> Reply {
        self.send("GET", key, &[("uploadId", id)], &[], vec![])
            .await
    }
}

/// The text of the first `<tag>` in `xml`.
fn between(xml: &str, tag: &str) -> String {
    xml.split_once(&format!("<{tag}>"))
        .and_then(|(_, rest)| rest.split_once(&format!("</{tag}>")))
        .map(|(text, _)| text.to_owned())
        .unwrap_or_default()
}

fn md5_hex(bytes: &[u8]) -> String {
    use s3s::crypto::Checksum as _;
    let mut md5 = s3s::crypto::Md5::new();
    md5.update(bytes);
    md5.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The ETag of a part sent with a SHA-256 checksum (as every part here
/// is) and no Content-MD5: the first 16 bytes of that SHA-256, in hex.
fn part_etag_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// S3's ETag of a multipart object: the MD5 of the parts' ETags (as
/// bytes), and their count.
fn multipart_etag(parts: &[&[u8]]) -> String {
    let mut etags = Vec::new();
    for part in parts {
        let hex = part_etag_hex(part);
        etags.extend((0..16).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()));
    }
    format!("\"{}-{}\"", md5_hex(&etags), parts.len())
}

/// The files in the data directory that belong to upload `id`, but the
/// record of its completion (kept for a while, so completing again answers
/// the same).
fn files_of(root: &Path, id: &str) -> Vec<String> {
    std::fs::read_dir(root)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.contains(id) && !name.starts_with(".ferry-done-"))
        .collect()
}

fn stage_of(root: &Path, id: &str) -> PathBuf {
    root.join(format!(".upload_id-{id}.staging"))
}

fn object_of(root: &Path, key: &str) -> PathBuf {
    root.join(BUCKET).join(key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_land_in_place_and_completion_links_them_without_a_copy() {
    let s = start().await;
    let root = s.dir.path().join("objects");
    let s3 = S3::new(&s.url);
    let key = "staged/in place.bin";
    let parts: Vec<Vec<u8>> = [5 * MIB, 5 * MIB, 5 * MIB, 2 * MIB + 3]
        .iter()
        .enumerate()
        .map(|(i, len)| bytes_of(*len, i as u8 + 1))
        .collect();
    let id = s3.create(key).await;
    let mut etags = vec![String::new(); parts.len()];
    // Out of order: part 1 arrives after part 3, so the hash waits for it.
    for n in [3_u32, 1, 4, 2] {
        let part = &parts[n as usize - 1];
        let reply = s3.part(key, &id, n, part, None).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert_eq!(
            reply.header("etag"),
            Some(format!("\"{}\"", part_etag_hex(part)).as_str())
        );
        assert_eq!(
            reply.header("x-amz-checksum-sha256"),
            Some(sha256_b64(part).as_str())
        );
        etags[n as usize - 1] = reply.header("etag").unwrap().to_owned();
    }
    // Every part is in the staging file; none has a file of its own.
    let names = files_of(&root, &id);
    assert!(names.iter().all(|n| !n.contains(".part-")), "{names:?}");
    let staged = std::fs::metadata(stage_of(&root, &id)).unwrap();

    let listed: Vec<(u32, String)> = (1..=4).zip(etags.iter().cloned()).collect();
    let reply = s3.complete(key, &id, &listed).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let all: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let text = reply.text();
    assert_eq!(
        between(&text, "Location"),
        format!("{}/{BUCKET}/staged/in%20place.bin", s.url)
    );
    assert_eq!(between(&text, "Bucket"), BUCKET);
    assert_eq!(between(&text, "Key"), key);
    assert_eq!(
        between(&text, "ETag").replace("&quot;", "\""),
        multipart_etag(&all)
    );

    // The object is the staging file itself, not a copy of it.
    let object = std::fs::metadata(object_of(&root, key)).unwrap();
    assert_eq!(object.ino(), staged.ino());
    assert_eq!(object.nlink(), 1);
    let content = parts.concat();
    assert_eq!(object.len(), content.len() as u64);
    let got = s3.send("GET", key, &[], &[], vec![]).await;
    assert!(got.body == content);
    let info = s.store.head(key).await.unwrap().unwrap();
    assert_eq!(info.checksum_sha256, Some(sha256_b64(&content)));
    assert_eq!(info.etag, multipart_etag(&all));
    // Nothing of the upload is left.
    assert_eq!(files_of(&root, &id), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_sent_again_replaces_its_bytes_and_a_refused_one_keeps_them() {
    let s = start().await;
    let root = s.dir.path().join("objects");
    let s3 = S3::new(&s.url);
    let key = "staged/again.bin";
    let first = bytes_of(5 * MIB, 1);
    let second = bytes_of(5 * MIB, 2);
    let third = bytes_of(MIB, 3);
    let replaced = bytes_of(5 * MIB, 9);
    let id = s3.create(key).await;
    for (n, part) in [(1, &first), (2, &second), (3, &third)] {
        assert_eq!(s3.part(key, &id, n, part, None).await.status, 200);
    }
    let staged = std::fs::metadata(stage_of(&root, &id)).unwrap().ino();
    // Part 1 again, other bytes: they can't go over the stored part's, so
    // they get a file of their own until completion copies them in.
    let again = s3.part(key, &id, 1, &replaced, None).await;
    assert_eq!(again.status, 200, "{}", again.text());
    // Part 2 again, damaged: refused, and the stored part 2 stays.
    let refused = s3
        .part(key, &id, 2, &replaced, Some(&sha256_b64(&second)))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert_eq!(refused.code(), "BadDigest");
    let listing = s3.list_parts(key, &id).await.text();
    let etags: Vec<String> = listing
        .split("<Part>")
        .skip(1)
        .map(|p| between(p, "ETag").replace("&quot;", "\""))
        .collect();
    assert_eq!(
        etags,
        [&replaced, &second, &third].map(|p| format!("\"{}\"", part_etag_hex(p)))
    );
    assert!(listing.contains("<LastModified>"), "{listing}");

    let listed: Vec<(u32, String)> = (1..=3).zip(etags).collect();
    let reply = s3.complete(key, &id, &listed).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let content = [replaced.as_slice(), &second, &third].concat();
    let got = s3.send("GET", key, &[], &[], vec![]).await;
    assert!(got.body == content);
    assert_eq!(
        std::fs::metadata(object_of(&root, key)).unwrap().ino(),
        staged
    );
    let info = s.store.head(key).await.unwrap().unwrap();
    assert_eq!(info.checksum_sha256, Some(sha256_b64(&content)));
    assert_eq!(files_of(&root, &id), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_of_other_sizes_and_listings_with_gaps_are_copied() {
    let s = start().await;
    let root = s.dir.path().join("objects");
    let s3 = S3::new(&s.url);

    // Part 2 is smaller than part 1 but not the last: not the layout of
    // the staging file, so completion copies.
    let key = "staged/sizes.bin";
    let parts = [bytes_of(6 * MIB, 1), bytes_of(5 * MIB, 2), bytes_of(MIB, 3)];
    let id = s3.create(key).await;
    let mut listed = Vec::new();
    for (n, part) in (1..).zip(&parts) {
        let reply = s3.part(key, &id, n, part, None).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        listed.push((n, reply.header("etag").unwrap().to_owned()));
    }
    assert_eq!(s3.complete(key, &id, &listed).await.status, 200);
    let content = parts.concat();
    assert!(s3.send("GET", key, &[], &[], vec![]).await.body == content);
    let info = s.store.head(key).await.unwrap().unwrap();
    assert_eq!(info.checksum_sha256, Some(sha256_b64(&content)));
    assert_eq!(files_of(&root, &id), Vec::<String>::new());

    // Four parts stored, three listed: S3 joins the listed ones.
    let key = "staged/gap.bin";
    let parts: Vec<Vec<u8>> = (1..=4).map(|i| bytes_of(5 * MIB, i)).collect();
    let id = s3.create(key).await;
    let mut listed = Vec::new();
    for (n, part) in (1..).zip(&parts) {
        let reply = s3.part(key, &id, n, part, None).await;
        listed.push((n, reply.header("etag").unwrap().to_owned()));
    }
    listed.remove(2);
    let reply = s3.complete(key, &id, &listed).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let content = [parts[0].as_slice(), &parts[1], &parts[3]].concat();
    assert!(s3.send("GET", key, &[], &[], vec![]).await.body == content);
    let info = s.store.head(key).await.unwrap().unwrap();
    assert_eq!(info.checksum_sha256, Some(sha256_b64(&content)));
    assert_eq!(files_of(&root, &id), Vec::<String>::new());

    // Only the first parts listed: the staging file is cut short and the
    // parts past its end are discarded.
    let key = "staged/short.bin";
    let id = s3.create(key).await;
    let mut listed = Vec::new();
    for (n, part) in (1..).zip(&parts) {
        let reply = s3.part(key, &id, n, part, None).await;
        listed.push((n, reply.header("etag").unwrap().to_owned()));
    }
    listed.truncate(2);
    let staged = std::fs::metadata(stage_of(&root, &id)).unwrap().ino();
    let reply = s3.complete(key, &id, &listed).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let content = parts[..2].concat();
    assert!(s3.send("GET", key, &[], &[], vec![]).await.body == content);
    assert_eq!(
        std::fs::metadata(object_of(&root, key)).unwrap().ino(),
        staged
    );
    let info = s.store.head(key).await.unwrap().unwrap();
    assert_eq!(info.checksum_sha256, Some(sha256_b64(&content)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_frees_the_staging_file() {
    let s = start().await;
    let root = s.dir.path().join("objects");
    let s3 = S3::new(&s.url);
    let key = "staged/abort.bin";
    let id = s3.create(key).await;
    for n in 1..=2 {
        let reply = s3
            .part(key, &id, n, &bytes_of(5 * MIB, n as u8), None)
            .await;
        assert_eq!(reply.status, 200);
    }
    assert!(stage_of(&root, &id).is_file());
    let reply = s3
        .send("DELETE", key, &[("uploadId", &id)], &[], vec![])
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text());
    assert_eq!(files_of(&root, &id), Vec::<String>::new());
    let gone = s3.list_parts(key, &id).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.code(), "NoSuchUpload");
}

/// After a restart the whole file's hash goes on from the hasher state
/// logged before it, without reading the hashed parts again: bytes changed
/// behind the store's back in part 1 don't change the hash it records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashing_resumes_from_its_log_after_a_restart() {
    let s = start().await;
    let root = s.dir.path().join("objects");
    let s3 = S3::new(&s.url);
    let key = "staged/resumed.bin";
    let parts: Vec<Vec<u8>> = (1..=3).map(|i| bytes_of(5 * MIB, i)).collect();
    let id = s3.create(key).await;
    let mut listed = Vec::new();
    for (n, part) in (1..).zip(&parts) {
        let reply = s3.part(key, &id, n, part, None).await;
        listed.push((n, reply.header("etag").unwrap().to_owned()));
    }
    let log = root.join(format!(".ferry-sha-{id}.log"));
    let started = std::time::Instant::now();
    while std::fs::read_to_string(&log).map_or(0, |t| t.lines().count()) < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "parts never hashed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(s3);
    // The first endpoint goes quiet (its hashing is done); its folder stays.
    let Stack { dir: _dir, .. } = s;

    // Flip a byte of part 1 in the staging file, then open the store again.
    {
        use std::os::unix::fs::FileExt as _;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(stage_of(&root, &id))
            .unwrap();
        file.write_all_at(&[parts[0][0] ^ 0xff], 0).unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let endpoint = ferry_objects::ObjectEndpoint::new(
        config(&url, root.clone()),
        std::sync::Arc::new(RecordingBus::default()),
        std::sync::Arc::new(ferry_core::clock::SystemClock),
    )
    .unwrap();
    let store = endpoint.store();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let endpoint = endpoint.clone();
        async move { endpoint.handle(req).await }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    let s3 = S3::new(&url);
    let reply = s3.complete(key, &id, &listed).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let info = store.head(key).await.unwrap().unwrap();
    assert_eq!(info.checksum_sha256, Some(sha256_b64(&parts.concat())));
}

/// The endpoint in a process of its own (this test binary, started again
/// with `FERRY_STAGING_SERVE` naming the data directory), so the parent can
/// kill it with SIGKILL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of the kill -9 test, run by it"]
async fn serve_as_the_killed_child() {
    let Some(root) = std::env::var_os("FERRY_STAGING_SERVE") else {
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let endpoint = ferry_objects::ObjectEndpoint::new(
        config(&url, PathBuf::from(root)),
        std::sync::Arc::new(RecordingBus::default()),
        std::sync::Arc::new(ferry_core::clock::SystemClock),
    )
    .unwrap();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let endpoint = endpoint.clone();
        async move { endpoint.handle(req).await }
    });
    println!("LISTENING {url}");
    axum::serve(listener, app).await.unwrap();
}

fn spawn_child(root: &Path) -> (std::process::Child, String) {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "serve_as_the_killed_child",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("FERRY_STAGING_SERVE", root)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("the child prints its URL").unwrap();
        if let Some(url) = line.strip_prefix("LISTENING ") {
            break url.to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (child, url)
}

/// Where in an upload a round kills the store.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// While the last part streams in place.
    Part(u64),
    /// After CompleteMultipartUpload is sent.
    Complete(u64),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_any_moment_leaves_the_upload_resumable_or_the_object_whole() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("objects");
    let (mut child, mut url) = spawn_child(&root);
    let parts: Vec<Vec<u8>> = [5 * MIB, 5 * MIB, 5 * MIB, 3 * MIB]
        .iter()
        .enumerate()
        .map(|(i, len)| bytes_of(*len, i as u8 + 7))
        .collect();
    let all: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let content = parts.concat();
    let etags: Vec<(u32, String)> = (1..)
        .zip(&parts)
        .map(|(n, p)| (n, format!("\"{}\"", part_etag_hex(p))))
        .collect();
    let mut moments: Vec<Moment> = [0, 1, 3, 8, 20].into_iter().map(Moment::Part).collect();
    moments.extend([0, 1, 2, 3, 4, 6, 8, 11, 15, 20, 30, 50].map(Moment::Complete));
    let mut keys = Vec::new();
    // How the rounds found the store after the restart: (object there,
    // upload open).
    let mut outcomes = std::collections::BTreeMap::new();
    for (round, moment) in moments.into_iter().enumerate() {
        let key = format!("crash/round-{round}.bin");
        let s3 = S3::new(&url);
        let id = s3.create(&key).await;
        // Part 1 is sent twice, the second time with other bytes and then
        // its own again, so a part outside the staging file is in play.
        for (n, part) in (1..).zip(&parts).take(3) {
            assert_eq!(s3.part(&key, &id, n, part, None).await.status, 200);
        }
        let other = bytes_of(5 * MIB, 99);
        assert_eq!(s3.part(&key, &id, 1, &other, None).await.status, 200);
        assert_eq!(s3.part(&key, &id, 1, &parts[0], None).await.status, 200);
        let sending = match moment {
            Moment::Part(_) => {
                let (key, id, last) = (key.clone(), id.clone(), parts[3].clone());
                let s3 = S3::new(&url);
                tokio::spawn(async move { s3.part(&key, &id, 4, &last, None).await })
            }
            Moment::Complete(_) => {
                assert_eq!(s3.part(&key, &id, 4, &parts[3], None).await.status, 200);
                let (key, id, etags) = (key.clone(), id.clone(), etags.clone());
                let s3 = S3::new(&url);
                tokio::spawn(async move { s3.complete(&key, &id, &etags).await })
            }
        };
        let (Moment::Part(ms) | Moment::Complete(ms)) = moment;
        tokio::time::sleep(Duration::from_millis(ms)).await;
        child.kill().unwrap();
        child.wait().unwrap();
        let _ = sending.await;

        (child, url) = spawn_child(&root);
        let s3 = S3::new(&url);
        let object = s3.send("GET", &key, &[], &[], vec![]).await;
        if object.status == 200 {
            // Complete: exactly the bytes uploaded.
            assert!(
                object.body == content,
                "round {round} ({moment:?}): torn object"
            );
        } else {
            assert_eq!(object.status, 404, "round {round}: {}", object.text());
        }
        let listing = s3.list_parts(&key, &id).await;
        *outcomes
            .entry((object.status == 200, listing.status == 200))
            .or_insert(0) += 1;
        if listing.status == 200 {
            // Resumable: every listed part is whole; the rest are sent again.
            let text = listing.text();
            let listed: Vec<u32> = text
                .split("<Part>")
                .skip(1)
                .map(|p| between(p, "PartNumber").parse().unwrap())
                .collect();
            for (n, part) in (1..).zip(&parts) {
                if !listed.contains(&n) {
                    assert_eq!(s3.part(&key, &id, n, part, None).await.status, 200);
                }
            }
            let done = s3.complete(&key, &id, &etags).await;
            assert_eq!(done.status, 200, "round {round}: {}", done.text());
        } else {
            assert_eq!(
                object.status, 200,
                "round {round} ({moment:?}): the upload is gone and no object was made"
            );
        }
        let object = s3.send("GET", &key, &[], &[], vec![]).await;
        assert!(object.body == content, "round {round} ({moment:?})");
        assert_eq!(
            object.header("etag").map(str::to_owned),
            Some(multipart_etag(&all))
        );
        assert_eq!(files_of(&root, &id), Vec::<String>::new(), "round {round}");
        eprintln!("round {round}: killed at {moment:?}");
        keys.push(key);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    eprintln!("after the restarts, (object there, upload open): rounds {outcomes:?}");

    // Each object's recorded SHA-256 is its bytes'.
    let s = ferry_objects::ObjectEndpoint::new(
        config("http://127.0.0.1:1", root),
        std::sync::Arc::new(RecordingBus::default()),
        std::sync::Arc::new(ferry_core::clock::SystemClock),
    )
    .unwrap()
    .store();
    for key in keys {
        let info = s.head(&key).await.unwrap().unwrap();
        assert_eq!(info.checksum_sha256, Some(sha256_b64(&content)), "{key}");
    }
}
