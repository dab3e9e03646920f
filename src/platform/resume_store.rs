//! Unfinished multipart uploads in IndexedDB (`js/resume-store.js`), so they
//! can resume after a reload or a crash, with the file's handle where the
//! browser gave one (Chromium's File System Access API), so the person
//! needn't choose the file again. Failures to store are ignored: the upload
//! goes on, it just can't resume.

use ferry_client::upload::Unfinished;
use uuid::Uuid;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/resume-store.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = putRecord)]
    async fn put_record(json: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = removeRecord)]
    async fn remove_record(file_id: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = allRecords)]
    async fn all_records() -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = countRecords)]
    async fn count_records() -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = putHandle)]
    async fn put_handle(file_id: &str, handle: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = allHandles)]
    async fn all_handles() -> Result<JsValue, JsValue>;
}

/// Whether any upload is kept (of any user of this browser): a cheap look,
/// so the upload machinery loads only when there may be one to resume.
pub async fn any() -> bool {
    count_records()
        .await
        .ok()
        .and_then(|n| n.as_f64())
        .is_some_and(|n| n > 0.0)
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

/// Every kept upload; records that don't read as one are skipped.
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
