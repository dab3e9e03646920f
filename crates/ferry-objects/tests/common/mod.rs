//! The test harness: the endpoint on a random loopback port, a recording
//! bus (a test double of the port), and a plain HTTP client.

#![allow(dead_code)] // Each test file uses a different part of it.

use async_trait::async_trait;
use bytes::Bytes;
use ferry_core::clock::{Clock, ManualClock};
use ferry_core::ports::{Bus, BusEntry, PortError, PortResult};
use ferry_objects::{LocalObjectStore, ObjectEndpoint, ObjectsConfig};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub const BUCKET: &str = "ferry";
pub const ACCESS_KEY: &str = "FERRYLOCALADMIN";
pub const SECRET_KEY: &str = "local-secret-key-for-tests";
pub const ORIGIN: &str = "http://127.0.0.1:5173";

/// A bus that keeps what it is given, or refuses when told to.
#[derive(Debug, Default)]
pub struct RecordingBus {
    pub entries: Mutex<Vec<BusEntry>>,
    pub failing: AtomicBool,
}

#[async_trait]
impl Bus for RecordingBus {
    async fn put(&self, entries: Vec<BusEntry>) -> PortResult<()> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(PortError::Unavailable("bus down".into()));
        }
        self.entries.lock().unwrap().extend(entries);
        Ok(())
    }
}

impl RecordingBus {
    pub fn take(&self) -> Vec<BusEntry> {
        std::mem::take(&mut *self.entries.lock().unwrap())
    }
}

/// The endpoint, served.
pub struct Stack {
    pub url: String,
    pub endpoint: Arc<ObjectEndpoint>,
    pub store: Arc<LocalObjectStore>,
    pub bus: Arc<RecordingBus>,
    pub clock: Arc<ManualClock>,
    pub client: Client<HttpConnector, Full<Bytes>>,
    pub dir: tempfile::TempDir,
}

pub fn config(url: &str, root: std::path::PathBuf) -> ObjectsConfig {
    ObjectsConfig {
        bucket: BUCKET.into(),
        region: "local-1".into(),
        access_key_id: ACCESS_KEY.into(),
        secret_access_key: SECRET_KEY.into(),
        root,
        public_url: url.into(),
        allowed_origins: vec![ORIGIN.into()],
    }
}

/// Serves a new endpoint on 127.0.0.1; its clock starts at the real time
/// (s3s also checks signing times against the system clock).
pub async fn start() -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let bus = Arc::new(RecordingBus::default());
    let clock = Arc::new(ManualClock::new(
        time::OffsetDateTime::now_utc().unix_timestamp(),
    ));
    let endpoint = ObjectEndpoint::new(
        config(&url, dir.path().join("objects")),
        bus.clone(),
        clock.clone(),
    )
    .unwrap();
    let served = endpoint.clone();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let endpoint = served.clone();
        async move { endpoint.handle(req).await }
    });
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });
    let client = Client::builder(TokioExecutor::new()).build_http();
    Stack {
        url,
        store: endpoint.store(),
        endpoint,
        bus,
        clock,
        client,
        dir,
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `<Code>` of an S3 XML error.
    pub fn code(&self) -> String {
        let text = self.text();
        text.split_once("<Code>")
            .and_then(|(_, rest)| rest.split_once("</Code>"))
            .map(|(code, _)| code.to_owned())
            .unwrap_or_default()
    }
}

impl Stack {
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        let mut builder = http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let resp = self
            .client
            .request(builder.body(Full::new(body.into())).unwrap())
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub fn now(&self) -> ferry_protocol::Timestamp {
        ferry_protocol::Timestamp::new(self.clock.now())
    }
}

/// Base64 SHA-256, as `x-amz-checksum-sha256` carries it.
pub fn sha256_b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes))
}

/// Deterministic test bytes.
pub fn bytes_of(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}
