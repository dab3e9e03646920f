//! The hosted UI: authorization code with PKCE (S256), through the provider's
//! router.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

mod common;

use axum::body::Body;
use axum::http::{HeaderMap, Request, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use common::{LOCAL_CLIENT_ID, LOCAL_POOL_ID};
use ferry_core::clock::{Clock, ManualClock};
use ferry_identity::{Identity, IdentitySettings, MfaConfiguration, totp};
use http_body_util::BodyExt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tower::ServiceExt;

const BASE: &str = "http://127.0.0.1:9";
const CALLBACK: &str = "http://127.0.0.1:9/auth/callback";
const VERIFIER: &str = "a-verifier-that-is-long-enough-0123456789-abcdefghij";

struct Hosted {
    identity: Arc<Identity>,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

struct Reply {
    status: u16,
    location: Option<String>,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map_or("", |value| value.to_str().unwrap())
    }
}

fn encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let value: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={value}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn challenge() -> String {
    B64URL.encode(Sha256::digest(VERIFIER.as_bytes()))
}

fn authorize_params(redirect: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", LOCAL_CLIENT_ID.into()),
        ("redirect_uri", redirect.into()),
        ("scope", "openid email".into()),
        ("state", "xyz 123".into()),
        ("code_challenge", challenge()),
        ("code_challenge_method", "S256".into()),
    ]
}

fn query_value(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| {
            let bytes = v.as_bytes();
            let mut out = Vec::new();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' {
                    out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
                    i += 3;
                } else {
                    out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
                    i += 1;
                }
            }
            String::from_utf8(out).unwrap()
        })
    })
}

impl Hosted {
    fn new() -> Self {
        Self::with_mfa(MfaConfiguration::Optional)
    }

    fn with_mfa(mfa: MfaConfiguration) -> Self {
        Self::with_settings(|settings| settings.mfa = mfa)
    }

    fn with_settings(change: impl FnOnce(&mut IdentitySettings)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(
            time::OffsetDateTime::now_utc().unix_timestamp(),
        ));
        let mut settings = common::settings(BASE);
        change(&mut settings);
        let identity = common::open(settings, &dir.path().join("data"), clock.clone());
        identity
            .create_user("alice", "Correct-Horse-1", None, false)
            .unwrap();
        identity
            .create_user("newbie", "Temp-Pass-123", None, true)
            .unwrap();
        identity
            .create_user(
                "carol",
                "Correct-Horse-3",
                Some("carol@example.com".into()),
                false,
            )
            .unwrap();
        Self {
            identity,
            clock,
            _dir: dir,
        }
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        let response = common::app(&self.identity).oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let location = headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            location,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, path: &str, params: &[(&str, String)]) -> Reply {
        let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.send(
            Request::get(format!("{path}?{}", encode(&pairs)))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    async fn post(&self, path: &str, pairs: &[(&str, &str)]) -> Reply {
        self.send(
            Request::post(path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(encode(pairs)))
                .unwrap(),
        )
        .await
    }

    async fn sign_in(&self, extra: &[(&str, &str)]) -> Reply {
        let params = authorize_params(CALLBACK);
        let mut pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        pairs.extend_from_slice(extra);
        self.post("/oauth2/authorize", &pairs).await
    }

    async fn code(&self) -> String {
        let reply = self
            .sign_in(&[("username", "alice"), ("password", "Correct-Horse-1")])
            .await;
        assert_eq!(reply.status, 303, "{}", reply.body);
        query_value(&reply.location.unwrap(), "code").unwrap()
    }

    async fn exchange(&self, code: &str, verifier: &str, redirect: &str) -> (u16, Value) {
        let reply = self
            .post(
                "/oauth2/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", redirect),
                    ("client_id", LOCAL_CLIENT_ID),
                    ("code_verifier", verifier),
                ],
            )
            .await;
        (reply.status, serde_json::from_str(&reply.body).unwrap())
    }
}

#[tokio::test]
async fn the_sign_in_page_is_plain_accessible_html() {
    let hosted = Hosted::new();
    let reply = hosted
        .get("/oauth2/authorize", &authorize_params(CALLBACK))
        .await;
    assert_eq!(reply.status, 200);
    for needle in [
        r#"<label for="username">Username</label>"#,
        r#"<label for="password">Password</label>"#,
        ">Sign in</button>",
        r#"<html lang="en">"#,
    ] {
        assert!(reply.body.contains(needle), "{needle} missing");
    }
}

#[tokio::test]
async fn an_unlisted_redirect_is_refused_without_redirecting() {
    let hosted = Hosted::new();
    let reply = hosted
        .get(
            "/oauth2/authorize",
            &authorize_params("https://evil.example/cb"),
        )
        .await;
    assert_eq!((reply.status, reply.location), (400, None));
    assert!(reply.body.contains("redirect_uri is not allowed"));
    // The form can't be used to get around it either.
    let params = authorize_params("https://evil.example/cb");
    let mut pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.extend([("username", "alice"), ("password", "Correct-Horse-1")]);
    let reply = hosted.post("/oauth2/authorize", &pairs).await;
    assert_eq!((reply.status, reply.location), (400, None));
}

#[tokio::test]
async fn pkce_with_s256_is_required() {
    let hosted = Hosted::new();
    let mut params = authorize_params(CALLBACK);
    params.retain(|(k, _)| *k != "code_challenge_method");
    params.push(("code_challenge_method", "plain".into()));
    let reply = hosted.get("/oauth2/authorize", &params).await;
    assert_eq!(reply.status, 303);
    let location = reply.location.unwrap();
    assert!(location.starts_with(CALLBACK));
    assert_eq!(
        query_value(&location, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query_value(&location, "state").as_deref(), Some("xyz 123"));
}

#[tokio::test]
async fn the_code_flow_issues_tokens_once_for_the_right_verifier() {
    let hosted = Hosted::new();
    let reply = hosted
        .sign_in(&[("username", "alice"), ("password", "Wrong-Horse-1")])
        .await;
    assert_eq!(reply.status, 200);
    assert!(
        reply
            .body
            .contains(r#"<p role="alert">Incorrect username or password.</p>"#)
    );

    let reply = hosted
        .sign_in(&[("username", "alice"), ("password", "Correct-Horse-1")])
        .await;
    assert_eq!(reply.status, 303);
    let location = reply.location.unwrap();
    assert_eq!(
        query_value(&location, "state").as_deref(),
        Some("xyz 123"),
        "state passed through"
    );
    let code = query_value(&location, "code").unwrap();

    let (status, body) = hosted
        .exchange(
            &code,
            "a-different-verifier-that-is-long-enough-0123456789",
            CALLBACK,
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "wrong verifier"
    );
    let (status, body) = hosted
        .exchange(&code, VERIFIER, "http://127.0.0.1:9/")
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "other redirect_uri"
    );

    let (status, tokens) = hosted.exchange(&code, VERIFIER, CALLBACK).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["id_token"].is_string() && tokens["access_token"].is_string());
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    let refreshed = hosted
        .post(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", LOCAL_CLIENT_ID),
                ("refresh_token", &refresh),
            ],
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);

    // Using the code again fails, and revokes what it bought.
    let (status, body) = hosted.exchange(&code, VERIFIER, CALLBACK).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let refreshed = hosted
        .post(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", LOCAL_CLIENT_ID),
                ("refresh_token", &refresh),
            ],
        )
        .await;
    assert_eq!(refreshed.status, 400);
}

#[tokio::test]
async fn codes_expire_after_five_minutes() {
    let hosted = Hosted::new();
    let code = hosted.code().await;
    hosted.clock.advance(301);
    let (status, body) = hosted.exchange(&code, VERIFIER, CALLBACK).await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (400, Some("the code has expired"))
    );
}

#[tokio::test]
async fn a_temporary_password_is_replaced_on_the_page() {
    let hosted = Hosted::new();
    let reply = hosted
        .sign_in(&[("username", "newbie"), ("password", "Temp-Pass-123")])
        .await;
    assert_eq!(reply.status, 200);
    assert!(reply.body.contains("Choose a new password"));
    let session = reply
        .body
        .split(r#"name="session" value=""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let reply = hosted
        .sign_in(&[
            ("step", "new-password"),
            ("session", &session),
            ("username", "newbie"),
            ("new_password", "Mine-Now-456"),
            ("confirm_password", "Mine-Now-456"),
        ])
        .await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    assert!(query_value(&reply.location.unwrap(), "code").is_some());
}

#[tokio::test]
async fn what_people_type_is_escaped() {
    let hosted = Hosted::new();
    let reply = hosted
        .sign_in(&[
            ("username", "<script>alert(1)</script>"),
            ("password", "Wrong-Horse-1"),
        ])
        .await;
    assert!(!reply.body.contains("<script>alert(1)"));
    assert!(reply.body.contains("&lt;script&gt;"));
}

#[tokio::test]
async fn logout_redirects_only_to_listed_urls() {
    let hosted = Hosted::new();
    let ok = hosted
        .get(
            "/logout",
            &[
                ("client_id", LOCAL_CLIENT_ID.into()),
                ("logout_uri", format!("{BASE}/")),
            ],
        )
        .await;
    assert_eq!(
        (ok.status, ok.location.as_deref()),
        (303, Some("http://127.0.0.1:9/"))
    );
    let bad = hosted
        .get(
            "/logout",
            &[
                ("client_id", LOCAL_CLIENT_ID.into()),
                ("logout_uri", "https://evil.example/".into()),
            ],
        )
        .await;
    assert_eq!((bad.status, bad.location), (400, None));
}

fn field<'a>(html: &'a str, name: &str) -> &'a str {
    html.split(&format!(r#"name="{name}" value=""#))
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
}

fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut count, mut out) = (0u32, 0, Vec::new());
    for c in text.chars() {
        bits = (bits << 5) | ALPHABET.find(c).unwrap() as u32;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

#[tokio::test]
async fn a_pool_that_requires_mfa_sets_up_the_authenticator_on_the_page() {
    let hosted = Hosted::with_mfa(MfaConfiguration::Required);
    let reply = hosted
        .sign_in(&[("username", "alice"), ("password", "Correct-Horse-1")])
        .await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.body.contains("Set up your authenticator app"),
        "{}",
        reply.body
    );
    let secret_text = field(&reply.body, "secret").to_owned();
    let secret = base32_decode(&secret_text);
    assert_eq!(secret.len(), 20);
    assert!(reply.body.contains("otpauth://totp/Ferry:alice?secret="));
    let session = field(&reply.body, "session").to_owned();

    let right = totp::code_at(&secret, (hosted.clock.unix() / 30) as u64);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let reply = hosted
        .sign_in(&[
            ("step", "mfa-setup"),
            ("session", &session),
            ("username", "alice"),
            ("secret", &secret_text),
            ("code", wrong),
        ])
        .await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.body.contains(r#"role="alert""#) && reply.body.contains(&secret_text),
        "the same key, shown again"
    );

    let reply = hosted
        .sign_in(&[
            ("step", "mfa-setup"),
            ("session", &session),
            ("username", "alice"),
            ("secret", &secret_text),
            ("code", &right),
        ])
        .await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    assert!(query_value(&reply.location.unwrap(), "code").is_some());

    // Next time, the page asks for a code from the app.
    hosted.clock.advance(30);
    let reply = hosted
        .sign_in(&[("username", "alice"), ("password", "Correct-Horse-1")])
        .await;
    assert!(reply.body.contains("Enter your code"), "{}", reply.body);
    let session = field(&reply.body, "session").to_owned();
    let code = totp::code_at(&secret, (hosted.clock.unix() / 30) as u64);
    let reply = hosted
        .sign_in(&[
            ("step", "totp"),
            ("session", &session),
            ("username", "alice"),
            ("code", &code),
        ])
        .await;
    assert_eq!(reply.status, 303, "{}", reply.body);
}

/// The claims of a JWT, unchecked (the server signed it; these tests read it).
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&B64URL.decode(payload).unwrap()).unwrap()
}

/// The sources the policy lets a form send the browser to.
fn form_action(policy: &str) -> Vec<String> {
    policy
        .split(';')
        .map(str::trim)
        .find_map(|directive| directive.strip_prefix("form-action "))
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// The hidden fields of the page's form, as the browser would send them.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split(r#"<input type="hidden" name=""#)
        .skip(1)
        .map(|rest| {
            let (name, rest) = rest.split_once('"').unwrap();
            let value = rest
                .split_once(r#"value=""#)
                .unwrap()
                .1
                .split_once('"')
                .unwrap()
                .0;
            let value = value
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&");
            (name.to_owned(), value)
        })
        .collect()
}

impl Hosted {
    /// Submits the form of `page` with its hidden fields and `typed`.
    async fn submit(&self, page: &Reply, typed: &[(&str, &str)]) -> Reply {
        let hidden = hidden_fields(&page.body);
        let mut pairs: Vec<(&str, &str)> = hidden
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .filter(|(k, _)| !typed.iter().any(|(t, _)| t == k))
            .collect();
        pairs.extend_from_slice(typed);
        self.post("/oauth2/authorize", &pairs).await
    }

    /// Opens the sign-in page for `params` and signs in on it.
    async fn sign_in_on_page(
        &self,
        params: &[(&str, String)],
        username: &str,
        password: &str,
    ) -> Reply {
        let page = self.get("/oauth2/authorize", params).await;
        assert_eq!(page.status, 200, "{}", page.body);
        self.submit(&page, &[("username", username), ("password", password)])
            .await
    }

    /// The tokens of a sign-in on the page for `params`.
    async fn tokens_for(&self, params: &[(&str, String)], username: &str, password: &str) -> Value {
        let reply = self.sign_in_on_page(params, username, password).await;
        assert_eq!(reply.status, 303, "{}", reply.body);
        let code = query_value(&reply.location.unwrap(), "code").unwrap();
        let (status, tokens) = self.exchange(&code, VERIFIER, CALLBACK).await;
        assert_eq!(status, 200, "{tokens}");
        tokens
    }

    async fn user_info(&self, method: &str, authorization: Option<&str>) -> Reply {
        let mut request = Request::builder()
            .method(method)
            .uri("/oauth2/userInfo")
            .header(header::ORIGIN, "http://127.0.0.1:7");
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }
}

#[tokio::test]
async fn the_form_may_return_to_the_registered_callback_on_another_origin() {
    const PORTAL: &str = "http://127.0.0.1:7/portal/callback.html";
    const OTHER: &str = "https://other.example:8443/cb";
    let hosted = Hosted::with_settings(|settings| {
        settings.callback_urls.extend([PORTAL.into(), OTHER.into()]);
    });
    let page = hosted
        .get("/oauth2/authorize", &authorize_params(PORTAL))
        .await;
    assert_eq!(page.status, 200);
    // Chromium holds the redirect that answers the form to `form-action`.
    let policy = page.header("content-security-policy");
    assert_eq!(
        form_action(policy),
        ["'self'", "http://127.0.0.1:7"],
        "{policy}"
    );

    // The page shown again after a wrong password says the same.
    let wrong = hosted
        .submit(
            &page,
            &[("username", "alice"), ("password", "Wrong-Horse-1")],
        )
        .await;
    assert_eq!(wrong.status, 200);
    assert_eq!(
        form_action(wrong.header("content-security-policy")),
        ["'self'", "http://127.0.0.1:7"]
    );
    let right = hosted
        .submit(
            &wrong,
            &[("username", "alice"), ("password", "Correct-Horse-1")],
        )
        .await;
    assert_eq!(right.status, 303, "{}", right.body);
    assert!(right.location.unwrap().starts_with(PORTAL));

    // A redirect that is not registered gets no form, and no new source.
    let refused = hosted
        .get(
            "/oauth2/authorize",
            &authorize_params("http://127.0.0.1:6/cb"),
        )
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        form_action(refused.header("content-security-policy")),
        ["'self'"]
    );
}

#[tokio::test]
async fn the_nonce_of_the_authorize_request_is_in_the_id_token_only() {
    const NONCE: &str = "n-0S6_WzA2Mj";
    let hosted = Hosted::new();
    let mut params = authorize_params(CALLBACK);
    params.push(("nonce", NONCE.into()));
    let tokens = hosted.tokens_for(&params, "alice", "Correct-Horse-1").await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["nonce"], NONCE, "{id}");
    let access = claims(tokens["access_token"].as_str().unwrap());
    assert!(access.get("nonce").is_none(), "{access}");

    // Through a challenge step, the nonce stays with the sign-in.
    let challenge = hosted
        .sign_in_on_page(&params, "newbie", "Temp-Pass-123")
        .await;
    assert!(
        challenge.body.contains("Choose a new password"),
        "{}",
        challenge.body
    );
    let reply = hosted
        .submit(
            &challenge,
            &[
                ("new_password", "Mine-Now-456"),
                ("confirm_password", "Mine-Now-456"),
            ],
        )
        .await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    let code = query_value(&reply.location.unwrap(), "code").unwrap();
    let (_, tokens) = hosted.exchange(&code, VERIFIER, CALLBACK).await;
    assert_eq!(claims(tokens["id_token"].as_str().unwrap())["nonce"], NONCE);

    // A sign-in that sent none gets none.
    let code = hosted.code().await;
    let (_, tokens) = hosted.exchange(&code, VERIFIER, CALLBACK).await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert!(id.get("nonce").is_none(), "{id}");
}

#[tokio::test]
async fn user_info_answers_for_an_access_token_of_the_token_endpoint() {
    let hosted = Hosted::new();
    let tokens = hosted
        .tokens_for(&authorize_params(CALLBACK), "carol", "Correct-Horse-3")
        .await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(claims(access)["scope"], "openid email");
    let sub = claims(tokens["id_token"].as_str().unwrap())["sub"].clone();
    for method in ["GET", "POST"] {
        let reply = hosted
            .user_info(method, Some(&format!("Bearer {access}")))
            .await;
        assert_eq!(reply.status, 200, "{method}: {}", reply.body);
        assert!(reply.header("content-type").starts_with("application/json"));
        assert_eq!(reply.header("access-control-allow-origin"), "*");
        // As Cognito answers: attributes as strings, `username` beside them.
        assert_eq!(
            serde_json::from_str::<Value>(&reply.body).unwrap(),
            serde_json::json!({"sub": sub, "email_verified": "true",
                               "email": "carol@example.com", "username": "carol"}),
        );
    }

    // The scopes decide which attributes: `profile` alone leaves out e-mail.
    let mut params = authorize_params(CALLBACK);
    params.retain(|(k, _)| *k != "scope");
    params.push(("scope", "openid profile".into()));
    let tokens = hosted.tokens_for(&params, "carol", "Correct-Horse-3").await;
    let access = tokens["access_token"].as_str().unwrap();
    let reply = hosted
        .user_info("GET", Some(&format!("Bearer {access}")))
        .await;
    assert_eq!(
        serde_json::from_str::<Value>(&reply.body).unwrap(),
        serde_json::json!({"sub": sub, "username": "carol"}),
    );
}

#[tokio::test]
async fn user_info_refuses_what_cognito_refuses() {
    let hosted = Hosted::new();
    let refused = |reply: &Reply, status: u16, error: &str| {
        assert_eq!(reply.status, status, "{}", reply.body);
        let challenge = reply.header("www-authenticate");
        assert!(
            challenge.starts_with("Bearer ") && challenge.contains(&format!("error=\"{error}\"")),
            "{challenge}"
        );
        assert_eq!(
            serde_json::from_str::<Value>(&reply.body).unwrap()["error"],
            error
        );
    };
    refused(&hosted.user_info("GET", None).await, 400, "invalid_request");
    refused(
        &hosted.user_info("GET", Some("Basic YWxpY2U6cHc=")).await,
        400,
        "invalid_request",
    );
    refused(
        &hosted.user_info("GET", Some("Bearer not.a.token")).await,
        401,
        "invalid_token",
    );

    // The user-pool API's own tokens carry no `openid` scope.
    let answer = hosted
        .send(
            Request::post("/")
                .header("content-type", "application/x-amz-json-1.1")
                .header(
                    "x-amz-target",
                    "AWSCognitoIdentityProviderService.InitiateAuth",
                )
                .body(Body::from(
                    serde_json::json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": LOCAL_CLIENT_ID,
                        "AuthParameters": {"USERNAME": "alice", "PASSWORD": "Correct-Horse-1"}})
                    .to_string(),
                ))
                .unwrap(),
        )
        .await;
    let answer: Value = serde_json::from_str(&answer.body).unwrap();
    let api_token = answer["AuthenticationResult"]["AccessToken"]
        .as_str()
        .unwrap();
    refused(
        &hosted
            .user_info("GET", Some(&format!("Bearer {api_token}")))
            .await,
        401,
        "invalid_token",
    );

    // An expired token.
    let tokens = hosted
        .tokens_for(&authorize_params(CALLBACK), "alice", "Correct-Horse-1")
        .await;
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    assert_eq!(hosted.user_info("GET", Some(&bearer)).await.status, 200);
    hosted.clock.advance(60 * 60 + 1);
    refused(
        &hosted.user_info("GET", Some(&bearer)).await,
        401,
        "invalid_token",
    );
}

#[tokio::test]
async fn user_info_is_discovered_and_open_to_other_origins() {
    let hosted = Hosted::new();
    let discovery = hosted
        .send(
            Request::get(format!("/{LOCAL_POOL_ID}/.well-known/openid-configuration"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let discovery: Value = serde_json::from_str(&discovery.body).unwrap();
    assert_eq!(
        discovery["userinfo_endpoint"],
        format!("{BASE}/oauth2/userInfo")
    );

    // A page elsewhere may send its bearer token (a preflighted request).
    let preflight = hosted
        .send(
            Request::options("/oauth2/userInfo")
                .header(header::ORIGIN, "http://127.0.0.1:7")
                .header("access-control-request-method", "GET")
                .header("access-control-request-headers", "authorization")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(preflight.status, 200);
    assert_eq!(preflight.header("access-control-allow-origin"), "*");
    assert!(
        preflight
            .header("access-control-allow-headers")
            .to_ascii_lowercase()
            .contains("authorization"),
        "{:?}",
        preflight.headers
    );
    // And read why it was refused.
    let refused = hosted.user_info("GET", Some("Bearer x")).await;
    assert!(
        refused
            .header("access-control-expose-headers")
            .to_ascii_lowercase()
            .contains("www-authenticate"),
        "{:?}",
        refused.headers
    );
}

#[tokio::test]
async fn refreshed_access_tokens_keep_the_scopes_of_the_sign_in() {
    let hosted = Hosted::new();
    let tokens = hosted
        .tokens_for(&authorize_params(CALLBACK), "carol", "Correct-Horse-3")
        .await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let refreshed = hosted
        .post(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", LOCAL_CLIENT_ID),
                ("refresh_token", refresh),
            ],
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let refreshed: Value = serde_json::from_str(&refreshed.body).unwrap();
    let access = refreshed["access_token"].as_str().unwrap();
    assert_eq!(claims(access)["scope"], "openid email");
    let reply = hosted
        .user_info("GET", Some(&format!("Bearer {access}")))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}
