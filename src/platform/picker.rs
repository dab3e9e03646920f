//! Files as the browser hands them over: from a file input, from the
//! browser's own picker with handles (Chromium), pasted, or dropped —
//! dropped folders walked so every file keeps its path. A large file keeps
//! its handle where the browser gives one (`js/picker.js`), so an
//! interrupted upload can go on after a reload without a new pick.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/picker.js")]
extern "C" {
    #[wasm_bindgen(js_name = fileOf)]
    async fn file_of_handle(handle: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = canPickHandles)]
    fn can_pick_handles() -> bool;
    #[wasm_bindgen(js_name = pickFiles)]
    async fn pick_files_with_handles() -> JsValue;
    #[wasm_bindgen(js_name = droppedHandle)]
    fn dropped_handle_promise(item: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = handleAt)]
    async fn handle_at_path(handle: &JsValue, path: &str) -> JsValue;
}

/// A file to upload: its path under the folder shown (`photos/a.jpg`), the
/// file, and its handle when the browser gave one.
#[derive(Debug, Clone)]
pub struct Placed {
    /// The path under the folder shown, the file's name last.
    pub path: String,
    /// The browser's file.
    pub file: web_sys::File,
    /// Its handle, kept with an upload's record to resume without a pick.
    pub handle: Option<JsValue>,
}

impl From<web_sys::File> for Placed {
    /// A file the host page handed over (`upload()`): into the folder
    /// shown, under its own name.
    fn from(file: web_sys::File) -> Self {
        Self {
            path: file.name(),
            file,
            handle: None,
        }
    }
}

/// The files of a file input or a paste, with their relative paths when a
/// folder was picked (`webkitRelativePath`).
pub fn from_list(files: &web_sys::FileList) -> Vec<Placed> {
    (0..files.length())
        .filter_map(|i| files.get(i))
        .map(|file| {
            let path = js_sys::Reflect::get(&file, &"webkitRelativePath".into())
                .ok()
                .and_then(|v| v.as_string())
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| file.name());
            Placed {
                path,
                file,
                handle: None,
            }
        })
        .collect()
}

/// Whether the browser's file picker gives handles.
pub fn can_pick_with_handles() -> bool {
    can_pick_handles()
}

/// Files chosen in the browser's picker, each with its handle; `None` when
/// the picker failed (then the plain file input is the way).
pub async fn pick_with_handles() -> Option<Vec<Placed>> {
    let picked = pick_files_with_handles().await;
    if picked.is_null() || picked.is_undefined() {
        return None;
    }
    Some(
        js_sys::Array::from(&picked)
            .iter()
            .filter_map(|entry| {
                let file = js_sys::Reflect::get(&entry, &"file".into())
                    .ok()?
                    .dyn_into::<web_sys::File>()
                    .ok()?;
                let handle = js_sys::Reflect::get(&entry, &"handle".into()).ok()?;
                Some(Placed {
                    path: file.name(),
                    file,
                    handle: Some(handle),
                })
            })
            .collect(),
    )
}

/// The file behind a kept handle, if it can still be read (the browser
/// may ask the person first).
pub async fn file_of(handle: &JsValue) -> Option<web_sys::File> {
    file_of_handle(handle)
        .await
        .dyn_into::<web_sys::File>()
        .ok()
}

/// What a drop held, taken while its event runs (entries and handles can
/// only be asked for then); reading them can wait.
#[derive(Debug)]
pub struct Dropped {
    entries: Vec<(JsValue, Option<js_sys::Promise>)>,
    files: Vec<(web_sys::File, Option<js_sys::Promise>)>,
}

impl Dropped {
    /// Takes what the drop offers: folder entries where the browser has
    /// them, else the flat list of files; handles where it gives them.
    pub fn take(transfer: &web_sys::DataTransfer) -> Self {
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
            let handle = dropped_handle_promise(&item)
                .dyn_into::<js_sys::Promise>()
                .ok();
            if let Ok(entry) = call0(&item, "webkitGetAsEntry")
                && !entry.is_null()
                && !entry.is_undefined()
            {
                entries.push((entry, handle.clone()));
            }
            handles.push(handle);
        }
        let mut files = Vec::new();
        if entries.is_empty()
            && let Some(list) = transfer.files()
        {
            let list: Vec<web_sys::File> = (0..list.length()).filter_map(|i| list.get(i)).collect();
            // Handles pair with files only when there is one per file.
            let paired = handles.len() == list.len();
            files = list
                .into_iter()
                .enumerate()
                .map(|(i, file)| (file, if paired { handles[i].clone() } else { None }))
                .collect();
        }
        Self { entries, files }
    }

    /// Every dropped file with its path; files of at least `handle_from`
    /// bytes (those that go up in parts, the only ones that can resume)
    /// get their handle.
    pub async fn read(self, handle_from: u64) -> Vec<Placed> {
        let mut found = Vec::new();
        for (file, handle) in self.files {
            let mut placed = vec![Placed {
                path: file.name(),
                file,
                handle: None,
            }];
            if let Some(handle) = handle {
                attach_handles(handle, &mut placed, handle_from).await;
            }
            found.append(&mut placed);
        }
        for (entry, handle) in self.entries {
            let from = found.len();
            walk(entry, &mut found).await;
            if let Some(handle) = handle {
                attach_handles(handle, &mut found[from..], handle_from).await;
            }
        }
        found
    }
}

/// Gives each file from one dropped item that is at least `from` bytes its
/// handle, found under the item's own.
async fn attach_handles(dropped: js_sys::Promise, files: &mut [Placed], from: u64) {
    let Ok(dropped) = wasm_bindgen_futures::JsFuture::from(dropped).await else {
        return;
    };
    if dropped.is_null() || dropped.is_undefined() {
        return;
    }
    for placed in files {
        if placed.file.size() as u64 >= from {
            let handle = handle_at_path(&dropped, &placed.path).await;
            placed.handle = (!handle.is_null() && !handle.is_undefined()).then_some(handle);
        }
    }
}

fn call0(target: &JsValue, method: &str) -> Result<JsValue, JsValue> {
    let function: js_sys::Function = js_sys::Reflect::get(target, &method.into())?.dyn_into()?;
    function.call0(target)
}

/// Calls `target.method(resolve, reject)` and waits for the callback.
async fn callback(target: &JsValue, method: &str) -> Option<JsValue> {
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
    entry: JsValue,
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
                found.push(Placed {
                    path: path.trim_start_matches('/').to_owned(),
                    file,
                    handle: None,
                });
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
