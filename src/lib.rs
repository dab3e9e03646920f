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
//! [`mount`] puts the app into any element, so a portal can embed it; every
//! mount has its own state, so two on one page don't mix.

pub mod api;
pub mod chunks;
pub mod components;
pub mod hooks;
pub mod notices;
pub mod outbox;
pub mod platform;
pub mod session;

pub use components::app::App;

/// Mounts Ferry into `parent`. Settings come from the element's `data-`
/// attributes, or from the config URL they name (`/config.json` by default).
/// Dropping the returned handle removes the app and everything it added.
pub fn mount(
    parent: web_sys::HtmlElement,
) -> leptos::mount::UnmountHandle<impl leptos::tachys::view::Mountable> {
    use leptos::prelude::*;
    let source = ferry_client::config::source_from_attributes(|name| parent.get_attribute(name));
    mount_to(parent, move || view! { <App source=source.clone() /> })
}
