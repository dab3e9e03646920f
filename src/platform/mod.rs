//! The browser's facilities other than the network, each with its own home:
//! the clock and random numbers, token storage, IndexedDB (`resume_store`),
//! the file picker and dropped files (`picker`), the hashing worker
//! (`hasher`), and handing a download to the browser (`download`). Like
//! `api`, these are thin: what their results mean is `ferry_client`'s.

pub mod download;
pub mod hasher;
pub mod picker;
pub mod resume_store;

use ferry_client::auth::store::{KeyValue, TokenStorage};

/// `n` bytes from `crypto.getRandomValues`; `None` without a browser crypto.
pub fn random_bytes(n: usize) -> Option<Vec<u8>> {
    let mut bytes = vec![0u8; n];
    let crypto = web_sys::window()?.crypto().ok()?;
    crypto.get_random_values_with_u8_array(&mut bytes).ok()?;
    Some(bytes)
}

/// A random (version 4) UUID from the browser's crypto: command ids.
pub fn new_id() -> uuid::Uuid {
    let mut bytes = [0u8; 16];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .is_some_and(|c| c.get_random_values_with_u8_array(&mut bytes).is_ok());
    if !filled {
        // Without a crypto (never in a browser Ferry supports), fall back to
        // the time and Math.random: ids must still differ.
        let noise = (js_sys::Math::random() * 2f64.powi(52)) as u64;
        bytes[..8].copy_from_slice(&noise.to_le_bytes());
        bytes[8..].copy_from_slice(&(js_sys::Date::now() as u64).to_le_bytes());
    }
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// The browser's clock as a UTC time.
pub fn now() -> time::OffsetDateTime {
    let millis = js_sys::Date::now();
    time::OffsetDateTime::from_unix_timestamp((millis / 1000.0) as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// The browser's clock in Unix seconds.
pub fn now_seconds() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
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
