//! The consumers that carry out accepted commands and react to the object
//! store, and the reconciliation sweep. Each is one bus rule's target (the
//! rules are declared in [`rules`]): the indexer, the deleter (the trash and
//! versions: `trash`, `versions`), the mover, the notifier and the
//! thumbnailer, and the sweep
//! that repairs what they left behind and keeps the retention.
//!
//! Delivery is at least once, in any order, so every consumer is idempotent:
//! it skips an event it already handled (dedupe on the event id), its index
//! writes are conditional on the record's version, and the events it
//! publishes have ids derived from what they report ([`crate::events`]), so
//! publishing one again after a crash is dropped by the bus as a duplicate.
//!
//! A consumer returns `Err` only for a failure worth retrying (a backend was
//! unavailable); a command that can't be carried out (its file is gone, the
//! name is taken) is finished with a `CommandFailed` event instead.
//!
//! This module holds what the command consumers share: reading a command off
//! the bus, finishing it (publish, record, note), and the rule for a command
//! whose target is gone (`Consumers::gone`).

mod indexer;
mod mover;
mod notifier;
mod sweep;
mod thumbnailer;
mod trash;
mod versions;

pub use sweep::SweepReport;
pub use thumbnailer::THUMBNAILER;

use crate::clock::Clock;
use crate::events::{envelope_for, event_entries};
use crate::model::{CommandStatus, FileRecord, FileStatus, Retention, UserId};
use crate::ports::{Bus, Index, Notifier, ObjectStore, PortError, Thumbnailer};
use ferry_protocol::envelope::{COMMAND_SOURCE, EVENT_SOURCE};
use ferry_protocol::messages::{CommandFailedV1, FileDeletedV1};
use ferry_protocol::{
    Command, CommandEnvelope, ErrorCode, Event, EventEnvelope, Metadata, Payload, Timestamp,
};
use serde_json::{Value, json};
use std::sync::Arc;
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
            json!({"source": [COMMAND_SOURCE], "detail-type": DELETER_COMMANDS}),
        ),
        (
            "mover",
            json!({"source": [COMMAND_SOURCE], "detail-type": ["MoveFile", "CreateFolder"]}),
        ),
        ("notifier", json!({"source": [EVENT_SOURCE]})),
        (
            THUMBNAILER,
            json!({"source": [EVENT_SOURCE], "detail-type": THUMBNAILER_EVENTS}),
        ),
    ]
}

/// The events the thumbnailer reacts to: a file's content became current
/// (it makes thumbnails), or its bytes went (it removes them).
pub const THUMBNAILER_EVENTS: [&str; 3] = ["FileCreated", "FileVersionRestored", "FileDeleted"];

/// The commands the deleter carries out: deleting to the trash, and what
/// the trash and versions are then asked.
pub const DELETER_COMMANDS: [&str; 7] = [
    "DeleteFile",
    "DeleteFolder",
    "RestoreTrashItem",
    "PurgeTrashItem",
    "EmptyTrash",
    "RestoreVersion",
    "DeleteVersion",
];

/// Why a consumer wants the event again.
pub type Retry = String;

fn retry(error: PortError) -> Retry {
    error.to_string()
}

/// The consumers, over the same ports as the service.
#[derive(Debug, Clone)]
pub struct Consumers {
    objects: Arc<dyn ObjectStore>,
    index: Arc<dyn Index>,
    bus: Arc<dyn Bus>,
    notifier: Arc<dyn Notifier>,
    clock: Arc<dyn Clock>,
    retention: Retention,
    thumbnailer: Option<Arc<dyn Thumbnailer>>,
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
            retention: Retention::default(),
            thumbnailer: None,
        }
    }

    /// The same consumers making thumbnails with `thumbnailer` (without
    /// one, the thumbnailer's rule only removes a deleted file's).
    #[must_use]
    pub fn with_thumbnailer(mut self, thumbnailer: Arc<dyn Thumbnailer>) -> Self {
        self.thumbnailer = Some(thumbnailer);
        self
    }

    /// The same consumers keeping `retention`.
    #[must_use]
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// What they keep, for how long.
    pub fn retention(&self) -> Retention {
        self.retention
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
            THUMBNAILER => self.thumbnailer(event).await,
            other => Err(format!("no consumer for rule `{other}`")),
        }
    }

    async fn publish(&self, envelopes: &[EventEnvelope]) -> Result<(), Retry> {
        self.bus.put(event_entries(envelopes)).await.map_err(retry)
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

    /// The rule for a command whose file or folder is gone: if an earlier
    /// attempt finished the command (and stopped, a crash, before noting
    /// its event as handled), the event is only noted; otherwise the
    /// command fails as not found, with `message`.
    async fn gone(&self, incoming: &Incoming, consumer: &str, message: &str) -> Result<(), Retry> {
        if self.already_finished(incoming).await? {
            return self.noted(incoming, consumer).await;
        }
        self.fail(incoming, consumer, ErrorCode::NotFound, message)
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
            Command::CreateFolder(body) => self.create_folder(&incoming, consumer, body.path).await,
            Command::RestoreTrashItem(body) => self.restore_trash(&incoming, consumer, body).await,
            Command::PurgeTrashItem(body) => {
                self.purge_trash(&incoming, consumer, body.trash_id).await
            }
            Command::EmptyTrash(_) => self.empty_trash(&incoming, consumer).await,
            Command::RestoreVersion(body) => self.restore_version(&incoming, consumer, body).await,
            Command::DeleteVersion(body) => self.delete_version(&incoming, consumer, body).await,
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

    /// Removes a file and announces it: marks it deleting, deletes its
    /// object, publishes `FileDeleted`, then drops its record. Announced
    /// before the record goes, so an attempt after a crash in between
    /// finds the file and announces it again (the same event), rather than
    /// finding nothing to announce. Returns whether the file was there.
    async fn remove(
        &self,
        file: FileRecord,
        command_id: Option<Uuid>,
        trace_id: Option<&str>,
        producer: &str,
    ) -> Result<bool, Retry> {
        let Some(file) = self.clear(file, command_id, trace_id).await? else {
            return Ok(false);
        };
        self.publish(&[self.deleted_event(&file, producer)]).await?;
        self.index
            .remove_file(&file.user, file.file_id, file.version)
            .await
            .map_err(retry)?;
        Ok(true)
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
}
