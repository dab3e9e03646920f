//! The domain's errors, in the API's words.

use crate::ports::PortError;
use ferry_protocol::{ApiError, ErrorCode, PathError};

/// Why a request to the file service was refused. Converts into the API's
/// error body; the message is written for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DomainError {
    /// The stable code.
    pub code: ErrorCode,
    /// The sentence.
    pub message: String,
}

impl DomainError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The file (or another thing) isn't there — or isn't the caller's; the
    /// two are indistinguishable on purpose.
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("There is no such {what}."))
    }

    /// A parameter is out of range or inconsistent.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameter, message)
    }

    /// The name is taken, or something changed meanwhile.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }
}

impl From<PortError> for DomainError {
    fn from(error: PortError) -> Self {
        match error {
            PortError::Conflict(m) => Self::new(ErrorCode::Conflict, m),
            PortError::QuotaExceeded(m) => Self::new(ErrorCode::QuotaExceeded, m),
            PortError::NotFound(m) => Self::new(ErrorCode::NotFound, m),
            PortError::Invalid(m) => Self::new(ErrorCode::InvalidParameter, m),
            PortError::Unavailable(m) => {
                tracing::warn!(error = %m, "a backend is unavailable");
                Self::new(
                    ErrorCode::Unavailable,
                    "The service is busy right now; try again in a moment.",
                )
            }
            PortError::Other(m) => {
                tracing::error!(error = %m, "a backend failed");
                Self::new(
                    ErrorCode::Internal,
                    "Something went wrong on our side; it has been logged.",
                )
            }
        }
    }
}

impl From<PathError> for DomainError {
    fn from(error: PathError) -> Self {
        Self::new(ErrorCode::InvalidName, error.to_string())
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        ApiError::new(error.code, error.message)
    }
}

/// A result of the file service.
pub type DomainResult<T> = Result<T, DomainError>;
