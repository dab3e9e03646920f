//! What the object endpoint spends to take a multipart upload, printed for
//! `cargo xtask bench`.
//!
//! The endpoint runs in a child process (this same binary, started with
//! `FERRY_BENCH_SERVE`), so its CPU time, read from `/proc/<pid>/stat`,
//! is the store's alone; this process is the client and talks to it over
//! loopback with presigned URLs, as a browser does. These machines are
//! noisy, so every figure is printed beside a baseline measured in the same
//! run, and as a ratio of it:
//!
//! - server CPU-seconds per GiB for a 1 GiB multipart upload in 16 MiB parts
//!   (4 in flight), with and without a signed SHA-256 per part, against a
//!   single presigned PUT of the same GiB without a checksum;
//! - the time from sending CompleteMultipartUpload to its answer, against a
//!   CreateMultipartUpload round trip on the same endpoint: sent as soon as
//!   the last part is answered, and (with checksums) once more after a pause,
//!   so the share of finishing the whole file's hash shows;
//! - this machine's SHA-256 (the `sha2` crate, which uses the CPU's SHA
//!   extensions when it has them) and MD5 (s3s's) in MiB/s, against copying
//!   the same bytes in memory: what each byte's checks cost at best.
//!
//! `FERRY_BENCH_GIB` sets the upload's size in GiB (default 1).

#![allow(clippy::unwrap_used)] // A benchmark fails loudly on anything unexpected.

use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;
use ferry_core::clock::SystemClock;
use ferry_core::ports::{Bus, BusEntry, PortResult};
use ferry_objects::presign::{PresignRequest, Signer};
use ferry_objects::{ObjectEndpoint, ObjectsConfig};
use http_body_util::BodyExt as _;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sha2::Digest as _;
use std::io::BufRead as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

const BUCKET: &str = "ferry";
const ACCESS_KEY: &str = "FERRYBENCH";
const SECRET_KEY: &str = "bench-secret";
const REGION: &str = "local-1";
const MIB: usize = 1024 * 1024;
const GIB: usize = 1024 * MIB;
const PART: usize = 16 * MIB;
const IN_FLIGHT: usize = 4;
/// Distinct part contents; part `n` carries `n % DISTINCT`'s bytes.
const DISTINCT: usize = 4;

/// A bus that takes everything (the bench measures the store, not the bus).
#[derive(Debug)]
struct NullBus;

#[async_trait]
impl Bus for NullBus {
    async fn put(&self, _entries: Vec<BusEntry>) -> PortResult<()> {
        Ok(())
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    match std::env::var_os("FERRY_BENCH_SERVE") {
        Some(root) => runtime.block_on(serve(root.into())),
        None => runtime.block_on(run()),
    }
}

/// The child: the endpoint on a free loopback port, its URL on stdout.
async fn serve(root: std::path::PathBuf) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let endpoint = ObjectEndpoint::new(
        ObjectsConfig {
            bucket: BUCKET.into(),
            region: REGION.into(),
            access_key_id: ACCESS_KEY.into(),
            secret_access_key: SECRET_KEY.into(),
            root,
            public_url: url.clone(),
            allowed_origins: vec!["*".into()],
        },
        Arc::new(NullBus),
        Arc::new(SystemClock),
    )
    .unwrap();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let endpoint = endpoint.clone();
        async move { endpoint.handle(req).await }
    });
    println!("LISTENING {url}");
    axum::serve(listener, app).await.unwrap();
}

/// Bytes that don't compress.
fn noise(len: usize, seed: u64) -> Bytes {
    let mut bytes = vec![0u8; len];
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ seed;
    for chunk in bytes.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
    Bytes::from(bytes)
}

/// `total` bytes of `pattern`, repeated, a MiB per frame.
struct Repeated {
    pattern: Bytes,
    left: usize,
    at: usize,
}

impl futures_core::Stream for Repeated {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let at = self.at;
        let n = MIB.min(self.left).min(self.pattern.len() - at);
        let frame = self.pattern.slice(at..at + n);
        self.left -= n;
        self.at = (at + n) % self.pattern.len();
        Poll::Ready(Some(Ok(frame)))
    }
}

/// The child's user and system CPU time so far.
fn cpu_of(pid: u32, ticks_per_s: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name (which may hold spaces), which ends
    // with the last `)`: utime and stime are the 14th and 15th fields.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields[11].parse().unwrap();
    let stime: f64 = fields[12].parse().unwrap();
    (utime + stime) / ticks_per_s
}

struct Bench {
    signer: Signer,
    client: Client<HttpConnector, axum::body::Body>,
    pid: u32,
    ticks_per_s: f64,
}

struct Reply {
    status: u16,
    etag: String,
    body: String,
}

impl Bench {
    fn url(
        &self,
        method: &str,
        key: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> String {
        let mut query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        query.push(("X-Amz-Content-Sha256".into(), "UNSIGNED-PAYLOAD".into()));
        self.signer.presign(&PresignRequest {
            method,
            path: &format!("/{BUCKET}/{key}"),
            query,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            now: time::OffsetDateTime::now_utc(),
            expires_secs: 3600,
        })
    }

    async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: axum::body::Body,
    ) -> Reply {
        let mut request = http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = self
            .client
            .request(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            etag,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    fn cpu(&self) -> f64 {
        cpu_of(self.pid, self.ticks_per_s)
    }

    /// One presigned PUT of `size` bytes; answers the server CPU-seconds
    /// it took.
    async fn single_put(&self, key: &str, pattern: &Bytes, size: usize) -> f64 {
        let length = size.to_string();
        let headers = [("content-length", length.as_str())];
        let url = self.url("PUT", key, &[], &headers);
        let before = self.cpu();
        let body = axum::body::Body::from_stream(Repeated {
            pattern: pattern.clone(),
            left: size,
            at: 0,
        });
        let reply = self.send("PUT", &url, &headers, body).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        self.cpu() - before
    }

    async fn create(&self, key: &str) -> (String, Duration) {
        let url = self.url("POST", key, &[("uploads", "")], &[]);
        let started = Instant::now();
        let reply = self
            .send("POST", &url, &[], axum::body::Body::empty())
            .await;
        let took = started.elapsed();
        assert_eq!(reply.status, 200, "{}", reply.body);
        let id = reply
            .body
            .split_once("<UploadId>")
            .and_then(|(_, rest)| rest.split_once("</UploadId>"))
            .map(|(id, _)| id.to_owned())
            .unwrap();
        (id, took)
    }

    /// A multipart upload of `size` bytes in 16 MiB parts, `IN_FLIGHT` at
    /// a time; answers the server CPU-seconds it took (parts and
    /// completion) and how long CompleteMultipartUpload took to answer.
    async fn multipart(
        self: &Arc<Self>,
        key: &str,
        parts: &Arc<Vec<(Bytes, String)>>,
        size: usize,
        checksums: bool,
        pause: Duration,
    ) -> (f64, Duration) {
        let (upload_id, _) = self.create(key).await;
        let count = size.div_ceil(PART);
        let before = self.cpu();
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(1));
        let mut workers = Vec::new();
        for _ in 0..IN_FLIGHT {
            let (bench, next, parts) = (self.clone(), next.clone(), parts.clone());
            let (key, upload_id) = (key.to_owned(), upload_id.clone());
            workers.push(tokio::spawn(async move {
                let mut etags = Vec::new();
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if n > count {
                        return etags;
                    }
                    let (bytes, sha) = &parts[n % DISTINCT];
                    let len = PART.min(size - (n - 1) * PART);
                    let bytes = bytes.slice(..len);
                    let sha = if len == PART {
                        sha.clone()
                    } else {
                        base64::engine::general_purpose::STANDARD
                            .encode(sha2::Sha256::digest(&bytes))
                    };
                    let length = len.to_string();
                    let mut headers = vec![("content-length", length.as_str())];
                    if checksums {
                        headers.push(("x-amz-checksum-sha256", sha.as_str()));
                    }
                    let number = n.to_string();
                    let url = bench.url(
                        "PUT",
                        &key,
                        &[("partNumber", &number), ("uploadId", &upload_id)],
                        &headers,
                    );
                    let reply = bench
                        .send("PUT", &url, &headers, axum::body::Body::from(bytes))
                        .await;
                    assert_eq!(reply.status, 200, "{}", reply.body);
                    etags.push((n, reply.etag, checksums.then_some(sha)));
                }
            }));
        }
        let mut etags = Vec::new();
        for worker in workers {
            etags.extend(worker.await.unwrap());
        }
        etags.sort_by_key(|(n, _, _)| *n);
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (n, etag, sha) in &etags {
            xml.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag>"
            ));
            if let Some(sha) = sha {
                xml.push_str(&format!("<ChecksumSHA256>{sha}</ChecksumSHA256>"));
            }
            xml.push_str("</Part>");
        }
        xml.push_str("</CompleteMultipartUpload>");
        tokio::time::sleep(pause).await;
        let url = self.url("POST", key, &[("uploadId", &upload_id)], &[]);
        let started = Instant::now();
        let reply = self
            .send("POST", &url, &[], axum::body::Body::from(xml))
            .await;
        let complete = started.elapsed();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(reply.body.contains("<ETag>"), "{}", reply.body);
        (self.cpu() - before, complete)
    }
}

/// MiB/s of `work` over `bytes`, the best of three.
fn speed(bytes: &Bytes, mut work: impl FnMut(&[u8])) -> f64 {
    (0..3)
        .map(|_| {
            let started = Instant::now();
            work(bytes);
            bytes.len() as f64 / MIB as f64 / started.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

async fn run() {
    let gib: usize = std::env::var("FERRY_BENCH_GIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let size = gib * GIB;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .env("FERRY_BENCH_SERVE", dir.path().join("objects"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().strip_prefix("LISTENING ").unwrap().to_owned();
    let ticks = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0);
    let bench = Arc::new(Bench {
        signer: Signer {
            access_key_id: ACCESS_KEY.into(),
            secret_access_key: SECRET_KEY.into(),
            region: REGION.into(),
            base_url: url,
        },
        client: Client::builder(TokioExecutor::new()).build_http(),
        pid: child.id(),
        ticks_per_s: ticks,
    });
    let parts: Arc<Vec<(Bytes, String)>> = Arc::new(
        (0..DISTINCT)
            .map(|i| {
                let bytes = noise(PART, i as u64);
                let sha =
                    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&bytes));
                (bytes, sha)
            })
            .collect(),
    );
    let pattern = parts[0].0.clone();
    let mut sink = vec![0_u8; PART];
    let copy_mib_s = speed(&pattern, |b| {
        sink.copy_from_slice(b);
        std::hint::black_box(&sink);
    });
    let sha_mib_s = speed(&pattern, |b| {
        std::hint::black_box(sha2::Sha256::digest(b));
    });
    let md5_mib_s = speed(&pattern, |b| {
        use s3s::crypto::Checksum as _;
        let mut md5 = s3s::crypto::Md5::new();
        md5.update(b);
        std::hint::black_box(md5.finalize());
    });

    // A warm-up, so page cache and allocator start alike for every row.
    bench.single_put("warm-up.bin", &pattern, 64 * MIB).await;
    let mut create = Vec::new();
    for i in 0..20 {
        create.push(bench.create(&format!("create-{i}.bin")).await.1);
    }
    create.sort();
    let create_ms = create[create.len() / 2].as_secs_f64() * 1000.0;

    let put_cpu = bench.single_put("single.bin", &pattern, size).await / gib as f64;
    let now = Duration::ZERO;
    let (plain_cpu, plain_complete) = bench.multipart("plain.bin", &parts, size, false, now).await;
    let (checked_cpu, checked_complete) = bench
        .multipart("checked.bin", &parts, size, true, now)
        .await;
    let (_, settled_complete) = bench
        .multipart("settled.bin", &parts, size, true, Duration::from_secs(1))
        .await;
    let settled_ms = settled_complete.as_secs_f64() * 1000.0;
    let plain_cpu = plain_cpu / gib as f64;
    let checked_cpu = checked_cpu / gib as f64;
    let plain_ms = plain_complete.as_secs_f64() * 1000.0;
    let checked_ms = checked_complete.as_secs_f64() * 1000.0;
    let _ = child.kill();
    let _ = child.wait();

    let line = |name: &str, value: f64| println!("FERRY_BENCH {name}={value:.3}");
    line("objects_gib", gib as f64);
    line("single_put_cpu_s_per_gib", put_cpu);
    line("multipart_cpu_s_per_gib", plain_cpu);
    line("multipart_vs_single_put_cpu", plain_cpu / put_cpu);
    line("multipart_sha256_cpu_s_per_gib", checked_cpu);
    line("multipart_sha256_vs_single_put_cpu", checked_cpu / put_cpu);
    line("create_multipart_p50_ms", create_ms);
    line("complete_ms", plain_ms);
    line("complete_sha256_ms", checked_ms);
    line("complete_sha256_vs_create", checked_ms / create_ms);
    line("complete_after_pause_ms", settled_ms);
    line("memcpy_mib_s", copy_mib_s);
    line("sha256_mib_s", sha_mib_s);
    line("md5_mib_s", md5_mib_s);

    println!();
    println!(
        "Object store, {gib} GiB over loopback in 16 MiB parts ({IN_FLIGHT} in flight), server CPU from /proc"
    );
    println!("single PUT, no checksum (baseline):   {put_cpu:>7.2} CPU-s/GiB");
    println!(
        "multipart, no checksums:              {plain_cpu:>7.2} CPU-s/GiB = {:.2}x single PUT",
        plain_cpu / put_cpu
    );
    println!(
        "multipart, SHA-256 per part:          {checked_cpu:>7.2} CPU-s/GiB = {:.2}x single PUT",
        checked_cpu / put_cpu
    );
    println!("CreateMultipartUpload (baseline):     {create_ms:>7.2} ms p50");
    println!(
        "CompleteMultipartUpload, no checksums: {plain_ms:>6.1} ms = {:.1}x create",
        plain_ms / create_ms
    );
    println!(
        "CompleteMultipartUpload, SHA-256:     {checked_ms:>7.1} ms = {:.1}x create",
        checked_ms / create_ms
    );
    println!(
        "CompleteMultipartUpload, 1 s later:   {settled_ms:>7.1} ms = {:.1}x create (the hash finished)",
        settled_ms / create_ms
    );
    println!("memory copy (baseline):               {copy_mib_s:>7.0} MiB/s");
    println!(
        "SHA-256 (sha2):                       {sha_mib_s:>7.0} MiB/s = {:.3}x copy, {:.2} CPU-s/GiB",
        sha_mib_s / copy_mib_s,
        1024.0 / sha_mib_s
    );
    println!(
        "MD5 (s3s, for ETags):                 {md5_mib_s:>7.0} MiB/s = {:.3}x copy, {:.2} CPU-s/GiB",
        md5_mib_s / copy_mib_s,
        1024.0 / md5_mib_s
    );
}
