//! The domain's rules, each tested at `ferry-core`'s own boundary over the
//! in-memory ports (`ferry_core::testing`): every consumer under
//! redelivery, out-of-order delivery and a crash between any two of its
//! steps, the sweep's repairs, quota and usage, and the command answers.
//! They run in milliseconds; each test's name is the rule it holds.
//!
//! A crash is a port call that fails: the consumer stops there, as a killed
//! process would, and the bus delivers the event again.
//! [`every_crash_ends_like_the_clean_run`] stops a run at each of its calls
//! in turn and checks that what the redelivery leaves is exactly what the
//! uninterrupted run leaves: the same records, objects, commands, and the
//! same events (by id and content), pushed to the same people.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod commands;
mod deleter;
mod indexer;
mod mover;
mod notifier;
mod quota;
mod sweep;
mod thumbnailer;
mod trash;
mod versions;

use ferry_core::model::{CommandRecord, CommandStatus, FileRecord, FileStatus};
use ferry_core::service::CommandAnswer;
use ferry_core::testing::MemoryStack;
use ferry_core::{Caller, DomainError, FileSettings};
use ferry_protocol::messages::{
    ConflictPolicy, CreateFileV1, CreateFolderV1, DeleteFileV1, DeleteFolderV1, MoveFileV1,
};
use ferry_protocol::{
    Command, CommandEnvelope, FileName, FolderPath, Metadata, Timestamp, TraceId,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use uuid::Uuid;

/// A day, the sweep's idle time for uploads.
pub const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// A stack and its users, with ids counted from 1 so two worlds built
/// alike have the same ids (and so the same file and event ids).
#[derive(Debug)]
pub struct World {
    pub stack: MemoryStack,
    pub ann: Caller,
    pub bob: Caller,
    ids: AtomicU64,
}

fn caller(sub: &str, n: u128) -> Caller {
    Caller {
        user: ferry_core::model::UserId::parse(sub).unwrap(),
        trace_id: TraceId::from_uuid(Uuid::from_u128(0x7ace_0000 + n)),
    }
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    /// Single-PUT uploads, no quota.
    pub fn new() -> Self {
        Self::with(FileSettings::default())
    }

    pub fn with(settings: FileSettings) -> Self {
        Self {
            stack: MemoryStack::new(settings),
            ann: caller("ann", 1),
            bob: caller("bob", 2),
            ids: AtomicU64::new(1),
        }
    }

    fn next_id(&self) -> Uuid {
        Uuid::from_u128(0xc0de_0000 + u128::from(self.ids.fetch_add(1, Ordering::SeqCst)))
    }

    /// Sends `command` as `caller` with a fresh id; the answer and the id.
    pub async fn send_as(
        &self,
        caller: &Caller,
        command: Command,
    ) -> Result<(CommandAnswer, Uuid), DomainError> {
        let (envelope, raw) = self.envelope(caller, command);
        let id = envelope.metadata().event_id;
        let answer = self.stack.files.command(caller, envelope, &raw).await?;
        Ok((answer, id))
    }

    /// `command` from `caller` with a fresh id, and its body as sent.
    pub fn envelope(&self, caller: &Caller, command: Command) -> (CommandEnvelope, Vec<u8>) {
        let id = self.next_id();
        let envelope = CommandEnvelope::new(
            Metadata {
                event_id: id,
                trace_id: caller.trace_id.clone(),
                command_id: Some(id),
                occurred_at: Timestamp::new(time::OffsetDateTime::UNIX_EPOCH),
                producer: "test".to_owned(),
                user_id: Some(caller.user.as_str().to_owned()),
            },
            command,
        );
        let raw = serde_json::to_vec(&envelope).unwrap();
        (envelope, raw)
    }

    /// Sends `command` as Ann; it must be accepted. Its id.
    pub async fn send(&self, command: Command) -> Uuid {
        self.send_as(&self.ann, command).await.unwrap().1
    }

    /// Ann's `CreateFile`; the new file's id.
    pub async fn create(
        &self,
        folder: &str,
        name: &str,
        size: u64,
        policy: ConflictPolicy,
    ) -> Uuid {
        let command = Command::CreateFile(CreateFileV1 {
            folder: folder_path(folder),
            name: file_name(name),
            size,
            content_type: "text/plain".to_owned(),
            sha256: None,
            on_conflict: policy,
        });
        match self.send_as(&self.ann, command).await.unwrap().0 {
            CommandAnswer::Created(created) => created.file.file_id,
            other => panic!("CreateFile answered {other:?}"),
        }
    }

    /// Ann uploads `content` as `folder/name`, and everything it causes is
    /// delivered. The file's id.
    pub async fn upload(&self, folder: &str, name: &str, content: &[u8]) -> Uuid {
        self.upload_with(folder, name, content, ConflictPolicy::Fail)
            .await
    }

    pub async fn upload_with(
        &self,
        folder: &str,
        name: &str,
        content: &[u8],
        policy: ConflictPolicy,
    ) -> Uuid {
        let id = self
            .create(folder, name, content.len() as u64, policy)
            .await;
        self.put(id, content);
        self.stack.settle().await.unwrap();
        id
    }

    /// The browser's presigned PUT of Ann's file.
    pub fn put(&self, file_id: Uuid, content: &[u8]) {
        self.stack
            .objects
            .put(&self.ann.user.object_key(file_id), content);
    }

    pub fn key(&self, file_id: Uuid) -> String {
        self.ann.user.object_key(file_id)
    }

    /// Ann's file record.
    pub fn record(&self, file_id: Uuid) -> Option<FileRecord> {
        self.stack
            .index
            .all_files()
            .into_iter()
            .find(|f| f.user == self.ann.user && f.file_id == file_id)
    }

    /// Ann's command record.
    pub fn command(&self, command_id: Uuid) -> CommandRecord {
        self.stack
            .index
            .all_commands()
            .into_iter()
            .find(|c| c.user == self.ann.user && c.command_id == command_id)
            .unwrap()
    }

    /// Where a command is, and the `Action` of the event that finished it.
    pub fn outcome(&self, command_id: Uuid) -> (CommandStatus, Option<String>) {
        let record = self.command(command_id);
        let action = record
            .result
            .as_ref()
            .and_then(|r| r["data"]["Action"].as_str())
            .map(str::to_owned);
        (record.status, action)
    }

    /// Ann's trash, the most recently deleted first.
    pub fn trash(&self) -> Vec<ferry_core::model::TrashItem> {
        let mut items: Vec<_> = self
            .stack
            .index
            .all_trash()
            .into_iter()
            .filter(|t| t.user == self.ann.user)
            .collect();
        items.sort_by(|a, b| {
            b.trashed_at
                .cmp(&a.trashed_at)
                .then(a.trash_id.cmp(&b.trash_id))
        });
        items
    }

    /// `folder/name status` of each of Ann's file records, sorted.
    pub fn listing(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .stack
            .index
            .all_files()
            .into_iter()
            .filter(|f| f.user == self.ann.user)
            .map(|f| format!("{}/{} {}", f.folder.as_str(), f.name, f.status.as_str()))
            .collect();
        names.sort();
        names
    }

    /// Everything a run leaves behind that a user or an operator could see.
    pub fn snapshot(&self) -> Snapshot {
        let mut events = BTreeMap::new();
        for event in self.stack.bus.events() {
            if let Some(id) = event["detail"]["metadata"]["EventId"].as_str() {
                events.insert(id.to_owned(), as_compared(&event["detail"]));
            }
        }
        Snapshot {
            files: self.stack.index.all_files(),
            folders: self.stack.index.all_folders(),
            trash: self.stack.index.all_trash(),
            objects: self.stack.objects.keys(),
            uploads: self.stack.objects.open_uploads(),
            commands: self
                .stack
                .index
                .all_commands()
                .into_iter()
                .map(|c| {
                    let result = c.result.as_ref().map(as_compared);
                    (c.command_id, c.status, result, c.progress)
                })
                .collect(),
            events,
            pushed: self
                .stack
                .notifier
                .pushed()
                .into_iter()
                .map(|(user, e)| (user.to_string(), e.metadata().event_id))
                .collect(),
        }
    }

    /// The data of every event of `action` published.
    pub fn published(&self, action: &str) -> Vec<Value> {
        self.stack.bus.published(action)
    }
}

/// An event as two runs are compared: by id and content, not by who
/// published it or when (an attempt after a crash may be the sweep's, and
/// later).
fn as_compared(event: &Value) -> Value {
    let mut event = event.clone();
    if let Some(metadata) = event.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("Producer");
        metadata.remove("OccurredAt");
    }
    event
}

/// What a run leaves behind.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    files: Vec<FileRecord>,
    folders: Vec<String>,
    trash: Vec<ferry_core::model::TrashItem>,
    objects: Vec<String>,
    uploads: usize,
    commands: Vec<(Uuid, CommandStatus, Option<Value>, Option<Value>)>,
    /// Every event published, by id.
    events: BTreeMap<String, Value>,
    /// Every (owner, event id) pushed.
    pushed: BTreeSet<(String, Uuid)>,
}

/// What is run after `arrange`: the bus delivering until it is quiet, or
/// the sweep and then the bus.
#[derive(Debug, Clone, Copy)]
pub enum Run {
    Deliver,
    Sweep,
}

/// What repairs an interrupted run: the redelivery alone, or the
/// redelivery and then the sweep (a removal stopped after its file was
/// marked deleting is the sweep's to finish, once it has settled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    Redelivery,
    RedeliveryAndSweep,
}

async fn run(world: &World, what: Run) -> Result<(), String> {
    if let Run::Sweep = what {
        world.stack.consumers.sweep(DAY).await?;
    }
    world.stack.settle().await
}

async fn repair(world: &World, how: Repair) {
    if how == Repair::RedeliveryAndSweep {
        world.stack.clock.advance(120);
        world.stack.consumers.sweep(DAY).await.unwrap();
        world.stack.settle().await.unwrap();
    }
}

/// Where interrupted runs did not end like the clean one.
#[derive(Debug)]
pub struct Crashes {
    /// The port calls of the clean run, each a step a crash came before.
    pub steps: Vec<&'static str>,
    /// `(call, step)` of each interrupted run that ended otherwise.
    pub diverged: Vec<(usize, &'static str)>,
    /// The first difference found, for the failure message.
    pub first: Option<String>,
}

/// Runs `what` on a world made by `arrange` once without faults, then once
/// for each port call that run made, failing that call and then running
/// again (the redelivery, or the next sweep), then `how`. Every
/// interrupted run must ask for a retry; the ones that don't end like the
/// clean one are returned.
pub async fn crash_at_every_step<F, Fut>(arrange: F, what: Run, how: Repair) -> Crashes
where
    F: Fn() -> Fut,
    Fut: Future<Output = World>,
{
    let clean = arrange().await;
    let before = clean.stack.faults.count();
    run(&clean, what).await.unwrap();
    let steps = clean.stack.faults.calls_since(before);
    repair(&clean, how).await;
    let expected = clean.snapshot();
    assert!(!steps.is_empty());
    let mut crashes = Crashes {
        steps: steps.clone(),
        diverged: Vec::new(),
        first: None,
    };
    for (n, step) in steps.iter().enumerate() {
        let world = arrange().await;
        world.stack.faults.fail_call(n + 1);
        assert!(
            run(&world, what).await.is_err(),
            "a failed {step} (call {}) must be retried",
            n + 1
        );
        run(&world, what).await.unwrap();
        repair(&world, how).await;
        let got = world.snapshot();
        if got != expected {
            crashes.diverged.push((n + 1, step));
            crashes.first.get_or_insert_with(|| {
                format!(
                    "stopped before call {} ({step}) of {steps:?}:\n{got:#?}\ninstead of\n{expected:#?}",
                    n + 1
                )
            });
        }
    }
    crashes
}

/// [`crash_at_every_step`], where every interrupted run must end like the
/// clean one. Returns how many steps were interrupted.
pub async fn every_crash_ends_like_the_clean_run<F, Fut>(
    arrange: F,
    what: Run,
    how: Repair,
) -> usize
where
    F: Fn() -> Fut,
    Fut: Future<Output = World>,
{
    let crashes = crash_at_every_step(arrange, what, how).await;
    assert!(
        crashes.diverged.is_empty(),
        "{}",
        crashes.first.unwrap_or_default()
    );
    crashes.steps.len()
}

/// Delivers everything waiting, then every delivery made so far once
/// more, then whatever that caused: at-least-once delivery at its worst.
pub async fn redeliver_everything(world: &World) {
    world.stack.settle().await.unwrap();
    for delivery in world.stack.bus.made() {
        world.stack.deliver(&delivery).await.unwrap();
    }
    world.stack.settle().await.unwrap();
}

pub fn folder_path(path: &str) -> FolderPath {
    FolderPath::parse(path).unwrap()
}

pub fn file_name(name: &str) -> FileName {
    FileName::parse(name).unwrap()
}

pub fn delete_file(file_id: Uuid) -> Command {
    Command::DeleteFile(DeleteFileV1 { file_id })
}

pub fn delete_folder(path: &str) -> Command {
    Command::DeleteFolder(DeleteFolderV1 {
        path: folder_path(path),
    })
}

pub fn create_folder(path: &str) -> Command {
    Command::CreateFolder(CreateFolderV1 {
        path: folder_path(path),
    })
}

pub fn move_file(file_id: Uuid, folder: &str, name: &str, policy: ConflictPolicy) -> Command {
    Command::MoveFile(MoveFileV1 {
        file_id,
        to_folder: folder_path(folder),
        to_name: file_name(name),
        on_conflict: policy,
    })
}

/// Whether Ann's file is there and available.
pub fn available(world: &World, file_id: Uuid) -> bool {
    world
        .record(file_id)
        .is_some_and(|f| f.status == FileStatus::Available)
}
