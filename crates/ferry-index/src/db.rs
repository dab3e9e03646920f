//! The database file: its connections, its settings and its schema.
//!
//! One writer connection serialises every write (SQLite allows one writer at
//! a time anyway, and a single connection keeps `BEGIN IMMEDIATE` from ever
//! waiting on ourselves); a few read-only connections serve reads, which WAL
//! lets run beside the writer. All of them are used from blocking threads
//! only, never from an async task.
//!
//! The schema is versioned by `PRAGMA user_version`: [`MIGRATIONS`] holds one
//! step per version, applied in order in their own transactions, so a later
//! version adds a step and never edits a published one.

use ferry_core::ports::PortError;
use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// How long a statement waits for another process's lock before it gives up
/// with [`PortError::Unavailable`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Read connections opened beside the writer for a file database.
const READERS: usize = 4;

/// Each connection's page cache, in KiB (`PRAGMA cache_size`), so the pool
/// holds at most `(1 + READERS) × CACHE_KIB` of pages. SQLite's default
/// (2000 KiB per connection) is filled a page at a time as a growing file
/// is read, so a server's memory grew for as long as it ran under load, by
/// about 2 MB per connection; the readers, taken in turn, each cache the
/// same hot pages. Pages past this come from the operating system's file
/// cache, a `pread` away.
pub(crate) const CACHE_KIB: i64 = 512;

/// The schema, one step per version: step `i` takes the database from
/// version `i` to `i + 1`.
///
/// Every table's primary key starts with the user (the partition). Timestamps are Unix nanoseconds
/// (what `Timestamp` holds, so a record reads back exactly as written), file
/// and command ids 16-byte blobs (so their order is the `Uuid` order), and
/// sizes and versions integers.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: files, folders, usage, commands, processed events.
    "CREATE TABLE files (
         user TEXT NOT NULL,
         file_id BLOB NOT NULL,
         folder TEXT NOT NULL,
         name TEXT NOT NULL,
         name_folded TEXT NOT NULL,
         status TEXT NOT NULL CHECK (status IN ('uploading', 'available', 'deleting')),
         size INTEGER NOT NULL CHECK (size >= 0),
         content_type TEXT NOT NULL,
         sha256 TEXT,
         etag TEXT,
         upload_id TEXT,
         part_size INTEGER,
         command_id BLOB,
         trace_id TEXT,
         version INTEGER NOT NULL,
         created_at INTEGER NOT NULL,
         updated_at INTEGER NOT NULL,
         PRIMARY KEY (user, file_id)
     ) WITHOUT ROWID;
     -- At most one available file per folder and name (a replacing upload
     -- shares the name while it is uploading).
     CREATE UNIQUE INDEX files_available_name ON files (user, folder, name)
         WHERE status = 'available';
     -- The listings of a folder, one index per order; they hold every file
     -- not being deleted.
     CREATE INDEX files_live_name ON files (user, folder, name, file_id)
         WHERE status <> 'deleting';
     CREATE INDEX files_live_size ON files (user, folder, size, name, file_id)
         WHERE status <> 'deleting';
     CREATE INDEX files_live_modified ON files (user, folder, updated_at, name, file_id)
         WHERE status <> 'deleting';
     -- Search scans this in name order and tests the folded name without
     -- touching the table; only matches are read in full.
     -- (status is repeated so SQLite counts the index as covering.)
     CREATE INDEX files_live_search ON files (user, name, file_id, name_folded, status)
         WHERE status <> 'deleting';
     CREATE INDEX files_by_folder ON files (user, folder, file_id);
     CREATE INDEX files_by_status ON files (status, updated_at);

     -- Every folder's parent has a row too (the root has none: it always
     -- exists), so a folder's children are one range of folders_children.
     CREATE TABLE folders (
         user TEXT NOT NULL,
         path TEXT NOT NULL,
         parent TEXT NOT NULL,
         name TEXT NOT NULL,
         created_at INTEGER NOT NULL,
         PRIMARY KEY (user, path)
     ) WITHOUT ROWID;
     CREATE INDEX folders_children ON folders (user, parent, name);

     -- Kept in the same transactions as the files: bytes and count of the
     -- files that are not being deleted.
     CREATE TABLE usage (
         user TEXT NOT NULL PRIMARY KEY,
         bytes INTEGER NOT NULL,
         files INTEGER NOT NULL
     ) WITHOUT ROWID;

     CREATE TABLE commands (
         user TEXT NOT NULL,
         command_id BLOB NOT NULL,
         action TEXT NOT NULL,
         request_hash TEXT NOT NULL,
         response TEXT NOT NULL,
         status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
         result TEXT,
         accepted_at INTEGER NOT NULL,
         finished_at INTEGER,
         PRIMARY KEY (user, command_id)
     ) WITHOUT ROWID;

     CREATE TABLE processed (
         consumer TEXT NOT NULL,
         event_id BLOB NOT NULL,
         at INTEGER NOT NULL,
         PRIMARY KEY (consumer, event_id)
     ) WITHOUT ROWID;",
    // 2: a consumer's marks start with the user, as every other key does
    // (command ids are chosen by clients; two users may pick the same one).
    // A kept mark takes the user of the command with its id when there is
    // exactly one such command, else '' (which counts for every user).
    "CREATE TABLE processed_marks (
         user TEXT NOT NULL,
         consumer TEXT NOT NULL,
         event_id BLOB NOT NULL,
         at INTEGER NOT NULL,
         PRIMARY KEY (user, consumer, event_id)
     ) WITHOUT ROWID;
     INSERT INTO processed_marks (user, consumer, event_id, at)
         SELECT coalesce(
                    (SELECT min(c.user) FROM commands c WHERE c.command_id = p.event_id
                     HAVING count(*) = 1),
                    ''),
                p.consumer, p.event_id, p.at
         FROM processed p;
     DROP TABLE processed;",
    // 3: how far a pending command got (CommandRecord::progress).
    "ALTER TABLE commands ADD COLUMN progress TEXT;",
    // 4: a trigram index of the folded names, so a search for a rare term
    // reads only the names holding its rarest trigram (see `search`).
    //
    // A table of our own rather than FTS5's trigram tokenizer: its key
    // starts with the user like every other key, so one user's common
    // trigram never makes another user's search slow, and each (user,
    // trigram) has its count at hand to pick the rarest; FTS5 would also need
    // a rowid for every file, which `files` (WITHOUT ROWID) doesn't have.
    //
    // Triggers keep it: every statement that sets, changes or removes a name
    // updates the trigrams in its own transaction, whoever runs it (the
    // adapter, or `ferry-server check --repair` indexing an orphan). Rows
    // exist for files of every status; search filters on status as the scan
    // does. A trigram is three characters as SQLite's `substr` and `length`
    // count them (code points, as Rust's `chars`). Triggers can't hold a
    // `WITH` clause, so the positions come from a table: names are at most
    // 255 bytes, and folding makes at most three characters of one, so 1024
    // positions cover every name (a test holds this).
    "CREATE TABLE name_trigram_positions (n INTEGER PRIMARY KEY);
     WITH RECURSIVE p (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM p WHERE n < 1024)
     INSERT INTO name_trigram_positions (n) SELECT n FROM p;

     CREATE TABLE name_trigrams (
         user TEXT NOT NULL,
         trigram TEXT NOT NULL,
         file_id BLOB NOT NULL,
         PRIMARY KEY (user, trigram, file_id)
     ) WITHOUT ROWID;
     INSERT OR IGNORE INTO name_trigrams (user, trigram, file_id)
         SELECT f.user, substr(f.name_folded, p.n, 3), f.file_id
         FROM files f JOIN name_trigram_positions p ON p.n <= length(f.name_folded) - 2;

     -- A file's rows are found by its trigrams, so deletes need no other index.
     CREATE TRIGGER files_trigrams_insert AFTER INSERT ON files BEGIN
         INSERT OR IGNORE INTO name_trigrams (user, trigram, file_id)
             SELECT new.user, substr(new.name_folded, n, 3), new.file_id
             FROM name_trigram_positions WHERE n <= length(new.name_folded) - 2;
     END;
     CREATE TRIGGER files_trigrams_update AFTER UPDATE OF user, file_id, name_folded ON files
         WHEN old.user IS NOT new.user OR old.file_id IS NOT new.file_id
              OR old.name_folded IS NOT new.name_folded
     BEGIN
         DELETE FROM name_trigrams
             WHERE user = old.user AND file_id = old.file_id AND trigram IN (
                 SELECT substr(old.name_folded, n, 3)
                 FROM name_trigram_positions WHERE n <= length(old.name_folded) - 2);
         INSERT OR IGNORE INTO name_trigrams (user, trigram, file_id)
             SELECT new.user, substr(new.name_folded, n, 3), new.file_id
             FROM name_trigram_positions WHERE n <= length(new.name_folded) - 2;
     END;
     CREATE TRIGGER files_trigrams_delete AFTER DELETE ON files BEGIN
         DELETE FROM name_trigrams
             WHERE user = old.user AND file_id = old.file_id AND trigram IN (
                 SELECT substr(old.name_folded, n, 3)
                 FROM name_trigram_positions WHERE n <= length(old.name_folded) - 2);
     END;

     -- How many of a user's files hold each trigram, so search finds the
     -- rarest with a lookup per trigram instead of counting ranges (which
     -- a common term would pay on every search).
     CREATE TABLE name_trigram_counts (
         user TEXT NOT NULL,
         trigram TEXT NOT NULL,
         files INTEGER NOT NULL,
         PRIMARY KEY (user, trigram)
     ) WITHOUT ROWID;
     INSERT INTO name_trigram_counts (user, trigram, files)
         SELECT user, trigram, count(*) FROM name_trigrams GROUP BY user, trigram;
     CREATE TRIGGER name_trigrams_count_insert AFTER INSERT ON name_trigrams BEGIN
         INSERT INTO name_trigram_counts (user, trigram, files)
             VALUES (new.user, new.trigram, 1)
             ON CONFLICT (user, trigram) DO UPDATE SET files = files + 1;
     END;
     CREATE TRIGGER name_trigrams_count_delete AFTER DELETE ON name_trigrams BEGIN
         UPDATE name_trigram_counts SET files = files - 1
             WHERE user = old.user AND trigram = old.trigram;
         DELETE FROM name_trigram_counts
             WHERE user = old.user AND trigram = old.trigram AND files = 0;
     END;",
    // 5: the pending commands by age. A running server looks every minute
    // for accepted commands that never reached the bus (`ferry-server`'s
    // `maintenance::unsent`); this keeps each look to the pending ones
    // instead of every command ever accepted. Partial: a finished command
    // leaves it.
    "CREATE INDEX commands_pending ON commands (accepted_at, user, command_id)
         WHERE status = 'pending';",
    // 6: the trash and file versions (issue 19). Two statuses more, which
    // the status check must allow: SQLite can't alter a check, so `files` is
    // rebuilt (a new table, the rows copied, the old one dropped with its
    // indexes and triggers, the new one renamed; the trigram rows stay, as
    // every file keeps its id and name). A file's lineage (NULL: its own
    // id) and trash item are new columns.
    //
    // Only current files (`uploading`, `available`) are listed, searched
    // and hold names, so the listing indexes now hold those alone; trashed
    // files and versions have partial indexes of their own, so a trash
    // item's files and a lineage's versions are one range each. The usage
    // row counts current files only, and the bytes of the trash and of
    // versions apart (before this step every counted file was current, so
    // the kept counts hold as they are).
    "CREATE TABLE files_v6 (
         user TEXT NOT NULL,
         file_id BLOB NOT NULL,
         folder TEXT NOT NULL,
         name TEXT NOT NULL,
         name_folded TEXT NOT NULL,
         status TEXT NOT NULL
             CHECK (status IN ('uploading', 'available', 'deleting', 'trashed', 'version')),
         size INTEGER NOT NULL CHECK (size >= 0),
         content_type TEXT NOT NULL,
         sha256 TEXT,
         etag TEXT,
         upload_id TEXT,
         part_size INTEGER,
         command_id BLOB,
         trace_id TEXT,
         version INTEGER NOT NULL,
         created_at INTEGER NOT NULL,
         updated_at INTEGER NOT NULL,
         lineage BLOB,
         trash_id BLOB,
         PRIMARY KEY (user, file_id)
     ) WITHOUT ROWID;
     INSERT INTO files_v6 (user, file_id, folder, name, name_folded, status, size,
                           content_type, sha256, etag, upload_id, part_size, command_id,
                           trace_id, version, created_at, updated_at)
         SELECT user, file_id, folder, name, name_folded, status, size,
                content_type, sha256, etag, upload_id, part_size, command_id,
                trace_id, version, created_at, updated_at
         FROM files;
     -- Dropping a table drops its triggers before its rows, so the trigram
     -- rows are left as they are.
     DROP TABLE files;
     ALTER TABLE files_v6 RENAME TO files;

     -- At most one available file per folder and name (a replacing upload
     -- shares the name while it is uploading).
     CREATE UNIQUE INDEX files_available_name ON files (user, folder, name)
         WHERE status = 'available';
     -- The listings of a folder, one index per order; they hold the current
     -- files. Queries repeat the condition word for word, so they apply.
     CREATE INDEX files_live_name ON files (user, folder, name, file_id)
         WHERE status IN ('uploading', 'available');
     CREATE INDEX files_live_size ON files (user, folder, size, name, file_id)
         WHERE status IN ('uploading', 'available');
     CREATE INDEX files_live_modified ON files (user, folder, updated_at, name, file_id)
         WHERE status IN ('uploading', 'available');
     -- Search scans this in name order and tests the folded name without
     -- touching the table; only matches are read in full.
     -- (status is repeated so SQLite counts the index as covering.)
     CREATE INDEX files_live_search ON files (user, name, file_id, name_folded, status)
         WHERE status IN ('uploading', 'available');
     CREATE INDEX files_by_folder ON files (user, folder, file_id);
     -- The sweep's stale files of a status, by change time.
     CREATE INDEX files_by_status ON files (status, updated_at, user, file_id);
     -- A trash item's files, by id.
     CREATE INDEX files_trashed ON files (user, trash_id, file_id)
         WHERE status = 'trashed';
     -- A lineage's versions, the newest first (then by id).
     CREATE INDEX files_versions
         ON files (user, coalesce(lineage, file_id), created_at DESC, file_id)
         WHERE status = 'version';

     -- The trigram triggers of step 4, on the new table.
     CREATE TRIGGER files_trigrams_insert AFTER INSERT ON files BEGIN
         INSERT OR IGNORE INTO name_trigrams (user, trigram, file_id)
             SELECT new.user, substr(new.name_folded, n, 3), new.file_id
             FROM name_trigram_positions WHERE n <= length(new.name_folded) - 2;
     END;
     CREATE TRIGGER files_trigrams_update AFTER UPDATE OF user, file_id, name_folded ON files
         WHEN old.user IS NOT new.user OR old.file_id IS NOT new.file_id
              OR old.name_folded IS NOT new.name_folded
     BEGIN
         DELETE FROM name_trigrams
             WHERE user = old.user AND file_id = old.file_id AND trigram IN (
                 SELECT substr(old.name_folded, n, 3)
                 FROM name_trigram_positions WHERE n <= length(old.name_folded) - 2);
         INSERT OR IGNORE INTO name_trigrams (user, trigram, file_id)
             SELECT new.user, substr(new.name_folded, n, 3), new.file_id
             FROM name_trigram_positions WHERE n <= length(new.name_folded) - 2;
     END;
     CREATE TRIGGER files_trigrams_delete AFTER DELETE ON files BEGIN
         DELETE FROM name_trigrams
             WHERE user = old.user AND file_id = old.file_id AND trigram IN (
                 SELECT substr(old.name_folded, n, 3)
                 FROM name_trigram_positions WHERE n <= length(old.name_folded) - 2);
     END;

     ALTER TABLE usage ADD COLUMN trash_bytes INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE usage ADD COLUMN version_bytes INTEGER NOT NULL DEFAULT 0;

     -- What each delete moved to the trash. A folder item's folders are a
     -- JSON array of paths, read and written with the item.
     CREATE TABLE trash (
         user TEXT NOT NULL,
         trash_id BLOB NOT NULL,
         kind TEXT NOT NULL CHECK (kind IN ('file', 'folder')),
         path TEXT NOT NULL,
         name TEXT NOT NULL,
         file_id BLOB,
         files INTEGER NOT NULL CHECK (files >= 0),
         bytes INTEGER NOT NULL CHECK (bytes >= 0),
         folders TEXT NOT NULL,
         trashed_at INTEGER NOT NULL,
         PRIMARY KEY (user, trash_id)
     ) WITHOUT ROWID;
     -- A user's trash, the newest first (then by id).
     CREATE INDEX trash_newest ON trash (user, trashed_at DESC, trash_id);
     -- Every user's trash by age, for the retention sweep.
     CREATE INDEX trash_by_age ON trash (trashed_at, user, trash_id);",
    // 7: what the thumbnailer made of a file (issue 20): its `ThumbnailState`
    // as JSON, NULL until it tried. Read and written with the record only,
    // never queried, so no index.
    "ALTER TABLE files ADD COLUMN thumbnail TEXT;",
];

/// The schema version this build writes.
pub(crate) fn schema_version() -> u32 {
    // The list is a handful of literals; it can't reach u32::MAX.
    MIGRATIONS.len() as u32
}

/// Why a store operation failed: a refusal the port defines, or SQLite.
#[derive(Debug)]
pub(crate) enum StoreError {
    /// A refusal to hand to the caller as is.
    Port(PortError),
    /// SQLite failed.
    Db(rusqlite::Error),
}

impl From<PortError> for StoreError {
    fn from(error: PortError) -> Self {
        Self::Port(error)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Db(error)
    }
}

impl From<StoreError> for PortError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Port(error) => error,
            StoreError::Db(error) => match error.sqlite_error_code() {
                Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                    Self::Unavailable(format!("index busy: {error}"))
                }
                // The explicit checks come first, so this is a race with
                // another process writing the same file.
                Some(ErrorCode::ConstraintViolation) => {
                    Self::Conflict(format!("index constraint: {error}"))
                }
                Some(ErrorCode::DiskFull) => Self::Unavailable(format!("index disk full: {error}")),
                _ => Self::Other(format!("index: {error}")),
            },
        }
    }
}

/// What store operations return.
pub(crate) type StoreResult<T> = Result<T, StoreError>;

/// The connections to one database.
#[derive(Debug)]
pub(crate) struct Pool {
    writer: Mutex<Connection>,
    /// Empty for an in-memory database, whose reads go to the writer.
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl Pool {
    /// Opens (creating if needed) the database file at `path`, brings its
    /// schema up to date and opens the read connections.
    pub(crate) fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
        }
        let mut writer = Connection::open(path)
            .map_err(|e| anyhow::anyhow!("opening {}: {e}", path.display()))?;
        configure(&writer)?;
        // WAL is a property of the file: set once by the writer, it holds for
        // every connection and survives a reopen.
        let mode: String = writer.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        anyhow::ensure!(
            mode.eq_ignore_ascii_case("wal"),
            "{} refused WAL mode (journal_mode is {mode})",
            path.display()
        );
        migrate(&mut writer)?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let reader = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_URI,
            )?;
            configure(&reader)?;
            readers.push(Mutex::new(reader));
        }
        Ok(Self {
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
        })
    }

    /// A private in-memory database with the current schema, gone when
    /// dropped. One connection serves reads and writes.
    pub(crate) fn open_in_memory() -> anyhow::Result<Self> {
        let mut writer = Connection::open_in_memory()?;
        configure(&writer)?;
        migrate(&mut writer)?;
        Ok(Self {
            writer: Mutex::new(writer),
            readers: Vec::new(),
            next_reader: AtomicUsize::new(0),
        })
    }

    /// The writer connection, waiting for it if it is busy.
    pub(crate) fn writer(&self) -> MutexGuard<'_, Connection> {
        // A panic mid-operation drops its transaction, which rolls back, so
        // the connection is still sound.
        self.writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A read connection: a free one if there is one, else the next in turn.
    pub(crate) fn reader(&self) -> MutexGuard<'_, Connection> {
        if self.readers.is_empty() {
            return self.writer();
        }
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        let count = self.readers.len();
        for offset in 0..count {
            if let Ok(conn) = self.readers[(start + offset) % count].try_lock() {
                return conn;
            }
        }
        self.readers[start % count]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The settings every connection carries.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // An accepted command must survive a power cut: FULL syncs the WAL on
    // every commit.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Applies the missing steps of [`MIGRATIONS`]. A database written by a newer
/// build is refused rather than misread.
fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let latest = schema_version();
    anyhow::ensure!(
        current <= latest,
        "the index has schema version {current}, newer than this build's {latest}"
    );
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)
            .map_err(|e| anyhow::anyhow!("schema step {}: {e}", step + 1))?;
        tx.pragma_update(None, "user_version", i64::try_from(step + 1)?)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Every connection of a file's pool, the writer and each reader, has
    /// the bounded page cache, so the pool's memory has a ceiling however
    /// large the file grows (issue 15's soak found it growing by the
    /// default 2000 KiB per connection).
    #[test]
    fn every_connection_of_a_pool_has_the_bounded_page_cache() {
        let dir = tempfile::tempdir().unwrap();
        let pool = Pool::open(&dir.path().join("index.sqlite3")).unwrap();
        let cache = |conn: &Connection| -> i64 {
            conn.query_row("PRAGMA cache_size", [], |row| row.get(0))
                .unwrap()
        };
        assert_eq!(cache(&pool.writer()), -CACHE_KIB);
        assert_eq!(pool.readers.len(), READERS);
        for reader in &pool.readers {
            assert_eq!(cache(&reader.lock().unwrap()), -CACHE_KIB);
        }
    }

    /// A version-1 file's marks move to `processed_marks` with the user of
    /// the one command that has their id, or '' when none or several do.
    #[test]
    fn marks_kept_from_version_1_take_their_commands_user() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        let id = |n: u8| [n; 16].to_vec();
        for (user, command) in [("ann", 1), ("ann", 2), ("bob", 2)] {
            conn.execute(
                "INSERT INTO commands (user, command_id, action, request_hash, response,
                                       status, accepted_at)
                 VALUES (?1, ?2, 'CreateFolder', 'h', '{}', 'succeeded', 0)",
                rusqlite::params![user, id(command)],
            )
            .unwrap();
        }
        for event in [1, 2, 3] {
            conn.execute(
                "INSERT INTO processed (consumer, event_id, at) VALUES ('mover', ?1, 7)",
                [id(event)],
            )
            .unwrap();
        }
        migrate(&mut conn).unwrap();
        let mut marks: Vec<(String, Vec<u8>)> = conn
            .prepare("SELECT user, event_id FROM processed_marks ORDER BY event_id")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        marks.sort();
        assert_eq!(
            marks,
            [
                (String::new(), id(2)),
                (String::new(), id(3)),
                ("ann".to_owned(), id(1)),
            ]
        );
        let version: u32 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, schema_version());
    }

    /// A version-3 file's names get their trigrams in step 4, and later
    /// writes keep them.
    #[test]
    fn names_kept_from_version_3_get_their_trigrams() {
        let mut conn = Connection::open_in_memory().unwrap();
        for step in &MIGRATIONS[..3] {
            conn.execute_batch(step).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        let names = [
            ("ann", "Report.PDF"),
            ("ann", "Été à Paris.jpg"),
            ("ann", "ab"),
            ("ann", "aaaa"),
            ("bob", "Report.pdf"),
            ("bob", "İstanbul ΣΑΣ.txt"),
        ];
        for (n, (user, name)) in names.into_iter().enumerate() {
            let status = if n == 3 { "deleting" } else { "available" };
            conn.execute(
                "INSERT INTO files (user, file_id, folder, name, name_folded, status, size,
                                    content_type, version, created_at, updated_at)
                 VALUES (?1, ?2, '', ?3, ?4, ?5, 1, 'text/plain', 1, 0, 0)",
                rusqlite::params![
                    user,
                    [u8::try_from(n).unwrap(); 16].to_vec(),
                    name,
                    crate::codec::fold(name),
                    status
                ],
            )
            .unwrap();
        }
        migrate(&mut conn).unwrap();
        let (held, expected) = crate::search::tests::trigram_rows(&conn);
        assert_eq!(held, expected);
        assert!(held.contains(&("bob".to_owned(), "i̇s".to_owned(), [5; 16].to_vec())));
        assert_eq!(held.len(), 8 + 13 + 1 + 8 + 15);

        conn.execute(
            "UPDATE files SET name = 'notes', name_folded = 'notes' WHERE file_id = ?1",
            [[0u8; 16].to_vec()],
        )
        .unwrap();
        conn.execute("DELETE FROM files WHERE file_id = ?1", [[1u8; 16].to_vec()])
            .unwrap();
        let (held, expected) = crate::search::tests::trigram_rows(&conn);
        assert_eq!(held, expected);
        assert_eq!(held.len(), 3 + 1 + 8 + 15);
    }

    /// A version-5 file keeps its files, usage and trigrams through step 6,
    /// which rebuilds `files`: records read back as they were (no lineage,
    /// no trash), the trigram triggers still work, the new statuses are
    /// allowed and counted apart.
    #[test]
    fn files_kept_from_version_5_take_the_trash_and_versions() {
        use crate::ops;
        use ferry_core::conformance::{next, user};
        use ferry_core::model::{FileStatus, TrashItem, TrashKind, Usage};
        use uuid::Uuid;

        let mut conn = Connection::open_in_memory().unwrap();
        for step in &MIGRATIONS[..5] {
            conn.execute_batch(step).unwrap();
        }
        conn.pragma_update(None, "user_version", 5).unwrap();
        let rows = [
            ("ann", "docs", "Report.PDF", "available", 10),
            ("ann", "docs", "draft.txt", "uploading", 5),
            ("ann", "docs/old", "gone.txt", "deleting", 7),
            ("bob", "", "Été.jpg", "available", 3),
        ];
        for (n, (owner, folder, name, status, size)) in rows.into_iter().enumerate() {
            conn.execute(
                "INSERT INTO files (user, file_id, folder, name, name_folded, status, size,
                                    content_type, sha256, version, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'text/plain', 'c2hh', 2, 1000, 2000)",
                rusqlite::params![
                    owner,
                    [u8::try_from(n + 1).unwrap(); 16].to_vec(),
                    folder,
                    name,
                    crate::codec::fold(name),
                    status,
                    size
                ],
            )
            .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO usage (user, bytes, files) VALUES ('ann', 15, 2), ('bob', 3, 1);
             INSERT INTO folders (user, path, parent, name, created_at)
                 VALUES ('ann', 'docs', '', 'docs', 0), ('ann', 'docs/old', 'docs', 'old', 0);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let version: u32 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, schema_version());
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(check, "ok");

        let (ann, bob) = (user("ann"), user("bob"));
        let id = |n: u8| Uuid::from_bytes([n; 16]);
        let report = ops::file(&conn, &ann, id(1)).unwrap().unwrap();
        assert_eq!(
            (
                report.name.as_str(),
                report.status,
                report.size,
                report.sha256.as_deref(),
                report.version,
                report.lineage,
                report.trash_id
            ),
            (
                "Report.PDF",
                FileStatus::Available,
                10,
                Some("c2hh"),
                2,
                None,
                None
            )
        );
        assert_eq!(
            ops::file(&conn, &ann, id(3)).unwrap().unwrap().status,
            FileStatus::Deleting
        );
        let (held, expected) = crate::search::tests::trigram_rows(&conn);
        assert_eq!(held, expected);
        assert_eq!(
            ops::usage(&conn, &ann).unwrap(),
            Usage {
                bytes: 15,
                files: 2,
                ..Usage::default()
            }
        );

        // The new statuses are stored, counted apart, and keep the
        // trigrams in step through the new table's triggers.
        let trash_id = Uuid::new_v4();
        let trashed = next(&report, |f| {
            f.status = FileStatus::Trashed;
            f.trash_id = Some(trash_id);
        });
        ops::update_file(&mut conn, &trashed, report.version).unwrap();
        let draft = ops::file(&conn, &ann, id(2)).unwrap().unwrap();
        let version = next(&draft, |f| {
            f.status = FileStatus::Version;
            f.name = ferry_protocol::FileName::parse("draft v1.txt").unwrap();
        });
        ops::update_file(&mut conn, &version, draft.version).unwrap();
        assert_eq!(
            ops::usage(&conn, &ann).unwrap(),
            Usage {
                bytes: 15,
                files: 0,
                trash_bytes: 10,
                version_bytes: 5,
            }
        );
        assert_eq!(
            ops::trashed_files(&conn, &ann, trash_id, None, 10)
                .unwrap()
                .items,
            [trashed]
        );
        assert_eq!(
            ops::versions(&conn, &ann, draft.file_id, None, 10)
                .unwrap()
                .items,
            [version]
        );
        assert!(ops::remove_file(&mut conn, &bob, id(4), 2).unwrap());
        let (held, expected) = crate::search::tests::trigram_rows(&conn);
        assert_eq!(held, expected);

        let item = TrashItem {
            user: ann.clone(),
            trash_id,
            kind: TrashKind::Folder,
            path: ferry_core::conformance::folder("docs"),
            name: "docs".to_owned(),
            file_id: None,
            files: 1,
            bytes: 10,
            folders: vec![
                ferry_core::conformance::folder("docs"),
                ferry_core::conformance::folder("docs/old"),
            ],
            trashed_at: ferry_core::conformance::at(5),
        };
        ops::put_trash(&conn, &item).unwrap();
        assert_eq!(ops::trash_item(&conn, &ann, trash_id).unwrap(), Some(item));
    }
}
