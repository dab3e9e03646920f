//! The trash: `DeleteFile` and `DeleteFolder` move things there,
//! `RestoreTrashItem` brings them back, `PurgeTrashItem` and `EmptyTrash`
//! (and the sweep, past the retention) delete them forever.
//!
//! Each file goes to the trash, and comes back, in one conditional write of
//! its record, so at every moment it is current or in the trash, never
//! neither. A trash item is recorded before its first file goes (the same
//! item again on a retry) and removed after its last file came back or was
//! deleted. Purging deletes a file as any delete does (marked deleting,
//! object deleted, `FileDeleted` published, record dropped), its versions
//! with it.

use super::{Consumers, Incoming, Retry, retry};
use crate::model::{CommandStatus, FileRecord, FileStatus, Page, TrashItem, TrashKind, UserId};
use crate::names::numbered_name;
use crate::ports::PortError;
use ferry_protocol::messages::{
    ConflictPolicy, DeleteFolderV1, FileRestoredV1, FileTrashedV1, FolderRestoredV1,
    FolderTrashedV1, RestoreTrashItemV1, TrashEmptiedV1, TrashItemPurgedV1,
};
use ferry_protocol::{ErrorCode, Event, EventEnvelope, FileName, Timestamp};
use serde_json::{Value, json};
use uuid::Uuid;

/// The most folders a folder's trash item remembers (to bring empty ones
/// back); folders holding files come back with their files regardless.
const MAX_REMEMBERED_FOLDERS: usize = 1000;

/// Where a command's work on one file came from: its id and trace.
#[derive(Clone, Copy)]
pub(super) struct Cause<'a> {
    pub(super) command_id: Uuid,
    pub(super) trace_id: &'a str,
    pub(super) producer: &'a str,
}

impl Consumers {
    /// `DeleteFile`: an uploaded file goes to the trash as an item of its
    /// own; an upload still under way is given up (it has no bytes to keep).
    pub(super) async fn delete_file(
        &self,
        incoming: &Incoming,
        consumer: &str,
        file_id: Uuid,
    ) -> Result<(), Retry> {
        let user = &incoming.user;
        let Some(file) = self.index.file(user, file_id).await.map_err(retry)? else {
            return self
                .gone(incoming, consumer, "The file was already gone.")
                .await;
        };
        let cause = self.cause(incoming, consumer);
        match file.status {
            FileStatus::Uploading => self.discard_upload(incoming, consumer, file).await,
            FileStatus::Available => {
                let trashed = self.trash_file(file, incoming.command_id, cause).await?;
                let event = self.trashed_event(&trashed, cause);
                self.finish(incoming, consumer, CommandStatus::Succeeded, vec![event])
                    .await
            }
            // Trashed by an earlier attempt that stopped before announcing.
            FileStatus::Trashed if file.trash_id == Some(incoming.command_id) => {
                let event = self.trashed_event(&file, cause);
                self.finish(incoming, consumer, CommandStatus::Succeeded, vec![event])
                    .await
            }
            FileStatus::Trashed => {
                self.fail(
                    incoming,
                    consumer,
                    ErrorCode::Conflict,
                    "The file is already in the trash.",
                )
                .await
            }
            FileStatus::Version | FileStatus::Deleting => {
                self.gone(incoming, consumer, "The file was already gone.")
                    .await
            }
        }
    }

    /// An upload deleted before its bytes arrived: removed, as before there
    /// was a trash (there is nothing to restore).
    async fn discard_upload(
        &self,
        incoming: &Incoming,
        consumer: &str,
        file: FileRecord,
    ) -> Result<(), Retry> {
        let trace = incoming.metadata.trace_id.as_str().to_owned();
        match self
            .clear(file, Some(incoming.command_id), Some(&trace))
            .await?
        {
            Some(file) => {
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
                self.gone(incoming, consumer, "The file was already gone.")
                    .await
            }
        }
    }

    pub(super) fn cause<'a>(&self, incoming: &'a Incoming, consumer: &'a str) -> Cause<'a> {
        Cause {
            command_id: incoming.command_id,
            trace_id: incoming.metadata.trace_id.as_str(),
            producer: consumer,
        }
    }

    /// Moves an available file to the trash as the item `trash_id` (its
    /// own): the item first, then the file, in one write. Returns the file
    /// as trashed.
    pub(super) async fn trash_file(
        &self,
        file: FileRecord,
        trash_id: Uuid,
        cause: Cause<'_>,
    ) -> Result<FileRecord, Retry> {
        let item = TrashItem {
            user: file.user.clone(),
            trash_id,
            kind: TrashKind::File,
            path: file.folder.clone(),
            name: file.name.as_str().to_owned(),
            file_id: Some(file.file_id),
            files: 1,
            bytes: file.size,
            folders: Vec::new(),
            trashed_at: self.now(),
        };
        self.index.put_trash(&item).await.map_err(retry)?;
        self.trash_record(file, trash_id, cause).await
    }

    /// One file's record moved into the trash item `trash_id`.
    async fn trash_record(
        &self,
        file: FileRecord,
        trash_id: Uuid,
        cause: Cause<'_>,
    ) -> Result<FileRecord, Retry> {
        let mut trashed = file.clone();
        trashed.status = FileStatus::Trashed;
        trashed.trash_id = Some(trash_id);
        trashed.version += 1;
        trashed.updated_at = self.now();
        trashed.command_id = Some(cause.command_id);
        trashed.trace_id = Some(cause.trace_id.to_owned());
        match self.index.update_file(&trashed, file.version).await {
            Ok(()) => Ok(trashed),
            // Changed meanwhile: the redelivery reads it again.
            Err(PortError::Conflict(m)) => Err(m),
            Err(error) => Err(retry(error)),
        }
    }

    pub(super) fn trashed_event(&self, file: &FileRecord, cause: Cause<'_>) -> EventEnvelope {
        crate::events::envelope_for(
            &file.user,
            Some(cause.trace_id),
            Some(cause.command_id),
            cause.producer,
            self.now(),
            Event::FileTrashed(FileTrashedV1 {
                file_id: file.file_id,
                folder: file.folder.clone(),
                name: file.name.clone(),
                trash_id: file.trash_id.unwrap_or(cause.command_id),
                version: file.version,
            }),
            &format!("FileTrashed:{}:{}", file.file_id, file.version),
        )
    }

    /// `DeleteFolder`: the folder, every folder under it and every uploaded
    /// file in them go to the trash as one item; uploads under way are
    /// given up.
    pub(super) async fn delete_folder(
        &self,
        incoming: &Incoming,
        consumer: &str,
        body: DeleteFolderV1,
    ) -> Result<(), Retry> {
        let user = &incoming.user;
        let trash_id = incoming.command_id;
        let item = match self.index.trash_item(user, trash_id).await.map_err(retry)? {
            Some(item) => item,
            None => {
                if !self
                    .index
                    .folder_exists(user, &body.path)
                    .await
                    .map_err(retry)?
                {
                    return self
                        .gone(incoming, consumer, "The folder was already gone.")
                        .await;
                }
                let item = self.folder_item(user, trash_id, &body).await?;
                self.index.put_trash(&item).await.map_err(retry)?;
                item
            }
        };
        let cause = self.cause(incoming, consumer);
        let trace = incoming.metadata.trace_id.as_str().to_owned();
        let mut cursor = None;
        loop {
            let page = self
                .index
                .files_under(user, &body.path, cursor.as_deref(), 200)
                .await
                .map_err(retry)?;
            for file in page.items {
                match file.status {
                    FileStatus::Available => {
                        self.trash_record(file, trash_id, cause).await?;
                    }
                    FileStatus::Uploading => {
                        if let Some(file) = self
                            .clear(file, Some(incoming.command_id), Some(&trace))
                            .await?
                        {
                            self.index
                                .remove_file(user, file.file_id, file.version)
                                .await
                                .map_err(retry)?;
                        }
                    }
                    _ => {}
                }
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        // Announced and finished before the folders go, so a crash after
        // dropping them can't turn into "already gone".
        let envelope = self.envelope(
            incoming,
            consumer,
            Event::FolderTrashed(FolderTrashedV1 {
                path: body.path.clone(),
                trash_id,
                files_trashed: item.files,
            }),
            &format!("FolderTrashed:{}", incoming.command_id),
        );
        self.announce(incoming, CommandStatus::Succeeded, &[envelope])
            .await?;
        self.index
            .remove_folder_tree(user, &body.path)
            .await
            .map_err(retry)?;
        self.noted(incoming, consumer).await
    }

    /// The trash item a folder becomes: its uploaded files counted, its
    /// folders listed, before anything moves.
    async fn folder_item(
        &self,
        user: &UserId,
        trash_id: Uuid,
        body: &DeleteFolderV1,
    ) -> Result<TrashItem, Retry> {
        let (mut files, mut bytes) = (0u64, 0u64);
        let mut cursor = None;
        loop {
            let page = self
                .index
                .files_under(user, &body.path, cursor.as_deref(), 1000)
                .await
                .map_err(retry)?;
            for file in &page.items {
                if file.status == FileStatus::Available {
                    files += 1;
                    bytes = bytes.saturating_add(file.size);
                }
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let mut folders = vec![body.path.clone()];
        let mut cursor = None;
        while folders.len() < MAX_REMEMBERED_FOLDERS {
            let page = self
                .index
                .folders_under(user, &body.path, cursor.as_deref(), 1000)
                .await
                .map_err(retry)?;
            folders.extend(page.items);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        folders.truncate(MAX_REMEMBERED_FOLDERS);
        Ok(TrashItem {
            user: user.clone(),
            trash_id,
            kind: TrashKind::Folder,
            path: body.path.clone(),
            name: body.path.name().unwrap_or_default().to_owned(),
            file_id: None,
            files,
            bytes,
            folders,
            trashed_at: self.now(),
        })
    }

    /// `RestoreTrashItem`: every file of the item back where it was. With
    /// `Fail`, a taken name fails the command before anything moves.
    pub(super) async fn restore_trash(
        &self,
        incoming: &Incoming,
        consumer: &str,
        body: RestoreTrashItemV1,
    ) -> Result<(), Retry> {
        let user = &incoming.user;
        let Some(item) = self
            .index
            .trash_item(user, body.trash_id)
            .await
            .map_err(retry)?
        else {
            return self
                .gone(incoming, consumer, "That is no longer in the trash.")
                .await;
        };
        let cause = self.cause(incoming, consumer);
        let progress = self.progress(incoming).await?;
        let earlier = self
            .displaced_before(user, progress.as_ref(), cause)
            .await?;
        if body.on_conflict == ConflictPolicy::Fail
            && let Some(taken) = self.first_taken(&item).await?
        {
            let message = format!(
                "A file named “{}” is already in “{}”.",
                taken.name,
                if taken.folder.is_root() {
                    "your files"
                } else {
                    taken.folder.as_str()
                }
            );
            return self
                .fail(incoming, consumer, ErrorCode::Conflict, &message)
                .await;
        }
        let mut last = None;
        let mut cursor = None;
        loop {
            let page = self.item_files(&item, cursor.as_deref()).await?;
            for file in page.items {
                last = Some(self.restore_file(file, body.on_conflict, cause).await?);
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        for folder in &item.folders {
            self.index
                .create_folder(user, folder, self.now())
                .await
                .map_err(retry)?;
        }
        let event = match item.kind {
            TrashKind::File => {
                // Restored by an earlier attempt that stopped before
                // announcing: the file as it is now.
                let (file, replaced) = match last {
                    Some(done) => done,
                    None => {
                        let file = match item.file_id {
                            Some(id) => self.index.file(user, id).await.map_err(retry)?,
                            None => None,
                        };
                        match file {
                            Some(file) if file.is_current() => (file, None),
                            _ => {
                                return self
                                    .gone(incoming, consumer, "That is no longer in the trash.")
                                    .await;
                            }
                        }
                    }
                };
                let replaced = replaced.or(earlier);
                self.envelope(
                    incoming,
                    consumer,
                    Event::FileRestored(FileRestoredV1 {
                        file_id: file.file_id,
                        folder: file.folder.clone(),
                        name: file.name.clone(),
                        size: file.size,
                        trash_id: item.trash_id,
                        version: file.version,
                        replaced,
                    }),
                    &format!("FileRestored:{}", incoming.command_id),
                )
            }
            TrashKind::Folder => self.envelope(
                incoming,
                consumer,
                Event::FolderRestored(FolderRestoredV1 {
                    path: item.path.clone(),
                    trash_id: item.trash_id,
                    files_restored: item.files,
                }),
                &format!("FolderRestored:{}", incoming.command_id),
            ),
        };
        self.announce(incoming, CommandStatus::Succeeded, &[event])
            .await?;
        self.index
            .remove_trash(user, item.trash_id)
            .await
            .map_err(retry)?;
        self.noted(incoming, consumer).await
    }

    /// A page of the files still in `item`, read as the index's strongly
    /// consistent reads see them (a file item's by its id, a folder's among
    /// the files under it), never through an index that may lag a write
    /// just made: a restore or a purge must not miss a file and then drop
    /// the item that named it.
    async fn item_files(
        &self,
        item: &TrashItem,
        cursor: Option<&str>,
    ) -> Result<Page<FileRecord>, Retry> {
        let ours =
            |f: &FileRecord| f.status == FileStatus::Trashed && f.trash_id == Some(item.trash_id);
        match item.kind {
            TrashKind::File => {
                let file = match item.file_id {
                    Some(id) => self.index.file(&item.user, id).await.map_err(retry)?,
                    None => None,
                };
                Ok(Page {
                    items: file.filter(ours).into_iter().collect(),
                    next_cursor: None,
                })
            }
            TrashKind::Folder => {
                let page = self
                    .index
                    .files_under(&item.user, &item.path, cursor, 500)
                    .await
                    .map_err(retry)?;
                Ok(Page {
                    items: page.items.into_iter().filter(ours).collect(),
                    next_cursor: page.next_cursor,
                })
            }
        }
    }

    /// The first file of `item` whose name is taken where it would go back.
    async fn first_taken(&self, item: &TrashItem) -> Result<Option<FileRecord>, Retry> {
        let mut cursor = None;
        loop {
            let page = self.item_files(item, cursor.as_deref()).await?;
            for file in page.items {
                if self
                    .index
                    .file_by_name(&file.user, &file.folder, file.name.as_str())
                    .await
                    .map_err(retry)?
                    .is_some()
                {
                    return Ok(Some(file));
                }
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(None),
            }
        }
    }

    /// One trashed file made current again, under its name or, when that
    /// is taken, as `policy` says: the file in the way goes to the trash
    /// (`Replace`) or the restored one gets a free name (otherwise: a name
    /// taken after the check of `Fail` keeps both rather than stop half
    /// way). Returns the file as restored and the one it displaced.
    async fn restore_file(
        &self,
        file: FileRecord,
        policy: ConflictPolicy,
        cause: Cause<'_>,
    ) -> Result<(FileRecord, Option<Uuid>), Retry> {
        let mut name: FileName = file.name.clone();
        let mut replaced = None;
        let mut attempt = 0u32;
        loop {
            let taken = self
                .index
                .file_by_name(&file.user, &file.folder, name.as_str())
                .await
                .map_err(retry)?;
            let Some(other) = taken else { break };
            if policy == ConflictPolicy::Replace && other.status == FileStatus::Available {
                replaced = Some(self.displace(other, cause).await?);
                continue;
            }
            attempt += 1;
            name = match numbered_name(&file.name, attempt) {
                Ok(next) if attempt <= 1000 => next,
                _ => return Err("no free name to restore the file under".to_owned()),
            };
        }
        let mut restored = file.clone();
        restored.status = FileStatus::Available;
        restored.trash_id = None;
        restored.name = name;
        restored.version += 1;
        restored.updated_at = self.now();
        restored.command_id = Some(cause.command_id);
        restored.trace_id = Some(cause.trace_id.to_owned());
        match self.index.update_file(&restored, file.version).await {
            Ok(()) => Ok((restored, replaced)),
            Err(PortError::Conflict(m)) => Err(m),
            Err(error) => Err(retry(error)),
        }
    }

    /// Moves `other`, in the way of the command's file, to the trash as an
    /// item of its own, and announces it. Noted with the command first, so
    /// an attempt after a crash before the announcement makes it
    /// ([`Self::displaced_before`]). Returns its id.
    pub(super) async fn displace(
        &self,
        other: FileRecord,
        cause: Cause<'_>,
    ) -> Result<Uuid, Retry> {
        self.index
            .note_progress(
                &other.user,
                cause.command_id,
                &json!({"displaced": other.file_id}),
            )
            .await
            .map_err(retry)?;
        let trash_id = Uuid::new_v5(&cause.command_id, other.file_id.as_bytes());
        let trashed = self.trash_file(other, trash_id, cause).await?;
        self.publish(&[self.trashed_event(&trashed, cause)]).await?;
        Ok(trashed.file_id)
    }

    /// The file an earlier attempt at the command moved out of the way (as
    /// noted as `displaced`, or as the `replaced` of a move's note),
    /// announced again (the same event, so once): its id.
    pub(super) async fn displaced_before(
        &self,
        user: &UserId,
        progress: Option<&Value>,
        cause: Cause<'_>,
    ) -> Result<Option<Uuid>, Retry> {
        let Some(id) = progress
            .and_then(|p| p.get("displaced").or_else(|| p.get("replaced")))
            .and_then(Value::as_str)
            .and_then(|id| Uuid::parse_str(id).ok())
        else {
            return Ok(None);
        };
        let trash_id = Uuid::new_v5(&cause.command_id, id.as_bytes());
        if let Some(file) = self.index.file(user, id).await.map_err(retry)?
            && file.status == FileStatus::Trashed
            && file.trash_id == Some(trash_id)
        {
            self.publish(&[self.trashed_event(&file, cause)]).await?;
        }
        Ok(Some(id))
    }

    /// `PurgeTrashItem`: the item's files and their versions deleted forever.
    pub(super) async fn purge_trash(
        &self,
        incoming: &Incoming,
        consumer: &str,
        trash_id: Uuid,
    ) -> Result<(), Retry> {
        let Some(item) = self
            .index
            .trash_item(&incoming.user, trash_id)
            .await
            .map_err(retry)?
        else {
            return self
                .gone(incoming, consumer, "That is no longer in the trash.")
                .await;
        };
        let cause = self.cause(incoming, consumer);
        let event = self.purge_item(&item, "purged", cause).await?;
        self.announce(incoming, CommandStatus::Succeeded, &[event])
            .await?;
        self.index
            .remove_trash(&incoming.user, trash_id)
            .await
            .map_err(retry)?;
        self.noted(incoming, consumer).await
    }

    /// Deletes a trash item's files and their versions (each announced
    /// with `FileDeleted`) and returns its `TrashItemPurged`; the caller
    /// publishes it and then removes the item. How many files went is
    /// noted with the item's first attempt, so a later one says the same.
    pub(super) async fn purge_item(
        &self,
        item: &TrashItem,
        reason: &str,
        cause: Cause<'_>,
    ) -> Result<EventEnvelope, Retry> {
        let user = &item.user;
        let mut deleted = 0u64;
        let mut cursor = None;
        loop {
            let page = self.item_files(item, cursor.as_deref()).await?;
            let next = page.next_cursor;
            for file in page.items {
                deleted += self.versions_beyond(&file, 0, cause).await?;
                if self
                    .remove(
                        file,
                        Some(cause.command_id),
                        Some(cause.trace_id),
                        cause.producer,
                    )
                    .await?
                {
                    deleted += 1;
                }
            }
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        Ok(crate::events::envelope_for(
            user,
            Some(cause.trace_id),
            Some(cause.command_id),
            cause.producer,
            self.now(),
            Event::TrashItemPurged(TrashItemPurgedV1 {
                trash_id: item.trash_id,
                files_deleted: deleted.max(item.files),
                reason: reason.to_owned(),
            }),
            &format!("TrashItemPurged:{}", item.trash_id),
        ))
    }

    /// `EmptyTrash`: every item deleted before the command was issued is
    /// purged (one deleted while it runs is left alone).
    pub(super) async fn empty_trash(
        &self,
        incoming: &Incoming,
        consumer: &str,
    ) -> Result<(), Retry> {
        let user = &incoming.user;
        let issued: Timestamp = incoming.metadata.occurred_at;
        let cause = self.cause(incoming, consumer);
        let mut purged = self
            .progress(incoming)
            .await?
            .and_then(|p| p.get("itemsPurged").and_then(Value::as_u64))
            .unwrap_or(0);
        let mut cursor = None;
        loop {
            let page = self
                .index
                .list_trash(user, cursor.as_deref(), 100)
                .await
                .map_err(retry)?;
            for item in page.items {
                if item.trashed_at > issued {
                    continue;
                }
                let event = self.purge_item(&item, "emptied", cause).await?;
                self.publish(&[event]).await?;
                self.index
                    .remove_trash(user, item.trash_id)
                    .await
                    .map_err(retry)?;
                purged += 1;
                self.index
                    .note_progress(user, incoming.command_id, &json!({"itemsPurged": purged}))
                    .await
                    .map_err(retry)?;
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let event = self.envelope(
            incoming,
            consumer,
            Event::TrashEmptied(TrashEmptiedV1 {
                items_purged: purged,
            }),
            &format!("TrashEmptied:{}", incoming.command_id),
        );
        self.finish(incoming, consumer, CommandStatus::Succeeded, vec![event])
            .await
    }
}
