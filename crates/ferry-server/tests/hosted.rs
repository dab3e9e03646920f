//! The hosted UI: authorization code with PKCE (S256), through the router.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

use axum::body::Body;
use axum::http::{Request, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use ferry_server::clock::{Clock, ManualClock};
use ferry_server::identity::{MfaConfiguration, totp};
use ferry_server::{AppState, LOCAL_CLIENT_ID, Settings, app};
use http_body_util::BodyExt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tower::ServiceExt;

const BASE: &str = "http://127.0.0.1:9";
const CALLBACK: &str = "http://127.0.0.1:9/auth/callback";
const VERIFIER: &str = "a-verifier-that-is-long-enough-0123456789-abcdefghij";

struct Hosted {
    state: Arc<AppState>,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

struct Reply {
    status: u16,
    location: Option<String>,
    body: String,
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
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(
            time::OffsetDateTime::now_utc().unix_timestamp(),
        ));
        let mut settings = Settings::new(BASE, dir.path().join("data"), dir.path().join("dist"));
        settings.mfa = mfa;
        let state = AppState::open(settings, clock.clone()).unwrap();
        state
            .identity
            .create_user("alice", "Correct-Horse-1", None, false)
            .unwrap();
        state
            .identity
            .create_user("newbie", "Temp-Pass-123", None, true)
            .unwrap();
        Self {
            state,
            clock,
            _dir: dir,
        }
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            location,
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
