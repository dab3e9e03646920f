//! The index port's contract for the trash and versions: trashed files and
//! versions leave listings and free their names but keep counting toward
//! usage; trash items list newest first and page; a trash item's files and a
//! lineage's versions are found without reading anything else.

use super::{at, file, folder, next, user};
use crate::model::{FileRecord, FileStatus, ListQuery, SortKey, TrashItem, TrashKind, UserId};
use crate::ports::{Index, PortError};
use ferry_protocol::{FileName, FolderPath, Timestamp};
use std::sync::Arc;
use uuid::Uuid;

/// An available file, inserted.
async fn available(
    index: &dyn Index,
    owner: &UserId,
    path: &str,
    name: &str,
    size: u64,
) -> FileRecord {
    let record = file(owner, path, name, size);
    index.insert_file(&record, None, false).await.unwrap();
    let record_available = next(&record, |f| f.status = FileStatus::Available);
    index.update_file(&record_available, 1).await.unwrap();
    record_available
}

/// `record` moved to the trash item `trash_id`.
async fn trash(index: &dyn Index, record: &FileRecord, trash_id: Uuid) -> FileRecord {
    let trashed = next(record, |f| {
        f.status = FileStatus::Trashed;
        f.trash_id = Some(trash_id);
    });
    index.update_file(&trashed, record.version).await.unwrap();
    trashed
}

pub fn trash_item(owner: &UserId, path: &str, name: &str, trashed_at: Timestamp) -> TrashItem {
    TrashItem {
        user: owner.clone(),
        trash_id: Uuid::new_v4(),
        kind: TrashKind::File,
        path: folder(path),
        name: name.to_owned(),
        file_id: Some(Uuid::new_v4()),
        files: 1,
        bytes: 10,
        folders: Vec::new(),
        trashed_at,
    }
}

fn query(path: &str) -> ListQuery {
    ListQuery {
        folder: folder(path),
        sort: SortKey::Name,
        descending: false,
        cursor: None,
        limit: 100,
    }
}

/// The port as `trashed_files_and_versions_leave_listings_and_free_their_names` says.
pub async fn trashed_files_and_versions_leave_listings_and_free_their_names(index: Arc<dyn Index>) {
    let ann = user("ann");
    let doomed = available(&*index, &ann, "a", "x.txt", 10).await;
    let old = available(&*index, &ann, "a", "y.txt", 7).await;
    let kept = available(&*index, &ann, "a", "z.txt", 1).await;
    let trash_id = Uuid::new_v4();
    let trashed = trash(&*index, &doomed, trash_id).await;
    assert_eq!(
        index.file(&ann, doomed.file_id).await.unwrap(),
        Some(trashed.clone())
    );
    let version = next(&old, |f| f.status = FileStatus::Version);
    index.update_file(&version, old.version).await.unwrap();

    // Out of the listing and the search, and not found by name.
    let listed = index.list_folder(&ann, &query("a")).await.unwrap();
    let ids: Vec<Uuid> = listed
        .items
        .iter()
        .filter_map(|e| match e {
            crate::model::Entry::File(f) => Some(f.file_id),
            crate::model::Entry::Folder(_) => None,
        })
        .collect();
    assert_eq!(ids, [kept.file_id]);
    let found = index.search(&ann, ".txt", None, 100).await.unwrap();
    assert_eq!(
        found.items.iter().map(|f| f.file_id).collect::<Vec<_>>(),
        [kept.file_id]
    );
    assert_eq!(
        index
            .file_by_name(&ann, &folder("a"), "x.txt")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        index
            .file_by_name(&ann, &folder("a"), "y.txt")
            .await
            .unwrap(),
        None
    );

    // Their bytes still count, and are told apart.
    let usage = index.usage(&ann).await.unwrap();
    assert_eq!(
        (
            usage.bytes,
            usage.files,
            usage.trash_bytes,
            usage.version_bytes
        ),
        (18, 1, 10, 7)
    );
    // And they count toward the quota: 18 stored, 20 allowed, 3 more refused.
    assert!(matches!(
        index
            .insert_file(&file(&ann, "b", "big", 3), Some(20), false)
            .await,
        Err(PortError::QuotaExceeded(_))
    ));

    // Their names are free.
    let newcomer = file(&ann, "a", "x.txt", 1);
    index.insert_file(&newcomer, None, false).await.unwrap();
    let newcomer = next(&newcomer, |f| f.status = FileStatus::Available);
    index.update_file(&newcomer, 1).await.unwrap();
    index
        .insert_file(&file(&ann, "a", "y.txt", 1), None, false)
        .await
        .unwrap();

    // A restore onto a taken name is refused; under another name it works.
    let back = next(&trashed, |f| {
        f.status = FileStatus::Available;
        f.trash_id = None;
    });
    assert!(matches!(
        index.update_file(&back, trashed.version).await,
        Err(PortError::Conflict(_))
    ));
    let renamed = next(&trashed, |f| {
        f.status = FileStatus::Available;
        f.trash_id = None;
        f.name = FileName::parse("x (1).txt").unwrap();
    });
    index.update_file(&renamed, trashed.version).await.unwrap();
    let usage = index.usage(&ann).await.unwrap();
    assert_eq!(
        (usage.trash_bytes, usage.version_bytes, usage.files),
        (0, 7, 4)
    );

    // Removing a version's record frees its bytes.
    assert!(
        index
            .remove_file(&ann, old.file_id, version.version)
            .await
            .unwrap()
    );
    let usage = index.usage(&ann).await.unwrap();
    assert_eq!((usage.bytes, usage.version_bytes), (10 + 1 + 1 + 1, 0));
}

/// The port as `trash_items_list_newest_first_and_page` says.
pub async fn trash_items_list_newest_first_and_page(index: Arc<dyn Index>) {
    let ann = user("ann");
    let bob = user("bob");
    let mut items: Vec<TrashItem> = (0..5)
        .map(|i| {
            trash_item(
                &ann,
                "docs",
                &format!("f{i}"),
                at(if i == 3 { 2 } else { i }),
            )
        })
        .collect();
    items[4].kind = TrashKind::Folder;
    items[4].file_id = None;
    items[4].path = folder("docs/f4");
    items[4].files = 3;
    items[4].folders = vec![folder("docs/f4"), folder("docs/f4/empty")];
    for item in &items {
        index.put_trash(item).await.unwrap();
    }
    index
        .put_trash(&trash_item(&bob, "", "theirs", at(9)))
        .await
        .unwrap();
    // A retry leaves the item as it was.
    let mut again = items[0].clone();
    again.name = "changed".to_owned();
    index.put_trash(&again).await.unwrap();
    assert_eq!(
        index.trash_item(&ann, items[0].trash_id).await.unwrap(),
        Some(items[0].clone())
    );
    assert_eq!(
        index.trash_item(&ann, items[4].trash_id).await.unwrap(),
        Some(items[4].clone())
    );
    assert_eq!(
        index.trash_item(&bob, items[0].trash_id).await.unwrap(),
        None
    );

    // Newest first; equal times by id; two a page, nothing twice.
    let mut expected = items.clone();
    expected.sort_by(|a, b| {
        b.trashed_at
            .cmp(&a.trashed_at)
            .then(a.trash_id.cmp(&b.trash_id))
    });
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = index.list_trash(&ann, cursor.as_deref(), 2).await.unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, expected);
    // An item deleted while paging doesn't shift the next page.
    let first = index.list_trash(&ann, None, 2).await.unwrap();
    assert!(
        index
            .remove_trash(&ann, first.items[0].trash_id)
            .await
            .unwrap()
    );
    assert!(
        !index
            .remove_trash(&ann, first.items[0].trash_id)
            .await
            .unwrap()
    );
    let rest = index
        .list_trash(&ann, first.next_cursor.as_deref(), 10)
        .await
        .unwrap();
    assert_eq!(rest.items, expected[2..]);
    // Another user's trash is their own; a foreign cursor is refused.
    let theirs = index.list_trash(&bob, None, 10).await.unwrap();
    assert_eq!(theirs.items.len(), 1);
    assert!(matches!(
        index.list_trash(&ann, Some("not-a-cursor"), 10).await,
        Err(PortError::Invalid(_))
    ));
    assert!(!index.remove_trash(&bob, items[1].trash_id).await.unwrap());
    assert!(
        index
            .trash_item(&ann, items[1].trash_id)
            .await
            .unwrap()
            .is_some()
    );
}

/// The port as `a_trash_items_files_and_a_lineages_versions_are_found` says.
pub async fn a_trash_items_files_and_a_lineages_versions_are_found(index: Arc<dyn Index>) {
    let ann = user("ann");
    let bob = user("bob");
    let (one, two) = (Uuid::new_v4(), Uuid::new_v4());
    let mut in_one = Vec::new();
    for name in ["a", "b", "c"] {
        let record = available(&*index, &ann, "gone/deep", name, 1).await;
        in_one.push(trash(&*index, &record, one).await);
    }
    let record = available(&*index, &ann, "gone", "d", 1).await;
    trash(&*index, &record, two).await;
    available(&*index, &ann, "gone", "e", 1).await;
    let theirs = available(&*index, &bob, "gone", "a", 1).await;
    trash(&*index, &theirs, one).await;

    in_one.sort_by_key(|f| f.file_id);
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = index
            .trashed_files(&ann, one, cursor.as_deref(), 2)
            .await
            .unwrap();
        seen.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, in_one);
    // Restored, a file is no longer the item's.
    let restored = next(&in_one[0], |f| {
        f.status = FileStatus::Available;
        f.trash_id = None;
    });
    index
        .update_file(&restored, in_one[0].version)
        .await
        .unwrap();
    let page = index.trashed_files(&ann, one, None, 10).await.unwrap();
    assert_eq!(page.items, in_one[1..]);
    assert_eq!(
        index
            .trashed_files(&bob, one, None, 10)
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    // Versions: of one lineage, newest first, never the current file.
    let lineage = Uuid::new_v4();
    let mut versions = Vec::new();
    for (i, created) in [5, 1, 9, 9].into_iter().enumerate() {
        let mut record = file(&ann, "v", &format!("doc{i}"), 2);
        record.lineage = Some(lineage);
        record.created_at = at(created);
        index.insert_file(&record, None, false).await.unwrap();
        let version = next(&record, |f| f.status = FileStatus::Version);
        index.update_file(&version, 1).await.unwrap();
        versions.push(version);
    }
    let mut current = file(&ann, "v", "doc", 2);
    current.lineage = Some(lineage);
    index.insert_file(&current, None, false).await.unwrap();
    let mut other = file(&ann, "v", "other", 2);
    other.lineage = Some(Uuid::new_v4());
    index.insert_file(&other, None, false).await.unwrap();
    let other = next(&other, |f| f.status = FileStatus::Version);
    index.update_file(&other, 1).await.unwrap();
    versions.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then(a.file_id.cmp(&b.file_id))
    });
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = index
            .versions(&ann, lineage, cursor.as_deref(), 3)
            .await
            .unwrap();
        seen.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, versions);
    assert!(
        index
            .versions(&bob, lineage, None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // A file with no lineage of its own has its id as lineage.
    let plain = available(&*index, &ann, "v", "plain", 1).await;
    let plain_version = next(&plain, |f| f.status = FileStatus::Version);
    index
        .update_file(&plain_version, plain.version)
        .await
        .unwrap();
    let page = index.versions(&ann, plain.file_id, None, 10).await.unwrap();
    assert_eq!(page.items, [plain_version]);
}

/// The port as `the_sweep_finds_old_trash_and_old_versions` says.
pub async fn the_sweep_finds_old_trash_and_old_versions(index: Arc<dyn Index>) {
    let mut items = Vec::new();
    for (sub, time) in [("carl", 30), ("ann", 10), ("bob", 20), ("ann", 50)] {
        let item = trash_item(&user(sub), "", "x", at(time));
        index.put_trash(&item).await.unwrap();
        items.push(item);
    }
    let old = index.trash_before(at(40), 10).await.unwrap();
    assert_eq!(old, [items[1].clone(), items[2].clone(), items[0].clone()]);
    assert_eq!(
        index.trash_before(at(40), 1).await.unwrap(),
        [items[1].clone()]
    );

    let ann = user("ann");
    let record = available(&*index, &ann, "", "old", 1).await;
    let version = next(&record, |f| f.status = FileStatus::Version);
    index.update_file(&version, record.version).await.unwrap();
    let found = index
        .files_with_status(FileStatus::Version, version.updated_at, 10)
        .await
        .unwrap();
    assert!(found.is_empty());
    let later = Timestamp::new(version.updated_at.get() + time::Duration::seconds(1));
    let found = index
        .files_with_status(FileStatus::Version, later, 10)
        .await
        .unwrap();
    assert_eq!(found, [version]);
    let record = available(&*index, &ann, "", "binned", 1).await;
    let trashed = trash(&*index, &record, Uuid::new_v4()).await;
    let later = Timestamp::new(trashed.updated_at.get() + time::Duration::seconds(1));
    let found = index
        .files_with_status(FileStatus::Trashed, later, 10)
        .await
        .unwrap();
    assert_eq!(found, [trashed]);
}

/// The port as `folders_under_lists_the_tree_below_a_folder` says.
pub async fn folders_under_lists_the_tree_below_a_folder(index: Arc<dyn Index>) {
    let ann = user("ann");
    for path in ["a/b/c", "a/d", "ab", "a2/x"] {
        index
            .create_folder(&ann, &folder(path), at(0))
            .await
            .unwrap();
    }
    // A folder that exists as a file's parent only counts too.
    index
        .insert_file(&file(&ann, "a/e/f", "x", 1), None, false)
        .await
        .unwrap();
    index
        .create_folder(&user("bob"), &folder("a/zz"), at(0))
        .await
        .unwrap();
    let mut seen: Vec<FolderPath> = Vec::new();
    let mut cursor = None;
    loop {
        let page = index
            .folders_under(&ann, &folder("a"), cursor.as_deref(), 2)
            .await
            .unwrap();
        seen.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let paths: Vec<&str> = seen.iter().map(FolderPath::as_str).collect();
    assert_eq!(paths, ["a/b", "a/b/c", "a/d", "a/e", "a/e/f"]);
    assert!(
        index
            .folders_under(&ann, &folder("a/d"), None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

/// The port as `only_current_files_keep_their_folders` says.
pub async fn only_current_files_keep_their_folders(index: Arc<dyn Index>) {
    let ann = user("ann");
    let inside = available(&*index, &ann, "old/deep", "x", 1).await;
    let trashed = trash(&*index, &inside, Uuid::new_v4()).await;
    // A trashed file's folders can go; it doesn't bring them back.
    assert!(
        index
            .remove_folder_tree(&ann, &folder("old"))
            .await
            .unwrap()
    );
    assert!(!index.folder_exists(&ann, &folder("old")).await.unwrap());
    assert!(
        !index
            .folder_exists(&ann, &folder("old/deep"))
            .await
            .unwrap()
    );
    let root = index.list_folder(&ann, &query("")).await.unwrap();
    assert!(root.items.is_empty(), "{:?}", root.items);
    // Restored, it does.
    let back = next(&trashed, |f| {
        f.status = FileStatus::Available;
        f.trash_id = None;
    });
    index.update_file(&back, trashed.version).await.unwrap();
    assert!(
        index
            .folder_exists(&ann, &folder("old/deep"))
            .await
            .unwrap()
    );
    // A version keeps no folder either.
    let version = next(&back, |f| f.status = FileStatus::Version);
    index.update_file(&version, back.version).await.unwrap();
    assert!(
        index
            .remove_folder_tree(&ann, &folder("old"))
            .await
            .unwrap()
    );
    assert!(
        !index
            .folder_exists(&ann, &folder("old/deep"))
            .await
            .unwrap()
    );
    assert_eq!(
        index.file(&ann, version.file_id).await.unwrap(),
        Some(version)
    );
}
