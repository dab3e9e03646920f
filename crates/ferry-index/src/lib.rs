//! Ferry's file index in SQLite: the local stack's stand-in for DynamoDB,
//! behind [`ferry_core::ports::Index`].
//!
//! - `db`: the database file, its connections (one writer, a few readers),
//!   its settings (WAL, `synchronous = FULL`) and its versioned schema;
//! - `codec`: records to rows and back, search folding, page cursors;
//! - `ops`: one plain function per port method over a connection;
//! - `search`: search's two plans (a scan in name order, or the candidates
//!   of the term's rarest trigram) and the choice between them.
//!
//! **Invariant:** every row belongs to one user's partition (each table's
//! primary key starts with the user; `processed` with the consumer), and every
//! query names the user, so no call can see or change another user's files,
//! folders, commands, trash or usage. Each write is one transaction that
//! checks its conditions and applies all it changes (the file, its folders,
//! the usage row), so a refused write changes nothing and `usage` always
//! equals the sum over the user's files that are not `deleting` (files:
//! the current ones; trash and version bytes: the `trashed` files and the
//! `version`s). When a write returns `Ok` it is on disk. SQLite is only ever
//! called from blocking threads.
//!
//! Where the port leaves room, this adapter:
//! - pages with opaque keyset cursors (base64url JSON of the last row's sort
//!   key, tagged with the query and order), so a page never repeats or skips
//!   a row that existed when paging began, whatever is inserted meanwhile; a
//!   cursor that is malformed or belongs to another query or order is
//!   [`PortError::Invalid`], and limits are clamped to 1..=1000;
//! - orders a descending listing as the exact reverse of the ascending one
//!   (sub-folders still first, by name in the same direction), with ties
//!   broken by name, then id;
//! - searches with `instr` over names folded to NFC lower case (Unicode's
//!   mapping, so `ÉTÉ` finds `été.txt`; `%` and `_` are plain characters),
//!   testing only the names that hold the term's rarest trigram when that
//!   trigram is rare;
//! - stores times as Unix nanoseconds, so a record reads back exactly as
//!   written; a time outside 1677–2262 is [`PortError::Invalid`];
//! - answers an empty page for a folder that doesn't exist (the domain asks
//!   [`Index::folder_exists`] first);
//! - refuses [`Index::update_file`] with [`PortError::Invalid`] unless the
//!   new record's version is `expected_version + 1`, and
//!   [`Index::finish_command`] as `pending`; finishing a command that was
//!   never recorded does nothing (as DynamoDB's conditional update would);
//! - refuses [`Index::remove_folder_tree`] with [`PortError::Conflict`] while
//!   a current file (`uploading` or `available`) is still in the tree; the
//!   root always exists, so creating it returns false and removing it
//!   removes every folder;
//! - adds a file's folders on [`Index::insert_file`] only when the file is
//!   current, as [`Index::update_file`] does;
//! - refuses a cursor of [`Index::trashed_files`], [`Index::versions`] or
//!   [`Index::folders_under`] handed to another trash item, lineage or
//!   folder;
//! - keeps the first time a consumer marked an event processed.

mod codec;
mod db;
mod ops;
mod search;

pub use search::SearchPlan;

use async_trait::async_trait;
use db::{Pool, StoreResult};
use ferry_core::model::{
    CommandRecord, CommandStatus, Entry, FileRecord, FileStatus, ListQuery, Page, TrashItem, Usage,
    UserId,
};
use ferry_core::ports::{Index, PortError, PortResult, PutCommand};
use ferry_protocol::{FolderPath, Timestamp};
use rusqlite::Connection;
use std::path::Path;
use std::sync::Arc;
use uuid::Uuid;

/// The SQLite file index. Cheap to share: [`SqliteIndex::open`] hands out an
/// `Arc`.
#[derive(Debug)]
pub struct SqliteIndex {
    pool: Arc<Pool>,
}

impl SqliteIndex {
    /// Opens the index at `path` (e.g. `data/index.sqlite3`), creating the
    /// file and its folder if needed and bringing the schema up to date. A
    /// file written by a newer build is refused.
    pub fn open(path: &Path) -> anyhow::Result<Arc<Self>> {
        Ok(Arc::new(Self {
            pool: Arc::new(Pool::open(path)?),
        }))
    }

    /// A private index in memory, gone when dropped; for tests.
    pub fn open_in_memory() -> anyhow::Result<Arc<Self>> {
        Ok(Arc::new(Self {
            pool: Arc::new(Pool::open_in_memory()?),
        }))
    }

    /// The schema version this build reads and writes (`PRAGMA user_version`).
    pub fn schema_version() -> u32 {
        db::schema_version()
    }

    /// [`Index::search`] with a chosen plan; every plan answers the same
    /// pages. For benches and tests that compare plans.
    pub async fn search_with_plan(
        &self,
        user: &UserId,
        text: &str,
        cursor: Option<&str>,
        limit: u32,
        plan: SearchPlan,
    ) -> PortResult<Page<FileRecord>> {
        let (user, text) = (user.clone(), text.to_owned());
        let cursor = cursor.map(str::to_owned);
        self.read(move |conn| search::search(conn, &user, &text, cursor.as_deref(), limit, plan))
            .await
    }

    /// Runs `work` with the writer connection on a blocking thread.
    async fn write<T, F>(&self, work: F) -> PortResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let pool = Arc::clone(&self.pool);
        run(move || work(&mut pool.writer())).await
    }

    /// Runs `work` with a read connection on a blocking thread.
    async fn read<T, F>(&self, work: F) -> PortResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let pool = Arc::clone(&self.pool);
        run(move || work(&mut pool.reader())).await
    }
}

async fn run<T, F>(work: F) -> PortResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> StoreResult<T> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(PortError::from),
        Err(error) => Err(PortError::Other(format!("index task failed: {error}"))),
    }
}

#[async_trait]
impl Index for SqliteIndex {
    async fn insert_file(
        &self,
        file: &FileRecord,
        quota: Option<u64>,
        replacing: bool,
    ) -> PortResult<()> {
        let file = file.clone();
        self.write(move |conn| ops::insert_file(conn, &file, quota, replacing))
            .await
    }

    async fn file(&self, user: &UserId, file_id: Uuid) -> PortResult<Option<FileRecord>> {
        let user = user.clone();
        self.read(move |conn| ops::file(conn, &user, file_id)).await
    }

    async fn file_by_name(
        &self,
        user: &UserId,
        folder: &FolderPath,
        name: &str,
    ) -> PortResult<Option<FileRecord>> {
        let (user, folder, name) = (user.clone(), folder.clone(), name.to_owned());
        self.read(move |conn| ops::file_by_name(conn, &user, &folder, &name))
            .await
    }

    async fn update_file(&self, file: &FileRecord, expected_version: u64) -> PortResult<()> {
        let file = file.clone();
        self.write(move |conn| ops::update_file(conn, &file, expected_version))
            .await
    }

    async fn remove_file(
        &self,
        user: &UserId,
        file_id: Uuid,
        expected_version: u64,
    ) -> PortResult<bool> {
        let user = user.clone();
        self.write(move |conn| ops::remove_file(conn, &user, file_id, expected_version))
            .await
    }

    async fn list_folder(&self, user: &UserId, query: &ListQuery) -> PortResult<Page<Entry>> {
        let (user, query) = (user.clone(), query.clone());
        self.read(move |conn| ops::list_folder(conn, &user, &query))
            .await
    }

    async fn search(
        &self,
        user: &UserId,
        text: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<FileRecord>> {
        self.search_with_plan(user, text, cursor, limit, SearchPlan::default())
            .await
    }

    async fn files_under(
        &self,
        user: &UserId,
        folder: &FolderPath,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<FileRecord>> {
        let (user, folder) = (user.clone(), folder.clone());
        let cursor = cursor.map(str::to_owned);
        self.read(move |conn| ops::files_under(conn, &user, &folder, cursor.as_deref(), limit))
            .await
    }

    async fn files_with_status(
        &self,
        status: FileStatus,
        before: Timestamp,
        limit: u32,
    ) -> PortResult<Vec<FileRecord>> {
        self.read(move |conn| ops::files_with_status(conn, status, before, limit))
            .await
    }

    async fn users(&self, after: Option<&UserId>, limit: u32) -> PortResult<Vec<UserId>> {
        let after = after.cloned();
        self.read(move |conn| ops::users(conn, after.as_ref(), limit))
            .await
    }

    async fn create_folder(
        &self,
        user: &UserId,
        path: &FolderPath,
        at: Timestamp,
    ) -> PortResult<bool> {
        let (user, path) = (user.clone(), path.clone());
        self.write(move |conn| ops::create_folder(conn, &user, &path, at))
            .await
    }

    async fn folder_exists(&self, user: &UserId, path: &FolderPath) -> PortResult<bool> {
        if path.is_root() {
            return Ok(true);
        }
        let (user, path) = (user.clone(), path.clone());
        self.read(move |conn| ops::folder_exists(conn, &user, &path))
            .await
    }

    async fn remove_folder_tree(&self, user: &UserId, path: &FolderPath) -> PortResult<bool> {
        let (user, path) = (user.clone(), path.clone());
        self.write(move |conn| ops::remove_folder_tree(conn, &user, &path))
            .await
    }

    async fn usage(&self, user: &UserId) -> PortResult<Usage> {
        let user = user.clone();
        self.read(move |conn| ops::usage(conn, &user)).await
    }

    async fn folders_under(
        &self,
        user: &UserId,
        path: &FolderPath,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<FolderPath>> {
        let (user, path) = (user.clone(), path.clone());
        let cursor = cursor.map(str::to_owned);
        self.read(move |conn| ops::folders_under(conn, &user, &path, cursor.as_deref(), limit))
            .await
    }

    async fn put_trash(&self, item: &TrashItem) -> PortResult<()> {
        let item = item.clone();
        self.write(move |conn| ops::put_trash(conn, &item)).await
    }

    async fn trash_item(&self, user: &UserId, trash_id: Uuid) -> PortResult<Option<TrashItem>> {
        let user = user.clone();
        self.read(move |conn| ops::trash_item(conn, &user, trash_id))
            .await
    }

    async fn list_trash(
        &self,
        user: &UserId,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<TrashItem>> {
        let user = user.clone();
        let cursor = cursor.map(str::to_owned);
        self.read(move |conn| ops::list_trash(conn, &user, cursor.as_deref(), limit))
            .await
    }

    async fn remove_trash(&self, user: &UserId, trash_id: Uuid) -> PortResult<bool> {
        let user = user.clone();
        self.write(move |conn| ops::remove_trash(conn, &user, trash_id))
            .await
    }

    async fn trash_before(&self, before: Timestamp, limit: u32) -> PortResult<Vec<TrashItem>> {
        self.read(move |conn| ops::trash_before(conn, before, limit))
            .await
    }

    async fn trashed_files(
        &self,
        user: &UserId,
        trash_id: Uuid,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<FileRecord>> {
        let user = user.clone();
        let cursor = cursor.map(str::to_owned);
        self.read(move |conn| ops::trashed_files(conn, &user, trash_id, cursor.as_deref(), limit))
            .await
    }

    async fn versions(
        &self,
        user: &UserId,
        lineage: Uuid,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<FileRecord>> {
        let user = user.clone();
        let cursor = cursor.map(str::to_owned);
        self.read(move |conn| ops::versions(conn, &user, lineage, cursor.as_deref(), limit))
            .await
    }

    async fn put_command(&self, command: &CommandRecord) -> PortResult<PutCommand> {
        let command = command.clone();
        self.write(move |conn| ops::put_command(conn, &command))
            .await
    }

    async fn command(&self, user: &UserId, command_id: Uuid) -> PortResult<Option<CommandRecord>> {
        let user = user.clone();
        self.read(move |conn| ops::command(conn, &user, command_id))
            .await
    }

    async fn finish_command(
        &self,
        user: &UserId,
        command_id: Uuid,
        status: CommandStatus,
        result: &serde_json::Value,
        at: Timestamp,
    ) -> PortResult<()> {
        let (user, result) = (user.clone(), result.clone());
        self.write(move |conn| ops::finish_command(conn, &user, command_id, status, &result, at))
            .await
    }

    async fn note_progress(
        &self,
        user: &UserId,
        command_id: Uuid,
        progress: &serde_json::Value,
    ) -> PortResult<()> {
        let (user, progress) = (user.clone(), progress.clone());
        self.write(move |conn| ops::note_progress(conn, &user, command_id, &progress))
            .await
    }

    async fn was_processed(
        &self,
        consumer: &str,
        user: &UserId,
        event_id: Uuid,
    ) -> PortResult<bool> {
        let (consumer, user) = (consumer.to_owned(), user.clone());
        self.read(move |conn| ops::was_processed(conn, &consumer, &user, event_id))
            .await
    }

    async fn mark_processed(
        &self,
        consumer: &str,
        user: &UserId,
        event_id: Uuid,
        at: Timestamp,
    ) -> PortResult<()> {
        let (consumer, user) = (consumer.to_owned(), user.clone());
        self.write(move |conn| ops::mark_processed(conn, &consumer, &user, event_id, at))
            .await
    }
}
