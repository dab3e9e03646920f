//! Unfinished multipart uploads in IndexedDB (`js/uploads-db.js`), so they
//! can resume after a reload or a crash, with the file's handle where the
//! browser gave one (Chromium's File System Access API), so the person
//! needn't choose the file again. Failures to store are ignored: the upload
//! goes on, it just can't resume.

use crate::upload::Unfinished;
use uuid::Uuid;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/uploads-db.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = putRecord)]
    async fn put_record(json: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = removeRecord)]
    async fn remove_record(file_id: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = allRecords)]
    async fn all_records() -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = putHandle)]
    async fn put_handle(file_id: &str, handle: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = allHandles)]
    async fn all_handles() -> Result<JsValue, JsValue>;
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

/// A dropped item's handle, to be awaited later: it must be asked for while
/// the drop event runs (`None` where the browser gives none).
pub fn dropped_handle(item: &JsValue) -> Option<js_sys::Promise> {
    dropped_handle_promise(item).dyn_into().ok()
}

/// The handle of the file at `path` (starting with the dropped item's name)
/// under a dropped item's handle: the item itself, or a file in the
/// dropped folder.
pub async fn handle_at(dropped: &JsValue, path: &str) -> Option<JsValue> {
    let handle = handle_at_path(dropped, path).await;
    (!handle.is_null() && !handle.is_undefined()).then_some(handle)
}

/// Keeps the handle of an upload's file beside its record.
pub async fn keep_handle(file_id: Uuid, handle: &JsValue) {
    let _ = put_handle(&file_id.to_string(), handle).await;
}

/// The kept handles, by file id.
pub async fn handles() -> Vec<(Uuid, JsValue)> {
    let Ok(list) = all_handles().await else {
        return Vec::new();
    };
    js_sys::Array::from(&list)
        .iter()
        .filter_map(|entry| {
            let id = js_sys::Reflect::get(&entry, &"fileId".into())
                .ok()?
                .as_string()?;
            let handle = js_sys::Reflect::get(&entry, &"handle".into()).ok()?;
            Some((Uuid::parse_str(&id).ok()?, handle))
        })
        .collect()
}

/// The file behind a kept handle, if it can still be read (the browser
/// may ask the person first).
pub async fn file_of(handle: &JsValue) -> Option<web_sys::File> {
    file_of_handle(handle)
        .await
        .dyn_into::<web_sys::File>()
        .ok()
}

/// Whether the browser's file picker gives handles.
pub fn can_pick() -> bool {
    can_pick_handles()
}

/// Files chosen in the browser's picker, each with its handle; `None` when
/// the picker failed (then the plain file input is the way).
pub async fn pick() -> Option<Vec<(web_sys::File, JsValue)>> {
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
                Some((file, handle))
            })
            .collect(),
    )
}

/// Keeps (or updates) an upload's record.
pub async fn save(record: &Unfinished) {
    if let Ok(json) = serde_json::to_string(record) {
        let _ = put_record(&json).await;
    }
}

/// Forgets an upload (finished, cancelled or failed).
pub async fn forget(file_id: Uuid) {
    let _ = remove_record(&file_id.to_string()).await;
}

/// Every kept upload.
pub async fn all() -> Vec<Unfinished> {
    let Ok(text) = all_records().await else {
        return Vec::new();
    };
    text.as_string()
        .and_then(|t| serde_json::from_str::<Vec<serde_json::Value>>(&t).ok())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect()
}
