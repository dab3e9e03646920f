//! How records become rows and back, how names are folded for search, and
//! the opaque page cursors.

use crate::db::{StoreError, StoreResult};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferry_core::model::{
    CommandRecord, CommandStatus, FileRecord, FileStatus, FolderRecord, SortKey, TrashItem,
    TrashKind, UserId,
};
use ferry_core::ports::PortError;
use ferry_protocol::{FileName, FolderPath, Timestamp};
use rusqlite::Row;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// The columns of `files` that make a [`FileRecord`], in [`file_from_row`]'s order.
pub(crate) const FILE_COLUMNS: &str = "user, file_id, folder, name, status, size, content_type, \
     sha256, etag, upload_id, part_size, command_id, trace_id, version, created_at, updated_at, \
     lineage, trash_id, thumbnail";

/// How many columns [`FILE_COLUMNS`] names.
pub(crate) const FILE_COLUMN_COUNT: usize = 19;

/// The columns of `trash` that make a [`TrashItem`], in [`trash_from_row`]'s
/// order.
pub(crate) const TRASH_COLUMNS: &str =
    "user, trash_id, kind, path, name, file_id, files, bytes, folders, trashed_at";

/// The columns of `commands` that make a [`CommandRecord`], in
/// [`command_from_row`]'s order.
pub(crate) const COMMAND_COLUMNS: &str = "user, command_id, action, request_hash, response, \
     status, result, accepted_at, finished_at, progress";

pub use ferry_protocol::path::fold;

/// A time as stored: Unix nanoseconds, which keep every `Timestamp` exactly
/// and order like it. Times outside 1677–2262 are refused.
pub(crate) fn time_to_db(at: Timestamp) -> Result<i64, PortError> {
    i64::try_from(at.get().unix_timestamp_nanos())
        .map_err(|_| PortError::Invalid(format!("time {at} is outside what the index stores")))
}

/// Reads a time written by [`time_to_db`].
pub(crate) fn time_from_db(nanos: i64) -> StoreResult<Timestamp> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos))
        .map(Timestamp::new)
        .map_err(|e| corrupt(format!("time {nanos}: {e}")))
}

/// A size or version as stored (SQLite integers are signed).
pub(crate) fn u64_to_db(value: u64, what: &str) -> Result<i64, PortError> {
    i64::try_from(value).map_err(|_| PortError::Invalid(format!("{what} {value} is too large")))
}

fn u64_from_db(value: i64, what: &str) -> StoreResult<u64> {
    u64::try_from(value).map_err(|_| corrupt(format!("{what} {value} is negative")))
}

/// A stored row that no longer parses: the file was edited by hand or
/// written by a broken build.
pub(crate) fn corrupt(what: String) -> StoreError {
    StoreError::Port(PortError::Other(format!("corrupt index row: {what}")))
}

pub(crate) fn uuid_from_db(bytes: &[u8]) -> StoreResult<Uuid> {
    Uuid::from_slice(bytes).map_err(|e| corrupt(format!("id: {e}")))
}

pub(crate) fn user_from_db(text: &str) -> StoreResult<UserId> {
    UserId::parse(text).ok_or_else(|| corrupt(format!("user `{text}`")))
}

pub(crate) fn folder_from_db(text: &str) -> StoreResult<FolderPath> {
    FolderPath::parse(text).map_err(|e| corrupt(format!("folder `{text}`: {e}")))
}

/// Reads a row selected with [`FILE_COLUMNS`].
pub(crate) fn file_from_row(row: &Row<'_>) -> StoreResult<FileRecord> {
    let user: String = row.get(0)?;
    let file_id: Vec<u8> = row.get(1)?;
    let folder: String = row.get(2)?;
    let name: String = row.get(3)?;
    let status: String = row.get(4)?;
    let part_size: Option<i64> = row.get(10)?;
    let command_id: Option<Vec<u8>> = row.get(11)?;
    let lineage: Option<Vec<u8>> = row.get(16)?;
    let trash_id: Option<Vec<u8>> = row.get(17)?;
    let thumbnail: Option<String> = row.get(18)?;
    Ok(FileRecord {
        user: user_from_db(&user)?,
        file_id: uuid_from_db(&file_id)?,
        folder: folder_from_db(&folder)?,
        name: FileName::parse(&name).map_err(|e| corrupt(format!("name `{name}`: {e}")))?,
        status: FileStatus::parse(&status)
            .ok_or_else(|| corrupt(format!("file status `{status}`")))?,
        size: u64_from_db(row.get(5)?, "size")?,
        content_type: row.get(6)?,
        sha256: row.get(7)?,
        etag: row.get(8)?,
        upload_id: row.get(9)?,
        part_size: part_size.map(|p| u64_from_db(p, "part size")).transpose()?,
        command_id: command_id.as_deref().map(uuid_from_db).transpose()?,
        trace_id: row.get(12)?,
        version: u64_from_db(row.get(13)?, "version")?,
        created_at: time_from_db(row.get(14)?)?,
        updated_at: time_from_db(row.get(15)?)?,
        lineage: lineage.as_deref().map(uuid_from_db).transpose()?,
        trash_id: trash_id.as_deref().map(uuid_from_db).transpose()?,
        thumbnail: thumbnail
            .as_deref()
            .map(|t| serde_json::from_str(t).map_err(|e| corrupt(format!("thumbnail: {e}"))))
            .transpose()?,
    })
}

/// How a trash item's kind is stored.
pub(crate) fn trash_kind_to_db(kind: TrashKind) -> &'static str {
    match kind {
        TrashKind::File => "file",
        TrashKind::Folder => "folder",
    }
}

/// A folder item's folders as stored: a JSON array of paths.
pub(crate) fn folders_to_db(folders: &[FolderPath]) -> String {
    let paths: Vec<&str> = folders.iter().map(FolderPath::as_str).collect();
    // A list of strings always serialises.
    serde_json::to_string(&paths).unwrap_or_default()
}

/// Reads a row selected with [`TRASH_COLUMNS`].
pub(crate) fn trash_from_row(row: &Row<'_>) -> StoreResult<TrashItem> {
    let user: String = row.get(0)?;
    let trash_id: Vec<u8> = row.get(1)?;
    let kind: String = row.get(2)?;
    let path: String = row.get(3)?;
    let file_id: Option<Vec<u8>> = row.get(5)?;
    let folders: String = row.get(8)?;
    let folders: Vec<String> =
        serde_json::from_str(&folders).map_err(|e| corrupt(format!("trash folders: {e}")))?;
    Ok(TrashItem {
        user: user_from_db(&user)?,
        trash_id: uuid_from_db(&trash_id)?,
        kind: match kind.as_str() {
            "file" => TrashKind::File,
            "folder" => TrashKind::Folder,
            _ => return Err(corrupt(format!("trash kind `{kind}`"))),
        },
        path: folder_from_db(&path)?,
        name: row.get(4)?,
        file_id: file_id.as_deref().map(uuid_from_db).transpose()?,
        files: u64_from_db(row.get(6)?, "file count")?,
        bytes: u64_from_db(row.get(7)?, "bytes")?,
        folders: folders
            .iter()
            .map(|f| folder_from_db(f))
            .collect::<StoreResult<_>>()?,
        trashed_at: time_from_db(row.get(9)?)?,
    })
}

/// Reads a `folders` row selected as `path, created_at`.
pub(crate) fn folder_from_row(row: &Row<'_>) -> StoreResult<FolderRecord> {
    let path: String = row.get(0)?;
    Ok(FolderRecord {
        path: folder_from_db(&path)?,
        created_at: time_from_db(row.get(1)?)?,
    })
}

/// Reads a row selected with [`COMMAND_COLUMNS`].
pub(crate) fn command_from_row(row: &Row<'_>) -> StoreResult<CommandRecord> {
    let user: String = row.get(0)?;
    let command_id: Vec<u8> = row.get(1)?;
    let response: String = row.get(4)?;
    let status: String = row.get(5)?;
    let result: Option<String> = row.get(6)?;
    let finished_at: Option<i64> = row.get(8)?;
    let progress: Option<String> = row.get(9)?;
    Ok(CommandRecord {
        user: user_from_db(&user)?,
        command_id: uuid_from_db(&command_id)?,
        action: row.get(2)?,
        request_hash: row.get(3)?,
        response: json_from_db(&response)?,
        status: CommandStatus::parse(&status)
            .ok_or_else(|| corrupt(format!("command status `{status}`")))?,
        result: result.as_deref().map(json_from_db).transpose()?,
        accepted_at: time_from_db(row.get(7)?)?,
        finished_at: finished_at.map(time_from_db).transpose()?,
        progress: progress.as_deref().map(json_from_db).transpose()?,
    })
}

fn json_from_db(text: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| corrupt(format!("json: {e}")))
}

/// Clamps a page size to 1..=[`ferry_core::model::MAX_PAGE`].
pub(crate) fn clamp_limit(limit: u32) -> u32 {
    limit.clamp(1, ferry_core::model::MAX_PAGE)
}

/// Where a page ended: the sort key of its last row. Each query has its own
/// kind, and a listing's cursor names its order, so a cursor handed to the
/// wrong query is refused rather than misread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", deny_unknown_fields)]
pub(crate) enum Cursor {
    /// A listing that ended on a sub-folder.
    #[serde(rename = "d")]
    Folder {
        /// The listing's order.
        o: SortKey,
        /// Descending.
        d: bool,
        /// The folder's name.
        n: String,
    },
    /// A listing that ended on a file.
    #[serde(rename = "f")]
    File {
        /// The listing's order.
        o: SortKey,
        /// Descending.
        d: bool,
        /// The size or change time (nanoseconds) for those orders.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        v: Option<i64>,
        /// The name.
        n: String,
        /// The file id.
        i: Uuid,
    },
    /// A search that ended on a file.
    #[serde(rename = "s")]
    Search {
        /// The name.
        n: String,
        /// The file id.
        i: Uuid,
    },
    /// A `files_under` page that ended on a file.
    #[serde(rename = "u")]
    Under {
        /// The file id.
        i: Uuid,
    },
    /// A `folders_under` page that ended on a folder.
    #[serde(rename = "p")]
    FoldersUnder {
        /// The folder whose tree is listed.
        k: String,
        /// The last folder's path.
        n: String,
    },
    /// A `list_trash` page that ended on an item.
    #[serde(rename = "t")]
    Trash {
        /// When it was deleted (nanoseconds).
        v: i64,
        /// Its trash id.
        i: Uuid,
    },
    /// A `trashed_files` page that ended on a file.
    #[serde(rename = "b")]
    Trashed {
        /// The trash item listed.
        k: Uuid,
        /// The file id.
        i: Uuid,
    },
    /// A `versions` page that ended on a version.
    #[serde(rename = "v")]
    Versions {
        /// The lineage listed.
        k: Uuid,
        /// When the version was created (nanoseconds).
        v: i64,
        /// The file id.
        i: Uuid,
    },
}

/// Cursors are short; anything much longer is not one of ours.
const MAX_CURSOR_CHARS: usize = 2048;

impl Cursor {
    /// The opaque text handed to the client: base64url of the JSON.
    pub(crate) fn encode(&self) -> String {
        // Serialising a plain enum of strings and numbers can't fail.
        let json = serde_json::to_vec(self).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Parses [`Self::encode`]'s output; anything else is
    /// [`PortError::Invalid`].
    pub(crate) fn decode(text: &str) -> Result<Self, PortError> {
        let invalid = || PortError::Invalid("malformed page cursor".to_owned());
        if text.len() > MAX_CURSOR_CHARS {
            return Err(invalid());
        }
        let json = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
        serde_json::from_slice(&json).map_err(|_| invalid())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let cursor = Cursor::File {
            o: SortKey::Size,
            d: true,
            v: Some(42),
            n: "été.txt".into(),
            i: Uuid::nil(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        for bad in ["", "!!", "e30", "eyJ0IjoieiJ9", &"A".repeat(4000)] {
            assert!(
                matches!(Cursor::decode(bad), Err(PortError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn times_keep_nanoseconds() {
        let at = Timestamp::new(OffsetDateTime::from_unix_timestamp_nanos(1_234_567_891).unwrap());
        assert_eq!(time_from_db(time_to_db(at).unwrap()).unwrap(), at);
    }
}
