//! Uploads: files picked, dropped or pasted go into the [`Queue`]; each is
//! created with `CreateFile`, its bytes sent straight to the presigned URL
//! (one PUT, or part by part), and it shows as indexed when its
//! `FileCreated` arrives. The panel shows a bar per file and one overall.

use super::Ctx;
use super::dialogs::Dialog;
use crate::api::failure::ApiFailure;
use crate::api::hasher::{self, Hashed, Hasher};
use crate::api::unfinished;
use crate::api::xhr::{Put, PutFailure};
use crate::format;
use crate::transfer::{Action, MAX_TRIES, PartFailure, Transfer, backoff_ms};
use crate::upload::{Next, Stage, Unfinished, place};
use ferry_protocol::api::{CreateFileResponse, PartUpload, UploadInstructions, UploadedPartView};
use ferry_protocol::messages::{
    AbortUploadV1, CompleteUploadV1, ConflictPolicy, CreateFileV1, UploadedPart,
};
use ferry_protocol::{Command, ErrorCode, FileName, FolderPath};
use futures::StreamExt as _;
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender};
use leptos::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use uuid::Uuid;
use wasm_bindgen::JsCast;

thread_local! {
    // The browser's File objects, running requests and drivers, by queue
    // item. They can't live in signals (not `Send`); they leave when the
    // item is over.
    static FILES: RefCell<HashMap<Uuid, Picked>> = RefCell::new(HashMap::new());
    // Handles of unfinished uploads' files kept from before a reload, by
    // file id.
    static KEPT: RefCell<HashMap<Uuid, wasm_bindgen::JsValue>> = RefCell::new(HashMap::new());
    // Set while the plain file input is opened because the handle-giving
    // picker failed, so its click isn't taken for the person's.
    static PLAIN_PICK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static RUNNING: RefCell<HashMap<Uuid, HashMap<u32, web_sys::XmlHttpRequest>>> =
        RefCell::new(HashMap::new());
    static DRIVERS: RefCell<HashMap<Uuid, UnboundedSender<News>>> = RefCell::new(HashMap::new());
}

/// A file to upload, and its handle when the browser's picker gave one
/// (kept with the upload's record, so it can resume without a new pick).
#[derive(Clone)]
struct Picked {
    file: web_sys::File,
    handle: Option<wasm_bindgen::JsValue>,
}

/// "Upload files" was clicked: where the browser's picker gives handles
/// (Chromium), it opens instead of the plain one, so an interrupted upload
/// can later go on without the file being chosen again. Returns whether it
/// took the click (the caller then prevents the plain picker).
pub(super) fn pick_with_handles(ctx: Ctx, input: web_sys::HtmlInputElement) -> bool {
    if PLAIN_PICK.with(|p| p.replace(false)) || !unfinished::can_pick() {
        return false;
    }
    leptos::task::spawn_local(async move {
        match unfinished::pick().await {
            Some(picked) => add_placed(
                ctx,
                picked
                    .into_iter()
                    .map(|(file, handle)| (file.name(), file, Some(handle)))
                    .collect(),
            ),
            None => {
                // Refused (a portal's frame may not allow it): the plain one.
                PLAIN_PICK.with(|p| p.set(true));
                input.click();
                PLAIN_PICK.with(|p| p.set(false));
            }
        }
    });
    true
}

fn forget(id: Uuid) {
    FILES.with(|f| f.borrow_mut().remove(&id));
    abort_running(id);
    DRIVERS.with(|d| d.borrow_mut().remove(&id));
}

/// Aborts every request of an item.
fn abort_running(id: Uuid) {
    let running = RUNNING
        .with(|r| r.borrow_mut().remove(&id))
        .unwrap_or_default();
    for xhr in running.into_values() {
        let _ = xhr.abort();
    }
}

/// Tells an item's driver something changed (pause, resume, online).
fn poke(id: Uuid, news: News) {
    DRIVERS.with(|d| {
        if let Some(driver) = d.borrow().get(&id) {
            let _ = driver.unbounded_send(news);
        }
    });
}

/// Queues files (from the picker or a paste) for the folder shown. A file
/// with a relative path (from the folder picker) keeps it.
pub(super) fn add_files(ctx: Ctx, files: &web_sys::FileList) {
    let picked = (0..files.length())
        .filter_map(|i| files.get(i))
        .map(|file| {
            let relative = js_sys::Reflect::get(&file, &"webkitRelativePath".into())
                .ok()
                .and_then(|v| v.as_string())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| file.name());
            (relative, file, None)
        })
        .collect();
    add_placed(ctx, picked);
}

/// Queues files dropped on the browser, walking dropped folders so every
/// file keeps its path under the folder shown. Where the browser gives
/// handles (Chromium), a large file keeps its own, so an interrupted upload
/// can go on after a reload without the file being dropped again.
pub(super) fn add_dropped(ctx: Ctx, transfer: &web_sys::DataTransfer) {
    // Entries and handles must be asked for while the drop event runs;
    // reading them can wait.
    let items = js_sys::Reflect::get(transfer, &"items".into()).unwrap_or_default();
    let count = js_sys::Reflect::get(&items, &"length".into())
        .ok()
        .and_then(|n| n.as_f64())
        .unwrap_or(0.0) as u32;
    let mut entries = Vec::new();
    let mut handles = Vec::new();
    for i in 0..count {
        let Ok(item) = js_sys::Reflect::get(&items, &i.into()) else {
            continue;
        };
        if js_sys::Reflect::get(&item, &"kind".into())
            .ok()
            .and_then(|k| k.as_string())
            .as_deref()
            != Some("file")
        {
            continue;
        }
        let handle = unfinished::dropped_handle(&item);
        if let Ok(entry) = call0(&item, "webkitGetAsEntry")
            && !entry.is_null()
            && !entry.is_undefined()
        {
            entries.push((entry, handle.clone()));
        }
        handles.push(handle);
    }
    let threshold = ctx.upload.with_value(|u| u.multipart_threshold_bytes);
    if entries.is_empty() {
        // A browser without entries: the flat list of files.
        let Some(files) = transfer.files() else {
            return;
        };
        let files: Vec<web_sys::File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
        if handles.len() != files.len() {
            add_placed(
                ctx,
                files.into_iter().map(|f| (f.name(), f, None)).collect(),
            );
            return;
        }
        leptos::task::spawn_local(async move {
            let mut found = Vec::new();
            for (file, handle) in files.into_iter().zip(handles) {
                let mut placed = vec![(file.name(), file, None)];
                if let Some(handle) = handle {
                    attach_handles(handle, &mut placed, threshold).await;
                }
                found.append(&mut placed);
            }
            add_placed(ctx, found);
        });
        return;
    }
    leptos::task::spawn_local(async move {
        let mut found = Vec::new();
        for (entry, handle) in entries {
            let from = found.len();
            walk(entry, &mut found).await;
            if let Some(handle) = handle {
                attach_handles(handle, &mut found[from..], threshold).await;
            }
        }
        add_placed(ctx, found);
    });
}

/// Gives each file from one dropped item that will go up in parts (only
/// those can resume) its handle, found under the item's own.
async fn attach_handles(dropped: js_sys::Promise, files: &mut [Placed], threshold: u64) {
    let Ok(dropped) = wasm_bindgen_futures::JsFuture::from(dropped).await else {
        return;
    };
    if dropped.is_null() || dropped.is_undefined() {
        return;
    }
    for (path, file, handle) in files {
        if file.size() as u64 >= threshold {
            *handle = unfinished::handle_at(&dropped, path).await;
        }
    }
}

/// A file to queue: its path under the folder shown, and its handle.
type Placed = (String, web_sys::File, Option<wasm_bindgen::JsValue>);

fn call0(
    target: &wasm_bindgen::JsValue,
    method: &str,
) -> Result<wasm_bindgen::JsValue, wasm_bindgen::JsValue> {
    let function: js_sys::Function = js_sys::Reflect::get(target, &method.into())?.dyn_into()?;
    function.call0(target)
}

/// Calls `target.method(resolve, reject)` and waits for the callback.
async fn callback(target: &wasm_bindgen::JsValue, method: &str) -> Option<wasm_bindgen::JsValue> {
    let function: js_sys::Function = js_sys::Reflect::get(target, &method.into())
        .ok()?
        .dyn_into()
        .ok()?;
    let promise = js_sys::Promise::new(&mut |resolve, reject| {
        let _ = function.call2(target, &resolve, &reject);
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.ok()
}

/// Every file under a dropped entry, with its path (`photos/2026/a.jpg`).
fn walk<'a>(
    entry: wasm_bindgen::JsValue,
    found: &'a mut Vec<Placed>,
) -> std::pin::Pin<Box<dyn Future<Output = ()> + 'a>> {
    Box::pin(async move {
        let flag = |name: &str| {
            js_sys::Reflect::get(&entry, &name.into())
                .ok()
                .and_then(|v| v.as_bool())
                .unwrap_or(false)
        };
        let path = js_sys::Reflect::get(&entry, &"fullPath".into())
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default();
        if flag("isFile") {
            if let Some(file) = callback(&entry, "file").await
                && let Ok(file) = file.dyn_into::<web_sys::File>()
            {
                found.push((path.trim_start_matches('/').to_owned(), file, None));
            }
        } else if flag("isDirectory") {
            let Ok(reader) = call0(&entry, "createReader") else {
                return;
            };
            // readEntries gives a batch at a time, then an empty one.
            while let Some(batch) = callback(&reader, "readEntries").await {
                let batch = js_sys::Array::from(&batch);
                if batch.length() == 0 {
                    break;
                }
                for child in batch.iter() {
                    walk(child, found).await;
                }
            }
        }
    })
}

/// Queues files with their paths relative to the folder shown (and their
/// handles, when the picker gave them).
fn add_placed(ctx: Ctx, files: Vec<Placed>) {
    let base = ctx.route.get_untracked().folder;
    let max_file_bytes = ctx.upload.with_value(|u| u.max_file_bytes);
    let mut added = 0;
    for (relative, file, handle) in files {
        let size = file.size() as u64;
        let (folder, name) = match place(&base, &relative) {
            Ok(placed) => placed,
            Err(reason) => {
                ctx.fail(&format!("{relative} can't be uploaded: {reason}"));
                continue;
            }
        };
        if size > max_file_bytes {
            ctx.fail(&format!(
                "{name} is {}, over the {} limit.",
                format::bytes(size),
                format::bytes(max_file_bytes)
            ));
            continue;
        }
        if let Some(id) = ctx.queue.try_update(|q| q.add(folder, &name, size)) {
            FILES.with(|f| f.borrow_mut().insert(id, Picked { file, handle }));
            added += 1;
        }
    }
    if added > 0 {
        ctx.say(if added == 1 {
            "Uploading 1 file".to_owned()
        } else {
            format!("Uploading {added} files")
        });
    }
    pump(ctx);
}

/// Starts what the queue lets start.
fn pump(ctx: Ctx) {
    let next = ctx.queue.try_update(|q| q.start_next()).unwrap_or_default();
    for step in next {
        if let Next::Start(id) = step {
            leptos::task::spawn_local(upload(ctx, id));
        }
    }
    ask_next(ctx);
}

/// Opens the conflict dialog for the next file whose name is taken.
fn ask_next(ctx: Ctx) {
    if ctx.dialog.with_untracked(Option::is_some) {
        return;
    }
    let asking = ctx.queue.with_untracked(|q| {
        q.items()
            .iter()
            .find(|i| i.stage == Stage::Asking)
            .map(|i| (i.id, i.name.clone()))
    });
    if let Some((upload, name)) = asking {
        ctx.dialog.set(Some(Dialog::Conflict { upload, name }));
    }
}

/// The user answered the conflict dialog; `None` skips the file.
pub(super) fn resolve(ctx: Ctx, upload: Uuid, choice: Option<ConflictPolicy>) {
    if choice.is_none() {
        forget(upload);
    }
    ctx.queue.update(|q| q.resolve(upload, choice));
    pump(ctx);
}

/// What an item's driver hears while its bytes go up.
enum News {
    Hashed(Hashed),
    Presigned(Result<Vec<PartUpload>, ApiFailure>),
    Put(u32, Result<Option<String>, PutFailure>),
    /// A pause or resume, the browser back online, or a timer.
    Poke,
    Cancel,
}

fn cancel(ctx: Ctx, id: Uuid) {
    let file_id = ctx.queue.with_untracked(|q| {
        q.items()
            .iter()
            .find(|i| i.id == id && !i.stage.is_over())
            .and_then(|i| i.file_id)
    });
    ctx.queue.update(|q| q.cancel(id));
    poke(id, News::Cancel);
    forget(id);
    if let Some(file_id) = file_id {
        let api = ctx.api.get_value();
        leptos::task::spawn_local(async move {
            let _ = api
                .command(Command::AbortUpload(AbortUploadV1 { file_id }))
                .await;
        });
    }
}

/// Pauses or resumes one file. A pause stops its requests at once; parts
/// already stored stay stored.
fn set_paused(ctx: Ctx, id: Uuid, paused: bool) {
    if ctx
        .queue
        .try_update(|q| q.set_paused(id, paused))
        .unwrap_or(false)
    {
        if paused {
            abort_running(id);
        }
        poke(id, News::Poke);
        pump(ctx);
    }
}

/// Pauses or resumes every file.
fn set_all_paused(ctx: Ctx, paused: bool) {
    ctx.queue.update(|q| q.set_all_paused(paused));
    hold_changed(ctx, paused);
}

/// The browser went offline (everything waits) or came back.
fn set_offline(ctx: Ctx, offline: bool) {
    ctx.queue.update(|q| q.set_offline(offline));
    if offline {
        ctx.say("Offline: uploads are paused until the connection is back.");
    } else {
        ctx.say("Back online: uploads resume.");
    }
    hold_changed(ctx, offline);
}

fn hold_changed(ctx: Ctx, held: bool) {
    let ids: Vec<Uuid> = DRIVERS.with(|d| d.borrow().keys().copied().collect());
    for id in ids {
        if held && ctx.queue.with_untracked(|q| q.is_held(id)) {
            abort_running(id);
        }
        poke(id, News::Poke);
    }
    pump(ctx);
}

/// Why an upload stopped, for the queue.
enum Stop {
    NameTaken,
    Failed(String),
    Cancelled,
}

impl From<ApiFailure> for Stop {
    fn from(failure: ApiFailure) -> Self {
        if failure.code() == Some(ErrorCode::Conflict) {
            Self::NameTaken
        } else {
            Self::Failed(failure.to_string())
        }
    }
}

async fn upload(ctx: Ctx, id: Uuid) {
    let (tell, mut news) = futures::channel::mpsc::unbounded();
    DRIVERS.with(|d| d.borrow_mut().insert(id, tell.clone()));
    let outcome = send_file(ctx, id, tell, &mut news).await;
    match outcome {
        Ok(()) => {
            ctx.queue.update(|q| q.uploaded(id));
            ctx.nudged();
        }
        Err(Stop::NameTaken) => {
            ctx.queue.update(|q| _ = q.name_taken(id));
        }
        Err(Stop::Failed(reason)) => {
            let name = ctx.queue.with_untracked(|q| {
                q.items()
                    .iter()
                    .find(|i| i.id == id)
                    .map(|i| i.name.clone())
            });
            ctx.queue.update(|q| q.failed(id, &reason));
            ctx.fail(&format!(
                "{} wasn't uploaded: {reason}",
                name.unwrap_or_default()
            ));
        }
        Err(Stop::Cancelled) => {}
    }
    if ctx.queue.with_untracked(|q| {
        q.items()
            .iter()
            .find(|i| i.id == id)
            .is_none_or(|i| i.stage != Stage::Asking)
    }) {
        FILES.with(|f| f.borrow_mut().remove(&id));
    }
    abort_running(id);
    DRIVERS.with(|d| d.borrow_mut().remove(&id));
    pump(ctx);
}

fn is_cancelled(ctx: Ctx, id: Uuid) -> bool {
    ctx.queue.with_untracked(|q| {
        q.items()
            .iter()
            .find(|i| i.id == id)
            .is_none_or(|i| i.stage == Stage::Cancelled)
    })
}

async fn send_file(
    ctx: Ctx,
    id: Uuid,
    tell: UnboundedSender<News>,
    news: &mut UnboundedReceiver<News>,
) -> Result<(), Stop> {
    let Some(item) = ctx
        .queue
        .with_untracked(|q| q.items().iter().find(|i| i.id == id).cloned())
    else {
        return Err(Stop::Cancelled);
    };
    let Some(file) = FILES.with(|f| f.borrow().get(&id).map(|p| p.file.clone())) else {
        return Err(Stop::Cancelled);
    };
    if let Some(record) = item.resume.clone() {
        // Picked again after a reload: the store has some parts already.
        let api = ctx.api.get_value();
        let already = api
            .uploaded_parts(record.file_id)
            .await
            .map_err(|failure| Stop::Failed(format!("the upload can't go on ({failure})")))?
            .parts;
        return send_parts(ctx, id, record, &file, Vec::new(), already, tell, news).await;
    }
    let name = FileName::parse(&item.name).map_err(|e| Stop::Failed(e.to_string()))?;
    let content_type = Some(file.type_())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let settings = ctx.upload.get_value();
    // A file that goes up in one PUT is hashed first, so its checksum is
    // signed into the URL and the store refuses bytes changed on the way.
    // (A multipart upload's parts are hashed as they go.)
    let sha256 = if settings.checksums && item.size < settings.multipart_threshold_bytes {
        Some(
            hasher::digest(&file)
                .await
                .map_err(|_| Stop::Failed("the file couldn't be read".into()))?,
        )
    } else {
        None
    };
    if is_cancelled(ctx, id) {
        return Err(Stop::Cancelled);
    }
    let command = Command::CreateFile(CreateFileV1 {
        folder: item.folder.clone(),
        name,
        size: item.size,
        content_type,
        sha256,
        on_conflict: item.on_conflict,
    });
    let sent = ctx
        .send_recorded(command, &item.name)
        .await
        .map_err(Stop::from)?;
    let created: CreateFileResponse = serde_json::from_value(sent.body)
        .map_err(|_| Stop::Failed("the server's answer was not understood".into()))?;
    let file_id = created.file.file_id;
    ctx.queue.update(|q| q.created(id, file_id));
    ctx.state.update(|s| s.fetched(created.file.clone()));
    if is_cancelled(ctx, id) {
        return Err(Stop::Cancelled);
    }
    match created.upload {
        UploadInstructions::Single { request } => send_whole(ctx, id, &request, &file, news).await,
        UploadInstructions::Multipart {
            upload_id,
            part_size,
            parts,
            ..
        } => {
            let record = Unfinished {
                file_id,
                owner: ctx.user.get_value(),
                folder: created.file.folder.clone(),
                name: created.file.name.as_str().to_owned(),
                size: item.size,
                last_modified: file.last_modified() as i64,
                upload_id,
                part_size,
                first_checksum: None,
                parts: Vec::new(),
            };
            send_parts(ctx, id, record, &file, parts, Vec::new(), tell, news).await
        }
    }
}

/// Waits while the item is paused or the browser offline.
async fn wait_while_held(
    ctx: Ctx,
    id: Uuid,
    news: &mut UnboundedReceiver<News>,
) -> Result<(), Stop> {
    while ctx.queue.with_untracked(|q| q.is_held(id)) {
        match news.next().await {
            Some(News::Cancel) | None => return Err(Stop::Cancelled),
            Some(_) => {}
        }
    }
    Ok(())
}

/// A file in one PUT, tried again after a backoff when the connection
/// dropped, and from the start after a pause.
async fn send_whole(
    ctx: Ctx,
    id: Uuid,
    request: &ferry_protocol::api::PresignedRequest,
    file: &web_sys::File,
    news: &mut UnboundedReceiver<News>,
) -> Result<(), Stop> {
    let mut tries = 0;
    loop {
        wait_while_held(ctx, id, news).await?;
        let queue = ctx.queue;
        let started = Put::start(request, file.unchecked_ref(), move |sent| {
            queue.update(|q| q.progress(id, sent as u64));
        })
        .map_err(|_| Stop::Failed("the browser refused the upload".into()))?;
        RUNNING.with(|r| {
            r.borrow_mut()
                .entry(id)
                .or_default()
                .insert(0, started.canceller())
        });
        let outcome = started.finish().await;
        RUNNING.with(|r| r.borrow_mut().remove(&id));
        let failure = match outcome {
            Ok(_) => return Ok(()),
            Err(_) if is_cancelled(ctx, id) => return Err(Stop::Cancelled),
            Err(failure) => failure,
        };
        ctx.queue.update(|q| q.progress(id, 0));
        if ctx.queue.with_untracked(|q| q.is_held(id)) {
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

/// A multipart upload: parts hashed in a worker, presigned in batches,
/// sent several at once, tried again as [`Transfer`] says.
///
/// The browser keeps `record` (IndexedDB) while it runs, so a reload can
/// resume it; `already` are the parts the store has (from resuming). When
/// it ends, a failed upload is aborted (the store gets its space back), and
/// a finished, failed or cancelled one is forgotten by the browser: only an
/// interrupted one can resume.
#[allow(clippy::too_many_arguments)]
async fn send_parts(
    ctx: Ctx,
    id: Uuid,
    mut record: Unfinished,
    file: &web_sys::File,
    first: Vec<PartUpload>,
    already: Vec<UploadedPartView>,
    tell: UnboundedSender<News>,
    news: &mut UnboundedReceiver<News>,
) -> Result<(), Stop> {
    let settings = ctx.upload.get_value();
    let api = ctx.api.get_value();
    let (file_id, part_size) = (record.file_id, record.part_size);
    unfinished::save(&record).await;
    if let Some(handle) = FILES.with(|f| f.borrow().get(&id).and_then(|p| p.handle.clone())) {
        unfinished::keep_handle(file_id, &handle).await;
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
    let ahead = settings.parts_in_flight.saturating_mul(2).saturating_add(2);
    let mut allowed = plan.borrow().hash_until(ahead);
    let hasher = settings.checksums.then(|| {
        let tell = tell.clone();
        Hasher::parts(file, part_size, allowed, move |hashed| {
            let _ = tell.unbounded_send(News::Hashed(hashed));
        })
    });
    let mut timer: Option<TimeoutHandle> = None;
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
            let held = ctx.queue.with_untracked(|q| q.is_held(id));
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
                        leptos::task::spawn_local(async move {
                            let answer = api.presign_parts(file_id, wanted).await.map(|p| p.parts);
                            let _ = tell.unbounded_send(News::Presigned(answer));
                        });
                    }
                    Action::Send(part) => {
                        if let Err(failure) = send_part(ctx, id, file, &plan, part, &tell) {
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
            let Some(heard) = news.next().await else {
                break Err(Stop::Cancelled);
            };
            let mut plan_now = plan.borrow_mut();
            match heard {
                News::Cancel => break Err(Stop::Cancelled),
                News::Poke => {}
                News::Hashed(Hashed::Part(number, checksum)) => {
                    if number == 1 {
                        record.first_checksum = Some(checksum.clone());
                        keep(&record);
                    }
                    plan_now.hashed(number, checksum);
                    // A part the store has, with this checksum, isn't sent again.
                    let stored: Vec<UploadedPartView> = already
                        .iter()
                        .filter(|p| p.part_number == number)
                        .cloned()
                        .collect();
                    plan_now.already_stored(&stored);
                }
                News::Hashed(Hashed::File(_) | Hashed::Read(_)) => {}
                News::Hashed(Hashed::Failed(reason)) => {
                    break Err(Stop::Failed(format!(
                        "the file couldn't be read ({reason})"
                    )));
                }
                News::Presigned(Ok(parts)) => plan_now.presigned(parts, js_sys::Date::now()),
                News::Presigned(Err(ApiFailure::Unreachable)) => {
                    plan_now.presign_failed(js_sys::Date::now(), js_sys::Math::random());
                }
                News::Presigned(Err(failure)) => break Err(failure.into()),
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
                    break Err(Stop::Failed("the store's answer had no ETag".into()));
                }
                News::Put(number, Err(failure)) => {
                    if ctx.queue.with_untracked(|q| q.is_held(id)) {
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
            let sent = plan_now.sent();
            drop(plan_now);
            ctx.queue.update(|q| q.progress(id, sent));
        }
    };
    if let Some(timer) = timer {
        timer.clear();
    }
    if let Err(Stop::Failed(_)) = &outcome {
        let _ = api
            .command(Command::AbortUpload(AbortUploadV1 { file_id }))
            .await;
    }
    unfinished::forget(file_id).await;
    outcome
}

/// Saves an upload's record without waiting.
fn keep(record: &Unfinished) {
    let record = record.clone();
    leptos::task::spawn_local(async move { unfinished::save(&record).await });
}

/// Starts one part's PUT; its end comes back as [`News::Put`].
fn send_part(
    ctx: Ctx,
    id: Uuid,
    file: &web_sys::File,
    plan: &Rc<RefCell<Transfer>>,
    part: PartUpload,
    tell: &UnboundedSender<News>,
) -> Result<(), Result<(), Stop>> {
    let number = part.part_number;
    let (start, end) = plan.borrow().range(number);
    let blob = file
        .slice_with_f64_and_f64(start as f64, end as f64)
        .map_err(|_| Err(Stop::Failed("the file couldn't be read".into())))?;
    let queue = ctx.queue;
    let progress = Rc::clone(plan);
    let put = Put::start(&part.request, &blob, move |loaded| {
        let sent = {
            let mut plan = progress.borrow_mut();
            plan.progress(number, loaded as u64);
            plan.sent()
        };
        queue.update(|q| q.progress(id, sent));
    })
    .map_err(|_| Err(Stop::Failed("the browser refused the upload".into())))?;
    RUNNING.with(|r| {
        r.borrow_mut()
            .entry(id)
            .or_default()
            .insert(number, put.canceller())
    });
    let tell = tell.clone();
    leptos::task::spawn_local(async move {
        let outcome = put.finish().await;
        RUNNING.with(|r| {
            if let Some(running) = r.borrow_mut().get_mut(&id) {
                running.remove(&number);
            }
        });
        let _ = tell.unbounded_send(News::Put(number, outcome));
    });
    Ok(())
}

/// The picked file's first `len` bytes' SHA-256, base64 (WebCrypto).
async fn first_part_checksum(file: &web_sys::File, len: u64) -> Option<String> {
    use base64::Engine as _;
    let slice = file.slice_with_f64_and_f64(0.0, len as f64).ok()?;
    let buffer = wasm_bindgen_futures::JsFuture::from(slice.array_buffer())
        .await
        .ok()?;
    let subtle = web_sys::window()?.crypto().ok()?.subtle();
    let digest = subtle
        .digest_with_str_and_buffer_source("SHA-256", &js_sys::Object::from(buffer))
        .ok()?;
    let digest = wasm_bindgen_futures::JsFuture::from(digest).await.ok()?;
    let bytes = js_sys::Uint8Array::new(&digest).to_vec();
    Some(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// The user picked a file to go on with an unfinished upload: if it is the
/// same file (size, date, first part), the upload resumes; if not, they are
/// told why and nothing changes.
fn resume_with(
    ctx: Ctx,
    unfinished: RwSignal<Vec<Unfinished>>,
    record: Unfinished,
    file: web_sys::File,
    handle: Option<wasm_bindgen::JsValue>,
) {
    let name = record.name.clone();
    let refuse = move |why: String| {
        ctx.fail(&format!(
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
        unfinished.update(|list| list.retain(|u| u.file_id != file_id));
        let name = record.name.clone();
        if let Some(id) = ctx.queue.try_update(|q| q.add_resumed(record)) {
            FILES.with(|f| f.borrow_mut().insert(id, Picked { file, handle }));
        }
        ctx.say(format!("Resuming {name}"));
        pump(ctx);
    });
}

/// Gives up an unfinished upload: the store drops its parts.
fn discard(ctx: Ctx, unfinished: RwSignal<Vec<Unfinished>>, file_id: Uuid) {
    unfinished.update(|list| list.retain(|u| u.file_id != file_id));
    let api = ctx.api.get_value();
    leptos::task::spawn_local(async move {
        let _ = api
            .command(Command::AbortUpload(AbortUploadV1 { file_id }))
            .await;
        unfinished::forget(file_id).await;
    });
}

/// This user's unfinished uploads kept by the browser, those the server
/// still has (the others are forgotten).
async fn load_unfinished(ctx: Ctx) -> Vec<Unfinished> {
    let user = ctx.user.get_value();
    let api = ctx.api.get_value();
    let mut alive = Vec::new();
    for record in unfinished::all().await {
        if record.owner != user {
            continue;
        }
        match api.uploaded_parts(record.file_id).await {
            Ok(_) | Err(ApiFailure::Unreachable) => alive.push(record),
            Err(_) => unfinished::forget(record.file_id).await,
        }
    }
    let handles = unfinished::handles().await;
    KEPT.with(|k| {
        let mut kept = k.borrow_mut();
        for (file_id, handle) in handles {
            if alive.iter().any(|r| r.file_id == file_id) {
                kept.insert(file_id, handle);
            }
        }
    });
    alive
}

/// Resumes an unfinished upload from its kept handle: the browser may ask
/// the person to allow reading the file again (the click counts). When the
/// file can't be read any more, the person is asked to choose it.
fn resume_from_handle(ctx: Ctx, unfinished: RwSignal<Vec<Unfinished>>, record: Unfinished) {
    let Some(handle) = KEPT.with(|k| k.borrow().get(&record.file_id).cloned()) else {
        return;
    };
    leptos::task::spawn_local(async move {
        match unfinished::file_of(&handle).await {
            Some(file) => resume_with(ctx, unfinished, record, file, Some(handle)),
            None => {
                KEPT.with(|k| k.borrow_mut().remove(&record.file_id));
                // Re-rendered without the handle: the file input shows.
                unfinished.notify();
                ctx.fail(&format!(
                    "{} can't be read where it was: choose it again to go on.",
                    record.name
                ));
            }
        }
    });
}

/// The most files listed in the panel; the rest are counted.
const LISTED: usize = 50;

/// The upload queue: a bar per file and one for all, pause and resume.
#[component]
pub(super) fn UploadPanel(ctx: Ctx) -> impl IntoView {
    // Offline, every upload waits; back online, they go on by themselves.
    let offline = window_event_listener(leptos::ev::offline, move |_| set_offline(ctx, true));
    let online = window_event_listener(leptos::ev::online, move |_| set_offline(ctx, false));
    let listeners = send_wrapper::SendWrapper::new((offline, online));
    on_cleanup(move || {
        let (offline, online) = listeners.take();
        offline.remove();
        online.remove();
        // Leave nothing running behind an unmounted app.
        let ids: Vec<Uuid> = RUNNING.with(|r| r.borrow().keys().copied().collect());
        for id in ids {
            abort_running(id);
        }
        DRIVERS.with(|d| d.borrow_mut().clear());
        FILES.with(|f| f.borrow_mut().clear());
        KEPT.with(|k| k.borrow_mut().clear());
    });
    // Uploads a reload or a crash interrupted, to go on with.
    let unfinished = RwSignal::new(Vec::<Unfinished>::new());
    leptos::task::spawn_local(async move {
        let found = load_unfinished(ctx).await;
        if !found.is_empty() {
            let _ = unfinished.try_set(found);
        }
    });
    let any =
        move || ctx.queue.with(|q| !q.items().is_empty()) || unfinished.with(|u| !u.is_empty());
    let pause_state = Memo::new(move |_| ctx.queue.with(|q| q.pause_state()));
    view! {
        <Show when=any>
            <section class="ferry-uploads" aria-label="Uploads">
                <div class="ferry-uploads-head">
                    <h2>"Uploads"</h2>
                    <span>{move || ctx.queue.with(|q| (!q.items().is_empty()).then(|| q.summary()))}</span>
                    {move || {
                        // "Resume all" once nothing runs; "Pause all" while anything does.
                        let (paused, running) = pause_state.get();
                        let resume = paused && !running;
                        (paused || running).then(|| view! {
                            <button type="button" class="ferry-link" on:click=move |_| set_all_paused(ctx, !resume)>
                                {if resume { "Resume all" } else { "Pause all" }}
                            </button>
                        })
                    }}
                    <button type="button" class="ferry-link" on:click=move |_| ctx.queue.update(|q| q.clear_finished())>"Clear finished"</button>
                </div>
                <Show when=move || unfinished.with(|u| !u.is_empty())>
                    <div class="ferry-unfinished" role="group" aria-label="Unfinished uploads">
                        <p class="ferry-muted">"These uploads were interrupted. Resume each to go on (you may be asked to choose the file again); the parts already sent are kept."</p>
                        <ul class="ferry-upload-list">
                            {move || unfinished.get().into_iter().map(|record| {
                                let name = record.name.clone();
                                let file_id = record.file_id;
                                let sent: u64 = record.parts.len() as u64 * record.part_size;
                                let progress = format!("{} of {} sent", format::bytes(sent.min(record.size)), format::bytes(record.size));
                                // With a kept handle, one click goes on; the
                                // file input stays for choosing it anyway.
                                let kept = KEPT.with(|k| k.borrow().contains_key(&file_id));
                                let again = record.clone();
                                let from_handle = kept.then(|| view! {
                                    <button type="button" class="ferry-link" aria-label=format!("Resume {name}")
                                        on:click=move |_| resume_from_handle(ctx, unfinished, again.clone())>"Resume"</button>
                                });
                                let pick_label = if kept { format!("Choose {name} again") } else { format!("Resume {name}") };
                                let pick_text = if kept { "Choose again" } else { "Resume" };
                                view! {
                                    <li class="ferry-upload">
                                        <span class="ferry-upload-name">{name.clone()}</span>
                                        <span class="ferry-muted">{progress}</span>
                                        <span></span>
                                        <span class="ferry-upload-actions">
                                            {from_handle}
                                            <label class="ferry-link ferry-pick">
                                                <span aria-hidden="true">{pick_text}</span>
                                                <input type="file" class="ferry-visually-hidden" aria-label=pick_label
                                                    on:change=move |ev| {
                                                        let input: web_sys::HtmlInputElement = event_target(&ev);
                                                        if let Some(file) = input.files().and_then(|f| f.get(0)) {
                                                            resume_with(ctx, unfinished, record.clone(), file, None);
                                                        }
                                                        input.set_value("");
                                                    } />
                                            </label>
                                            <button type="button" class="ferry-link" aria-label=format!("Discard {name}")
                                                on:click=move |_| discard(ctx, unfinished, file_id)>"Discard"</button>
                                        </span>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    </div>
                </Show>
                <Show when=move || ctx.queue.with(|q| q.is_offline())>
                    <p class="ferry-muted" role="status">"Offline: uploads are paused and resume when the connection is back."</p>
                </Show>
                {move || {
                    let (sent, total) = ctx.queue.with(|q| q.totals());
                    (total > 0).then(|| view! { <progress aria-label="All uploads" max=total.to_string() value=sent.to_string()></progress> })
                }}
                <ul class="ferry-upload-list">
                    {move || ctx.queue.with(|q| {
                        // Unfinished files first (in order), then finished ones.
                        let (open, over): (Vec<_>, Vec<_>) = q.items().iter().partition(|i| !i.stage.is_over());
                        let hidden = (open.len() + over.len()).saturating_sub(LISTED);
                        let rows = open.into_iter().chain(over).take(LISTED).map(|item| {
                        let id = item.id;
                        let over = item.stage.is_over();
                        let paused = item.paused;
                        let sending = item.stage.is_sending();
                        let place = if item.folder == FolderPath::root() { String::new() } else { format!("{}/", item.folder.as_str()) };
                        let class = match item.stage {
                            Stage::Failed(_) => "ferry-upload ferry-failed",
                            Stage::Indexed => "ferry-upload ferry-done",
                            _ => "ferry-upload",
                        };
                        let name = item.name.clone();
                        view! {
                            <li class=class>
                                <span class="ferry-upload-name"><span class="ferry-muted">{place}</span>{item.name.clone()}</span>
                                <progress aria-label=format!("Uploading {}", item.name) max=item.size.max(1).to_string() value=item.sent.to_string()></progress>
                                <span class="ferry-upload-stage">{item.label()}</span>
                                <span class="ferry-upload-actions">
                                {sending.then(|| {
                                    let (word, label) = if paused { ("Resume", format!("Resume {name}")) } else { ("Pause", format!("Pause {name}")) };
                                    view! {
                                        <button type="button" class="ferry-link" aria-label=label
                                            on:click=move |_| set_paused(ctx, id, !paused)>{word}</button>
                                    }
                                })}
                                {(!over).then(|| view! {
                                    <button type="button" class="ferry-link" aria-label=format!("Cancel {name}")
                                        on:click=move |_| cancel(ctx, id)>"Cancel"</button>
                                })}
                                </span>
                            </li>
                        }
                    }).collect_view();
                        view! {
                            {rows}
                            {(hidden > 0).then(|| view! { <li class="ferry-upload ferry-muted">{format!("and {hidden} more")}</li> })}
                        }
                    })}
                </ul>
            </section>
        </Show>
    }
}
