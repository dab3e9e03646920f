//! Why a request to the API didn't work, in words a person understands.
//! Plain Rust, tested natively.

use ferry_protocol::{ApiError, ErrorCode};

/// A request that didn't succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiFailure {
    /// No answer: offline, the server down, or a proxy in the way.
    #[error("Ferry can't reach the server. Check your connection; your files are safe.")]
    Unreachable,
    /// The session ended and couldn't be renewed.
    #[error("Your session has ended. Sign in again.")]
    SignedOut,
    /// The API answered with an error.
    #[error("{}", .error.message)]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The error body.
        error: ApiError,
    },
}

impl ApiFailure {
    /// Reads an error answer; a body that isn't the API's error shape (a
    /// proxy's HTML page, say) still gets a sentence.
    pub fn from_response(status: u16, body: &str) -> Self {
        let error = serde_json::from_str::<ApiError>(body).unwrap_or_else(|_| {
            let (code, message) = match status {
                401 | 403 => (ErrorCode::Unauthorized, "You aren't allowed to do that."),
                404 => (ErrorCode::NotFound, "That file or folder no longer exists."),
                413 => (ErrorCode::TooLarge, "That is too large."),
                429 => (
                    ErrorCode::Throttled,
                    "The server is busy. Try again in a moment.",
                ),
                _ => (
                    ErrorCode::Unavailable,
                    "The server had a problem. Try again in a moment.",
                ),
            };
            ApiError {
                code,
                message: message.to_owned(),
                retryable: code.retryable(),
                trace_id: None,
            }
        });
        Self::Refused { status, error }
    }

    /// The API's error code, when it answered.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Self::Refused { error, .. } => Some(error.code),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_apis_own_message_is_shown() {
        let body = r#"{"code":"Conflict","message":"A file named a.txt is already here.","retryable":false,"traceId":"t"}"#;
        let failure = ApiFailure::from_response(409, body);
        assert_eq!(failure.code(), Some(ErrorCode::Conflict));
        assert_eq!(failure.to_string(), "A file named a.txt is already here.");
    }

    #[test]
    fn a_proxys_page_still_gets_a_sentence() {
        let failure = ApiFailure::from_response(502, "<html>Bad gateway</html>");
        assert_eq!(failure.code(), Some(ErrorCode::Unavailable));
        assert!(failure.to_string().contains("Try again"));
        assert_eq!(
            ApiFailure::from_response(404, "").code(),
            Some(ErrorCode::NotFound)
        );
        assert!(ApiFailure::Unreachable.to_string().contains("can't reach"));
    }
}
