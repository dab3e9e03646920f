//! The deleter: carries out `DeleteFile` and `DeleteFolder`. A file is
//! marked deleting, its object deleted, the command announced and finished,
//! and only then its record dropped, so a crash at any step is finished by
//! the redelivery (or the sweep) and never turns into "already gone".

use super::{Consumers, Incoming, Retry, retry};
use crate::model::CommandStatus;
use ferry_protocol::messages::{DeleteFolderV1, FolderDeletedV1};
use ferry_protocol::{Event, FolderPath};
use serde_json::{Value, json};
use uuid::Uuid;

impl Consumers {
    pub(super) async fn delete_file(
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
            return self
                .gone(incoming, consumer, "The file was already gone.")
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
                self.gone(incoming, consumer, "The file was already gone.")
                    .await
            }
        }
    }

    pub(super) async fn delete_folder(
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
            return self
                .gone(incoming, consumer, "The folder was already gone.")
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
            // The folder's files go quietly: `FolderDeleted` says it all.
            for file in page.items {
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
}
