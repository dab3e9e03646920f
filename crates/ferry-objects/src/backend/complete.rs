//! CompleteMultipartUpload: the listed parts are checked against the stored
//! ones, the upload's staging file becomes the object (linked into place,
//! or copied when its parts don't sit in their slots), and the object's
//! ETag, whole-file SHA-256 and attributes are flushed with a record of the
//! completion before the upload is closed and announced on the bus.
//!
//! Completing is idempotent: the record (`.ferry-done-{id}.json`) lets a
//! retried completion, or one after a crash brought the upload back, get
//! the first answer again.

use super::{FerryS3, WHOLE_SHA256, bare_etag, blocking, meta_of};
use crate::disk::{io_error, write_durably};
use crate::events::CreatedReason;
use crate::sidecars;
use crate::staging::{Join, MIN_PART_SIZE};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use s3s::dto::{ChecksumType, CompleteMultipartUploadInput, CompleteMultipartUploadOutput, ETag};
use s3s::{S3Request, S3Response, S3Result, s3_error};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};

/// What a completed upload became, so completing it again is idempotent.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DoneRecord {
    key: String,
    etag: String,
}

impl FerryS3 {
    /// Completes a multipart upload (the `S3` trait's
    /// `complete_multipart_upload`).
    pub(super) async fn complete(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        self.check_object(&req.input.bucket, &req.input.key)?;
        let meta = meta_of(&req);
        let bucket = req.input.bucket.clone();
        let key = req.input.key.clone();
        let upload_id = req.input.upload_id.clone();

        // Completed before? Then answer the object as it is (also when a
        // crash brought the upload's marker back after it was closed).
        let done: Option<DoneRecord> =
            Self::read_json(&self.sidecar(sidecars::done_record(&upload_id))).await;
        if let Some(done) = done
            && done.key == key
            && self.object_exists(&bucket, &key)
            && self.stored_etag(&bucket, &key).await.as_deref() == Some(done.etag.as_str())
        {
            // The first answer may have been a 503 from the bus, so
            // announce it again; consumers are idempotent.
            self.emit_created(
                &bucket,
                &key,
                &done.etag,
                &meta,
                CreatedReason::CompleteMultipartUpload,
            )
            .await?;
            // What a crash before the upload was forgotten left (its
            // marker too, which a crash may have brought back).
            self.close_upload(&bucket, &key, &upload_id).await;
            return Ok(S3Response::new(CompleteMultipartUploadOutput {
                location: Some(self.location(&bucket, &key)),
                bucket: Some(bucket),
                key: Some(key),
                e_tag: Some(ETag::Strong(done.etag)),
                ..Default::default()
            }));
        }
        self.check_upload(&upload_id, &key).await?;

        let listed = req
            .input
            .multipart_upload
            .as_ref()
            .and_then(|m| m.parts.clone())
            .unwrap_or_default();
        let stored = self.parts(&upload_id).await?;
        let mut sha_concat = Vec::new();
        let mut all_sha = true;
        let mut previous = 0;
        for part in &listed {
            let number = part.part_number.ok_or_else(|| s3_error!(InvalidPart))?;
            if number <= previous {
                return Err(s3_error!(InvalidPartOrder));
            }
            previous = number;
            let Some((_, record)) = stored.iter().find(|(n, _)| *n == number) else {
                return Err(s3_error!(InvalidPart, "Part {number} was not uploaded."));
            };
            // Checked here, before s3s-fs starts consuming part files.
            if listed.last().and_then(|p| p.part_number) != Some(number)
                && record.size < MIN_PART_SIZE
            {
                return Err(s3_error!(EntityTooSmall));
            }
            if let Some(etag) = &part.e_tag
                && bare_etag(etag.value()) != bare_etag(&record.etag)
            {
                return Err(s3_error!(
                    InvalidPart,
                    "Part {number}'s ETag does not match."
                ));
            }
            if let Some(sum) = &part.checksum_sha256
                && record.checksum_sha256.as_deref() != Some(sum.as_str())
            {
                return Err(s3_error!(
                    InvalidPart,
                    "Part {number}'s checksum does not match."
                ));
            }
            match record
                .checksum_sha256
                .as_deref()
                .and_then(|s| STANDARD.decode(s).ok())
            {
                Some(raw) => sha_concat.extend_from_slice(&raw),
                None => all_sha = false,
            }
        }

        self.check_creator(&upload_id, req.credentials.as_ref())
            .await?;
        let object = self
            .object_file(&bucket, &key)
            .ok_or_else(|| s3_error!(InvalidArgument))?;
        if req.input.if_none_match.as_ref().is_some_and(|c| c.is_any()) && object.is_file() {
            return Err(s3_error!(PreconditionFailed, "Object already exists"));
        }
        if let Some(condition) = &req.input.if_match {
            let current = self.stored_etag(&bucket, &key).await;
            let holds = match condition.as_etag() {
                _ if !object.is_file() => false,
                None => condition.is_any(),
                Some(wanted) => {
                    current.as_deref().map(bare_etag) == Some(bare_etag(wanted.value()))
                }
            };
            if !holds {
                return Err(s3_error!(PreconditionFailed, "ETag does not match"));
            }
        }

        let mut numbers = Vec::with_capacity(listed.len());
        let mut md5s = Vec::with_capacity(listed.len() * 16);
        for part in &listed {
            let number = part.part_number.unwrap_or_default();
            let record = stored
                .iter()
                .find(|(n, _)| *n == number)
                .map(|(_, r)| r)
                .ok_or_else(|| s3_error!(InvalidPart))?;
            md5s.extend(
                hex_bytes(bare_etag(&record.etag))
                    .ok_or_else(|| io_error(format!("part {number}'s ETag is not an MD5")))?,
            );
            numbers.push(number);
        }
        // Sealed until this answer: no part goes in place meanwhile.
        let (join, seal) = self
            .staging
            .seal(&upload_id, &numbers)
            .await
            .map_err(io_error)?;
        // A part sent again since the checks above: its new bytes weren't
        // checked against the listing, so this completion stops.
        let unchanged = numbers.iter().zip(&seal.writes).all(|(number, write)| {
            stored
                .iter()
                .find(|(n, _)| n == number)
                .is_some_and(|(_, r)| crate::staging::write_of(r) == *write)
        });
        if !unchanged {
            return Err(s3_error!(
                InvalidPart,
                "A part was sent again while the upload was being completed."
            ));
        }
        let known = self
            .staging
            .whole_sha256(&upload_id, &seal)
            .await
            .map_err(io_error)?;
        let root = self.root.clone();
        let whole = match join {
            Join::InPlace {
                stage,
                total,
                promote,
                beyond,
            } => {
                // Parts past the object's end are discarded by this
                // completion; their records go before their bytes do.
                self.staging
                    .discard(&upload_id, &beyond)
                    .await
                    .map_err(io_error)?;
                let object = object.clone();
                blocking(move || -> std::io::Result<[u8; 32]> {
                    place_staged(&root, &object, &stage, total, &promote)?;
                    match known {
                        Some(whole) => Ok(whole),
                        // Only when hashing in the background failed.
                        None => {
                            let sha = crate::staging::hash_file(&object, total)?;
                            Ok(sha.finalize().into())
                        }
                    }
                })
                .await?
            }
            Join::Copy(sources) => {
                let object = object.clone();
                let joined =
                    blocking(move || join_parts(&root, &object, &sources, known.is_none())).await?;
                known
                    .or(joined)
                    .ok_or_else(|| io_error("the parts were joined without a hash"))?
            }
        };
        // S3's multipart ETag: the MD5 of the parts' MD5s, and their count.
        let etag = format!("{}-{}", md5_hex(&md5s), listed.len());

        // The upload's attributes (its content type) become the object's:
        // copied, so completing again after a crash finds them still.
        let attributes = self.sidecar(sidecars::upload_metadata(&bucket, &key, &upload_id));
        let metadata = self.metadata_path(&bucket, &key);
        let attributes_bytes = match tokio::fs::read(&attributes).await {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_error(e)),
        };
        let mut info = serde_json::Map::new();
        info.insert("e_tag".into(), etag.clone().into());
        info.insert(WHOLE_SHA256.into(), STANDARD.encode(whole).into());
        let mut output = CompleteMultipartUploadOutput {
            location: Some(self.location(&bucket, &key)),
            bucket: Some(bucket.clone()),
            key: Some(key.clone()),
            e_tag: Some(ETag::Strong(etag.clone())),
            ..Default::default()
        };
        if all_sha && !listed.is_empty() {
            let composite = format!(
                "{}-{}",
                STANDARD.encode(Sha256::digest(&sha_concat)),
                listed.len()
            );
            info.insert("checksum_sha256".into(), composite.clone().into());
            output.checksum_sha256 = Some(composite);
            output.checksum_type = Some(ChecksumType::from_static(ChecksumType::COMPOSITE));
        }
        let done = DoneRecord {
            key: key.clone(),
            etag: etag.clone(),
        };
        let mut records = vec![
            (
                self.internal_info_path(&bucket, &key),
                serde_json::to_vec(&info).map_err(io_error)?,
            ),
            (
                self.sidecar(sidecars::done_record(&upload_id)),
                serde_json::to_vec(&done).map_err(io_error)?,
            ),
        ];
        match attributes_bytes {
            Some(bytes) => records.push((metadata, bytes)),
            None => {
                let _ = tokio::fs::remove_file(&metadata).await;
            }
        }
        // The object's ETag and hash, its attributes and the record of this
        // completion, flushed together, and with them the object's name (its
        // bytes already are). Until the upload is closed, below, a crash
        // leaves it open: completing again finds its parts.
        let folders: Vec<PathBuf> = object.parent().map(Path::to_owned).into_iter().collect();
        blocking(move || write_durably(records, folders)).await?;
        // Closed last: a crash before this leaves the upload open and its
        // parts in place, so completing it again builds the same object.
        self.close_upload(&bucket, &key, &upload_id).await;

        self.emit_created(
            &bucket,
            &key,
            &etag,
            &meta,
            CreatedReason::CompleteMultipartUpload,
        )
        .await?;
        Ok(S3Response::new(output))
    }

    /// Closes an upload that became its object: s3s-fs's marker and the
    /// upload's attributes go, then Ferry's records and files of it.
    async fn close_upload(&self, bucket: &str, key: &str, upload_id: &str) {
        let _ = tokio::fs::remove_file(self.sidecar(sidecars::upload_marker(upload_id))).await;
        let attributes = sidecars::upload_metadata(bucket, key, upload_id);
        let _ = tokio::fs::remove_file(self.sidecar(attributes)).await;
        self.forget_upload(upload_id).await;
    }

    /// Forgets the records of multipart uploads completed before
    /// `before_unix` (seconds): they let a retried CompleteMultipartUpload
    /// get its first answer, which a client asks for within minutes, not
    /// days. Returns how many went.
    pub(crate) async fn prune_completions(&self, before_unix: i64) -> std::io::Result<usize> {
        let mut pruned = 0;
        let mut entries = tokio::fs::read_dir(&self.root).await?;
        while let Some(entry) = entries.next_entry().await? {
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                continue;
            };
            if !sidecars::is_done_record(name) {
                continue;
            }
            let written = entry
                .metadata()
                .await?
                .modified()?
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            if written < before_unix {
                match tokio::fs::remove_file(entry.path()).await {
                    Ok(()) => pruned += 1,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(pruned)
    }
}

/// `"0a1b…"` as bytes; `None` unless it is all pairs of hex digits.
fn hex_bytes(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Copies byte ranges (`file`, offset, length), in order, into `dest`,
/// and, when `hash`, returns the SHA-256 of the whole. The slow way to
/// complete, for uploads whose parts don't sit in their staging slots (parts
/// of different sizes, a listing with gaps): the kernel copies the bytes
/// (`copy_file_range`, which `io::copy` uses between files) while a second
/// thread reads the same ranges for the hash. The object is written to a
/// temporary file, flushed and renamed into place: readers never see half of
/// it, and s3s-fs removes the temporary files a crash left when
/// it starts.
fn join_parts(
    root: &Path,
    dest: &Path,
    parts: &[(PathBuf, u64, u64)],
    hash: bool,
) -> std::io::Result<Option<[u8; 32]>> {
    use std::io::{Read as _, Seek as _};
    let tmp = root.join(sidecars::temporary());
    let open = |path: &Path, offset: u64, len: u64| -> std::io::Result<_> {
        let mut file = std::fs::File::open(path)?;
        file.seek(std::io::SeekFrom::Start(offset))?;
        Ok(file.take(len))
    };
    let joined = std::thread::scope(|scope| -> std::io::Result<Option<[u8; 32]>> {
        let hashing = hash.then(|| {
            scope.spawn(|| -> std::io::Result<[u8; 32]> {
                let mut sha = Sha256::new();
                let mut buf = vec![0_u8; 1 << 20];
                for (path, offset, len) in parts {
                    let mut part = open(path, *offset, *len)?;
                    loop {
                        let n = part.read(&mut buf)?;
                        if n == 0 {
                            break;
                        }
                        sha.update(&buf[..n]);
                    }
                }
                Ok(sha.finalize().into())
            })
        });
        let copied = (|| {
            let mut out = std::fs::File::create(&tmp)?;
            for (path, offset, len) in parts {
                let copied = std::io::copy(&mut open(path, *offset, *len)?, &mut out)?;
                if copied != *len {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("{} ends before its part does", path.display()),
                    ));
                }
            }
            out.sync_all()
        })();
        let whole = match hashing {
            Some(job) => Some(
                job.join()
                    .map_err(|_| std::io::Error::other("hashing the parts failed"))??,
            ),
            None => None,
        };
        copied?;
        Ok(whole)
    });
    let placed = joined.and_then(|whole| {
        if let Some(folder) = dest.parent() {
            std::fs::create_dir_all(folder)?;
        }
        std::fs::rename(&tmp, dest)?;
        Ok(whole)
    });
    if placed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    placed
}

/// Makes the staging file the object without copying it: the listed parts
/// in files of their own are copied into their slots, the file is cut to
/// the object's length and flushed, then given the object's name (a second
/// link, so the upload's own name still reaches the bytes until the upload
/// is closed, and completing again after a crash finds them).
fn place_staged(
    root: &Path,
    dest: &Path,
    stage: &Path,
    total: u64,
    promote: &[(PathBuf, u64, u64)],
) -> std::io::Result<()> {
    use std::io::{Read as _, Seek as _};
    let mut file = std::fs::OpenOptions::new().write(true).open(stage)?;
    for (path, offset, len) in promote {
        file.seek(std::io::SeekFrom::Start(*offset))?;
        let copied = std::io::copy(&mut std::fs::File::open(path)?.take(*len), &mut file)?;
        if copied != *len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("{} ends before its part does", path.display()),
            ));
        }
    }
    if file.metadata()?.len() != total {
        file.set_len(total)?;
    }
    // The parts were flushed as they came; this flushes what was copied
    // in or cut off.
    file.sync_data()?;
    let tmp = root.join(sidecars::temporary());
    std::fs::hard_link(stage, &tmp)?;
    let placed = (|| {
        if let Some(folder) = dest.parent() {
            std::fs::create_dir_all(folder)?;
        }
        std::fs::rename(&tmp, dest)
    })();
    // Renaming onto a link to the same file (completing again) leaves the
    // temporary name.
    let _ = std::fs::remove_file(&tmp);
    placed
}

fn md5_hex(bytes: &[u8]) -> String {
    use s3s::crypto::{Checksum as _, Md5};
    let mut md5 = Md5::new();
    md5.update(bytes);
    md5.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
