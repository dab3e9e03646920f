//! The bus through its public API: durability, rules, retries, dead letters
//! and replay, on real SQLite files in temporary directories.

#![allow(clippy::unwrap_used)]

use ferry_bus::{
    BusConfig, LocalBus, RetryPolicy, Rule, Target, async_trait, dlq_list, dlq_replay,
};
use ferry_core::clock::{Clock, ManualClock};
use ferry_core::ports::{Bus, BusEntry};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tempfile::TempDir;

/// Records every event it is given.
#[derive(Default)]
struct Recorder(Mutex<Vec<Value>>);

impl Recorder {
    fn events(&self) -> Vec<Value> {
        self.0.lock().unwrap().clone()
    }

    fn event_ids(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|e| {
                e["detail"]["metadata"]["EventId"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }
}

#[async_trait]
impl Target for Recorder {
    async fn deliver(&self, event: &Value) -> Result<(), String> {
        self.0.lock().unwrap().push(event.clone());
        Ok(())
    }
}

/// Fails its first `failures` calls, then records.
struct Flaky {
    failures: u32,
    calls: AtomicU32,
    recorder: Recorder,
}

impl Flaky {
    fn new(failures: u32) -> Self {
        Self {
            failures,
            calls: AtomicU32::new(0),
            recorder: Recorder::default(),
        }
    }
}

#[async_trait]
impl Target for Flaky {
    async fn deliver(&self, event: &Value) -> Result<(), String> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if call <= self.failures {
            return Err(format!("failure {call}"));
        }
        self.recorder.deliver(event).await
    }
}

/// Always fails, counting its calls.
#[derive(Default)]
struct Broken(AtomicU32);

#[async_trait]
impl Target for Broken {
    async fn deliver(&self, _event: &Value) -> Result<(), String> {
        let call = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        Err(format!("broken (call {call})"))
    }
}

/// Never finishes: an attempt that is in flight when the process dies.
#[derive(Default)]
struct Hangs(AtomicU32);

#[async_trait]
impl Target for Hangs {
    async fn deliver(&self, _event: &Value) -> Result<(), String> {
        self.0.fetch_add(1, Ordering::SeqCst);
        std::future::pending().await
    }
}

fn config(max_attempts: u32) -> BusConfig {
    BusConfig {
        name: "ferry".to_owned(),
        account: "000000000000".to_owned(),
        region: "eu-west-1".to_owned(),
        retry: RetryPolicy {
            max_attempts,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(5),
        },
    }
}

fn clock() -> Arc<dyn Clock> {
    Arc::new(ManualClock::new(1_772_528_707))
}

fn rule(name: &str, pattern: Value, target: Arc<dyn Target>) -> Rule {
    Rule {
        name: name.to_owned(),
        pattern,
        target,
    }
}

fn file(dir: &TempDir) -> PathBuf {
    dir.path().join("bus.sqlite3")
}

fn open(path: &Path, max_attempts: u32, rules: Vec<Rule>) -> Arc<LocalBus> {
    LocalBus::open(path, config(max_attempts), rules, clock()).unwrap()
}

/// A Ferry message as producers put it: `{metadata, data}` with an EventId.
fn entry(source: &str, action: &str, event_id: &str, data: Value) -> BusEntry {
    let mut data = data;
    data["Action"] = json!(action);
    BusEntry {
        source: source.to_owned(),
        detail_type: action.to_owned(),
        detail: json!({
            "metadata": {
                "EventId": event_id,
                "EventVersion": 1,
                "TraceId": "trace-1",
                "OccurredAt": "2026-03-03T09:05:07Z",
                "Producer": "api",
            },
            "data": data,
        }),
    }
}

/// Runs `drain` with a generous bound, so a bug fails the test instead of
/// hanging it.
async fn drain(bus: &LocalBus) {
    tokio::time::timeout(Duration::from_secs(60), bus.drain())
        .await
        .expect("the bus drains");
}

/// Polls `done` until it holds, failing after a generous bound.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_is_wrapped_as_eventbridge_does() {
    let dir = TempDir::new().unwrap();
    let all = Arc::new(Recorder::default());
    let bus = open(
        &file(&dir),
        3,
        vec![rule(
            "all",
            json!({"source": [{"prefix": ""}]}),
            all.clone(),
        )],
    );
    let _dispatcher = bus.start();
    bus.put(vec![entry(
        "ferry.commands",
        "DeleteFile",
        "e-1",
        json!({"FileId": "f"}),
    )])
    .await
    .unwrap();
    drain(&bus).await;

    let events = all.events();
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event["version"], "0");
    assert!(uuid::Uuid::parse_str(event["id"].as_str().unwrap()).is_ok());
    assert_eq!(event["detail-type"], "DeleteFile");
    assert_eq!(event["source"], "ferry.commands");
    assert_eq!(event["account"], "000000000000");
    assert_eq!(event["region"], "eu-west-1");
    assert_eq!(event["time"], "2026-03-03T09:05:07Z");
    assert_eq!(event["resources"], json!([]));
    assert_eq!(event["detail"]["metadata"]["EventId"], "e-1");
    assert_eq!(event["detail"]["data"]["FileId"], "f");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_put_survives_a_restart_and_is_delivered_after_it() {
    let dir = TempDir::new().unwrap();
    let path = file(&dir);
    {
        let first = Arc::new(Recorder::default());
        let bus = open(
            &path,
            3,
            vec![rule(
                "commands",
                json!({"source": ["ferry.commands"]}),
                first.clone(),
            )],
        );
        // Put, then "crash": the bus goes away without a dispatcher ever running.
        bus.put(vec![
            entry("ferry.commands", "DeleteFile", "e-1", json!({})),
            entry("ferry.commands", "RenameFile", "e-2", json!({})),
        ])
        .await
        .unwrap();
        drop(bus);
        assert!(first.events().is_empty());
    }

    let after = Arc::new(Recorder::default());
    let bus = open(
        &path,
        3,
        vec![rule(
            "commands",
            json!({"source": ["ferry.commands"]}),
            after.clone(),
        )],
    );
    let _dispatcher = bus.start();
    drain(&bus).await;
    let mut ids = after.event_ids();
    ids.sort();
    assert_eq!(ids, ["e-1", "e-2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_in_flight_when_the_process_dies_is_delivered_again() {
    let dir = TempDir::new().unwrap();
    let path = file(&dir);
    let hangs = Arc::new(Hangs::default());
    let bus = open(
        &path,
        3,
        vec![rule(
            "commands",
            json!({"source": ["ferry.commands"]}),
            hangs.clone(),
        )],
    );
    let dispatcher = bus.start();
    bus.put(vec![entry(
        "ferry.commands",
        "DeleteFile",
        "e-1",
        json!({}),
    )])
    .await
    .unwrap();
    eventually("the target has the event", || {
        hangs.0.load(Ordering::SeqCst) == 1
    })
    .await;
    // The process dies mid-delivery.
    dispatcher.abort();
    let _ = dispatcher.await;
    drop(bus);

    let after = Arc::new(Recorder::default());
    let bus = open(
        &path,
        3,
        vec![rule(
            "commands",
            json!({"source": ["ferry.commands"]}),
            after.clone(),
        )],
    );
    let _dispatcher = bus.start();
    drain(&bus).await;
    assert_eq!(after.event_ids(), ["e-1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_matching_rules_get_an_event() {
    let dir = TempDir::new().unwrap();
    let deletes = Arc::new(Recorder::default());
    let commands = Arc::new(Recorder::default());
    let s3_uploads = Arc::new(Recorder::default());
    let by_producer = Arc::new(Recorder::default());
    let bus = open(
        &file(&dir),
        3,
        vec![
            rule(
                "deleter",
                json!({"source": ["ferry.commands"], "detail-type": ["DeleteFile", "DeleteFolder"]}),
                deletes.clone(),
            ),
            rule(
                "commands",
                json!({"source": ["ferry.commands"]}),
                commands.clone(),
            ),
            rule(
                "indexer",
                json!({
                    "source": ["aws.s3"],
                    "detail-type": ["Object Created"],
                    "detail": {"object": {"key": [{"prefix": "users/"}]}}
                }),
                s3_uploads.clone(),
            ),
            rule(
                "from-indexer",
                json!({"detail": {"metadata": {"Producer": ["indexer"]}}}),
                by_producer.clone(),
            ),
        ],
    );
    let _dispatcher = bus.start();

    let mut from_indexer = entry("ferry.files", "FileIndexed", "e-4", json!({}));
    from_indexer.detail["metadata"]["Producer"] = json!("indexer");
    let s3 = |key: &str, detail_type: &str| BusEntry {
        source: "aws.s3".to_owned(),
        detail_type: detail_type.to_owned(),
        detail: json!({"bucket": {"name": "ferry"}, "object": {"key": key, "size": 3}}),
    };
    bus.put(vec![
        entry("ferry.commands", "DeleteFile", "e-1", json!({})),
        entry("ferry.commands", "RenameFile", "e-2", json!({})),
        entry("ferry.files", "FileDeleted", "e-3", json!({})),
        from_indexer,
        s3("users/u1/a.txt", "Object Created"),
        s3("tmp/a.txt", "Object Created"),
        s3("users/u1/b.txt", "Object Deleted"),
    ])
    .await
    .unwrap();
    drain(&bus).await;

    assert_eq!(deletes.event_ids(), ["e-1"]);
    let mut command_ids = commands.event_ids();
    command_ids.sort();
    assert_eq!(command_ids, ["e-1", "e-2"]);
    let uploads = s3_uploads.events();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0]["detail"]["object"]["key"], "users/u1/a.txt");
    assert_eq!(by_producer.event_ids(), ["e-4"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_target_is_retried_until_it_succeeds() {
    let dir = TempDir::new().unwrap();
    let flaky = Arc::new(Flaky::new(3));
    let bus = open(
        &file(&dir),
        5,
        vec![rule(
            "flaky",
            json!({"source": ["ferry.files"]}),
            flaky.clone(),
        )],
    );
    let _dispatcher = bus.start();
    bus.put(vec![entry("ferry.files", "FileDeleted", "e-1", json!({}))])
        .await
        .unwrap();
    drain(&bus).await;

    assert_eq!(flaky.calls.load(Ordering::SeqCst), 4);
    assert_eq!(flaky.recorder.event_ids(), ["e-1"]);
    assert!(bus.dead_letters().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_that_keeps_failing_is_dead_lettered_and_others_are_not_held_up() {
    let dir = TempDir::new().unwrap();
    let broken = Arc::new(Broken::default());
    let fine = Arc::new(Recorder::default());
    let bus = open(
        &file(&dir),
        4,
        vec![
            rule("broken", json!({"source": ["ferry.files"]}), broken.clone()),
            rule("fine", json!({"source": ["ferry.files"]}), fine.clone()),
        ],
    );
    let _dispatcher = bus.start();
    bus.put(vec![entry("ferry.files", "FileDeleted", "e-1", json!({}))])
        .await
        .unwrap();
    drain(&bus).await;

    assert_eq!(broken.0.load(Ordering::SeqCst), 4);
    assert_eq!(fine.event_ids(), ["e-1"]);
    let dead = bus.dead_letters().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].rule, "broken");
    assert_eq!(dead[0].attempts, 4);
    assert_eq!(dead[0].last_error, "broken (call 4)");
    assert_eq!(dead[0].failed_at, "2026-03-03T09:05:07Z");
    assert_eq!(dead[0].event["detail"]["metadata"]["EventId"], "e-1");
    assert_eq!(dlq_list(&file(&dir)).unwrap(), dead);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_replayed_from_another_connection_is_delivered() {
    let dir = TempDir::new().unwrap();
    let path = file(&dir);
    let flaky = Arc::new(Flaky::new(2));
    let bus = open(
        &path,
        2,
        vec![rule(
            "flaky",
            json!({"source": ["ferry.files"]}),
            flaky.clone(),
        )],
    );
    let _dispatcher = bus.start();
    bus.put(vec![entry("ferry.files", "FileDeleted", "e-1", json!({}))])
        .await
        .unwrap();
    drain(&bus).await;
    let dead = dlq_list(&path).unwrap();
    assert_eq!(dead.len(), 1);
    assert!(flaky.recorder.events().is_empty());

    // The CLI, while the server runs: its own connection, no wake-up call.
    assert_eq!(dlq_replay(&path, Some(dead[0].id + 1000)).unwrap(), 0);
    assert_eq!(dlq_replay(&path, Some(dead[0].id)).unwrap(), 1);
    eventually("the replayed event is delivered", || {
        flaky.recorder.events().len() == 1
    })
    .await;
    drain(&bus).await;
    assert_eq!(flaky.recorder.event_ids(), ["e-1"]);
    assert!(dlq_list(&path).unwrap().is_empty());
    assert!(bus.dead_letters().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_through_the_bus_resets_attempts_and_requeues_all() {
    let dir = TempDir::new().unwrap();
    let flaky = Arc::new(Flaky::new(4));
    let bus = open(
        &file(&dir),
        2,
        vec![rule(
            "flaky",
            json!({"source": ["ferry.files"]}),
            flaky.clone(),
        )],
    );
    let _dispatcher = bus.start();
    bus.put(vec![
        entry("ferry.files", "FileDeleted", "e-1", json!({})),
        entry("ferry.files", "FileDeleted", "e-2", json!({})),
    ])
    .await
    .unwrap();
    drain(&bus).await;
    assert_eq!(bus.dead_letters().unwrap().len(), 2);

    // Four failures used up; the replayed deliveries get two fresh attempts.
    assert_eq!(bus.replay(None).unwrap(), 2);
    drain(&bus).await;
    let mut ids = flaky.recorder.event_ids();
    ids.sort();
    assert_eq!(ids, ["e-1", "e-2"]);
    assert!(bus.dead_letters().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_put_twice_with_the_same_event_id_is_delivered_once() {
    let dir = TempDir::new().unwrap();
    let path = file(&dir);
    let all = Arc::new(Recorder::default());
    let rules = |target: Arc<Recorder>| {
        vec![rule(
            "all",
            json!({"detail-type": [{"exists": true}]}),
            target,
        )]
    };
    {
        let bus = open(&path, 3, rules(all.clone()));
        bus.put(vec![entry(
            "ferry.commands",
            "DeleteFile",
            "e-1",
            json!({}),
        )])
        .await
        .unwrap();
    }
    // The producer crashed before it saw Ok, and retries after a restart.
    let bus = open(&path, 3, rules(all.clone()));
    let _dispatcher = bus.start();
    bus.put(vec![
        entry("ferry.commands", "DeleteFile", "e-1", json!({})),
        entry("ferry.commands", "DeleteFile", "e-1", json!({})),
        // The same id from another source is another message.
        entry("ferry.files", "FileDeleted", "e-1", json!({})),
    ])
    .await
    .unwrap();
    drain(&bus).await;

    let mut seen: Vec<(String, String)> = all
        .events()
        .iter()
        .map(|e| {
            (
                e["source"].as_str().unwrap().to_owned(),
                e["detail"]["metadata"]["EventId"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("ferry.commands".to_owned(), "e-1".to_owned()),
            ("ferry.files".to_owned(), "e-1".to_owned()),
        ]
    );
}

/// Event ids of commands are chosen by clients: the same id from two users
/// is two messages, the same id from one user a retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_event_id_of_two_users_is_two_messages() {
    let dir = TempDir::new().unwrap();
    let all = Arc::new(Recorder::default());
    let bus = open(
        &file(&dir),
        3,
        vec![rule(
            "all",
            json!({"source": ["ferry.commands"]}),
            all.clone(),
        )],
    );
    let _dispatcher = bus.start();
    let of = |user: &str| {
        let mut e = entry(
            "ferry.commands",
            "CreateFolder",
            "e-1",
            json!({"Path": user}),
        );
        e.detail["metadata"]["UserId"] = json!(user);
        e
    };
    bus.put(vec![of("alice"), of("bob")]).await.unwrap();
    bus.put(vec![of("bob")]).await.unwrap();
    drain(&bus).await;
    let mut paths: Vec<String> = all
        .events()
        .iter()
        .map(|e| e["detail"]["data"]["Path"].as_str().unwrap().to_owned())
        .collect();
    paths.sort();
    assert_eq!(paths, ["alice", "bob"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_without_an_event_id_are_never_skipped() {
    let dir = TempDir::new().unwrap();
    let all = Arc::new(Recorder::default());
    let bus = open(
        &file(&dir),
        3,
        vec![rule("s3", json!({"source": ["aws.s3"]}), all.clone())],
    );
    let _dispatcher = bus.start();
    let s3 = || BusEntry {
        source: "aws.s3".to_owned(),
        detail_type: "Object Created".to_owned(),
        detail: json!({"object": {"key": "k"}}),
    };
    bus.put(vec![s3(), s3()]).await.unwrap();
    drain(&bus).await;
    assert_eq!(all.events().len(), 2);
}

#[tokio::test]
async fn the_default_bus_and_bad_names_are_refused() {
    let dir = TempDir::new().unwrap();
    for name in ["default", "", "a bus", "ü"] {
        let mut config = config(3);
        config.name = name.to_owned();
        let refused = LocalBus::open(&file(&dir), config, Vec::new(), clock());
        assert!(refused.is_err(), "{name:?}");
    }
    let target = Arc::new(Recorder::default());
    let duplicate = LocalBus::open(
        &file(&dir),
        config(3),
        vec![
            rule("same", json!({"source": ["a"]}), target.clone()),
            rule("same", json!({"source": ["b"]}), target.clone()),
        ],
        clock(),
    );
    assert!(duplicate.unwrap_err().to_string().contains("same"));
    let badly_named = LocalBus::open(
        &file(&dir),
        config(3),
        vec![rule("no spaces", json!({"source": ["a"]}), target)],
        clock(),
    );
    assert!(badly_named.is_err());
}

#[tokio::test]
async fn an_invalid_pattern_is_refused_naming_its_rule() {
    let dir = TempDir::new().unwrap();
    for pattern in [
        json!("ferry.files"),
        json!({}),
        json!({"source": "ferry.files"}),
        json!({"detail": {"size": [{"numeric": [">", "ten"]}]}}),
        json!({"detail": {"size": [{"bogus": 1}]}}),
    ] {
        let refused = LocalBus::open(
            &file(&dir),
            config(3),
            vec![rule(
                "bad-rule",
                pattern.clone(),
                Arc::new(Recorder::default()),
            )],
            clock(),
        );
        let error = format!("{:#}", refused.unwrap_err());
        assert!(error.contains("bad-rule"), "{pattern}: {error}");
    }
}

#[tokio::test]
async fn a_malformed_entry_is_refused_and_nothing_of_its_batch_is_kept() {
    let dir = TempDir::new().unwrap();
    let all = Arc::new(Recorder::default());
    let bus = open(
        &file(&dir),
        3,
        vec![rule(
            "all",
            json!({"source": [{"exists": true}]}),
            all.clone(),
        )],
    );
    let bad = BusEntry {
        source: "ferry.files".to_owned(),
        detail_type: "FileDeleted".to_owned(),
        detail: json!("not an object"),
    };
    let refused = bus
        .put(vec![
            entry("ferry.files", "FileDeleted", "e-1", json!({})),
            bad,
        ])
        .await;
    assert!(matches!(
        refused,
        Err(ferry_core::ports::PortError::Invalid(_))
    ));
    let huge = entry(
        "ferry.files",
        "FileDeleted",
        "e-2",
        json!({"Blob": "x".repeat(300_000)}),
    );
    assert!(matches!(
        bus.put(vec![huge]).await,
        Err(ferry_core::ports::PortError::Invalid(_))
    ));

    let _dispatcher = bus.start();
    bus.put(vec![entry("ferry.files", "FileDeleted", "e-3", json!({}))])
        .await
        .unwrap();
    drain(&bus).await;
    assert_eq!(all.event_ids(), ["e-3"]);
}

#[tokio::test]
async fn the_cli_functions_need_an_existing_bus_file() {
    let dir = TempDir::new().unwrap();
    let missing = dir.path().join("nothing-here.sqlite3");
    assert!(dlq_list(&missing).is_err());
    assert!(dlq_replay(&missing, None).is_err());
    assert!(!missing.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn done_deliveries_can_be_pruned() {
    let dir = TempDir::new().unwrap();
    let all = Arc::new(Recorder::default());
    let bus = open(
        &file(&dir),
        3,
        vec![rule("all", json!({"source": ["ferry.files"]}), all.clone())],
    );
    let _dispatcher = bus.start();
    bus.put(vec![entry("ferry.files", "FileDeleted", "e-1", json!({}))])
        .await
        .unwrap();
    drain(&bus).await;
    assert_eq!(bus.prune(Duration::from_secs(3600)).unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(bus.prune(Duration::ZERO).unwrap(), 1);
}

/// Panics on every call.
struct Panics;

#[async_trait]
impl Target for Panics {
    async fn deliver(&self, _event: &Value) -> Result<(), String> {
        panic!("a bug in a consumer");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_target_counts_as_a_failure() {
    let dir = TempDir::new().unwrap();
    let bus = open(
        &file(&dir),
        2,
        vec![rule(
            "panics",
            json!({"source": ["ferry.files"]}),
            Arc::new(Panics),
        )],
    );
    let dispatcher = bus.start();
    bus.put(vec![entry("ferry.files", "FileDeleted", "e-1", json!({}))])
        .await
        .unwrap();
    drain(&bus).await;
    let dead = bus.dead_letters().unwrap();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].last_error.contains("panicked"),
        "{}",
        dead[0].last_error
    );
    assert!(!dispatcher.is_finished());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_of_a_rule_that_is_gone_are_dead_lettered_until_it_is_back() {
    let dir = TempDir::new().unwrap();
    let path = file(&dir);
    let pattern = || json!({"source": ["ferry.files"]});
    {
        let bus = open(
            &path,
            3,
            vec![rule("old-name", pattern(), Arc::new(Recorder::default()))],
        );
        bus.put(vec![entry("ferry.files", "FileDeleted", "e-1", json!({}))])
            .await
            .unwrap();
    }
    {
        let renamed = Arc::new(Recorder::default());
        let bus = open(&path, 3, vec![rule("new-name", pattern(), renamed.clone())]);
        let dispatcher = bus.start();
        drain(&bus).await;
        dispatcher.abort();
        assert!(renamed.events().is_empty());
        let dead = bus.dead_letters().unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].rule, "old-name");
        assert!(dead[0].last_error.contains("old-name"));
    }
    let back = Arc::new(Recorder::default());
    let bus = open(&path, 3, vec![rule("old-name", pattern(), back.clone())]);
    let _dispatcher = bus.start();
    assert_eq!(dlq_replay(&path, None).unwrap(), 1);
    eventually("the replayed event is delivered", || {
        back.events().len() == 1
    })
    .await;
    assert_eq!(back.event_ids(), ["e-1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_entries_from_many_producers_are_each_delivered() {
    let dir = TempDir::new().unwrap();
    let all = Arc::new(Recorder::default());
    let flaky = Arc::new(Flaky::new(5));
    let bus = open(
        &file(&dir),
        8,
        vec![
            rule("all", json!({"source": ["ferry.files"]}), all.clone()),
            rule("flaky", json!({"source": ["ferry.files"]}), flaky.clone()),
        ],
    );
    let _dispatcher = bus.start();
    let mut producers = Vec::new();
    for producer in 0..4 {
        let bus = Arc::clone(&bus);
        producers.push(tokio::spawn(async move {
            for n in 0..25 {
                let id = format!("e-{producer}-{n:02}");
                bus.put(vec![entry("ferry.files", "FileIndexed", &id, json!({}))])
                    .await
                    .unwrap();
            }
        }));
    }
    for producer in producers {
        producer.await.unwrap();
    }
    drain(&bus).await;

    let mut expected: Vec<String> = (0..4)
        .flat_map(|p| (0..25).map(move |n| format!("e-{p}-{n:02}")))
        .collect();
    expected.sort();
    let mut ids = all.event_ids();
    ids.sort();
    assert_eq!(ids, expected);
    let mut flaky_ids = flaky.recorder.event_ids();
    flaky_ids.sort();
    assert_eq!(flaky_ids, expected);
    assert!(bus.dead_letters().unwrap().is_empty());
}
