//! What the Trash view shows, and how events change it; and the words the
//! Trash view and the versions panel use.
//!
//! The trash is read page by page from the API (`GET /api/trash`), then
//! kept current by events: an item purged or restored leaves at once; a
//! new item (`FileTrashed`, `FolderTrashed`) is read again from the API,
//! since its event doesn't carry its size or when it was deleted; the trash
//! emptied leaves nothing. Events can arrive twice: each is applied once.
//!
//! Plain Rust, tested natively.

use crate::format;
use ferry_protocol::api::{TrashItemView, TrashPage};
use ferry_protocol::{Event, EventEnvelope};
use std::collections::HashSet;
use uuid::Uuid;

/// What applying an event to the trash did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrashApplied {
    /// Nothing the trash shows.
    Nothing,
    /// The list changed.
    Changed,
    /// Something came into the trash: read it again.
    Reload,
}

/// The trash as the Trash view shows it.
#[derive(Debug, Clone, Default)]
pub struct TrashState {
    items: Vec<TrashItemView>,
    /// The bytes the trash holds (counted toward storage).
    pub trash_bytes: u64,
    /// Days after which an item is deleted forever.
    pub retention_days: u64,
    /// Where the next page starts; `None` when all is loaded.
    pub next_cursor: Option<String>,
    seen: HashSet<Uuid>,
}

impl TrashState {
    /// The first page, replacing what was shown.
    pub fn load_first(&mut self, page: TrashPage) {
        self.items.clear();
        self.load_page(page);
    }

    /// A further page.
    pub fn load_page(&mut self, page: TrashPage) {
        for item in page.items {
            if !self.items.iter().any(|i| i.trash_id == item.trash_id) {
                self.items.push(item);
            }
        }
        self.trash_bytes = page.trash_bytes;
        self.retention_days = page.retention_days;
        self.next_cursor = page.next_cursor;
    }

    /// The items, newest deletion first.
    pub fn items(&self) -> Vec<&TrashItemView> {
        let mut items: Vec<&TrashItemView> = self.items.iter().collect();
        crate::order::sort_by(&mut items, &|a, b| {
            b.trashed_at
                .cmp(&a.trashed_at)
                .then(a.name.cmp(&b.name))
                .then(a.trash_id.cmp(&b.trash_id))
        });
        items
    }

    /// One item.
    pub fn item(&self, trash_id: Uuid) -> Option<&TrashItemView> {
        self.items.iter().find(|i| i.trash_id == trash_id)
    }

    /// Whether the trash is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn leave(&mut self, trash_id: Uuid) -> TrashApplied {
        match self.items.iter().position(|i| i.trash_id == trash_id) {
            Some(at) => {
                let item = self.items.remove(at);
                self.trash_bytes = self.trash_bytes.saturating_sub(item.bytes);
                TrashApplied::Changed
            }
            None => TrashApplied::Nothing,
        }
    }

    /// Applies one event.
    pub fn apply(&mut self, envelope: &EventEnvelope) -> TrashApplied {
        if !self.seen.insert(envelope.metadata().event_id) {
            return TrashApplied::Nothing;
        }
        match envelope.data() {
            Event::TrashItemPurged(purged) => self.leave(purged.trash_id),
            Event::FileRestored(restored) => self.leave(restored.trash_id),
            Event::FolderRestored(restored) => self.leave(restored.trash_id),
            Event::TrashEmptied(_) => {
                self.items.clear();
                self.trash_bytes = 0;
                self.next_cursor = None;
                TrashApplied::Changed
            }
            Event::FileTrashed(_) | Event::FolderTrashed(_) => TrashApplied::Reload,
            // A restore with `Replace` or a move that replaced a file put
            // that file in the trash.
            Event::FileMoved(moved) if moved.replaced.is_some() => TrashApplied::Reload,
            _ => TrashApplied::Nothing,
        }
    }
}

/// What an item was and how much it holds: "3 files, 1.2 MB" for a folder,
/// "1.2 MB" for a file.
pub fn item_size(item: &TrashItemView) -> String {
    if item.kind == "folder" {
        let files = match item.files {
            1 => "1 file".to_owned(),
            n => format!("{n} files"),
        };
        format!("{files}, {}", format::bytes(item.bytes))
    } else {
        format::bytes(item.bytes)
    }
}

/// Where an item was, in words.
pub fn item_place(item: &TrashItemView) -> String {
    if item.from.is_root() {
        "Home".to_owned()
    } else {
        item.from.as_str().to_owned()
    }
}

/// The sentence under the Trash's title: what it costs and how long it
/// keeps things.
pub fn trash_terms(trash_bytes: u64, retention_days: u64) -> String {
    let days = match retention_days {
        1 => "1 day".to_owned(),
        n => format!("{n} days"),
    };
    format!(
        "Items in the trash count toward your storage ({} now) and are deleted forever after {days}.",
        format::bytes(trash_bytes)
    )
}

/// Names for versions that can tell them apart: each version's time, with
/// " (2)", " (3)" after a time an earlier one already has (two uploads in
/// the same second).
pub fn version_names(times: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(times.len());
    for time in times {
        let mut name = time.clone();
        let mut n = 1;
        while names.contains(&name) {
            n += 1;
            name = format!("{time} ({n})");
        }
        names.push(name);
    }
    names
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ferry_protocol::messages::{
        FileRestoredV1, FileTrashedV1, FolderCreatedV1, FolderRestoredV1, TrashEmptiedV1,
        TrashItemPurgedV1,
    };
    use ferry_protocol::{FileName, FolderPath, Metadata, Timestamp, TraceId};

    fn envelope(event: Event) -> EventEnvelope {
        EventEnvelope::new(
            Metadata {
                event_id: Uuid::new_v4(),
                trace_id: TraceId::parse("t").unwrap(),
                command_id: None,
                occurred_at: Timestamp::from_unix_millis(0).unwrap(),
                producer: "test".into(),
                user_id: None,
            },
            event,
        )
    }

    fn item(name: &str, kind: &str, bytes: u64, at: i64) -> TrashItemView {
        TrashItemView {
            trash_id: Uuid::new_v4(),
            kind: kind.into(),
            name: name.into(),
            from: FolderPath::parse("docs").unwrap(),
            file_id: (kind == "file").then(Uuid::new_v4),
            files: if kind == "file" { 1 } else { 3 },
            bytes,
            trashed_at: Timestamp::from_unix_millis(at).unwrap(),
        }
    }

    fn loaded(items: Vec<TrashItemView>) -> TrashState {
        let mut state = TrashState::default();
        let trash_bytes = items.iter().map(|i| i.bytes).sum();
        state.load_first(TrashPage {
            items,
            next_cursor: None,
            trash_bytes,
            retention_days: 30,
        });
        state
    }

    fn names(state: &TrashState) -> Vec<&str> {
        state.items().iter().map(|i| i.name.as_str()).collect()
    }

    #[test]
    fn items_show_newest_first() {
        let state = loaded(vec![
            item("old.txt", "file", 1, 1_000),
            item("new.txt", "file", 1, 3_000),
            item("Photos", "folder", 1, 2_000),
        ]);
        assert_eq!(names(&state), ["new.txt", "Photos", "old.txt"]);
    }

    #[test]
    fn a_purged_or_restored_item_leaves_and_its_bytes_with_it() {
        let (a, b, c) = (
            item("a.txt", "file", 10, 1),
            item("b.txt", "file", 20, 2),
            item("Photos", "folder", 30, 3),
        );
        let (ta, tb, tc) = (a.trash_id, b.trash_id, c.trash_id);
        let mut state = loaded(vec![a, b, c]);
        assert_eq!(state.trash_bytes, 60);
        let purged = envelope(Event::TrashItemPurged(TrashItemPurgedV1 {
            trash_id: ta,
            files_deleted: 1,
            reason: "purged".into(),
        }));
        assert_eq!(state.apply(&purged), TrashApplied::Changed);
        assert_eq!(state.apply(&purged), TrashApplied::Nothing);
        assert_eq!(state.trash_bytes, 50);
        let restored = Event::FileRestored(FileRestoredV1 {
            file_id: Uuid::new_v4(),
            folder: FolderPath::parse("docs").unwrap(),
            name: FileName::parse("b.txt").unwrap(),
            size: 20,
            trash_id: tb,
            version: 4,
            replaced: None,
        });
        assert_eq!(state.apply(&envelope(restored)), TrashApplied::Changed);
        let folder = Event::FolderRestored(FolderRestoredV1 {
            path: FolderPath::parse("docs/Photos").unwrap(),
            trash_id: tc,
            files_restored: 3,
        });
        assert_eq!(state.apply(&envelope(folder)), TrashApplied::Changed);
        assert!(state.is_empty());
        assert_eq!(state.trash_bytes, 0);
    }

    #[test]
    fn something_newly_trashed_is_read_again_and_emptying_clears_all() {
        let mut state = loaded(vec![item("a.txt", "file", 10, 1)]);
        let trashed = Event::FileTrashed(FileTrashedV1 {
            file_id: Uuid::new_v4(),
            folder: FolderPath::root(),
            name: FileName::parse("b.txt").unwrap(),
            trash_id: Uuid::new_v4(),
            version: 2,
        });
        assert_eq!(state.apply(&envelope(trashed)), TrashApplied::Reload);
        let other = Event::FolderCreated(FolderCreatedV1 {
            path: FolderPath::parse("x").unwrap(),
        });
        assert_eq!(state.apply(&envelope(other)), TrashApplied::Nothing);
        let emptied = Event::TrashEmptied(TrashEmptiedV1 { items_purged: 1 });
        assert_eq!(state.apply(&envelope(emptied)), TrashApplied::Changed);
        assert!(state.is_empty());
        assert_eq!(state.trash_bytes, 0);
    }

    #[test]
    fn words_for_items_and_terms() {
        let folder = item("Photos", "folder", 1_500, 1);
        assert_eq!(item_size(&folder), "3 files, 1.5 KB");
        assert_eq!(item_size(&item("a.txt", "file", 12, 1)), "12 bytes");
        assert_eq!(item_place(&folder), "docs");
        assert_eq!(
            trash_terms(2_000_000, 30),
            "Items in the trash count toward your storage (2.0 MB now) and are deleted forever after 30 days."
        );
    }

    #[test]
    fn version_names_tell_equal_times_apart() {
        let times = [
            "3 Dec, 10:00:01",
            "3 Dec, 10:00:01",
            "2 Dec",
            "3 Dec, 10:00:01",
        ]
        .map(String::from);
        assert_eq!(
            version_names(&times),
            [
                "3 Dec, 10:00:01",
                "3 Dec, 10:00:01 (2)",
                "2 Dec",
                "3 Dec, 10:00:01 (3)"
            ]
        );
    }
}
