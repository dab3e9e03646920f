//! Side effects that talk to the backend. Everything here is a thin wrapper
//! over `fetch`; deciding what a response means is left to plain functions
//! that are tested natively.

pub mod failure;
pub mod files;
pub mod hasher;
pub mod http;
pub mod identity;
pub mod oauth;
pub mod unfinished;
pub mod xhr;

use crate::config::{LoadError, parse_config};
use ferry_protocol::ClientConfig;

/// Fetches and checks the client's settings from `url`.
pub async fn load_config(url: &str) -> Result<ClientConfig, LoadError> {
    let response = http::get_text(url)
        .await
        .map_err(|_| LoadError::Unreachable {
            url: url.to_owned(),
        })?;
    if !(200..300).contains(&response.status) {
        return Err(LoadError::Status {
            url: url.to_owned(),
            status: response.status,
        });
    }
    parse_config(url, &response.body)
}
