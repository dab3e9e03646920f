//! Previews in Chromium against the real server: an image full size, text
//! as text (its encoding read from its bytes), a video that seeks (the
//! object endpoint answers `Range`), and for anything else the file's facts
//! and a download; ← and → go through the folder's files, Space and Enter
//! open a preview from the list.

use crate::harness::{Browser, Stack, wait_for_text};
use anyhow::{Context, Result};
use serde_json::json;
use sha2::Digest;
use std::path::{Path, PathBuf};

/// A file committed under tests/e2e/fixtures (fixtures/README.md says how
/// each was made).
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/e2e/fixtures")
        .join(name)
}

async fn upload(browser: &Browser, path: &Path) -> Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .context("a UTF-8 name")?;
    browser
        .find_by_label("Upload files")
        .await?
        .send_keys(path.to_str().context("a UTF-8 path")?)
        .await?;
    browser
        .find_by_role("button", &format!("Preview {name}"))
        .await?;
    Ok(())
}

/// The preview dialog, once it shows `name`.
async fn preview_of(browser: &Browser, name: &str) -> Result<fantoccini::elements::Element> {
    browser.find_by_role("dialog", name).await
}

/// An image's natural size once it has loaded: `[width, height]`.
async fn natural_size(
    browser: &Browser,
    img: &fantoccini::elements::Element,
) -> Result<serde_json::Value> {
    browser
        .run_async(
            "const [img, done] = arguments;\
             const look = () => img.complete && img.naturalWidth ? done([img.naturalWidth, img.naturalHeight]) : setTimeout(look, 50);\
             look();",
            vec![serde_json::to_value(img)?],
        )
        .await
}

/// Presses a key in the preview dialog (on its Close button, which is
/// always there and enabled; the key reaches the dialog from it as it would
/// from any control in it).
async fn press(browser: &Browser, key: &str) -> Result<()> {
    browser
        .find_by_role_in("[role=dialog]", "button", "Close")
        .await?
        .send_keys(key)
        .await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn a_preview_shows_an_image_text_a_seeking_video_and_facts_and_the_arrows_go_through_the_folder()
-> Result<()> {
    let stack = Stack::start()?;
    stack.add_user("demo", "Ferry-demo-1")?;
    let browser = Browser::start().await?;
    browser.sign_in(&stack, "demo", "Ferry-demo-1").await?;
    let dir = tempfile::tempdir()?;

    // Sorted by name, as the list shows them.
    let image = dir.path().join("a drawing.png");
    std::fs::copy(fixture("drawing.png"), &image)?;
    let text = dir.path().join("b notes.txt");
    // Latin-1, not UTF-8: the preview reads it as Windows-1252.
    std::fs::write(&text, b"Caf\xE9 notes\nline two\n")?;
    let video = dir.path().join("c clip.webm");
    std::fs::copy(fixture("clip.webm"), &video)?;
    let binary = dir.path().join("d data.bin");
    let bytes: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&binary, &bytes)?;
    for path in [&image, &text, &video, &binary] {
        upload(&browser, path).await?;
    }

    // The image, at its full size.
    browser
        .find_by_role("button", "Preview a drawing.png")
        .await?
        .click()
        .await?;
    preview_of(&browser, "a drawing.png").await?;
    let img = browser.find_by_role("image", "a drawing.png").await?;
    let size = natural_size(&browser, &img).await?;
    assert_eq!(size, json!([160, 120]), "the image's full size");
    assert!(
        browser
            .find_by_role("button", "Previous file")
            .await?
            .attr("disabled")
            .await?
            .is_some(),
        "the first file has no previous one"
    );
    browser.assert_every_control_is_named().await?;

    // → the text, read as the bytes say, shown as text.
    press(&browser, "\u{E014}").await?;
    preview_of(&browser, "b notes.txt").await?;
    let dialog = browser.find_by_role("dialog", "b notes.txt").await?;
    let shown = wait_for_text(&dialog, |t| t.contains("line two")).await?;
    assert!(shown.contains("Café notes"), "{shown}");
    assert!(shown.contains("read as Windows-1252"), "{shown}");

    // → the video: the player knows its whole length before playing, and
    // seeks to the middle (the store answers ranges).
    press(&browser, "\u{E014}").await?;
    preview_of(&browser, "c clip.webm").await?;
    let seek = browser
        .run_async(
            "const done = arguments[arguments.length - 1];\
             const wait = () => { const v = deep('video')[0];\
               if (!v || v.readyState < 1) return setTimeout(wait, 50);\
               const seekable = v.seekable.length ? v.seekable.end(0) : 0;\
               v.addEventListener('seeked', () => done({ duration: v.duration, seekable, at: v.currentTime }), { once: true });\
               v.addEventListener('error', () => done({ error: String(v.error && v.error.message) }), { once: true });\
               v.currentTime = 2.5; };\
             wait();",
            vec![],
        )
        .await?;
    assert!(seek.get("error").is_none(), "the video failed: {seek}");
    let duration = seek["duration"].as_f64().context("a duration")?;
    assert!((duration - 4.0).abs() < 0.2, "the clip is 4 s: {seek}");
    assert!(
        seek["seekable"].as_f64().unwrap_or(0.0) > 3.5,
        "the whole clip is seekable: {seek}"
    );
    assert!(
        (seek["at"].as_f64().unwrap_or(0.0) - 2.5).abs() < 0.3,
        "the video seeked: {seek}"
    );

    // → a file with no preview: its facts, the SHA-256 among them.
    press(&browser, "\u{E014}").await?;
    let dialog = preview_of(&browser, "d data.bin").await?;
    let sha = hex(&sha2::Sha256::digest(&bytes));
    let facts = wait_for_text(&dialog, |t| t.contains("SHA-256")).await?;
    assert!(
        facts.contains("There's no preview of this kind of file."),
        "{facts}"
    );
    assert!(facts.contains(&sha), "{facts}");
    assert!(
        browser
            .find_by_role("button", "Next file")
            .await?
            .attr("disabled")
            .await?
            .is_some(),
        "the last file has no next one"
    );
    // ← goes back.
    press(&browser, "\u{E012}").await?;
    preview_of(&browser, "c clip.webm").await?;

    // Esc closes; Space on a file's row opens its preview, Enter too.
    press(&browser, "\u{E00C}").await?;
    browser.wait_gone("dialog", "c clip.webm").await?;
    let grid = browser.find_by_role("grid", "Files in Home").await?;
    grid.send_keys("\u{E011} ").await?; // Home, Space
    preview_of(&browser, "a drawing.png").await?;
    press(&browser, "\u{E00C}").await?;
    browser.wait_gone("dialog", "a drawing.png").await?;
    grid.send_keys("\u{E015}\u{E007}").await?; // Down, Enter
    preview_of(&browser, "b notes.txt").await?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Waits until the tile of `name` shows a loaded thumbnail; its size.
async fn thumbnail_of(browser: &Browser, name: &str) -> Result<serde_json::Value> {
    browser
        .run_async(
            "const [name, done] = arguments;\
             const started = Date.now();\
             const look = () => {\
               const tile = deep('.ferry-tile').find(t => t.querySelector('.ferry-tile-name')?.textContent === name);\
               const img = tile?.querySelector('img.ferry-thumb');\
               if (img && img.complete && img.naturalWidth) return done([img.naturalWidth, img.naturalHeight]);\
               if (Date.now() - started > 30000) return done({ error: 'no thumbnail', tile: tile ? tile.textContent : null });\
               setTimeout(look, 50);\
             };\
             look();",
            vec![json!(name)],
        )
        .await
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn an_uploaded_photo_gets_its_thumbnail_in_the_tiles_live_and_the_view_is_remembered()
-> Result<()> {
    let stack = Stack::start()?;
    stack.add_user("demo", "Ferry-demo-1")?;
    let browser = Browser::start().await?;
    browser.sign_in(&stack, "demo", "Ferry-demo-1").await?;
    let dir = tempfile::tempdir()?;

    // Tiles, chosen before anything is uploaded.
    let tiles = browser
        .find_by_role_in("[role=group]", "button", "Tiles")
        .await?;
    tiles.click().await?;
    assert_eq!(tiles.attr("aria-pressed").await?.as_deref(), Some("true"));
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "not an image")?;
    upload(&browser, &notes).await?;
    let photo = dir.path().join("holiday.jpg");
    std::fs::copy(fixture("photo.jpg"), &photo)?;
    upload(&browser, &photo).await?;

    // The photo's tile shows its thumbnail (320 px on the long side) when
    // ThumbnailCreated arrives, without a reload; the text file's tile
    // shows its kind.
    let size = thumbnail_of(&browser, "holiday.jpg").await?;
    assert_eq!(size, json!([320, 240]), "the tile's thumbnail");
    let grid = browser.find_by_role("grid", "Files in Home").await?;
    let text = wait_for_text(&grid, |t| t.contains("notes.txt")).await?;
    assert!(text.contains("Text"), "{text}");
    browser.assert_every_control_is_named().await?;
    browser.screenshot("tiles").await?;

    // The keyboard moves across tiles; Enter previews the photo full size.
    grid.send_keys("\u{E011}\u{E014}\u{E007}").await?; // Home, →, Enter
    let dialog = browser.find_by_role("dialog", "notes.txt").await?;
    wait_for_text(&dialog, |t| t.contains("not an image")).await?;
    press(&browser, "\u{E012}").await?; // ←
    browser.find_by_role("dialog", "holiday.jpg").await?;
    let full = browser.find_by_role("image", "holiday.jpg").await?;
    let size = natural_size(&browser, &full).await?;
    assert_eq!(size, json!([640, 480]), "the preview is the full image");

    // A reload keeps the tiles (chosen on this device) and the thumbnail
    // (the listing says it is made).
    browser.goto(&format!("{}/", stack.url)).await?;
    let tiles = browser
        .find_by_role_in("[role=group]", "button", "Tiles")
        .await?;
    assert_eq!(tiles.attr("aria-pressed").await?.as_deref(), Some("true"));
    let size = thumbnail_of(&browser, "holiday.jpg").await?;
    assert_eq!(size, json!([320, 240]), "the thumbnail after a reload");
    Ok(())
}
