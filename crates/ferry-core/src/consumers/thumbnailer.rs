//! The thumbnailer: a consumer of events the indexer and the deleter
//! already publish, added without touching them (issue 20).
//!
//! On `FileCreated` (v2; v1 is the same fact and is skipped) and on
//! `FileVersionRestored` when the file now current has no thumbnails yet,
//! for a file the [`Thumbnailer`](crate::ports::Thumbnailer) takes (by the
//! index's media type and name), it reads the object (at most the
//! thumbnailer's input limit: a larger file fails as `TooLarge` unread),
//! makes the thumbnails, stores them under `users/{sub}/thumbs/{file id}/`,
//! records the outcome on the file's record (a conditional write, read
//! again on a conflict), then publishes `ThumbnailCreated` or
//! `ThumbnailFailed`. Whatever the image does (damaged, a decompression
//! bomb, too slow) ends as `ThumbnailFailed`: only the store or the index
//! being unavailable is retried, so no image reaches the dead-letter queue.
//!
//! A redelivery publishes nothing new: the event is marked processed last,
//! an attempt that finds the outcome on the record announces it again
//! under the same derived event id (which the bus drops as a duplicate),
//! and a file trashed, replaced or deleted meanwhile is skipped quietly.
//!
//! On `FileDeleted` (the bytes are gone) it deletes the file's thumbnails.

use super::{Consumers, Retry, retry};
use crate::events::event_envelope;
use crate::model::{FileRecord, FileStatus, ThumbnailState, UserId};
use crate::ports::{ObjectRead, PortError, Thumbnail, ThumbnailRefusal};
use ferry_protocol::messages::{
    ThumbnailCode, ThumbnailCreatedV1, ThumbnailFailedV1, ThumbnailMade,
};
use ferry_protocol::{Event, EventEnvelope, Payload};
use serde_json::Value;
use uuid::Uuid;

/// The consumer's name: its rule, its marks and its events' producer.
pub const THUMBNAILER: &str = "thumbnailer";

/// How often a record that keeps changing under the thumbnailer is read
/// again before the event is retried later.
const WRITE_ATTEMPTS: usize = 5;

impl Consumers {
    /// The thumbnailer's rule: makes thumbnails of new images, removes
    /// those of deleted files.
    pub(super) async fn thumbnailer(&self, event: &Value) -> Result<(), Retry> {
        let Some(detail) = event.get("detail") else {
            return Ok(());
        };
        let Ok(envelope) = serde_json::from_value::<EventEnvelope>(detail.clone()) else {
            // Never retried: it will never parse.
            tracing::warn!("an unreadable event was dropped by the thumbnailer");
            return Ok(());
        };
        if envelope.data().is_older_edition() {
            return Ok(()); // the newest edition says the same
        }
        let Some(user) = envelope
            .metadata()
            .user_id
            .as_deref()
            .and_then(UserId::parse)
        else {
            return Ok(());
        };
        let event_id = envelope.metadata().event_id;
        match envelope.data() {
            Event::FileCreated(created) => {
                // Decided on what the index said when the file was
                // announced, before any port is called: most files are not
                // images, and cost the thumbnailer nothing.
                if !self.takes(&created.content_type, created.name.as_str()) {
                    return Ok(());
                }
                self.make_thumbnails(&user, created.file_id, event_id, true)
                    .await
            }
            Event::FileVersionRestored(restored) => {
                if self.thumbnailer.is_none() {
                    return Ok(());
                }
                self.make_thumbnails(&user, restored.file_id, event_id, false)
                    .await
            }
            Event::FileDeleted(deleted) => self.remove_thumbnails(&user, deleted.file_id).await,
            _ => Ok(()),
        }
    }

    fn takes(&self, content_type: &str, name: &str) -> bool {
        self.thumbnailer
            .as_ref()
            .is_some_and(|t| t.accepts(content_type, name))
    }

    /// Makes, stores, records and announces a file's thumbnails, once.
    /// `announce_again`: when the record already has an outcome (an
    /// attempt stopped after recording it), announce it again (a
    /// redelivery of `FileCreated`); a version made current that has
    /// thumbnails from before has nothing to announce.
    async fn make_thumbnails(
        &self,
        user: &UserId,
        file_id: Uuid,
        event_id: Uuid,
        announce_again: bool,
    ) -> Result<(), Retry> {
        let Some(thumbnailer) = self.thumbnailer.clone() else {
            return Ok(());
        };
        if self
            .index
            .was_processed(THUMBNAILER, user, event_id)
            .await
            .map_err(retry)?
        {
            return Ok(());
        }
        // The user's own file, by the event's user: another user's file id
        // finds nothing here, and nothing of theirs is read.
        let file = self.index.file(user, file_id).await.map_err(retry)?;
        let file = match file {
            Some(file)
                if file.status == FileStatus::Available
                    && thumbnailer.accepts(&file.content_type, file.name.as_str()) =>
            {
                file
            }
            // Gone, trashed, replaced, or not an image after all: nothing
            // to make, nothing to say.
            _ => return self.thumbnails_noted(user, event_id).await,
        };
        if let Some(state) = &file.thumbnail {
            if announce_again {
                self.publish(&[self.thumbnail_event(&file, state)]).await?;
            }
            return self.thumbnails_noted(user, event_id).await;
        }
        let limit = thumbnailer.max_input_bytes();
        let made = if file.size > limit {
            Err(too_large(file.size, limit))
        } else {
            match self
                .objects
                .read(&user.object_key(file_id), limit)
                .await
                .map_err(retry)?
            {
                ObjectRead::Bytes(bytes) => thumbnailer.make(bytes).await,
                ObjectRead::TooLarge { size } => Err(too_large(size, limit)),
                // Deleted behind the index's back: the indexer's to repair.
                ObjectRead::Missing => return self.thumbnails_noted(user, event_id).await,
            }
        };
        let state = match made {
            Ok(thumbnails) => {
                self.store_thumbnails(user, file_id, &thumbnails).await?;
                ThumbnailState::Ready {
                    sizes: thumbnails.iter().map(made_of).collect(),
                }
            }
            Err(refusal) => {
                tracing::info!(%file_id, code = refusal.code.as_str(), reason = %refusal.reason, "no thumbnail");
                ThumbnailState::Failed {
                    code: refusal.code,
                    reason: refusal.reason,
                }
            }
        };
        match self.record_thumbnail(file, &state).await? {
            Some(file) => {
                let recorded = file.thumbnail.as_ref().unwrap_or(&state);
                self.publish(&[self.thumbnail_event(&file, recorded)])
                    .await?;
            }
            // The file went while its thumbnails were made: theirs go too.
            None => self.remove_thumbnails(user, file_id).await?,
        }
        self.thumbnails_noted(user, event_id).await
    }

    async fn store_thumbnails(
        &self,
        user: &UserId,
        file_id: Uuid,
        thumbnails: &[Thumbnail],
    ) -> Result<(), Retry> {
        for thumbnail in thumbnails {
            self.objects
                .put_derived(
                    &user.thumbnail_key(file_id, thumbnail.size),
                    thumbnail.bytes.clone(),
                    &thumbnail.content_type,
                )
                .await
                .map_err(retry)?;
        }
        Ok(())
    }

    /// Writes `state` on the file's record, conditionally on its version,
    /// reading it again when another consumer changed it meanwhile.
    /// Returns the record as written (or as found with an outcome already
    /// there), or `None` when the file is no longer available.
    async fn record_thumbnail(
        &self,
        mut file: FileRecord,
        state: &ThumbnailState,
    ) -> Result<Option<FileRecord>, Retry> {
        for _ in 0..WRITE_ATTEMPTS {
            if file.status != FileStatus::Available {
                return Ok(None);
            }
            if file.thumbnail.is_some() {
                return Ok(Some(file));
            }
            let mut next = file.clone();
            next.thumbnail = Some(state.clone());
            // The version moves, so other consumers' conditional writes see
            // the change; the time the person sees as "modified" doesn't.
            next.version += 1;
            match self.index.update_file(&next, file.version).await {
                Ok(()) => return Ok(Some(next)),
                Err(PortError::NotFound(_)) => return Ok(None),
                Err(PortError::Conflict(_)) => {
                    match self
                        .index
                        .file(&file.user, file.file_id)
                        .await
                        .map_err(retry)?
                    {
                        Some(current) => file = current,
                        None => return Ok(None),
                    }
                }
                Err(error) => return Err(retry(error)),
            }
        }
        Err(format!(
            "the record of {} kept changing under the thumbnailer",
            file.file_id
        ))
    }

    /// The event announcing a recorded outcome; its id is derived from the
    /// file, so announcing it again is the same event.
    fn thumbnail_event(&self, file: &FileRecord, state: &ThumbnailState) -> EventEnvelope {
        let (event, key) = match state {
            ThumbnailState::Ready { sizes } => (
                Event::ThumbnailCreated(ThumbnailCreatedV1 {
                    file_id: file.file_id,
                    sizes: sizes.clone(),
                    source_sha256: file.sha256.clone(),
                }),
                "ThumbnailCreated",
            ),
            ThumbnailState::Failed { code, reason } => (
                Event::ThumbnailFailed(ThumbnailFailedV1 {
                    file_id: file.file_id,
                    code: *code,
                    reason: reason.clone(),
                }),
                "ThumbnailFailed",
            ),
        };
        debug_assert_eq!(event.action(), key);
        event_envelope(
            file,
            None,
            THUMBNAILER,
            self.now(),
            event,
            &format!("{key}:{}", file.file_id),
        )
    }

    async fn thumbnails_noted(&self, user: &UserId, event_id: Uuid) -> Result<(), Retry> {
        self.index
            .mark_processed(THUMBNAILER, user, event_id, self.now())
            .await
            .map_err(retry)
    }

    /// Deletes every thumbnail of a file (there are none for most files:
    /// one listing finds that out).
    pub(super) async fn remove_thumbnails(
        &self,
        user: &UserId,
        file_id: Uuid,
    ) -> Result<(), Retry> {
        let prefix = user.thumbnails_prefix(file_id);
        let found = self.objects.list(&prefix, None, 16).await.map_err(retry)?;
        for object in found {
            self.objects.delete(&object.key).await.map_err(retry)?;
        }
        Ok(())
    }
}

fn made_of(thumbnail: &Thumbnail) -> ThumbnailMade {
    ThumbnailMade {
        size: thumbnail.size,
        width: thumbnail.width,
        height: thumbnail.height,
        content_type: thumbnail.content_type.clone(),
    }
}

fn too_large(size: u64, limit: u64) -> ThumbnailRefusal {
    const MIB: u64 = 1024 * 1024;
    ThumbnailRefusal {
        code: ThumbnailCode::TooLarge,
        reason: format!(
            "The file is {} MiB; thumbnails are made of images up to {} MiB.",
            size.div_ceil(MIB),
            limit / MIB
        ),
    }
}
