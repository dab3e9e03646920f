//! Ferry's web client.
//!
//! The logic lives in plain Rust that builds and tests natively (`config`,
//! `folder`);
//! `api` holds the side effects that talk to the backend; the components in
//! `app` only wire state to the DOM. [`mount`] puts the app into any element,
//! so a portal can embed it.

pub mod activity;
pub mod api;
pub mod app;
pub mod auth;
pub mod browser;
pub mod commands;
pub mod config;
pub mod folder;
pub mod format;
pub mod hooks;
pub mod listview;
pub mod live;
pub mod qr;
pub mod route;
pub mod transfer;
pub mod upload;
pub mod verify;

pub use app::App;

/// Mounts Ferry into `parent`. Settings come from the element's `data-`
/// attributes, or from the config URL they name (`/config.json` by default).
/// Dropping the returned handle removes the app and everything it added.
pub fn mount(
    parent: web_sys::HtmlElement,
) -> leptos::mount::UnmountHandle<impl leptos::tachys::view::Mountable> {
    use leptos::prelude::*;
    let source = config::source_from_attributes(|name| parent.get_attribute(name));
    mount_to(parent, move || view! { <App source=source.clone() /> })
}
