//! Signing in: the client's sign-in conversation (`ferry_web::auth`) against
//! the real identity provider over plain HTTP, then the form in a real browser.

use crate::harness::{Browser, Stack, wait_for_text};
use anyhow::{Context, Result, anyhow};
use ferry_client::auth::{AuthError, Client, Step, TokenSet, Transport, TransportError};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;

/// The user pool's JSON API over a plain HTTP/1.1 socket, as the browser's
/// `fetch` would send it.
#[derive(Debug, Clone)]
struct Http {
    /// `host:port`.
    authority: String,
}

impl Http {
    fn new(stack: &Stack) -> Self {
        Self {
            authority: stack.url.trim_start_matches("http://").to_owned(),
        }
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &str,
        body: &str,
    ) -> Result<(u16, String)> {
        let mut socket = TcpStream::connect(&self.authority)?;
        write!(
            socket,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}",
            self.authority,
            body.len()
        )?;
        let mut answer = Vec::new();
        socket.read_to_end(&mut answer)?;
        let answer = String::from_utf8(answer)?;
        let (head, body) = answer.split_once("\r\n\r\n").context("no end of headers")?;
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("no status")?;
        let body = if head.to_lowercase().contains("transfer-encoding: chunked") {
            dechunk(body)
        } else {
            body.to_owned()
        };
        Ok((status, body))
    }

    fn config(&self) -> Result<Value> {
        let (_, body) = self.request("GET", "/config.json", "", "")?;
        Ok(serde_json::from_str(&body)?)
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

impl Transport for Http {
    async fn call(&self, operation: &str, body: String) -> Result<String, TransportError> {
        let headers = format!(
            "Content-Type: application/x-amz-json-1.1\r\nX-Amz-Target: AWSCognitoIdentityProviderService.{operation}\r\n"
        );
        let (status, text) = self
            .request("POST", "/", &headers, &body)
            .map_err(|_| TransportError::Unreachable)?;
        if (200..300).contains(&status) {
            Ok(text)
        } else {
            Err(TransportError::from_body(&text))
        }
    }
}

fn client(stack: &Stack) -> Result<Client<Http>> {
    let http = Http::new(stack);
    let config = http.config()?;
    let pool = config["userPoolId"]
        .as_str()
        .context("userPoolId")?
        .to_owned();
    let client_id = config["userPoolClientId"]
        .as_str()
        .context("userPoolClientId")?
        .to_owned();
    Ok(Client::new(http, &pool, &client_id))
}

fn random() -> Vec<u8> {
    // Distinct per call, which is all SRP needs from a test.
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    (0..128u128)
        .map(|i| {
            (seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(i * 1442695040888963407)
                >> 64) as u8
        })
        .collect()
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn signed_in(step: Step) -> Result<TokenSet> {
    match step {
        Step::SignedIn(tokens) => Ok(tokens),
        other => Err(anyhow!("expected tokens, got {other:?}")),
    }
}

/// RFC 6238: HMAC-SHA1, 30-second steps, 6 digits, for a base32 secret.
fn totp(secret: &str, unix: i64) -> Result<String> {
    use hmac::{Hmac, Mac};
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut buffer, mut bits, mut key) = (0u32, 0, Vec::new());
    for c in secret.trim_end_matches('=').chars() {
        let value = ALPHABET.find(c.to_ascii_uppercase()).context("base32")?;
        buffer = (buffer << 5) | u32::try_from(value)?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            key.push((buffer >> bits) as u8);
        }
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&key)?;
    mac.update(&u64::try_from(unix / 30)?.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    Ok(format!("{:06}", binary % 1_000_000))
}

#[tokio::test]
#[ignore = "needs the server binary: run `cargo xtask test`"]
async fn signin_protocol_srp_refresh_and_revoke() -> Result<()> {
    let stack = Stack::start()?;
    stack.add_user("alice", "Correct-Horse-1")?;
    let client = client(&stack)?;

    let wrong = client
        .sign_in("alice", "Wrong-Horse-1", &random(), now())
        .await;
    assert_eq!(wrong.map(|_| ()), Err(AuthError::IncorrectCredentials));
    assert_eq!(
        AuthError::IncorrectCredentials.to_string(),
        "Incorrect username or password."
    );
    let nobody = client
        .sign_in("nobody", "Wrong-Horse-1", &random(), now())
        .await;
    assert_eq!(nobody.map(|_| ()), Err(AuthError::IncorrectCredentials));

    let tokens = signed_in(
        client
            .sign_in("alice", "Correct-Horse-1", &random(), now())
            .await?,
    )?;
    assert_eq!(tokens.username().as_deref(), Some("alice"));
    assert!(tokens.is_valid(now().unix_timestamp()));
    assert!(!tokens.needs_refresh(now().unix_timestamp()));
    assert!(tokens.refresh_token.is_some());

    let fresh = client.refresh(&tokens).await?;
    assert_eq!(fresh.refresh_token, tokens.refresh_token);
    assert!(fresh.expires_at >= tokens.expires_at);

    client.sign_out(&fresh).await?;
    assert_eq!(
        client.refresh(&fresh).await.map(|_| ()),
        Err(AuthError::SessionEnded)
    );
    Ok(())
}

#[tokio::test]
#[ignore = "needs the server binary: run `cargo xtask test`"]
async fn signin_protocol_new_password_then_mfa() -> Result<()> {
    let stack = Stack::start()?;
    let printed = stack.admin(&["user", "add", "bob", "--temporary"])?;
    let temporary = printed
        .lines()
        .find_map(|line| line.strip_prefix("temporary password: "))
        .context("no temporary password printed")?
        .trim()
        .to_owned();
    let client = client(&stack)?;

    let Step::NewPasswordRequired { session, username } =
        client.sign_in("bob", &temporary, &random(), now()).await?
    else {
        anyhow::bail!("expected NEW_PASSWORD_REQUIRED");
    };
    let weak = client.set_new_password(&session, &username, "short").await;
    assert_eq!(weak.map(|_| ()), Err(AuthError::WeakPassword));
    let step = match client
        .set_new_password(&session, &username, "Bobs-New-Pass-1")
        .await
    {
        Ok(step) => step,
        // A refused answer may have used up the single-use session.
        Err(AuthError::Expired) => {
            let Step::NewPasswordRequired { session, username } =
                client.sign_in("bob", &temporary, &random(), now()).await?
            else {
                anyhow::bail!("expected NEW_PASSWORD_REQUIRED again");
            };
            client
                .set_new_password(&session, &username, "Bobs-New-Pass-1")
                .await?
        }
        Err(other) => return Err(other.into()),
    };
    let tokens = signed_in(step)?;

    // Turn on an authenticator app, then sign in with a code from it.
    let secret = client.associate_software_token(&tokens).await?;
    let unix = now().unix_timestamp();
    client
        .enable_software_mfa(&tokens, &totp(&secret, unix)?)
        .await?;
    let Step::MfaCode { session, username } = client
        .sign_in("bob", "Bobs-New-Pass-1", &random(), now())
        .await?
    else {
        anyhow::bail!("expected SOFTWARE_TOKEN_MFA");
    };
    let wrong = client.verify_mfa_code(&session, &username, "000000").await;
    assert!(wrong.is_err());
    let Step::MfaCode { session, username } = client
        .sign_in("bob", "Bobs-New-Pass-1", &random(), now())
        .await?
    else {
        anyhow::bail!("expected SOFTWARE_TOKEN_MFA again");
    };
    // The code used to enable MFA can't be replayed: take the next step's.
    let code = totp(&secret, unix + 30)?;
    let tokens = signed_in(client.verify_mfa_code(&session, &username, &code).await?)?;
    assert_eq!(tokens.username().as_deref(), Some("bob"));
    Ok(())
}

const STORED_TOKENS: &str =
    "arguments[arguments.length - 1](sessionStorage.getItem('ferry.tokens'));";

async fn type_into(browser: &Browser, label: &str, text: &str) -> Result<()> {
    browser.find_by_label(label).await?.send_keys(text).await?;
    Ok(())
}

async fn click(browser: &Browser, name: &str) -> Result<()> {
    browser.find_by_role("button", name).await?.click().await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn signin_form_wrong_password_then_in_and_out() -> Result<()> {
    let stack = Stack::start()?;
    stack.add_user("demo", "Ferry-demo-1")?;
    let browser = Browser::start().await?;
    browser.goto(&format!("{}/", stack.url)).await?;

    browser.find_by_role("heading", "Sign in to Ferry").await?;
    browser.assert_every_control_is_named().await?;
    type_into(&browser, "Username", "demo").await?;
    type_into(&browser, "Password", "Wrong-demo-1").await?;
    click(&browser, "Sign in").await?;
    let alert = browser.find_by_role("alert", "").await?;
    let said = wait_for_text(&alert, |t| !t.is_empty()).await?;
    assert_eq!(said, "Incorrect username or password.");
    browser.screenshot("signin-wrong-password").await?;

    type_into(&browser, "Password", "Ferry-demo-1").await?;
    click(&browser, "Sign in").await?;
    browser.find_by_role("heading", "Signed in as demo").await?;
    browser.assert_every_control_is_named().await?;
    browser.screenshot("signin-signed-in").await?;
    let stored: Value = browser.run_async(STORED_TOKENS, vec![]).await?;
    let tokens: TokenSet =
        serde_json::from_str(stored.as_str().context("tokens in sessionStorage")?)?;
    assert_eq!(tokens.username().as_deref(), Some("demo"));

    click(&browser, "Sign out").await?;
    browser.find_by_role("heading", "Sign in to Ferry").await?;
    let stored: Value = browser.run_async(STORED_TOKENS, vec![]).await?;
    assert!(stored.is_null(), "sign-out forgets the tokens: {stored}");
    let client = client(&stack)?;
    assert_eq!(
        client.refresh(&tokens).await.map(|_| ()),
        Err(AuthError::SessionEnded),
        "sign-out revoked the refresh token"
    );
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn signin_form_temporary_password_asks_for_a_new_one() -> Result<()> {
    let stack = Stack::start()?;
    let printed = stack.admin(&["user", "add", "carol", "--temporary"])?;
    let temporary = printed
        .lines()
        .find_map(|line| line.strip_prefix("temporary password: "))
        .context("no temporary password printed")?
        .trim()
        .to_owned();
    let browser = Browser::start().await?;
    browser.goto(&format!("{}/", stack.url)).await?;
    type_into(&browser, "Username", "carol").await?;
    type_into(&browser, "Password", &temporary).await?;
    click(&browser, "Sign in").await?;
    browser.find_by_label("New password").await?;
    browser.assert_every_control_is_named().await?;
    type_into(&browser, "New password", "Carols-Own-Pass-1").await?;
    click(&browser, "Set password").await?;
    browser
        .find_by_role("heading", "Signed in as carol")
        .await?;
    browser.screenshot("signin-new-password").await?;
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn signin_form_mfa_setup_shows_a_qr_code_then_asks_for_codes() -> Result<()> {
    let stack = Stack::start_with(&["--mfa", "required"])?;
    stack.add_user("dana", "Danas-Pass-1")?;
    let browser = Browser::start().await?;
    browser.goto(&format!("{}/", stack.url)).await?;
    type_into(&browser, "Username", "dana").await?;
    type_into(&browser, "Password", "Danas-Pass-1").await?;
    click(&browser, "Sign in").await?;
    browser
        .find_by_role("heading", "Set up an authenticator app")
        .await?;
    browser
        .find_by_role("image", "QR code for your authenticator app")
        .await?;
    // The key as a person would copy it from the page.
    let secret = browser
        .run_async(
            "arguments[0](deepOne('[aria-label=\"Authenticator key\"]').textContent)",
            vec![],
        )
        .await?;
    let secret = secret.as_str().context("the key on the page")?.to_owned();
    browser.assert_every_control_is_named().await?;
    browser.screenshot("signin-mfa-setup").await?;
    let unix = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    )?;
    type_into(&browser, "Authentication code", &totp(secret.trim(), unix)?).await?;
    click(&browser, "Verify").await?;
    browser.find_by_role("heading", "Signed in as dana").await?;

    // Signed out, the next sign-in asks for a code; a wrong one is refused.
    click(&browser, "Sign out").await?;
    let field = browser.find_by_label("Username").await?;
    field.clear().await?;
    field.send_keys("dana").await?;
    type_into(&browser, "Password", "Danas-Pass-1").await?;
    click(&browser, "Sign in").await?;
    browser
        .find_by_role("heading", "Enter your authentication code")
        .await?;
    type_into(&browser, "Authentication code", "000000").await?;
    click(&browser, "Verify").await?;
    let alert = browser.find_by_role("alert", "").await?;
    let said = wait_for_text(&alert, |t| !t.is_empty()).await?;
    assert!(said.to_lowercase().contains("code"), "{said}");
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn signin_form_forgot_password_sets_a_new_one_with_the_code() -> Result<()> {
    let stack = Stack::start()?;
    stack.add_user("erin", "Erins-Old-Pass-1")?;
    let browser = Browser::start().await?;
    browser.goto(&format!("{}/", stack.url)).await?;
    click(&browser, "Forgot password?").await?;
    browser
        .find_by_role("heading", "Reset your password")
        .await?;
    browser.assert_every_control_is_named().await?;
    type_into(&browser, "Username", "erin").await?;
    click(&browser, "Send code").await?;
    let code = stack.latest_code().await?;
    // A wrong code changes nothing.
    type_into(&browser, "Code", "000000").await?;
    type_into(&browser, "New password", "Erins-New-Pass-1").await?;
    click(&browser, "Set password").await?;
    let alert = browser.find_by_role("alert", "").await?;
    let said = wait_for_text(&alert, |t| !t.is_empty()).await?;
    assert!(said.to_lowercase().contains("code"), "{said}");
    let field = browser.find_by_label("Code").await?;
    field.clear().await?;
    field.send_keys(&code).await?;
    click(&browser, "Set password").await?;
    browser.find_by_role("heading", "Sign in to Ferry").await?;
    browser.screenshot("signin-password-reset").await?;
    // The old password no longer works; the new one does.
    type_into(&browser, "Password", "Erins-Old-Pass-1").await?;
    click(&browser, "Sign in").await?;
    let alert = browser.find_by_role("alert", "").await?;
    wait_for_text(&alert, |t| t == "Incorrect username or password.").await?;
    type_into(&browser, "Password", "Erins-New-Pass-1").await?;
    click(&browser, "Sign in").await?;
    browser.find_by_role("heading", "Signed in as erin").await?;
    Ok(())
}
