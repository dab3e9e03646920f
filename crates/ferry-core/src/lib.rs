//! Ferry's domain: the file service written once against ports.
//!
//! - [`ports`]: what the domain needs from the outside world (object store,
//!   index, bus, notifier) and [`clock`];
//! - [`model`]: the records it keeps; [`names`]: names and digests as it
//!   writes them; [`events`]: the events it publishes, built and named;
//! - [`service`]: what the API does with a command or a query;
//! - [`consumers`]: what carries out accepted commands and reacts to the
//!   object store (a module per consumer), the bus rules that feed them, and
//!   the reconciliation sweep.
//!
//! Both sides build their events with [`events`]; neither imports the other.
//! With the `testing` feature, `testing` has every port in memory, so the
//! domain's rules are tested without IO.
//!
//! Invariant: no IO of its own, and no dependency on SQLite, S3, axum or any
//! AWS SDK: `ferry-server` plugs in local adapters and the AWS build plugs in
//! AWS ones, and both run exactly this code.

pub mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod consumers;
pub mod error;
pub mod events;
pub mod feed;
pub mod model;
pub mod names;
pub mod ports;
pub mod service;
#[cfg(feature = "testing")]
pub mod testing;

pub use consumers::Consumers;
pub use error::{DomainError, DomainResult};
pub use service::{Caller, FileSettings, Files};
