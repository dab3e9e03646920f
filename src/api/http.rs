//! A minimal `fetch` wrapper: the browser's own HTTP client, no extra crates.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// A response with its body read as text.
#[derive(Debug, Clone)]
pub struct TextResponse {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: String,
}

/// `GET url`, without cache, reading the body as text. Fails only when no
/// response arrived (network error, CORS refusal, no window).
pub async fn get_text(url: &str) -> Result<TextResponse, JsValue> {
    let (status, body) = send("GET", url, &[], None).await?;
    Ok(TextResponse { status, body })
}

/// Sends a request with these headers and body, without cache; returns the
/// status and the body as text. Fails only when no response arrived
/// (network error, CORS refusal, no window).
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<(u16, String), JsValue> {
    let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
    let init = web_sys::RequestInit::new();
    init.set_method(method);
    init.set_cache(web_sys::RequestCache::NoStore);
    let sent = web_sys::Headers::new()?;
    for (name, value) in headers {
        sent.set(name, value)?;
    }
    init.set_headers(&sent);
    if let Some(body) = body {
        init.set_body(&body.into());
    }
    let request = web_sys::Request::new_with_str_and_init(url, &init)?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_request(&request))
        .await?
        .dyn_into()?;
    let text = JsFuture::from(response.text()?).await?;
    Ok((response.status(), text.as_string().unwrap_or_default()))
}
