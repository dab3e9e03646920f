//! The trash, versions and undo in Chromium against the real server: a
//! deleted file waits in the Trash and comes back with the same bytes; an
//! upload that replaced a file keeps the old one as a version, which can be
//! made current again with the same bytes; a bulk delete is undone in one
//! click and a rename with Ctrl+Z; and a restore whose name is taken asks
//! what to do.

use crate::harness::{Browser, Stack, wait_for_text};
use anyhow::{Context, Result, bail};
use sha2::Digest;
use std::path::Path;
use std::time::{Duration, Instant};

async fn click(browser: &Browser, name: &str) -> Result<()> {
    browser.find_by_role("button", name).await?.click().await?;
    Ok(())
}

/// Bytes that aren't all alike, so a truncated or shifted copy shows;
/// `seed` makes two contents differ.
fn content(len: usize, seed: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from((i * 31 + i / 251 + seed * 7) % 256).unwrap_or(0))
        .collect()
}

async fn upload(browser: &Browser, path: &Path) -> Result<()> {
    browser
        .find_by_label("Upload files")
        .await?
        .send_keys(path.to_str().context("a UTF-8 path")?)
        .await?;
    Ok(())
}

/// Waits for a button whose accessible name starts with `prefix` (a
/// version's controls are named after its time, which the test can't
/// know to the second).
async fn button_starting(browser: &Browser, prefix: &str) -> Result<fantoccini::elements::Element> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut seen = Vec::new();
        for button in browser.find_all("button").await? {
            let Ok((_, name)) = browser.accessible(&button).await else {
                continue;
            };
            if name.starts_with(prefix) {
                return Ok(button);
            }
            seen.push(name);
        }
        if Instant::now() > deadline {
            bail!("no button named {prefix:?}…; buttons seen: {seen:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The undo offered, once it says `text`.
async fn offered(browser: &Browser, text: &str) -> Result<()> {
    let notice = browser.find_by_role("group", "Last action").await?;
    wait_for_text(&notice, |t| t.contains(text)).await?;
    Ok(())
}

async fn signed_in() -> Result<(Stack, Browser)> {
    let stack = Stack::start()?;
    stack.add_user("demo", "Ferry-demo-1")?;
    let browser = Browser::start().await?;
    browser.sign_in(&stack, "demo", "Ferry-demo-1").await?;
    browser.find_by_label("Upload files").await?;
    Ok((stack, browser))
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn a_deleted_file_waits_in_the_trash_and_comes_back_whole() -> Result<()> {
    let (_stack, browser) = signed_in().await?;
    let dir = tempfile::tempdir()?;
    let name = "keep me.txt";
    let bytes = content(200_000, 1);
    let path = dir.path().join(name);
    std::fs::write(&path, &bytes)?;
    upload(&browser, &path).await?;
    browser
        .find_by_role("button", &format!("Download {name}"))
        .await?;

    // Deleted: the row goes, and an undo is offered (not taken here).
    click(&browser, &format!("Delete {name}")).await?;
    browser
        .wait_gone("button", &format!("Download {name}"))
        .await?;
    offered(&browser, &format!("Deleted {name}")).await?;
    let usage = browser.find_by_role("region", "Files").await?;
    wait_for_text(&usage, |t| t.contains("in the trash")).await?;

    // In the Trash: where it was, its size, and what the trash costs.
    click(&browser, "Trash").await?;
    let trash = browser.find_by_role("region", "Trash").await?;
    let text = wait_for_text(&trash, |t| t.contains(name)).await?;
    assert!(text.contains("Home"), "{text}");
    assert!(text.contains("200 KB"), "{text}");
    assert!(text.contains("count toward your storage"), "{text}");
    assert!(text.contains("deleted forever after"), "{text}");
    browser.assert_every_control_is_named().await?;
    browser.screenshot("trash-one-file").await?;

    // Restored: it leaves the Trash, and downloads with the same bytes.
    click(&browser, &format!("Restore {name}")).await?;
    wait_for_text(&trash, |t| t.contains("The trash is empty.")).await?;
    click(&browser, "Back to files").await?;
    click(&browser, &format!("Download {name}")).await?;
    let got = browser.downloaded(name).await?;
    assert_eq!(got.len(), bytes.len(), "the restored download's size");
    assert!(
        got == bytes,
        "the restored bytes differ from the uploaded ones"
    );

    // Deleted again, then the trash emptied, after a question.
    click(&browser, &format!("Delete {name}")).await?;
    browser
        .wait_gone("button", &format!("Download {name}"))
        .await?;
    click(&browser, "Trash").await?;
    let trash = browser.find_by_role("region", "Trash").await?;
    wait_for_text(&trash, |t| t.contains(name)).await?;
    click(&browser, "Empty trash").await?;
    browser.find_by_role("dialog", "Empty the trash?").await?;
    browser.screenshot("trash-empty-question").await?;
    click(&browser, "Delete everything forever").await?;
    wait_for_text(&trash, |t| t.contains("The trash is empty.")).await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn a_replaced_file_keeps_its_old_version_to_restore() -> Result<()> {
    let (_stack, browser) = signed_in().await?;
    let dir = tempfile::tempdir()?;
    let name = "plan.txt";
    let path = dir.path().join(name);
    let (first, second) = (content(70_000, 2), content(90_000, 3));
    std::fs::write(&path, &first)?;
    upload(&browser, &path).await?;
    browser
        .find_by_role("button", &format!("Download {name}"))
        .await?;

    // The same name again, replacing it: the old one becomes a version.
    std::fs::write(&path, &second)?;
    upload(&browser, &path).await?;
    browser
        .find_by_role("dialog", &format!("{name} already exists"))
        .await?;
    click(&browser, "Replace").await?;
    offered(&browser, &format!("Replaced {name}")).await?;

    // The versions: the first upload, by whom, with its SHA-256.
    click(&browser, &format!("Versions of {name}")).await?;
    let panel = browser
        .find_by_role("dialog", &format!("Versions of {name}"))
        .await?;
    let first_sha = hex(&sha2::Sha256::digest(&first));
    let text = wait_for_text(&panel, |t| t.contains(&first_sha)).await?;
    assert!(text.contains("demo"), "{text}");
    assert!(text.contains("70 KB"), "{text}");
    browser.assert_every_control_is_named().await?;
    browser.screenshot("versions").await?;
    button_starting(&browser, "Download version from ").await?;
    button_starting(&browser, "Delete version from ").await?;

    // The first made current again: the download is its bytes.
    button_starting(&browser, "Restore version from ")
        .await?
        .click()
        .await?;
    offered(&browser, &format!("Restored the version of {name}")).await?;
    // The panel follows: the first upload is current (listed first), the
    // second the earlier version.
    let second_sha = hex(&sha2::Sha256::digest(&second));
    wait_for_text(&panel, |t| {
        match (t.find(&first_sha), t.find(&second_sha)) {
            (Some(current), Some(earlier)) => current < earlier,
            _ => false,
        }
    })
    .await?;
    click(&browser, "Close").await?;
    browser
        .wait_gone("dialog", &format!("Versions of {name}"))
        .await?;
    click(&browser, &format!("Download {name}")).await?;
    let got = browser.downloaded(name).await?;
    assert!(
        got == first,
        "the restored version's bytes differ from the first upload's ({} bytes)",
        got.len()
    );
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn a_bulk_delete_is_undone_in_one_click() -> Result<()> {
    let (_stack, browser) = signed_in().await?;
    browser.create_folders(2).await?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("with them.txt");
    std::fs::write(&path, content(5_000, 4))?;
    upload(&browser, &path).await?;
    browser
        .find_by_role("button", "Download with them.txt")
        .await?;
    browser.find_by_role("link", "f0001").await?;

    browser.find_by_label("Select all").await?.click().await?;
    click(&browser, "Delete selected").await?;
    browser.find_by_role("dialog", "Delete 3 items?").await?;
    click(&browser, "Delete").await?;
    browser.wait_gone("link", "f0000").await?;
    browser.wait_gone("link", "f0001").await?;
    browser
        .wait_gone("button", "Download with them.txt")
        .await?;
    offered(&browser, "Deleted 3 items").await?;
    browser.screenshot("undo-offered").await?;

    // One click brings all three back, and the trash is empty again.
    click(&browser, "Undo").await?;
    browser.find_by_role("link", "f0000").await?;
    browser.find_by_role("link", "f0001").await?;
    browser
        .find_by_role("button", "Download with them.txt")
        .await?;
    click(&browser, "Trash").await?;
    let trash = browser.find_by_role("region", "Trash").await?;
    wait_for_text(&trash, |t| t.contains("The trash is empty.")).await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn a_restore_whose_name_is_taken_asks() -> Result<()> {
    let (_stack, browser) = signed_in().await?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("dup.txt");
    std::fs::write(&path, b"the first dup")?;
    upload(&browser, &path).await?;
    click(&browser, "Delete dup.txt").await?;
    browser.wait_gone("button", "Download dup.txt").await?;
    // Another file takes the name while the first is in the trash.
    std::fs::write(&path, b"the second dup")?;
    upload(&browser, &path).await?;
    browser.find_by_role("button", "Download dup.txt").await?;

    click(&browser, "Trash").await?;
    let trash = browser.find_by_role("region", "Trash").await?;
    wait_for_text(&trash, |t| t.contains("dup.txt")).await?;
    click(&browser, "Restore dup.txt").await?;
    browser
        .find_by_role("dialog", "dup.txt already exists")
        .await?;
    browser.assert_every_control_is_named().await?;
    browser.screenshot("trash-restore-conflict").await?;
    click(&browser, "Keep both").await?;
    wait_for_text(&trash, |t| t.contains("The trash is empty.")).await?;
    click(&browser, "Back to files").await?;
    let grid = browser.find_by_role("grid", "Files in Home").await?;
    let text = wait_for_text(&grid, |t| t.matches("dup").count() == 2).await?;
    assert!(text.contains("dup.txt"), "{text}");
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn a_rename_is_undone_from_the_keyboard() -> Result<()> {
    let (_stack, browser) = signed_in().await?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("draft.txt");
    std::fs::write(&path, b"words")?;
    upload(&browser, &path).await?;
    click(&browser, "Rename draft.txt").await?;
    browser.find_by_role("dialog", "Rename draft.txt").await?;
    let field = browser.find_by_label("New name").await?;
    field.clear().await?;
    field.send_keys("final.txt").await?;
    click(&browser, "Rename").await?;
    browser.find_by_role("button", "Download final.txt").await?;
    offered(&browser, "Renamed draft.txt to final.txt").await?;

    // Ctrl+Z in the list undoes it: the old name is back.
    let grid = browser.find_by_role("grid", "Files in Home").await?;
    grid.send_keys("\u{E009}z\u{E000}").await?; // Control, z, release
    browser.find_by_role("button", "Download draft.txt").await?;
    browser.wait_gone("button", "Download final.txt").await?;
    browser.wait_gone("group", "Last action").await?;
    Ok(())
}
