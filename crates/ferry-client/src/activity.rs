//! The "Activity" panel's model: the user's recent commands, each with the
//! events it caused and its trace id, newest first.

use ferry_protocol::{Event, EventEnvelope};
use std::collections::VecDeque;
use uuid::Uuid;

/// How many commands the panel keeps.
pub const KEEP: usize = 50;

/// Where a command is, as the panel shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Sent; no event yet.
    Pending,
    /// Its event arrived.
    Done,
    /// It failed, with the reason.
    Failed(String),
}

/// One event of a command, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `FileDeleted`, …
    pub action: String,
    /// The event's id.
    pub event_id: Uuid,
}

/// One command in the panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The command's id.
    pub command_id: Uuid,
    /// What the user did, in words ("Delete report.pdf").
    pub title: String,
    /// Its trace id, to quote to support.
    pub trace_id: String,
    /// Where it is.
    pub status: Status,
    /// The events it caused, in arrival order.
    pub steps: Vec<Step>,
}

/// The panel's list.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    entries: VecDeque<Entry>,
}

impl Activity {
    /// Records a command the user just sent.
    pub fn sent(&mut self, command_id: Uuid, title: &str, trace_id: &str) {
        if self.entries.iter().any(|e| e.command_id == command_id) {
            return;
        }
        self.entries.push_front(Entry {
            command_id,
            title: title.to_owned(),
            trace_id: trace_id.to_owned(),
            status: Status::Pending,
            steps: Vec::new(),
        });
        self.entries.truncate(KEEP);
    }

    /// The command was refused outright (the API answered an error).
    pub fn refused(&mut self, command_id: Uuid, message: &str) {
        if let Some(entry) = self.entries.iter_mut().find(|e| e.command_id == command_id) {
            entry.status = Status::Failed(message.to_owned());
        }
    }

    /// An event arrived; it is attached to its command, if that is listed.
    /// Returns whether it was (a duplicate is not attached twice).
    pub fn event(&mut self, envelope: &EventEnvelope) -> bool {
        let Some(command_id) = envelope.metadata().command_id else {
            return false;
        };
        let Some(entry) = self.entries.iter_mut().find(|e| e.command_id == command_id) else {
            return false;
        };
        let event_id = envelope.metadata().event_id;
        if entry.steps.iter().any(|s| s.event_id == event_id) {
            return false;
        }
        entry.steps.push(Step {
            action: envelope.action().to_owned(),
            event_id,
        });
        entry.status = match envelope.data() {
            Event::CommandFailed(failed) => Status::Failed(failed.message.clone()),
            Event::UploadAborted(_) => Status::Failed("The upload was given up.".to_owned()),
            _ => Status::Done,
        };
        true
    }

    /// The entries, newest first.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    /// How many commands are still pending.
    pub fn pending(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.status == Status::Pending)
            .count()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ferry_protocol::messages::{CommandFailedV1, FolderCreatedV1};
    use ferry_protocol::{ErrorCode, FolderPath, Metadata, Timestamp, TraceId};

    fn envelope(command: Uuid, event: Event) -> EventEnvelope {
        EventEnvelope::new(
            Metadata {
                event_id: Uuid::new_v4(),
                trace_id: TraceId::parse("trace-1").unwrap(),
                command_id: Some(command),
                occurred_at: Timestamp::from_unix_millis(0).unwrap(),
                producer: "test".into(),
                user_id: None,
            },
            event,
        )
    }

    #[test]
    fn commands_collect_their_events_once() {
        let mut activity = Activity::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        activity.sent(a, "New folder x", "trace-1");
        activity.sent(b, "Delete y", "trace-2");
        assert_eq!(activity.pending(), 2);
        let created = envelope(
            a,
            Event::FolderCreated(FolderCreatedV1 {
                path: FolderPath::parse("x").unwrap(),
            }),
        );
        assert!(activity.event(&created));
        assert!(!activity.event(&created));
        let failed = envelope(
            b,
            Event::CommandFailed(CommandFailedV1 {
                command_action: "DeleteFile".into(),
                code: ErrorCode::NotFound,
                message: "The file was already gone.".into(),
                issued_at: Timestamp::from_unix_millis(0).unwrap(),
            }),
        );
        activity.event(&failed);
        let entries: Vec<&Entry> = activity.entries().collect();
        assert_eq!(entries[0].title, "Delete y");
        assert_eq!(
            entries[0].status,
            Status::Failed("The file was already gone.".into())
        );
        assert_eq!(entries[1].status, Status::Done);
        assert_eq!(entries[1].steps[0].action, "FolderCreated");
        assert_eq!(activity.pending(), 0);
        // Someone else's event (or an unknown command) isn't attached.
        assert!(!activity.event(&envelope(Uuid::new_v4(), created.data().clone())));
    }

    #[test]
    fn the_panel_keeps_the_latest() {
        let mut activity = Activity::default();
        for i in 0..(KEEP + 5) {
            activity.sent(Uuid::new_v4(), &format!("c{i}"), "t");
        }
        assert_eq!(activity.entries().count(), KEEP);
        assert_eq!(
            activity.entries().next().unwrap().title,
            format!("c{}", KEEP + 4)
        );
    }
}
