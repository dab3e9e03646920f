//! The clock port lives in the domain crate; re-exported here for the
//! identity provider and the tests that drive it.

pub use ferry_core::clock::{Clock, ManualClock, SystemClock};
