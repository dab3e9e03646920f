//! The file API (`ferry-api`'s routes) on the local stack: the caller is
//! whoever the bearer token names, checked here against the local identity
//! provider's keys as API Gateway's JWT authorizer checks Cognito's; the
//! feed is the live hub's.

use crate::AppState;
use crate::identity::Identity;
use axum::http::header;
use axum::http::request::Parts;
use ferry_api::{ApiHost, auth};
use ferry_core::Files;
use ferry_core::feed::Feed;
use ferry_core::model::UserId;
use ferry_protocol::ApiError;

pub use ferry_api::OPENAPI;

/// Checks `token` (signature, then claims) and returns the caller.
pub fn authorize(identity: &Identity, token: &str, now: i64) -> Result<UserId, ApiError> {
    let claims = identity
        .keys()
        .verify(token)
        .map_err(|_| auth::bad_signature())?;
    auth::check_claims(&claims, identity.issuer(), identity.client_ids(), now)
}

impl ApiHost for AppState {
    fn files(&self) -> &Files {
        &self.files
    }

    fn caller(&self, parts: &Parts) -> Result<UserId, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = auth::bearer(header).ok_or_else(auth::no_token)?;
        authorize(&self.identity, token, self.clock.unix())
    }

    fn feed(&self) -> &dyn Feed {
        &*self.live
    }
}
