//! Ferry's functions on Lambda: the same domain (`ferry-core`) and the same
//! API routes (`ferry-api`) as the local stack, over the AWS adapters
//! (`ferry-aws`). One binary; `FERRY_FUNCTION` says which function it is
//! (`main.rs`), so `cargo xtask package-aws` builds and zips it once.
//!
//! - [`api`]: the HTTP API's routes behind API Gateway's JWT authorizer;
//! - [`authorizer`]: the WebSocket `$connect` authorizer (Cognito tokens
//!   against the pool's JWKS, cached);
//! - [`live`]: `$connect`, `$disconnect` and the client's messages;
//! - the consumers and the sweeper: `ferry_core::Consumers` as they are,
//!   the thumbnailer's engine plugged in (`ferry-thumbnailer`, as on the
//!   local stack);
//! - [`config`]: the custom resource that writes the web app's
//!   `config.json`.
//!
//! Every handler is a function of its event (and the stack), so tests call
//! it with real-shaped events against moto.

pub mod api;
pub mod authorizer;
pub mod config;
pub mod http;
pub mod live;
pub mod stack;

pub use stack::{Env, Stack};
