//! What the server logs, and at which level: a client's mistake at the
//! object endpoint (here a request whose signature is wrong) is a warning,
//! never an error; ERROR is kept for the server's own faults.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

use axum::body::Body;
use axum::http::Request;
use ferry_server::clock::SystemClock;
use ferry_server::{
    AppState, LOCAL_BUCKET, LOCAL_REGION, S3Credentials, Settings, app, log_filter,
};
use std::sync::{Arc, Mutex};
use tower::ServiceExt as _;

/// Everything logged, as text.
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

#[tokio::test]
async fn a_bad_signature_is_logged_as_a_warning_not_an_error() {
    let logs = Captured::default();
    let writer = logs.clone();
    // The server's own filter, as `ferry-server` starts with no FERRY_LOG.
    tracing_subscriber::fmt()
        .with_env_filter(log_filter(None))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::new(
        "http://127.0.0.1:9".to_owned(),
        dir.path().join("data"),
        dir.path().join("dist"),
    );
    let key = "AKIAFERRYLOGTEST";
    settings.s3_credentials = Some(S3Credentials {
        access_key_id: key.to_owned(),
        secret_access_key: "not-the-signature's-key".to_owned(),
    });
    let state = AppState::open(settings, Arc::new(SystemClock)).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let date = format!(
        "{:04}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    );
    let stamp = format!(
        "{date}T{:02}{:02}{:02}Z",
        now.hour(),
        now.minute(),
        now.second()
    );
    let request = Request::get(format!("/{LOCAL_BUCKET}/users/someone/file"))
        .header("host", "127.0.0.1:9")
        .header("x-amz-date", &stamp)
        .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={key}/{date}/{LOCAL_REGION}/s3/aws4_request, \
                 SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={}",
                "0".repeat(64)
            ),
        )
        .body(Body::empty())
        .unwrap();
    let response = app(state).oneshot(request).await.unwrap();
    assert_eq!(response.status(), 403);
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("WARN") && logs.contains("the object endpoint refused a request"),
        "{logs}"
    );
    assert!(
        !logs.contains("ERROR"),
        "a client's mistake logged as an error:\n{logs}"
    );
}
