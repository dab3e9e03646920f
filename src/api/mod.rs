//! The network, and only the network: the API (`files`), the identity
//! provider (`identity`, and `oauth` for the hosted UI), the settings
//! document, and presigned PUTs to the object store (`put`). Requests go
//! through `gloo-net` (`http`); uploads through `XMLHttpRequest`, the one
//! browser API that reports upload progress. What an answer means is
//! decided by `ferry_client`, tested natively.

pub mod files;
pub mod http;
pub mod identity;
pub mod oauth;
pub mod put;

use ferry_client::config::{LoadError, parse_config};
use ferry_protocol::ClientConfig;

/// Fetches and checks the client's settings from `url`.
pub async fn load_config(url: &str) -> Result<ClientConfig, LoadError> {
    let answer = http::get(url).await.map_err(|_| LoadError::Unreachable {
        url: url.to_owned(),
    })?;
    if !answer.is_success() {
        return Err(LoadError::Status {
            url: url.to_owned(),
            status: answer.status,
        });
    }
    parse_config(url, &answer.body)
}
