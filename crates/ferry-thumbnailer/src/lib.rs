//! The domain's [`Thumbnailer`] port on `ferry-thumbs`' engine, written
//! once for both hosts: `ferry-server` plugs it into the local stack's
//! consumers, and `ferry-lambda` into the thumbnailer function's (and the
//! API's, which asks it which files get thumbnails). The engine is pure and
//! the domain has no runtime, so this small adapter is where the two meet:
//! the engine's types converted to the protocol's, and the work kept off
//! the async threads.
//!
//! Decoding is CPU work (and, with hostile input, could be long), so each
//! job runs on Tokio's blocking pool, one at a time (a 12-megapixel photo
//! decodes into tens of MiB; several at once would be the process's memory
//! peak — on Lambda an instance takes one event at a time anyway), under a
//! time limit a little longer than the engine's own (which it checks
//! between stages): a job that runs past it is reported as `TimedOut`. Its
//! thread can't be stopped and finishes in the background, but nothing
//! waits for it and the next job starts. A panic the engine didn't catch
//! (a failed blocking task) is a refusal too, so no image can make the bus
//! retry or dead-letter an event.

use async_trait::async_trait;
use ferry_core::ports::{Thumbnail, ThumbnailRefusal, Thumbnailer};
use ferry_protocol::messages::{ThumbnailCode, ThumbnailSize};
use ferry_thumbs::{Failure, Limits, Size};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How much longer than the engine's own time limit a job may take before
/// it is given up: the engine checks its limit between stages only.
pub const GRACE: Duration = Duration::from_secs(10);

/// Thumbnails made by `ferry-thumbs` on the blocking pool.
#[derive(Debug, Clone)]
pub struct EngineThumbnailer {
    limits: Limits,
    permits: Arc<Semaphore>,
}

impl Default for EngineThumbnailer {
    /// The engine's default limits (64 MiB of input, 100 megapixels,
    /// 512 MiB decoded, 20 seconds).
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl EngineThumbnailer {
    /// A thumbnailer keeping `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            permits: Arc::new(Semaphore::new(1)),
        }
    }

    /// The limits it keeps.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}

#[async_trait]
impl Thumbnailer for EngineThumbnailer {
    fn accepts(&self, content_type: &str, name: &str) -> bool {
        ferry_thumbs::is_thumbnailable(content_type, name)
    }

    fn max_input_bytes(&self) -> u64 {
        self.limits.max_input_bytes
    }

    async fn make(&self, bytes: Vec<u8>) -> Result<Vec<Thumbnail>, ThumbnailRefusal> {
        // The semaphore is never closed, so a permit always comes.
        let _permit = self.permits.acquire().await.ok();
        let limits = self.limits.clone();
        let deadline = limits.time_limit + GRACE;
        let job = tokio::task::spawn_blocking(move || ferry_thumbs::thumbnails(&bytes, &limits));
        match tokio::time::timeout(deadline, job).await {
            Ok(Ok(Ok(made))) => Ok(made.into_iter().map(thumbnail).collect()),
            Ok(Ok(Err(failure))) => Err(refusal(&failure)),
            Ok(Err(join)) => {
                tracing::error!(error = %join, "the thumbnail engine failed outside its guard");
                Err(ThumbnailRefusal {
                    code: ThumbnailCode::Corrupt,
                    reason: "Ferry couldn't read this image.".to_owned(),
                })
            }
            Err(_) => Err(refusal(&Failure::TimedOut)),
        }
    }
}

fn thumbnail(made: ferry_thumbs::Thumbnail) -> Thumbnail {
    Thumbnail {
        size: match made.size {
            Size::Small => ThumbnailSize::Small,
            Size::Medium => ThumbnailSize::Medium,
        },
        width: made.width,
        height: made.height,
        content_type: made.content_type.to_owned(),
        bytes: made.bytes,
    }
}

/// The engine's failure in the protocol's codes, with its sentence. The
/// protocol keeps fewer codes than the engine: what a client does about
/// them is the same (a memory limit is a pixel limit by another measure;
/// bytes that are no image, or that a decoder chokes on, are damaged as
/// far as a person can tell).
fn refusal(failure: &Failure) -> ThumbnailRefusal {
    let code = match failure {
        Failure::TooLarge { .. } => ThumbnailCode::TooLarge,
        Failure::TooManyPixels { .. } | Failure::TooMuchMemory { .. } => {
            ThumbnailCode::TooManyPixels
        }
        Failure::Unsupported { .. } => ThumbnailCode::Unsupported,
        Failure::TimedOut => ThumbnailCode::TimedOut,
        Failure::NotAnImage | Failure::Corrupt { .. } | Failure::Internal { .. } => {
            ThumbnailCode::Corrupt
        }
    };
    if let Some(detail) = failure.detail() {
        tracing::info!(code = failure.code(), %detail, "no thumbnail");
    }
    ThumbnailRefusal {
        code,
        reason: failure.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every failure of the engine has a code in the protocol, and keeps
    /// its sentence for people.
    #[test]
    fn every_engine_failure_becomes_a_refusal_with_its_sentence() {
        let cases = [
            (Failure::NotAnImage, ThumbnailCode::Corrupt),
            (Failure::TimedOut, ThumbnailCode::TimedOut),
            (
                Failure::TooLarge {
                    bytes: 10,
                    limit: 5,
                },
                ThumbnailCode::TooLarge,
            ),
        ];
        for (failure, code) in cases {
            let refused = refusal(&failure);
            assert_eq!(refused.code, code);
            assert_eq!(refused.reason, failure.to_string());
            assert!(refused.reason.ends_with('.'), "{}", refused.reason);
        }
    }
}
