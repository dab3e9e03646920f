//! Which chunks of the split client the browser fetches, and when, read from
//! the page's own network log (its navigation and resource timing entries)
//! and named by the build's `ferry-build.json`, against the table in
//! ARCHITECTURE.md ("Chunks"): the sign-in page fetches no chunk, the form
//! fetches `auth` once it takes focus and `browser` once a password is typed,
//! `live` comes after the first page of the list, a kept session never
//! fetches the sign-in's chunks, and `uploads`, `commands`, `dialogs`,
//! `activity` and `trash` (the Trash view and the versions panel) wait
//! until they are first used.
//!
//! Times are only compared with each other on the page's clock (a request's
//! start against the moment the test acted), never with a bound.

use crate::harness::{Browser, Build, BuiltFile, Fetched, Stack, wait_for_text};
use anyhow::{Context, Result, bail, ensure};
use std::collections::{BTreeMap, BTreeSet};

/// Runs at the start of every page: room for every request in the network
/// log (Chromium keeps 250 by default; a signed-in page with its chunks,
/// its API requests and an upload's comes close).
const ROOM_IN_THE_LOG: &str = "performance.setResourceTimingBufferSize(1000);";

/// The split points the table names; a build without one of them is not the
/// split release build.
const SPLITS: [&str; 12] = [
    "auth",
    "provided",
    "sign_in_steps",
    "browser",
    "live",
    "commands",
    "download",
    "search",
    "uploads",
    "dialogs",
    "activity",
    "trash",
];

/// A page's network log, each request named by the build.
struct Log<'a> {
    build: &'a Build,
    fetched: Vec<Fetched>,
}

impl<'a> Log<'a> {
    async fn read(browser: &Browser, build: &'a Build) -> Result<Self> {
        Ok(Self {
            build,
            fetched: browser.fetched().await?,
        })
    }

    /// The requests for files of the build, each with its file.
    fn files(&self) -> impl Iterator<Item = (&'a BuiltFile, &Fetched)> {
        let build = self.build;
        self.fetched
            .iter()
            .filter_map(move |request| Some((build.file_of(request)?, request)))
    }

    /// The request for split point `name`'s chunk, if there was one.
    fn split(&self, name: &str) -> Option<&Fetched> {
        self.files()
            .find(|(file, _)| file.split() == Some(name))
            .map(|(_, request)| request)
    }

    /// The split points whose chunks were requested.
    fn splits(&self) -> BTreeSet<&'a str> {
        self.files().filter_map(|(file, _)| file.split()).collect()
    }

    /// The chunks (split or shared) whose requests started before `time`.
    fn chunks_started_before(&self, time: f64) -> Vec<&'a str> {
        self.files()
            .filter(|(file, request)| file.chunk.is_some() && request.start < time)
            .map(|(file, _)| file.what())
            .collect()
    }

    /// Fails if any of the split points `names` had its chunk requested.
    fn none_of(&self, names: &[&str], when: &str) -> Result<()> {
        let early: Vec<&str> = names
            .iter()
            .copied()
            .filter(|name| self.split(name).is_some())
            .collect();
        ensure!(
            early.is_empty(),
            "{when}, the page had already fetched the chunks of {early:?} (all it fetched: {:?})",
            self.splits()
        );
        Ok(())
    }

    /// What holds on any page: each file of the build is fetched at most
    /// once (a split point's loader keeps what it fetched), and a shared
    /// chunk only with a split point that needs it. The hashing worker's
    /// script is requested by each worker, but crosses the network once:
    /// the others come from the HTTP cache.
    fn consistent(&self) -> Result<()> {
        let mut times: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for (file, request) in self.files() {
            times
                .entry(file.path.as_str())
                .or_default()
                .push(request.transfer);
        }
        let again: Vec<_> = times
            .into_iter()
            .filter(|(path, n)| {
                let networked = n.iter().filter(|bytes| **bytes > 0).count();
                if path.contains("hash-worker") {
                    networked > 1
                } else {
                    n.len() > 1
                }
            })
            .collect();
        ensure!(
            again.is_empty(),
            "files fetched more than once (bytes over the network each time): {again:?}"
        );
        let splits = self.splits();
        for (file, _) in self.files() {
            if file.chunk.is_some() && file.split().is_none() {
                ensure!(
                    file.splits.iter().any(|s| splits.contains(s.as_str())),
                    "the shared chunk {} was fetched, but none of the split points that need it \
                     ({:?}) was; the page fetched {splits:?}",
                    file.what(),
                    file.splits
                );
            }
        }
        Ok(())
    }
}

/// Waits until the page has requested split point `name`'s chunk.
async fn wait_for_split(browser: &Browser, build: &Build, name: &str) -> Result<Fetched> {
    browser
        .wait_for_fetch(&format!("the {name} chunk"), |request| {
            build.file_of(request).and_then(BuiltFile::split) == Some(name)
        })
        .await
}

/// The file-list request the page answers first: the folder's first page.
fn first_listing<'l>(log: &'l Log<'_>) -> Result<&'l Fetched> {
    log.fetched
        .iter()
        .filter(|request| request.path == "api/files")
        .min_by(|a, b| a.start.total_cmp(&b.start))
        .context("the folder's listing (/api/files) is not in the page's network log")
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn each_chunk_is_fetched_when_it_is_first_needed() -> Result<()> {
    let build = Build::read()?;
    for name in SPLITS {
        if build.split(name).is_none() {
            bail!(
                "the build in FERRY_DIST has no {name} chunk (its chunks: {:?}); \
                 is it the split release build of `cargo xtask build-web`?",
                build.split_names()
            );
        }
    }
    let stack = Stack::start()?;
    stack.add_user("demo", "Ferry-demo-1")?;
    // A few folders, so the list has rows to show. They are made from
    // another browser, so the one watched starts with nothing kept.
    {
        let setup = Browser::start().await?;
        setup.sign_in(&stack, "demo", "Ferry-demo-1").await?;
        setup.create_folders(3).await?;
    }
    let browser = Browser::start().await?;
    browser.before_each_page(ROOM_IN_THE_LOG).await?;
    let home = format!("{}/", stack.url);

    // The sign-in page, nothing typed yet: the first load's files, all of
    // them, and no chunk, even once the page has had time to itself.
    browser.goto(&home).await?;
    let username = browser.find_by_label("Username").await?;
    browser.settle().await?;
    let focused_at = browser.page_clock().await?;
    let log = Log::read(&browser, &build).await?;
    let fetched: BTreeSet<String> = log
        .files()
        .map(|(file, _)| format!("{} {}", file.what(), file.path))
        .collect();
    let first_load: BTreeSet<String> = build
        .files
        .iter()
        .filter(|file| file.first_load)
        .map(|file| format!("{} {}", file.what(), file.path))
        .collect();
    assert_eq!(
        fetched, first_load,
        "the sign-in page's files (left) are not the build's first load (right)"
    );

    // Focusing the form fetches the sign-in conversation; typing a
    // password, the file browser; both before the form is sent.
    username.click().await?;
    let auth = wait_for_split(&browser, &build, "auth").await?;
    username.send_keys("demo").await?;
    let typing_at = browser.page_clock().await?;
    browser
        .find_by_label("Password")
        .await?
        .send_keys("Ferry-demo-1")
        .await?;
    let files = wait_for_split(&browser, &build, "browser").await?;
    let log = Log::read(&browser, &build).await?;
    assert!(
        auth.start >= focused_at,
        "the auth chunk was requested at {:.1} ms, before the form took focus at {focused_at:.1} ms",
        auth.start
    );
    assert!(
        files.start >= typing_at,
        "the browser chunk was requested at {:.1} ms, before the password was typed at {typing_at:.1} ms",
        files.start
    );
    assert_eq!(
        log.splits(),
        BTreeSet::from(["auth", "browser"]),
        "before the form is sent, the page fetched other split chunks"
    );
    log.consistent()?;

    // Signed in: the list shows, the live connection's chunk is asked for
    // once the folder's first page is in, and nothing else is fetched.
    browser
        .find_by_role("button", "Sign in")
        .await?
        .click()
        .await?;
    browser.find_by_role("heading", "Signed in as demo").await?;
    browser.find_by_role("grid", "Files in Home").await?;
    let live = wait_for_split(&browser, &build, "live").await?;
    browser.settle().await?;
    let log = Log::read(&browser, &build).await?;
    let listing = first_listing(&log)?;
    assert!(
        live.start >= listing.end,
        "the live chunk was requested at {:.1} ms, before the folder's first page was in at {:.1} ms",
        live.start,
        listing.end
    );
    assert_eq!(
        log.chunks_started_before(focused_at),
        Vec::<&str>::new(),
        "chunks were requested before the sign-in form took focus"
    );
    log.none_of(
        &[
            "sign_in_steps",
            "provided",
            "uploads",
            "dialogs",
            "activity",
            "commands",
            "download",
            "search",
            "trash",
        ],
        "once signed in",
    )?;
    log.consistent()?;

    // A reload with the session kept: the list shows without the sign-in's
    // chunks, and the rest still waits for its first use.
    browser.goto(&home).await?;
    browser.find_by_role("grid", "Files in Home").await?;
    browser
        .find_by_role("button", "Delete folder f0002")
        .await?;
    wait_for_split(&browser, &build, "live").await?;
    browser.settle().await?;
    let log = Log::read(&browser, &build).await?;
    assert!(
        log.split("browser").is_some(),
        "the list showed without the browser chunk: is FERRY_DIST the split build?"
    );
    log.none_of(
        &[
            "auth",
            "sign_in_steps",
            "provided",
            "uploads",
            "dialogs",
            "activity",
            "commands",
            "download",
            "search",
            "trash",
        ],
        "after a reload with the session kept",
    )?;

    // The pointer on "Upload files" fetches the upload driver, before any
    // file is chosen (and nothing else); the first upload then fetches the
    // commands' chunk.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, b"which chunks load when\n")?;
    let pick = browser.find_by_label("Upload files").await?;
    let hovered_at = browser.page_clock().await?;
    browser.hover(&pick).await?;
    let driver = wait_for_split(&browser, &build, "uploads").await?;
    assert!(
        driver.start >= hovered_at,
        "the uploads chunk was requested at {:.1} ms, before the pointer reached Upload files at {hovered_at:.1} ms",
        driver.start
    );
    browser.settle().await?;
    let log = Log::read(&browser, &build).await?;
    log.none_of(
        &[
            "dialogs", "activity", "commands", "download", "search", "trash",
        ],
        "with the pointer on Upload files",
    )?;
    // With checksums (the default) the hashing workers start too, so their
    // script is loaded and running before a file is chosen.
    let worker = log
        .fetched
        .iter()
        .find(|f| f.path.contains("hash-worker"))
        .context("the pointer on Upload files started no hashing worker")?;
    assert!(
        worker.start >= driver.start,
        "the hashing worker's script was requested at {:.1} ms, before the uploads chunk at {:.1} ms",
        worker.start,
        driver.start
    );
    let picked_at = browser.page_clock().await?;
    pick.send_keys(path.to_str().context("a UTF-8 path")?)
        .await?;
    let uploads = browser.find_by_role("region", "Uploads").await?;
    wait_for_text(&uploads, |t| t.contains("Indexed")).await?;
    let log = Log::read(&browser, &build).await?;
    let commands = log
        .split("commands")
        .context("an upload finished without the commands chunk")?;
    assert!(
        commands.start >= picked_at,
        "the commands chunk was requested at {:.1} ms, before the file was picked at {picked_at:.1} ms",
        commands.start
    );
    log.none_of(&["dialogs", "activity", "search"], "after the first upload")?;

    // The first selection fetches the dialogs' chunk, with the bar that
    // acts on the rows selected.
    let selected_at = browser.page_clock().await?;
    browser.find_by_label("Select f0001").await?.click().await?;
    browser.find_by_role("region", "Selection").await?;
    let dialogs = wait_for_split(&browser, &build, "dialogs").await?;
    assert!(
        dialogs.start >= selected_at,
        "the dialogs chunk was requested at {:.1} ms, before a row was selected at {selected_at:.1} ms",
        dialogs.start
    );
    browser
        .find_by_role("button", "Clear selection")
        .await?
        .click()
        .await?;
    browser.wait_gone("region", "Selection").await?;
    // The dialogs come from the same chunk.
    browser
        .find_by_role("button", "New folder")
        .await?
        .click()
        .await?;
    browser.find_by_role("dialog", "New folder").await?;
    browser
        .find_by_role("button", "Cancel")
        .await?
        .click()
        .await?;
    browser.wait_gone("dialog", "New folder").await?;
    let log = Log::read(&browser, &build).await?;
    log.none_of(&["activity", "search"], "before Activity was opened")?;

    // The first search fetches the search's chunk.
    let searched_at = browser.page_clock().await?;
    browser
        .find_by_role("searchbox", "Search all files")
        .await?
        .send_keys("notes\u{E007}") // Enter submits
        .await?;
    browser
        .find_by_role("grid", "Search results for notes")
        .await?;
    let search = wait_for_split(&browser, &build, "search").await?;
    assert!(
        search.start >= searched_at,
        "the search chunk was requested at {:.1} ms, before the search was sent at {searched_at:.1} ms",
        search.start
    );

    // Opening Activity fetches its chunk.
    let opened_at = browser.page_clock().await?;
    browser
        .find_by_role("button", "Activity")
        .await?
        .click()
        .await?;
    browser.find_by_role("complementary", "Activity").await?;
    let activity = wait_for_split(&browser, &build, "activity").await?;
    assert!(
        activity.start >= opened_at,
        "the activity chunk was requested at {:.1} ms, before Activity was clicked at {opened_at:.1} ms",
        activity.start
    );

    // The versions panel and the Trash view share a chunk, loaded when the
    // first of them is opened.
    let log = Log::read(&browser, &build).await?;
    log.none_of(&["trash"], "before the versions or the Trash were opened")?;
    let opened_at = browser.page_clock().await?;
    browser
        .find_by_role("button", "Versions of notes.txt")
        .await?
        .click()
        .await?;
    browser
        .find_by_role("dialog", "Versions of notes.txt")
        .await?;
    let trash = wait_for_split(&browser, &build, "trash").await?;
    assert!(
        trash.start >= opened_at,
        "the trash chunk was requested at {:.1} ms, before Versions was clicked at {opened_at:.1} ms",
        trash.start
    );
    browser
        .find_by_role("button", "Close")
        .await?
        .click()
        .await?;
    browser
        .find_by_role("button", "Trash")
        .await?
        .click()
        .await?;
    browser.find_by_role("region", "Trash").await?;

    // In all that, the kept session never fetched the sign-in's chunks.
    browser.settle().await?;
    let log = Log::read(&browser, &build).await?;
    log.none_of(
        &["auth", "sign_in_steps", "download"],
        "after the upload, a dialog and Activity",
    )?;
    log.consistent()?;
    Ok(())
}

/// A chunk that can't be fetched (the connection dropped) is said so on the
/// page, with "Try again", and told to the host page as `ferry-error`;
/// nothing else breaks, and once the connection is back the same button
/// loads it: a failed load is not remembered.
#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn a_chunk_that_cant_be_fetched_can_be_tried_again() -> Result<()> {
    let stack = Stack::start()?;
    stack.add_user("una", "Ferry-una-pw-1")?;
    let browser = Browser::start().await?;
    browser.sign_in(&stack, "una", "Ferry-una-pw-1").await?;
    browser.find_by_label("Upload files").await?;
    browser
        .run_async(
            "window.heardErrors = [];\
             document.addEventListener('ferry-error', (e) => heardErrors.push(e.detail));\
             arguments[0]();",
            vec![],
        )
        .await?;

    browser.set_offline(true).await?;
    browser
        .find_by_role("button", "Activity")
        .await?
        .click()
        .await?;
    // The listing has a "Try again" of its own, for when the files can't be
    // loaded (offline, it may say so too): this one is the alert's.
    let again = browser
        .find_by_role_in("[role=alert]", "button", "Try again")
        .await?;
    let said = browser
        .run_async(
            "const [button, done] = arguments; done(button.closest('[role=alert]')?.textContent ?? '');",
            vec![serde_json::to_value(&again)?],
        )
        .await?;
    let said = said.as_str().unwrap_or_default();
    ensure!(
        said.contains("Part of Ferry couldn't be loaded. Check your connection"),
        "the alert says {said:?}"
    );
    let heard = browser
        .run_async("arguments[0](heardErrors);", vec![])
        .await?;
    // The host page hears the chunk's failure once. Offline, the listing
    // may also have been loaded again meanwhile and found the server
    // unreachable (whether it was depends on the machine's pace, as above):
    // that, and nothing else, may be heard besides.
    let chunk = serde_json::json!({
        "schemaVersion": 1,
        "code": "ChunkLoadFailed",
        "message": "Part of Ferry couldn't be loaded. Check your connection and try again.",
        "retryable": true,
    });
    let all = heard.as_array().context("the errors heard")?;
    ensure!(
        all.iter().filter(|e| **e == chunk).count() == 1
            && all
                .iter()
                .all(|e| *e == chunk || e["code"] == "Unreachable"),
        "the host page heard {heard}"
    );
    // The rest of the browser still works while the panel can't load.
    browser.find_by_role("button", "New folder").await?;

    browser.set_offline(false).await?;
    again.click().await?;
    let panel = browser.find_by_role("complementary", "Activity").await?;
    wait_for_text(&panel, |t| t.contains("Nothing yet")).await?;
    ensure!(
        browser.count("[role=alert] button").await? == 0,
        "the chunk's alert stayed after it loaded"
    );
    Ok(())
}
