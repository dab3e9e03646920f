//! The file API's speed over real sockets, printed for `cargo xtask bench`.
//!
//! The whole local stack runs in-process behind a loopback listener, and a
//! lean HTTP/1.1 client (hyper, keep-alive) and a WebSocket client talk to it
//! as a browser would. These machines are noisy, so every figure is printed
//! beside a baseline measured in the same run, and as a ratio of it:
//!
//! - listing and creating (requests per second) against `GET /healthz` on the
//!   same socket and client;
//! - the delay from an object PUT's answer to the `FileCreated` message on the
//!   WebSocket against a ping → pong round trip on the same socket;
//! - a 256 MiB PUT through a presigned URL (with and without a signed
//!   SHA-256) against writing the same bytes straight to the same filesystem.

#![allow(clippy::unwrap_used)] // A benchmark fails loudly on anything unexpected.

use axum::body::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::Digest;
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

const PASSWORD: &str = "Correct-Horse-1";
/// Concurrent clients in the request-rate phases.
const CLIENTS: usize = 4;
/// How long each request-rate phase runs.
const PHASE: Duration = Duration::from_secs(3);
/// Files the listing user has, and how many of them are in the listed folder.
const FILES: usize = 1000;
const IN_FOLDER: usize = 100;
/// Uploads whose notification delay is measured.
const NOTIFY_ROUNDS: usize = 200;
/// The large object's size.
const BIG: usize = 256 * 1024 * 1024;
/// How the large object's body is cut into frames.
const CHUNK: usize = 1024 * 1024;

type Body = BoxBody<Bytes, Infallible>;

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// One keep-alive HTTP/1.1 connection to the server.
struct Client {
    host: String,
    sender: SendRequest<Body>,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Self {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        Self {
            host: addr.to_string(),
            sender,
        }
    }

    /// Sends a request and reads the whole answer.
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Body,
    ) -> (u16, Bytes) {
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        self.sender.ready().await.unwrap();
        let response = self
            .sender
            .send_request(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, bytes)
    }

    async fn get(&mut self, token: &str, path: &str) -> (u16, Bytes) {
        let auth = [("authorization", format!("Bearer {token}"))];
        self.send("GET", path, &auth, full(Bytes::new())).await
    }

    /// Sends a command in its envelope; returns the answer as JSON.
    async fn command(&mut self, token: &str, data: Value) -> (u16, Value) {
        let id = Uuid::new_v4();
        let envelope = json!({
            "metadata": {
                "EventVersion": 1, "EventId": id, "CommandId": id,
                "TraceId": format!("trace-{}", id.simple()),
                "OccurredAt": "2026-11-26T12:00:00Z", "Producer": "web"
            },
            "data": data
        });
        let headers = [
            ("authorization", format!("Bearer {token}")),
            ("content-type", "application/json".to_owned()),
        ];
        let (status, body) = self
            .send(
                "POST",
                "/api/commands",
                &headers,
                full(envelope.to_string()),
            )
            .await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// Sends `body` to a presigned request (`{method, url, headers}`).
    async fn presigned(&mut self, request: &Value, length: usize, body: Body) -> (u16, Bytes) {
        let url = request["url"].as_str().unwrap();
        let path = url
            .strip_prefix("http://")
            .and_then(|rest| rest.find('/').map(|slash| &rest[slash..]))
            .unwrap();
        let mut headers = vec![("content-length", length.to_string())];
        if let Some(signed) = request["headers"].as_object() {
            for (name, value) in signed {
                if !name.eq_ignore_ascii_case("content-length") {
                    headers.push((name.as_str(), value.as_str().unwrap().to_owned()));
                }
            }
        }
        let method = request["method"].as_str().unwrap().to_owned();
        self.send(&method, path, &headers, body).await
    }

    /// Creates a file and uploads `content` in one PUT; returns its id.
    async fn upload(&mut self, token: &str, folder: &str, name: &str, content: &[u8]) -> String {
        let (status, created) = self
            .command(
                token,
                json!({"Action": "CreateFile", "Folder": folder, "Name": name,
                       "Size": content.len(), "ContentType": "text/plain"}),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        let request = &created["upload"]["request"];
        let (status, body) = self
            .presigned(request, content.len(), full(content.to_vec()))
            .await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        created["file"]["fileId"].as_str().unwrap().to_owned()
    }
}

async fn sign_in(client: &mut Client, name: &str) -> String {
    let body = json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": ferry_server::LOCAL_CLIENT_ID,
                      "AuthParameters": {"USERNAME": name, "PASSWORD": PASSWORD}});
    let headers = [
        ("content-type", "application/x-amz-json-1.1".to_owned()),
        (
            "x-amz-target",
            "AWSCognitoIdentityProviderService.InitiateAuth".to_owned(),
        ),
    ];
    let (status, answer) = client
        .send("POST", "/", &headers, full(body.to_string()))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    answer["AuthenticationResult"]["AccessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Requests per second of `CLIENTS` connections each sending `request` in a
/// loop for `PHASE` (after a short warm-up); every answer must be `expect`.
async fn rate<F, Fut>(addr: SocketAddr, expect: u16, request: F) -> f64
where
    F: Fn(Client, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = (Client, u16)> + Send + 'static,
{
    let done = Arc::new(AtomicU64::new(0));
    let counter = Arc::new(AtomicU64::new(0));
    let warm_up = Duration::from_millis(300);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (request, done, counter) = (request.clone(), done.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(addr).await;
            loop {
                let elapsed = started.elapsed();
                if elapsed >= warm_up + PHASE {
                    break;
                }
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let (back, status) = request(client, n).await;
                client = back;
                assert_eq!(status, expect);
                let finished = started.elapsed();
                if finished > warm_up && finished <= warm_up + PHASE {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / PHASE.as_secs_f64()
}

/// The `q`-th quantile (0..=1) of sorted durations, in milliseconds.
fn quantile(sorted: &[Duration], q: f64) -> f64 {
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text message on the socket, as JSON.
async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .expect("a message within 30 s")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

/// Bytes that don't compress, so no layer can make the copy cheaper.
fn noise(len: usize) -> Bytes {
    let mut bytes = vec![0u8; len];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for chunk in bytes.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
    Bytes::from(bytes)
}

/// The body of a large PUT, streamed from memory a frame at a time.
fn streamed(content: &Bytes) -> Body {
    let frames: Vec<Result<Frame<Bytes>, Infallible>> = (0..content.len())
        .step_by(CHUNK)
        .map(|at| {
            Ok(Frame::data(
                content.slice(at..(at + CHUNK).min(content.len())),
            ))
        })
        .collect();
    BodyExt::boxed(StreamBody::new(futures_util::stream::iter(frames)))
}

fn mib_per_s(bytes: usize, took: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / took.as_secs_f64()
}

/// A 256 MiB upload through a presigned URL; `checksum` signs its SHA-256.
async fn big_put(
    client: &mut Client,
    token: &str,
    content: &Bytes,
    name: &str,
    checksum: bool,
) -> Duration {
    let mut data = json!({"Action": "CreateFile", "Folder": "big", "Name": name,
                          "Size": content.len(), "ContentType": "application/octet-stream"});
    if checksum {
        let sha = ferry_core::service::hex(&sha2::Sha256::digest(content));
        data["Sha256"] = json!(sha);
    }
    let (status, created) = client.command(token, data).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["upload"]["kind"], "single", "{created}");
    let request = &created["upload"]["request"];
    assert_eq!(
        request["headers"]["x-amz-checksum-sha256"].is_string(),
        checksum,
        "{request}"
    );
    let started = Instant::now();
    let (status, body) = client
        .presigned(request, content.len(), streamed(content))
        .await;
    let took = started.elapsed();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    took
}

/// Trash items the trash bench lists the first page of.
const TRASHED: usize = 10_000;

/// The `sub` of a token: the user its items belong to.
fn alice_sub(token: &str) -> String {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["sub"].as_str().unwrap().to_owned()
}

/// `TRASHED` trash items of `sub`'s, a second apart, in the server's index.
async fn fill_trash(path: &std::path::Path, sub: &str) {
    use ferry_core::model::{TrashItem, TrashKind, UserId};
    use ferry_core::ports::Index as _;
    let index = ferry_index::SqliteIndex::open(path).unwrap();
    let user = UserId::parse(sub).unwrap();
    let start = ferry_protocol::Timestamp::from_unix_millis(1_767_225_600_000).unwrap();
    for i in 0..TRASHED {
        let item = TrashItem {
            user: user.clone(),
            trash_id: Uuid::new_v4(),
            kind: TrashKind::File,
            path: ferry_protocol::FolderPath::parse(&format!("old/{}", i % 50)).unwrap(),
            name: format!("deleted-{i:05}.txt"),
            file_id: Some(Uuid::new_v4()),
            files: 1,
            bytes: 100,
            folders: Vec::new(),
            trashed_at: ferry_protocol::Timestamp::new(
                start.get() + time::Duration::seconds(i64::try_from(i).unwrap()),
            ),
        };
        index.put_trash(&item).await.unwrap();
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut settings = ferry_server::Settings::new(
        format!("http://{addr}"),
        dir.path().join("data"),
        dir.path().join("dist"),
    );
    settings.files.multipart_threshold = 2 * BIG as u64;
    let state =
        ferry_server::AppState::open(settings, Arc::new(ferry_server::clock::SystemClock)).unwrap();
    let router = ferry_server::app(state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    state
        .identity
        .create_user("alice", PASSWORD, None, false)
        .unwrap();
    let mut client = Client::connect(addr).await;
    let token = sign_in(&mut client, "alice").await;

    // A user with FILES files, IN_FOLDER of them in the listed folder.
    let setup = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut uploaders = Vec::new();
    for _ in 0..CLIENTS {
        let (next, token) = (next.clone(), token.clone());
        uploaders.push(tokio::spawn(async move {
            let mut client = Client::connect(addr).await;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= FILES {
                    break;
                }
                let folder = if i < IN_FOLDER {
                    "listed".to_owned()
                } else {
                    format!("other/{}", i % 9)
                };
                let name = format!("file-{i:04}.txt");
                client.upload(&token, &folder, &name, name.as_bytes()).await;
            }
        }));
    }
    for task in uploaders {
        task.await.unwrap();
    }
    tokio::time::timeout(Duration::from_secs(120), state.bus.drain())
        .await
        .expect("the bus settles");
    let (status, listing) = client
        .get(&token, "/api/files?folder=listed&limit=100")
        .await;
    assert_eq!(status, 200);
    let listing: Value = serde_json::from_slice(&listing).unwrap();
    assert_eq!(
        listing["entries"].as_array().unwrap().len(),
        IN_FOLDER,
        "{listing}"
    );
    eprintln!(
        "set-up: {FILES} files uploaded and indexed in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    // 1. Request rates against /healthz on the same socket and client.
    let healthz_rps = rate(addr, 200, |mut client: Client, _| async move {
        let (status, _) = client
            .send("GET", "/healthz", &[], full(Bytes::new()))
            .await;
        (client, status)
    })
    .await;
    let list_token = token.clone();
    let list_rps = rate(addr, 200, move |mut client: Client, _| {
        let token = list_token.clone();
        async move {
            let (status, _) = client
                .get(&token, "/api/files?folder=listed&limit=100")
                .await;
            (client, status)
        }
    })
    .await;
    // 1b. The trash's first page with TRASHED items in it, against the
    // folder listing above. (Written straight into the index: 10,000
    // deletes through the API would only slow the set-up.)
    let trash_setup = Instant::now();
    fill_trash(&dir.path().join("data/index.sqlite3"), &alice_sub(&token)).await;
    let (status, page) = client.get(&token, "/api/trash?limit=100").await;
    assert_eq!(status, 200);
    let page: Value = serde_json::from_slice(&page).unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 100, "{page}");
    assert!(page["nextCursor"].is_string());
    eprintln!(
        "set-up: {TRASHED} trash items written in {:.1} s",
        trash_setup.elapsed().as_secs_f64()
    );
    let trash_token = token.clone();
    let trash_rps = rate(addr, 200, move |mut client: Client, _| {
        let token = trash_token.clone();
        async move {
            let (status, _) = client.get(&token, "/api/trash?limit=100").await;
            (client, status)
        }
    })
    .await;
    let create_token = token.clone();
    let create_rps = rate(addr, 201, move |mut client: Client, n| {
        let token = create_token.clone();
        async move {
            let (status, _) = client
                .command(
                    &token,
                    json!({"Action": "CreateFile", "Folder": "created", "Name": format!("new-{n}.txt"),
                           "Size": 16, "ContentType": "text/plain"}),
                )
                .await;
            (client, status)
        }
    })
    .await;

    // 2. From an object PUT's answer to the FileCreated message.
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws?token={token}"))
        .await
        .unwrap();
    socket
        .send(Message::text(r#"{"action":"hello"}"#))
        .await
        .unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "hello");
    let mut pings = Vec::with_capacity(NOTIFY_ROUNDS);
    for _ in 0..NOTIFY_ROUNDS {
        let started = Instant::now();
        socket
            .send(Message::text(r#"{"action":"ping"}"#))
            .await
            .unwrap();
        loop {
            if next_json(&mut socket).await["type"] == "pong" {
                break;
            }
        }
        pings.push(started.elapsed());
    }
    let mut delays = Vec::with_capacity(NOTIFY_ROUNDS);
    for i in 0..NOTIFY_ROUNDS {
        let name = format!("live-{i:03}.txt");
        let (status, created) = client
            .command(
                &token,
                json!({"Action": "CreateFile", "Folder": "live", "Name": name,
                       "Size": 5, "ContentType": "text/plain"}),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        let id = created["file"]["fileId"].as_str().unwrap().to_owned();
        let (status, body) = client
            .presigned(&created["upload"]["request"], 5, full(&b"hello"[..]))
            .await;
        let put_done = Instant::now();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        loop {
            let message = next_json(&mut socket).await;
            let data = &message["event"]["data"];
            if message["type"] == "event"
                && data["Action"] == "FileCreated"
                && data["FileId"] == id.as_str()
            {
                break;
            }
        }
        delays.push(put_done.elapsed());
    }
    pings.sort();
    delays.sort();
    let ping_p50 = quantile(&pings, 0.5);
    let (notify_p50, notify_p99) = (quantile(&delays, 0.5), quantile(&delays, 0.99));
    let _ = socket.close(None).await;

    // 3. A 256 MiB PUT against a raw write of the same bytes to the same disk.
    let content = noise(BIG);
    let raw_path = dir.path().join("raw-write.bin");
    let started = Instant::now();
    {
        let mut file = std::fs::File::create(&raw_path).unwrap();
        file.write_all(&content).unwrap();
        file.sync_all().unwrap();
    }
    let raw_took = started.elapsed();
    std::fs::remove_file(&raw_path).unwrap();
    let put_took = big_put(&mut client, &token, &content, "plain.bin", false).await;
    let checked_took = big_put(&mut client, &token, &content, "checked.bin", true).await;
    let raw_mib = mib_per_s(BIG, raw_took);
    let put_mib = mib_per_s(BIG, put_took);
    let checked_mib = mib_per_s(BIG, checked_took);

    let line = |name: &str, value: f64| println!("FERRY_BENCH {name}={value:.3}");
    line("healthz_rps", healthz_rps);
    line("list_rps", list_rps);
    line("list_vs_healthz", list_rps / healthz_rps);
    line("trash_rps", trash_rps);
    line("trash_vs_list", trash_rps / list_rps);
    line("create_rps", create_rps);
    line("create_vs_healthz", create_rps / healthz_rps);
    line("ws_ping_p50_ms", ping_p50);
    line("put_to_event_p50_ms", notify_p50);
    line("put_to_event_p99_ms", notify_p99);
    line("put_to_event_p50_vs_ping", notify_p50 / ping_p50);
    line("put_to_event_p99_vs_ping", notify_p99 / ping_p50);
    line("raw_write_mib_s", raw_mib);
    line("put_mib_s", put_mib);
    line("put_vs_raw_write", put_mib / raw_mib);
    line("put_sha256_mib_s", checked_mib);
    line("put_sha256_vs_raw_write", checked_mib / raw_mib);

    println!();
    println!(
        "File API over loopback ({CLIENTS} clients, keep-alive; {FILES} files, {IN_FOLDER} listed)"
    );
    println!("GET /healthz (baseline):         {healthz_rps:>9.0} req/s");
    println!(
        "GET /api/files?folder= (100):    {list_rps:>9.0} req/s ({:.3}x healthz)",
        list_rps / healthz_rps
    );
    println!(
        "CreateFile command:              {create_rps:>9.0} req/s ({:.3}x healthz)",
        create_rps / healthz_rps
    );
    println!("WebSocket ping → pong (baseline): {ping_p50:>8.2} ms p50");
    println!(
        "PUT answered → FileCreated:      {notify_p50:>9.2} ms p50 ({:.1}x ping), {notify_p99:.2} ms p99 ({:.1}x ping)",
        notify_p50 / ping_p50,
        notify_p99 / ping_p50
    );
    println!("raw write + fsync, 256 MiB (baseline): {raw_mib:>7.0} MiB/s");
    println!(
        "presigned PUT, 256 MiB:          {put_mib:>9.0} MiB/s ({:.2}x raw write)",
        put_mib / raw_mib
    );
    println!(
        "presigned PUT + SHA-256, 256 MiB: {checked_mib:>8.0} MiB/s ({:.2}x raw write)",
        checked_mib / raw_mib
    );
}
