//! Ferry's web client, the part that decides: plain Rust with no DOM, no
//! network, no clock and no randomness of its own, built for the browser and
//! tested natively.
//!
//! The shell (the root package, `src/`) owns every side effect — `fetch`,
//! the WebSocket, timers, IndexedDB, workers — and the components; it feeds
//! this crate what happened and does what it answers. The rule is kept by
//! the compiler: this crate depends on nothing that can reach the browser
//! (`tests/layout.rs` checks the list).
//!
//! - [`config`]: where the settings come from and why they failed to load.
//! - [`auth`]: the Cognito conversation over a [`auth::Transport`], token
//!   lifetimes, storage rules, and PKCE for the hosted UI.
//! - [`folder`]: the reducer that applies events to a folder's rows.
//! - [`listview`]: keyboard, selection and the virtual window of a list.
//! - [`rows`]: a folder's or a search's rows as the grid shows them;
//!   [`thumbs`]: which thumbnail links the tiles ask for, and keep.
//! - [`trash`]: the Trash view's items and words; [`undo`]: which
//!   commands reverse an action, and when to offer them.
//! - [`upload`]: the upload queue; [`transfer`]: one multipart transfer's plan.
//! - [`live`]: the live connection's decisions (socket, backoff, polling).
//! - [`preview`]: reading a text preview, the preview's arrow keys, and the
//!   list or tiles view a person chose.
//! - [`host`]: the details of the host-page events built from client state.
//! - [`route`], [`activity`], [`commands`], [`failure`], [`put`], [`format`],
//!   [`verify`], [`qr`].

pub mod activity;
pub mod auth;
pub mod commands;
pub mod config;
pub mod failure;
pub mod folder;
pub mod format;
pub mod host;
pub mod listview;
pub mod live;
pub mod order;
pub mod preview;
pub mod put;
pub mod qr;
pub mod route;
pub mod rows;
pub mod thumbs;
pub mod transfer;
pub mod trash;
pub mod undo;
pub mod upload;
pub mod verify;
