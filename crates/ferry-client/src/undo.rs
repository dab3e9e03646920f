//! Undo: which commands reverse what just happened, and when to offer them.
//!
//! The inverse of an action is read from the event that finished it, so it
//! reverses what the server did, not what the client asked for:
//!
//! - a file or folder moved to the trash (`FileTrashed`, `FolderTrashed`)
//!   comes back with `RestoreTrashItem` (its trash id is the id of the
//!   delete), failing rather than replacing anything;
//! - a move or rename (`FileMoved`) goes back with `MoveFile` to where it
//!   was and what it was called, failing if that name is taken meanwhile;
//! - a file or folder restored from the trash (`FileRestored`,
//!   `FolderRestored`) goes back to the trash (`DeleteFile`, `DeleteFolder`);
//! - an upload that replaced a file (`FileCreated` with `Replaced`) and a
//!   version made current (`FileVersionRestored`) are reversed by making the
//!   file that was current current again (`RestoreVersion`).
//!
//! A file a restore or a move put in the trash to take its name (`Replace`)
//! stays there when that restore or move is undone: putting it back needs
//! the name free first, which one batch can't promise.
//!
//! An action may be several commands (a bulk delete): [`Undo`] gathers
//! their outcomes and offers one undo for all that succeeded once every one
//! has settled. The undo is sent as one batch and watched the same way; if
//! any of it fails the person is told why, in the server's words, and
//! nothing else is done. Nothing here has a clock: how long an offer stays
//! is the shell's.
//!
//! Plain Rust, tested natively.

use crate::folder::created;
use ferry_protocol::messages::{
    ConflictPolicy, DeleteFileV1, DeleteFolderV1, MoveFileV1, RestoreTrashItemV1, RestoreVersionV1,
};
use ferry_protocol::{Command, Event, EventEnvelope};
use uuid::Uuid;

/// How many actions are watched at once; the oldest is forgotten beyond.
const WATCHED: usize = 64;

/// The commands that reverse what `event` reports, or none when it can't
/// be undone (or isn't an action).
pub fn inverse(event: &Event) -> Vec<Command> {
    match event {
        Event::FileTrashed(trashed) => vec![restore(trashed.trash_id)],
        Event::FolderTrashed(trashed) => vec![restore(trashed.trash_id)],
        Event::FileMoved(moved) => vec![Command::MoveFile(MoveFileV1 {
            file_id: moved.file_id,
            to_folder: moved.from_folder.clone(),
            to_name: moved.from_name.clone(),
            on_conflict: ConflictPolicy::Fail,
        })],
        Event::FileRestored(restored) => vec![Command::DeleteFile(DeleteFileV1 {
            file_id: restored.file_id,
        })],
        Event::FolderRestored(restored) => vec![Command::DeleteFolder(DeleteFolderV1 {
            path: restored.path.clone(),
        })],
        Event::FileVersionRestored(restored) => vec![Command::RestoreVersion(RestoreVersionV1 {
            file_id: restored.file_id,
            version_id: restored.replaced,
        })],
        Event::FileCreated(_) | Event::FileCreatedV1(_) => created(event)
            .and_then(|c| {
                c.replaced.map(|replaced| {
                    Command::RestoreVersion(RestoreVersionV1 {
                        file_id: c.file_id,
                        version_id: replaced,
                    })
                })
            })
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

fn restore(trash_id: Uuid) -> Command {
    Command::RestoreTrashItem(RestoreTrashItemV1 {
        trash_id,
        on_conflict: ConflictPolicy::Fail,
    })
}

/// An undo to offer: what was done, in words, and what reverses it.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    /// What was done ("Deleted report.pdf").
    pub text: String,
    /// The commands that reverse it, to send as one batch.
    pub commands: Vec<Command>,
}

/// An action (or an undo) that finished.
#[derive(Debug, Clone, PartialEq)]
pub enum Settled {
    /// The person's action finished: it can be undone.
    Offer(Offer),
    /// An undo finished: what it reversed.
    Undone(String),
    /// An undo failed, and why (the server's words); nothing more is done.
    UndoFailed(String),
}

#[derive(Debug, Clone)]
enum Outcome {
    Done(Vec<Command>),
    Failed(String),
}

#[derive(Debug, Clone)]
struct Watched {
    what: String,
    undoing: bool,
    commands: Vec<(Uuid, Option<Outcome>)>,
}

/// The actions waiting for their events, to offer (or report) an undo.
#[derive(Debug, Clone, Default)]
pub struct Undo {
    watched: Vec<Watched>,
}

impl Undo {
    /// Watches the commands of one action of the person's, described as
    /// `what` in the past tense ("Deleted 3 items").
    pub fn watch(&mut self, command_ids: &[Uuid], what: impl Into<String>) {
        self.add(command_ids, what.into(), false);
    }

    /// Watches the commands of an undo of `what`.
    pub fn watch_undo(&mut self, command_ids: &[Uuid], what: impl Into<String>) {
        self.add(command_ids, what.into(), true);
    }

    fn add(&mut self, command_ids: &[Uuid], what: String, undoing: bool) {
        if command_ids.is_empty() {
            return;
        }
        self.watched.push(Watched {
            what,
            undoing,
            commands: command_ids.iter().map(|id| (*id, None)).collect(),
        });
        if self.watched.len() > WATCHED {
            self.watched.remove(0);
        }
    }

    /// Whether `command_id` is part of an undo under way (its failure is
    /// told as the undo's, not on its own).
    pub fn undoing(&self, command_id: Uuid) -> bool {
        self.watched
            .iter()
            .any(|w| w.undoing && w.commands.iter().any(|(id, _)| *id == command_id))
    }

    /// The API refused a watched command outright.
    pub fn refused(&mut self, command_id: Uuid, message: &str) -> Option<Settled> {
        self.settle(command_id, Outcome::Failed(message.to_owned()))
    }

    /// An event arrived: when it finishes the last command of an action,
    /// what to offer or say.
    pub fn event(&mut self, envelope: &EventEnvelope) -> Option<Settled> {
        let command_id = envelope.metadata().command_id?;
        let outcome = match envelope.data() {
            Event::CommandFailed(failed) => Outcome::Failed(failed.message.clone()),
            // A file moved out of the way of a restore or a move (`Replace`)
            // is an item of its own, not the action: a delete's item is
            // always the delete's own id.
            Event::FileTrashed(trashed) if trashed.trash_id != command_id => return None,
            event => {
                let commands = inverse(event);
                if commands.is_empty() {
                    return None;
                }
                Outcome::Done(commands)
            }
        };
        self.settle(command_id, outcome)
    }

    /// An action nobody watched finished (an upload that replaced a file,
    /// which its `FileCreated` reports): the offer, if it can be undone.
    pub fn unasked(event: &Event, what: impl Into<String>) -> Option<Offer> {
        let commands = inverse(event);
        (!commands.is_empty()).then(|| Offer {
            text: what.into(),
            commands,
        })
    }

    fn settle(&mut self, command_id: Uuid, outcome: Outcome) -> Option<Settled> {
        let at = self.watched.iter().position(|w| {
            w.commands
                .iter()
                .any(|(id, done)| *id == command_id && done.is_none())
        })?;
        let watched = &mut self.watched[at];
        for (id, done) in &mut watched.commands {
            if *id == command_id {
                *done = Some(outcome.clone());
            }
        }
        if watched.commands.iter().any(|(_, done)| done.is_none()) {
            return None;
        }
        let watched = self.watched.remove(at);
        let mut inverses = Vec::new();
        let mut failures = Vec::new();
        for (_, outcome) in watched.commands {
            match outcome {
                Some(Outcome::Done(commands)) => inverses.extend(commands),
                Some(Outcome::Failed(message)) => failures.push(message),
                None => {}
            }
        }
        if watched.undoing {
            return Some(match failures.first() {
                Some(why) => Settled::UndoFailed(format!("Couldn't undo: {why}")),
                None => Settled::Undone(format!("Undone: {}", watched.what)),
            });
        }
        if inverses.is_empty() {
            return None;
        }
        let text = match failures.len() {
            0 => watched.what,
            n => format!("{} ({n} couldn't be)", watched.what),
        };
        Some(Settled::Offer(Offer {
            text,
            commands: inverses,
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ferry_protocol::messages::{
        CommandFailedV1, FileCreatedV2, FileMovedV1, FileRestoredV1, FileTrashedV1,
        FileVersionRestoredV1, FolderRestoredV1, FolderTrashedV1, TrashEmptiedV1,
    };
    use ferry_protocol::{ErrorCode, FileName, FolderPath, Metadata, Timestamp, TraceId};

    fn envelope(command: Option<Uuid>, event: Event) -> EventEnvelope {
        EventEnvelope::new(
            Metadata {
                event_id: Uuid::new_v4(),
                trace_id: TraceId::parse("t").unwrap(),
                command_id: command,
                occurred_at: Timestamp::from_unix_millis(0).unwrap(),
                producer: "test".into(),
                user_id: None,
            },
            event,
        )
    }

    fn docs() -> FolderPath {
        FolderPath::parse("docs").unwrap()
    }

    fn name(n: &str) -> FileName {
        FileName::parse(n).unwrap()
    }

    fn trashed(file_id: Uuid, trash_id: Uuid) -> Event {
        Event::FileTrashed(FileTrashedV1 {
            file_id,
            folder: docs(),
            name: name("a.txt"),
            trash_id,
            version: 3,
        })
    }

    fn failed(message: &str) -> Event {
        Event::CommandFailed(CommandFailedV1 {
            command_action: "RestoreTrashItem".into(),
            code: ErrorCode::Conflict,
            message: message.into(),
            issued_at: Timestamp::from_unix_millis(0).unwrap(),
        })
    }

    #[test]
    fn a_delete_is_undone_by_restoring_its_trash_item() {
        let delete = Uuid::new_v4();
        let commands = inverse(&trashed(Uuid::new_v4(), delete));
        assert_eq!(
            commands,
            [Command::RestoreTrashItem(RestoreTrashItemV1 {
                trash_id: delete,
                on_conflict: ConflictPolicy::Fail,
            })]
        );
        let folder = Event::FolderTrashed(FolderTrashedV1 {
            path: docs(),
            trash_id: delete,
            files_trashed: 2,
        });
        assert_eq!(inverse(&folder), commands);
    }

    #[test]
    fn a_move_or_rename_goes_back_where_it_was() {
        let file_id = Uuid::new_v4();
        let moved = Event::FileMoved(FileMovedV1 {
            file_id,
            from_folder: docs(),
            from_name: name("a.txt"),
            to_folder: FolderPath::root(),
            to_name: name("b.txt"),
            version: 4,
            replaced: None,
        });
        assert_eq!(
            inverse(&moved),
            [Command::MoveFile(MoveFileV1 {
                file_id,
                to_folder: docs(),
                to_name: name("a.txt"),
                on_conflict: ConflictPolicy::Fail,
            })]
        );
    }

    #[test]
    fn a_restore_goes_back_to_the_trash() {
        let file_id = Uuid::new_v4();
        let restored = Event::FileRestored(FileRestoredV1 {
            file_id,
            folder: docs(),
            name: name("a.txt"),
            size: 3,
            trash_id: Uuid::new_v4(),
            version: 5,
            replaced: None,
        });
        assert_eq!(
            inverse(&restored),
            [Command::DeleteFile(DeleteFileV1 { file_id })]
        );
        let folder = Event::FolderRestored(FolderRestoredV1 {
            path: docs(),
            trash_id: Uuid::new_v4(),
            files_restored: 1,
        });
        assert_eq!(
            inverse(&folder),
            [Command::DeleteFolder(DeleteFolderV1 { path: docs() })]
        );
    }

    #[test]
    fn a_replace_and_a_version_restore_make_the_old_current_again() {
        let (new, old) = (Uuid::new_v4(), Uuid::new_v4());
        let mut created = FileCreatedV2 {
            file_id: new,
            folder: docs(),
            name: name("a.txt"),
            size: 1,
            content_type: "text/plain".into(),
            sha256: None,
            e_tag: "e".into(),
            version: 1,
            lineage: old,
            replaced: Some(old),
        };
        let back = [Command::RestoreVersion(RestoreVersionV1 {
            file_id: new,
            version_id: old,
        })];
        assert_eq!(inverse(&Event::FileCreated(created.clone())), back);
        // An upload that replaced nothing has nothing to undo.
        created.replaced = None;
        assert!(inverse(&Event::FileCreated(created)).is_empty());
        let restored = Event::FileVersionRestored(FileVersionRestoredV1 {
            file_id: new,
            replaced: old,
            folder: docs(),
            name: name("a.txt"),
            size: 1,
            sha256: None,
            lineage: old,
            version: 7,
        });
        assert_eq!(inverse(&restored), back);
        assert!(inverse(&Event::TrashEmptied(TrashEmptiedV1 { items_purged: 1 })).is_empty());
    }

    #[test]
    fn a_bulk_delete_is_offered_once_every_command_settled() {
        let mut undo = Undo::default();
        let ids = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
        undo.watch(&ids, "Deleted 3 items");
        assert_eq!(
            undo.event(&envelope(Some(ids[0]), trashed(Uuid::new_v4(), ids[0]))),
            None
        );
        // A duplicate of the same event changes nothing.
        assert_eq!(
            undo.event(&envelope(Some(ids[0]), trashed(Uuid::new_v4(), ids[0]))),
            None
        );
        assert_eq!(
            undo.event(&envelope(Some(ids[2]), trashed(Uuid::new_v4(), ids[2]))),
            None
        );
        let Some(Settled::Offer(offer)) =
            undo.event(&envelope(Some(ids[1]), trashed(Uuid::new_v4(), ids[1])))
        else {
            panic!("no offer");
        };
        assert_eq!(offer.text, "Deleted 3 items");
        let restored: Vec<Uuid> = offer
            .commands
            .iter()
            .map(|c| match c {
                Command::RestoreTrashItem(r) => r.trash_id,
                other => panic!("{other:?}"),
            })
            .collect();
        // In the order they were sent: one batch restores all three.
        assert_eq!(restored, ids);
    }

    #[test]
    fn a_partly_failed_action_offers_what_succeeded() {
        let mut undo = Undo::default();
        let ids = [Uuid::new_v4(), Uuid::new_v4()];
        undo.watch(&ids, "Deleted 2 items");
        assert_eq!(undo.refused(ids[1], "Not found."), None);
        let Some(Settled::Offer(offer)) =
            undo.event(&envelope(Some(ids[0]), trashed(Uuid::new_v4(), ids[0])))
        else {
            panic!("no offer");
        };
        assert_eq!(offer.commands.len(), 1);
        assert_eq!(offer.text, "Deleted 2 items (1 couldn't be)");
        // All failed: nothing to offer.
        let one = Uuid::new_v4();
        undo.watch(&[one], "Deleted a.txt");
        assert_eq!(undo.event(&envelope(Some(one), failed("Gone."))), None);
    }

    #[test]
    fn an_undo_that_fails_says_why_and_offers_nothing() {
        let mut undo = Undo::default();
        let ids = [Uuid::new_v4(), Uuid::new_v4()];
        undo.watch_undo(&ids, "Deleted 2 items");
        assert!(undo.undoing(ids[1]));
        let restored = Event::FileRestored(FileRestoredV1 {
            file_id: Uuid::new_v4(),
            folder: docs(),
            name: name("a.txt"),
            size: 3,
            trash_id: ids[0],
            version: 5,
            replaced: None,
        });
        assert_eq!(undo.event(&envelope(Some(ids[0]), restored.clone())), None);
        assert_eq!(
            undo.event(&envelope(
                Some(ids[1]),
                failed("A file named “a.txt” is already in “docs”.")
            )),
            Some(Settled::UndoFailed(
                "Couldn't undo: A file named “a.txt” is already in “docs”.".into()
            ))
        );
        // An undo that worked says so, and offers no undo of itself.
        let id = Uuid::new_v4();
        undo.watch_undo(&[id], "Deleted a.txt");
        assert_eq!(
            undo.event(&envelope(Some(id), restored)),
            Some(Settled::Undone("Undone: Deleted a.txt".into()))
        );
    }

    #[test]
    fn a_file_moved_out_of_the_way_is_not_the_action() {
        let mut undo = Undo::default();
        let restore = Uuid::new_v4();
        undo.watch(&[restore], "Restored a.txt");
        // The file in the way went to the trash first, as an item of its own.
        let displaced = trashed(Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(undo.event(&envelope(Some(restore), displaced)), None);
        let restored_id = Uuid::new_v4();
        let restored = Event::FileRestored(FileRestoredV1 {
            file_id: restored_id,
            folder: docs(),
            name: name("a.txt"),
            size: 3,
            trash_id: Uuid::new_v4(),
            version: 5,
            replaced: Some(Uuid::new_v4()),
        });
        assert_eq!(
            undo.event(&envelope(Some(restore), restored)),
            Some(Settled::Offer(Offer {
                text: "Restored a.txt".into(),
                commands: vec![Command::DeleteFile(DeleteFileV1 {
                    file_id: restored_id
                })],
            }))
        );
    }

    #[test]
    fn events_of_commands_not_watched_offer_nothing_unless_asked() {
        let mut undo = Undo::default();
        let id = Uuid::new_v4();
        assert_eq!(
            undo.event(&envelope(Some(id), trashed(Uuid::new_v4(), id))),
            None
        );
        assert_eq!(
            undo.event(&envelope(None, trashed(Uuid::new_v4(), id))),
            None
        );
        let replaced = Event::FileCreated(FileCreatedV2 {
            file_id: Uuid::new_v4(),
            folder: docs(),
            name: name("a.txt"),
            size: 1,
            content_type: "text/plain".into(),
            sha256: None,
            e_tag: "e".into(),
            version: 1,
            lineage: id,
            replaced: Some(id),
        });
        let offer = Undo::unasked(&replaced, "Replaced a.txt").unwrap();
        assert_eq!(offer.text, "Replaced a.txt");
        assert_eq!(offer.commands.len(), 1);
    }
}
