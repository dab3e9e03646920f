//! The hosted UI from the browser: the redirect to sign in, and on the way
//! back the code traded for tokens at the token endpoint. Deciding what
//! the URLs and answers mean is `ferry_client::auth::hosted`'s.

use super::http;
use crate::chunks::{self, ChunkFuture};
use crate::platform::random_bytes;
use ferry_client::auth::hosted::{CALLBACK_PATH, Pending, Returned, returned};
use ferry_client::auth::{AuthError, TokenSet};
use ferry_protocol::ClientConfig;
use gloo_net::http::Method;

/// Where the verifier waits for the redirect back (this tab only).
const PENDING_KEY: &str = "ferry.pkce";

fn hosted_ui(config: &ClientConfig) -> Result<String, AuthError> {
    config
        .hosted_ui_url
        .clone()
        .ok_or_else(|| AuthError::Other("Single sign-on is not set up for this app.".into()))
}

fn redirect_uri(location: &web_sys::Location) -> Result<String, AuthError> {
    let origin = location
        .origin()
        .map_err(|_| AuthError::Other("this page has no origin".into()))?;
    let path = location.pathname().unwrap_or_default();
    let base = path.strip_suffix(CALLBACK_PATH).unwrap_or(&path);
    Ok(format!(
        "{origin}{}{CALLBACK_PATH}",
        base.trim_end_matches('/')
    ))
}

chunks::split_point! {
    auth =>
    /// Sends the browser to the hosted UI to sign in (PKCE is the auth
    /// chunk's, like the rest of the conversation).
    pub fn start(config: ClientConfig) -> Result<(), AuthError> {
        start_now(&config)
    }
}

chunks::split_point! {
    auth =>
    /// On the callback path, trades the code for tokens and puts the app's
    /// own path back in the address bar (check [`returning`] first).
    pub fn finish(config: ClientConfig) -> ChunkFuture<Option<Result<TokenSet, AuthError>>> {
        Box::pin(async move { finish_now(&config).await })
    }
}

/// Whether the page is the hosted UI's way back (the callback path).
pub fn returning() -> bool {
    web_sys::window()
        .and_then(|w| w.location().pathname().ok())
        .is_some_and(|path| path.ends_with(CALLBACK_PATH))
}

fn start_now(config: &ClientConfig) -> Result<(), AuthError> {
    let no_random = || AuthError::Other("this browser has no secure random numbers".into());
    let pending = Pending::new(
        &random_bytes(32).ok_or_else(no_random)?,
        &random_bytes(16).ok_or_else(no_random)?,
    );
    let window = web_sys::window().ok_or_else(|| AuthError::Other("no window".into()))?;
    let storage = window
        .session_storage()
        .ok()
        .flatten()
        .ok_or_else(|| AuthError::Other("this browser keeps no session storage".into()))?;
    let saved = serde_json::to_string(&pending).map_err(|e| AuthError::Other(e.to_string()))?;
    storage
        .set_item(PENDING_KEY, &saved)
        .map_err(|_| AuthError::Other("this browser refused to keep the sign-in".into()))?;
    let location = window.location();
    let url = pending.authorize_url(
        &hosted_ui(config)?,
        &config.user_pool_client_id,
        &redirect_uri(&location)?,
    );
    location
        .assign(&url)
        .map_err(|_| AuthError::Other("the browser refused to open the sign-in page".into()))
}

async fn finish_now(config: &ClientConfig) -> Option<Result<TokenSet, AuthError>> {
    let window = web_sys::window()?;
    let location = window.location();
    if !location.pathname().ok()?.ends_with(CALLBACK_PATH) {
        return None;
    }
    let storage = window.session_storage().ok().flatten();
    let pending = storage
        .as_ref()
        .and_then(|s| s.get_item(PENDING_KEY).ok().flatten())
        .and_then(|text| serde_json::from_str::<Pending>(&text).ok());
    if let Some(storage) = &storage {
        // A code works once; so does its verifier.
        let _ = storage.remove_item(PENDING_KEY);
    }
    let search = location.search().unwrap_or_default();
    let redirect = redirect_uri(&location).ok()?;
    let home = redirect
        .strip_suffix(CALLBACK_PATH)
        .unwrap_or("")
        .to_owned()
        + "/";
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&home));
    }
    let code = match returned(&search, pending.as_ref())? {
        Returned::Code(code) => code,
        Returned::Refused(reason) => return Some(Err(AuthError::Other(reason))),
    };
    let pending = pending?;
    Some(exchange(config, &pending, &code, &redirect).await)
}

async fn exchange(
    config: &ClientConfig,
    pending: &Pending,
    code: &str,
    redirect: &str,
) -> Result<TokenSet, AuthError> {
    let url = format!("{}/oauth2/token", hosted_ui(config)?.trim_end_matches('/'));
    let body = pending.token_request(code, &config.user_pool_client_id, redirect);
    let answer = http::send(
        Method::POST,
        &url,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        Some(body),
    )
    .await
    .map_err(|_| AuthError::Unreachable)?;
    if answer.status != 200 {
        return Err(AuthError::Other(
            "The sign-in could not be completed. Sign in again.".into(),
        ));
    }
    TokenSet::from_oauth(&answer.body)
}
