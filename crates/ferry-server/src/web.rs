//! The web client's files and its runtime configuration.
//!
//! The release build (`cargo xtask build-web`) names every asset by its
//! content (`NAME-<16 hex digits>.EXT`), so those are cached forever;
//! `index.html` and `/config.json` are always revalidated. A path without a
//! file extension is a client-side route (a folder in the URL) and gets the
//! app's `index.html`.
//!
//! The build writes `NAME.br` and `NAME.gz` beside each file, compressed
//! once at their best; the files are served from those when the browser
//! accepts them, with `Vary: Accept-Encoding`, and never compressed again on
//! the way out. The API's answers are compressed as they go.
//!
//! The app's pages carry a strict Content Security Policy
//! ([`Settings::content_security_policy`](crate::Settings::content_security_policy)),
//! `Referrer-Policy: no-referrer` and `X-Content-Type-Options: nosniff`;
//! every file of the build carries nosniff and `Access-Control-Allow-Origin:
//! *`, so a portal on another origin can load `/ferry.js` and what it loads
//! (module scripts, `fetch` with `integrity`, `crossorigin` stylesheets are
//! all CORS requests). `*` is enough and safe there: the build is public,
//! those requests carry no credentials, and the doors that matter (the API,
//! the object endpoint, the WebSocket) keep their own origin list
//! (`--allow-origin`). It also needs no `Vary: Origin`, so a shared cache
//! keeps one copy of each immutable file and never hands a portal a copy
//! stored without the header.

use crate::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;
use tower::{Layer, ServiceExt};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::services::{ServeDir, ServeFile};

pub(crate) fn routes(state: Arc<AppState>) -> Router {
    let assets = middleware::map_response_with_state(state.clone(), from_dist).layer(
        ServeDir::new(&state.settings.dist_dir)
            .append_index_html_on_directories(false)
            .precompressed_br()
            .precompressed_gzip()
            .fallback(get(client_route).with_state(state.clone())),
    );
    Router::new()
        .route("/config.json", get(config))
        .route("/healthz", get(|| async { "ok" }))
        .route("/", get(index))
        .merge(ferry_identity::routes(state.identity.clone()))
        .nest("/api", ferry_api::routes(state.clone()))
        .fallback_service(assets)
        .layer(middleware::from_fn(cache_headers))
        .layer(CompressionLayer::new().compress_when(DefaultPredicate::new().and(not_from_dist)))
        .with_state(state)
}

/// Marks a response whose body is a file of the client's build.
#[derive(Debug, Clone, Copy)]
struct FromDist;

/// A file of the build is served as written: compressed already when the
/// browser takes `.br` or `.gz`, or too small to be worth it.
fn not_from_dist(
    _: StatusCode,
    _: axum::http::Version,
    _: &HeaderMap,
    extensions: &Extensions,
) -> bool {
    extensions.get::<FromDist>().is_none()
}

/// Every file of the build varies by `Accept-Encoding`, whichever
/// encoding this answer has, may be read from any origin, and is never
/// sniffed; a page of the app also gets its security policy.
async fn from_dist<B>(
    State(state): State<Arc<AppState>>,
    mut response: Response<B>,
) -> Response<B> {
    response.extensions_mut().insert(FromDist);
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"text/html"));
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    if is_page {
        page_headers(&state, headers);
    }
    let varies = headers
        .get_all(header::VARY)
        .iter()
        .any(|value| value.as_bytes().eq_ignore_ascii_case(b"accept-encoding"));
    if !varies {
        headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// What every page of the app is sent with besides nosniff. The policy is built from the
/// settings, which `main` checked source by source; should it still not be
/// a header value, the page goes without rather than failing.
fn page_headers(state: &AppState, headers: &mut HeaderMap) {
    match HeaderValue::from_str(&state.settings.content_security_policy()) {
        Ok(policy) => {
            headers.insert(header::CONTENT_SECURITY_POLICY, policy);
        }
        Err(error) => tracing::error!(%error, "the Content-Security-Policy is not a header value"),
    }
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// A portal may point its elements at this (`config-url`): it holds
/// nothing private, and is read without credentials.
async fn config(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        Json(state.settings.client_config()),
    )
}

async fn index(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let path = state.settings.dist_dir.join("index.html");
    match tokio::fs::metadata(&path).await {
        Ok(metadata) if metadata.is_file() => {
            let file = ServeFile::new(path).precompressed_br().precompressed_gzip();
            let response = match file.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            from_dist(State(state), response.map(Body::new)).await
        }
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            Html(format!(
                "<!doctype html><title>Ferry</title><h1>Ferry's web client is not built</h1>\
                 <p>No <code>index.html</code> in <code>{}</code>. Run <code>cargo xtask run</code>, \
                 which builds the client and starts this server.</p>",
                state.settings.dist_dir.display()
            )),
        )
            .into_response(),
    }
}

async fn client_route(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let last = request.uri().path().rsplit('/').next().unwrap_or_default();
    if last.contains('.') {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    }
    index(State(state), request).await
}

fn is_hashed_asset(path: &str) -> bool {
    // `name-<16 hex digits>.ext`, and its `.br` and `.gz`.
    let file = path.rsplit('/').next().unwrap_or_default();
    let stem = file.split('.').next().unwrap_or_default();
    stem.rsplit_once('-')
        .is_some_and(|(_, hash)| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A hashed file is cached for good. Everything else, `/ferry.js` (the
/// stable URL portals load) among it, is revalidated on every use: a
/// conditional request answered `304` while the build is the same, and the
/// new build the moment it changes. A `max-age` would save that round trip
/// but, for its length after a deploy, hand browsers a `ferry.js` naming
/// hashed files this server no longer has.
async fn cache_headers(request: Request, next: Next) -> Response {
    let immutable = is_hashed_asset(request.uri().path());
    let mut response = next.run(request).await;
    if response.headers().contains_key(header::CACHE_CONTROL) {
        return response;
    }
    let value = if immutable && response.status().is_success() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    response
}
