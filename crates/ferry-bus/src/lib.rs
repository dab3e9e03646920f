//! The local stack's event bus (work in progress).
