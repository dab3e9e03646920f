//! The indexer: the object store's `Object Created` and `Object Deleted`
//! events, as S3 sends them to EventBridge, kept in the index.

use super::trash::Cause;
use super::{Consumers, Retry, retry};
use crate::events::event_envelope;
use crate::model::{CommandStatus, FileRecord, FileStatus, UserId};
use crate::ports::{ObjectInfo, PortError};
use base64::Engine as _;
use ferry_protocol::Event;
use ferry_protocol::messages::{FileCreatedV2, UploadAbortedV1};
use serde_json::{Value, json};
use uuid::Uuid;

impl Consumers {
    /// The indexer: S3's `Object Created` makes an upload available;
    /// `Object Deleted` of an available file (deleted behind Ferry's back)
    /// drops it.
    pub(super) async fn indexer(&self, event: &Value) -> Result<(), Retry> {
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
            Some(file) if file.status == FileStatus::Available => {
                self.announce_available(&file).await.map(|_| ())
            }
            Some(file) => self.make_available(file, object).await,
        }
    }

    /// Indexes an uploaded object: the file becomes available, taking its
    /// name over from an older file it replaces.
    pub(super) async fn make_available(
        &self,
        file: FileRecord,
        object: ObjectInfo,
    ) -> Result<(), Retry> {
        let key = file.user.object_key(file.file_id);
        if object.size != file.size {
            // Can't happen through a presigned URL (its size is signed); an
            // admin tool wrote something else. Refuse it.
            tracing::warn!(%key, declared = file.size, stored = object.size, "an upload of the wrong size was removed");
            // Announced first, then forgotten: a crash in between announces
            // again (the same event) on redelivery.
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
            self.finish_upload_command(&file, &envelope).await?;
            self.objects.delete(&key).await.map_err(retry)?;
            self.index
                .remove_file(&file.user, file.file_id, file.version)
                .await
                .map_err(retry)?;
            return Ok(());
        }
        // The older file of the same name, if this upload replaces one:
        // noted with the upload's command before it goes, so an attempt
        // after a crash part way through its removal (when the name no
        // longer finds it) finishes removing it.
        let named = self
            .index
            .file_by_name(&file.user, &file.folder, file.name.as_str())
            .await
            .map_err(retry)?
            .filter(|o| o.file_id != file.file_id && o.status == FileStatus::Available);
        let older = match named {
            Some(older) => {
                if let Some(command_id) = file.command_id {
                    let noted = json!({"replacing": older.file_id});
                    self.index
                        .note_progress(&file.user, command_id, &noted)
                        .await
                        .map_err(retry)?;
                }
                Some(older)
            }
            None => self.replacing(&file).await?,
        };
        // The older file becomes a version, which this one continues.
        let trace = file.trace_id.clone().unwrap_or_default();
        let cause = Cause {
            command_id: file.command_id.unwrap_or(file.file_id),
            trace_id: &trace,
            producer: "indexer",
        };
        let mut lineage = file.lineage;
        let mut replaced = None;
        if let Some(older) = older
            && matches!(older.status, FileStatus::Available | FileStatus::Version)
        {
            let older = self.supersede(older, cause).await?;
            lineage = Some(older.lineage());
            replaced = Some(older.file_id);
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
        available.lineage = lineage;
        available.version += 1;
        available.updated_at = self.now();
        match self.index.update_file(&available, file.version).await {
            Ok(()) => {}
            Err(PortError::NotFound(_)) => return Ok(()),
            Err(PortError::Conflict(m)) => return Err(m),
            Err(error) => return Err(retry(error)),
        }
        if replaced.is_some() {
            self.prune_versions(&available, cause).await?;
        }
        self.announce_created(&available, replaced).await
    }

    /// The older file an earlier attempt at indexing `file` began to
    /// remove (as noted with its command), if it is still there.
    async fn replacing(&self, file: &FileRecord) -> Result<Option<FileRecord>, Retry> {
        let Some(command_id) = file.command_id else {
            return Ok(None);
        };
        let noted = self
            .index
            .command(&file.user, command_id)
            .await
            .map_err(retry)?
            .and_then(|c| c.progress)
            .and_then(|p| {
                p.get("replacing")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .and_then(|id| Uuid::parse_str(&id).ok());
        let Some(older) = noted else { return Ok(None) };
        self.index.file(&file.user, older).await.map_err(retry)
    }

    /// An upload made available by an attempt that stopped (a crash)
    /// before announcing it: announced now, while its `CreateFile` is still
    /// pending (true when it was). Once that command is finished there is
    /// nothing to do.
    pub(super) async fn announce_available(&self, file: &FileRecord) -> Result<bool, Retry> {
        let Some(command_id) = file.command_id else {
            return Ok(false);
        };
        let Some(command) = self
            .index
            .command(&file.user, command_id)
            .await
            .map_err(retry)?
            .filter(|c| c.action == "CreateFile" && c.status == CommandStatus::Pending)
        else {
            return Ok(false);
        };
        // The file it replaced, as noted before it became a version.
        let replaced = command
            .progress
            .as_ref()
            .and_then(|p| p.get("replacing").and_then(Value::as_str))
            .and_then(|id| Uuid::parse_str(id).ok());
        if replaced.is_some() {
            let trace = file.trace_id.clone().unwrap_or_default();
            let cause = Cause {
                command_id,
                trace_id: &trace,
                producer: "indexer",
            };
            self.prune_versions(file, cause).await?;
        }
        self.announce_created(file, replaced).await.map(|()| true)
    }

    /// Publishes `FileCreated` for a file just made available and finishes
    /// its `CreateFile` with it.
    async fn announce_created(
        &self,
        available: &FileRecord,
        replaced: Option<Uuid>,
    ) -> Result<(), Retry> {
        let created = event_envelope(
            available,
            available.command_id,
            "indexer",
            self.now(),
            Event::FileCreated(FileCreatedV2 {
                file_id: available.file_id,
                folder: available.folder.clone(),
                name: available.name.clone(),
                size: available.size,
                content_type: available.content_type.clone(),
                sha256: available.sha256.clone(),
                e_tag: available.etag.clone().unwrap_or_default(),
                version: available.version,
                lineage: available.lineage(),
                replaced,
            }),
            &format!("FileCreated:{}", available.file_id),
        );
        self.publish(std::slice::from_ref(&created)).await?;
        let Some(command_id) = available.command_id else {
            return Ok(());
        };
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
            .map_err(retry)
    }

    async fn object_deleted(&self, user: &UserId, file_id: Uuid) -> Result<(), Retry> {
        let Some(file) = self.index.file(user, file_id).await.map_err(retry)? else {
            return Ok(());
        };
        if file.status != FileStatus::Available {
            return Ok(()); // the deleter, or an upload still under way
        }
        self.remove(file, None, None, "indexer").await?;
        Ok(())
    }
}
