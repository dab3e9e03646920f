//! Ferry's domain: the file service written once against ports.
//!
//! - [`ports`]: what the domain needs from the outside world (object store,
//!   index, bus, notifier) and [`clock`];
//! - [`model`]: the records it keeps;
//!
//! No IO of its own: `ferry-server` plugs in local adapters and the AWS
//! build plugs in AWS ones.

pub mod clock;
pub mod model;
pub mod ports;
