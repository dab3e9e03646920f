//! The load and soak generator: one `ferry-server` process, started from
//! its built binary on a temporary data directory, driven over loopback by
//! signed-in WebSocket clients, uploaders and command senders for a bounded
//! time; then everything it was asked to do is checked through the API.
//!
//! Shared by the short correctness test (`tests/load.rs`, in `cargo test`)
//! and the timed bench (`benches/load.rs`, `cargo xtask bench --load`).
//!
//! - Every user is its own partition: `up-N` users only upload, `cmd-N`
//!   users run command cycles; the sockets are dealt round-robin over all
//!   of them, so each user's events go to several sockets at once.
//! - A socket connects with its user's token, says `hello`, asks to
//!   `resume` after the last cursor it saw (0 at first), pings every few
//!   seconds, and closes itself after a random lifetime so resuming is
//!   exercised under load; a socket the server closes reconnects the same
//!   way. It dedupes events by id, as the browser does.
//! - An uploader sends mixed files: small ones in one presigned PUT with a
//!   signed SHA-256, and every fifth one multipart (two or three parts of
//!   5 MiB over a 6 MiB threshold, each part's SHA-256 signed through
//!   `POST /api/files/{id}/parts`, then `CompleteUpload`).
//! - A command sender runs cycles on its own files, waiting for each step's
//!   event before the next, as a person would: `CreateFolder`, two small
//!   uploads, `MoveFile` of one into the folder, `DeleteFile` of the other,
//!   and on every other cycle `DeleteFolder` (the moved file with it).
//! - Errors (the goal is none): any answer that isn't the expected 2xx, a
//!   request or socket that fails or times out, a `CommandFailed`, an
//!   expected event that never reached every socket of its user, and any
//!   difference between what was accepted and what the API shows at the end.
//!
//! Times are measured only inside the window after the warm-up; every
//! operation, in or out of the window, is checked.

#![allow(dead_code, clippy::unwrap_used)] // Test code: a poisoned lock is a panic already.

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use sha2::Digest;
use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

const PASSWORD: &str = "Correct-Horse-1";
const MIB: u64 = 1024 * 1024;
/// The server's part size (S3's smallest) and multipart threshold: a
/// multipart file here has two or three parts.
const PART_SIZE: u64 = 5 * MIB;
const MULTIPART_THRESHOLD: u64 = 6 * MIB;
/// One upload in this many is multipart.
const MULTIPART_EVERY: u64 = 5;
/// The largest small file.
const SMALL_MAX: u64 = 64 * 1024;
/// The longest any one request or socket connect may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a command sender waits for a step's event before giving the
/// cycle up (the event is still expected, and checked at the end).
const EVENT_WAIT: Duration = Duration::from_secs(60);
/// How long the final checks poll for commands still pending.
const SETTLE: Duration = Duration::from_secs(60);
/// Error messages kept for the report (all are counted).
const KEPT_ERRORS: usize = 40;

/// What to run, and for how long.
#[derive(Debug, Clone)]
pub struct Load {
    /// The `ferry-server` binary.
    pub server: PathBuf,
    /// The measured window, after the warm-up.
    pub seconds: u64,
    /// Load before the window: nothing in it is timed, all of it checked.
    pub warm_up: Duration,
    /// WebSocket clients.
    pub sockets: usize,
    /// Users uploading files.
    pub uploaders: usize,
    /// Users sending commands.
    pub senders: usize,
    /// An uploader's mean pause between files (uniform, 0.5x to 1.5x).
    pub upload_pause: Duration,
    /// A command sender's mean pause between steps.
    pub command_pause: Duration,
    /// How often a socket pings.
    pub ping_every: Duration,
    /// A socket connection's mean lifetime before it closes itself and
    /// resumes on a new one (0.5x to 1.5x).
    pub socket_lifetime: Duration,
    /// How long to wait, once the load stops, for the last events.
    pub grace: Duration,
    /// Print progress on stderr.
    pub progress: bool,
}

impl Load {
    /// The soak: 5 minutes, 200 sockets, 20 uploaders, 20 command senders.
    pub fn full(server: PathBuf) -> Self {
        Self {
            server,
            seconds: 300,
            warm_up: Duration::from_secs(15),
            sockets: 200,
            uploaders: 20,
            senders: 20,
            upload_pause: Duration::from_secs(3),
            command_pause: Duration::from_millis(250),
            ping_every: Duration::from_secs(5),
            socket_lifetime: Duration::from_secs(60),
            grace: Duration::from_secs(60),
            progress: true,
        }
    }

    /// The short run `cargo test` makes: 30 seconds, 50 sockets, 5 and 5.
    pub fn short(server: PathBuf) -> Self {
        Self {
            seconds: 30,
            warm_up: Duration::from_secs(3),
            sockets: 50,
            uploaders: 5,
            senders: 5,
            upload_pause: Duration::from_secs(1),
            socket_lifetime: Duration::from_secs(20),
            progress: false,
            ..Self::full(server)
        }
    }

    fn users(&self) -> usize {
        self.uploaders + self.senders
    }
}

/// What a run measured and found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The measured window, in seconds.
    pub window_s: f64,
    /// HTTP requests answered inside the window.
    pub window_requests: u64,
    /// HTTP requests answered in the whole run (checks included).
    pub requests: u64,
    /// WebSocket ping → pong round trips inside the window.
    pub pings: Vec<Duration>,
    /// `GET /healthz` round trips inside the window (one keep-alive client).
    pub healthz: Vec<Duration>,
    /// `POST /api/commands` answered (asynchronous commands), in the window.
    pub command_answer: Vec<Duration>,
    /// Command accepted → its event on the first of the user's sockets.
    pub command_to_event: Vec<Duration>,
    /// Single PUT answered → `FileCreated`.
    pub put_to_event: Vec<Duration>,
    /// `CompleteUpload` answered → `FileCreated`.
    pub complete_to_event: Vec<Duration>,
    /// The server's resident memory after the warm-up, at the end of the
    /// load, and the most seen in between (KiB).
    pub rss_start_kib: u64,
    /// Halfway through the window: growth after it is what a soak shows;
    /// growth before it may be caches filling.
    pub rss_mid_kib: u64,
    pub rss_end_kib: u64,
    pub rss_peak_kib: u64,
    /// Accepted asynchronous commands, and files uploaded.
    pub commands: u64,
    pub uploads_single: u64,
    pub uploads_multipart: u64,
    /// Events delivered to sockets (after dedupe), duplicates dropped, and
    /// connections: closed by the clients to resume, closed by the server.
    pub events_delivered: u64,
    pub duplicates: u64,
    pub reconnects: u64,
    pub server_closes: u64,
    /// What the final checks covered.
    pub commands_checked: u64,
    pub files_checked: u64,
    pub deleted_checked: u64,
    /// Every error counted, and the first few described.
    pub errors: u64,
    pub error_examples: Vec<String>,
    /// The end of the server's log, when anything went wrong.
    pub server_log: String,
}

/// The `q`-th quantile (0..=1) of durations, in milliseconds (0 if none).
pub fn quantile_ms(samples: &[Duration], q: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

impl Outcome {
    /// The figures, as `FERRY_BENCH name=value` lines carry them; each
    /// latency also as a ratio of the WebSocket ping round trip measured
    /// in the same run.
    pub fn figures(&self, load: &Load) -> Vec<(String, f64)> {
        let ping = quantile_ms(&self.pings, 0.5);
        let healthz = quantile_ms(&self.healthz, 0.5);
        let ratio = |value: f64, base: f64| if base > 0.0 { value / base } else { 0.0 };
        let mib = |kib: u64| kib as f64 / 1024.0;
        let mut figures: Vec<(String, f64)> = [
            ("load_seconds", self.window_s),
            ("load_sockets", load.sockets as f64),
            ("load_uploaders", load.uploaders as f64),
            ("load_senders", load.senders as f64),
            (
                "requests_per_s",
                self.window_requests as f64 / self.window_s,
            ),
            ("requests_total", self.requests as f64),
            ("ws_ping_p50_ms", ping),
            ("ws_ping_p99_ms", quantile_ms(&self.pings, 0.99)),
            ("healthz_p50_ms", healthz),
            (
                "command_answer_p50_ms",
                quantile_ms(&self.command_answer, 0.5),
            ),
            (
                "command_answer_p99_ms",
                quantile_ms(&self.command_answer, 0.99),
            ),
            (
                "command_answer_p50_vs_healthz",
                ratio(quantile_ms(&self.command_answer, 0.5), healthz),
            ),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        for (name, samples) in [
            ("command_to_event", &self.command_to_event),
            ("put_to_event", &self.put_to_event),
            ("complete_to_event", &self.complete_to_event),
        ] {
            let (p50, p99) = (quantile_ms(samples, 0.5), quantile_ms(samples, 0.99));
            figures.extend([
                (format!("{name}_p50_ms"), p50),
                (format!("{name}_p99_ms"), p99),
                (format!("{name}_p50_vs_ping"), ratio(p50, ping)),
                (format!("{name}_p99_vs_ping"), ratio(p99, ping)),
                (format!("{name}_samples"), samples.len() as f64),
            ]);
        }
        figures.extend(
            [
                ("rss_start_mib", mib(self.rss_start_kib)),
                ("rss_mid_mib", mib(self.rss_mid_kib)),
                ("rss_end_mib", mib(self.rss_end_kib)),
                (
                    "rss_end_vs_mid",
                    ratio(self.rss_end_kib as f64, self.rss_mid_kib as f64),
                ),
                ("rss_peak_mib", mib(self.rss_peak_kib)),
                (
                    "rss_end_vs_start",
                    ratio(self.rss_end_kib as f64, self.rss_start_kib as f64),
                ),
                ("commands", self.commands as f64),
                ("uploads_single", self.uploads_single as f64),
                ("uploads_multipart", self.uploads_multipart as f64),
                ("events_delivered", self.events_delivered as f64),
                ("duplicates", self.duplicates as f64),
                ("reconnects", self.reconnects as f64),
                ("server_closes", self.server_closes as f64),
                ("commands_checked", self.commands_checked as f64),
                ("files_checked", self.files_checked as f64),
                ("deleted_checked", self.deleted_checked as f64),
                ("errors", self.errors as f64),
            ]
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value)),
        );
        figures
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap()
}

/// A small, fast, seeded generator (xorshift64*): sizes, pauses, bytes.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let seed = Uuid::new_v4().as_u64_pair().0 | 1;
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [low, high).
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low).max(1)
    }

    /// `mean` scaled by 0.5 to 1.5.
    fn around(&mut self, mean: Duration) -> Duration {
        mean.mul_f64(0.5 + self.unit())
    }

    /// Bytes that don't compress.
    fn noise(&mut self, len: u64) -> Bytes {
        let mut bytes = vec![0u8; len as usize];
        for chunk in bytes.chunks_mut(8) {
            let word = self.next().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Bytes::from(bytes)
    }
}

/// What every task shares: counters, errors, the stop signals, the window.
#[derive(Debug, Default)]
struct Shared {
    requests: AtomicU64,
    errors: AtomicU64,
    examples: Mutex<Vec<String>>,
    /// Uploaders and senders stop starting new steps.
    stop_workers: AtomicBool,
    /// Sockets close for good.
    stop_sockets: AtomicBool,
    /// The measured window, once known: (start, end).
    window: Mutex<(Option<Instant>, Option<Instant>)>,
    sockets_up: AtomicU64,
}

impl Shared {
    fn error(&self, what: impl Into<String>) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut examples = lock(&self.examples);
        if examples.len() < KEPT_ERRORS {
            examples.push(what.into());
        }
    }

    fn in_window(&self, at: Instant) -> bool {
        match *lock(&self.window) {
            (Some(start), Some(end)) => at >= start && at <= end,
            (Some(start), None) => at >= start,
            _ => false,
        }
    }
}

/// An event as the load test follows it: the command it answers (or, for
/// `FileCreated`, the file), and its action.
type Key = (Uuid, String);

/// What a user's sockets received: the first arrival of each event, and
/// each socket's set of events.
#[derive(Debug, Default)]
struct UserFeed {
    first: Mutex<HashMap<Key, Instant>>,
    sockets: Vec<Arc<Mutex<HashSet<Key>>>>,
}

fn key_of(event: &Value) -> Option<Key> {
    let action = event["data"]["Action"].as_str()?;
    let id = if action == "FileCreated" {
        event["data"]["FileId"].as_str()?
    } else {
        event["metadata"]["CommandId"].as_str()?
    };
    Some((Uuid::parse_str(id).ok()?, action.to_owned()))
}

/// The answer to one HTTP request.
#[derive(Debug)]
struct Answer {
    status: u16,
    etag: Option<String>,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn text(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        text.chars().take(300).collect()
    }
}

/// One keep-alive HTTP/1.1 connection, made again after a failure.
struct Http {
    addr: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http").field("addr", &self.addr).finish()
    }
}

impl Http {
    fn new(addr: SocketAddr, shared: Arc<Shared>) -> Self {
        Self {
            addr,
            sender: None,
            shared,
        }
    }

    async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: Bytes,
    ) -> anyhow::Result<Answer> {
        let addr = self.addr;
        let reuse = self.sender.take().filter(|sender| !sender.is_closed());
        let work = async {
            let mut sender = match reuse {
                Some(sender) => sender,
                None => {
                    let stream = tokio::net::TcpStream::connect(addr).await?;
                    stream.set_nodelay(true)?;
                    let (sender, connection) =
                        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
                    tokio::spawn(connection);
                    sender
                }
            };
            let mut request = hyper::Request::builder()
                .method(method)
                .uri(path)
                .header("host", addr.to_string());
            for (name, value) in headers {
                request = request.header(name.as_str(), value.as_str());
            }
            sender.ready().await?;
            let response = sender.send_request(request.body(Full::new(body))?).await?;
            let status = response.status().as_u16();
            let etag = response
                .headers()
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::Ok((sender, Answer { status, etag, body }))
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, work).await {
            Ok(Ok((sender, answer))) => {
                self.sender = Some(sender);
                self.shared.requests.fetch_add(1, Ordering::Relaxed);
                Ok(answer)
            }
            Ok(Err(error)) => Err(error),
            Err(_) => anyhow::bail!("no answer within {REQUEST_TIMEOUT:?}"),
        }
    }

    async fn api(
        &mut self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        let mut headers = vec![("authorization".to_owned(), format!("Bearer {token}"))];
        let body = match body {
            Some(value) => {
                headers.push(("content-type".to_owned(), "application/json".to_owned()));
                Bytes::from(value.to_string())
            }
            None => Bytes::new(),
        };
        self.send(method, path, &headers, body).await
    }

    /// Sends `body` to a presigned request (`{method, url, headers}`).
    async fn presigned(&mut self, request: &Value, body: Bytes) -> anyhow::Result<Answer> {
        let url = request["url"].as_str().unwrap_or_default();
        let path = url
            .strip_prefix("http://")
            .and_then(|rest| rest.find('/').map(|slash| &rest[slash..]))
            .ok_or_else(|| anyhow::anyhow!("a presigned URL without a path: {request}"))?;
        let mut headers = vec![("content-length".to_owned(), body.len().to_string())];
        if let Some(signed) = request["headers"].as_object() {
            for (name, value) in signed {
                if !name.eq_ignore_ascii_case("content-length") {
                    headers.push((name.clone(), value.as_str().unwrap_or_default().to_owned()));
                }
            }
        }
        let method = request["method"].as_str().unwrap_or("PUT").to_owned();
        self.send(&method, path, &headers, body).await
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The server process, on its own temporary data directory.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts the server on a new data directory with `users` in its pool.
    pub fn start(bin: &Path, users: &[String]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let (data, dist) = (dir.path().join("data"), dir.path().join("dist"));
        std::fs::create_dir_all(&dist)?;
        for name in users {
            let output = Command::new(bin)
                .arg("--data-dir")
                .arg(&data)
                .args(["user", "add", name, "--password", PASSWORD])
                .output()?;
            anyhow::ensure!(
                output.status.success(),
                "ferry-server user add {name}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let log = dir.path().join("server.log");
        let mut child = Command::new(bin)
            .arg("--data-dir")
            .arg(&data)
            .args(["--addr", "127.0.0.1:0", "--dist"])
            .arg(&dist)
            .arg("--multipart-threshold-bytes")
            .arg(MULTIPART_THRESHOLD.to_string())
            .arg("--part-size-bytes")
            .arg(PART_SIZE.to_string())
            .env("FERRY_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            match lines.next() {
                Some(line) => {
                    if let Some(url) = line?.strip_prefix("ferry-server listening on ") {
                        break url.trim_end_matches('/').to_owned();
                    }
                }
                None => {
                    let _ = child.kill();
                    let _ = child.wait();
                    anyhow::bail!(
                        "ferry-server exited before listening:\n{}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    );
                }
            }
        };
        // Keep reading so the server never writes into a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let addr = url
            .strip_prefix("http://")
            .ok_or_else(|| anyhow::anyhow!("an unexpected URL {url}"))?
            .parse()?;
        Ok(Self {
            child,
            addr,
            log,
            _dir: dir,
        })
    }

    /// `VmRSS` of the server process, in KiB.
    fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The soft limit on open files, from `/proc/self/limits`.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3))
        .and_then(|soft| soft.parse().ok())
}

/// Signs in with USER_PASSWORD_AUTH; returns the access token.
async fn sign_in(http: &mut Http, name: &str) -> anyhow::Result<String> {
    let body = json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": ferry_server::LOCAL_CLIENT_ID,
                      "AuthParameters": {"USERNAME": name, "PASSWORD": PASSWORD}});
    let headers = [
        (
            "content-type".to_owned(),
            "application/x-amz-json-1.1".to_owned(),
        ),
        (
            "x-amz-target".to_owned(),
            "AWSCognitoIdentityProviderService.InitiateAuth".to_owned(),
        ),
    ];
    let answer = http
        .send("POST", "/", &headers, Bytes::from(body.to_string()))
        .await?;
    anyhow::ensure!(
        answer.status == 200,
        "sign-in of {name}: {} {}",
        answer.status,
        answer.text()
    );
    answer.json()["AuthenticationResult"]["AccessToken"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("no access token for {name}"))
}

/// A server with one user, `name`, and that user's access token.
pub async fn signed_in_server(bin: &Path, name: &str) -> anyhow::Result<(Server, String)> {
    let server = Server::start(bin, &[name.to_owned()])?;
    let mut http = Http::new(server.addr, Arc::new(Shared::default()));
    let token = sign_in(&mut http, name).await?;
    Ok((server, token))
}

// ---------------------------------------------------------------------------
// Sockets

/// What one WebSocket client saw over all its connections.
#[derive(Debug, Default)]
struct SocketLog {
    /// (when sent, round trip) of each ping answered.
    pings: Vec<(Instant, Duration)>,
    events: u64,
    duplicates: u64,
    reconnects: u64,
    server_closes: u64,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How a connection ended.
enum End {
    /// The client closed it to resume on another (or for good).
    Client,
    /// The server closed it.
    Server,
    /// It failed.
    Failed,
}

struct Follower {
    addr: SocketAddr,
    token: String,
    name: String,
    feed: Arc<UserFeed>,
    keys: Arc<Mutex<HashSet<Key>>>,
    shared: Arc<Shared>,
    load: Load,
    rng: Rng,
    cursor: i64,
    seen: HashSet<Uuid>,
    pending_pings: VecDeque<Instant>,
    log: SocketLog,
}

impl Follower {
    /// Follows the user's feed until told to stop, reconnecting and
    /// resuming whenever a connection ends.
    async fn run(mut self) -> SocketLog {
        let mut first = true;
        while !self.shared.stop_sockets.load(Ordering::Relaxed) {
            let url = format!("ws://{}/ws?token={}", self.addr, self.token);
            let socket =
                match tokio::time::timeout(REQUEST_TIMEOUT, tokio_tungstenite::connect_async(url))
                    .await
                {
                    Ok(Ok((socket, _))) => socket,
                    Ok(Err(error)) => {
                        self.shared
                            .error(format!("{}: WebSocket connect: {error}", self.name));
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                    Err(_) => {
                        self.shared
                            .error(format!("{}: WebSocket connect timed out", self.name));
                        continue;
                    }
                };
            if first {
                self.shared.sockets_up.fetch_add(1, Ordering::Relaxed);
                first = false;
            }
            match self.connection(socket).await {
                End::Client => self.log.reconnects += 1,
                End::Server => self.log.server_closes += 1,
                End::Failed => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        // The final close isn't a reconnect.
        self.log.reconnects = self.log.reconnects.saturating_sub(1);
        self.log
    }

    async fn connection(&mut self, mut socket: Socket) -> End {
        self.pending_pings.clear();
        let hello = Message::text(r#"{"action":"hello"}"#);
        let resume = Message::text(json!({"action": "resume", "after": self.cursor}).to_string());
        for message in [hello, resume] {
            if let Err(error) = socket.send(message).await {
                self.shared
                    .error(format!("{}: WebSocket send: {error}", self.name));
                return End::Failed;
            }
        }
        let lifetime = self.rng.around(self.load.socket_lifetime);
        let closes_at = tokio::time::Instant::now() + lifetime;
        let mut next_ping =
            tokio::time::Instant::now() + self.load.ping_every.mul_f64(self.rng.unit());
        let mut stop_check = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                message = socket.next() => match message {
                    Some(Ok(Message::Text(text))) => self.handle(text.as_str()),
                    Some(Ok(Message::Close(_))) => return End::Server,
                    Some(Ok(_)) => {}
                    Some(Err(error)) => {
                        self.shared.error(format!("{}: WebSocket: {error}", self.name));
                        return End::Failed;
                    }
                    None => {
                        self.shared.error(format!("{}: WebSocket ended without a close", self.name));
                        return End::Failed;
                    }
                },
                _ = tokio::time::sleep_until(next_ping) => {
                    next_ping += self.load.ping_every;
                    self.pending_pings.push_back(Instant::now());
                    if let Err(error) = socket.send(Message::text(r#"{"action":"ping"}"#)).await {
                        self.shared.error(format!("{}: WebSocket ping: {error}", self.name));
                        return End::Failed;
                    }
                }
                _ = tokio::time::sleep_until(closes_at) => return self.close(socket).await,
                _ = stop_check.tick() => {
                    if self.shared.stop_sockets.load(Ordering::Relaxed) {
                        return self.close(socket).await;
                    }
                }
            }
        }
    }

    /// Closes the connection, still taking what arrives until the server's
    /// close.
    async fn close(&mut self, mut socket: Socket) -> End {
        if let Err(error) = socket.close(None).await {
            self.shared
                .error(format!("{}: WebSocket close: {error}", self.name));
            return End::Failed;
        }
        let drain = async {
            while let Some(message) = socket.next().await {
                match message {
                    Ok(Message::Text(text)) => self.handle(text.as_str()),
                    Ok(_) => {}
                    Err(error) => return Err(error),
                }
            }
            Ok(())
        };
        match tokio::time::timeout(Duration::from_secs(10), drain).await {
            Ok(Ok(())) => End::Client,
            Ok(Err(error)) => {
                self.shared
                    .error(format!("{}: WebSocket while closing: {error}", self.name));
                End::Failed
            }
            Err(_) => {
                self.shared
                    .error(format!("{}: the server never closed", self.name));
                End::Failed
            }
        }
    }

    fn handle(&mut self, text: &str) {
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            self.shared
                .error(format!("{}: a message that isn't JSON: {text}", self.name));
            return;
        };
        match message["type"].as_str() {
            Some("pong") => {
                if let Some(sent) = self.pending_pings.pop_front() {
                    self.log.pings.push((sent, sent.elapsed()));
                }
            }
            Some("event") => {
                let at = Instant::now();
                if let Some(cursor) = message["cursor"].as_i64() {
                    self.cursor = self.cursor.max(cursor);
                }
                let event = &message["event"];
                let Some(id) = event["metadata"]["EventId"]
                    .as_str()
                    .and_then(|id| Uuid::parse_str(id).ok())
                else {
                    self.shared
                        .error(format!("{}: an event without an id: {text}", self.name));
                    return;
                };
                if !self.seen.insert(id) {
                    self.log.duplicates += 1;
                    return;
                }
                self.log.events += 1;
                if let Some(key) = key_of(event) {
                    lock(&self.feed.first).entry(key.clone()).or_insert(at);
                    lock(&self.keys).insert(key);
                }
            }
            Some("resumed") => {
                if let Some(cursor) = message["cursor"].as_i64() {
                    self.cursor = self.cursor.max(cursor);
                }
            }
            Some("hello") => {}
            _ => self
                .shared
                .error(format!("{}: an unexpected message: {text}", self.name)),
        }
    }
}

// ---------------------------------------------------------------------------
// Uploaders and command senders

/// What latency an expected event measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Since {
    Command,
    Put,
    Complete,
}

#[derive(Debug)]
struct Expected {
    key: Key,
    since: Instant,
    kind: Since,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum FileState {
    Available,
    /// Deleted: in the trash, its bytes kept (and counted).
    Trashed,
    /// Its upload failed (already an error); not checked further.
    Unknown,
}

#[derive(Debug)]
struct FileModel {
    id: Uuid,
    folder: String,
    name: String,
    size: u64,
    sha256: String,
    state: FileState,
}

/// What a user was promised: the events, the commands' results and the
/// files and folders it should end with.
#[derive(Debug, Default)]
struct Model {
    events: Vec<Expected>,
    /// (command id, the action of the event that should finish it; none
    /// for `CompleteUpload`, which finishes as it answers).
    commands: Vec<(Uuid, Option<&'static str>)>,
    files: Vec<FileModel>,
    /// (path, still there).
    folders: Vec<(String, bool)>,
    async_commands: u64,
    uploads_single: u64,
    uploads_multipart: u64,
    /// (when sent, how long) of each asynchronous command's answer.
    command_answers: Vec<(Instant, Duration)>,
}

struct Worker {
    name: String,
    token: String,
    http: Http,
    feed: Arc<UserFeed>,
    shared: Arc<Shared>,
    load: Load,
    rng: Rng,
    model: Model,
}

impl Worker {
    fn stopped(&self) -> bool {
        self.shared.stop_workers.load(Ordering::Relaxed)
    }

    /// Sleeps about `mean`; false once the load is over.
    async fn pause(&mut self, mean: Duration) -> bool {
        let until = Instant::now() + self.rng.around(mean);
        while Instant::now() < until {
            if self.stopped() {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50).min(until - Instant::now())).await;
        }
        !self.stopped()
    }

    /// Sends a command; the answer's body when its status is `expect`.
    async fn command(&mut self, id: Uuid, data: Value, expect: u16) -> Option<Value> {
        let action = data["Action"].as_str().unwrap_or_default().to_owned();
        let envelope = json!({
            "metadata": {
                "EventVersion": 1, "EventId": id, "CommandId": id,
                "TraceId": format!("trace-{}", id.simple()),
                "OccurredAt": "2026-11-26T12:00:00Z", "Producer": "web"
            },
            "data": data
        });
        let sent = Instant::now();
        let token = self.token.clone();
        match self
            .http
            .api(&token, "POST", "/api/commands", Some(&envelope))
            .await
        {
            Ok(answer) if answer.status == expect => {
                if expect == 202 {
                    self.model.command_answers.push((sent, sent.elapsed()));
                    self.model.async_commands += 1;
                }
                Some(answer.json())
            }
            Ok(answer) => {
                self.shared.error(format!(
                    "{}: {action} answered {} (expected {expect}): {}",
                    self.name,
                    answer.status,
                    answer.text()
                ));
                None
            }
            Err(error) => {
                self.shared
                    .error(format!("{}: {action}: {error:#}", self.name));
                None
            }
        }
    }

    /// An asynchronous command accepted: its result and event are expected.
    async fn accepted(&mut self, data: Value, event: &'static str) -> Option<Key> {
        let id = Uuid::new_v4();
        self.command(id, data, 202).await?;
        let key = (id, event.to_owned());
        self.model.commands.push((id, Some(event)));
        self.model.events.push(Expected {
            key: key.clone(),
            since: Instant::now(),
            kind: Since::Command,
        });
        Some(key)
    }

    /// Waits for `key` to reach one of the user's sockets; false after
    /// `EVENT_WAIT` or a `CommandFailed`.
    async fn wait_for(&self, key: &Key) -> bool {
        let failed = (key.0, "CommandFailed".to_owned());
        let started = Instant::now();
        while started.elapsed() < EVENT_WAIT {
            {
                let first = lock(&self.feed.first);
                if first.contains_key(key) {
                    return true;
                }
                if first.contains_key(&failed) {
                    drop(first);
                    self.shared.error(format!(
                        "{}: CommandFailed instead of {} for command {}",
                        self.name, key.1, key.0
                    ));
                    return false;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// Uploads a file as the browser does; its id once the upload is
    /// answered (its `FileCreated` is then expected).
    async fn upload(&mut self, folder: &str, name: &str, size: u64) -> Option<Uuid> {
        let content = self.rng.noise(size);
        let sha256 = ferry_core::service::hex(&sha2::Sha256::digest(&content));
        let multipart = size >= MULTIPART_THRESHOLD;
        let mut data = json!({"Action": "CreateFile", "Folder": folder, "Name": name,
                              "Size": size, "ContentType": "application/octet-stream"});
        if !multipart {
            // A small file is hashed before it is created, as the browser
            // does; its PUT is then signed with that checksum.
            data["Sha256"] = json!(sha256);
        }
        let create_id = Uuid::new_v4();
        let created = self.command(create_id, data, 201).await?;
        let Some(id) = created["file"]["fileId"]
            .as_str()
            .and_then(|id| Uuid::parse_str(id).ok())
        else {
            self.shared
                .error(format!("{}: CreateFile answered no file id", self.name));
            return None;
        };
        self.model.commands.push((create_id, Some("FileCreated")));
        self.model.files.push(FileModel {
            id,
            folder: folder.to_owned(),
            name: name.to_owned(),
            size,
            sha256: sha256.clone(),
            state: FileState::Unknown,
        });
        let upload = &created["upload"];
        let kind = match (upload["kind"].as_str(), multipart) {
            (Some("single"), false) => {
                match self.http.presigned(&upload["request"], content).await {
                    Ok(answer) if answer.status == 200 => Since::Put,
                    Ok(answer) => {
                        self.shared.error(format!(
                            "{}: PUT answered {}: {}",
                            self.name,
                            answer.status,
                            answer.text()
                        ));
                        return None;
                    }
                    Err(error) => {
                        self.shared.error(format!("{}: PUT: {error:#}", self.name));
                        return None;
                    }
                }
            }
            (Some("multipart"), true) => {
                if !self.multipart(id, &content, &sha256).await {
                    return None;
                }
                Since::Complete
            }
            _ => {
                self.shared.error(format!(
                    "{}: a {size}-byte file got upload instructions {upload}",
                    self.name
                ));
                return None;
            }
        };
        if let Some(file) = self.model.files.last_mut() {
            file.state = FileState::Available;
        }
        match kind {
            Since::Put => self.model.uploads_single += 1,
            _ => self.model.uploads_multipart += 1,
        }
        self.model.events.push(Expected {
            key: (id, "FileCreated".to_owned()),
            since: Instant::now(),
            kind,
        });
        Some(id)
    }

    /// The parts, each with its SHA-256 signed in, then `CompleteUpload`.
    async fn multipart(&mut self, id: Uuid, content: &Bytes, sha256: &str) -> bool {
        let chunks: Vec<Bytes> = (0..content.len())
            .step_by(PART_SIZE as usize)
            .map(|at| content.slice(at..(at + PART_SIZE as usize).min(content.len())))
            .collect();
        let wanted: Vec<Value> = chunks
            .iter()
            .enumerate()
            .map(|(i, chunk)| {
                let checksum =
                    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(chunk));
                json!({"partNumber": i + 1, "checksumSha256": checksum})
            })
            .collect();
        let token = self.token.clone();
        let path = format!("/api/files/{id}/parts");
        let parts = match self
            .http
            .api(&token, "POST", &path, Some(&json!({"parts": wanted})))
            .await
        {
            Ok(answer) if answer.status == 200 => answer.json()["parts"].clone(),
            Ok(answer) => {
                self.shared.error(format!(
                    "{}: POST {path} answered {}: {}",
                    self.name,
                    answer.status,
                    answer.text()
                ));
                return false;
            }
            Err(error) => {
                self.shared
                    .error(format!("{}: POST {path}: {error:#}", self.name));
                return false;
            }
        };
        let mut done = Vec::new();
        for (i, chunk) in chunks.into_iter().enumerate() {
            let request = &parts[i]["request"];
            match self.http.presigned(request, chunk).await {
                Ok(Answer {
                    status: 200,
                    etag: Some(etag),
                    ..
                }) => done.push(json!({"PartNumber": i + 1, "ETag": etag})),
                Ok(answer) => {
                    self.shared.error(format!(
                        "{}: part {} answered {}: {}",
                        self.name,
                        i + 1,
                        answer.status,
                        answer.text()
                    ));
                    return false;
                }
                Err(error) => {
                    self.shared
                        .error(format!("{}: part {}: {error:#}", self.name, i + 1));
                    return false;
                }
            }
        }
        let complete_id = Uuid::new_v4();
        let data =
            json!({"Action": "CompleteUpload", "FileId": id, "Parts": done, "Sha256": sha256});
        if self.command(complete_id, data, 200).await.is_none() {
            return false;
        }
        self.model.commands.push((complete_id, None));
        true
    }

    /// Uploads mixed files into `up/` until the load stops.
    async fn uploads(mut self) -> Model {
        let offset = self.rng.between(0, MULTIPART_EVERY);
        let mut n = 0u64;
        while !self.stopped() {
            n += 1;
            let size = if (n + offset).is_multiple_of(MULTIPART_EVERY) {
                self.rng
                    .between(MULTIPART_THRESHOLD, MULTIPART_THRESHOLD + PART_SIZE)
            } else {
                self.rng.between(1, SMALL_MAX + 1)
            };
            self.upload("up", &format!("file-{n:05}.bin"), size).await;
            if !self.pause(self.load.upload_pause).await {
                break;
            }
        }
        self.model
    }

    /// Command cycles on the user's own files until the load stops.
    async fn commands(mut self) -> Model {
        let mut cycle = 0u64;
        while !self.stopped() {
            cycle += 1;
            self.cycle(cycle).await;
        }
        self.model
    }

    /// One cycle; it ends early when the load stops or an event is late
    /// (everything accepted so far is still expected).
    async fn cycle(&mut self, k: u64) -> Option<()> {
        let pause = self.load.command_pause;
        let folder = format!("c{k:05}");
        let key = self
            .accepted(
                json!({"Action": "CreateFolder", "Path": folder}),
                "FolderCreated",
            )
            .await?;
        self.model.folders.push((folder.clone(), true));
        self.wait_for(&key).await.then_some(())?;
        self.pause(pause).await.then_some(())?;

        let (kept_name, doomed_name) = (format!("a{k:05}.txt"), format!("b{k:05}.txt"));
        let size = self.rng.between(1, 4097);
        let kept = self.upload("", &kept_name, size).await?;
        let size = self.rng.between(1, 4097);
        let doomed = self.upload("", &doomed_name, size).await?;
        for id in [kept, doomed] {
            self.wait_for(&(id, "FileCreated".to_owned()))
                .await
                .then_some(())?;
        }
        self.pause(pause).await.then_some(())?;

        let key = self
            .accepted(
                json!({"Action": "MoveFile", "FileId": kept, "ToFolder": folder, "ToName": kept_name}),
                "FileMoved",
            )
            .await?;
        if let Some(file) = self.model.files.iter_mut().find(|f| f.id == kept) {
            file.folder = folder.clone();
        }
        self.wait_for(&key).await.then_some(())?;
        self.pause(pause).await.then_some(())?;

        let key = self
            .accepted(
                json!({"Action": "DeleteFile", "FileId": doomed}),
                "FileTrashed",
            )
            .await?;
        if let Some(file) = self.model.files.iter_mut().find(|f| f.id == doomed) {
            file.state = FileState::Trashed;
        }
        self.wait_for(&key).await.then_some(())?;
        self.pause(pause).await.then_some(())?;

        if k % 2 == 1 {
            let key = self
                .accepted(
                    json!({"Action": "DeleteFolder", "Path": folder}),
                    "FolderTrashed",
                )
                .await?;
            for file in &mut self.model.files {
                if file.folder == folder && file.state == FileState::Available {
                    file.state = FileState::Trashed;
                }
            }
            if let Some(entry) = self.model.folders.iter_mut().find(|(p, _)| *p == folder) {
                entry.1 = false;
            }
            self.wait_for(&key).await.then_some(())?;
            self.pause(pause).await.then_some(())?;
        }
        Some(())
    }
}

// ---------------------------------------------------------------------------
// The final checks

/// Every entry of a folder, through every page.
async fn list_folder(http: &mut Http, token: &str, folder: &str) -> anyhow::Result<Vec<Value>> {
    let mut entries = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/files?folder={}&limit=1000", percent_encode(folder));
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={}", percent_encode(cursor)));
        }
        let answer = http.api(token, "GET", &path, None).await?;
        anyhow::ensure!(
            answer.status == 200,
            "GET {path}: {} {}",
            answer.status,
            answer.text()
        );
        let page = answer.json();
        entries.extend(page["entries"].as_array().cloned().unwrap_or_default());
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(entries),
        }
    }
}

#[derive(Debug, Default)]
struct Checked {
    commands: u64,
    files: u64,
    deleted: u64,
}

/// Checks through the API that a user's accepted commands and uploads all
/// took effect, and nothing else happened.
async fn check_user(
    http: &mut Http,
    shared: &Shared,
    name: &str,
    token: &str,
    model: &Model,
    deadline: Instant,
) -> anyhow::Result<Checked> {
    let mut checked = Checked::default();
    for (id, action) in &model.commands {
        let path = format!("/api/commands/{id}");
        let status = loop {
            let answer = http.api(token, "GET", &path, None).await?;
            let body = answer.json();
            if answer.status != 200 {
                shared.error(format!(
                    "{name}: GET {path} answered {}: {}",
                    answer.status,
                    answer.text()
                ));
                break None;
            }
            if body["status"] != "pending" || Instant::now() > deadline {
                break Some(body);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let Some(status) = status else { continue };
        checked.commands += 1;
        let result = status["result"]["data"]["Action"].as_str();
        let fine = status["status"] == "succeeded" && action.is_none_or(|a| result == Some(a));
        if !fine {
            shared.error(format!(
                "{name}: command {id} ended {} with {}, expected succeeded with {}",
                status["status"],
                status["result"]["data"],
                action.unwrap_or("(no event)")
            ));
        }
    }

    // Every folder holding an expected file, and the root, listed whole:
    // exactly the expected files, available, at their size and SHA-256.
    let live: Vec<&FileModel> = model
        .files
        .iter()
        .filter(|f| f.state == FileState::Available)
        .collect();
    let unknown: HashSet<(&str, &str)> = model
        .files
        .iter()
        .filter(|f| f.state == FileState::Unknown)
        .map(|f| (f.folder.as_str(), f.name.as_str()))
        .collect();
    let mut folders: Vec<&str> = live.iter().map(|f| f.folder.as_str()).collect();
    folders.push("");
    folders.sort_unstable();
    folders.dedup();
    for folder in folders {
        let entries = list_folder(http, token, folder).await?;
        let mut listed: HashMap<String, &Value> = HashMap::new();
        let mut subfolders: HashSet<String> = HashSet::new();
        for entry in &entries {
            let entry_name = entry["name"].as_str().unwrap_or_default().to_owned();
            if entry["type"] == "folder" {
                subfolders.insert(entry_name);
            } else {
                listed.insert(entry_name, entry);
            }
        }
        for file in live.iter().filter(|f| f.folder == folder) {
            checked.files += 1;
            match listed.remove(&file.name) {
                Some(entry)
                    if entry["fileId"] == file.id.to_string()
                        && entry["status"] == "available"
                        && entry["size"] == file.size
                        && entry["sha256"] == file.sha256.as_str() => {}
                Some(entry) => shared.error(format!(
                    "{name}: {folder}/{} is listed as {entry}, expected available, {} bytes, id {}",
                    file.name, file.size, file.id
                )),
                None => shared.error(format!(
                    "{name}: {folder}/{} ({}) isn't listed",
                    file.name, file.id
                )),
            }
        }
        for extra in listed.keys() {
            if !unknown.contains(&(folder, extra.as_str())) {
                shared.error(format!("{name}: an unexpected file {folder}/{extra}"));
            }
        }
        if folder.is_empty() {
            let mut expected: HashSet<String> = model
                .folders
                .iter()
                .filter(|(_, there)| *there)
                .map(|(path, _)| path.clone())
                .collect();
            expected.extend(
                live.iter()
                    .filter(|f| !f.folder.is_empty())
                    .filter_map(|f| f.folder.split('/').next().map(str::to_owned)),
            );
            if subfolders != expected {
                let mut missing: Vec<_> = expected.difference(&subfolders).collect();
                let mut extra: Vec<_> = subfolders.difference(&expected).collect();
                missing.sort();
                extra.sort();
                shared.error(format!(
                    "{name}: the root's folders differ: missing {missing:?}, unexpected {extra:?}"
                ));
            }
        }
    }
    for file in model.files.iter().filter(|f| f.state == FileState::Trashed) {
        checked.deleted += 1;
        let answer = http
            .api(token, "GET", &format!("/api/files/{}", file.id), None)
            .await?;
        if answer.status != 200 || answer.json()["status"] != "trashed" {
            shared.error(format!(
                "{name}: deleted file {} is not in the trash: {} {}",
                file.id,
                answer.status,
                answer.text()
            ));
        }
    }
    let usage = http.api(token, "GET", "/api/usage", None).await?.json();
    // The trash counts too.
    let bytes: u64 = live.iter().map(|f| f.size).sum::<u64>()
        + model
            .files
            .iter()
            .filter(|f| f.state == FileState::Trashed)
            .map(|f| f.size)
            .sum::<u64>();
    if unknown.is_empty() && (usage["files"] != live.len() || usage["bytes"] != bytes) {
        shared.error(format!(
            "{name}: usage is {usage}, expected {} files, {bytes} bytes",
            live.len()
        ));
    }
    Ok(checked)
}

// ---------------------------------------------------------------------------
// The run

/// Runs the load and checks its effects. Errors of the server are counted
/// in the outcome; only a failure to set up is an `Err`.
pub async fn run(load: Load) -> anyhow::Result<Outcome> {
    let users = load.users();
    anyhow::ensure!(
        users > 0 && load.sockets >= users,
        "{} sockets can't follow {users} users: give each user one at least",
        load.sockets
    );
    // Each socket and keep-alive connection is a descriptor here and one
    // in the server (which inherits this limit), besides its databases.
    let needed = (load.sockets + users + 64) as u64;
    if let Some(limit) = open_files_limit() {
        anyhow::ensure!(
            limit >= needed,
            "the open files limit is {limit}; {needed} are needed (raise it with `ulimit -n`)"
        );
    }
    let progress = |text: String| {
        if load.progress {
            eprintln!("load: {text}");
        }
    };

    let names: Vec<String> = (0..load.uploaders)
        .map(|i| format!("up-{i}"))
        .chain((0..load.senders).map(|i| format!("cmd-{i}")))
        .collect();
    let started = Instant::now();
    let mut server = Server::start(&load.server, &names)?;
    let addr = server.addr;
    let shared = Arc::new(Shared::default());
    let mut http = Http::new(addr, shared.clone());
    let mut tokens = Vec::new();
    for name in &names {
        tokens.push(sign_in(&mut http, name).await?);
    }
    progress(format!(
        "server pid {} at {addr}, {users} users signed in ({:.1} s)",
        server.child.id(),
        started.elapsed().as_secs_f64()
    ));

    // The sockets, dealt round-robin over the users, and every one
    // connected before the load begins.
    let mut feeds: Vec<UserFeed> = (0..users).map(|_| UserFeed::default()).collect();
    let mut socket_keys = Vec::new();
    for s in 0..load.sockets {
        let keys = Arc::new(Mutex::new(HashSet::new()));
        feeds[s % users].sockets.push(keys.clone());
        socket_keys.push(keys);
    }
    let feeds: Vec<Arc<UserFeed>> = feeds.into_iter().map(Arc::new).collect();
    let mut sockets = Vec::new();
    for (s, keys) in socket_keys.into_iter().enumerate() {
        let user = s % users;
        let follower = Follower {
            addr,
            token: tokens[user].clone(),
            name: format!("socket {s} ({})", names[user]),
            feed: feeds[user].clone(),
            keys,
            shared: shared.clone(),
            load: load.clone(),
            rng: Rng::new(),
            cursor: 0,
            seen: HashSet::new(),
            pending_pings: VecDeque::new(),
            log: SocketLog::default(),
        };
        sockets.push(tokio::spawn(follower.run()));
        if s % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let connecting = Instant::now();
    while shared.sockets_up.load(Ordering::Relaxed) < load.sockets as u64 {
        if connecting.elapsed() > REQUEST_TIMEOUT {
            shared.error(format!(
                "only {} of {} sockets connected within {REQUEST_TIMEOUT:?}",
                shared.sockets_up.load(Ordering::Relaxed),
                load.sockets
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    progress(format!("{} sockets connected", load.sockets));

    // The workers.
    let mut workers = Vec::new();
    for (user, name) in names.iter().enumerate() {
        let worker = Worker {
            name: name.clone(),
            token: tokens[user].clone(),
            http: Http::new(addr, shared.clone()),
            feed: feeds[user].clone(),
            shared: shared.clone(),
            load: load.clone(),
            rng: Rng::new(),
            model: Model::default(),
        };
        workers.push(if user < load.uploaders {
            tokio::spawn(worker.uploads())
        } else {
            tokio::spawn(worker.commands())
        });
    }
    // A baseline under the same load: /healthz on its own keep-alive client.
    let prober = {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut http = Http::new(addr, shared.clone());
            let mut samples = Vec::new();
            while !shared.stop_workers.load(Ordering::Relaxed) {
                let sent = Instant::now();
                match http.send("GET", "/healthz", &[], Bytes::new()).await {
                    Ok(answer) if answer.status == 200 => samples.push((sent, sent.elapsed())),
                    Ok(answer) => shared.error(format!("/healthz answered {}", answer.status)),
                    Err(error) => shared.error(format!("/healthz: {error:#}")),
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            samples
        })
    };

    tokio::time::sleep(load.warm_up).await;
    let window_start = Instant::now();
    lock(&shared.window).0 = Some(window_start);
    let requests_at_start = shared.requests.load(Ordering::Relaxed);
    let rss_start = server.rss_kib().unwrap_or(0);
    let mut rss_peak = rss_start;
    let mut rss_mid = None;
    progress(format!(
        "warm-up done; measuring {} s (RSS {:.1} MiB)",
        load.seconds,
        rss_start as f64 / 1024.0
    ));
    let window = Duration::from_secs(load.seconds);
    let report_every = Duration::from_secs((load.seconds / 10).clamp(5, 30));
    let mut next_report = window_start + report_every;
    while window_start.elapsed() < window {
        tokio::time::sleep(
            Duration::from_secs(1).min(window.saturating_sub(window_start.elapsed())),
        )
        .await;
        if let Some(rss) = server.rss_kib() {
            rss_peak = rss_peak.max(rss);
            if rss_mid.is_none() && window_start.elapsed() >= window / 2 {
                rss_mid = Some(rss);
            }
        }
        if !server.running() {
            shared.error("the server exited during the load");
            break;
        }
        if Instant::now() >= next_report {
            next_report += report_every;
            progress(format!(
                "{:.0}/{} s: {} requests, {} errors, RSS {:.1} MiB",
                window_start.elapsed().as_secs_f64(),
                load.seconds,
                shared.requests.load(Ordering::Relaxed) - requests_at_start,
                shared.errors.load(Ordering::Relaxed),
                server.rss_kib().unwrap_or(0) as f64 / 1024.0
            ));
        }
    }
    let window_end = Instant::now();
    let window_requests = shared.requests.load(Ordering::Relaxed) - requests_at_start;
    lock(&shared.window).1 = Some(window_end);
    let rss_end = server.rss_kib().unwrap_or(0);
    rss_peak = rss_peak.max(rss_end);
    shared.stop_workers.store(true, Ordering::Relaxed);

    let mut models = Vec::new();
    for worker in workers {
        models.push(worker.await?);
    }
    let healthz = prober.await?;
    progress(format!(
        "load stopped; waiting up to {:?} for the last events",
        load.grace
    ));

    // Every expected event on every socket of its user.
    let grace_start = Instant::now();
    let missing = loop {
        let mut missing: Vec<(usize, &Expected, usize)> = Vec::new();
        for (user, model) in models.iter().enumerate() {
            let sets: Vec<HashSet<Key>> = feeds[user]
                .sockets
                .iter()
                .map(|keys| lock(keys).clone())
                .collect();
            for expected in &model.events {
                let without = sets.iter().filter(|s| !s.contains(&expected.key)).count();
                if without > 0 {
                    missing.push((user, expected, without));
                }
            }
        }
        if missing.is_empty() || grace_start.elapsed() > load.grace {
            break missing;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    for (user, expected, without) in &missing {
        shared.error(format!(
            "{}: {} of {} never reached {without} of its {} sockets",
            names[*user],
            expected.key.1,
            expected.key.0,
            feeds[*user].sockets.len()
        ));
    }
    shared.stop_sockets.store(true, Ordering::Relaxed);
    let mut logs = Vec::new();
    for socket in sockets {
        logs.push(socket.await?);
    }
    progress(format!(
        "events settled in {:.1} s; checking every command and file",
        grace_start.elapsed().as_secs_f64()
    ));

    // Every accepted command and upload took effect.
    let deadline = Instant::now() + SETTLE;
    let mut checked = Checked::default();
    let mut http = Http::new(addr, shared.clone());
    for (user, model) in models.iter().enumerate() {
        match check_user(
            &mut http,
            &shared,
            &names[user],
            &tokens[user],
            model,
            deadline,
        )
        .await
        {
            Ok(found) => {
                checked.commands += found.commands;
                checked.files += found.files;
                checked.deleted += found.deleted;
            }
            Err(error) => shared.error(format!("{}: checking: {error:#}", names[user])),
        }
    }
    if !server.running() {
        shared.error("the server exited");
    }

    let in_window = |at: Instant| at >= window_start && at <= window_end;
    let mut outcome = Outcome {
        window_s: (window_end - window_start).as_secs_f64(),
        window_requests,
        requests: shared.requests.load(Ordering::Relaxed),
        rss_start_kib: rss_start,
        rss_mid_kib: rss_mid.unwrap_or(rss_end),
        rss_end_kib: rss_end,
        rss_peak_kib: rss_peak,
        commands_checked: checked.commands,
        files_checked: checked.files,
        deleted_checked: checked.deleted,
        healthz: healthz
            .iter()
            .filter(|(at, _)| in_window(*at))
            .map(|(_, took)| *took)
            .collect(),
        ..Outcome::default()
    };
    for log in &logs {
        outcome.pings.extend(
            log.pings
                .iter()
                .filter(|(at, _)| in_window(*at))
                .map(|(_, took)| *took),
        );
        outcome.events_delivered += log.events;
        outcome.duplicates += log.duplicates;
        outcome.reconnects += log.reconnects;
        outcome.server_closes += log.server_closes;
    }
    for (user, model) in models.iter().enumerate() {
        outcome.commands += model.async_commands;
        outcome.uploads_single += model.uploads_single;
        outcome.uploads_multipart += model.uploads_multipart;
        outcome.command_answer.extend(
            model
                .command_answers
                .iter()
                .filter(|(at, _)| in_window(*at))
                .map(|(_, took)| *took),
        );
        let first = lock(&feeds[user].first);
        for expected in model.events.iter().filter(|e| in_window(e.since)) {
            let Some(arrived) = first.get(&expected.key) else {
                continue;
            };
            let lag = arrived.saturating_duration_since(expected.since);
            match expected.kind {
                Since::Command => outcome.command_to_event.push(lag),
                Since::Put => outcome.put_to_event.push(lag),
                Since::Complete => outcome.complete_to_event.push(lag),
            }
        }
    }
    outcome.errors = shared.errors.load(Ordering::Relaxed);
    outcome.error_examples = lock(&shared.examples).clone();
    if outcome.errors > 0 {
        outcome.server_log = server.log_tail(40);
    }
    progress(format!("done in {:.1} s", started.elapsed().as_secs_f64()));
    Ok(outcome)
}
