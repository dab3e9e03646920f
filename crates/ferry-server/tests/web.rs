//! The client's files and config, through the router without a socket.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use ferry_protocol::{ApiError, ClientConfig, ErrorCode};
use ferry_server::clock::SystemClock;
use ferry_server::{AppState, Settings, app};
use http_body_util::BodyExt;
use std::sync::Arc;
use tower::ServiceExt;

/// The main wasm, by its hashed name.
const WASM: &str = "ferry-web-0123456789abcdef.wasm";
/// A hashed file the build didn't precompress (big enough that the API's
/// on-the-fly compression would take it).
const SMALL: &str = "tiny-fedcba9876543210.js";
const SMALL_JS: &[u8] = b"export function tiny() { return 'not worth a compressed copy'; }";

/// The element's loader at its stable URL.
const FERRY_JS: &[u8] = b"import init from './ferry-web-0123456789abcdef.js';";

/// The policy of the app's pages served at the fixture's public URL.
const POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
    connect-src 'self' http://127.0.0.1:9999 ws://127.0.0.1:9999; worker-src 'self'; \
    img-src 'self' data: blob:; base-uri 'none'; frame-ancestors 'self'";

struct Fixture {
    _dir: tempfile::TempDir,
    settings: Settings,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><title>Ferry</title>",
    )
    .unwrap();
    // A build as `cargo xtask build-web` writes it: hashed names, each with
    // its brotli and gzip beside it (stand-in bytes: the server doesn't look
    // inside), and a small file without them.
    for (name, bytes) in [
        ("index.html", &b"<!doctype html><title>Ferry</title>"[..]),
        (WASM, b"\0asm"),
    ] {
        if name != "index.html" {
            std::fs::write(dist.join(name), bytes).unwrap();
        }
        std::fs::write(dist.join(format!("{name}.br")), [b"br:", bytes].concat()).unwrap();
        std::fs::write(dist.join(format!("{name}.gz")), [b"gz:", bytes].concat()).unwrap();
    }
    std::fs::write(dist.join(SMALL), SMALL_JS).unwrap();
    std::fs::write(dist.join("ferry.js"), FERRY_JS).unwrap();
    let settings = Settings::new("http://127.0.0.1:9999", dir.path().join("data"), dist);
    Fixture {
        _dir: dir,
        settings,
    }
}

async fn get(settings: &Settings, uri: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    get_accepting(settings, uri, None).await
}

/// A GET whose `Accept-Encoding` is `encodings`, if any.
async fn get_accepting(
    settings: &Settings,
    uri: &str,
    encodings: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut request = Request::get(uri);
    if let Some(encodings) = encodings {
        request = request.header(header::ACCEPT_ENCODING, encodings);
    }
    send(settings, request.body(Body::empty()).unwrap()).await
}

/// A GET from a page on `origin`, as a portal's module script or
/// `crossorigin` stylesheet asks.
async fn get_from(
    settings: &Settings,
    uri: &str,
    origin: &str,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let request = Request::get(uri)
        .header(header::ORIGIN, origin)
        .body(Body::empty())
        .unwrap();
    send(settings, request).await
}

async fn send(
    settings: &Settings,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let state = AppState::open(settings.clone(), Arc::new(SystemClock)).unwrap();
    let response = app(state).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, headers, body)
}

#[tokio::test]
async fn config_points_the_client_at_this_server() {
    let f = fixture();
    let (status, headers, body) = get(&f.settings, "/config.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let config: ClientConfig = serde_json::from_slice(&body).unwrap();
    config.validate().unwrap();
    assert_eq!(config.api_url, "http://127.0.0.1:9999/api");
    assert_eq!(config.websocket_url, "ws://127.0.0.1:9999/ws");
    assert_eq!(config.identity_endpoint(), "http://127.0.0.1:9999/");
}

#[tokio::test]
async fn upload_tuning_reaches_the_client() {
    let mut f = fixture();
    f.settings.files.multipart_threshold = 8 * 1024 * 1024;
    f.settings.client_upload.parts_in_flight = 6;
    f.settings.client_upload.checksums = false;
    let (_, _, body) = get(&f.settings, "/config.json").await;
    let config: ClientConfig = serde_json::from_slice(&body).unwrap();
    assert_eq!(config.upload.multipart_threshold_bytes, 8 * 1024 * 1024);
    assert_eq!(config.upload.parts_in_flight, 6);
    assert!(!config.upload.checksums);
}

#[tokio::test]
async fn https_public_urls_get_a_secure_websocket() {
    let mut f = fixture();
    f.settings.public_url = "https://files.example.com".into();
    assert_eq!(
        f.settings.client_config().websocket_url,
        "wss://files.example.com/ws"
    );
}

#[tokio::test]
async fn the_app_shell_is_served_for_client_routes_but_missing_assets_are_404() {
    let f = fixture();
    for route in ["/", "/files/Photos/2026"] {
        let (status, headers, body) = get(&f.settings, route).await;
        assert_eq!(status, StatusCode::OK, "{route}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        assert!(
            String::from_utf8(body)
                .unwrap()
                .contains("<title>Ferry</title>")
        );
    }
    let (status, ..) = get(&f.settings, "/missing-0000000000000000.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn hashed_assets_are_cached_for_good() {
    let f = fixture();
    let (status, headers, body) = get(&f.settings, &format!("/{WASM}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, b"\0asm");
    assert_eq!(
        headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
}

#[tokio::test]
async fn assets_are_served_precompressed_as_the_browser_accepts() {
    let f = fixture();
    let uri = format!("/{WASM}");
    for (accepts, encoding, body) in [
        (
            Some("gzip, deflate, br, zstd"),
            Some("br"),
            &b"br:\0asm"[..],
        ),
        (Some("br"), Some("br"), b"br:\0asm"),
        (Some("gzip"), Some("gzip"), b"gz:\0asm"),
        (Some("gzip;q=1, br;q=0"), Some("gzip"), b"gz:\0asm"),
        (None, None, b"\0asm"),
        (Some("identity"), None, b"\0asm"),
    ] {
        let (status, headers, got) = get_accepting(&f.settings, &uri, accepts).await;
        assert_eq!(status, StatusCode::OK, "{accepts:?}");
        assert_eq!(got, body, "{accepts:?}");
        assert_eq!(
            headers
                .get(header::CONTENT_ENCODING)
                .map(|v| v.to_str().unwrap()),
            encoding,
            "{accepts:?}"
        );
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "application/wasm",
            "{accepts:?}"
        );
        assert_eq!(headers[header::VARY], "accept-encoding", "{accepts:?}");
        assert_eq!(
            headers[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable",
            "{accepts:?}"
        );
    }
}

#[tokio::test]
async fn the_page_is_precompressed_too_and_always_revalidated() {
    let f = fixture();
    for route in ["/", "/files/Photos"] {
        let (status, headers, body) = get_accepting(&f.settings, route, Some("br")).await;
        assert_eq!(status, StatusCode::OK, "{route}");
        assert_eq!(headers[header::CONTENT_ENCODING], "br", "{route}");
        assert_eq!(body, b"br:<!doctype html><title>Ferry</title>", "{route}");
        assert_eq!(headers[header::VARY], "accept-encoding", "{route}");
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache", "{route}");
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{route}"
        );
    }
}

#[tokio::test]
async fn files_without_a_compressed_copy_are_not_compressed_on_the_way_out() {
    let f = fixture();
    let (status, headers, body) =
        get_accepting(&f.settings, &format!("/{SMALL}"), Some("gzip, br")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, SMALL_JS);
    assert!(headers.get(header::CONTENT_ENCODING).is_none());
    assert_eq!(headers[header::VARY], "accept-encoding");
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
}

#[tokio::test]
async fn answers_that_are_not_files_are_still_compressed_on_the_fly() {
    let f = fixture();
    let (status, headers, body) = get_accepting(&f.settings, "/config.json", Some("gzip")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(headers[header::VARY], "accept-encoding");
    assert!(body.starts_with(&[0x1f, 0x8b]), "a gzip stream");
}

#[tokio::test]
async fn unknown_api_routes_answer_with_the_error_body() {
    let f = fixture();
    let (status, _, body) = get(&f.settings, "/api/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let error: ApiError = serde_json::from_slice(&body).unwrap();
    assert_eq!(error.code, ErrorCode::NotFound);
    assert!(error.message.contains("/api/nope"));
}

#[tokio::test]
async fn a_missing_client_build_says_how_to_build_it() {
    let mut f = fixture();
    f.settings.dist_dir = f.settings.data_dir.join("nothing-here");
    let (status, _, body) = get(&f.settings, "/").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(String::from_utf8(body).unwrap().contains("cargo xtask run"));
}

#[tokio::test]
async fn the_app_pages_carry_a_strict_security_policy() {
    let f = fixture();
    for route in ["/", "/files/Photos/2026", "/index.html"] {
        let (status, headers, _) = get(&f.settings, route).await;
        assert_eq!(status, StatusCode::OK, "{route}");
        assert_eq!(headers[header::CONTENT_SECURITY_POLICY], POLICY, "{route}");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer", "{route}");
        assert_eq!(
            headers[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff",
            "{route}"
        );
    }
}

#[tokio::test]
async fn frame_ancestors_come_from_the_settings() {
    let mut f = fixture();
    f.settings.frame_ancestors = vec!["'self'".into(), "https://portal.example".into()];
    let (_, headers, _) = get(&f.settings, "/").await;
    let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        policy.ends_with("; frame-ancestors 'self' https://portal.example"),
        "{policy}"
    );
    f.settings.frame_ancestors = Vec::new();
    let (_, headers, _) = get(&f.settings, "/files").await;
    let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(policy.ends_with("; frame-ancestors 'none'"), "{policy}");
}

#[tokio::test]
async fn the_policy_lets_the_client_reach_what_its_config_names() {
    let mut f = fixture();
    f.settings.public_url = "https://files.example.com".into();
    let policy = f.settings.content_security_policy();
    let config = f.settings.client_config();
    let connect = policy
        .split("; ")
        .find_map(|directive| directive.strip_prefix("connect-src "))
        .unwrap();
    assert_eq!(
        connect,
        "'self' https://files.example.com wss://files.example.com"
    );
    // The API, the identity and object endpoints, and the WebSocket.
    for url in [
        config.api_url.clone(),
        config.identity_endpoint(),
        f.settings.public_url.clone(),
        config.websocket_url.clone(),
    ] {
        assert!(
            connect.split(' ').any(|source| url.starts_with(source)),
            "{url} is not allowed by {connect:?}"
        );
    }
}

#[tokio::test]
async fn files_of_the_build_are_not_sniffed_and_carry_no_page_policy() {
    let f = fixture();
    for file in [WASM, SMALL, "ferry.js"] {
        let (status, headers, _) = get(&f.settings, &format!("/{file}")).await;
        assert_eq!(status, StatusCode::OK, "{file}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{file}");
        assert!(
            headers.get(header::CONTENT_SECURITY_POLICY).is_none(),
            "{file}"
        );
    }
}

#[tokio::test]
async fn the_element_loader_is_revalidated_javascript() {
    let f = fixture();
    let (status, headers, body) = get(&f.settings, "/ferry.js").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, FERRY_JS);
    assert_eq!(headers[header::CONTENT_TYPE], "text/javascript");
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    assert!(headers.contains_key(header::LAST_MODIFIED), "for a 304");
}

#[tokio::test]
async fn a_portal_on_another_origin_may_load_the_build() {
    let mut f = fixture();
    f.settings.extra_origins = vec!["https://portal.example".into()];
    for origin in ["https://portal.example", "http://127.0.0.1:9999"] {
        for file in ["ferry.js", WASM, SMALL] {
            let (status, headers, _) = get_from(&f.settings, &format!("/{file}"), origin).await;
            assert_eq!(status, StatusCode::OK, "{origin} {file}");
            assert_eq!(
                headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
                "*",
                "{origin} {file}"
            );
            assert!(
                headers
                    .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
                    .is_none()
            );
        }
    }
}

#[tokio::test]
async fn any_origin_may_load_the_public_build_but_not_upload() {
    // The build is public and fetched without credentials, so an origin
    // not given with --allow-origin still reads it; the object endpoint
    // is where origins are checked.
    let f = fixture();
    let elsewhere = "https://elsewhere.example";
    let (status, headers, _) = get_from(&f.settings, &format!("/{WASM}"), elsewhere).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let preflight = Request::builder()
        .method("OPTIONS")
        .uri("/ferry/some-key")
        .header(header::ORIGIN, elsewhere)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "PUT")
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = send(&f.settings, preflight).await;
    assert!(
        headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(),
        "{headers:?}"
    );
}

#[tokio::test]
async fn a_portal_may_read_the_config() {
    let f = fixture();
    let (status, headers, _) =
        get_from(&f.settings, "/config.json", "https://portal.example").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
}
