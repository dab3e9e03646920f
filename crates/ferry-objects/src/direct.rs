//! A part's bytes written and read back past the page cache (`O_DIRECT`),
//! from buffers the store reuses.
//!
//! A part is written once, flushed, and read again at most once (the whole
//! file's hash, when it arrived ahead of the parts before it), so caching
//! it buys nothing, and filling the cache costs: every page of it is memory
//! the kernel must find and map. On the machines Ferry is measured on (VMs
//! that hand free memory back to their host) that is the largest cost the
//! store has per byte: measured with `dd`, 1 GiB written through the page
//! cache took 2.3–2.7 CPU-s, and 0.08 CPU-s with `O_DIRECT` (the
//! `multipart` bench's figures are in README.md). Object stores that take
//! large uploads (MinIO among them) write them this way for the same reason.
//!
//! `O_DIRECT` wants the buffer, the offset and the length aligned to the
//! device's block; [`ALIGN`] (4 KiB) covers the blocks Linux filesystems
//! use. A run that starts unaligned, a filesystem that refuses `O_DIRECT`
//! (`EINVAL`), and the last few bytes of a part that end mid-block go
//! through the page cache as before, so this only ever changes the cost.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::Path;
use std::sync::Mutex;

/// The alignment `O_DIRECT` needs, for every block size in use.
pub(crate) const ALIGN: usize = 4096;

/// How much a buffer holds: one write or read call.
const CAPACITY: usize = 1024 * 1024;

/// Buffers kept for the next part (each is [`CAPACITY`] + [`ALIGN`]):
/// enough for the parts a server takes at once.
const KEPT: usize = 16;

static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// A buffer of [`CAPACITY`] bytes at an address aligned to [`ALIGN`],
/// back in the pool when dropped: its pages stay mapped from part to part.
pub(crate) struct Buffer {
    raw: Vec<u8>,
}

impl Buffer {
    pub(crate) fn new() -> Self {
        let kept = POOL.lock().ok().and_then(|mut pool| pool.pop());
        Self {
            raw: kept.unwrap_or_else(|| vec![0_u8; CAPACITY + ALIGN]),
        }
    }

    /// The aligned bytes.
    pub(crate) fn bytes(&mut self) -> &mut [u8] {
        let start = self.raw.as_ptr().align_offset(ALIGN);
        &mut self.raw[start..start + CAPACITY]
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if let Ok(mut pool) = POOL.lock()
            && pool.len() < KEPT
        {
            pool.push(std::mem::take(&mut self.raw));
        }
    }
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Buffer")
    }
}

/// `path` opened again past the page cache, for writing (`write`) or
/// reading; `None` where the system or filesystem has no `O_DIRECT`.
pub(crate) fn open(path: &Path, write: bool) -> Option<File> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut options = std::fs::OpenOptions::new();
        options.custom_flags(libc::O_DIRECT);
        if write {
            options.write(true);
        } else {
            options.read(true);
        }
        options.open(path).ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (path, write);
        None
    }
}

/// Whether `e` is a refusal of `O_DIRECT` itself (an alignment the
/// filesystem doesn't take), after which the page cache is used instead.
pub(crate) fn refused(e: &io::Error) -> bool {
    #[cfg(target_os = "linux")]
    {
        e.raw_os_error() == Some(libc::EINVAL)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = e;
        false
    }
}

/// Bytes gathered into a [`Buffer`] and written past the page cache a
/// buffer at a time, from an aligned offset; the last bytes of the run,
/// less than a block, through `cached` ([`Self::finish`]).
#[derive(Debug)]
pub(crate) struct Writer {
    file: File,
    buffer: Buffer,
    filled: usize,
    /// Where the buffer's first byte goes.
    at: u64,
}

impl Writer {
    /// A writer of `path` from `at`, or `None` when `at` isn't aligned or
    /// `path` can't be opened past the cache.
    pub(crate) fn open(path: &Path, at: u64) -> Option<Self> {
        if !at.is_multiple_of(ALIGN as u64) {
            return None;
        }
        Some(Self {
            file: open(path, true)?,
            buffer: Buffer::new(),
            filled: 0,
            at,
        })
    }

    /// Takes in `bytes`, writing each buffer as it fills; on an error the
    /// bytes not yet written are answered with it.
    pub(crate) fn write(&mut self, mut bytes: &[u8]) -> Result<(), Unwritten> {
        while !bytes.is_empty() {
            let n = bytes.len().min(CAPACITY - self.filled);
            self.buffer.bytes()[self.filled..self.filled + n].copy_from_slice(&bytes[..n]);
            self.filled += n;
            bytes = &bytes[n..];
            if self.filled == CAPACITY {
                self.flush(CAPACITY).map_err(|error| Unwritten {
                    error,
                    at: self.at,
                    bytes: [self.buffer.bytes(), bytes].concat(),
                })?;
            }
        }
        Ok(())
    }

    /// Writes the first `n` (aligned) buffered bytes and keeps the rest.
    fn flush(&mut self, n: usize) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        let buffer = self.buffer.bytes();
        self.file.write_all_at(&buffer[..n], self.at)?;
        buffer.copy_within(n..self.filled, 0);
        self.filled -= n;
        self.at += n as u64;
        Ok(())
    }

    /// Writes what is buffered: whole blocks past the cache, the rest
    /// through `cached` (the same file, opened as usual).
    pub(crate) fn finish(mut self, cached: &File) -> Result<(), Unwritten> {
        let whole = self.filled / ALIGN * ALIGN;
        if let Err(error) = self.flush(whole) {
            let filled = self.filled;
            return Err(Unwritten {
                error,
                at: self.at,
                bytes: self.buffer.bytes()[..filled].to_vec(),
            });
        }
        let (filled, at) = (self.filled, self.at);
        let tail = &self.buffer.bytes()[..filled];
        cached.write_all_at(tail, at).map_err(|error| Unwritten {
            error,
            at,
            bytes: tail.to_vec(),
        })
    }
}

/// A write past the cache that failed: the error, and the bytes not
/// written with where they go, for writing through the cache instead when
/// the error is [`refused`].
#[derive(Debug)]
pub(crate) struct Unwritten {
    pub error: io::Error,
    pub at: u64,
    pub bytes: Vec<u8>,
}

/// Feeds `use_bytes` the `len` bytes of `path` from `offset` (aligned),
/// read past the page cache a buffer at a time. `Ok(false)` when reading
/// past the cache was refused before anything was fed (the caller reads
/// through the cache instead).
pub(crate) fn read(
    path: &Path,
    offset: u64,
    len: u64,
    mut use_bytes: impl FnMut(&[u8]),
) -> io::Result<bool> {
    if !offset.is_multiple_of(ALIGN as u64) {
        return Ok(false);
    }
    let Some(file) = open(path, false) else {
        return Ok(false);
    };
    let mut buffer = Buffer::new();
    let buffer = buffer.bytes();
    let end = offset + len;
    let mut at = offset;
    while at < end {
        let left = usize::try_from(end - at).unwrap_or(CAPACITY);
        // A whole number of blocks; the bytes past the run are not used.
        let want = left.div_ceil(ALIGN).saturating_mul(ALIGN).min(CAPACITY);
        let n = match file.read_at(&mut buffer[..want], at) {
            Ok(n) => n,
            Err(e) if at == offset && refused(&e) => return Ok(false),
            Err(e) => return Err(e),
        };
        let used = n.min(left);
        if used == 0 || (n < want && used < left) {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} ends before its part does", path.display()),
            ));
        }
        use_bytes(&buffer[..used]);
        at += used as u64;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 4099) as u8).collect()
    }

    /// Runs of every awkward length land byte for byte where they were
    /// written, and read back the same, past the cache or not.
    #[test]
    fn what_is_written_past_the_cache_reads_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("staging");
        let cached = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap();
        let lengths = [
            1,
            ALIGN - 1,
            ALIGN,
            CAPACITY,
            CAPACITY + 1,
            3 * CAPACITY + 4097,
        ];
        let stride = (4 * CAPACITY) as u64;
        for (slot, len) in lengths.iter().enumerate() {
            let at = slot as u64 * stride;
            let bytes = pattern(*len);
            let mut writer = Writer::open(&path, at).expect("this filesystem takes O_DIRECT");
            // In uneven pieces, as a body arrives.
            for piece in bytes.chunks(65_537) {
                writer.write(piece).unwrap();
            }
            writer.finish(&cached).unwrap();
        }
        cached.sync_data().unwrap();
        let all = std::fs::read(&path).unwrap();
        for (slot, len) in lengths.iter().enumerate() {
            let at = slot * stride as usize;
            assert_eq!(&all[at..at + len], pattern(*len).as_slice(), "slot {slot}");
            let mut back = Vec::new();
            assert!(read(&path, at as u64, *len as u64, |b| back.extend_from_slice(b)).unwrap());
            assert_eq!(back, pattern(*len), "read back, slot {slot}");
        }
    }

    #[test]
    fn an_unaligned_start_is_left_to_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, pattern(3 * ALIGN)).unwrap();
        assert!(Writer::open(&path, 10).is_none());
        assert!(!read(&path, 10, 100, |_| ()).unwrap());
    }

    #[test]
    fn reading_past_the_end_of_the_file_fails() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, pattern(ALIGN + 10)).unwrap();
        let e = read(&path, 0, 2 * ALIGN as u64, |_| ()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }
}
