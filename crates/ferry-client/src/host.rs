//! The details of the host-page events built from what the client holds:
//! the grid's selection and a failed request. The shapes themselves, and
//! the details built from the backend's events alone, are
//! `ferry_protocol::host`'s; the element only dispatches what these answer.

use crate::failure::ApiFailure;
use crate::listview::Selection;
use crate::rows::{RowKind, RowView};
use ferry_protocol::host::{ElementErrorCode, ErrorV1, SelectedEntry, SelectionChangeV1};
use ferry_protocol::{ErrorCode, FolderPath};

/// `ferry-selection-change`'s detail: the selected rows in the order the
/// grid shows them, folders included. `shown` is the folder on screen; a
/// search's rows carry their own folder.
pub fn selection_change(
    shown: &FolderPath,
    rows: &[RowView],
    selection: &Selection,
) -> SelectionChangeV1 {
    let files = rows
        .iter()
        .filter(|row| selection.is_selected(&row.key))
        .map(|row| match &row.kind {
            RowKind::File(id) => SelectedEntry::File {
                id: *id,
                name: row.name.clone(),
                folder: row.place.clone().unwrap_or_else(|| shown.clone()),
                size: row.size.unwrap_or_default(),
            },
            RowKind::Folder(path) => SelectedEntry::Folder {
                path: path.clone(),
                name: row.name.clone(),
                folder: path.parent().unwrap_or_default(),
            },
        })
        .collect();
    SelectionChangeV1::new(files)
}

/// `ferry-error`'s detail for a request that didn't succeed, with the same
/// sentence the element shows the person.
pub fn request_error(failure: &ApiFailure) -> ErrorV1 {
    match failure {
        ApiFailure::Refused { error, .. } => ErrorV1::from(error),
        ApiFailure::Unreachable => ErrorV1::new(ElementErrorCode::Unreachable, failure.to_string()),
        ApiFailure::SignedOut => ErrorV1::new(ErrorCode::Unauthorized, failure.to_string()),
    }
}

/// `ferry-error`'s detail when a view's chunk can't be fetched, as JSON
/// text: written out, so the first load carries no serializer for it (a
/// test checks that it is what [`ErrorV1`] serializes to).
pub const CHUNK_LOAD_FAILED_DETAIL: &str = concat!(
    r#"{"schemaVersion":1,"code":"ChunkLoadFailed","message":""#,
    "Part of Ferry couldn't be loaded. Check your connection and try again.",
    r#"","retryable":true}"#
);

/// What such a view says in the page: the detail's message, the same
/// bytes (one copy in the download).
pub const CHUNK_LOAD_FAILED: &str = CHUNK_LOAD_FAILED_DETAIL
    .split_at(r#"{"schemaVersion":1,"code":"ChunkLoadFailed","message":""#.len())
    .1
    .split_at(
        CHUNK_LOAD_FAILED_DETAIL.len()
            - r#"{"schemaVersion":1,"code":"ChunkLoadFailed","message":""#.len()
            - r#"","retryable":true}"#.len(),
    )
    .0;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::listview::Key;
    use ferry_protocol::ApiError;
    use ferry_protocol::host::HostErrorCode;
    use uuid::Uuid;

    fn folder(text: &str) -> FolderPath {
        FolderPath::parse(text).unwrap()
    }

    fn file_row(id: Uuid, name: &str, size: u64, place: Option<&str>) -> RowView {
        RowView {
            key: id.to_string(),
            kind: RowKind::File(id),
            name: name.into(),
            place: place.map(folder),
            size: Some(size),
            modified: None,
            status: String::new(),
            version: 1,
            sha256: None,
            content_type: String::new(),
            thumbnail: None,
        }
    }

    fn folder_row(path: &str) -> RowView {
        let path = folder(path);
        RowView {
            key: format!("folder:{path}"),
            kind: RowKind::Folder(path.clone()),
            name: path.name().unwrap().to_owned(),
            place: None,
            size: None,
            modified: None,
            status: String::new(),
            version: 0,
            sha256: None,
            content_type: String::new(),
            thumbnail: None,
        }
    }

    fn keys(rows: &[RowView]) -> Vec<String> {
        rows.iter().map(|r| r.key.clone()).collect()
    }

    #[test]
    fn the_selection_goes_in_the_grids_order_with_its_folders() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let rows = vec![
            folder_row("Reports/Drafts"),
            file_row(a, "a.pdf", 10, None),
            file_row(b, "b.pdf", 20, None),
        ];
        let mut selection = Selection::default();
        // Picked last to first: the detail still follows the grid.
        selection.toggle(&rows[2].key);
        selection.toggle(&rows[0].key);
        let detail = selection_change(&folder("Reports"), &rows, &selection);
        assert_eq!(
            detail.files,
            [
                SelectedEntry::Folder {
                    path: folder("Reports/Drafts"),
                    name: "Drafts".into(),
                    folder: folder("Reports"),
                },
                SelectedEntry::File {
                    id: b,
                    name: "b.pdf".into(),
                    folder: folder("Reports"),
                    size: 20,
                },
            ]
        );
    }

    #[test]
    fn a_search_result_carries_its_own_folder() {
        let id = Uuid::from_u128(3);
        let rows = vec![file_row(id, "q1.pdf", 5, Some("Archive/2019"))];
        let mut selection = Selection::default();
        selection.toggle_all(&keys(&rows));
        let detail = selection_change(&FolderPath::root(), &rows, &selection);
        assert!(matches!(
            &detail.files[..],
            [SelectedEntry::File { folder, .. }] if folder.as_str() == "Archive/2019"
        ));
    }

    #[test]
    fn nothing_selected_is_an_empty_list() {
        let rows = vec![file_row(Uuid::from_u128(4), "a.txt", 1, None)];
        let mut selection = Selection::default();
        selection.toggle_all(&keys(&rows));
        // Esc clears it again.
        selection.key(Key::Escape, false, &keys(&rows), 10);
        let detail = selection_change(&FolderPath::root(), &rows, &selection);
        assert!(detail.files.is_empty(), "{detail:?}");
        assert_eq!(
            serde_json::to_value(&detail).unwrap(),
            serde_json::json!({"schemaVersion": 1, "files": []})
        );
    }

    #[test]
    fn a_failed_request_keeps_the_apis_code_or_says_it_went_unanswered() {
        let refused = ApiFailure::Refused {
            status: 409,
            error: ApiError::new(ErrorCode::Conflict, "A file of that name is already there.")
                .with_trace_id("t-1"),
        };
        let detail = request_error(&refused);
        assert_eq!(detail.code, HostErrorCode::Api(ErrorCode::Conflict));
        assert_eq!(detail.message, "A file of that name is already there.");
        assert_eq!(detail.trace_id.as_deref(), Some("t-1"));

        let detail = request_error(&ApiFailure::Unreachable);
        assert_eq!(
            detail.code,
            HostErrorCode::Element(ElementErrorCode::Unreachable)
        );
        assert!(detail.retryable);
        assert_eq!(detail.message, ApiFailure::Unreachable.to_string());

        let detail = request_error(&ApiFailure::SignedOut);
        assert_eq!(detail.code, HostErrorCode::Api(ErrorCode::Unauthorized));
        assert!(!detail.retryable);
    }

    #[test]
    fn the_chunk_error_detail_is_error_v1s() {
        assert_eq!(
            CHUNK_LOAD_FAILED,
            "Part of Ferry couldn't be loaded. Check your connection and try again."
        );
        let error = ErrorV1::new(ElementErrorCode::ChunkLoadFailed, CHUNK_LOAD_FAILED);
        assert_eq!(
            serde_json::to_string(&error).unwrap(),
            CHUNK_LOAD_FAILED_DETAIL
        );
    }
}
