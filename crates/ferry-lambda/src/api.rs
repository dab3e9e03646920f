//! The API function: `ferry-api`'s routes under `/api`, behind the HTTP
//! API's JWT authorizer. API Gateway has checked the token (signature,
//! issuer, audience, expiry) before the function runs; the caller is the
//! `sub` it put in the request context.

use crate::Stack;
use axum::Router;
use axum::http::request::Parts;
use ferry_api::{ApiHost, auth};
use ferry_core::Files;
use ferry_core::feed::Feed;
use ferry_core::model::UserId;
use ferry_protocol::ApiError;
use lambda_http::request::RequestContext;
use std::sync::Arc;

/// The API on Lambda.
#[derive(Debug)]
pub struct AwsHost {
    stack: Stack,
}

/// The caller API Gateway's JWT authorizer named: the token's `sub`.
pub fn caller_of(parts: &Parts) -> Option<UserId> {
    match parts.extensions.get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(context) => context
            .authorizer
            .as_ref()?
            .jwt
            .as_ref()?
            .claims
            .get("sub")
            .and_then(|sub| UserId::parse(sub)),
        _ => None,
    }
}

impl ApiHost for AwsHost {
    fn files(&self) -> &Files {
        &self.stack.files
    }

    fn caller(&self, parts: &Parts) -> Result<UserId, ApiError> {
        caller_of(parts).ok_or_else(auth::no_token)
    }

    fn feed(&self) -> &dyn Feed {
        &*self.stack.notifier
    }
}

/// The routes as the HTTP API sends them (`/api/…`).
pub fn router(stack: Stack) -> Router {
    Router::new().nest("/api", ferry_api::routes(Arc::new(AwsHost { stack })))
}
