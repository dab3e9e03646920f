//! The API's authorizer: checks a bearer token as API Gateway's JWT
//! authorizer does for an HTTP API with a Cognito issuer — the RS256
//! signature against the issuer's keys (its JWKS), `iss`, the app client
//! (`client_id` of an access token, `aud` of an id token), `token_use`,
//! `exp` and `nbf` — and yields the caller's `sub`.
//!
//! Like API Gateway, it does not ask the user pool whether the token was
//! revoked: a signed-out token works until it expires, which is why access
//! tokens live an hour at most.

use crate::identity::Identity;
use ferry_core::model::UserId;
use ferry_protocol::{ApiError, ErrorCode};
use serde_json::Value;

/// Why a token was refused; every case is a `401` with a sentence.
fn unauthorized(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, message)
}

/// Checks `token` and returns the caller.
pub fn authorize(identity: &Identity, token: &str, now: i64) -> Result<UserId, ApiError> {
    let claims: Value = identity
        .keys()
        .verify(token)
        .map_err(|_| unauthorized("The token isn't valid; sign in again."))?;
    if claims["iss"] != identity.issuer() {
        return Err(unauthorized("The token was issued by another user pool."));
    }
    let client = match claims["token_use"].as_str() {
        Some("access") => claims["client_id"].as_str(),
        Some("id") => claims["aud"].as_str(),
        _ => None,
    };
    if !client.is_some_and(|c| identity.client_ids().iter().any(|known| known == c)) {
        return Err(unauthorized("The token isn't for this app."));
    }
    match claims["exp"].as_i64() {
        Some(exp) if exp > now => {}
        _ => return Err(unauthorized("The token has expired; sign in again.")),
    }
    if claims["nbf"].as_i64().is_some_and(|nbf| nbf > now) {
        return Err(unauthorized("The token isn't valid yet."));
    }
    claims["sub"]
        .as_str()
        .and_then(UserId::parse)
        .ok_or_else(|| unauthorized("The token names no user."))
}

/// The token of an `Authorization: Bearer …` header (API Gateway also takes
/// the bare token).
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let value = header?.trim();
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .unwrap_or(value)
        .trim();
    (!token.is_empty()).then_some(token)
}
