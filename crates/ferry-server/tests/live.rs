//! The WebSocket of live events over a real loopback socket: who may connect,
//! whose events reach whom, resuming after a cursor, and the socket's limits.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

mod net;

use ferry_protocol::live::ServerMessage;
use ferry_server::clock::{Clock, ManualClock, SystemClock};
use ferry_server::live::LiveSettings;
use ferry_server::{AppState, Settings};
use futures_util::{SinkExt, StreamExt};
use net::PASSWORD;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::{self, Message};
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(30);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Served {
    state: Arc<AppState>,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

async fn serve(clock: Arc<dyn Clock>, tune: impl FnOnce(&mut Settings)) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut settings = Settings::new(
        format!("http://{addr}"),
        dir.path().join("data"),
        dir.path().join("dist"),
    );
    settings.bus_retry = ferry_bus::RetryPolicy {
        max_attempts: 3,
        base: Duration::from_millis(5),
        cap: Duration::from_millis(20),
    };
    tune(&mut settings);
    let state = AppState::open(settings, clock).unwrap();
    let app = ferry_server::app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Served {
        state,
        addr,
        _dir: dir,
    }
}

impl Served {
    async fn user(&self, name: &str) -> (String, String) {
        let user = self
            .state
            .identity
            .create_user(name, PASSWORD, None, false)
            .unwrap();
        (net::sign_in(self.addr, name).await, user.sub.to_string())
    }

    /// Opens a socket and says hello, as the client does first.
    async fn connect(&self, token: &str) -> Result<Socket, tungstenite::Error> {
        let url = format!("ws://{}/ws?token={token}", self.addr);
        let mut socket = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .unwrap()
            .map(|(socket, _)| socket)?;
        send(&mut socket, serde_json::json!({"action": "hello"})).await;
        Ok(socket)
    }

    async fn settle(&self) {
        tokio::time::timeout(WAIT, self.state.bus.drain())
            .await
            .expect("the bus settles");
    }
}

/// The next text message, as JSON.
async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a message within 30 s")
            .expect("the socket is open")
            .unwrap();
        if let Message::Text(text) = message {
            // Every frame the server sends is a message of the protocol.
            assert!(
                ServerMessage::parse(text.as_str()).is_some(),
                "not a protocol message: {text}"
            );
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
}

fn refused_status(result: Result<Socket, tungstenite::Error>) -> u16 {
    match result {
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("refused some other way: {other}"),
        Ok(_) => panic!("the handshake was accepted"),
    }
}

#[tokio::test]
async fn a_signed_in_user_connects_and_is_greeted_with_the_cursor() {
    let served = serve(Arc::new(SystemClock), |_| {}).await;
    let (token, _) = served.user("alice").await;
    let mut socket = served.connect(&token).await.unwrap();
    let hello = next_json(&mut socket).await;
    assert_eq!(hello["type"], "hello");
    assert!(hello["cursor"].is_i64(), "{hello}");
}

#[tokio::test]
async fn a_missing_bad_forged_or_expired_token_is_refused_before_the_upgrade() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let clock = Arc::new(ManualClock::new(
        time::OffsetDateTime::now_utc().unix_timestamp(),
    ));
    let served = serve(clock.clone(), |_| {}).await;
    let (token, _) = served.user("alice").await;

    let no_token = tokio::time::timeout(
        WAIT,
        tokio_tungstenite::connect_async(format!("ws://{}/ws", served.addr)),
    )
    .await
    .unwrap()
    .map(|(socket, _)| socket);
    assert_eq!(refused_status(no_token), 401);
    assert_eq!(refused_status(served.connect("garbage").await), 401);
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = json!("someone-else");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(claims.to_string()),
        parts[2]
    );
    assert_eq!(refused_status(served.connect(&forged).await), 401);

    // The real token works until it expires.
    let mut socket = served.connect(&token).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "hello");
    clock.advance(3601);
    assert_eq!(refused_status(served.connect(&token).await), 401);
}

#[tokio::test]
async fn each_user_gets_their_own_events_and_nobody_elses() {
    let served = serve(Arc::new(SystemClock), |_| {}).await;
    let (alice, _) = served.user("alice").await;
    let (bob, bob_sub) = served.user("bob").await;
    let mut alice_socket = served.connect(&alice).await.unwrap();
    let mut bob_socket = served.connect(&bob).await.unwrap();
    assert_eq!(next_json(&mut alice_socket).await["type"], "hello");
    assert_eq!(next_json(&mut bob_socket).await["type"], "hello");

    let create_id = Uuid::new_v4();
    let (status, created) = net::command(
        served.addr,
        &alice,
        create_id,
        json!({"Action": "CreateFile", "Folder": "", "Name": "a.txt", "Size": 3,
               "ContentType": "text/plain"}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (status, _) =
        net::presigned(served.addr, &created["upload"]["request"], b"abc".to_vec()).await;
    assert_eq!(status, 200);
    let file_id = created["file"]["fileId"].as_str().unwrap().to_owned();
    let event = next_json(&mut alice_socket).await;
    assert_eq!(event["type"], "event", "{event}");
    assert_eq!(event["event"]["data"]["Action"], "FileCreated");
    assert_eq!(
        event["event"]["metadata"]["CommandId"],
        create_id.to_string()
    );
    let first_cursor = event["cursor"].as_i64().unwrap();

    let delete_id = Uuid::new_v4();
    let (status, _) = net::command(
        served.addr,
        &alice,
        delete_id,
        json!({"Action": "DeleteFile", "FileId": file_id}),
    )
    .await;
    assert_eq!(status, 202);
    let event = next_json(&mut alice_socket).await;
    assert_eq!(event["event"]["data"]["Action"], "FileTrashed", "{event}");
    assert_eq!(
        event["event"]["metadata"]["CommandId"],
        delete_id.to_string()
    );
    assert!(event["cursor"].as_i64().unwrap() > first_cursor);

    // Bob's first event is his own, so none of Alice's reached him.
    let folder_id = Uuid::new_v4();
    let (status, _) = net::command(
        served.addr,
        &bob,
        folder_id,
        json!({"Action": "CreateFolder", "Path": "bobs"}),
    )
    .await;
    assert_eq!(status, 202);
    let event = next_json(&mut bob_socket).await;
    assert_eq!(event["event"]["data"]["Action"], "FolderCreated", "{event}");
    assert_eq!(event["event"]["metadata"]["UserId"], bob_sub.as_str());
    assert_eq!(
        event["event"]["metadata"]["CommandId"],
        folder_id.to_string()
    );
}

#[tokio::test]
async fn a_client_that_reconnects_resumes_exactly_what_it_missed() {
    let served = serve(Arc::new(SystemClock), |_| {}).await;
    let (alice, _) = served.user("alice").await;
    let mut socket = served.connect(&alice).await.unwrap();
    let cursor = next_json(&mut socket).await["cursor"].as_i64().unwrap();
    socket.close(None).await.unwrap();
    drop(socket);

    let mut sent = Vec::new();
    for path in ["one", "two"] {
        let id = Uuid::new_v4();
        let (status, _) = net::command(
            served.addr,
            &alice,
            id,
            json!({"Action": "CreateFolder", "Path": path}),
        )
        .await;
        assert_eq!(status, 202);
        sent.push(id.to_string());
    }
    served.settle().await;

    let mut socket = served.connect(&alice).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "hello");
    send(&mut socket, json!({"action": "resume", "after": cursor})).await;
    let mut got = Vec::new();
    let mut last = cursor;
    let resumed = loop {
        let message = next_json(&mut socket).await;
        if message["type"] == "resumed" {
            break message;
        }
        assert_eq!(message["type"], "event", "{message}");
        let at = message["cursor"].as_i64().unwrap();
        assert!(at > last, "in cursor order: {at} after {last}");
        last = at;
        got.push(
            message["event"]["metadata"]["CommandId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    };
    // Exactly what it missed (in cursor order; the bus doesn't promise the
    // two commands are carried out in the order they were sent).
    got.sort();
    sent.sort();
    assert_eq!(got, sent);
    let resumed_at = resumed["cursor"].as_i64().unwrap();
    assert!(resumed_at >= last);

    send(
        &mut socket,
        json!({"action": "resume", "after": resumed_at}),
    )
    .await;
    let again = next_json(&mut socket).await;
    assert_eq!(again["type"], "resumed", "{again}");
    assert_eq!(again["cursor"], resumed_at);
}

#[tokio::test]
async fn ping_is_answered_and_a_bad_message_gets_an_error_not_a_close() {
    let served = serve(Arc::new(SystemClock), |_| {}).await;
    let (alice, _) = served.user("alice").await;
    let mut socket = served.connect(&alice).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "hello");
    send(&mut socket, json!({"action": "ping"})).await;
    assert_eq!(next_json(&mut socket).await, json!({"type": "pong"}));
    send(&mut socket, json!({"action": "dance"})).await;
    let error = next_json(&mut socket).await;
    assert_eq!(error["type"], "error", "{error}");
    socket.send(Message::text("not json")).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "error");
    // Still open.
    send(&mut socket, json!({"action": "ping"})).await;
    assert_eq!(next_json(&mut socket).await, json!({"type": "pong"}));
}

/// Reads until the server closes; returns the close code, if one was sent.
async fn closed(socket: &mut Socket) -> Option<u16> {
    loop {
        match tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("closed within 30 s")
        {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return None,
        }
    }
}

/// Each socket reads into a small buffer (4 KiB, not the WebSocket
/// library's 128 KiB, so 200 sockets don't hold 25 MiB between them); a
/// message up to API Gateway's 128 KiB still arrives whole, and the socket
/// goes on.
#[tokio::test]
async fn a_message_larger_than_the_read_buffer_is_read_whole() {
    let served = serve(Arc::new(SystemClock), |_| {}).await;
    let (alice, _) = served.user("alice").await;
    let mut socket = served.connect(&alice).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "hello");
    let pad = "x".repeat(100 * 1024);
    send(&mut socket, json!({"action": "ping", "pad": pad})).await;
    assert_eq!(next_json(&mut socket).await, json!({"type": "pong"}));
    send(&mut socket, json!({"action": "ping"})).await;
    assert_eq!(next_json(&mut socket).await, json!({"type": "pong"}));
}

#[tokio::test]
async fn a_message_over_128_kib_closes_the_connection() {
    let served = serve(Arc::new(SystemClock), |_| {}).await;
    let (alice, _) = served.user("alice").await;
    let mut socket = served.connect(&alice).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "hello");
    let big = format!(r#"{{"action":"ping","pad":"{}"}}"#, "x".repeat(129 * 1024));
    // The send may already fail if the server closed first.
    let _ = socket.send(Message::text(big)).await;
    let code = closed(&mut socket).await;
    assert!(code.is_none() || code == Some(1009), "{code:?}");
}

#[tokio::test]
async fn an_idle_connection_is_closed_with_going_away() {
    let served = serve(Arc::new(SystemClock), |settings| {
        settings.live = LiveSettings {
            idle_timeout: Duration::from_millis(300),
            heartbeat: Duration::from_millis(100),
            ..Default::default()
        };
    })
    .await;
    let (alice, _) = served.user("alice").await;
    let mut socket = served.connect(&alice).await.unwrap();
    // Not reading means tungstenite never answers the server's pings.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let code = closed(&mut socket).await;
    assert!(code.is_none() || code == Some(1001), "{code:?}");
}

#[tokio::test]
async fn a_connection_is_closed_at_its_maximum_lifetime() {
    let served = serve(Arc::new(SystemClock), |settings| {
        settings.live = LiveSettings {
            max_lifetime: Duration::from_millis(300),
            ..Default::default()
        };
    })
    .await;
    let (alice, _) = served.user("alice").await;
    let mut socket = served.connect(&alice).await.unwrap();
    assert_eq!(next_json(&mut socket).await["type"], "hello");
    // Busy all along: pings every 50 ms keep it from being idle.
    let code = loop {
        send(&mut socket, json!({"action": "ping"})).await;
        match tokio::time::timeout(WAIT, socket.next()).await.unwrap() {
            Some(Ok(Message::Close(frame))) => break frame.map(|f| u16::from(f.code)),
            Some(Ok(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
            Some(Err(_)) | None => break None,
        }
    };
    assert_eq!(code, Some(1001));
}

#[tokio::test]
async fn with_websockets_off_the_upgrade_is_refused_and_the_feed_still_answers() {
    let served = serve(Arc::new(SystemClock), |settings| {
        settings.live.websockets = false;
    })
    .await;
    let (alice, _) = served.user("alice").await;
    let refused = served.connect(&alice).await;
    assert!(refused.is_err(), "the upgrade went through");
    let (status, feed) = net::get(served.addr, &alice, "/api/events?after=0").await;
    assert_eq!(status, 200, "{feed}");
    assert!(feed["events"].is_array(), "{feed}");
}
