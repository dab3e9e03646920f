//! The app shell loads in a real browser from the real server.

use crate::harness::{Browser, Stack, wait_for_text};

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn the_shell_loads_its_settings_from_the_local_stack() -> anyhow::Result<()> {
    let stack = Stack::start()?;
    let browser = Browser::start().await?;
    browser.goto(&stack.url).await?;

    browser.find_by_role("banner", "").await?;
    browser.find_by_role("heading", "Your files, live").await?;
    let status = browser.find_by_role("status", "").await?;
    wait_for_text(&status, |t| t == "Connected to the local stack.").await?;
    // The pool id on the page came from the server's /config.json.
    let main = browser.find_by_role("main", "").await?;
    let text = main.text().await?;
    assert!(text.contains("local-1_ferry"), "{text}");
    browser.assert_every_control_is_named().await?;
    browser.screenshot("shell").await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn a_deep_link_opens_the_same_app() -> anyhow::Result<()> {
    let stack = Stack::start()?;
    let browser = Browser::start().await?;
    browser
        .goto(&format!("{}/files/Photos/2026", stack.url))
        .await?;
    browser.find_by_role("heading", "Your files, live").await?;
    Ok(())
}
