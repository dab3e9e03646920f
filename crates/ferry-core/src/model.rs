//! The records the domain keeps in the index, and the shapes of its queries.

use ferry_protocol::messages::{ThumbnailCode, ThumbnailMade, ThumbnailSize};
use ferry_protocol::{FileName, FolderPath, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// The user a record belongs to: the token's `sub`. Every index read and
/// write is scoped by it (a partition per user).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    /// Wraps a token's `sub`. It becomes part of object keys, so only
    /// `[A-Za-z0-9_.-]`, 1 to 128 characters, is accepted (Cognito's subs are
    /// uuids).
    pub fn parse(sub: &str) -> Option<Self> {
        let ok = !sub.is_empty()
            && sub.len() <= 128
            && sub
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && sub != "."
            && sub != "..";
        ok.then(|| Self(sub.to_owned()))
    }

    /// The sub as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The prefix of every object key this user owns: `users/{sub}/`.
    pub fn object_prefix(&self) -> String {
        format!("users/{}/", self.0)
    }

    /// The object key of one of this user's files. Keys name the file's id,
    /// not its path, so a rename or move never copies bytes.
    pub fn object_key(&self, file_id: Uuid) -> String {
        format!("users/{}/{}", self.0, file_id)
    }

    /// The owner and file id of an object key written by [`Self::object_key`].
    /// Derived objects (a file's thumbnails, [`Self::thumbnail_key`]) are
    /// not files: their keys are `None` here.
    pub fn parse_object_key(key: &str) -> Option<(Self, Uuid)> {
        let rest = key.strip_prefix("users/")?;
        let (sub, id) = rest.split_once('/')?;
        Some((Self::parse(sub)?, Uuid::parse_str(id).ok()?))
    }

    /// The prefix of every thumbnail of one of this user's files:
    /// `users/{sub}/thumbs/{file id}/`. Beside the file's own key, under
    /// the user, so a user's prefix holds everything of theirs.
    pub fn thumbnails_prefix(&self, file_id: Uuid) -> String {
        format!("users/{}/thumbs/{}/", self.0, file_id)
    }

    /// The object key of one thumbnail of one of this user's files:
    /// `users/{sub}/thumbs/{file id}/{small|medium}`.
    pub fn thumbnail_key(&self, file_id: Uuid, size: ThumbnailSize) -> String {
        format!("{}{}", self.thumbnails_prefix(file_id), size.as_str())
    }

    /// The owner, file id and size of a key written by
    /// [`Self::thumbnail_key`].
    pub fn parse_thumbnail_key(key: &str) -> Option<(Self, Uuid, ThumbnailSize)> {
        let rest = key.strip_prefix("users/")?;
        let (sub, rest) = rest.split_once('/')?;
        let rest = rest.strip_prefix("thumbs/")?;
        let (id, size) = rest.split_once('/')?;
        Some((
            Self::parse(sub)?,
            Uuid::parse_str(id).ok()?,
            ThumbnailSize::parse(size)?,
        ))
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a file is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    /// Created; the bytes are on their way.
    Uploading,
    /// Uploaded and indexed. At most one available file per folder and name.
    Available,
    /// Being deleted for good: its bytes are going or gone.
    Deleting,
    /// In the trash (with [`FileRecord::trash_id`]): out of listings, its
    /// name free, its bytes kept until the trash item is purged.
    Trashed,
    /// An older version of a current file of the same
    /// [`FileRecord::lineage`]: out of listings, its name free, its bytes
    /// kept within the retention.
    Version,
}

impl FileStatus {
    /// The status as stored and sent (`uploading`, `available`, `deleting`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uploading => "uploading",
            Self::Available => "available",
            Self::Deleting => "deleting",
            Self::Trashed => "trashed",
            Self::Version => "version",
        }
    }

    /// Why a file in this status can't be moved, renamed or made a
    /// version's current file, in words.
    pub fn not_movable(self) -> &'static str {
        match self {
            Self::Trashed => "The file is in the trash; restore it first.",
            Self::Version => "That is an older version; restore it first.",
            _ => "Only an uploaded file can be moved or renamed.",
        }
    }

    /// Parses [`Self::as_str`]'s output.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "uploading" => Some(Self::Uploading),
            "available" => Some(Self::Available),
            "deleting" => Some(Self::Deleting),
            "trashed" => Some(Self::Trashed),
            "version" => Some(Self::Version),
            _ => None,
        }
    }
}

/// One file in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileRecord {
    /// The owner.
    pub user: UserId,
    /// The file's id; its object key is derived from it.
    pub file_id: Uuid,
    /// Its folder.
    pub folder: FolderPath,
    /// Its name; unique in its folder among files that are not being deleted.
    pub name: FileName,
    /// Where it is in its life.
    pub status: FileStatus,
    /// Size in bytes: declared at create, the stored size once available.
    pub size: u64,
    /// Media type.
    pub content_type: String,
    /// Hex SHA-256 of the content, when known.
    pub sha256: Option<String>,
    /// The object store's ETag, once uploaded.
    pub etag: Option<String>,
    /// The multipart upload id while a multipart upload is open.
    pub upload_id: Option<String>,
    /// The part size of that multipart upload.
    pub part_size: Option<u64>,
    /// The command that created or last changed the file, so the events it
    /// causes name it.
    pub command_id: Option<Uuid>,
    /// The trace id of that command.
    pub trace_id: Option<String>,
    /// Starts at 1 and grows by one with every change; conditional writes
    /// compare it, and clients order events by it.
    pub version: u64,
    /// When the file was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// The id of the first file of its versions, when it replaced another
    /// file (an upload with `Replace`); `None` means its own id. Every
    /// version of a file has the same lineage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<Uuid>,
    /// The trash item it is in, while it is [`FileStatus::Trashed`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trash_id: Option<Uuid>,
    /// What the thumbnailer made of it; `None` until it tried (or for a
    /// file it doesn't take).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<ThumbnailState>,
}

/// What the thumbnailer made of a file, kept on its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum ThumbnailState {
    /// Made and stored under [`UserId::thumbnail_key`].
    Ready {
        /// The sizes made, smallest first.
        sizes: Vec<ThumbnailMade>,
    },
    /// None can be made.
    Failed {
        /// Why, for programs.
        code: ThumbnailCode,
        /// Why, for people (kept so an announcement made again after a
        /// crash says what the first would have).
        reason: String,
    },
}

impl FileRecord {
    /// The file's lineage: the id its versions share.
    pub fn lineage(&self) -> Uuid {
        self.lineage.unwrap_or(self.file_id)
    }

    /// Whether it is a current file (uploading or available): in listings,
    /// holding its name.
    pub fn is_current(&self) -> bool {
        matches!(self.status, FileStatus::Uploading | FileStatus::Available)
    }
}

/// What a trash item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrashKind {
    /// One file.
    File,
    /// A folder with everything it held: restored and purged as one.
    Folder,
}

/// One thing in a user's trash: what one `DeleteFile` or `DeleteFolder`
/// moved there. Its files are the user's files with status
/// [`FileStatus::Trashed`] and this [`Self::trash_id`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrashItem {
    /// The owner.
    pub user: UserId,
    /// Its id: the id of the command that deleted it.
    pub trash_id: Uuid,
    /// A file or a folder.
    pub kind: TrashKind,
    /// A file's folder, or the folder itself.
    pub path: FolderPath,
    /// The file's name, or the folder's (its last segment).
    pub name: String,
    /// The file, for a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<Uuid>,
    /// How many files it holds.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// A folder's folders (itself and every folder under it), so empty ones
    /// come back too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub folders: Vec<FolderPath>,
    /// When it was deleted.
    pub trashed_at: Timestamp,
}

/// One folder in the index. Folders exist explicitly (an empty folder is
/// kept) and implicitly (every parent of a file or folder).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FolderRecord {
    /// The folder.
    pub path: FolderPath,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A direct child of a folder. (Pages hold at most 1,000; boxing the file
/// would cost an allocation per row for nothing.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A sub-folder.
    Folder(FolderRecord),
    /// A file.
    File(FileRecord),
}

/// The column a listing is sorted by. Folders always come before files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SortKey {
    /// By name (byte order of the NFC name), then id.
    #[default]
    Name,
    /// By size, then name.
    Size,
    /// By last change, then name.
    Modified,
}

/// A page of a folder's direct children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// The folder.
    pub folder: FolderPath,
    /// The sort column.
    pub sort: SortKey,
    /// Largest first.
    pub descending: bool,
    /// Where the previous page ended (opaque, from [`Page::next_cursor`]).
    pub cursor: Option<String>,
    /// At most this many entries (1 to [`MAX_PAGE`]).
    pub limit: u32,
}

/// The default page size of listings and searches.
pub const DEFAULT_PAGE: u32 = 100;
/// The largest page a caller may ask for.
pub const MAX_PAGE: u32 = 1000;

/// One page of results and where the next begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The results.
    pub items: Vec<T>,
    /// Pass back to get the next page; `None` on the last one.
    pub next_cursor: Option<String>,
}

/// What a user stores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Bytes of every file that is not being deleted: current files
    /// (uploads included, at their declared size, so a quota can't be
    /// overrun by parallel uploads), the trash and versions alike.
    pub bytes: u64,
    /// How many current files (uploading or available).
    pub files: u64,
    /// The part of `bytes` in the trash.
    #[serde(default)]
    pub trash_bytes: u64,
    /// The part of `bytes` kept as versions.
    #[serde(default)]
    pub version_bytes: u64,
}

/// Where an accepted command is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommandStatus {
    /// Accepted, not yet carried out.
    Pending,
    /// Carried out; `result` is the event it produced.
    Succeeded,
    /// Refused by its consumer; `result` is the `CommandFailed` event.
    Failed,
}

impl CommandStatus {
    /// The status as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    /// Parses [`Self::as_str`]'s output.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// An accepted command: what makes a retry idempotent and what a polling
/// client reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandRecord {
    /// The owner.
    pub user: UserId,
    /// The client's `CommandId`.
    pub command_id: Uuid,
    /// The command's action, e.g. `DeleteFile`.
    pub action: String,
    /// SHA-256 of the request body; the same id with another body is refused.
    pub request_hash: String,
    /// The answer the API gave; a retry gets it again.
    pub response: serde_json::Value,
    /// Where the command is.
    pub status: CommandStatus,
    /// The event that finished it (`{metadata, data}`), once finished.
    pub result: Option<serde_json::Value>,
    /// How far a consumer got while it was pending (what it found before
    /// changing anything), so a redelivery after a crash reports what the
    /// first attempt did ([`crate::ports::Index::note_progress`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<serde_json::Value>,
    /// When it was accepted.
    pub accepted_at: Timestamp,
    /// When it finished.
    pub finished_at: Option<Timestamp>,
}

/// How long the trash and versions are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// A trash item is purged this long after it was deleted.
    pub trash: std::time::Duration,
    /// At most this many versions of a file are kept (the newest).
    pub keep_versions: u32,
    /// A version is deleted this long after it stopped being current.
    pub version_age: std::time::Duration,
}

impl Default for Retention {
    /// 30 days in the trash; 10 versions, each for 90 days.
    fn default() -> Self {
        const DAY: u64 = 24 * 60 * 60;
        Self {
            trash: std::time::Duration::from_secs(30 * DAY),
            keep_versions: 10,
            version_age: std::time::Duration::from_secs(90 * DAY),
        }
    }
}
