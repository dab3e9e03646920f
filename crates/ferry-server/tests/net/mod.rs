//! A plain HTTP/1.1 client over real sockets (one connection per request),
//! for tests that run the server behind a listener or as a process.

#![allow(dead_code, clippy::unwrap_used)]

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;
use uuid::Uuid;

pub const PASSWORD: &str = "Correct-Horse-1";

/// Sends one request to `addr`; returns the status and the whole body.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> anyhow::Result<(u16, Bytes)> {
    let work = async {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", addr.to_string());
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = sender
            .send_request(request.body(Full::new(Bytes::from(body)))?)
            .await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        anyhow::Ok((status, bytes))
    };
    tokio::time::timeout(Duration::from_secs(30), work).await?
}

pub fn bearer(token: &str) -> Vec<(String, String)> {
    vec![("authorization".to_owned(), format!("Bearer {token}"))]
}

pub async fn get(addr: SocketAddr, token: &str, path: &str) -> (u16, Value) {
    let (status, body) = send(addr, "GET", path, &bearer(token), Vec::new())
        .await
        .unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// A command envelope as the browser sends it.
pub fn envelope(command_id: Uuid, data: Value) -> Value {
    json!({
        "metadata": {
            "EventVersion": 1, "EventId": command_id, "CommandId": command_id,
            "TraceId": format!("trace-{}", command_id.simple()),
            "OccurredAt": "2026-11-26T12:00:00Z", "Producer": "web"
        },
        "data": data
    })
}

/// Posts a command with the given id; returns the status and JSON answer.
pub async fn command(addr: SocketAddr, token: &str, id: Uuid, data: Value) -> (u16, Value) {
    let mut headers = bearer(token);
    headers.push(("content-type".to_owned(), "application/json".to_owned()));
    let (status, body) = send(
        addr,
        "POST",
        "/api/commands",
        &headers,
        envelope(id, data).to_string().into_bytes(),
    )
    .await
    .unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// Sends `body` to a presigned request (`{method, url, headers}`).
pub async fn presigned(addr: SocketAddr, request: &Value, body: Vec<u8>) -> (u16, Bytes) {
    let url = request["url"].as_str().unwrap();
    let path = url
        .strip_prefix("http://")
        .and_then(|rest| rest.find('/').map(|slash| &rest[slash..]))
        .unwrap();
    let mut headers = vec![("content-length".to_owned(), body.len().to_string())];
    if let Some(signed) = request["headers"].as_object() {
        for (name, value) in signed {
            if !name.eq_ignore_ascii_case("content-length") {
                headers.push((name.clone(), value.as_str().unwrap().to_owned()));
            }
        }
    }
    let method = request["method"].as_str().unwrap().to_owned();
    send(addr, &method, path, &headers, body).await.unwrap()
}

/// Creates a file and PUTs `content`; returns its id (not waiting for the index).
pub async fn upload(
    addr: SocketAddr,
    token: &str,
    folder: &str,
    name: &str,
    content: &[u8],
) -> String {
    let (status, created) = command(
        addr,
        token,
        Uuid::new_v4(),
        json!({"Action": "CreateFile", "Folder": folder, "Name": name,
               "Size": content.len(), "ContentType": "text/plain"}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (status, body) = presigned(addr, &created["upload"]["request"], content.to_vec()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    created["file"]["fileId"].as_str().unwrap().to_owned()
}

/// Signs in with USER_PASSWORD_AUTH; returns the access token.
pub async fn sign_in(addr: SocketAddr, name: &str) -> String {
    let body = json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": ferry_server::LOCAL_CLIENT_ID,
                      "AuthParameters": {"USERNAME": name, "PASSWORD": PASSWORD}});
    let headers = vec![
        (
            "content-type".to_owned(),
            "application/x-amz-json-1.1".to_owned(),
        ),
        (
            "x-amz-target".to_owned(),
            "AWSCognitoIdentityProviderService.InitiateAuth".to_owned(),
        ),
    ];
    let (status, answer) = send(addr, "POST", "/", &headers, body.to_string().into_bytes())
        .await
        .unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let answer: Value = serde_json::from_slice(&answer).unwrap();
    answer["AuthenticationResult"]["AccessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Polls `check` every 50 ms until it holds, for at most `limit`.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = std::time::Instant::now();
    loop {
        if check().await {
            return;
        }
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts the `ferry-server` binary on `data` and `addr` (port 0 picks
/// one), serving `dist`; returns the process and the address it bound.
pub fn start_server(
    data: &std::path::Path,
    dist: &std::path::Path,
    addr: &str,
) -> (std::process::Child, SocketAddr) {
    use std::io::BufRead as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry-server"))
        .arg("--data-dir")
        .arg(data)
        .args(["--addr", addr, "--dist"])
        .arg(dist)
        .env("FERRY_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("the server prints its URL").unwrap();
        if let Some(url) = line.strip_prefix("ferry-server listening on http://") {
            break url.trim_end_matches('/').parse().unwrap();
        }
    };
    // Keep reading so the server never writes into a closed pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr)
}
