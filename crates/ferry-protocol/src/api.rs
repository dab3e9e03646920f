//! The request and response bodies of the file API (`/api/...`), shared by
//! the browser and the server. JSON, camelCase. The OpenAPI document
//! (`crates/ferry-api/openapi.json`) describes the routes that carry them.
//!
//! Commands themselves travel as `{metadata, data}` envelopes
//! ([`crate::CommandEnvelope`]); these are the answers and the queries.

use crate::envelope::Timestamp;
use crate::messages::{ThumbnailCode, ThumbnailSize};
use crate::path::{FileName, FolderPath};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// S3's smallest part (all but the last).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// S3's most parts per upload.
pub const MAX_PARTS: u64 = 10_000;

/// The part size of files up to 10,000 parts of it (about 156 GiB): big
/// enough that each request's fixed costs are small (measured: 8 MiB parts
/// cost a GiB's upload a fifth more CPU, in the browser and the store,
/// than 16 MiB ones), small enough to keep memory low.
pub const DEFAULT_PART_SIZE: u64 = 16 * 1024 * 1024;

/// The part size for a file of `size` bytes: `base` (rounded up to whole
/// MiB, at least S3's 5 MiB), and more only when 10,000 parts need it. A
/// fixed part size keeps the browser's memory flat whatever the file's size.
/// The server answers `CreateFile` with it; the browser computes it too, to
/// start reading a file's parts while `CreateFile` is on its way.
pub fn part_size_for(size: u64, base: u64) -> u64 {
    const MIB: u64 = 1024 * 1024;
    let by_limit = size.div_ceil(MAX_PARTS).div_ceil(MIB);
    by_limit.max(base.div_ceil(MIB)).max(MIN_PART_SIZE / MIB) * MIB
}

/// A file as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct FileView {
    /// The file's id.
    pub file_id: Uuid,
    /// Its folder (`""` is the root).
    pub folder: FolderPath,
    /// Its name.
    pub name: FileName,
    /// `uploading`, `available`, `deleting`, `trashed` or `version`.
    pub status: String,
    /// Size in bytes.
    pub size: u64,
    /// Media type.
    pub content_type: String,
    /// Hex SHA-256 of the content, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The object store's ETag, once uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Grows with every change; order events by it.
    pub version: u64,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// The open multipart upload, while there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<MultipartView>,
    /// What became of its thumbnails; absent while none were tried (not
    /// an image, or not yet made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<ThumbnailView>,
}

/// Whether a file's thumbnails were made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum ThumbnailReadiness {
    /// Made: ask `POST /api/thumbnails` for them.
    Ready,
    /// None can be made; `code` says why.
    Failed,
}

/// What became of a file's thumbnails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ThumbnailView {
    /// Made, or not to be made.
    pub state: ThumbnailReadiness,
    /// The sizes made (when ready).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sizes: Vec<ThumbnailSize>,
    /// Why none was made (when failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<ThumbnailCode>,
}

/// The most file ids one `POST /api/thumbnails` may name.
pub const MAX_THUMBNAIL_IDS: usize = 100;

/// `POST /api/thumbnails`: links to the thumbnails of up to
/// [`MAX_THUMBNAIL_IDS`] files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ThumbnailsRequest {
    /// The files (1 to 100).
    pub file_ids: Vec<Uuid>,
    /// The size wanted.
    pub size: ThumbnailSize,
}

/// Where one file's thumbnail is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum ThumbnailLinkState {
    /// Made: `url` fetches it.
    Ready,
    /// An image whose thumbnails aren't made yet; a `ThumbnailCreated` or
    /// `ThumbnailFailed` event will say.
    Pending,
    /// None can be made; `code` says why.
    Failed,
    /// The file gets no thumbnail (not an image this size is made of).
    None,
    /// No such file of the caller's.
    NotFound,
}

/// One file's answer in a [`ThumbnailsResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ThumbnailLink {
    /// The file.
    pub file_id: Uuid,
    /// Where its thumbnail is.
    pub state: ThumbnailLinkState,
    /// A presigned `GET` of the thumbnail (when ready). The same URL is
    /// answered for the same thumbnail within an hour, so the browser's
    /// cache keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// When `url` stops working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// Its width in pixels (when ready).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// Its height in pixels (when ready).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Why none was made (when failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<ThumbnailCode>,
}

/// The answer to `POST /api/thumbnails`: one link per file asked, in the
/// order asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ThumbnailsResponse {
    /// One per file id asked.
    pub thumbnails: Vec<ThumbnailLink>,
}

/// An open multipart upload of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct MultipartView {
    /// The upload id.
    pub upload_id: String,
    /// Every part but the last has this size.
    pub part_size: u64,
    /// How many parts the file has.
    pub part_count: u32,
}

/// A folder as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct FolderView {
    /// The folder's path.
    pub path: FolderPath,
    /// Its last segment.
    pub name: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// One direct child of a folder. (Most entries of a page are files:
/// boxing them would cost an allocation per row for nothing.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum EntryView {
    /// A sub-folder.
    Folder(FolderView),
    /// A file.
    File(FileView),
}

/// An entry as it arrives, every field of either kind in one flat record:
/// read in one pass, where serde's internally tagged enums buffer each
/// entry first (several kilobytes more of the browser's download for the
/// listing it loads first).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEntry {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    created_at: Timestamp,
    #[serde(default)]
    path: Option<FolderPath>,
    #[serde(default)]
    file_id: Option<Uuid>,
    #[serde(default)]
    folder: Option<FolderPath>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    sha256: Option<String>,
    #[serde(default)]
    etag: Option<String>,
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    updated_at: Option<Timestamp>,
    #[serde(default)]
    multipart: Option<MultipartView>,
    #[serde(default)]
    thumbnail: Option<ThumbnailView>,
}

impl<'de> Deserialize<'de> for EntryView {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let raw = RawEntry::deserialize(deserializer)?;
        let missing = |field: &'static str| D::Error::missing_field(field);
        match raw.kind.as_str() {
            "folder" => Ok(Self::Folder(FolderView {
                path: raw.path.ok_or_else(|| missing("path"))?,
                name: raw.name,
                created_at: raw.created_at,
            })),
            "file" => Ok(Self::File(FileView {
                file_id: raw.file_id.ok_or_else(|| missing("fileId"))?,
                folder: raw.folder.ok_or_else(|| missing("folder"))?,
                name: FileName::parse(&raw.name).map_err(D::Error::custom)?,
                status: raw.status.ok_or_else(|| missing("status"))?,
                size: raw.size.ok_or_else(|| missing("size"))?,
                content_type: raw.content_type.ok_or_else(|| missing("contentType"))?,
                sha256: raw.sha256,
                etag: raw.etag,
                version: raw.version.ok_or_else(|| missing("version"))?,
                created_at: raw.created_at,
                updated_at: raw.updated_at.ok_or_else(|| missing("updatedAt"))?,
                multipart: raw.multipart,
                thumbnail: raw.thumbnail,
            })),
            other => Err(D::Error::unknown_variant(other, &["folder", "file"])),
        }
    }
}

/// `GET /api/files?folder=…`: a page of a folder's children.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ListResponse {
    /// The folder listed.
    pub folder: FolderPath,
    /// Sub-folders first, then files, in the asked order.
    pub entries: Vec<EntryView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET /api/search?q=…`: a page of files whose name contains the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SearchResponse {
    /// The matching files, by name.
    pub files: Vec<FileView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A request to send exactly as given: a presigned URL and the headers that
/// were signed with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PresignedRequest {
    /// `PUT` or `GET`.
    pub method: String,
    /// The URL, signature included.
    pub url: String,
    /// Headers to send with exactly these values.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// When the URL stops working.
    pub expires_at: Timestamp,
}

/// A presigned part upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PartUpload {
    /// 1 to 10,000.
    pub part_number: u32,
    /// The part's exact size.
    pub size: u64,
    /// The request to send it with.
    pub request: PresignedRequest,
}

/// How to upload a file's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum UploadInstructions {
    /// One `PUT` of the whole file.
    Single {
        /// The request.
        request: PresignedRequest,
    },
    /// A multipart upload: send each part, then `CompleteUpload`.
    Multipart {
        /// The upload id.
        #[serde(rename = "uploadId")]
        upload_id: String,
        /// Every part but the last has this size.
        #[serde(rename = "partSize")]
        part_size: u64,
        /// How many parts.
        #[serde(rename = "partCount")]
        part_count: u32,
        /// The first parts' requests; ask `POST /api/files/{id}/parts` for more.
        parts: Vec<PartUpload>,
    },
}

/// The answer to `CreateFile`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreateFileResponse {
    /// The command's id.
    pub command_id: Uuid,
    /// The new file (status `uploading`); its name may differ from the asked
    /// one when the conflict policy was `KeepBoth`.
    pub file: FileView,
    /// Where to send the bytes.
    pub upload: UploadInstructions,
}

/// The answer to a command that is carried out asynchronously (`202`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    /// The command's id; follow it on the WebSocket or at `/api/commands/{id}`.
    pub command_id: Uuid,
    /// The command's action.
    pub action: String,
    /// `pending` when first accepted.
    pub status: String,
}

/// The answer to `CompleteUpload` and `AbortUpload`: the file as it now is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct UploadResponse {
    /// The command's id.
    pub command_id: Uuid,
    /// The file (`uploading` until the index has it), absent once aborted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileView>,
}

/// `POST /api/commands/batch`: several commands at once (e.g. deleting a
/// selection), each with its own id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BatchRequest {
    /// 1 to 100 command envelopes.
    pub commands: Vec<serde_json::Value>,
}

/// The answer to a batch: one result per command, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    /// Each command's answer.
    pub results: Vec<BatchResult>,
}

/// One command's answer in a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct BatchResult {
    /// The HTTP status the command would have had alone.
    pub status: u16,
    /// Its body (an answer or an error body).
    pub body: serde_json::Value,
}

/// `POST /api/files/{id}/parts`: presign more parts of a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PresignPartsRequest {
    /// The parts wanted (at most 1,000 at once).
    pub parts: Vec<PartWanted>,
}

/// A part to presign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PartWanted {
    /// 1 to the upload's part count.
    pub part_number: u32,
    /// Base64 SHA-256 of the part; signed, so the store refuses other bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_sha256: Option<String>,
}

/// The answer to `POST /api/files/{id}/parts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PartsResponse {
    /// The requests, in the asked order.
    pub parts: Vec<PartUpload>,
}

/// `GET /api/files/{id}/parts`: the parts the store has, for resuming.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct UploadedPartsResponse {
    /// The upload id.
    pub upload_id: String,
    /// The parts received so far.
    pub parts: Vec<UploadedPartView>,
}

/// A part the store has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct UploadedPartView {
    /// Its number.
    pub part_number: u32,
    /// Its size.
    pub size: u64,
    /// Its ETag.
    pub etag: String,
    /// Its base64 SHA-256, when it was sent with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_sha256: Option<String>,
}

/// `GET /api/files/{id}/download`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct DownloadResponse {
    /// The presigned `GET`; its response names the file in
    /// `Content-Disposition`.
    pub request: PresignedRequest,
    /// The file's hex SHA-256, to verify the download against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// `GET /api/files/{id}/preview`: how the browser may show a file.
///
/// `kind` is [`crate::preview::preview`]'s decision. For an inline kind the
/// request is a presigned `GET` served `inline` with `content_type` (text
/// as `text/plain; charset=utf-8`); for `none` it is the ordinary download
/// (an attachment), and the file is never served inline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PreviewResponse {
    /// The presigned `GET`.
    pub url: String,
    /// When the URL stops working.
    pub expires_at: Timestamp,
    /// Which viewer shows it.
    pub kind: crate::preview::PreviewKind,
    /// The type the response carries (the index's type for a download).
    pub content_type: String,
    /// The file's size in bytes.
    pub size: u64,
    /// The file's hex SHA-256, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Whether the URL is served inline (`false`: a download).
    pub inline: bool,
}

/// `GET /api/commands/{id}`: where a command is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CommandView {
    /// Its id.
    pub command_id: Uuid,
    /// Its action.
    pub action: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// When it was accepted.
    pub accepted_at: Timestamp,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// The event that finished it (`{metadata, data}`): the resulting fact,
    /// or `CommandFailed` with the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
}

/// `GET /api/usage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct UsageView {
    /// Bytes stored (uploads in progress count at their declared size).
    pub bytes: u64,
    /// Files stored.
    pub files: u64,
    /// The most bytes allowed, when there is a quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_bytes: Option<u64>,
    /// The part of `bytes` in the trash (it counts toward the quota).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trash_bytes: Option<u64>,
    /// The part of `bytes` kept as older versions (it counts too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_bytes: Option<u64>,
}

/// One thing in the trash (`GET /api/trash`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct TrashItemView {
    /// Its id: what `RestoreTrashItem` and `PurgeTrashItem` name.
    pub trash_id: Uuid,
    /// `file` or `folder`.
    pub kind: String,
    /// The file's or the folder's name.
    pub name: String,
    /// The folder it was in (`""` is the root).
    pub from: FolderPath,
    /// The file's id, for a file (it can be downloaded while in the trash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<Uuid>,
    /// How many files it holds.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// When it was deleted.
    pub trashed_at: Timestamp,
}

/// A page of the trash, the most recently deleted first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct TrashPage {
    /// The items.
    pub items: Vec<TrashItemView>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Bytes in the whole trash (they count toward the quota).
    pub trash_bytes: u64,
    /// Items are deleted forever this many days after they were deleted.
    pub retention_days: u64,
}

/// A file's older versions (`GET /api/files/{id}/versions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct VersionsPage {
    /// The current file.
    pub file: FileView,
    /// Its versions, the newest first: each can be downloaded by its id.
    pub versions: Vec<FileView>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// At most this many versions are kept.
    pub keep_versions: u32,
    /// A version is kept this many days after it stopped being current.
    pub version_days: u64,
}

/// One event in the caller's feed (`GET /api/events`, and the WebSocket's
/// `{"type": "event"}` messages carry the same two fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct FeedItem {
    /// Its position in the feed; resume after it.
    pub cursor: i64,
    /// The event, `{metadata, data}`.
    pub event: serde_json::Value,
}

/// `GET /api/events?after=N`: the caller's events after a cursor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct FeedPage {
    /// The events after the asked cursor, oldest first.
    pub events: Vec<FeedItem>,
    /// The cursor to ask after next time.
    pub cursor: i64,
    /// Whether more events follow.
    pub more: bool,
    /// Whether events after the asked cursor were dropped for age before
    /// they were read (the feed keeps a week): what the client shows may be
    /// stale, so it reads it again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub missed: bool,
}

#[cfg(test)]
mod entry_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn file() -> FileView {
        FileView {
            file_id: Uuid::from_u128(7),
            folder: FolderPath::parse("docs").unwrap(),
            name: FileName::parse("a.txt").unwrap(),
            status: "available".into(),
            size: 5,
            content_type: "text/plain".into(),
            sha256: Some("ab".into()),
            etag: None,
            version: 3,
            created_at: Timestamp::from_unix_millis(1_000).unwrap(),
            updated_at: Timestamp::from_unix_millis(2_000).unwrap(),
            multipart: Some(MultipartView {
                upload_id: "u".into(),
                part_size: 5,
                part_count: 1,
            }),
            thumbnail: Some(ThumbnailView {
                state: ThumbnailReadiness::Ready,
                sizes: vec![ThumbnailSize::Small, ThumbnailSize::Medium],
                code: None,
            }),
        }
    }

    #[test]
    fn entries_read_back_as_written() {
        let entries = vec![
            EntryView::Folder(FolderView {
                path: FolderPath::parse("docs/old").unwrap(),
                name: "old".into(),
                created_at: Timestamp::from_unix_millis(3_000).unwrap(),
            }),
            EntryView::File(file()),
        ];
        let text = serde_json::to_string(&entries).unwrap();
        let read: Vec<EntryView> = serde_json::from_str(&text).unwrap();
        assert_eq!(read, entries);
    }

    #[test]
    fn a_broken_entry_is_refused_with_its_reason() {
        let mut file = serde_json::to_value(EntryView::File(file())).unwrap();
        file.as_object_mut().unwrap().remove("size");
        let error = serde_json::from_value::<EntryView>(file).unwrap_err();
        assert!(
            error.to_string().contains("missing field `size`"),
            "{error}"
        );
        let odd =
            serde_json::json!({"type": "link", "name": "x", "createdAt": "2026-01-01T00:00:00Z"});
        let error = serde_json::from_value::<EntryView>(odd).unwrap_err();
        assert!(
            error.to_string().contains("unknown variant `link`"),
            "{error}"
        );
        let bad_name = serde_json::json!({
            "type": "file", "name": "a/b", "createdAt": "2026-01-01T00:00:00Z",
            "fileId": Uuid::from_u128(1), "folder": "", "status": "available", "size": 1,
            "contentType": "x", "version": 1, "updatedAt": "2026-01-01T00:00:00Z",
        });
        assert!(serde_json::from_value::<EntryView>(bad_name).is_err());
    }
}
