//! How records become DynamoDB items and back, the keys of the layout, the
//! opaque page cursors, and expressions with their placeholders.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferry_core::model::{
    CommandRecord, CommandStatus, FileRecord, FileStatus, FolderRecord, SortKey, TrashItem, UserId,
};
use ferry_core::ports::{PortError, PortResult};
use ferry_protocol::{FileName, FolderPath, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// An item: attribute name to value.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// Separates the parts of a sort key. Names and paths never hold control
/// characters, so `a` sorts before `a\u{1}…` before `ab`: keys order as
/// their parts do.
const SEP: char = '\u{1}';

pub use ferry_protocol::path::fold;

pub(crate) fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

fn n(number: impl ToString) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

pub(crate) fn corrupt(what: String) -> PortError {
    PortError::Other(format!("corrupt index item: {what}"))
}

pub(crate) fn invalid_cursor(why: &str) -> PortError {
    PortError::Invalid(format!("page cursor {why}"))
}

pub(crate) fn key(pk: AttributeValue, sk: AttributeValue) -> Item {
    HashMap::from([("pk".to_owned(), pk), ("sk".to_owned(), sk)])
}

/// A user's partition.
pub(crate) fn user_pk(user: &UserId) -> String {
    format!("U#{}", user.as_str())
}

pub(crate) fn file_key(user: &UserId, file_id: Uuid) -> Item {
    key(s(user_pk(user)), s(format!("F#{file_id}")))
}

pub(crate) fn folder_key(user: &UserId, path: &FolderPath) -> Item {
    key(s(user_pk(user)), s(format!("D#{}", path.as_str())))
}

pub(crate) fn name_key(user: &UserId, folder: &FolderPath, name: &str) -> Item {
    key(
        s(user_pk(user)),
        s(format!("N#{}{SEP}{name}", folder.as_str())),
    )
}

pub(crate) fn user_key(user: &UserId) -> Item {
    key(s(user_pk(user)), s("USER"))
}

/// A trash item, by its id in its owner's partition.
pub(crate) fn trash_key(user: &UserId, trash_id: Uuid) -> Item {
    key(s(user_pk(user)), s(format!("T#{trash_id}")))
}

/// The `kept` index's partition of a user's trash items.
pub(crate) fn kept_trash(user: &UserId) -> String {
    format!("{}#T", user.as_str())
}

/// The `kept` index's partition of one trash item's files.
pub(crate) fn kept_trashed(user: &UserId, trash_id: Uuid) -> String {
    format!("{}#T#{trash_id}", user.as_str())
}

/// The `kept` index's partition of one lineage's versions.
pub(crate) fn kept_versions(user: &UserId, lineage: Uuid) -> String {
    format!("{}#V#{lineage}", user.as_str())
}

pub(crate) fn command_key(user: &UserId, command_id: Uuid) -> Item {
    key(s(user_pk(user)), s(format!("C#{command_id}")))
}

/// A consumer's mark of a user's event, in a partition of its own (no hot
/// partition per consumer or user); the key starts with the user, as every
/// key does, since command ids are chosen by clients.
pub(crate) fn processed_key(consumer: &str, user: &UserId, event_id: Uuid) -> Item {
    key(
        s(format!("{}#P#{consumer}#{event_id}", user_pk(user))),
        s("P"),
    )
}

/// The folder-listing indexes' partition: one folder of one user.
pub(crate) fn dir_key(user: &UserId, folder: &FolderPath) -> String {
    format!("{}#{}", user.as_str(), folder.as_str())
}

fn nanos(at: Timestamp) -> i128 {
    at.get().unix_timestamp_nanos()
}

/// A time as a sort key: Unix nanoseconds shifted positive and padded, so
/// strings order as times do (any `Timestamp`, before 1970 too).
pub(crate) fn ordered_time(at: Timestamp) -> PortResult<String> {
    Ok(format!("{:032}", nanos(at) + 10i128.pow(30)))
}

/// A time as a sort key that orders the newest first (read forward).
pub(crate) fn newest_first(at: Timestamp) -> String {
    format!("{:032}", 10i128.pow(30) - nanos(at))
}

/// Where a thing of `user` changed at `at` sits in the sweep index:
/// by time, then owner, then id.
fn sweep_at(at: Timestamp, user: &UserId, id: Uuid) -> PortResult<String> {
    Ok(format!(
        "{}{SEP}{}{SEP}{id}",
        ordered_time(at)?,
        user.as_str()
    ))
}

/// A trash item's key in the `kept` index: the newest first, then by id.
pub(crate) fn trash_order(item: &TrashItem) -> String {
    format!("{}{SEP}{}", newest_first(item.trashed_at), item.trash_id)
}

/// A version's key in the `kept` index: the most recently created first,
/// then by id.
pub(crate) fn version_order(file: &FileRecord) -> String {
    format!("{}{SEP}{}", newest_first(file.created_at), file.file_id)
}

pub(crate) fn time_value(at: Timestamp) -> PortResult<AttributeValue> {
    Ok(n(nanos(at)))
}

fn time_of(item: &Item, attr: &str) -> PortResult<Timestamp> {
    let text = get_n(item, attr)?;
    let nanos: i128 = text
        .parse()
        .map_err(|_| corrupt(format!("{attr} `{text}`")))?;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map(Timestamp::new)
        .map_err(|e| corrupt(format!("{attr} {nanos}: {e}")))
}

fn get_s<'a>(item: &'a Item, attr: &str) -> PortResult<&'a str> {
    match item.get(attr) {
        Some(AttributeValue::S(text)) => Ok(text),
        _ => Err(corrupt(format!("no text {attr}"))),
    }
}

fn get_n<'a>(item: &'a Item, attr: &str) -> PortResult<&'a str> {
    match item.get(attr) {
        Some(AttributeValue::N(text)) => Ok(text),
        _ => Err(corrupt(format!("no number {attr}"))),
    }
}

fn opt_s(item: &Item, attr: &str) -> Option<String> {
    match item.get(attr) {
        Some(AttributeValue::S(text)) => Some(text.clone()),
        _ => None,
    }
}

pub(crate) fn get_u64(item: &Item, attr: &str) -> PortResult<u64> {
    let text = get_n(item, attr)?;
    text.parse()
        .map_err(|_| corrupt(format!("{attr} `{text}`")))
}

/// A file's key in the name-ordered indexes (listing and search).
pub(crate) fn by_name_of_file(file: &FileRecord) -> String {
    format!("F{}{SEP}{}", file.name.as_str(), file.file_id)
}

/// A file's key in the listing index of `sort`.
pub(crate) fn sort_key_of(file: &FileRecord, sort: SortKey) -> String {
    let tail = format!("{SEP}{}{SEP}{}", file.name.as_str(), file.file_id);
    match sort {
        SortKey::Name => by_name_of_file(file),
        SortKey::Size => format!("{:020}{tail}", file.size),
        SortKey::Modified => format!("{:032}{tail}", nanos(file.updated_at) + 10i128.pow(30)),
    }
}

/// A file's item. Current files (uploading or available) carry the listing
/// and search indexes' keys (deleting and trashed files and versions drop
/// out of both); files that aren't available carry the sweep's; a trashed
/// file and a version carry the `kept` index's (in their trash item's
/// partition, in their lineage's).
pub(crate) fn file_item(file: &FileRecord) -> PortResult<Item> {
    let mut item = file_key(&file.user, file.file_id);
    let mut put = |attr: &str, value: AttributeValue| {
        item.insert(attr.to_owned(), value);
    };
    put("folder", s(file.folder.as_str()));
    put("name", s(file.name.as_str()));
    put("nf", s(fold(file.name.as_str())));
    put("status", s(file.status.as_str()));
    put("size", n(file.size));
    put("content_type", s(file.content_type.clone()));
    for (attr, value) in [
        ("sha256", &file.sha256),
        ("etag", &file.etag),
        ("upload_id", &file.upload_id),
        ("trace_id", &file.trace_id),
    ] {
        if let Some(value) = value {
            put(attr, s(value.clone()));
        }
    }
    if let Some(part_size) = file.part_size {
        put("part_size", n(part_size));
    }
    for (attr, id) in [
        ("command_id", file.command_id),
        ("lineage", file.lineage),
        ("trash_id", file.trash_id),
    ] {
        if let Some(id) = id {
            put(attr, s(id.to_string()));
        }
    }
    if let Some(thumbnail) = &file.thumbnail {
        // What the thumbnailer made of it, as JSON (read and written with
        // the record only; no index needs it).
        let json = serde_json::to_string(thumbnail)
            .map_err(|e| PortError::Other(format!("thumbnail: {e}")))?;
        put("thumbnail", s(json));
    }
    put("version", n(file.version));
    put("created_at", time_value(file.created_at)?);
    put("updated_at", time_value(file.updated_at)?);
    if file.is_current() {
        put("dir", s(dir_key(&file.user, &file.folder)));
        put("owner", s(file.user.as_str()));
        put("by_name", s(by_name_of_file(file)));
        put("by_size", s(sort_key_of(file, SortKey::Size)));
        put("by_time", s(sort_key_of(file, SortKey::Modified)));
    }
    if file.status != FileStatus::Available {
        put("stale", s(file.status.as_str()));
        put(
            "stale_at",
            s(sweep_at(file.updated_at, &file.user, file.file_id)?),
        );
    }
    match (file.status, file.trash_id) {
        (FileStatus::Trashed, Some(trash_id)) => {
            put("kept_in", s(kept_trashed(&file.user, trash_id)));
            put("kept_order", s(file.file_id.to_string()));
        }
        (FileStatus::Version, _) => {
            put("kept_in", s(kept_versions(&file.user, file.lineage())));
            put("kept_order", s(version_order(file)));
        }
        _ => {}
    }
    Ok(item)
}

pub(crate) fn file_from_item(item: &Item) -> PortResult<FileRecord> {
    let pk = get_s(item, "pk")?;
    let sub = pk
        .strip_prefix("U#")
        .ok_or_else(|| corrupt(format!("file partition `{pk}`")))?;
    let sk = get_s(item, "sk")?;
    let id = sk
        .strip_prefix("F#")
        .and_then(|id| Uuid::parse_str(id).ok())
        .ok_or_else(|| corrupt(format!("file key `{sk}`")))?;
    let folder = get_s(item, "folder")?;
    let name = get_s(item, "name")?;
    let status = get_s(item, "status")?;
    Ok(FileRecord {
        user: UserId::parse(sub).ok_or_else(|| corrupt(format!("user `{sub}`")))?,
        file_id: id,
        folder: FolderPath::parse(folder)
            .map_err(|e| corrupt(format!("folder `{folder}`: {e}")))?,
        name: FileName::parse(name).map_err(|e| corrupt(format!("name `{name}`: {e}")))?,
        status: FileStatus::parse(status).ok_or_else(|| corrupt(format!("status `{status}`")))?,
        size: get_u64(item, "size")?,
        content_type: get_s(item, "content_type")?.to_owned(),
        sha256: opt_s(item, "sha256"),
        etag: opt_s(item, "etag"),
        upload_id: opt_s(item, "upload_id"),
        part_size: item
            .contains_key("part_size")
            .then(|| get_u64(item, "part_size"))
            .transpose()?,
        command_id: opt_id(item, "command_id")?,
        trace_id: opt_s(item, "trace_id"),
        version: get_u64(item, "version")?,
        created_at: time_of(item, "created_at")?,
        updated_at: time_of(item, "updated_at")?,
        lineage: opt_id(item, "lineage")?,
        trash_id: opt_id(item, "trash_id")?,
        thumbnail: opt_s(item, "thumbnail")
            .map(|t| serde_json::from_str(&t).map_err(|e| corrupt(format!("thumbnail: {e}"))))
            .transpose()?,
    })
}

fn opt_id(item: &Item, attr: &str) -> PortResult<Option<Uuid>> {
    opt_s(item, attr)
        .map(|id| Uuid::parse_str(&id).map_err(|e| corrupt(format!("{attr}: {e}"))))
        .transpose()
}

/// A folder's item, with its listing index keys (`D` before its name, so
/// folders come before files, which start with `F`).
pub(crate) fn folder_item(user: &UserId, path: &FolderPath, at: Timestamp) -> PortResult<Item> {
    let (Some(parent), Some(name)) = (path.parent(), path.name()) else {
        return Err(PortError::Invalid("the root is no folder item".into()));
    };
    let mut item = folder_key(user, path);
    item.insert("path".into(), s(path.as_str()));
    item.insert("created_at".into(), time_value(at)?);
    item.insert("dir".into(), s(dir_key(user, &parent)));
    item.insert("by_name".into(), s(format!("D{name}")));
    Ok(item)
}

pub(crate) fn folder_from_item(item: &Item) -> PortResult<FolderRecord> {
    let path = get_s(item, "path")?;
    Ok(FolderRecord {
        path: FolderPath::parse(path).map_err(|e| corrupt(format!("folder `{path}`: {e}")))?,
        created_at: time_of(item, "created_at")?,
    })
}

/// A command's item: the record as JSON, and its status apart, for the
/// condition that finishes it once.
pub(crate) fn command_item(command: &CommandRecord) -> PortResult<Item> {
    let mut item = command_key(&command.user, command.command_id);
    let doc = serde_json::to_string(command)
        .map_err(|e| PortError::Other(format!("command record: {e}")))?;
    item.insert("doc".into(), s(doc));
    item.insert("status".into(), s(command.status.as_str()));
    Ok(item)
}

pub(crate) fn command_from_item(item: &Item) -> PortResult<CommandRecord> {
    let record: CommandRecord =
        serde_json::from_str(get_s(item, "doc")?).map_err(|e| corrupt(format!("command: {e}")))?;
    let status = get_s(item, "status")?;
    if CommandStatus::parse(status) != Some(record.status) {
        return Err(corrupt(format!("command status `{status}`")));
    }
    Ok(record)
}

/// The sweep index's partition of trash items (file statuses name the
/// others).
pub(crate) const TRASH_SWEEP: &str = "trash-item";

/// A trash item's item: the record as JSON, with the keys of the `kept`
/// index (its owner's trash, the newest first) and of the sweep index
/// (every user's, the oldest first).
pub(crate) fn trash_item_item(item: &TrashItem) -> PortResult<Item> {
    let mut stored = trash_key(&item.user, item.trash_id);
    let doc =
        serde_json::to_string(item).map_err(|e| PortError::Other(format!("trash item: {e}")))?;
    stored.insert("doc".into(), s(doc));
    stored.insert("kept_in".into(), s(kept_trash(&item.user)));
    stored.insert("kept_order".into(), s(trash_order(item)));
    stored.insert("stale".into(), s(TRASH_SWEEP));
    stored.insert(
        "stale_at".into(),
        s(sweep_at(item.trashed_at, &item.user, item.trash_id)?),
    );
    Ok(stored)
}

pub(crate) fn trash_item_from_item(item: &Item) -> PortResult<TrashItem> {
    serde_json::from_str(get_s(item, "doc")?).map_err(|e| corrupt(format!("trash item: {e}")))
}

/// Where a page ended: the last entry's key in the index read. Opaque to
/// clients; refused when it belongs to another query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "q", deny_unknown_fields)]
pub(crate) enum Cursor {
    /// A folder listing, by `o`, descending when `d`.
    #[serde(rename = "l")]
    List { o: SortKey, d: bool, k: String },
    /// A search.
    #[serde(rename = "s")]
    Search { k: String },
    /// The files under a folder, by id.
    #[serde(rename = "u")]
    Under { i: Uuid },
    /// The folders under a folder, by path.
    #[serde(rename = "f")]
    Folders { p: String },
    /// A user's trash: the `kept` index's key.
    #[serde(rename = "t")]
    Trash { k: String },
    /// A trash item's files, by id.
    #[serde(rename = "b")]
    Trashed { t: Uuid, i: Uuid },
    /// A lineage's versions: the `kept` index's key.
    #[serde(rename = "v")]
    Versions { l: Uuid, k: String },
}

impl Cursor {
    pub(crate) fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub(crate) fn decode(text: &str) -> PortResult<Self> {
        if text.len() > 2048 {
            return Err(invalid_cursor("is too long"));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| invalid_cursor("is malformed"))?;
        serde_json::from_slice(&bytes).map_err(|_| invalid_cursor("is malformed"))
    }
}

/// An expression's placeholders: `#attr` for every attribute named (many
/// of Ferry's are DynamoDB reserved words), `:key` for every value.
#[derive(Debug, Default)]
pub(crate) struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    pub(crate) fn name(&mut self, attr: &str) -> String {
        let placeholder = format!("#{attr}");
        self.names.insert(placeholder.clone(), attr.to_owned());
        placeholder
    }

    pub(crate) fn value(&mut self, key: &str, value: AttributeValue) -> String {
        let placeholder = format!(":{key}");
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    pub(crate) fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    pub(crate) fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_order_as_strings_before_and_after_1970() {
        let times = [-5_000_000_000_123i64, -1, 0, 1, 1_767_225_600_000];
        let keys: Vec<String> = times
            .iter()
            .map(|ms| ordered_time(Timestamp::from_unix_millis(*ms).unwrap()).unwrap())
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn newest_first_keys_order_the_newest_first() {
        let times = [-5_000_000_000_123i64, -1, 0, 1, 1_767_225_600_000];
        let keys: Vec<String> = times
            .iter()
            .map(|ms| newest_first(Timestamp::from_unix_millis(*ms).unwrap()))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        sorted.reverse();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let cursor = Cursor::List {
            o: SortKey::Size,
            d: true,
            k: "00000000000000000012\u{1}a\u{1}x".into(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        for junk in ["", "e30", "eyJ0IjoiZiJ9", "not a cursor"] {
            assert!(Cursor::decode(junk).is_err(), "{junk}");
        }
    }
}
