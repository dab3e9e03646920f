//! Unfinished multipart uploads in IndexedDB (`js/uploads-db.js`), so they
//! can resume after a reload or a crash. Failures to store are ignored: the
//! upload goes on, it just can't resume.

use crate::upload::Unfinished;
use uuid::Uuid;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/uploads-db.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = putRecord)]
    async fn put_record(json: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = removeRecord)]
    async fn remove_record(file_id: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = allRecords)]
    async fn all_records() -> Result<JsValue, JsValue>;
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
