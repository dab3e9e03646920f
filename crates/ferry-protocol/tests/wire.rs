//! Envelopes, commands and events survive a trip through JSON unchanged, and
//! look on the wire the way the design documents them.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

use ferry_protocol::envelope::{COMMAND_SOURCE, EVENT_SOURCE};
use ferry_protocol::messages::*;
use ferry_protocol::{
    ApiError, Command, CommandEnvelope, DecodeError, Envelope, ErrorCode, Event, EventBridgeEvent,
    EventEnvelope, FileName, FolderPath, Metadata, Payload, Timestamp, TraceId,
};
use serde_json::{Value, json};
use uuid::Uuid;

fn metadata(command: bool) -> Metadata {
    let command_id = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
    Metadata {
        event_id: if command {
            command_id
        } else {
            Uuid::from_u128(42)
        },
        trace_id: TraceId::parse("1-5759e988-bd862e3fe1be46a994272793").unwrap(),
        command_id: Some(command_id),
        occurred_at: Timestamp::from_unix_millis(1_772_528_707_123).unwrap(),
        producer: "test".into(),
        user_id: Some("6f1c0d0e-0000-4000-8000-000000000001".into()),
    }
}

fn name(text: &str) -> FileName {
    FileName::parse(text).unwrap()
}

fn folder(text: &str) -> FolderPath {
    FolderPath::parse(text).unwrap()
}

fn every_command() -> Vec<Command> {
    let file_id = Uuid::from_u128(7);
    vec![
        CreateFileV1 {
            folder: folder("Reports/2026"),
            name: name("Q1 résumé.pdf"),
            size: 1_048_576,
            content_type: "application/pdf".into(),
            sha256: Some("ab".repeat(32)),
            on_conflict: ConflictPolicy::KeepBoth,
        }
        .into(),
        CompleteUploadV1 {
            sha256: None,
            file_id,
            parts: vec![UploadedPart {
                part_number: 1,
                e_tag: "\"abc\"".into(),
                checksum_sha256: Some("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into()),
            }],
        }
        .into(),
        AbortUploadV1 { file_id }.into(),
        DeleteFileV1 { file_id }.into(),
        DeleteFolderV1 {
            path: folder("Old"),
        }
        .into(),
        MoveFileV1 {
            file_id,
            to_folder: FolderPath::root(),
            to_name: name("renamed.txt"),
            on_conflict: ConflictPolicy::Fail,
        }
        .into(),
        CreateFolderV1 {
            path: folder("New/Deep"),
        }
        .into(),
        RestoreTrashItemV1 {
            trash_id: Uuid::from_u128(9),
            on_conflict: ConflictPolicy::KeepBoth,
        }
        .into(),
        PurgeTrashItemV1 {
            trash_id: Uuid::from_u128(9),
        }
        .into(),
        EmptyTrashV1 {}.into(),
        RestoreVersionV1 {
            file_id,
            version_id: Uuid::from_u128(8),
        }
        .into(),
        DeleteVersionV1 {
            file_id,
            version_id: Uuid::from_u128(8),
        }
        .into(),
    ]
}

fn every_event() -> Vec<Event> {
    let file_id = Uuid::from_u128(7);
    vec![
        FileCreatedV2 {
            file_id,
            folder: folder("Reports"),
            name: name("a.txt"),
            size: 3,
            content_type: "text/plain".into(),
            sha256: None,
            e_tag: "\"e\"".into(),
            version: 1,
            lineage: Uuid::from_u128(6),
            replaced: Some(Uuid::from_u128(6)),
        }
        .into(),
        FileCreatedV1 {
            file_id,
            folder: folder("Reports"),
            name: name("a.txt"),
            size: 3,
            content_type: "text/plain".into(),
            sha256: None,
            e_tag: "\"e\"".into(),
            version: 1,
        }
        .into(),
        FileDeletedV1 {
            file_id,
            folder: FolderPath::root(),
            name: name("a.txt"),
            version: 2,
        }
        .into(),
        FileMovedV1 {
            file_id,
            from_folder: FolderPath::root(),
            from_name: name("a.txt"),
            to_folder: folder("B"),
            to_name: name("b.txt"),
            version: 3,
            replaced: None,
        }
        .into(),
        FolderCreatedV1 { path: folder("B") }.into(),
        FolderDeletedV1 {
            path: folder("B"),
            files_deleted: 12,
        }
        .into(),
        UploadAbortedV1 {
            file_id,
            reason: "cancelled".into(),
        }
        .into(),
        CommandFailedV1 {
            command_action: "DeleteFile".into(),
            code: ErrorCode::NotFound,
            message: "That file no longer exists.".into(),
            issued_at: Timestamp::from_unix_millis(0).unwrap(),
        }
        .into(),
        FileTrashedV1 {
            file_id,
            folder: folder("B"),
            name: name("b.txt"),
            trash_id: Uuid::from_u128(9),
            version: 4,
        }
        .into(),
        FolderTrashedV1 {
            path: folder("B"),
            trash_id: Uuid::from_u128(9),
            files_trashed: 3,
        }
        .into(),
        FileRestoredV1 {
            file_id,
            folder: folder("B"),
            name: name("b (1).txt"),
            size: 3,
            trash_id: Uuid::from_u128(9),
            version: 5,
            replaced: None,
        }
        .into(),
        FolderRestoredV1 {
            path: folder("B"),
            trash_id: Uuid::from_u128(9),
            files_restored: 3,
        }
        .into(),
        TrashItemPurgedV1 {
            trash_id: Uuid::from_u128(9),
            files_deleted: 4,
            reason: "purged".into(),
        }
        .into(),
        TrashEmptiedV1 { items_purged: 2 }.into(),
        FileVersionRestoredV1 {
            file_id: Uuid::from_u128(6),
            replaced: file_id,
            folder: folder("Reports"),
            name: name("a.txt"),
            size: 3,
            sha256: None,
            lineage: Uuid::from_u128(6),
            version: 3,
        }
        .into(),
        ThumbnailCreatedV1 {
            file_id,
            sizes: vec![ThumbnailMade {
                size: ThumbnailSize::Small,
                width: 64,
                height: 48,
                content_type: "image/jpeg".into(),
            }],
            source_sha256: Some("ab".repeat(32)),
        }
        .into(),
        ThumbnailFailedV1 {
            file_id,
            code: ThumbnailCode::Corrupt,
            reason: "The image is damaged.".into(),
        }
        .into(),
    ]
}

#[test]
fn every_catalog_entry_has_a_sample_here() {
    let commands: Vec<_> = every_command()
        .iter()
        .map(|c| (c.action(), c.version()))
        .collect();
    let events: Vec<_> = every_event()
        .iter()
        .map(|e| (e.action(), e.version()))
        .collect();
    assert_eq!(commands, Command::CATALOG);
    assert_eq!(events, Event::CATALOG);
}

#[test]
fn commands_round_trip() {
    for command in every_command() {
        let envelope = Envelope::new(metadata(true), command);
        let json = serde_json::to_string(&envelope).unwrap();
        let back: CommandEnvelope = serde_json::from_str(&json).unwrap();
        assert_eq!(back, envelope, "{json}");
    }
}

#[test]
fn events_round_trip_and_wrap_for_eventbridge() {
    for event in every_event() {
        let envelope = Envelope::new(metadata(false), event);
        let action = envelope.action();
        let wrapped = EventBridgeEvent::wrap(
            envelope.clone(),
            EVENT_SOURCE,
            Uuid::from_u128(99),
            "000000000000",
            "local-1",
            Timestamp::from_unix_millis(5).unwrap(),
        );
        let json = serde_json::to_value(&wrapped).unwrap();
        assert_eq!(json["detail-type"], action);
        assert_eq!(json["source"], "ferry.files");
        assert_eq!(json["version"], "0");
        assert_eq!(json["detail"]["data"]["Action"], action);
        let back: EventBridgeEvent<EventEnvelope> = serde_json::from_value(json).unwrap();
        assert_eq!(back.detail, envelope);
    }
}

#[test]
fn the_wire_shape_matches_the_design() {
    let envelope = Envelope::new(
        metadata(false),
        Event::from(FileDeletedV1 {
            file_id: Uuid::from_u128(7),
            folder: folder("Docs"),
            name: name("x.txt"),
            version: 4,
        }),
    );
    let json = serde_json::to_value(&envelope).unwrap();
    assert_eq!(
        json,
        json!({
            "metadata": {
                "EventVersion": 1,
                "EventId": "00000000-0000-0000-0000-00000000002a",
                "TraceId": "1-5759e988-bd862e3fe1be46a994272793",
                "CommandId": "01234567-89ab-cdef-0123-456789abcdef",
                "OccurredAt": "2026-03-03T09:05:07.123Z",
                "Producer": "test",
                "UserId": "6f1c0d0e-0000-4000-8000-000000000001"
            },
            "data": {
                "Action": "FileDeleted",
                "FileId": "00000000-0000-0000-0000-000000000007",
                "Folder": "Docs",
                "Name": "x.txt",
                "Version": 4
            }
        })
    );
    let _ = COMMAND_SOURCE;
}

fn decode(json: Value) -> Result<EventEnvelope, String> {
    serde_json::from_value(json).map_err(|e| e.to_string())
}

#[test]
fn unknown_actions_versions_and_bad_bodies_are_refused_clearly() {
    let good = serde_json::to_value(Envelope::new(
        metadata(false),
        Event::from(FolderCreatedV1 { path: folder("A") }),
    ))
    .unwrap();

    let mut unknown = good.clone();
    unknown["data"]["Action"] = json!("FileExploded");
    assert!(
        decode(unknown)
            .unwrap_err()
            .contains("unknown action `FileExploded`")
    );

    let mut future = good.clone();
    future["metadata"]["EventVersion"] = json!(9);
    assert!(
        decode(future)
            .unwrap_err()
            .contains("`FolderCreated` has no version 9")
    );

    let mut traversal = good.clone();
    traversal["data"]["Path"] = json!("A/../../etc");
    assert!(
        decode(traversal)
            .unwrap_err()
            .contains("can't be used as a name")
    );

    let mut no_action = good.clone();
    no_action["data"].as_object_mut().unwrap().remove("Action");
    assert!(decode(no_action).unwrap_err().contains("Action"));

    let mut bad_time = good.clone();
    bad_time["metadata"]["OccurredAt"] = json!("yesterday");
    assert!(decode(bad_time).unwrap_err().contains("RFC 3339"));

    // Consumers of v1 tolerate fields added later (compatible evolution).
    let mut extended = good.clone();
    extended["data"]["AddedLater"] = json!(true);
    extended["metadata"]["AddedLater"] = json!("x");
    assert!(decode(extended).is_ok());
}

#[test]
fn payload_decode_errors_are_typed() {
    assert_eq!(
        Event::from_data("Nope", 1, json!({})),
        Err(DecodeError::UnknownAction("Nope".into()))
    );
    assert!(matches!(
        Command::from_data("DeleteFile", 1, json!({"FileId": "not-a-uuid"})),
        Err(DecodeError::Malformed { .. })
    ));
}

#[test]
fn the_api_error_body_has_one_documented_shape() {
    let error =
        ApiError::new(ErrorCode::InvalidName, "A name can't contain “/”.").with_trace_id("t-1");
    let json = serde_json::to_value(&error).unwrap();
    assert_eq!(
        json,
        json!({"code": "InvalidName", "message": "A name can't contain “/”.", "retryable": false, "traceId": "t-1"})
    );
    assert_eq!(serde_json::from_value::<ApiError>(json).unwrap(), error);
    assert!(ApiError::new(ErrorCode::Unavailable, "later").retryable);
    assert_eq!(ErrorCode::NotFound.http_status(), 404);
    let from_path: ApiError = FileName::parse("a/b").unwrap_err().into();
    assert_eq!(from_path.code, ErrorCode::InvalidName);
}

#[test]
fn trace_ids_are_bounded_printable_ascii() {
    assert!(TraceId::parse("").is_err());
    assert!(TraceId::parse("has space").is_err());
    assert!(TraceId::parse(&"x".repeat(129)).is_err());
    assert!(TraceId::parse(&"x".repeat(128)).is_ok());
}

/// `FileCreated` v2 added a required field (`Lineage`), so v1 is published
/// beside it: a consumer of each version reads its own edition, and each
/// edition is valid against its committed schema.
#[test]
fn file_created_reaches_a_consumer_of_each_version() {
    let lineage = Uuid::from_u128(6);
    let v2 = FileCreatedV2 {
        file_id: Uuid::from_u128(7),
        folder: folder("Reports"),
        name: name("a.txt"),
        size: 3,
        content_type: "text/plain".into(),
        sha256: Some("ab".repeat(32)),
        e_tag: "\"e\"".into(),
        version: 2,
        lineage,
        replaced: Some(lineage),
    };
    let editions = Event::FileCreated(v2.clone()).editions();
    let wire: Vec<Value> = editions
        .into_iter()
        .map(|event| serde_json::to_value(Envelope::new(metadata(false), event)).unwrap())
        .collect();
    assert_eq!(wire.len(), 2);
    let schema = |version: u32| -> Value {
        let path = format!(
            "{}/schemas/events/FileCreated.v{version}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    // A v1 consumer: takes the edition it knows, sees what v1 says.
    let v1_consumer = |detail: &Value| -> Option<FileCreatedV1> {
        (detail["data"]["Action"] == "FileCreated" && detail["metadata"]["EventVersion"] == 1).then(
            || {
                let mut data = detail["data"].clone();
                data.as_object_mut().unwrap().remove("Action");
                serde_json::from_value(data).unwrap()
            },
        )
    };
    // A v2 consumer: the newest edition, lineage and all.
    let v2_consumer = |detail: &Value| -> Option<FileCreatedV2> {
        let envelope: EventEnvelope = serde_json::from_value(detail.clone()).ok()?;
        match envelope.into_parts().1 {
            Event::FileCreated(body) => Some(body),
            _ => None,
        }
    };
    let read_v1: Vec<FileCreatedV1> = wire.iter().filter_map(v1_consumer).collect();
    let read_v2: Vec<FileCreatedV2> = wire.iter().filter_map(v2_consumer).collect();
    assert_eq!(read_v2, std::slice::from_ref(&v2));
    assert_eq!(read_v1.len(), 1);
    assert_eq!(
        (read_v1[0].file_id, read_v1[0].size, read_v1[0].version),
        (v2.file_id, v2.size, v2.version)
    );
    // Each edition is valid against its own committed schema. (Each gets
    // an id of its own where it is published: `ferry_core::events`.)
    for detail in &wire {
        let version = detail["metadata"]["EventVersion"].as_u64().unwrap() as u32;
        let validator = jsonschema::draft202012::new(&schema(version)).unwrap();
        assert!(validator.is_valid(detail), "v{version}: {detail}");
    }
    assert!(wire[1]["data"].get("Lineage").is_none());
    assert!(Event::FileCreatedV1(read_v1[0].clone()).is_older_edition());
    assert!(!Event::FileCreated(v2).is_older_edition());
}
