//! The standalone app under the strict Content Security Policy the server
//! sends: it loads, signs in, lists files and follows them live, and the
//! browser reports no violation on the way.

use crate::harness::{Browser, Stack, wait_for_text};
use anyhow::{Result, bail};
use serde_json::json;

/// Keeps every `securitypolicyviolation` in the tab's session storage, so
/// one on a page loaded before the last is still there to read. Installed
/// before the page's own scripts; violations in the element's shadow root
/// are composed and reach the window too.
const RECORD_VIOLATIONS: &str = r#"
addEventListener('securitypolicyviolation', (event) => {
  const seen = JSON.parse(sessionStorage.getItem('ferry-test-csp') || '[]');
  seen.push(`${event.effectiveDirective} blocked ${event.blockedURI} at ${event.sourceFile}:${event.lineNumber} ${event.sample}`);
  sessionStorage.setItem('ferry-test-csp', JSON.stringify(seen));
}, true);
"#;

/// The page's own answer from the server: its policy and the other
/// headers, and what was recorded.
const READ_POLICY: &str = r#"
const done = arguments[arguments.length - 1];
fetch('/files/Photos', { method: 'GET' })
  .then((response) => done({
    policy: response.headers.get('content-security-policy'),
    referrer: response.headers.get('referrer-policy'),
    nosniff: response.headers.get('x-content-type-options'),
    violations: JSON.parse(sessionStorage.getItem('ferry-test-csp') || '[]'),
  }))
  .catch((error) => done({ error: String(error) }));
"#;

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn the_app_runs_under_its_strict_policy() -> Result<()> {
    let stack = Stack::start_with(&["--frame-ancestors", "https://portal.example"])?;
    stack.add_user("demo", "Ferry-demo-1")?;
    let browser = Browser::start().await?;
    browser.before_each_page(RECORD_VIOLATIONS).await?;

    browser.sign_in(&stack, "demo", "Ferry-demo-1").await?;
    browser.create_folders(2).await?;
    // A second load, signed in: the listing and the WebSocket.
    browser.goto(&format!("{}/", stack.url)).await?;
    let grid = browser.find_by_role("grid", "Files in Home").await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while grid.attr("aria-rowcount").await?.as_deref() != Some("3") {
        if std::time::Instant::now() > deadline {
            bail!("the two folders are not listed");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let files = browser.find_by_role("region", "Files").await?;
    // The WebSocket is allowed: the live status is not the polling one.
    wait_for_text(&files, |t| t.contains("Live") && !t.contains("polling")).await?;

    let seen = browser.run_async(READ_POLICY, Vec::new()).await?;
    let host = stack.url.trim_start_matches("http://");
    let policy = format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
         connect-src 'self' http://{host} ws://{host}; worker-src 'self'; \
         img-src 'self' data: blob:; base-uri 'none'; frame-ancestors https://portal.example"
    );
    assert_eq!(seen["policy"], json!(policy), "{seen}");
    assert_eq!(seen["referrer"], json!("no-referrer"), "{seen}");
    assert_eq!(seen["nosniff"], json!("nosniff"), "{seen}");
    assert_eq!(seen["violations"], json!([]), "{seen}");
    Ok(())
}
