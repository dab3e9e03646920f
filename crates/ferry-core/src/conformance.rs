//! The index port's contract as tests any adapter must pass: conditional
//! writes, listings and their cursors, search, folders, usage, commands,
//! processed marks and partitions. The SQLite index (`ferry-index`) and the
//! DynamoDB index (`ferry-aws`, against moto) run the same tests through
//! [`index_conformance_tests!`](crate::index_conformance_tests): one
//! contract, two adapters. (Built with the `conformance` feature, for tests
//! only.)

#![allow(clippy::unwrap_used, clippy::missing_panics_doc, missing_docs)]

use crate::model::{
    CommandRecord, CommandStatus, Entry, FileRecord, FileStatus, ListQuery, Page, SortKey, Usage,
    UserId,
};
use crate::ports::{Index, PortError, PutCommand};
use ferry_protocol::{FileName, FolderPath, Timestamp};
use std::collections::HashSet;
use std::sync::Arc;
use uuid::Uuid;

mod trash;
pub use trash::*;

pub fn user(sub: &str) -> UserId {
    UserId::parse(sub).unwrap()
}

pub fn folder(path: &str) -> FolderPath {
    FolderPath::parse(path).unwrap()
}

/// A time `millis` after 2026-01-01, with a sub-millisecond part so the
/// round trip is checked to the nanosecond.
pub fn at(millis: i64) -> Timestamp {
    let base = Timestamp::from_unix_millis(1_767_225_600_000 + millis).unwrap();
    Timestamp::new(base.get() + time::Duration::nanoseconds(123_456))
}

pub fn file(owner: &UserId, path: &str, name: &str, size: u64) -> FileRecord {
    FileRecord {
        user: owner.clone(),
        file_id: Uuid::new_v4(),
        folder: folder(path),
        name: FileName::parse(name).unwrap(),
        status: FileStatus::Uploading,
        size,
        content_type: "application/octet-stream".into(),
        sha256: None,
        etag: None,
        upload_id: None,
        part_size: None,
        command_id: Some(Uuid::new_v4()),
        trace_id: Some("trace-1".into()),
        version: 1,
        created_at: at(0),
        updated_at: at(0),
        lineage: None,
        trash_id: None,
        thumbnail: None,
    }
}

/// The next version of `record`, changed by `change`.
pub fn next(record: &FileRecord, change: impl FnOnce(&mut FileRecord)) -> FileRecord {
    let mut changed = record.clone();
    changed.version += 1;
    changed.updated_at = at(1_000 * i64::try_from(changed.version).unwrap());
    change(&mut changed);
    changed
}

pub fn list(path: &str, sort: SortKey, descending: bool, limit: u32) -> ListQuery {
    ListQuery {
        folder: folder(path),
        sort,
        descending,
        cursor: None,
        limit,
    }
}

/// Every page of a listing, concatenated.
pub async fn list_all(index: &dyn Index, owner: &UserId, mut query: ListQuery) -> Vec<Entry> {
    let mut all = Vec::new();
    loop {
        let page = index.list_folder(owner, &query).await.unwrap();
        assert!(page.items.len() <= query.limit as usize);
        all.extend(page.items);
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return all,
        }
    }
}

pub fn names(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .map(|entry| match entry {
            Entry::Folder(folder) => format!("{}/", folder.path.name().unwrap()),
            Entry::File(file) => file.name.to_string(),
        })
        .collect()
}

pub fn file_names(page: &Page<FileRecord>) -> Vec<&str> {
    page.items.iter().map(|file| file.name.as_str()).collect()
}

/// The port as `files_are_inserted_read_updated_and_removed_by_version` says.
pub async fn files_are_inserted_read_updated_and_removed_by_version(index: Arc<dyn Index>) {
    let ann = user("ann");
    let original = file(&ann, "docs/2026", "plan.txt", 10);
    index.insert_file(&original, None, false).await.unwrap();
    assert_eq!(
        index.file(&ann, original.file_id).await.unwrap(),
        Some(original.clone())
    );
    assert!(index.folder_exists(&ann, &folder("docs")).await.unwrap());
    assert!(
        index
            .folder_exists(&ann, &folder("docs/2026"))
            .await
            .unwrap()
    );
    assert_eq!(
        index
            .file_by_name(&ann, &folder("docs/2026"), "plan.txt")
            .await
            .unwrap(),
        Some(original.clone())
    );
    // The same id twice is a conflict, not a second file.
    assert!(matches!(
        index.insert_file(&original, None, false).await,
        Err(PortError::Conflict(_))
    ));

    let available = next(&original, |f| {
        f.status = FileStatus::Available;
        f.size = 12;
        f.etag = Some("\"abc\"".into());
    });
    index.update_file(&available, 1).await.unwrap();
    assert_eq!(
        index.file(&ann, original.file_id).await.unwrap(),
        Some(available.clone())
    );
    assert_eq!(
        index.usage(&ann).await.unwrap(),
        Usage {
            bytes: 12,
            files: 1,
            ..Usage::default()
        }
    );

    // A stale version is refused and changes nothing.
    let stale = next(&original, |f| f.size = 99);
    assert!(matches!(
        index.update_file(&stale, 1).await,
        Err(PortError::Conflict(_))
    ));
    // The new record must carry the next version.
    assert!(matches!(
        index.update_file(&available, 2).await,
        Err(PortError::Invalid(_))
    ));
    let unknown = next(&file(&ann, "", "ghost", 1), |_| {});
    assert!(matches!(
        index.update_file(&unknown, 1).await,
        Err(PortError::NotFound(_))
    ));

    // A move adds the new folder and its parents.
    let moved = next(&available, |f| f.folder = folder("archive/old"));
    index.update_file(&moved, 2).await.unwrap();
    assert!(
        index
            .folder_exists(&ann, &folder("archive/old"))
            .await
            .unwrap()
    );
    assert_eq!(
        index
            .file_by_name(&ann, &folder("docs/2026"), "plan.txt")
            .await
            .unwrap(),
        None
    );

    assert!(matches!(
        index.remove_file(&ann, moved.file_id, 2).await,
        Err(PortError::Conflict(_))
    ));
    assert!(index.remove_file(&ann, moved.file_id, 3).await.unwrap());
    assert!(!index.remove_file(&ann, moved.file_id, 3).await.unwrap());
    assert_eq!(index.file(&ann, moved.file_id).await.unwrap(), None);
    assert_eq!(index.usage(&ann).await.unwrap(), Usage::default());
}

/// The port as `names_conflict_until_the_holder_is_being_deleted` says.
pub async fn names_conflict_until_the_holder_is_being_deleted(index: Arc<dyn Index>) {
    let ann = user("ann");
    let first = file(&ann, "a", "x.txt", 1);
    index.insert_file(&first, None, false).await.unwrap();
    let second = file(&ann, "a", "x.txt", 2);
    assert!(matches!(
        index.insert_file(&second, None, false).await,
        Err(PortError::Conflict(_))
    ));
    // Same name elsewhere, or another name here, is fine.
    index
        .insert_file(&file(&ann, "b", "x.txt", 1), None, false)
        .await
        .unwrap();
    index
        .insert_file(&file(&ann, "a", "X.txt", 1), None, false)
        .await
        .unwrap();

    // A file being deleted frees its name.
    let deleting = next(&first, |f| f.status = FileStatus::Deleting);
    index.update_file(&deleting, 1).await.unwrap();
    index.insert_file(&second, None, false).await.unwrap();
    assert_eq!(
        index
            .file_by_name(&ann, &folder("a"), "x.txt")
            .await
            .unwrap()
            .map(|f| f.file_id),
        Some(second.file_id)
    );
    // Bringing the deleted one back onto an available name is refused.
    let second_available = next(&second, |f| f.status = FileStatus::Available);
    index.update_file(&second_available, 1).await.unwrap();
    let revived = next(&deleting, |f| f.status = FileStatus::Available);
    assert!(matches!(
        index.update_file(&revived, 2).await,
        Err(PortError::Conflict(_))
    ));
    // Renaming onto an available name is refused too.
    let other = file(&ann, "a", "y.txt", 1);
    index.insert_file(&other, None, false).await.unwrap();
    let other = next(&other, |f| f.status = FileStatus::Available);
    index.update_file(&other, 1).await.unwrap();
    let clash = next(&other, |f| f.name = FileName::parse("x.txt").unwrap());
    assert!(matches!(
        index.update_file(&clash, 2).await,
        Err(PortError::Conflict(_))
    ));
}

/// The port as `a_replacing_upload_shares_the_name_until_it_is_available` says.
pub async fn a_replacing_upload_shares_the_name_until_it_is_available(index: Arc<dyn Index>) {
    let ann = user("ann");
    let old = file(&ann, "", "report.pdf", 5);
    index.insert_file(&old, None, false).await.unwrap();
    let old = next(&old, |f| f.status = FileStatus::Available);
    index.update_file(&old, 1).await.unwrap();

    let new = file(&ann, "", "report.pdf", 7);
    assert!(matches!(
        index.insert_file(&new, None, false).await,
        Err(PortError::Conflict(_))
    ));
    index.insert_file(&new, None, true).await.unwrap();
    // The available one is the one the name means, and both are listed.
    assert_eq!(
        index
            .file_by_name(&ann, &FolderPath::root(), "report.pdf")
            .await
            .unwrap()
            .map(|f| f.file_id),
        Some(old.file_id)
    );
    let listed = list_all(&*index, &ann, list("", SortKey::Name, false, 10)).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(
        index.usage(&ann).await.unwrap(),
        Usage {
            bytes: 12,
            files: 2,
            ..Usage::default()
        }
    );

    // Two available files can't share the name…
    let new_available = next(&new, |f| f.status = FileStatus::Available);
    assert!(matches!(
        index.update_file(&new_available, 1).await,
        Err(PortError::Conflict(_))
    ));
    // …so the old one goes first, then the new one takes the name.
    index
        .update_file(&next(&old, |f| f.status = FileStatus::Deleting), 2)
        .await
        .unwrap();
    index.update_file(&new_available, 1).await.unwrap();
    assert_eq!(
        index
            .file_by_name(&ann, &FolderPath::root(), "report.pdf")
            .await
            .unwrap()
            .map(|f| f.file_id),
        Some(new.file_id)
    );
    assert_eq!(
        index.usage(&ann).await.unwrap(),
        Usage {
            bytes: 7,
            files: 1,
            ..Usage::default()
        }
    );
}

/// The port as `quota_refusals_change_nothing` says.
pub async fn quota_refusals_change_nothing(index: Arc<dyn Index>) {
    let ann = user("ann");
    index
        .insert_file(&file(&ann, "", "a", 60), Some(100), false)
        .await
        .unwrap();
    let too_big = file(&ann, "new/folder", "b", 41);
    assert!(matches!(
        index.insert_file(&too_big, Some(100), false).await,
        Err(PortError::QuotaExceeded(_))
    ));
    assert_eq!(
        index.usage(&ann).await.unwrap(),
        Usage {
            bytes: 60,
            files: 1,
            ..Usage::default()
        }
    );
    assert_eq!(index.file(&ann, too_big.file_id).await.unwrap(), None);
    assert!(!index.folder_exists(&ann, &folder("new")).await.unwrap());
    // Exactly at the quota is allowed; without a quota anything is.
    index
        .insert_file(&file(&ann, "", "c", 40), Some(100), false)
        .await
        .unwrap();
    index
        .insert_file(&file(&ann, "", "d", u64::from(u32::MAX)), None, false)
        .await
        .unwrap();
    assert_eq!(
        index.usage(&ann).await.unwrap(),
        Usage {
            bytes: 100 + u64::from(u32::MAX),
            files: 3,
            ..Usage::default()
        }
    );
}

/// The port as `parallel_inserts_never_overrun_the_quota` says.
pub async fn parallel_inserts_never_overrun_the_quota(index: Arc<dyn Index>) {
    let ann = user("ann");
    let mut tasks = Vec::new();
    for i in 0..40 {
        let index = Arc::clone(&index);
        let record = file(&ann, "", &format!("f{i}"), 10);
        tasks.push(tokio::spawn(async move {
            index.insert_file(&record, Some(155), false).await
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => accepted += 1,
            Err(PortError::QuotaExceeded(_)) => {}
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(accepted, 15);
    assert_eq!(
        index.usage(&ann).await.unwrap(),
        Usage {
            bytes: 150,
            files: 15,
            ..Usage::default()
        }
    );
}

/// The order a listing must have: folders by name, then files by the key,
/// then name, then id; descending is the exact reverse of each part.
pub fn expected_order(
    folders: &[String],
    files: &[FileRecord],
    sort: SortKey,
    descending: bool,
) -> Vec<(String, Option<Uuid>)> {
    let mut folders: Vec<_> = folders.to_vec();
    folders.sort();
    let mut files: Vec<_> = files
        .iter()
        .filter(|f| f.status != FileStatus::Deleting)
        .collect();
    files.sort_by(|a, b| {
        let key = match sort {
            SortKey::Name => std::cmp::Ordering::Equal,
            SortKey::Size => a.size.cmp(&b.size),
            SortKey::Modified => a.updated_at.cmp(&b.updated_at),
        };
        key.then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.file_id.cmp(&b.file_id))
    });
    if descending {
        folders.reverse();
        files.reverse();
    }
    folders
        .into_iter()
        .map(|name| (format!("{name}/"), None))
        .chain(
            files
                .into_iter()
                .map(|f| (f.name.to_string(), Some(f.file_id))),
        )
        .collect()
}

pub fn listed(entries: &[Entry]) -> Vec<(String, Option<Uuid>)> {
    entries
        .iter()
        .map(|entry| match entry {
            Entry::Folder(folder) => (format!("{}/", folder.path.name().unwrap()), None),
            Entry::File(file) => (file.name.to_string(), Some(file.file_id)),
        })
        .collect()
}

/// One generated file: name stem, size, change time, status.
pub type Spec = (usize, u64, i64, u8);

pub fn name_of(stem: usize) -> String {
    // Few stems, so names, sizes and times collide and the tie-breakers
    // decide; some are not ASCII, so byte order matters.
    const STEMS: [&str; 12] = [
        "a",
        "A",
        "b",
        "ä",
        "é.txt",
        "e\u{301}x",
        "z",
        "Zebra",
        "_x",
        "%y",
        "10",
        "9",
    ];
    let name = format!("{}{}", STEMS[stem % STEMS.len()], stem / STEMS.len());
    FileName::parse(&name).unwrap().to_string()
}

pub async fn fill(index: &dyn Index, owner: &UserId, specs: &[Spec]) -> Vec<FileRecord> {
    let mut files = Vec::new();
    for &(stem, size, modified, status) in specs {
        let mut record = file(owner, "big", &name_of(stem), size);
        record.updated_at = at(modified);
        record.status = match status % 4 {
            0 => FileStatus::Deleting,
            1 => FileStatus::Available,
            _ => FileStatus::Uploading,
        };
        // Names repeat; a replacing upload may share one, and a clash with
        // an available file or a not-replacing insert is simply skipped.
        match index.insert_file(&record, None, true).await {
            Ok(()) => files.push(record),
            Err(PortError::Conflict(_)) => {}
            Err(other) => panic!("{other}"),
        }
    }
    files
}

/// The port as `a_cursor_stays_put_while_files_arrive` says.
pub async fn a_cursor_stays_put_while_files_arrive(index: Arc<dyn Index>) {
    let ann = user("ann");
    let mut originals = Vec::new();
    for i in 0..50 {
        let record = file(&ann, "", &format!("m{i:02}"), 1);
        index.insert_file(&record, None, false).await.unwrap();
        originals.push(record.name.to_string());
    }
    let mut query = list("", SortKey::Name, false, 7);
    let mut seen = Vec::new();
    let mut round = 0;
    loop {
        let page = index.list_folder(&ann, &query).await.unwrap();
        seen.extend(names(&page.items));
        // Files land before, around and after the cursor between pages.
        for name in [
            format!("a{round}"),
            format!("m{round:02}x"),
            format!("z{round}"),
        ] {
            index
                .insert_file(&file(&ann, "", &name, 1), None, false)
                .await
                .unwrap();
        }
        round += 1;
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no entry twice");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "in order");
    for name in &originals {
        assert!(seen.contains(name), "{name} was skipped");
    }
    assert!(
        !seen.iter().any(|name| name.starts_with('a')),
        "behind the cursor"
    );
}

/// The port as `malformed_or_foreign_cursors_are_invalid` says.
pub async fn malformed_or_foreign_cursors_are_invalid(index: Arc<dyn Index>) {
    let ann = user("ann");
    for i in 0..5 {
        index
            .insert_file(&file(&ann, "", &format!("f{i}"), i), None, false)
            .await
            .unwrap();
    }
    let mut query = list("", SortKey::Name, false, 2);
    for bad in ["", "not a cursor", "eyJ0IjoiZiJ9", "e30", &"x".repeat(5000)] {
        query.cursor = Some(bad.to_owned());
        assert!(
            matches!(
                index.list_folder(&ann, &query).await,
                Err(PortError::Invalid(_))
            ),
            "{bad}"
        );
        assert!(matches!(
            index.search(&ann, "f", Some(bad), 2).await,
            Err(PortError::Invalid(_))
        ));
        assert!(matches!(
            index
                .files_under(&ann, &FolderPath::root(), Some(bad), 2)
                .await,
            Err(PortError::Invalid(_))
        ));
    }
    // A cursor of one order or query is refused by another.
    query.cursor = None;
    let by_name = index.list_folder(&ann, &query).await.unwrap().next_cursor;
    let mut by_size = list("", SortKey::Size, false, 2);
    by_size.cursor = by_name.clone();
    assert!(matches!(
        index.list_folder(&ann, &by_size).await,
        Err(PortError::Invalid(_))
    ));
    let mut descending = list("", SortKey::Name, true, 2);
    descending.cursor = by_name.clone();
    assert!(matches!(
        index.list_folder(&ann, &descending).await,
        Err(PortError::Invalid(_))
    ));
    assert!(matches!(
        index.search(&ann, "f", by_name.as_deref(), 2).await,
        Err(PortError::Invalid(_))
    ));
}

/// The port as `limits_are_clamped` says.
pub async fn limits_are_clamped(index: Arc<dyn Index>) {
    let ann = user("ann");
    for i in 0..3 {
        index
            .insert_file(&file(&ann, "", &format!("f{i}"), 1), None, false)
            .await
            .unwrap();
    }
    let page = index
        .list_folder(&ann, &list("", SortKey::Name, false, 0))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert!(page.next_cursor.is_some());
    let page = index.search(&ann, "", None, u32::MAX).await.unwrap();
    assert_eq!(page.items.len(), 3);
    assert_eq!(page.next_cursor, None);
}

/// The port as `search_folds_case_and_takes_wildcards_literally` says.
pub async fn search_folds_case_and_takes_wildcards_literally(index: Arc<dyn Index>) {
    let ann = user("ann");
    for (path, name) in [
        ("", "été.txt"),
        ("photos", "Summer ÉTÉ 2026.jpg"),
        ("", "ete.txt"),
        ("", "100%.txt"),
        ("", "1000.txt"),
        ("", "a_b.txt"),
        ("", "axb.txt"),
    ] {
        index
            .insert_file(&file(&ann, path, name, 1), None, false)
            .await
            .unwrap();
    }
    let gone = file(&ann, "", "été-deleted.txt", 1);
    index.insert_file(&gone, None, false).await.unwrap();
    index
        .update_file(&next(&gone, |f| f.status = FileStatus::Deleting), 1)
        .await
        .unwrap();

    let found = index.search(&ann, "ÉTÉ", None, 10).await.unwrap();
    assert_eq!(file_names(&found), ["Summer ÉTÉ 2026.jpg", "été.txt"]);
    // Decomposed input folds to the same text.
    let found = index
        .search(&ann, "e\u{301}te\u{301}", None, 10)
        .await
        .unwrap();
    assert_eq!(found.items.len(), 2);
    assert_eq!(
        file_names(&index.search(&ann, "0%", None, 10).await.unwrap()),
        ["100%.txt"]
    );
    assert_eq!(
        file_names(&index.search(&ann, "a_b", None, 10).await.unwrap()),
        ["a_b.txt"]
    );
    assert_eq!(
        index
            .search(&ann, "nothing", None, 10)
            .await
            .unwrap()
            .items
            .len(),
        0
    );

    // Pages of one.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = index
            .search(&ann, ".TXT", cursor.as_deref(), 1)
            .await
            .unwrap();
        seen.extend(file_names(&page).into_iter().map(str::to_owned));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "100%.txt",
            "1000.txt",
            "a_b.txt",
            "axb.txt",
            "ete.txt",
            "été.txt"
        ]
    );
}

/// The port as `files_under_keeps_to_the_folder_and_pages_by_id` says.
pub async fn files_under_keeps_to_the_folder_and_pages_by_id(index: Arc<dyn Index>) {
    let ann = user("ann");
    let mut inside = Vec::new();
    for (path, name) in [("a", "1"), ("a/b", "2"), ("a/b/c", "3"), ("a/b", "4")] {
        let record = file(&ann, path, name, 1);
        index.insert_file(&record, None, false).await.unwrap();
        inside.push(record.file_id);
    }
    // Any status counts.
    let deleting = file(&ann, "a", "5", 1);
    index.insert_file(&deleting, None, false).await.unwrap();
    index
        .update_file(&next(&deleting, |f| f.status = FileStatus::Deleting), 1)
        .await
        .unwrap();
    inside.push(deleting.file_id);
    let mut outside = Vec::new();
    for path in ["ab", "a-b", "a.b", "a0", "", "b/a"] {
        let record = file(&ann, path, "x", 1);
        index.insert_file(&record, None, false).await.unwrap();
        outside.push(record.file_id);
    }

    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = index
            .files_under(&ann, &folder("a"), cursor.as_deref(), 2)
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|f| f.file_id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    inside.sort();
    assert_eq!(seen, inside);

    let everything = index
        .files_under(&ann, &FolderPath::root(), None, 100)
        .await
        .unwrap();
    let mut all: Vec<_> = inside.iter().chain(&outside).copied().collect();
    all.sort();
    assert_eq!(
        everything
            .items
            .iter()
            .map(|f| f.file_id)
            .collect::<Vec<_>>(),
        all
    );
    assert_eq!(
        index
            .files_under(&ann, &folder("a/b/c"), None, 100)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

/// The port as `folders_are_created_listed_and_removed_as_trees` says.
pub async fn folders_are_created_listed_and_removed_as_trees(index: Arc<dyn Index>) {
    let ann = user("ann");
    assert!(
        index
            .create_folder(&ann, &folder("a/b/c"), at(5))
            .await
            .unwrap()
    );
    assert!(
        !index
            .create_folder(&ann, &folder("a/b/c"), at(6))
            .await
            .unwrap()
    );
    assert!(
        !index
            .create_folder(&ann, &folder("a/b"), at(6))
            .await
            .unwrap()
    );
    assert!(
        !index
            .create_folder(&ann, &FolderPath::root(), at(6))
            .await
            .unwrap()
    );
    assert!(
        index
            .create_folder(&ann, &folder("ab"), at(7))
            .await
            .unwrap()
    );
    assert!(
        index
            .folder_exists(&ann, &FolderPath::root())
            .await
            .unwrap()
    );
    assert!(index.folder_exists(&ann, &folder("a")).await.unwrap());
    assert!(!index.folder_exists(&ann, &folder("b")).await.unwrap());

    let root = list_all(&*index, &ann, list("", SortKey::Modified, true, 10)).await;
    assert_eq!(names(&root), ["ab/", "a/"]);
    let Entry::Folder(a) = &root[1] else {
        panic!("a folder")
    };
    assert_eq!(a.created_at, at(5));

    // Files must go first.
    let inner = file(&ann, "a/b", "f", 1);
    index.insert_file(&inner, None, false).await.unwrap();
    assert!(matches!(
        index.remove_folder_tree(&ann, &folder("a")).await,
        Err(PortError::Conflict(_))
    ));
    assert!(index.remove_file(&ann, inner.file_id, 1).await.unwrap());
    assert!(index.remove_folder_tree(&ann, &folder("a")).await.unwrap());
    assert!(!index.remove_folder_tree(&ann, &folder("a")).await.unwrap());
    for gone in ["a", "a/b", "a/b/c"] {
        assert!(!index.folder_exists(&ann, &folder(gone)).await.unwrap());
    }
    assert!(index.folder_exists(&ann, &folder("ab")).await.unwrap());
}

/// The port as `users_never_see_each_other` says.
pub async fn users_never_see_each_other(index: Arc<dyn Index>) {
    let (ann, bob) = (user("ann"), user("bob"));
    let anns = file(&ann, "shared", "same.txt", 10);
    index.insert_file(&anns, Some(10), false).await.unwrap();
    // Bob's quota and names are his own.
    let bobs = file(&bob, "shared", "same.txt", 10);
    index.insert_file(&bobs, Some(10), false).await.unwrap();
    index
        .create_folder(&ann, &folder("private"), at(0))
        .await
        .unwrap();

    assert_eq!(index.file(&bob, anns.file_id).await.unwrap(), None);
    assert!(!index.remove_file(&bob, anns.file_id, 1).await.unwrap());
    let stolen = next(&anns, |f| f.user = bob.clone());
    assert!(matches!(
        index.update_file(&stolen, 1).await,
        Err(PortError::NotFound(_))
    ));
    assert!(!index.folder_exists(&bob, &folder("private")).await.unwrap());
    assert!(
        !index
            .remove_folder_tree(&bob, &folder("private"))
            .await
            .unwrap()
    );
    assert_eq!(
        index
            .file_by_name(&bob, &folder("shared"), "same.txt")
            .await
            .unwrap()
            .map(|f| f.file_id),
        Some(bobs.file_id)
    );
    let root = list_all(&*index, &bob, list("", SortKey::Name, false, 10)).await;
    assert_eq!(names(&root), ["shared/"]);
    let found = index.search(&bob, "same", None, 10).await.unwrap();
    assert_eq!(found.items, std::slice::from_ref(&bobs));
    let under = index
        .files_under(&bob, &FolderPath::root(), None, 10)
        .await
        .unwrap();
    assert_eq!(under.items, std::slice::from_ref(&bobs));
    assert_eq!(
        index.usage(&bob).await.unwrap(),
        Usage {
            bytes: 10,
            files: 1,
            ..Usage::default()
        }
    );
    assert_eq!(index.usage(&user("carl")).await.unwrap(), Usage::default());

    let command = command_record(&ann);
    index.put_command(&command).await.unwrap();
    assert_eq!(index.command(&bob, command.command_id).await.unwrap(), None);
    // Bob can't finish Ann's command: for him it doesn't exist.
    index
        .finish_command(
            &bob,
            command.command_id,
            CommandStatus::Succeeded,
            &serde_json::json!({}),
            at(1),
        )
        .await
        .unwrap();
    assert_eq!(index.command(&bob, command.command_id).await.unwrap(), None);
    // Bob may use the same command id for his own command.
    let mut his = command_record(&bob);
    his.command_id = command.command_id;
    assert_eq!(index.put_command(&his).await.unwrap(), PutCommand::Inserted);
    assert_eq!(
        index.command(&ann, command.command_id).await.unwrap(),
        Some(command)
    );
}

pub fn command_record(owner: &UserId) -> CommandRecord {
    CommandRecord {
        user: owner.clone(),
        command_id: Uuid::new_v4(),
        action: "DeleteFile".into(),
        request_hash: "hash-1".into(),
        response: serde_json::json!({"status": 202, "body": {"commandId": "x"}}),
        status: CommandStatus::Pending,
        result: None,
        progress: None,
        accepted_at: at(0),
        finished_at: None,
    }
}

/// The port as `commands_are_recorded_once_and_finish_once` says.
pub async fn commands_are_recorded_once_and_finish_once(index: Arc<dyn Index>) {
    let ann = user("ann");
    let command = command_record(&ann);
    assert_eq!(
        index.put_command(&command).await.unwrap(),
        PutCommand::Inserted
    );
    let mut retry = command.clone();
    retry.request_hash = "hash-2".into();
    retry.accepted_at = at(50);
    assert_eq!(
        index.put_command(&retry).await.unwrap(),
        PutCommand::Existing(Box::new(command.clone()))
    );

    // Progress is kept while pending, and its last note wins.
    for n in [1, 2] {
        index
            .note_progress(&ann, command.command_id, &serde_json::json!({"n": n}))
            .await
            .unwrap();
    }
    let pending = index
        .command(&ann, command.command_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(pending.progress, Some(serde_json::json!({"n": 2})));
    assert_eq!(
        (pending.status, pending.result),
        (CommandStatus::Pending, None)
    );

    let done = serde_json::json!({"metadata": {"id": 1}, "data": {"Action": "FileDeleted"}});
    index
        .finish_command(
            &ann,
            command.command_id,
            CommandStatus::Succeeded,
            &done,
            at(10),
        )
        .await
        .unwrap();
    let failed = serde_json::json!({"data": {"Action": "CommandFailed"}});
    index
        .finish_command(
            &ann,
            command.command_id,
            CommandStatus::Failed,
            &failed,
            at(20),
        )
        .await
        .unwrap();
    let stored = index
        .command(&ann, command.command_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, CommandStatus::Succeeded);
    assert_eq!(stored.result, Some(done));
    assert_eq!(stored.finished_at, Some(at(10)));
    assert_eq!(stored.response, command.response);
    assert_eq!(stored.progress, Some(serde_json::json!({"n": 2})));
    // A finished command's progress is not changed any more.
    index
        .note_progress(&ann, command.command_id, &serde_json::json!({"n": 3}))
        .await
        .unwrap();
    let stored = index
        .command(&ann, command.command_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.progress, Some(serde_json::json!({"n": 2})));

    // A command never recorded has nothing to finish, and isn't created.
    let unknown = Uuid::new_v4();
    index
        .finish_command(&ann, unknown, CommandStatus::Succeeded, &failed, at(1))
        .await
        .unwrap();
    assert_eq!(index.command(&ann, unknown).await.unwrap(), None);
    assert!(matches!(
        index
            .finish_command(
                &ann,
                command.command_id,
                CommandStatus::Pending,
                &failed,
                at(1)
            )
            .await,
        Err(PortError::Invalid(_))
    ));
}

/// The port as `processed_marks_are_per_consumer` says.
pub async fn processed_marks_are_per_consumer(index: Arc<dyn Index>) {
    let (alice, bob) = (user("alice"), user("bob"));
    let event = Uuid::new_v4();
    assert!(!index.was_processed("indexer", &alice, event).await.unwrap());
    index
        .mark_processed("indexer", &alice, event, at(1))
        .await
        .unwrap();
    index
        .mark_processed("indexer", &alice, event, at(2))
        .await
        .unwrap();
    assert!(index.was_processed("indexer", &alice, event).await.unwrap());
    assert!(
        !index
            .was_processed("notifier", &alice, event)
            .await
            .unwrap()
    );
    // The same id of another user is another event.
    assert!(!index.was_processed("indexer", &bob, event).await.unwrap());
    assert!(
        !index
            .was_processed("indexer", &alice, Uuid::new_v4())
            .await
            .unwrap()
    );
}

/// The port as `the_sweep_finds_stale_files_and_every_user` says.
pub async fn the_sweep_finds_stale_files_and_every_user(index: Arc<dyn Index>) {
    let mut owners = Vec::new();
    for sub in ["carl", "ann", "bob"] {
        owners.push(user(sub));
    }
    let mut stale = Vec::new();
    for (i, owner) in owners.iter().enumerate() {
        let mut record = file(owner, "", "upload", 1);
        record.updated_at = at(i64::try_from(i).unwrap() * 10);
        index.insert_file(&record, None, false).await.unwrap();
        stale.push(record);
    }
    index
        .create_folder(&user("dora"), &folder("empty"), at(0))
        .await
        .unwrap();
    let found = index
        .files_with_status(FileStatus::Uploading, at(15), 10)
        .await
        .unwrap();
    assert_eq!(found, stale[..2]);
    assert!(
        index
            .files_with_status(FileStatus::Deleting, at(100), 10)
            .await
            .unwrap()
            .is_empty()
    );

    let all = index.users(None, 10).await.unwrap();
    assert_eq!(all, ["ann", "bob", "carl", "dora"].map(user));
    let after = index.users(Some(&user("bob")), 1).await.unwrap();
    assert_eq!(after, [user("carl")]);
    assert!(
        index
            .users(Some(&user("dora")), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Fills folder `big` from `specs` and `folder_count` sub-folders (plus a
/// deeper folder and a neighbour's file, which aren't children), then lists
/// it in every order at `limit` a page: each listing is the full sorted
/// list, nothing twice, nothing missing.
pub async fn pages_in_every_order(
    index: &dyn Index,
    specs: &[Spec],
    folder_count: usize,
    limit: u32,
) {
    let ann = user("ann");
    let files = fill(index, &ann, specs).await;
    let folders: Vec<String> = (0..folder_count).map(name_of).collect();
    for name in &folders {
        index
            .create_folder(&ann, &folder(&format!("big/{name}")), at(0))
            .await
            .unwrap();
    }
    index
        .create_folder(&ann, &folder("big/a0/deep"), at(0))
        .await
        .unwrap();
    index
        .insert_file(&file(&ann, "big/a0", "inner", 1), None, false)
        .await
        .unwrap();
    index
        .insert_file(&file(&ann, "bigger", "outer", 1), None, false)
        .await
        .unwrap();
    let mut folders = folders;
    if !folders.contains(&"a0".to_owned()) {
        folders.push("a0".to_owned());
    }
    for sort in [SortKey::Name, SortKey::Size, SortKey::Modified] {
        for descending in [false, true] {
            let all = list_all(index, &ann, list("big", sort, descending, limit)).await;
            assert_eq!(
                listed(&all),
                expected_order(&folders, &files, sort, descending),
                "{sort:?} descending={descending} limit={limit}"
            );
        }
    }
}

/// [`pages_in_every_order`] with one fixed, varied set of files (the
/// SQLite index also runs it with generated ones).
pub async fn every_order_pages_to_the_full_sorted_list(index: Arc<dyn Index>) {
    // A small linear congruential generator: the same files every run.
    let mut state: u64 = 0x5eed;
    let mut next = |bound: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % bound
    };
    let specs: Vec<Spec> = (0..90)
        .map(|_| (next(40) as usize, next(8), next(6) as i64, next(4) as u8))
        .collect();
    pages_in_every_order(&*index, &specs, 7, 6).await;
}

/// What the thumbnailer made of a file is kept with its record (read by
/// id, by name, in listings and search), changed only by a conditional
/// write, and weighs nothing in the usage.
pub async fn a_files_thumbnail_state_is_kept_and_listed(index: Arc<dyn Index>) {
    use crate::model::ThumbnailState;
    use ferry_protocol::messages::{ThumbnailCode, ThumbnailMade, ThumbnailSize};
    let ann = user("ann");
    let photo = file(&ann, "pics", "photo.jpg", 10);
    index.insert_file(&photo, None, false).await.unwrap();
    let available = next(&photo, |f| f.status = FileStatus::Available);
    index.update_file(&available, photo.version).await.unwrap();
    let ready = ThumbnailState::Ready {
        sizes: vec![ThumbnailMade {
            size: ThumbnailSize::Small,
            width: 64,
            height: 48,
            content_type: "image/jpeg".into(),
        }],
    };
    let thumbed = next(&available, |f| f.thumbnail = Some(ready.clone()));
    // A write on a stale version changes nothing.
    let stale = next(&photo, |f| f.thumbnail = Some(ready.clone()));
    assert!(matches!(
        index.update_file(&stale, photo.version).await,
        Err(PortError::Conflict(_))
    ));
    index
        .update_file(&thumbed, available.version)
        .await
        .unwrap();
    assert_eq!(
        index.file(&ann, photo.file_id).await.unwrap(),
        Some(thumbed.clone())
    );
    assert_eq!(
        index
            .file_by_name(&ann, &folder("pics"), "photo.jpg")
            .await
            .unwrap()
            .and_then(|f| f.thumbnail),
        Some(ready)
    );
    let listed = list_all(&*index, &ann, list("pics", SortKey::Name, false, 10)).await;
    assert_eq!(listed, [Entry::File(thumbed.clone())]);
    let found = index.search(&ann, "photo", None, 10).await.unwrap();
    assert_eq!(found.items, std::slice::from_ref(&thumbed));
    assert_eq!(index.usage(&ann).await.unwrap().bytes, 10);
    let failed = next(&thumbed, |f| {
        f.thumbnail = Some(ThumbnailState::Failed {
            code: ThumbnailCode::TooManyPixels,
            reason: "Too many pixels.".into(),
        });
    });
    index.update_file(&failed, thumbed.version).await.unwrap();
    assert_eq!(index.file(&ann, photo.file_id).await.unwrap(), Some(failed));
}

/// Expands to one `#[tokio::test]` per contract test, each given a fresh
/// index by `$make` (an expression, `.await` allowed, of type
/// `(Arc<dyn Index>, impl Sized)`: the index and whatever must live as long
/// as it, such as a stand-in server).
#[macro_export]
macro_rules! index_conformance_tests {
    ($make:expr) => {
        $crate::index_conformance_tests!(@each $make; files_are_inserted_read_updated_and_removed_by_version, names_conflict_until_the_holder_is_being_deleted, a_replacing_upload_shares_the_name_until_it_is_available, quota_refusals_change_nothing, parallel_inserts_never_overrun_the_quota, a_cursor_stays_put_while_files_arrive, malformed_or_foreign_cursors_are_invalid, limits_are_clamped, search_folds_case_and_takes_wildcards_literally, files_under_keeps_to_the_folder_and_pages_by_id, folders_are_created_listed_and_removed_as_trees, users_never_see_each_other, commands_are_recorded_once_and_finish_once, processed_marks_are_per_consumer, the_sweep_finds_stale_files_and_every_user, every_order_pages_to_the_full_sorted_list, trashed_files_and_versions_leave_listings_and_free_their_names, trash_items_list_newest_first_and_page, a_trash_items_files_and_a_lineages_versions_are_found, the_sweep_finds_old_trash_and_old_versions, folders_under_lists_the_tree_below_a_folder, only_current_files_keep_their_folders, a_files_thumbnail_state_is_kept_and_listed);
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (index, _keep) = $make;
                $crate::conformance::$name(index).await;
            }
        )*
    };
}
