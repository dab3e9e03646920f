//! The WebSocket API's `$connect` authorizer. A browser can't set headers on
//! a WebSocket, so the access token comes in the query string (`?token=`),
//! as the local stack takes it. It is checked as the HTTP API's JWT
//! authorizer checks a bearer token: the RS256 signature against the pool's
//! JWKS, then the claims (`ferry_api::auth::check_claims`).
//!
//! The JWKS is fetched once per function instance and kept; a token signed
//! by a key it doesn't hold (Cognito rotated its keys) makes it fetch again,
//! at most once a minute.

use crate::http::Http;
use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ferry_api::auth;
use ferry_core::model::UserId;
use ferry_protocol::ApiError;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use rsa::{BigUint, RsaPublicKey};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How soon an unknown key may make the JWKS be fetched again.
const REFETCH_AFTER: Duration = Duration::from_secs(60);

/// The authorizer, with its cached keys.
#[derive(Debug)]
pub struct Authorizer {
    issuer: String,
    client_ids: Vec<String>,
    http: Http,
    keys: Mutex<Keys>,
}

#[derive(Debug, Default)]
struct Keys {
    by_kid: HashMap<String, VerifyingKey<Sha256>>,
    fetched: Option<Instant>,
    /// How many times the JWKS was fetched (for tests).
    fetches: u32,
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(ferry_protocol::ErrorCode::Unauthorized, message)
}

/// The keys of a JWKS document (`{"keys": [{kid, kty: RSA, n, e}, …]}`).
fn parse_jwks(body: &[u8]) -> Result<HashMap<String, VerifyingKey<Sha256>>, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("JWKS: {e}"))?;
    let mut keys = HashMap::new();
    for key in doc["keys"].as_array().into_iter().flatten() {
        if key["kty"] != "RSA" {
            continue;
        }
        let part = |name: &str| -> Option<BigUint> {
            let bytes = URL_SAFE_NO_PAD.decode(key[name].as_str()?).ok()?;
            Some(BigUint::from_bytes_be(&bytes))
        };
        let (Some(kid), Some(n), Some(e)) = (key["kid"].as_str(), part("n"), part("e")) else {
            continue;
        };
        let public = RsaPublicKey::new(n, e).map_err(|e| format!("JWKS key {kid}: {e}"))?;
        keys.insert(kid.to_owned(), VerifyingKey::new(public));
    }
    Ok(keys)
}

impl Authorizer {
    /// Tokens of `issuer` for one of `client_ids`; the keys from
    /// `{issuer}/.well-known/jwks.json`.
    pub fn new(issuer: &str, client_ids: Vec<String>) -> Result<Self, String> {
        Ok(Self {
            issuer: issuer.trim_end_matches('/').to_owned(),
            client_ids,
            http: Http::new()?,
            keys: Mutex::new(Keys::default()),
        })
    }

    /// How many times the JWKS was fetched so far.
    pub async fn fetches(&self) -> u32 {
        self.keys.lock().await.fetches
    }

    async fn key(&self, kid: &str) -> Result<VerifyingKey<Sha256>, ApiError> {
        let mut keys = self.keys.lock().await;
        if let Some(key) = keys.by_kid.get(kid) {
            return Ok(key.clone());
        }
        if keys.fetched.is_some_and(|at| at.elapsed() < REFETCH_AFTER) {
            return Err(auth::bad_signature());
        }
        let url = format!("{}/.well-known/jwks.json", self.issuer);
        keys.fetched = Some(Instant::now());
        keys.fetches += 1;
        match self.http.get(&url).await.and_then(|body| parse_jwks(&body)) {
            Ok(fetched) => keys.by_kid = fetched,
            Err(error) => {
                tracing::error!(%error, "the pool's JWKS can't be read");
                return Err(ApiError::new(
                    ferry_protocol::ErrorCode::Unavailable,
                    "The sign-in keys can't be read right now; try again.",
                ));
            }
        }
        keys.by_kid
            .get(kid)
            .cloned()
            .ok_or_else(auth::bad_signature)
    }

    /// Checks `token` at `now` (Unix seconds) and returns the caller.
    pub async fn check(&self, token: &str, now: i64) -> Result<UserId, ApiError> {
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(auth::bad_signature());
        };
        let decode = |part: &str| -> Result<Value, ApiError> {
            let bytes = URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| auth::bad_signature())?;
            serde_json::from_slice(&bytes).map_err(|_| auth::bad_signature())
        };
        let head = decode(header)?;
        if head["alg"] != "RS256" {
            return Err(auth::bad_signature());
        }
        let kid = head["kid"].as_str().ok_or_else(auth::bad_signature)?;
        let key = self.key(kid).await?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .ok()
            .and_then(|bytes| Signature::try_from(bytes.as_slice()).ok())
            .ok_or_else(auth::bad_signature)?;
        key.verify(format!("{header}.{claims}").as_bytes(), &signature)
            .map_err(|_| auth::bad_signature())?;
        auth::check_claims(&decode(claims)?, &self.issuer, &self.client_ids, now)
    }

    /// Answers API Gateway: `Allow` for this connection's route ARN with the
    /// caller as principal (and `sub` in the context the other routes see),
    /// or `Deny`.
    pub async fn handle(
        &self,
        request: &ApiGatewayCustomAuthorizerRequestTypeRequest,
        now: i64,
    ) -> ApiGatewayCustomAuthorizerResponse {
        let token = request
            .query_string_parameters
            .first("token")
            .map(str::to_owned)
            .or_else(|| {
                request
                    .headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| auth::bearer(Some(v)).map(str::to_owned))
            });
        let verdict = match token {
            None => Err(unauthorized("Sign in first: no token was sent.")),
            Some(token) => self.check(&token, now).await,
        };
        let resource = request.method_arn.clone().unwrap_or_default();
        let mut statement = IamPolicyStatement::default();
        statement.action = vec!["execute-api:Invoke".to_owned()];
        statement.resource = vec![resource];
        let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
        policy.version = Some("2012-10-17".to_owned());
        let mut response = ApiGatewayCustomAuthorizerResponse::<Value>::default();
        match verdict {
            Ok(user) => {
                statement.effect = IamPolicyEffect::Allow;
                response.principal_id = Some(user.as_str().to_owned());
                response.context = json!({"sub": user.as_str()});
            }
            Err(error) => {
                tracing::info!(reason = %error.message, "connection refused");
                statement.effect = IamPolicyEffect::Deny;
                response.principal_id = Some("anonymous".to_owned());
                response.context = json!({});
            }
        }
        policy.statement = vec![statement];
        response.policy_document = policy;
        response
    }
}
