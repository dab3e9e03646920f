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

/// The user name in an id token (`cognito:username`, or `username`), read
/// with the browser's own `atob` and `JSON`: the page shows who is signed
/// in without carrying a base64 or JSON decoder for it. The token is ours
/// and unverified here; the API checks signatures.
pub fn token_username(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    // base64url without padding, to the standard alphabet `atob` reads.
    let mut standard: String = payload
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while !standard.len().is_multiple_of(4) {
        standard.push('=');
    }
    let binary = web_sys::window()?.atob(&standard).ok()?;
    // `atob` gives one character per byte; the JSON is UTF-8.
    let bytes: Vec<u8> = binary.chars().map(|c| c as u8).collect();
    let text = String::from_utf8(bytes).ok()?;
    let claims = js_sys::JSON::parse(&text).ok()?;
    ["cognito:username", "username"].iter().find_map(|name| {
        js_sys::Reflect::get(&claims, &(*name).into())
            .ok()?
            .as_string()
    })
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

/// The element that has the focus, looked for inside shadow roots (the
/// document's own `activeElement` is the `<ferry-files>` element when the
/// focus is in its shadow root). `None` when nothing but the page has it.
pub fn focused() -> Option<web_sys::Element> {
    let document = web_sys::window()?.document()?;
    let mut active = document.active_element()?;
    while let Some(inner) = active.shadow_root().and_then(|root| root.active_element()) {
        active = inner;
    }
    let body: Option<web_sys::Element> = document.body().map(Into::into);
    (Some(&active) != body.as_ref()).then_some(active)
}

/// A time (Unix milliseconds) in the reader's own locale and time zone,
/// to the minute, or to the second where two times must differ (versions).
pub fn local_time(millis: i64, seconds: bool) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(millis as f64));
    let options = js_sys::Object::new();
    let time_style = if seconds { "medium" } else { "short" };
    let _ = js_sys::Reflect::set(&options, &"dateStyle".into(), &"medium".into());
    let _ = js_sys::Reflect::set(&options, &"timeStyle".into(), &time_style.into());
    String::from(date.to_locale_string("default", &options))
}
