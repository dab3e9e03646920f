//! `ferry-server check`: a data directory damaged one way at a time is
//! reported (non-zero exit, the problem named), `--repair` fixes what can
//! be fixed without losing bytes and a second check passes; what can't be
//! fixed is left, with advice. And a healthy directory passes while a
//! server runs on it and uploads go on.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

mod common;
mod net;

use common::Stack;
use ferry_server::clock::SystemClock;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_ferry-server");
const TWO_DAYS_NS: i64 = 2 * 24 * 3600 * 1_000_000_000;

/// Runs `ferry-server --data-dir {data} check {args}`: success and stdout.
fn check(data: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .arg("check")
        .args(args)
        .env("FERRY_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    (output.status.success(), format!("{stdout}{stderr}"))
}

fn index(data: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(data.join("index.sqlite3")).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A stack with alice and two files, one with a SHA-256 in the index.
struct Damaged {
    stack: Stack,
    token: String,
    plain: String,
    hashed: String,
}

impl Damaged {
    async fn new() -> Self {
        let stack = Stack::new(Arc::new(SystemClock), |s| {
            s.files.multipart_threshold = 6 * 1024 * 1024;
            s.files.part_size = 5 * 1024 * 1024;
        });
        let token = stack.user("alice").await;
        let plain = stack.upload(&token, "", "plain.txt", b"plain bytes").await["fileId"]
            .as_str()
            .unwrap()
            .to_owned();
        let hashed = upload_hashed(&stack, &token, "docs", "hashed.txt", b"hashed bytes").await;
        let (ok, said) = check(&stack.dir.path().join("data"), &[]);
        assert!(ok, "a fresh directory passes: {said}");
        assert!(said.contains("1 by SHA-256, 1 by size only"), "{said}");
        Self {
            stack,
            token,
            plain,
            hashed,
        }
    }

    fn data(&self) -> PathBuf {
        self.stack.dir.path().join("data")
    }

    fn object(&self, id: &str) -> PathBuf {
        common::walk(&self.data().join("objects/ferry/users"))
            .into_iter()
            .find(|p| p.file_name().unwrap() == id)
            .unwrap()
    }

    fn sub(&self) -> String {
        self.object(&self.plain)
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    /// Stops the in-process server (the check's repairs may want its lock
    /// and the directory to itself), keeping the directory.
    fn stop(self) -> tempfile::TempDir {
        let Stack { state, dir } = self.stack;
        drop(state);
        dir
    }
}

/// Uploads with the SHA-256 given up front, so the index keeps it.
async fn upload_hashed(
    stack: &Stack,
    token: &str,
    folder: &str,
    name: &str,
    content: &[u8],
) -> String {
    let created = stack
        .command(
            token,
            json!({"Action": "CreateFile", "Folder": folder, "Name": name,
                   "Size": content.len(), "ContentType": "text/plain", "Sha256": hex(content)}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.json());
    let created = created.json();
    let put = stack
        .presigned(&created["upload"]["request"], content.to_vec())
        .await;
    assert_eq!(put.status, 200, "{}", String::from_utf8_lossy(&put.body));
    stack.settle().await;
    let id = created["file"]["fileId"].as_str().unwrap().to_owned();
    let file = stack.get(token, &format!("/api/files/{id}")).await.json();
    assert_eq!(file["status"], "available", "{file}");
    assert_eq!(file["sha256"], hex(content), "{file}");
    id
}

#[tokio::test]
async fn a_missing_object_is_reported_and_left_for_a_person() {
    let damaged = Damaged::new().await;
    let object = damaged.object(&damaged.hashed);
    let saved = std::fs::read(&object).unwrap();
    std::fs::remove_file(&object).unwrap();
    let hashed = damaged.hashed.clone();
    let dir = damaged.stop();
    let data = dir.path().join("data");

    let (ok, said) = check(&data, &[]);
    assert!(!ok, "{said}");
    assert!(
        said.contains("missing object: alice's file \"docs/hashed.txt\""),
        "{said}"
    );
    assert!(
        said.contains(&hashed) && said.contains("1 problem(s)"),
        "{said}"
    );
    assert!(
        said.contains("what to do about a file whose object is missing"),
        "{said}"
    );

    // Nothing to repair without the bytes: the entry stays, the check fails.
    let (ok, said) = check(&data, &["--repair"]);
    assert!(!ok, "{said}");
    assert!(said.contains("1 problem(s)"), "{said}");
    let entries: i64 = index(&data)
        .query_row(
            "SELECT COUNT(*) FROM files WHERE status = 'available'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(entries, 2);

    // What the advice says: the bytes put back from a copy.
    std::fs::write(&object, saved).unwrap();
    let (ok, said) = check(&data, &[]);
    assert!(ok, "{said}");
}

#[tokio::test]
async fn an_object_with_other_bytes_is_reported_by_sha256_or_size() {
    let damaged = Damaged::new().await;
    let hashed = damaged.object(&damaged.hashed);
    let plain = damaged.object(&damaged.plain);
    let dir = damaged.stop();
    let data = dir.path().join("data");

    // Same size, other bytes: only the SHA-256 tells.
    std::fs::write(&hashed, b"HASHED BYTES").unwrap();
    let (ok, said) = check(&data, &[]);
    assert!(!ok, "{said}");
    assert!(
        said.contains("wrong SHA-256: alice's file \"docs/hashed.txt\""),
        "{said}"
    );
    assert!(said.contains(&hex(b"HASHED BYTES")), "{said}");
    // The file without a SHA-256 is checked by size.
    std::fs::write(&plain, b"shorter").unwrap();
    let (ok, said) = check(&data, &["--repair"]);
    assert!(!ok, "{said}");
    assert!(
        said.contains("wrong size: alice's file \"plain.txt\"")
            && said.contains("is 11 bytes in the index but its object")
            && said.contains("has 7"),
        "{said}"
    );
    assert!(
        said.contains("2 problem(s)") && said.contains("what to do about"),
        "{said}"
    );
    // The repair deleted nothing.
    assert_eq!(std::fs::read(&plain).unwrap(), b"shorter");

    std::fs::write(&hashed, b"hashed bytes").unwrap();
    std::fs::write(&plain, b"plain bytes").unwrap();
    let (ok, said) = check(&data, &[]);
    assert!(ok, "{said}");
}

#[tokio::test]
async fn an_orphan_object_is_moved_into_its_owners_lost_and_found() {
    let damaged = Damaged::new().await;
    let sub = damaged.sub();
    let orphan = Uuid::new_v4();
    let path = damaged
        .object(&damaged.plain)
        .with_file_name(orphan.to_string());
    std::fs::write(&path, b"found again").unwrap();
    let dir = damaged.stop();
    let data = dir.path().join("data");

    let (ok, said) = check(&data, &[]);
    assert!(!ok, "{said}");
    assert!(
        said.contains(&format!("orphan object: {}", path.display()))
            && said.contains("11 bytes, alice's key"),
        "{said}"
    );
    let (ok, said) = check(&data, &["--repair"]);
    assert!(ok, "{said}");
    assert!(
        said.contains(&format!(
            "repaired: alice's orphan object {orphan} is now their file \"lost+found\"/\"{orphan}\""
        )),
        "{said}"
    );
    assert!(path.exists(), "no byte moved");
    let (ok, said) = check(&data, &[]);
    assert!(ok, "{said}");
    assert!(said.contains("2 by SHA-256"), "{said}");

    // A server on the directory lists it and serves its bytes.
    let mut settings =
        ferry_server::Settings::new(common::PUBLIC_URL, data.clone(), dir.path().join("dist"));
    settings.bus_retry.max_attempts = 3;
    let stack = Stack {
        state: ferry_server::AppState::open(settings, Arc::new(SystemClock)).unwrap(),
        dir,
    };
    let token = stack.sign_in("alice").await;
    let listing = stack
        .get(&token, "/api/files?folder=lost%2Bfound")
        .await
        .json();
    let entries = listing["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{listing}");
    assert_eq!(entries[0]["name"], orphan.to_string(), "{listing}");
    let download = stack
        .get(&token, &format!("/api/files/{orphan}/download"))
        .await
        .json();
    let got = stack.presigned(&download["request"], Vec::new()).await;
    assert_eq!(got.body, b"found again");
    let usage = stack.get(&token, "/api/usage").await.json();
    assert_eq!(
        (usage["files"].clone(), usage["bytes"].clone()),
        (json!(3), json!(34))
    );
    assert_eq!(sub.len(), 36);
}

#[tokio::test]
async fn wrong_usage_is_recomputed() {
    let damaged = Damaged::new().await;
    let dir = damaged.stop();
    let data = dir.path().join("data");
    index(&data)
        .execute(
            "UPDATE usage SET bytes = bytes + 1000, files = 7, trash_bytes = 5",
            [],
        )
        .unwrap();

    let (ok, said) = check(&data, &[]);
    assert!(!ok, "{said}");
    assert!(
        said.contains("wrong usage: alice's usage says 1023 bytes in 7 files (5 in the trash, 0 in versions), their files add up to 23 bytes in 2 (0 in the trash, 0 in versions)"),
        "{said}"
    );
    let (ok, said) = check(&data, &["--repair"]);
    assert!(ok, "{said}");
    assert!(
        said.contains("repaired: alice's usage recomputed: 23 bytes in 2 files"),
        "{said}"
    );
    let (ok, said) = check(&data, &[]);
    assert!(ok, "{said}");
    let usage: (i64, i64) = index(&data)
        .query_row("SELECT bytes, files FROM usage", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(usage, (23, 2));
}

#[tokio::test]
async fn a_delivery_stuck_past_its_retries_goes_to_the_dead_letters() {
    let damaged = Damaged::new().await;
    let dir = damaged.stop();
    let data = dir.path().join("data");
    let bus = rusqlite::Connection::open(data.join("bus.sqlite3")).unwrap();
    bus.busy_timeout(Duration::from_secs(10)).unwrap();
    // As a dispatcher that died mid-way through its last retry leaves it.
    bus.execute(
        "INSERT INTO deliveries (event_seq, rule, state, attempts, due_ms, last_error, updated_ms)
         SELECT MAX(seq), 'notifier', 'in_flight', 8, 0, 'target down', 0 FROM events",
        [],
    )
    .unwrap();
    let stuck = bus.last_insert_rowid();

    let (ok, said) = check(&data, &[]);
    assert!(!ok, "{said}");
    assert!(
        said.contains(&format!(
            "stuck delivery: delivery {stuck} to notifier is in_flight after 8 attempts"
        )),
        "{said}"
    );
    let (ok, said) = check(&data, &["--repair"]);
    assert!(ok, "{said}");
    assert!(
        said.contains(&format!(
            "repaired: delivery {stuck} to notifier moved to the dead letters"
        )),
        "{said}"
    );
    let (ok, said) = check(&data, &[]);
    assert!(ok, "{said}");
    let listed = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data)
        .args(["dlq", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains("notifier\t8 attempts") && listed.contains("target down"),
        "{listed}"
    );
}

/// A command recorded and answered but never put on the bus (a crash in
/// between, or a backup taken in that instant) would stay pending forever:
/// check names it, --repair puts it on the bus as the API would have, and
/// a server carries it out.
#[tokio::test]
async fn an_accepted_command_never_put_on_the_bus_is_sent() {
    let damaged = Damaged::new().await;
    let sub = damaged.sub();
    let dir = damaged.stop();
    let data = dir.path().join("data");
    let id = Uuid::new_v4();
    let envelope = json!({
        "metadata": {"EventVersion": 1, "EventId": id, "CommandId": id, "TraceId": "trace-lost",
                     "OccurredAt": "2026-12-01T12:00:00Z", "Producer": "api", "UserId": sub},
        "data": {"Action": "CreateFolder", "Path": "kept"},
    });
    let ten_minutes_ago = i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos())
        .unwrap()
        - 600 * 1_000_000_000;
    // As the API records it before the put that never happened.
    index(&data)
        .execute(
            "INSERT INTO commands (user, command_id, action, request_hash, response, status,
                                   accepted_at)
             VALUES (?1, ?2, 'CreateFolder', 'h', ?3, 'pending', ?4)",
            rusqlite::params![
                sub,
                id.as_bytes().as_slice(),
                json!({"status": 202, "body": {}, "envelope": envelope}).to_string(),
                ten_minutes_ago
            ],
        )
        .unwrap();

    let (ok, said) = check(&data, &[]);
    assert!(!ok, "{said}");
    assert!(
        said.contains(&format!(
            "unsent command: alice's CreateFolder {id} was accepted 10 minutes ago"
        )),
        "{said}"
    );
    let (ok, said) = check(&data, &["--repair"]);
    assert!(ok, "{said}");
    assert!(
        said.contains(&format!(
            "repaired: alice's CreateFolder {id} is on the bus now"
        )),
        "{said}"
    );
    let (ok, said) = check(&data, &[]);
    assert!(ok, "{said}");

    let mut settings =
        ferry_server::Settings::new(common::PUBLIC_URL, data.clone(), dir.path().join("dist"));
    settings.bus_retry.max_attempts = 3;
    let stack = Stack {
        state: ferry_server::AppState::open(settings, Arc::new(SystemClock)).unwrap(),
        dir,
    };
    stack.state.start();
    stack.settle().await;
    let token = stack.sign_in("alice").await;
    let status = stack
        .get(&token, &format!("/api/commands/{id}"))
        .await
        .json();
    assert_eq!(status["status"], "succeeded", "{status}");
    let root = stack.get(&token, "/api/files").await.json();
    assert!(
        root["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "kept"),
        "{root}"
    );
}

#[tokio::test]
async fn stale_uploads_are_aborted_by_the_sweep() {
    let damaged = Damaged::new().await;
    let (stack, token) = (&damaged.stack, &damaged.token);
    let mut stale = Vec::new();
    for (name, size) in [("never.txt", 5_u64), ("big.bin", 12 * 1024 * 1024)] {
        let created = stack
            .command(
                token,
                json!({"Action": "CreateFile", "Folder": "", "Name": name,
                       "Size": size, "ContentType": "application/octet-stream"}),
            )
            .await;
        assert_eq!(created.status, 201, "{:?}", created.json());
        stale.push(
            created.json()["file"]["fileId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let fresh = stack
        .command(
            token,
            json!({"Action": "CreateFile", "Folder": "", "Name": "fresh.txt",
                   "Size": 5, "ContentType": "text/plain"}),
        )
        .await;
    assert_eq!(fresh.status, 201);
    let dir = damaged.stop();
    let data = dir.path().join("data");
    let objects = data.join("objects");
    let records = |prefix: &str| {
        std::fs::read_dir(&objects)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(prefix)
            })
            .count()
    };
    assert_eq!(
        records(".ferry-upload-"),
        1,
        "the big file's multipart upload"
    );
    // Two days without a word from the browser.
    let conn = index(&data);
    for id in &stale {
        let id = Uuid::parse_str(id).unwrap();
        conn.execute(
            "UPDATE files SET updated_at = updated_at - ?1 WHERE file_id = ?2",
            rusqlite::params![TWO_DAYS_NS, id.as_bytes().as_slice()],
        )
        .unwrap();
    }

    let (ok, said) = check(&data, &[]);
    assert!(!ok, "{said}");
    assert!(
        said.contains("stale upload: alice's file \"never.txt\"")
            && said.contains("stale upload: alice's file \"big.bin\"")
            && said.contains("has been uploading for 2 days")
            && !said.contains("fresh.txt")
            && said.contains("2 problem(s)"),
        "{said}"
    );
    let (ok, said) = check(&data, &["--repair"]);
    assert!(ok, "{said}");
    assert!(
        said.contains("repaired: the sweep aborted 2 stale upload(s)"),
        "{said}"
    );
    let (ok, said) = check(&data, &[]);
    assert!(ok, "{said}");
    assert_eq!(
        records(".ferry-upload-"),
        0,
        "the multipart upload is aborted"
    );
    let uploading: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM files WHERE status = 'uploading'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(uploading, 1, "only the fresh upload is left");
}

#[test]
fn a_directory_that_is_not_a_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here");
    let (ok, said) = check(&missing, &[]);
    assert!(!ok);
    assert!(said.contains("no data directory at"), "{said}");
    assert!(!missing.exists(), "nothing is created");
    let (ok, said) = check(dir.path(), &["--repair"]);
    assert!(!ok);
    assert!(said.contains("holds no index.sqlite3"), "{said}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// The real server, busy with uploads and deletes, and a check beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_directory_passes_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (data, dist) = (dir.path().join("data"), dir.path().join("dist"));
    std::fs::create_dir_all(&dist).unwrap();
    let added = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data)
        .args(["user", "add", "alice", "--password", net::PASSWORD])
        .output()
        .unwrap();
    assert!(added.status.success(), "{added:?}");
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data)
        .args(["--addr", "127.0.0.1:0", "--dist"])
        .arg(&dist)
        .env("FERRY_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr: std::net::SocketAddr = loop {
        let line = lines.next().expect("the server prints its URL").unwrap();
        if let Some(url) = line.strip_prefix("ferry-server listening on http://") {
            break url.trim_end_matches('/').parse().unwrap();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    let token = net::sign_in(addr, "alice").await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(
            net::upload(
                addr,
                &token,
                "",
                &format!("a-{i}.txt"),
                format!("a{i}").as_bytes(),
            )
            .await,
        );
    }
    for id in &ids {
        net::eventually(
            Duration::from_secs(30),
            "an upload to be indexed",
            || async {
                net::get(addr, &token, &format!("/api/files/{id}")).await.1["status"] == "available"
            },
        )
        .await;
    }
    // More uploads and deletes while the check runs.
    let busy = {
        let (token, ids) = (token.clone(), ids.clone());
        tokio::spawn(async move {
            for (i, id) in ids.iter().enumerate().take(5) {
                net::upload(addr, &token, "more", &format!("b-{i}.txt"), b"more bytes").await;
                let (status, _) = net::command(
                    addr,
                    &token,
                    Uuid::new_v4(),
                    json!({"Action": "DeleteFile", "FileId": id}),
                )
                .await;
                assert_eq!(status, 202);
            }
        })
    };
    let checking = {
        let data = data.clone();
        tokio::task::spawn_blocking(move || check(&data, &[]))
    };
    let (ok, said) = checking.await.unwrap();
    busy.await.unwrap();
    let (ok_after, said_after) = tokio::task::spawn_blocking({
        let data = data.clone();
        move || check(&data, &[])
    })
    .await
    .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(ok, "{said}");
    assert!(said.contains("no problems"), "{said}");
    assert!(ok_after, "{said_after}");
    assert!(said_after.contains("no problems"), "{said_after}");
    let checked: u64 = said
        .split("checked ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(checked >= 10, "{said}");
}
