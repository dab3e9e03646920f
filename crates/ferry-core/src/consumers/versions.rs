//! Versions: an upload that replaces a file keeps the old content as a
//! version of the new one (the same lineage); `RestoreVersion` makes one
//! current again, `DeleteVersion` deletes one forever; at most
//! `keep_versions` are kept, each for `version_days` after it stopped being
//! current (the sweep).
//!
//! Versions are files like any other (their objects keyed by their own
//! ids), so making one current is two writes of records and no copy of
//! bytes. The current file's id is the one the folder lists: restoring a
//! version makes the version's id current.

use super::trash::Cause;
use super::{Consumers, Incoming, Retry, retry};
use crate::model::{CommandStatus, FileRecord, FileStatus};
use crate::ports::PortError;
use ferry_protocol::messages::{DeleteVersionV1, FileVersionRestoredV1, RestoreVersionV1};
use ferry_protocol::{ErrorCode, Event};
use serde_json::{Value, json};
use uuid::Uuid;

impl Consumers {
    /// `older` (available) becomes a version of its lineage, which the file
    /// replacing it continues. Returns it as a version.
    pub(super) async fn supersede(
        &self,
        older: FileRecord,
        cause: Cause<'_>,
    ) -> Result<FileRecord, Retry> {
        if older.status == FileStatus::Version {
            return Ok(older);
        }
        let mut version = older.clone();
        version.status = FileStatus::Version;
        version.lineage = Some(older.lineage());
        version.version += 1;
        version.updated_at = self.now();
        version.command_id = Some(cause.command_id);
        version.trace_id = Some(cause.trace_id.to_owned());
        match self.index.update_file(&version, older.version).await {
            Ok(()) => Ok(version),
            Err(PortError::Conflict(m)) => Err(m),
            Err(error) => Err(retry(error)),
        }
    }

    /// Deletes the versions of `file`'s lineage beyond the newest
    /// `keep_versions`; returns how many.
    pub(super) async fn prune_versions(
        &self,
        file: &FileRecord,
        cause: Cause<'_>,
    ) -> Result<u64, Retry> {
        let keep = self.retention.keep_versions as usize;
        self.versions_beyond(file, keep, cause).await
    }

    /// Deletes the versions of `file`'s lineage beyond the newest `keep`
    /// (all of them for 0); returns how many.
    pub(super) async fn versions_beyond(
        &self,
        file: &FileRecord,
        keep: usize,
        cause: Cause<'_>,
    ) -> Result<u64, Retry> {
        let mut pruned = 0;
        let mut seen = 0usize;
        let mut cursor = None;
        // One pass, newest first: everything after the first `keep` goes.
        loop {
            let page = self
                .index
                .versions(&file.user, file.lineage(), cursor.as_deref(), 200)
                .await
                .map_err(retry)?;
            for version in page.items {
                seen += 1;
                if seen <= keep {
                    continue;
                }
                if self
                    .remove(
                        version,
                        Some(cause.command_id),
                        Some(cause.trace_id),
                        cause.producer,
                    )
                    .await?
                {
                    pruned += 1;
                }
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(pruned),
            }
        }
    }

    /// The current file and the version a version command names, when the
    /// version is one of the file's.
    async fn version_of(
        &self,
        incoming: &Incoming,
        file_id: Uuid,
        version_id: Uuid,
    ) -> Result<(Option<FileRecord>, Option<FileRecord>), Retry> {
        let user = &incoming.user;
        let file = self.index.file(user, file_id).await.map_err(retry)?;
        let version = self.index.file(user, version_id).await.map_err(retry)?;
        let version = match (&file, version) {
            (Some(file), Some(version)) if version.lineage() == file.lineage() => Some(version),
            _ => None,
        };
        Ok((file, version))
    }

    /// `RestoreVersion`: the current file becomes a version and the version
    /// takes its place (its folder and name). The current file's id is
    /// noted first, so an attempt after a crash between the two writes
    /// finishes the swap.
    pub(super) async fn restore_version(
        &self,
        incoming: &Incoming,
        consumer: &str,
        body: RestoreVersionV1,
    ) -> Result<(), Retry> {
        let user = &incoming.user;
        let (current, version) = self
            .version_of(incoming, body.file_id, body.version_id)
            .await?;
        let (Some(current), Some(version)) = (current, version) else {
            return self.gone(incoming, consumer, "That version is gone.").await;
        };
        let cause = self.cause(incoming, consumer);
        let resumed = self
            .progress(incoming)
            .await?
            .and_then(|p| p.get("replaced").and_then(Value::as_str).map(str::to_owned))
            .is_some_and(|id| id == current.file_id.to_string());
        // Done by an attempt that stopped before announcing.
        if resumed
            && version.status == FileStatus::Available
            && version.command_id == Some(incoming.command_id)
        {
            return self
                .announce_version_restored(incoming, consumer, &version, &current)
                .await;
        }
        let current_ok = current.status == FileStatus::Available
            || (resumed && current.status == FileStatus::Version);
        if !current_ok || version.status != FileStatus::Version {
            let message = if current.status == FileStatus::Trashed {
                "The file is in the trash; restore it first."
            } else {
                "Only a version of an uploaded file can be restored."
            };
            return self
                .fail(incoming, consumer, ErrorCode::Conflict, message)
                .await;
        }
        self.index
            .note_progress(
                user,
                incoming.command_id,
                &json!({"replaced": current.file_id}),
            )
            .await
            .map_err(retry)?;
        let was_current = current.clone();
        let current = self.supersede(current, cause).await?;
        let mut restored = version.clone();
        restored.status = FileStatus::Available;
        restored.folder = was_current.folder.clone();
        restored.name = was_current.name.clone();
        restored.lineage = Some(was_current.lineage());
        restored.version += 1;
        restored.updated_at = self.now();
        restored.command_id = Some(incoming.command_id);
        restored.trace_id = Some(cause.trace_id.to_owned());
        match self.index.update_file(&restored, version.version).await {
            Ok(()) => {}
            Err(PortError::Conflict(_)) => {
                // The name was taken in between (an upload): the file that
                // was current comes back, and nothing else changed.
                let mut back = current.clone();
                back.status = FileStatus::Available;
                back.version += 1;
                back.updated_at = self.now();
                if let Err(error) = self.index.update_file(&back, current.version).await {
                    return Err(retry(error));
                }
                return self
                    .fail(
                        incoming,
                        consumer,
                        ErrorCode::Conflict,
                        "The file changed meanwhile; nothing was restored.",
                    )
                    .await;
            }
            Err(error) => return Err(retry(error)),
        }
        self.announce_version_restored(incoming, consumer, &restored, &current)
            .await
    }

    async fn announce_version_restored(
        &self,
        incoming: &Incoming,
        consumer: &str,
        restored: &FileRecord,
        replaced: &FileRecord,
    ) -> Result<(), Retry> {
        let event = self.envelope(
            incoming,
            consumer,
            Event::FileVersionRestored(FileVersionRestoredV1 {
                file_id: restored.file_id,
                replaced: replaced.file_id,
                folder: restored.folder.clone(),
                name: restored.name.clone(),
                size: restored.size,
                sha256: restored.sha256.clone(),
                lineage: restored.lineage(),
                version: restored.version,
            }),
            &format!("FileVersionRestored:{}", incoming.command_id),
        );
        self.finish(incoming, consumer, CommandStatus::Succeeded, vec![event])
            .await
    }

    /// `DeleteVersion`: one version deleted forever (`FileDeleted`).
    pub(super) async fn delete_version(
        &self,
        incoming: &Incoming,
        consumer: &str,
        body: DeleteVersionV1,
    ) -> Result<(), Retry> {
        let (_, version) = self
            .version_of(incoming, body.file_id, body.version_id)
            .await?;
        let version = version.filter(|v| {
            v.status == FileStatus::Version
                || (v.status == FileStatus::Deleting && v.command_id == Some(incoming.command_id))
        });
        let Some(version) = version else {
            return self.gone(incoming, consumer, "That version is gone.").await;
        };
        let trace = incoming.metadata.trace_id.as_str().to_owned();
        let Some(cleared) = self
            .clear(version, Some(incoming.command_id), Some(&trace))
            .await?
        else {
            return self.gone(incoming, consumer, "That version is gone.").await;
        };
        let event = self.deleted_event(&cleared, consumer);
        self.announce(incoming, CommandStatus::Succeeded, &[event])
            .await?;
        self.index
            .remove_file(&cleared.user, cleared.file_id, cleared.version)
            .await
            .map_err(retry)?;
        self.noted(incoming, consumer).await
    }
}
