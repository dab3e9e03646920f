//! The events `<ferry-files>` dispatches on the host page, and the shape of
//! each one's `detail`.
//!
//! Every event is a DOM `CustomEvent` with `bubbles: true, composed: true`,
//! dispatched on the element itself, so a portal can listen on the element
//! or anywhere above it (`event.target` is the instance that sent it). Each
//! `detail` is a published contract like a command or an event: a struct
//! named after the event and its version (`NavigateV1`), its JSON Schema
//! committed as `schemas/host/{event name}.v{version}.json`, and the same
//! compatibility check (`tests/schemas.rs`) guarding it — a field may be
//! added when it is optional; removing, retyping or requiring one is a new
//! version published beside the old one.
//!
//! Every detail says which version of its schema it follows in
//! `schemaVersion` (the host-page counterpart of an envelope's
//! `EventVersion`), and `ferry-ready` names the whole set's version in
//! `contract` ([`HOST_CONTRACT`]). Fields are camelCase; values the host
//! branches on are closed sets (`kind`, `action`, `reason`, `code`), and
//! adding a value to one is a breaking change too.
//!
//! The browser only serialises these; `Deserialize` is derived as well, for
//! tests and native tools, and costs the wasm nothing because serde's
//! derives are generic and emit no code until something deserialises.
//!
//! Literal examples of every detail are in `tests/host.rs`.

use crate::error::{ApiError, ErrorCode};
use crate::messages::{Event, FileCreatedV1};
use crate::path::FolderPath;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// The version of the whole set of host events: their names and the
/// version of each one's detail ([`HOST_EVENTS`]). It goes up when an event
/// is added or a detail gets a new version, and `ferry-ready` carries it.
pub const HOST_CONTRACT: u32 = 1;

/// A detail that `<ferry-files>` dispatches: its event name and the version
/// of its schema.
pub trait HostEvent: Serialize {
    /// The DOM event's type, e.g. `ferry-navigate`.
    const NAME: &'static str;
    /// The version of this detail's schema (its `schemaVersion`).
    const VERSION: u32;
}

/// Lists the details once: the table of names and versions, and (with the
/// `schema` feature) their schemas, in the same order.
macro_rules! details {
    ($($detail:ty),* $(,)?) => {
        /// Every host event the element dispatches, with its detail's
        /// version: the contract [`HOST_CONTRACT`] names.
        pub const HOST_EVENTS: &[(&str, u32)] = &[ $( (<$detail>::NAME, <$detail>::VERSION), )* ];

        /// The JSON Schema of each detail, in [`HOST_EVENTS`]' order.
        #[cfg(feature = "schema")]
        pub fn detail_schemas() -> Vec<(&'static str, u32, serde_json::Value)> {
            vec![ $( (
                <$detail>::NAME,
                <$detail>::VERSION,
                crate::schema::detail_schema::<$detail>(<$detail>::NAME, <$detail>::VERSION),
            ), )* ]
        }
    };
}

details!(
    ReadyV1,
    NavigateV1,
    SelectionChangeV1,
    UploadCompleteV1,
    FileChangedV1,
    ErrorV1,
    SignedOutV1,
);

/// A detail's `schemaVersion`: always `N` on the wire, and nothing else is
/// read as it, so a detail can't claim a version it doesn't have.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchemaVersion<const N: u32>;

impl<const N: u32> Serialize for SchemaVersion<N> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(N)
    }
}

impl<'de, const N: u32> Deserialize<'de> for SchemaVersion<N> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let version = u32::deserialize(deserializer)?;
        if version == N {
            Ok(Self)
        } else {
            Err(serde::de::Error::custom(format!(
                "schemaVersion {version} where {N} was expected"
            )))
        }
    }
}

#[cfg(feature = "schema")]
impl<const N: u32> schemars::JsonSchema for SchemaVersion<N> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("SchemaVersion{N}").into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "integer",
            "const": N,
            "description": "The version of this detail's schema.",
        })
    }
}

// ---------------------------------------------------------------------------

/// `ferry-ready`'s event name.
pub const READY: &str = "ferry-ready";

/// `ferry-ready`: an instance has started and shows either its folder or
/// the sign-in form. Sent once per mount (again after a setting changes or the element is
/// put back), once its settings are read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReadyV1 {
    /// Always 1.
    pub schema_version: SchemaVersion<1>,
    /// The version of the host-event contract this element follows
    /// ([`HOST_CONTRACT`]).
    pub contract: u32,
    /// The folder the instance shows (`""` is the root).
    pub folder: FolderPath,
    /// Whether a session is open (from the token provider or Ferry's own
    /// sign-in); `false` means the instance shows its sign-in form.
    pub signed_in: bool,
}

impl HostEvent for ReadyV1 {
    const NAME: &'static str = READY;
    const VERSION: u32 = 1;
}

impl ReadyV1 {
    /// The detail of an instance showing `folder`, under today's contract.
    pub fn new(folder: FolderPath, signed_in: bool) -> Self {
        Self {
            schema_version: SchemaVersion,
            contract: HOST_CONTRACT,
            folder,
            signed_in,
        }
    }
}

// ---------------------------------------------------------------------------

/// `ferry-navigate`'s event name.
pub const NAVIGATE: &str = "ferry-navigate";

/// `ferry-navigate`: the instance now shows another folder. A host that
/// keeps its own URL follows this and sets the element's `folder`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct NavigateV1 {
    /// Always 1.
    pub schema_version: SchemaVersion<1>,
    /// The folder now shown (`""` is the root).
    pub folder: FolderPath,
}

impl HostEvent for NavigateV1 {
    const NAME: &'static str = NAVIGATE;
    const VERSION: u32 = 1;
}

impl NavigateV1 {
    /// The detail for a move to `folder`.
    pub fn new(folder: FolderPath) -> Self {
        Self {
            schema_version: SchemaVersion,
            folder,
        }
    }
}

// ---------------------------------------------------------------------------

/// `ferry-selection-change`'s event name.
pub const SELECTION_CHANGE: &str = "ferry-selection-change";

/// `ferry-selection-change`: what is selected changed.
///
/// `files` holds every selected entry in the order the grid shows them,
/// folders included: each says what it is in `kind`, and a folder has a
/// `path` where a file has an `id` and a `size`. A host that wants files
/// only keeps `kind === "file"`. An empty list means nothing is selected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SelectionChangeV1 {
    /// Always 1.
    pub schema_version: SchemaVersion<1>,
    /// The selected entries, in the grid's order.
    pub files: Vec<SelectedEntry>,
}

impl HostEvent for SelectionChangeV1 {
    const NAME: &'static str = SELECTION_CHANGE;
    const VERSION: u32 = 1;
}

impl SelectionChangeV1 {
    /// The detail for these selected entries.
    pub fn new(files: Vec<SelectedEntry>) -> Self {
        Self {
            schema_version: SchemaVersion,
            files,
        }
    }
}

/// One selected entry of [`SelectionChangeV1`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum SelectedEntry {
    /// A file.
    File {
        /// The file's id; it stays the same through renames and moves.
        id: Uuid,
        /// Its name.
        name: String,
        /// Its folder (`""` is the root).
        folder: FolderPath,
        /// Its size in bytes.
        size: u64,
    },
    /// A folder.
    Folder {
        /// The folder's own path; folders are known by it.
        path: FolderPath,
        /// Its name (the last segment of `path`).
        name: String,
        /// The folder it is in (`""` is the root).
        folder: FolderPath,
    },
}

// ---------------------------------------------------------------------------

/// `ferry-upload-complete`'s event name.
pub const UPLOAD_COMPLETE: &str = "ferry-upload-complete";

/// `ferry-upload-complete`: a file this instance uploaded is stored and
/// indexed — sent when the backend's `FileCreated` confirms it, so the file
/// is listed and downloadable by the time the host hears of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct UploadCompleteV1 {
    /// Always 1.
    pub schema_version: SchemaVersion<1>,
    /// The file as the index has it.
    pub file: UploadedFile,
}

impl HostEvent for UploadCompleteV1 {
    const NAME: &'static str = UPLOAD_COMPLETE;
    const VERSION: u32 = 1;
}

/// The file of [`UploadCompleteV1`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct UploadedFile {
    /// The file's id; it stays the same through renames and moves.
    pub id: Uuid,
    /// Its name (which may differ from the name picked when the folder
    /// already had one and both were kept, e.g. `report (1).pdf`).
    pub name: String,
    /// Its folder (`""` is the root).
    pub folder: FolderPath,
    /// Its size in bytes.
    pub size: u64,
    /// Its media type, e.g. `application/pdf`.
    pub content_type: String,
    /// The SHA-256 of its content, 64 lowercase hex digits; `null` only
    /// when the deployment turned upload checksums off.
    pub sha256: Option<String>,
    /// The index entry's version; it grows with every change to the file.
    pub version: u64,
}

impl From<&FileCreatedV1> for UploadCompleteV1 {
    /// The detail for the event that confirmed the upload.
    fn from(created: &FileCreatedV1) -> Self {
        Self {
            schema_version: SchemaVersion,
            file: UploadedFile {
                id: created.file_id,
                name: created.name.as_str().to_owned(),
                folder: created.folder.clone(),
                size: created.size,
                content_type: created.content_type.clone(),
                sha256: created.sha256.as_deref().map(str::to_ascii_lowercase),
                version: created.version,
            },
        }
    }
}

// ---------------------------------------------------------------------------

/// `ferry-file-changed`'s event name.
pub const FILE_CHANGED: &str = "ferry-file-changed";

/// `ferry-file-changed`: a file was renamed, moved or deleted, or a folder
/// deleted, as the backend's events confirm (never on the request alone).
/// It reports changes made anywhere — this instance, another tab, another
/// device — to files of the signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct FileChangedV1 {
    /// Always 1.
    pub schema_version: SchemaVersion<1>,
    /// What happened.
    pub action: ChangeAction,
    /// The entry as it is now (for `deleted`, as it was).
    pub file: ChangedEntry,
    /// Where the file was and what it was called, for `renamed` and `moved`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Place>,
}

impl HostEvent for FileChangedV1 {
    const NAME: &'static str = FILE_CHANGED;
    const VERSION: u32 = 1;
}

/// What [`FileChangedV1`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum ChangeAction {
    /// A file got another name in the same folder.
    Renamed,
    /// A file went to another folder (and may have been renamed too).
    Moved,
    /// A file, or a folder with everything in it, was deleted.
    Deleted,
}

/// The entry [`FileChangedV1`] is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ChangedEntry {
    /// A file.
    File {
        /// The file's id; it stays the same through renames and moves.
        id: Uuid,
        /// Its name.
        name: String,
        /// Its folder (`""` is the root).
        folder: FolderPath,
        /// The index entry's version after this change.
        version: u64,
    },
    /// A folder; only ever `deleted`.
    Folder {
        /// The folder's own path.
        path: FolderPath,
        /// Its name (the last segment of `path`).
        name: String,
        /// The folder it was in (`""` is the root).
        folder: FolderPath,
        /// How many files were deleted with it, at any depth.
        files_deleted: u64,
    },
}

/// A file's folder and name before it was renamed or moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Place {
    /// The folder it was in.
    pub folder: FolderPath,
    /// The name it had.
    pub name: String,
}

impl FileChangedV1 {
    /// The detail an event confirms, or `None` for an event that isn't a
    /// rename, a move or a deletion. A move within its folder is `renamed`;
    /// one to another folder is `moved`, whether or not the name changed.
    pub fn from_event(event: &Event) -> Option<Self> {
        let (action, file, from) = match event {
            Event::FileMoved(moved) => (
                if moved.from_folder == moved.to_folder {
                    ChangeAction::Renamed
                } else {
                    ChangeAction::Moved
                },
                ChangedEntry::File {
                    id: moved.file_id,
                    name: moved.to_name.as_str().to_owned(),
                    folder: moved.to_folder.clone(),
                    version: moved.version,
                },
                Some(Place {
                    folder: moved.from_folder.clone(),
                    name: moved.from_name.as_str().to_owned(),
                }),
            ),
            Event::FileDeleted(deleted) => (
                ChangeAction::Deleted,
                ChangedEntry::File {
                    id: deleted.file_id,
                    name: deleted.name.as_str().to_owned(),
                    folder: deleted.folder.clone(),
                    version: deleted.version,
                },
                None,
            ),
            Event::FolderDeleted(deleted) => (
                ChangeAction::Deleted,
                ChangedEntry::Folder {
                    path: deleted.path.clone(),
                    name: deleted.path.name().unwrap_or_default().to_owned(),
                    folder: deleted.path.parent().unwrap_or_default(),
                    files_deleted: deleted.files_deleted,
                },
                None,
            ),
            // In the trash is gone from its folder, as far as a host sees.
            Event::FileTrashed(trashed) => (
                ChangeAction::Deleted,
                ChangedEntry::File {
                    id: trashed.file_id,
                    name: trashed.name.as_str().to_owned(),
                    folder: trashed.folder.clone(),
                    version: trashed.version,
                },
                None,
            ),
            Event::FolderTrashed(trashed) => (
                ChangeAction::Deleted,
                ChangedEntry::Folder {
                    path: trashed.path.clone(),
                    name: trashed.path.name().unwrap_or_default().to_owned(),
                    folder: trashed.path.parent().unwrap_or_default(),
                    files_deleted: trashed.files_trashed,
                },
                None,
            ),
            Event::FileCreated(_)
            | Event::FileCreatedV1(_)
            | Event::FolderCreated(_)
            | Event::UploadAborted(_)
            | Event::CommandFailed(_)
            | Event::FileRestored(_)
            | Event::FolderRestored(_)
            | Event::TrashItemPurged(_)
            | Event::TrashEmptied(_)
            | Event::FileVersionRestored(_)
            | Event::ThumbnailCreated(_)
            | Event::ThumbnailFailed(_) => return None,
        };
        Some(Self {
            schema_version: SchemaVersion,
            action,
            file,
            from,
        })
    }
}

// ---------------------------------------------------------------------------

/// `ferry-error`'s event name.
pub const ERROR: &str = "ferry-error";

/// `ferry-error`: something the person asked for, or the instance needs,
/// failed. The element has already told the person in its own UI; the
/// event is for the host's logs and its own reactions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ErrorV1 {
    /// Always 1.
    pub schema_version: SchemaVersion<1>,
    /// What went wrong, for programs: one of the API's codes or one of the
    /// element's own.
    pub code: HostErrorCode,
    /// What went wrong, for people; the wording may change.
    pub message: String,
    /// Whether trying the same thing again may succeed.
    pub retryable: bool,
    /// The API request's trace id, when the API answered; quote it in a
    /// support request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

impl HostEvent for ErrorV1 {
    const NAME: &'static str = ERROR;
    const VERSION: u32 = 1;
}

impl ErrorV1 {
    /// An error with `retryable` taken from its code.
    pub fn new(code: impl Into<HostErrorCode>, message: impl Into<String>) -> Self {
        let code = code.into();
        Self {
            schema_version: SchemaVersion,
            code,
            message: message.into(),
            retryable: code.retryable(),
            trace_id: None,
        }
    }
}

impl From<&ApiError> for ErrorV1 {
    /// The API's error body as the host sees it.
    fn from(error: &ApiError) -> Self {
        Self {
            schema_version: SchemaVersion,
            code: HostErrorCode::Api(error.code),
            message: error.message.clone(),
            retryable: error.retryable,
            trace_id: error.trace_id.clone(),
        }
    }
}

/// A [`ErrorV1`] code: the API's [`ErrorCode`] when the API refused
/// something, the element's [`ElementErrorCode`] otherwise. Both are
/// PascalCase strings and no name is in both sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum HostErrorCode {
    /// The API answered with this error (or a command failed with it).
    Api(ErrorCode),
    /// The element itself failed.
    Element(ElementErrorCode),
}

impl HostErrorCode {
    /// Whether trying the same thing again may succeed.
    pub fn retryable(self) -> bool {
        match self {
            Self::Api(code) => code.retryable(),
            Self::Element(code) => code.retryable(),
        }
    }
}

impl From<ErrorCode> for HostErrorCode {
    fn from(code: ErrorCode) -> Self {
        Self::Api(code)
    }
}

impl From<ElementErrorCode> for HostErrorCode {
    fn from(code: ElementErrorCode) -> Self {
        Self::Element(code)
    }
}

/// The element's own reasons for a [`ErrorV1`], where no API answer is
/// involved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum ElementErrorCode {
    /// No answer from the API, the object store or the live connection:
    /// offline, the server down, or a proxy or CORS setting in the way.
    Unreachable,
    /// A part of the app (a script or wasm chunk) couldn't be loaded, so a
    /// feature isn't available until the page loads it again.
    ChunkLoadFailed,
    /// The host's `tokenProvider` threw or its promise was rejected. The
    /// session ends too (`ferry-signed-out` with `providerFailed`).
    TokenProviderFailed,
    /// The host's `tokenProvider` answered something other than
    /// `{idToken, accessToken}` with two JWTs.
    InvalidTokens,
    /// The element's settings (attributes, properties or `config-url`) are
    /// missing, unreadable or inconsistent.
    InvalidSettings,
    /// An upload stopped for a reason other than an API error: the file
    /// couldn't be read, or the object store kept refusing its bytes.
    UploadFailed,
}

impl ElementErrorCode {
    /// Whether trying the same thing again may succeed.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Self::Unreachable | Self::ChunkLoadFailed | Self::UploadFailed
        )
    }
}

// ---------------------------------------------------------------------------

/// `ferry-signed-out`'s event name.
pub const SIGNED_OUT: &str = "ferry-signed-out";

/// `ferry-signed-out`: the instance's session ended; its live connection is
/// closed and what it held in memory is cleared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SignedOutV1 {
    /// Always 1.
    pub schema_version: SchemaVersion<1>,
    /// Why.
    pub reason: SignOutReason,
}

impl HostEvent for SignedOutV1 {
    const NAME: &'static str = SIGNED_OUT;
    const VERSION: u32 = 1;
}

impl SignedOutV1 {
    /// The detail for a session that ended for `reason`.
    pub fn new(reason: SignOutReason) -> Self {
        Self {
            schema_version: SchemaVersion,
            reason,
        }
    }
}

/// Why a session ended ([`SignedOutV1`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum SignOutReason {
    /// The person signed out with Ferry's own sign-out (no token provider).
    User,
    /// The host called `signOut()` or cleared `tokenProvider`.
    Host,
    /// The host's `tokenProvider` threw or was rejected; the element shows
    /// "Your portal session has ended".
    ProviderFailed,
    /// The session couldn't be renewed: Ferry's own refresh was refused, or
    /// the API still refused the tokens after a forced refresh.
    Expired,
}
