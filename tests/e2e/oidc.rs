//! An OpenID Connect relying party someone else wrote (oidc-client-ts,
//! pinned in tools/npm) signs in through the hosted UI from a page on
//! another origin: the redirect after the sign-in form reaches its
//! callback (the page's `form-action`), the ID token carries the nonce it
//! sent, and its profile is completed from `/oauth2/userInfo`.

use crate::harness::{Browser, Stack, wait_for_text};
use anyhow::{Context, Result};
use fantoccini::Locator;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A file the portal's server answers with: its type and its bytes.
type Served = (&'static str, Vec<u8>);

/// Serves the portal (tests/e2e/oidc/portal.html at `/` and at its
/// callback), its configuration, and oidc-client-ts's browser bundle, on
/// `listener`, for as long as the test's runtime runs.
fn serve_portal(listener: TcpListener, authority: &str) -> Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bundle =
        root.join("tools/npm/node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js");
    let bundle = std::fs::read(&bundle).with_context(|| {
        format!(
            "{} is missing: run `npm ci` in tools/npm (`cargo xtask test` does)",
            bundle.display()
        )
    })?;
    let page = std::fs::read(root.join("tests/e2e/oidc/portal.html"))?;
    let config = format!(
        "window.PORTAL = {};",
        serde_json::json!({"authority": authority, "clientId": "ferryweb"})
    );
    let html = "text/html; charset=utf-8";
    let js = "text/javascript; charset=utf-8";
    let files: Arc<HashMap<&'static str, Served>> = Arc::new(HashMap::from([
        ("/", (html, page.clone())),
        ("/callback.html", (html, page)),
        ("/config.js", (js, config.into_bytes())),
        ("/oidc-client-ts.min.js", (js, bundle)),
    ]));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let files = files.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65_536 {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let target = head.split_whitespace().nth(1).unwrap_or("/");
                let path = target.split(['?', '#']).next().unwrap_or("/");
                let (status, kind, body) = match files.get(path) {
                    Some((kind, body)) => ("200 OK", *kind, body.as_slice()),
                    None => ("404 Not Found", "text/plain", &b"not found"[..]),
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
                     Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.write_all(body).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn an_oidc_client_on_another_origin_signs_in_with_nonce_and_user_info() -> Result<()> {
    // The portal's own port: another origin than the stack's.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let portal = format!("http://{}", listener.local_addr()?);
    let callback = format!("{portal}/callback.html");
    let stack = Stack::start_with(&["--callback-url", &callback])?;
    stack.admin(&[
        "user",
        "add",
        "carol",
        "--password",
        "Correct-Horse-3",
        "--email",
        "carol@example.com",
    ])?;
    serve_portal(listener, &format!("{}/local-1_ferry", stack.url))?;

    let browser = Browser::start().await?;
    browser.goto(&format!("{portal}/")).await?;
    browser
        .find_by_role("button", "Sign in with Ferry")
        .await?
        .click()
        .await?;
    let at = browser
        .wait_for_url(&format!("{}/oauth2/authorize", stack.url))
        .await?;
    assert!(at.contains("nonce="), "the client sends a nonce: {at}");
    browser.find_by_role("heading", "Sign in to Ferry").await?;
    browser.assert_every_control_is_named().await?;
    browser
        .submit_credentials("carol", "Correct-Horse-3")
        .await?;

    // Back on the portal's origin, where oidc-client-ts takes the code.
    browser.wait_for_url(&callback).await?;
    let status = browser.find_by_role("status", "").await?;
    let said = wait_for_text(&status, |t| {
        t.starts_with("Signed in") || t.starts_with("Failed")
    })
    .await?;
    browser.screenshot("oidc-client-signed-in").await?;
    // `username` is userInfo's; the ID token names it `cognito:username`.
    assert_eq!(said, "Signed in as carol");

    let table = browser.find_by_role("table", "Profile").await?;
    let mut profile = HashMap::new();
    for row in table.find_all(Locator::Css("tr")).await? {
        let name = row.find(Locator::Css("th")).await?.text().await?;
        let value = row.find(Locator::Css("td")).await?.text().await?;
        profile.insert(name, value);
    }
    let claim = |name: &str| profile.get(name).map_or("", String::as_str);
    assert_eq!(claim("email"), "carol@example.com", "{profile:?}");
    assert_eq!(claim("email_verified"), "true", "{profile:?}");
    assert!(!claim("sub").is_empty(), "{profile:?}");
    assert!(!claim("nonce sent").is_empty(), "{profile:?}");
    assert_eq!(claim("nonce in ID token"), claim("nonce sent"));
    assert_eq!(claim("scope in access token"), "openid email profile");
    Ok(())
}
