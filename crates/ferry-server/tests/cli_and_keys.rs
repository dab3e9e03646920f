//! The admin CLI as a real process, key persistence across restarts, and the
//! CORS answer browsers need to call the identity provider from elsewhere.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

use axum::body::Body;
use axum::http::Request;
use ferry_server::clock::SystemClock;
use ferry_server::{AppState, Settings, app};
use http_body_util::BodyExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use tower::ServiceExt;

fn cli(data: &Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ferry-server"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn the_user_commands_manage_the_pool() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let (ok, out, _) = cli(
        data,
        &[
            "user",
            "add",
            "alice",
            "--password",
            "Correct-Horse-1",
            "--email",
            "a@example.com",
        ],
    );
    assert!(
        ok && out.contains("added alice") && out.contains("CONFIRMED"),
        "{out}"
    );
    let (ok, _, err) = cli(
        data,
        &["user", "add", "alice", "--password", "Correct-Horse-1"],
    );
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = cli(data, &["user", "add", "weak", "--password", "short"]);
    assert!(!ok && err.contains("Password not long enough"), "{err}");

    let (ok, out, _) = cli(data, &["user", "add", "bob"]);
    assert!(ok && out.contains("FORCE_CHANGE_PASSWORD"), "{out}");
    let temporary = out
        .lines()
        .find_map(|l| l.strip_prefix("temporary password: "))
        .unwrap()
        .to_owned();
    assert!(ferry_server::identity::password::check(&temporary).is_ok());

    assert!(cli(data, &["user", "disable", "bob"]).0);
    let (_, list, _) = cli(data, &["user", "list"]);
    assert!(
        list.contains("alice\tCONFIRMED\tenabled\ta@example.com"),
        "{list}"
    );
    assert!(
        list.contains("bob\tFORCE_CHANGE_PASSWORD\tdisabled\t-"),
        "{list}"
    );
    assert!(cli(data, &["user", "enable", "bob"]).0);
    let (ok, out, _) = cli(data, &["user", "reset-password", "alice"]);
    assert!(
        ok && out.starts_with("temporary password for alice: "),
        "{out}"
    );
    let (_, list, _) = cli(data, &["user", "list"]);
    assert!(
        list.contains("alice\tFORCE_CHANGE_PASSWORD\tenabled"),
        "{list}"
    );
    let (ok, _, err) = cli(data, &["user", "disable", "nobody"]);
    assert!(!ok && err.contains("no user named"), "{err}");
}

async fn jwks(state: Arc<AppState>) -> serde_json::Value {
    let response = app(state)
        .oneshot(
            Request::get("/local-1_ferry/.well-known/jwks.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap()
}

#[tokio::test]
async fn signing_keys_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings::new(
        "http://127.0.0.1:9",
        dir.path().join("data"),
        dir.path().join("dist"),
    );
    let first = jwks(AppState::open(settings.clone(), Arc::new(SystemClock)).unwrap()).await;
    let second = jwks(AppState::open(settings, Arc::new(SystemClock)).unwrap()).await;
    assert_eq!(first, second);
    let key_file = dir.path().join("data/keys/id-signing-key.pem");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[tokio::test]
async fn browsers_elsewhere_may_call_the_identity_provider() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings::new(
        "http://127.0.0.1:9",
        dir.path().join("data"),
        dir.path().join("dist"),
    );
    let state = AppState::open(settings, Arc::new(SystemClock)).unwrap();
    let preflight = Request::options("/")
        .header("origin", "https://portal.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-amz-target,x-amz-user-agent",
        )
        .body(Body::empty())
        .unwrap();
    let response = app(state).oneshot(preflight).await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], "*");
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(allowed.contains("x-amz-target"), "{allowed}");
}

struct AlwaysFails;

#[ferry_bus::async_trait]
impl ferry_bus::Target for AlwaysFails {
    async fn deliver(&self, _event: &serde_json::Value) -> Result<(), String> {
        Err("the consumer is down".to_owned())
    }
}

#[tokio::test]
async fn the_dlq_commands_list_and_replay_dead_letters() {
    use ferry_core::ports::{Bus, BusEntry};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let (ok, out, _) = cli(data, &["dlq", "list"]);
    assert!(!ok, "no bus yet: {out}");

    let bus = ferry_bus::LocalBus::open(
        &data.join("bus.sqlite3"),
        ferry_bus::BusConfig {
            name: ferry_server::LOCAL_BUS.to_owned(),
            account: ferry_server::LOCAL_ACCOUNT.to_owned(),
            region: ferry_server::LOCAL_REGION.to_owned(),
            retry: ferry_bus::RetryPolicy {
                max_attempts: 2,
                base: std::time::Duration::from_millis(1),
                cap: std::time::Duration::from_millis(2),
            },
        },
        vec![ferry_bus::Rule {
            name: "deleter".to_owned(),
            pattern: serde_json::json!({"source": ["ferry.commands"]}),
            target: Arc::new(AlwaysFails),
        }],
        Arc::new(SystemClock),
    )
    .unwrap();
    let dispatcher = bus.start();
    bus.put(vec![BusEntry {
        source: "ferry.commands".to_owned(),
        detail_type: "DeleteFile".to_owned(),
        detail: serde_json::json!({"metadata": {"EventId": uuid::Uuid::new_v4()}}),
    }])
    .await
    .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(30), bus.drain())
        .await
        .unwrap();
    dispatcher.abort();

    let (ok, out, _) = cli(data, &["dlq", "list"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("deleter")
            && out.contains("the consumer is down")
            && out.contains("DeleteFile"),
        "{out}"
    );
    let (ok, out, _) = cli(data, &["dlq", "replay", "--all"]);
    assert!(ok && out.contains("replayed 1"), "{out}");
    let (ok, out, _) = cli(data, &["dlq", "list"]);
    assert!(ok && out.contains("no dead letters"), "{out}");
    let (ok, _, err) = cli(data, &["dlq", "replay"]);
    assert!(!ok && err.contains("--id"), "{err}");
}
