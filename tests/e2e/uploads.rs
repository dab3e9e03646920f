//! Large uploads: checksummed parts sent several at once, the whole file's
//! SHA-256 in the index (and a downloaded copy checked against it), pause
//! and resume (past the upload links' expiry),
//! and cancel leaving no parts behind.

use crate::harness::{Browser, Stack, wait_for_text};
use anyhow::{Context, Result, bail};
use serde_json::json;
use sha2::Digest as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const MIB: usize = 1024 * 1024;

/// The server's flags for these tests: files from 5 MiB go up in parts of
/// 5 MiB (the smallest S3 allows), so a few dozen MiB make many parts.
const SMALL_PARTS: [&str; 4] = [
    "--multipart-threshold-bytes",
    "5242880",
    "--part-size-bytes",
    "5242880",
];

/// A file of `len` bytes that no two parts share, written under `dir`.
fn generated(dir: &Path, name: &str, len: usize) -> Result<(PathBuf, Vec<u8>)> {
    let bytes: Vec<u8> = (0..len)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 24) as u8 ^ (i >> 20) as u8)
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, &bytes)?;
    Ok((path, bytes))
}

fn hex_sha256(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The file's record as the API lists it in the home folder.
const FILE_RECORD: &str = r#"
const [name, done] = [arguments[0], arguments[arguments.length - 1]];
const token = JSON.parse(sessionStorage.getItem('ferry.tokens')).access_token;
fetch('/api/files?folder=', { headers: { authorization: 'Bearer ' + token } })
  .then(r => r.json())
  .then(page => done((page.entries || page.items || []).map(e => e.file || e).find(f => f.name === name) || null))
  .catch(e => done(String(e)));
"#;

/// Picks the file, then clicks its Pause button as soon as any byte is on
/// its way (so some parts are presigned and some sent).
const PICK_THEN_PAUSE: &str = r#"
const [name, done] = [arguments[0], arguments[arguments.length - 1]];
const started = performance.now();
(function look() {
  const bar = deepOne(`progress[aria-label="Uploading ${name}"]`);
  const pause = deepOne(`button[aria-label="Pause ${name}"]`);
  if (bar && pause && Number(bar.value) > 0) { pause.click(); done(Number(bar.value)); return; }
  if (performance.now() - started > 20000) { done('never started'); return; }
  requestAnimationFrame(look);
})();
"#;

/// The files of open multipart uploads (parts and their records) in a
/// server's data directory.
fn leftover_parts(data: &Path) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let mut dirs = vec![data.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type()?.is_dir() {
                dirs.push(entry.path());
            } else if name.starts_with(".upload_id-") || name.starts_with(".upload-") {
                found.push(name);
            }
        }
    }
    Ok(found)
}

/// After a resumed upload: it was indexed, each of its `count` parts was
/// stored exactly once, none stored before the reload (`before`) was sent
/// again, and the index has the source's SHA-256.
async fn resumed_exactly(
    browser: &Browser,
    proxy: &crate::proxy::Proxy,
    name: &str,
    count: u32,
    before: &[u32],
    bytes: &[u8],
) -> Result<()> {
    let uploads = browser.find_by_role("region", "Uploads").await?;
    wait_for_text(&uploads, |t| t.contains("Indexed") || t.contains("Failed")).await?;
    let text = uploads.text().await?;
    assert!(text.contains("Indexed"), "{text}");
    for part in 1..=count {
        let answers = proxy.part_answers(part);
        let ok = answers.iter().filter(|a| **a == Some(200)).count();
        assert_eq!(ok, 1, "part {part} was stored {ok} times: {answers:?}");
    }
    let resent: Vec<u32> = before
        .iter()
        .copied()
        .filter(|&n| proxy.part_answers(n).len() > 1)
        .collect();
    assert!(resent.is_empty(), "parts {resent:?} were sent again");
    let record = browser.run_async(FILE_RECORD, vec![json!(name)]).await?;
    assert_eq!(record["sha256"], json!(hex_sha256(bytes)), "{record}");
    Ok(())
}

async fn signed_in(flags: &[&str]) -> Result<(Stack, Browser)> {
    let stack = Stack::start_with(flags)?;
    stack.add_user("demo", "Ferry-demo-1")?;
    let browser = Browser::start().await?;
    browser.sign_in(&stack, "demo", "Ferry-demo-1").await?;
    Ok((stack, browser))
}

/// Like [`signed_in`], with the stack reached through a fault-injecting
/// proxy the test controls.
async fn signed_in_behind(flags: &[&str]) -> Result<(crate::proxy::Proxy, Stack, Browser)> {
    let (proxy, listener) = crate::proxy::Proxy::bind().await?;
    let stack = Stack::start_behind(&proxy, listener, flags).await?;
    stack.add_user("demo", "Ferry-demo-1")?;
    let browser = Browser::start().await?;
    browser.sign_in(&stack, "demo", "Ferry-demo-1").await?;
    Ok((proxy, stack, browser))
}

async fn pick(browser: &Browser, path: &Path) -> Result<()> {
    browser
        .find_by_label("Upload files")
        .await?
        .send_keys(path.to_str().context("a UTF-8 path")?)
        .await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn a_large_file_goes_up_in_checksummed_parts_and_keeps_its_sha256() -> Result<()> {
    let (stack, browser) = signed_in(&SMALL_PARTS).await?;
    let dir = tempfile::tempdir()?;
    // Five whole 5 MiB parts and a short sixth; and one under the threshold.
    let (path, bytes) = generated(dir.path(), "big.bin", 25 * MIB + 4321)?;
    let (small_path, small) = generated(dir.path(), "small.bin", MIB + 7)?;
    pick(&browser, &path).await?;
    pick(&browser, &small_path).await?;
    let uploads = browser.find_by_role("region", "Uploads").await?;
    wait_for_text(&uploads, |t| t.matches("Indexed").count() == 2).await?;
    // The index has the SHA-256 the store computed as it joined the
    // checked parts, and it is the source's.
    let record = browser
        .run_async(FILE_RECORD, vec![json!("big.bin")])
        .await?;
    assert_eq!(record["sha256"], json!(hex_sha256(&bytes)), "{record}");
    assert_eq!(record["size"], json!(bytes.len()));
    // The small file's SHA-256 (WebCrypto, before CreateFile) was signed
    // into its PUT and kept.
    let record = browser
        .run_async(FILE_RECORD, vec![json!("small.bin")])
        .await?;
    assert_eq!(record["sha256"], json!(hex_sha256(&small)), "{record}");
    // The stored object is the source, byte for byte.
    browser
        .find_by_role("button", "Download big.bin")
        .await?
        .click()
        .await?;
    let downloaded = browser.downloaded("big.bin").await?;
    assert_eq!(hex_sha256(&downloaded), hex_sha256(&bytes));
    assert!(leftover_parts(&stack.data_dir())?.is_empty());

    // The downloaded copy checks out against the index's SHA-256; a copy
    // with one byte changed, or one cut short, doesn't.
    let copy = dir.path().join("copy of big.bin");
    std::fs::write(&copy, &downloaded)?;
    let mut changed = downloaded.clone();
    changed[17 * MIB] ^= 1;
    let damaged = dir.path().join("damaged big.bin");
    std::fs::write(&damaged, &changed)?;
    let short = dir.path().join("short big.bin");
    std::fs::write(&short, &downloaded[..MIB])?;
    browser
        .find_by_role("button", "Check a copy of big.bin")
        .await?
        .click()
        .await?;
    let dialog = browser
        .find_by_role("dialog", "Check a copy of big.bin")
        .await?;
    for (file, verdict) in [
        (&copy, "Your copy matches the stored file"),
        (&damaged, "its SHA-256 is another"),
        (&short, "it has 1.0 MB, the stored file 26 MB"),
        (&copy, "Your copy matches the stored file"),
    ] {
        browser
            .find_by_label("Your copy of big.bin")
            .await?
            .send_keys(file.to_str().context("a UTF-8 path")?)
            .await?;
        wait_for_text(&dialog, |t| t.contains(verdict)).await?;
    }
    browser.assert_every_control_is_named().await?;
    browser.screenshot("upload-verified-copy").await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn a_paused_upload_resumes_after_its_links_expired() -> Result<()> {
    // Upload links live 2 s: a pause of 4 s outlives every one presigned.
    let (_stack, browser) =
        signed_in(&[&SMALL_PARTS[..], &["--upload-link-seconds", "2"]].concat()).await?;
    let dir = tempfile::tempdir()?;
    let (path, bytes) = generated(dir.path(), "paused.bin", 120 * MIB + 99)?;
    pick(&browser, &path).await?;
    let at = browser
        .run_async(PICK_THEN_PAUSE, vec![json!("paused.bin")])
        .await?;
    if !at.is_number() {
        bail!("the upload never started: {at}");
    }
    let uploads = browser.find_by_role("region", "Uploads").await?;
    wait_for_text(&uploads, |t| t.contains("Paused")).await?;
    browser.assert_every_control_is_named().await?;
    browser.screenshot("upload-paused").await?;
    let resume = browser.find_by_role("button", "Resume paused.bin").await?;
    // Paused: the bar stays where it is.
    let bar = browser
        .find_by_role("progressbar", "Uploading paused.bin")
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = bar.attr("value").await?.unwrap_or_default();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let after = bar.attr("value").await?.unwrap_or_default();
    assert_eq!(before, after, "bytes went up while paused");
    assert!(
        after.parse::<f64>().unwrap_or(0.0) < bytes.len() as f64,
        "the upload ended before the pause"
    );
    resume.click().await?;
    wait_for_text(&uploads, |t| t.contains("Indexed") || t.contains("Failed")).await?;
    let text = uploads.text().await?;
    assert!(text.contains("Indexed"), "{text}");
    let record = browser
        .run_async(FILE_RECORD, vec![json!("paused.bin")])
        .await?;
    assert_eq!(record["sha256"], json!(hex_sha256(&bytes)), "{record}");
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn a_cancelled_upload_leaves_no_parts_on_the_server() -> Result<()> {
    let (stack, browser) = signed_in(&SMALL_PARTS).await?;
    let dir = tempfile::tempdir()?;
    let (path, _) = generated(dir.path(), "gone.bin", 120 * MIB)?;
    pick(&browser, &path).await?;
    let at = browser
        .run_async(PICK_THEN_PAUSE, vec![json!("gone.bin")])
        .await?;
    if !at.is_number() {
        bail!("the upload never started: {at}");
    }
    // Parts are on the server now (stored before the pause).
    let deadline = Instant::now() + Duration::from_secs(20);
    while leftover_parts(&stack.data_dir())?.is_empty() {
        if Instant::now() > deadline {
            bail!("no part was ever stored");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    browser
        .find_by_role("button", "Cancel gone.bin")
        .await?
        .click()
        .await?;
    let uploads = browser.find_by_role("region", "Uploads").await?;
    wait_for_text(&uploads, |t| t.contains("Cancelled")).await?;
    // The multipart upload is aborted: no part and no record of it remain.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = leftover_parts(&stack.data_dir())?;
        if left.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            bail!("parts left on the server: {left:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let record = browser
        .run_async(FILE_RECORD, vec![json!("gone.bin")])
        .await?;
    assert_eq!(record, json!(null), "the cancelled file is still listed");
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn dropped_damaged_and_expired_parts_are_sent_again() -> Result<()> {
    use crate::proxy::{Fault, Rule};
    // Links live 2 s; part 5 is held back 3 s, past its link's expiry.
    let (proxy, _stack, browser) =
        signed_in_behind(&[&SMALL_PARTS[..], &["--upload-link-seconds", "2"]].concat()).await?;
    // Part 2's connection drops twice midway; part 4 arrives damaged once.
    proxy.add(Rule {
        part: 2,
        fault: Fault::Cut(MIB),
        times: 2,
    });
    proxy.add(Rule {
        part: 4,
        fault: Fault::Corrupt(12_345),
        times: 1,
    });
    proxy.add(Rule {
        part: 5,
        fault: Fault::Delay(Duration::from_secs(3)),
        times: 1,
    });
    let dir = tempfile::tempdir()?;
    let (path, bytes) = generated(dir.path(), "rough.bin", 30 * MIB + 17)?;
    pick(&browser, &path).await?;
    let uploads = browser.find_by_role("region", "Uploads").await?;
    wait_for_text(&uploads, |t| t.contains("Indexed") || t.contains("Failed")).await?;
    let text = uploads.text().await?;
    assert!(text.contains("Indexed"), "{text}");
    // Each fault happened, and the part was sent again until stored. With
    // 2 s links, a loaded machine may see a link expire anywhere (403, then
    // presigned again): those answers are set aside, except for part 5's.
    let answers = |part: u32| -> Vec<Option<u16>> {
        proxy
            .part_answers(part)
            .into_iter()
            .filter(|a| *a != Some(403))
            .collect()
    };
    assert_eq!(
        answers(2),
        vec![None, None, Some(200)],
        "{:?}",
        proxy.part_answers(2)
    );
    assert_eq!(
        answers(4),
        vec![Some(400), Some(200)],
        "{:?}",
        proxy.part_answers(4)
    );
    let held = proxy.part_answers(5);
    assert_eq!(held.first(), Some(&Some(403)), "{held:?}");
    assert_eq!(answers(5), vec![Some(200)], "{held:?}");
    for part in [1, 3, 6, 7] {
        assert_eq!(
            answers(part),
            vec![Some(200)],
            "part {part}: {:?}",
            proxy.part_answers(part)
        );
    }
    // And the file is whole.
    let record = browser
        .run_async(FILE_RECORD, vec![json!("rough.bin")])
        .await?;
    assert_eq!(record["sha256"], json!(hex_sha256(&bytes)), "{record}");
    browser
        .find_by_role("button", "Download rough.bin")
        .await?
        .click()
        .await?;
    assert_eq!(
        hex_sha256(&browser.downloaded("rough.bin").await?),
        hex_sha256(&bytes)
    );
    Ok(())
}

/// How many files the API lists in a folder (all pages).
const COUNT_FILES: &str = r#"
const [folder, done] = [arguments[0], arguments[arguments.length - 1]];
const token = JSON.parse(sessionStorage.getItem('ferry.tokens')).access_token;
(async () => {
  let count = 0, cursor = null;
  do {
    const url = '/api/files?limit=1000&folder=' + encodeURIComponent(folder) +
      (cursor ? '&cursor=' + encodeURIComponent(cursor) : '');
    const page = await (await fetch(url, { headers: { authorization: 'Bearer ' + token } })).json();
    count += page.entries.filter(e => e.type === 'file' && e.status === 'available').length;
    cursor = page.nextCursor;
  } while (cursor);
  done(count);
})().catch(e => done(String(e)));
"#;

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn a_folder_of_a_thousand_files_goes_up_a_few_at_a_time_with_one_summary() -> Result<()> {
    let (proxy, _stack, browser) = signed_in_behind(&["--files-in-flight", "3"]).await?;
    let dir = tempfile::tempdir()?;
    let many = dir.path().join("many");
    std::fs::create_dir_all(&many)?;
    for i in 0..1000 {
        std::fs::write(
            many.join(format!("note {i:04}.txt")),
            format!("note {i}\n").repeat(i % 7 + 1),
        )?;
    }
    browser
        .find_by_label("Upload a folder")
        .await?
        .send_keys(many.to_str().context("a UTF-8 path")?)
        .await?;
    let uploads = browser.find_by_role("region", "Uploads").await?;
    // One summary for all; the list stays short while they go.
    wait_for_text(&uploads, |t| t.contains("of 1000 files uploaded")).await?;
    let rows = browser.count(".ferry-upload-list > li").await?;
    assert!(rows <= 51, "{rows} rows in the upload list");
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let text = uploads.text().await?;
        if text.contains("1000 of 1000 files uploaded") {
            break;
        }
        if text.contains("failed") || Instant::now() > deadline {
            bail!("the uploads didn't all finish: {text}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Never more than three files' bytes on their way at once.
    let most = proxy.most_puts_at_once();
    assert!((1..=3).contains(&most), "{most} uploads at once");
    // Every file is stored and listed.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let count = browser.run_async(COUNT_FILES, vec![json!("many")]).await?;
        if count == json!(1000) {
            break;
        }
        if Instant::now() > deadline {
            bail!("{count} of 1000 files listed");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn after_a_reload_an_upload_resumes_and_sends_only_the_missing_parts() -> Result<()> {
    use crate::proxy::Proxy;
    let (proxy, stack, browser) =
        signed_in_behind(&[&SMALL_PARTS[..], &["--parts-in-flight", "2"]].concat()).await?;
    let dir = tempfile::tempdir()?;
    // 24 parts of 5 MiB.
    let (path, bytes) = generated(dir.path(), "resume.bin", 120 * MIB)?;
    let stored = |proxy: &Proxy| -> Vec<u32> {
        (1..=24)
            .filter(|&n| proxy.part_answers(n).contains(&Some(200)))
            .collect()
    };
    pick(&browser, &path).await?;
    // Reload once a few parts are stored.
    let deadline = Instant::now() + Duration::from_secs(30);
    while stored(&proxy).len() < 3 {
        if Instant::now() > deadline {
            bail!("no parts were stored");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    browser.goto(&stack.url).await?;
    let unfinished = browser.find_by_role("group", "Unfinished uploads").await?;
    let before = stored(&proxy);
    assert!(before.len() < 24, "the whole file went before the reload");

    // Another file of the same name is refused, and nothing changes.
    let (other, _) = generated(dir.path(), "other.bin", 7 * MIB)?;
    browser
        .find_by_label("Resume resume.bin")
        .await?
        .send_keys(other.to_str().context("a UTF-8 path")?)
        .await?;
    let alerts = browser
        .run_async(
            "arguments[0]([...deep('[role=alert]')].map(a => a.textContent).join(' '))",
            vec![],
        )
        .await?;
    assert!(
        alerts
            .as_str()
            .unwrap_or_default()
            .contains("resume.bin can't go on with the file chosen: it is 7.3 MB"),
        "{alerts}"
    );
    let still = unfinished.text().await?;
    assert!(still.contains("resume.bin"), "{still}");
    browser.find_by_label("Resume resume.bin").await?;
    assert_eq!(stored(&proxy), before, "a part was sent for the wrong file");
    browser.assert_every_control_is_named().await?;
    browser.screenshot("upload-unfinished").await?;

    // The same file: only the missing parts go.
    browser
        .find_by_label("Resume resume.bin")
        .await?
        .send_keys(path.to_str().context("a UTF-8 path")?)
        .await?;
    resumed_exactly(&browser, &proxy, "resume.bin", 24, &before, &bytes).await?;
    // Nothing is left to resume.
    browser.goto(&stack.url).await?;
    browser.find_by_role("grid", "Files in Home").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(browser.count("[aria-label='Unfinished uploads']").await?, 0);
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn offline_uploads_pause_and_go_on_when_the_network_is_back() -> Result<()> {
    let (_stack, browser) = signed_in(&SMALL_PARTS).await?;
    let dir = tempfile::tempdir()?;
    let (path, bytes) = generated(dir.path(), "offline.bin", 120 * MIB + 3)?;
    pick(&browser, &path).await?;
    // As soon as bytes move, the network goes.
    let bar = browser
        .find_by_role("progressbar", "Uploading offline.bin")
        .await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while bar.attr("value").await?.unwrap_or_default() == "0" {
        if Instant::now() > deadline {
            bail!("the upload never started");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    browser.set_offline(true).await?;
    let uploads = browser.find_by_role("region", "Uploads").await?;
    wait_for_text(&uploads, |t| t.contains("Offline: uploads are paused")).await?;
    // Nothing fails while offline, and nothing moves.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = bar.attr("value").await?.unwrap_or_default();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(bar.attr("value").await?.unwrap_or_default(), held);
    let text = uploads.text().await?;
    assert!(!text.contains("Failed"), "{text}");
    browser.set_offline(false).await?;
    wait_for_text(&uploads, |t| t.contains("Indexed") || t.contains("Failed")).await?;
    let text = uploads.text().await?;
    assert!(text.contains("Indexed"), "{text}");
    let record = browser
        .run_async(FILE_RECORD, vec![json!("offline.bin")])
        .await?;
    assert_eq!(record["sha256"], json!(hex_sha256(&bytes)), "{record}");
    Ok(())
}

/// Writes `generated()`'s bytes into the page's origin-private file system
/// (a real `FileSystemFileHandle`, as Chromium's picker gives) and makes the
/// picker give that handle: WebDriver can't drive the browser's own file
/// dialog. Answers the file's SHA-256 (hex), by WebCrypto.
/// Writes a file of `size` bytes in the origin-private file system, a real
/// `FileSystemFileHandle`, and has the browser give it, with its handle, as
/// a person would: chosen in the picker (`pick`) or dropped (`drop`). The
/// test can't drive the browser's own picker or a drag from the desktop, so
/// the picker answers this handle, and so does a dropped item asked for its
/// handle. Answers the file's SHA-256 (hex); a dropped file is dropped
/// then, a picked one waits for "Upload files".
const GIVE_A_KEPT_FILE: &str = r#"
const [name, size, how, done] = arguments;
(async () => {
  const root = await navigator.storage.getDirectory();
  const handle = await root.getFileHandle(name, { create: true });
  const writable = await handle.createWritable();
  const chunk = 1 << 20;
  for (let at = 0; at < size; at += chunk) {
    const bytes = new Uint8Array(Math.min(chunk, size - at));
    for (let i = 0; i < bytes.length; i++) {
      const k = at + i;
      bytes[i] = (Math.imul(k, 2654435761) >>> 24) ^ ((k >>> 20) & 0xff);
    }
    await writable.write(bytes);
  }
  await writable.close();
  const digest = await crypto.subtle.digest('SHA-256', await (await handle.getFile()).arrayBuffer());
  if (how === 'pick') {
    window.showOpenFilePicker = async () => [handle];
  } else {
    DataTransferItem.prototype.getAsFileSystemHandle = async function () { return handle; };
    const transfer = new DataTransfer();
    transfer.items.add(await handle.getFile());
    const target = deepOne('section[aria-label=Files]');
    target.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    target.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }
  done([...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join(''));
})().catch((e) => done('failed: ' + e));
"#;

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn with_a_kept_file_handle_an_upload_resumes_after_a_reload_without_a_new_pick() -> Result<()>
{
    resumes_with_a_kept_handle("pick").await
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn a_dropped_file_keeps_its_handle_and_resumes_after_a_reload() -> Result<()> {
    resumes_with_a_kept_handle("drop").await
}

/// A file given with its handle (`how`: picked or dropped) goes up in
/// parts; a reload interrupts it; one click resumes it, and only the
/// missing parts go.
async fn resumes_with_a_kept_handle(how: &str) -> Result<()> {
    use crate::proxy::Proxy;
    let (proxy, stack, browser) =
        signed_in_behind(&[&SMALL_PARTS[..], &["--parts-in-flight", "2"]].concat()).await?;
    // 16 parts of 5 MiB, the last one short.
    let size = 80 * MIB - 1234;
    let dir = tempfile::tempdir()?;
    let (_, bytes) = generated(dir.path(), "kept.bin", size)?;
    let sha = browser
        .run_async(
            GIVE_A_KEPT_FILE,
            vec![json!("kept.bin"), json!(size), json!(how)],
        )
        .await?;
    assert_eq!(sha, json!(hex_sha256(&bytes)), "the page wrote other bytes");
    let stored = |proxy: &Proxy| -> Vec<u32> {
        (1..=16)
            .filter(|&n| proxy.part_answers(n).contains(&Some(200)))
            .collect()
    };
    if how == "pick" {
        // "Upload files", clicked as a person would: its label.
        let input = browser.find_by_label("Upload files").await?;
        browser
            .run_async(
                "const [input, done] = arguments; input.closest('label').click(); done(true);",
                vec![serde_json::to_value(&input)?],
            )
            .await?;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while stored(&proxy).len() < 3 {
        if Instant::now() > deadline {
            bail!("no parts were stored");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    browser.goto(&stack.url).await?;
    browser.find_by_role("group", "Unfinished uploads").await?;
    let before = stored(&proxy);
    assert!(before.len() < 16, "the whole file went before the reload");
    // The file needn't be chosen again (though it may be).
    browser.find_by_label("Choose kept.bin again").await?;
    browser.assert_every_control_is_named().await?;
    if how == "pick" {
        browser.screenshot("upload-unfinished-kept").await?;
    }
    browser
        .find_by_role("button", "Resume kept.bin")
        .await?
        .click()
        .await?;
    resumed_exactly(&browser, &proxy, "kept.bin", 16, &before, &bytes).await?;
    // Finished: neither the record nor the handle is kept.
    let kept = browser
        .run_async(
            r#"const done = arguments[0];
            const open = indexedDB.open('ferry-uploads');
            open.onsuccess = () => {
              const tx = open.result.transaction(['unfinished', 'handles']);
              const a = tx.objectStore('unfinished').count();
              const b = tx.objectStore('handles').count();
              tx.oncomplete = () => done([a.result, b.result]);
            };
            open.onerror = () => done('no database');"#,
            vec![],
        )
        .await?;
    assert_eq!(kept, json!([0, 0]));
    Ok(())
}
