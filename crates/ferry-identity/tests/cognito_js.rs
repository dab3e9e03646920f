//! AWS's own Cognito clients (pinned in tools/npm) sign in against the
//! identity provider, served on its own, over a real socket. amazon-cognito-identity-js: SRP, a
//! forced new password, tokens checked against the JWKS with `jose`,
//! GetUser, refresh, an authenticator app (TOTP), and global sign-out. AWS's
//! SDK for JavaScript v3: USER_SRP_AUTH with exactly the requests AWS's API
//! reference allows (PASSWORD_VERIFIER answered without a Session).

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

mod common;

use common::{LOCAL_CLIENT_ID, LOCAL_POOL_ID};
use ferry_core::clock::SystemClock;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

fn npm_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/npm")
}

/// Everything the server logs during the test, at every level.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amazon_cognito_identity_js_signs_in_with_srp_new_password_totp_and_refresh() {
    let modules = npm_dir().join("node_modules/amazon-cognito-identity-js");
    assert!(
        modules.exists(),
        "{} is missing: run `cargo xtask test`, which installs the npm test peers",
        modules.display()
    );

    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let identity = common::open(
        common::settings(&url),
        &dir.path().join("data"),
        Arc::new(SystemClock),
    );
    identity
        .create_user(
            "alice",
            "Temp-Pass-123",
            Some("alice@example.com".into()),
            true,
        )
        .unwrap();
    let server = tokio::spawn(async move {
        let service =
            common::app(&identity).into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, service).await
    });

    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(npm_dir().join("peers/cognito-signin.mjs"))
            .env("ENDPOINT", format!("{url}/"))
            .env("POOL_ID", LOCAL_POOL_ID)
            .env("CLIENT_ID", LOCAL_CLIENT_ID)
            .env("USERNAME", "alice")
            .env("TEMP_PASSWORD", "Temp-Pass-123")
            .env("NEW_PASSWORD", "Chosen-Pass-456")
            .env("EMAIL", "alice@example.com")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    server.abort();

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "node failed:\n{stdout}\n{stderr}");
    for step in [
        "new-password-required",
        "signed-in-with-srp-after-new-password",
        "tokens-verified",
        "get-user",
        "refreshed",
        "signed-in-with-new-password",
        "old-password-refused",
        "totp-set-up",
        "wrong-totp-refused",
        "signed-in-with-totp",
        "unknown-user-refused-like-a-wrong-password",
        "global-sign-out-revoked-refresh",
    ] {
        assert!(
            stdout.contains(&format!("\"step\":\"{step}\"")),
            "step {step} missing:\n{stdout}"
        );
    }
    assert!(stdout.trim_end().ends_with("{\"ok\":true}"), "{stdout}");

    // No password, token or code in any log line.
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("operation=RespondToAuthChallenge outcome=\"ok\""),
        "{logs}"
    );
    for secret in [
        "Temp-Pass-123",
        "Chosen-Pass-456",
        "eyJ",
        "Your code is",
        "SRP_A",
        "SECRET_BLOCK",
    ] {
        assert!(
            !logs.contains(secret),
            "the log contains {secret:?}:\n{logs}"
        );
    }
    println!("{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_sdk_v3_signs_in_with_srp_sending_no_session() {
    let modules = npm_dir().join("node_modules/@aws-sdk/client-cognito-identity-provider");
    assert!(
        modules.exists(),
        "{} is missing: run `cargo xtask test`, which installs the npm test peers",
        modules.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let identity = common::open(
        common::settings(&url),
        &dir.path().join("data"),
        Arc::new(SystemClock),
    );
    identity
        .create_user("bea", "Bea-Pass-123", None, false)
        .unwrap();
    let server = tokio::spawn(async move {
        let service =
            common::app(&identity).into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, service).await
    });
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(npm_dir().join("peers/cognito-sdk-v3.mjs"))
            .env("ENDPOINT", format!("{url}/"))
            .env("POOL_ID", LOCAL_POOL_ID)
            .env("CLIENT_ID", LOCAL_CLIENT_ID)
            .env("USERNAME", "bea")
            .env("PASSWORD", "Bea-Pass-123")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    server.abort();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "node failed:\n{stdout}\n{stderr}");
    // AWS answers USER_SRP_AUTH without a Session; so does the local stack.
    assert!(
        stdout.contains(r#"{"step":"password-verifier","session":null}"#),
        "{stdout}"
    );
    for step in [
        "signed-in-without-session",
        "get-user",
        "wrong-password-refused",
    ] {
        assert!(
            stdout.contains(&format!("\"step\":\"{step}\"")),
            "step {step} missing:\n{stdout}"
        );
    }
    assert!(stdout.trim_end().ends_with("{\"ok\":true}"), "{stdout}");
}
