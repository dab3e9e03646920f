//! The names of the files kept beside the objects, at the top of the data
//! directory (dot files outside the bucket folder, so listings never show
//! them): s3s-fs's records, which the store reads, writes and removes
//! itself, and Ferry's own.
//!
//! s3s-fs keeps its names private, so they are re-derived here, in this one
//! place. Should an s3s-fs upgrade rename them, the store would lose track
//! of what s3s-fs wrote: open uploads would look closed (their parts
//! orphaned), completed objects would lose their ETags, and aborts would
//! leave files behind. The tests below drive the real s3s-fs and fail,
//! saying what to update, when the files it writes aren't the ones named
//! here.
//!
//! Ferry's own names are picked so that s3s-fs's clean-ups reach them: an
//! upload's staging file and parts start with `.upload_id-{id}` (what
//! s3s-fs's abort removes), and temporary files are `.tmp.….internal.part`
//! (what s3s-fs removes when it opens).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// s3s-fs's marker of an open multipart upload: JSON, the access key of
/// whoever created it (or `null`).
pub(crate) fn upload_marker(upload_id: &str) -> String {
    format!(".upload-{upload_id}.json")
}

/// The upload id an [`upload_marker`] names.
pub(crate) fn upload_marker_id(name: &str) -> Option<&str> {
    name.strip_prefix(".upload-")?.strip_suffix(".json")
}

/// s3s-fs's record of an object's ETag (`e_tag`) and checksums
/// (`checksum_sha256`, …), a JSON map.
pub(crate) fn object_info(bucket: &str, key: &str) -> String {
    format!(".bucket-{}.internal.json", object_stem(bucket, key))
}

/// s3s-fs's record of an object's attributes (content type, metadata).
pub(crate) fn object_metadata(bucket: &str, key: &str) -> String {
    format!(".bucket-{}.metadata.json", object_stem(bucket, key))
}

/// The attributes s3s-fs keeps for an open upload, which become the
/// object's when it completes.
pub(crate) fn upload_metadata(bucket: &str, key: &str, upload_id: &str) -> String {
    format!(
        ".bucket-{}.upload-{upload_id}.metadata.json",
        object_stem(bucket, key)
    )
}

/// The upload id an [`upload_metadata`] name carries (the upload id is
/// the last `.upload-` in it: base64 has no dots).
pub(crate) fn upload_metadata_id(name: &str) -> Option<&str> {
    let rest = name
        .strip_prefix(".bucket-")?
        .strip_suffix(".metadata.json")?;
    Some(rest.rsplit_once(".upload-")?.1)
}

fn object_stem(bucket: &str, key: &str) -> String {
    format!(
        "{}.object-{}",
        URL_SAFE_NO_PAD.encode(bucket),
        URL_SAFE_NO_PAD.encode(key)
    )
}

/// What every file of an upload's bytes starts with: s3s-fs's own parts,
/// and Ferry's staging file and parts, which s3s-fs's abort removes too.
pub(crate) fn upload_files_prefix(upload_id: &str) -> String {
    format!(".upload_id-{upload_id}.")
}

/// A part as s3s-fs's UploadPart stores it; Ferry reads parts stored
/// under this name before it kept its own.
pub(crate) fn s3s_part(upload_id: &str, number: i32) -> String {
    format!("{}part-{number}", upload_files_prefix(upload_id))
}

/// The prefix of an [`s3s_part`] name, before the part number.
pub(crate) fn s3s_parts_prefix(upload_id: &str) -> String {
    format!("{}part-", upload_files_prefix(upload_id))
}

/// An upload's staging file, every part that fits at its place in it.
pub(crate) fn staging_file(upload_id: &str) -> String {
    format!("{}staging", upload_files_prefix(upload_id))
}

/// One write of a part that has a file of its own.
pub(crate) fn own_part(upload_id: &str, number: i32, write: &str) -> String {
    format!("{}.{write}", s3s_part(upload_id, number))
}

/// A temporary file, renamed into place when whole; s3s-fs removes what a
/// crash left of these when it opens.
pub(crate) fn temporary() -> String {
    format!(".tmp.ferry-{}.internal.part", uuid::Uuid::new_v4().simple())
}

/// Ferry's record of an open upload: its key, start and checksum.
pub(crate) fn upload_record(upload_id: &str) -> String {
    format!("{UPLOAD_RECORD}{upload_id}.json")
}

/// The upload id an [`upload_record`] names.
pub(crate) fn upload_record_id(name: &str) -> Option<&str> {
    name.strip_prefix(UPLOAD_RECORD)?.strip_suffix(".json")
}

/// What a completed upload became, so completing it again is idempotent.
pub(crate) fn done_record(upload_id: &str) -> String {
    format!("{DONE_RECORD}{upload_id}.json")
}

/// Whether `name` is a [`done_record`].
pub(crate) fn is_done_record(name: &str) -> bool {
    name.starts_with(DONE_RECORD) && name.ends_with(".json")
}

/// A stored part's record: its ETag, checksum, size and where its bytes are.
pub(crate) fn part_record(upload_id: &str, number: i32) -> String {
    format!("{}{number}.json", part_records_prefix(upload_id))
}

/// The prefix of an upload's [`part_record`] names.
pub(crate) fn part_records_prefix(upload_id: &str) -> String {
    format!("{PART_RECORD}{upload_id}-")
}

/// The log of the whole file's hasher state, step by step.
pub(crate) fn hash_log(upload_id: &str) -> String {
    format!("{HASH_LOG}{upload_id}.log")
}

const UPLOAD_RECORD: &str = ".ferry-upload-";
const DONE_RECORD: &str = ".ferry-done-";
const PART_RECORD: &str = ".ferry-part-";
const HASH_LOG: &str = ".ferry-sha-";

/// The upload id the name of one of an upload's files starts with (after
/// its prefix), whoever wrote it; the upload's [`upload_marker`] aside.
pub(crate) fn upload_of(name: &str) -> Option<&str> {
    [UPLOAD_RECORD, PART_RECORD, HASH_LOG, ".upload_id-"]
        .iter()
        .find_map(|prefix| name.strip_prefix(prefix))
        .or_else(|| upload_metadata_id(name))
        .and_then(|rest| rest.get(..36))
        .filter(|id| uuid::Uuid::parse_str(id).is_ok())
}

#[cfg(test)]
mod tests {
    //! s3s-fs's names, as the pinned s3s-fs writes them. A failure here
    //! means s3s-fs changed how it names its files: update the functions
    //! above to its new names (and think about data directories written by
    //! the old ones) before taking the upgrade.

    #![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

    use super::*;
    use s3s::S3 as _;
    use s3s::auth::{Credentials, SecretKey};
    use s3s::dto::{
        AbortMultipartUploadInput, CreateMultipartUploadInput, HeadObjectInput, PutObjectInput,
        StreamingBlob, UploadPartInput,
    };
    use s3s::{S3Request, S3Response};
    use std::collections::BTreeSet;
    use std::path::Path;

    const BUCKET: &str = "ferry";
    const KEY: &str = "users/u-1/a file+ü";
    const ACCESS_KEY: &str = "AKIDEXAMPLE";

    fn request<T>(input: T) -> S3Request<T> {
        S3Request {
            input,
            method: http::Method::PUT,
            uri: http::Uri::default(),
            headers: http::HeaderMap::new(),
            extensions: http::Extensions::new(),
            credentials: Some(Credentials {
                access_key: ACCESS_KEY.into(),
                secret_key: SecretKey::from("secret"),
            }),
            region: None,
            service: None,
            trailing_headers: None,
        }
    }

    /// The files at the top of the data directory.
    fn files(root: &Path) -> BTreeSet<String> {
        std::fs::read_dir(root)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_type().unwrap().is_file())
            .map(|e| e.file_name().into_string().unwrap())
            .collect()
    }

    /// Runs `step` and checks the files it added and removed at the top of
    /// the data directory are exactly the ones named.
    async fn expect_files<T>(
        root: &Path,
        what: &str,
        added: &[String],
        removed: &[String],
        step: impl Future<Output = s3s::S3Result<S3Response<T>>>,
    ) -> T {
        let before = files(root);
        let out = step.await.unwrap().output;
        let after = files(root);
        let actual_added: BTreeSet<_> = after.difference(&before).cloned().collect();
        let actual_removed: BTreeSet<_> = before.difference(&after).cloned().collect();
        let added: BTreeSet<_> = added.iter().cloned().collect();
        let removed: BTreeSet<_> = removed.iter().cloned().collect();
        assert!(
            actual_added == added && actual_removed == removed,
            "s3s-fs's {what} wrote {actual_added:?} and removed {actual_removed:?}, \
             where crates/ferry-objects/src/sidecars.rs expects it to write {added:?} and \
             remove {removed:?}: s3s-fs renamed its files. Update the names in sidecars.rs \
             (and what reads them) before taking this s3s-fs, or open uploads will be \
             orphaned and objects lose their ETags."
        );
        out
    }

    #[tokio::test]
    async fn s3s_fs_writes_the_files_we_name() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join(BUCKET)).unwrap();
        let fs = s3s_fs::FileSystem::new(&root).unwrap();

        // A PUT: the object in the bucket folder, its ETag and attributes
        // beside it.
        let put = PutObjectInput {
            bucket: BUCKET.into(),
            key: KEY.into(),
            body: Some(StreamingBlob::from(s3s::Body::from("hello".to_owned()))),
            content_type: Some("text/plain".into()),
            metadata: Some([("origin".to_owned(), "test".to_owned())].into()),
            ..Default::default()
        };
        let put = expect_files(
            &root,
            "PutObject",
            &[object_info(BUCKET, KEY), object_metadata(BUCKET, KEY)],
            &[],
            fs.put_object(request(put)),
        )
        .await;
        assert!(root.join(BUCKET).join(KEY).is_file());

        // The ETag is read from the record Ferry names (a completion
        // writes it there).
        let etag = "0123456789abcdef0123456789abcdef-2";
        let info = serde_json::json!({ "e_tag": etag, "checksum_sha256": "AAAA-2" });
        std::fs::write(root.join(object_info(BUCKET, KEY)), info.to_string()).unwrap();
        let head = HeadObjectInput {
            bucket: BUCKET.into(),
            key: KEY.into(),
            ..Default::default()
        };
        let head = fs.head_object(request(head)).await.unwrap().output;
        assert_eq!(
            head.e_tag.as_ref().map(|e| e.value().to_owned()),
            Some(etag.to_owned()),
            "s3s-fs no longer reads an object's ETag from `e_tag` in {} (it answered {:?} \
             after a PUT whose ETag was {:?}): update sidecars.rs and complete.rs",
            object_info(BUCKET, KEY),
            head.e_tag,
            put.e_tag,
        );

        // A multipart upload: its marker (the creator's key) and the
        // attributes its object will get.
        let create = CreateMultipartUploadInput {
            bucket: BUCKET.into(),
            key: KEY.into(),
            content_type: Some("text/plain".into()),
            ..Default::default()
        };
        let before = files(&root);
        let created = fs.create_multipart_upload(request(create)).await.unwrap();
        let id = created.output.upload_id.unwrap();
        let added: BTreeSet<_> = files(&root).difference(&before).cloned().collect();
        let expected: BTreeSet<_> = [upload_marker(&id), upload_metadata(BUCKET, KEY, &id)]
            .into_iter()
            .collect();
        assert_eq!(
            added, expected,
            "s3s-fs's CreateMultipartUpload wrote {added:?}, where \
             crates/ferry-objects/src/sidecars.rs expects {expected:?}: s3s-fs renamed \
             its files. Update the names in sidecars.rs before taking this s3s-fs, or \
             open uploads will be orphaned."
        );
        let marker = std::fs::read(root.join(upload_marker(&id))).unwrap();
        assert_eq!(
            serde_json::from_slice::<Option<String>>(&marker).unwrap(),
            Some(ACCESS_KEY.to_owned()),
            "s3s-fs's upload marker no longer holds the creator's access key \
             (backend.rs's check_creator reads it)"
        );
        assert_eq!(upload_marker_id(&upload_marker(&id)), Some(id.as_str()));
        assert_eq!(
            upload_of(&upload_metadata(BUCKET, KEY, &id)),
            Some(id.as_str())
        );

        // A part as s3s-fs stores it (parts stored before Ferry kept its
        // own are still read under this name).
        let part = UploadPartInput {
            bucket: BUCKET.into(),
            key: KEY.into(),
            upload_id: id.clone(),
            part_number: 1,
            body: Some(StreamingBlob::from(s3s::Body::from("part one".to_owned()))),
            ..Default::default()
        };
        expect_files(
            &root,
            "UploadPart",
            &[s3s_part(&id, 1)],
            &[],
            fs.upload_part(request(part)),
        )
        .await;

        // An abort removes the upload's marker, its attributes and every
        // file of its bytes: Ferry's staging file and parts too.
        let ours = [staging_file(&id), own_part(&id, 2, "w1")];
        for name in &ours {
            std::fs::write(root.join(name), b"bytes").unwrap();
        }
        let mut gone = vec![
            upload_marker(&id),
            upload_metadata(BUCKET, KEY, &id),
            s3s_part(&id, 1),
        ];
        gone.extend(ours);
        let abort = AbortMultipartUploadInput {
            bucket: BUCKET.into(),
            key: KEY.into(),
            upload_id: id.clone(),
            ..Default::default()
        };
        expect_files(
            &root,
            "AbortMultipartUpload",
            &[],
            &gone,
            fs.abort_multipart_upload(request(abort)),
        )
        .await;
    }

    #[test]
    fn s3s_fs_removes_our_temporary_files_when_it_opens() {
        let dir = tempfile::tempdir().unwrap();
        let name = temporary();
        std::fs::write(dir.path().join(&name), b"half an object").unwrap();
        let _fs = s3s_fs::FileSystem::new(dir.path()).unwrap();
        assert!(
            files(dir.path()).is_empty(),
            "s3s-fs no longer removes {name} when it opens: a crash while completing an \
             upload would leave it behind. Update `temporary` in sidecars.rs to a name it \
             removes."
        );
    }
}
