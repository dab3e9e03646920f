//! Thumbnails on the real local stack (issue 20): a photo uploaded through
//! its presigned PUT gets `ThumbnailCreated` in its owner's feed, `POST
//! /api/thumbnails` answers a presigned GET (the same URL within the hour,
//! for the browser's cache) that serves the JPEG; hostile images (damaged,
//! a decompression bomb) end as `ThumbnailFailed` with a code and a
//! sentence, and nothing reaches the dead-letter table; another user's file
//! is not found; deleting a file for good removes its thumbnails.

#![allow(clippy::unwrap_used)]

mod common;

use common::Stack;
use ferry_server::clock::SystemClock;
use serde_json::{Value, json};
use std::sync::Arc;

/// A 640 × 480 photo-like JPEG.
fn jpeg() -> Vec<u8> {
    let image = image::RgbImage::from_fn(640, 480, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 85)
        .encode_image(&image)
        .unwrap();
    bytes
}

/// A 300 × 200 PNG with transparency.
fn png() -> Vec<u8> {
    let image = image::RgbaImage::from_fn(300, 200, |x, y| {
        image::Rgba([(x % 256) as u8, (y % 256) as u8, 90, (x % 200) as u8])
    });
    let mut bytes = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(image)
        .write_to(&mut bytes, image::ImageFormat::Png)
        .unwrap();
    bytes.into_inner()
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    chunk.extend_from_slice(&body);
    chunk.extend_from_slice(&crc32(&body).to_be_bytes());
    chunk
}

/// A PNG of a few dozen bytes whose header claims 100,000 × 100,000 pixels
/// (30 GB decoded): a decompression bomb.
fn bomb() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = 100_000u32.to_be_bytes().to_vec();
    header.extend_from_slice(&100_000u32.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    bytes.extend_from_slice(&png_chunk(b"IHDR", &header));
    let zeros = [
        0x78, 0x9C, 0x63, 0x60, 0x18, 0x05, 0xA3, 0x60, 0x14, 0x0C, 0x77, 0x00, 0x00,
    ];
    bytes.extend_from_slice(&png_chunk(b"IDAT", &zeros));
    bytes.extend_from_slice(&png_chunk(b"IEND", &[]));
    bytes
}

/// Uploads `content` as `name` of `content_type` through its presigned
/// PUT and waits for the bus; the file's id.
async fn upload(
    stack: &Stack,
    token: &str,
    name: &str,
    content_type: &str,
    content: &[u8],
) -> String {
    let create = json!({"Action": "CreateFile", "Folder": "", "Name": name,
                        "Size": content.len(), "ContentType": content_type});
    let created = stack.create_and_put(token, create, content).await;
    stack.settle().await;
    created["file"]["fileId"].as_str().unwrap().to_owned()
}

/// The data of every event of `action` in the user's feed.
async fn events_of(stack: &Stack, token: &str, action: &str) -> Vec<Value> {
    stack
        .events(token)
        .await
        .into_iter()
        .filter(|e| e["data"]["Action"] == action)
        .map(|e| e["data"].clone())
        .collect()
}

async fn thumbnails(stack: &Stack, token: &str, ids: &[&str], size: &str) -> (u16, Value) {
    let reply = stack
        .post(
            token,
            "/api/thumbnails",
            &json!({"fileIds": ids, "size": size}),
        )
        .await;
    (reply.status, reply.json())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_photo_gets_thumbnails_served_by_a_cacheable_url() {
    let stack = Stack::new(Arc::new(SystemClock), |_| {});
    let ann = stack.user("ann").await;
    let bob = stack.user("bob").await;
    let photo = upload(&stack, &ann, "photo.jpg", "image/jpeg", &jpeg()).await;

    // The owner's feed says so, with both sizes, and their checksum's source.
    let created = events_of(&stack, &ann, "ThumbnailCreated").await;
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["FileId"], photo);
    assert_eq!(created[0]["Sizes"][0]["Size"], "small");
    assert_eq!(created[0]["Sizes"][0]["Width"], 64);
    assert_eq!(created[0]["Sizes"][0]["Height"], 48);
    assert_eq!(created[0]["Sizes"][1]["Width"], 320);
    assert_eq!(created[0]["Sizes"][0]["ContentType"], "image/jpeg");
    assert!(events_of(&stack, &bob, "ThumbnailCreated").await.is_empty());

    // A reload's listing carries the state.
    let listing = stack.get(&ann, "/api/files?folder=").await.json();
    assert_eq!(listing["entries"][0]["thumbnail"]["state"], "ready");
    assert_eq!(
        listing["entries"][0]["thumbnail"]["sizes"],
        json!(["small", "medium"])
    );

    // The link, the same when asked again, serves the JPEG.
    let (status, answer) = thumbnails(&stack, &ann, &[&photo], "small").await;
    assert_eq!(status, 200, "{answer}");
    let link = &answer["thumbnails"][0];
    assert_eq!(link["state"], "ready");
    assert_eq!(link["width"], 64);
    let (_, again) = thumbnails(&stack, &ann, &[&photo], "small").await;
    // Signed in the same hour (as the expiry says, unless the hour turned
    // between the two), the very same URL: real SigV4 is deterministic.
    assert!(link["url"].is_string());
    if again["thumbnails"][0]["expiresAt"] == link["expiresAt"] {
        assert_eq!(again["thumbnails"][0]["url"], link["url"]);
    }
    let got = stack
        .presigned(&json!({"method": "GET", "url": link["url"]}), Vec::new())
        .await;
    assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));
    assert_eq!(got.headers["content-type"], "image/jpeg");
    // Shown in place and kept by the browser's cache for the hour its URL
    // stays the same.
    assert_eq!(got.headers["cache-control"], "private, max-age=3600");
    assert!(
        got.headers["content-disposition"]
            .as_bytes()
            .starts_with(b"inline"),
        "{:?}",
        got.headers["content-disposition"]
    );
    let small = image::load_from_memory(&got.body).unwrap();
    assert_eq!((small.width(), small.height()), (64, 48));
    let (_, medium) = thumbnails(&stack, &ann, &[&photo], "medium").await;
    assert_eq!(medium["thumbnails"][0]["width"], 320);
    assert_ne!(medium["thumbnails"][0]["url"], link["url"]);

    // Another user's id is simply not found; nothing of Ann's leaks.
    let (status, foreign) = thumbnails(&stack, &bob, &[&photo], "small").await;
    assert_eq!(status, 200);
    assert_eq!(foreign["thumbnails"][0]["state"], "notFound");
    assert!(foreign["thumbnails"][0].get("url").is_none());
    // Nothing failed on the bus.
    assert!(stack.state.bus.dead_letters().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_png_damaged_files_and_a_bomb_each_end_as_one_event() {
    let stack = Stack::new(Arc::new(SystemClock), |_| {});
    let ann = stack.user("ann").await;
    let png_id = upload(&stack, &ann, "logo.png", "image/png", &png()).await;
    let mut cut = jpeg();
    cut.truncate(cut.len() / 3);
    let cut_id = upload(&stack, &ann, "cut.jpg", "image/jpeg", &cut).await;
    let bomb_id = upload(&stack, &ann, "bomb.png", "image/png", &bomb()).await;
    let text_id = upload(&stack, &ann, "notes.txt", "text/plain", b"hello").await;

    let created = events_of(&stack, &ann, "ThumbnailCreated").await;
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["FileId"], png_id);
    // Transparency is kept: a PNG thumbnail.
    assert_eq!(created[0]["Sizes"][0]["ContentType"], "image/png");
    assert_eq!(created[0]["Sizes"][1]["Width"], 300); // never upscaled

    let failed = events_of(&stack, &ann, "ThumbnailFailed").await;
    let code_of = |id: &str| {
        failed
            .iter()
            .find(|f| f["FileId"] == id)
            .map(|f| (f["Code"].clone(), f["Reason"].as_str().unwrap().to_owned()))
            .unwrap()
    };
    assert_eq!(failed.len(), 2, "{failed:?}");
    let (code, reason) = code_of(&cut_id);
    assert_eq!(code, "Corrupt");
    assert!(reason.ends_with('.'), "{reason}");
    let (code, _) = code_of(&bomb_id);
    assert_eq!(code, "TooManyPixels");

    let ids = [
        png_id.as_str(),
        cut_id.as_str(),
        bomb_id.as_str(),
        text_id.as_str(),
    ];
    let (_, answer) = thumbnails(&stack, &ann, &ids, "small").await;
    let states: Vec<&Value> = answer["thumbnails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["state"])
        .collect();
    assert_eq!(states, ["ready", "failed", "failed", "none"]);
    assert_eq!(answer["thumbnails"][2]["code"], "TooManyPixels");
    assert!(stack.state.bus.dead_letters().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asking_for_too_many_or_no_thumbnails_is_refused_clearly() {
    let stack = Stack::new(Arc::new(SystemClock), |_| {});
    let ann = stack.user("ann").await;
    let ids: Vec<String> = (0..101).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let (status, body) = thumbnails(&stack, &ann, &refs, "small").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "InvalidParameter");
    let (status, _) = thumbnails(&stack, &ann, &[], "small").await;
    assert_eq!(status, 400);
    let (status, body) = thumbnails(&stack, &ann, &refs[..1], "large").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "MalformedRequest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_deleted_for_good_takes_its_thumbnails_along() {
    let stack = Stack::new(Arc::new(SystemClock), |_| {});
    let ann = stack.user("ann").await;
    let photo = upload(&stack, &ann, "photo.jpg", "image/jpeg", &jpeg()).await;
    let thumbs = stack.dir.path().join("data/objects");
    let count = |dir: &std::path::Path| {
        common::walk(dir)
            .into_iter()
            .filter(|p| p.to_string_lossy().contains(&format!("thumbs/{photo}/")))
            .filter(|p| p.file_name().is_some_and(|n| n == "small" || n == "medium"))
            .count()
    };
    assert_eq!(count(&thumbs), 2);
    let deleted = stack
        .command(&ann, json!({"Action": "DeleteFile", "FileId": photo}))
        .await;
    assert_eq!(deleted.status, 202);
    stack.settle().await;
    // In the trash it keeps them.
    assert_eq!(count(&thumbs), 2);
    let trash = stack.get(&ann, "/api/trash").await.json();
    let trash_id = trash["items"][0]["trashId"].as_str().unwrap().to_owned();
    let purged = stack
        .command(
            &ann,
            json!({"Action": "PurgeTrashItem", "TrashId": trash_id}),
        )
        .await;
    assert_eq!(purged.status, 202);
    stack.settle().await;
    assert_eq!(count(&thumbs), 0);
    // The usage never counted them.
    let usage = stack.get(&ann, "/api/usage").await.json();
    assert_eq!(usage["bytes"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_keeps_a_files_thumbnails_and_check_takes_them_for_no_file() {
    let stack = Stack::new(Arc::new(SystemClock), |_| {});
    let ann = stack.user("ann").await;
    let photo = upload(&stack, &ann, "photo.jpg", "image/jpeg", &jpeg()).await;
    let backup = stack.dir.path().join("backup");
    let data = stack.dir.path().join("data");
    ferry_server::maintenance::backup::backup(&data, &backup).unwrap();
    let thumbs: Vec<_> = common::walk(&backup)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(&format!("thumbs/{photo}/")))
        .collect();
    assert_eq!(thumbs.len(), 2, "{thumbs:?}");
    // The scrub finds nothing wrong: thumbnails are neither orphan files
    // nor anyone's bytes.
    let report = ferry_server::maintenance::check::check(
        &data,
        &ferry_server::maintenance::check::CheckOptions::default(),
    )
    .await
    .unwrap();
    assert!(report.healthy(), "{:?}", report.problems);
    assert_eq!(report.problems.len(), 0);
}
