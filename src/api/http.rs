//! HTTP requests through `gloo-net` (the browser's `fetch`): without cache,
//! the answer's status and body as text. Deciding what an answer means is
//! left to `ferry_client` (`failure`, `auth`, `config`).

use gloo_net::http::{Method, RequestBuilder};

/// No answer arrived: a network error, a CORS refusal, or no window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreachable;

/// An answer: its status and its body as text.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: String,
}

impl Answer {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Sends a request with these headers and body, without cache.
pub async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> Result<Answer, Unreachable> {
    let mut request = RequestBuilder::new(url)
        .method(method)
        .cache(web_sys::RequestCache::NoStore);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let request = match body {
        Some(body) => request.body(body),
        None => request.build(),
    }
    .map_err(|_| Unreachable)?;
    let response = request.send().await.map_err(|_| Unreachable)?;
    let status = response.status();
    let body = response.text().await.map_err(|_| Unreachable)?;
    Ok(Answer { status, body })
}

/// `GET url` for its bytes (a text preview), through the browser's cache:
/// the status and the body.
pub async fn get_bytes(url: &str) -> Result<(u16, Vec<u8>), Unreachable> {
    let response = RequestBuilder::new(url)
        .send()
        .await
        .map_err(|_| Unreachable)?;
    let status = response.status();
    let body = response.binary().await.map_err(|_| Unreachable)?;
    Ok((status, body))
}

/// `GET url`, without cache.
pub async fn get(url: &str) -> Result<Answer, Unreachable> {
    send(Method::GET, url, &[], None).await
}
