//! The in-memory index keeps the index contract: the conformance suite the
//! SQLite and DynamoDB indexes run, run against it, so the domain's tests
//! over it mean what they would over either.

use ferry_core::ports::Index;
use ferry_core::testing::{Faults, MemoryIndex};
use std::sync::Arc;

fn index() -> (Arc<dyn Index>, ()) {
    (Arc::new(MemoryIndex::new(Faults::new())), ())
}

ferry_core::index_conformance_tests!(index());
