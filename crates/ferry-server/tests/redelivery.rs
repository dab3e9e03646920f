//! A consumer stopped part way (here: its publish fails once, as a crash
//! before it would leave things) is delivered the command again, and what it
//! then announces is what the first attempt did: a move's `from` is where
//! the file was, a folder's count is the files it held.
//!
//! The consumers run on the real SQLite index and object store; only the bus
//! is a recording stand-in that refuses one put, so the failure lands at a
//! chosen step.

#![allow(clippy::unwrap_used)]

use async_trait::async_trait;
use ferry_core::consumers::Consumers;
use ferry_core::model::{CommandRecord, CommandStatus, FileRecord, FileStatus, UserId};
use ferry_core::ports::{Bus, BusEntry, Index, Notifier, PortError, PortResult};
use ferry_index::SqliteIndex;
use ferry_objects::{ObjectEndpoint, ObjectsConfig};
use ferry_protocol::{EventEnvelope, FileName, FolderPath, Timestamp};
use ferry_server::clock::SystemClock;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Keeps every entry put, except that it refuses the first put carrying an
/// entry of `refuse` (once).
#[derive(Debug, Default)]
struct RecordingBus {
    entries: Mutex<Vec<BusEntry>>,
    refuse: Mutex<Option<&'static str>>,
}

#[async_trait]
impl Bus for RecordingBus {
    async fn put(&self, entries: Vec<BusEntry>) -> PortResult<()> {
        let mut refuse = self.refuse.lock().unwrap();
        if let Some(action) = *refuse
            && entries.iter().any(|e| e.detail_type == action)
        {
            *refuse = None;
            return Err(PortError::Unavailable("the bus is away".into()));
        }
        self.entries.lock().unwrap().extend(entries);
        Ok(())
    }
}

impl RecordingBus {
    fn events(&self, action: &str) -> Vec<Value> {
        self.entries
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.detail_type == action)
            .map(|e| e.detail["data"].clone())
            .collect()
    }
}

#[derive(Debug)]
struct NoSockets;

#[async_trait]
impl Notifier for NoSockets {
    async fn notify(&self, _: &UserId, _: &EventEnvelope) -> PortResult<()> {
        Ok(())
    }
}

struct World {
    index: Arc<SqliteIndex>,
    bus: Arc<RecordingBus>,
    consumers: Consumers,
    user: UserId,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let index = SqliteIndex::open(&dir.path().join("index.sqlite3")).unwrap();
    let bus = Arc::new(RecordingBus::default());
    let objects = ObjectEndpoint::new(
        ObjectsConfig {
            bucket: "ferry".into(),
            region: "local-1".into(),
            access_key_id: "AKIDTEST".into(),
            secret_access_key: "secret".into(),
            root: dir.path().join("objects"),
            public_url: "http://127.0.0.1:9".into(),
            allowed_origins: vec![],
        },
        bus.clone(),
        Arc::new(SystemClock),
    )
    .unwrap();
    let consumers = Consumers::new(
        objects.store(),
        index.clone(),
        bus.clone(),
        Arc::new(NoSockets),
        Arc::new(SystemClock),
    );
    World {
        index,
        bus,
        consumers,
        user: UserId::parse("ann").unwrap(),
        _dir: dir,
    }
}

fn now() -> Timestamp {
    Timestamp::new(time::OffsetDateTime::now_utc())
}

impl World {
    async fn file(&self, folder: &str, name: &str) -> FileRecord {
        let record = FileRecord {
            user: self.user.clone(),
            file_id: Uuid::new_v4(),
            folder: FolderPath::parse(folder).unwrap(),
            name: FileName::parse(name).unwrap(),
            status: FileStatus::Available,
            size: 3,
            content_type: "text/plain".into(),
            sha256: None,
            etag: None,
            upload_id: None,
            part_size: None,
            command_id: Some(Uuid::new_v4()),
            trace_id: None,
            version: 1,
            created_at: now(),
            updated_at: now(),
            lineage: None,
            trash_id: None,
            thumbnail: None,
        };
        self.index.insert_file(&record, None, false).await.unwrap();
        record
    }

    /// Records `data` as an accepted command and returns it as the bus
    /// delivers it.
    async fn command(&self, data: Value) -> (Uuid, Value) {
        let id = Uuid::new_v4();
        let action = data["Action"].as_str().unwrap().to_owned();
        self.index
            .put_command(&CommandRecord {
                user: self.user.clone(),
                command_id: id,
                action: action.clone(),
                request_hash: "h".into(),
                response: json!({"status": 202}),
                status: CommandStatus::Pending,
                result: None,
                progress: None,
                accepted_at: now(),
                finished_at: None,
            })
            .await
            .unwrap();
        let detail = json!({
            "metadata": {
                "EventVersion": 1, "EventId": id, "CommandId": id, "TraceId": "trace-r",
                "OccurredAt": "2026-12-01T12:00:00Z", "Producer": "api", "UserId": "ann"
            },
            "data": data,
        });
        let event = json!({"source": "ferry.commands", "detail-type": action, "detail": detail});
        (id, event)
    }

    async fn status(&self, id: Uuid) -> CommandStatus {
        self.index
            .command(&self.user, id)
            .await
            .unwrap()
            .unwrap()
            .status
    }
}

#[tokio::test]
async fn a_move_announced_after_a_failed_attempt_names_where_the_file_was() {
    let world = world();
    let file = world.file("a", "x.txt").await;
    world.file("b", "x.txt").await;
    let (id, event) = world
        .command(
            json!({"Action": "MoveFile", "FileId": file.file_id, "ToFolder": "b",
                        "ToName": "x.txt", "OnConflict": "KeepBoth"}),
        )
        .await;
    *world.bus.refuse.lock().unwrap() = Some("FileMoved");
    assert!(world.consumers.deliver("mover", &event).await.is_err());
    assert_eq!(world.bus.events("FileMoved"), Vec::<Value>::new());
    world.consumers.deliver("mover", &event).await.unwrap();

    let moved = world.bus.events("FileMoved");
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(
        (&moved[0]["FromFolder"], &moved[0]["FromName"]),
        (&json!("a"), &json!("x.txt"))
    );
    assert_eq!(
        (&moved[0]["ToFolder"], &moved[0]["ToName"]),
        (&json!("b"), &json!("x (1).txt"))
    );
    // Moved once: one version further, where the first attempt put it.
    let now = world
        .index
        .file(&world.user, file.file_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((now.version, now.name.as_str()), (2, "x (1).txt"));
    assert_eq!(moved[0]["Version"], 2);
    assert_eq!(world.status(id).await, CommandStatus::Succeeded);
}

#[tokio::test]
async fn a_replaced_file_is_announced_even_when_the_move_stopped_after_it() {
    let world = world();
    let file = world.file("a", "x.txt").await;
    let replaced = world.file("b", "x.txt").await;
    let (_, event) = world
        .command(
            json!({"Action": "MoveFile", "FileId": file.file_id, "ToFolder": "b",
                        "ToName": "x.txt", "OnConflict": "Replace"}),
        )
        .await;
    *world.bus.refuse.lock().unwrap() = Some("FileMoved");
    assert!(world.consumers.deliver("mover", &event).await.is_err());
    world.consumers.deliver("mover", &event).await.unwrap();
    let trashed = world.bus.events("FileTrashed");
    assert_eq!(trashed.len(), 1, "{trashed:?}");
    assert_eq!(trashed[0]["FileId"], json!(replaced.file_id));
    let moved = world.bus.events("FileMoved");
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(moved[0]["FromFolder"], "a");
    assert_eq!(moved[0]["Replaced"], json!(replaced.file_id));
}

#[tokio::test]
async fn a_folder_deleted_after_a_failed_attempt_counts_every_file_it_held() {
    let world = world();
    for name in ["1.txt", "2.txt", "3.txt"] {
        world.file("f/deep", name).await;
    }
    world.file("f", "4.txt").await;
    world
        .index
        .create_folder(&world.user, &FolderPath::parse("f").unwrap(), now())
        .await
        .unwrap();
    let (id, event) = world
        .command(json!({"Action": "DeleteFolder", "Path": "f"}))
        .await;
    *world.bus.refuse.lock().unwrap() = Some("FolderTrashed");
    assert!(world.consumers.deliver("deleter", &event).await.is_err());
    world.consumers.deliver("deleter", &event).await.unwrap();
    let trashed = world.bus.events("FolderTrashed");
    assert_eq!(trashed.len(), 1, "{trashed:?}");
    assert_eq!(trashed[0]["FilesTrashed"], 4);
    assert_eq!(world.status(id).await, CommandStatus::Succeeded);
}
