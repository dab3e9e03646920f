//! The index in memory, keeping the [`Index`] contract as the SQLite and
//! DynamoDB indexes do (the conformance suite runs against it): conditional
//! writes by version, one available file per name, an atomic quota, folders
//! explicit and implicit, and cursors that name the last entry of a page,
//! so a page stays put while files arrive and a cursor of another listing
//! is refused.

use super::Faults;
use crate::model::{
    CommandRecord, CommandStatus, Entry, FileRecord, FileStatus, FolderRecord, ListQuery, MAX_PAGE,
    Page, SortKey, TrashItem, Usage, UserId,
};
use crate::ports::{Index, PortError, PortResult, PutCommand};
use async_trait::async_trait;
use base64::Engine as _;
use ferry_protocol::path::fold;
use ferry_protocol::{FolderPath, Timestamp};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// The index.
#[derive(Debug)]
pub struct MemoryIndex {
    faults: Arc<Faults>,
    state: Mutex<IndexState>,
}

#[derive(Debug, Default)]
struct IndexState {
    files: BTreeMap<(UserId, Uuid), FileRecord>,
    /// Folders by owner and path, with when each was created.
    folders: BTreeMap<(UserId, String), Timestamp>,
    commands: HashMap<(UserId, Uuid), CommandRecord>,
    processed: HashSet<(String, UserId, Uuid)>,
    trash: BTreeMap<(UserId, Uuid), TrashItem>,
}

impl IndexState {
    fn user_files<'a>(&'a self, user: &'a UserId) -> impl Iterator<Item = &'a FileRecord> + 'a {
        self.files.values().filter(move |f| f.user == *user)
    }

    fn usage(&self, user: &UserId) -> Usage {
        let mut usage = Usage::default();
        for file in self.user_files(user) {
            if file.status != FileStatus::Deleting {
                usage.bytes = usage.bytes.saturating_add(file.size);
            }
            match file.status {
                FileStatus::Uploading | FileStatus::Available => usage.files += 1,
                FileStatus::Trashed => usage.trash_bytes += file.size,
                FileStatus::Version => usage.version_bytes += file.size,
                FileStatus::Deleting => {}
            }
        }
        usage
    }

    /// Whether another file of `file`'s folder and name is in one of
    /// `statuses`.
    fn name_held(&self, file: &FileRecord, statuses: &[FileStatus]) -> bool {
        self.user_files(&file.user).any(|other| {
            other.file_id != file.file_id
                && other.folder == file.folder
                && other.name == file.name
                && statuses.contains(&other.status)
        })
    }

    /// Adds `path` and every folder above it; returns whether `path` was new.
    fn ensure_folders(&mut self, user: &UserId, path: &FolderPath, at: Timestamp) -> bool {
        let mut created = false;
        let mut next = Some(path.clone());
        let mut first = true;
        while let Some(folder) = next {
            if folder.is_root() {
                break;
            }
            let key = (user.clone(), folder.as_str().to_owned());
            let fresh = !self.folders.contains_key(&key);
            if fresh {
                self.folders.insert(key, at);
            }
            if first {
                created = fresh;
                first = false;
            }
            next = folder.parent();
        }
        created
    }

    fn folder_exists(&self, user: &UserId, path: &FolderPath) -> bool {
        path.is_root()
            || self
                .folders
                .contains_key(&(user.clone(), path.as_str().to_owned()))
            || self
                .user_files(user)
                .any(|f| f.is_current() && path.contains(&f.folder))
    }
}

/// Where a page ended, and of which listing: a cursor of another listing,
/// order or query is refused.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Cursor {
    listing: String,
    after: Position,
}

/// An entry's place in a listing: folders before files, then the sort
/// value, the name and the id.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
struct Position {
    group: u8,
    value: i128,
    name: String,
    id: Option<Uuid>,
}

fn encode(cursor: &Cursor) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(cursor).unwrap_or_default())
}

/// The position after which `listing` resumes; `Invalid` for anything not
/// written by [`encode`] for the same listing.
fn resume(text: Option<&str>, listing: &str) -> PortResult<Option<Position>> {
    let Some(text) = text else { return Ok(None) };
    let invalid = || PortError::Invalid("this cursor isn't one of this listing's".to_owned());
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| invalid())?;
    let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if cursor.listing != listing {
        return Err(invalid());
    }
    Ok(Some(cursor.after))
}

/// One page of `entries` (in listing order) after `after`.
fn page_of<T>(
    entries: Vec<(Position, T)>,
    after: Option<&Position>,
    order: impl Fn(&Position, &Position) -> Ordering,
    limit: u32,
    listing: &str,
) -> Page<T> {
    let limit = limit.clamp(1, MAX_PAGE) as usize;
    let mut rest: Vec<(Position, T)> = entries
        .into_iter()
        .filter(|(position, _)| after.is_none_or(|a| order(position, a) == Ordering::Greater))
        .collect();
    let more = rest.len() > limit;
    rest.truncate(limit);
    let next_cursor = more.then(|| {
        encode(&Cursor {
            listing: listing.to_owned(),
            after: rest.last().map(|(p, _)| p.clone()).unwrap_or(Position {
                group: 0,
                value: 0,
                name: String::new(),
                id: None,
            }),
        })
    });
    Page {
        items: rest.into_iter().map(|(_, item)| item).collect(),
        next_cursor,
    }
}

fn nanos(at: Timestamp) -> i128 {
    at.get().unix_timestamp_nanos()
}

impl MemoryIndex {
    /// An empty index.
    pub fn new(faults: Arc<Faults>) -> Self {
        Self {
            faults,
            state: Mutex::new(IndexState::default()),
        }
    }

    /// Every file record of every user, as stored, by user and id.
    pub fn all_files(&self) -> Vec<FileRecord> {
        self.state.lock().unwrap().files.values().cloned().collect()
    }

    /// Every folder of every user (`user:path`), in order.
    pub fn all_folders(&self) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state
            .folders
            .keys()
            .map(|(user, path)| format!("{user}:{path}"))
            .collect()
    }

    /// Every trash item of every user, by user and id.
    pub fn all_trash(&self) -> Vec<TrashItem> {
        self.state.lock().unwrap().trash.values().cloned().collect()
    }

    /// Every command record of every user, by user and id.
    pub fn all_commands(&self) -> Vec<CommandRecord> {
        let state = self.state.lock().unwrap();
        let mut commands: Vec<CommandRecord> = state.commands.values().cloned().collect();
        commands.sort_by(|a, b| (&a.user, a.command_id).cmp(&(&b.user, b.command_id)));
        commands
    }
}

#[async_trait]
impl Index for MemoryIndex {
    async fn insert_file(
        &self,
        file: &FileRecord,
        quota: Option<u64>,
        replacing: bool,
    ) -> PortResult<()> {
        self.faults.enter("index.insert_file")?;
        let mut state = self.state.lock().unwrap();
        let key = (file.user.clone(), file.file_id);
        if state.files.contains_key(&key) {
            return Err(PortError::Conflict(format!(
                "file {} already exists",
                file.file_id
            )));
        }
        let counts = file.status != FileStatus::Deleting;
        // A replacing upload shares the name until it becomes available.
        let holders: &[FileStatus] = if replacing {
            &[FileStatus::Available]
        } else {
            &[FileStatus::Available, FileStatus::Uploading]
        };
        if counts
            && (!replacing || file.status == FileStatus::Available)
            && state.name_held(file, holders)
        {
            return Err(PortError::Conflict(format!(
                "“{}” is taken in “{}”",
                file.name, file.folder
            )));
        }
        if let Some(quota) = quota.filter(|_| counts) {
            let after = state.usage(&file.user).bytes.saturating_add(file.size);
            if after > quota {
                return Err(PortError::QuotaExceeded(format!(
                    "storing {} more bytes would use {after} of {quota}",
                    file.size
                )));
            }
        }
        state.files.insert(key, file.clone());
        state.ensure_folders(&file.user, &file.folder, file.created_at);
        Ok(())
    }

    async fn file(&self, user: &UserId, file_id: Uuid) -> PortResult<Option<FileRecord>> {
        self.faults.enter("index.file")?;
        let state = self.state.lock().unwrap();
        Ok(state.files.get(&(user.clone(), file_id)).cloned())
    }

    async fn file_by_name(
        &self,
        user: &UserId,
        folder: &FolderPath,
        name: &str,
    ) -> PortResult<Option<FileRecord>> {
        self.faults.enter("index.file_by_name")?;
        let state = self.state.lock().unwrap();
        let named: Vec<&FileRecord> = state
            .user_files(user)
            .filter(|f| f.folder == *folder && f.name.as_str() == name)
            .collect();
        let pick = |status| named.iter().find(|f| f.status == status).copied().cloned();
        Ok(pick(FileStatus::Available).or_else(|| pick(FileStatus::Uploading)))
    }

    async fn update_file(&self, file: &FileRecord, expected_version: u64) -> PortResult<()> {
        self.faults.enter("index.update_file")?;
        let mut state = self.state.lock().unwrap();
        let key = (file.user.clone(), file.file_id);
        let Some(stored) = state.files.get(&key) else {
            return Err(PortError::NotFound(format!("no file {}", file.file_id)));
        };
        if stored.version != expected_version {
            return Err(PortError::Conflict(format!(
                "file {} is at version {}, not {expected_version}",
                file.file_id, stored.version
            )));
        }
        if file.version != expected_version + 1 {
            return Err(PortError::Invalid(
                "the new record must carry the next version".to_owned(),
            ));
        }
        if file.status == FileStatus::Available && state.name_held(file, &[FileStatus::Available]) {
            return Err(PortError::Conflict(format!(
                "“{}” is taken in “{}”",
                file.name, file.folder
            )));
        }
        state.files.insert(key, file.clone());
        if file.is_current() {
            state.ensure_folders(&file.user, &file.folder, file.updated_at);
        }
        Ok(())
    }

    async fn remove_file(
        &self,
        user: &UserId,
        file_id: Uuid,
        expected_version: u64,
    ) -> PortResult<bool> {
        self.faults.enter("index.remove_file")?;
        let mut state = self.state.lock().unwrap();
        let key = (user.clone(), file_id);
        match state.files.get(&key) {
            None => Ok(false),
            Some(stored) if stored.version != expected_version => Err(PortError::Conflict(
                format!("file {file_id} is at version {}", stored.version),
            )),
            Some(_) => {
                state.files.remove(&key);
                Ok(true)
            }
        }
    }

    async fn list_folder(&self, user: &UserId, query: &ListQuery) -> PortResult<Page<Entry>> {
        self.faults.enter("index.list_folder")?;
        let listing = format!(
            "list:{:?}:{}:{}",
            query.sort,
            query.descending,
            query.folder.as_str()
        );
        let after = resume(query.cursor.as_deref(), &listing)?;
        let state = self.state.lock().unwrap();
        let mut entries: Vec<(Position, Entry)> = Vec::new();
        for ((owner, path), created_at) in &state.folders {
            let path = FolderPath::parse(path).unwrap_or_default();
            if owner == user && path.parent().as_ref() == Some(&query.folder) {
                entries.push((
                    Position {
                        group: 0,
                        value: 0,
                        name: path.name().unwrap_or_default().to_owned(),
                        id: None,
                    },
                    Entry::Folder(FolderRecord {
                        path,
                        created_at: *created_at,
                    }),
                ));
            }
        }
        for file in state.user_files(user) {
            if file.folder != query.folder || !file.is_current() {
                continue;
            }
            let value = match query.sort {
                SortKey::Name => 0,
                SortKey::Size => i128::from(file.size),
                SortKey::Modified => nanos(file.updated_at),
            };
            entries.push((
                Position {
                    group: 1,
                    value,
                    name: file.name.as_str().to_owned(),
                    id: Some(file.file_id),
                },
                Entry::File(file.clone()),
            ));
        }
        let descending = query.descending;
        let order = move |a: &Position, b: &Position| {
            a.group.cmp(&b.group).then_with(|| {
                let inner = (a.value, &a.name, a.id).cmp(&(b.value, &b.name, b.id));
                if descending { inner.reverse() } else { inner }
            })
        };
        entries.sort_by(|a, b| order(&a.0, &b.0));
        Ok(page_of(
            entries,
            after.as_ref(),
            order,
            query.limit,
            &listing,
        ))
    }

    async fn search(
        &self,
        user: &UserId,
        text: &str,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<FileRecord>> {
        self.faults.enter("index.search")?;
        let folded = fold(text);
        let listing = format!("search:{folded}");
        let after = resume(cursor, &listing)?;
        let state = self.state.lock().unwrap();
        let mut found: Vec<(Position, FileRecord)> = state
            .user_files(user)
            .filter(|f| f.is_current() && fold(f.name.as_str()).contains(&folded))
            .map(|f| {
                (
                    Position {
                        group: 1,
                        value: 0,
                        name: f.name.as_str().to_owned(),
                        id: Some(f.file_id),
                    },
                    f.clone(),
                )
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(page_of(
            found,
            after.as_ref(),
            Position::cmp,
            limit,
            &listing,
        ))
    }

    async fn files_under(
        &self,
        user: &UserId,
        folder: &FolderPath,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<FileRecord>> {
        self.faults.enter("index.files_under")?;
        let listing = format!("under:{}", folder.as_str());
        let after = resume(cursor, &listing)?;
        let state = self.state.lock().unwrap();
        let mut found: Vec<(Position, FileRecord)> = state
            .user_files(user)
            .filter(|f| folder.contains(&f.folder))
            .map(|f| {
                (
                    Position {
                        group: 1,
                        value: 0,
                        name: String::new(),
                        id: Some(f.file_id),
                    },
                    f.clone(),
                )
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(page_of(
            found,
            after.as_ref(),
            Position::cmp,
            limit,
            &listing,
        ))
    }

    async fn files_with_status(
        &self,
        status: FileStatus,
        before: Timestamp,
        limit: u32,
    ) -> PortResult<Vec<FileRecord>> {
        self.faults.enter("index.files_with_status")?;
        let state = self.state.lock().unwrap();
        let mut found: Vec<FileRecord> = state
            .files
            .values()
            .filter(|f| f.status == status && f.updated_at < before)
            .cloned()
            .collect();
        found.sort_by_key(|f| (f.updated_at, f.file_id));
        found.truncate(limit as usize);
        Ok(found)
    }

    async fn users(&self, after: Option<&UserId>, limit: u32) -> PortResult<Vec<UserId>> {
        self.faults.enter("index.users")?;
        let state = self.state.lock().unwrap();
        let mut users: Vec<UserId> = state
            .files
            .keys()
            .map(|(user, _)| user.clone())
            .chain(state.folders.keys().map(|(user, _)| user.clone()))
            .filter(|user| after.is_none_or(|a| user > a))
            .collect();
        users.sort();
        users.dedup();
        users.truncate(limit as usize);
        Ok(users)
    }

    async fn create_folder(
        &self,
        user: &UserId,
        path: &FolderPath,
        at: Timestamp,
    ) -> PortResult<bool> {
        self.faults.enter("index.create_folder")?;
        let mut state = self.state.lock().unwrap();
        Ok(state.ensure_folders(user, path, at))
    }

    async fn folder_exists(&self, user: &UserId, path: &FolderPath) -> PortResult<bool> {
        self.faults.enter("index.folder_exists")?;
        Ok(self.state.lock().unwrap().folder_exists(user, path))
    }

    async fn remove_folder_tree(&self, user: &UserId, path: &FolderPath) -> PortResult<bool> {
        self.faults.enter("index.remove_folder_tree")?;
        let mut state = self.state.lock().unwrap();
        if !state.folder_exists(user, path) {
            return Ok(false);
        }
        if state
            .user_files(user)
            .any(|f| f.is_current() && path.contains(&f.folder))
        {
            return Err(PortError::Conflict(format!("“{path}” still holds files")));
        }
        state.folders.retain(|(owner, folder), _| {
            owner != user || !FolderPath::parse(folder).is_ok_and(|f| path.contains(&f))
        });
        Ok(true)
    }

    async fn usage(&self, user: &UserId) -> PortResult<Usage> {
        self.faults.enter("index.usage")?;
        Ok(self.state.lock().unwrap().usage(user))
    }

    async fn folders_under(
        &self,
        user: &UserId,
        path: &FolderPath,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<FolderPath>> {
        self.faults.enter("index.folders_under")?;
        let listing = format!("folders:{}", path.as_str());
        let after = resume(cursor, &listing)?;
        let state = self.state.lock().unwrap();
        let mut found: Vec<(Position, FolderPath)> = state
            .folders
            .keys()
            .filter(|(owner, _)| owner == user)
            .filter_map(|(_, folder)| FolderPath::parse(folder).ok())
            .filter(|folder| folder != path && path.contains(folder))
            .map(|folder| {
                let position = Position {
                    group: 0,
                    value: 0,
                    name: folder.as_str().to_owned(),
                    id: None,
                };
                (position, folder)
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(page_of(
            found,
            after.as_ref(),
            Position::cmp,
            limit,
            &listing,
        ))
    }

    async fn put_trash(&self, item: &TrashItem) -> PortResult<()> {
        self.faults.enter("index.put_trash")?;
        let mut state = self.state.lock().unwrap();
        state
            .trash
            .entry((item.user.clone(), item.trash_id))
            .or_insert_with(|| item.clone());
        Ok(())
    }

    async fn trash_item(&self, user: &UserId, trash_id: Uuid) -> PortResult<Option<TrashItem>> {
        self.faults.enter("index.trash_item")?;
        let state = self.state.lock().unwrap();
        Ok(state.trash.get(&(user.clone(), trash_id)).cloned())
    }

    async fn list_trash(
        &self,
        user: &UserId,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<TrashItem>> {
        self.faults.enter("index.list_trash")?;
        let listing = "trash";
        let after = resume(cursor, listing)?;
        let state = self.state.lock().unwrap();
        // Newest first: the position holds the negated time.
        let mut found: Vec<(Position, TrashItem)> = state
            .trash
            .values()
            .filter(|item| item.user == *user)
            .map(|item| {
                let position = Position {
                    group: 0,
                    value: -nanos(item.trashed_at),
                    name: String::new(),
                    id: Some(item.trash_id),
                };
                (position, item.clone())
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(page_of(
            found,
            after.as_ref(),
            Position::cmp,
            limit,
            listing,
        ))
    }

    async fn remove_trash(&self, user: &UserId, trash_id: Uuid) -> PortResult<bool> {
        self.faults.enter("index.remove_trash")?;
        let mut state = self.state.lock().unwrap();
        Ok(state.trash.remove(&(user.clone(), trash_id)).is_some())
    }

    async fn trash_before(&self, before: Timestamp, limit: u32) -> PortResult<Vec<TrashItem>> {
        self.faults.enter("index.trash_before")?;
        let state = self.state.lock().unwrap();
        let mut found: Vec<TrashItem> = state
            .trash
            .values()
            .filter(|item| item.trashed_at < before)
            .cloned()
            .collect();
        found.sort_by(|a, b| {
            (a.trashed_at, &a.user, a.trash_id).cmp(&(b.trashed_at, &b.user, b.trash_id))
        });
        found.truncate(limit as usize);
        Ok(found)
    }

    async fn trashed_files(
        &self,
        user: &UserId,
        trash_id: Uuid,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<FileRecord>> {
        self.faults.enter("index.trashed_files")?;
        let listing = format!("trashed:{trash_id}");
        let after = resume(cursor, &listing)?;
        let state = self.state.lock().unwrap();
        let found: Vec<(Position, FileRecord)> = state
            .user_files(user)
            .filter(|f| f.status == FileStatus::Trashed && f.trash_id == Some(trash_id))
            .map(|f| {
                let position = Position {
                    group: 1,
                    value: 0,
                    name: String::new(),
                    id: Some(f.file_id),
                };
                (position, f.clone())
            })
            .collect();
        // `user_files` walks the map in id order already.
        Ok(page_of(
            found,
            after.as_ref(),
            Position::cmp,
            limit,
            &listing,
        ))
    }

    async fn versions(
        &self,
        user: &UserId,
        lineage: Uuid,
        cursor: Option<&str>,
        limit: u32,
    ) -> PortResult<Page<FileRecord>> {
        self.faults.enter("index.versions")?;
        let listing = format!("versions:{lineage}");
        let after = resume(cursor, &listing)?;
        let state = self.state.lock().unwrap();
        let mut found: Vec<(Position, FileRecord)> = state
            .user_files(user)
            .filter(|f| f.status == FileStatus::Version && f.lineage() == lineage)
            .map(|f| {
                let position = Position {
                    group: 1,
                    value: -nanos(f.created_at),
                    name: String::new(),
                    id: Some(f.file_id),
                };
                (position, f.clone())
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(page_of(
            found,
            after.as_ref(),
            Position::cmp,
            limit,
            &listing,
        ))
    }

    async fn put_command(&self, command: &CommandRecord) -> PortResult<PutCommand> {
        self.faults.enter("index.put_command")?;
        let mut state = self.state.lock().unwrap();
        let key = (command.user.clone(), command.command_id);
        if let Some(existing) = state.commands.get(&key) {
            return Ok(PutCommand::Existing(Box::new(existing.clone())));
        }
        state.commands.insert(key, command.clone());
        Ok(PutCommand::Inserted)
    }

    async fn command(&self, user: &UserId, command_id: Uuid) -> PortResult<Option<CommandRecord>> {
        self.faults.enter("index.command")?;
        let state = self.state.lock().unwrap();
        Ok(state.commands.get(&(user.clone(), command_id)).cloned())
    }

    async fn finish_command(
        &self,
        user: &UserId,
        command_id: Uuid,
        status: CommandStatus,
        result: &serde_json::Value,
        at: Timestamp,
    ) -> PortResult<()> {
        self.faults.enter("index.finish_command")?;
        if status == CommandStatus::Pending {
            return Err(PortError::Invalid(
                "a command finishes as succeeded or failed".to_owned(),
            ));
        }
        let mut state = self.state.lock().unwrap();
        if let Some(command) = state.commands.get_mut(&(user.clone(), command_id))
            && command.status == CommandStatus::Pending
        {
            command.status = status;
            command.result = Some(result.clone());
            command.finished_at = Some(at);
        }
        Ok(())
    }

    async fn note_progress(
        &self,
        user: &UserId,
        command_id: Uuid,
        progress: &serde_json::Value,
    ) -> PortResult<()> {
        self.faults.enter("index.note_progress")?;
        let mut state = self.state.lock().unwrap();
        if let Some(command) = state.commands.get_mut(&(user.clone(), command_id))
            && command.status == CommandStatus::Pending
        {
            command.progress = Some(progress.clone());
        }
        Ok(())
    }

    async fn was_processed(
        &self,
        consumer: &str,
        user: &UserId,
        event_id: Uuid,
    ) -> PortResult<bool> {
        self.faults.enter("index.was_processed")?;
        let state = self.state.lock().unwrap();
        Ok(state
            .processed
            .contains(&(consumer.to_owned(), user.clone(), event_id)))
    }

    async fn mark_processed(
        &self,
        consumer: &str,
        user: &UserId,
        event_id: Uuid,
        _at: Timestamp,
    ) -> PortResult<()> {
        self.faults.enter("index.mark_processed")?;
        let mut state = self.state.lock().unwrap();
        state
            .processed
            .insert((consumer.to_owned(), user.clone(), event_id));
        Ok(())
    }
}
