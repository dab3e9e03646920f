//! The in-memory notifier's feed keeps the feed contract: the suite the
//! SQLite hub and the DynamoDB feed run, run against it.

use ferry_core::testing::{Faults, MemoryNotifier};
use std::sync::Arc;

ferry_core::feed_conformance_tests!((Arc::new(MemoryNotifier::new(Faults::new())), ()));
