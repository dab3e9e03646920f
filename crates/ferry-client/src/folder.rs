//! What the file browser shows of one folder, and how events change it.
//!
//! The list is loaded page by page from the API, then kept current by events
//! from the WebSocket (or from polling). Events can arrive twice and out of
//! order, so each is applied at most once (dedupe on its id) and a file's
//! event only counts when it is newer than what is shown (its `Version`).
//! A command the user started shows as pending ("Deleting…") until the event
//! that finishes it arrives; if it fails, the row goes back to how it was and
//! the reason is kept for the user.
//!
//! Plain Rust, no DOM: tested natively.

use ferry_protocol::api::{
    EntryView, FileView, FolderView, ListResponse, ThumbnailReadiness, ThumbnailView,
};
use ferry_protocol::messages::{FileCreatedV1, FileCreatedV2};
use ferry_protocol::path::fold;
use ferry_protocol::{ErrorCode, Event, EventEnvelope, FolderPath};
use std::collections::{HashMap, HashSet, VecDeque};
use uuid::Uuid;

/// A `FileCreated` in its newest edition: v1 (which the server no longer
/// pushes to browsers, but a feed may still hold) read as a v2 that
/// continues no versions and replaced nothing.
pub fn created(event: &Event) -> Option<FileCreatedV2> {
    match event {
        Event::FileCreated(v2) => Some(v2.clone()),
        Event::FileCreatedV1(v1) => Some(FileCreatedV2 {
            file_id: v1.file_id,
            folder: v1.folder.clone(),
            name: v1.name.clone(),
            size: v1.size,
            content_type: v1.content_type.clone(),
            sha256: v1.sha256.clone(),
            e_tag: v1.e_tag.clone(),
            version: v1.version,
            lineage: v1.file_id,
            replaced: None,
        }),
        _ => None,
    }
}

/// The first edition of a `FileCreated`, as the host page's
/// `ferry-upload-complete` is built from.
pub fn created_v1(v2: &FileCreatedV2) -> FileCreatedV1 {
    FileCreatedV1 {
        file_id: v2.file_id,
        folder: v2.folder.clone(),
        name: v2.name.clone(),
        size: v2.size,
        content_type: v2.content_type.clone(),
        sha256: v2.sha256.clone(),
        e_tag: v2.e_tag.clone(),
        version: v2.version,
    }
}

/// How many event ids are remembered for deduplication.
const SEEN_CAPACITY: usize = 4096;

/// Something the user asked for that hasn't finished yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PendingAction {
    /// Deleting a file.
    Deleting,
    /// Moving or renaming a file.
    Moving {
        /// Where to.
        to_folder: FolderPath,
        /// Its new name.
        to_name: String,
    },
}

impl PendingAction {
    /// The word shown on the row while it runs.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Deleting => "Deleting…",
            Self::Moving { .. } => "Moving…",
        }
    }
}

/// One file row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    /// The file as last known.
    pub file: FileView,
    /// A command on it that hasn't finished.
    pub pending: Option<(Uuid, PendingAction)>,
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Seen before, older than what is shown, or about another folder.
    Nothing,
    /// The list changed.
    Changed,
    /// A file moved into this folder; fetch it to show it (the event doesn't
    /// carry its size or type).
    Fetch(Uuid),
    /// This folder (or one above it) was deleted.
    FolderGone,
    /// This folder came back from the trash with what it held (or one
    /// above it did): list it again.
    Relist,
    /// A command of the user's failed; the row is back as it was.
    Failed {
        /// The failed command.
        command_id: Uuid,
        /// Why, for programs.
        code: ErrorCode,
        /// Why, in words.
        message: String,
    },
}

/// The sort column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SortBy {
    /// By name.
    #[default]
    Name,
    /// By size.
    Size,
    /// By last change.
    Modified,
}

/// A row to render, in order: folders first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row<'a> {
    /// A sub-folder.
    Folder(&'a FolderView),
    /// A file.
    File(&'a FileRow),
}

/// One folder's contents as the browser shows them.
#[derive(Debug, Clone, Default)]
pub struct FolderState {
    folder: FolderPath,
    // Hash maps, not ordered ones: `rows` sorts anyway (ties broken by
    // file id), and the hash maps' code is already in the browser's
    // download where a BTreeMap's would be some 10 KB more.
    files: HashMap<Uuid, FileRow>,
    folders: HashMap<String, FolderView>,
    /// Files known gone, with the version that removed them, so a late
    /// `FileCreated` doesn't bring them back.
    tombstones: HashMap<Uuid, u64>,
    seen: HashSet<Uuid>,
    seen_order: VecDeque<Uuid>,
    /// Where the next page of the listing starts; `None` when all is loaded.
    pub next_cursor: Option<String>,
}

impl FolderState {
    /// An empty view of `folder`.
    pub fn new(folder: FolderPath) -> Self {
        Self {
            folder,
            ..Self::default()
        }
    }

    /// The folder shown.
    pub fn folder(&self) -> &FolderPath {
        &self.folder
    }

    /// Adds a page of the listing. Entries already known at a newer version
    /// (from an event that overtook the page) are kept.
    pub fn load_page(&mut self, page: ListResponse) {
        for entry in page.entries {
            match entry {
                EntryView::Folder(folder) => {
                    self.folders.insert(folder.name.clone(), folder);
                }
                EntryView::File(file) => self.upsert(file),
            }
        }
        self.next_cursor = page.next_cursor;
    }

    fn upsert(&mut self, file: FileView) {
        if self
            .tombstones
            .get(&file.file_id)
            .is_some_and(|gone| *gone >= file.version)
        {
            return;
        }
        match self.files.get_mut(&file.file_id) {
            Some(row) if row.file.version >= file.version => {}
            Some(row) => row.file = file,
            None => {
                self.files.insert(
                    file.file_id,
                    FileRow {
                        file,
                        pending: None,
                    },
                );
            }
        }
    }

    /// Shows a file fetched after [`Applied::Fetch`], if it is still here.
    pub fn fetched(&mut self, file: FileView) {
        if file.folder == self.folder {
            self.upsert(file);
        }
    }

    /// Marks a file as having `action` under way, until an event ends it.
    pub fn begin(&mut self, file_id: Uuid, command_id: Uuid, action: PendingAction) -> bool {
        match self.files.get_mut(&file_id) {
            Some(row) => {
                row.pending = Some((command_id, action));
                true
            }
            None => false,
        }
    }

    /// Ends a pending action whose command was refused outright (the API
    /// answered an error): the row is as it was.
    pub fn cancel(&mut self, command_id: Uuid) {
        for row in self.files.values_mut() {
            if row
                .pending
                .as_ref()
                .is_some_and(|(id, _)| *id == command_id)
            {
                row.pending = None;
            }
        }
    }

    fn first_time(&mut self, event_id: Uuid) -> bool {
        if !self.seen.insert(event_id) {
            return false;
        }
        self.seen_order.push_back(event_id);
        if self.seen_order.len() > SEEN_CAPACITY
            && let Some(old) = self.seen_order.pop_front()
        {
            self.seen.remove(&old);
        }
        true
    }

    fn newer(&self, file_id: Uuid, version: u64) -> bool {
        let shown = self.files.get(&file_id).map(|r| r.file.version);
        let gone = self.tombstones.get(&file_id).copied();
        shown.max(gone).is_none_or(|known| version > known)
    }

    fn remove(&mut self, file_id: Uuid, version: u64) -> bool {
        let was_here = self.files.remove(&file_id).is_some();
        let gone = self.tombstones.entry(file_id).or_insert(version);
        *gone = (*gone).max(version);
        was_here
    }

    /// Shows the sub-folder of this folder that leads to `deeper`, when
    /// `deeper` is below this folder and it isn't shown yet.
    fn show_path_to(
        &mut self,
        deeper: &FolderPath,
        at: ferry_protocol::envelope::Timestamp,
    ) -> Applied {
        if deeper == &self.folder || !self.folder.contains(deeper) {
            return Applied::Nothing;
        }
        let Some(name) = deeper.segments().nth(self.folder.segments().count()) else {
            return Applied::Nothing;
        };
        if self.folders.contains_key(name) {
            return Applied::Nothing;
        }
        let path = if self.folder.is_root() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.folder.as_str())
        };
        let Ok(path) = FolderPath::parse(&path) else {
            return Applied::Nothing;
        };
        self.folders.insert(
            name.to_owned(),
            FolderView {
                path,
                name: name.to_owned(),
                created_at: at,
            },
        );
        Applied::Changed
    }

    /// Applies one event.
    pub fn apply(&mut self, envelope: &EventEnvelope) -> Applied {
        if !self.first_time(envelope.metadata().event_id) {
            return Applied::Nothing;
        }
        let command_id = envelope.metadata().command_id;
        match envelope.data() {
            Event::FileCreated(_) | Event::FileCreatedV1(_) => {
                let Some(created) = created(envelope.data()) else {
                    return Applied::Nothing;
                };
                if created.folder != self.folder {
                    // A file further down (an uploaded folder) shows its
                    // folder here.
                    let at = envelope.metadata().occurred_at;
                    return self.show_path_to(&created.folder, at);
                }
                if !self.newer(created.file_id, created.version) {
                    return Applied::Nothing;
                }
                let at = envelope.metadata().occurred_at;
                // A file uploaded under a name another file had replaced
                // it: that one is now a version of this one, no longer a row.
                if let Some(replaced) = created.replaced {
                    self.drop_row(replaced);
                }
                let row = self.files.get(&created.file_id);
                let file = FileView {
                    file_id: created.file_id,
                    folder: created.folder.clone(),
                    name: created.name.clone(),
                    status: "available".to_owned(),
                    size: created.size,
                    content_type: created.content_type.clone(),
                    sha256: created.sha256.clone(),
                    etag: Some(created.e_tag.clone()),
                    version: created.version,
                    created_at: row.map_or(at, |r| r.file.created_at),
                    updated_at: at,
                    multipart: None,
                    thumbnail: None,
                };
                self.upsert(file);
                Applied::Changed
            }
            Event::FileTrashed(trashed) => {
                if !self.newer(trashed.file_id, trashed.version) {
                    return self.settle(command_id);
                }
                if self.remove(trashed.file_id, trashed.version) {
                    Applied::Changed
                } else {
                    Applied::Nothing
                }
            }
            Event::FolderTrashed(trashed) => self.folder_gone(&trashed.path),
            Event::FileRestored(restored) => {
                let mut changed = false;
                if let Some(replaced) = restored.replaced {
                    changed |= self.drop_row(replaced);
                }
                if restored.folder != self.folder {
                    let at = envelope.metadata().occurred_at;
                    return match self.show_path_to(&restored.folder, at) {
                        Applied::Nothing if changed => Applied::Changed,
                        other => other,
                    };
                }
                if !self.newer(restored.file_id, restored.version) {
                    return if changed {
                        Applied::Changed
                    } else {
                        Applied::Nothing
                    };
                }
                // The event lacks the file's type and checksum: fetched.
                Applied::Fetch(restored.file_id)
            }
            Event::FolderRestored(restored) => {
                if restored.path.contains(&self.folder) {
                    // This folder (or one above it) came back with what
                    // it held: listed again.
                    return Applied::Relist;
                }
                let at = envelope.metadata().occurred_at;
                self.show_path_to(&restored.path, at)
            }
            Event::FileVersionRestored(restored) => {
                if restored.folder != self.folder {
                    return Applied::Nothing;
                }
                if !self.newer(restored.file_id, restored.version) {
                    return Applied::Nothing;
                }
                let at = envelope.metadata().occurred_at;
                // The row that was current is replaced by the version
                // made current, in the same place.
                let before = self.files.get(&restored.replaced).map(|r| r.file.clone());
                self.drop_row(restored.replaced);
                let file = FileView {
                    file_id: restored.file_id,
                    folder: restored.folder.clone(),
                    name: restored.name.clone(),
                    status: "available".to_owned(),
                    size: restored.size,
                    content_type: before
                        .as_ref()
                        .map_or_else(String::new, |f| f.content_type.clone()),
                    sha256: restored.sha256.clone(),
                    etag: None,
                    version: restored.version,
                    created_at: before.as_ref().map_or(at, |f| f.created_at),
                    updated_at: at,
                    multipart: None,
                    thumbnail: None,
                };
                self.upsert(file);
                Applied::Changed
            }
            Event::TrashItemPurged(_) | Event::TrashEmptied(_) => Applied::Nothing,
            // A thumbnail's news changes the row it is about, if shown.
            Event::ThumbnailCreated(created) => self.thumbnail(
                created.file_id,
                ThumbnailView {
                    state: ThumbnailReadiness::Ready,
                    sizes: created.sizes.iter().map(|s| s.size).collect(),
                    code: None,
                },
            ),
            Event::ThumbnailFailed(failed) => self.thumbnail(
                failed.file_id,
                ThumbnailView {
                    state: ThumbnailReadiness::Failed,
                    sizes: Vec::new(),
                    code: Some(failed.code),
                },
            ),
            Event::FileDeleted(deleted) => {
                if !self.newer(deleted.file_id, deleted.version) {
                    return Applied::Nothing;
                }
                if self.remove(deleted.file_id, deleted.version) {
                    Applied::Changed
                } else {
                    Applied::Nothing
                }
            }
            Event::FileMoved(moved) => {
                if !self.newer(moved.file_id, moved.version) {
                    // Still end the pending mark of the command that moved it.
                    return self.settle(command_id);
                }
                let here = moved.to_folder == self.folder;
                if let Some(replaced) = moved.replaced {
                    // The file that had the name went to the trash.
                    self.drop_row(replaced);
                }
                match self.files.get_mut(&moved.file_id) {
                    Some(row) if here => {
                        row.file.name = moved.to_name.clone();
                        row.file.version = moved.version;
                        row.file.updated_at = envelope.metadata().occurred_at;
                        row.pending = None;
                        Applied::Changed
                    }
                    Some(_) => {
                        self.remove(moved.file_id, moved.version);
                        // Moved further down: its folder shows here.
                        self.show_path_to(&moved.to_folder, envelope.metadata().occurred_at);
                        Applied::Changed
                    }
                    None if here => Applied::Fetch(moved.file_id),
                    None => self.show_path_to(&moved.to_folder, envelope.metadata().occurred_at),
                }
            }
            Event::FolderCreated(created) => {
                if created.path.parent().as_ref() != Some(&self.folder) {
                    return Applied::Nothing;
                }
                let name = created.path.name().unwrap_or_default().to_owned();
                if self.folders.contains_key(&name) {
                    return Applied::Nothing;
                }
                self.folders.insert(
                    name.clone(),
                    FolderView {
                        path: created.path.clone(),
                        name,
                        created_at: envelope.metadata().occurred_at,
                    },
                );
                Applied::Changed
            }
            Event::FolderDeleted(deleted) => self.folder_gone(&deleted.path),
            Event::UploadAborted(aborted) => {
                let uploading = self
                    .files
                    .get(&aborted.file_id)
                    .is_some_and(|r| r.file.status == "uploading");
                if uploading {
                    self.files.remove(&aborted.file_id);
                    Applied::Changed
                } else {
                    Applied::Nothing
                }
            }
            Event::CommandFailed(failed) => {
                let Some(command_id) = command_id else {
                    return Applied::Nothing;
                };
                self.cancel(command_id);
                Applied::Failed {
                    command_id,
                    code: failed.code,
                    message: failed.message.clone(),
                }
            }
        }
    }

    /// Records what became of a shown file's thumbnails.
    fn thumbnail(&mut self, file_id: Uuid, view: ThumbnailView) -> Applied {
        match self.files.get_mut(&file_id) {
            Some(row) if row.file.thumbnail.as_ref() != Some(&view) => {
                row.file.thumbnail = Some(view);
                Applied::Changed
            }
            _ => Applied::Nothing,
        }
    }

    /// Removes a file's row for an event that doesn't say the row's
    /// version (it was replaced, or went to the trash for another): the
    /// version shown is remembered as gone.
    fn drop_row(&mut self, file_id: Uuid) -> bool {
        match self.files.get(&file_id).map(|r| r.file.version) {
            Some(version) => self.remove(file_id, version),
            None => false,
        }
    }

    /// A folder was deleted or moved to the trash.
    fn folder_gone(&mut self, path: &FolderPath) -> Applied {
        if path.contains(&self.folder) {
            return Applied::FolderGone;
        }
        if path.parent().as_ref() == Some(&self.folder) {
            let name = path.name().unwrap_or_default();
            if self.folders.remove(name).is_some() {
                return Applied::Changed;
            }
        }
        Applied::Nothing
    }

    fn settle(&mut self, command_id: Option<Uuid>) -> Applied {
        match command_id {
            Some(id) => {
                self.cancel(id);
                Applied::Changed
            }
            None => Applied::Nothing,
        }
    }

    /// The rows in order: folders first (by name), then files by `sort`,
    /// keeping only names that contain `filter` (case-insensitive).
    pub fn rows(&self, sort: SortBy, descending: bool, filter: &str) -> Vec<Row<'_>> {
        let needle = fold(filter.trim());
        let keep = |name: &str| needle.is_empty() || fold(name).contains(&needle);
        let mut folders: Vec<&FolderView> =
            self.folders.values().filter(|f| keep(&f.name)).collect();
        crate::order::sort_by(&mut folders, &|a, b| a.name.cmp(&b.name));
        let mut files: Vec<&FileRow> = self
            .files
            .values()
            .filter(|r| keep(r.file.name.as_str()))
            .collect();
        crate::order::sort_by(&mut files, &|a, b| {
            let (a, b) = (&a.file, &b.file);
            let by_name = a
                .name
                .as_str()
                .cmp(b.name.as_str())
                .then(a.file_id.cmp(&b.file_id));
            match sort {
                SortBy::Name => by_name,
                SortBy::Size => a.size.cmp(&b.size).then(by_name),
                SortBy::Modified => a.updated_at.cmp(&b.updated_at).then(by_name),
            }
        });
        if descending {
            folders.reverse();
            files.reverse();
        }
        folders
            .into_iter()
            .map(Row::Folder)
            .chain(files.into_iter().map(Row::File))
            .collect()
    }

    /// One file's row.
    pub fn file(&self, file_id: Uuid) -> Option<&FileRow> {
        self.files.get(&file_id)
    }

    /// How many rows there are (before filtering).
    pub fn len(&self) -> usize {
        self.files.len() + self.folders.len()
    }

    /// Whether the folder is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ferry_protocol::messages::{
        CommandFailedV1, FileDeletedV1, FileMovedV1, FileRestoredV1, FileTrashedV1,
        FileVersionRestoredV1, FolderCreatedV1, FolderDeletedV1, FolderRestoredV1, FolderTrashedV1,
    };
    use ferry_protocol::{ErrorCode, FileName, Metadata, Timestamp, TraceId};

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_millis(1_790_000_000_000 + seconds * 1000).unwrap()
    }

    fn event(event: Event, command: Option<Uuid>) -> EventEnvelope {
        EventEnvelope::new(
            Metadata {
                event_id: Uuid::new_v4(),
                trace_id: TraceId::parse("t").unwrap(),
                command_id: command,
                occurred_at: at(1),
                producer: "test".into(),
                user_id: Some("u".into()),
            },
            event,
        )
    }

    fn file(id: Uuid, name: &str, size: u64, version: u64) -> FileView {
        FileView {
            file_id: id,
            folder: FolderPath::parse("docs").unwrap(),
            name: FileName::parse(name).unwrap(),
            status: "available".into(),
            size,
            content_type: "text/plain".into(),
            sha256: None,
            etag: Some("e".into()),
            version,
            created_at: at(0),
            updated_at: at(size as i64),
            multipart: None,
            thumbnail: None,
        }
    }

    fn docs() -> FolderState {
        FolderState::new(FolderPath::parse("docs").unwrap())
    }

    fn names(state: &FolderState) -> Vec<String> {
        state
            .rows(SortBy::Name, false, "")
            .iter()
            .map(|r| match r {
                Row::Folder(f) => format!("{}/", f.name),
                Row::File(f) => f.file.name.to_string(),
            })
            .collect()
    }

    fn page(files: Vec<FileView>) -> ListResponse {
        ListResponse {
            folder: FolderPath::parse("docs").unwrap(),
            entries: files.into_iter().map(EntryView::File).collect(),
            next_cursor: None,
        }
    }

    fn created(id: Uuid, name: &str, version: u64) -> Event {
        Event::FileCreated(FileCreatedV2 {
            file_id: id,
            folder: FolderPath::parse("docs").unwrap(),
            name: FileName::parse(name).unwrap(),
            size: 1,
            content_type: "text/plain".into(),
            sha256: None,
            e_tag: "e".into(),
            version,
            lineage: id,
            replaced: None,
        })
    }

    fn deleted(id: Uuid, name: &str, version: u64) -> Event {
        Event::FileDeleted(FileDeletedV1 {
            file_id: id,
            folder: FolderPath::parse("docs").unwrap(),
            name: FileName::parse(name).unwrap(),
            version,
        })
    }

    /// Thumbnail events (issue 20) mark the row they are about and leave
    /// every other row, and a folder not showing the file, as they were;
    /// the feed goes on applying what follows.
    #[test]
    fn thumbnail_events_mark_their_row_and_break_nothing() {
        use ferry_protocol::messages::{
            ThumbnailCode, ThumbnailCreatedV1, ThumbnailFailedV1, ThumbnailMade, ThumbnailSize,
        };
        let mut state = docs();
        let (photo, scan) = (Uuid::new_v4(), Uuid::new_v4());
        state.apply(&event(created(photo, "photo.jpg", 2), None));
        state.apply(&event(created(scan, "scan.png", 2), None));
        let made = Event::ThumbnailCreated(ThumbnailCreatedV1 {
            file_id: photo,
            sizes: vec![ThumbnailMade {
                size: ThumbnailSize::Small,
                width: 64,
                height: 48,
                content_type: "image/jpeg".into(),
            }],
            source_sha256: None,
        });
        assert_eq!(state.apply(&event(made.clone(), None)), Applied::Changed);
        let failed = Event::ThumbnailFailed(ThumbnailFailedV1 {
            file_id: scan,
            code: ThumbnailCode::Corrupt,
            reason: "The image is damaged.".into(),
        });
        assert_eq!(state.apply(&event(failed, None)), Applied::Changed);
        let ready = state.file(photo).unwrap().file.thumbnail.clone().unwrap();
        assert_eq!(ready.state, ThumbnailReadiness::Ready);
        assert_eq!(ready.sizes, [ThumbnailSize::Small]);
        let broken = state.file(scan).unwrap().file.thumbnail.clone().unwrap();
        assert_eq!(broken.code, Some(ThumbnailCode::Corrupt));
        // The same news again, or news of a file not shown, changes nothing.
        assert_eq!(state.apply(&event(made, None)), Applied::Nothing);
        let elsewhere = Event::ThumbnailFailed(ThumbnailFailedV1 {
            file_id: Uuid::new_v4(),
            code: ThumbnailCode::TooLarge,
            reason: "Too large.".into(),
        });
        assert_eq!(state.apply(&event(elsewhere, None)), Applied::Nothing);
        assert_eq!(names(&state), ["photo.jpg", "scan.png"]);
        // The feed still applies what comes after.
        assert_eq!(
            state.apply(&event(deleted(photo, "photo.jpg", 3), None)),
            Applied::Changed
        );
        assert_eq!(names(&state), ["scan.png"]);
    }

    #[test]
    fn a_file_created_further_down_shows_its_folder_here() {
        let mut state = docs();
        let mut deep = created(Uuid::new_v4(), "photo.jpg", 1);
        if let Event::FileCreated(c) = &mut deep {
            c.folder = FolderPath::parse("docs/trip/day 1").unwrap();
        }
        assert_eq!(state.apply(&event(deep.clone(), None)), Applied::Changed);
        assert_eq!(names(&state), vec!["trip/"]);
        // Another file there changes nothing more; nor does one elsewhere.
        let mut again = deep.clone();
        if let Event::FileCreated(c) = &mut again {
            c.file_id = Uuid::new_v4();
        }
        assert_eq!(state.apply(&event(again, None)), Applied::Nothing);
        let mut elsewhere = deep;
        if let Event::FileCreated(c) = &mut elsewhere {
            c.folder = FolderPath::parse("other/trip").unwrap();
        }
        assert_eq!(state.apply(&event(elsewhere, None)), Applied::Nothing);
        assert_eq!(names(&state), vec!["trip/"]);
    }

    #[test]
    fn a_duplicate_event_changes_nothing() {
        let mut state = docs();
        let id = Uuid::new_v4();
        let created = event(created(id, "a.txt", 2), None);
        assert_eq!(state.apply(&created), Applied::Changed);
        assert_eq!(state.apply(&created), Applied::Nothing);
        assert_eq!(names(&state), ["a.txt"]);
    }

    #[test]
    fn a_late_create_does_not_bring_back_a_deleted_file() {
        let mut state = docs();
        let id = Uuid::new_v4();
        state.load_page(page(vec![file(id, "a.txt", 1, 2)]));
        assert_eq!(
            state.apply(&event(deleted(id, "a.txt", 4), None)),
            Applied::Changed
        );
        // The older FileCreated arrives after the delete.
        assert_eq!(
            state.apply(&event(created(id, "a.txt", 2), None)),
            Applied::Nothing
        );
        // And a page loaded before the delete doesn't either.
        state.load_page(page(vec![file(id, "a.txt", 1, 2)]));
        assert!(state.is_empty());
    }

    #[test]
    fn an_older_move_is_ignored_but_ends_its_pending_mark() {
        let mut state = docs();
        let id = Uuid::new_v4();
        state.load_page(page(vec![file(id, "b.txt", 1, 5)]));
        let command = Uuid::new_v4();
        assert!(state.begin(
            id,
            command,
            PendingAction::Moving {
                to_folder: FolderPath::parse("docs").unwrap(),
                to_name: "c.txt".into(),
            }
        ));
        let moved = Event::FileMoved(FileMovedV1 {
            file_id: id,
            from_folder: FolderPath::parse("docs").unwrap(),
            from_name: FileName::parse("a.txt").unwrap(),
            to_folder: FolderPath::parse("docs").unwrap(),
            to_name: FileName::parse("c.txt").unwrap(),
            version: 4,
            replaced: None,
        });
        state.apply(&event(moved, Some(command)));
        assert_eq!(names(&state), ["b.txt"]);
        assert!(state.file(id).unwrap().pending.is_none());
    }

    #[test]
    fn a_rename_here_and_a_move_away() {
        let mut state = docs();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        state.load_page(page(vec![file(a, "a.txt", 1, 2), file(b, "b.txt", 2, 2)]));
        let rename = Event::FileMoved(FileMovedV1 {
            file_id: a,
            from_folder: FolderPath::parse("docs").unwrap(),
            from_name: FileName::parse("a.txt").unwrap(),
            to_folder: FolderPath::parse("docs").unwrap(),
            to_name: FileName::parse("z.txt").unwrap(),
            version: 3,
            replaced: None,
        });
        assert_eq!(state.apply(&event(rename, None)), Applied::Changed);
        let away = Event::FileMoved(FileMovedV1 {
            file_id: b,
            from_folder: FolderPath::parse("docs").unwrap(),
            from_name: FileName::parse("b.txt").unwrap(),
            to_folder: FolderPath::parse("elsewhere").unwrap(),
            to_name: FileName::parse("b.txt").unwrap(),
            version: 3,
            replaced: None,
        });
        assert_eq!(state.apply(&event(away, None)), Applied::Changed);
        assert_eq!(names(&state), ["z.txt"]);
        // A file moved in from elsewhere must be fetched.
        let incoming = Uuid::new_v4();
        let arrive = Event::FileMoved(FileMovedV1 {
            file_id: incoming,
            from_folder: FolderPath::root(),
            from_name: FileName::parse("n.txt").unwrap(),
            to_folder: FolderPath::parse("docs").unwrap(),
            to_name: FileName::parse("n.txt").unwrap(),
            version: 3,
            replaced: None,
        });
        assert_eq!(state.apply(&event(arrive, None)), Applied::Fetch(incoming));
        state.fetched(file(incoming, "n.txt", 3, 3));
        assert_eq!(names(&state), ["n.txt", "z.txt"]);
    }

    #[test]
    fn a_failed_command_puts_the_row_back_and_says_why() {
        let mut state = docs();
        let id = Uuid::new_v4();
        state.load_page(page(vec![file(id, "a.txt", 1, 2)]));
        let command = Uuid::new_v4();
        state.begin(id, command, PendingAction::Deleting);
        assert_eq!(
            state.file(id).unwrap().pending.as_ref().unwrap().1.label(),
            "Deleting…"
        );
        let failed = Event::CommandFailed(CommandFailedV1 {
            command_action: "DeleteFile".into(),
            code: ErrorCode::Conflict,
            message: "It is locked.".into(),
            issued_at: at(0),
        });
        assert_eq!(
            state.apply(&event(failed, Some(command))),
            Applied::Failed {
                command_id: command,
                code: ErrorCode::Conflict,
                message: "It is locked.".into()
            }
        );
        let row = state.file(id).unwrap();
        assert!(row.pending.is_none());
        assert_eq!(row.file.name.as_str(), "a.txt");
    }

    #[test]
    fn folders_come_first_and_go_with_their_parent() {
        let mut state = docs();
        state.load_page(page(vec![file(Uuid::new_v4(), "a.txt", 1, 2)]));
        let sub = Event::FolderCreated(FolderCreatedV1 {
            path: FolderPath::parse("docs/zeta").unwrap(),
        });
        assert_eq!(state.apply(&event(sub, None)), Applied::Changed);
        let deeper = Event::FolderCreated(FolderCreatedV1 {
            path: FolderPath::parse("docs/zeta/deeper").unwrap(),
        });
        assert_eq!(state.apply(&event(deeper, None)), Applied::Nothing);
        assert_eq!(names(&state), ["zeta/", "a.txt"]);
        let gone = Event::FolderDeleted(FolderDeletedV1 {
            path: FolderPath::parse("docs/zeta").unwrap(),
            files_deleted: 0,
        });
        assert_eq!(state.apply(&event(gone, None)), Applied::Changed);
        let parent = Event::FolderDeleted(FolderDeletedV1 {
            path: FolderPath::parse("docs").unwrap(),
            files_deleted: 1,
        });
        assert_eq!(state.apply(&event(parent, None)), Applied::FolderGone);
    }

    #[test]
    fn sorting_and_filtering() {
        let mut state = docs();
        state.load_page(page(vec![
            file(Uuid::new_v4(), "b.txt", 3, 2),
            file(Uuid::new_v4(), "A.txt", 9, 2),
            file(Uuid::new_v4(), "c.log", 1, 2),
        ]));
        let order = |sort, descending, filter: &str| -> Vec<String> {
            state
                .rows(sort, descending, filter)
                .iter()
                .map(|r| match r {
                    Row::File(f) => f.file.name.to_string(),
                    Row::Folder(f) => f.name.clone(),
                })
                .collect()
        };
        assert_eq!(order(SortBy::Name, false, ""), ["A.txt", "b.txt", "c.log"]);
        assert_eq!(order(SortBy::Size, true, ""), ["A.txt", "b.txt", "c.log"]);
        assert_eq!(
            order(SortBy::Modified, false, ""),
            ["c.log", "b.txt", "A.txt"]
        );
        assert_eq!(order(SortBy::Name, false, "TXT"), ["A.txt", "b.txt"]);
    }

    fn docs_path() -> FolderPath {
        FolderPath::parse("docs").unwrap()
    }

    #[test]
    fn a_file_moved_to_the_trash_leaves_and_a_late_create_keeps_it_gone() {
        let mut state = docs();
        let (id, other) = (Uuid::new_v4(), Uuid::new_v4());
        state.load_page(page(vec![
            file(id, "a.txt", 1, 2),
            file(other, "b.txt", 1, 2),
        ]));
        let command = Uuid::new_v4();
        state.begin(id, command, PendingAction::Deleting);
        let trashed = Event::FileTrashed(FileTrashedV1 {
            file_id: id,
            folder: docs_path(),
            name: FileName::parse("a.txt").unwrap(),
            trash_id: command,
            version: 3,
        });
        assert_eq!(
            state.apply(&event(trashed, Some(command))),
            Applied::Changed
        );
        assert_eq!(names(&state), ["b.txt"]);
        assert_eq!(
            state.apply(&event(created(id, "a.txt", 2), None)),
            Applied::Nothing
        );
        assert_eq!(names(&state), ["b.txt"]);
    }

    #[test]
    fn a_folder_moved_to_the_trash_leaves_or_takes_this_one_with_it() {
        let mut state = docs();
        state.apply(&event(
            Event::FolderCreated(FolderCreatedV1 {
                path: FolderPath::parse("docs/old").unwrap(),
            }),
            None,
        ));
        assert_eq!(names(&state), ["old/"]);
        let trashed = |path: &str| {
            Event::FolderTrashed(FolderTrashedV1 {
                path: FolderPath::parse(path).unwrap(),
                trash_id: Uuid::new_v4(),
                files_trashed: 2,
            })
        };
        assert_eq!(
            state.apply(&event(trashed("docs/old"), None)),
            Applied::Changed
        );
        assert!(state.is_empty());
        assert_eq!(
            state.apply(&event(trashed("docs"), None)),
            Applied::FolderGone
        );
    }

    #[test]
    fn an_upload_that_replaced_a_file_takes_its_row() {
        let mut state = docs();
        let (old, new) = (Uuid::new_v4(), Uuid::new_v4());
        state.load_page(page(vec![file(old, "a.txt", 1, 2)]));
        let mut replacing = created(new, "a.txt", 1);
        if let Event::FileCreated(c) = &mut replacing {
            c.replaced = Some(old);
            c.lineage = old;
        }
        assert_eq!(state.apply(&event(replacing, None)), Applied::Changed);
        assert_eq!(names(&state), ["a.txt"]);
        assert!(state.file(old).is_none());
        assert_eq!(state.file(new).unwrap().file.size, 1);
        // The listing read before the replace doesn't bring it back.
        state.load_page(page(vec![file(old, "a.txt", 1, 2)]));
        assert_eq!(names(&state), ["a.txt"]);
        assert!(state.file(old).is_none());
    }

    #[test]
    fn a_first_edition_create_shows_as_one_that_replaced_nothing() {
        let mut state = docs();
        let id = Uuid::new_v4();
        let v2 = super::created(&created(id, "a.txt", 1)).unwrap();
        let v1 = Event::FileCreatedV1(created_v1(&v2));
        assert_eq!(state.apply(&event(v1, None)), Applied::Changed);
        assert_eq!(names(&state), ["a.txt"]);
    }

    #[test]
    fn a_restored_version_takes_the_place_of_the_current_row() {
        let mut state = docs();
        let (current, older) = (Uuid::new_v4(), Uuid::new_v4());
        state.load_page(page(vec![file(current, "a.txt", 9, 2)]));
        let restored = Event::FileVersionRestored(FileVersionRestoredV1 {
            file_id: older,
            replaced: current,
            folder: docs_path(),
            name: FileName::parse("a.txt").unwrap(),
            size: 4,
            sha256: Some("ab".into()),
            lineage: older,
            version: 5,
        });
        assert_eq!(state.apply(&event(restored, None)), Applied::Changed);
        assert!(state.file(current).is_none());
        let row = state.file(older).unwrap();
        assert_eq!((row.file.size, row.file.name.as_str()), (4, "a.txt"));
        assert_eq!(row.file.content_type, "text/plain");
        assert_eq!(names(&state), ["a.txt"]);
    }

    #[test]
    fn a_move_that_replaced_a_file_drops_its_row() {
        let mut state = docs();
        let (moving, taken) = (Uuid::new_v4(), Uuid::new_v4());
        state.load_page(page(vec![
            file(moving, "a.txt", 1, 2),
            file(taken, "b.txt", 2, 2),
        ]));
        let moved = Event::FileMoved(FileMovedV1 {
            file_id: moving,
            from_folder: docs_path(),
            from_name: FileName::parse("a.txt").unwrap(),
            to_folder: docs_path(),
            to_name: FileName::parse("b.txt").unwrap(),
            version: 3,
            replaced: Some(taken),
        });
        assert_eq!(state.apply(&event(moved, None)), Applied::Changed);
        assert_eq!(names(&state), ["b.txt"]);
        assert!(state.file(taken).is_none());
        assert!(state.file(moving).is_some());
    }

    #[test]
    fn a_file_restored_here_is_fetched_and_what_it_replaced_leaves() {
        let mut state = docs();
        let (back, taken) = (Uuid::new_v4(), Uuid::new_v4());
        state.load_page(page(vec![file(taken, "a.txt", 2, 2)]));
        let restored = |folder: &str, replaced| {
            Event::FileRestored(FileRestoredV1 {
                file_id: back,
                folder: FolderPath::parse(folder).unwrap(),
                name: FileName::parse("a.txt").unwrap(),
                size: 5,
                trash_id: Uuid::new_v4(),
                version: 6,
                replaced,
            })
        };
        assert_eq!(
            state.apply(&event(restored("docs", Some(taken)), None)),
            Applied::Fetch(back)
        );
        assert!(state.is_empty());
        state.fetched(file(back, "a.txt", 5, 6));
        assert_eq!(names(&state), ["a.txt"]);
        // Restored further down: its folder shows here.
        let mut deeper = restored("docs/sub", None);
        if let Event::FileRestored(r) = &mut deeper {
            r.file_id = Uuid::new_v4();
        }
        assert_eq!(state.apply(&event(deeper, None)), Applied::Changed);
        assert_eq!(names(&state), ["sub/", "a.txt"]);
    }

    #[test]
    fn a_folder_restored_here_shows_and_one_restored_around_this_one_relists() {
        let mut state = docs();
        let restored = |path: &str| {
            Event::FolderRestored(FolderRestoredV1 {
                path: FolderPath::parse(path).unwrap(),
                trash_id: Uuid::new_v4(),
                files_restored: 2,
            })
        };
        assert_eq!(
            state.apply(&event(restored("docs/Photos"), None)),
            Applied::Changed
        );
        assert_eq!(names(&state), ["Photos/"]);
        assert_eq!(state.apply(&event(restored("docs"), None)), Applied::Relist);
        assert_eq!(
            state.apply(&event(restored("elsewhere"), None)),
            Applied::Nothing
        );
    }

    #[test]
    fn events_in_any_order_end_in_the_same_state() {
        // Create v2, rename v3, rename v4, in every order: the newest wins.
        let id = Uuid::new_v4();
        let rename = |name: &str, version| {
            event(
                Event::FileMoved(FileMovedV1 {
                    file_id: id,
                    from_folder: FolderPath::parse("docs").unwrap(),
                    from_name: FileName::parse("x").unwrap(),
                    to_folder: FolderPath::parse("docs").unwrap(),
                    to_name: FileName::parse(name).unwrap(),
                    version,
                    replaced: None,
                }),
                None,
            )
        };
        let events = [
            event(created(id, "first.txt", 2), None),
            rename("second.txt", 3),
            rename("third.txt", 4),
        ];
        let orders = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        for order in orders {
            let mut state = docs();
            state.load_page(page(vec![file(id, "first.txt", 1, 2)]));
            for i in order {
                state.apply(&events[i]);
            }
            assert_eq!(names(&state), ["third.txt"], "{order:?}");
        }
    }
}
