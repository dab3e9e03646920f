//! The identity provider from the browser: Cognito's JSON API over `fetch`.
//! The conversation itself is `ferry_client::auth`'s.

use super::http;
use ferry_client::auth::{Transport, TransportError};
use gloo_net::http::Method;

/// Cognito's user-pool API at `endpoint` (ending in `/`).
#[derive(Debug, Clone)]
pub struct CognitoTransport {
    endpoint: String,
}

impl CognitoTransport {
    /// A transport to the identity endpoint of the configuration.
    pub fn new(endpoint: &str) -> Self {
        Self {
            endpoint: endpoint.to_owned(),
        }
    }
}

impl Transport for CognitoTransport {
    async fn call(&self, operation: &str, body: String) -> Result<String, TransportError> {
        let target = format!("AWSCognitoIdentityProviderService.{operation}");
        let answer = http::send(
            Method::POST,
            &self.endpoint,
            &[
                ("Content-Type", "application/x-amz-json-1.1"),
                ("X-Amz-Target", &target),
            ],
            Some(body),
        )
        .await
        .map_err(|_| TransportError::Unreachable)?;
        if answer.is_success() {
            Ok(answer.body)
        } else {
            Err(TransportError::from_body(&answer.body))
        }
    }
}
