//! The reconciliation sweep: what a crash or a lost event leaves behind is
//! repaired — idle uploads aborted (their parts too), objects without an
//! index entry deleted, entries without an object removed.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

mod common;

use common::Stack;
use ferry_core::ports::ObjectStore;
use ferry_server::clock::ManualClock;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

#[tokio::test]
async fn the_sweep_repairs_what_was_left_behind() {
    const MIB: u64 = 1024 * 1024;
    let clock = Arc::new(ManualClock::new(
        time::OffsetDateTime::now_utc().unix_timestamp(),
    ));
    let stack = Stack::new(clock.clone(), |s| {
        s.files.multipart_threshold = 6 * MIB;
        s.files.part_size = 5 * MIB;
    });
    let token = stack.user("alice").await;

    // An upload that never finishes, with one part sent.
    let stale = stack
        .command(
            &token,
            json!({"Action": "CreateFile", "Folder": "", "Name": "stale.bin",
                                "Size": 12 * MIB, "ContentType": "application/octet-stream"}),
        )
        .await
        .json();
    let stale_id = stale["file"]["fileId"].as_str().unwrap().to_owned();
    let part = stack
        .presigned(
            &stale["upload"]["parts"][0]["request"],
            vec![7u8; 5 * MIB as usize],
        )
        .await;
    assert_eq!(part.status, 200);
    // A file whose object disappears behind Ferry's back (no event).
    let lost = stack.upload(&token, "", "lost.txt", b"lost").await;
    let lost_id = lost["fileId"].as_str().unwrap().to_owned();
    let kept = stack.upload(&token, "", "kept.txt", b"kept").await;
    let objects = stack.dir.path().join("data/objects");
    let lost_object = common::walk(&objects)
        .into_iter()
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy() == lost_id)
        })
        .expect("the object is on disk");
    std::fs::remove_file(&lost_object).unwrap();
    // An object nobody asked for (written behind Ferry's back).
    let stray = lost_object.with_file_name(uuid::Uuid::new_v4().to_string());
    std::fs::write(&stray, b"stray").unwrap();

    // A fresh sweep touches nothing young.
    let report = stack.state.consumers.sweep(DAY).await.unwrap();
    assert_eq!(report, Default::default());

    clock.advance(DAY.as_secs() as i64 + 60);
    let report = stack.state.consumers.sweep(DAY).await.unwrap();
    assert_eq!(report.uploads_aborted, 1, "{report:?}");
    assert_eq!(report.orphan_entries, 1, "{report:?}");
    assert_eq!(report.orphan_objects, 1, "{report:?}");
    stack.settle().await;

    let token = stack.sign_in("alice").await;
    assert_eq!(
        stack
            .get(&token, &format!("/api/files/{stale_id}"))
            .await
            .status,
        404
    );
    assert_eq!(
        stack
            .get(&token, &format!("/api/files/{lost_id}"))
            .await
            .status,
        404
    );
    let kept_id = kept["fileId"].as_str().unwrap();
    assert_eq!(
        stack
            .get(&token, &format!("/api/files/{kept_id}"))
            .await
            .json()["status"],
        "available"
    );
    assert!(!stray.exists());
    let store = stack.state.objects.store();
    assert!(store.list_uploads().await.unwrap().is_empty());
    let usage = stack.get(&token, "/api/usage").await.json();
    assert_eq!(
        (usage["files"].clone(), usage["bytes"].clone()),
        (json!(1), json!(4))
    );
    let actions: Vec<String> = stack
        .events(&token)
        .await
        .iter()
        .map(|e| e["data"]["Action"].as_str().unwrap().to_owned())
        .collect();
    assert!(actions.contains(&"UploadAborted".to_owned()), "{actions:?}");
    assert_eq!(
        actions.iter().filter(|a| *a == "FileDeleted").count(),
        1,
        "{actions:?}"
    );

    // Nothing left to repair: a second sweep is a no-op.
    assert_eq!(
        stack.state.consumers.sweep(DAY).await.unwrap(),
        Default::default()
    );
}

#[tokio::test]
async fn an_upload_whose_event_was_lost_is_indexed_by_the_sweep() {
    let clock = Arc::new(ManualClock::new(
        time::OffsetDateTime::now_utc().unix_timestamp(),
    ));
    let stack = Stack::new(clock.clone(), |_| {});
    let token = stack.user("alice").await;
    let created = stack
        .command(
            &token,
            json!({"Action": "CreateFile", "Folder": "", "Name": "a.txt",
                                "Size": 5, "ContentType": "text/plain"}),
        )
        .await
        .json();
    let id = created["file"]["fileId"].as_str().unwrap().to_owned();
    // The bytes land on disk without the store's event (as if it were
    // lost): objects live at {data}/objects/{bucket}/{key}.
    let key = created["upload"]["request"]["url"]
        .as_str()
        .unwrap()
        .split("/ferry/")
        .nth(1)
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        key,
        format!("users/{}/{id}", key.split('/').nth(1).unwrap())
    );
    let path = stack.dir.path().join("data/objects/ferry").join(&key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"hello").unwrap();
    clock.advance(DAY.as_secs() as i64 + 60);
    let report = stack.state.consumers.sweep(DAY).await.unwrap();
    assert_eq!(report.uploads_indexed, 1, "{report:?}");
    stack.settle().await;
    let token = stack.sign_in("alice").await;
    let file = stack.get(&token, &format!("/api/files/{id}")).await.json();
    assert_eq!(file["status"], "available", "{file}");
}

/// The periodic sweep prunes the bus: an event whose deliveries are done
/// stays while `bus_retention` runs (the bus drops an entry put twice only
/// while it keeps the first), then leaves `bus.sqlite3` with its
/// deliveries, so the file stops growing.
#[tokio::test]
async fn the_sweep_prunes_delivered_events_from_the_bus() {
    let bus_rows = |stack: &Stack| -> i64 {
        let bus = rusqlite::Connection::open(stack.dir.path().join("data/bus.sqlite3")).unwrap();
        bus.query_row(
            "SELECT (SELECT COUNT(*) FROM events) + (SELECT COUNT(*) FROM deliveries)",
            [],
            |row| row.get(0),
        )
        .unwrap()
    };
    let delivered = |retention: Duration| async move {
        let clock = Arc::new(ManualClock::new(
            time::OffsetDateTime::now_utc().unix_timestamp(),
        ));
        let stack = Stack::new(clock, |s| {
            s.sweep_every = Duration::from_millis(20);
            s.bus_retention = retention;
        });
        let token = stack.user("alice").await;
        let reply = stack
            .command(&token, json!({"Action": "CreateFolder", "Path": "kept"}))
            .await;
        assert_eq!(reply.status, 202, "{}", reply.json());
        stack.settle().await;
        assert!(bus_rows(&stack) > 0, "the command's event is on the bus");
        stack
    };

    // Kept a week: many sweeps later, it is still there.
    let stack = delivered(Duration::from_secs(7 * 24 * 60 * 60)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(bus_rows(&stack) > 0, "a young event is kept");

    // Kept a millisecond: the next sweeps remove it.
    let stack = delivered(Duration::from_millis(1)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while bus_rows(&stack) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the sweep never pruned the delivered event"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
