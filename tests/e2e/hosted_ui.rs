//! Single sign-on through the hosted UI: authorization code with PKCE, in a
//! real browser, the code exchanged by the page itself as a portal would.

use crate::harness::{Browser, Stack};
use serde_json::{Value, json};

/// RFC 7636 Appendix B: a verifier and its S256 challenge.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

const EXCHANGE: &str = r#"
const [code, verifier, done] = arguments;
fetch('/oauth2/token', {
  method: 'POST',
  headers: {'content-type': 'application/x-www-form-urlencoded'},
  body: new URLSearchParams({grant_type: 'authorization_code', code, client_id: 'ferryweb',
                             redirect_uri: location.origin + '/auth/callback', code_verifier: verifier}),
}).then(r => r.json().then(body => done({status: r.status, body})), e => done({status: 0, body: String(e)}));
"#;

fn param(url: &str, name: &str) -> Option<String> {
    url.split_once('?')?
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{name}=")).map(str::to_owned))
}

/// The URL the hosted UI sent the browser back to. The app served there
/// takes the callback out of the address bar at once (`replaceState`), so
/// a poll of the address may never see it; the page's navigation entry
/// keeps the URL it was loaded at.
async fn landed_at(browser: &Browser, origin: &str) -> anyhow::Result<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let url = browser.url().await?;
        if url.starts_with(origin) && !url.contains("/oauth2/") {
            let entry = browser
                .run_async(
                    "arguments[0](performance.getEntriesByType('navigation')[0].name)",
                    vec![],
                )
                .await?;
            return Ok(entry.as_str().unwrap_or_default().to_owned());
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!("the hosted UI never sent the browser back; it is at {url}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn pkce_sign_in_through_the_hosted_ui() -> anyhow::Result<()> {
    let stack = Stack::start()?;
    stack.add_user("alice", "Correct-Horse-1")?;
    let browser = Browser::start().await?;
    let callback = format!("{}/auth/callback", stack.url);
    browser
        .goto(&format!(
            "{}/oauth2/authorize?response_type=code&client_id=ferryweb&redirect_uri={}&scope=openid&state=portal-42\
             &code_challenge={CHALLENGE}&code_challenge_method=S256",
            stack.url, callback
        ))
        .await?;

    browser.find_by_role("heading", "Sign in to Ferry").await?;
    browser.assert_every_control_is_named().await?;
    browser.submit_credentials("alice", "Wrong-Horse-1").await?;
    let alert = browser.find_by_role("alert", "").await?;
    assert_eq!(alert.text().await?, "Incorrect username or password.");
    browser.screenshot("hosted-ui-wrong-password").await?;

    browser
        .find_by_label("Password")
        .await?
        .send_keys("Correct-Horse-1")
        .await?;
    browser
        .find_by_role("button", "Sign in")
        .await?
        .click()
        .await?;
    let landed = landed_at(&browser, &stack.url).await?;
    assert!(landed.starts_with(&callback), "{landed}");
    assert_eq!(param(&landed, "state").as_deref(), Some("portal-42"));
    let code = param(&landed, "code").expect("a code in the callback URL");

    let exchange = |verifier: &str| browser.run_async(EXCHANGE, vec![json!(code), json!(verifier)]);
    let wrong: Value = exchange("wrong-verifier-wrong-verifier-wrong-verifier-0").await?;
    assert_eq!(wrong["status"], 400, "{wrong}");
    let tokens: Value = exchange(VERIFIER).await?;
    assert_eq!(tokens["status"], 200, "{tokens}");
    assert!(
        tokens["body"]["id_token"]
            .as_str()
            .is_some_and(|t| t.starts_with("eyJ"))
    );
    assert!(tokens["body"]["refresh_token"].is_string());
    let again: Value = exchange(VERIFIER).await?;
    assert_eq!(again["body"]["error"], "invalid_grant", "a code works once");
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn the_app_signs_in_through_the_hosted_ui_with_pkce() -> anyhow::Result<()> {
    let stack = Stack::start_with(&["--hosted-ui"])?;
    stack.add_user("alice", "Correct-Horse-1")?;
    let browser = Browser::start().await?;
    browser.goto(&format!("{}/", stack.url)).await?;
    browser
        .find_by_role("button", "Sign in with single sign-on")
        .await?
        .click()
        .await?;
    // The hosted UI's own page, with the app's challenge in its URL.
    let at = browser
        .wait_for_url(&format!("{}/oauth2/authorize", stack.url))
        .await?;
    assert!(at.contains("code_challenge_method=S256"), "{at}");
    browser
        .submit_credentials("alice", "Correct-Horse-1")
        .await?;
    // Back in the app: signed in, the callback gone from the address bar.
    browser
        .find_by_role("heading", "Signed in as alice")
        .await?;
    let url = browser.url().await?;
    assert_eq!(url.trim_end_matches('/'), stack.url, "{url}");
    browser.find_by_role("region", "Files").await?;
    browser.screenshot("hosted-ui-signed-in").await?;
    // A used callback can't sign in again.
    browser
        .goto(&format!(
            "{}/auth/callback?code=replayed&state=x",
            stack.url
        ))
        .await?;
    let alert = browser.find_by_role("alert", "").await?;
    let said = crate::harness::wait_for_text(&alert, |t| !t.is_empty()).await?;
    assert!(said.contains("Sign in again"), "{said}");
    Ok(())
}
