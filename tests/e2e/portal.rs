//! The example portal (examples/portal/) on its own origin, under its
//! strict Content-Security-Policy, served by the same code as `cargo xtask
//! run --portal`: it signs in with amazon-cognito-identity-js and hands its
//! tokens to two `<ferry-files>` elements, follows their events, keeps its
//! own URL, and themes them.
//!
//! Ferry is reached through the test's proxy (tests/e2e/proxy.rs), which
//! is Ferry's public URL: it can hold an upload's part back, and it counts
//! the WebSockets still open between the browser and the server.

use crate::harness::{Browser, Stack, wait_for_text};
use crate::proxy::{Fault, Proxy, Rule};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "../../examples/portal/serve.rs"]
mod site;

const USER: &str = "demo";
const PASSWORD: &str = "Ferry-demo-1";

/// How long to wait for the server's side of a socket to change.
const PATIENCE: Duration = Duration::from_secs(15);

/// Installed before the portal's scripts: every `securitypolicyviolation`,
/// every URL the page has (after each `pushState`, `replaceState`,
/// `popstate` and `hashchange`, whoever caused it), and every event the
/// elements send, kept in the tab's session storage so they outlive a
/// reload. Ferry's events are composed, so the window hears them all;
/// `route` is the element's view in the portal.
const RECORD: &str = r#"
const keep = (key, value) => {
  const seen = JSON.parse(sessionStorage.getItem(key) || '[]');
  seen.push(value);
  sessionStorage.setItem(key, JSON.stringify(seen));
};
keep('test-urls', location.href);
for (const method of ['pushState', 'replaceState']) {
  const original = history[method].bind(history);
  history[method] = (...args) => {
    original(...args);
    keep('test-urls', location.href);
  };
}
addEventListener('popstate', () => keep('test-urls', location.href));
addEventListener('hashchange', () => keep('test-urls', location.href));
addEventListener('securitypolicyviolation', (event) => {
  keep('test-csp', `${event.effectiveDirective} blocked ${event.blockedURI} at ${event.sourceFile}:${event.lineNumber} ${event.sample}`);
}, true);
for (const name of ['ferry-ready', 'ferry-navigate', 'ferry-upload-complete', 'ferry-error', 'ferry-signed-out']) {
  addEventListener(name, (event) => {
    keep('test-events', { name, route: event.target.dataset ? event.target.dataset.route : null, detail: event.detail });
  }, true);
}
"#;

/// What [`RECORD`] kept.
const RECORDED: &str = r#"
const done = arguments[arguments.length - 1];
done({
  violations: JSON.parse(sessionStorage.getItem('test-csp') || '[]'),
  events: JSON.parse(sessionStorage.getItem('test-events') || '[]'),
  urls: JSON.parse(sessionStorage.getItem('test-urls') || '[]'),
});
"#;

/// Creates folders through Ferry's API with a token from the provider the
/// portal handed to the "My files" element, as another part of the portal
/// could; answers how many were accepted.
const CREATE_FOLDERS: &str = r#"
const [paths, done] = [arguments[0], arguments[arguments.length - 1]];
(async () => {
  const element = document.querySelector('ferry-files[data-route="files"]');
  const { accessToken } = await element.tokenProvider({ forceRefresh: false });
  const ferry = document.querySelector('meta[name="ferry-url"]').content;
  let accepted = 0;
  for (const path of paths) {
    const id = crypto.randomUUID();
    const body = {
      metadata: { EventVersion: 1, EventId: id, CommandId: id, TraceId: id.replaceAll('-', ''),
                  OccurredAt: new Date().toISOString(), Producer: 'e2e' },
      data: { Action: 'CreateFolder', Path: path },
    };
    const response = await fetch(`${ferry}/api/commands`, { method: 'POST', body: JSON.stringify(body),
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' } });
    if (response.status === 202) accepted++;
  }
  done(accepted);
})().catch((error) => done(String(error)));
"#;

/// The computed background of the control `input` is the label of (Ferry's
/// "Upload files" is a label styled as its primary button).
const LABEL_BACKGROUND: &str = r#"
const done = arguments[arguments.length - 1];
done(getComputedStyle(arguments[0].closest('label')).backgroundColor);
"#;

/// Small files in one `PUT`, larger ones in 5 MiB parts, so an upload
/// has a part the proxy can hold back.
const SMALL_PARTS: [&str; 4] = [
    "--multipart-threshold-bytes",
    "5242880",
    "--part-size-bytes",
    "5242880",
];

/// The portal, built for and beside a stack behind the proxy, and a
/// browser signed in to it.
struct Portal {
    /// The portal's origin, `http://127.0.0.1:PORT`.
    url: String,
    proxy: Proxy,
    browser: Browser,
    _stack: Stack,
    _serving: site::Serving,
    _site: tempfile::TempDir,
}

impl Portal {
    /// Starts the stack (with `flags`) behind the proxy, allowing the
    /// portal's origin; builds and serves the portal; signs in through its
    /// form at `/files`.
    async fn signed_in(flags: &[&str]) -> Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let (proxy, proxied) = Proxy::bind().await?;
        let mut all = vec!["--allow-origin", url.as_str()];
        all.extend_from_slice(flags);
        let stack = Stack::start_behind(&proxy, proxied, &all).await?;
        stack.add_user(USER, PASSWORD)?;

        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let esbuild = root.join("tools/npm/node_modules/.bin/esbuild");
        if !esbuild.exists() {
            bail!(
                "{} is missing: run `npm ci` in tools/npm (`cargo xtask test` does)",
                esbuild.display()
            );
        }
        let built = tempfile::tempdir()?;
        site::build(&root, Command::new(esbuild), &stack.url, built.path())
            .context("building the portal")?;
        let serving = site::serve(listener, built.path().to_owned(), site::policy(&stack.url))?;

        let browser = Browser::start().await?;
        browser.before_each_page(RECORD).await?;
        browser.goto(&format!("{url}/files")).await?;
        browser
            .find_by_role("heading", "Sign in to Northwind")
            .await?;
        browser.submit_credentials(USER, PASSWORD).await?;
        browser.find_by_role("heading", "My files").await?;
        // Something to list, in Home and in Reports; the elements hear of
        // it live.
        let folders = json!(["Projects", "Reports", "Reports/2026"]);
        let accepted = browser.run_async(CREATE_FOLDERS, vec![folders]).await?;
        assert_eq!(accepted, json!(3), "the folders were created");
        browser.find_by_role("link", "Projects").await?;
        browser.find_by_role("grid", "Files in Home").await?;
        browser.screenshot("portal-signed-in").await?;
        Ok(Self {
            url,
            proxy,
            browser,
            _stack: stack,
            _serving: serving,
            _site: built,
        })
    }

    /// The violations and events recorded, and the page's URL.
    async fn recorded(&self) -> Result<Value> {
        self.browser.run_async(RECORDED, Vec::new()).await
    }

    /// The events named `name` recorded so far.
    async fn events(&self, name: &str) -> Result<Vec<Value>> {
        let recorded = self.recorded().await?;
        Ok(recorded["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|event| event["name"] == name)
            .cloned()
            .collect())
    }

    /// Fails on any recorded violation of the portal's policy, or any URL
    /// the page had that is not the portal's or has a fragment.
    async fn assert_clean(&self) -> Result<()> {
        let recorded = self.recorded().await?;
        assert_eq!(recorded["violations"], json!([]), "{recorded}");
        let urls = recorded["urls"].as_array().context("no URLs recorded")?;
        assert!(!urls.is_empty(), "{recorded}");
        for url in urls {
            let url = url.as_str().unwrap_or_default();
            assert!(
                url.starts_with(&format!("{}/", self.url)) && !url.contains('#'),
                "the portal keeps its URL: {url} in {urls:?}"
            );
        }
        Ok(())
    }

    /// Waits until the proxy counts `count` open WebSockets.
    async fn wait_for_sockets(&self, count: usize) -> Result<()> {
        let deadline = Instant::now() + PATIENCE;
        while self.proxy.sockets_open() != count {
            if Instant::now() > deadline {
                bail!(
                    "{} WebSockets are open, not {count}",
                    self.proxy.sockets_open()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Clicks the portal's link (or any link) named `name`.
    async fn follow(&self, name: &str) -> Result<()> {
        self.browser
            .find_by_role("link", name)
            .await?
            .click()
            .await?;
        Ok(())
    }

    /// Runs `script` with the `<ferry-files>` of view `route` as `element`.
    async fn with_element(&self, route: &str, script: &str) -> Result<Value> {
        let script = format!(
            "const done = arguments[arguments.length - 1];\n\
             const element = document.querySelector('ferry-files[data-route=\"{route}\"]');\n\
             {script}"
        );
        self.browser.run_async(&script, Vec::new()).await
    }
}

/// The bytes of the file the tests upload: `len` of them, no two 2 KiB
/// runs alike. The page makes the same (see [`UPLOAD`]).
fn upload_bytes(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + (i >> 11)) & 255) as u8)
        .collect()
}

/// Hands `element` a file made in the page, as a portal's own upload
/// button would (`upload(files)`).
const UPLOAD: &str = r#"
const bytes = new Uint8Array(LEN);
for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + (i >>> 11)) & 255;
customElements.whenDefined('ferry-files').then(() => {
  element.upload([new File([bytes], NAME, { type: 'application/octet-stream' })]);
  done(true);
});
"#;

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn the_portal_signs_in_and_hands_its_tokens_to_both_elements() -> Result<()> {
    let portal = Portal::signed_in(&[]).await?;
    let browser = &portal.browser;
    // The portal's form was the only one: the elements take its tokens
    // and offer no sign-in of their own, nor a sign-out.
    browser.wait_gone("button", "Sign in").await?;
    let mut sign_outs = 0;
    for button in browser.find_all("button").await? {
        if browser.accessible(&button).await? == ("button".to_owned(), "Sign out".to_owned()) {
            sign_outs += 1;
        }
    }
    assert_eq!(sign_outs, 1, "only the portal's own Sign out");
    assert_eq!(browser.url().await?, format!("{}/files", portal.url));

    // Themed by the portal: its accent and font, not Ferry's blue
    // (rgb(11, 99, 206)) and system font; and a variable the portal changes
    // later restyles at once.
    let upload = browser.find_by_label("Upload files").await?;
    let accent = || async {
        let color = browser
            .run_async(LABEL_BACKGROUND, vec![serde_json::to_value(&upload)?])
            .await?;
        anyhow::Ok(color.as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(accent().await?, "rgb(15, 118, 110)");
    let new_folder = browser.find_by_role("button", "New folder").await?;
    let font = new_folder.css_value("font-family").await?;
    assert!(font.starts_with("\"Trebuchet MS\""), "{font}");
    portal
        .with_element(
            "files",
            "element.style.setProperty('--ferry-accent', '#b91c1c'); done(true);",
        )
        .await?;
    assert_eq!(accent().await?, "rgb(185, 28, 28)");

    // The portal's router shows the other element, at the folder the
    // portal set on it; the URL is the portal's own.
    portal.follow("Team reports").await?;
    browser.find_by_role("heading", "Team reports").await?;
    browser.find_by_role("grid", "Files in Reports").await?;
    assert_eq!(browser.url().await?, format!("{}/reports", portal.url));
    // Both elements are live at once, each with its own socket.
    portal.wait_for_sockets(2).await?;
    let ready = portal.events("ferry-ready").await?;
    let mut routes: Vec<&str> = ready.iter().filter_map(|e| e["route"].as_str()).collect();
    routes.sort_unstable();
    assert_eq!(routes, ["files", "reports"], "once each: {ready:?}");

    // Signing out of the portal ends both elements' sessions (`signOut()`):
    // their sockets close, and the portal's form is back, after a reload
    // too.
    browser
        .find_by_role("button", "Sign out")
        .await?
        .click()
        .await?;
    browser
        .find_by_role("heading", "Sign in to Northwind")
        .await?;
    portal.wait_for_sockets(0).await?;
    let ended = portal.events("ferry-signed-out").await?;
    let mut reasons: Vec<(&str, &str)> = ended
        .iter()
        .map(|e| {
            (
                e["route"].as_str().unwrap_or_default(),
                e["detail"]["reason"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    reasons.sort_unstable();
    assert_eq!(reasons, [("files", "host"), ("reports", "host")]);
    browser.goto(&format!("{}/reports", portal.url)).await?;
    browser
        .find_by_role("heading", "Sign in to Northwind")
        .await?;
    portal.assert_clean().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn an_upload_reaches_the_portal_while_its_router_moves_on() -> Result<()> {
    let portal = Portal::signed_in(&SMALL_PARTS).await?;
    let browser = &portal.browser;
    portal.follow("Team reports").await?;
    browser
        .find_by_role("grid", "Files in Reports")
        .await
        .context("the Reports view")?;

    // A file of two parts, handed to the Reports element; its first part
    // is held back at the proxy while the portal's router moves on.
    const NAME: &str = "q3-figures.bin";
    const LEN: usize = 6 * 1024 * 1024 + 123;
    let expected = hex(&Sha256::digest(upload_bytes(LEN)));
    portal.proxy.add(Rule {
        part: 1,
        fault: Fault::Delay(Duration::from_secs(3)),
        times: 1,
    });
    let upload = UPLOAD
        .replace("LEN", &LEN.to_string())
        .replace("NAME", &json!(NAME).to_string());
    portal.with_element("reports", &upload).await?;
    let deadline = Instant::now() + PATIENCE;
    while portal.proxy.puts_in_flight() == 0 {
        if Instant::now() > deadline {
            browser.screenshot("portal-upload-never-started").await?;
            bail!("the upload never started: {}", portal.recorded().await?);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    portal.follow("My files").await?;
    browser.find_by_role("grid", "Files in Home").await?;
    assert_eq!(browser.url().await?, format!("{}/files", portal.url));

    // The upload went on in the hidden view; the portal's list hears of
    // it from `ferry-upload-complete`, with the file's SHA-256.
    let recent = browser
        .find_by_role("complementary", "Recently uploaded")
        .await?;
    let text = wait_for_text(&recent, |t| t.contains(NAME)).await?;
    assert!(text.contains("in Reports"), "{text}");
    assert!(text.contains(&format!("SHA-256 {expected}")), "{text}");
    let completed = portal.events("ferry-upload-complete").await?;
    assert_eq!(completed.len(), 1, "{completed:?}");
    assert_eq!(completed[0]["route"], "reports");
    let file = &completed[0]["detail"]["file"];
    assert_eq!(file["name"], NAME);
    assert_eq!(file["folder"], "Reports");
    assert_eq!(file["size"], LEN);
    assert_eq!(file["sha256"], expected.as_str());

    // Home now has the folder. Opened in "My files", the portal follows
    // `ferry-navigate` into its own URL; back, it hands the folder back.
    portal.follow("Reports").await?;
    browser
        .wait_for_url(&format!("{}/files?folder=Reports", portal.url))
        .await?;
    browser
        .find_by_role("grid", "Files in Reports")
        .await
        .context("My files, opened at Reports")?;
    browser.back().await?;
    browser
        .wait_for_url(&format!("{}/files", portal.url))
        .await?;
    browser.find_by_role("grid", "Files in Home").await?;
    let navigated = portal.events("ferry-navigate").await?;
    let folders: Vec<&Value> = navigated.iter().map(|e| &e["detail"]["folder"]).collect();
    assert_eq!(
        folders,
        [&json!("Reports")],
        "only the person's move: {navigated:?}"
    );
    let urls = portal.recorded().await?["urls"].clone();
    let wanted = json!(format!("{}/files?folder=Reports", portal.url));
    assert!(
        urls.as_array().is_some_and(|urls| urls.contains(&wanted)),
        "the recorder saw the portal's own moves: {urls}"
    );

    // A URL the portal is opened at sets the element's `folder`; the file
    // is listed there, in both views.
    browser
        .goto(&format!("{}/files?folder=Reports", portal.url))
        .await?;
    browser
        .find_by_role("grid", "Files in Reports")
        .await
        .context("My files, loaded at Reports")?;
    browser
        .find_by_role("button", &format!("Download {NAME}"))
        .await?;
    portal.follow("Team reports").await?;
    browser
        .find_by_role("button", &format!("Download {NAME}"))
        .await?;
    portal.assert_clean().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn a_removed_element_closes_its_socket_and_a_failing_provider_ends_a_session() -> Result<()> {
    let portal = Portal::signed_in(&[]).await?;
    let browser = &portal.browser;
    portal.wait_for_sockets(2).await?;

    // The portal takes the Reports element out of the page: the server
    // has one socket left, and the other element goes on.
    portal
        .with_element("reports", "element.remove(); done(true);")
        .await?;
    portal.wait_for_sockets(1).await?;
    let files = browser.find_by_role("region", "Files").await?;
    wait_for_text(&files, |t| t.contains("Live") && !t.contains("polling")).await?;

    // The portal's provider now fails (its own session is gone): the
    // element says so, tells the portal, and closes its socket.
    portal
        .with_element(
            "files",
            "element.tokenProvider = async () => { throw new Error('The portal session expired.'); };\n\
             done(true);",
        )
        .await?;
    let ended = browser
        .find_by_role("heading", "Your portal session has ended")
        .await?;
    assert!(ended.is_displayed().await?);
    portal.wait_for_sockets(0).await?;
    let signed_out = portal.events("ferry-signed-out").await?;
    assert_eq!(signed_out.len(), 1, "{signed_out:?}");
    assert_eq!(signed_out[0]["route"], "files");
    assert_eq!(signed_out[0]["detail"]["reason"], "providerFailed");
    let errors = portal.events("ferry-error").await?;
    assert!(
        errors
            .iter()
            .any(|e| e["detail"]["code"] == "TokenProviderFailed"),
        "{errors:?}"
    );
    let status = browser.find_by_role("status", "").await?;
    wait_for_text(&status, |t| t.contains("couldn't give Ferry a session")).await?;
    portal.assert_clean().await?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
