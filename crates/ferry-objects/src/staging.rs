//! Where a multipart upload's parts land in the data directory, and the
//! whole file's SHA-256, computed as the contiguous run of parts from part 1
//! grows.
//!
//! Parts are written in place into one staging file per upload
//! (`.upload_id-{id}.staging`), part `n` at `(n - 1) × stride`. S3 lets
//! parts differ in size and no request states the plan, so the stride is
//! the size of the first part that arrives with at least 5 MiB (every part
//! but the last has that much): the clients that matter (Ferry's own, the
//! SDKs' transfer managers, Uppy) send equal parts but a smaller last one.
//! A part that can't go in place is written to a file of its own
//! (`.upload_id-{id}.part-{n}.{write}`): one bigger than the stride, one
//! whose slot holds a stored part (a part sent again), one whose slot is
//! being written, or any part once completion has begun. Completing an
//! upload whose parts sit in their slots links the staging file into place
//! (copying in the few parts that sit in files of their own first); any
//! other upload is copied into a new file, as every upload once was.
//!
//! Crash safety rests on two rules: a part's bytes are flushed before its
//! record (`.ferry-part-{id}-{n}.json`) names them, and bytes a record names
//! are never written over; a part's old bytes are dropped only once the
//! record naming the new ones is durable. So after `kill -9` every record
//! names whole, checked bytes: the upload goes on from the parts it lists.
//!
//! The whole file's SHA-256 is computed in the background: whenever parts 1
//! to k are all stored, the hasher goes on from where it was to part k.
//! Each step's hasher state is appended to `.ferry-sha-{id}.log` with the
//! digest of the writes it covers, so after a restart hashing resumes from
//! the last step whose parts are still the ones stored, instead of from
//! the first byte. Completion then only finishes the hash.
//!
//! The upload's parts, writers and hash live in memory per upload (one
//! server owns a data directory), loaded from the records when first used.

use crate::sidecars;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use s3s::crypto::{Checksum as _, Md5};
use serde::{Deserialize, Serialize};
use sha2::digest::common::hazmat::SerializableState as _;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::Read as _;
use std::os::unix::fs::{FileExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Every part but the last has at least this much, as on S3.
pub(crate) const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// How much is hashed between two looks at the body stream, and read at
/// once when hashing stored parts.
const PIECE: usize = 64 * 1024;

/// How far the whole file's hash may fall behind the parts stored from
/// part 1 on before a part's answer waits for it: when the CPU is the
/// limit, the hash is then done during the upload instead of piling up for
/// completion to wait on.
pub(crate) const MAX_HASH_LAG: u64 = 16 * 1024 * 1024;

/// A stored part: its ETag, checksum and size, and where its bytes are.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PartRecord {
    pub etag: String,
    pub checksum_sha256: Option<String>,
    pub size: u64,
    /// This write of the part (a fresh id each time it is sent); `None`
    /// for a part stored before the staging file existed, in
    /// `.upload_id-{id}.part-{n}`.
    #[serde(default)]
    pub write: Option<String>,
    /// The part's offset in the staging file; `None` when it has a file of
    /// its own.
    #[serde(default)]
    pub staged: Option<u64>,
    /// When it was stored (unix seconds), for ListParts.
    #[serde(default)]
    pub stored: Option<i64>,
}

/// One step of the whole file's hash: the state after parts 1 to n.
#[derive(Debug, Clone)]
struct Hashed {
    /// The digest of the writes of parts 1 to n, chained.
    chain: [u8; 32],
    state: Sha256,
}

/// A line of the hash log.
#[derive(Debug, Serialize, Deserialize)]
struct LogLine {
    n: usize,
    chain: String,
    state: String,
}

/// A part being written.
#[derive(Debug)]
struct Writer {
    number: i32,
    token: u64,
    /// The staging file's bytes it writes, when in place.
    region: Option<(u64, u64)>,
}

#[derive(Debug, Default)]
struct State {
    parts: BTreeMap<i32, PartRecord>,
    writers: Vec<Writer>,
    next_token: u64,
    stride: Option<u64>,
    /// Completion has begun: nothing more goes in place.
    sealed: bool,
    hashed: Vec<Hashed>,
}

#[derive(Debug)]
struct Upload {
    id: String,
    state: Mutex<State>,
    loaded: tokio::sync::OnceCell<()>,
    /// One hasher at a time.
    hashing: tokio::sync::Mutex<()>,
    /// The upload is over: a hasher still running stops, and leaves no log.
    over: std::sync::atomic::AtomicBool,
    /// Record writes one at a time, so the last record on disk is the last
    /// one in memory.
    recording: tokio::sync::Mutex<()>,
}

impl Upload {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Where a part is written: in place or in a file of its own.
#[derive(Debug)]
pub(crate) struct Placement {
    upload: Arc<Upload>,
    number: i32,
    token: u64,
    write: String,
    path: PathBuf,
    offset: Option<u64>,
}

impl Placement {
    /// The file to write and, when in place, the offset in it.
    pub(crate) fn target(&self) -> (PathBuf, Option<u64>) {
        (self.path.clone(), self.offset)
    }
}

/// How an upload's parts become the object.
#[derive(Debug)]
pub(crate) enum Join {
    /// The staging file is the object once the listed files of their own
    /// are copied into their slots and it is cut to `total` bytes.
    InPlace {
        stage: PathBuf,
        total: u64,
        promote: Vec<(PathBuf, u64, u64)>,
        /// Parts stored past `total`, which completion discards: their
        /// records go before the file is cut.
        beyond: Vec<i32>,
    },
    /// Copy these byte ranges, in order, into a new file.
    Copy(Vec<(PathBuf, u64, u64)>),
}

/// Completion's hold on an upload: nothing goes in place while it lasts.
/// It names the writes of the parts it joins, as they were when it began.
#[derive(Debug)]
pub(crate) struct Seal {
    upload: Arc<Upload>,
    /// The joined parts' writes, in order.
    pub(crate) writes: Vec<String>,
    /// Their chained digest, when they are parts 1 to n.
    chain: Option<[u8; 32]>,
}

impl Drop for Seal {
    fn drop(&mut self) {
        self.upload.state().sealed = false;
    }
}

/// What streaming a part into its place found.
#[derive(Debug)]
pub(crate) struct Written {
    /// The MD5 of the bytes, when it was wanted.
    pub md5: Option<[u8; 16]>,
    pub sha256: Option<[u8; 32]>,
    pub len: u64,
}

impl Written {
    /// The part's ETag: the MD5 of its bytes, as S3 answers for a part with
    /// no encryption; when only the SHA-256 was computed (a part that came
    /// with a checksum and no `Content-MD5`), the first 16 bytes of it. S3
    /// promises no more than that an ETag names the bytes ("may or may not
    /// be an MD5 digest", and for SSE-KMS parts it isn't), and MD5 is the
    /// costliest thing the store does per byte: a checked part isn't hashed
    /// twice.
    pub(crate) fn etag(&self) -> String {
        match (&self.md5, &self.sha256) {
            (Some(md5), _) => hex(md5),
            (None, Some(sha)) => hex(&sha[..16]),
            (None, None) => unreachable!("a part is hashed one way or the other"),
        }
    }
}

/// Writes a part's bytes and hashes them as they pass, in one pass over
/// each piece (SHA-256 when a checksum is to be checked, MD5 when the
/// ETag or a `Content-MD5` needs it). Runs on blocking threads, a batch
/// at a time.
pub(crate) struct PartWriter {
    file: std::fs::File,
    /// The bytes' way past the page cache, while it serves
    /// ([`crate::direct`]).
    direct: Option<crate::direct::Writer>,
    at: u64,
    len: u64,
    md5: Option<Md5>,
    sha: Option<Sha256>,
}

impl PartWriter {
    /// Opens a placement's file ([`Placement::target`]); `sha` when the
    /// part's SHA-256 is wanted, `md5` when its MD5 is (one of them is).
    pub(crate) fn open(
        path: &Path,
        offset: Option<u64>,
        sha: bool,
        md5: bool,
    ) -> std::io::Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true);
        if offset.is_some() {
            options.create(true);
        } else {
            options.create_new(true);
        }
        let file = options.open(path)?;
        let at = offset.unwrap_or(0);
        Ok(Self {
            file,
            direct: crate::direct::Writer::open(path, at),
            at,
            len: 0,
            md5: (md5 || !sha).then(Md5::new),
            sha: sha.then(Sha256::new),
        })
    }

    /// Hashes and writes `batch`.
    pub(crate) fn write(mut self, batch: Vec<Bytes>) -> std::io::Result<Self> {
        for bytes in batch {
            // Each piece goes through both hashes while it is in cache.
            for piece in bytes.chunks(PIECE) {
                if let Some(md5) = self.md5.as_mut() {
                    md5.update(piece);
                }
                if let Some(sha) = self.sha.as_mut() {
                    sha.update(piece);
                }
            }
            match self.direct.as_mut().map(|direct| direct.write(&bytes)) {
                None => self.file.write_all_at(&bytes, self.at)?,
                Some(Ok(())) => {}
                Some(Err(unwritten)) => self.through_cache(unwritten)?,
            }
            self.at += bytes.len() as u64;
            self.len += bytes.len() as u64;
        }
        Ok(self)
    }

    /// Flushes the bytes to disk and answers their hashes.
    pub(crate) fn finish(mut self) -> std::io::Result<Written> {
        if let Some(direct) = self.direct.take()
            && let Err(unwritten) = direct.finish(&self.file)
        {
            self.through_cache(unwritten)?;
        }
        self.file.sync_data()?;
        Ok(Written {
            md5: self.md5.map(Md5::finalize),
            sha256: self.sha.map(|s| s.finalize().into()),
            len: self.len,
        })
    }
}

impl PartWriter {
    /// After a write past the page cache failed: when `O_DIRECT` itself was
    /// refused, the bytes it held go through the cache, and so does the
    /// rest of the part; any other error is the write's.
    fn through_cache(&mut self, unwritten: crate::direct::Unwritten) -> std::io::Result<()> {
        self.direct = None;
        if !crate::direct::refused(&unwritten.error) {
            return Err(unwritten.error);
        }
        self.file.write_all_at(&unwritten.bytes, unwritten.at)
    }
}

impl std::fmt::Debug for PartWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartWriter")
            .field("at", &self.at)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The chained digest of part `n`'s write after the writes before it.
fn chain_of(previous: &[u8; 32], write: &str) -> [u8; 32] {
    let mut sha = Sha256::new();
    sha.update(previous);
    sha.update(write.as_bytes());
    sha.finalize().into()
}

/// What names a stored part's bytes in the hash chain: its write, or for a
/// part stored before writes had ids, its ETag and size.
pub(crate) fn write_of(record: &PartRecord) -> String {
    record
        .write
        .clone()
        .unwrap_or_else(|| format!("legacy-{}-{}", record.etag, record.size))
}

/// The multipart staging of one data directory.
#[derive(Debug)]
pub(crate) struct Staging {
    root: PathBuf,
    uploads: Mutex<HashMap<String, Arc<Upload>>>,
}

impl Staging {
    pub(crate) fn new(root: PathBuf) -> Self {
        Self {
            root,
            uploads: Mutex::new(HashMap::new()),
        }
    }

    /// The staging file of an upload.
    pub(crate) fn stage_path(&self, id: &str) -> PathBuf {
        self.root.join(sidecars::staging_file(id))
    }

    /// The file of a part that isn't in place.
    fn own_path(&self, id: &str, number: i32, write: Option<&str>) -> PathBuf {
        self.root.join(match write {
            Some(write) => sidecars::own_part(id, number, write),
            None => sidecars::s3s_part(id, number),
        })
    }

    pub(crate) fn record_path(&self, id: &str, number: i32) -> PathBuf {
        self.root.join(sidecars::part_record(id, number))
    }

    pub(crate) fn log_path(&self, id: &str) -> PathBuf {
        self.root.join(sidecars::hash_log(id))
    }

    /// Where a record's bytes are: a file and an offset in it.
    fn bytes_of(&self, id: &str, number: i32, record: &PartRecord) -> (PathBuf, u64) {
        match record.staged {
            Some(offset) => (self.stage_path(id), offset),
            None => (self.own_path(id, number, record.write.as_deref()), 0),
        }
    }

    async fn upload(&self, id: &str) -> std::io::Result<Arc<Upload>> {
        let upload = {
            let mut uploads = self
                .uploads
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            uploads
                .entry(id.to_owned())
                .or_insert_with(|| {
                    Arc::new(Upload {
                        id: id.to_owned(),
                        state: Mutex::new(State::default()),
                        loaded: tokio::sync::OnceCell::new(),
                        hashing: tokio::sync::Mutex::new(()),
                        over: std::sync::atomic::AtomicBool::new(false),
                        recording: tokio::sync::Mutex::new(()),
                    })
                })
                .clone()
        };
        upload.loaded.get_or_try_init(|| self.load(&upload)).await?;
        Ok(upload)
    }

    fn existing(&self, id: &str) -> Option<Arc<Upload>> {
        self.uploads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .filter(|u| u.loaded.initialized())
            .cloned()
    }

    /// Reads an upload's records, and its hash log as far as it still
    /// matches them.
    async fn load(&self, upload: &Upload) -> std::io::Result<()> {
        let (root, id) = (self.root.clone(), upload.id.clone());
        let (parts, log) = tokio::task::spawn_blocking(move || read_upload(&root, &id))
            .await
            .map_err(std::io::Error::other)??;
        let mut state = upload.state();
        // The stride the stored parts were placed with: a part n > 1 in
        // place says it exactly; part 1 alone says at least its size.
        state.stride = parts
            .iter()
            .find_map(|(n, r)| match (r.staged, u64::try_from(*n - 1)) {
                (Some(offset), Ok(before)) if before > 0 => Some(offset / before),
                _ => None,
            })
            .or_else(|| {
                parts
                    .get(&1)
                    .filter(|r| r.staged == Some(0) && r.size >= MIN_PART_SIZE)
                    .map(|r| r.size)
            });
        let mut chain = [0_u8; 32];
        for (number, record) in &parts {
            let n = state.hashed.len() + 1;
            if usize::try_from(*number).ok() != Some(n) {
                break;
            }
            let write = write_of(record);
            chain = chain_of(&chain, &write);
            let Some(sha) = log.get(&(n, chain)) else {
                break;
            };
            state.hashed.push(Hashed {
                chain,
                state: sha.clone(),
            });
        }
        state.parts = parts;
        Ok(())
    }

    /// Decides where part `number` of `len` bytes (when declared) goes.
    pub(crate) async fn place(
        &self,
        id: &str,
        number: i32,
        len: Option<u64>,
    ) -> std::io::Result<Placement> {
        let upload = self.upload(id).await?;
        let stage = self.stage_path(id);
        // A staging file with a second name is an object already (a
        // completion that crashed before closing the upload): never
        // written again.
        let published = match tokio::fs::metadata(&stage).await {
            Ok(meta) => meta.nlink() > 1,
            Err(_) => false,
        };
        let write = uuid::Uuid::new_v4().simple().to_string();
        let mut state = upload.state();
        let token = state.next_token;
        state.next_token += 1;
        let slot = slot_for(&state, number, len, published);
        if let Some((_, stride)) = slot {
            state.stride = Some(stride);
        }
        let offset = slot.map(|(offset, _)| offset);
        state.writers.push(Writer {
            number,
            token,
            region: offset.zip(len),
        });
        drop(state);
        let path = match offset {
            Some(_) => stage,
            None => self.own_path(id, number, Some(&write)),
        };
        Ok(Placement {
            upload,
            number,
            token,
            write,
            path,
            offset,
        })
    }

    /// Gives up a placement whose body was refused: its bytes are named by
    /// no record, and a file of its own goes.
    pub(crate) async fn abandon(&self, placement: Placement) {
        placement
            .upload
            .state()
            .writers
            .retain(|w| w.token != placement.token);
        // A file of its own goes; so does the staging file when the upload
        // ended (aborted) while this part streamed: opening it may have made
        // it again after the abort removed it.
        if placement.offset.is_none()
            || placement
                .upload
                .over
                .load(std::sync::atomic::Ordering::SeqCst)
        {
            let _ = tokio::fs::remove_file(&placement.path).await;
        }
    }

    /// Records a written part (durably) and makes it the part's current
    /// bytes; the part's previous file of its own, if any, goes.
    pub(crate) async fn commit(
        &self,
        placement: Placement,
        written: &Written,
        checksum_sha256: Option<String>,
        stored: i64,
    ) -> s3s::S3Result<PartRecord> {
        let record = PartRecord {
            etag: written.etag(),
            checksum_sha256,
            size: written.len,
            write: Some(placement.write.clone()),
            staged: placement.offset,
            stored: Some(stored),
        };
        let upload = placement.upload.clone();
        let recording = upload.recording.lock().await;
        let written =
            crate::disk::write_json(&self.record_path(&upload.id, placement.number), &record).await;
        let previous = {
            let mut state = upload.state();
            state.writers.retain(|w| w.token != placement.token);
            if written.is_err() {
                None
            } else {
                let n = usize::try_from(placement.number).unwrap_or(usize::MAX);
                if state.hashed.len() >= n {
                    state.hashed.truncate(n - 1);
                }
                state.parts.insert(placement.number, record.clone())
            }
        };
        drop(recording);
        if let Err(e) = written {
            if placement.offset.is_none() {
                let _ = tokio::fs::remove_file(&placement.path).await;
            }
            return Err(e);
        }
        if let Some(previous) = previous
            && previous.staged.is_none()
            && previous.write != record.write
        {
            let old = self.own_path(&upload.id, placement.number, previous.write.as_deref());
            let _ = tokio::fs::remove_file(old).await;
        }
        Ok(record)
    }

    /// The stored parts of an upload, by number.
    pub(crate) async fn parts(&self, id: &str) -> std::io::Result<Vec<(i32, PartRecord)>> {
        let upload = self.upload(id).await?;
        let state = upload.state();
        Ok(state.parts.iter().map(|(n, r)| (*n, r.clone())).collect())
    }

    /// Forgets a part completion discards (its record is gone already).
    fn drop_part(upload: &Upload, number: i32) {
        let mut state = upload.state();
        state.parts.remove(&number);
        let n = usize::try_from(number).unwrap_or(usize::MAX);
        if state.hashed.len() >= n {
            state.hashed.truncate(n - 1);
        }
    }

    /// How many bytes of parts stored one after another from part 1 the
    /// whole file's hash hasn't reached yet.
    pub(crate) fn hash_lag(&self, id: &str) -> u64 {
        let Some(upload) = self.existing(id) else {
            return 0;
        };
        let state = upload.state();
        let mut lag = 0;
        let mut number = i32::try_from(state.hashed.len() + 1).unwrap_or(i32::MAX);
        while let Some(record) = state.parts.get(&number) {
            lag += record.size;
            number = number.saturating_add(1);
        }
        lag
    }

    /// Hashes parts from where the hash is to as far as parts 1 to k are
    /// all stored, appending each step to the log.
    pub(crate) async fn advance(&self, id: &str) -> std::io::Result<()> {
        // An upload that is over (aborted while a part came in) is left so.
        let Some(upload) = self.existing(id) else {
            return Ok(());
        };
        let _hashing = upload.hashing.lock().await;
        let over = || upload.over.load(std::sync::atomic::Ordering::SeqCst);
        loop {
            if over() {
                return Ok(());
            }
            let (k, start, chain, number, record) = {
                let state = upload.state();
                let k = state.hashed.len();
                let number = i32::try_from(k + 1).unwrap_or(i32::MAX);
                let Some(record) = state.parts.get(&number).cloned() else {
                    return Ok(());
                };
                let (start, chain) = state
                    .hashed
                    .last()
                    .map_or((Sha256::new(), [0_u8; 32]), |h| (h.state.clone(), h.chain));
                (k, start, chain, number, record)
            };
            let (path, offset) = self.bytes_of(id, number, &record);
            let size = record.size;
            let hashed =
                tokio::task::spawn_blocking(move || hash_range(start, &path, offset, size))
                    .await
                    .map_err(std::io::Error::other)?;
            let write = write_of(&record);
            let step = {
                let mut state = upload.state();
                let current = state.parts.get(&number).map(write_of);
                if state.hashed.len() != k || current.as_deref() != Some(write.as_str()) {
                    // The part was sent again meanwhile: look again.
                    continue;
                }
                let sha = hashed?;
                let chain = chain_of(&chain, &write);
                state.hashed.push(Hashed {
                    chain,
                    state: sha.clone(),
                });
                LogLine {
                    n: k + 1,
                    chain: STANDARD.encode(chain),
                    state: STANDARD.encode(sha.serialize()),
                }
            };
            // Not flushed: a lost line only means hashing that part again.
            let mut line = serde_json::to_vec(&step).map_err(std::io::Error::other)?;
            line.push(b'\n');
            let log = self.log_path(id);
            tokio::task::spawn_blocking({
                let log = log.clone();
                move || -> std::io::Result<()> {
                    use std::io::Write as _;
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(log)?
                        .write_all(&line)
                }
            })
            .await
            .map_err(std::io::Error::other)??;
            // Over since the line was written? `forget` marked it before its
            // caller removed the log, which may have been before this line
            // made it again.
            if over() {
                let _ = tokio::fs::remove_file(&log).await;
                return Ok(());
            }
        }
    }

    /// The SHA-256 of the sealed parts one after another, when they are
    /// parts 1 to n and those are still the parts hashed; hashes what is
    /// left first.
    pub(crate) async fn whole_sha256(
        &self,
        id: &str,
        seal: &Seal,
    ) -> std::io::Result<Option<[u8; 32]>> {
        let Some(chain) = seal.chain else {
            return Ok(None);
        };
        self.advance(id).await?;
        let count = seal.writes.len();
        let state = seal.upload.state();
        Ok(state
            .hashed
            .get(count.wrapping_sub(1))
            .filter(|h| h.chain == chain)
            .map(|h| h.state.clone().finalize().into()))
    }

    /// Begins completing with the parts `numbers`, in order: from now on
    /// nothing goes in place; answers how the parts become the object.
    pub(crate) async fn seal(&self, id: &str, numbers: &[i32]) -> std::io::Result<(Join, Seal)> {
        let upload = self.upload(id).await?;
        let stage = self.stage_path(id);
        let stage_meta = tokio::fs::metadata(&stage).await.ok();
        // Made before the state is locked, so that when it is dropped on
        // an early return the lock is already released.
        let mut seal = Seal {
            upload: upload.clone(),
            writes: Vec::with_capacity(numbers.len()),
            chain: Some([0_u8; 32]),
        };
        let mut state = upload.state();
        state.sealed = true;
        let mut sources = Vec::with_capacity(numbers.len());
        for (i, number) in numbers.iter().enumerate() {
            let record = state
                .parts
                .get(number)
                .ok_or_else(|| std::io::Error::other(format!("part {number} is not stored")))?;
            let (path, offset) = self.bytes_of(id, *number, record);
            sources.push((path, offset, record.size));
            let write = write_of(record);
            seal.chain = seal
                .chain
                .filter(|_| usize::try_from(*number).ok() == Some(i + 1))
                .map(|chain| chain_of(&chain, &write));
            seal.writes.push(write);
        }
        if numbers.is_empty() {
            seal.chain = None;
        }
        let in_place = in_place(&state, numbers, stage_meta.as_ref());
        drop(state);
        let join = match in_place {
            Some((total, promote, beyond)) => Join::InPlace {
                stage,
                total,
                promote: promote
                    .into_iter()
                    .filter_map(|(i, offset)| {
                        sources
                            .get(i)
                            .map(|(path, _, len)| (path.clone(), offset, *len))
                    })
                    .collect(),
                beyond,
            },
            None => Join::Copy(sources),
        };
        Ok((join, seal))
    }

    /// Removes the records of parts completion discards because they lie
    /// past the object's end in the staging file.
    pub(crate) async fn discard(&self, id: &str, numbers: &[i32]) -> std::io::Result<()> {
        let upload = self.upload(id).await?;
        for number in numbers {
            match tokio::fs::remove_file(self.record_path(id, *number)).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            Self::drop_part(&upload, *number);
        }
        if let Ok(folder) = std::fs::File::open(&self.root) {
            folder.sync_all()?;
        }
        Ok(())
    }

    /// Forgets an upload that is over, and stops its hasher (its files are
    /// removed by the caller, after this).
    pub(crate) fn forget(&self, id: &str) {
        let upload = self
            .uploads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(id);
        if let Some(upload) = upload {
            upload.over.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

/// Removes what uploads that are over left in `root`: a crash between
/// closing an upload (s3s-fs's `.upload-{id}.json` gone) and removing its
/// files leaves its records, staging file name (the object keeps its bytes)
/// and parts. Run when the store opens, before any request.
pub(crate) fn remove_leftovers(root: &Path) -> std::io::Result<usize> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(root)? {
        if let Ok(name) = entry?.file_name().into_string() {
            names.push(name);
        }
    }
    let open: std::collections::HashSet<&str> = names
        .iter()
        .filter_map(|n| sidecars::upload_marker_id(n))
        .collect();
    let mut removed = 0;
    for name in &names {
        // Ferry's records, the staging file and parts, and s3s-fs's
        // attributes of the upload.
        if let Some(id) = sidecars::upload_of(name)
            && !open.contains(id)
        {
            match std::fs::remove_file(root.join(name)) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

/// The staging file's offset for part `number`, and the stride, when it can
/// go in place.
fn slot_for(state: &State, number: i32, len: Option<u64>, published: bool) -> Option<(u64, u64)> {
    let len = len?;
    if state.sealed || published || len == 0 {
        return None;
    }
    if state.writers.iter().any(|w| w.number == number) {
        return None;
    }
    let stride = match state.stride {
        Some(stride) => stride,
        None if len >= MIN_PART_SIZE => len,
        None => return None,
    };
    if len > stride {
        return None;
    }
    let offset = u64::try_from(number - 1).ok()?.checked_mul(stride)?;
    let end = offset.checked_add(len)?;
    let overlaps = |(start, size): (u64, u64)| start < end && offset < start + size;
    // Never over bytes a record names, nor over bytes being written.
    let named = state
        .parts
        .values()
        .filter_map(|r| r.staged.map(|at| (at, r.size)))
        .any(overlaps);
    let busy = state.writers.iter().filter_map(|w| w.region).any(overlaps);
    (!named && !busy).then_some((offset, stride))
}

/// When the parts `numbers` can become the object by linking the staging
/// file: its length, the listed parts (by index) that must first be copied
/// into their slots, and the parts stored past its end.
#[allow(clippy::type_complexity)]
fn in_place(
    state: &State,
    numbers: &[i32],
    stage: Option<&std::fs::Metadata>,
) -> Option<(u64, Vec<(usize, u64)>, Vec<i32>)> {
    let stride = state.stride?;
    let stage = stage?;
    if state.writers.iter().any(|w| w.region.is_some()) {
        return None;
    }
    let published = stage.nlink() > 1;
    let mut total = 0_u64;
    let mut promote = Vec::new();
    let mut listed = Vec::with_capacity(numbers.len());
    for (i, number) in numbers.iter().enumerate() {
        if usize::try_from(*number).ok() != Some(i + 1) {
            return None;
        }
        let record = state.parts.get(number)?;
        let last = i + 1 == numbers.len();
        if record.size > stride || (!last && record.size != stride) {
            return None;
        }
        match record.staged {
            Some(offset) if offset == total => {}
            Some(_) => return None,
            None if published => return None,
            None => promote.push((i, total)),
        }
        listed.push((total, record.size));
        total += record.size;
    }
    // A part to copy in must land on bytes no other record names.
    for (i, offset) in &promote {
        let size = listed.get(*i).map_or(0, |(_, s)| *s);
        let end = offset + size;
        let clash = state.parts.iter().any(|(n, r)| {
            !numbers.contains(n)
                && r.staged
                    .is_some_and(|at| at < end && *offset < at + r.size && at < total)
        });
        if clash {
            return None;
        }
    }
    let beyond: Vec<i32> = state
        .parts
        .iter()
        .filter(|(n, r)| !numbers.contains(n) && r.staged.is_some_and(|at| at + r.size > total))
        .map(|(n, _)| *n)
        .collect();
    // Unlisted parts inside the object are written over by nothing here,
    // but would end up inside it: only listed parts may lie below `total`.
    let inside = state
        .parts
        .iter()
        .any(|(n, r)| !numbers.contains(n) && r.staged.is_some_and(|at| at < total));
    if inside || (published && (stage.len() != total || !beyond.is_empty())) {
        return None;
    }
    Some((total, promote, beyond))
}

/// Reads an upload's part records (and parts stored before records
/// existed) and its hash log.
#[allow(clippy::type_complexity)]
fn read_upload(
    root: &Path,
    id: &str,
) -> std::io::Result<(
    BTreeMap<i32, PartRecord>,
    HashMap<(usize, [u8; 32]), Sha256>,
)> {
    let records = sidecars::part_records_prefix(id);
    let legacy = sidecars::s3s_parts_prefix(id);
    let mut parts = BTreeMap::new();
    let mut unrecorded = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(Ok(number)) = name
            .strip_prefix(&records)
            .and_then(|r| r.strip_suffix(".json"))
            .map(str::parse::<i32>)
        {
            let bytes = std::fs::read(entry.path())?;
            if let Ok(record) = serde_json::from_slice::<PartRecord>(&bytes) {
                parts.insert(number, record);
            }
        } else if let Some(Ok(number)) = name.strip_prefix(&legacy).map(str::parse::<i32>) {
            unrecorded.push((number, entry.path()));
        }
    }
    for (number, path) in unrecorded {
        if parts.contains_key(&number) {
            continue;
        }
        // A part with no record: its ETag is the MD5 of its bytes.
        let mut md5 = Md5::new();
        let mut file = std::fs::File::open(&path)?;
        let mut buf = vec![0_u8; 1 << 20];
        let mut size = 0_u64;
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            md5.update(&buf[..n]);
            size += n as u64;
        }
        parts.insert(
            number,
            PartRecord {
                etag: hex(&md5.finalize()),
                checksum_sha256: None,
                size,
                write: None,
                staged: None,
                stored: None,
            },
        );
    }
    let mut log = HashMap::new();
    if let Ok(text) = std::fs::read(root.join(sidecars::hash_log(id))) {
        // A torn last line (a crash while appending) is skipped.
        for line in text.split(|b| *b == b'\n') {
            let Ok(line) = serde_json::from_slice::<LogLine>(line) else {
                continue;
            };
            let (Ok(chain), Ok(state)) =
                (STANDARD.decode(&line.chain), STANDARD.decode(&line.state))
            else {
                continue;
            };
            let (Ok(chain), Ok(state)) = (
                <[u8; 32]>::try_from(chain.as_slice()),
                <&sha2::digest::common::hazmat::SerializedState<Sha256>>::try_from(
                    state.as_slice(),
                ),
            ) else {
                continue;
            };
            if let Ok(sha) = Sha256::deserialize(state) {
                log.insert((line.n, chain), sha);
            }
        }
    }
    Ok((parts, log))
}

/// The SHA-256 of the first `len` bytes of `path`.
pub(crate) fn hash_file(path: &Path, len: u64) -> std::io::Result<Sha256> {
    hash_range(Sha256::new(), path, 0, len)
}

/// `start` fed with `len` bytes of `path` from `offset`.
fn hash_range(mut sha: Sha256, path: &Path, offset: u64, len: u64) -> std::io::Result<Sha256> {
    // Past the page cache, as the parts were written ([`crate::direct`]);
    // when that is refused, nothing was fed and the cache is read instead.
    if crate::direct::read(path, offset, len, |bytes| sha.update(bytes))? {
        return Ok(sha);
    }
    let file = std::fs::File::open(path)?;
    let mut buf = vec![0_u8; 1 << 20];
    let mut at = offset;
    let end = offset + len;
    while at < end {
        let want = usize::try_from((end - at).min(buf.len() as u64)).unwrap_or(buf.len());
        let n = file.read_at(&mut buf[..want], at)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("{} ends before its part does", path.display()),
            ));
        }
        sha.update(&buf[..n]);
        at += n as u64;
    }
    Ok(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hasher state survives the log's encoding: hashing on from it
    /// gives the digest of the whole.
    #[test]
    fn a_serialized_hasher_goes_on_where_it_stopped() {
        let data: Vec<u8> = (0..100_000_u32).map(|i| (i % 251) as u8).collect();
        let mut sha = Sha256::new();
        sha.update(&data[..33_333]);
        let saved = STANDARD.encode(sha.serialize());
        let raw = STANDARD.decode(saved).unwrap_or_default();
        let state =
            <&sha2::digest::common::hazmat::SerializedState<Sha256>>::try_from(raw.as_slice())
                .ok()
                .and_then(|s| Sha256::deserialize(s).ok());
        let Some(mut resumed) = state else {
            panic!("the state did not deserialize");
        };
        resumed.update(&data[33_333..]);
        assert_eq!(resumed.finalize(), Sha256::digest(&data));
    }
}
