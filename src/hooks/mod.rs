//! The client's side effects that outlive one call: each `use_x` wraps one
//! (a WebSocket, timers, window listeners), registers its cleanup, and leaves
//! the deciding to the plain modules (`live`, `route`, …).

pub mod use_live;
pub mod use_route;
