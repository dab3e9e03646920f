//! The consumers that carry out accepted commands and react to the object
//! store, and the reconciliation sweep. Each is one bus rule's target (the
//! rules are declared in [`rules`]).
//!
//! Delivery is at least once, in any order, so every consumer is idempotent:
//! it skips an event it already handled (dedupe on the event id), its index
//! writes are conditional on the record's version, and the events it
//! publishes have ids derived from what they report, so publishing one again
//! after a crash is dropped by the bus as a duplicate.
//!
//! A consumer returns `Err` only for a failure worth retrying (a backend was
//! unavailable); a command that can't be carried out (its file is gone, the
//! name is taken) is finished with a `CommandFailed` event instead.

use crate::clock::Clock;
use crate::model::{CommandStatus, FileRecord, FileStatus, UserId};
use crate::names::numbered_name;
use crate::ports::{Bus, BusEntry, Index, Notifier, ObjectInfo, ObjectStore, PortError};
use base64::Engine as _;
use ferry_protocol::envelope::{COMMAND_SOURCE, EVENT_SOURCE};
use ferry_protocol::messages::{
    CommandFailedV1, ConflictPolicy, DeleteFolderV1, FileCreatedV1, FileDeletedV1, FileMovedV1,
    FolderCreatedV1, FolderDeletedV1, MoveFileV1, UploadAbortedV1,
};
use ferry_protocol::{
    Command, CommandEnvelope, ErrorCode, Event, EventEnvelope, FileName, FolderPath, Metadata,
    Payload, Timestamp, TraceId,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// The source S3 writes its EventBridge events with.
pub const S3_SOURCE: &str = "aws.s3";

/// Every rule on the bus: its name, its EventBridge pattern and the consumer
/// it feeds. The local bus and the SAM template are both built from this.
pub fn rules() -> Vec<(&'static str, Value)> {
    vec![
        (
            "indexer",
            json!({"source": [S3_SOURCE], "detail-type": ["Object Created", "Object Deleted"]}),
        ),
        (
            "deleter",
            json!({"source": [COMMAND_SOURCE], "detail-type": ["DeleteFile", "DeleteFolder"]}),
        ),
        (
            "mover",
            json!({"source": [COMMAND_SOURCE], "detail-type": ["MoveFile", "CreateFolder"]}),
        ),
        ("notifier", json!({"source": [EVENT_SOURCE]})),
    ]
}

const EVENT_NAMESPACE: Uuid = Uuid::from_u128(0x0f3a_91c4_5e2b_4d77_a1c8_3b9e_77d2_e4a0);

/// An event about `file`, with an id derived from its user and `dedupe_key`
/// so the same fact published twice is one event, and the same key of two
/// users (ids are chosen by clients) is two.
pub fn event_envelope(
    file: &FileRecord,
    command_id: Option<Uuid>,
    producer: &str,
    at: Timestamp,
    event: Event,
    dedupe_key: &str,
) -> EventEnvelope {
    envelope_for(
        &file.user,
        file.trace_id.as_deref(),
        command_id,
        producer,
        at,
        event,
        dedupe_key,
    )
}

fn envelope_for(
    user: &UserId,
    trace_id: Option<&str>,
    command_id: Option<Uuid>,
    producer: &str,
    at: Timestamp,
    event: Event,
    dedupe_key: &str,
) -> EventEnvelope {
    let event_id = Uuid::new_v5(
        &EVENT_NAMESPACE,
        format!("{}/{dedupe_key}", user.as_str()).as_bytes(),
    );
    let trace_id = trace_id
        .and_then(|t| TraceId::parse(t).ok())
        .unwrap_or_else(|| TraceId::from_uuid(event_id));
    EventEnvelope::new(
        Metadata {
            event_id,
            trace_id,
            command_id,
            occurred_at: at,
            producer: producer.to_owned(),
            user_id: Some(user.as_str().to_owned()),
        },
        event,
    )
}

/// An event envelope in every version still in use ([`Event::editions`]):
/// the first keeps its id, each older edition gets an id derived from it, so
/// republishing stays idempotent.
pub fn editions(envelope: &EventEnvelope) -> Vec<EventEnvelope> {
    let metadata = envelope.metadata().clone();
    envelope
        .data()
        .clone()
        .editions()
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            let mut metadata = metadata.clone();
            if i > 0 {
                metadata.event_id = Uuid::new_v5(
                    &metadata.event_id,
                    format!("v{}", event.version()).as_bytes(),
                );
            }
            EventEnvelope::new(metadata, event)
        })
        .collect()
}

/// The bus entry of an event envelope.
pub fn event_entry(envelope: &EventEnvelope) -> BusEntry {
    BusEntry {
        source: EVENT_SOURCE.to_owned(),
        detail_type: envelope.action().to_owned(),
        detail: serde_json::to_value(envelope).unwrap_or_default(),
    }
}

/// Where a moved file was: noted with its `MoveFile` before the move.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct MovedFrom {
    from_folder: FolderPath,
    from_name: FileName,
}

/// Why a consumer wants the event again.
pub type Retry = String;

fn retry(error: PortError) -> Retry {
    error.to_string()
}

/// What one sweep repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Uploads idle for a day, aborted.
    pub uploads_aborted: u64,
    /// Uploads whose object arrived but whose event was lost, indexed.
    pub uploads_indexed: u64,
    /// Deletes left half done, finished.
    pub deletes_finished: u64,
    /// Objects with no index entry, deleted.
    pub orphan_objects: u64,
    /// Index entries with no object, removed.
    pub orphan_entries: u64,
}

/// The consumers, over the same ports as the service.
#[derive(Debug, Clone)]
pub struct Consumers {
    objects: Arc<dyn ObjectStore>,
    index: Arc<dyn Index>,
    bus: Arc<dyn Bus>,
    notifier: Arc<dyn Notifier>,
    clock: Arc<dyn Clock>,
}

/// A command as a consumer reads it off the bus.
struct Incoming {
    metadata: Metadata,
    command: Command,
    user: UserId,
    command_id: Uuid,
}

impl Consumers {
    /// The consumers over their ports.
    pub fn new(
        objects: Arc<dyn ObjectStore>,
        index: Arc<dyn Index>,
        bus: Arc<dyn Bus>,
        notifier: Arc<dyn Notifier>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            objects,
            index,
            bus,
            notifier,
            clock,
        }
    }

    fn now(&self) -> Timestamp {
        Timestamp::new(self.clock.now())
    }

    /// Delivers an EventBridge event to the consumer of rule `rule`.
    pub async fn deliver(&self, rule: &str, event: &Value) -> Result<(), Retry> {
        match rule {
            "indexer" => self.indexer(event).await,
            "deleter" | "mover" => self.command(rule, event).await,
            "notifier" => self.notifier(event).await,
            other => Err(format!("no consumer for rule `{other}`")),
        }
    }

    async fn publish(&self, envelopes: &[EventEnvelope]) -> Result<(), Retry> {
        let entries = envelopes
            .iter()
            .flat_map(editions)
            .map(|e| event_entry(&e))
            .collect();
        self.bus.put(entries).await.map_err(retry)
    }

    /// Finishes a command with `event`, publishing it first.
    async fn finish(
        &self,
        incoming: &Incoming,
        consumer: &str,
        status: CommandStatus,
        events: Vec<EventEnvelope>,
    ) -> Result<(), Retry> {
        self.announce(incoming, status, &events).await?;
        self.noted(incoming, consumer).await
    }

    /// Publishes a command's events and records it finished with the last
    /// one. A consumer that still has to drop records does so after this,
    /// so a crash in between can't turn into "already gone" on redelivery.
    async fn announce(
        &self,
        incoming: &Incoming,
        status: CommandStatus,
        events: &[EventEnvelope],
    ) -> Result<(), Retry> {
        self.publish(events).await?;
        let result = events
            .last()
            .map(|e| serde_json::to_value(e).unwrap_or_default())
            .unwrap_or_default();
        self.index
            .finish_command(
                &incoming.user,
                incoming.command_id,
                status,
                &result,
                self.now(),
            )
            .await
            .map_err(retry)
    }

    /// Notes the incoming event as handled by `consumer`.
    async fn noted(&self, incoming: &Incoming, consumer: &str) -> Result<(), Retry> {
        self.index
            .mark_processed(
                consumer,
                &incoming.user,
                incoming.metadata.event_id,
                self.now(),
            )
            .await
            .map_err(retry)
    }

    /// Finishes a command as failed, with a reason a person can read.
    async fn fail(
        &self,
        incoming: &Incoming,
        consumer: &str,
        code: ErrorCode,
        message: &str,
    ) -> Result<(), Retry> {
        let event = Event::CommandFailed(CommandFailedV1 {
            command_action: incoming.command.action().to_owned(),
            code,
            message: message.to_owned(),
            issued_at: incoming.metadata.occurred_at,
        });
        let envelope = envelope_for(
            &incoming.user,
            Some(incoming.metadata.trace_id.as_str()),
            Some(incoming.command_id),
            consumer,
            self.now(),
            event,
            &format!("CommandFailed:{}", incoming.command_id),
        );
        self.finish(incoming, consumer, CommandStatus::Failed, vec![envelope])
            .await
    }

    /// The deleter and the mover: carry out a command from the bus.
    async fn command(&self, consumer: &str, event: &Value) -> Result<(), Retry> {
        let Some(detail) = event.get("detail") else {
            tracing::warn!("a command without detail was dropped");
            return Ok(());
        };
        let envelope: CommandEnvelope = match serde_json::from_value(detail.clone()) {
            Ok(envelope) => envelope,
            Err(error) => {
                // Never retried: it will never parse. The bus keeps it.
                tracing::error!(%error, "an unreadable command was dropped");
                return Ok(());
            }
        };
        let (metadata, command) = envelope.into_parts();
        let Some(user) = metadata.user_id.as_deref().and_then(UserId::parse) else {
            tracing::error!("a command without a user was dropped");
            return Ok(());
        };
        let incoming = Incoming {
            command_id: metadata.command_id.unwrap_or(metadata.event_id),
            metadata,
            command,
            user,
        };
        if self
            .index
            .was_processed(consumer, &incoming.user, incoming.metadata.event_id)
            .await
            .map_err(retry)?
        {
            return Ok(());
        }
        match incoming.command.clone() {
            Command::DeleteFile(body) => self.delete_file(&incoming, consumer, body.file_id).await,
            Command::DeleteFolder(body) => self.delete_folder(&incoming, consumer, body).await,
            Command::MoveFile(body) => self.move_file(&incoming, consumer, body).await,
            Command::CreateFolder(body) => {
                let now = self.now();
                self.index
                    .create_folder(&incoming.user, &body.path, now)
                    .await
                    .map_err(retry)?;
                let envelope = self.envelope(
                    &incoming,
                    consumer,
                    Event::FolderCreated(FolderCreatedV1 { path: body.path }),
                    &format!("FolderCreated:{}", incoming.command_id),
                );
                self.finish(
                    &incoming,
                    consumer,
                    CommandStatus::Succeeded,
                    vec![envelope],
                )
                .await
            }
            other => {
                tracing::warn!(
                    action = other.action(),
                    "a command no consumer carries out was dropped"
                );
                Ok(())
            }
        }
    }

    fn envelope(
        &self,
        incoming: &Incoming,
        consumer: &str,
        event: Event,
        key: &str,
    ) -> EventEnvelope {
        envelope_for(
            &incoming.user,
            Some(incoming.metadata.trace_id.as_str()),
            Some(incoming.command_id),
            consumer,
            self.now(),
            event,
            key,
        )
    }

    /// Removes a file: marks it deleting, deletes its object, drops its
    /// record. Returns the `FileDeleted` event, or `None` when it was gone.
    async fn remove(
        &self,
        file: FileRecord,
        command_id: Option<Uuid>,
        trace_id: Option<&str>,
        producer: &str,
    ) -> Result<Option<EventEnvelope>, Retry> {
        let Some(file) = self.clear(file, command_id, trace_id).await? else {
            return Ok(None);
        };
        let event = self.deleted_event(&file, producer);
        self.index
            .remove_file(&file.user, file.file_id, file.version)
            .await
            .map_err(retry)?;
        Ok(Some(event))
    }

    /// The first half of removing a file: marks it deleting and deletes its
    /// object. Returns the record as marked, or `None` when it was gone.
    async fn clear(
        &self,
        file: FileRecord,
        command_id: Option<Uuid>,
        trace_id: Option<&str>,
    ) -> Result<Option<FileRecord>, Retry> {
        let key = file.user.object_key(file.file_id);
        let mut file = file;
        if file.status != FileStatus::Deleting {
            let mut deleting = file.clone();
            deleting.status = FileStatus::Deleting;
            deleting.version += 1;
            deleting.updated_at = self.now();
            deleting.command_id = command_id.or(file.command_id);
            if let Some(trace_id) = trace_id {
                deleting.trace_id = Some(trace_id.to_owned());
            }
            match self.index.update_file(&deleting, file.version).await {
                Ok(()) => file = deleting,
                Err(PortError::NotFound(_)) => return Ok(None),
                Err(error) => return Err(retry(error)),
            }
        }
        if let Some(upload_id) = &file.upload_id {
            self.objects
                .abort_multipart(&key, upload_id)
                .await
                .map_err(retry)?;
        }
        self.objects.delete(&key).await.map_err(retry)?;
        Ok(Some(file))
    }

    /// The `FileDeleted` event of a file being removed.
    fn deleted_event(&self, file: &FileRecord, producer: &str) -> EventEnvelope {
        let event = Event::FileDeleted(FileDeletedV1 {
            file_id: file.file_id,
            folder: file.folder.clone(),
            name: file.name.clone(),
            version: file.version + 1,
        });
        envelope_for(
            &file.user,
            file.trace_id.as_deref(),
            file.command_id,
            producer,
            self.now(),
            event,
            &format!("FileDeleted:{}", file.file_id),
        )
    }

    async fn delete_file(
        &self,
        incoming: &Incoming,
        consumer: &str,
        file_id: Uuid,
    ) -> Result<(), Retry> {
        let file = self
            .index
            .file(&incoming.user, file_id)
            .await
            .map_err(retry)?;
        let Some(file) = file else {
            // Finished already by an attempt that stopped (a crash) between
            // dropping the record and noting the event as processed.
            if self.already_finished(incoming).await? {
                return self.noted(incoming, consumer).await;
            }
            return self
                .fail(
                    incoming,
                    consumer,
                    ErrorCode::NotFound,
                    "The file was already gone.",
                )
                .await;
        };
        let trace = incoming.metadata.trace_id.as_str().to_owned();
        match self
            .clear(file, Some(incoming.command_id), Some(&trace))
            .await?
        {
            Some(file) => {
                // Announced and finished before the record goes, so a crash
                // after dropping it can't turn into "already gone".
                let event = self.deleted_event(&file, consumer);
                self.announce(incoming, CommandStatus::Succeeded, &[event])
                    .await?;
                self.index
                    .remove_file(&file.user, file.file_id, file.version)
                    .await
                    .map_err(retry)?;
                self.noted(incoming, consumer).await
            }
            None => {
                self.fail(
                    incoming,
                    consumer,
                    ErrorCode::NotFound,
                    "The file was already gone.",
                )
                .await
            }
        }
    }

    async fn delete_folder(
        &self,
        incoming: &Incoming,
        consumer: &str,
        body: DeleteFolderV1,
    ) -> Result<(), Retry> {
        let user = &incoming.user;
        if !self
            .index
            .folder_exists(user, &body.path)
            .await
            .map_err(retry)?
        {
            // Finished already by an attempt that stopped (a crash) between
            // dropping the folders and noting the event as processed.
            if self.already_finished(incoming).await? {
                return self.noted(incoming, consumer).await;
            }
            return self
                .fail(
                    incoming,
                    consumer,
                    ErrorCode::NotFound,
                    "The folder was already gone.",
                )
                .await;
        }
        let trace = incoming.metadata.trace_id.as_str().to_owned();
        let deleted = self.folder_count(incoming, &body.path).await?;
        // Records go as their files go, so the first page is always the next.
        loop {
            let page = self
                .index
                .files_under(user, &body.path, None, 200)
                .await
                .map_err(retry)?;
            if page.items.is_empty() {
                break;
            }
            for file in page.items {
                self.remove(file, Some(incoming.command_id), Some(&trace), consumer)
                    .await?;
            }
        }
        // Announced and finished before the folders go, so a crash after
        // dropping them can't turn into "already gone".
        let envelope = self.envelope(
            incoming,
            consumer,
            Event::FolderDeleted(FolderDeletedV1 {
                path: body.path.clone(),
                files_deleted: deleted,
            }),
            &format!("FolderDeleted:{}", incoming.command_id),
        );
        self.announce(incoming, CommandStatus::Succeeded, &[envelope])
            .await?;
        self.index
            .remove_folder_tree(user, &body.path)
            .await
            .map_err(retry)?;
        self.noted(incoming, consumer).await
    }

    /// How many files the folder held when its deletion began: counted and
    /// noted with the command before anything goes, so an attempt after a
    /// crash part way reports the same number.
    async fn folder_count(&self, incoming: &Incoming, path: &FolderPath) -> Result<u64, Retry> {
        if let Some(noted) = self
            .progress(incoming)
            .await?
            .and_then(|p| p.get("filesDeleted").and_then(Value::as_u64))
        {
            return Ok(noted);
        }
        let mut count = 0u64;
        let mut cursor = None;
        loop {
            let page = self
                .index
                .files_under(&incoming.user, path, cursor.as_deref(), 1000)
                .await
                .map_err(retry)?;
            count += page.items.len() as u64;
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        self.index
            .note_progress(
                &incoming.user,
                incoming.command_id,
                &json!({"filesDeleted": count}),
            )
            .await
            .map_err(retry)?;
        Ok(count)
    }

    /// What an earlier attempt at the incoming command noted.
    async fn progress(&self, incoming: &Incoming) -> Result<Option<Value>, Retry> {
        Ok(self
            .index
            .command(&incoming.user, incoming.command_id)
            .await
            .map_err(retry)?
            .and_then(|command| command.progress))
    }

    /// Whether the incoming command was already finished (by an attempt
    /// that stopped before noting its event as processed).
    async fn already_finished(&self, incoming: &Incoming) -> Result<bool, Retry> {
        Ok(self
            .index
            .command(&incoming.user, incoming.command_id)
            .await
            .map_err(retry)?
            .is_some_and(|command| command.status != CommandStatus::Pending))
    }

    async fn move_file(
        &self,
        incoming: &Incoming,
        consumer: &str,
        body: MoveFileV1,
    ) -> Result<(), Retry> {
        let user = &incoming.user;
        let Some(file) = self.index.file(user, body.file_id).await.map_err(retry)? else {
            return self
                .fail(incoming, consumer, ErrorCode::NotFound, "The file is gone.")
                .await;
        };
        if file.status != FileStatus::Available {
            return self
                .fail(
                    incoming,
                    consumer,
                    ErrorCode::Conflict,
                    "Only an uploaded file can be moved or renamed.",
                )
                .await;
        }
        // Moved by an attempt that stopped (a crash, a failed publish)
        // before announcing it: announce it from where that attempt noted
        // the file was.
        if file.command_id == Some(incoming.command_id)
            && let Some(from) = self.progress(incoming).await?
            && let Ok(from) = serde_json::from_value::<MovedFrom>(from)
        {
            let event = self.envelope(
                incoming,
                consumer,
                Event::FileMoved(FileMovedV1 {
                    file_id: file.file_id,
                    from_folder: from.from_folder,
                    from_name: from.from_name,
                    to_folder: file.folder,
                    to_name: file.name,
                    version: file.version,
                }),
                &format!("FileMoved:{}", incoming.command_id),
            );
            return self
                .finish(incoming, consumer, CommandStatus::Succeeded, vec![event])
                .await;
        }
        let mut events = Vec::new();
        let mut to_name = body.to_name.clone();
        let same_place = file.folder == body.to_folder && file.name == to_name;
        if !same_place {
            let mut attempt = 0;
            loop {
                let taken = self
                    .index
                    .file_by_name(user, &body.to_folder, to_name.as_str())
                    .await
                    .map_err(retry)?
                    .filter(|other| other.file_id != file.file_id);
                let Some(other) = taken else { break };
                match body.on_conflict {
                    ConflictPolicy::Fail => {
                        return self
                            .fail(
                                incoming,
                                consumer,
                                ErrorCode::Conflict,
                                &format!("A file named “{to_name}” is already there."),
                            )
                            .await;
                    }
                    ConflictPolicy::KeepBoth => {
                        attempt += 1;
                        to_name = match numbered_name(&body.to_name, attempt) {
                            Ok(name) if attempt <= 1000 => name,
                            _ => {
                                return self
                                    .fail(
                                        incoming,
                                        consumer,
                                        ErrorCode::Conflict,
                                        "No free name was found.",
                                    )
                                    .await;
                            }
                        };
                    }
                    ConflictPolicy::Replace => {
                        // Announced as it goes: once its record is gone, an
                        // attempt after a crash would not find it again.
                        let trace = incoming.metadata.trace_id.as_str().to_owned();
                        if let Some(replaced) = self
                            .clear(other, Some(incoming.command_id), Some(trace.as_str()))
                            .await?
                        {
                            self.publish(&[self.deleted_event(&replaced, consumer)])
                                .await?;
                            self.index
                                .remove_file(user, replaced.file_id, replaced.version)
                                .await
                                .map_err(retry)?;
                        }
                    }
                }
            }
        }
        let mut moved = file.clone();
        if !same_place {
            moved.folder = body.to_folder.clone();
            moved.name = to_name.clone();
            moved.version += 1;
            moved.updated_at = self.now();
            moved.command_id = Some(incoming.command_id);
            moved.trace_id = Some(incoming.metadata.trace_id.as_str().to_owned());
            self.index
                .note_progress(
                    user,
                    incoming.command_id,
                    &serde_json::to_value(MovedFrom {
                        from_folder: file.folder.clone(),
                        from_name: file.name.clone(),
                    })
                    .unwrap_or_default(),
                )
                .await
                .map_err(retry)?;
            match self.index.update_file(&moved, file.version).await {
                Ok(()) => {}
                // Someone took the name or changed the file meanwhile: try
                // again from the top.
                Err(PortError::Conflict(m)) => return Err(m),
                Err(error) => return Err(retry(error)),
            }
        }
        events.push(self.envelope(
            incoming,
            consumer,
            Event::FileMoved(FileMovedV1 {
                file_id: file.file_id,
                from_folder: file.folder,
                from_name: file.name,
                to_folder: moved.folder,
                to_name: moved.name,
                version: moved.version,
            }),
            &format!("FileMoved:{}", incoming.command_id),
        ));
        self.finish(incoming, consumer, CommandStatus::Succeeded, events)
            .await
    }

    /// Marks the `CreateFile` command of an upload that ended without its
    /// bytes as failed, with the event that ended it.
    pub async fn finish_upload_command(
        &self,
        file: &FileRecord,
        event: &EventEnvelope,
    ) -> Result<(), Retry> {
        let Some(command_id) = file.command_id else {
            return Ok(());
        };
        let result = serde_json::to_value(event).unwrap_or_default();
        self.index
            .finish_command(
                &file.user,
                command_id,
                CommandStatus::Failed,
                &result,
                self.now(),
            )
            .await
            .map_err(retry)
    }

    /// The indexer: S3's `Object Created` makes an upload available;
    /// `Object Deleted` of an available file (deleted behind Ferry's back)
    /// drops it.
    async fn indexer(&self, event: &Value) -> Result<(), Retry> {
        let Some(event_id) = event
            .get("id")
            .and_then(Value::as_str)
            .and_then(|id| Uuid::parse_str(id).ok())
        else {
            tracing::warn!("an S3 event without an id was dropped");
            return Ok(());
        };
        let key = event
            .pointer("/detail/object/key")
            .and_then(Value::as_str)
            .unwrap_or_default();
        // Only a user's objects are the index's business.
        let Some((user, file_id)) = UserId::parse_object_key(key) else {
            return Ok(());
        };
        if self
            .index
            .was_processed("indexer", &user, event_id)
            .await
            .map_err(retry)?
        {
            return Ok(());
        }
        match event.get("detail-type").and_then(Value::as_str) {
            Some("Object Created") => self.object_created(&user, file_id, key).await?,
            Some("Object Deleted") => self.object_deleted(&user, file_id).await?,
            _ => {}
        }
        self.index
            .mark_processed("indexer", &user, event_id, self.now())
            .await
            .map_err(retry)
    }

    async fn object_created(&self, user: &UserId, file_id: Uuid, key: &str) -> Result<(), Retry> {
        let file = self.index.file(user, file_id).await.map_err(retry)?;
        let Some(object) = self.objects.head(key).await.map_err(retry)? else {
            return Ok(()); // gone again meanwhile
        };
        match file {
            // No record: nobody asked for this object (or its upload was
            // given up). It can't be reached through Ferry; drop it.
            None => self.objects.delete(key).await.map_err(retry),
            Some(file) if file.status == FileStatus::Deleting => {
                self.objects.delete(key).await.map_err(retry)
            }
            Some(file) if file.status == FileStatus::Available => Ok(()),
            Some(file) => self.make_available(file, object).await,
        }
    }

    /// Indexes an uploaded object: the file becomes available, taking its
    /// name over from an older file it replaces.
    async fn make_available(&self, file: FileRecord, object: ObjectInfo) -> Result<(), Retry> {
        let key = file.user.object_key(file.file_id);
        if object.size != file.size {
            // Can't happen through a presigned URL (its size is signed); an
            // admin tool wrote something else. Refuse it.
            tracing::warn!(%key, declared = file.size, stored = object.size, "an upload of the wrong size was removed");
            self.objects.delete(&key).await.map_err(retry)?;
            let incoming_user = file.user.clone();
            self.index
                .remove_file(&incoming_user, file.file_id, file.version)
                .await
                .map_err(retry)?;
            let event = Event::UploadAborted(UploadAbortedV1 {
                file_id: file.file_id,
                reason: "size".to_owned(),
            });
            let envelope = event_envelope(
                &file,
                file.command_id,
                "indexer",
                self.now(),
                event,
                &format!("UploadAborted:{}", file.file_id),
            );
            self.publish(std::slice::from_ref(&envelope)).await?;
            if let Some(command_id) = file.command_id {
                let result = serde_json::to_value(&envelope).unwrap_or_default();
                self.index
                    .finish_command(
                        &file.user,
                        command_id,
                        CommandStatus::Failed,
                        &result,
                        self.now(),
                    )
                    .await
                    .map_err(retry)?;
            }
            return Ok(());
        }
        let mut events = Vec::new();
        // The older file of the same name, if this upload replaces one.
        let older = self
            .index
            .file_by_name(&file.user, &file.folder, file.name.as_str())
            .await
            .map_err(retry)?
            .filter(|o| o.file_id != file.file_id && o.status == FileStatus::Available);
        if let Some(older) = older
            && let Some(event) = self
                .remove(older, file.command_id, file.trace_id.as_deref(), "indexer")
                .await?
        {
            events.push(event);
        }
        let stored = match (&file.sha256, &object.checksum_sha256) {
            (Some(_), _) => None,
            (None, Some(known)) => Some(known.clone()),
            // The store keeps no whole-object SHA-256 (S3, for a multipart
            // object): it is read through once, here, and kept in the index.
            (None, None) => self.objects.whole_sha256(&key).await.map_err(retry)?,
        };
        let sha256 = file.sha256.clone().or_else(|| {
            stored
                .as_deref()
                .filter(|c| !c.contains('-'))
                .and_then(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
                .filter(|d| d.len() == 32)
                .map(|d| crate::names::hex(&d))
        });
        let mut available = file.clone();
        available.status = FileStatus::Available;
        available.etag = Some(object.etag.trim_matches('"').to_owned());
        available.sha256 = sha256;
        available.upload_id = None;
        available.version += 1;
        available.updated_at = self.now();
        match self.index.update_file(&available, file.version).await {
            Ok(()) => {}
            Err(PortError::NotFound(_)) => return Ok(()),
            Err(PortError::Conflict(m)) => return Err(m),
            Err(error) => return Err(retry(error)),
        }
        let created = event_envelope(
            &available,
            available.command_id,
            "indexer",
            self.now(),
            Event::FileCreated(FileCreatedV1 {
                file_id: available.file_id,
                folder: available.folder.clone(),
                name: available.name.clone(),
                size: available.size,
                content_type: available.content_type.clone(),
                sha256: available.sha256.clone(),
                e_tag: available.etag.clone().unwrap_or_default(),
                version: available.version,
            }),
            &format!("FileCreated:{}", available.file_id),
        );
        events.push(created.clone());
        self.publish(&events).await?;
        if let Some(command_id) = available.command_id {
            let result = serde_json::to_value(&created).unwrap_or_default();
            self.index
                .finish_command(
                    &available.user,
                    command_id,
                    CommandStatus::Succeeded,
                    &result,
                    self.now(),
                )
                .await
                .map_err(retry)?;
        }
        Ok(())
    }

    async fn object_deleted(&self, user: &UserId, file_id: Uuid) -> Result<(), Retry> {
        let Some(file) = self.index.file(user, file_id).await.map_err(retry)? else {
            return Ok(());
        };
        if file.status != FileStatus::Available {
            return Ok(()); // the deleter, or an upload still under way
        }
        if let Some(event) = self.remove(file, None, None, "indexer").await? {
            self.publish(&[event]).await?;
        }
        Ok(())
    }

    /// The notifier: pushes each of Ferry's events to its owner.
    async fn notifier(&self, event: &Value) -> Result<(), Retry> {
        let Some(detail) = event.get("detail") else {
            return Ok(());
        };
        let envelope: EventEnvelope = match serde_json::from_value(detail.clone()) {
            Ok(envelope) => envelope,
            Err(error) => {
                tracing::error!(%error, "an unreadable event was not pushed");
                return Ok(());
            }
        };
        let Some(user) = envelope
            .metadata()
            .user_id
            .as_deref()
            .and_then(UserId::parse)
        else {
            return Ok(());
        };
        self.notifier.notify(&user, &envelope).await.map_err(retry)
    }

    /// Repairs what a crash or a lost event left behind: uploads idle for
    /// `upload_idle` are aborted (or indexed, when their object did arrive),
    /// half-done deletes are finished, objects without an index entry are
    /// deleted, and entries whose object is gone are removed.
    pub async fn sweep(&self, upload_idle: Duration) -> Result<SweepReport, Retry> {
        let mut report = SweepReport::default();
        let now = self.now();
        let idle_since = Timestamp::new(now.get() - upload_idle);
        let settle = Timestamp::new(now.get() - Duration::from_secs(60));

        // Uploads idle too long.
        for file in self
            .index
            .files_with_status(FileStatus::Uploading, idle_since, 1000)
            .await
            .map_err(retry)?
        {
            let key = file.user.object_key(file.file_id);
            if let Some(object) = self.objects.head(&key).await.map_err(retry)? {
                self.make_available(file, object).await?;
                report.uploads_indexed += 1;
                continue;
            }
            if let Some(upload_id) = &file.upload_id {
                self.objects
                    .abort_multipart(&key, upload_id)
                    .await
                    .map_err(retry)?;
            }
            // Announce first, then forget: a crash in between announces
            // again (the same event id) on the next sweep.
            let event = event_envelope(
                &file,
                file.command_id,
                "sweep",
                now,
                Event::UploadAborted(UploadAbortedV1 {
                    file_id: file.file_id,
                    reason: "expired".to_owned(),
                }),
                &format!("UploadAborted:{}", file.file_id),
            );
            self.publish(std::slice::from_ref(&event)).await?;
            self.finish_upload_command(&file, &event).await?;
            if self
                .index
                .remove_file(&file.user, file.file_id, file.version)
                .await
                .map_err(retry)?
            {
                report.uploads_aborted += 1;
            }
        }
        // Multipart uploads the index doesn't know, idle as long.
        for upload in self.objects.list_uploads().await.map_err(retry)? {
            if upload.initiated > idle_since {
                continue;
            }
            let known = match UserId::parse_object_key(&upload.key) {
                Some((user, id)) => self
                    .index
                    .file(&user, id)
                    .await
                    .map_err(retry)?
                    .is_some_and(|f| f.upload_id.as_deref() == Some(upload.upload_id.as_str())),
                None => false,
            };
            if !known {
                self.objects
                    .abort_multipart(&upload.key, &upload.upload_id)
                    .await
                    .map_err(retry)?;
                report.uploads_aborted += 1;
            }
        }
        // Deletes left half done.
        for file in self
            .index
            .files_with_status(FileStatus::Deleting, settle, 1000)
            .await
            .map_err(retry)?
        {
            if let Some(event) = self.remove(file, None, None, "sweep").await? {
                self.publish(&[event]).await?;
                report.deletes_finished += 1;
            }
        }
        // Objects without an entry.
        let mut after: Option<String> = None;
        loop {
            let objects = self
                .objects
                .list("users/", after.as_deref(), 1000)
                .await
                .map_err(retry)?;
            let Some(last) = objects.last() else { break };
            after = Some(last.key.clone());
            for object in objects {
                if object.last_modified > settle {
                    continue;
                }
                let orphan = match UserId::parse_object_key(&object.key) {
                    Some((user, id)) => self.index.file(&user, id).await.map_err(retry)?.is_none(),
                    None => false,
                };
                if orphan {
                    self.objects.delete(&object.key).await.map_err(retry)?;
                    report.orphan_objects += 1;
                }
            }
        }
        // Entries without an object.
        let mut after_user: Option<UserId> = None;
        loop {
            let users = self
                .index
                .users(after_user.as_ref(), 100)
                .await
                .map_err(retry)?;
            let Some(last) = users.last() else { break };
            after_user = Some(last.clone());
            for user in users {
                let mut cursor: Option<String> = None;
                loop {
                    let page = self
                        .index
                        .files_under(&user, &FolderPath::root(), cursor.as_deref(), 500)
                        .await
                        .map_err(retry)?;
                    for file in page.items {
                        if file.status != FileStatus::Available || file.updated_at > settle {
                            continue;
                        }
                        let key = user.object_key(file.file_id);
                        if self.objects.head(&key).await.map_err(retry)?.is_none()
                            && let Some(event) = self.remove(file, None, None, "sweep").await?
                        {
                            self.publish(&[event]).await?;
                            report.orphan_entries += 1;
                        }
                    }
                    match page.next_cursor {
                        Some(next) => cursor = Some(next),
                        None => break,
                    }
                }
            }
        }
        Ok(report)
    }
}
