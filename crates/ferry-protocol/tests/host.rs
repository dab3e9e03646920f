//! The details `<ferry-files>` dispatches on its host page, exactly as a
//! portal receives them. Each literal below is the documented example of its
//! event: it is what the type serialises to, it reads back into the same
//! value, and it is valid under the committed schema in `schemas/host/`.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

use ferry_protocol::host::*;
use ferry_protocol::messages::{
    CommandFailedV1, FileCreatedV1, FileDeletedV1, FileMovedV1, FolderDeletedV1,
};
use ferry_protocol::{ApiError, ErrorCode, Event, FileName, FolderPath, Timestamp};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::fmt::Debug;
use std::path::Path;
use uuid::Uuid;

const FILE_ID: &str = "0195f3a2-7c1e-7d4a-9b8e-2f6a1c3d5e7f";
const SHA256: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn file_id() -> Uuid {
    Uuid::parse_str(FILE_ID).unwrap()
}

fn folder(text: &str) -> FolderPath {
    FolderPath::parse(text).unwrap()
}

fn name(text: &str) -> FileName {
    FileName::parse(text).unwrap()
}

fn committed_schema(name: &str, version: u32) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas/host")
        .join(format!("{name}.v{version}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `detail` is written as `wire`, `wire` reads back as `detail`, and `wire`
/// is valid under the detail's published schema.
fn example<T>(detail: T, wire: Value)
where
    T: HostEvent + DeserializeOwned + PartialEq + Debug,
{
    assert_eq!(serde_json::to_value(&detail).unwrap(), wire, "{}", T::NAME);
    assert_eq!(serde_json::from_value::<T>(wire.clone()).unwrap(), detail);
    let schema = committed_schema(T::NAME, T::VERSION);
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&wire)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}: {errors:?}", T::NAME);
}

#[test]
fn ferry_ready() {
    example(
        ReadyV1::new(folder("Reports/2026"), true),
        json!({
            "schemaVersion": 1,
            "contract": 1,
            "folder": "Reports/2026",
            "signedIn": true
        }),
    );
    example(
        ReadyV1::new(FolderPath::root(), false),
        json!({"schemaVersion": 1, "contract": 1, "folder": "", "signedIn": false}),
    );
}

#[test]
fn ferry_navigate() {
    example(
        NavigateV1::new(folder("Reports/2026/Q1")),
        json!({"schemaVersion": 1, "folder": "Reports/2026/Q1"}),
    );
}

#[test]
fn ferry_selection_change() {
    example(
        SelectionChangeV1::new(vec![
            SelectedEntry::Folder {
                path: folder("Reports/2026/Drafts"),
                name: "Drafts".into(),
                folder: folder("Reports/2026"),
            },
            SelectedEntry::File {
                id: file_id(),
                name: "Q1 résumé.pdf".into(),
                folder: folder("Reports/2026"),
                size: 1_048_576,
            },
        ]),
        json!({
            "schemaVersion": 1,
            "files": [
                {
                    "kind": "folder",
                    "path": "Reports/2026/Drafts",
                    "name": "Drafts",
                    "folder": "Reports/2026"
                },
                {
                    "kind": "file",
                    "id": FILE_ID,
                    "name": "Q1 résumé.pdf",
                    "folder": "Reports/2026",
                    "size": 1048576
                }
            ]
        }),
    );
    // Nothing selected any more.
    example(
        SelectionChangeV1::new(Vec::new()),
        json!({"schemaVersion": 1, "files": []}),
    );
}

fn created(sha256: Option<&str>) -> FileCreatedV1 {
    FileCreatedV1 {
        file_id: file_id(),
        folder: folder("Reports/2026"),
        name: name("Q1 résumé.pdf"),
        size: 1_048_576,
        content_type: "application/pdf".into(),
        sha256: sha256.map(str::to_owned),
        e_tag: "\"d41d8cd98f00b204e9800998ecf8427e\"".into(),
        version: 3,
    }
}

#[test]
fn ferry_upload_complete() {
    example(
        UploadCompleteV1::from(&created(Some(SHA256))),
        json!({
            "schemaVersion": 1,
            "file": {
                "id": FILE_ID,
                "name": "Q1 résumé.pdf",
                "folder": "Reports/2026",
                "size": 1048576,
                "contentType": "application/pdf",
                "sha256": SHA256,
                "version": 3
            }
        }),
    );
}

#[test]
fn an_upload_complete_always_has_the_sha256_key_and_in_lower_case() {
    let upper = UploadCompleteV1::from(&created(Some(&SHA256.to_ascii_uppercase())));
    assert_eq!(upper.file.sha256.as_deref(), Some(SHA256));

    // A deployment without upload checksums: the key is there, as null,
    // so a host reading `file.sha256` never meets `undefined`.
    let wire = serde_json::to_value(UploadCompleteV1::from(&created(None))).unwrap();
    assert_eq!(wire["file"]["sha256"], Value::Null);
    let validator = jsonschema::draft202012::new(&committed_schema(UPLOAD_COMPLETE, 1)).unwrap();
    assert!(validator.is_valid(&wire));
    let mut without = wire.clone();
    without["file"].as_object_mut().unwrap().remove("sha256");
    assert!(!validator.is_valid(&without), "sha256 is required");
}

fn moved(from_folder: &str, from_name: &str, to_folder: &str, to_name: &str) -> Event {
    Event::FileMoved(FileMovedV1 {
        file_id: file_id(),
        from_folder: folder(from_folder),
        from_name: name(from_name),
        to_folder: folder(to_folder),
        to_name: name(to_name),
        version: 4,
        replaced: None,
    })
}

#[test]
fn ferry_file_changed_renamed() {
    example(
        FileChangedV1::from_event(&moved(
            "Reports/2026",
            "Q1 résumé.pdf",
            "Reports/2026",
            "Q1 final.pdf",
        ))
        .unwrap(),
        json!({
            "schemaVersion": 1,
            "action": "renamed",
            "file": {
                "kind": "file",
                "id": FILE_ID,
                "name": "Q1 final.pdf",
                "folder": "Reports/2026",
                "version": 4
            },
            "from": {"folder": "Reports/2026", "name": "Q1 résumé.pdf"}
        }),
    );
}

#[test]
fn ferry_file_changed_moved() {
    // Moved and renamed at once is `moved`; `from` tells the old name.
    example(
        FileChangedV1::from_event(&moved("Reports/2026", "Q1 final.pdf", "Archive", "Q1.pdf"))
            .unwrap(),
        json!({
            "schemaVersion": 1,
            "action": "moved",
            "file": {
                "kind": "file",
                "id": FILE_ID,
                "name": "Q1.pdf",
                "folder": "Archive",
                "version": 4
            },
            "from": {"folder": "Reports/2026", "name": "Q1 final.pdf"}
        }),
    );
}

#[test]
fn ferry_file_changed_deleted() {
    let deleted = Event::FileDeleted(FileDeletedV1 {
        file_id: file_id(),
        folder: folder("Archive"),
        name: name("Q1.pdf"),
        version: 5,
    });
    example(
        FileChangedV1::from_event(&deleted).unwrap(),
        json!({
            "schemaVersion": 1,
            "action": "deleted",
            "file": {
                "kind": "file",
                "id": FILE_ID,
                "name": "Q1.pdf",
                "folder": "Archive",
                "version": 5
            }
        }),
    );
}

#[test]
fn ferry_file_changed_folder_deleted() {
    let deleted = Event::FolderDeleted(FolderDeletedV1 {
        path: folder("Archive/2019"),
        files_deleted: 12,
    });
    example(
        FileChangedV1::from_event(&deleted).unwrap(),
        json!({
            "schemaVersion": 1,
            "action": "deleted",
            "file": {
                "kind": "folder",
                "path": "Archive/2019",
                "name": "2019",
                "folder": "Archive",
                "filesDeleted": 12
            }
        }),
    );
    // A folder at the top is in the root, `""`.
    let top = Event::FolderDeleted(FolderDeletedV1 {
        path: folder("Archive"),
        files_deleted: 0,
    });
    let detail = FileChangedV1::from_event(&top).unwrap();
    assert!(matches!(
        detail.file,
        ChangedEntry::Folder { ref name, ref folder, .. } if name == "Archive" && folder.is_root()
    ));
}

#[test]
fn only_renames_moves_and_deletions_are_file_changes() {
    let failed = Event::CommandFailed(CommandFailedV1 {
        command_action: "MoveFile".into(),
        code: ErrorCode::Conflict,
        message: "A file of that name is already there.".into(),
        issued_at: Timestamp::from_unix_millis(1_772_528_707_123).unwrap(),
    });
    assert_eq!(FileChangedV1::from_event(&failed), None);
    assert_eq!(
        FileChangedV1::from_event(&Event::FileCreatedV1(created(None))),
        None
    );
}

#[test]
fn ferry_error_from_the_api() {
    let refused = ApiError::new(
        ErrorCode::QuotaExceeded,
        "This upload would take you over your 10 GB.",
    )
    .with_trace_id("1-5759e988-bd862e3fe1be46a994272793");
    example(
        ErrorV1::from(&refused),
        json!({
            "schemaVersion": 1,
            "code": "QuotaExceeded",
            "message": "This upload would take you over your 10 GB.",
            "retryable": false,
            "traceId": "1-5759e988-bd862e3fe1be46a994272793"
        }),
    );
}

#[test]
fn ferry_error_from_the_element() {
    example(
        ErrorV1::new(
            ElementErrorCode::TokenProviderFailed,
            "Your portal session has ended.",
        ),
        json!({
            "schemaVersion": 1,
            "code": "TokenProviderFailed",
            "message": "Your portal session has ended.",
            "retryable": false
        }),
    );
    example(
        ErrorV1::new(
            ElementErrorCode::ChunkLoadFailed,
            "Part of Ferry couldn't be loaded. Reload the page to try again.",
        ),
        json!({
            "schemaVersion": 1,
            "code": "ChunkLoadFailed",
            "message": "Part of Ferry couldn't be loaded. Reload the page to try again.",
            "retryable": true
        }),
    );
}

#[test]
fn the_api_and_the_element_never_share_an_error_code() {
    let schema = committed_schema(ERROR, 1);
    let codes = |definition: &str| -> BTreeSet<String> {
        schema["$defs"][definition]["oneOf"]
            .as_array()
            .unwrap()
            .iter()
            .map(|value| value["const"].as_str().unwrap().to_owned())
            .collect()
    };
    let (api, element) = (codes("ErrorCode"), codes("ElementErrorCode"));
    assert!(api.contains("NotFound") && element.contains("Unreachable"));
    assert_eq!(api.intersection(&element).count(), 0);
    // So reading a code back finds the set it came from.
    let read = |code: &str| serde_json::from_value::<HostErrorCode>(json!(code)).unwrap();
    assert_eq!(read("NotFound"), HostErrorCode::Api(ErrorCode::NotFound));
    assert_eq!(
        read("Unreachable"),
        HostErrorCode::Element(ElementErrorCode::Unreachable)
    );
}

#[test]
fn ferry_signed_out() {
    example(
        SignedOutV1::new(SignOutReason::ProviderFailed),
        json!({"schemaVersion": 1, "reason": "providerFailed"}),
    );
    example(
        SignedOutV1::new(SignOutReason::Host),
        json!({"schemaVersion": 1, "reason": "host"}),
    );
}

#[test]
fn a_detail_of_another_version_is_not_read_as_this_one() {
    let error = serde_json::from_value::<NavigateV1>(json!({"schemaVersion": 2, "folder": ""}))
        .unwrap_err();
    assert!(error.to_string().contains("schemaVersion 2"), "{error}");
}

#[test]
fn every_event_is_listed_once_under_a_ferry_name() {
    let names: Vec<&str> = HOST_EVENTS.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            READY,
            NAVIGATE,
            SELECTION_CHANGE,
            UPLOAD_COMPLETE,
            FILE_CHANGED,
            ERROR,
            SIGNED_OUT
        ]
    );
    assert_eq!(names.iter().collect::<BTreeSet<_>>().len(), names.len());
    for name in names {
        // A DOM event type a portal can write in `addEventListener`.
        assert!(name.starts_with("ferry-"), "{name}");
        assert!(
            name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
            "{name}"
        );
    }
    assert_eq!(HOST_CONTRACT, 1);
    assert!(HOST_EVENTS.iter().all(|(_, version)| *version == 1));
}
