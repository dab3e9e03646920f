//! `ferry-server backup DIR` and `ferry-server --data-dir EMPTY restore DIR`.
//!
//! A backup is taken while the server runs, without its lock:
//!
//! 1. Every object already in the bucket is hard-linked into the backup
//!    (copied when the backup is on another filesystem). Objects are never
//!    rewritten in place (they are written to a temporary file and renamed),
//!    so a link keeps the bytes as they were even if the server deletes or
//!    replaces the object afterwards.
//! 2. Every database (`*.sqlite3`) is copied with SQLite's online backup
//!    API, all from one read transaction over a connection that attaches
//!    them all, its snapshot of each taken one right after the other (the
//!    bus first): the copies are each consistent and as close to one
//!    instant as SQLite allows across files. Writers are never blocked (WAL).
//! 3. The objects the copied index names that step 1 missed (created since)
//!    are linked too. An `available` file's object exists whenever the
//!    index says so (the object is written first), and step 1 already holds
//!    every object older than the snapshot; one created after step 1 and
//!    deleted before step 3 is the only gap, and then steps 2 and 3 run
//!    again (up to five times).
//! 4. Objects the copied index doesn't know (written after its snapshot, or
//!    orphans) are left out, so `check` passes on a restored backup; a
//!    file's thumbnails go with it. Keys outside `users/` (not Ferry's
//!    files) are kept.
//! 5. The object endpoint's records beside the bucket (multipart uploads,
//!    ETags and checksums of the objects kept), `keys/`, `outbox/` and any
//!    other file are copied; `server.lock` and SQLite's `-wal`/`-shm` files
//!    are not.
//! 6. `ferry-backup.json` is written last: a backup without it is
//!    incomplete, and `restore` refuses it.
//!
//! What the copy can't hold: an event put on the bus in the microseconds
//! between the bus's snapshot and the index's. Taking the bus first means
//! every index change made before the bus's snapshot has its events in the
//! copy (a delivery not yet done is delivered again after a restore, and
//! the consumers skip what they already did); a command accepted in that
//! window is in the copy's index but not on its bus. Nothing is lost: a
//! server started on the restored directory puts it on the bus itself, as
//! the API would have (see [`super::unsent`]; `check --repair` does the
//! same with the same code, and until then `check` names it).

use super::{ServerLock, bucket_dir, is_empty_or_missing, open_db, require_data_dir};
use anyhow::Context as _;
use rusqlite::Connection;
use rusqlite::backup::{Backup, StepResult};
use std::collections::HashSet;
use std::fmt;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// The file that marks a complete backup.
pub const MANIFEST: &str = "ferry-backup.json";

/// How many times the databases are copied again when files were deleted
/// under the backup's feet.
const ROUNDS: u32 = 5;

/// What a backup holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupSummary {
    /// The databases copied.
    pub databases: Vec<String>,
    /// File entries in the copied index.
    pub files: u64,
    /// Objects in the backup.
    pub objects: u64,
    /// How many of them are hard links (the rest are copies).
    pub linked: u64,
    /// Objects left out: the copied index doesn't know them.
    pub left_out: u64,
    /// Other files copied (keys, outbox, the endpoint's records).
    pub other_files: u64,
    /// Times the databases were copied.
    pub rounds: u32,
}

impl fmt::Display for BackupSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "backed up {} databases ({}), {} files' entries, {} objects ({} hard-linked, {} copied; \
             {} the index doesn't know left out), {} other files",
            self.databases.len(),
            self.databases.join(", "),
            self.files,
            self.objects,
            self.linked,
            self.objects - self.linked,
            self.left_out,
            self.other_files
        )
    }
}

/// Backs up the data directory at `data_dir` into `target`, which must not
/// exist or be empty. Runs beside a server.
pub fn backup(data_dir: &Path, target: &Path) -> anyhow::Result<BackupSummary> {
    require_data_dir(data_dir)?;
    anyhow::ensure!(
        is_empty_or_missing(target)?,
        "{} is not empty: a backup goes into a new or empty directory",
        target.display()
    );
    let existed = target.exists();
    std::fs::create_dir_all(target).with_context(|| format!("creating {}", target.display()))?;
    let (data, into) = (data_dir.canonicalize()?, target.canonicalize()?);
    if into.starts_with(&data) || data.starts_with(&into) {
        if !existed {
            let _ = std::fs::remove_dir(target);
        }
        anyhow::bail!(
            "{} is inside the data directory {} (or holds it): put the backup elsewhere",
            target.display(),
            data_dir.display()
        );
    }
    let result = take(&data, &into);
    if result.is_err() {
        // Without its manifest the copy is visibly incomplete; say so too.
        let _ = std::fs::write(
            into.join("INCOMPLETE"),
            "this backup failed part way; delete this directory\n",
        );
    }
    result
}

fn take(data: &Path, into: &Path) -> anyhow::Result<BackupSummary> {
    let mut summary = BackupSummary::default();
    let mut linker = Linker::default();
    let bucket = bucket_dir(data);
    let bucket_into = bucket_dir(into);

    // 1. The objects there are now.
    let mut have: HashSet<PathBuf> = HashSet::new();
    for rel in walk(&bucket)? {
        if linker.link(&bucket.join(&rel), &bucket_into.join(&rel))? {
            have.insert(rel);
        }
    }

    // 2-3. The databases, then the objects their index names; again if an
    // available file's object went missing in between.
    let names = database_names(data)?;
    let files = loop {
        summary.rounds += 1;
        for name in &names {
            remove_if_present(&into.join(name))?;
        }
        snapshot(data, into, &names)?;
        let files = indexed_files(&into.join("index.sqlite3"))?;
        let mut vanished = 0;
        for (user, file_id, status) in &files {
            let rel = Path::new("users").join(user).join(file_id);
            if have.contains(&rel) {
                continue;
            }
            if linker.link(&bucket.join(&rel), &bucket_into.join(&rel))? {
                have.insert(rel);
            } else if status == "available" {
                vanished += 1;
            }
        }
        if vanished == 0 {
            break files;
        }
        anyhow::ensure!(
            summary.rounds < ROUNDS,
            "files were deleted faster than they could be backed up ({vanished} in the last of \
             {ROUNDS} rounds); try again"
        );
    };
    summary.databases = names;
    summary.files = files.len() as u64;

    // 4. Objects the copied index doesn't know.
    let known: HashSet<PathBuf> = files
        .iter()
        .map(|(user, id, _)| Path::new("users").join(user).join(id))
        .collect();
    // A thumbnail (`users/{sub}/thumbs/{file id}/{size}`) goes with its
    // file: kept when the index knows the file, left out with it otherwise.
    let file_of_thumbnail = |rel: &Path| {
        let (user, id, _) = ferry_core::model::UserId::parse_thumbnail_key(rel.to_str()?)?;
        Some(Path::new("users").join(user.as_str()).join(id.to_string()))
    };
    let mut kept_keys = HashSet::new();
    for rel in have {
        let known_file = known.contains(&rel)
            || file_of_thumbnail(&rel).is_some_and(|file| known.contains(&file));
        if rel.starts_with("users") && !known_file {
            std::fs::remove_file(bucket_into.join(&rel))?;
            summary.left_out += 1;
        } else {
            kept_keys.insert(rel.to_string_lossy().into_owned());
        }
    }
    summary.objects = kept_keys.len() as u64;
    summary.linked = linker.linked.min(summary.objects);

    // 5. The endpoint's records beside the bucket, and everything else.
    let objects = data.join("objects");
    for entry in read_dir_or_empty(&objects)? {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !entry.file_type()?.is_file()
            || name.starts_with(".tmp.")
            || !record_kept(name, &kept_keys)
        {
            continue;
        }
        if copy_present(&entry.path(), &into.join("objects").join(name))? {
            summary.other_files += 1;
        }
    }
    for entry in std::fs::read_dir(data)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(text) = name.to_str() else { continue };
        if text == "objects" || text == super::LOCK_FILE || is_database_file(text) {
            continue;
        }
        summary.other_files += copy_tree(&entry.path(), &into.join(&name))?;
    }

    // 6. The manifest, last.
    let manifest = serde_json::json!({
        "format": 1,
        "createdAt": time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        "databases": summary.databases,
        "files": summary.files,
        "objects": summary.objects,
    });
    let partial = into.join(format!("{MANIFEST}.partial"));
    std::fs::write(&partial, serde_json::to_vec_pretty(&manifest)?)?;
    std::fs::File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, into.join(MANIFEST))?;
    Ok(summary)
}

/// The data directory's databases, the bus first and the index second (see
/// the module's note on why), then the rest by name.
fn database_names(data: &Path) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(data)?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".sqlite3"))
        .collect();
    let rank = |name: &str| match name {
        "bus.sqlite3" => 0,
        "index.sqlite3" => 1,
        _ => 2,
    };
    names.sort_by(|a, b| (rank(a), a).cmp(&(rank(b), b)));
    Ok(names)
}

fn is_database_file(name: &str) -> bool {
    name.ends_with(".sqlite3")
        || name.ends_with(".sqlite3-wal")
        || name.ends_with(".sqlite3-shm")
        || name.ends_with(".sqlite3-journal")
}

/// Copies every database, each from one snapshot, the snapshots taken one
/// after the other inside one read transaction.
fn snapshot(data: &Path, into: &Path, names: &[String]) -> anyhow::Result<()> {
    let conn = Connection::open_in_memory()?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    for (i, name) in names.iter().enumerate() {
        let path = data.join(name);
        conn.execute(
            &format!("ATTACH DATABASE ?1 AS db{i}"),
            [path.to_string_lossy()],
        )
        .with_context(|| format!("opening {}", path.display()))?;
    }
    conn.execute_batch("BEGIN")?;
    // A read starts each file's snapshot; the copies below read from them.
    for i in 0..names.len() {
        conn.query_row(
            &format!("SELECT COUNT(*) FROM db{i}.sqlite_master"),
            [],
            |row| row.get::<_, i64>(0),
        )?;
    }
    for (i, name) in names.iter().enumerate() {
        let path = into.join(name);
        let mut copy =
            Connection::open(&path).with_context(|| format!("creating {}", path.display()))?;
        {
            let schema = format!("db{i}");
            let backup = Backup::new_with_names(&conn, schema.as_str(), &mut copy, "main")?;
            match backup.step(-1)? {
                StepResult::Done => {}
                other => anyhow::bail!("copying {name} stopped short ({other:?})"),
            }
        }
        // One file, whatever journal mode the source had; the server sets
        // WAL again when it opens it.
        copy.pragma_update(None, "journal_mode", "DELETE")?;
        drop(copy);
        std::fs::File::open(&path)?.sync_all()?;
    }
    conn.execute_batch("COMMIT")?;
    Ok(())
}

/// `(user, file id, status)` of every entry in an index file.
fn indexed_files(index: &Path) -> anyhow::Result<Vec<(String, String, String)>> {
    let conn = open_db(index, false)?;
    let mut stmt = conn.prepare("SELECT user, file_id, status FROM files")?;
    let rows = stmt.query_map([], |row| {
        let id: Vec<u8> = row.get(1)?;
        Ok((
            row.get::<_, String>(0)?,
            uuid::Uuid::from_slice(&id).unwrap_or_default().to_string(),
            row.get::<_, String>(2)?,
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Whether a record beside the bucket goes into the backup: an object's
/// ETag and metadata only with the object; every upload's record.
fn record_kept(name: &str, kept_keys: &HashSet<String>) -> bool {
    use base64::Engine as _;
    let Some(rest) = name.strip_prefix(".bucket-") else {
        return true;
    };
    let Some((_, rest)) = rest.split_once(".object-") else {
        return true;
    };
    let Some((key, kind)) = rest.split_once('.') else {
        return true;
    };
    if kind != "internal.json" && kind != "metadata.json" {
        return true; // an open upload's metadata
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(key)
        .ok()
        .and_then(|key| String::from_utf8(key).ok())
        .is_some_and(|key| kept_keys.contains(&key))
}

/// Hard links objects while the filesystem allows, then copies.
#[derive(Debug)]
struct Linker {
    links: bool,
    linked: u64,
}

impl Default for Linker {
    fn default() -> Self {
        Self {
            links: true,
            linked: 0,
        }
    }
}

impl Linker {
    /// Links (or copies) `from` to `to`; `false` when `from` is gone.
    fn link(&mut self, from: &Path, to: &Path) -> anyhow::Result<bool> {
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir)?;
        }
        if self.links {
            match std::fs::hard_link(from, to) {
                Ok(()) => {
                    self.linked += 1;
                    return Ok(true);
                }
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(true),
                // Another filesystem, or one without hard links.
                Err(_) => self.links = false,
            }
        }
        copy_present(from, to)
    }
}

/// Copies `from` to `to`; `false` when `from` is gone.
fn copy_present(from: &Path, to: &Path) -> anyhow::Result<bool> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::copy(from, to) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound && !from.exists() => {
            let _ = std::fs::remove_file(to);
            Ok(false)
        }
        Err(e) => Err(e).with_context(|| format!("copying {}", from.display())),
    }
}

/// Copies a file or a folder (recursively); returns how many files.
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<u64> {
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        let mut count = 0;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            count += copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(count)
    } else {
        Ok(u64::from(copy_present(from, to)?))
    }
}

/// Every file under `dir`, relative to it, skipping dot files (temporary
/// files); empty when `dir` doesn't exist.
fn walk(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        for entry in read_dir_or_empty(&dir.join(&rel))? {
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            if entry.file_type()?.is_dir() {
                pending.push(rel.join(&name));
            } else {
                found.push(rel.join(&name));
            }
        }
    }
    Ok(found)
}

fn read_dir_or_empty(dir: &Path) -> anyhow::Result<Vec<std::fs::DirEntry>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => Ok(entries.collect::<std::io::Result<_>>()?),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", dir.display())),
    }
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        match std::fs::remove_file(PathBuf::from(name)) {
            Err(e) if e.kind() != ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    Ok(())
}

/// What a restore copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreSummary {
    /// Files copied in.
    pub files: u64,
}

impl fmt::Display for RestoreSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "restored {} files; `ferry-server check` on the data directory verifies them",
            self.files
        )
    }
}

/// Copies the backup at `backup_dir` into `data_dir`, which must not exist
/// or be empty. The backup is left as it was (everything is copied, not
/// linked). Holds the new directory's `server.lock` meanwhile, so no server
/// starts on half a copy.
pub fn restore(backup_dir: &Path, data_dir: &Path) -> anyhow::Result<RestoreSummary> {
    anyhow::ensure!(
        backup_dir.join(MANIFEST).is_file(),
        "{} is not a complete backup (it has no {MANIFEST})",
        backup_dir.display()
    );
    anyhow::ensure!(
        is_empty_or_missing(data_dir)?,
        "{} is not empty: restore into a new or empty data directory",
        data_dir.display()
    );
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let lock = ServerLock::try_acquire(data_dir)?
        .context("a server started on the data directory meanwhile")?;
    let mut summary = RestoreSummary::default();
    for entry in std::fs::read_dir(backup_dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_str() == Some(MANIFEST) {
            continue;
        }
        summary.files += copy_tree(&entry.path(), &data_dir.join(&name)).with_context(|| {
            format!(
                "restoring into {} failed part way; empty it and restore again",
                data_dir.display()
            )
        })?;
    }
    for name in database_names(data_dir)? {
        std::fs::File::open(data_dir.join(name))?.sync_all()?;
    }
    drop(lock);
    Ok(summary)
}
