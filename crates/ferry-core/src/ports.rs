//! The ports the domain is written against. `ferry-server` plugs in local
//! adapters (SQLite, an S3-compatible endpoint on disk, an in-process bus, a
//! WebSocket hub); the AWS adapters plug in S3, DynamoDB, EventBridge and API
//! Gateway's management API. The domain never sees which.
//!
//! Every method is scoped by the owner where data has one, so no adapter call
//! can reach another user's records.

use crate::model::{
    CommandRecord, CommandStatus, Entry, FileRecord, FileStatus, ListQuery, Page, TrashItem, Usage,
    UserId,
};
use async_trait::async_trait;
use ferry_protocol::messages::{ThumbnailCode, ThumbnailSize, UploadedPart};
use ferry_protocol::{EventEnvelope, FolderPath, Timestamp};
use std::time::Duration;
use uuid::Uuid;

/// What an adapter reports when it could not do its work. The domain maps
/// `Unavailable` to a retryable error and everything else to `Internal`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// A conditional write failed: the name is taken or the version moved.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The user's quota would be exceeded.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    /// The thing addressed doesn't exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The backend refused the input (a bad part list, a bad checksum, …).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The backend can't be reached or is overloaded; try again.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// A result from a port.
pub type PortResult<T> = Result<T, PortError>;

// ---------------------------------------------------------------------------
// Objects
// ---------------------------------------------------------------------------

/// A presigned request: the browser sends it as is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Presigned {
    /// `PUT` or `GET`.
    pub method: String,
    /// The full URL, signature included.
    pub url: String,
    /// Headers the request must carry exactly (they are signed), e.g.
    /// `x-amz-checksum-sha256`. `Content-Length` is signed too but set by the
    /// browser itself, so it is not listed.
    pub headers: Vec<(String, String)>,
    /// When the URL stops working.
    pub expires_at: Timestamp,
}

/// What a presigned PUT or part PUT may carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutLimits {
    /// The exact body size, signed as `content-length`, so the store refuses
    /// any other size.
    pub content_length: u64,
    /// Base64 SHA-256 of the body, signed as `x-amz-checksum-sha256`, so the
    /// store refuses a corrupted body (`BadDigest`).
    pub checksum_sha256: Option<String>,
    /// The `Content-Type` to sign (single PUT only).
    pub content_type: Option<String>,
}

/// An object as the store describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its key.
    pub key: String,
    /// Its size.
    pub size: u64,
    /// Its ETag, quotes included as S3 writes it.
    pub etag: String,
    /// Base64 SHA-256 of the whole object, when the store knows it: sent
    /// with a PUT, or computed when a multipart upload completed. (S3's
    /// composite checksum of a multipart object is not one.)
    pub checksum_sha256: Option<String>,
    /// When it was written.
    pub last_modified: Timestamp,
}

/// `attachment; filename*=UTF-8''<name>` (RFC 6266 / 5987): how a presigned
/// download keeps its name whatever characters it has. Everything but
/// letters, digits and `-._~` is percent-encoded (UTF-8).
pub fn attachment_disposition(name: &str) -> String {
    let mut encoded = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename*=UTF-8''{encoded}")
}

/// `inline; filename*=UTF-8''<name>`: how a preview is shown in the
/// browser and still keeps its name when saved from there.
pub fn inline_disposition(name: &str) -> String {
    let attachment = attachment_disposition(name);
    let params = attachment.strip_prefix("attachment").unwrap_or(&attachment);
    format!("inline{params}")
}

/// Whether an inline GET of `content_type` may be signed: only passive
/// types (`ferry_protocol::preview::is_inline_safe`: images but SVG, audio,
/// video, PDF, plain text). Every adapter refuses the rest, so no presigned
/// URL shows HTML, SVG or XML as a document, whichever store signs it.
pub fn check_inline_type(content_type: &str) -> PortResult<()> {
    if ferry_protocol::preview::is_inline_safe(content_type) {
        Ok(())
    } else {
        Err(PortError::Invalid(format!(
            "{content_type:?} is not served inline: it is a download"
        )))
    }
}

/// A part of an open multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    /// 1 to 10,000.
    pub part_number: u32,
    /// Its size.
    pub size: u64,
    /// Its ETag.
    pub etag: String,
    /// Base64 SHA-256 when sent with one.
    pub checksum_sha256: Option<String>,
}

/// An open multipart upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadInfo {
    /// The object key it will create.
    pub key: String,
    /// Its id.
    pub upload_id: String,
    /// When it was started.
    pub initiated: Timestamp,
}

/// The object store: S3 on AWS, the S3-compatible endpoint locally.
///
/// Presigning is pure computation (SigV4 over the adapter's credentials), so
/// it is synchronous and takes the time from the caller's clock.
#[async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// A presigned `PUT` of the whole object.
    async fn presign_put(
        &self,
        key: &str,
        limits: &PutLimits,
        now: Timestamp,
        expires: Duration,
    ) -> PortResult<Presigned>;
    /// A presigned `PUT` of one part of a multipart upload (`UploadPart`).
    async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        limits: &PutLimits,
        now: Timestamp,
        expires: Duration,
    ) -> PortResult<Presigned>;
    /// A presigned `GET` whose response carries
    /// `Content-Disposition: attachment; filename*=UTF-8''{download_name}`
    /// (`response-content-disposition`), so the download keeps its name.
    async fn presign_get(
        &self,
        key: &str,
        download_name: &str,
        content_type: &str,
        now: Timestamp,
        expires: Duration,
    ) -> PortResult<Presigned>;
    /// A presigned `GET` that shows the object in the browser (a preview):
    /// its response carries `Content-Disposition: inline; filename*=UTF-8''{name}`
    /// ([`inline_disposition`]), `Content-Type: {content_type}` and, when
    /// given, `Cache-Control: {cache_control}` (S3's `response-*`
    /// parameters). A type [`check_inline_type`] refuses is `Invalid`:
    /// callers sign a download ([`Self::presign_get`]) instead.
    async fn presign_inline_get(
        &self,
        key: &str,
        name: &str,
        content_type: &str,
        cache_control: Option<&str>,
        now: Timestamp,
        expires: Duration,
    ) -> PortResult<Presigned>;
    /// Starts a multipart upload; returns its id.
    /// `part_checksums`: every part will carry a signed SHA-256 (S3 is told
    /// when the upload starts, and then requires one on every part).
    async fn create_multipart(
        &self,
        key: &str,
        content_type: &str,
        part_checksums: bool,
    ) -> PortResult<String>;
    /// The parts uploaded so far, by part number.
    async fn list_parts(&self, key: &str, upload_id: &str) -> PortResult<Vec<PartInfo>>;
    /// Completes a multipart upload from the listed parts. The store emits
    /// `Object Created` as for a PUT. Completing an upload that was already
    /// completed into this key answers the object as it is (idempotent).
    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> PortResult<ObjectInfo>;
    /// Aborts a multipart upload and removes its parts; an unknown upload is
    /// not an error.
    async fn abort_multipart(&self, key: &str, upload_id: &str) -> PortResult<()>;
    /// The object at `key`, if any.
    async fn head(&self, key: &str) -> PortResult<Option<ObjectInfo>>;
    /// The whole object's SHA-256 (base64), computing it if the store
    /// doesn't keep it (S3 keeps only a composite of a multipart object's
    /// parts: its adapter reads the object through). `None` when there is
    /// no object.
    async fn whole_sha256(&self, key: &str) -> PortResult<Option<String>> {
        Ok(self.head(key).await?.and_then(|o| o.checksum_sha256))
    }
    /// Deletes the object at `key`; a missing object is not an error. The
    /// store emits `Object Deleted` when there was one.
    async fn delete(&self, key: &str) -> PortResult<()>;
    /// Objects whose key starts with `prefix`, in key order, after `after`.
    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> PortResult<Vec<ObjectInfo>>;
    /// Every open multipart upload.
    async fn list_uploads(&self) -> PortResult<Vec<UploadInfo>>;
    /// The bytes of the object at `key`, read only when it is at most
    /// `max_bytes` long: a larger one is [`ObjectRead::TooLarge`] and is
    /// not read (a consumer's memory is bounded by what it asks).
    async fn read(&self, key: &str, max_bytes: u64) -> PortResult<ObjectRead>;
    /// Stores a derived object (a thumbnail) at `key`, replacing one there.
    /// Unlike a user's upload it is written by the domain itself; the
    /// store may announce it (`Object Created`) like any object, and its
    /// key tells the consumers it is not a file.
    async fn put_derived(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> PortResult<()>;
}

/// What [`ObjectStore::read`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectRead {
    /// The object's bytes.
    Bytes(Vec<u8>),
    /// The object is larger than asked; nothing was read.
    TooLarge {
        /// Its size.
        size: u64,
    },
    /// There is no object at the key.
    Missing,
}

// ---------------------------------------------------------------------------
// Thumbnailer
// ---------------------------------------------------------------------------

/// One thumbnail a [`Thumbnailer`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// Which size it is.
    pub size: ThumbnailSize,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
    /// Its media type, e.g. `image/jpeg`.
    pub content_type: String,
    /// The encoded image.
    pub bytes: Vec<u8>,
}

/// Why a [`Thumbnailer`] made no thumbnail: a code and a sentence for a
/// person. Never a reason to retry: the same bytes fail the same way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} ({code:?})")]
pub struct ThumbnailRefusal {
    /// For programs.
    pub code: ThumbnailCode,
    /// For people.
    pub reason: String,
}

/// Makes thumbnails of an image's bytes (`ferry-thumbs` behind an adapter).
///
/// Async, so the adapter decides where the work runs: decoding is CPU
/// work that would stall the async threads (and, with hostile input, could
/// run long), so the local adapter runs it on a blocking thread under a time
/// limit, and turns a panic or the time running out into a refusal. The
/// domain has no runtime of its own to do that with.
#[async_trait]
pub trait Thumbnailer: Send + Sync + std::fmt::Debug {
    /// Whether thumbnails are made of a file of this media type and name
    /// (as the index has them; the bytes are never sniffed for this).
    fn accepts(&self, content_type: &str, name: &str) -> bool;
    /// The largest input read; a larger file fails as
    /// [`ThumbnailCode::TooLarge`] without being read.
    fn max_input_bytes(&self) -> u64;
    /// The thumbnails of `bytes`, smallest first, or why none can be made.
    /// Hostile input ends as a refusal, never a panic or a hang.
    async fn make(&self, bytes: Vec<u8>) -> Result<Vec<Thumbnail>, ThumbnailRefusal>;
}

// ---------------------------------------------------------------------------
// Index
// ---------------------------------------------------------------------------

/// What [`Index::put_command`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutCommand {
    /// The command is new and now recorded.
    Inserted,
    /// A command with this id was already recorded (a retry): here it is.
    Existing(Box<CommandRecord>),
}

/// The file index: DynamoDB on AWS, SQLite locally. A partition per user;
/// every call names the user.
#[async_trait]
pub trait Index: Send + Sync + std::fmt::Debug {
    /// Adds a file (status `uploading`), and its folder's parents as folders.
    ///
    /// Atomically refuses with [`PortError::QuotaExceeded`] when `quota` is
    /// set and the user's usage plus this file's size would exceed it, and —
    /// unless `replacing` — with [`PortError::Conflict`] when a file that is
    /// `uploading` or `available` already has this folder and name. (When
    /// `replacing`, the new file takes the name over once it is available.)
    async fn insert_file(
        &self,
        file: &FileRecord,
        quota: Option<u64>,
        replacing: bool,
    ) -> PortResult<()>;

    /// One of `user`'s files.
    async fn file(&self, user: &UserId, file_id: Uuid) -> PortResult<Option<FileRecord>>;

    /// The file named `name` in `folder`: the `available` one if there is
    /// one, else an `uploading` one (never one that is `deleting`,
    /// `trashed` or a `version`).
    async fn file_by_name(
        &self,
        user: &UserId,
        folder: &FolderPath,
        name: &str,
    ) -> PortResult<Option<FileRecord>>;

    /// Replaces a file's record if its stored version is `expected_version`
    /// (the new record carries the next version). Refuses with
    /// [`PortError::Conflict`] when the version moved, or when the new record
    /// is `available` and another `available` file has its folder and name
    /// (at most one available file per name: a unique index). When the new
    /// record is current (`uploading` or `available`), adds its folder and
    /// the folder's parents as folders; a `trashed` file or a `version`
    /// keeps no folder in being. [`PortError::NotFound`] when there is no
    /// such file.
    async fn update_file(&self, file: &FileRecord, expected_version: u64) -> PortResult<()>;

    /// Removes a file's record if its version is `expected_version`; returns
    /// whether it was there.
    async fn remove_file(
        &self,
        user: &UserId,
        file_id: Uuid,
        expected_version: u64,
    ) -> PortResult<bool>;

    /// A page of a folder's direct children: sub-folders first, then its
    /// current files (`uploading` or `available`), in the asked order.
    async fn list_folder(&self, user: &UserId, query: &ListQuery) -> PortResult<Page<Entry>>;

    /// A page of `user`'s current files whose name contains `text`,
    /// case-insensitively, across all folders; ordered by name then id.
    async fn search(
        &self,
        user: &UserId,
        text: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<FileRecord>>;

    /// A page of the files in `folder` and every folder under it, any status,
    /// by id.
    async fn files_under(
        &self,
        user: &UserId,
        folder: &FolderPath,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<FileRecord>>;

    /// Files of any user with `status`, last changed before `before`, by
    /// change time (for the sweep: stale uploads, unfinished deletes).
    async fn files_with_status(
        &self,
        status: FileStatus,
        before: Timestamp,
        limit: u32,
    ) -> PortResult<Vec<FileRecord>>;

    /// Users who have files or folders, in order, after `after` (for the
    /// reconciliation sweep).
    async fn users(&self, after: Option<&UserId>, limit: u32) -> PortResult<Vec<UserId>>;

    /// Creates a folder and its parents; returns false when it existed.
    async fn create_folder(
        &self,
        user: &UserId,
        path: &FolderPath,
        at: Timestamp,
    ) -> PortResult<bool>;

    /// Whether the folder exists (explicitly, or as the parent of a folder
    /// or of a current file).
    async fn folder_exists(&self, user: &UserId, path: &FolderPath) -> PortResult<bool>;

    /// Removes a folder and every folder under it (they must hold no
    /// current file; trashed files and versions may keep their folder
    /// paths); returns false when it didn't exist.
    async fn remove_folder_tree(&self, user: &UserId, path: &FolderPath) -> PortResult<bool>;

    /// What the user stores. A file's bytes count from its insert until
    /// its record is removed, whatever its status but `deleting`; those of
    /// `trashed` files and `version`s are also counted apart.
    async fn usage(&self, user: &UserId) -> PortResult<Usage>;

    /// A page of the folders under `path` (not `path` itself), by path.
    async fn folders_under(
        &self,
        user: &UserId,
        path: &FolderPath,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<FolderPath>>;

    /// Records a trash item; one with its id already recorded is left as
    /// it is (a retry).
    async fn put_trash(&self, item: &TrashItem) -> PortResult<()>;

    /// One of `user`'s trash items.
    async fn trash_item(&self, user: &UserId, trash_id: Uuid) -> PortResult<Option<TrashItem>>;

    /// A page of `user`'s trash, the most recently deleted first (then by
    /// id, so pages never shift).
    async fn list_trash(
        &self,
        user: &UserId,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<TrashItem>>;

    /// Removes a trash item (its files must already be restored or gone);
    /// returns whether it was there.
    async fn remove_trash(&self, user: &UserId, trash_id: Uuid) -> PortResult<bool>;

    /// Trash items of any user deleted before `before`, the oldest first
    /// (for the sweep: the retention).
    async fn trash_before(&self, before: Timestamp, limit: u32) -> PortResult<Vec<TrashItem>>;

    /// A page of `user`'s `trashed` files in the trash item `trash_id`, by id.
    async fn trashed_files(
        &self,
        user: &UserId,
        trash_id: Uuid,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<FileRecord>>;

    /// A page of the `version`s of `user`'s lineage `lineage` (their
    /// [`FileRecord::lineage`]), the most recently created first (then by
    /// id).
    async fn versions(
        &self,
        user: &UserId,
        lineage: Uuid,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<FileRecord>>;

    /// Records an accepted command, unless one with its id is recorded for
    /// this user already (then returns it, unchanged).
    async fn put_command(&self, command: &CommandRecord) -> PortResult<PutCommand>;

    /// One of `user`'s commands.
    async fn command(&self, user: &UserId, command_id: Uuid) -> PortResult<Option<CommandRecord>>;

    /// Marks a command finished with the event that finished it. A command
    /// already finished is left as it is (the first result wins).
    async fn finish_command(
        &self,
        user: &UserId,
        command_id: Uuid,
        status: CommandStatus,
        result: &serde_json::Value,
        at: Timestamp,
    ) -> PortResult<()>;

    /// Notes how far a pending command got (kept with it, never shown as its
    /// result). A command finished or never recorded is left as it is.
    async fn note_progress(
        &self,
        user: &UserId,
        command_id: Uuid,
        progress: &serde_json::Value,
    ) -> PortResult<()>;

    /// Whether `consumer` already handled `user`'s event with this id (event
    /// ids of commands are chosen by clients: two users may use one).
    async fn was_processed(
        &self,
        consumer: &str,
        user: &UserId,
        event_id: Uuid,
    ) -> PortResult<bool>;

    /// Records that `consumer` handled `user`'s event with this id.
    async fn mark_processed(
        &self,
        consumer: &str,
        user: &UserId,
        event_id: Uuid,
        at: Timestamp,
    ) -> PortResult<()>;
}

// ---------------------------------------------------------------------------
// Bus
// ---------------------------------------------------------------------------

/// One entry for the bus, as `PutEvents` takes it.
#[derive(Debug, Clone, PartialEq)]
pub struct BusEntry {
    /// `ferry.commands`, `ferry.files` or `aws.s3`.
    pub source: String,
    /// The action (`DeleteFile`, `FileDeleted`) or S3's `Object Created`.
    pub detail_type: String,
    /// For Ferry's own messages the `{metadata, data}` envelope.
    pub detail: serde_json::Value,
}

/// The event bus: an EventBridge custom bus on AWS, the local bus locally.
#[async_trait]
pub trait Bus: Send + Sync + std::fmt::Debug {
    /// Appends entries. When this returns `Ok`, every entry is durably stored
    /// and will be delivered to each matching rule's target at least once.
    async fn put(&self, entries: Vec<BusEntry>) -> PortResult<()>;
}

// ---------------------------------------------------------------------------
// Notifier
// ---------------------------------------------------------------------------

/// Pushes a user's events to their open connections: API Gateway's
/// `@connections` on AWS, the WebSocket hub locally. It also keeps each
/// user's recent events so a client that reconnects can ask for the ones
/// after its cursor.
#[async_trait]
pub trait Notifier: Send + Sync + std::fmt::Debug {
    /// Stores the event in `user`'s feed (once per event id) and pushes it to
    /// their connections, and only theirs.
    async fn notify(&self, user: &UserId, event: &EventEnvelope) -> PortResult<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_keeps_its_name_whatever_its_characters() {
        assert_eq!(
            attachment_disposition("a b;ü.txt"),
            "attachment; filename*=UTF-8''a%20b%3B%C3%BC.txt"
        );
        assert_eq!(
            attachment_disposition("Report-2026_v1.~"),
            "attachment; filename*=UTF-8''Report-2026_v1.~"
        );
        assert_eq!(
            inline_disposition("a b;ü.txt"),
            "inline; filename*=UTF-8''a%20b%3B%C3%BC.txt"
        );
    }
}
