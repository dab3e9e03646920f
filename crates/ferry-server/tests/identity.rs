//! The server composes the identity provider (`ferry-identity`, whose own
//! tests hold its rules): the provider's settings come from the server's,
//! and its routes sit beside the app's under the server's public URL.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::{PUBLIC_URL, Stack};
use ferry_server::clock::SystemClock;
use ferry_server::{LOCAL_CLIENT_ID, LOCAL_POOL_ID};
use std::sync::Arc;

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn the_discovery_document_and_jwks_are_at_the_servers_issuer() {
    let stack = Stack::new(Arc::new(SystemClock), |_| {});
    let discovery = stack
        .send(get(&format!(
            "/{LOCAL_POOL_ID}/.well-known/openid-configuration"
        )))
        .await;
    assert_eq!(discovery.status, 200);
    let discovery = discovery.json();
    assert_eq!(discovery["issuer"], format!("{PUBLIC_URL}/{LOCAL_POOL_ID}"));
    assert_eq!(
        discovery["authorization_endpoint"],
        format!("{PUBLIC_URL}/oauth2/authorize")
    );
    assert_eq!(
        discovery["jwks_uri"],
        format!("{PUBLIC_URL}/{LOCAL_POOL_ID}/.well-known/jwks.json")
    );
    let jwks = stack
        .send(get(&format!("/{LOCAL_POOL_ID}/.well-known/jwks.json")))
        .await;
    assert_eq!(jwks.json()["keys"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_hosted_ui_returns_to_the_app_and_the_configured_urls_only() {
    const PORTAL: &str = "http://127.0.0.1:7/portal/callback.html";
    let stack = Stack::new(Arc::new(SystemClock), |settings| {
        settings.extra_callback_urls = vec![PORTAL.into()];
    });
    let challenge = "a".repeat(43);
    for (redirect, status) in [
        (format!("{PUBLIC_URL}/"), 200),
        (format!("{PUBLIC_URL}/auth/callback"), 200),
        (PORTAL.to_owned(), 200),
        ("https://evil.example/cb".to_owned(), 400),
    ] {
        let reply = stack
            .send(get(&format!(
                "/oauth2/authorize?response_type=code&client_id={LOCAL_CLIENT_ID}\
                 &redirect_uri={redirect}&code_challenge={challenge}&code_challenge_method=S256"
            )))
            .await;
        assert_eq!(reply.status, status, "{redirect}");
    }
}
