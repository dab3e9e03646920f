//! Ferry's web client, the shell: everything that touches the browser,
//! around the compiled core `ferry_client`, which decides.
//!
//! - `api`: the network only (the file API, the identity provider, the
//!   settings document, presigned PUTs).
//! - `platform`: the browser's other facilities, each in its own home
//!   (IndexedDB, the file picker, the hashing worker, storage, clock).
//! - `hooks`: every side effect that outlives a call (`use_live`,
//!   `use_uploads`, …), cleaned up on unmount.
//! - `session`, `notices`, `outbox`: one mount's session, what it tells the
//!   person, and its commands' way out.
//! - `components`: the views; `chunks`: where they are cut into lazily
//!   loaded chunks.
//!
//! - `element`: `<ferry-files>`, the custom element every page uses;
//!   `host`: one instance's side of its element (routing, the host's
//!   requests, the events it is told).
//!
//! Every mount has its own state, so two on one page don't mix.

pub mod api;
pub mod chunks;
pub mod components;
pub mod element;
pub mod hooks;
pub mod host;
pub mod notices;
pub mod outbox;
pub mod platform;
pub mod session;

pub use components::app::App;

/// Mounts Ferry into `parent`, as `<ferry-files>` mounts into its shadow
/// root, with the settings in `parent`'s attributes (see
/// `ferry_client::config`). Dropping the returned handle removes the app and
/// everything it added.
pub fn mount(parent: web_sys::HtmlElement) -> element::FerryInstance {
    element::FerryInstance::mount(parent.clone(), parent, None, false)
}
