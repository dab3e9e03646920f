//! The file browser in Chromium against the real server: upload, see it
//! indexed, download the same bytes, rename, delete, folders and the URL;
//! once with the WebSocket and once with it refused (the polling path).

use crate::harness::{Browser, Stack, wait_for_text};
use anyhow::{Context, Result};
use std::path::Path;

async fn click(browser: &Browser, name: &str) -> Result<()> {
    browser.find_by_role("button", name).await?.click().await?;
    Ok(())
}

/// Bytes that aren't all alike, so a truncated or shifted copy shows.
fn content(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from((i * 31 + i / 251) % 256).unwrap_or(0))
        .collect()
}

async fn the_whole_flow(stack: Stack, polling: bool) -> Result<()> {
    stack.add_user("demo", "Ferry-demo-1")?;
    let browser = Browser::start().await?;
    browser.sign_in(&stack, "demo", "Ferry-demo-1").await?;
    let files = browser.find_by_role("region", "Files").await?;
    wait_for_text(&files, |t| t.contains("This folder is empty.")).await?;
    // How events reach the page.
    if polling {
        wait_for_text(&files, |t| t.contains("Live (polling)")).await?;
    } else {
        wait_for_text(&files, |t| t.contains("Live") && !t.contains("polling")).await?;
    }
    browser.assert_every_control_is_named().await?;
    browser.screenshot("files-empty").await?;

    // Upload: the bytes go to the presigned URL, then the event says indexed.
    let dir = tempfile::tempdir()?;
    let name = "report 2026.txt";
    let bytes = content(300_000);
    let path = dir.path().join(name);
    std::fs::write(&path, &bytes)?;
    browser
        .find_by_label("Upload files")
        .await?
        .send_keys(path.to_str().context("a UTF-8 path")?)
        .await?;
    let uploads = browser.find_by_role("region", "Uploads").await?;
    wait_for_text(&uploads, |t| t.contains("Indexed")).await?;
    browser
        .find_by_role("progressbar", &format!("Uploading {name}"))
        .await?;
    wait_for_text(&uploads, |t| t.contains("1 of 1 file uploaded")).await?;
    browser
        .find_by_role("button", &format!("Download {name}"))
        .await?;
    browser.find_by_role("grid", "Files in Home").await?;
    browser.assert_every_control_is_named().await?;
    browser.screenshot("files-uploaded").await?;

    // Download: the same bytes, under the file's name.
    click(&browser, &format!("Download {name}")).await?;
    let got = browser.downloaded(name).await?;
    assert_eq!(got.len(), bytes.len(), "the download's size");
    assert!(
        got == bytes,
        "the downloaded bytes differ from the uploaded ones"
    );

    // Rename through the dialog.
    click(&browser, &format!("Rename {name}")).await?;
    browser
        .find_by_role("dialog", &format!("Rename {name}"))
        .await?;
    let field = browser.find_by_label("New name").await?;
    field.clear().await?;
    field.send_keys("summary.txt").await?;
    browser.screenshot("files-rename").await?;
    click(&browser, "Rename").await?;
    browser
        .find_by_role("button", "Download summary.txt")
        .await?;
    browser
        .wait_gone("button", &format!("Download {name}"))
        .await?;

    // Delete: the row goes (to the trash) once the deleter's event arrives.
    click(&browser, "Delete summary.txt").await?;
    browser.wait_gone("button", "Download summary.txt").await?;
    wait_for_text(&files, |t| t.contains("This folder is empty.")).await?;

    // A folder, opened by its link; the URL follows, and back comes home.
    click(&browser, "New folder").await?;
    browser.find_by_role("dialog", "New folder").await?;
    browser
        .find_by_label("Folder name")
        .await?
        .send_keys("Photos")
        .await?;
    click(&browser, "Create").await?;
    browser
        .find_by_role("link", "Photos")
        .await?
        .click()
        .await?;
    let url = browser
        .wait_for_url(&format!("{}/#/Photos", stack.url))
        .await?;
    assert!(url.ends_with("#/Photos"), "{url}");
    browser.find_by_role("navigation", "Breadcrumb").await?;
    wait_for_text(&files, |t| t.contains("This folder is empty.")).await?;
    browser.screenshot("files-folder").await?;
    browser.back().await?;
    browser.find_by_role("link", "Photos").await?;
    browser.find_by_role("grid", "Files in Home").await?;

    // What happened is listed in Activity, with trace ids.
    click(&browser, "Activity").await?;
    let activity = browser.find_by_role("complementary", "Activity").await?;
    let text = wait_for_text(&activity, |t| t.contains("Delete summary.txt")).await?;
    assert!(
        text.contains("Rename report 2026.txt to summary.txt"),
        "{text}"
    );
    assert!(text.contains("FileTrashed"), "{text}");
    assert!(text.contains("Trace "), "{text}");
    browser.screenshot("files-activity").await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn upload_download_rename_delete_with_the_websocket() -> Result<()> {
    the_whole_flow(Stack::start()?, false).await
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn the_same_flow_polls_when_websockets_are_refused() -> Result<()> {
    the_whole_flow(Stack::start_with(&["--no-websockets"])?, true).await
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn a_name_taken_asks_and_keep_both_keeps_both() -> Result<()> {
    let stack = Stack::start()?;
    stack.add_user("demo", "Ferry-demo-1")?;
    let browser = Browser::start().await?;
    browser.sign_in(&stack, "demo", "Ferry-demo-1").await?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, b"first")?;
    let upload = |p: &Path| p.to_str().map(str::to_owned).context("a UTF-8 path");
    browser
        .find_by_label("Upload files")
        .await?
        .send_keys(&upload(&path)?)
        .await?;
    browser.find_by_role("button", "Download notes.txt").await?;
    std::fs::write(&path, b"second")?;
    browser
        .find_by_label("Upload files")
        .await?
        .send_keys(&upload(&path)?)
        .await?;
    browser
        .find_by_role("dialog", "notes.txt already exists")
        .await?;
    browser.screenshot("files-conflict").await?;
    click(&browser, "Keep both").await?;
    let grid = browser.find_by_role("grid", "Files in Home").await?;
    let text = wait_for_text(&grid, |t| t.matches("notes").count() == 2).await?;
    assert!(text.contains("notes.txt"), "{text}");
    Ok(())
}

/// What the API lists in Home, for a failure's message.
const LISTED: &str = r#"
const done = arguments[arguments.length - 1];
const token = JSON.parse(sessionStorage.getItem('ferry.tokens')).access_token;
fetch('/api/files?limit=1000', { headers: { authorization: 'Bearer ' + token } })
  .then(r => r.json()).then(page => done(page.entries.length + ' entries')).catch(e => done(String(e)));
"#;

/// Home's grid, once it lists `count` entries (and its header row).
async fn grid_listing(browser: &Browser, count: usize) -> Result<fantoccini::elements::Element> {
    let grid = browser.find_by_role("grid", "Files in Home").await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let rows = grid.attr("aria-rowcount").await?.unwrap_or_default();
        if rows == (count + 1).to_string() {
            return Ok(grid);
        }
        if std::time::Instant::now() > deadline {
            let listed = browser.run_async(LISTED, vec![]).await?;
            anyhow::bail!(
                "the grid has {rows} rows, not {}; the API lists {listed}",
                count + 1
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn a_long_folder_stays_small_in_the_dom_and_works_by_keyboard() -> Result<()> {
    // Enough to need many screens; each is a durable command (fsync'd).
    const COUNT: usize = 400;
    let stack = Stack::start()?;
    stack.add_user("demo", "Ferry-demo-1")?;
    let browser = Browser::start().await?;
    browser.sign_in(&stack, "demo", "Ferry-demo-1").await?;
    browser.find_by_label("Upload files").await?;
    browser.create_folders(COUNT).await?;
    // Reload: the listing comes page by page from the API.
    browser.goto(&format!("{}/", stack.url)).await?;
    let grid = grid_listing(&browser, COUNT).await?;
    // Virtual scrolling: only the rows in view (and a margin) exist.
    let rendered = browser.count("[role=grid] [role=row]").await?;
    assert!(rendered < 60, "{rendered} rows in the DOM");

    // The keyboard: End goes to the last row, which scrolls into view.
    // (Keys sent to the grid focus it first, as Tab would.)
    grid.send_keys("\u{E010}").await?; // End
    browser.find_by_role("link", "f0399").await?;
    let rendered = browser.count("[role=grid] [role=row]").await?;
    assert!(rendered < 60, "{rendered} rows in the DOM after scrolling");
    // Shift+Up twice selects three rows; Delete asks about all three.
    grid.send_keys("\u{E008}\u{E013}\u{E013}\u{E000}").await?; // Shift, Up, Up, release
    let region = browser.find_by_role("region", "Selection").await?;
    wait_for_text(&region, |t| t.contains("3 selected")).await?;
    grid.send_keys("\u{E017}").await?; // Delete
    browser.find_by_role("dialog", "Delete 3 items?").await?;
    browser.screenshot("files-keyboard-delete").await?;
    click(&browser, "Delete").await?;
    browser.wait_gone("link", "f0399").await?;
    browser.wait_gone("link", "f0397").await?;
    browser.find_by_role("link", "f0396").await?;
    // Escape clears; Home goes back to the top; Enter opens the folder.
    grid.send_keys("\u{E00C}\u{E011}\u{E007}").await?; // Escape, Home, Enter
    browser
        .wait_for_url(&format!("{}/#/f0000", stack.url))
        .await?;
    Ok(())
}

/// Scrolls the file list's body to the top of row `arguments[0]` (from 0)
/// and answers the rendered rows' height, the first row showing at the top
/// of the list, and the body's scroll height.
const SCROLL_TO_ROW: &str = r#"
const [index, done] = arguments;
const grid = document.querySelector('ferry-files').shadowRoot.querySelector('[role=grid]');
const body = grid.querySelectorAll('[role=rowgroup]')[1];
const row = body.querySelector('[role=row]');
body.scrollTop = index * row.offsetHeight;
requestAnimationFrame(() => requestAnimationFrame(() => {
  const top = body.getBoundingClientRect().top;
  const shown = [...body.querySelectorAll('[role=row]')]
    .find((r) => r.getBoundingClientRect().bottom > top + 1);
  done({
    height: row.offsetHeight,
    top: shown?.querySelector('a')?.textContent ?? null,
    scrollHeight: body.scrollHeight,
  });
}));
"#;

/// `--ferry-density` set by the host page, while the list shows, changes
/// the rows' height, and virtual scrolling follows the measured height:
/// scrolled to row 100, row 100 is what shows, and the list is as tall as
/// its rows.
#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn the_hosts_density_sets_the_rows_height_and_scrolling_follows() -> Result<()> {
    const COUNT: usize = 150;
    let stack = Stack::start()?;
    stack.add_user("demo", "Ferry-demo-1")?;
    let browser = Browser::start().await?;
    browser.sign_in(&stack, "demo", "Ferry-demo-1").await?;
    browser.find_by_label("Upload files").await?;
    browser.create_folders(COUNT).await?;
    let grid = grid_listing(&browser, COUNT).await?;

    // Ferry's own density first, then the host page's, set on its root.
    let at = |index: usize| browser.run_async(SCROLL_TO_ROW, vec![serde_json::json!(index)]);
    let before = at(0).await?;
    anyhow::ensure!(
        before["height"] == 44,
        "rows at the default density: {before}"
    );
    browser
        .run_async(
            "document.documentElement.style.setProperty('--ferry-density', '0.75');\
             arguments[0]();",
            vec![],
        )
        .await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = at(100).await?;
        if now["height"] == 33 && now["top"] == "f0100" && now["scrollHeight"] == 33 * COUNT {
            break;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "at density 0.75, scrolled to row 100: {now} (want rows 33 px high, f0100 \
             at the top, and {} px in all)",
            33 * COUNT
        );
    }
    // The keyboard's End still reaches the last row.
    grid.send_keys("\u{E010}").await?; // End
    browser.find_by_role("link", "f0149").await?;
    Ok(())
}

const ACCESS_TOKEN: &str = "arguments[arguments.length - 1](\
    JSON.parse(sessionStorage.getItem('ferry.tokens')).access_token);";

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn a_token_that_expires_mid_session_is_refreshed() -> Result<()> {
    // Access tokens of 20 s: the page refreshes halfway through their life.
    let stack = Stack::start_with(&["--access-token-seconds", "20"])?;
    stack.add_user("demo", "Ferry-demo-1")?;
    let browser = Browser::start().await?;
    browser.sign_in(&stack, "demo", "Ferry-demo-1").await?;
    let first = browser.run_async(ACCESS_TOKEN, vec![]).await?;
    // Well past the first token's expiry.
    tokio::time::sleep(std::time::Duration::from_secs(25)).await;
    let now = browser.run_async(ACCESS_TOKEN, vec![]).await?;
    assert!(
        now.is_string() && now != first,
        "the access token was never refreshed"
    );
    // Still signed in, and the API takes the new token.
    browser.find_by_role("heading", "Signed in as demo").await?;
    click(&browser, "New folder").await?;
    browser
        .find_by_label("Folder name")
        .await?
        .send_keys("After refresh")
        .await?;
    click(&browser, "Create").await?;
    browser.find_by_role("link", "After refresh").await?;
    Ok(())
}

/// Breaks the stored access token's signature, as a rotated signing key or a
/// revoked token would, keeping its claims (so the page still thinks it
/// valid), and returns the broken token.
const BREAK_ACCESS_TOKEN: &str = r#"
const done = arguments[arguments.length - 1];
const tokens = JSON.parse(sessionStorage.getItem('ferry.tokens'));
const [head, body, sig] = tokens.access_token.split('.');
const flipped = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
tokens.access_token = [head, body, flipped].join('.');
sessionStorage.setItem('ferry.tokens', JSON.stringify(tokens));
done(tokens.access_token);
"#;

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn a_refused_token_is_refreshed_and_the_request_sent_again() -> Result<()> {
    let stack = Stack::start()?;
    stack.add_user("demo", "Ferry-demo-1")?;
    let browser = Browser::start().await?;
    browser.sign_in(&stack, "demo", "Ferry-demo-1").await?;
    browser.create_folders(1).await?;
    let broken = browser.run_async(BREAK_ACCESS_TOKEN, vec![]).await?;
    // The reload restores the broken token; the API answers the list with
    // 401, the page refreshes its tokens and asks again.
    browser.goto(&stack.url).await?;
    browser.find_by_role("link", "f0000").await?;
    let now = browser.run_async(ACCESS_TOKEN, vec![]).await?;
    assert!(
        now.is_string() && now != broken,
        "the refused token was kept"
    );
    let alerts = browser
        .run_async(
            "arguments[0]([...deep('[role=alert]')].map(a => a.textContent.trim()).filter(t => t).join(' | '))",
            vec![],
        )
        .await?;
    assert_eq!(alerts, "", "the 401 reached the user");
    Ok(())
}

/// Drops a file made in the page onto the browser, as a drag from the
/// desktop would (a synthetic drop carries files, not folder entries).
const DROP_FILE: &str = r#"
const [name, text, done] = arguments;
const transfer = new DataTransfer();
transfer.items.add(new File([text], name, { type: 'text/plain' }));
const target = deepOne('section[aria-label=Files]');
target.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }));
target.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
done(true);
"#;

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn a_picked_folder_keeps_its_paths_and_a_dropped_file_uploads() -> Result<()> {
    let stack = Stack::start()?;
    stack.add_user("demo", "Ferry-demo-1")?;
    let browser = Browser::start().await?;
    browser.sign_in(&stack, "demo", "Ferry-demo-1").await?;
    let dir = tempfile::tempdir()?;
    let trip = dir.path().join("trip");
    std::fs::create_dir_all(trip.join("day 1"))?;
    std::fs::write(trip.join("plan.txt"), b"plan")?;
    std::fs::write(trip.join("day 1").join("photo.txt"), b"photo")?;
    browser
        .find_by_label("Upload a folder")
        .await?
        .send_keys(trip.to_str().context("a UTF-8 path")?)
        .await?;
    let uploads = browser.find_by_role("region", "Uploads").await?;
    wait_for_text(&uploads, |t| t.contains("2 of 2 files uploaded")).await?;
    browser.find_by_role("link", "trip").await?.click().await?;
    browser.find_by_role("button", "Download plan.txt").await?;
    browser.find_by_role("link", "day 1").await?.click().await?;
    browser.find_by_role("button", "Download photo.txt").await?;
    browser
        .wait_for_url(&format!("{}/#/trip/day%201", stack.url))
        .await?;

    // A file dropped here lands here.
    browser
        .run_async(
            DROP_FILE,
            vec![serde_json::json!("dropped.txt"), serde_json::json!("hi")],
        )
        .await?;
    browser
        .find_by_role("button", "Download dropped.txt")
        .await?;
    browser.screenshot("files-dropped").await?;
    Ok(())
}

/// The accessible name of the focused element, and every live region's text.
const FOCUS_AND_LIVE: &str = r#"
const done = arguments[arguments.length - 1];
const el = deepFocus();
const name = el ? (el.getAttribute('aria-label') || el.labels?.[0]?.textContent?.trim() || el.textContent.trim()) : '';
done({ focused: name, live: [...deep('[aria-live]')].map(e => e.textContent).join(' | ') });
"#;

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn dialogs_keep_the_focus_and_changes_are_announced() -> Result<()> {
    let stack = Stack::start()?;
    stack.add_user("demo", "Ferry-demo-1")?;
    let browser = Browser::start().await?;
    browser.sign_in(&stack, "demo", "Ferry-demo-1").await?;
    let opener = browser.find_by_role("button", "New folder").await?;
    opener.click().await?;
    browser.find_by_role("dialog", "New folder").await?;
    let state = |v: serde_json::Value| {
        (
            v["focused"].as_str().unwrap_or_default().to_owned(),
            v["live"].as_str().unwrap_or_default().to_owned(),
        )
    };
    // Focus starts in the field; Tab cycles inside the dialog.
    let (focused, _) = state(browser.run_async(FOCUS_AND_LIVE, vec![]).await?);
    assert_eq!(focused, "Folder name");
    let field = browser.find_by_label("Folder name").await?;
    field.send_keys("\u{E004}\u{E004}\u{E004}").await?; // Tab ×3: Cancel, Create, back
    let (focused, _) = state(browser.run_async(FOCUS_AND_LIVE, vec![]).await?);
    assert_eq!(focused, "Folder name", "Tab left the dialog");
    // Esc closes it and the focus returns to the button that opened it.
    field.send_keys("\u{E00C}").await?;
    browser.wait_gone("dialog", "New folder").await?;
    let (focused, _) = state(browser.run_async(FOCUS_AND_LIVE, vec![]).await?);
    assert_eq!(focused, "New folder");

    // A change is announced through the live region.
    opener.click().await?;
    browser
        .find_by_label("Folder name")
        .await?
        .send_keys("Reports\u{E007}") // Enter submits
        .await?;
    browser.find_by_role("link", "Reports").await?;
    let (_, live) = state(browser.run_async(FOCUS_AND_LIVE, vec![]).await?);
    assert!(live.contains("Creating folder Reports"), "{live}");
    browser
        .find_by_role("button", "Delete folder Reports")
        .await?
        .click()
        .await?;
    browser.find_by_role("dialog", "Delete Reports?").await?;
    click(&browser, "Delete").await?;
    browser.wait_gone("link", "Reports").await?;
    // Once it is in the trash, the undo offered is announced.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (_, live) = state(browser.run_async(FOCUS_AND_LIVE, vec![]).await?);
        if live.contains("Deleted Reports. Undo is available.") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{live}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    browser.find_by_role("button", "Undo").await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn sort_a_refused_rename_bulk_move_and_search() -> Result<()> {
    let stack = Stack::start()?;
    stack.add_user("demo", "Ferry-demo-1")?;
    let browser = Browser::start().await?;
    browser.sign_in(&stack, "demo", "Ferry-demo-1").await?;
    let dir = tempfile::tempdir()?;
    let (small, big) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
    std::fs::write(&small, b"small")?;
    std::fs::write(&big, content(5_000))?;
    let both = format!(
        "{}\n{}",
        small.to_str().context("UTF-8")?,
        big.to_str().context("UTF-8")?
    );
    browser
        .find_by_label("Upload files")
        .await?
        .send_keys(&both)
        .await?;
    browser.find_by_role("button", "Download a.txt").await?;
    browser.find_by_role("button", "Download b.txt").await?;
    let grid = browser.find_by_role("grid", "Files in Home").await?;
    let order = |t: &str| t.find("a.txt") < t.find("b.txt");
    wait_for_text(&grid, |t| order(t)).await?;

    // Size, then size again: largest first.
    click(&browser, "Size").await?;
    wait_for_text(&grid, |t| order(t)).await?;
    click(&browser, "Size").await?;
    wait_for_text(&grid, |t| !order(t)).await?;

    // A rename onto a taken name is refused with the reason; the row stays.
    click(&browser, "Rename a.txt").await?;
    let field = browser.find_by_label("New name").await?;
    field.clear().await?;
    field.send_keys("b.txt").await?;
    click(&browser, "Rename").await?;
    let files = browser.find_by_role("region", "Files").await?;
    // The mover refuses it (CommandFailed); the page says why.
    wait_for_text(&files, |t| {
        t.contains("A file named “b.txt” is already there.")
    })
    .await?;
    browser.find_by_role("button", "Download a.txt").await?;
    browser.screenshot("files-refused-rename").await?;

    // Both selected, moved into a new folder at once.
    browser
        .find_by_role("checkbox", "Select a.txt")
        .await?
        .click()
        .await?;
    browser
        .find_by_role("checkbox", "Select b.txt")
        .await?
        .click()
        .await?;
    click(&browser, "Move selected").await?;
    browser.find_by_role("dialog", "Move 2 files").await?;
    let field = browser.find_by_label("Destination folder").await?;
    field.clear().await?;
    field.send_keys("archive").await?;
    click(&browser, "Move").await?;
    browser.wait_gone("button", "Download a.txt").await?;
    browser.wait_gone("button", "Download b.txt").await?;
    browser.find_by_role("link", "archive").await?;

    // Search across folders finds it where it went.
    browser
        .find_by_role("searchbox", "Search all files")
        .await?
        .send_keys("b.t\u{E007}")
        .await?;
    browser
        .find_by_role("grid", "Search results for b.t")
        .await?;
    browser.find_by_role("link", "in archive").await?;
    browser.find_by_role("button", "Download b.txt").await?;
    let url = browser.url().await?;
    assert!(url.ends_with("#/?q=b.t"), "{url}");
    browser.screenshot("files-search").await?;
    // Emptying the search box goes back to the folder.
    let search = browser
        .find_by_role("searchbox", "Search all files")
        .await?;
    search.send_keys("\u{E003}\u{E003}\u{E003}").await?; // Backspace ×3
    browser.find_by_role("grid", "Files in Home").await?;
    browser.find_by_role("link", "archive").await?;
    Ok(())
}
