//! Commands (intents) and events (facts), version by version.
//!
//! Each body is a struct named after its action and version (`FileDeletedV1`).
//! A published version never changes incompatibly: a field can be added only
//! as optional, never removed, retyped or made required. A breaking change is a
//! new struct (`FileDeletedV2`) added beside the old one, and both are listed
//! in the catalog below for as long as consumers use the old one. The schema
//! test in `tests/schemas.rs` enforces this against the committed schemas in
//! `schemas/`.

use crate::envelope::{DecodeError, Payload, Timestamp};
use crate::error::ErrorCode;
use crate::path::{FileName, FolderPath};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Declares a catalog of message bodies: the enum over them and its
/// [`Payload`] implementation.
macro_rules! catalog {
    (
        $(#[$meta:meta])*
        pub enum $enum:ident {
            $( $(#[$vmeta:meta])* $variant:ident($body:ident) = ($action:literal, $version:literal), )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub enum $enum {
            $( $(#[$vmeta])* $variant($body), )*
        }

        impl $enum {
            /// Every `(action, version)` this build reads and writes.
            pub const CATALOG: &'static [(&'static str, u32)] = &[ $( ($action, $version), )* ];

            /// The JSON Schema of each body, with its `Action`, in catalog order.
            #[cfg(feature = "schema")]
            pub fn body_schemas() -> Vec<(&'static str, u32, serde_json::Value)> {
                vec![ $( ($action, $version, crate::schema::body_schema::<$body>($action)), )* ]
            }
        }

        impl Payload for $enum {
            fn action(&self) -> &'static str {
                match self { $( Self::$variant(_) => $action, )* }
            }

            fn version(&self) -> u32 {
                match self { $( Self::$variant(_) => $version, )* }
            }

            fn to_data(&self) -> serde_json::Value {
                let (action, value) = match self {
                    $( Self::$variant(body) => ($action, serde_json::to_value(body)), )*
                };
                // A body is a plain struct of strings, numbers and newtypes
                // over them, so serialising it can't fail.
                let mut value = value.unwrap_or_default();
                if let Some(object) = value.as_object_mut() {
                    object.insert("Action".to_owned(), action.into());
                }
                value
            }

            fn from_data(action: &str, version: u32, mut data: serde_json::Value) -> Result<Self, DecodeError> {
                if let Some(object) = data.as_object_mut() {
                    object.remove("Action");
                }
                let malformed = |e: serde_json::Error| DecodeError::Malformed {
                    action: action.to_owned(),
                    version,
                    reason: e.to_string(),
                };
                match (action, version) {
                    $( ($action, $version) => serde_json::from_value(data).map(Self::$variant).map_err(malformed), )*
                    _ if Self::CATALOG.iter().any(|(a, _)| *a == action) => {
                        Err(DecodeError::UnknownVersion { action: action.to_owned(), version })
                    }
                    _ => Err(DecodeError::UnknownAction(action.to_owned())),
                }
            }
        }

        $(
            impl From<$body> for $enum {
                fn from(body: $body) -> Self {
                    Self::$variant(body)
                }
            }
        )*
    };
}

catalog! {
    /// An intent: what a user asked for. The API stores it on the bus before
    /// it answers, and a consumer turns it into events.
    pub enum Command {
        CreateFile(CreateFileV1) = ("CreateFile", 1),
        CompleteUpload(CompleteUploadV1) = ("CompleteUpload", 1),
        AbortUpload(AbortUploadV1) = ("AbortUpload", 1),
        DeleteFile(DeleteFileV1) = ("DeleteFile", 1),
        DeleteFolder(DeleteFolderV1) = ("DeleteFolder", 1),
        MoveFile(MoveFileV1) = ("MoveFile", 1),
        CreateFolder(CreateFolderV1) = ("CreateFolder", 1),
        RestoreTrashItem(RestoreTrashItemV1) = ("RestoreTrashItem", 1),
        PurgeTrashItem(PurgeTrashItemV1) = ("PurgeTrashItem", 1),
        EmptyTrash(EmptyTrashV1) = ("EmptyTrash", 1),
        RestoreVersion(RestoreVersionV1) = ("RestoreVersion", 1),
        DeleteVersion(DeleteVersionV1) = ("DeleteVersion", 1),
    }
}

catalog! {
    /// A fact: something that happened. Events are published to the bus and
    /// pushed to the owner's browser.
    pub enum Event {
        FileCreated(FileCreatedV2) = ("FileCreated", 2),
        FileCreatedV1(FileCreatedV1) = ("FileCreated", 1),
        FileDeleted(FileDeletedV1) = ("FileDeleted", 1),
        FileMoved(FileMovedV1) = ("FileMoved", 1),
        FolderCreated(FolderCreatedV1) = ("FolderCreated", 1),
        FolderDeleted(FolderDeletedV1) = ("FolderDeleted", 1),
        UploadAborted(UploadAbortedV1) = ("UploadAborted", 1),
        CommandFailed(CommandFailedV1) = ("CommandFailed", 1),
        FileTrashed(FileTrashedV1) = ("FileTrashed", 1),
        FolderTrashed(FolderTrashedV1) = ("FolderTrashed", 1),
        FileRestored(FileRestoredV1) = ("FileRestored", 1),
        FolderRestored(FolderRestoredV1) = ("FolderRestored", 1),
        TrashItemPurged(TrashItemPurgedV1) = ("TrashItemPurged", 1),
        TrashEmptied(TrashEmptiedV1) = ("TrashEmptied", 1),
        FileVersionRestored(FileVersionRestoredV1) = ("FileVersionRestored", 1),
        ThumbnailCreated(ThumbnailCreatedV1) = ("ThumbnailCreated", 1),
        ThumbnailFailed(ThumbnailFailedV1) = ("ThumbnailFailed", 1),
    }
}

impl Event {
    /// This event in every version still in use, the newest first.
    ///
    /// While consumers still read an older version of an event, producers
    /// publish both: when `FooV2` is introduced, the `Foo` arm here also
    /// builds the `FooV1` it replaces (dropping what V1 can't carry), until
    /// the last V1 consumer has moved on.
    ///
    /// `FileCreated` v2 names the file's lineage (the versions it continues)
    /// and the file it replaced; v1, which can say neither, is published
    /// beside it.
    pub fn editions(self) -> Vec<Event> {
        match self {
            Event::FileCreated(v2) => {
                let v1 = FileCreatedV1 {
                    file_id: v2.file_id,
                    folder: v2.folder.clone(),
                    name: v2.name.clone(),
                    size: v2.size,
                    content_type: v2.content_type.clone(),
                    sha256: v2.sha256.clone(),
                    e_tag: v2.e_tag.clone(),
                    version: v2.version,
                };
                vec![Event::FileCreated(v2), Event::FileCreatedV1(v1)]
            }
            other => vec![other],
        }
    }

    /// Whether a newer version of this event's action is published beside
    /// it (so a reader of the newest editions can skip this one).
    pub fn is_older_edition(&self) -> bool {
        let (action, version) = (self.action(), self.version());
        Self::CATALOG
            .iter()
            .any(|(a, v)| *a == action && *v > version)
    }
}

/// Ask to store a new file: the answer carries its id and where to upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct CreateFileV1 {
    /// The folder to create the file in (`""` is the root).
    pub folder: FolderPath,
    /// The file's name.
    pub name: FileName,
    /// The size in bytes the upload will have; the object store refuses more.
    pub size: u64,
    /// The media type, e.g. `image/png`.
    pub content_type: String,
    /// Hex SHA-256 of the whole file, when the client computed it up front.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// What to do when the folder already has a file of this name.
    #[serde(default)]
    pub on_conflict: ConflictPolicy,
}

/// What [`CreateFileV1`] and [`MoveFileV1`] do when the target name is taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum ConflictPolicy {
    /// Refuse with a `Conflict` error.
    #[default]
    Fail,
    /// Replace the existing file.
    Replace,
    /// Keep both; the new one gets a free name such as `report (1).pdf`.
    KeepBoth,
}

/// The browser finished uploading; the server completes the multipart upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct CompleteUploadV1 {
    /// The file being uploaded.
    pub file_id: Uuid,
    /// The parts with the ETags the object store returned; empty for a
    /// single-PUT upload.
    #[serde(default)]
    pub parts: Vec<UploadedPart>,
    /// The whole file's SHA-256 (hex), when the client computed it while
    /// reading the file; kept in the index so downloads can be checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// One uploaded part of a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct UploadedPart {
    /// 1 to 10,000.
    pub part_number: u32,
    /// The `ETag` header of the part's PUT response.
    pub e_tag: String,
    /// Base64 SHA-256 of the part, as sent in `x-amz-checksum-sha256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_sha256: Option<String>,
}

/// Give up an upload; its parts are removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct AbortUploadV1 {
    /// The file being uploaded.
    pub file_id: Uuid,
}

/// Delete one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct DeleteFileV1 {
    /// The file.
    pub file_id: Uuid,
}

/// Delete a folder and everything under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct DeleteFolderV1 {
    /// The folder; never the root.
    pub path: FolderPath,
}

/// Move a file to another folder, rename it, or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct MoveFileV1 {
    /// The file.
    pub file_id: Uuid,
    /// The folder to move it to (its current folder for a rename).
    pub to_folder: FolderPath,
    /// Its name there.
    pub to_name: FileName,
    /// What to do when the target name is taken.
    #[serde(default)]
    pub on_conflict: ConflictPolicy,
}

/// Create an empty folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct CreateFolderV1 {
    /// The folder to create, parents included.
    pub path: FolderPath,
}

/// Put a trash item back where it was: a file, or a folder with all it held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct RestoreTrashItemV1 {
    /// The trash item: the id of the command that deleted it.
    pub trash_id: Uuid,
    /// What to do when a restored file's name is taken: `Fail` changes
    /// nothing, `Replace` moves the file in the way to the trash, `KeepBoth`
    /// gives the restored file a free name.
    #[serde(default)]
    pub on_conflict: ConflictPolicy,
}

/// Delete a trash item forever: its bytes (and its files' versions) go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct PurgeTrashItemV1 {
    /// The trash item.
    pub trash_id: Uuid,
}

/// Delete everything in the trash forever.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct EmptyTrashV1 {}

/// Make an older version of a file current again; the current content
/// becomes a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct RestoreVersionV1 {
    /// The current file.
    pub file_id: Uuid,
    /// The version to make current: one of the current file's versions.
    pub version_id: Uuid,
}

/// Delete one version of a file forever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct DeleteVersionV1 {
    /// The current file.
    pub file_id: Uuid,
    /// The version to delete.
    pub version_id: Uuid,
}

/// A file was uploaded, indexed, and is available; it may continue the
/// versions of a file it replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct FileCreatedV2 {
    /// The file.
    pub file_id: Uuid,
    /// Its folder.
    pub folder: FolderPath,
    /// Its name.
    pub name: FileName,
    /// Size in bytes.
    pub size: u64,
    /// Media type.
    pub content_type: String,
    /// Hex SHA-256 of the content, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The object store's ETag.
    pub e_tag: String,
    /// The index entry's version after this change; clients order by it.
    pub version: u64,
    /// The file's lineage: the id of the first file of its versions (its
    /// own id when it replaced nothing). Every version of a file shares it.
    pub lineage: Uuid,
    /// The file this one replaced, now one of its versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<Uuid>,
}

/// A file was uploaded, indexed, and is available.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct FileCreatedV1 {
    /// The file.
    pub file_id: Uuid,
    /// Its folder.
    pub folder: FolderPath,
    /// Its name.
    pub name: FileName,
    /// Size in bytes.
    pub size: u64,
    /// Media type.
    pub content_type: String,
    /// Hex SHA-256 of the content, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The object store's ETag.
    pub e_tag: String,
    /// The index entry's version after this change; clients order by it.
    pub version: u64,
}

/// A file was deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct FileDeletedV1 {
    /// The file.
    pub file_id: Uuid,
    /// The folder it was in.
    pub folder: FolderPath,
    /// The name it had.
    pub name: FileName,
    /// The index entry's version after this change.
    pub version: u64,
}

/// A file was moved or renamed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct FileMovedV1 {
    /// The file.
    pub file_id: Uuid,
    /// Where it was.
    pub from_folder: FolderPath,
    /// What it was called.
    pub from_name: FileName,
    /// Where it is now.
    pub to_folder: FolderPath,
    /// What it is called now.
    pub to_name: FileName,
    /// The index entry's version after this change.
    pub version: u64,
    /// The file that had the name and was moved to the trash for it
    /// (`Replace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<Uuid>,
}

/// A folder was created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct FolderCreatedV1 {
    /// The folder.
    pub path: FolderPath,
}

/// A folder and everything under it was deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct FolderDeletedV1 {
    /// The folder.
    pub path: FolderPath,
    /// How many files went with it.
    pub files_deleted: u64,
}

/// An upload was given up and its parts removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct UploadAbortedV1 {
    /// The file whose upload ended.
    pub file_id: Uuid,
    /// Why: `cancelled` by the user or `expired` by the sweep.
    pub reason: String,
}

/// A command could not be carried out; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct CommandFailedV1 {
    /// The failed command's action, e.g. `DeleteFile`.
    pub command_action: String,
    /// A stable code a client can branch on.
    pub code: ErrorCode,
    /// A sentence a person can read.
    pub message: String,
    /// When the command was issued.
    pub issued_at: Timestamp,
}

/// A file was moved to the trash; its bytes are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct FileTrashedV1 {
    /// The file.
    pub file_id: Uuid,
    /// The folder it was in.
    pub folder: FolderPath,
    /// The name it had.
    pub name: FileName,
    /// The trash item it is in.
    pub trash_id: Uuid,
    /// The index entry's version after this change.
    pub version: u64,
}

/// A folder and everything under it was moved to the trash, as one item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct FolderTrashedV1 {
    /// The folder.
    pub path: FolderPath,
    /// The trash item it is.
    pub trash_id: Uuid,
    /// How many files went with it.
    pub files_trashed: u64,
}

/// A file came back from the trash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct FileRestoredV1 {
    /// The file.
    pub file_id: Uuid,
    /// Its folder.
    pub folder: FolderPath,
    /// Its name (a new one when the old was taken and both were kept).
    pub name: FileName,
    /// Its size in bytes.
    pub size: u64,
    /// The trash item it came from.
    pub trash_id: Uuid,
    /// The index entry's version after this change.
    pub version: u64,
    /// The file that had the name and went to the trash for it (`Replace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<Uuid>,
}

/// A folder came back from the trash with everything it held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct FolderRestoredV1 {
    /// The folder.
    pub path: FolderPath,
    /// The trash item it came from.
    pub trash_id: Uuid,
    /// How many files came back.
    pub files_restored: u64,
}

/// A trash item was deleted forever (`FileDeleted` is published for each of
/// its files, and each of their versions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct TrashItemPurgedV1 {
    /// The trash item.
    pub trash_id: Uuid,
    /// How many files were deleted, versions included.
    pub files_deleted: u64,
    /// Why: `purged` by the user, `emptied` with the whole trash, or
    /// `expired` by the retention.
    pub reason: String,
}

/// The trash was emptied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct TrashEmptiedV1 {
    /// How many trash items were deleted forever.
    pub items_purged: u64,
}

/// An older version of a file became current again; the content that was
/// current is now a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct FileVersionRestoredV1 {
    /// The file now current (the restored version's id).
    pub file_id: Uuid,
    /// The file that was current, now a version.
    pub replaced: Uuid,
    /// Its folder.
    pub folder: FolderPath,
    /// Its name.
    pub name: FileName,
    /// Its size in bytes.
    pub size: u64,
    /// Hex SHA-256 of its content, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The lineage both belong to.
    pub lineage: Uuid,
    /// The index entry's version after this change.
    pub version: u64,
}

/// The sizes thumbnails are made in, by their long side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum ThumbnailSize {
    /// 64 pixels on the long side: a list row's icon.
    Small,
    /// 320 pixels on the long side: a tile.
    Medium,
}

impl ThumbnailSize {
    /// Every size, smallest first.
    pub const ALL: [Self; 2] = [Self::Small, Self::Medium];

    /// The size as written in keys and sent (`small`, `medium`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Small => "small",
            Self::Medium => "medium",
        }
    }

    /// Parses [`Self::as_str`]'s output.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Why no thumbnail could be made of a file: a stable code a client can
/// branch on (the event's `Reason` says it to a person).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum ThumbnailCode {
    /// The file is larger than the thumbnailer reads; it wasn't read.
    TooLarge,
    /// The image's pixel count (or the memory decoding it would take) is
    /// over the limit: a decompression bomb, or simply too big.
    TooManyPixels,
    /// The bytes are damaged or aren't the image they claim to be.
    Corrupt,
    /// The format, or a feature of it, isn't one thumbnails are made of.
    Unsupported,
    /// Making the thumbnails took longer than allowed.
    TimedOut,
}

impl ThumbnailCode {
    /// The code as written (`TooLarge`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooLarge => "TooLarge",
            Self::TooManyPixels => "TooManyPixels",
            Self::Corrupt => "Corrupt",
            Self::Unsupported => "Unsupported",
            Self::TimedOut => "TimedOut",
        }
    }

    /// Parses [`Self::as_str`]'s output.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::TooLarge,
            Self::TooManyPixels,
            Self::Corrupt,
            Self::Unsupported,
            Self::TimedOut,
        ]
        .into_iter()
        .find(|c| c.as_str() == text)
    }
}

/// One thumbnail made of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct ThumbnailMade {
    /// Which size it is.
    pub size: ThumbnailSize,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
    /// Its media type, e.g. `image/jpeg`.
    pub content_type: String,
}

/// Thumbnails of a file were made and stored beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct ThumbnailCreatedV1 {
    /// The file.
    pub file_id: Uuid,
    /// The sizes made, smallest first.
    pub sizes: Vec<ThumbnailMade>,
    /// Hex SHA-256 of the content they were made of, when known: a client
    /// holding another checksum for the file knows they are stale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_sha256: Option<String>,
}

/// No thumbnail can be made of a file; it keeps its type's icon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct ThumbnailFailedV1 {
    /// The file.
    pub file_id: Uuid,
    /// Why, for programs.
    pub code: ThumbnailCode,
    /// Why, in a sentence a person understands.
    pub reason: String,
}
