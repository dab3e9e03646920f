//! `ferry-server backup` while the real server takes uploads, deletes and
//! other commands, then `restore` into an empty directory: `check` passes
//! there, and a server started on it signs alice in and serves every file
//! the backup's index lists as available, with its bytes. And both refuse
//! what they would damage.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

mod net;

use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_ferry-server");

fn start(data: &Path, dist: &Path) -> (Child, SocketAddr) {
    net::start_server(data, dist, "127.0.0.1:0")
}

fn run(data: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("FERRY_LOG", "warn")
        .output()
        .unwrap()
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Creates a file with its SHA-256 (so the index keeps it and `check`
/// compares it) and PUTs `content`; returns its id.
async fn upload(addr: SocketAddr, token: &str, folder: &str, name: &str, content: &[u8]) -> String {
    use sha2::Digest as _;
    let sha: String = sha2::Sha256::digest(content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let (status, created) = net::command(
        addr,
        token,
        Uuid::new_v4(),
        json!({"Action": "CreateFile", "Folder": folder, "Name": name,
               "Size": content.len(), "ContentType": "text/plain", "Sha256": sha}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (status, body) =
        net::presigned(addr, &created["upload"]["request"], content.to_vec()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    created["file"]["fileId"].as_str().unwrap().to_owned()
}

fn content(name: &str) -> Vec<u8> {
    format!("the bytes of {name}\n")
        .repeat(1 + name.len() * 7)
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_with_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let (data, dist) = (dir.path().join("data"), dir.path().join("dist"));
    std::fs::create_dir_all(&dist).unwrap();
    let added = run(
        &data,
        &["user", "add", "alice", "--password", net::PASSWORD],
    );
    assert!(added.status.success(), "{}", said(&added));
    let (mut server, addr) = start(&data, &dist);
    let token = net::sign_in(addr, "alice").await;

    // What every file should hold, by id; and the files a delete was sent for.
    let bytes: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
    let deleted: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut seeds = Vec::new();
    for i in 0..20 {
        let name = format!("seed-{i}.txt");
        let id = upload(addr, &token, "", &name, &content(&name)).await;
        bytes.lock().unwrap().insert(id.clone(), content(&name));
        seeds.push(id);
    }
    for id in &seeds {
        net::eventually(Duration::from_secs(30), "a seed to be indexed", || async {
            net::get(addr, &token, &format!("/api/files/{id}")).await.1["status"] == "available"
        })
        .await;
    }

    // Uploads, deletes, moves and new folders, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let (token, bytes, deleted, stop) =
            (token.clone(), bytes.clone(), deleted.clone(), stop.clone());
        tokio::spawn(async move {
            let mut done = 0_u32;
            let mut seeds = seeds.into_iter();
            while !stop.load(Ordering::SeqCst) || done < 8 {
                let name = format!("load-{done}.txt");
                let id = upload(addr, &token, "load", &name, &content(&name)).await;
                bytes.lock().unwrap().insert(id.clone(), content(&name));
                let commands = match (seeds.next(), seeds.next()) {
                    (Some(doomed), Some(moving)) => {
                        deleted.lock().unwrap().insert(doomed.clone());
                        vec![
                            json!({"Action": "DeleteFile", "FileId": doomed}),
                            json!({"Action": "MoveFile", "FileId": moving,
                                   "ToFolder": "moved", "ToName": format!("moved-{done}.txt")}),
                        ]
                    }
                    _ => vec![],
                };
                for data in commands
                    .into_iter()
                    .chain([json!({"Action": "CreateFolder", "Path": format!("folders/f{done}")})])
                {
                    let (status, body) = net::command(addr, &token, Uuid::new_v4(), data).await;
                    assert_eq!(status, 202, "{body}");
                }
                done += 1;
            }
            done
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Three backups one after the other, each under load.
    let mut taken = Vec::new();
    for n in 0..3 {
        let into = dir.path().join(format!("backup-{n}"));
        let output = tokio::task::spawn_blocking({
            let (data, into) = (data.clone(), into.clone());
            move || run(&data, &["backup", into.to_str().unwrap()])
        })
        .await
        .unwrap();
        assert!(output.status.success(), "{}", said(&output));
        assert!(
            said(&output).contains("backed up 4 databases"),
            "{}",
            said(&output)
        );
        taken.push((into, said(&output)));
    }
    stop.store(true, Ordering::SeqCst);
    let rounds = load.await.unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(rounds >= 8);
    for (n, (backup, summary)) in taken.iter().enumerate() {
        let restored = dir.path().join(format!("restored-{n}"));
        let served = verify(backup, &restored, &dist, &bytes, &deleted).await;
        // Shown when the test fails: what each backup held and the load did.
        eprintln!("{summary}; {rounds} rounds of load; {served}");
    }
}

/// Restores `backup` into `restored`, checks it, starts a server on it and
/// downloads every file the backup's index lists as available.
async fn verify(
    backup: &Path,
    restored: &Path,
    dist: &Path,
    bytes: &Mutex<HashMap<String, Vec<u8>>>,
    deleted: &Mutex<HashSet<String>>,
) -> String {
    assert!(backup.join("ferry-backup.json").is_file());
    let available: Vec<(String, String)> = {
        let index = rusqlite::Connection::open_with_flags(
            backup.join("index.sqlite3"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let mut stmt = index
            .prepare("SELECT file_id, folder FROM files WHERE status IN ('available', 'trashed', 'version')")
            .unwrap();
        stmt.query_map([], |row| {
            let id: Vec<u8> = row.get(0)?;
            Ok((Uuid::from_slice(&id).unwrap().to_string(), row.get(1)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    };
    assert!(available.len() >= 20, "{available:?}");

    let restore = run(restored, &["restore", backup.to_str().unwrap()]);
    assert!(restore.status.success(), "{}", said(&restore));
    let checked = run(restored, &["check"]);
    assert!(checked.status.success(), "{}", said(&checked));
    assert!(said(&checked).contains("no problems"), "{}", said(&checked));
    assert!(
        said(&checked).contains(&format!("{} by SHA-256, 0 by size only", available.len())),
        "{}",
        said(&checked)
    );

    let (mut server, addr) = start(restored, dist);
    let token = net::sign_in(addr, "alice").await;
    let (status, root) = net::get(addr, &token, "/api/files?folder=&limit=1000").await;
    assert_eq!(status, 200, "{root}");
    let mut served = 0;
    for (id, folder) in &available {
        let expected = bytes.lock().unwrap().get(id).cloned().unwrap();
        let (status, link) = net::get(addr, &token, &format!("/api/files/{id}/download")).await;
        if status == 404 && deleted.lock().unwrap().contains(id) {
            // A delete the backup holds as accepted, carried out since.
            continue;
        }
        assert_eq!(status, 200, "{id} in {folder:?}: {link}");
        let (status, got) = net::presigned(addr, &link["request"], Vec::new()).await;
        assert_eq!(status, 200);
        assert_eq!(got.as_ref(), expected.as_slice(), "{id} in {folder:?}");
        served += 1;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(served >= 10, "{served} of {}", available.len());
    // The restore copied: the backup still stands on its own.
    assert!(backup.join("ferry-backup.json").is_file());
    format!(
        "{}{served} of {} available files served",
        said(&checked),
        available.len()
    )
}

#[test]
fn backup_and_restore_refuse_what_they_would_damage() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    // No data directory: nothing is made.
    let out = dir.path().join("out");
    let refused = run(&data, &["backup", out.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        said(&refused).contains("no data directory at"),
        "{}",
        said(&refused)
    );
    assert!(!out.exists() && !data.exists());

    let settings =
        ferry_server::Settings::new("http://127.0.0.1:9", data.clone(), dir.path().join("dist"));
    drop(
        ferry_server::AppState::open(settings, Arc::new(ferry_server::clock::SystemClock)).unwrap(),
    );

    // A target that holds something is left as it was.
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("keep.txt"), b"mine").unwrap();
    let refused = run(&data, &["backup", out.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        said(&refused).contains("is not empty"),
        "{}",
        said(&refused)
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
    assert_eq!(std::fs::read(out.join("keep.txt")).unwrap(), b"mine");

    // Nor into the data directory itself.
    let inside = data.join("backups");
    let refused = run(&data, &["backup", inside.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        said(&refused).contains("inside the data directory"),
        "{}",
        said(&refused)
    );
    assert!(!inside.exists());

    // A backup restores only into an empty directory, and only a whole one.
    let backup = dir.path().join("backup");
    let taken = run(&data, &["backup", backup.to_str().unwrap()]);
    assert!(taken.status.success(), "{}", said(&taken));
    let refused = run(&out, &["restore", backup.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        said(&refused).contains("is not empty"),
        "{}",
        said(&refused)
    );
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
    let fresh = dir.path().join("fresh");
    let refused = run(&fresh, &["restore", out.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        said(&refused).contains("is not a complete backup"),
        "{}",
        said(&refused)
    );
    assert!(!fresh.exists());
    let restored = run(&fresh, &["restore", backup.to_str().unwrap()]);
    assert!(restored.status.success(), "{}", said(&restored));
    let checked = run(&fresh, &["check"]);
    assert!(checked.status.success(), "{}", said(&checked));
}

/// The backup's cross-database window: the databases are copied one after
/// the other, so a command accepted in that instant can be in the copy's
/// index (pending, answered `202`) but not on its bus. A server started on
/// the restored directory puts it there itself, as the API would have, and
/// it is carried out without anyone running `check`. A pending command
/// whose envelope is on the bus (here, its delivery dead-lettered, waiting
/// for `dlq replay`) is not put again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_in_the_backups_window_is_carried_out_after_restore() {
    let dir = tempfile::tempdir().unwrap();
    let (data, dist) = (dir.path().join("data"), dir.path().join("dist"));
    std::fs::create_dir_all(&dist).unwrap();
    let added = run(
        &data,
        &["user", "add", "alice", "--password", net::PASSWORD],
    );
    assert!(added.status.success(), "{}", said(&added));
    let (mut server, addr) = start(&data, &dist);
    net::sign_in(addr, "alice").await;
    let backup = dir.path().join("backup");
    let taken = run(&data, &["backup", backup.to_str().unwrap()]);
    assert!(taken.status.success(), "{}", said(&taken));
    server.kill().unwrap();
    server.wait().unwrap();

    // The window, made by hand in the backup's copies: `lost` recorded but
    // not on the bus; `dead` recorded and on the bus, its delivery failed
    // into the dead letters.
    let sub: String = rusqlite::Connection::open(backup.join("identity.sqlite3"))
        .unwrap()
        .query_row(
            "SELECT sub FROM users WHERE username = 'alice'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    let index = rusqlite::Connection::open(backup.join("index.sqlite3")).unwrap();
    let bus = rusqlite::Connection::open(backup.join("bus.sqlite3")).unwrap();
    let now = i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos()).unwrap();
    let (lost, dead) = (Uuid::new_v4(), Uuid::new_v4());
    for (n, (id, folder)) in [(lost, "kept"), (dead, "waiting")].into_iter().enumerate() {
        let envelope = json!({
            "metadata": {"EventVersion": 1, "EventId": id, "CommandId": id,
                         "TraceId": format!("trace-{n}"), "OccurredAt": "2026-12-01T12:00:00Z",
                         "Producer": "api", "UserId": sub},
            "data": {"Action": "CreateFolder", "Path": folder},
        });
        // Accepted two minutes ago, `lost` first.
        let accepted_at = now - (120 - i64::try_from(n).unwrap()) * 1_000_000_000;
        index
            .execute(
                "INSERT INTO commands (user, command_id, action, request_hash, response, status,
                                       accepted_at)
                 VALUES (?1, ?2, 'CreateFolder', 'h', ?3, 'pending', ?4)",
                rusqlite::params![
                    sub,
                    id.as_bytes().as_slice(),
                    json!({"status": 202, "body": {}, "envelope": envelope}).to_string(),
                    accepted_at
                ],
            )
            .unwrap();
    }
    bus.execute(
        "INSERT INTO events (id, source, event_key, body, put_ms)
         VALUES ('dead-event', 'ferry.commands', ?1, '{}', 0)",
        [format!("{sub}/{dead}")],
    )
    .unwrap();
    bus.execute(
        "INSERT INTO dead_letters (event_seq, rule, attempts, last_error, failed_at)
         VALUES (last_insert_rowid(), 'folders', 8, 'target down', '2026-12-01T12:00:00Z')",
        [],
    )
    .unwrap();
    drop((index, bus));

    let restored = dir.path().join("restored");
    let restore = run(&restored, &["restore", backup.to_str().unwrap()]);
    assert!(restore.status.success(), "{}", said(&restore));
    let (mut server, addr) = start(&restored, &dist);
    let token = net::sign_in(addr, "alice").await;
    net::eventually(
        Duration::from_secs(30),
        "the lost command to succeed",
        || async {
            net::get(addr, &token, &format!("/api/commands/{lost}"))
                .await
                .1["status"]
                == "succeeded"
        },
    )
    .await;
    let (status, root) = net::get(addr, &token, "/api/files?folder=").await;
    assert_eq!(status, 200, "{root}");
    let names: Vec<&str> = root["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(names.contains(&"kept"), "{root}");
    assert!(!names.contains(&"waiting"), "{root}");
    let (_, dead_status) = net::get(addr, &token, &format!("/api/commands/{dead}")).await;
    assert_eq!(dead_status["status"], "pending", "{dead_status}");
    server.kill().unwrap();
    server.wait().unwrap();

    // Each command's envelope is on the bus once.
    let bus = rusqlite::Connection::open(restored.join("bus.sqlite3")).unwrap();
    for id in [lost, dead] {
        let copies: i64 = bus
            .query_row(
                "SELECT COUNT(*) FROM events WHERE source = 'ferry.commands' AND body LIKE ?1",
                [format!("%{id}%")],
                |row| row.get(0),
            )
            .unwrap();
        let keyed: i64 = bus
            .query_row(
                "SELECT COUNT(*) FROM events WHERE event_key = ?1",
                [format!("{sub}/{id}")],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!((copies, keyed), (i64::from(id == lost), 1), "{id}");
    }
}
