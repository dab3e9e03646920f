//! The mover: carries out `MoveFile` (a rename is a move within a folder)
//! and `CreateFolder`. Where the file was is noted with the command before
//! it moves, so an attempt after a crash announces the move it made.

use super::{Consumers, Incoming, Retry, retry};
use crate::model::{CommandStatus, FileStatus};
use crate::names::numbered_name;
use crate::ports::PortError;
use ferry_protocol::messages::{ConflictPolicy, FileMovedV1, FolderCreatedV1, MoveFileV1};
use ferry_protocol::{ErrorCode, Event, FileName, FolderPath};
use uuid::Uuid;

/// Where a moved file was: noted with its `MoveFile` before the move.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct MovedFrom {
    from_folder: FolderPath,
    from_name: FileName,
    /// The file that was in the way, sent to the trash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replaced: Option<Uuid>,
}

impl Consumers {
    pub(super) async fn move_file(
        &self,
        incoming: &Incoming,
        consumer: &str,
        body: MoveFileV1,
    ) -> Result<(), Retry> {
        let user = &incoming.user;
        let Some(file) = self.index.file(user, body.file_id).await.map_err(retry)? else {
            return self.gone(incoming, consumer, "The file is gone.").await;
        };
        if file.status != FileStatus::Available {
            return self
                .fail(
                    incoming,
                    consumer,
                    ErrorCode::Conflict,
                    file.status.not_movable(),
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
                    replaced: from.replaced,
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
        let progress = self.progress(incoming).await?;
        let mut replaced = self
            .displaced_before(user, progress.as_ref(), self.cause(incoming, consumer))
            .await?;
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
                    ConflictPolicy::Replace if other.status == FileStatus::Available => {
                        // The file in the way goes to the trash, as an item
                        // of its own, announced as it goes.
                        let cause = self.cause(incoming, consumer);
                        replaced = Some(self.displace(other, cause).await?);
                    }
                    ConflictPolicy::Replace => {
                        // An upload still under way has nothing to keep.
                        let trace = incoming.metadata.trace_id.as_str().to_owned();
                        self.remove(other, Some(incoming.command_id), Some(&trace), consumer)
                            .await?;
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
                        replaced,
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
                replaced,
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

    /// `CreateFolder`: the folder and its parents exist afterwards, however
    /// often it is delivered.
    pub(super) async fn create_folder(
        &self,
        incoming: &Incoming,
        consumer: &str,
        path: FolderPath,
    ) -> Result<(), Retry> {
        self.index
            .create_folder(&incoming.user, &path, self.now())
            .await
            .map_err(retry)?;
        let envelope = self.envelope(
            incoming,
            consumer,
            Event::FolderCreated(FolderCreatedV1 { path }),
            &format!("FolderCreated:{}", incoming.command_id),
        );
        self.finish(incoming, consumer, CommandStatus::Succeeded, vec![envelope])
            .await
    }
}
