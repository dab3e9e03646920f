//! The hosted UI, for portals that sign in through single sign-on: Cognito's
//! `/oauth2/authorize` (a plain, accessible sign-in page), `/oauth2/token`
//! (authorization code with PKCE, S256 only, and refresh token),
//! `/oauth2/userInfo` and `/logout`.
//!
//! The page runs the same flow as the JSON API (`USER_PASSWORD_AUTH`, then
//! the new-password or TOTP challenge), so lockout, disabled accounts and
//! every other rule apply unchanged. Redirects go only to the app client's
//! allow-listed URLs; codes work once, for five minutes.
//!
//! As on Cognito, what the authorize request asked for belongs to its code:
//! the access token it buys carries the requested scopes (so `userInfo`
//! takes it, and not the user-pool API's tokens), and the ID token the
//! `nonce`, when one was sent. The page's `form-action` names the origin of
//! the registered callback it returns to, since Chromium holds the redirect
//! that answers a form to it.

use crate::tokens::{ADMIN_SCOPE, TokenUse};
use crate::{CognitoError, Identity, digest, random};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form, Json};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// How long an authorization code can be exchanged, as in Cognito.
const CODE_SECONDS: i64 = 5 * 60;

/// The scopes the app client may ask the hosted UI for.
const OAUTH_SCOPES: [&str; 5] = ["openid", "email", "phone", "profile", ADMIN_SCOPE];

/// The scopes a hosted-UI sign-in grants for the `scope` it asked for:
/// those the client may have, in the order asked, or all of them when it
/// asked for none (as Cognito does).
fn granted_scopes(requested: &str) -> String {
    let mut granted: Vec<&str> = Vec::new();
    for scope in requested.split_whitespace() {
        if OAUTH_SCOPES.contains(&scope) && !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    if granted.is_empty() {
        granted = OAUTH_SCOPES.to_vec();
    }
    granted.join(" ")
}

impl Identity {
    /// The tokens an authorization code buys: the sign-in's, with the
    /// granted scopes in the access token (and in those its refresh token
    /// brings) and the authorize request's `nonce` in the ID token, signed
    /// again.
    pub(crate) fn authorization_code_tokens(
        &self,
        tokens: &Value,
        scope: &str,
        nonce: Option<&str>,
    ) -> anyhow::Result<Value> {
        let reissue = |name: &str, usage: TokenUse, claim: &str, value: &str| {
            let token = tokens[name]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("the sign-in has no {name}"))?;
            let mut claims = self.keys.verify(token)?;
            claims[claim] = json!(value);
            anyhow::Ok(json!(self.keys.sign(usage, &claims)))
        };
        let mut result = tokens.clone();
        result["AccessToken"] = reissue("AccessToken", TokenUse::Access, "scope", scope)?;
        if let Some(nonce) = nonce {
            result["IdToken"] = reissue("IdToken", TokenUse::Id, "nonce", nonce)?;
        }
        if let Some(refresh) = tokens["RefreshToken"].as_str() {
            self.store.set_refresh_scope(&digest(refresh), scope)?;
        }
        Ok(result)
    }

    /// What `/oauth2/userInfo` answers for an access token: the attributes
    /// its scopes allow (`openid` alone: all of them; `email`: the e-mail
    /// address), attribute values as strings, as Cognito answers. Refused,
    /// with the reason for the caller, unless the token is valid and has
    /// `openid` (the user-pool API's tokens don't).
    pub(crate) fn user_info(&self, token: &str) -> Result<Value, &'static str> {
        let (claims, user) = self.check_access_token(token).map_err(|_| {
            "Access token is expired, disabled, or deleted, or the user has globally signed out."
        })?;
        let scopes: Vec<&str> = claims["scope"]
            .as_str()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        if !scopes.contains(&"openid") {
            return Err("Access token does not contain openid scope");
        }
        let every_attribute = !scopes
            .iter()
            .any(|scope| matches!(*scope, "email" | "phone" | "profile"));
        let mut answer = json!({"sub": user.sub, "username": user.username});
        if let Some(email) = user
            .email
            .as_ref()
            .filter(|_| every_attribute || scopes.contains(&"email"))
        {
            answer["email"] = json!(email);
            answer["email_verified"] = json!("true");
        }
        Ok(answer)
    }
}

/// A code handed to the app, and what it buys.
#[derive(Debug, Clone)]
pub struct AuthorizationCode {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    /// The scopes granted, for the access token.
    scope: String,
    /// The authorize request's `nonce`, for the ID token.
    nonce: Option<String>,
    created: i64,
    /// The sign-in's tokens (`AuthenticationResult`).
    tokens: Value,
    /// Set once exchanged; a second exchange revokes the tokens.
    used: bool,
}

/// The authorize request's parameters, carried through every step.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthorizeParams {
    #[serde(default)]
    response_type: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    code_challenge: String,
    #[serde(default)]
    code_challenge_method: String,
    /// Echoed in the ID token (OpenID Connect's replay check).
    #[serde(default)]
    nonce: Option<String>,
}

impl AuthorizeParams {
    /// The nonce, when the app sent one (the page's hidden field carries
    /// an empty one otherwise).
    fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref().filter(|nonce| !nonce.is_empty())
    }
}

/// The sign-in form and its follow-ups.
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(flatten)]
    params: AuthorizeParams,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    /// `new-password` or `totp` when answering a challenge.
    #[serde(default)]
    step: String,
    #[serde(default)]
    session: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
    #[serde(default)]
    code: String,
    /// The authenticator key being set up, shown again after a wrong code.
    #[serde(default)]
    secret: String,
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn hidden(params: &AuthorizeParams) -> String {
    let fields = [
        ("response_type", params.response_type.as_str()),
        ("client_id", &params.client_id),
        ("redirect_uri", &params.redirect_uri),
        ("scope", &params.scope),
        ("state", params.state.as_deref().unwrap_or_default()),
        ("code_challenge", &params.code_challenge),
        ("code_challenge_method", &params.code_challenge_method),
        ("nonce", params.nonce().unwrap_or_default()),
    ];
    fields
        .iter()
        .map(|(name, value)| {
            format!(
                r#"<input type="hidden" name="{name}" value="{}">"#,
                escape(value)
            )
        })
        .collect()
}

/// The origin (`scheme://host[:port]`) of an absolute URL, when it can
/// stand in a Content-Security-Policy as a source as it is.
fn origin(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let plain_scheme = scheme
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let plain_authority = !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    (plain_scheme && plain_authority).then(|| &url[..scheme.len() + 3 + authority.len()])
}

/// A page of the hosted UI. `returns_to` is the registered callback its
/// form ends at (checked by [`refusal`] first): its origin joins
/// `form-action`, which Chromium applies to the redirect answering the form.
fn page(title: &str, body: &str, returns_to: Option<&str>) -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><title>{title} · Ferry</title>
<style>
body{{font:16px/1.5 system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;background:#f3f5f8;color:#17202a}}
main{{background:#fff;border:1px solid #d9dee5;border-radius:12px;padding:2rem;width:min(24rem,90vw)}}
h1{{font-size:1.4rem;margin:0 0 1rem}} label{{display:block;margin:.75rem 0 .25rem;font-weight:600}}
input{{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #9aa5b1;border-radius:8px;font:inherit}}
button{{margin-top:1.25rem;width:100%;padding:.7rem;border:0;border-radius:8px;background:#0b63ce;color:#fff;font:inherit;font-weight:600;cursor:pointer}}
button:focus-visible,input:focus-visible{{outline:3px solid #5aa2ff;outline-offset:2px}}
[role=alert]{{background:#fef3f2;border:1px solid #b42318;color:#b42318;padding:.6rem;border-radius:8px}}
@media (prefers-color-scheme:dark){{body{{background:#0f1419;color:#e6e9ed}}main{{background:#171d24;border-color:#2b333d}}input{{background:#0f1419;color:#e6e9ed}}}}
</style></head>
<body><main>{body}</main></body></html>"#
    );
    let mut response = Html(html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    let form_action = match returns_to.and_then(origin) {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_owned(),
    };
    let policy = format!(
        "default-src 'none'; style-src 'unsafe-inline'; form-action {form_action}; frame-ancestors 'none'"
    );
    if let Ok(policy) = HeaderValue::from_str(&policy) {
        headers.insert("content-security-policy", policy);
    }
    response
}

fn alert(message: Option<&str>) -> String {
    message.map_or_else(String::new, |m| {
        format!(r#"<p role="alert">{}</p>"#, escape(m))
    })
}

fn sign_in_page(params: &AuthorizeParams, username: &str, error: Option<&str>) -> Response {
    page(
        "Sign in",
        &format!(
            r#"<h1>Sign in to Ferry</h1>{}
<form method="post" action="/oauth2/authorize">{}
<label for="username">Username</label><input id="username" name="username" autocomplete="username" required value="{}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form>"#,
            alert(error),
            hidden(params),
            escape(username)
        ),
        Some(&params.redirect_uri),
    )
}

fn challenge_page(
    params: &AuthorizeParams,
    step: &str,
    session: &str,
    username: &str,
    error: Option<&str>,
) -> Response {
    let setup;
    let (title, fields) = if let Some(secret) = step.strip_prefix("mfa-setup:") {
        let uri = format!(
            "otpauth://totp/Ferry:{}?secret={secret}&issuer=Ferry",
            urlencode(username)
        );
        setup = format!(
            r#"<p>This account needs an authenticator app. Add this key to yours, then enter the code it shows.</p>
<p><strong>Key:</strong> <code id="secret">{}</code></p><p><a href="{}">Open in an authenticator app</a></p>
<input type="hidden" name="secret" value="{}">
<label for="code">Code</label><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{{6}}" required>
<button type="submit">Verify</button>"#,
            escape(secret),
            escape(&uri),
            escape(secret)
        );
        ("Set up your authenticator app", setup.as_str())
    } else if step == "new-password" {
        (
            "Choose a new password",
            r#"<p>Your password was set by an administrator. Choose your own to continue.</p>
<label for="new_password">New password</label><input id="new_password" name="new_password" type="password" autocomplete="new-password" required>
<label for="confirm_password">Confirm new password</label><input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password" required>
<button type="submit">Set password</button>"#,
        )
    } else {
        (
            "Enter your code",
            r#"<p>Enter the 6-digit code from your authenticator app.</p>
<label for="code">Code</label><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" required>
<button type="submit">Verify</button>"#,
        )
    };
    page(
        title,
        &format!(
            r#"<h1>{title}</h1>{}
<form method="post" action="/oauth2/authorize">{}
<input type="hidden" name="step" value="{}"><input type="hidden" name="session" value="{}"><input type="hidden" name="username" value="{}">
{fields}</form>"#,
            alert(error),
            hidden(params),
            escape(step.split(':').next().unwrap_or_default()),
            escape(session),
            escape(username)
        ),
        Some(&params.redirect_uri),
    )
}

fn plain_error(status: StatusCode, message: &str) -> Response {
    let mut response = page(
        "Can't sign in",
        &format!(
            r#"<h1>Can't sign in</h1><p role="alert">{}</p>"#,
            escape(message)
        ),
        None,
    );
    *response.status_mut() = status;
    response
}

/// Appends query parameters to a redirect URI.
fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = uri.to_owned();
    for (i, (name, value)) in pairs.iter().enumerate() {
        let separator = if i == 0 && !uri.contains('?') {
            '?'
        } else {
            '&'
        };
        url.push(separator);
        url.push_str(name);
        url.push('=');
        url.push_str(&urlencode(value));
    }
    url
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Checks the parameters. A problem is answered with a page (when the
/// redirect can't be trusted) or a redirect carrying the OAuth error.
fn refusal(identity: &Identity, params: &AuthorizeParams) -> Option<Response> {
    if identity.check_client(&params.client_id).is_err() {
        return Some(plain_error(
            StatusCode::BAD_REQUEST,
            "This application is not known (client_id).",
        ));
    }
    if !identity.is_callback(&params.redirect_uri) {
        return Some(plain_error(
            StatusCode::BAD_REQUEST,
            "This application may not send you to that address (redirect_uri is not allowed).",
        ));
    }
    let fail = |error: &str, description: &str| {
        let mut pairs = vec![("error", error), ("error_description", description)];
        if let Some(state) = params.state.as_deref() {
            pairs.push(("state", state));
        }
        Redirect::to(&with_query(&params.redirect_uri, &pairs)).into_response()
    };
    if params.response_type != "code" {
        return Some(fail(
            "unsupported_response_type",
            "only response_type=code is supported",
        ));
    }
    if params.code_challenge_method != "S256" || params.code_challenge.len() < 43 {
        return Some(fail(
            "invalid_request",
            "PKCE with code_challenge_method=S256 is required",
        ));
    }
    None
}

/// `GET /oauth2/authorize`: the sign-in page.
pub async fn authorize(
    State(identity): State<Arc<Identity>>,
    Query(params): Query<AuthorizeParams>,
) -> Response {
    if let Some(response) = refusal(&identity, &params) {
        return response;
    }
    sign_in_page(&params, "", None)
}

/// Runs one identity operation off the async workers.
async fn call(
    identity: &Arc<Identity>,
    operation: &'static str,
    request: Value,
    address: Option<std::net::IpAddr>,
) -> Result<Value, CognitoError> {
    let worker = identity.clone();
    tokio::task::spawn_blocking(move || worker.dispatch(operation, &request, address))
        .await
        .unwrap_or_else(|join| {
            Err(CognitoError::internal(anyhow::anyhow!(
                "identity task failed: {join}"
            )))
        })
}

/// Issues an authorization code for a finished sign-in and sends the browser back.
fn redirect_with_code(identity: &Identity, params: &AuthorizeParams, tokens: Value) -> Response {
    let code = B64URL.encode(random::<32>());
    let now = identity.now();
    {
        let mut codes = identity
            .authorization_codes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        codes.retain(|_, c| now - c.created <= CODE_SECONDS);
        codes.insert(
            code.clone(),
            AuthorizationCode {
                client_id: params.client_id.clone(),
                redirect_uri: params.redirect_uri.clone(),
                code_challenge: params.code_challenge.clone(),
                scope: granted_scopes(&params.scope),
                nonce: params.nonce().map(str::to_owned),
                created: now,
                tokens,
                used: false,
            },
        );
    }
    let mut pairs = vec![("code", code.as_str())];
    if let Some(state) = params.state.as_deref() {
        pairs.push(("state", state));
    }
    Redirect::to(&with_query(&params.redirect_uri, &pairs)).into_response()
}

/// `POST /oauth2/authorize`: the sign-in form and its challenge steps.
pub async fn authorize_submit(
    State(identity): State<Arc<Identity>>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    Form(form): Form<SignInForm>,
) -> Response {
    if let Some(response) = refusal(&identity, &form.params) {
        return response;
    }
    let address = connect.map(|Extension(ConnectInfo(peer))| peer.ip());
    let params = &form.params;
    let client_id = params.client_id.as_str();
    let username = form.username.as_str();
    let result = match form.step.as_str() {
        "" => {
            call(
                &identity,
                "InitiateAuth",
                json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client_id,
                       "AuthParameters": {"USERNAME": username, "PASSWORD": form.password}}),
                address,
            )
            .await
        }
        "new-password" => {
            if form.new_password != form.confirm_password {
                let message = Some("The two passwords differ.");
                return challenge_page(params, "new-password", &form.session, username, message);
            }
            call(
                &identity,
                "RespondToAuthChallenge",
                json!({"ChallengeName": "NEW_PASSWORD_REQUIRED", "ClientId": client_id, "Session": form.session,
                       "ChallengeResponses": {"USERNAME": username, "NEW_PASSWORD": form.new_password}}),
                address,
            )
            .await
        }
        "totp" => {
            call(
                &identity,
                "RespondToAuthChallenge",
                json!({"ChallengeName": "SOFTWARE_TOKEN_MFA", "ClientId": client_id, "Session": form.session,
                       "ChallengeResponses": {"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": form.code}}),
                address,
            )
            .await
        }
        "mfa-setup" => {
            let verified = call(
                &identity,
                "VerifySoftwareToken",
                json!({"Session": form.session, "UserCode": form.code}),
                address,
            )
            .await;
            match verified {
                Ok(verified) => {
                    call(
                        &identity,
                        "RespondToAuthChallenge",
                        json!({"ChallengeName": "MFA_SETUP", "ClientId": client_id, "Session": verified["Session"],
                               "ChallengeResponses": {"USERNAME": username}}),
                        address,
                    )
                    .await
                }
                Err(error) if error.kind == "EnableSoftwareTokenMFAException" => {
                    let step = format!("mfa-setup:{}", form.secret);
                    let message = Some("That code is not right. Try the current one.");
                    return challenge_page(params, &step, &form.session, username, message);
                }
                Err(error) => Err(error),
            }
        }
        _ => return sign_in_page(params, username, Some("Something went wrong. Sign in again.")),
    };
    let answer = match result {
        Ok(answer) => answer,
        Err(error) => {
            return match form.step.as_str() {
                step @ ("totp" | "new-password")
                    if matches!(
                        error.kind,
                        "CodeMismatchException" | "InvalidPasswordException"
                    ) =>
                {
                    let message = if error.kind == "CodeMismatchException" {
                        "That code is not right. Try the current one."
                    } else {
                        error.message.as_str()
                    };
                    challenge_page(params, step, &form.session, username, Some(message))
                }
                _ => sign_in_page(params, username, Some(&error.message)),
            };
        }
    };
    let session = answer["Session"].as_str().unwrap_or_default();
    match answer["ChallengeName"].as_str() {
        None => redirect_with_code(&identity, params, answer["AuthenticationResult"].clone()),
        Some("NEW_PASSWORD_REQUIRED") => {
            challenge_page(params, "new-password", session, username, None)
        }
        Some("SOFTWARE_TOKEN_MFA") => challenge_page(params, "totp", session, username, None),
        Some("MFA_SETUP") => {
            match call(
                &identity,
                "AssociateSoftwareToken",
                json!({"Session": session}),
                address,
            )
            .await
            {
                Ok(associated) => {
                    let step = format!(
                        "mfa-setup:{}",
                        associated["SecretCode"].as_str().unwrap_or_default()
                    );
                    let session = associated["Session"].as_str().unwrap_or_default();
                    challenge_page(params, &step, session, username, None)
                }
                Err(error) => sign_in_page(params, username, Some(&error.message)),
            }
        }
        Some(_) => sign_in_page(
            params,
            username,
            Some("This sign-in step is not supported here."),
        ),
    }
}

/// The token endpoint's form.
#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    grant_type: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    code_verifier: String,
    #[serde(default)]
    refresh_token: String,
}

fn oauth_error(error: &str, description: &str) -> Response {
    let mut response = (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn token_response(tokens: &Value) -> Response {
    let mut body = json!({
        "access_token": tokens["AccessToken"],
        "id_token": tokens["IdToken"],
        "token_type": "Bearer",
        "expires_in": tokens["ExpiresIn"],
    });
    if let Some(refresh) = tokens.get("RefreshToken") {
        body["refresh_token"] = refresh.clone();
    }
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /oauth2/token`.
pub async fn token(State(identity): State<Arc<Identity>>, Form(form): Form<TokenForm>) -> Response {
    if identity.check_client(&form.client_id).is_err() {
        return oauth_error("invalid_client", "unknown client_id");
    }
    match form.grant_type.as_str() {
        "authorization_code" => {
            let mut codes = identity
                .authorization_codes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let Some(entry) = codes.get_mut(&form.code) else {
                return oauth_error("invalid_grant", "the code is not valid");
            };
            if entry.used {
                // A replayed code: revoke what it bought, as OAuth advises.
                let refresh = entry.tokens["RefreshToken"].clone();
                let client_id = entry.client_id.clone();
                drop(codes);
                let _ = identity.dispatch(
                    "RevokeToken",
                    &json!({"Token": refresh, "ClientId": client_id}),
                    None,
                );
                return oauth_error("invalid_grant", "the code was already used");
            }
            if identity.now() - entry.created > CODE_SECONDS {
                return oauth_error("invalid_grant", "the code has expired");
            }
            if entry.client_id != form.client_id || entry.redirect_uri != form.redirect_uri {
                return oauth_error(
                    "invalid_grant",
                    "client_id or redirect_uri do not match the authorization",
                );
            }
            let computed = B64URL.encode(Sha256::digest(form.code_verifier.as_bytes()));
            if form.code_verifier.len() < 43
                || !bool::from(computed.as_bytes().ct_eq(entry.code_challenge.as_bytes()))
            {
                return oauth_error(
                    "invalid_grant",
                    "the code_verifier does not match the code_challenge",
                );
            }
            entry.used = true;
            match identity.authorization_code_tokens(
                &entry.tokens,
                &entry.scope,
                entry.nonce.as_deref(),
            ) {
                Ok(tokens) => token_response(&tokens),
                Err(error) => {
                    tracing::error!(%error, "reissuing a code's tokens");
                    oauth_error("server_error", "something went wrong")
                }
            }
        }
        "refresh_token" => {
            let request = json!({"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": form.client_id,
                                 "AuthParameters": {"REFRESH_TOKEN": form.refresh_token}});
            let worker = identity.clone();
            match tokio::task::spawn_blocking(move || {
                worker.dispatch("InitiateAuth", &request, None)
            })
            .await
            {
                Ok(Ok(answer)) => token_response(&answer["AuthenticationResult"]),
                Ok(Err(CognitoError { message, .. })) => oauth_error("invalid_grant", &message),
                Err(_) => oauth_error("server_error", "something went wrong"),
            }
        }
        _ => oauth_error(
            "unsupported_grant_type",
            "use authorization_code or refresh_token",
        ),
    }
}

/// `GET /logout`'s parameters.
#[derive(Debug, Deserialize)]
pub struct LogoutParams {
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    logout_uri: String,
}

/// `GET /logout`: back to the app's allow-listed sign-out page. The hosted
/// UI keeps no sign-in cookie, so there is nothing else to end here; the app
/// revokes its refresh token with `RevokeToken`.
pub async fn logout(
    State(identity): State<Arc<Identity>>,
    Query(params): Query<LogoutParams>,
) -> Response {
    if identity.check_client(&params.client_id).is_err() {
        return plain_error(
            StatusCode::BAD_REQUEST,
            "This application is not known (client_id).",
        );
    }
    if !identity.is_callback(&params.logout_uri) {
        return plain_error(
            StatusCode::BAD_REQUEST,
            "This application may not send you to that address (logout_uri).",
        );
    }
    Redirect::to(&params.logout_uri).into_response()
}

/// An answer of `/oauth2/userInfo` refusing the request, as a bearer-token
/// resource does (RFC 6750): the error in `WWW-Authenticate` and the body.
fn bearer_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    let challenge = format!(r#"Bearer error="{error}", error_description="{description}""#);
    let headers = response.headers_mut();
    if let Ok(challenge) = HeaderValue::from_str(&challenge) {
        headers.insert(header::WWW_AUTHENTICATE, challenge);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET` or `POST /oauth2/userInfo` with `Authorization: Bearer <access
/// token>`: the user's attributes the token's scopes allow, as Cognito
/// answers them. Only access tokens of the token endpoint (with `openid`)
/// are taken.
pub async fn user_info(State(identity): State<Arc<Identity>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && !token.is_empty())
        .map(|(_, token)| token.trim().to_owned());
    let Some(token) = token else {
        return bearer_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Bad OAuth2 request at UserInfo Endpoint",
        );
    };
    let worker = identity.clone();
    match tokio::task::spawn_blocking(move || worker.user_info(&token)).await {
        Ok(Ok(attributes)) => {
            let mut response = Json(attributes).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Ok(Err(refusal)) => bearer_error(StatusCode::UNAUTHORIZED, "invalid_token", refusal),
        Err(_) => bearer_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "something went wrong",
        ),
    }
}
