//! What the object store's answer to a presigned PUT means: a failure in
//! words, and what it means for a part of a multipart upload (try again,
//! presign again, or give up).

use crate::transfer::PartFailure;

/// Why a PUT didn't store the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutFailure {
    /// No answer: offline, or the request was cancelled.
    Unreachable,
    /// The store answered with an error (its S3 error code, when it sent one).
    Refused {
        /// The HTTP status.
        status: u16,
        /// `SignatureDoesNotMatch`, `BadDigest`, … or empty.
        code: String,
    },
}

impl std::fmt::Display for PutFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable => f.write_str("the connection was lost"),
            Self::Refused { code, .. } if code == "AccessDenied" || code == "ExpiredToken" => {
                f.write_str("the upload link expired")
            }
            Self::Refused { code, .. } if code == "BadDigest" => {
                f.write_str("the bytes arrived damaged")
            }
            Self::Refused { status, .. } => {
                f.write_str("the store refused it (")?;
                f.write_str(&status.to_string())?;
                f.write_str(")")
            }
        }
    }
}

impl PutFailure {
    /// A failure from the store's answer: its status and body (an S3 error
    /// document, or anything else a proxy sent).
    pub fn from_answer(status: u16, body: &str) -> Self {
        Self::Refused {
            status,
            code: s3_error_code(body),
        }
    }

    /// What the failure means for a part of a multipart upload.
    pub fn for_part(&self) -> PartFailure {
        match self {
            Self::Unreachable => PartFailure::Dropped,
            Self::Refused { status, .. } if *status >= 500 || *status == 408 || *status == 429 => {
                PartFailure::Dropped
            }
            Self::Refused { code, .. } if code == "AccessDenied" || code == "ExpiredToken" => {
                PartFailure::Expired
            }
            Self::Refused { code, .. }
                if code == "BadDigest" || code == "XAmzContentChecksumMismatch" =>
            {
                PartFailure::BadDigest
            }
            other => PartFailure::Refused(other.to_string()),
        }
    }
}

/// The `<Code>` of an S3 error document, or empty.
fn s3_error_code(body: &str) -> String {
    body.split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_error_documents_are_read_and_worded() {
        let body =
            "<?xml version=\"1.0\"?><Error><Code>BadDigest</Code><Message>x</Message></Error>";
        let failure = PutFailure::from_answer(400, body);
        assert_eq!(failure.for_part(), PartFailure::BadDigest);
        assert_eq!(failure.to_string(), "the bytes arrived damaged");
        let expired = PutFailure::from_answer(403, "<Error><Code>AccessDenied</Code></Error>");
        assert_eq!(expired.for_part(), PartFailure::Expired);
        assert_eq!(expired.to_string(), "the upload link expired");
    }

    #[test]
    fn busy_or_silent_stores_are_tried_again_and_the_rest_given_up() {
        assert_eq!(PutFailure::Unreachable.for_part(), PartFailure::Dropped);
        assert_eq!(
            PutFailure::from_answer(503, "<html>busy</html>").for_part(),
            PartFailure::Dropped
        );
        assert_eq!(
            PutFailure::from_answer(429, "").for_part(),
            PartFailure::Dropped
        );
        let refused = PutFailure::from_answer(400, "<Error><Code>InvalidArgument</Code></Error>");
        assert_eq!(
            refused.for_part(),
            PartFailure::Refused("the store refused it (400)".into())
        );
    }
}
