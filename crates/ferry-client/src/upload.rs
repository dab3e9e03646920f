//! The upload queue's logic: which files go next, how far each one is, and
//! what the user is told — with no DOM and no network, so it is tested
//! natively. The components feed it the browser's events (a file picked, an
//! XHR progress event, an answer from the API, a `FileCreated` from the
//! socket) and do what it says.
//!
//! A file goes `Queued` → (`Asking` when its name is taken) → `Uploading` →
//! `Uploaded` (the bytes are in the store) → `Indexed` (its `FileCreated`
//! arrived). At most `files_in_flight` files upload at once.

use ferry_protocol::FolderPath;
use ferry_protocol::messages::{ConflictPolicy, UploadedPart};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where one file of the queue is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Waiting for a free slot.
    Queued,
    /// Its name is taken; the user picks replace, keep both or skip.
    Asking,
    /// Bytes on their way.
    Uploading,
    /// The store has the bytes; waiting for the index.
    Uploaded,
    /// Indexed and listed: done.
    Indexed,
    /// Skipped by the user.
    Skipped,
    /// Cancelled by the user.
    Cancelled,
    /// Failed, with a reason in words.
    Failed(String),
}

impl Stage {
    /// Whether the file needs nothing more.
    pub fn is_over(&self) -> bool {
        matches!(
            self,
            Self::Indexed | Self::Skipped | Self::Cancelled | Self::Failed(_)
        )
    }

    /// Whether bytes are still to be sent (so it can be paused).
    pub fn is_sending(&self) -> bool {
        matches!(self, Self::Queued | Self::Uploading)
    }

    /// The word shown beside the file.
    pub fn label(&self) -> String {
        match self {
            Self::Queued => "Waiting".into(),
            Self::Asking => "Name taken".into(),
            Self::Uploading => "Uploading".into(),
            Self::Uploaded => "Uploaded".into(),
            Self::Indexed => "Indexed".into(),
            Self::Skipped => "Skipped".into(),
            Self::Cancelled => "Cancelled".into(),
            Self::Failed(reason) => format!("Failed: {reason}"),
        }
    }
}

/// One file in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The queue's own id for it (also the `CreateFile` command id).
    pub id: Uuid,
    /// The folder it goes to (the relative path of a dropped folder kept).
    pub folder: FolderPath,
    /// Its name.
    pub name: String,
    /// Its size.
    pub size: u64,
    /// Bytes sent so far.
    pub sent: u64,
    /// Where it is.
    pub stage: Stage,
    /// What to do if the name is taken (`Fail` asks the user).
    pub on_conflict: ConflictPolicy,
    /// The file's id once created.
    pub file_id: Option<Uuid>,
    /// Paused by the user: it holds no slot and sends nothing.
    pub paused: bool,
    /// For an upload resumed after a reload: its multipart upload (no
    /// `CreateFile` is sent).
    pub resume: Option<Unfinished>,
}

impl Item {
    /// The word shown beside the file.
    pub fn label(&self) -> String {
        if self.paused && self.stage.is_sending() {
            "Paused".into()
        } else {
            self.stage.label()
        }
    }
}

/// What the driver should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Send `CreateFile` for this item, then its bytes.
    Start(Uuid),
    /// Ask the user about this item's taken name.
    Ask(Uuid),
}

/// The queue.
#[derive(Debug, Clone)]
pub struct Queue {
    items: Vec<Item>,
    files_in_flight: usize,
    offline: bool,
    /// Items are numbered, not given random ids: the ids only name items of
    /// this queue, and the core takes no randomness of its own.
    added: u64,
}

impl Queue {
    /// An empty queue letting `files_in_flight` files upload at once.
    pub fn new(files_in_flight: usize) -> Self {
        Self {
            items: Vec::new(),
            files_in_flight: files_in_flight.max(1),
            offline: false,
            added: 0,
        }
    }

    /// Adds a file; returns its id.
    pub fn add(&mut self, folder: FolderPath, name: &str, size: u64) -> Uuid {
        self.added += 1;
        let id = Uuid::from_u64_pair(0, self.added);
        self.items.push(Item {
            id,
            folder,
            name: name.to_owned(),
            size,
            sent: 0,
            stage: Stage::Queued,
            on_conflict: ConflictPolicy::Fail,
            file_id: None,
            paused: false,
            resume: None,
        });
        id
    }

    /// Adds an unfinished upload to go on with (the same file, picked
    /// again); returns its id.
    pub fn add_resumed(&mut self, unfinished: Unfinished) -> Uuid {
        let id = self.add(unfinished.folder.clone(), &unfinished.name, unfinished.size);
        if let Some(item) = self.item(id) {
            item.file_id = Some(unfinished.file_id);
            item.resume = Some(unfinished);
        }
        id
    }

    /// The items, in the order they were added.
    pub fn items(&self) -> &[Item] {
        &self.items
    }

    fn item(&mut self, id: Uuid) -> Option<&mut Item> {
        self.items.iter_mut().find(|i| i.id == id)
    }

    /// The items to start now, within the concurrency limit. Paused items
    /// hold no slot; offline, nothing starts.
    pub fn start_next(&mut self) -> Vec<Next> {
        if self.offline {
            return Vec::new();
        }
        let busy = self
            .items
            .iter()
            .filter(|i| i.stage == Stage::Uploading && !i.paused)
            .count();
        let mut free = self.files_in_flight.saturating_sub(busy);
        let mut out = Vec::new();
        for item in &mut self.items {
            if free == 0 {
                break;
            }
            if item.stage == Stage::Queued && !item.paused {
                item.stage = Stage::Uploading;
                out.push(Next::Start(item.id));
                free -= 1;
            }
        }
        out
    }

    /// Pauses or resumes one item; returns whether it changed.
    pub fn set_paused(&mut self, id: Uuid, paused: bool) -> bool {
        match self.item(id) {
            Some(item) if item.stage.is_sending() && item.paused != paused => {
                item.paused = paused;
                true
            }
            _ => false,
        }
    }

    /// Pauses or resumes every unfinished item.
    pub fn set_all_paused(&mut self, paused: bool) {
        for item in &mut self.items {
            if item.stage.is_sending() {
                item.paused = paused;
            }
        }
    }

    /// Whether an item must not send now: paused, or the browser offline.
    pub fn is_held(&self, id: Uuid) -> bool {
        self.offline || self.items.iter().any(|i| i.id == id && i.paused)
    }

    /// The browser went offline or came back.
    pub fn set_offline(&mut self, offline: bool) {
        self.offline = offline;
    }

    /// Whether the browser is offline.
    pub fn is_offline(&self) -> bool {
        self.offline
    }

    /// Whether any unfinished item is paused, and whether any runs.
    pub fn pause_state(&self) -> (bool, bool) {
        let open = self.items.iter().filter(|i| i.stage.is_sending());
        open.fold((false, false), |(paused, running), i| {
            (paused || i.paused, running || !i.paused)
        })
    }

    /// `CreateFile` answered: the file exists, the bytes may go.
    pub fn created(&mut self, id: Uuid, file_id: Uuid) {
        if let Some(item) = self.item(id) {
            item.file_id = Some(file_id);
        }
    }

    /// `CreateFile` answered `Conflict`: ask the user.
    pub fn name_taken(&mut self, id: Uuid) -> Option<Next> {
        let item = self.item(id)?;
        item.stage = Stage::Asking;
        Some(Next::Ask(id))
    }

    /// The user answered about a taken name: `None` skips the file.
    pub fn resolve(&mut self, id: Uuid, choice: Option<ConflictPolicy>) {
        if let Some(item) = self.item(id) {
            match choice {
                Some(policy) => {
                    item.on_conflict = policy;
                    item.stage = Stage::Queued;
                }
                None => item.stage = Stage::Skipped,
            }
        }
    }

    /// Progress of an item's bytes (an XHR `progress` event). Whether it
    /// changed anything (nothing to redraw when not).
    pub fn progress(&mut self, id: Uuid, sent: u64) -> bool {
        match self.item(id) {
            Some(item) if item.sent != sent.min(item.size) => {
                item.sent = sent.min(item.size);
                true
            }
            _ => false,
        }
    }

    /// The store has all the bytes.
    pub fn uploaded(&mut self, id: Uuid) {
        if let Some(item) = self.item(id)
            && item.stage == Stage::Uploading
        {
            item.sent = item.size;
            item.stage = Stage::Uploaded;
        }
    }

    /// A `FileCreated` arrived for `file_id`. Returns whether it was one of
    /// the queue's.
    pub fn indexed(&mut self, file_id: Uuid) -> bool {
        match self.items.iter_mut().find(|i| i.file_id == Some(file_id)) {
            Some(item) if !item.stage.is_over() => {
                item.sent = item.size;
                item.stage = Stage::Indexed;
                true
            }
            _ => false,
        }
    }

    /// The item failed.
    pub fn failed(&mut self, id: Uuid, reason: &str) {
        if let Some(item) = self.item(id)
            && !item.stage.is_over()
        {
            item.stage = Stage::Failed(reason.to_owned());
        }
    }

    /// The user cancelled the item.
    pub fn cancel(&mut self, id: Uuid) {
        if let Some(item) = self.item(id)
            && !item.stage.is_over()
        {
            item.stage = Stage::Cancelled;
        }
    }

    /// Overall progress: bytes sent and total, of the items not skipped or
    /// cancelled.
    pub fn totals(&self) -> (u64, u64) {
        self.items
            .iter()
            .filter(|i| !matches!(i.stage, Stage::Skipped | Stage::Cancelled))
            .fold((0, 0), |(sent, total), i| (sent + i.sent, total + i.size))
    }

    /// A one-line summary for the progress bar's label and the live region:
    /// "3 of 10 files uploaded".
    pub fn summary(&self) -> String {
        let counted: Vec<&Item> = self
            .items
            .iter()
            .filter(|i| !matches!(i.stage, Stage::Skipped | Stage::Cancelled))
            .collect();
        let done = counted
            .iter()
            .filter(|i| matches!(i.stage, Stage::Uploaded | Stage::Indexed))
            .count();
        let failed = counted
            .iter()
            .filter(|i| matches!(i.stage, Stage::Failed(_)))
            .count();
        let noun = if counted.len() == 1 { "file" } else { "files" };
        let mut text = format!("{done} of {} {noun} uploaded", counted.len());
        if failed > 0 {
            text.push_str(&format!(", {failed} failed"));
        }
        text
    }

    /// Drops finished items, keeping the rest.
    pub fn clear_finished(&mut self) {
        self.items.retain(|i| !i.stage.is_over());
    }
}

/// A multipart upload that hasn't finished, as kept in the browser
/// (IndexedDB) so it can go on after a reload or a crash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Unfinished {
    /// The file (and its `CreateFile` command).
    pub file_id: Uuid,
    /// Who uploads it (another user of this browser doesn't see it).
    pub owner: String,
    /// Where it goes.
    pub folder: FolderPath,
    /// Its name.
    pub name: String,
    /// The source file's size and last modification (ms since the epoch):
    /// the same file picked again has both.
    pub size: u64,
    pub last_modified: i64,
    /// The multipart upload and its part size.
    pub upload_id: String,
    pub part_size: u64,
    /// The first part's SHA-256 (base64), once known: the surest check that
    /// the file picked again is the same.
    #[serde(default)]
    pub first_checksum: Option<String>,
    /// The parts stored so far, with their ETags and checksums.
    #[serde(default)]
    pub parts: Vec<UploadedPart>,
}

impl Unfinished {
    /// Whether a picked file is this upload's source, judged by its size
    /// and date; `Err` says why not.
    pub fn matches(&self, size: u64, last_modified: i64) -> Result<(), String> {
        if size != self.size {
            return Err(format!(
                "it is {}, and the file being uploaded is {}",
                crate::format::bytes(size),
                crate::format::bytes(self.size)
            ));
        }
        if last_modified != self.last_modified {
            return Err("it was changed since the upload began".into());
        }
        Ok(())
    }

    /// Whether the picked file's first part has the checksum kept (when one
    /// was kept).
    pub fn same_start(&self, first_checksum: &str) -> Result<(), String> {
        match &self.first_checksum {
            Some(kept) if kept != first_checksum => {
                Err("its first bytes differ from the file being uploaded".into())
            }
            _ => Ok(()),
        }
    }

    /// Records a stored part (again: the newest ETag wins).
    pub fn stored(&mut self, part: UploadedPart) {
        self.parts.retain(|p| p.part_number != part.part_number);
        self.parts.push(part);
        self.parts.sort_by_key(|p| p.part_number);
    }
}

/// The folder and name for a dropped file with a relative path
/// (`photos/2026/a.jpg` dropped into `docs` → `docs/photos/2026`, `a.jpg`).
pub fn place(base: &FolderPath, relative: &str) -> Result<(FolderPath, String), String> {
    let relative = relative.trim_matches('/');
    let (dirs, name) = match relative.rsplit_once('/') {
        Some((dirs, name)) => (Some(dirs), name),
        None => (None, relative),
    };
    let folder = match dirs {
        None => base.clone(),
        Some(dirs) => {
            let joined = if base.is_root() {
                dirs.to_owned()
            } else {
                format!("{}/{dirs}", base.as_str())
            };
            FolderPath::parse(&joined).map_err(|e| e.to_string())?
        }
    };
    ferry_protocol::FileName::parse(name).map_err(|e| e.to_string())?;
    Ok((folder, name.to_owned()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn at_most_files_in_flight_upload_at_once() {
        let mut queue = Queue::new(2);
        let ids: Vec<Uuid> = (0..5)
            .map(|i| queue.add(FolderPath::root(), &format!("{i}"), 10))
            .collect();
        assert_eq!(
            queue.start_next(),
            vec![Next::Start(ids[0]), Next::Start(ids[1])]
        );
        assert!(queue.start_next().is_empty());
        queue.uploaded(ids[0]);
        assert_eq!(queue.start_next(), vec![Next::Start(ids[2])]);
        queue.failed(ids[1], "network down");
        assert_eq!(queue.start_next(), vec![Next::Start(ids[3])]);
        assert_eq!(queue.summary(), "1 of 5 files uploaded, 1 failed");
    }

    #[test]
    fn a_file_goes_uploading_uploaded_indexed() {
        let mut queue = Queue::new(3);
        let id = queue.add(FolderPath::root(), "a.txt", 100);
        queue.start_next();
        let file_id = Uuid::new_v4();
        queue.created(id, file_id);
        assert!(queue.progress(id, 40));
        assert!(!queue.progress(id, 40), "the same progress changes nothing");
        assert_eq!(queue.totals(), (40, 100));
        assert_eq!(queue.items()[0].stage.label(), "Uploading");
        queue.uploaded(id);
        assert_eq!(queue.items()[0].stage, Stage::Uploaded);
        assert!(queue.indexed(file_id));
        assert!(!queue.indexed(file_id));
        assert_eq!(queue.items()[0].stage, Stage::Indexed);
        assert_eq!(queue.summary(), "1 of 1 file uploaded");
        queue.clear_finished();
        assert!(queue.items().is_empty());
    }

    #[test]
    fn a_taken_name_is_asked_about_then_retried_or_skipped() {
        let mut queue = Queue::new(1);
        let a = queue.add(FolderPath::root(), "a.txt", 1);
        let b = queue.add(FolderPath::root(), "b.txt", 1);
        queue.start_next();
        assert_eq!(queue.name_taken(a), Some(Next::Ask(a)));
        // Asking doesn't hold a slot.
        assert_eq!(queue.start_next(), vec![Next::Start(b)]);
        queue.resolve(a, Some(ConflictPolicy::KeepBoth));
        queue.uploaded(b);
        assert_eq!(queue.start_next(), vec![Next::Start(a)]);
        assert_eq!(queue.items()[0].on_conflict, ConflictPolicy::KeepBoth);
        let c = queue.add(FolderPath::root(), "c.txt", 5);
        queue.start_next();
        queue.name_taken(c);
        queue.resolve(c, None);
        assert_eq!(queue.items()[2].stage, Stage::Skipped);
        assert_eq!(queue.totals().1, 2);
    }

    #[test]
    fn paused_items_hold_no_slot_and_offline_nothing_starts() {
        let mut queue = Queue::new(1);
        let a = queue.add(FolderPath::root(), "a", 10);
        let b = queue.add(FolderPath::root(), "b", 10);
        let c = queue.add(FolderPath::root(), "c", 10);
        assert_eq!(queue.start_next(), vec![Next::Start(a)]);
        assert!(queue.set_paused(a, true));
        assert!(!queue.set_paused(a, true), "already paused");
        assert!(queue.is_held(a));
        assert_eq!(queue.items()[0].label(), "Paused");
        // A's slot goes to b.
        assert_eq!(queue.start_next(), vec![Next::Start(b)]);
        assert!(queue.set_paused(c, true));
        queue.uploaded(b);
        assert!(queue.start_next().is_empty(), "c is paused");
        assert_eq!(queue.pause_state(), (true, false));
        queue.set_all_paused(false);
        assert_eq!(queue.pause_state(), (false, true));
        queue.set_offline(true);
        assert!(queue.is_held(c));
        assert!(queue.start_next().is_empty(), "offline");
        queue.set_offline(false);
        // a resumed holds its slot again; c waits for it.
        assert!(queue.start_next().is_empty());
        queue.uploaded(a);
        assert_eq!(queue.start_next(), vec![Next::Start(c)]);
    }

    fn unfinished() -> Unfinished {
        Unfinished {
            file_id: Uuid::new_v4(),
            owner: "tess".into(),
            folder: FolderPath::root(),
            name: "big.bin".into(),
            size: 100,
            last_modified: 1_700_000_000_000,
            upload_id: "u".into(),
            part_size: 50,
            first_checksum: Some("c1".into()),
            parts: Vec::new(),
        }
    }

    #[test]
    fn the_same_file_picked_again_is_recognised() {
        let record = unfinished();
        assert_eq!(record.matches(100, 1_700_000_000_000), Ok(()));
        assert!(
            record
                .matches(99, 1_700_000_000_000)
                .unwrap_err()
                .starts_with("it is 99 bytes, and the file being uploaded is 100 bytes")
        );
        assert!(
            record
                .matches(100, 1_700_000_100_000)
                .unwrap_err()
                .contains("changed")
        );
        assert_eq!(record.same_start("c1"), Ok(()));
        assert!(record.same_start("c2").is_err());
        let mut no_checksum = record.clone();
        no_checksum.first_checksum = None;
        assert_eq!(no_checksum.same_start("anything"), Ok(()));
        // It survives the trip through IndexedDB's JSON.
        let json = serde_json::to_string(&record).unwrap();
        assert!(json.contains("\"fileId\""));
        assert_eq!(serde_json::from_str::<Unfinished>(&json).unwrap(), record);
    }

    #[test]
    fn stored_parts_are_kept_once_in_order() {
        let mut record = unfinished();
        let part = |n: u32, etag: &str| UploadedPart {
            part_number: n,
            e_tag: etag.into(),
            checksum_sha256: None,
        };
        record.stored(part(2, "b"));
        record.stored(part(1, "a"));
        record.stored(part(2, "c"));
        assert_eq!(record.parts, vec![part(1, "a"), part(2, "c")]);
    }

    #[test]
    fn a_resumed_upload_skips_creating_the_file() {
        let mut queue = Queue::new(1);
        let record = unfinished();
        let id = queue.add_resumed(record.clone());
        let item = &queue.items()[0];
        assert_eq!(item.id, id);
        assert_eq!(item.file_id, Some(record.file_id));
        assert_eq!(item.resume.as_ref(), Some(&record));
        assert_eq!(queue.start_next(), vec![Next::Start(id)]);
    }

    #[test]
    fn dropped_folders_keep_their_relative_paths() {
        let docs = FolderPath::parse("docs").unwrap();
        assert_eq!(
            place(&docs, "photos/2026/a.jpg").unwrap(),
            (
                FolderPath::parse("docs/photos/2026").unwrap(),
                "a.jpg".to_owned()
            )
        );
        assert_eq!(
            place(&FolderPath::root(), "a.jpg").unwrap(),
            (FolderPath::root(), "a.jpg".to_owned())
        );
        assert!(place(&docs, "../etc/passwd").is_err());
    }
}
