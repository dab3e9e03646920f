//! Every side effect that outlives one call lives in a `use_x` hook: a
//! socket, a timer, a window listener, a worker, an IndexedDB handle. Each
//! hook registers its cleanup, so unmounting leaves nothing running, and
//! leaves the deciding to `ferry_client`.

pub mod use_copy_check;
pub mod use_expiry;
pub mod use_live;
pub mod use_paste;
pub mod use_route;
pub mod use_token_refresh;
pub mod use_uploads;
