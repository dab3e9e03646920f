//! Thirty seconds of load on one `ferry-server` process (50 signed-in
//! WebSocket clients, 5 uploaders, 5 command senders), then a check that
//! nothing was lost: no error, every expected event reached every socket of
//! its user, every accepted command succeeded, every upload is listed
//! available at its size, every deleted file is gone. Correctness only:
//! times and memory are the bench's (`cargo xtask bench --load`), since a
//! shared machine makes them noise here.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

#[path = "load/generator.rs"]
mod generator;

use std::path::PathBuf;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_seconds_of_load_lose_nothing() {
    let load = generator::Load::short(PathBuf::from(env!("CARGO_BIN_EXE_ferry-server")));
    let outcome = generator::run(load.clone()).await.unwrap();
    for (name, value) in outcome.figures(&load) {
        eprintln!("{name}={value:.3}");
    }
    assert_eq!(
        outcome.errors,
        0,
        "{} errors, the first ones:\n{}\n\nthe server's log ends:\n{}",
        outcome.errors,
        outcome.error_examples.join("\n"),
        outcome.server_log
    );
    // The run did what it is for: every kind of work, checked.
    assert!(outcome.commands > 0, "{outcome:?}");
    assert!(outcome.uploads_single > 0, "{outcome:?}");
    assert!(outcome.uploads_multipart > 0, "{outcome:?}");
    assert!(outcome.reconnects > 0, "no socket resumed: {outcome:?}");
    assert!(outcome.commands_checked > 0 && outcome.files_checked > 0);
    assert!(outcome.deleted_checked > 0);
}

/// RFC 6455 §5.5.1: an endpoint that receives a close frame answers with
/// one before it drops the connection (API Gateway does; without it a
/// browser reports the close as abnormal, code 1006).
#[tokio::test]
async fn a_close_from_the_client_is_answered() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let bin = PathBuf::from(env!("CARGO_BIN_EXE_ferry-server"));
    let (server, token) = generator::signed_in_server(&bin, "alice").await.unwrap();
    let url = format!("ws://{}/ws?token={token}", server.addr);
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    socket
        .send(Message::text(r#"{"action":"hello"}"#))
        .await
        .unwrap();
    let hello = socket.next().await.unwrap().unwrap();
    assert!(hello.to_text().unwrap().contains("hello"), "{hello:?}");
    socket.close(None).await.unwrap();
    let answer = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
        .await
        .expect("an answer within 10 s");
    assert!(
        matches!(answer, Some(Ok(Message::Close(_)))),
        "the server answered the close with {answer:?}"
    );
}
