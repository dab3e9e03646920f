//! `ferry-server check`: an integrity scrub of a data directory, safe beside
//! a running server.
//!
//! What it checks:
//! - every `available` file has its object, of the indexed size, and with
//!   the indexed SHA-256 when the index has one (otherwise the size only;
//!   the summary says how many);
//! - no object under `users/{sub}/{file id}` lacks an index entry;
//! - no upload is older than the sweep's limit (`upload_idle`, a day): an
//!   `uploading` file, or a multipart upload the index doesn't know;
//! - each user's `usage` row equals the sizes and count of their files that
//!   count (those not being deleted);
//! - every command the API accepted for the bus and still pending a minute
//!   later is on the bus (a crash between recording and putting, or a
//!   backup taken in that instant, leaves one that is not, until a server
//!   runs on the directory: it puts such commands there itself, see
//!   [`super::unsent`]);
//! - no bus delivery is still pending or in flight after the retries the
//!   dispatcher allows (`max_attempts`) without being in the dead letters.
//!
//! How it stays out of the server's way: the index is read in one short
//! read transaction (a snapshot), and the objects are then hashed outside
//! any transaction, at a bounded rate ([`CheckOptions::bytes_per_second`]).
//! Because the server goes on meanwhile, every finding about a file or an
//! object is confirmed against a fresh read before it is reported (a file
//! deleted since the snapshot is not "missing its object"; an object whose
//! file was created since is not an orphan).
//!
//! What `--repair` does, never deleting bytes:
//! - an orphan object becomes a file of its owner in the folder
//!   `lost+found`, named by its id, with its size and SHA-256 (its key is
//!   already its owner's and that id, so no byte moves), counted in usage;
//! - usage is recomputed from the files, in one write transaction;
//! - an unsent command is put on the bus with the envelope the API stored,
//!   as the API would have and as a running server does at start and every
//!   minute, with the same code ([`super::unsent`]; safe beside a server:
//!   its dispatcher picks it up, and the bus keeps a key once);
//! - a stuck delivery is moved to the dead letters, as the dispatcher does
//!   after the last retry: its error stays visible (`dlq list`) and a person
//!   replays it (`dlq replay`) once its cause is fixed, rather than it being
//!   retried blindly again (one a running server is attempting right then
//!   may also succeed; a replay then delivers it twice, which the consumers,
//!   idempotent, skip);
//! - stale uploads are handed to the domain's own sweep, which aborts them
//!   (or indexes one whose bytes did arrive) and announces it, exactly as
//!   the server does every hour. That needs the server stopped (the sweep
//!   holds `server.lock` while it runs), and no file with a missing object
//!   or orphan object left (the sweep would remove those entries and delete
//!   those objects); otherwise they are left to the server's sweep.
//!
//! A file whose object is missing or holds other bytes can't be repaired
//! without losing bytes; it is reported with what a person can do.

use super::unsent::{self, UNSENT_AFTER, Unsent};
use super::{ServerLock, Throttle, hash_file, object_path, open_db, require_data_dir};
use crate::clock::SystemClock;
use crate::{AppState, LOCAL_BUCKET, Settings};
use anyhow::Context as _;
use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// The folder orphan objects are indexed into.
pub const LOST_AND_FOUND: &str = "lost+found";

/// How a check runs.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Repair what can be repaired without losing bytes.
    pub repair: bool,
    /// How long an upload may sit idle: the server's `upload_idle` (a day).
    pub upload_idle: Duration,
    /// Attempts the bus's dispatcher makes before dead-lettering: the
    /// server's `RetryPolicy::max_attempts` (8).
    pub max_attempts: u32,
    /// The most object bytes read per second (`None`: no limit).
    pub bytes_per_second: Option<u64>,
}

impl Default for CheckOptions {
    /// No repair, the server's defaults, 64 MiB/s.
    fn default() -> Self {
        Self {
            repair: false,
            upload_idle: Settings::new("http://127.0.0.1", PathBuf::new(), PathBuf::new())
                .upload_idle,
            max_attempts: ferry_bus::RetryPolicy::default().max_attempts,
            bytes_per_second: Some(64 * 1024 * 1024),
        }
    }
}

/// A file, as a problem names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRef {
    /// The owner's sub (the index's user).
    pub user: String,
    /// The owner's user name, or the sub when the user pool doesn't know it.
    pub owner: String,
    /// The file's id.
    pub file_id: Uuid,
    /// `folder/name`.
    pub path: String,
}

impl fmt::Display for FileRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}'s file {:?} (id {})",
            self.owner, self.path, self.file_id
        )
    }
}

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// An available file whose object is gone.
    MissingObject {
        /// The file.
        file: FileRef,
        /// Where its object should be.
        object: PathBuf,
    },
    /// An available file whose object has another size than indexed.
    WrongSize {
        /// The file.
        file: FileRef,
        /// Its object.
        object: PathBuf,
        /// The size in the index.
        indexed: u64,
        /// The object's size.
        found: u64,
    },
    /// An available file whose object has another SHA-256 than indexed.
    WrongSha256 {
        /// The file.
        file: FileRef,
        /// Its object.
        object: PathBuf,
        /// The SHA-256 in the index (hex).
        indexed: String,
        /// The object's (hex).
        found: String,
    },
    /// An object no index entry names.
    OrphanObject {
        /// The sub in its key.
        user: String,
        /// Its owner's user name (or the sub).
        owner: String,
        /// The file id in its key.
        file_id: Uuid,
        /// The object.
        object: PathBuf,
        /// Its size.
        size: u64,
    },
    /// A file still `uploading` after the sweep's limit.
    StaleUpload {
        /// The file.
        file: FileRef,
        /// How long it has been idle.
        idle: Duration,
    },
    /// A multipart upload the index doesn't know, older than the limit.
    StaleMultipart {
        /// Its id.
        upload_id: String,
        /// The key it would create.
        key: String,
        /// Its age.
        idle: Duration,
    },
    /// A usage row that isn't the sum over the user's files.
    WrongUsage {
        /// The sub.
        user: String,
        /// The user name (or the sub).
        owner: String,
        /// Bytes, current files, trash bytes and version bytes the row says.
        recorded: Usage4,
        /// The same, summed over the user's files.
        actual: Usage4,
    },
    /// A command the API accepted (recorded, answered `202`) that is still
    /// pending and was never put on the bus, so nothing will carry it out:
    /// what a crash between recording and putting leaves when the client
    /// gave up, or a backup taken in that instant.
    UnsentCommand {
        /// The user name (or the sub).
        owner: String,
        /// The command, with the envelope the API stored with it.
        command: Unsent,
        /// How long ago it was accepted.
        age: Duration,
    },
    /// A delivery pending or in flight with no retries left, outside the
    /// dead letters.
    StuckDelivery {
        /// The delivery's id.
        id: i64,
        /// Its rule.
        rule: String,
        /// `pending` or `in_flight`.
        state: String,
        /// Attempts made.
        attempts: u32,
    },
}

impl Problem {
    /// Whether `--repair` can fix it without losing bytes.
    pub fn repairable(&self) -> bool {
        !matches!(
            self,
            Self::MissingObject { .. } | Self::WrongSize { .. } | Self::WrongSha256 { .. }
        )
    }

    /// What a person can do about a problem `--repair` leaves.
    fn advice(&self) -> Option<&'static str> {
        match self {
            Self::MissingObject { .. } => Some(
                "a file whose object is missing: put the object back at the path shown (from a \
                 backup) before a server starts on this directory, or the server's sweep will \
                 remove the file's entry (at start, for files untouched for a minute); without a \
                 copy, the owner can only delete the file and upload it again",
            ),
            Self::WrongSize { .. } | Self::WrongSha256 { .. } => Some(
                "a file whose object holds other bytes than were uploaded: put the right bytes \
                 back at the path shown (from a backup, `sha256sum` to compare), or have the \
                 owner upload the file again and delete this copy",
            ),
            _ => None,
        }
    }
}

fn ago(idle: Duration) -> String {
    let hours = idle.as_secs() / 3600;
    if hours >= 48 {
        format!("{} days", hours / 24)
    } else {
        format!("{hours} hours")
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingObject { file, object } => write!(
                f,
                "missing object: {file} is available but its object {} is gone",
                object.display()
            ),
            Self::WrongSize {
                file,
                object,
                indexed,
                found,
            } => write!(
                f,
                "wrong size: {file} is {indexed} bytes in the index but its object {} has {found}",
                object.display()
            ),
            Self::WrongSha256 {
                file,
                object,
                indexed,
                found,
            } => write!(
                f,
                "wrong SHA-256: {file} has SHA-256 {indexed} in the index but its object {} has {found}",
                object.display()
            ),
            Self::OrphanObject {
                owner,
                file_id,
                object,
                size,
                ..
            } => write!(
                f,
                "orphan object: {} ({size} bytes, {owner}'s key, id {file_id}) has no file in the index",
                object.display()
            ),
            Self::StaleUpload { file, idle } => write!(
                f,
                "stale upload: {file} has been uploading for {}, past the sweep's limit",
                ago(*idle)
            ),
            Self::StaleMultipart {
                upload_id,
                key,
                idle,
            } => write!(
                f,
                "stale upload: multipart upload {upload_id} of {key} is {} old and no file names it",
                ago(*idle)
            ),
            Self::WrongUsage {
                owner,
                recorded,
                actual,
                ..
            } => write!(
                f,
                "wrong usage: {owner}'s usage says {} bytes in {} files ({} in the trash, {} in versions), their files add up to {} bytes in {} ({} in the trash, {} in versions)",
                recorded.0,
                recorded.1,
                recorded.2,
                recorded.3,
                actual.0,
                actual.1,
                actual.2,
                actual.3
            ),
            Self::UnsentCommand {
                owner,
                command: Unsent {
                    command_id, action, ..
                },
                age,
            } => write!(
                f,
                "unsent command: {owner}'s {action} {command_id} was accepted {} minutes ago and is \
                 pending, but was never put on the bus",
                age.as_secs() / 60
            ),
            Self::StuckDelivery {
                id,
                rule,
                state,
                attempts,
            } => write!(
                f,
                "stuck delivery: delivery {id} to {rule} is {state} after {attempts} attempts, past its retries, and not in the dead letters"
            ),
        }
    }
}

/// What was looked at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// File entries in the index.
    pub files: u64,
    /// Available files whose object was compared by SHA-256.
    pub by_sha256: u64,
    /// Available files compared by size only (the index has no SHA-256).
    pub size_only: u64,
    /// Objects under `users/`.
    pub objects: u64,
    /// Users with files or usage.
    pub users: u64,
    /// Deliveries pending or in flight.
    pub outstanding_deliveries: u64,
    /// Object bytes read.
    pub bytes_read: u64,
}

/// What a check found and, with `--repair`, did.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Every problem found, in the order found.
    pub problems: Vec<Problem>,
    /// Whether each problem (same index) was repaired.
    pub repaired: Vec<bool>,
    /// One line per repair made, and per repair left undone with why.
    pub repairs: Vec<String>,
    /// What was looked at.
    pub stats: Stats,
}

impl CheckReport {
    /// Problems still there: every problem without `--repair`.
    pub fn remaining(&self) -> usize {
        self.repaired.iter().filter(|done| !**done).count()
    }

    /// Whether nothing is left wrong.
    pub fn healthy(&self) -> bool {
        self.remaining() == 0
    }

    /// The report for a person: one line per problem, the repairs, advice
    /// for what is left, then a summary.
    pub fn print(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for problem in &self.problems {
            writeln!(out, "{problem}")?;
        }
        for line in &self.repairs {
            writeln!(out, "{line}")?;
        }
        let mut advised = HashSet::new();
        for (problem, done) in self.problems.iter().zip(&self.repaired) {
            if let Some(advice) = problem.advice().filter(|_| !done)
                && advised.insert(advice)
            {
                writeln!(out, "what to do about {advice}")?;
            }
        }
        let s = &self.stats;
        write!(
            out,
            "checked {} files ({} by SHA-256, {} by size only, having no SHA-256 in the index), \
             {} objects, {} users, {} outstanding deliveries; read {} bytes: ",
            s.files,
            s.by_sha256,
            s.size_only,
            s.objects,
            s.users,
            s.outstanding_deliveries,
            s.bytes_read
        )?;
        let fixed = self.problems.len() - self.remaining();
        match (self.problems.len(), fixed) {
            (0, _) => writeln!(out, "no problems"),
            (found, 0) => writeln!(out, "{found} problem(s)"),
            (found, fixed) => writeln!(
                out,
                "{found} problem(s), {fixed} repaired, {} left",
                found - fixed
            ),
        }
    }
}

/// Checks the data directory at `data_dir` and, with `options.repair`,
/// repairs what it can. Errors only when the check itself can't run (no
/// such data directory, an unreadable database); problems are in the report.
pub async fn check(data_dir: &Path, options: &CheckOptions) -> anyhow::Result<CheckReport> {
    require_data_dir(data_dir)?;
    let (dir, opts) = (data_dir.to_owned(), options.clone());
    let mut report = tokio::task::spawn_blocking(move || -> anyhow::Result<CheckReport> {
        let mut report = scan(&dir, &opts)?;
        if opts.repair {
            repair(&dir, &opts, &mut report)?;
        }
        Ok(report)
    })
    .await
    .context("the check's task failed")??;
    if options.repair {
        resend_commands(data_dir, &mut report).await?;
        repair_uploads(data_dir, options, &mut report).await?;
    }
    Ok(report)
}

/// A bus rule's target for a bus opened only to put on it: this process
/// starts no dispatcher, so nothing is ever delivered here (the server's
/// dispatcher delivers, now or when it starts).
struct NoDispatcher;

#[ferry_bus::async_trait]
impl ferry_bus::Target for NoDispatcher {
    async fn deliver(&self, _event: &serde_json::Value) -> Result<(), String> {
        Err("delivered by the server's dispatcher, not by ferry-server check".to_owned())
    }
}

/// Puts each unsent command on the bus as the API would have, as a
/// running server does itself ([`unsent::resend`]; the bus keeps a key
/// once, so a command put there meanwhile is not put twice). Safe beside a
/// running server: its dispatcher picks the new deliveries up.
async fn resend_commands(data_dir: &Path, report: &mut CheckReport) -> anyhow::Result<()> {
    let unsent: Vec<usize> = (0..report.problems.len())
        .filter(|i| matches!(report.problems[*i], Problem::UnsentCommand { .. }))
        .collect();
    if unsent.is_empty() {
        return Ok(());
    }
    let rules = ferry_core::consumers::rules()
        .into_iter()
        .map(|(name, pattern)| ferry_bus::Rule {
            name: name.to_owned(),
            pattern,
            target: Arc::new(NoDispatcher),
        })
        .collect();
    let bus = ferry_bus::LocalBus::open(
        &data_dir.join("bus.sqlite3"),
        ferry_bus::BusConfig {
            name: crate::LOCAL_BUS.to_owned(),
            account: crate::LOCAL_ACCOUNT.to_owned(),
            region: crate::LOCAL_REGION.to_owned(),
            retry: ferry_bus::RetryPolicy::default(),
        },
        rules,
        Arc::new(SystemClock),
    )?;
    for i in unsent {
        let Problem::UnsentCommand { owner, command, .. } = &report.problems[i] else {
            continue;
        };
        let Unsent {
            command_id, action, ..
        } = command;
        let line = match unsent::resend(&*bus, command).await {
            Ok(()) => {
                report.repaired[i] = true;
                format!("repaired: {owner}'s {action} {command_id} is on the bus now")
            }
            Err(e) => format!("not repaired: {owner}'s {action} {command_id}: {e}"),
        };
        report.repairs.push(line);
    }
    Ok(())
}

/// An index row, as far as the check needs it.
#[derive(Debug)]
struct Row {
    user: String,
    file_id: Uuid,
    path: String,
    status: String,
    size: i64,
    sha256: Option<String>,
    upload_id: Option<String>,
    updated_at: i64,
    version: i64,
}

fn now_nanos() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos()).unwrap_or(i64::MAX)
}

/// Sub → user name, from the user pool when there is one.
fn owners(data_dir: &Path) -> HashMap<String, String> {
    let read = || -> anyhow::Result<HashMap<String, String>> {
        let conn = open_db(&data_dir.join("identity.sqlite3"), false)?;
        let mut stmt = conn.prepare("SELECT sub, username FROM users")?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    };
    read().unwrap_or_default()
}

fn owner_of(owners: &HashMap<String, String>, user: &str) -> String {
    owners.get(user).cloned().unwrap_or_else(|| user.to_owned())
}

/// The file's status and version now (a short read of its own).
fn current(
    index: &Connection,
    user: &str,
    file_id: Uuid,
) -> rusqlite::Result<Option<(String, i64)>> {
    index
        .prepare_cached("SELECT status, version FROM files WHERE user = ?1 AND file_id = ?2")?
        .query_row(params![user, file_id.as_bytes().as_slice()], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()
}

fn scan(data_dir: &Path, options: &CheckOptions) -> anyhow::Result<CheckReport> {
    let owners = owners(data_dir);
    let mut index = open_db(&data_dir.join("index.sqlite3"), false)?;
    let now = now_nanos();
    let idle = i64::try_from(options.upload_idle.as_nanos()).unwrap_or(i64::MAX);

    // One snapshot of the files and the usage rows, so the sums compare
    // like with like; nothing slow happens inside it.
    let (rows, usage, sums) = {
        let tx = index.transaction()?;
        let rows = {
            let mut stmt = tx.prepare(
                "SELECT user, file_id, folder, name, status, size, sha256, upload_id, updated_at,
                        version
                 FROM files",
            )?;
            let mapped = stmt.query_map([], |row| {
                let id: Vec<u8> = row.get(1)?;
                let folder: String = row.get(2)?;
                let name: String = row.get(3)?;
                Ok(Row {
                    user: row.get(0)?,
                    file_id: Uuid::from_slice(&id).unwrap_or_default(),
                    path: if folder.is_empty() {
                        name
                    } else {
                        format!("{folder}/{name}")
                    },
                    status: row.get(4)?,
                    size: row.get(5)?,
                    sha256: row.get(6)?,
                    upload_id: row.get(7)?,
                    updated_at: row.get(8)?,
                    version: row.get(9)?,
                })
            })?;
            mapped.collect::<rusqlite::Result<Vec<_>>>()?
        };
        let usage = read_usage(
            &tx,
            "SELECT user, bytes, files, trash_bytes, version_bytes FROM usage",
        )?;
        let sums = read_usage(
            &tx,
            &format!("SELECT user, {USAGE_SUMS} FROM files GROUP BY user"),
        )?;
        tx.commit()?;
        (rows, usage, sums)
    };

    let mut report = CheckReport::default();
    report.stats.files = rows.len() as u64;
    let file_ref = |row: &Row| FileRef {
        user: row.user.clone(),
        owner: owner_of(&owners, &row.user),
        file_id: row.file_id,
        path: row.path.clone(),
    };

    // Usage, within the snapshot.
    let users: HashSet<&String> = usage.keys().chain(sums.keys()).collect();
    report.stats.users = users.len() as u64;
    let mut users: Vec<&String> = users.into_iter().collect();
    users.sort();
    let mut usage_problems = Vec::new();
    for user in users {
        let recorded = usage.get(user).copied().unwrap_or_default();
        let actual = sums.get(user).copied().unwrap_or_default();
        if recorded != actual {
            usage_problems.push(Problem::WrongUsage {
                user: user.clone(),
                owner: owner_of(&owners, user),
                recorded,
                actual,
            });
        }
    }

    // Files with bytes (available, in the trash, versions) against their objects.
    let mut throttle = Throttle::new(options.bytes_per_second);
    let kept = |status: &str| matches!(status, "available" | "trashed" | "version");
    for row in rows.iter().filter(|r| kept(&r.status)) {
        let object = object_path(data_dir, &row.user, row.file_id);
        let indexed = u64::try_from(row.size).unwrap_or(0);
        let found = match std::fs::metadata(&object) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(Problem::MissingObject {
                file: file_ref(row),
                object: object.clone(),
            }),
            Err(e) => return Err(e).with_context(|| format!("reading {}", object.display())),
            Ok(meta) if meta.len() != indexed => Some(Problem::WrongSize {
                file: file_ref(row),
                object: object.clone(),
                indexed,
                found: meta.len(),
            }),
            Ok(_) => match &row.sha256 {
                None => {
                    report.stats.size_only += 1;
                    None
                }
                Some(expected) => match hash_file(&object, &mut throttle) {
                    // Deleted since the metadata: confirmed below.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        Some(Problem::MissingObject {
                            file: file_ref(row),
                            object: object.clone(),
                        })
                    }
                    Err(e) => {
                        return Err(e).with_context(|| format!("reading {}", object.display()));
                    }
                    Ok((size, sha)) => {
                        report.stats.by_sha256 += 1;
                        report.stats.bytes_read += size;
                        if size != indexed {
                            Some(Problem::WrongSize {
                                file: file_ref(row),
                                object: object.clone(),
                                indexed,
                                found: size,
                            })
                        } else if !sha.eq_ignore_ascii_case(expected) {
                            Some(Problem::WrongSha256 {
                                file: file_ref(row),
                                object: object.clone(),
                                indexed: expected.clone(),
                                found: sha,
                            })
                        } else {
                            None
                        }
                    }
                },
            },
        };
        // The server went on meanwhile: only a file still available as
        // snapshotted counts (one being deleted loses its object first).
        if let Some(problem) = found
            && current(&index, &row.user, row.file_id)?
                .is_some_and(|(status, version)| status == row.status && version == row.version)
            && (!matches!(problem, Problem::MissingObject { .. }) || !object.exists())
        {
            report.problems.push(problem);
        }
    }

    // Objects without a file.
    let known: HashSet<(&str, Uuid)> = rows.iter().map(|r| (r.user.as_str(), r.file_id)).collect();
    for (user, file_id, object) in user_objects(data_dir)? {
        report.stats.objects += 1;
        if known.contains(&(user.as_str(), file_id)) {
            continue;
        }
        // A file created since the snapshot has its entry before its object.
        if current(&index, &user, file_id)?.is_some() {
            continue;
        }
        let Ok(meta) = std::fs::metadata(&object) else {
            continue; // gone meanwhile
        };
        report.problems.push(Problem::OrphanObject {
            owner: owner_of(&owners, &user),
            user,
            file_id,
            object,
            size: meta.len(),
        });
    }

    // Uploads past the limit: files, then multipart uploads no file names.
    for row in rows.iter().filter(|r| r.status == "uploading") {
        if now.saturating_sub(row.updated_at) > idle
            && current(&index, &row.user, row.file_id)?
                .is_some_and(|(status, version)| status == "uploading" && version == row.version)
        {
            report.problems.push(Problem::StaleUpload {
                file: file_ref(row),
                idle: Duration::from_nanos(u64::try_from(now - row.updated_at).unwrap_or(0)),
            });
        }
    }
    let uploads: HashSet<&str> = rows.iter().filter_map(|r| r.upload_id.as_deref()).collect();
    let now_secs = now / 1_000_000_000;
    for (upload_id, key, initiated) in open_uploads(data_dir)? {
        let age = now_secs.saturating_sub(initiated);
        if i128::from(age) * 1_000_000_000 > i128::from(idle)
            && !uploads.contains(upload_id.as_str())
        {
            report.problems.push(Problem::StaleMultipart {
                upload_id,
                key,
                idle: Duration::from_secs(u64::try_from(age).unwrap_or(0)),
            });
        }
    }
    report.problems.extend(usage_problems);

    // Deliveries past their retries.
    let bus = open_db(&data_dir.join("bus.sqlite3"), false)?;
    report.stats.outstanding_deliveries = bus.query_row(
        "SELECT COUNT(*) FROM deliveries WHERE state IN ('pending', 'in_flight')",
        [],
        |row| row.get::<_, i64>(0),
    )? as u64;
    let mut stmt = bus.prepare(
        "SELECT id, rule, state, attempts FROM deliveries
         WHERE state IN ('pending', 'in_flight') AND attempts >= ?1 ORDER BY id",
    )?;
    let stuck = stmt.query_map([options.max_attempts.max(1)], |row| {
        Ok(Problem::StuckDelivery {
            id: row.get(0)?,
            rule: row.get(1)?,
            state: row.get(2)?,
            attempts: row.get(3)?,
        })
    })?;
    for problem in stuck {
        report.problems.push(problem?);
    }
    drop(stmt);
    report
        .problems
        .extend(unsent_commands(&index, &bus, &owners, now)?);
    report.repaired = vec![false; report.problems.len()];
    Ok(report)
}

/// Accepted commands still pending a while after they were accepted that
/// the bus has no entry for, found as a running server finds them.
fn unsent_commands(
    index: &Connection,
    bus: &Connection,
    owners: &HashMap<String, String>,
    now: i64,
) -> anyhow::Result<Vec<Problem>> {
    let before = now.saturating_sub(i64::try_from(UNSENT_AFTER.as_nanos()).unwrap_or(i64::MAX));
    let mut cursor = unsent::Cursor::default();
    let mut found = Vec::new();
    loop {
        let (page, next) = unsent::find(index, bus, before, &cursor, 1000)?;
        found.extend(page.into_iter().map(|command| Problem::UnsentCommand {
            owner: owner_of(owners, &command.user),
            age: Duration::from_nanos(u64::try_from(now - command.accepted_at).unwrap_or(0)),
            command,
        }));
        match next {
            Some(next) => cursor = next,
            None => return Ok(found),
        }
    }
}

/// `user → (a, b)` from a three-column query.
/// A usage row: bytes (all but files being deleted), current files, bytes
/// in the trash, bytes in versions.
type Usage4 = (i64, i64, i64, i64);

/// The four usage figures summed over a user's files, as SQL columns.
const USAGE_SUMS: &str = "COALESCE(SUM(CASE WHEN status <> 'deleting' THEN size ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN status IN ('uploading', 'available') THEN 1 ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN status = 'trashed' THEN size ELSE 0 END), 0),
    COALESCE(SUM(CASE WHEN status = 'version' THEN size ELSE 0 END), 0)";

fn read_usage(conn: &Connection, sql: &str) -> rusqlite::Result<BTreeMap<String, Usage4>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([], |row| {
        Ok((
            row.get(0)?,
            (row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?),
        ))
    })?;
    rows.collect()
}

/// Every object at `users/{sub}/{file id}` in the bucket. Other keys are
/// not Ferry's files (an S3 client may store anything) and are left alone,
/// as the sweep leaves them.
fn user_objects(data_dir: &Path) -> anyhow::Result<Vec<(String, Uuid, PathBuf)>> {
    let users = super::bucket_dir(data_dir).join("users");
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(&users) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e).with_context(|| format!("reading {}", users.display())),
    };
    for user in entries {
        let user = user?;
        let Some(sub) = user.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !user.file_type()?.is_dir() || ferry_core::model::UserId::parse(&sub).is_none() {
            continue;
        }
        for object in std::fs::read_dir(user.path())? {
            let object = object?;
            let Some(id) = object
                .file_name()
                .to_str()
                .and_then(|name| Uuid::parse_str(name).ok())
            else {
                continue;
            };
            if object.file_type()?.is_file() {
                found.push((sub.clone(), id, object.path()));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The open multipart uploads Ferry recorded: `(upload id, key, initiated
/// unix seconds)`.
fn open_uploads(data_dir: &Path) -> anyhow::Result<Vec<(String, String, i64)>> {
    let root = data_dir.join("objects");
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(&root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e).with_context(|| format!("reading {}", root.display())),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_prefix(".ferry-upload-"))
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        // s3s-fs's own marker says whether it is still open.
        if !root.join(format!(".upload-{id}.json")).is_file() {
            continue;
        }
        let Ok(bytes) = std::fs::read(entry.path()) else {
            continue;
        };
        let Ok(record) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        if let (Some(key), Some(initiated)) = (record["key"].as_str(), record["initiated"].as_i64())
        {
            found.push((id.to_owned(), key.to_owned(), initiated));
        }
    }
    found.sort();
    Ok(found)
}

/// The repairs that are plain database writes, each in its own short
/// write transaction.
fn repair(data_dir: &Path, options: &CheckOptions, report: &mut CheckReport) -> anyhow::Result<()> {
    let mut index = open_db(&data_dir.join("index.sqlite3"), true)?;
    let mut throttle = Throttle::new(options.bytes_per_second);
    // Orphans first: indexing them changes usage, which is recomputed next.
    for i in 0..report.problems.len() {
        if let Problem::OrphanObject {
            user,
            owner,
            file_id,
            object,
            ..
        } = &report.problems[i]
        {
            let line = match index_orphan(
                data_dir,
                &mut index,
                user,
                *file_id,
                object,
                &mut throttle,
            ) {
                Ok(Some(name)) => {
                    report.repaired[i] = true;
                    format!(
                        "repaired: {owner}'s orphan object {file_id} is now their file {LOST_AND_FOUND:?}/{name:?}"
                    )
                }
                Ok(None) => {
                    report.repaired[i] = true;
                    format!(
                        "repaired: {owner}'s object {file_id} has a file again (indexed meanwhile)"
                    )
                }
                Err(e) => format!("not repaired: {owner}'s orphan object {file_id}: {e:#}"),
            };
            report.repairs.push(line);
        }
    }
    for i in 0..report.problems.len() {
        if let Problem::WrongUsage { user, owner, .. } = &report.problems[i] {
            let (bytes, files) = recompute_usage(&mut index, user)?;
            report.repaired[i] = true;
            report.repairs.push(format!(
                "repaired: {owner}'s usage recomputed: {bytes} bytes in {files} files"
            ));
        }
    }
    let stuck: Vec<usize> = (0..report.problems.len())
        .filter(|i| matches!(report.problems[*i], Problem::StuckDelivery { .. }))
        .collect();
    if !stuck.is_empty() {
        let mut bus = open_db(&data_dir.join("bus.sqlite3"), true)?;
        for i in stuck {
            let Problem::StuckDelivery { id, rule, .. } = &report.problems[i] else {
                continue;
            };
            let line = match dead_letter(&mut bus, *id, options.max_attempts)? {
                Some(letter) => format!(
                    "repaired: delivery {id} to {rule} moved to the dead letters as {letter} \
                     (`ferry-server dlq list` shows it; `dlq replay --id {letter}` tries again)"
                ),
                None => format!("repaired: delivery {id} to {rule} was settled meanwhile"),
            };
            report.repaired[i] = true;
            report.repairs.push(line);
        }
    }
    Ok(())
}

/// Indexes an orphan object as its owner's file `lost+found/{id}`, with the
/// folder and the usage it adds, in one write transaction (the index's own
/// rule). Returns the name, or `None` when a file appeared meanwhile.
fn index_orphan(
    data_dir: &Path,
    index: &mut Connection,
    user: &str,
    file_id: Uuid,
    object: &Path,
    throttle: &mut Throttle,
) -> anyhow::Result<Option<String>> {
    let (size, sha256) =
        hash_file(object, throttle).with_context(|| format!("reading {}", object.display()))?;
    let modified = std::fs::metadata(object)?
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
        .unwrap_or_else(now_nanos);
    let etag = stored_etag(data_dir, &format!("users/{user}/{file_id}"));
    let name = file_id.to_string();
    let now = now_nanos();
    let size = i64::try_from(size)?;
    let tx = index.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if current(&tx, user, file_id)?.is_some() {
        return Ok(None);
    }
    tx.execute(
        "INSERT INTO folders (user, path, parent, name, created_at) VALUES (?1, ?2, '', ?2, ?3)
         ON CONFLICT (user, path) DO NOTHING",
        params![user, LOST_AND_FOUND, now],
    )?;
    tx.execute(
        "INSERT INTO files (user, file_id, folder, name, name_folded, status, size, content_type,
                            sha256, etag, version, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'available', ?6, 'application/octet-stream', ?7, ?8, 1, ?9, ?10)",
        params![
            user,
            file_id.as_bytes().as_slice(),
            LOST_AND_FOUND,
            name,
            ferry_protocol::path::fold(&name),
            size,
            sha256,
            etag,
            modified,
            now
        ],
    )?;
    tx.execute(
        "INSERT INTO usage (user, bytes, files) VALUES (?1, ?2, 1)
         ON CONFLICT (user) DO UPDATE SET bytes = bytes + excluded.bytes, files = files + 1",
        params![user, size],
    )?;
    tx.commit()?;
    Ok(Some(name))
}

/// The ETag s3s-fs recorded for an object, without quotes.
fn stored_etag(data_dir: &Path, key: &str) -> Option<String> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let path = data_dir.join("objects").join(format!(
        ".bucket-{}.object-{}.internal.json",
        b64.encode(LOCAL_BUCKET),
        b64.encode(key)
    ));
    let info: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    info["e_tag"]
        .as_str()
        .map(|etag| etag.trim_matches('"').to_owned())
}

/// Sets a user's usage to the sum over their files that count, read and
/// written in one write transaction.
fn recompute_usage(index: &mut Connection, user: &str) -> anyhow::Result<(i64, i64)> {
    let tx = index.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (bytes, files, trash, versions): Usage4 = tx.query_row(
        &format!("SELECT {USAGE_SUMS} FROM files WHERE user = ?1"),
        [user],
        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
    )?;
    tx.execute(
        "INSERT INTO usage (user, bytes, files, trash_bytes, version_bytes) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (user) DO UPDATE SET bytes = excluded.bytes, files = excluded.files,
             trash_bytes = excluded.trash_bytes, version_bytes = excluded.version_bytes",
        params![user, bytes, files, trash, versions],
    )?;
    tx.commit()?;
    Ok((bytes, files))
}

/// Moves a delivery still past its retries to the dead letters, as the
/// dispatcher does; returns the dead letter's id, or `None` when the
/// delivery was settled meanwhile.
fn dead_letter(bus: &mut Connection, id: i64, max_attempts: u32) -> anyhow::Result<Option<i64>> {
    let failed_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let tx = bus.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let moved = tx.execute(
        "INSERT INTO dead_letters (event_seq, rule, attempts, last_error, failed_at)
         SELECT event_seq, rule, attempts,
                COALESCE(last_error || '; ', '') || 'moved here by ferry-server check: past its retries',
                ?3
         FROM deliveries
         WHERE id = ?1 AND state IN ('pending', 'in_flight') AND attempts >= ?2",
        params![id, max_attempts.max(1), failed_at],
    )?;
    if moved == 0 {
        return Ok(None);
    }
    let letter = tx.last_insert_rowid();
    tx.execute("DELETE FROM deliveries WHERE id = ?1", [id])?;
    tx.commit()?;
    Ok(Some(letter))
}

/// Hands stale uploads to the domain's sweep, when that is safe: no server
/// runs (its lock is taken for the while), and the sweep would find no
/// file without its object and no orphan object (it would remove those).
async fn repair_uploads(
    data_dir: &Path,
    options: &CheckOptions,
    report: &mut CheckReport,
) -> anyhow::Result<()> {
    let stale: Vec<usize> = (0..report.problems.len())
        .filter(|i| {
            matches!(
                report.problems[*i],
                Problem::StaleUpload { .. } | Problem::StaleMultipart { .. }
            )
        })
        .collect();
    if stale.is_empty() {
        return Ok(());
    }
    let blocked = report
        .problems
        .iter()
        .zip(&report.repaired)
        .any(|(p, done)| {
            matches!(p, Problem::MissingObject { .. })
                || (matches!(p, Problem::OrphanObject { .. }) && !done)
        });
    if blocked {
        report.repairs.push(
            "not repaired: stale uploads are left for now: the sweep that aborts them would also \
             remove the entries of files whose object is missing and delete orphan objects; \
             deal with those first, then check --repair again"
                .to_owned(),
        );
        return Ok(());
    }
    let Some(lock) = ServerLock::try_acquire(data_dir)? else {
        report.repairs.push(
            "not repaired: stale uploads are the running server's to abort: its sweep runs at \
             start and every hour"
                .to_owned(),
        );
        return Ok(());
    };
    // No server: open the stack as `serve` would, on a thread outside the
    // runtime so that it starts no dispatcher and no periodic sweep, and
    // run the one sweep. Its events wait on the bus for the next server.
    let mut settings = Settings::new("http://127.0.0.1:8080", data_dir.to_owned(), PathBuf::new());
    settings.upload_idle = options.upload_idle;
    let state = std::thread::spawn(move || AppState::open(settings, Arc::new(SystemClock)))
        .join()
        .map_err(|_| anyhow::anyhow!("opening the data directory panicked"))??;
    let swept = state.consumers.sweep(options.upload_idle).await;
    drop(state);
    drop(lock);
    let swept = swept.map_err(|e| anyhow::anyhow!("the sweep failed: {e}"))?;
    report.repairs.push(format!(
        "repaired: the sweep aborted {} stale upload(s) and indexed {} whose bytes had arrived \
         (their events are delivered when the server starts)",
        swept.uploads_aborted, swept.uploads_indexed
    ));
    // Mark what the sweep did, as a fresh look shows it.
    let index = open_db(&data_dir.join("index.sqlite3"), false)?;
    let open: HashSet<String> = open_uploads(data_dir)?.into_iter().map(|u| u.0).collect();
    for i in stale {
        report.repaired[i] = match &report.problems[i] {
            Problem::StaleUpload { file, .. } => current(&index, &file.user, file.file_id)?
                .is_none_or(|(status, _)| status != "uploading"),
            Problem::StaleMultipart { upload_id, .. } => !open.contains(upload_id),
            _ => false,
        };
    }
    Ok(())
}
