//! The identity provider from the browser: Cognito's JSON API over `fetch`,
//! randomness from `crypto.getRandomValues`, the clock, and token storage.

use crate::auth::store::{KeyValue, TokenStorage};
use crate::auth::{Transport, TransportError};
use serde_json::Value;

/// Cognito's user-pool API at `endpoint` (ending in `/`).
#[derive(Debug, Clone)]
pub struct FetchTransport {
    endpoint: String,
}

impl FetchTransport {
    /// A transport to the identity endpoint of the configuration.
    pub fn new(endpoint: &str) -> Self {
        Self {
            endpoint: endpoint.to_owned(),
        }
    }
}

async fn post(
    endpoint: &str,
    operation: &str,
    body: &str,
) -> Result<(u16, String), wasm_bindgen::JsValue> {
    let target = format!("AWSCognitoIdentityProviderService.{operation}");
    crate::api::http::send(
        "POST",
        endpoint,
        &[
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", &target),
        ],
        Some(body),
    )
    .await
}

impl Transport for FetchTransport {
    async fn call(&self, operation: &str, body: Value) -> Result<Value, TransportError> {
        let (status, text) = post(&self.endpoint, operation, &body.to_string())
            .await
            .map_err(|_| TransportError::Unreachable)?;
        if (200..300).contains(&status) {
            serde_json::from_str(&text).map_err(|_| TransportError::Unreachable)
        } else {
            Err(TransportError::from_body(&text))
        }
    }
}

/// `n` bytes from `crypto.getRandomValues`; `None` without a browser crypto.
pub fn random_bytes(n: usize) -> Option<Vec<u8>> {
    let mut bytes = vec![0u8; n];
    let crypto = web_sys::window()?.crypto().ok()?;
    crypto.get_random_values_with_u8_array(&mut bytes).ok()?;
    Some(bytes)
}

/// The browser's clock as a UTC time.
pub fn now() -> time::OffsetDateTime {
    let millis = js_sys::Date::now();
    time::OffsetDateTime::from_unix_timestamp((millis / 1000.0) as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// The browser storage a [`TokenStorage`] names.
#[derive(Debug, Clone)]
pub struct BrowserStore(Option<web_sys::Storage>);

impl BrowserStore {
    /// Opens the storage; memory-only (or unavailable) stores nothing.
    pub fn open(kind: TokenStorage) -> Self {
        let window = web_sys::window();
        let storage = match kind {
            TokenStorage::Session => window.and_then(|w| w.session_storage().ok().flatten()),
            TokenStorage::Local => window.and_then(|w| w.local_storage().ok().flatten()),
            TokenStorage::Memory => None,
        };
        Self(storage)
    }
}

impl KeyValue for BrowserStore {
    fn get(&self, key: &str) -> Option<String> {
        self.0.as_ref()?.get_item(key).ok().flatten()
    }
    fn set(&self, key: &str, value: &str) {
        if let Some(storage) = &self.0 {
            let _ = storage.set_item(key, value);
        }
    }
    fn remove(&self, key: &str) {
        if let Some(storage) = &self.0 {
            let _ = storage.remove_item(key);
        }
    }
}
