//! Maintenance of a data directory from outside the server: `check` (an
//! integrity scrub, with `--repair`), `backup` and `restore`; and the one
//! repair a running server makes itself, putting accepted commands that
//! never reached the bus there (`unsent`, shared with `check --repair`).
//!
//! They read the data directory's files directly: the SQLite databases
//! through their own connections (WAL lets them read beside a running
//! server's writer; every statement waits on a busy timeout instead of
//! failing, and every read transaction is short), and the objects as files
//! under `objects/{bucket}/`. None of them takes the data directory's
//! `server.lock` while a server may hold it: a check and a backup run
//! beside a running server. Only `check --repair`'s hand-over to the sweep
//! (see [`check`]) takes it, and only when it is free.
//!
//! What the data directory holds (see `AppState::open`): `identity.sqlite3`
//! (the user pool), `index.sqlite3` (files, folders, usage, commands),
//! `bus.sqlite3` (events, deliveries, dead letters), `feed.sqlite3` (the live
//! feed), `keys/` (token signing keys, the object endpoint's credentials),
//! `outbox/` (codes sent to people), `objects/` (the bucket folder with one
//! file per object, Ferry's and s3s-fs's `.ferry-*`/`.bucket-*`/`.upload*`
//! records beside it) and `server.lock`.

pub mod backup;
pub mod check;
pub mod unsent;

use crate::LOCAL_BUCKET;
use anyhow::Context as _;
use rusqlite::{Connection, OpenFlags};
use sha2::{Digest as _, Sha256};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long a statement waits for the server's write lock before it fails.
/// The server's own writes are short; this only rides them out.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The file whose lock marks a running server.
const LOCK_FILE: &str = "server.lock";

/// Refuses a data directory that doesn't exist or holds no index.
fn require_data_dir(data_dir: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        data_dir.is_dir(),
        "no data directory at {} (give the server's --data-dir)",
        data_dir.display()
    );
    anyhow::ensure!(
        data_dir.join("index.sqlite3").is_file(),
        "{} holds no index.sqlite3: not a data directory a server has run on",
        data_dir.display()
    );
    Ok(())
}

/// Opens an existing database (never creating one). A read-only use is
/// also refused writes by SQLite itself (`query_only`).
fn open_db(path: &Path, writable: bool) -> anyhow::Result<Connection> {
    anyhow::ensure!(path.is_file(), "{} is missing", path.display());
    // Read-write even for reading: a read-only connection to a WAL file
    // can't create its shared-memory index when no server is running.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )
    .with_context(|| format!("opening {}", path.display()))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    if !writable {
        conn.pragma_update(None, "query_only", true)?;
    }
    Ok(conn)
}

/// The data directory's `server.lock`, held while this lives, with this
/// process's id inside for whoever finds it locked: `serve` holds it, and
/// so do the repairs that must run without a server.
#[derive(Debug)]
pub struct ServerLock {
    _file: std::fs::File,
}

impl ServerLock {
    /// The pid written by whoever holds the lock, if it says.
    pub fn holder(data_dir: &Path) -> Option<String> {
        let text = std::fs::read_to_string(data_dir.join(LOCK_FILE)).ok()?;
        let text = text.trim();
        (!text.is_empty()).then(|| text.to_owned())
    }

    /// The lock when no server holds it; `None` when one does.
    pub fn try_acquire(data_dir: &Path) -> anyhow::Result<Option<Self>> {
        use std::io::{Seek as _, Write as _};
        let path = data_dir.join(LOCK_FILE);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        if file.try_lock().is_err() {
            return Ok(None);
        }
        // A server refused meanwhile names this process.
        file.set_len(0)?;
        file.rewind()?;
        write!(file, "{}", std::process::id())?;
        Ok(Some(Self { _file: file }))
    }
}

/// The bucket folder: objects are at `{this}/{key}`.
fn bucket_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("objects").join(LOCAL_BUCKET)
}

/// Where a file's object lives: `objects/{bucket}/users/{sub}/{file id}`.
fn object_path(data_dir: &Path, user: &str, file_id: uuid::Uuid) -> PathBuf {
    bucket_dir(data_dir)
        .join("users")
        .join(user)
        .join(file_id.to_string())
}

/// A byte budget per second, so a scrub's reading leaves the disk to the
/// server: after each read it sleeps until the bytes read so far fit the
/// rate.
#[derive(Debug)]
struct Throttle {
    bytes_per_second: Option<u64>,
    started: Instant,
    read: u64,
}

impl Throttle {
    fn new(bytes_per_second: Option<u64>) -> Self {
        Self {
            bytes_per_second: bytes_per_second.filter(|rate| *rate > 0),
            started: Instant::now(),
            read: 0,
        }
    }

    fn consumed(&mut self, bytes: u64) {
        self.read = self.read.saturating_add(bytes);
        if let Some(rate) = self.bytes_per_second {
            let due = Duration::from_secs_f64(self.read as f64 / rate as f64);
            if let Some(ahead) = due.checked_sub(self.started.elapsed()) {
                std::thread::sleep(ahead);
            }
        }
    }
}

/// The size and SHA-256 (lower-case hex, as the index keeps it) of a file,
/// read at the throttle's pace.
fn hash_file(path: &Path, throttle: &mut Throttle) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut sha = Sha256::new();
    let mut buf = vec![0_u8; 256 * 1024];
    let mut size = 0_u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        size += n as u64;
        throttle.consumed(n as u64);
    }
    let hex = sha
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    Ok((size, hex))
}

/// Whether `dir` is missing or an empty directory (what `backup` and
/// `restore` write into).
fn is_empty_or_missing(dir: &Path) -> anyhow::Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e).with_context(|| format!("reading {}", dir.display())),
    }
}
