//! The rows the file grid shows, owned so the grid can diff them: a folder's
//! (from [`FolderState`]) or a search's (from the API's answer), in the order
//! the sort headers ask for.

use crate::folder::{FolderState, PendingAction, Row, SortBy};
use ferry_protocol::FolderPath;
use ferry_protocol::api::{FileView, ThumbnailReadiness};
use uuid::Uuid;

/// One row as rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowView {
    /// The selection key: a file id, or `folder:` and a path.
    pub key: String,
    /// A folder or a file.
    pub kind: RowKind,
    /// The name shown.
    pub name: String,
    /// For search results: the folder it is in.
    pub place: Option<FolderPath>,
    /// A file's size.
    pub size: Option<u64>,
    /// Last change, Unix milliseconds.
    pub modified: Option<i64>,
    /// "Deleting…", "Uploading…", or empty.
    pub status: String,
    /// The file's version in the index.
    pub version: u64,
    /// A file's SHA-256 (hex), when the index has it.
    pub sha256: Option<String>,
    /// A file's type, as the index keeps it (the tiles name a file's kind
    /// by it; the rule is `ferry_protocol::preview`, run where the tiles
    /// are, not for every row); empty for a folder.
    pub content_type: String,
    /// Whether the file's thumbnails are made (the tiles ask for them
    /// then), or can't be; `None` while nothing is known.
    pub thumbnail: Option<ThumbnailReadiness>,
}

/// What a row stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowKind {
    /// A folder, by path.
    Folder(FolderPath),
    /// A file, by id.
    File(Uuid),
}

impl RowView {
    /// A file's row; `place` shows its folder (for search results).
    pub fn file(file: &FileView, pending: Option<&PendingAction>, place: bool) -> Self {
        let status = match pending {
            Some(action) => action.label().to_owned(),
            None if file.status == "uploading" => "Uploading…".to_owned(),
            None => String::new(),
        };
        Self {
            key: file.file_id.to_string(),
            kind: RowKind::File(file.file_id),
            name: file.name.as_str().to_owned(),
            place: place.then(|| file.folder.clone()),
            size: Some(file.size),
            modified: Some(file.updated_at.unix_millis()),
            status,
            version: file.version,
            sha256: file.sha256.clone(),
            content_type: file.content_type.clone(),
            thumbnail: file.thumbnail.as_ref().map(|t| t.state),
        }
    }

    /// Whether the row is a file.
    pub fn is_file(&self) -> bool {
        matches!(self.kind, RowKind::File(_))
    }
}

/// A folder's rows: folders first, names containing `filter` only.
pub fn folder_rows(
    state: &FolderState,
    sort: SortBy,
    descending: bool,
    filter: &str,
) -> Vec<RowView> {
    state
        .rows(sort, descending, filter)
        .into_iter()
        .map(|row| match row {
            Row::Folder(folder) => RowView {
                key: format!("folder:{}", folder.path),
                kind: RowKind::Folder(folder.path.clone()),
                name: folder.name.clone(),
                place: None,
                size: None,
                modified: Some(folder.created_at.unix_millis()),
                status: String::new(),
                version: 0,
                sha256: None,
                content_type: String::new(),
                thumbnail: None,
            },
            Row::File(file) => RowView::file(
                &file.file,
                file.pending.as_ref().map(|(_, action)| action),
                false,
            ),
        })
        .collect()
}

/// A search's rows, sorted by the same headers as a folder's.
pub fn search_rows(found: &[FileView], sort: SortBy, descending: bool) -> Vec<RowView> {
    let mut rows: Vec<RowView> = found.iter().map(|f| RowView::file(f, None, true)).collect();
    crate::order::sort_by(&mut rows, &|a, b| {
        let by_name = a.name.cmp(&b.name).then_with(|| a.key.cmp(&b.key));
        match sort {
            SortBy::Name => by_name,
            SortBy::Size => a.size.cmp(&b.size).then(by_name),
            SortBy::Modified => a.modified.cmp(&b.modified).then(by_name),
        }
    });
    if descending {
        rows.reverse();
    }
    rows
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use ferry_protocol::FileName;
    use ferry_protocol::envelope::Timestamp;

    fn file(name: &str, folder: &str, size: u64, millis: i64) -> FileView {
        serde_json::from_value(serde_json::json!({
            "fileId": Uuid::new_v4(),
            "folder": folder,
            "name": name,
            "size": size,
            "contentType": "text/plain",
            "status": "available",
            "version": 1,
            "createdAt": Timestamp::from_unix_millis(millis).unwrap().to_string(),
            "updatedAt": Timestamp::from_unix_millis(millis).unwrap().to_string(),
        }))
        .unwrap()
    }

    #[test]
    fn search_results_sort_by_the_headers_and_show_their_folder() {
        let found = vec![
            file("b.txt", "docs", 30, 1_000),
            file("a.txt", "photos/2026", 10, 3_000),
            file("c.txt", "", 20, 2_000),
        ];
        let names = |rows: Vec<RowView>| rows.into_iter().map(|r| r.name).collect::<Vec<_>>();
        assert_eq!(
            names(search_rows(&found, SortBy::Name, false)),
            ["a.txt", "b.txt", "c.txt"]
        );
        assert_eq!(
            names(search_rows(&found, SortBy::Size, true)),
            ["b.txt", "c.txt", "a.txt"]
        );
        assert_eq!(
            names(search_rows(&found, SortBy::Modified, false)),
            ["b.txt", "c.txt", "a.txt"]
        );
        let row = &search_rows(&found, SortBy::Name, false)[0];
        assert_eq!(row.place, Some(FolderPath::parse("photos/2026").unwrap()));
        assert!(row.is_file());
        assert_eq!(FileName::parse(&row.name).unwrap().as_str(), "a.txt");
    }

    #[test]
    fn an_uploading_file_says_so_and_a_pending_command_wins() {
        let mut uploading = file("big.bin", "", 5, 0);
        uploading.status = "uploading".into();
        assert_eq!(RowView::file(&uploading, None, false).status, "Uploading…");
        assert_eq!(
            RowView::file(&uploading, Some(&PendingAction::Deleting), false).status,
            "Deleting…"
        );
        assert_eq!(RowView::file(&uploading, None, false).place, None);
    }
}
