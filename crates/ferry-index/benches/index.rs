//! How the index holds up at 100,000 files for one user: insert rate,
//! folder pages in every order, paging through a 20,000-file folder, search
//! (rare to common terms, as planned and by the scan alone), usage and
//! `files_under`.
//!
//! Every figure is printed next to a baseline measured in the same run on
//! the same file, as a ratio, so the numbers compare across machines:
//! a bare `SELECT 1` on a plain connection, and a bare primary-key read of as
//! many rows as the operation returns. The index lives on tmpfs when there
//! is one, so the figures show the index's own work; one extra figure gives
//! the insert rate on disk with `synchronous = FULL` (an fsync per insert).
//!
//! Run with `cargo bench -p ferry-index`.

#![allow(clippy::unwrap_used)]

use ferry_core::model::{FileRecord, FileStatus, ListQuery, SortKey, UserId};
use ferry_core::ports::Index;
use ferry_index::{SearchPlan, SqliteIndex};
use ferry_protocol::{FileName, FolderPath, Timestamp};
use rusqlite::{Connection, OpenFlags};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Instant;
use uuid::Uuid;

const FILES: usize = 100_000;
const BIG_FOLDER_FILES: usize = 20_000;
const FOLDERS: usize = 1_000;
const OTHER_USER_FILES: usize = 5_000;
const DISK_INSERTS: usize = 300;
const REPEATS: usize = 15;

/// A small deterministic generator, so every run builds the same index.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

const WORDS: [&str; 8] = [
    "report", "photo", "Invoice", "notes", "Été", "backup", "draft", "scan",
];

fn record(user: &UserId, folder: &FolderPath, n: usize, rng: &mut Lcg) -> FileRecord {
    // A handful of names carry the rare word.
    let word = if n % 20_011 == 7 {
        "needle"
    } else {
        WORDS[n % WORDS.len()]
    };
    let at =
        Timestamp::from_unix_millis(1_767_225_600_000 + (rng.next() % 10_000_000) as i64).unwrap();
    FileRecord {
        user: user.clone(),
        file_id: Uuid::from_u64_pair(rng.next() << 32 | rng.next(), n as u64),
        folder: folder.clone(),
        name: FileName::parse(&format!("{word}-{n:06}.dat")).unwrap(),
        status: FileStatus::Available,
        size: rng.next() % 50_000_000,
        content_type: "application/octet-stream".into(),
        sha256: None,
        etag: Some("\"0123456789abcdef\"".into()),
        upload_id: None,
        part_size: None,
        command_id: None,
        trace_id: None,
        version: 1,
        created_at: at,
        updated_at: at,
        lineage: None,
        trash_id: None,
        thumbnail: None,
    }
}

/// The median of `REPEATS` runs of `work`, in milliseconds.
async fn median_ms<F, Fut, T>(mut work: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let mut runs = Vec::with_capacity(REPEATS);
    for _ in 0..REPEATS {
        let start = Instant::now();
        std::hint::black_box(work().await);
        runs.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    runs.sort_by(f64::total_cmp);
    runs[REPEATS / 2]
}

fn median(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

fn median_sync_ms<T>(mut work: impl FnMut() -> T) -> f64 {
    let mut runs = Vec::with_capacity(REPEATS);
    for _ in 0..REPEATS {
        let start = Instant::now();
        std::hint::black_box(work());
        runs.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    runs.sort_by(f64::total_cmp);
    runs[REPEATS / 2]
}

fn report(name: &str, value: f64, baseline_name: &str, baseline: f64) {
    println!(
        "FERRY_BENCH {name}={value:.3} {baseline_name}={baseline:.3} ratio={:.1}",
        value / baseline
    );
}

/// Reads `rows` whole rows of `user` by primary key, as bare as SQLite
/// allows: no index to walk, no thread hop, nothing parsed.
fn pk_rows(conn: &Connection, user: &str, rows: usize) -> usize {
    let mut stmt = conn
        .prepare_cached(
            "SELECT user, file_id, folder, name, status, size, content_type, sha256, etag,
                    upload_id, part_size, command_id, trace_id, version, created_at, updated_at
             FROM files WHERE user = ?1 ORDER BY file_id LIMIT ?2",
        )
        .unwrap();
    let mut result = stmt.query(rusqlite::params![user, rows as i64]).unwrap();
    let mut count = 0;
    while let Some(row) = result.next().unwrap() {
        // Every column is read, as the index reads them, but not parsed.
        for column in 0..16 {
            std::hint::black_box(row.get_ref(column).unwrap());
        }
        count += 1;
    }
    count
}

fn scratch_dir() -> PathBuf {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
    };
    base.join(format!("ferry-index-bench-{}", std::process::id()))
}

async fn insert_rate(index: &SqliteIndex, files: &[FileRecord]) -> f64 {
    let start = Instant::now();
    for file in files {
        index.insert_file(file, None, false).await.unwrap();
    }
    files.len() as f64 / start.elapsed().as_secs_f64()
}

async fn page_through(index: &SqliteIndex, user: &UserId, mut query: ListQuery) -> (usize, usize) {
    let (mut pages, mut entries) = (0, 0);
    loop {
        let page = index.list_folder(user, &query).await.unwrap();
        pages += 1;
        entries += page.items.len();
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return (pages, entries),
        }
    }
}

async fn run() {
    let dir = scratch_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("index.sqlite3");
    println!("index at {}", path.display());
    let index = SqliteIndex::open(&path).unwrap();
    let ann = UserId::parse("bench-ann").unwrap();
    let bob = UserId::parse("bench-bob").unwrap();
    let big = FolderPath::parse("big").unwrap();
    let folders: Vec<FolderPath> = (0..FOLDERS)
        .map(|i| FolderPath::parse(&format!("d{}/f{i:04}", i % 10)).unwrap())
        .collect();

    let mut rng = Lcg(42);
    let mut files = Vec::with_capacity(FILES);
    for n in 0..FILES {
        let folder = if n < BIG_FOLDER_FILES {
            &big
        } else {
            &folders[n % FOLDERS]
        };
        files.push(record(&ann, folder, n, &mut rng));
    }
    let rate = insert_rate(&index, &files).await;
    let others: Vec<_> = (0..OTHER_USER_FILES)
        .map(|n| record(&bob, &folders[n % FOLDERS], n, &mut rng))
        .collect();
    insert_rate(&index, &others).await;

    // The baselines: a plain read-only connection to the same file.
    let plain = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let select_1 = median_sync_ms(|| {
        plain
            .prepare_cached("SELECT 1")
            .unwrap()
            .query_row([], |row| row.get::<_, i64>(0))
            .unwrap()
    });
    let pk_page = median_sync_ms(|| pk_rows(&plain, ann.as_str(), 101));
    let pk_1000 = median_sync_ms(|| pk_rows(&plain, ann.as_str(), 1001));
    let pk_big = median_sync_ms(|| pk_rows(&plain, ann.as_str(), BIG_FOLDER_FILES));
    let port_round_trip = median_ms(|| index.was_processed("bench", &ann, Uuid::nil())).await;
    println!("FERRY_BENCH baseline_select_1_ms={select_1:.4}");
    println!("FERRY_BENCH baseline_pk_read_101_rows_ms={pk_page:.3}");
    println!("FERRY_BENCH baseline_pk_read_1001_rows_ms={pk_1000:.3}");
    println!("FERRY_BENCH baseline_pk_read_{BIG_FOLDER_FILES}_rows_ms={pk_big:.3}");
    report(
        "index_port_round_trip_ms",
        port_round_trip,
        "baseline_select_1_ms",
        select_1,
    );

    // One insert's cost as time per file, against `SELECT 1`.
    println!("FERRY_BENCH index_insert_files_per_s={rate:.0} (tmpfs, one at a time)");
    report(
        "index_insert_ms_per_file",
        1000.0 / rate,
        "baseline_select_1_ms",
        select_1,
    );

    let small = &folders[3];
    for (folder, label) in [(&big, "big"), (small, "small")] {
        for sort in [SortKey::Name, SortKey::Size, SortKey::Modified] {
            for descending in [false, true] {
                let query = ListQuery {
                    folder: folder.clone(),
                    sort,
                    descending,
                    cursor: None,
                    limit: 100,
                };
                let ms = median_ms(|| index.list_folder(&ann, &query)).await;
                let direction = if descending { "desc" } else { "asc" };
                report(
                    &format!(
                        "index_list_first_page_{label}_{}_{direction}_ms",
                        format!("{sort:?}").to_lowercase()
                    ),
                    ms,
                    "baseline_pk_read_101_rows_ms",
                    pk_page,
                );
            }
        }
    }

    // The last page of the big folder costs what the first does.
    let mut query = ListQuery {
        folder: big.clone(),
        sort: SortKey::Size,
        descending: false,
        cursor: None,
        limit: 100,
    };
    let mut last_cursor = None;
    loop {
        let page = index.list_folder(&ann, &query).await.unwrap();
        match page.next_cursor {
            Some(cursor) => {
                last_cursor = Some(cursor.clone());
                query.cursor = Some(cursor);
            }
            None => break,
        }
    }
    query.cursor = last_cursor;
    let last = median_ms(|| index.list_folder(&ann, &query)).await;
    report(
        "index_list_last_page_big_size_asc_ms",
        last,
        "baseline_pk_read_101_rows_ms",
        pk_page,
    );

    for sort in [SortKey::Name, SortKey::Size, SortKey::Modified] {
        let query = ListQuery {
            folder: big.clone(),
            sort,
            descending: false,
            cursor: None,
            limit: 1000,
        };
        let start = Instant::now();
        let (pages, entries) = page_through(&index, &ann, query).await;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(entries, BIG_FOLDER_FILES);
        report(
            &format!(
                "index_page_through_{BIG_FOLDER_FILES}_{}_ms",
                format!("{sort:?}").to_lowercase()
            ),
            ms,
            &format!("baseline_pk_read_{BIG_FOLDER_FILES}_rows_ms"),
            pk_big,
        );
        println!("  ({pages} pages of 1000)");
    }

    // Each search twice: as the port runs it (the rarest trigram when it is
    // rare enough, else the scan) and by the scan alone, as before the
    // trigram index.
    for (label, text, note) in [
        (
            "rare",
            "NEEDLE",
            "5 hits; the scan reads every name, the trigram plan 5 candidates",
        ),
        (
            "rare_digits",
            "12345",
            "1 hit; rarest trigram `123`, about 300 candidates",
        ),
        (
            "medium",
            "99.",
            "1,000 hits, a page of 100; one trigram, 1,000 candidates",
        ),
        (
            "common",
            ".DAT",
            "every name; trigrams over the budget, so the scan",
        ),
        // One name in eight matches, but they sort after every other name,
        // so the first page comes after most of the index is read.
        (
            "common_sorting_last",
            "été",
            "12,500 hits sorting last; over the budget, so the scan",
        ),
    ] {
        // Interleaved, so both plans see the same machine.
        let (mut planned, mut scanned) = (Vec::new(), Vec::new());
        for repeat in 0..REPEATS {
            for plan in [repeat % 2, 1 - repeat % 2] {
                let start = Instant::now();
                let page = if plan == 0 {
                    index.search(&ann, text, None, 100).await
                } else {
                    index
                        .search_with_plan(&ann, text, None, 100, SearchPlan::Scan)
                        .await
                };
                std::hint::black_box(page.unwrap());
                let ms = start.elapsed().as_secs_f64() * 1000.0;
                [&mut planned, &mut scanned][plan].push(ms);
            }
        }
        let (planned, scanned) = (median(planned), median(scanned));
        let page = index.search(&ann, text, None, 100).await.unwrap();
        let by_scan = index
            .search_with_plan(&ann, text, None, 100, SearchPlan::Scan)
            .await
            .unwrap();
        assert_eq!(page, by_scan);
        report(
            &format!("index_search_{label}_ms"),
            planned,
            "baseline_pk_read_101_rows_ms",
            pk_page,
        );
        report(
            &format!("index_search_{label}_scan_ms"),
            scanned,
            "baseline_pk_read_101_rows_ms",
            pk_page,
        );
        println!(
            "  ({} on the first page among {FILES} files: {note})",
            page.items.len()
        );
    }

    let usage = median_ms(|| index.usage(&ann)).await;
    report("index_usage_ms", usage, "baseline_select_1_ms", select_1);
    assert_eq!(index.usage(&ann).await.unwrap().files, FILES as u64);

    let start = Instant::now();
    let mut cursor: Option<String> = None;
    let mut under = 0;
    loop {
        let page = index
            .files_under(&ann, &big, cursor.as_deref(), 1000)
            .await
            .unwrap();
        under += page.items.len();
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(under, BIG_FOLDER_FILES);
    report(
        &format!("index_files_under_big_all_{BIG_FOLDER_FILES}_ms"),
        start.elapsed().as_secs_f64() * 1000.0,
        &format!("baseline_pk_read_{BIG_FOLDER_FILES}_rows_ms"),
        pk_big,
    );
    let d3 = FolderPath::parse("d3").unwrap();
    let tree = median_ms(|| index.files_under(&ann, &d3, None, 1000)).await;
    report(
        "index_files_under_d3_first_1000_ms",
        tree,
        "baseline_pk_read_1001_rows_ms",
        pk_1000,
    );

    drop(index);
    std::fs::remove_dir_all(&dir).unwrap();

    // On disk, every insert waits for its fsync.
    let disk = tempfile_dir();
    let index = SqliteIndex::open(&disk.join("index.sqlite3")).unwrap();
    let sample: Vec<_> = (0..DISK_INSERTS)
        .map(|n| record(&ann, &big, n, &mut rng))
        .collect();
    let disk_rate = insert_rate(&index, &sample).await;
    println!(
        "FERRY_BENCH index_insert_on_disk_files_per_s={disk_rate:.0} (synchronous=FULL, {DISK_INSERTS} inserts)"
    );
    drop(index);
    std::fs::remove_dir_all(&disk).unwrap();
}

fn tempfile_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ferry-index-bench-disk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
        .block_on(run());
}
