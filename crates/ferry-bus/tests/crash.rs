//! A real `kill -9`: a child process (this test binary, re-run on one ignored
//! test) puts entries, one of them already in flight to a target that never
//! answers, and is killed; the parent reopens the file and gets every entry.

#![allow(clippy::unwrap_used)]

use ferry_bus::{BusConfig, LocalBus, RetryPolicy, Rule, Target, async_trait};
use ferry_core::clock::SystemClock;
use ferry_core::ports::{Bus, BusEntry};
use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Set in the child's environment to the bus file it must use.
const CHILD_ENV: &str = "FERRY_BUS_CRASH_CHILD";
/// What the child prints once its puts have returned `Ok`.
const READY: &str = "FERRY-BUS-CHILD-READY";

#[derive(Default)]
struct Recorder(Mutex<Vec<Value>>);

#[async_trait]
impl Target for Recorder {
    async fn deliver(&self, event: &Value) -> Result<(), String> {
        self.0.lock().unwrap().push(event.clone());
        Ok(())
    }
}

#[derive(Default)]
struct Hangs(AtomicU32);

#[async_trait]
impl Target for Hangs {
    async fn deliver(&self, _event: &Value) -> Result<(), String> {
        self.0.fetch_add(1, Ordering::SeqCst);
        std::future::pending().await
    }
}

fn open(path: &Path, target: Arc<dyn Target>) -> Arc<LocalBus> {
    let config = BusConfig {
        name: "ferry".to_owned(),
        account: "000000000000".to_owned(),
        region: "eu-west-1".to_owned(),
        retry: RetryPolicy {
            max_attempts: 3,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
        },
    };
    let rule = Rule {
        name: "files".to_owned(),
        pattern: json!({"source": ["ferry.files"]}),
        target,
    };
    LocalBus::open(path, config, vec![rule], Arc::new(SystemClock)).unwrap()
}

fn entry(event_id: &str) -> BusEntry {
    BusEntry {
        source: "ferry.files".to_owned(),
        detail_type: "FileDeleted".to_owned(),
        detail: json!({"metadata": {"EventId": event_id}, "data": {"Action": "FileDeleted"}}),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child half of entries_put_survive_kill_9; runs only with its environment"]
async fn child_puts_then_waits_to_be_killed() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let hangs = Arc::new(Hangs::default());
    let bus = open(Path::new(&path), hangs.clone());
    let _dispatcher = bus.start();
    bus.put(vec![entry("e-1")]).await.unwrap();
    while hangs.0.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    bus.put(vec![entry("e-2"), entry("e-3")]).await.unwrap();
    println!("{READY}");
    std::future::pending::<()>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_put_survive_kill_9() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("bus.sqlite3");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_puts_then_waits_to_be_killed",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let ready = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.trim() == READY)
    });
    let ready = tokio::time::timeout(Duration::from_secs(60), ready).await;
    // SIGKILL: no destructor, no SQLite close, no WAL checkpoint.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        matches!(ready, Ok(Ok(true))),
        "the child did not finish its puts"
    );

    let recorder = Arc::new(Recorder::default());
    let bus = open(&path, recorder.clone());
    let _dispatcher = bus.start();
    tokio::time::timeout(Duration::from_secs(60), bus.drain())
        .await
        .unwrap();
    let mut ids: Vec<String> = recorder
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|e| {
            e["detail"]["metadata"]["EventId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, ["e-1", "e-2", "e-3"]);
}
