//! Cognito's JSON API on the wire: `POST /` with `X-Amz-Target:
//! AWSCognitoIdentityProviderService.<Operation>` and an
//! `application/x-amz-json-1.1` body, dispatched to the flow that owns the
//! operation and answered in Cognito's shape, errors included (`{"__type":
//! "NotAuthorizedException", "message": …}` with `x-amzn-errortype`).
//!
//! SRP's modular exponentiations take milliseconds of CPU, so every
//! operation runs off the async workers. Operators see which operation was
//! asked and how it ended, never its parameters.

use crate::Identity;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;

/// An error in Cognito's shape.
#[derive(Debug)]
pub struct CognitoError {
    pub(crate) kind: &'static str,
    pub(crate) message: String,
    status: StatusCode,
}

impl CognitoError {
    pub(crate) fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    pub(crate) fn not_authorized(message: &str) -> Self {
        Self::new("NotAuthorizedException", message)
    }

    pub(crate) fn wrong_credentials() -> Self {
        Self::not_authorized("Incorrect username or password.")
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterException", message)
    }

    pub(crate) fn internal(error: anyhow::Error) -> Self {
        tracing::error!(error = %error, "identity provider failure");
        Self {
            kind: "InternalErrorException",
            message: "An internal error occurred.".into(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<anyhow::Error> for CognitoError {
    fn from(error: anyhow::Error) -> Self {
        Self::internal(error)
    }
}

impl IntoResponse for CognitoError {
    fn into_response(self) -> Response {
        let body = json!({"__type": self.kind, "message": self.message});
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-amz-json-1.1"),
        );
        headers.insert("x-amzn-errortype", HeaderValue::from_static(self.kind));
        response
    }
}

fn amz_json(body: Value) -> Response {
    let mut response = (StatusCode::OK, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    response
}

/// A required string parameter of a request; missing or empty is Cognito's
/// `InvalidParameterException`.
pub(crate) fn str_param<'a>(params: &'a Value, name: &str) -> Result<&'a str, CognitoError> {
    params
        .get(name)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| CognitoError::invalid(format!("Missing required parameter {name}")))
}

impl Identity {
    /// Runs one operation of the JSON API; `address` is the caller's, for
    /// the throttle.
    pub(crate) fn dispatch(
        &self,
        operation: &str,
        body: &Value,
        address: Option<std::net::IpAddr>,
    ) -> Result<Value, CognitoError> {
        match operation {
            "InitiateAuth" => self.initiate_auth(body, address),
            "RespondToAuthChallenge" => self.respond_to_auth_challenge(body, address),
            "ForgotPassword" => self.forgot_password(body),
            "ConfirmForgotPassword" => self.confirm_forgot_password(body),
            "SignUp" => self.sign_up(body),
            "ConfirmSignUp" => self.confirm_sign_up(body),
            "GetUser" => self.get_user(body),
            "ChangePassword" => self.change_password(body),
            "GlobalSignOut" => self.global_sign_out(body),
            "RevokeToken" => self.revoke_token(body),
            "AssociateSoftwareToken" => self.associate_software_token(body),
            "VerifySoftwareToken" => self.verify_software_token(body),
            "SetUserMFAPreference" => self.set_user_mfa_preference(body),
            other => Err(CognitoError::new(
                "UnknownOperationException",
                format!("The operation {other} is not supported by this identity provider."),
            )),
        }
    }
}

/// `POST /` with `X-Amz-Target: AWSCognitoIdentityProviderService.*`.
pub async fn handle(
    State(identity): State<Arc<Identity>>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let address = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    let Ok(body) = axum::body::to_bytes(body, 256 * 1024).await else {
        return CognitoError::new("SerializationException", "The request body is too large.")
            .into_response();
    };
    let headers = parts.headers;
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(operation) = target.strip_prefix("AWSCognitoIdentityProviderService.") else {
        return CognitoError::new(
            "UnknownOperationException",
            "Missing or unknown X-Amz-Target.",
        )
        .into_response();
    };
    let body: Value = match serde_json::from_slice(&body) {
        Ok(Value::Object(map)) => Value::Object(map),
        Ok(_) | Err(_) => {
            return CognitoError::new(
                "SerializationException",
                "The request body is not a JSON object.",
            )
            .into_response();
        }
    };
    let operation = operation.to_owned();
    // SRP's modular exponentiations take milliseconds of CPU: keep them off
    // the async workers.
    let result = tokio::task::spawn_blocking(move || {
        let result = identity.dispatch(&operation, &body, address);
        // Operators see what was asked and how it ended; never the parameters.
        let outcome = result.as_ref().map_or_else(|e| e.kind, |_| "ok");
        tracing::info!(operation = %operation, outcome, "identity request");
        result
    })
    .await;
    match result {
        Ok(Ok(value)) => amz_json(value),
        Ok(Err(error)) => error.into_response(),
        Err(join) => {
            CognitoError::internal(anyhow::anyhow!("identity task failed: {join}")).into_response()
        }
    }
}
