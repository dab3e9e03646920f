//! A thumbnailer for the domain's rules: it takes `image/*` files (but
//! SVG) and "makes" thumbnails that say what they were made of, so a test
//! can tell them apart without decoding anything. Content starting with
//! `corrupt` fails as `Corrupt`, with `bomb` as `TooManyPixels`: the
//! refusals the real engine (`ferry-thumbs`) gives, without its images.
//! The real engine is tested through `ferry-server`'s adapter.

use crate::ports::{Thumbnail, ThumbnailRefusal, Thumbnailer};
use async_trait::async_trait;
use ferry_protocol::messages::{ThumbnailCode, ThumbnailSize};

/// The thumbnailer.
#[derive(Debug, Clone)]
pub struct MemoryThumbnailer {
    /// The largest input read.
    pub max_input_bytes: u64,
}

impl Default for MemoryThumbnailer {
    /// Reads up to 1 MiB.
    fn default() -> Self {
        Self {
            max_input_bytes: 1024 * 1024,
        }
    }
}

#[async_trait]
impl Thumbnailer for MemoryThumbnailer {
    fn accepts(&self, content_type: &str, _name: &str) -> bool {
        content_type.starts_with("image/") && !content_type.starts_with("image/svg")
    }

    fn max_input_bytes(&self) -> u64 {
        self.max_input_bytes
    }

    async fn make(&self, bytes: Vec<u8>) -> Result<Vec<Thumbnail>, ThumbnailRefusal> {
        let refuse = |code, reason: &str| ThumbnailRefusal {
            code,
            reason: reason.to_owned(),
        };
        if bytes.starts_with(b"corrupt") {
            return Err(refuse(ThumbnailCode::Corrupt, "The image is damaged."));
        }
        if bytes.starts_with(b"bomb") {
            return Err(refuse(
                ThumbnailCode::TooManyPixels,
                "The image has too many pixels.",
            ));
        }
        Ok(ThumbnailSize::ALL
            .into_iter()
            .map(|size| {
                let side = match size {
                    ThumbnailSize::Small => 64,
                    ThumbnailSize::Medium => 320,
                };
                Thumbnail {
                    size,
                    width: side,
                    height: side / 2,
                    content_type: "image/jpeg".to_owned(),
                    bytes: format!("{}:{}", size.as_str(), bytes.len()).into_bytes(),
                }
            })
            .collect())
    }
}
