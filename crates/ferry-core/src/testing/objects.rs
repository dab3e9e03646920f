//! The object store in memory: sizes, ETags and checksums, and the bytes
//! of what is put whole (for the thumbnailer to read). Like
//! S3, it puts `Object Created` and `Object Deleted` on the bus itself (not
//! counted as port calls: they are the store's doing, not the domain's).
//! [`MemoryObjects::put`] and [`MemoryObjects::put_part`] stand for the
//! browser's presigned requests.

use super::{Faults, MemoryBus};
use crate::clock::Clock;
use crate::names::hex;
use crate::ports::{
    BusEntry, ObjectInfo, ObjectRead, ObjectStore, PartInfo, PortError, PortResult, Presigned,
    PutLimits, UploadInfo,
};
use async_trait::async_trait;
use base64::Engine as _;
use ferry_protocol::Timestamp;
use ferry_protocol::messages::UploadedPart;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The object store.
#[derive(Debug)]
pub struct MemoryObjects {
    faults: Arc<Faults>,
    bus: Arc<MemoryBus>,
    clock: Arc<dyn Clock>,
    state: Mutex<ObjectsState>,
}

#[derive(Debug, Default)]
struct ObjectsState {
    objects: BTreeMap<String, ObjectInfo>,
    /// The bytes of objects put whole; a multipart object reads as zeros.
    contents: BTreeMap<String, Vec<u8>>,
    uploads: BTreeMap<String, Upload>,
    next_upload: u64,
}

#[derive(Debug, Clone)]
struct Upload {
    key: String,
    initiated: Timestamp,
    parts: BTreeMap<u32, PartInfo>,
}

impl MemoryObjects {
    /// An empty store that announces its changes on `bus`.
    pub fn new(faults: Arc<Faults>, bus: Arc<MemoryBus>, clock: Arc<dyn Clock>) -> Self {
        Self {
            faults,
            bus,
            clock,
            state: Mutex::new(ObjectsState::default()),
        }
    }

    fn now(&self) -> Timestamp {
        Timestamp::new(self.clock.now())
    }

    /// A presigned `PUT` of `content` arriving: the object is stored, with
    /// its SHA-256, and announced.
    pub fn put(&self, key: &str, content: &[u8]) {
        let digest = Sha256::digest(content);
        let object = ObjectInfo {
            key: key.to_owned(),
            size: content.len() as u64,
            etag: format!("\"{}\"", &hex(&digest)[..32]),
            checksum_sha256: Some(base64::engine::general_purpose::STANDARD.encode(digest)),
            last_modified: self.now(),
        };
        {
            let mut state = self.state.lock().unwrap();
            state.objects.insert(key.to_owned(), object.clone());
            state.contents.insert(key.to_owned(), content.to_vec());
        }
        self.announce_created(&object);
    }

    /// The bytes stored at `key`, if it was put whole.
    pub fn content(&self, key: &str) -> Option<Vec<u8>> {
        self.state.lock().unwrap().contents.get(key).cloned()
    }

    /// A presigned part `PUT` of `size` bytes arriving; returns its ETag.
    pub fn put_part(&self, upload_id: &str, part_number: u32, size: u64) -> String {
        let etag = format!("\"part-{part_number}-{size}\"");
        let mut state = self.state.lock().unwrap();
        let upload = state.uploads.get_mut(upload_id).unwrap();
        upload.parts.insert(
            part_number,
            PartInfo {
                part_number,
                size,
                etag: etag.clone(),
                checksum_sha256: None,
            },
        );
        etag
    }

    /// Removes an object behind the domain's back (an admin tool), and
    /// announces it.
    pub fn remove(&self, key: &str) {
        if self.state.lock().unwrap().objects.remove(key).is_some() {
            self.announce_deleted(key);
        }
    }

    /// Every object's key.
    pub fn keys(&self) -> Vec<String> {
        self.state.lock().unwrap().objects.keys().cloned().collect()
    }

    /// How many multipart uploads are open.
    pub fn open_uploads(&self) -> usize {
        self.state.lock().unwrap().uploads.len()
    }

    fn announce_created(&self, object: &ObjectInfo) {
        self.bus.emit(BusEntry {
            source: crate::consumers::S3_SOURCE.to_owned(),
            detail_type: "Object Created".to_owned(),
            detail: json!({
                "bucket": {"name": "ferry"},
                "object": {"key": object.key, "size": object.size, "etag": object.etag.trim_matches('"')},
            }),
        });
    }

    fn announce_deleted(&self, key: &str) {
        self.bus.emit(BusEntry {
            source: crate::consumers::S3_SOURCE.to_owned(),
            detail_type: "Object Deleted".to_owned(),
            detail: json!({"bucket": {"name": "ferry"}, "object": {"key": key}}),
        });
    }
}

fn presigned(method: &str, url: String, now: Timestamp, expires: Duration) -> Presigned {
    Presigned {
        method: method.to_owned(),
        url,
        headers: Vec::new(),
        expires_at: Timestamp::new(now.get() + expires),
    }
}

#[async_trait]
impl ObjectStore for MemoryObjects {
    async fn presign_put(
        &self,
        key: &str,
        limits: &PutLimits,
        now: Timestamp,
        expires: Duration,
    ) -> PortResult<Presigned> {
        self.faults.enter("objects.presign_put")?;
        let url = format!("memory://ferry/{key}?size={}", limits.content_length);
        Ok(presigned("PUT", url, now, expires))
    }

    async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        limits: &PutLimits,
        now: Timestamp,
        expires: Duration,
    ) -> PortResult<Presigned> {
        self.faults.enter("objects.presign_part")?;
        let url = format!(
            "memory://ferry/{key}?uploadId={upload_id}&partNumber={part_number}&size={}",
            limits.content_length
        );
        Ok(presigned("PUT", url, now, expires))
    }

    async fn presign_get(
        &self,
        key: &str,
        download_name: &str,
        _content_type: &str,
        now: Timestamp,
        expires: Duration,
    ) -> PortResult<Presigned> {
        self.faults.enter("objects.presign_get")?;
        let url = format!("memory://ferry/{key}?name={download_name}");
        Ok(presigned("GET", url, now, expires))
    }

    async fn presign_inline_get(
        &self,
        key: &str,
        name: &str,
        content_type: &str,
        cache_control: Option<&str>,
        now: Timestamp,
        expires: Duration,
    ) -> PortResult<Presigned> {
        self.faults.enter("objects.presign_inline_get")?;
        crate::ports::check_inline_type(content_type)?;
        let mut url = format!("memory://ferry/{key}?inline={name}&type={content_type}");
        if let Some(cache) = cache_control {
            url.push_str(&format!("&cache={cache}"));
        }
        Ok(presigned("GET", url, now, expires))
    }

    async fn create_multipart(
        &self,
        key: &str,
        _content_type: &str,
        _part_checksums: bool,
    ) -> PortResult<String> {
        self.faults.enter("objects.create_multipart")?;
        let now = self.now();
        let mut state = self.state.lock().unwrap();
        state.next_upload += 1;
        let id = format!("upload-{}", state.next_upload);
        state.uploads.insert(
            id.clone(),
            Upload {
                key: key.to_owned(),
                initiated: now,
                parts: BTreeMap::new(),
            },
        );
        Ok(id)
    }

    async fn list_parts(&self, key: &str, upload_id: &str) -> PortResult<Vec<PartInfo>> {
        self.faults.enter("objects.list_parts")?;
        let state = self.state.lock().unwrap();
        match state.uploads.get(upload_id) {
            Some(upload) if upload.key == key => Ok(upload.parts.values().cloned().collect()),
            _ => Err(PortError::NotFound(format!("no upload {upload_id}"))),
        }
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> PortResult<ObjectInfo> {
        self.faults.enter("objects.complete_multipart")?;
        let now = self.now();
        let object = {
            let mut state = self.state.lock().unwrap();
            let Some(upload) = state.uploads.get(upload_id).filter(|u| u.key == key) else {
                // Completed already: the object as it is.
                return state
                    .objects
                    .get(key)
                    .cloned()
                    .ok_or_else(|| PortError::NotFound(format!("no upload {upload_id}")));
            };
            let mut size = 0;
            for part in parts {
                match upload.parts.get(&part.part_number) {
                    Some(stored)
                        if stored.etag.trim_matches('"') == part.e_tag.trim_matches('"') =>
                    {
                        size += stored.size;
                    }
                    _ => {
                        return Err(PortError::Invalid(format!(
                            "part {} doesn't match",
                            part.part_number
                        )));
                    }
                }
            }
            let object = ObjectInfo {
                key: key.to_owned(),
                size,
                etag: format!("\"multipart-{}\"", parts.len()),
                checksum_sha256: None,
                last_modified: now,
            };
            state.uploads.remove(upload_id);
            state.objects.insert(key.to_owned(), object.clone());
            object
        };
        self.announce_created(&object);
        Ok(object)
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> PortResult<()> {
        self.faults.enter("objects.abort_multipart")?;
        let mut state = self.state.lock().unwrap();
        if state.uploads.get(upload_id).is_some_and(|u| u.key == key) {
            state.uploads.remove(upload_id);
        }
        Ok(())
    }

    async fn head(&self, key: &str) -> PortResult<Option<ObjectInfo>> {
        self.faults.enter("objects.head")?;
        Ok(self.state.lock().unwrap().objects.get(key).cloned())
    }

    async fn delete(&self, key: &str) -> PortResult<()> {
        self.faults.enter("objects.delete")?;
        let removed = {
            let mut state = self.state.lock().unwrap();
            state.contents.remove(key);
            state.objects.remove(key).is_some()
        };
        if removed {
            self.announce_deleted(key);
        }
        Ok(())
    }

    async fn list(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: u32,
    ) -> PortResult<Vec<ObjectInfo>> {
        self.faults.enter("objects.list")?;
        let state = self.state.lock().unwrap();
        Ok(state
            .objects
            .values()
            .filter(|o| o.key.starts_with(prefix) && after.is_none_or(|a| o.key.as_str() > a))
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn read(&self, key: &str, max_bytes: u64) -> PortResult<ObjectRead> {
        self.faults.enter("objects.read")?;
        let state = self.state.lock().unwrap();
        let Some(object) = state.objects.get(key) else {
            return Ok(ObjectRead::Missing);
        };
        if object.size > max_bytes {
            return Ok(ObjectRead::TooLarge { size: object.size });
        }
        let size = usize::try_from(object.size).unwrap();
        Ok(ObjectRead::Bytes(
            state
                .contents
                .get(key)
                .cloned()
                .unwrap_or_else(|| vec![0; size]),
        ))
    }

    async fn put_derived(&self, key: &str, bytes: Vec<u8>, _content_type: &str) -> PortResult<()> {
        self.faults.enter("objects.put_derived")?;
        let digest = Sha256::digest(&bytes);
        let object = ObjectInfo {
            key: key.to_owned(),
            size: bytes.len() as u64,
            etag: format!("\"{}\"", &hex(&digest)[..32]),
            checksum_sha256: Some(base64::engine::general_purpose::STANDARD.encode(digest)),
            last_modified: self.now(),
        };
        {
            let mut state = self.state.lock().unwrap();
            state.objects.insert(key.to_owned(), object.clone());
            state.contents.insert(key.to_owned(), bytes);
        }
        self.announce_created(&object);
        Ok(())
    }

    async fn list_uploads(&self) -> PortResult<Vec<UploadInfo>> {
        self.faults.enter("objects.list_uploads")?;
        let state = self.state.lock().unwrap();
        Ok(state
            .uploads
            .iter()
            .map(|(id, upload)| UploadInfo {
                key: upload.key.clone(),
                upload_id: id.clone(),
                initiated: upload.initiated,
            })
            .collect())
    }
}
