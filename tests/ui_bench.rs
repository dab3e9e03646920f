//! Timings and fetched bytes of the web client in Chromium against the real
//! server, for `cargo xtask bench` (ignored by `cargo test`). Each figure is
//! printed as a `FERRY_BENCH name=value` line, a time next to a baseline
//! measured in the same run:
//!
//! - navigation to a rendered file list, against navigation to the server's
//!   small `/config.json` (the browser's and server's bare round trip);
//! - a delete's click to its row disappearing, with the WebSocket and with
//!   polling, against a click that only changes the page (opening Activity);
//! - the first load (navigation until the sign-in form is there) and the
//!   signed-in path (a reload with the session kept, until the list's first
//!   row is there), with the HTTP cache off: how long each takes against
//!   `/config.json`, and what the page fetched meanwhile, from its network
//!   log, sized by the build's manifest (gzip, brotli) and by the browser
//!   (the bytes it received).
//!
//! Times come from the page's own clock (`performance.now()`), so WebDriver's
//! overhead is not in them.

#![cfg(not(target_arch = "wasm32"))]

#[allow(dead_code)]
#[path = "e2e/harness.rs"]
mod harness;
#[path = "ui_bench/one_read.rs"]
mod one_read;
#[allow(dead_code)]
#[path = "e2e/proxy.rs"]
mod proxy;

use anyhow::{Context, Result};
use harness::{Browser, Build, Fetched, Stack, ThreadTicks};
use serde_json::json;

/// Runs of each measurement; the median is printed.
const RUNS: usize = 7;

/// Milliseconds from navigation start until the grid is in the page.
const LIST_RENDERED: &str = r#"
const done = arguments[arguments.length - 1];
const check = () => deepOne('[role=grid] [role=row][aria-rowindex="2"]')
  ? done(performance.now()) : requestAnimationFrame(check);
check();
"#;

/// Milliseconds until `/config.json`'s navigation finished.
const BARE_NAVIGATION: &str = r#"
const done = arguments[arguments.length - 1];
done(performance.getEntriesByType('navigation')[0].responseEnd);
"#;

/// Clicks the button named `arguments[0]`, then waits until `arguments[1]`
/// (a CSS selector) matches (`arguments[2]` true) or stops matching (false);
/// returns the milliseconds in between.
const CLICK_UNTIL: &str = r#"
const [name, selector, present, done] = arguments;
const button = deep('button')
  .find(b => (b.getAttribute('aria-label') || b.textContent.trim()) === name);
if (!button) { done('no button ' + name); return; }
const start = performance.now();
const check = () => (deepOne(selector) !== null) === present
  ? done(performance.now() - start) : setTimeout(check, 1);
button.click();
check();
"#;

async fn click_until(browser: &Browser, name: &str, selector: &str, present: bool) -> Result<f64> {
    let ms = browser
        .run_async(
            CLICK_UNTIL,
            vec![json!(name), json!(selector), json!(present)],
        )
        .await?;
    ms.as_f64()
        .with_context(|| format!("clicking {name}: {ms}"))
}

async fn measure(flags: &[&str], label: &str) -> Result<()> {
    let stack = Stack::start_with(flags)?;
    stack.add_user("bench", "Ferry-bench-1")?;
    let browser = Browser::start().await?;
    browser.sign_in(&stack, "bench", "Ferry-bench-1").await?;
    browser.find_by_label("Upload files").await?;
    browser.create_folders(100).await?;

    let mut bare = Vec::new();
    let mut listed = Vec::new();
    for _ in 0..RUNS {
        browser.goto(&format!("{}/config.json", stack.url)).await?;
        bare.push(
            browser
                .run_async(BARE_NAVIGATION, vec![])
                .await?
                .as_f64()
                .context("timing")?,
        );
        browser.goto(&format!("{}/", stack.url)).await?;
        listed.push(
            browser
                .run_async(LIST_RENDERED, vec![])
                .await?
                .as_f64()
                .context("timing")?,
        );
    }
    // Every folder is listed before the deletes start.
    let grid = browser.find_by_role("grid", "Files in Home").await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while grid.attr("aria-rowcount").await?.as_deref() != Some("101") {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the 100 folders never showed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let mut local = Vec::new();
    let mut deleted = Vec::new();
    for i in 0..RUNS {
        local.push(click_until(&browser, "Activity", "aside[aria-label=Activity]", true).await?);
        click_until(&browser, "Activity", "aside[aria-label=Activity]", false).await?;
        let name = format!("f{i:04}");
        click_until(
            &browser,
            &format!("Delete folder {name}"),
            "[role=dialog]",
            true,
        )
        .await?;
        let row = format!("[aria-label='Delete folder {name}']");
        deleted.push(click_until(&browser, "Delete", &row, false).await?);
    }
    println!(
        "FERRY_BENCH {label}_baseline_navigation_ms={:.2}",
        median(bare)
    );
    println!("FERRY_BENCH {label}_list_rendered_ms={:.2}", median(listed));
    println!("FERRY_BENCH {label}_baseline_click_ms={:.2}", median(local));
    println!(
        "FERRY_BENCH {label}_delete_to_row_gone_ms={:.2}",
        median(deleted)
    );
    Ok(())
}

#[tokio::test]
#[ignore = "a benchmark: `cargo xtask bench` runs it"]
async fn ui_timings() -> Result<()> {
    measure(&[], "websocket").await?;
    measure(&["--no-websockets"], "polling").await
}

/// Runs at the start of every page (after `harness::DEEP`): room for every
/// request in the network log, and the moments the sign-in form's Username
/// field and the list's first row first appear, seen by a
/// `MutationObserver` (so a time is the DOM change's, not that of a poll
/// that noticed it) on the document and on every shadow root the page
/// attaches (each `<ferry-files>` keeps its view in one).
const MARK_SHOWN: &str = r#"
performance.setResourceTimingBufferSize(1000);
window.__ferryShown = {};
const observer = new MutationObserver(() => {
  const shown = window.__ferryShown;
  if (shown.form === undefined && deep('input')
      .some(i => i.labels && i.labels[0] && i.labels[0].textContent.trim() === 'Username')) {
    shown.form = performance.now();
  }
  if (shown.list === undefined && deepOne('[role=grid] [role=row][aria-rowindex="2"]')) {
    shown.list = performance.now();
  }
});
observer.observe(document, { childList: true, subtree: true });
const attachShadow = Element.prototype.attachShadow;
Element.prototype.attachShadow = function (init) {
  const root = attachShadow.call(this, init);
  observer.observe(root, { childList: true, subtree: true });
  return root;
};
"#;

/// Waits until `MARK_SHOWN` has seen `arguments[0]` (`form` or `list`) and
/// returns when, in milliseconds since navigation start.
const SHOWN: &str = r#"
const [what, done] = arguments;
const look = () => window.__ferryShown && window.__ferryShown[what] !== undefined
  ? done(window.__ferryShown[what]) : setTimeout(look, 10);
look();
"#;

async fn shown(browser: &Browser, what: &str) -> Result<f64> {
    let at = browser.run_async(SHOWN, vec![json!(what)]).await?;
    at.as_f64()
        .with_context(|| format!("when the {what} showed: {at}"))
}

/// What a page fetched before something showed.
#[derive(Debug, Default)]
struct Fetch {
    /// Files of the build, and their sizes by the manifest.
    files: usize,
    gzip: u64,
    brotli: u64,
    /// The same files' bodies as the browser received them.
    encoded: u64,
    /// How many of them came brotli'd, gzip'd or as they are (matched by
    /// size against the manifest).
    as_brotli: usize,
    as_gzip: usize,
    as_is: usize,
    /// Other requests (the settings, the API), and their bodies' bytes.
    others: usize,
    others_encoded: u64,
    /// The split points whose chunks were among the files.
    splits: Vec<String>,
}

impl Fetch {
    /// The requests in `log` whose responses ended by `until` (ms on the
    /// page's clock).
    fn until(build: &Build, log: &[Fetched], until: f64) -> Self {
        let mut fetch = Self::default();
        for request in log.iter().filter(|r| r.end <= until) {
            let Some(file) = build.file_of(request) else {
                fetch.others += 1;
                fetch.others_encoded += request.encoded;
                continue;
            };
            fetch.files += 1;
            fetch.gzip += file.gzip;
            fetch.brotli += file.brotli;
            fetch.encoded += request.encoded;
            if request.encoded == file.brotli {
                fetch.as_brotli += 1;
            } else if request.encoded == file.gzip {
                fetch.as_gzip += 1;
            } else {
                fetch.as_is += 1;
            }
            if let Some(split) = file.split() {
                fetch.splits.push(split.to_owned());
            }
        }
        fetch.splits.sort();
        fetch
    }

    fn print(&self, label: &str) {
        println!("FERRY_BENCH {label}_files={}", self.files);
        println!("FERRY_BENCH {label}_gzip_bytes={}", self.gzip);
        println!("FERRY_BENCH {label}_brotli_bytes={}", self.brotli);
        println!("FERRY_BENCH {label}_received_bytes={}", self.encoded);
        println!("FERRY_BENCH {label}_files_brotli={}", self.as_brotli);
        println!("FERRY_BENCH {label}_files_gzip={}", self.as_gzip);
        println!("FERRY_BENCH {label}_files_as_is={}", self.as_is);
        println!("FERRY_BENCH {label}_other_requests={}", self.others);
        println!("FERRY_BENCH {label}_other_bytes={}", self.others_encoded);
        let splits = if self.splits.is_empty() {
            "none".to_owned()
        } else {
            self.splits.join(",")
        };
        println!("FERRY_BENCH {label}_splits={splits}");
    }
}

/// Navigates to `/config.json`, then to the app, `RUNS` times: the
/// medians of the two navigations (until `/config.json`'s response ended,
/// until `what` showed), and what the first run fetched until then.
async fn load_runs(
    browser: &Browser,
    stack: &Stack,
    build: &Build,
    what: &str,
) -> Result<(f64, f64, Fetch)> {
    let mut bare = Vec::new();
    let mut shown_at = Vec::new();
    let mut first = None;
    for _ in 0..RUNS {
        browser.goto(&format!("{}/config.json", stack.url)).await?;
        bare.push(
            browser
                .run_async(BARE_NAVIGATION, vec![])
                .await?
                .as_f64()
                .context("timing")?,
        );
        browser.goto(&format!("{}/", stack.url)).await?;
        let at = shown(browser, what).await?;
        shown_at.push(at);
        if first.is_none() {
            first = Some(Fetch::until(build, &browser.fetched().await?, at));
        }
    }
    let fetch = first.context("no run")?;
    Ok((median(bare), median(shown_at), fetch))
}

#[tokio::test]
#[ignore = "a benchmark: `cargo xtask bench` runs it"]
async fn load_sizes_and_times() -> Result<()> {
    let build = Build::read()?;
    let stack = Stack::start()?;
    stack.add_user("bench", "Ferry-bench-1")?;
    let browser = Browser::start().await?;
    browser
        .before_each_page(&format!("{}{MARK_SHOWN}", harness::DEEP))
        .await?;
    // Every file from the server each time, as on a first visit.
    browser.set_cache_disabled(true).await?;

    // The first load: nobody signed in, until the form is there.
    let (bare, form, fetch) = load_runs(&browser, &stack, &build, "form").await?;
    println!("FERRY_BENCH first_load_baseline_navigation_ms={bare:.2}");
    println!("FERRY_BENCH first_load_form_shown_ms={form:.2}");
    fetch.print("first_load");

    // The signed-in path: a reload with the session kept, until the first
    // row of a folder of 100 is there.
    browser.sign_in(&stack, "bench", "Ferry-bench-1").await?;
    browser.find_by_label("Upload files").await?;
    browser.create_folders(100).await?;
    let (bare, list, fetch) = load_runs(&browser, &stack, &build, "list").await?;
    println!("FERRY_BENCH signed_in_baseline_navigation_ms={bare:.2}");
    println!("FERRY_BENCH signed_in_list_shown_ms={list:.2}");
    fetch.print("signed_in");
    Ok(())
}

const GIB: u64 = 1 << 30;

/// Writes a file of `len` bytes (a pattern that differs per MiB, so no two
/// parts are alike) and returns its path.
fn big_file(dir: &std::path::Path, name: &str, len: u64) -> Result<std::path::PathBuf> {
    use std::io::Write as _;
    let path = dir.join(name);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    let block: Vec<u8> = (0..1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let mut left = len;
    let mut n = 0u8;
    while left > 0 {
        let take = left.min(block.len() as u64) as usize;
        let mut chunk = block[..take].to_vec();
        chunk[0] = n;
        n = n.wrapping_add(1);
        out.write_all(&chunk)?;
        left -= take as u64;
    }
    out.flush()?;
    Ok(path)
}

/// Creates a file through the API (the page's token) and returns its
/// presigned single PUT: `[url, headers]`.
const CREATE_SINGLE: &str = r#"
const [name, size, done] = arguments;
const token = JSON.parse(sessionStorage.getItem('ferry.tokens')).access_token;
const id = crypto.randomUUID();
const body = {
  metadata: { EventVersion: 1, EventId: id, CommandId: id, TraceId: id.replaceAll('-', ''),
              OccurredAt: new Date().toISOString(), Producer: 'bench' },
  data: { Action: 'CreateFile', Folder: '', Name: name, Size: size, ContentType: 'application/octet-stream' },
};
fetch('/api/commands', { method: 'POST', body: JSON.stringify(body),
  headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' } })
  .then(r => r.json())
  .then(a => done([a.upload.request.url, a.upload.request.headers]))
  .catch(e => done(String(e)));
"#;

/// Starts watching: the pick's time and the page's long tasks.
const WATCH_UPLOAD: &str = r#"
const done = arguments[arguments.length - 1];
window.__ferryPicked = null;
window.__ferryLong = [];
// A change inside a shadow root doesn't leave it: listen on each.
for (const root of [document, ...deep('*').filter(e => e.shadowRoot).map(e => e.shadowRoot)]) {
  root.addEventListener('change', e => {
    if (e.target.type === 'file') window.__ferryPicked = performance.now();
  }, true);
}
new PerformanceObserver(list => list.getEntries().forEach(e => window.__ferryLong.push(e.duration)))
  .observe({ type: 'longtask' });
// Every part's PUT and every presign request, for when they started.
performance.clearResourceTimings();
performance.setResourceTimingBufferSize(100000);
// Which parts each presign request asked for, when it started and when
// its answer was in; and when each part's checksum came from a worker.
window.__ferryPresigns = [];
window.__ferryHashed = {};
if (!window.__ferryFetch) {
  window.__ferryFetch = window.fetch;
  window.fetch = function (input, init) {
    const url = new URL(typeof input === 'string' ? input : input.url, location.href);
    const body = !/\/api\/files\/[^/]+\/parts$/.test(url.pathname) ? null
      : init && init.body !== undefined ? Promise.resolve(String(init.body)) : input.clone().text();
    const answer = window.__ferryFetch.apply(this, arguments);
    if (body) {
      const record = { start: performance.now(), end: null, parts: [] };
      window.__ferryPresigns.push(record);
      body.then((text) => { record.parts = JSON.parse(text).parts.map((p) => p.partNumber); }, () => {});
      answer.then((r) => r.clone().text()).then(() => { record.end = performance.now(); }, () => {});
    }
    return answer;
  };
  const handler = Object.getOwnPropertyDescriptor(Worker.prototype, 'onmessage');
  Object.defineProperty(Worker.prototype, 'onmessage', {
    configurable: true,
    get() { return handler.get.call(this); },
    set(heard) {
      handler.set.call(this, heard && function (event) {
        if (event.data && event.data.checksum) window.__ferryHashed[event.data.part] = performance.now();
        return heard.call(this, event);
      });
    },
  });
}
done(true);
"#;

/// After an upload: when (ms after the pick) the first four parts' PUTs
/// started, how many presign requests were made, and how often a free
/// slot found its next part not presigned yet: because its presign
/// request was still on its way though its checksum was in (`waited`), or
/// because its checksum wasn't (`waitedHash`).
const PARTS_TIMING: &str = r#"
const done = arguments[arguments.length - 1];
const all = performance.getEntriesByType('resource');
const puts = all.filter(e => e.initiatorType === 'xmlhttprequest' && e.name.includes('partNumber='))
  .sort((a, b) => a.startTime - b.startTime);
const presigns = all.filter(e => /\/api\/files\/[^/]+\/parts$/.test(new URL(e.name).pathname))
  .sort((a, b) => a.startTime - b.startTime);
const ends = puts.map(e => e.responseEnd).sort((a, b) => a - b);
// A part waited when its slot was free before its presigned URL was in:
// for the presign round trip when its checksum was in before the slot
// freed, else for its hash.
let waited = 0, waitedHash = 0;
const partOf = (e) => Number(new URL(e.name).searchParams.get('partNumber'));
puts.slice(4).forEach((put, i) => {
  // The slot this PUT took freed when the i-th earliest PUT ended.
  const freed = ends[i];
  const part = partOf(put);
  const signed = (window.__ferryPresigns || [])
    .filter((p) => p.parts.includes(part) && p.start <= put.startTime).pop();
  if (!signed || signed.end === null || signed.end <= freed) return;
  const hashed = (window.__ferryHashed || {})[part];
  if (hashed !== undefined && hashed > freed) waitedHash++;
  else waited++;
});
// How long freed slots stayed empty, and how long a PUT took on average.
let idle = 0;
puts.slice(4).forEach((put, i) => { idle += Math.max(0, put.startTime - ends[i]); });
const meanPut = puts.reduce((sum, e) => sum + (e.responseEnd - e.startTime), 0) / Math.max(1, puts.length);
const create = all.find(e => new URL(e.name).pathname === '/api/commands');
const at = (e) => e ? `${(e.startTime - window.__ferryPicked).toFixed(0)}..${(e.responseEnd - window.__ferryPicked).toFixed(0)}` : 'none';
// The first moments after the pick: the hashing worker's script, the
// first presign requests, the first parts' PUTs (start..end, ms).
const early = `worker ${at(all.find(e => e.name.includes('hash-worker')))}; presigns ${presigns.slice(0, 3).map(at).join(', ')}; puts ${puts.slice(0, 4).map(at).join(', ')}`;
done({
  early,
  createStart: create ? create.startTime - window.__ferryPicked : null,
  createEnd: create ? create.responseEnd - window.__ferryPicked : null,
  idle,
  meanPut,
  first: puts.length ? puts[0].startTime - window.__ferryPicked : null,
  lastEnd: ends.length ? ends[ends.length - 1] - window.__ferryPicked : null,
  fourth: puts.length >= 4 ? puts[3].startTime - window.__ferryPicked : null,
  presigns: presigns.length,
  parts: puts.length,
  waited,
  waitedHash,
});
"#;

/// A bare page's `fetch` PUT of the whole file to a presigned URL, the
/// file picked through a plain file input: the browser's own speed.
const BARE_PUT: &str = r#"
const [url, headers, done] = arguments;
const file = document.getElementById('bench-file').files[0];
const started = performance.now();
const sent = {};
for (const [name, value] of Object.entries(headers)) {
  if (!['content-length', 'host'].includes(name.toLowerCase())) sent[name] = value;
}
fetch(url, { method: 'PUT', body: file, headers: sent })
  .then(r => done(r.ok ? { ms: performance.now() - started } : { error: r.status }))
  .catch(e => done({ error: String(e) }));
"#;

/// Waits until the file's stage reads Uploaded (or Indexed): returns the
/// milliseconds since the pick, and the long tasks meanwhile.
const UPLOADED: &str = r#"
const [name, done] = arguments;
(function look() {
  const item = deep('.ferry-upload')
    .find(li => li.querySelector('.ferry-upload-name')?.textContent.endsWith(name));
  const stage = item?.querySelector('.ferry-upload-stage')?.textContent || '';
  if (stage === 'Uploaded' || stage === 'Indexed') {
    done({ ms: performance.now() - window.__ferryPicked, long: window.__ferryLong });
  } else if (stage.startsWith('Failed')) {
    done({ error: stage });
  } else {
    setTimeout(look, 5);
  }
})();
"#;

/// Uploads `path` from the page; returns (ms, the renderer's peak memory,
/// the longest main-thread task in ms, how many tasks took over 50 ms).
async fn browser_upload(
    browser: &Browser,
    path: &std::path::Path,
) -> Result<(f64, u64, f64, usize)> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .context("a file name")?
        .to_owned();
    browser.run_async(WATCH_UPLOAD, vec![]).await?;
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // As a person does: the pointer reaches "Upload files", which fetches
    // the upload machinery's chunk, and choosing a file in the picker takes
    // a moment (Uppy's code, too, is in the page before its upload).
    let pick = browser.find_by_label("Upload files").await?;
    browser.hover(&pick).await?;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    pick.send_keys(path.to_str().context("a UTF-8 path")?)
        .await?;
    let watching = {
        let (peak, stop) = (peak.clone(), stop.clone());
        let sample = browser.memory_sampler();
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                peak.fetch_max(sample(), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        })
    };
    let result = browser.run_async(UPLOADED, vec![json!(name)]).await?;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    watching.await?;
    if let Some(error) = result.get("error") {
        anyhow::bail!("the upload failed: {error}");
    }
    let ms = result["ms"].as_f64().context("timing")?;
    let long: Vec<f64> = result["long"]
        .as_array()
        .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
        .unwrap_or_default();
    let longest = long.iter().copied().fold(0.0, f64::max);
    Ok((
        ms,
        peak.load(std::sync::atomic::Ordering::Relaxed),
        longest,
        long.len(),
    ))
}

/// curl PUTs `path` to a presigned URL from the same server; returns ms.
async fn curl_upload(browser: &Browser, path: &std::path::Path, size: u64) -> Result<f64> {
    let answer = browser
        .run_async(CREATE_SINGLE, vec![json!("curl.bin"), json!(size)])
        .await?;
    let url = answer[0]
        .as_str()
        .with_context(|| format!("CreateFile: {answer}"))?;
    let mut command = std::process::Command::new("curl");
    command.args([
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{time_total}",
        "-X",
        "PUT",
        "-T",
    ]);
    command.arg(path);
    if let Some(headers) = answer[1].as_object() {
        for (name, value) in headers {
            command
                .arg("-H")
                .arg(format!("{name}: {}", value.as_str().unwrap_or_default()));
        }
    }
    command.arg(url);
    let out = command.output().context("running curl")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (status, seconds) = text.split_once(' ').context("curl's output")?;
    anyhow::ensure!(
        status == "200",
        "curl's PUT answered {status}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(seconds.trim().parse::<f64>()? * 1000.0)
}

/// Picks `path` in a plain file input the page gains (`id`, named
/// `label`), outside Ferry, for code other than Ferry's to send.
async fn pick_in_plain_input(
    browser: &Browser,
    id: &str,
    label: &str,
    path: &std::path::Path,
) -> Result<()> {
    browser
        .run_async(
            "const [id, label, done] = arguments;\
             const input = document.createElement('input');\
             input.type = 'file'; input.id = id;\
             input.setAttribute('aria-label', label);\
             document.body.append(input); done();",
            vec![json!(id), json!(label)],
        )
        .await?;
    browser
        .find_by_label(label)
        .await?
        .send_keys(path.to_str().context("a UTF-8 path")?)
        .await?;
    Ok(())
}

/// A bare `fetch` PUT of `path` from the page (not Ferry's code); returns ms.
async fn bare_upload(browser: &Browser, path: &std::path::Path, size: u64) -> Result<f64> {
    let answer = browser
        .run_async(CREATE_SINGLE, vec![json!("bare.bin"), json!(size)])
        .await?;
    pick_in_plain_input(browser, "bench-file", "Bench file", path).await?;
    let put = browser
        .run_async(BARE_PUT, vec![answer[0].clone(), answer[1].clone()])
        .await?;
    put["ms"]
        .as_f64()
        .with_context(|| format!("the bare PUT: {put}"))
}

/// Ferry's hashing alone, no upload: its two hashing workers (the build's
/// `hash-worker.js`, as an upload starts them) read and hash every 16 MiB
/// part of `path`, picked in a plain input; returns ms. With Chromium's CPU
/// around it, this is what checksums cost before a byte is sent.
async fn hash_alone(browser: &Browser, path: &std::path::Path) -> Result<f64> {
    let build = Build::read()?;
    let worker = build
        .files
        .iter()
        .find(|f| f.path.contains("/hash-worker"))
        .context("the build has no hashing worker")?;
    pick_in_plain_input(browser, "bench-hash", "File to hash", path).await?;
    let hashed = browser
        .run_async(
            HASH_ALONE,
            vec![
                json!(format!("/{}", worker.path)),
                json!(ferry_protocol::api::DEFAULT_PART_SIZE),
            ],
        )
        .await?;
    hashed["ms"]
        .as_f64()
        .with_context(|| format!("hashing alone: {hashed}"))
}

const HASH_ALONE: &str = r#"
const [url, partSize, done] = arguments;
const file = document.getElementById('bench-hash').files[0];
const parts = Math.max(1, Math.ceil(file.size / partSize));
const started = performance.now();
let heard = 0;
const workers = [1, 2].map((first) => {
  const worker = new Worker(url, { type: 'module' });
  worker.onmessage = ({ data }) => {
    if (data.error) done({ error: data.error });
    else if (data.checksum && ++heard === parts) {
      const ms = performance.now() - started;
      workers.forEach((w) => w.terminate());
      done({ ms });
    }
  };
  worker.postMessage({ file, partSize, parts: true, whole: false, first, stride: 2 });
  return worker;
});
"#;

/// Uppy's S3 multipart uploader (tools/npm/peers/uppy-bench.mjs, bundled
/// by the pinned esbuild) sending `path` from the page as `uppy.bin`;
/// returns ms.
async fn uppy_upload(browser: &Browser, path: &std::path::Path) -> Result<f64> {
    let npm = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/npm");
    let bundled = std::process::Command::new(npm.join("node_modules/.bin/esbuild"))
        .args([
            "peers/uppy-bench.mjs",
            "--bundle",
            "--format=iife",
            "--minify",
            "--log-level=warning",
        ])
        .current_dir(&npm)
        .output()
        .context("bundling Uppy (run `cargo xtask test` once to install tools/npm)")?;
    anyhow::ensure!(
        bundled.status.success(),
        "esbuild: {}",
        String::from_utf8_lossy(&bundled.stderr)
    );
    let script = format!(
        "{}\n;arguments[arguments.length - 1](typeof ferryUppyUpload);",
        String::from_utf8(bundled.stdout)?
    );
    let defined = browser.run_async(&script, vec![]).await?;
    anyhow::ensure!(defined == "function", "Uppy's bundle defined {defined}");
    pick_in_plain_input(browser, "bench-uppy", "Uppy file", path).await?;
    let sent = browser
        .run_async(
            "const done = arguments[arguments.length - 1];\
             const token = JSON.parse(sessionStorage.getItem('ferry.tokens')).access_token;\
             ferryUppyUpload(document.getElementById('bench-uppy').files[0], 'uppy.bin', token)\
               .then(done, (e) => done({ error: String(e) }));",
            vec![],
        )
        .await?;
    sent["ms"]
        .as_f64()
        .with_context(|| format!("Uppy's upload: {sent}"))
}

/// A fresh stack (multipart from `threshold` bytes, and `extra` flag) and a
/// signed-in page ready to upload.
async fn uploading_page(threshold: &str, extra: Option<&str>) -> Result<(Stack, Browser)> {
    let mut flags = vec!["--multipart-threshold-bytes", threshold];
    flags.extend(extra);
    // More server flags to try a setting (e.g. `--parts-in-flight 6`).
    let more = std::env::var("FERRY_BENCH_SERVER_ARGS").unwrap_or_default();
    flags.extend(more.split_whitespace());
    let stack = Stack::start_with(&flags)?;
    stack.add_user("bench", "Ferry-bench-1")?;
    let browser = Browser::start().await?;
    browser.sign_in(&stack, "bench", "Ferry-bench-1").await?;
    browser.find_by_label("Upload files").await?;
    Ok((stack, browser))
}

/// The uploads timed side by side: Ferry's, a bare page's `fetch` PUT of
/// the whole file, Uppy's multipart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Uploader {
    Ferry,
    Bare,
    Uppy,
}

/// One timed upload: wall ms, and the CPU seconds the server and Chromium
/// spent meanwhile.
#[derive(Debug, Default, Clone, Copy)]
struct Timed {
    ms: f64,
    server_cpu: f64,
    chromium_cpu: f64,
}

/// What Ferry's own upload showed besides its time.
#[derive(Debug, Default)]
struct FerryExtras {
    peak: u64,
    longest: f64,
    long: usize,
    first: Vec<f64>,
    last_end: Vec<f64>,
    /// The last upload's: ms slots stayed empty, mean ms of a PUT.
    idle: f64,
    mean_put: f64,
    /// When (ms after the pick) CreateFile's request started and ended,
    /// and the first moments after it (the worker's script, presigns, PUTs).
    create: String,
    fourth: Vec<f64>,
    presigns: Vec<f64>,
    puts: Vec<f64>,
    waited: Vec<f64>,
    waited_hash: Vec<f64>,
}

/// Lets the kernel write out what the last upload left in the page cache,
/// so it isn't written (and its CPU spent) during the next one.
fn settle() {
    let _ = std::process::Command::new("sync").status();
    std::thread::sleep(std::time::Duration::from_millis(300));
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Reads the CPU ticks of each thread of a process group.
type Sampler = Box<dyn Fn() -> ThreadTicks + Send>;

/// Samples per-thread CPU (Chromium's and the server's) every 100 ms until
/// stopped, so threads that end meanwhile (hashing workers) still count.
struct Profiler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    sampling: std::thread::JoinHandle<Vec<(String, f64)>>,
}

impl Profiler {
    fn start(stack: &Stack, browser: &Browser) -> Self {
        let samplers: Vec<(&'static str, Sampler)> = vec![
            ("chromium", Box::new(browser.thread_sampler())),
            ("server", Box::new(stack.thread_sampler())),
        ];
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let sampling = std::thread::spawn(move || {
            let first: Vec<ThreadTicks> = samplers.iter().map(|(_, s)| s()).collect();
            let mut most = first.clone();
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(100));
                for ((_, sample), most) in samplers.iter().zip(&mut most) {
                    for (key, (label, ticks)) in sample() {
                        let entry = most.entry(key).or_insert((label, 0));
                        entry.1 = entry.1.max(ticks);
                    }
                }
            }
            // CPU seconds by who and thread label.
            let mut by_label: std::collections::BTreeMap<String, f64> = Default::default();
            for (((who, _), first), most) in samplers.iter().zip(&first).zip(&most) {
                for (key, (label, ticks)) in most {
                    let before = first.get(key).map_or(0, |f| f.1);
                    *by_label.entry(format!("{who} {label}")).or_default() +=
                        ticks.saturating_sub(before) as f64 / 100.0;
                }
            }
            let mut sorted: Vec<(String, f64)> = by_label.into_iter().collect();
            sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
            sorted
        });
        Self { stop, sampling }
    }

    /// Stops sampling; CPU seconds by thread label, most first.
    fn finish(self) -> Vec<(String, f64)> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.sampling.join().unwrap_or_default()
    }
}

/// Runs one upload by `who` of `size` bytes (`multipart` is the same file
/// one byte longer, so Ferry's page goes multipart), timed with the CPU
/// spent meanwhile.
async fn timed_upload(
    who: Uploader,
    stack: &Stack,
    browser: &Browser,
    (multipart, whole, size): (&std::path::Path, &std::path::Path, u64),
    extras: &mut FerryExtras,
    profile: Option<&str>,
) -> Result<Timed> {
    settle();
    let profiler = profile.map(|_| Profiler::start(stack, browser));
    let (server_before, chromium_before) = (stack.cpu_seconds(), browser.cpu_seconds());
    let ms = match who {
        Uploader::Ferry => {
            let (ms, peak, longest, long) = browser_upload(browser, multipart).await?;
            extras.peak = extras.peak.max(peak);
            extras.longest = extras.longest.max(longest);
            extras.long = extras.long.max(long);
            ms
        }
        Uploader::Bare => bare_upload(browser, whole, size).await?,
        Uploader::Uppy => {
            browser
                .run_async(
                    "performance.clearResourceTimings(); arguments[arguments.length - 1](true);",
                    vec![],
                )
                .await?;
            let ms = uppy_upload(browser, multipart).await?;
            let parts = browser.run_async(PARTS_TIMING, vec![]).await?;
            println!(
                "upload run: Uppy's slots idle {:.0} ms in all; a PUT took {:.0} ms on average",
                parts["idle"].as_f64().unwrap_or(f64::NAN),
                parts["meanPut"].as_f64().unwrap_or(f64::NAN)
            );
            ms
        }
    };
    let timed = Timed {
        ms,
        server_cpu: stack.cpu_seconds() - server_before,
        chromium_cpu: browser.cpu_seconds() - chromium_before,
    };
    if let (Some(profiler), Some(name)) = (profiler, profile) {
        // Where the CPU went, by thread: the threads over 0.05 s.
        for (label, seconds) in profiler.finish().into_iter().filter(|(_, s)| *s >= 0.05) {
            println!("FERRY_PROFILE {name}: {seconds:>5.2} CPU-s  {label}");
        }
    }
    if who == Uploader::Ferry {
        let parts = browser.run_async(PARTS_TIMING, vec![]).await?;
        let push = |into: &mut Vec<f64>, name: &str| {
            if let Some(v) = parts[name].as_f64() {
                into.push(v);
            }
        };
        extras.create = format!(
            "{}..{}; {}",
            parts["createStart"],
            parts["createEnd"],
            parts["early"].as_str().unwrap_or_default()
        );
        extras.idle = parts["idle"].as_f64().unwrap_or(f64::NAN);
        extras.mean_put = parts["meanPut"].as_f64().unwrap_or(f64::NAN);
        push(&mut extras.first, "first");
        push(&mut extras.last_end, "lastEnd");
        push(&mut extras.fourth, "fourth");
        push(&mut extras.presigns, "presigns");
        push(&mut extras.puts, "parts");
        push(&mut extras.waited, "waited");
        push(&mut extras.waited_hash, "waitedHash");
    }
    Ok(timed)
}

/// How many rounds each size runs: each round is a fresh stack and page
/// that upload once each, in an order that turns from round to round;
/// the figures printed are the medians.
const ROUNDS: usize = 3;

#[tokio::test]
#[ignore = "a benchmark: `cargo xtask bench` runs it"]
async fn upload_timings() -> Result<()> {
    let dir = tempfile::tempdir()?;
    // One byte over the threshold: the page goes multipart, while curl's
    // and the bare page's 1 GiB (one byte less) is a single presigned PUT
    // to the same endpoint.
    let big = big_file(dir.path(), "big.bin", GIB + 1)?;
    let whole = big_file(dir.path(), "whole.bin", GIB)?;
    let quarter = big_file(dir.path(), "quarter.bin", GIB / 4 + 1)?;
    let quarter_whole = big_file(dir.path(), "quarter-whole.bin", GIB / 4)?;
    let order = [Uploader::Ferry, Uploader::Bare, Uploader::Uppy];
    for (size_label, files) in [
        ("", (big.as_path(), whole.as_path(), GIB)),
        (
            "quarter_",
            (quarter.as_path(), quarter_whole.as_path(), GIB / 4),
        ),
    ] {
        let threshold = (files.2 + 1).to_string();
        for (label, extra) in [
            ("checksums", None),
            ("no_checksums", Some("--no-upload-checksums")),
        ] {
            let mut runs: Vec<(Uploader, Timed)> = Vec::new();
            let mut extras = FerryExtras::default();
            let mut curls = Vec::new();
            let mut hashing: Vec<(f64, f64)> = Vec::new();
            for round in 0..ROUNDS {
                let (stack, browser) = uploading_page(&threshold, extra).await?;
                if size_label.is_empty() {
                    settle();
                    let before = stack.cpu_seconds();
                    let ms = curl_upload(&browser, files.1, files.2).await?;
                    curls.push((ms, stack.cpu_seconds() - before));
                }
                for i in 0..order.len() {
                    let who = order[(i + round) % order.len()];
                    // The first round's Ferry and Uppy uploads are profiled
                    // by thread, to compare where each spends its CPU.
                    let profile = (round == 0 && who != Uploader::Bare)
                        .then(|| format!("{label} {size_label}{who:?}"));
                    let timed = timed_upload(
                        who,
                        &stack,
                        &browser,
                        files,
                        &mut extras,
                        profile.as_deref(),
                    )
                    .await?;
                    println!(
                        "upload run: {label} {size_label}round {round} {who:?}: {:.0} ms, \
                         server {:.2} CPU-s, Chromium {:.2} CPU-s",
                        timed.ms, timed.server_cpu, timed.chromium_cpu
                    );
                    if who == Uploader::Ferry {
                        println!(
                            "upload run: first part started {:?} ms after the pick, last stored {:?}; \
                             slots idle {:.0} ms in all; a PUT took {:.0} ms on average; \
                             parts that waited on a presign {:?}, on their hash {:?}; CreateFile {}",
                            extras.first.last(),
                            extras.last_end.last(),
                            extras.idle,
                            extras.mean_put,
                            extras.waited.last(),
                            extras.waited_hash.last(),
                            extras.create,
                        );
                    }
                    runs.push((who, timed));
                }
                if extra.is_none() {
                    settle();
                    let before = browser.cpu_seconds();
                    let ms = hash_alone(&browser, files.0).await?;
                    hashing.push((ms, browser.cpu_seconds() - before));
                }
            }
            let of = |who: Uploader, pick: fn(&Timed) -> f64| {
                median(
                    runs.iter()
                        .filter(|(w, _)| *w == who)
                        .map(|(_, t)| pick(t))
                        .collect(),
                )
            };
            let ferry = of(Uploader::Ferry, |t| t.ms);
            let bare = of(Uploader::Bare, |t| t.ms);
            let uppy = of(Uploader::Uppy, |t| t.ms);
            let name = format!("upload_{label}_{size_label}");
            // Each round's ratios, to show the spread the medians hide.
            let times = |who: Uploader| -> Vec<f64> {
                runs.iter()
                    .filter(|(w, _)| *w == who)
                    .map(|(_, t)| t.ms)
                    .collect()
            };
            let ours = times(Uploader::Ferry);
            let per_round = |who: Uploader| {
                times(who)
                    .iter()
                    .zip(&ours)
                    .map(|(t, o)| format!("{:.2}", t / o))
                    .collect::<Vec<_>>()
                    .join("/")
            };
            println!("FERRY_BENCH {name}browser_ms={ferry:.1}");
            println!("FERRY_BENCH {name}bare_put_ms={bare:.1}");
            println!("FERRY_BENCH {name}uppy_ms={uppy:.1}");
            println!("FERRY_BENCH {name}ratio_to_bare_put={:.3}", bare / ferry);
            println!("FERRY_BENCH {name}ratio_to_uppy={:.3}", uppy / ferry);
            println!(
                "FERRY_BENCH {name}ratios_to_bare_put={}",
                per_round(Uploader::Bare)
            );
            println!(
                "FERRY_BENCH {name}ratios_to_uppy={}",
                per_round(Uploader::Uppy)
            );
            println!("FERRY_BENCH {name}peak_bytes={}", extras.peak);
            if !hashing.is_empty() {
                let ms = median(hashing.iter().map(|h| h.0).collect());
                let cpu = median(hashing.iter().map(|h| h.1).collect());
                println!("FERRY_BENCH {name}hash_alone_ms={ms:.1}");
                println!("FERRY_BENCH {name}hash_alone_chromium_cpu_s={cpu:.2}");
            }
            for (who, key) in [
                (Uploader::Ferry, ""),
                (Uploader::Bare, "bare_put_"),
                (Uploader::Uppy, "uppy_"),
            ] {
                let server = of(who, |t| t.server_cpu);
                let chromium = of(who, |t| t.chromium_cpu);
                println!("FERRY_BENCH {name}{key}server_cpu_s={server:.2}");
                println!("FERRY_BENCH {name}{key}chromium_cpu_s={chromium:.2}");
            }
            println!("FERRY_BENCH {name}longest_task_ms={:.1}", extras.longest);
            println!("FERRY_BENCH {name}long_tasks={}", extras.long);
            for (key, values) in [
                ("first_part_started_ms", &mut extras.first),
                ("last_part_stored_ms", &mut extras.last_end),
                ("fourth_part_started_ms", &mut extras.fourth),
                ("presign_requests", &mut extras.presigns),
                ("part_puts", &mut extras.puts),
                ("parts_that_waited_for_a_presign", &mut extras.waited),
                ("parts_that_waited_for_their_hash", &mut extras.waited_hash),
            ] {
                let value = median(std::mem::take(values));
                // Times to the tenth of a millisecond; counts whole.
                if key.ends_with("_ms") {
                    println!("FERRY_BENCH {name}{key}={value:.1}");
                } else {
                    println!("FERRY_BENCH {name}{key}={value:.0}");
                }
            }
            if !curls.is_empty() {
                println!(
                    "FERRY_BENCH {name}curl_ms={:.1}",
                    median(curls.iter().map(|c| c.0).collect())
                );
                println!(
                    "FERRY_BENCH {name}curl_server_cpu_s={:.2}",
                    median(curls.iter().map(|c| c.1).collect())
                );
            }
        }
    }
    Ok(())
}
