//! The one error type handlers return, and its mapping to the API's
//! documented JSON error body.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ferry_protocol::{ApiError, ErrorCode};

/// An error a handler returns. The client sees the stable [`ApiError`] body;
/// internal causes are logged, never shown.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A failure the client caused or can act on.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A failure inside the server.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// A client-facing error.
    pub fn api(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Api(ApiError::new(code, message))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = match self {
            Self::Api(body) => body,
            Self::Internal(cause) => {
                tracing::error!(error = %cause, "internal error");
                ApiError::new(ErrorCode::Internal, "Something went wrong on the server.")
            }
        };
        let status = StatusCode::from_u16(body.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(body)).into_response()
    }
}
