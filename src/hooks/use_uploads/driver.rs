//! The upload machinery, a chunk of its own: each file is created with
//! `CreateFile`, its bytes sent straight to the presigned URL (one PUT, or
//! part by part as `ferry_client::transfer::Transfer` plans), and it shows
//! as indexed when its `FileCreated` arrives. A large upload's record is
//! kept in IndexedDB while it runs, so a reload can resume it.
//!
//! Every function here reads the hook's state with `try_`: an upload's
//! task may outlive the component it belongs to (the page moved on), and
//! then it just stops.

use super::{Picked, UseUploads, UseUploadsOptions};
use crate::api::put::{Put, PutFailure};
use crate::chunks::{self, ChunkFuture};
use crate::platform::hasher::{self, Hashed, Hasher, Warm};
use crate::platform::picker::{self, Dropped, Placed};
use crate::platform::{new_id, resume_store};
use ferry_client::failure::ApiFailure;
use ferry_client::format;
use ferry_client::transfer::{Action, MAX_TRIES, PartFailure, Transfer, backoff_ms};
use ferry_client::upload::{Next, Stage, Unfinished, place};
use ferry_protocol::api::{
    CreateFileResponse, DEFAULT_PART_SIZE, PartUpload, UploadInstructions, UploadedPartView,
    part_size_for,
};
use ferry_protocol::host::{ElementErrorCode, ErrorV1};
use ferry_protocol::messages::{
    AbortUploadV1, CompleteUploadV1, ConflictPolicy, CreateFileV1, UploadedPart,
};
use ferry_protocol::{Command, ErrorCode, FileName, UploadSettings};
use futures::StreamExt as _;
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender};
use leptos::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use uuid::Uuid;
use wasm_bindgen::JsCast;

chunks::split_point! {
    uploads =>
    /// Queues files and starts what can start.
    pub(crate) fn add_uploads(uploads: UseUploads, placed: Vec<Placed>) -> () {
        uploads.start();
        uploads.queue_placed(placed)
    }
}

chunks::split_point! {
    uploads =>
    /// Reads what was dropped, walking dropped folders.
    pub(crate) fn read_dropped(dropped: Dropped, handle_from: u64) -> ChunkFuture<Vec<Placed>> {
        Box::pin(dropped.read(handle_from))
    }
}

chunks::split_point! {
    uploads =>
    /// Finds the unfinished uploads the browser kept: a task of the
    /// chunk's, so the file browser carries nothing of it but the call.
    pub(crate) fn load_unfinished(uploads: UseUploads) -> () {
        uploads.start();
        leptos::task::spawn_local(uploads.load_unfinished());
    }
}

chunks::split_point! {
    uploads =>
    /// The chunk's arrival, and with checksums the hashing workers for
    /// the next upload in parts ([`UseUploads::fetch_ahead`]).
    pub(crate) fn fetch_ahead(uploads: UseUploads) -> () {
        let checksums = uploads.settings().is_some_and(|s| s.checksums);
        uploads.registry.try_update_value(|r| {
            r.ahead_ready = true;
            while checksums && r.warm.len() < HASH_WORKERS as usize {
                match Warm::start() {
                    Ok(worker) => r.warm.push(worker),
                    // Left for the upload to start them, or say why not.
                    Err(_) => break,
                }
            }
        });
    }
}

/// What an item's driver hears while its bytes go up.
#[derive(Debug)]
pub(crate) enum News {
    /// What a hashing worker found: the first one the upload started (0),
    /// or one started after it ended (1).
    Hashed(u8, Hashed),
    /// The presign request for these parts ended, with its answer.
    Presigned(Vec<u32>, Result<Vec<PartUpload>, ApiFailure>),
    Put(u32, Result<Option<String>, PutFailure>),
    /// A pause or resume, the browser back online, or a timer.
    Poke,
    /// The person cancelled the file.
    Cancel,
    /// The app is going away (unmounted): the upload stops where it is and
    /// stays resumable.
    Interrupt,
}

/// Why an upload stopped, for the queue.
enum Stop {
    NameTaken,
    /// Stopped in the browser or at the object store (told to the host
    /// page as `UploadFailed`).
    Failed(String),
    /// The API refused (told to the host page with its code).
    Refused(ApiFailure),
    Cancelled,
    /// Stopped because the app unmounted: the browser keeps its record.
    Interrupted,
}

impl From<ApiFailure> for Stop {
    fn from(failure: ApiFailure) -> Self {
        if failure.code() == Some(ErrorCode::Conflict) {
            Self::NameTaken
        } else {
            Self::Refused(failure)
        }
    }
}

impl UseUploads {
    /// Starts the machinery, once, in the owner of the component that
    /// called `use_uploads`: offline, every upload waits and back online
    /// they go on by themselves; when the component unmounts, everything
    /// stops.
    fn start(&self) {
        let owner = self
            .registry
            .try_update_value(|r| {
                if r.started {
                    None
                } else {
                    r.started = true;
                    r.owner.clone()
                }
            })
            .flatten();
        let Some(owner) = owner else { return };
        let uploads = *self;
        owner.with(|| {
            let offline =
                window_event_listener(leptos::ev::offline, move |_| uploads.set_offline(true));
            let online =
                window_event_listener(leptos::ev::online, move |_| uploads.set_offline(false));
            let listeners = send_wrapper::SendWrapper::new((offline, online));
            on_cleanup(move || {
                let (offline, online) = listeners.take();
                offline.remove();
                online.remove();
                uploads.stop_all();
            });
        });
    }

    /// Aborts every request of an item.
    pub(crate) fn abort_running(&self, id: Uuid) {
        let running = self
            .registry
            .try_update_value(|r| r.running.remove(&id))
            .flatten()
            .unwrap_or_default();
        for xhr in running.into_values() {
            let _ = xhr.abort();
        }
    }

    /// Tells an item's driver something changed (pause, resume, online).
    pub(crate) fn poke(&self, id: Uuid, news: News) {
        self.registry.try_with_value(|r| {
            if let Some(driver) = r.drivers.get(&id) {
                let _ = driver.unbounded_send(news);
            }
        });
    }

    /// Starts what the queue lets start.
    pub(crate) fn pump(&self) {
        if self.queue.with_untracked(|q| q.items().is_empty()) {
            return;
        }
        self.start_next();
    }

    /// The browser went offline (everything waits) or came back.
    fn set_offline(&self, offline: bool) {
        self.queue.update(|q| q.set_offline(offline));
        if self.queue.with_untracked(|q| q.items().is_empty()) {
            return;
        }
        if let Some(notices) = self.notices() {
            notices.say(if offline {
                "Offline: uploads are paused until the connection is back."
            } else {
                "Back online: uploads resume."
            });
        }
        self.hold_changed(offline);
    }

    /// Pausing or going offline (`held`) stops requests at once; resuming
    /// lets every driver look again.
    pub(crate) fn hold_changed(&self, held: bool) {
        let ids: Vec<Uuid> = self
            .registry
            .try_with_value(|r| r.drivers.keys().copied().collect())
            .unwrap_or_default();
        for id in ids {
            if held && self.queue.with_untracked(|q| q.is_held(id)) {
                self.abort_running(id);
            }
            self.poke(id, News::Poke);
        }
        self.pump();
    }

    /// Stops everything: the component is going away. Uploads in parts
    /// keep their records, so they can go on when the app is back.
    fn stop_all(&self) {
        let (running, drivers) = self
            .registry
            .try_update_value(|r| {
                r.files.clear();
                r.kept.clear();
                r.warm.clear();
                (
                    std::mem::take(&mut r.running),
                    std::mem::take(&mut r.drivers),
                )
            })
            .unwrap_or_default();
        for xhr in running.into_values().flat_map(HashMap::into_values) {
            let _ = xhr.abort();
        }
        for driver in drivers.into_values() {
            let _ = driver.unbounded_send(News::Interrupt);
        }
    }

    fn setup<T>(&self, read: impl FnOnce(&UseUploadsOptions) -> T) -> Option<T> {
        self.setup.try_with_value(read)
    }

    fn say(&self, text: String) {
        if let Some(notices) = self.notices() {
            notices.say(text);
        }
    }

    fn fail(&self, text: &str) {
        if let Some(notices) = self.notices() {
            notices.fail(text);
        }
    }

    /// A file refused before it was queued: shown, and told to the host
    /// page with `code`.
    fn report(&self, shown: &str, code: ErrorCode) {
        if let Some(notices) = self.notices() {
            notices.report(shown, &ErrorV1::new(code, shown));
        }
    }

    /// Upload `id` stopped for `reason`: its row says so, the person is
    /// told, and the host page hears `error`.
    fn stopped(&self, id: Uuid, reason: &str, error: &ErrorV1) {
        let name = self
            .queue
            .try_with_untracked(|q| {
                q.items()
                    .iter()
                    .find(|i| i.id == id)
                    .map(|i| i.name.clone())
            })
            .flatten();
        self.queue.try_update(|q| q.failed(id, reason));
        if let Some(notices) = self.notices() {
            let shown = format!("{} wasn't uploaded: {reason}", name.unwrap_or_default());
            notices.report(&shown, error);
        }
    }

    fn is_held(&self, id: Uuid) -> bool {
        self.queue
            .try_with_untracked(|q| q.is_held(id))
            .unwrap_or(false)
    }

    /// Whether the item is gone or cancelled (or the hook is gone).
    fn is_cancelled(&self, id: Uuid) -> bool {
        self.queue
            .try_with_untracked(|q| {
                q.items()
                    .iter()
                    .find(|i| i.id == id)
                    .is_none_or(|i| i.stage == Stage::Cancelled)
            })
            .unwrap_or(true)
    }

    fn forget(&self, id: Uuid) {
        self.registry.try_update_value(|r| {
            r.files.remove(&id);
            r.drivers.remove(&id);
        });
        self.abort_running(id);
    }

    /// Queues files with their paths relative to the folder shown (and
    /// their handles, when the picker gave them).
    pub(crate) fn queue_placed(&self, files: Vec<Placed>) {
        let Some((base, max_file_bytes)) =
            self.setup(|s| (s.folder.get_untracked(), s.settings.max_file_bytes))
        else {
            return;
        };
        let mut added = 0;
        for Placed { path, file, handle } in files {
            let size = file.size() as u64;
            let (folder, name) = match place(&base, &path) {
                Ok(placed) => placed,
                Err(reason) => {
                    let shown = format!("{path} can't be uploaded: {reason}");
                    self.report(&shown, ErrorCode::InvalidName);
                    continue;
                }
            };
            if size > max_file_bytes {
                let shown = format!(
                    "{name} is {}, over the {} limit.",
                    format::bytes(size),
                    format::bytes(max_file_bytes)
                );
                self.report(&shown, ErrorCode::TooLarge);
                continue;
            }
            if let Some(id) = self.queue.try_update(|q| q.add(folder, &name, size)) {
                self.registry
                    .try_update_value(|r| r.files.insert(id, Picked { file, handle }));
                added += 1;
            }
        }
        if added > 0 {
            self.say(if added == 1 {
                "Uploading 1 file".to_owned()
            } else {
                format!("Uploading {added} files")
            });
        }
        self.start_next();
    }

    /// Starts what the queue lets start. (A taken name waits in the queue
    /// for the person's answer; the upload panel asks.)
    pub(crate) fn start_next(&self) {
        let next = self
            .queue
            .try_update(|q| q.start_next())
            .unwrap_or_default();
        for step in next {
            if let Next::Start(id) = step {
                let uploads = *self;
                leptos::task::spawn_local(async move { uploads.upload(id).await });
            }
        }
    }

    /// The person answered about a taken name; `None` skips the file.
    pub(crate) fn resolve(&self, upload: Uuid, choice: Option<ConflictPolicy>) {
        if choice.is_none() {
            self.forget(upload);
        }
        self.queue.update(|q| q.resolve(upload, choice));
        self.start_next();
    }

    /// Cancels one file: its requests stop, and the store drops what it had.
    pub(crate) fn cancel(&self, id: Uuid) {
        let file_id = self.queue.with_untracked(|q| {
            q.items()
                .iter()
                .find(|i| i.id == id && !i.stage.is_over())
                .and_then(|i| i.file_id)
        });
        self.queue.update(|q| q.cancel(id));
        self.poke(id, News::Cancel);
        self.forget(id);
        if let (Some(file_id), Some(api)) = (file_id, self.api()) {
            leptos::task::spawn_local(async move {
                let _ = api
                    .command(Command::AbortUpload(AbortUploadV1 { file_id }))
                    .await;
            });
        }
    }

    /// Pauses or resumes one file. A pause stops its requests at once;
    /// parts already stored stay stored.
    pub(crate) fn set_paused(&self, id: Uuid, paused: bool) {
        if self
            .queue
            .try_update(|q| q.set_paused(id, paused))
            .unwrap_or(false)
        {
            if paused {
                self.abort_running(id);
            }
            self.poke(id, News::Poke);
            self.start_next();
        }
    }

    /// Pauses or resumes every file.
    pub(crate) fn set_all_paused(&self, paused: bool) {
        self.queue.update(|q| q.set_all_paused(paused));
        self.hold_changed(paused);
    }

    /// One file's whole upload, from `CreateFile` to the stored bytes.
    async fn upload(self, id: Uuid) {
        let (tell, news) = futures::channel::mpsc::unbounded();
        self.registry
            .try_update_value(|r| r.drivers.insert(id, tell.clone()));
        let driver = self.setup(|s| (s.outbox, s.settings.clone()));
        let outcome = match driver {
            Some((outbox, settings)) => {
                let mut driver = Driver {
                    uploads: self,
                    id,
                    api: outbox.api(),
                    outbox,
                    settings,
                    tell,
                    news,
                };
                driver.send_file().await
            }
            None => Err(Stop::Cancelled),
        };
        match outcome {
            Ok(()) => {
                self.queue.try_update(|q| q.uploaded(id));
                if let Some(uploaded) = self.setup(|s| s.on_uploaded) {
                    uploaded.run(());
                }
            }
            Err(Stop::NameTaken) => {
                self.queue.try_update(|q| _ = q.name_taken(id));
            }
            Err(Stop::Refused(failure)) => {
                let error = ferry_client::host::request_error(&failure);
                self.stopped(id, &failure.to_string(), &error);
            }
            Err(Stop::Failed(reason)) => {
                let error = ErrorV1::new(ElementErrorCode::UploadFailed, &reason);
                self.stopped(id, &reason, &error);
            }
            Err(Stop::Cancelled | Stop::Interrupted) => {}
        }
        let asking = self
            .queue
            .try_with_untracked(|q| {
                q.items()
                    .iter()
                    .any(|i| i.id == id && i.stage == Stage::Asking)
            })
            .unwrap_or(false);
        // A file whose name is taken waits for the answer with its file.
        if !asking {
            self.registry.try_update_value(|r| r.files.remove(&id));
        }
        self.abort_running(id);
        self.registry.try_update_value(|r| r.drivers.remove(&id));
        if self.queue.try_with_untracked(|_| ()).is_some() {
            self.start_next();
        }
    }

    /// The person picked a file to go on with an unfinished upload: if it
    /// is the same file (size, date, first part), the upload resumes; if
    /// not, they are told why and nothing changes.
    pub(crate) fn resume_with(
        &self,
        record: Unfinished,
        file: web_sys::File,
        handle: Option<wasm_bindgen::JsValue>,
    ) {
        let uploads = *self;
        let name = record.name.clone();
        let refuse = move |why: String| {
            uploads.fail(&format!(
                "{name} can't go on with the file chosen: {why}. Choose the same file again."
            ));
        };
        if let Err(why) = record.matches(file.size() as u64, file.last_modified() as i64) {
            refuse(why);
            return;
        }
        leptos::task::spawn_local(async move {
            if record.first_checksum.is_some() {
                let first = record.part_size.min(record.size);
                match first_part_checksum(&file, first).await {
                    Some(sum) => {
                        if let Err(why) = record.same_start(&sum) {
                            refuse(why);
                            return;
                        }
                    }
                    None => {
                        refuse("the browser couldn't read it".into());
                        return;
                    }
                }
            }
            let file_id = record.file_id;
            uploads
                .unfinished
                .try_update(|list| list.retain(|u| u.file_id != file_id));
            let name = record.name.clone();
            if let Some(id) = uploads.queue.try_update(|q| q.add_resumed(record)) {
                uploads
                    .registry
                    .try_update_value(|r| r.files.insert(id, Picked { file, handle }));
            }
            uploads.say(format!("Resuming {name}"));
            uploads.start_next();
        });
    }

    /// Gives up an unfinished upload: the store drops its parts.
    pub(crate) fn discard(&self, file_id: Uuid) {
        self.unfinished
            .update(|list| list.retain(|u| u.file_id != file_id));
        let Some(api) = self.api() else {
            return;
        };
        leptos::task::spawn_local(async move {
            let _ = api
                .command(Command::AbortUpload(AbortUploadV1 { file_id }))
                .await;
            resume_store::forget(file_id).await;
        });
    }

    /// Whether an unfinished upload's file can be read from a kept handle.
    pub(crate) fn has_kept_handle(&self, file_id: Uuid) -> bool {
        self.registry
            .try_with_value(|r| r.kept.contains_key(&file_id))
            .unwrap_or(false)
    }

    /// Resumes an unfinished upload from its kept handle: the browser may
    /// ask the person to allow reading the file again (the click counts).
    /// When the file can't be read any more, the person is asked to choose
    /// it.
    pub(crate) fn resume_from_handle(&self, record: Unfinished) {
        let Some(handle) = self
            .registry
            .try_with_value(|r| r.kept.get(&record.file_id).cloned())
            .flatten()
        else {
            return;
        };
        let uploads = *self;
        leptos::task::spawn_local(async move {
            match picker::file_of(&handle).await {
                Some(file) => uploads.resume_with(record, file, Some(handle)),
                None => {
                    uploads
                        .registry
                        .try_update_value(|r| r.kept.remove(&record.file_id));
                    // Re-rendered without the handle: the file input shows.
                    uploads.unfinished.notify();
                    uploads.fail(&format!(
                        "{} can't be read where it was: choose it again to go on.",
                        record.name
                    ));
                }
            }
        });
    }

    /// This user's unfinished uploads kept by the browser, those the server
    /// still has (the others are forgotten), with their kept handles.
    pub(crate) async fn load_unfinished(self) {
        let (Some(user), Some(api)) = (self.setup(|s| s.user.clone()), self.api()) else {
            return;
        };
        let mut alive = Vec::new();
        for record in resume_store::all().await {
            if record.owner != user {
                continue;
            }
            match api.uploaded_parts(record.file_id).await {
                Ok(_) | Err(ApiFailure::Unreachable) => alive.push(record),
                Err(_) => resume_store::forget(record.file_id).await,
            }
        }
        let handles = resume_store::handles().await;
        self.registry.try_update_value(|r| {
            for (file_id, handle) in handles {
                if alive.iter().any(|a| a.file_id == file_id) {
                    r.kept.insert(file_id, handle);
                }
            }
        });
        if !alive.is_empty() {
            self.unfinished.try_set(alive);
        }
    }
}

/// One file's upload while it runs.
struct Driver {
    uploads: UseUploads,
    /// The queue item.
    id: Uuid,
    api: crate::api::files::FilesApi,
    outbox: crate::outbox::Outbox,
    settings: UploadSettings,
    tell: UnboundedSender<News>,
    news: UnboundedReceiver<News>,
}

impl Driver {
    /// Waits while the item is paused or the browser offline.
    async fn wait_while_held(&mut self) -> Result<(), Stop> {
        while self.uploads.is_held(self.id) {
            match self.news.next().await {
                Some(News::Cancel) | None => return Err(Stop::Cancelled),
                Some(News::Interrupt) => return Err(Stop::Interrupted),
                Some(_) => {}
            }
        }
        Ok(())
    }

    async fn send_file(&mut self) -> Result<(), Stop> {
        let (uploads, id) = (self.uploads, self.id);
        let Some(item) = uploads
            .queue
            .try_with_untracked(|q| q.items().iter().find(|i| i.id == id).cloned())
            .flatten()
        else {
            return Err(Stop::Cancelled);
        };
        let Some(file) = uploads
            .registry
            .try_with_value(|r| r.files.get(&id).map(|p| p.file.clone()))
            .flatten()
        else {
            return Err(Stop::Cancelled);
        };
        if let Some(record) = item.resume.clone() {
            // Picked again after a reload: the store has some parts already.
            let already = self
                .api
                .uploaded_parts(record.file_id)
                .await
                .map_err(|failure| Stop::Failed(format!("the upload can't go on ({failure})")))?
                .parts;
            return self
                .send_parts(record, &file, Vec::new(), already, None)
                .await;
        }
        let name = FileName::parse(&item.name).map_err(|e| Stop::Failed(e.to_string()))?;
        let content_type = Some(file.type_())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        // A file that goes up in one PUT is hashed first, so its checksum is
        // signed into the URL and the store refuses bytes changed on the way.
        // (A multipart upload's parts are hashed as they go.)
        let sha256 =
            if self.settings.checksums && item.size < self.settings.multipart_threshold_bytes {
                let digest = hasher::digest(&file)
                    .await
                    .map_err(|_| Stop::Failed("the file couldn't be read".into()))?;
                Some(hasher::hex(&digest))
            } else {
                None
            };
        if uploads.is_cancelled(id) {
            return Err(Stop::Cancelled);
        }
        // A large file's parts are read and hashed from now, while
        // `CreateFile` is on its way, in parts of the size the server picks
        // by default: the first parts are ready to presign when it answers.
        let early = (self.settings.checksums
            && item.size >= self.settings.multipart_threshold_bytes)
            .then(|| {
                let part_size = part_size_for(item.size, DEFAULT_PART_SIZE);
                start_hasher(
                    uploads,
                    &file,
                    part_size,
                    hash_ahead(&self.settings),
                    &self.tell,
                    0,
                )
                .ok()
                .map(|hasher| Early { part_size, hasher })
            })
            .flatten();
        let command = Command::CreateFile(CreateFileV1 {
            folder: item.folder.clone(),
            name,
            size: item.size,
            content_type,
            sha256,
            on_conflict: item.on_conflict,
        });
        let sent = self
            .outbox
            .send(command, new_id(), &item.name)
            .await
            .map_err(Stop::from)?;
        let created: CreateFileResponse = serde_json::from_str(&sent.body)
            .map_err(|_| Stop::Failed("the server's answer was not understood".into()))?;
        let file_id = created.file.file_id;
        uploads.queue.try_update(|q| q.created(id, file_id));
        if let Some(on_created) = uploads.setup(|s| s.on_created) {
            on_created.run(created.file.clone());
        }
        if uploads.is_cancelled(id) {
            return Err(Stop::Cancelled);
        }
        match created.upload {
            UploadInstructions::Single { request } => {
                // The server sends it whole after all: no parts to read.
                drop(early);
                self.send_whole(&request, &file).await
            }
            UploadInstructions::Multipart {
                upload_id,
                part_size,
                parts,
                ..
            } => {
                let Some(owner) = uploads.setup(|s| s.user.clone()) else {
                    return Err(Stop::Cancelled);
                };
                let record = Unfinished {
                    file_id,
                    owner,
                    folder: created.file.folder.clone(),
                    name: created.file.name.as_str().to_owned(),
                    size: item.size,
                    last_modified: file.last_modified() as i64,
                    upload_id,
                    part_size,
                    first_checksum: None,
                    parts: Vec::new(),
                };
                self.send_parts(record, &file, parts, Vec::new(), early)
                    .await
            }
        }
    }

    /// A file in one PUT, tried again after a backoff when the connection
    /// dropped, and from the start after a pause.
    async fn send_whole(
        &mut self,
        request: &ferry_protocol::api::PresignedRequest,
        file: &web_sys::File,
    ) -> Result<(), Stop> {
        let (uploads, id) = (self.uploads, self.id);
        let mut tries = 0;
        loop {
            self.wait_while_held().await?;
            let queue = uploads.queue;
            let started = Put::start(request, file.unchecked_ref(), move |sent| {
                queue.try_update(|q| q.progress(id, sent as u64));
            })
            .map_err(|_| Stop::Failed("the browser refused the upload".into()))?;
            uploads.registry.try_update_value(|r| {
                r.running
                    .entry(id)
                    .or_default()
                    .insert(0, started.canceller())
            });
            let outcome = started.finish().await;
            uploads.registry.try_update_value(|r| r.running.remove(&id));
            let failure = match outcome {
                Ok(_) => return Ok(()),
                Err(_) if uploads.is_cancelled(id) => return Err(Stop::Cancelled),
                Err(failure) => failure,
            };
            uploads.queue.try_update(|q| q.progress(id, 0));
            if uploads.is_held(id) {
                continue;
            }
            tries += 1;
            match failure.for_part() {
                PartFailure::Dropped | PartFailure::BadDigest if tries < MAX_TRIES => {
                    sleep(backoff_ms(tries, js_sys::Math::random())).await;
                }
                _ => return Err(Stop::Failed(failure.to_string())),
            }
        }
    }

    /// A multipart upload: parts hashed in a worker, presigned in batches,
    /// sent several at once, tried again as [`Transfer`] says.
    ///
    /// The browser keeps `record` (IndexedDB) while it runs, so a reload can
    /// resume it; `already` are the parts the store has (from resuming). When
    /// it ends, a failed upload is aborted (the store gets its space back), and
    /// a finished, failed or cancelled one is forgotten by the browser: only an
    /// interrupted one can resume.
    async fn send_parts(
        &mut self,
        mut record: Unfinished,
        file: &web_sys::File,
        first: Vec<PartUpload>,
        already: Vec<UploadedPartView>,
        early: Option<Early>,
    ) -> Result<(), Stop> {
        let (uploads, id) = (self.uploads, self.id);
        let settings = self.settings.clone();
        let api = self.api.clone();
        let tell = self.tell.clone();
        let (file_id, part_size) = (record.file_id, record.part_size);
        resume_store::save(&record).await;
        let handle = uploads
            .registry
            .try_with_value(|r| r.files.get(&id).and_then(|p| p.handle.clone()))
            .flatten();
        if let Some(handle) = handle {
            resume_store::keep_handle(file_id, &handle).await;
        }
        let plan = Rc::new(RefCell::new(Transfer::new(
            file.size() as u64,
            part_size,
            settings.checksums,
            usize::try_from(settings.parts_in_flight).unwrap_or(1),
        )));
        plan.borrow_mut().presigned(first, js_sys::Date::now());
        if !settings.checksums {
            // Without checksums, a part of the right size is taken as stored.
            plan.borrow_mut().already_stored(&already);
        }
        // Kept alive while the parts go; dropping it stops the worker. It
        // hashes a few parts ahead of the first one not stored, no further.
        let ahead = hash_ahead(&settings);
        let mut allowed = plan.borrow().hash_until(ahead);
        // The worker started before `CreateFile` when it read parts of the
        // size the server chose; else one starts now.
        let (hasher, round) = match early {
            Some(early) if early.part_size == part_size => (Some(Ok(early.hasher)), 0),
            _ => (
                settings
                    .checksums
                    .then(|| start_hasher(uploads, file, part_size, allowed, &tell, 1)),
                1,
            ),
        };
        let mut timer: Option<TimeoutHandle> = None;
        // Set while a progress update for the queue waits to be shown.
        let progress_due = Rc::new(std::cell::Cell::new(false));
        let outcome = if matches!(hasher, Some(Err(_))) {
            Err(Stop::Failed(
                "the browser couldn't start hashing the file".into(),
            ))
        } else {
            loop {
                if let Some(Ok(hasher)) = &hasher {
                    let until = plan.borrow().hash_until(ahead);
                    if until > allowed {
                        hasher.allow(until);
                        allowed = until;
                    }
                }
                let held = uploads.is_held(id);
                if held != plan.borrow().is_paused() {
                    plan.borrow_mut().set_paused(held);
                }
                let now = js_sys::Date::now();
                let actions = plan.borrow_mut().next(now);
                let mut stop = None;
                for action in actions {
                    match action {
                        Action::Presign(wanted) => {
                            let api = api.clone();
                            let tell = tell.clone();
                            let asked = wanted.iter().map(|w| w.part_number).collect();
                            leptos::task::spawn_local(async move {
                                let answer =
                                    api.presign_parts(file_id, wanted).await.map(|p| p.parts);
                                let _ = tell.unbounded_send(News::Presigned(asked, answer));
                            });
                        }
                        Action::Send(part) => {
                            if let Err(failure) = self.send_part(file, &plan, part, &progress_due) {
                                stop = Some(failure);
                                break;
                            }
                        }
                        Action::Complete { parts } => {
                            // The store computes the whole file's SHA-256 from
                            // the parts it checked.
                            let command = Command::CompleteUpload(CompleteUploadV1 {
                                file_id,
                                parts,
                                sha256: None,
                            });
                            match api.command(command).await {
                                Ok(_) => {
                                    stop = Some(Ok(()));
                                    break;
                                }
                                Err(ApiFailure::Unreachable) => plan
                                    .borrow_mut()
                                    .complete_failed(js_sys::Date::now(), js_sys::Math::random()),
                                Err(failure) => {
                                    stop = Some(Err(failure.into()));
                                    break;
                                }
                            }
                            // Look again at once (the backoff's wait comes from `next`).
                            let _ = tell.unbounded_send(News::Poke);
                        }
                        Action::WaitUntil(at) => {
                            if let Some(old) = timer.take() {
                                old.clear();
                            }
                            let tell = tell.clone();
                            timer = set_timeout_with_handle(
                                move || {
                                    let _ = tell.unbounded_send(News::Poke);
                                },
                                std::time::Duration::from_millis((at - now).max(0.0) as u64),
                            )
                            .ok();
                        }
                        Action::Fail(reason) => {
                            stop = Some(Err(Stop::Failed(reason)));
                            break;
                        }
                    }
                }
                if let Some(outcome) = stop {
                    break outcome;
                }
                let Some(first) = self.news.next().await else {
                    break Err(Stop::Cancelled);
                };
                // Everything already heard is taken in before the plan is
                // asked again: the parts hashed meanwhile go in one presign
                // request.
                let mut heard_now = vec![first];
                while let Ok(more) = self.news.try_recv() {
                    heard_now.push(more);
                }
                let mut plan_now = plan.borrow_mut();
                let mut ended = None;
                for heard in heard_now {
                    match heard {
                        News::Cancel => {
                            ended = Some(Err(Stop::Cancelled));
                            break;
                        }
                        News::Interrupt => {
                            ended = Some(Err(Stop::Interrupted));
                            break;
                        }
                        News::Poke => {}
                        // From a worker that was let go (it read parts of another size).
                        News::Hashed(from, _) if from != round => {}
                        News::Hashed(_, Hashed::Part(number, checksum)) => {
                            if number == 1 {
                                record.first_checksum = Some(checksum.clone());
                                keep(&record);
                            }
                            plan_now.hashed(number, checksum);
                            // A part the store has, with this checksum, isn't sent
                            // again.
                            let stored: Vec<UploadedPartView> = already
                                .iter()
                                .filter(|p| p.part_number == number)
                                .cloned()
                                .collect();
                            plan_now.already_stored(&stored);
                        }
                        News::Hashed(_, Hashed::File(_) | Hashed::Read(_)) => {}
                        News::Hashed(_, Hashed::Failed(reason)) => {
                            ended = Some(Err(Stop::Failed(format!(
                                "the file couldn't be read ({reason})"
                            ))));
                            break;
                        }
                        News::Presigned(asked, Ok(parts)) => {
                            plan_now.presign_answered(&asked);
                            plan_now.presigned(parts, js_sys::Date::now())
                        }
                        News::Presigned(asked, Err(ApiFailure::Unreachable)) => {
                            plan_now.presign_answered(&asked);
                            plan_now.presign_failed(js_sys::Date::now(), js_sys::Math::random());
                        }
                        News::Presigned(_, Err(failure)) => {
                            ended = Some(Err(failure.into()));
                            break;
                        }
                        News::Put(number, Ok(Some(etag))) => {
                            record.stored(UploadedPart {
                                part_number: number,
                                e_tag: etag.clone(),
                                checksum_sha256: plan_now.checksum(number),
                            });
                            keep(&record);
                            plan_now.stored(number, etag);
                        }
                        News::Put(_, Ok(None)) => {
                            ended =
                                Some(Err(Stop::Failed("the store's answer had no ETag".into())));
                            break;
                        }
                        News::Put(number, Err(failure)) => {
                            if uploads.is_held(id) {
                                plan_now.interrupted(number);
                            } else {
                                plan_now.part_failed(
                                    number,
                                    failure.for_part(),
                                    js_sys::Date::now(),
                                    js_sys::Math::random(),
                                );
                            }
                        }
                    }
                }
                let sent = plan_now.sent();
                drop(plan_now);
                // Only a change reaches the queue's readers: most news (a
                // part hashed, a presign answer) moves no bytes, and each
                // update redraws the upload's row.
                uploads.queue.maybe_update(|q| q.progress(id, sent));
                if let Some(outcome) = ended {
                    break outcome;
                }
            }
        };
        if let Some(timer) = timer {
            timer.clear();
        }
        match &outcome {
            // Interrupted, it can go on after a reload: its record stays.
            Err(Stop::Interrupted) => {}
            Err(Stop::Failed(_) | Stop::Refused(_)) => {
                let _ = api
                    .command(Command::AbortUpload(AbortUploadV1 { file_id }))
                    .await;
                resume_store::forget(file_id).await;
            }
            _ => resume_store::forget(file_id).await,
        }
        outcome
    }

    /// Starts one part's PUT; its end comes back as [`News::Put`].
    fn send_part(
        &self,
        file: &web_sys::File,
        plan: &Rc<RefCell<Transfer>>,
        part: PartUpload,
        progress_due: &Rc<std::cell::Cell<bool>>,
    ) -> Result<(), Result<(), Stop>> {
        let (uploads, id) = (self.uploads, self.id);
        let number = part.part_number;
        let (start, end) = plan.borrow().range(number);
        let body = file
            .slice_with_f64_and_f64(start as f64, end as f64)
            .map_err(|_| Err(Stop::Failed("the file couldn't be read".into())))?;
        let queue = uploads.queue;
        let progress = Rc::clone(plan);
        let due = Rc::clone(progress_due);
        // Each PUT reports progress about 20 times a second; the queue (and
        // all it draws) hears the sum at most every PROGRESS_MS.
        let put = Put::start(&part.request, &body, move |loaded| {
            progress.borrow_mut().progress(number, loaded as u64);
            if !due.replace(true) {
                let (due, plan) = (due.clone(), progress.clone());
                let _ = set_timeout_with_handle(
                    move || {
                        due.set(false);
                        let sent = plan.borrow().sent();
                        queue.try_update(|q| q.progress(id, sent));
                    },
                    std::time::Duration::from_millis(PROGRESS_MS),
                );
            }
        })
        .map_err(|_| Err(Stop::Failed("the browser refused the upload".into())))?;
        uploads.registry.try_update_value(|r| {
            r.running
                .entry(id)
                .or_default()
                .insert(number, put.canceller())
        });
        let tell = self.tell.clone();
        leptos::task::spawn_local(async move {
            let outcome = put.finish().await;
            uploads.registry.try_update_value(|r| {
                if let Some(running) = r.running.get_mut(&id) {
                    running.remove(&number);
                }
            });
            let _ = tell.unbounded_send(News::Put(number, outcome));
        });
        Ok(())
    }
}

async fn sleep(ms: f64) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = set_timeout_with_handle(
            move || {
                let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
            },
            std::time::Duration::from_millis(ms.max(0.0) as u64),
        );
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// How many parts the hashing worker reads ahead of the first part not
/// stored: twice the parts in flight and two more, so that presigning (one
/// request for the parts hashed meanwhile) stays ahead of the slots that
/// free up. Each worker holds one part's memory at a time.
fn hash_ahead(settings: &UploadSettings) -> u32 {
    settings.parts_in_flight.saturating_mul(2).saturating_add(2)
}

/// How often, at most, a file's upload progress reaches the queue.
const PROGRESS_MS: u64 = 100;

/// How many workers read and hash a file's parts, side by side. Reading a
/// part and hashing it is one core's work for about 40 ms per 16 MiB here;
/// two workers have the first four parts ready in half the time, and keep
/// up when the uploads are faster than one core hashes.
const HASH_WORKERS: u32 = 2;

/// A hashing worker started before `CreateFile`, reading parts of
/// `part_size`.
struct Early {
    part_size: u64,
    hasher: Hasher,
}

/// Starts the workers that read and hash `file`'s parts, up to part
/// `until` (those started ahead first); what they find is news for the
/// driver.
fn start_hasher(
    uploads: UseUploads,
    file: &web_sys::File,
    part_size: u64,
    until: u32,
    tell: &UnboundedSender<News>,
    round: u8,
) -> Result<Hasher, wasm_bindgen::JsValue> {
    let tell = tell.clone();
    let warm = uploads
        .registry
        .try_update_value(|r| std::mem::take(&mut r.warm))
        .unwrap_or_default();
    Hasher::parts(
        file,
        part_size,
        until,
        (warm, HASH_WORKERS),
        move |hashed| {
            let _ = tell.unbounded_send(News::Hashed(round, hashed));
        },
    )
}

/// Saves an upload's record without waiting.
fn keep(record: &Unfinished) {
    let record = record.clone();
    leptos::task::spawn_local(async move { resume_store::save(&record).await });
}

/// The picked file's first `len` bytes' SHA-256, base64 (WebCrypto).
async fn first_part_checksum(file: &web_sys::File, len: u64) -> Option<String> {
    let slice = file.slice_with_f64_and_f64(0.0, len as f64).ok()?;
    let digest = hasher::digest(&slice).await.ok()?;
    hasher::base64(&digest)
}
