//! Commands as the browser sends them: a `{metadata, data}` envelope whose
//! `CommandId` the browser makes up, so a retried request carries the same id
//! and has one effect; several in one batch, and the batch's answer read;
//! and the words the Activity panel uses for each.
//!
//! Plain Rust, tested natively.

use crate::failure::ApiFailure;
use ferry_protocol::envelope::{Metadata, Timestamp, TraceId};
use ferry_protocol::messages::ConflictPolicy;
use ferry_protocol::{ApiError, Command, CommandEnvelope, ErrorCode};
use serde::Deserialize;
use uuid::Uuid;

/// The producer name of everything the web client sends.
pub const PRODUCER: &str = "web";

/// `command` in an envelope with id `id` (also its trace id) at `now`.
pub fn envelope(command: Command, id: Uuid, now: time::OffsetDateTime) -> CommandEnvelope {
    CommandEnvelope::new(
        Metadata {
            event_id: id,
            trace_id: TraceId::from_uuid(id),
            command_id: Some(id),
            occurred_at: Timestamp::new(now),
            producer: PRODUCER.to_owned(),
            user_id: None,
        },
        command,
    )
}

/// What the user did, in words, for the Activity panel.
pub fn title(command: &Command, name: &str) -> String {
    match command {
        Command::CreateFile(c) => format!("Upload {}", c.name),
        Command::CompleteUpload(_) => format!("Finish uploading {name}"),
        Command::AbortUpload(_) => format!("Cancel uploading {name}"),
        Command::DeleteFile(_) => format!("Delete {name}"),
        Command::DeleteFolder(c) => format!("Delete folder {}", c.path.as_str()),
        Command::MoveFile(c) if c.to_name.as_str() != name => {
            format!("Rename {name} to {}", c.to_name)
        }
        Command::MoveFile(c) if c.to_folder.is_root() => format!("Move {name} to Home"),
        Command::MoveFile(c) => format!("Move {name} to {}", c.to_folder.as_str()),
        Command::CreateFolder(c) => format!("New folder {}", c.path.as_str()),
        Command::RestoreTrashItem(c) => match c.on_conflict {
            ConflictPolicy::Fail => format!("Restore {name}"),
            ConflictPolicy::Replace => format!("Restore {name}, replacing the file in its place"),
            ConflictPolicy::KeepBoth => format!("Restore {name}, keeping both"),
        },
        Command::PurgeTrashItem(_) => format!("Delete {name} forever"),
        Command::EmptyTrash(_) => "Empty trash".to_owned(),
        Command::RestoreVersion(_) => format!("Restore a version of {name}"),
        Command::DeleteVersion(_) => format!("Delete a version of {name}"),
    }
}

/// A batch of commands (`POST /commands/batch`), from each command's
/// envelope already written as JSON: joined as text, so the browser carries
/// no JSON tree for it.
pub fn batch_body(envelopes: &[String]) -> String {
    format!("{{\"commands\":[{}]}}", envelopes.join(","))
}

/// Each command's answer in a batch's, in order: its status when taken, why
/// when refused. `None` when the answer isn't a batch's. Read without a JSON
/// tree: a refusal's code and message are all that is kept of a body.
pub fn batch_answers(body: &str) -> Option<Vec<Result<u16, ApiFailure>>> {
    #[derive(Deserialize)]
    struct Answer {
        results: Vec<Item>,
    }
    #[derive(Deserialize)]
    struct Item {
        status: u16,
        #[serde(default)]
        body: Body,
    }
    #[derive(Default, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Body {
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        trace_id: Option<String>,
    }
    let answer: Answer = serde_json::from_str(body).ok()?;
    Some(
        answer
            .results
            .into_iter()
            .map(|item| {
                if (200..300).contains(&item.status) {
                    return Ok(item.status);
                }
                let code = item
                    .body
                    .code
                    .and_then(|c| serde_json::from_str::<ErrorCode>(&format!("\"{c}\"")).ok());
                Err(match (code, item.body.message) {
                    (Some(code), Some(message)) => ApiFailure::Refused {
                        status: item.status,
                        error: ApiError {
                            code,
                            message,
                            retryable: code.retryable(),
                            trace_id: item.body.trace_id,
                        },
                    },
                    _ => ApiFailure::from_response(item.status, ""),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ferry_protocol::messages::{DeleteFileV1, MoveFileV1};
    use ferry_protocol::{FileName, FolderPath};

    #[test]
    fn an_envelope_carries_its_id_as_command_and_trace() {
        let id = Uuid::new_v4();
        let command = Command::DeleteFile(DeleteFileV1 { file_id: id });
        let sent = envelope(command, id, time::OffsetDateTime::UNIX_EPOCH);
        let wire = serde_json::to_value(&sent).unwrap();
        assert_eq!(wire["metadata"]["CommandId"], id.to_string());
        assert_eq!(wire["metadata"]["EventId"], id.to_string());
        assert_eq!(wire["metadata"]["EventVersion"], 1);
        assert_eq!(wire["metadata"]["Producer"], "web");
        assert_eq!(wire["data"]["Action"], "DeleteFile");
        assert!(
            wire["metadata"]["TraceId"]
                .as_str()
                .unwrap()
                .contains(&id.simple().to_string())
        );
        let back: CommandEnvelope = serde_json::from_value(wire).unwrap();
        assert_eq!(back, sent);
    }

    #[test]
    fn titles_say_what_the_user_did() {
        let file_id = Uuid::new_v4();
        let moving = |folder: &str, name: &str| {
            Command::MoveFile(MoveFileV1 {
                file_id,
                to_folder: FolderPath::parse(folder).unwrap(),
                to_name: FileName::parse(name).unwrap(),
                on_conflict: ConflictPolicy::Fail,
            })
        };
        assert_eq!(
            title(&moving("", "b.txt"), "a.txt"),
            "Rename a.txt to b.txt"
        );
        assert_eq!(
            title(&moving("docs", "a.txt"), "a.txt"),
            "Move a.txt to docs"
        );
        assert_eq!(title(&moving("", "a.txt"), "a.txt"), "Move a.txt to Home");
        assert_eq!(
            title(&Command::DeleteFile(DeleteFileV1 { file_id }), "a.txt"),
            "Delete a.txt"
        );
    }
    #[test]
    fn a_batch_is_its_envelopes_and_its_answer_is_read_in_order() {
        let body = batch_body(&[r#"{"a":1}"#.to_owned(), r#"{"b":2}"#.to_owned()]);
        assert_eq!(body, r#"{"commands":[{"a":1},{"b":2}]}"#);
        let answer = r#"{"results":[
            {"status":202,"body":{"commandId":"x","action":"RestoreTrashItem","status":"accepted"}},
            {"status":404,"body":{"code":"NotFound","message":"That is no longer in the trash.","retryable":false,"traceId":"t-1"}},
            {"status":500,"body":{"code":"SomethingNew","message":"?"}}
        ]}"#;
        let read = batch_answers(answer).unwrap();
        assert_eq!(read[0], Ok(202));
        let refused = read[1].clone().unwrap_err();
        assert_eq!(refused.code(), Some(ErrorCode::NotFound));
        assert_eq!(refused.to_string(), "That is no longer in the trash.");
        // A code this client doesn't know still gets a sentence.
        assert_eq!(
            read[2].clone().unwrap_err().code(),
            Some(ErrorCode::Unavailable)
        );
        assert_eq!(batch_answers("<html>"), None);
    }
}
