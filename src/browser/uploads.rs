//! Uploads: files picked, dropped or pasted go into the [`Queue`]; each is
//! created with `CreateFile`, its bytes sent straight to the presigned URL
//! (one PUT, or part by part), and it shows as indexed when its
//! `FileCreated` arrives. The panel shows a bar per file and one overall.

use super::Ctx;
use super::dialogs::Dialog;
use crate::api::failure::ApiFailure;
use crate::api::xhr::{Put, PutFailure};
use crate::format;
use crate::upload::{Next, Stage, place};
use ferry_protocol::api::{CreateFileResponse, PartUpload, PartWanted, UploadInstructions};
use ferry_protocol::messages::{
    AbortUploadV1, CompleteUploadV1, ConflictPolicy, CreateFileV1, UploadedPart,
};
use ferry_protocol::{Command, ErrorCode, FileName, FolderPath, UploadSettings};
use leptos::prelude::*;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;
use wasm_bindgen::JsCast;

/// How often a part or file is tried when the connection drops.
const TRIES: u32 = 3;

thread_local! {
    // The browser's File objects and running requests, by queue item. They
    // can't live in signals (not `Send`); they leave when the item is over.
    static FILES: RefCell<HashMap<Uuid, web_sys::File>> = RefCell::new(HashMap::new());
    static RUNNING: RefCell<HashMap<Uuid, web_sys::XmlHttpRequest>> = RefCell::new(HashMap::new());
}

fn forget(id: Uuid) {
    FILES.with(|f| f.borrow_mut().remove(&id));
    RUNNING.with(|r| r.borrow_mut().remove(&id));
}

/// Queues files (from the picker or a paste) for the folder shown. A file
/// with a relative path (from the folder picker) keeps it.
pub(super) fn add_files(ctx: Ctx, files: &web_sys::FileList, settings: &UploadSettings) {
    let picked = (0..files.length())
        .filter_map(|i| files.get(i))
        .map(|file| {
            let relative = js_sys::Reflect::get(&file, &"webkitRelativePath".into())
                .ok()
                .and_then(|v| v.as_string())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| file.name());
            (relative, file)
        })
        .collect();
    add_placed(ctx, picked, settings);
}

/// Queues files dropped on the browser, walking dropped folders so every
/// file keeps its path under the folder shown.
pub(super) fn add_dropped(ctx: Ctx, transfer: &web_sys::DataTransfer, settings: &UploadSettings) {
    // Entries must be taken while the drop event runs; reading them can wait.
    let items = js_sys::Reflect::get(transfer, &"items".into()).unwrap_or_default();
    let count = js_sys::Reflect::get(&items, &"length".into())
        .ok()
        .and_then(|n| n.as_f64())
        .unwrap_or(0.0) as u32;
    let mut entries = Vec::new();
    for i in 0..count {
        let Ok(item) = js_sys::Reflect::get(&items, &i.into()) else {
            continue;
        };
        if let Ok(entry) = call0(&item, "webkitGetAsEntry")
            && !entry.is_null()
            && !entry.is_undefined()
        {
            entries.push(entry);
        }
    }
    if entries.is_empty() {
        // A browser without entries: the flat list of files.
        if let Some(files) = transfer.files() {
            add_files(ctx, &files, settings);
        }
        return;
    }
    let settings = settings.clone();
    leptos::task::spawn_local(async move {
        let mut found = Vec::new();
        for entry in entries {
            walk(entry, &mut found).await;
        }
        add_placed(ctx, found, &settings);
    });
}

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
    found: &'a mut Vec<(String, web_sys::File)>,
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
                found.push((path.trim_start_matches('/').to_owned(), file));
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

/// Queues files with their paths relative to the folder shown.
fn add_placed(ctx: Ctx, files: Vec<(String, web_sys::File)>, settings: &UploadSettings) {
    let base = ctx.route.get_untracked().folder;
    let mut added = 0;
    for (relative, file) in files {
        let size = file.size() as u64;
        let (folder, name) = match place(&base, &relative) {
            Ok(placed) => placed,
            Err(reason) => {
                ctx.fail(&format!("{relative} can't be uploaded: {reason}"));
                continue;
            }
        };
        if size > settings.max_file_bytes {
            ctx.fail(&format!(
                "{name} is {}, over the {} limit.",
                format::bytes(size),
                format::bytes(settings.max_file_bytes)
            ));
            continue;
        }
        if let Some(id) = ctx.queue.try_update(|q| q.add(folder, &name, size)) {
            FILES.with(|f| f.borrow_mut().insert(id, file));
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
    pump(ctx, settings);
}

/// Starts what the queue lets start.
fn pump(ctx: Ctx, settings: &UploadSettings) {
    let next = ctx.queue.try_update(|q| q.start_next()).unwrap_or_default();
    for step in next {
        if let Next::Start(id) = step {
            leptos::task::spawn_local(upload(ctx, id, settings.clone()));
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
pub(super) fn resolve(
    ctx: Ctx,
    upload: Uuid,
    choice: Option<ConflictPolicy>,
    settings: &UploadSettings,
) {
    if choice.is_none() {
        forget(upload);
    }
    ctx.queue.update(|q| q.resolve(upload, choice));
    pump(ctx, settings);
}

fn cancel(ctx: Ctx, id: Uuid) {
    if let Some(xhr) = RUNNING.with(|r| r.borrow_mut().remove(&id)) {
        let _ = xhr.abort();
    }
    let file_id = ctx.queue.with_untracked(|q| {
        q.items()
            .iter()
            .find(|i| i.id == id && !i.stage.is_over())
            .and_then(|i| i.file_id)
    });
    ctx.queue.update(|q| q.cancel(id));
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

async fn upload(ctx: Ctx, id: Uuid, settings: UploadSettings) {
    let outcome = send_file(ctx, id).await;
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
    RUNNING.with(|r| r.borrow_mut().remove(&id));
    pump(ctx, &settings);
}

async fn send_file(ctx: Ctx, id: Uuid) -> Result<(), Stop> {
    let Some(item) = ctx
        .queue
        .with_untracked(|q| q.items().iter().find(|i| i.id == id).cloned())
    else {
        return Err(Stop::Cancelled);
    };
    let Some(file) = FILES.with(|f| f.borrow().get(&id).cloned()) else {
        return Err(Stop::Cancelled);
    };
    let name = FileName::parse(&item.name).map_err(|e| Stop::Failed(e.to_string()))?;
    let content_type = Some(file.type_())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let command = Command::CreateFile(CreateFileV1 {
        folder: item.folder.clone(),
        name,
        size: item.size,
        content_type,
        sha256: None,
        on_conflict: item.on_conflict,
    });
    let command_id = Uuid::new_v4();
    let title = crate::commands::title(&command, &item.name);
    ctx.activity.update(|a| {
        a.sent(
            command_id,
            &title,
            ferry_protocol::envelope::TraceId::from_uuid(command_id).as_str(),
        )
    });
    let api = ctx.api.get_value();
    let sent = match api.command_with_id(command, command_id).await {
        Ok(sent) => sent,
        Err(failure) => {
            ctx.activity
                .update(|a| a.refused(command_id, &failure.to_string()));
            return Err(failure.into());
        }
    };
    let created: CreateFileResponse = serde_json::from_value(sent.body)
        .map_err(|_| Stop::Failed("the server's answer was not understood".into()))?;
    let file_id = created.file.file_id;
    ctx.queue.update(|q| q.created(id, file_id));
    ctx.state.update(|s| s.fetched(created.file.clone()));
    if ctx.queue.with_untracked(|q| {
        q.items()
            .iter()
            .any(|i| i.id == id && i.stage == Stage::Cancelled)
    }) {
        return Err(Stop::Cancelled);
    }
    let queue = ctx.queue;
    match created.upload {
        UploadInstructions::Single { request } => {
            let blob: &web_sys::Blob = file.unchecked_ref();
            put(id, &request, blob, move |sent| {
                queue.update(|q| q.progress(id, sent));
            })
            .await?;
            Ok(())
        }
        UploadInstructions::Multipart {
            part_size,
            part_count,
            parts,
            ..
        } => {
            let result = send_parts(ctx, id, file_id, &file, part_size, part_count, parts).await;
            if let Err(Stop::Failed(_)) = &result {
                // Give the store its space back; the record is dropped too.
                let _ = api
                    .command(Command::AbortUpload(AbortUploadV1 { file_id }))
                    .await;
            }
            result
        }
    }
}

/// One PUT, tried again when the connection dropped.
async fn put(
    id: Uuid,
    request: &ferry_protocol::api::PresignedRequest,
    body: &web_sys::Blob,
    progress: impl Fn(u64) + Clone + 'static,
) -> Result<Option<String>, Stop> {
    let mut tries = 0;
    loop {
        tries += 1;
        let report = progress.clone();
        let started = Put::start(request, body, move |loaded| report(loaded as u64))
            .map_err(|_| Stop::Failed("the browser refused the upload".into()))?;
        RUNNING.with(|r| r.borrow_mut().insert(id, started.canceller()));
        let cancelled = || RUNNING.with(|r| !r.borrow().contains_key(&id));
        match started.finish().await {
            Ok(etag) => return Ok(etag),
            Err(_) if cancelled() => return Err(Stop::Cancelled),
            Err(PutFailure::Unreachable) if tries < TRIES => {
                progress(0);
                sleep(std::time::Duration::from_secs(u64::from(tries))).await;
            }
            Err(failure) => return Err(Stop::Failed(failure.to_string())),
        }
    }
}

async fn sleep(wait: std::time::Duration) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = set_timeout_with_handle(
            move || {
                let _ = resolve.call0(&wasm_bindgen::JsValue::NULL);
            },
            wait,
        );
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

#[allow(clippy::too_many_arguments)]
async fn send_parts(
    ctx: Ctx,
    id: Uuid,
    file_id: Uuid,
    file: &web_sys::File,
    part_size: u64,
    part_count: u32,
    first: Vec<PartUpload>,
) -> Result<(), Stop> {
    let api = ctx.api.get_value();
    let mut ready: BTreeMap<u32, PartUpload> =
        first.into_iter().map(|p| (p.part_number, p)).collect();
    let mut done = Vec::with_capacity(part_count as usize);
    let mut before = 0u64;
    for number in 1..=part_count {
        if !ready.contains_key(&number) {
            let wanted = (number..=part_count.min(number + 99))
                .map(|part_number| PartWanted {
                    part_number,
                    checksum_sha256: None,
                })
                .collect();
            let more = api.presign_parts(file_id, wanted).await?;
            ready.extend(more.parts.into_iter().map(|p| (p.part_number, p)));
        }
        let part = ready
            .remove(&number)
            .ok_or_else(|| Stop::Failed(format!("part {number} wasn't presigned")))?;
        let start = u64::from(number - 1) * part_size;
        let blob = file
            .slice_with_f64_and_f64(start as f64, (start + part.size) as f64)
            .map_err(|_| Stop::Failed("the file couldn't be read".into()))?;
        let queue = ctx.queue;
        let etag = put(id, &part.request, &blob, move |sent| {
            queue.update(|q| q.progress(id, before + sent));
        })
        .await?
        .ok_or_else(|| Stop::Failed("the store's answer had no ETag".into()))?;
        before += part.size;
        done.push(UploadedPart {
            part_number: number,
            e_tag: etag,
            checksum_sha256: None,
        });
    }
    api.command(Command::CompleteUpload(CompleteUploadV1 {
        file_id,
        parts: done,
    }))
    .await?;
    Ok(())
}

/// The upload queue: a bar per file and one for all.
#[component]
pub(super) fn UploadPanel(ctx: Ctx) -> impl IntoView {
    on_cleanup(|| {
        // Leave nothing running behind an unmounted app.
        for (_, xhr) in RUNNING.with(|r| r.borrow_mut().drain().collect::<Vec<_>>()) {
            let _ = xhr.abort();
        }
        FILES.with(|f| f.borrow_mut().clear());
    });
    let any = move || ctx.queue.with(|q| !q.items().is_empty());
    view! {
        <Show when=any>
            <section class="ferry-uploads" aria-label="Uploads">
                <div class="ferry-uploads-head">
                    <h2>"Uploads"</h2>
                    <span>{move || ctx.queue.with(|q| q.summary())}</span>
                    <button type="button" class="ferry-link" on:click=move |_| ctx.queue.update(|q| q.clear_finished())>"Clear finished"</button>
                </div>
                {move || {
                    let (sent, total) = ctx.queue.with(|q| q.totals());
                    view! { <progress aria-label="All uploads" max=total.max(1).to_string() value=sent.to_string()></progress> }
                }}
                <ul class="ferry-upload-list">
                    {move || ctx.queue.with(|q| q.items().iter().map(|item| {
                        let id = item.id;
                        let over = item.stage.is_over();
                        let place = if item.folder == FolderPath::root() { String::new() } else { format!("{}/", item.folder.as_str()) };
                        let class = match item.stage {
                            Stage::Failed(_) => "ferry-upload ferry-failed",
                            Stage::Indexed => "ferry-upload ferry-done",
                            _ => "ferry-upload",
                        };
                        view! {
                            <li class=class>
                                <span class="ferry-upload-name"><span class="ferry-muted">{place}</span>{item.name.clone()}</span>
                                <progress aria-label=format!("Uploading {}", item.name) max=item.size.max(1).to_string() value=item.sent.to_string()></progress>
                                <span class="ferry-upload-stage">{item.stage.label()}</span>
                                {(!over).then(|| view! {
                                    <button type="button" class="ferry-link" aria-label=format!("Cancel {}", item.name)
                                        on:click=move |_| cancel(ctx, id)>"Cancel"</button>
                                })}
                            </li>
                        }
                    }).collect_view())}
                </ul>
            </section>
        </Show>
    }
}
