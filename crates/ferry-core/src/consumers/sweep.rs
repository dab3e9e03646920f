//! The reconciliation sweep: what a crash or a lost event left behind,
//! repaired on a schedule.

use super::trash::Cause;
use super::{Consumers, Retry, retry};
use crate::events::event_envelope;
use crate::model::{CommandStatus, FileRecord, FileStatus, UserId};
use ferry_protocol::messages::UploadAbortedV1;
use ferry_protocol::{Event, EventEnvelope, FolderPath, Timestamp};
use std::time::Duration;

/// What one sweep repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Uploads idle for a day, aborted.
    pub uploads_aborted: u64,
    /// Uploads whose object arrived but whose event was lost, indexed.
    pub uploads_indexed: u64,
    /// Uploads an earlier sweep made available but stopped (a crash)
    /// before announcing, announced.
    pub uploads_announced: u64,
    /// Deletes left half done, finished.
    pub deletes_finished: u64,
    /// Objects with no index entry, deleted.
    pub orphan_objects: u64,
    /// Thumbnails whose file has no index entry, deleted.
    pub orphan_thumbnails: u64,
    /// Index entries with no object, removed.
    pub orphan_entries: u64,
    /// Trash items past the retention, purged.
    pub trash_purged: u64,
    /// Versions past the retention, deleted.
    pub versions_expired: u64,
}

impl Consumers {
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
            if self.remove(file, None, None, "sweep").await? {
                report.deletes_finished += 1;
            }
        }
        // The trash past its retention.
        let trash_since = Timestamp::new(now.get() - self.retention.trash);
        for item in self
            .index
            .trash_before(trash_since, 200)
            .await
            .map_err(retry)?
        {
            let cause = Cause {
                command_id: item.trash_id,
                trace_id: "",
                producer: "sweep",
            };
            let event = self.purge_item(&item, "expired", cause).await?;
            self.publish(&[event]).await?;
            if self
                .index
                .remove_trash(&item.user, item.trash_id)
                .await
                .map_err(retry)?
            {
                report.trash_purged += 1;
            }
        }
        // Versions past theirs.
        let versions_since = Timestamp::new(now.get() - self.retention.version_age);
        for version in self
            .index
            .files_with_status(FileStatus::Version, versions_since, 1000)
            .await
            .map_err(retry)?
        {
            if self.remove(version, None, None, "sweep").await? {
                report.versions_expired += 1;
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
                    continue;
                }
                // A thumbnail lives as long as its file's record, whatever
                // the file's status (a trashed file or a version keeps its
                // thumbnails for when it comes back).
                if let Some((user, id, _)) = UserId::parse_thumbnail_key(&object.key)
                    && self.index.file(&user, id).await.map_err(retry)?.is_none()
                {
                    self.objects.delete(&object.key).await.map_err(retry)?;
                    report.orphan_thumbnails += 1;
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
                        if self.objects.head(&key).await.map_err(retry)?.is_none() {
                            if self.remove(file, None, None, "sweep").await? {
                                report.orphan_entries += 1;
                            }
                            continue;
                        }
                        // Changed in the last `upload_idle`, at least that long
                        // after it was created: perhaps made available by a
                        // sweep (above) that stopped before announcing it,
                        // and its lost `Object Created` won't come to do that.
                        // Announced while its `CreateFile` is pending. (A read
                        // of the command for these few files only, each
                        // for a day at most: a later rename matches too.)
                        if file.updated_at >= idle_since
                            && file.updated_at.get() - file.created_at.get() >= upload_idle
                            && self.announce_available(&file).await?
                        {
                            report.uploads_announced += 1;
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
