//! End-to-end tests: the real `ferry-server`, the release build of the web
//! client, and headless Chromium driven over WebDriver, finding elements by
//! role and accessible name as a person with a screen reader would.
//!
//! They need Chromium, chromedriver, a built client and the server binary, so
//! they are ignored by a plain `cargo test`; `cargo xtask test` provides all
//! of it and runs them (`FERRY_SERVER_BIN`, `FERRY_DIST`, `CHROMEDRIVER`).

#![cfg(not(target_arch = "wasm32"))]

mod chunks;
mod csp;
mod files;
mod harness;
mod hosted_ui;
mod oidc;
mod portal;
mod preview;
mod proxy;
mod shell;
mod signin;
mod trash;
mod uploads;
mod viewer;
