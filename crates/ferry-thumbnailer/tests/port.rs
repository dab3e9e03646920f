//! The port as the consumers meet it: a real photo gives two JPEG
//! thumbnails, smallest first; damaged bytes and a time limit that runs
//! out give refusals with a sentence, never a panic.

#![allow(clippy::unwrap_used)]

use ferry_core::ports::Thumbnailer as _;
use ferry_protocol::messages::{ThumbnailCode, ThumbnailSize};
use ferry_thumbnailer::EngineThumbnailer;
use ferry_thumbs::Limits;
use std::time::Duration;

/// A 640 × 480 JPEG photo (the end-to-end tests' fixture).
fn photo() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/e2e/fixtures/photo.jpg"
    ))
    .unwrap()
}

#[tokio::test]
async fn a_photo_becomes_a_small_and_a_medium_jpeg() {
    let thumbnailer = EngineThumbnailer::default();
    assert!(thumbnailer.accepts("image/jpeg", "photo.jpg"));
    assert!(!thumbnailer.accepts("image/svg+xml", "drawing.svg"));
    let made = thumbnailer.make(photo()).await.unwrap();
    let sizes: Vec<_> = made.iter().map(|t| (t.size, t.width, t.height)).collect();
    assert_eq!(
        sizes,
        [
            (ThumbnailSize::Small, 64, 48),
            (ThumbnailSize::Medium, 320, 240)
        ]
    );
    for thumbnail in &made {
        assert_eq!(thumbnail.content_type, "image/jpeg");
        assert!(thumbnail.bytes.starts_with(&[0xFF, 0xD8]), "a JPEG");
    }
}

#[tokio::test]
async fn damaged_bytes_and_an_exhausted_time_limit_are_refusals_with_a_sentence() {
    let thumbnailer = EngineThumbnailer::default();
    let mut truncated = photo();
    truncated.truncate(truncated.len() / 2);
    for bytes in [b"not an image at all".to_vec(), truncated] {
        let refused = thumbnailer.make(bytes).await.unwrap_err();
        assert_eq!(refused.code, ThumbnailCode::Corrupt, "{}", refused.reason);
        assert!(refused.reason.ends_with('.'), "{}", refused.reason);
    }
    // No time at all: the engine's first check between stages stops it.
    let hurried = EngineThumbnailer::new(Limits {
        time_limit: Duration::ZERO,
        ..Limits::default()
    });
    let refused = hurried.make(photo()).await.unwrap_err();
    assert_eq!(refused.code, ThumbnailCode::TimedOut, "{}", refused.reason);
}
