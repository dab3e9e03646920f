//! Ferry's wire types, shared by the browser client, `ferry-server` and the
//! AWS handlers.
//!
//! This crate owns the shapes that cross a process boundary: commands (intents)
//! and events (facts) in their `{metadata, data}` envelope, the EventBridge
//! wrapping of that envelope, the API's error body and request/response types,
//! the client's runtime configuration, the details of the DOM events the
//! `<ferry-files>` element dispatches on its host page, the live connection's
//! messages (`live`), and the rules for file names and paths.
//!
//! Invariant: no IO, no clock, no randomness. Every value is built from its
//! inputs, so the crate compiles for `wasm32-unknown-unknown` and native alike
//! and everything in it is tested natively.

pub mod api;
#[cfg(feature = "schema")]
pub mod catalog;
pub mod config;
pub mod envelope;
pub mod error;
pub mod host;
pub mod live;
pub mod messages;
pub mod path;
pub mod preview;
#[cfg(feature = "schema")]
pub mod schema;

pub use config::{AuthMode, ClientConfig, ConfigError, TokenStorage, UploadSettings};
pub use envelope::{
    CommandEnvelope, DecodeError, Envelope, EventBridgeEvent, EventEnvelope, Metadata, Payload,
    Timestamp, TraceId,
};
pub use error::{ApiError, ErrorCode};
pub use messages::{Command, Event};
pub use path::{FileName, FolderPath, ObjectKey, PathError};
