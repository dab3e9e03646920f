//! Timings of the web client in Chromium against the real server, for
//! `cargo xtask bench` (ignored by `cargo test`). Each figure is printed as a
//! `FERRY_BENCH name_ms=value` line next to a baseline measured in the same run:
//!
//! - navigation to a rendered file list, against navigation to the server's
//!   small `/config.json` (the browser's and server's bare round trip);
//! - a delete's click to its row disappearing, with the WebSocket and with
//!   polling, against a click that only changes the page (opening Activity).
//!
//! Times come from the page's own clock (`performance.now()`), so WebDriver's
//! overhead is not in them.

#![cfg(not(target_arch = "wasm32"))]

#[allow(dead_code)]
#[path = "e2e/harness.rs"]
mod harness;

use anyhow::{Context, Result};
use harness::{Browser, Stack};
use serde_json::json;

/// Runs of each measurement; the median is printed.
const RUNS: usize = 7;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Milliseconds from navigation start until the grid is in the page.
const LIST_RENDERED: &str = r#"
const done = arguments[arguments.length - 1];
const check = () => document.querySelector('[role=grid] [role=row][aria-rowindex="2"]')
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
const button = [...document.querySelectorAll('button')]
  .find(b => (b.getAttribute('aria-label') || b.textContent.trim()) === name);
if (!button) { done('no button ' + name); return; }
const start = performance.now();
const check = () => (document.querySelector(selector) !== null) === present
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
