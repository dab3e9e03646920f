//! The index's operations as plain functions over a connection, one per port
//! method. Writes run in one `BEGIN IMMEDIATE` transaction each, so their
//! checks and their changes (file, folders, usage) are atomic; reads run in
//! one read transaction, so a page is one snapshot.

use crate::codec::{
    COMMAND_COLUMNS, Cursor, FILE_COLUMN_COUNT, FILE_COLUMNS, TRASH_COLUMNS, clamp_limit,
    command_from_row, file_from_row, fold, folder_from_row, folders_to_db, time_to_db,
    trash_from_row, trash_kind_to_db, u64_to_db,
};
use crate::db::StoreResult;
use ferry_core::model::{
    CommandRecord, CommandStatus, Entry, FileRecord, FileStatus, ListQuery, Page, SortKey,
    TrashItem, Usage, UserId,
};
use ferry_core::ports::{PortError, PutCommand};
use ferry_protocol::{FolderPath, Timestamp};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use uuid::Uuid;

fn write_tx(conn: &mut Connection) -> rusqlite::Result<Transaction<'_>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
}

fn read_tx(conn: &mut Connection) -> rusqlite::Result<Transaction<'_>> {
    conn.transaction_with_behavior(TransactionBehavior::Deferred)
}

/// What a file adds to its owner's usage row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Weight {
    /// Its size, unless it is being deleted.
    bytes: i64,
    /// One for a current file.
    files: i64,
    /// Its size while it is in the trash.
    trash_bytes: i64,
    /// Its size while it is a version.
    version_bytes: i64,
}

impl Weight {
    /// The weight of a file with this status and size.
    fn of(status: FileStatus, size: i64) -> Self {
        match status {
            FileStatus::Deleting => Self::default(),
            FileStatus::Uploading | FileStatus::Available => Self {
                bytes: size,
                files: 1,
                ..Self::default()
            },
            FileStatus::Trashed => Self {
                bytes: size,
                trash_bytes: size,
                ..Self::default()
            },
            FileStatus::Version => Self {
                bytes: size,
                version_bytes: size,
                ..Self::default()
            },
        }
    }

    /// The change from `old` to `self`.
    fn minus(self, old: Self) -> Self {
        Self {
            bytes: self.bytes - old.bytes,
            files: self.files - old.files,
            trash_bytes: self.trash_bytes - old.trash_bytes,
            version_bytes: self.version_bytes - old.version_bytes,
        }
    }
}

/// Adds `delta` to the user's usage row (creating it).
fn add_usage(tx: &Transaction<'_>, user: &UserId, delta: Weight) -> StoreResult<()> {
    if delta == Weight::default() {
        return Ok(());
    }
    tx.prepare_cached(
        "INSERT INTO usage (user, bytes, files, trash_bytes, version_bytes)
             VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (user) DO UPDATE SET bytes = bytes + excluded.bytes,
                                          files = files + excluded.files,
                                          trash_bytes = trash_bytes + excluded.trash_bytes,
                                          version_bytes = version_bytes + excluded.version_bytes",
    )?
    .execute(params![
        user.as_str(),
        delta.bytes,
        delta.files,
        delta.trash_bytes,
        delta.version_bytes
    ])?;
    Ok(())
}

fn read_usage(conn: &Connection, user: &UserId) -> StoreResult<Weight> {
    Ok(conn
        .prepare_cached(
            "SELECT bytes, files, trash_bytes, version_bytes FROM usage WHERE user = ?1",
        )?
        .query_row([user.as_str()], |row| {
            Ok(Weight {
                bytes: row.get(0)?,
                files: row.get(1)?,
                trash_bytes: row.get(2)?,
                version_bytes: row.get(3)?,
            })
        })
        .optional()?
        .unwrap_or_default())
}

/// Creates `path` and the parents it lacks; returns whether `path` itself was
/// new. Every folder's parent exists, so the walk up stops at the first
/// folder that was already there.
fn ensure_folders(
    tx: &Transaction<'_>,
    user: &UserId,
    path: &FolderPath,
    at: i64,
) -> StoreResult<bool> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO folders (user, path, parent, name, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (user, path) DO NOTHING",
    )?;
    let mut created_self = false;
    let mut current = Some(path.clone());
    let mut first = true;
    while let Some(folder) = current {
        let (Some(parent), Some(name)) = (folder.parent(), folder.name()) else {
            break; // the root
        };
        let inserted = stmt.execute(params![
            user.as_str(),
            folder.as_str(),
            parent.as_str(),
            name,
            at
        ])? == 1;
        if first {
            created_self = inserted;
            first = false;
        }
        if !inserted {
            break;
        }
        current = Some(parent);
    }
    Ok(created_self)
}

/// The file (any status) with this id, if any.
fn stored_file(conn: &Connection, user: &UserId, file_id: Uuid) -> StoreResult<Option<FileRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {FILE_COLUMNS} FROM files WHERE user = ?1 AND file_id = ?2"
    ))?;
    let mut rows = stmt.query(params![user.as_str(), file_id.as_bytes().as_slice()])?;
    rows.next()?.map(file_from_row).transpose()
}

/// Which files a name check looks at.
#[derive(Debug, Clone, Copy)]
enum Holders {
    /// Current files: `uploading` or `available`.
    Live,
    /// Files `available` only.
    Available,
}

// Named indexes: `file_id <> ?` would otherwise tempt the planner into the
// user's whole primary-key range, making every insert cost O(files).
const LIVE_HOLDER_SQL: &str = "SELECT 1 FROM files INDEXED BY files_live_name
     WHERE user = ?1 AND folder = ?2 AND name = ?3 AND status IN ('uploading', 'available')
       AND file_id <> ?4 LIMIT 1";
const AVAILABLE_HOLDER_SQL: &str = "SELECT 1 FROM files INDEXED BY files_available_name
     WHERE user = ?1 AND folder = ?2 AND name = ?3 AND status = 'available'
       AND file_id <> ?4 LIMIT 1";

/// Whether a file other than `except` holds `name` in `folder`.
fn name_holder(
    conn: &Connection,
    user: &UserId,
    folder: &str,
    name: &str,
    holders: Holders,
    except: Uuid,
) -> StoreResult<bool> {
    let sql = match holders {
        Holders::Live => LIVE_HOLDER_SQL,
        Holders::Available => AVAILABLE_HOLDER_SQL,
    };
    Ok(conn
        .prepare_cached(sql)?
        .query_row(
            params![user.as_str(), folder, name, except.as_bytes().as_slice()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// The parameters of every `files` column, in [`FILE_COLUMNS`] order, plus
/// `name_folded` last.
fn file_values(file: &FileRecord) -> Result<Vec<Value>, PortError> {
    let text = |s: &Option<String>| s.clone().map_or(Value::Null, Value::Text);
    Ok(vec![
        Value::Text(file.user.as_str().to_owned()),
        Value::Blob(file.file_id.as_bytes().to_vec()),
        Value::Text(file.folder.as_str().to_owned()),
        Value::Text(file.name.as_str().to_owned()),
        Value::Text(file.status.as_str().to_owned()),
        Value::Integer(u64_to_db(file.size, "size")?),
        Value::Text(file.content_type.clone()),
        text(&file.sha256),
        text(&file.etag),
        text(&file.upload_id),
        file.part_size
            .map(|p| u64_to_db(p, "part size"))
            .transpose()?
            .map_or(Value::Null, Value::Integer),
        file.command_id
            .map_or(Value::Null, |id| Value::Blob(id.as_bytes().to_vec())),
        text(&file.trace_id),
        Value::Integer(u64_to_db(file.version, "version")?),
        Value::Integer(time_to_db(file.created_at)?),
        Value::Integer(time_to_db(file.updated_at)?),
        file.lineage
            .map_or(Value::Null, |id| Value::Blob(id.as_bytes().to_vec())),
        file.trash_id
            .map_or(Value::Null, |id| Value::Blob(id.as_bytes().to_vec())),
        // A plain enum of strings and numbers: it always serialises.
        file.thumbnail.as_ref().map_or(Value::Null, |t| {
            Value::Text(serde_json::to_string(t).unwrap_or_default())
        }),
        Value::Text(fold(file.name.as_str())),
    ])
}

fn name_taken(folder: &FolderPath, name: &str) -> PortError {
    PortError::Conflict(format!("“{name}” already exists in {folder}"))
}

pub(crate) fn insert_file(
    conn: &mut Connection,
    file: &FileRecord,
    quota: Option<u64>,
    replacing: bool,
) -> StoreResult<()> {
    let values = file_values(file)?;
    let size = u64_to_db(file.size, "size")?;
    let tx = write_tx(conn)?;
    if stored_file(&tx, &file.user, file.file_id)?.is_some() {
        return Err(PortError::Conflict(format!("file {} already exists", file.file_id)).into());
    }
    let added = Weight::of(file.status, size);
    // A replacing upload shares the name until it becomes available; the
    // unique index on available names still guards a record inserted as
    // available. Only a current file holds a name.
    let holders = if replacing {
        Holders::Available
    } else {
        Holders::Live
    };
    if file.is_current()
        && (!replacing || file.status == FileStatus::Available)
        && name_holder(
            &tx,
            &file.user,
            file.folder.as_str(),
            file.name.as_str(),
            holders,
            file.file_id,
        )?
    {
        return Err(name_taken(&file.folder, file.name.as_str()).into());
    }
    // Trashed files and versions count toward the quota too.
    if let Some(quota) = quota.filter(|_| file.status != FileStatus::Deleting) {
        let bytes = read_usage(&tx, &file.user)?.bytes;
        let after = u64::try_from(bytes).unwrap_or(0).saturating_add(file.size);
        if after > quota {
            return Err(PortError::QuotaExceeded(format!(
                "storing {} more bytes would use {after} of {quota}",
                file.size
            ))
            .into());
        }
    }
    let placeholders = (1..=FILE_COLUMN_COUNT + 1)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    tx.prepare_cached(&format!(
        "INSERT INTO files ({FILE_COLUMNS}, name_folded) VALUES ({placeholders})"
    ))?
    .execute(rusqlite::params_from_iter(values))?;
    add_usage(&tx, &file.user, added)?;
    if file.is_current() {
        ensure_folders(&tx, &file.user, &file.folder, time_to_db(file.created_at)?)?;
    }
    tx.commit()?;
    Ok(())
}

pub(crate) fn file(
    conn: &Connection,
    user: &UserId,
    file_id: Uuid,
) -> StoreResult<Option<FileRecord>> {
    stored_file(conn, user, file_id)
}

pub(crate) fn file_by_name(
    conn: &Connection,
    user: &UserId,
    folder: &FolderPath,
    name: &str,
) -> StoreResult<Option<FileRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {FILE_COLUMNS} FROM files INDEXED BY files_live_name
         WHERE user = ?1 AND folder = ?2 AND name = ?3 AND status IN ('uploading', 'available')
         ORDER BY status = 'available' DESC, created_at DESC, file_id LIMIT 1"
    ))?;
    // Names are stored in NFC, as FileName makes them.
    let name = ferry_protocol::path::nfc(name);
    let mut rows = stmt.query(params![user.as_str(), folder.as_str(), name])?;
    rows.next()?.map(file_from_row).transpose()
}

pub(crate) fn update_file(
    conn: &mut Connection,
    file: &FileRecord,
    expected_version: u64,
) -> StoreResult<()> {
    if expected_version.checked_add(1) != Some(file.version) {
        return Err(PortError::Invalid(format!(
            "the new record of file {} must carry version {} + 1, not {}",
            file.file_id, expected_version, file.version
        ))
        .into());
    }
    let values = file_values(file)?;
    let size = u64_to_db(file.size, "size")?;
    let tx = write_tx(conn)?;
    let Some(old) = stored_file(&tx, &file.user, file.file_id)? else {
        return Err(PortError::NotFound(format!("file {}", file.file_id)).into());
    };
    if old.version != expected_version {
        return Err(PortError::Conflict(format!(
            "file {} is at version {}, not {expected_version}",
            file.file_id, old.version
        ))
        .into());
    }
    let new = Weight::of(file.status, size);
    if file.status == FileStatus::Available
        && name_holder(
            &tx,
            &file.user,
            file.folder.as_str(),
            file.name.as_str(),
            Holders::Available,
            file.file_id,
        )?
    {
        return Err(name_taken(&file.folder, file.name.as_str()).into());
    }
    // Every column but the key (the first two) is replaced.
    let assignments = FILE_COLUMNS
        .split(", ")
        .chain(["name_folded"])
        .enumerate()
        .skip(2)
        .map(|(i, column)| format!("{column} = ?{}", i + 1))
        .collect::<Vec<_>>()
        .join(", ");
    tx.prepare_cached(&format!(
        "UPDATE files SET {assignments} WHERE user = ?1 AND file_id = ?2"
    ))?
    .execute(rusqlite::params_from_iter(values))?;
    let old = Weight::of(old.status, u64_to_db(old.size, "size")?);
    add_usage(&tx, &file.user, new.minus(old))?;
    // A trashed file or a version keeps no folder in being.
    if file.is_current() {
        ensure_folders(&tx, &file.user, &file.folder, time_to_db(file.updated_at)?)?;
    }
    tx.commit()?;
    Ok(())
}

pub(crate) fn remove_file(
    conn: &mut Connection,
    user: &UserId,
    file_id: Uuid,
    expected_version: u64,
) -> StoreResult<bool> {
    let tx = write_tx(conn)?;
    let Some(old) = stored_file(&tx, user, file_id)? else {
        return Ok(false);
    };
    if old.version != expected_version {
        return Err(PortError::Conflict(format!(
            "file {file_id} is at version {}, not {expected_version}",
            old.version
        ))
        .into());
    }
    tx.prepare_cached("DELETE FROM files WHERE user = ?1 AND file_id = ?2")?
        .execute(params![user.as_str(), file_id.as_bytes().as_slice()])?;
    let old = Weight::of(old.status, u64_to_db(old.size, "size")?);
    add_usage(&tx, user, Weight::default().minus(old))?;
    tx.commit()?;
    Ok(true)
}

/// The columns a listing orders files by, ending in the tie-breakers.
fn order_columns(sort: SortKey) -> &'static [&'static str] {
    match sort {
        SortKey::Name => &["name", "file_id"],
        SortKey::Size => &["size", "name", "file_id"],
        SortKey::Modified => &["updated_at", "name", "file_id"],
    }
}

/// `ORDER BY` for these columns, every one in the same direction, so
/// descending is exactly ascending reversed.
fn order_by(columns: &[&str], descending: bool) -> String {
    let direction = if descending { " DESC" } else { "" };
    columns
        .iter()
        .map(|column| format!("{column}{direction}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `(a, b) > (?n, ?n+1)`: the rows after a cursor in this order.
fn after(columns: &[&str], descending: bool, first_param: usize) -> String {
    let placeholders = (0..columns.len())
        .map(|i| format!("?{}", first_param + i))
        .collect::<Vec<_>>()
        .join(", ");
    let op = if descending { "<" } else { ">" };
    format!("({}) {op} ({placeholders})", columns.join(", "))
}

pub(crate) fn invalid_cursor(why: &str) -> PortError {
    PortError::Invalid(format!("page cursor {why}"))
}

/// A page of a folder's sub-folders: `?1` user, `?2` folder, `?3` the
/// cursor's name.
fn folders_page_sql(descending: bool, after_cursor: bool, limit: usize) -> String {
    let mut sql =
        String::from("SELECT path, created_at FROM folders WHERE user = ?1 AND parent = ?2");
    if after_cursor {
        sql.push_str(if descending {
            " AND name < ?3"
        } else {
            " AND name > ?3"
        });
    }
    sql.push_str(&format!(
        " ORDER BY {} LIMIT {limit}",
        order_by(&["name"], descending)
    ));
    sql
}

/// A page of a folder's files: `?1` user, `?2` folder, then the cursor's
/// key ([`order_columns`]).
fn files_page_sql(sort: SortKey, descending: bool, after_cursor: bool, limit: usize) -> String {
    let columns = order_columns(sort);
    // The status test is written as the partial indexes' condition, so they
    // apply.
    let mut sql = format!(
        "SELECT {FILE_COLUMNS} FROM files
         WHERE user = ?1 AND folder = ?2 AND status IN ('uploading', 'available')"
    );
    if after_cursor {
        sql.push_str(" AND ");
        sql.push_str(&after(columns, descending, 3));
    }
    sql.push_str(&format!(
        " ORDER BY {} LIMIT {limit}",
        order_by(columns, descending)
    ));
    sql
}

pub(crate) fn list_folder(
    conn: &mut Connection,
    user: &UserId,
    query: &ListQuery,
) -> StoreResult<Page<Entry>> {
    let limit = clamp_limit(query.limit) as usize;
    let (sort, descending) = (query.sort, query.descending);
    let cursor = query.cursor.as_deref().map(Cursor::decode).transpose()?;
    let (folder_after, file_after) = match cursor {
        None => (None, None),
        Some(Cursor::Folder { o, d, n }) if o == sort && d == descending => (Some(n), None),
        Some(Cursor::File { o, d, v, n, i }) if o == sort && d == descending => {
            if v.is_some() != (sort != SortKey::Name) {
                return Err(invalid_cursor("doesn't match its order").into());
            }
            (None, Some((v, n, i)))
        }
        Some(Cursor::Folder { .. } | Cursor::File { .. }) => {
            return Err(invalid_cursor("belongs to another order").into());
        }
        Some(_) => return Err(invalid_cursor("belongs to another query").into()),
    };
    let tx = read_tx(conn)?;
    // One more than a page tells whether another page follows.
    let want = limit + 1;
    let mut items = Vec::with_capacity(want.min(128));
    if file_after.is_none() {
        let sql = folders_page_sql(descending, folder_after.is_some(), want);
        let mut args = vec![
            Value::Text(user.as_str().to_owned()),
            Value::Text(query.folder.as_str().to_owned()),
        ];
        if let Some(name) = folder_after {
            args.push(Value::Text(name));
        }
        let mut stmt = tx.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        while let Some(row) = rows.next()? {
            items.push(Entry::Folder(folder_from_row(row)?));
        }
    }
    if items.len() < want {
        let sql = files_page_sql(sort, descending, file_after.is_some(), want - items.len());
        let mut args = vec![
            Value::Text(user.as_str().to_owned()),
            Value::Text(query.folder.as_str().to_owned()),
        ];
        if let Some((value, name, id)) = file_after {
            if let Some(value) = value {
                args.push(Value::Integer(value));
            }
            args.push(Value::Text(name));
            args.push(Value::Blob(id.as_bytes().to_vec()));
        }
        let mut stmt = tx.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        while let Some(row) = rows.next()? {
            items.push(Entry::File(file_from_row(row)?));
        }
    }
    drop(tx);
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items
            .last()
            .map(|last| list_cursor(last, sort, descending))
            .transpose()?
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

fn list_cursor(entry: &Entry, sort: SortKey, descending: bool) -> Result<String, PortError> {
    let cursor = match entry {
        Entry::Folder(folder) => Cursor::Folder {
            o: sort,
            d: descending,
            n: folder.path.name().unwrap_or_default().to_owned(),
        },
        Entry::File(file) => Cursor::File {
            o: sort,
            d: descending,
            v: match sort {
                SortKey::Name => None,
                SortKey::Size => Some(u64_to_db(file.size, "size")?),
                SortKey::Modified => Some(time_to_db(file.updated_at)?),
            },
            n: file.name.as_str().to_owned(),
            i: file.file_id,
        },
    };
    Ok(cursor.encode())
}

/// Runs a file query and turns `limit + 1` rows into a page.
pub(crate) fn file_page(
    conn: &Connection,
    sql: &str,
    args: Vec<Value>,
    limit: usize,
    cursor_of: impl Fn(&FileRecord) -> Cursor,
) -> StoreResult<Page<FileRecord>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    let mut items = Vec::with_capacity((limit + 1).min(128));
    while let Some(row) = rows.next()? {
        items.push(file_from_row(row)?);
    }
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|last| cursor_of(last).encode())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// The condition "`column` is `?n` or a folder below it", with its three
/// parameters ([`subtree_args`]). One index range holds it: every path from
/// `a` up to `a0` (`0` follows `/`) starts with `a`; of those, `a` itself and
/// the ones from `a/` on are the tree, so `ab`, `a-b` and `a.b` never count
/// as below `a`.
fn subtree(column: &str, first_param: usize) -> String {
    let (path, high, low) = (first_param, first_param + 1, first_param + 2);
    format!(
        "{column} >= ?{path} AND {column} < ?{high} AND ({column} = ?{path} OR {column} >= ?{low})"
    )
}

/// The parameters of [`subtree`] for `path`.
fn subtree_args(path: &FolderPath) -> [String; 3] {
    let path = path.as_str();
    [path.to_owned(), format!("{path}0"), format!("{path}/")]
}

/// A page of the files in a tree, by id: `?1` user, then for a folder other
/// than the root the three [`subtree`] parameters, then the cursor's id.
fn under_sql(root: bool, after_cursor: bool, limit: usize) -> String {
    if root {
        // Everything the user has, straight from the primary key.
        let after = if after_cursor {
            " AND file_id > ?2"
        } else {
            ""
        };
        return format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE user = ?1{after} ORDER BY file_id LIMIT {limit}"
        );
    }
    // The page's ids come from one range of files_by_folder alone, sorted
    // there; only those rows are read in full.
    let after = if after_cursor {
        " AND file_id > ?5"
    } else {
        ""
    };
    format!(
        "SELECT {FILE_COLUMNS} FROM files WHERE user = ?1 AND file_id IN (
             SELECT file_id FROM files INDEXED BY files_by_folder
             WHERE user = ?1 AND {}{after} ORDER BY file_id LIMIT {limit})
         ORDER BY file_id",
        subtree("folder", 2)
    )
}

pub(crate) fn files_under(
    conn: &Connection,
    user: &UserId,
    folder: &FolderPath,
    cursor: Option<&str>,
    limit: u32,
) -> StoreResult<Page<FileRecord>> {
    let limit = clamp_limit(limit) as usize;
    let after_id = match cursor.map(Cursor::decode).transpose()? {
        None => None,
        Some(Cursor::Under { i }) => Some(i),
        Some(_) => return Err(invalid_cursor("belongs to another query").into()),
    };
    let mut args = vec![Value::Text(user.as_str().to_owned())];
    if !folder.is_root() {
        args.extend(subtree_args(folder).map(Value::Text));
    }
    if let Some(id) = after_id {
        args.push(Value::Blob(id.as_bytes().to_vec()));
    }
    let sql = under_sql(folder.is_root(), after_id.is_some(), limit + 1);
    file_page(conn, &sql, args, limit, |file| Cursor::Under {
        i: file.file_id,
    })
}

/// Every user's files with status `?1` changed before `?2`, by change
/// time, `?3` of them.
fn with_status_sql() -> String {
    format!(
        "SELECT {FILE_COLUMNS} FROM files WHERE status = ?1 AND updated_at < ?2
         ORDER BY updated_at, user, file_id LIMIT ?3"
    )
}

pub(crate) fn files_with_status(
    conn: &Connection,
    status: FileStatus,
    before: Timestamp,
    limit: u32,
) -> StoreResult<Vec<FileRecord>> {
    let before = time_to_db(before)?;
    let mut stmt = conn.prepare_cached(&with_status_sql())?;
    let mut rows = stmt.query(params![status.as_str(), before, clamp_limit(limit)])?;
    let mut files = Vec::new();
    while let Some(row) = rows.next()? {
        files.push(file_from_row(row)?);
    }
    Ok(files)
}

pub(crate) fn users(
    conn: &Connection,
    after: Option<&UserId>,
    limit: u32,
) -> StoreResult<Vec<UserId>> {
    // Each step is two primary-key seeks, whatever the number of files.
    let mut next = conn.prepare_cached(
        "SELECT min(user) FROM (
             SELECT min(user) AS user FROM files WHERE user > ?1
             UNION ALL
             SELECT min(user) FROM folders WHERE user > ?1)",
    )?;
    let mut users = Vec::new();
    let mut cursor = after.map_or_else(String::new, |user| user.as_str().to_owned());
    while users.len() < clamp_limit(limit) as usize {
        let found: Option<String> = next.query_row([&cursor], |row| row.get(0))?;
        let Some(found) = found else { break };
        users.push(crate::codec::user_from_db(&found)?);
        cursor = found;
    }
    Ok(users)
}

pub(crate) fn create_folder(
    conn: &mut Connection,
    user: &UserId,
    path: &FolderPath,
    at: Timestamp,
) -> StoreResult<bool> {
    let at = time_to_db(at)?;
    let tx = write_tx(conn)?;
    let created = ensure_folders(&tx, user, path, at)?;
    tx.commit()?;
    Ok(created)
}

pub(crate) fn folder_exists(
    conn: &Connection,
    user: &UserId,
    path: &FolderPath,
) -> StoreResult<bool> {
    if path.is_root() {
        return Ok(true);
    }
    Ok(conn
        .prepare_cached("SELECT 1 FROM folders WHERE user = ?1 AND path = ?2")?
        .query_row(params![user.as_str(), path.as_str()], |_| Ok(()))
        .optional()?
        .is_some())
}

pub(crate) fn remove_folder_tree(
    conn: &mut Connection,
    user: &UserId,
    path: &FolderPath,
) -> StoreResult<bool> {
    let tx = write_tx(conn)?;
    // Only current files keep a folder: trashed files and versions may keep
    // the paths of folders that are gone.
    let has_files = if path.is_root() {
        tx.prepare_cached(&current_in_tree_sql(true))?
            .query_row([user.as_str()], |_| Ok(()))
            .optional()?
            .is_some()
    } else {
        if !folder_exists(&tx, user, path)? {
            return Ok(false);
        }
        let [own, high, low] = subtree_args(path);
        tx.prepare_cached(&current_in_tree_sql(false))?
            .query_row(params![user.as_str(), own, high, low], |_| Ok(()))
            .optional()?
            .is_some()
    };
    if has_files {
        return Err(PortError::Conflict(format!("{path} still holds files")).into());
    }
    if path.is_root() {
        tx.prepare_cached("DELETE FROM folders WHERE user = ?1")?
            .execute([user.as_str()])?;
    } else {
        let [own, high, low] = subtree_args(path);
        tx.prepare_cached(&format!(
            "DELETE FROM folders WHERE user = ?1 AND {}",
            subtree("path", 2)
        ))?
        .execute(params![user.as_str(), own, high, low])?;
    }
    tx.commit()?;
    Ok(true)
}

/// Whether a current file is in the tree: `?1` user, then for a folder
/// other than the root the three [`subtree`] parameters.
fn current_in_tree_sql(root: bool) -> String {
    let tree = if root {
        String::new()
    } else {
        format!(" AND {}", subtree("folder", 2))
    };
    format!(
        "SELECT 1 FROM files INDEXED BY files_live_name
         WHERE user = ?1{tree} AND status IN ('uploading', 'available') LIMIT 1"
    )
}

pub(crate) fn usage(conn: &Connection, user: &UserId) -> StoreResult<Usage> {
    let stored = read_usage(conn, user)?;
    let count = |value: i64| {
        u64::try_from(value).map_err(|_| crate::codec::corrupt(format!("usage {value}")))
    };
    Ok(Usage {
        bytes: count(stored.bytes)?,
        files: count(stored.files)?,
        trash_bytes: count(stored.trash_bytes)?,
        version_bytes: count(stored.version_bytes)?,
    })
}

/// A page of the folders below a folder, by path: `?1` user, then for a
/// folder other than the root `?2`, `?3` the range of paths below it
/// (`a/` up to `a0`), then the cursor's path.
fn folders_under_sql(root: bool, after_cursor: bool, limit: usize) -> String {
    let mut sql = String::from("SELECT path FROM folders WHERE user = ?1");
    let mut next = 2;
    if !root {
        sql.push_str(" AND path >= ?2 AND path < ?3");
        next = 4;
    }
    if after_cursor {
        sql.push_str(&format!(" AND path > ?{next}"));
    }
    sql.push_str(&format!(" ORDER BY path LIMIT {limit}"));
    sql
}

pub(crate) fn folders_under(
    conn: &Connection,
    user: &UserId,
    path: &FolderPath,
    cursor: Option<&str>,
    limit: u32,
) -> StoreResult<Page<FolderPath>> {
    let limit = clamp_limit(limit) as usize;
    let after = match cursor.map(Cursor::decode).transpose()? {
        None => None,
        Some(Cursor::FoldersUnder { k, n }) if k == path.as_str() => Some(n),
        Some(_) => return Err(invalid_cursor("belongs to another query").into()),
    };
    let mut args = vec![Value::Text(user.as_str().to_owned())];
    if !path.is_root() {
        let [_, high, low] = subtree_args(path);
        args.extend([Value::Text(low), Value::Text(high)]);
    }
    let sql = folders_under_sql(path.is_root(), after.is_some(), limit + 1);
    if let Some(after) = after {
        args.push(Value::Text(after));
    }
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    let mut items = Vec::new();
    while let Some(row) = rows.next()? {
        let found: String = row.get(0)?;
        items.push(crate::codec::folder_from_db(&found)?);
    }
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|last| {
            Cursor::FoldersUnder {
                k: path.as_str().to_owned(),
                n: last.as_str().to_owned(),
            }
            .encode()
        })
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

pub(crate) fn put_trash(conn: &Connection, item: &TrashItem) -> StoreResult<()> {
    // One statement, so no transaction: a retry changes nothing.
    conn.prepare_cached(&format!(
        "INSERT INTO trash ({TRASH_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (user, trash_id) DO NOTHING"
    ))?
    .execute(params![
        item.user.as_str(),
        item.trash_id.as_bytes().as_slice(),
        trash_kind_to_db(item.kind),
        item.path.as_str(),
        item.name,
        item.file_id.as_ref().map(|id| id.as_bytes().as_slice()),
        u64_to_db(item.files, "file count")?,
        u64_to_db(item.bytes, "bytes")?,
        folders_to_db(&item.folders),
        time_to_db(item.trashed_at)?,
    ])?;
    Ok(())
}

pub(crate) fn trash_item(
    conn: &Connection,
    user: &UserId,
    trash_id: Uuid,
) -> StoreResult<Option<TrashItem>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {TRASH_COLUMNS} FROM trash WHERE user = ?1 AND trash_id = ?2"
    ))?;
    let mut rows = stmt.query(params![user.as_str(), trash_id.as_bytes().as_slice()])?;
    rows.next()?.map(trash_from_row).transpose()
}

/// Runs a trash query and reads its items.
fn trash_rows(conn: &Connection, sql: &str, args: Vec<Value>) -> StoreResult<Vec<TrashItem>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    let mut items = Vec::new();
    while let Some(row) = rows.next()? {
        items.push(trash_from_row(row)?);
    }
    Ok(items)
}

/// A page of a user's trash, the newest first, then by id: `?1` user, `?2`,
/// `?3` the cursor's time and id. The cursor's condition is written as a
/// range on the time (which the index walks) and a test of the ties.
fn trash_page_sql(after_cursor: bool, limit: usize) -> String {
    let after = if after_cursor {
        " AND trashed_at <= ?2 AND (trashed_at < ?2 OR trash_id > ?3)"
    } else {
        ""
    };
    format!(
        "SELECT {TRASH_COLUMNS} FROM trash WHERE user = ?1{after}
         ORDER BY trashed_at DESC, trash_id LIMIT {limit}"
    )
}

pub(crate) fn list_trash(
    conn: &Connection,
    user: &UserId,
    cursor: Option<&str>,
    limit: u32,
) -> StoreResult<Page<TrashItem>> {
    let limit = clamp_limit(limit) as usize;
    let after = match cursor.map(Cursor::decode).transpose()? {
        None => None,
        Some(Cursor::Trash { v, i }) => Some((v, i)),
        Some(_) => return Err(invalid_cursor("belongs to another query").into()),
    };
    let mut args = vec![Value::Text(user.as_str().to_owned())];
    if let Some((at, id)) = after {
        args.push(Value::Integer(at));
        args.push(Value::Blob(id.as_bytes().to_vec()));
    }
    let mut items = trash_rows(conn, &trash_page_sql(after.is_some(), limit + 1), args)?;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items
            .last()
            .map(|last| {
                Ok::<_, PortError>(
                    Cursor::Trash {
                        v: time_to_db(last.trashed_at)?,
                        i: last.trash_id,
                    }
                    .encode(),
                )
            })
            .transpose()?
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

pub(crate) fn remove_trash(conn: &Connection, user: &UserId, trash_id: Uuid) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM trash WHERE user = ?1 AND trash_id = ?2")?
        .execute(params![user.as_str(), trash_id.as_bytes().as_slice()])?
        == 1)
}

/// Every user's trash deleted before `?1`, the oldest first, `?2` of it.
fn trash_before_sql() -> String {
    format!(
        "SELECT {TRASH_COLUMNS} FROM trash WHERE trashed_at < ?1
         ORDER BY trashed_at, user, trash_id LIMIT ?2"
    )
}

pub(crate) fn trash_before(
    conn: &Connection,
    before: Timestamp,
    limit: u32,
) -> StoreResult<Vec<TrashItem>> {
    trash_rows(
        conn,
        &trash_before_sql(),
        vec![
            Value::Integer(time_to_db(before)?),
            Value::Integer(i64::from(clamp_limit(limit))),
        ],
    )
}

/// A page of a trash item's files, by id: `?1` user, `?2` trash id, `?3`
/// the cursor's id.
fn trashed_sql(after_cursor: bool, limit: usize) -> String {
    let after = if after_cursor {
        " AND file_id > ?3"
    } else {
        ""
    };
    format!(
        "SELECT {FILE_COLUMNS} FROM files INDEXED BY files_trashed
         WHERE user = ?1 AND trash_id = ?2 AND status = 'trashed'{after}
         ORDER BY file_id LIMIT {limit}"
    )
}

pub(crate) fn trashed_files(
    conn: &Connection,
    user: &UserId,
    trash_id: Uuid,
    cursor: Option<&str>,
    limit: u32,
) -> StoreResult<Page<FileRecord>> {
    let limit = clamp_limit(limit) as usize;
    let after = match cursor.map(Cursor::decode).transpose()? {
        None => None,
        Some(Cursor::Trashed { k, i }) if k == trash_id => Some(i),
        Some(_) => return Err(invalid_cursor("belongs to another query").into()),
    };
    let mut args = vec![
        Value::Text(user.as_str().to_owned()),
        Value::Blob(trash_id.as_bytes().to_vec()),
    ];
    if let Some(id) = after {
        args.push(Value::Blob(id.as_bytes().to_vec()));
    }
    let sql = trashed_sql(after.is_some(), limit + 1);
    file_page(conn, &sql, args, limit, |file| Cursor::Trashed {
        k: trash_id,
        i: file.file_id,
    })
}

/// A page of a lineage's versions, the newest first, then by id: `?1` user,
/// `?2` lineage, `?3`, `?4` the cursor's creation time and id. The lineage
/// is written as the index's expression, so the index applies.
fn versions_sql(after_cursor: bool, limit: usize) -> String {
    let after = if after_cursor {
        " AND created_at <= ?3 AND (created_at < ?3 OR file_id > ?4)"
    } else {
        ""
    };
    format!(
        "SELECT {FILE_COLUMNS} FROM files INDEXED BY files_versions
         WHERE user = ?1 AND coalesce(lineage, file_id) = ?2 AND status = 'version'{after}
         ORDER BY created_at DESC, file_id LIMIT {limit}"
    )
}

pub(crate) fn versions(
    conn: &Connection,
    user: &UserId,
    lineage: Uuid,
    cursor: Option<&str>,
    limit: u32,
) -> StoreResult<Page<FileRecord>> {
    let limit = clamp_limit(limit) as usize;
    let after = match cursor.map(Cursor::decode).transpose()? {
        None => None,
        Some(Cursor::Versions { k, v, i }) if k == lineage => Some((v, i)),
        Some(_) => return Err(invalid_cursor("belongs to another query").into()),
    };
    let mut args = vec![
        Value::Text(user.as_str().to_owned()),
        Value::Blob(lineage.as_bytes().to_vec()),
    ];
    if let Some((at, id)) = after {
        args.push(Value::Integer(at));
        args.push(Value::Blob(id.as_bytes().to_vec()));
    }
    let sql = versions_sql(after.is_some(), limit + 1);
    // A stored creation time always converts back.
    file_page(conn, &sql, args, limit, |file| Cursor::Versions {
        k: lineage,
        v: time_to_db(file.created_at).unwrap_or_default(),
        i: file.file_id,
    })
}

fn stored_command(
    conn: &Connection,
    user: &UserId,
    command_id: Uuid,
) -> StoreResult<Option<CommandRecord>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COMMAND_COLUMNS} FROM commands WHERE user = ?1 AND command_id = ?2"
    ))?;
    let mut rows = stmt.query(params![user.as_str(), command_id.as_bytes().as_slice()])?;
    rows.next()?.map(command_from_row).transpose()
}

pub(crate) fn put_command(
    conn: &mut Connection,
    command: &CommandRecord,
) -> StoreResult<PutCommand> {
    let accepted_at = time_to_db(command.accepted_at)?;
    let finished_at = command.finished_at.map(time_to_db).transpose()?;
    let tx = write_tx(conn)?;
    let inserted =
        tx.prepare_cached(&format!(
            "INSERT INTO commands ({COMMAND_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (user, command_id) DO NOTHING"
        ))?
        .execute(params![
            command.user.as_str(),
            command.command_id.as_bytes().as_slice(),
            command.action,
            command.request_hash,
            command.response.to_string(),
            command.status.as_str(),
            command.result.as_ref().map(ToString::to_string),
            accepted_at,
            finished_at,
            command.progress.as_ref().map(ToString::to_string),
        ])? == 1;
    let outcome = if inserted {
        PutCommand::Inserted
    } else {
        let existing = stored_command(&tx, &command.user, command.command_id)?
            .ok_or_else(|| crate::codec::corrupt("command vanished mid-transaction".to_owned()))?;
        PutCommand::Existing(Box::new(existing))
    };
    tx.commit()?;
    Ok(outcome)
}

pub(crate) fn command(
    conn: &Connection,
    user: &UserId,
    command_id: Uuid,
) -> StoreResult<Option<CommandRecord>> {
    stored_command(conn, user, command_id)
}

pub(crate) fn finish_command(
    conn: &mut Connection,
    user: &UserId,
    command_id: Uuid,
    status: CommandStatus,
    result: &serde_json::Value,
    at: Timestamp,
) -> StoreResult<()> {
    if status == CommandStatus::Pending {
        return Err(PortError::Invalid("a command can't be finished as pending".to_owned()).into());
    }
    // One statement, so no transaction: it changes a pending command or
    // nothing. Nothing means finished already (the first result wins) or
    // never recorded (a crash between storing a file and recording its
    // command); either way there is nothing to mark, and an error would only
    // make the consumer retry forever.
    conn.prepare_cached(
        "UPDATE commands SET status = ?3, result = ?4, finished_at = ?5
         WHERE user = ?1 AND command_id = ?2 AND status = 'pending'",
    )?
    .execute(params![
        user.as_str(),
        command_id.as_bytes().as_slice(),
        status.as_str(),
        result.to_string(),
        time_to_db(at)?
    ])?;
    Ok(())
}

pub(crate) fn note_progress(
    conn: &Connection,
    user: &UserId,
    command_id: Uuid,
    progress: &serde_json::Value,
) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE commands SET progress = ?3
         WHERE user = ?1 AND command_id = ?2 AND status = 'pending'",
    )?
    .execute(params![
        user.as_str(),
        command_id.as_bytes().as_slice(),
        progress.to_string()
    ])?;
    Ok(())
}

pub(crate) fn was_processed(
    conn: &Connection,
    consumer: &str,
    user: &UserId,
    event_id: Uuid,
) -> StoreResult<bool> {
    // A mark kept from before marks had users (user '') counts for anyone.
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM processed_marks
             WHERE user IN (?1, '') AND consumer = ?2 AND event_id = ?3",
        )?
        .query_row(
            params![user.as_str(), consumer, event_id.as_bytes().as_slice()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

pub(crate) fn mark_processed(
    conn: &Connection,
    consumer: &str,
    user: &UserId,
    event_id: Uuid,
    at: Timestamp,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO processed_marks (user, consumer, event_id, at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (user, consumer, event_id) DO NOTHING",
    )?
    .execute(params![
        user.as_str(),
        consumer,
        event_id.as_bytes().as_slice(),
        time_to_db(at)?
    ])?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    //! The hot queries' plans: each must walk one index range in its own
    //! order (no table scan, no sort), so a page costs the same at 100,000
    //! files as at ten.

    use super::*;
    use crate::db::Pool;

    pub(crate) fn plan(conn: &Connection, sql: &str) -> String {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let nulls = vec![Value::Null; stmt.parameter_count()];
        let rows = stmt
            .query_map(rusqlite::params_from_iter(nulls), |row| {
                row.get::<_, String>(3)
            })
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        rows.join("\n")
    }

    fn assert_ranged(conn: &Connection, sql: &str, index: &str) {
        let plan = plan(conn, sql);
        assert!(plan.contains(index), "expected {index}:\n{plan}\n{sql}");
        assert!(!plan.contains("SCAN"), "a scan:\n{plan}\n{sql}");
        assert!(!plan.contains("TEMP B-TREE"), "a sort:\n{plan}\n{sql}");
    }

    #[test]
    fn listings_walk_an_index_in_order() {
        let pool = Pool::open_in_memory().unwrap();
        let conn = pool.writer();
        for descending in [false, true] {
            for after_cursor in [false, true] {
                assert_ranged(
                    &conn,
                    &folders_page_sql(descending, after_cursor, 101),
                    "folders_children (user=? AND parent=?",
                );
                for (sort, index) in [
                    (SortKey::Name, "files_live_name (user=? AND folder=?"),
                    (SortKey::Size, "files_live_size (user=? AND folder=?"),
                    (
                        SortKey::Modified,
                        "files_live_modified (user=? AND folder=?",
                    ),
                ] {
                    assert_ranged(
                        &conn,
                        &files_page_sql(sort, descending, after_cursor, 101),
                        index,
                    );
                }
            }
        }
        for sql in [LIVE_HOLDER_SQL, AVAILABLE_HOLDER_SQL] {
            assert_ranged(&conn, sql, "(user=? AND folder=? AND name=?)");
        }
        for after_cursor in [false, true] {
            assert_ranged(
                &conn,
                &under_sql(true, after_cursor, 101),
                "PRIMARY KEY (user=?",
            );
            // A subtree's ids are sorted, but only within its own range.
            let plan = plan(&conn, &under_sql(false, after_cursor, 101));
            assert!(
                plan.contains("COVERING INDEX files_by_folder (user=? AND folder>? AND folder<?)"),
                "{plan}"
            );
            assert!(!plan.contains("SCAN"), "{plan}");
        }
    }

    #[test]
    fn the_trash_versions_and_sweeps_walk_an_index_in_order() {
        let pool = Pool::open_in_memory().unwrap();
        let conn = pool.writer();
        for after_cursor in [false, true] {
            assert_ranged(
                &conn,
                &trash_page_sql(after_cursor, 101),
                "trash_newest (user=?",
            );
            assert_ranged(
                &conn,
                &trashed_sql(after_cursor, 101),
                "files_trashed (user=? AND trash_id=?",
            );
            assert_ranged(
                &conn,
                &versions_sql(after_cursor, 101),
                "files_versions (user=? AND <expr>=?",
            );
            assert_ranged(
                &conn,
                &folders_under_sql(true, after_cursor, 101),
                "PRIMARY KEY (user=?",
            );
            assert_ranged(
                &conn,
                &folders_under_sql(false, after_cursor, 101),
                "PRIMARY KEY (user=? AND path>? AND path<?)",
            );
        }
        // The cursor's time is a range of the index, not a filter over it.
        assert!(plan(&conn, &trash_page_sql(true, 101)).contains("trashed_at<?"));
        assert!(plan(&conn, &versions_sql(true, 101)).contains("created_at<?"));
        assert_ranged(&conn, &trash_before_sql(), "trash_by_age (trashed_at<?)");
        assert_ranged(
            &conn,
            &with_status_sql(),
            "files_by_status (status=? AND updated_at<?)",
        );
        assert_ranged(
            &conn,
            &current_in_tree_sql(true),
            "files_live_name (user=?)",
        );
        assert_ranged(
            &conn,
            &current_in_tree_sql(false),
            "files_live_name (user=? AND folder>? AND folder<?)",
        );
        for sql in [
            "SELECT 1 FROM trash WHERE user = ?1 AND trash_id = ?2",
            "DELETE FROM trash WHERE user = ?1 AND trash_id = ?2",
        ] {
            assert_ranged(&conn, sql, "PRIMARY KEY (user=? AND trash_id=?)");
        }
    }

    /// What the usage row should hold: the sums over the user's files.
    fn summed_usage(conn: &Connection, user: &UserId) -> Usage {
        conn.query_row(
            "SELECT coalesce(sum(size) FILTER (WHERE status <> 'deleting'), 0),
                    count(*) FILTER (WHERE status IN ('uploading', 'available')),
                    coalesce(sum(size) FILTER (WHERE status = 'trashed'), 0),
                    coalesce(sum(size) FILTER (WHERE status = 'version'), 0)
             FROM files WHERE user = ?1",
            [user.as_str()],
            |row| {
                let sum = |i: usize| row.get::<_, i64>(i).map(|n| u64::try_from(n).unwrap());
                Ok(Usage {
                    bytes: sum(0)?,
                    files: sum(1)?,
                    trash_bytes: sum(2)?,
                    version_bytes: sum(3)?,
                })
            },
        )
        .unwrap()
    }

    const STATUSES: [FileStatus; 5] = [
        FileStatus::Uploading,
        FileStatus::Available,
        FileStatus::Deleting,
        FileStatus::Trashed,
        FileStatus::Version,
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever statuses a user's files go through, and whichever are
        /// removed, the usage row is the sum over the files.
        #[test]
        fn usage_stays_the_sum_over_the_files_through_every_transition(
            steps in proptest::collection::vec((0usize..6, 0usize..6, 0u64..100), 1..60),
        ) {
            use ferry_core::conformance::{file, next, user};
            let pool = Pool::open_in_memory().unwrap();
            let mut conn = pool.writer();
            let (ann, bob) = (user("ann"), user("bob"));
            ops_insert(&mut conn, &file(&bob, "", "theirs", 1_000));
            let mut slots: Vec<Option<FileRecord>> = vec![None; 6];
            for (slot, action, size) in steps {
                match (slots[slot].take(), STATUSES.get(action)) {
                    (None, _) => {
                        let record = file(&ann, "d", &format!("f{slot}"), size);
                        ops_insert(&mut conn, &record);
                        slots[slot] = Some(record);
                    }
                    (Some(old), Some(&status)) => {
                        let new = next(&old, |f| {
                            f.status = status;
                            f.trash_id = (status == FileStatus::Trashed).then(Uuid::new_v4);
                        });
                        update_file(&mut conn, &new, old.version).unwrap();
                        slots[slot] = Some(new);
                    }
                    (Some(old), None) => {
                        proptest::prop_assert!(
                            remove_file(&mut conn, &ann, old.file_id, old.version).unwrap()
                        );
                    }
                }
                proptest::prop_assert_eq!(usage(&conn, &ann).unwrap(), summed_usage(&conn, &ann));
            }
            proptest::prop_assert_eq!(usage(&conn, &bob).unwrap(), summed_usage(&conn, &bob));
        }
    }

    fn ops_insert(conn: &mut Connection, record: &FileRecord) {
        insert_file(conn, record, None, false).unwrap();
    }
}
