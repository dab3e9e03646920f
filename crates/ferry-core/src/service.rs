//! The file service: what the API does with a caller's command or query.
//!
//! `CreateFile`, `CompleteUpload` and `AbortUpload` are answered
//! synchronously (the browser needs the upload instructions). Every other
//! command is storage-first: it is recorded and put on the bus before the API
//! answers that it was accepted, and a consumer ([`crate::consumers`])
//! carries it out. The answers are typed ([`CommandAnswer`]); the API
//! chooses their HTTP statuses.
//!
//! Idempotency: a command id is recorded with the hash of its request and the
//! answer given; the same id again gets the same answer and has no second
//! effect, the same id with another request is refused.

use crate::clock::Clock;
use crate::error::{DomainError, DomainResult};
use crate::events::{command_entry, event_entries, event_envelope};
use crate::model::{
    CommandRecord, CommandStatus, Entry, FileRecord, FileStatus, ListQuery, MAX_PAGE, SortKey,
    ThumbnailState, TrashItem, TrashKind, UserId,
};
use crate::ports::{
    Bus, Index, ObjectStore, PortError, Presigned, PutCommand, PutLimits, Thumbnailer,
};
use base64::Engine as _;
use ferry_protocol::api::{
    Accepted, CommandView, CreateFileResponse, DownloadResponse, EntryView, FileView, FolderView,
    ListResponse, MAX_THUMBNAIL_IDS, MultipartView, PartUpload, PartWanted, PartsResponse,
    PresignedRequest, SearchResponse, ThumbnailLink, ThumbnailLinkState, ThumbnailReadiness,
    ThumbnailView, ThumbnailsResponse, TrashItemView, TrashPage, UploadInstructions,
    UploadResponse, UploadedPartView, UploadedPartsResponse, UsageView, VersionsPage,
};
use ferry_protocol::messages::{
    CompleteUploadV1, ConflictPolicy, CreateFileV1, ThumbnailSize, UploadAbortedV1,
};
use ferry_protocol::{
    Command, CommandEnvelope, ErrorCode, Event, FolderPath, Metadata, Timestamp, TraceId,
};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

pub use crate::names::{hex, numbered_name};

pub use ferry_protocol::api::{DEFAULT_PART_SIZE, MAX_PARTS, MIN_PART_SIZE, part_size_for};
/// S3's largest object.
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024 * 1024;
/// The longest a download URL lives.
pub const MAX_DOWNLOAD_TTL: Duration = Duration::from_secs(15 * 60);

/// How the file service is tuned.
#[derive(Debug, Clone)]
pub struct FileSettings {
    /// The most bytes a user may store; `None` for no quota.
    pub quota_bytes: Option<u64>,
    /// The largest file accepted.
    pub max_file_bytes: u64,
    /// Files at least this large are uploaded in parts.
    pub multipart_threshold: u64,
    /// The size of those parts ([`part_size_for`]).
    pub part_size: u64,
    /// How long upload URLs live.
    pub upload_ttl: Duration,
    /// How long download URLs live (at most [`MAX_DOWNLOAD_TTL`]).
    pub download_ttl: Duration,
    /// How many part URLs `CreateFile` returns up front.
    pub first_parts: u32,
    /// Whether browsers sign each part's SHA-256 (as their configuration
    /// says); a multipart upload is started accordingly.
    pub part_checksums: bool,
    /// How long the trash and versions are kept (the consumers and the
    /// sweep keep it; the API tells clients).
    pub retention: crate::model::Retention,
}

impl Default for FileSettings {
    fn default() -> Self {
        Self {
            quota_bytes: None,
            max_file_bytes: MAX_OBJECT_SIZE,
            multipart_threshold: 64 * 1024 * 1024,
            part_size: DEFAULT_PART_SIZE,
            upload_ttl: Duration::from_secs(60 * 60),
            download_ttl: MAX_DOWNLOAD_TTL,
            first_parts: 16,
            part_checksums: true,
            retention: crate::model::Retention::default(),
        }
    }
}

/// Who is asking: the token's subject and the request's trace id.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: UserId,
    /// The trace id of the request.
    pub trace_id: TraceId,
}

/// What the file service answers a command with. It serializes as the
/// answer's body; which HTTP status each kind gets is the API's choice.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum CommandAnswer {
    /// `CreateFile`: the new file and where to send its bytes.
    Created(Box<CreateFileResponse>),
    /// `CompleteUpload` or `AbortUpload`: the upload step is done. (Boxed:
    /// a file's view is large beside the other answers.)
    UploadStep(Box<UploadResponse>),
    /// Any other command: recorded and on the bus; a consumer carries it out.
    Accepted(Accepted),
}

impl CommandAnswer {
    /// The answer as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Which kind of answer a command gets follows from its action alone, so a
/// command record keeps only the answer's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AnswerKind {
    Created,
    UploadStep,
    Accepted,
}

impl AnswerKind {
    fn of(action: &str) -> Self {
        match action {
            "CreateFile" => Self::Created,
            "CompleteUpload" | "AbortUpload" => Self::UploadStep,
            _ => Self::Accepted,
        }
    }
}

/// A recorded answer's body read back; it was written from the same type.
fn recorded<T: serde::de::DeserializeOwned>(body: serde_json::Value) -> DomainResult<T> {
    serde_json::from_value(body).map_err(|e| {
        DomainError::from(PortError::Other(format!(
            "a recorded command answer doesn't read back: {e}"
        )))
    })
}

/// How many parts a file of `size` has at `part_size`.
pub fn part_count(size: u64, part_size: u64) -> u32 {
    u32::try_from(size.div_ceil(part_size).max(1)).unwrap_or(u32::MAX)
}

/// The exact size of part `n` (1-based).
pub fn part_len(size: u64, part_size: u64, n: u32) -> u64 {
    let start = u64::from(n - 1) * part_size;
    size.saturating_sub(start).min(part_size)
}

/// The file service.
#[derive(Debug, Clone)]
pub struct Files {
    objects: Arc<dyn ObjectStore>,
    index: Arc<dyn Index>,
    bus: Arc<dyn Bus>,
    clock: Arc<dyn Clock>,
    settings: FileSettings,
    thumbnailer: Option<Arc<dyn Thumbnailer>>,
}

impl Files {
    /// The service over its ports.
    pub fn new(
        objects: Arc<dyn ObjectStore>,
        index: Arc<dyn Index>,
        bus: Arc<dyn Bus>,
        clock: Arc<dyn Clock>,
        settings: FileSettings,
    ) -> Self {
        Self {
            objects,
            index,
            bus,
            clock,
            settings,
            thumbnailer: None,
        }
    }

    /// The same service knowing which files get thumbnails (so it can
    /// tell a thumbnail still to come from none at all).
    #[must_use]
    pub fn with_thumbnailer(mut self, thumbnailer: Arc<dyn Thumbnailer>) -> Self {
        self.thumbnailer = Some(thumbnailer);
        self
    }

    /// The settings.
    pub fn settings(&self) -> &FileSettings {
        &self.settings
    }

    fn now(&self) -> Timestamp {
        Timestamp::new(self.clock.now())
    }

    /// Handles one command envelope from `caller`. `raw` is the request body
    /// as sent, hashed for idempotency.
    pub async fn command(
        &self,
        caller: &Caller,
        envelope: CommandEnvelope,
        raw: &[u8],
    ) -> DomainResult<CommandAnswer> {
        let (metadata, command) = envelope.into_parts();
        let command_id = metadata.command_id.unwrap_or(metadata.event_id);
        if command_id != metadata.event_id {
            return Err(DomainError::invalid(
                "A command's EventId and CommandId must be the same.",
            ));
        }
        let request_hash = hex(&Sha256::digest(raw));
        let action = command_action(&command);

        // A retry: the same answer, and no second effect.
        if let Some(existing) = self.index.command(&caller.user, command_id).await? {
            return self.replay(caller, existing, &request_hash).await;
        }

        // The metadata the server keeps: the caller can't speak for another
        // user, and the time is the server's.
        let metadata = Metadata {
            event_id: command_id,
            trace_id: caller.trace_id.clone(),
            command_id: Some(command_id),
            occurred_at: self.now(),
            producer: "api".to_owned(),
            user_id: Some(caller.user.as_str().to_owned()),
        };

        match command {
            Command::CreateFile(body) => {
                self.create_file(caller, command_id, metadata, body, request_hash)
                    .await
            }
            Command::CompleteUpload(body) => {
                self.complete_upload(caller, command_id, body, request_hash)
                    .await
            }
            Command::AbortUpload(body) => {
                let file = self.owned_file(&caller.user, body.file_id).await?;
                self.abort(&file, "cancelled", Some(command_id)).await?;
                let answer = CommandAnswer::UploadStep(Box::new(UploadResponse {
                    command_id,
                    file: None,
                }));
                self.record_sync(caller, command_id, action, request_hash, answer)
                    .await
            }
            command => {
                self.check_async(&caller.user, &command).await?;
                let envelope = CommandEnvelope::new(metadata, command);
                self.accept(caller, command_id, action, request_hash, envelope)
                    .await
            }
        }
    }

    /// Answers a command id seen before.
    async fn replay(
        &self,
        caller: &Caller,
        existing: CommandRecord,
        request_hash: &str,
    ) -> DomainResult<CommandAnswer> {
        if existing.request_hash != request_hash {
            return Err(DomainError::conflict(
                "This CommandId was already used for a different request; use a new id.",
            ));
        }
        let kind = AnswerKind::of(&existing.action);
        let body = existing.response.get("body").cloned().unwrap_or_default();
        // A retried CreateFile gets fresh upload URLs while it uploads.
        if kind == AnswerKind::Created {
            // The id the first answer named (a record kept from before ids
            // were derived with their user names the file it made).
            let file_id = body
                .pointer("/file/fileId")
                .and_then(serde_json::Value::as_str)
                .and_then(|id| Uuid::parse_str(id).ok())
                .unwrap_or_else(|| command_id_to_file_id(&caller.user, existing.command_id));
            if let Some(file) = self.index.file(&caller.user, file_id).await? {
                let key = caller.user.object_key(file_id);
                let sha = match &file.sha256 {
                    Some(h) => Some(parse_sha256_hex(h)?),
                    None => None,
                };
                if file.status == FileStatus::Uploading {
                    let upload = self.instructions(&file, &key, sha.as_deref()).await?;
                    return Ok(CommandAnswer::Created(Box::new(CreateFileResponse {
                        command_id: existing.command_id,
                        file: file_view(&file),
                        upload,
                    })));
                }
            }
        }
        // Stored but maybe not yet on the bus (a crash between the two
        // steps): put it there again. The bus drops the duplicate.
        if kind == AnswerKind::Accepted
            && existing.status == CommandStatus::Pending
            && let Some(envelope) = existing.response.get("envelope")
        {
            self.bus
                .put(vec![command_entry(
                    existing.action.clone(),
                    envelope.clone(),
                )])
                .await?;
        }
        Ok(match kind {
            AnswerKind::Created => CommandAnswer::Created(Box::new(recorded(body)?)),
            AnswerKind::UploadStep => CommandAnswer::UploadStep(Box::new(recorded(body)?)),
            // Rebuilt from the record (it is all the answer says).
            AnswerKind::Accepted => CommandAnswer::Accepted(Accepted {
                command_id: existing.command_id,
                action: existing.action,
                status: CommandStatus::Pending.as_str().to_owned(),
            }),
        })
    }

    /// Storage first: record the command, put it on the bus, then say yes.
    async fn accept(
        &self,
        caller: &Caller,
        command_id: Uuid,
        action: &'static str,
        request_hash: String,
        envelope: CommandEnvelope,
    ) -> DomainResult<CommandAnswer> {
        let answer = CommandAnswer::Accepted(Accepted {
            command_id,
            action: action.to_owned(),
            status: CommandStatus::Pending.as_str().to_owned(),
        });
        let wire = serde_json::to_value(&envelope).unwrap_or_default();
        let record = CommandRecord {
            user: caller.user.clone(),
            command_id,
            action: action.to_owned(),
            request_hash,
            response: serde_json::json!({"body": answer.to_json(), "envelope": wire}),
            status: CommandStatus::Pending,
            result: None,
            progress: None,
            accepted_at: self.now(),
            finished_at: None,
        };
        match self.index.put_command(&record).await? {
            PutCommand::Inserted => {}
            // A concurrent retry got there first.
            PutCommand::Existing(existing) => {
                return self.replay(caller, *existing, &record.request_hash).await;
            }
        }
        self.bus
            .put(vec![command_entry(action.to_owned(), wire)])
            .await?;
        Ok(answer)
    }

    /// Records a command answered synchronously, so a retry gets the answer.
    async fn record_sync(
        &self,
        caller: &Caller,
        command_id: Uuid,
        action: &'static str,
        request_hash: String,
        answer: CommandAnswer,
    ) -> DomainResult<CommandAnswer> {
        let record = CommandRecord {
            user: caller.user.clone(),
            command_id,
            action: action.to_owned(),
            request_hash,
            response: serde_json::json!({"body": answer.to_json()}),
            status: if action == "CreateFile" {
                CommandStatus::Pending
            } else {
                CommandStatus::Succeeded
            },
            result: None,
            progress: None,
            accepted_at: self.now(),
            finished_at: None,
        };
        match self.index.put_command(&record).await? {
            PutCommand::Inserted => Ok(answer),
            PutCommand::Existing(existing) => {
                self.replay(caller, *existing, &record.request_hash).await
            }
        }
    }

    /// Refuses an asynchronous command that can't succeed: its file isn't
    /// the caller's, or its folder is the root.
    async fn check_async(&self, user: &UserId, command: &Command) -> DomainResult<()> {
        match command {
            Command::DeleteFile(body) => {
                let file = self.owned_file(user, body.file_id).await?;
                match file.status {
                    FileStatus::Trashed => {
                        return Err(DomainError::conflict("The file is already in the trash."));
                    }
                    FileStatus::Version | FileStatus::Deleting => {
                        return Err(DomainError::not_found("file"));
                    }
                    FileStatus::Uploading | FileStatus::Available => {}
                }
            }
            Command::MoveFile(body) => {
                let file = self.owned_file(user, body.file_id).await?;
                if file.status != FileStatus::Available {
                    return Err(DomainError::conflict(file.status.not_movable()));
                }
            }
            Command::RestoreTrashItem(body) => {
                self.owned_trash(user, body.trash_id).await?;
            }
            Command::PurgeTrashItem(body) => {
                self.owned_trash(user, body.trash_id).await?;
            }
            Command::RestoreVersion(body) => {
                let file = self
                    .owned_version(user, body.file_id, body.version_id)
                    .await?;
                if file.status != FileStatus::Available {
                    return Err(DomainError::conflict(file.status.not_movable()));
                }
            }
            Command::DeleteVersion(body) => {
                self.owned_version(user, body.file_id, body.version_id)
                    .await?;
            }
            Command::DeleteFolder(body) => {
                if body.path.is_root() {
                    return Err(DomainError::invalid("The root folder can't be deleted."));
                }
                if !self.index.folder_exists(user, &body.path).await? {
                    return Err(DomainError::not_found("folder"));
                }
            }
            Command::CreateFolder(body) if body.path.is_root() => {
                return Err(DomainError::invalid("The root folder always exists."));
            }
            _ => {}
        }
        Ok(())
    }

    /// A trash item of `user`'s; another user's is "not found" alike.
    async fn owned_trash(&self, user: &UserId, trash_id: Uuid) -> DomainResult<TrashItem> {
        self.index
            .trash_item(user, trash_id)
            .await?
            .ok_or_else(|| DomainError::not_found("trash item"))
    }

    /// A file of `user`'s and one of its versions: the file, when
    /// `version_id` is a version of its lineage.
    async fn owned_version(
        &self,
        user: &UserId,
        file_id: Uuid,
        version_id: Uuid,
    ) -> DomainResult<FileRecord> {
        let file = self.owned_file(user, file_id).await?;
        let version = self.owned_file(user, version_id).await.ok();
        match version {
            Some(v) if v.status == FileStatus::Version && v.lineage() == file.lineage() => Ok(file),
            _ => Err(DomainError::not_found("version")),
        }
    }

    /// A page of the user's trash, the most recently deleted first.
    pub async fn trash(
        &self,
        user: &UserId,
        cursor: Option<&str>,
        limit: u32,
    ) -> DomainResult<TrashPage> {
        let page = self
            .index
            .list_trash(user, cursor, limit.clamp(1, MAX_PAGE))
            .await?;
        let usage = self.index.usage(user).await?;
        Ok(TrashPage {
            items: page.items.iter().map(trash_view).collect(),
            next_cursor: page.next_cursor,
            trash_bytes: usage.trash_bytes,
            retention_days: self.settings.retention.trash.as_secs() / 86_400,
        })
    }

    /// A current file's versions, the newest first (at most a page).
    pub async fn versions(
        &self,
        user: &UserId,
        file_id: Uuid,
        cursor: Option<&str>,
        limit: u32,
    ) -> DomainResult<VersionsPage> {
        let file = self.owned_file(user, file_id).await?;
        if !file.is_current() {
            return Err(DomainError::not_found("file"));
        }
        let page = self
            .index
            .versions(user, file.lineage(), cursor, limit.clamp(1, MAX_PAGE))
            .await?;
        Ok(VersionsPage {
            file: file_view(&file),
            versions: page.items.iter().map(file_view).collect(),
            next_cursor: page.next_cursor,
            keep_versions: self.settings.retention.keep_versions,
            version_days: self.settings.retention.version_age.as_secs() / 86_400,
        })
    }

    /// A file of `user`'s; another user's file is "not found" alike.
    pub async fn owned_file(&self, user: &UserId, file_id: Uuid) -> DomainResult<FileRecord> {
        self.index
            .file(user, file_id)
            .await?
            .ok_or_else(|| DomainError::not_found("file"))
    }

    async fn create_file(
        &self,
        caller: &Caller,
        command_id: Uuid,
        metadata: Metadata,
        body: CreateFileV1,
        request_hash: String,
    ) -> DomainResult<CommandAnswer> {
        let limit = self.settings.max_file_bytes.min(MAX_OBJECT_SIZE);
        if body.size > limit {
            return Err(DomainError::new(
                ErrorCode::TooLarge,
                format!(
                    "“{}” is {} bytes; the largest file allowed is {limit} bytes.",
                    body.name, body.size
                ),
            ));
        }
        if body.content_type.is_empty()
            || body.content_type.len() > 255
            || !body
                .content_type
                .bytes()
                .all(|b| b.is_ascii_graphic() || b == b' ')
        {
            return Err(DomainError::invalid(
                "The content type must be a media type such as “image/png”.",
            ));
        }
        let sha256 = match &body.sha256 {
            Some(hex_digest) => Some(parse_sha256_hex(hex_digest)?),
            None => None,
        };

        let now = self.now();
        let file_id = command_id_to_file_id(&caller.user, command_id);
        let multipart = body.size >= self.settings.multipart_threshold.max(1);
        let part_size = multipart.then(|| part_size_for(body.size, self.settings.part_size));
        let mut record = FileRecord {
            user: caller.user.clone(),
            file_id,
            folder: body.folder.clone(),
            name: body.name.clone(),
            status: FileStatus::Uploading,
            size: body.size,
            content_type: body.content_type.clone(),
            sha256: sha256.as_ref().map(|d| hex(d)),
            etag: None,
            upload_id: None,
            part_size,
            command_id: Some(command_id),
            trace_id: Some(metadata.trace_id.as_str().to_owned()),
            version: 1,
            created_at: now,
            updated_at: now,
            lineage: None,
            trash_id: None,
            thumbnail: None,
        };

        // The name: taken → fail, keep both (a free name) or replace.
        let replacing = body.on_conflict == ConflictPolicy::Replace;
        let key = caller.user.object_key(file_id);
        // A retry after a crash between storing the file and recording the
        // command: the file is there already; answer with it.
        if let Some(existing) = self.index.file(&caller.user, file_id).await? {
            let upload = self
                .instructions(&existing, &key, sha256.as_deref())
                .await?;
            let answer = CommandAnswer::Created(Box::new(CreateFileResponse {
                command_id,
                file: file_view(&existing),
                upload,
            }));
            return self
                .record_sync(caller, command_id, "CreateFile", request_hash, answer)
                .await;
        }
        if multipart {
            record.upload_id = Some(
                self.objects
                    .create_multipart(&key, &body.content_type, self.settings.part_checksums)
                    .await?,
            );
        }
        if let Err(error) = self.insert_named(&mut record, &body, replacing).await {
            if let Some(upload_id) = &record.upload_id {
                let _ = self.objects.abort_multipart(&key, upload_id).await;
            }
            return Err(error);
        }

        let upload = self.instructions(&record, &key, sha256.as_deref()).await?;
        let answer = CommandAnswer::Created(Box::new(CreateFileResponse {
            command_id,
            file: file_view(&record),
            upload,
        }));
        // A retry while it uploads gets fresh URLs ([`Self::replay`]).
        self.record_sync(caller, command_id, "CreateFile", request_hash, answer)
            .await
    }

    /// Inserts a new file under its name, or a free variant of it when the
    /// policy is `KeepBoth`.
    async fn insert_named(
        &self,
        record: &mut FileRecord,
        body: &CreateFileV1,
        replacing: bool,
    ) -> DomainResult<()> {
        let caller_user = record.user.clone();
        let mut attempt = 0u32;
        loop {
            match self
                .index
                .insert_file(record, self.settings.quota_bytes, replacing)
                .await
            {
                Ok(()) => return Ok(()),
                Err(PortError::Conflict(_)) if body.on_conflict == ConflictPolicy::KeepBoth => {
                    attempt += 1;
                    if attempt > 1000 {
                        return Err(DomainError::conflict(
                            "No free name was found for this file; rename it first.",
                        ));
                    }
                    record.name = numbered_name(&body.name, attempt)?;
                }
                Err(PortError::Conflict(_)) => {
                    return Err(DomainError::conflict(format!(
                        "A file named “{}” is already in this folder.",
                        body.name
                    )));
                }
                Err(PortError::QuotaExceeded(_)) => {
                    let usage = self.index.usage(&caller_user).await.unwrap_or_default();
                    return Err(DomainError::new(
                        ErrorCode::QuotaExceeded,
                        format!(
                            "“{}” ({} bytes) doesn't fit: {} of {} bytes are used.",
                            body.name,
                            body.size,
                            usage.bytes,
                            self.settings.quota_bytes.unwrap_or_default()
                        ),
                    ));
                }
                Err(other) => return Err(other.into()),
            }
        }
    }

    async fn instructions(
        &self,
        file: &FileRecord,
        key: &str,
        sha256: Option<&[u8]>,
    ) -> DomainResult<UploadInstructions> {
        let now = self.now();
        match (&file.upload_id, file.part_size) {
            (Some(upload_id), Some(part_size)) => {
                let count = part_count(file.size, part_size);
                let wanted: Vec<PartWanted> = (1..=count.min(self.settings.first_parts))
                    .map(|part_number| PartWanted {
                        part_number,
                        checksum_sha256: None,
                    })
                    .collect();
                let parts = self
                    .presign_parts_of(file, upload_id, part_size, key, &wanted, now)
                    .await?;
                Ok(UploadInstructions::Multipart {
                    upload_id: upload_id.clone(),
                    part_size,
                    part_count: count,
                    parts,
                })
            }
            _ => {
                let limits = PutLimits {
                    content_length: file.size,
                    checksum_sha256: sha256
                        .map(|d| base64::engine::general_purpose::STANDARD.encode(d)),
                    content_type: Some(file.content_type.clone()),
                };
                let presigned = self
                    .objects
                    .presign_put(key, &limits, now, self.settings.upload_ttl)
                    .await?;
                Ok(UploadInstructions::Single {
                    request: request_view(presigned),
                })
            }
        }
    }

    async fn presign_parts_of(
        &self,
        file: &FileRecord,
        upload_id: &str,
        part_size: u64,
        key: &str,
        wanted: &[PartWanted],
        now: Timestamp,
    ) -> DomainResult<Vec<PartUpload>> {
        let count = part_count(file.size, part_size);
        let mut parts = Vec::with_capacity(wanted.len());
        for part in wanted {
            if part.part_number == 0 || part.part_number > count {
                return Err(DomainError::invalid(format!(
                    "Part {} doesn't exist: this upload has parts 1 to {count}.",
                    part.part_number
                )));
            }
            if let Some(checksum) = &part.checksum_sha256 {
                parse_sha256_base64(checksum)?;
            }
            let size = part_len(file.size, part_size, part.part_number);
            let limits = PutLimits {
                content_length: size,
                checksum_sha256: part.checksum_sha256.clone(),
                content_type: None,
            };
            let presigned = self
                .objects
                .presign_part(
                    key,
                    upload_id,
                    part.part_number,
                    &limits,
                    now,
                    self.settings.upload_ttl,
                )
                .await?;
            parts.push(PartUpload {
                part_number: part.part_number,
                size,
                request: request_view(presigned),
            });
        }
        Ok(parts)
    }

    /// Presigns more parts of a file's multipart upload.
    pub async fn presign_parts(
        &self,
        user: &UserId,
        file_id: Uuid,
        wanted: &[PartWanted],
    ) -> DomainResult<PartsResponse> {
        if wanted.is_empty() || wanted.len() > 1000 {
            return Err(DomainError::invalid("Ask for 1 to 1,000 parts at once."));
        }
        let file = self.owned_file(user, file_id).await?;
        let (Some(upload_id), Some(part_size)) = (&file.upload_id, file.part_size) else {
            return Err(DomainError::conflict(
                "This file has no multipart upload in progress.",
            ));
        };
        if file.status != FileStatus::Uploading {
            return Err(DomainError::conflict("This file's upload is over."));
        }
        let key = user.object_key(file_id);
        let parts = self
            .presign_parts_of(&file, upload_id, part_size, &key, wanted, self.now())
            .await?;
        Ok(PartsResponse { parts })
    }

    /// The parts of a file's multipart upload the store has, for resuming.
    pub async fn uploaded_parts(
        &self,
        user: &UserId,
        file_id: Uuid,
    ) -> DomainResult<UploadedPartsResponse> {
        let file = self.owned_file(user, file_id).await?;
        let Some(upload_id) = &file.upload_id else {
            return Err(DomainError::conflict(
                "This file has no multipart upload in progress.",
            ));
        };
        let parts = self
            .objects
            .list_parts(&user.object_key(file_id), upload_id)
            .await?;
        Ok(UploadedPartsResponse {
            upload_id: upload_id.clone(),
            parts: parts
                .into_iter()
                .map(|p| UploadedPartView {
                    part_number: p.part_number,
                    size: p.size,
                    etag: p.etag,
                    checksum_sha256: p.checksum_sha256,
                })
                .collect(),
        })
    }

    async fn complete_upload(
        &self,
        caller: &Caller,
        command_id: Uuid,
        body: CompleteUploadV1,
        request_hash: String,
    ) -> DomainResult<CommandAnswer> {
        let mut file = self.owned_file(&caller.user, body.file_id).await?;
        if file.status == FileStatus::Uploading {
            if let Some(given) = &body.sha256 {
                let given = hex(&parse_sha256_hex(given)?);
                match &file.sha256 {
                    Some(known) if *known != given => {
                        return Err(DomainError::invalid(
                            "This SHA-256 differs from the one given when the upload began.",
                        ));
                    }
                    Some(_) => {}
                    None => {
                        // Kept before the object appears, so the indexer
                        // publishes it with the file.
                        let mut hashed = file.clone();
                        hashed.sha256 = Some(given);
                        hashed.version += 1;
                        hashed.updated_at = self.now();
                        self.index.update_file(&hashed, file.version).await?;
                        file = hashed;
                    }
                }
            }
            if let (Some(upload_id), Some(part_size)) = (&file.upload_id, file.part_size) {
                let count = part_count(file.size, part_size);
                let numbers: Vec<u32> = body.parts.iter().map(|p| p.part_number).collect();
                let expected: Vec<u32> = (1..=count).collect();
                if numbers != expected {
                    return Err(DomainError::invalid(format!(
                        "List every part, 1 to {count}, in order, with the ETag each upload returned."
                    )));
                }
                let key = caller.user.object_key(file.file_id);
                let stored = self.objects.list_parts(&key, upload_id).await?;
                for part in &body.parts {
                    let found = stored.iter().find(|s| s.part_number == part.part_number);
                    let expected_len = part_len(file.size, part_size, part.part_number);
                    match found {
                        Some(s) if s.size == expected_len => {}
                        Some(s) => {
                            return Err(DomainError::invalid(format!(
                                "Part {} has {} bytes; it must have {expected_len}.",
                                part.part_number, s.size
                            )));
                        }
                        None => {
                            return Err(DomainError::invalid(format!(
                                "Part {} hasn't been uploaded.",
                                part.part_number
                            )));
                        }
                    }
                }
                self.objects
                    .complete_multipart(&key, upload_id, &body.parts)
                    .await?;
            } else if !body.parts.is_empty() {
                return Err(DomainError::invalid(
                    "This file was uploaded in one piece; send no parts.",
                ));
            }
        } else if file.status == FileStatus::Deleting {
            return Err(DomainError::not_found("file"));
        }
        let file = self.owned_file(&caller.user, body.file_id).await?;
        let answer = CommandAnswer::UploadStep(Box::new(UploadResponse {
            command_id,
            file: Some(file_view(&file)),
        }));
        self.record_sync(caller, command_id, "CompleteUpload", request_hash, answer)
            .await
    }

    /// Ends an upload that won't finish: aborts its multipart upload, removes
    /// its record and publishes `UploadAborted`.
    pub async fn abort(
        &self,
        file: &FileRecord,
        reason: &str,
        command_id: Option<Uuid>,
    ) -> DomainResult<()> {
        if file.status != FileStatus::Uploading {
            return Err(DomainError::conflict("This file's upload is already over."));
        }
        let key = file.user.object_key(file.file_id);
        if let Some(upload_id) = &file.upload_id {
            self.objects.abort_multipart(&key, upload_id).await?;
        }
        let event = Event::UploadAborted(UploadAbortedV1 {
            file_id: file.file_id,
            reason: reason.to_owned(),
        });
        let envelope = event_envelope(
            file,
            command_id.or(file.command_id),
            "api",
            self.now(),
            event,
            &format!("UploadAborted:{}", file.file_id),
        );
        self.bus
            .put(event_entries(std::slice::from_ref(&envelope)))
            .await?;
        // The CreateFile command ends here, failed: its bytes never came.
        if let Some(create) = file.command_id {
            let result = serde_json::to_value(&envelope).unwrap_or_default();
            self.index
                .finish_command(
                    &file.user,
                    create,
                    CommandStatus::Failed,
                    &result,
                    self.now(),
                )
                .await?;
        }
        self.index
            .remove_file(&file.user, file.file_id, file.version)
            .await?;
        Ok(())
    }

    /// A page of a folder's children.
    pub async fn list(&self, user: &UserId, query: ListQuery) -> DomainResult<ListResponse> {
        let query = ListQuery {
            limit: query.limit.clamp(1, MAX_PAGE),
            ..query
        };
        if !query.folder.is_root() && !self.index.folder_exists(user, &query.folder).await? {
            return Err(DomainError::not_found("folder"));
        }
        let page = self.index.list_folder(user, &query).await?;
        Ok(ListResponse {
            folder: query.folder,
            entries: page
                .items
                .iter()
                .map(|entry| match entry {
                    Entry::Folder(folder) => EntryView::Folder(FolderView {
                        name: folder.path.name().unwrap_or_default().to_owned(),
                        path: folder.path.clone(),
                        created_at: folder.created_at,
                    }),
                    Entry::File(file) => EntryView::File(file_view(file)),
                })
                .collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// A page of the user's files whose name contains `text`.
    pub async fn search(
        &self,
        user: &UserId,
        text: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> DomainResult<SearchResponse> {
        let text = text.trim();
        if text.is_empty() || text.len() > 255 {
            return Err(DomainError::invalid("Search for 1 to 255 characters."));
        }
        let page = self
            .index
            .search(user, text, cursor, limit.clamp(1, MAX_PAGE))
            .await?;
        Ok(SearchResponse {
            files: page.items.iter().map(file_view).collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// One file's metadata.
    pub async fn file(&self, user: &UserId, file_id: Uuid) -> DomainResult<FileView> {
        let file = self.owned_file(user, file_id).await?;
        if file.status == FileStatus::Deleting {
            return Err(DomainError::not_found("file"));
        }
        Ok(file_view(&file))
    }

    /// A presigned download of an available file, living at most 15 minutes.
    pub async fn download(
        &self,
        user: &UserId,
        file_id: Uuid,
        ttl: Option<Duration>,
    ) -> DomainResult<DownloadResponse> {
        let file = self.owned_file(user, file_id).await?;
        // The current content, a version of it, or a file in the trash:
        // each is the user's to read.
        if !matches!(
            file.status,
            FileStatus::Available | FileStatus::Version | FileStatus::Trashed
        ) {
            return Err(DomainError::not_found("file"));
        }
        let ttl = ttl
            .unwrap_or(self.settings.download_ttl)
            .min(self.settings.download_ttl)
            .min(MAX_DOWNLOAD_TTL);
        if ttl.is_zero() {
            return Err(DomainError::invalid(
                "A download URL must live at least a second.",
            ));
        }
        let presigned = self
            .objects
            .presign_get(
                &user.object_key(file_id),
                file.name.as_str(),
                &file.content_type,
                self.now(),
                ttl,
            )
            .await?;
        Ok(DownloadResponse {
            request: request_view(presigned),
            sha256: file.sha256,
        })
    }

    /// How the browser may show one of the user's files (issue 20): the
    /// viewer `ferry_protocol::preview::preview` picks from the index's
    /// type, the name and the size, and a presigned `GET` living as long as
    /// a download's. An inline kind's URL is served `inline` with the type
    /// the rule chose (text always as `text/plain; charset=utf-8`), cached
    /// privately for the URL's life (an object's bytes never change under
    /// its id); anything else (HTML, SVG, XML, archives, …) gets the
    /// ordinary download, an attachment, and `inline: false`. The same
    /// files as [`Self::download`]: the caller's own, current, a version or
    /// in the trash.
    pub async fn preview(
        &self,
        user: &UserId,
        file_id: Uuid,
    ) -> DomainResult<ferry_protocol::api::PreviewResponse> {
        let file = self.owned_file(user, file_id).await?;
        if !matches!(
            file.status,
            FileStatus::Available | FileStatus::Version | FileStatus::Trashed
        ) {
            return Err(DomainError::not_found("file"));
        }
        let ttl = self.settings.download_ttl.min(MAX_DOWNLOAD_TTL);
        if ttl.is_zero() {
            return Err(DomainError::invalid(
                "A download URL must live at least a second.",
            ));
        }
        let view =
            ferry_protocol::preview::preview(file.name.as_str(), &file.content_type, file.size);
        let key = user.object_key(file_id);
        let (presigned, content_type) = if view.kind.is_inline() {
            let cache = format!("private, max-age={}", ttl.as_secs());
            let presigned = self
                .objects
                .presign_inline_get(
                    &key,
                    file.name.as_str(),
                    &view.content_type,
                    Some(&cache),
                    self.now(),
                    ttl,
                )
                .await?;
            (presigned, view.content_type)
        } else {
            let presigned = self
                .objects
                .presign_get(
                    &key,
                    file.name.as_str(),
                    &file.content_type,
                    self.now(),
                    ttl,
                )
                .await?;
            (presigned, file.content_type.clone())
        };
        Ok(ferry_protocol::api::PreviewResponse {
            url: presigned.url,
            expires_at: presigned.expires_at,
            kind: view.kind,
            content_type,
            size: file.size,
            sha256: file.sha256,
            inline: view.kind.is_inline(),
        })
    }

    /// Where one of the user's commands is.
    pub async fn command_status(
        &self,
        user: &UserId,
        command_id: Uuid,
    ) -> DomainResult<CommandView> {
        let record = self
            .index
            .command(user, command_id)
            .await?
            .ok_or_else(|| DomainError::not_found("command"))?;
        Ok(CommandView {
            command_id: record.command_id,
            action: record.action,
            status: record.status.as_str().to_owned(),
            accepted_at: record.accepted_at,
            finished_at: record.finished_at,
            result: record.result,
        })
    }

    /// What the user stores, and the quota.
    pub async fn usage(&self, user: &UserId) -> DomainResult<UsageView> {
        let usage = self.index.usage(user).await?;
        Ok(UsageView {
            bytes: usage.bytes,
            files: usage.files,
            quota_bytes: self.settings.quota_bytes,
            trash_bytes: Some(usage.trash_bytes),
            version_bytes: Some(usage.version_bytes),
        })
    }
}

fn command_action(command: &Command) -> &'static str {
    use ferry_protocol::Payload as _;
    command.action()
}

/// A file's id is derived from its user and the command that created it, so
/// a retried `CreateFile` names the same file and two users' commands with
/// the same (client-chosen) id name two.
fn command_id_to_file_id(user: &UserId, command_id: Uuid) -> Uuid {
    Uuid::new_v5(
        &FILE_NAMESPACE,
        format!("{}/{command_id}", user.as_str()).as_bytes(),
    )
}

const FILE_NAMESPACE: Uuid = Uuid::from_u128(0x6b1f_3c2e_8d0a_4b7e_9f51_2a64_c0de_f11e);

/// The API's view of a file.
pub fn file_view(file: &FileRecord) -> FileView {
    FileView {
        file_id: file.file_id,
        folder: file.folder.clone(),
        name: file.name.clone(),
        status: file.status.as_str().to_owned(),
        size: file.size,
        content_type: file.content_type.clone(),
        sha256: file.sha256.clone(),
        etag: file.etag.clone(),
        version: file.version,
        created_at: file.created_at,
        updated_at: file.updated_at,
        multipart: match (&file.upload_id, file.part_size) {
            (Some(upload_id), Some(part_size)) if file.status == FileStatus::Uploading => {
                Some(MultipartView {
                    upload_id: upload_id.clone(),
                    part_size,
                    part_count: part_count(file.size, part_size),
                })
            }
            _ => None,
        },
        thumbnail: file.thumbnail.as_ref().map(thumbnail_view),
    }
}

/// How long a thumbnail's URL is signed for, from the hour it was signed
/// in: at least an hour left whenever it is handed out.
pub const THUMBNAIL_URL_TTL: Duration = Duration::from_secs(2 * 60 * 60);

impl Files {
    /// `POST /api/thumbnails`: for each of `file_ids` (1 to
    /// [`MAX_THUMBNAIL_IDS`]), the thumbnail of `size` of the caller's own
    /// file (a presigned GET), or why there is none. Another user's id is
    /// not found, like an id that never was.
    pub async fn thumbnails(
        &self,
        user: &UserId,
        file_ids: &[Uuid],
        size: ThumbnailSize,
    ) -> DomainResult<ThumbnailsResponse> {
        if file_ids.is_empty() || file_ids.len() > MAX_THUMBNAIL_IDS {
            return Err(DomainError::invalid(format!(
                "Ask for the thumbnails of 1 to {MAX_THUMBNAIL_IDS} files at a time."
            )));
        }
        // Signed as of the start of the hour, for two hours: within the
        // hour the same thumbnail gets the very same URL (SigV4 signs the
        // time, the key and the query, nothing else), so the browser's
        // cache, keyed by URL, serves it again instead of fetching a new
        // one on every listing, and every URL handed out has an hour left.
        let now = self.now().get();
        let hour = now.unix_timestamp() - now.unix_timestamp().rem_euclid(3600);
        let signed_at = time::OffsetDateTime::from_unix_timestamp(hour)
            .map(Timestamp::new)
            .unwrap_or_else(|_| self.now());
        let mut thumbnails = Vec::with_capacity(file_ids.len());
        for &file_id in file_ids {
            let link = |state| ThumbnailLink {
                file_id,
                state,
                url: None,
                expires_at: None,
                width: None,
                height: None,
                code: None,
            };
            let file = self.index.file(user, file_id).await?.filter(|f| {
                matches!(
                    f.status,
                    FileStatus::Uploading
                        | FileStatus::Available
                        | FileStatus::Version
                        | FileStatus::Trashed
                )
            });
            let Some(file) = file else {
                thumbnails.push(link(ThumbnailLinkState::NotFound));
                continue;
            };
            let made = match &file.thumbnail {
                Some(ThumbnailState::Ready { sizes }) => sizes.iter().find(|s| s.size == size),
                Some(ThumbnailState::Failed { code, .. }) => {
                    thumbnails.push(ThumbnailLink {
                        code: Some(*code),
                        ..link(ThumbnailLinkState::Failed)
                    });
                    continue;
                }
                None => {
                    let coming = self
                        .thumbnailer
                        .as_ref()
                        .is_some_and(|t| t.accepts(&file.content_type, file.name.as_str()));
                    let state = if coming {
                        ThumbnailLinkState::Pending
                    } else {
                        ThumbnailLinkState::None
                    };
                    thumbnails.push(link(state));
                    continue;
                }
            };
            let Some(made) = made else {
                thumbnails.push(link(ThumbnailLinkState::None));
                continue;
            };
            // Inline (a JPEG or PNG Ferry made: passive) and cacheable for
            // the hour its URL stays the same, so a tile scrolled back into
            // view, or the list after a reload, takes the image from the
            // browser's cache.
            let presigned = self
                .objects
                .presign_inline_get(
                    &user.thumbnail_key(file_id, size),
                    file.name.as_str(),
                    &made.content_type,
                    Some("private, max-age=3600"),
                    signed_at,
                    THUMBNAIL_URL_TTL,
                )
                .await?;
            thumbnails.push(ThumbnailLink {
                url: Some(presigned.url),
                expires_at: Some(presigned.expires_at),
                width: Some(made.width),
                height: Some(made.height),
                ..link(ThumbnailLinkState::Ready)
            });
        }
        Ok(ThumbnailsResponse { thumbnails })
    }
}

/// The API's view of what became of a file's thumbnails.
pub fn thumbnail_view(state: &ThumbnailState) -> ThumbnailView {
    match state {
        ThumbnailState::Ready { sizes } => ThumbnailView {
            state: ThumbnailReadiness::Ready,
            sizes: sizes.iter().map(|s| s.size).collect(),
            code: None,
        },
        ThumbnailState::Failed { code, .. } => ThumbnailView {
            state: ThumbnailReadiness::Failed,
            sizes: Vec::new(),
            code: Some(*code),
        },
    }
}

fn request_view(presigned: Presigned) -> PresignedRequest {
    PresignedRequest {
        method: presigned.method,
        url: presigned.url,
        headers: presigned.headers.into_iter().collect(),
        expires_at: presigned.expires_at,
    }
}

fn parse_sha256_hex(text: &str) -> DomainResult<Vec<u8>> {
    let ok = text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        return Err(DomainError::invalid(
            "Sha256 must be 64 hexadecimal digits.",
        ));
    }
    Ok((0..32)
        .map(|i| u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).unwrap_or_default())
        .collect())
}

fn parse_sha256_base64(text: &str) -> DomainResult<Vec<u8>> {
    match base64::engine::general_purpose::STANDARD.decode(text) {
        Ok(bytes) if bytes.len() == 32 => Ok(bytes),
        _ => Err(DomainError::invalid(
            "ChecksumSha256 must be a base64 SHA-256 (44 characters).",
        )),
    }
}

/// The sort column named in a query string.
pub fn parse_sort(text: Option<&str>) -> DomainResult<SortKey> {
    match text {
        None | Some("name") => Ok(SortKey::Name),
        Some("size") => Ok(SortKey::Size),
        Some("modified") => Ok(SortKey::Modified),
        Some(other) => Err(DomainError::invalid(format!(
            "Sort by name, size or modified, not “{other}”."
        ))),
    }
}

/// Parses a folder given in a query string.
pub fn parse_folder(text: Option<&str>) -> DomainResult<FolderPath> {
    Ok(FolderPath::parse(text.unwrap_or(""))?)
}

/// A trash item as the API shows it.
pub fn trash_view(item: &TrashItem) -> TrashItemView {
    TrashItemView {
        trash_id: item.trash_id,
        kind: match item.kind {
            TrashKind::File => "file",
            TrashKind::Folder => "folder",
        }
        .to_owned(),
        name: item.name.clone(),
        from: match item.kind {
            TrashKind::File => item.path.clone(),
            TrashKind::Folder => item.path.parent().unwrap_or_default(),
        },
        file_id: item.file_id,
        files: item.files,
        bytes: item.bytes,
        trashed_at: item.trashed_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_sizes_keep_within_ten_thousand_parts() {
        const MIB: u64 = 1024 * 1024;
        const BASE: u64 = DEFAULT_PART_SIZE;
        assert_eq!(part_size_for(1, BASE), 16 * MIB);
        // The size doesn't follow the file's until 10,000 parts need it.
        assert_eq!(part_size_for(1024 * MIB, BASE), 16 * MIB);
        assert_eq!(part_size_for(160_000 * MIB, BASE), 16 * MIB);
        assert_eq!(part_size_for(160_000 * MIB + 1, BASE), 17 * MIB);
        assert_eq!(part_size_for(640_000 * MIB + 1, BASE), 65 * MIB);
        // A smaller base, never under S3's smallest part.
        assert_eq!(part_size_for(100 * MIB, 5 * MIB), 5 * MIB);
        assert_eq!(part_size_for(100 * MIB, 1), 5 * MIB);
        assert_eq!(part_size_for(100 * MIB, 6 * MIB + 1), 7 * MIB);
        for size in [
            1,
            5 * MIB,
            64 * MIB,
            1024 * MIB,
            49_999 * MIB + 7,
            MAX_OBJECT_SIZE,
        ] {
            let ps = part_size_for(size, DEFAULT_PART_SIZE);
            assert!(ps >= MIN_PART_SIZE);
            assert!(u64::from(part_count(size, ps)) <= MAX_PARTS, "{size}");
            let total: u64 = (1..=part_count(size, ps))
                .map(|n| part_len(size, ps, n))
                .sum();
            assert_eq!(total, size);
        }
    }
}
