//! The SQLite index: the port's contract (`ferry_core::conformance`, the
//! same tests the DynamoDB index passes), generated listings, and what only
//! a file on disk has: persistence, schema versions, readers beside the
//! writer.

#![allow(clippy::unwrap_used)]

use ferry_core::conformance::*;
use ferry_core::model::{SortKey, Usage};
use ferry_core::ports::Index;
use ferry_index::SqliteIndex;
use proptest::prelude::*;
use std::collections::HashSet;
use std::sync::Arc;
use uuid::Uuid;

ferry_core::index_conformance_tests!((
    SqliteIndex::open_in_memory().unwrap() as Arc<dyn Index>,
    ()
));

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    #[test]
    fn every_order_pages_to_the_full_sorted_list_whatever_the_files(
        specs in prop::collection::vec((0usize..60, 0u64..8, 0i64..6, 0u8..4), 150..300),
        folder_count in 0usize..12,
        limit in 1u32..40,
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        runtime.block_on(async {
            let index = SqliteIndex::open_in_memory().unwrap();
            pages_in_every_order(&*index, &specs, folder_count, limit).await;
        });
    }
}

#[tokio::test]
async fn the_index_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data").join("index.sqlite3");
    let ann = user("ann");
    let record = file(&ann, "kept/here", "file.bin", 42);
    let command = command_record(&ann);
    let event = Uuid::new_v4();
    {
        let index = SqliteIndex::open(&path).unwrap();
        index.insert_file(&record, None, false).await.unwrap();
        index
            .create_folder(&ann, &folder("empty"), at(3))
            .await
            .unwrap();
        index.put_command(&command).await.unwrap();
        index
            .mark_processed("indexer", &ann, event, at(4))
            .await
            .unwrap();
    }
    let index = SqliteIndex::open(&path).unwrap();
    assert_eq!(
        index.file(&ann, record.file_id).await.unwrap(),
        Some(record)
    );
    assert!(index.folder_exists(&ann, &folder("empty")).await.unwrap());
    assert!(
        index
            .folder_exists(&ann, &folder("kept/here"))
            .await
            .unwrap()
    );
    assert_eq!(
        index.command(&ann, command.command_id).await.unwrap(),
        Some(command)
    );
    assert!(index.was_processed("indexer", &ann, event).await.unwrap());
    assert_eq!(
        index.usage(&ann).await.unwrap(),
        Usage {
            bytes: 42,
            files: 1,
            ..Usage::default()
        }
    );
    drop(index);

    let db = rusqlite::Connection::open(&path).unwrap();
    let mode: String = db
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: u32 = db
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SqliteIndex::schema_version());
    // A file from a newer build is refused, not misread.
    db.pragma_update(None, "user_version", version + 1).unwrap();
    drop(db);
    assert!(SqliteIndex::open(&path).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_index_serves_readers_beside_its_writer() {
    let dir = tempfile::tempdir().unwrap();
    let index = SqliteIndex::open(&dir.path().join("index.sqlite3")).unwrap();
    let ann = user("ann");
    let mut tasks = Vec::new();
    for writer in 0..4 {
        let (index, ann) = (Arc::clone(&index), ann.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..25 {
                let record = file(&ann, "shared", &format!("w{writer}-{n:02}"), 1);
                index
                    .insert_file(&record, Some(1_000), false)
                    .await
                    .unwrap();
                // A write is visible to the next read, whichever connection
                // serves it.
                assert!(index.file(&ann, record.file_id).await.unwrap().is_some());
            }
        }));
    }
    for _ in 0..4 {
        let (index, ann) = (Arc::clone(&index), ann.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                let all = list_all(&*index, &ann, list("shared", SortKey::Size, true, 7)).await;
                let unique: HashSet<_> = listed(&all).into_iter().collect();
                assert_eq!(unique.len(), all.len());
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let all = list_all(&*index, &ann, list("shared", SortKey::Name, false, 1000)).await;
    assert_eq!(all.len(), 100);
    assert_eq!(
        index.usage(&ann).await.unwrap(),
        Usage {
            bytes: 100,
            files: 100,
            ..Usage::default()
        }
    );
}
