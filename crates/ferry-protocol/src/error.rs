//! The one error body every API route answers with.
//!
//! ```json
//! {"code": "InvalidName", "message": "A name can't contain “/”.", "retryable": false, "traceId": "…"}
//! ```
//!
//! `code` is stable and meant for programs; `message` is a sentence meant for
//! people and may change wording.

use serde::{Deserialize, Serialize};

/// A stable, documented reason an API call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum ErrorCode {
    /// The body is not valid JSON or not the expected shape.
    MalformedRequest,
    /// The command's action is not one the API knows.
    UnknownAction,
    /// A file name or path breaks the path rules.
    InvalidName,
    /// A parameter is out of range or inconsistent.
    InvalidParameter,
    /// No valid token, or an expired one.
    Unauthorized,
    /// The file, folder, upload or command does not exist (or is not yours).
    NotFound,
    /// The name is taken, or the entry changed since it was read.
    Conflict,
    /// The upload is larger than allowed.
    TooLarge,
    /// The user's quota would be exceeded.
    QuotaExceeded,
    /// Too many requests; try again later.
    Throttled,
    /// The service can't take the request right now; try again.
    Unavailable,
    /// Something failed on the server; it has been logged.
    Internal,
}

impl ErrorCode {
    /// The HTTP status the API answers this code with.
    pub fn http_status(self) -> u16 {
        match self {
            Self::MalformedRequest | Self::UnknownAction | Self::InvalidName => 400,
            Self::InvalidParameter => 400,
            Self::Unauthorized => 401,
            Self::NotFound => 404,
            Self::Conflict => 409,
            Self::TooLarge => 413,
            Self::QuotaExceeded => 403,
            Self::Throttled => 429,
            Self::Unavailable => 503,
            Self::Internal => 500,
        }
    }

    /// Whether the same request may succeed if sent again later.
    pub fn retryable(self) -> bool {
        matches!(self, Self::Throttled | Self::Unavailable | Self::Internal)
    }
}

/// The body of every API error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
#[error("{message} ({code:?})")]
pub struct ApiError {
    /// What went wrong, for programs.
    pub code: ErrorCode,
    /// What went wrong, for people.
    pub message: String,
    /// Whether sending the same request again may succeed.
    pub retryable: bool,
    /// The trace id of the request, to quote in a support request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

impl ApiError {
    /// An error with `retryable` taken from the code.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retryable: code.retryable(),
            trace_id: None,
        }
    }

    /// The same error, tagged with the request's trace id.
    pub fn with_trace_id(mut self, trace_id: impl Into<String>) -> Self {
        self.trace_id = Some(trace_id.into());
        self
    }
}

impl From<crate::PathError> for ApiError {
    fn from(error: crate::PathError) -> Self {
        Self::new(ErrorCode::InvalidName, error.to_string())
    }
}
