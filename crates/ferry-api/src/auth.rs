//! The API's authorizer: checks a token's claims as API Gateway's JWT
//! authorizer does for an HTTP API with a Cognito issuer — `iss`, the app
//! client (`client_id` of an access token, `aud` of an id token),
//! `token_use`, `exp` and `nbf` — and yields the caller's `sub`. The RS256
//! signature is checked first, by whoever holds the issuer's keys (the
//! local identity provider, or the pool's JWKS on Lambda).
//!
//! Like API Gateway, it does not ask the user pool whether the token was
//! revoked: a signed-out token works until it expires, which is why access
//! tokens live an hour at most.

use ferry_core::model::UserId;
use ferry_protocol::{ApiError, ErrorCode};
use serde_json::Value;

/// Why a token was refused; every case is a `401` with a sentence.
fn unauthorized(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, message)
}

/// The refusal of a token whose signature doesn't verify.
pub fn bad_signature() -> ApiError {
    unauthorized("The token isn't valid; sign in again.")
}

/// The refusal of a request without a token.
pub fn no_token() -> ApiError {
    unauthorized("Sign in first: no token was sent.")
}

/// Checks the claims of a token whose signature verified (against
/// `issuer`'s keys) and returns the caller.
pub fn check_claims(
    claims: &Value,
    issuer: &str,
    client_ids: &[String],
    now: i64,
) -> Result<UserId, ApiError> {
    if claims["iss"] != issuer {
        return Err(unauthorized("The token was issued by another user pool."));
    }
    let client = match claims["token_use"].as_str() {
        Some("access") => claims["client_id"].as_str(),
        Some("id") => claims["aud"].as_str(),
        _ => None,
    };
    if !client.is_some_and(|c| client_ids.iter().any(|known| known == c)) {
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
