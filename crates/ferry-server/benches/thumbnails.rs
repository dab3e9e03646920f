//! How long a photo waits for its thumbnails on the local stack, printed for
//! `cargo xtask bench`: from a presigned PUT's answer to `ThumbnailCreated`
//! on the owner's WebSocket, beside the time from the same answer to
//! `FileCreated` on the same socket in the same run (the baseline: what
//! every upload waits for anyway). A few dozen small photos, one at a time,
//! so each figure is one photo's path, not a queue's; it runs in seconds.

#![allow(clippy::unwrap_used)] // A benchmark fails loudly on anything unexpected.

use axum::body::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

const PASSWORD: &str = "Correct-Horse-1";
/// Photos uploaded and timed.
const PHOTOS: usize = 36;
/// Their size: a small photo (1.9 megapixels).
const WIDTH: u32 = 1600;
const HEIGHT: u32 = 1200;

/// One keep-alive HTTP/1.1 connection to the server.
struct Client {
    host: String,
    sender: SendRequest<Full<Bytes>>,
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

    async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
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
            .send_request(request.body(Full::new(Bytes::from(body))).unwrap())
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, bytes)
    }

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
                envelope.to_string().into_bytes(),
            )
            .await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    async fn presigned(&mut self, request: &Value, body: Vec<u8>) -> (u16, Bytes) {
        let url = request["url"].as_str().unwrap();
        let path = url
            .strip_prefix("http://")
            .and_then(|rest| rest.find('/').map(|slash| &rest[slash..]))
            .unwrap();
        let mut headers = vec![("content-length", body.len().to_string())];
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
        .send("POST", "/", &headers, body.to_string().into_bytes())
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    answer["AuthenticationResult"]["AccessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A photo-like JPEG, different for each `seed`.
fn photo(seed: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(WIDTH, HEIGHT, |x, y| {
        let wave = ((x / 7 + y / 5 + seed * 13) % 64) as u8;
        image::Rgb([
            ((x * 255 / WIDTH) as u8).wrapping_add(wave),
            ((y * 255 / HEIGHT) as u8).wrapping_add(wave / 2),
            (((x + y + seed) % 256) as u8) ^ wave,
        ])
    });
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 85)
        .encode_image(&image)
        .unwrap();
    bytes
}

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(60), socket.next())
            .await
            .expect("a message within 60 s")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).unwrap();
        }
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
    let settings = ferry_server::Settings::new(
        format!("http://{addr}"),
        dir.path().join("data"),
        dir.path().join("dist"),
    );
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
    let photos: Vec<Vec<u8>> = (0..PHOTOS).map(|i| photo(i as u32)).collect();
    let bytes: usize = photos.iter().map(Vec::len).sum();

    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws?token={token}"))
        .await
        .unwrap();
    socket
        .send(Message::text(r#"{"action":"hello"}"#))
        .await
        .unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "hello");

    let mut created = Vec::with_capacity(PHOTOS);
    let mut thumbed = Vec::with_capacity(PHOTOS);
    for (i, content) in photos.into_iter().enumerate() {
        let (status, answer) = client
            .command(
                &token,
                json!({"Action": "CreateFile", "Folder": "photos",
                       "Name": format!("photo-{i:03}.jpg"),
                       "Size": content.len(), "ContentType": "image/jpeg"}),
            )
            .await;
        assert_eq!(status, 201, "{answer}");
        let id = answer["file"]["fileId"].as_str().unwrap().to_owned();
        let (status, body) = client
            .presigned(&answer["upload"]["request"], content)
            .await;
        let put_done = Instant::now();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let (mut file_at, mut thumb_at) = (None, None);
        while file_at.is_none() || thumb_at.is_none() {
            let message = next_json(&mut socket).await;
            let data = &message["event"]["data"];
            if message["type"] != "event" || data["FileId"] != id.as_str() {
                continue;
            }
            match data["Action"].as_str() {
                Some("FileCreated") => file_at = Some(put_done.elapsed()),
                Some("ThumbnailCreated") => thumb_at = Some(put_done.elapsed()),
                Some("ThumbnailFailed") => panic!("no thumbnail: {data}"),
                _ => {}
            }
        }
        created.push(file_at.unwrap());
        thumbed.push(thumb_at.unwrap());
    }
    let _ = socket.close(None).await;
    created.sort();
    thumbed.sort();
    let (file_p50, file_p99) = (quantile(&created, 0.5), quantile(&created, 0.99));
    let (thumb_p50, thumb_p99) = (quantile(&thumbed, 0.5), quantile(&thumbed, 0.99));

    let line = |name: &str, value: f64| println!("FERRY_BENCH {name}={value:.3}");
    line("put_to_file_created_p50_ms", file_p50);
    line("put_to_file_created_p99_ms", file_p99);
    line("put_to_thumbnail_created_p50_ms", thumb_p50);
    line("put_to_thumbnail_created_p99_ms", thumb_p99);
    line("thumbnail_vs_file_created_p50", thumb_p50 / file_p50);
    line("thumbnail_vs_file_created_p99", thumb_p99 / file_p99);
    println!();
    println!(
        "{PHOTOS} photos of {WIDTH} x {HEIGHT} (JPEG, {} KiB on average), one at a time",
        bytes / PHOTOS / 1024
    );
    println!("PUT answered → FileCreated (baseline): {file_p50:>8.1} ms p50, {file_p99:.1} ms p99");
    println!(
        "PUT answered → ThumbnailCreated:       {thumb_p50:>8.1} ms p50 ({:.1}x), {thumb_p99:.1} ms p99 ({:.1}x)",
        thumb_p50 / file_p50,
        thumb_p99 / file_p99
    );
}
