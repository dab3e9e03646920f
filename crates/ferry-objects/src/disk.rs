//! Writing the store's files so that they survive a crash or a power cut:
//! atomically (a temporary file renamed into place) and durably (the files
//! and the folders that name them flushed before the answer). Used by the
//! S3 handlers (`backend`) and the multipart staging (`staging`).

use s3s::{S3Error, S3ErrorCode, S3Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

pub(crate) fn io_error(e: impl std::fmt::Display) -> S3Error {
    S3Error::with_message(S3ErrorCode::InternalError, e.to_string())
}

/// Flushes files and the folders that name them to disk: an answered write
/// survives a power cut, as S3's answer promises. (s3s-fs only renames its
/// temporary file into place.) Missing files are skipped.
pub(crate) async fn durable(paths: Vec<PathBuf>) -> S3Result<()> {
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut folders = std::collections::BTreeSet::new();
        for path in &paths {
            if let Ok(file) = std::fs::File::open(path) {
                file.sync_all()?;
            }
            if let Some(folder) = path.parent() {
                folders.insert(folder.to_owned());
            }
        }
        for folder in folders {
            if let Ok(handle) = std::fs::File::open(&folder) {
                handle.sync_all()?;
            }
        }
        Ok(())
    })
    .await
    .map_err(io_error)?
    .map_err(io_error)
}

/// Writes files atomically and durably, together: each to a temporary
/// file, all flushed at once (one journal commit for them all, where the
/// filesystem batches), renamed into place, and their folders and `folders`
/// flushed, at once too.
pub(crate) fn write_durably(
    files: Vec<(PathBuf, Vec<u8>)>,
    folders: Vec<PathBuf>,
) -> std::io::Result<()> {
    let suffix = format!("tmp-{}", uuid::Uuid::new_v4().simple());
    let tmps: Vec<PathBuf> = files
        .iter()
        .map(|(path, _)| path.with_extension(&suffix))
        .collect();
    let written = std::thread::scope(|scope| -> std::io::Result<()> {
        let jobs: Vec<_> = files
            .iter()
            .zip(&tmps)
            .map(|((_, bytes), tmp)| {
                scope.spawn(move || -> std::io::Result<()> {
                    let mut file = std::fs::File::create(tmp)?;
                    std::io::Write::write_all(&mut file, bytes)?;
                    file.sync_all()
                })
            })
            .collect();
        for job in jobs {
            job.join()
                .map_err(|_| std::io::Error::other("writing a record failed"))??;
        }
        Ok(())
    });
    if let Err(e) = written {
        for tmp in &tmps {
            let _ = std::fs::remove_file(tmp);
        }
        return Err(e);
    }
    let mut folders: std::collections::BTreeSet<PathBuf> = folders.into_iter().collect();
    for ((path, _), tmp) in files.iter().zip(&tmps) {
        std::fs::rename(tmp, path)?;
        if let Some(folder) = path.parent() {
            folders.insert(folder.to_owned());
        }
    }
    std::thread::scope(|scope| -> std::io::Result<()> {
        let jobs: Vec<_> = folders
            .iter()
            .map(|folder| scope.spawn(move || std::fs::File::open(folder)?.sync_all()))
            .collect();
        for job in jobs {
            job.join()
                .map_err(|_| std::io::Error::other("flushing a folder failed"))??;
        }
        Ok(())
    })
}

/// Writes `value` as JSON to `path` atomically and durably: a temporary
/// file, flushed, renamed into place, and the folder flushed.
pub(crate) async fn write_json<T: Serialize>(path: &Path, value: &T) -> S3Result<()> {
    let bytes = serde_json::to_vec(value).map_err(io_error)?;
    let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
    tokio::fs::write(&tmp, bytes).await.map_err(io_error)?;
    durable(vec![tmp.clone()]).await?;
    tokio::fs::rename(&tmp, path).await.map_err(io_error)?;
    durable(vec![path.to_owned()]).await
}
