//! Previews through the whole local stack, no browser (issue 20): what
//! `GET /api/files/{id}/preview` decides for each kind of file, what the
//! object endpoint (same origin as the app) answers its URLs with, ranges
//! through them, and that no way of asking gets HTML or SVG served inline.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

mod common;

use common::{PUBLIC_URL, Reply, Stack};
use ferry_core::ports::ObjectStore;
use ferry_server::clock::SystemClock;
use serde_json::{Value, json};
use sha2::Digest as _;
use std::sync::Arc;

/// Uploads `content` as `name` with `content_type`; answers its file id.
async fn upload(
    stack: &Stack,
    token: &str,
    name: &str,
    content_type: &str,
    content: &[u8],
) -> String {
    let create = json!({"Action": "CreateFile", "Folder": "", "Name": name,
                        "Size": content.len(), "ContentType": content_type,
                        "Sha256": hex(&sha2::Sha256::digest(content))});
    let created = stack.create_and_put(token, create, content).await;
    created["file"]["fileId"].as_str().unwrap().to_owned()
}

/// A GET of a presigned URL, with more headers (`Range`).
async fn fetch(stack: &Stack, url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = json!({"method": "GET", "url": url, "headers": {}});
    for (name, value) in headers {
        request["headers"][*name] = json!(value);
    }
    stack.presigned(&request, Vec::new()).await
}

fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply.headers.get(name).and_then(|v| v.to_str().ok())
}

fn assert_sandboxed(reply: &Reply, what: &str) {
    assert_eq!(
        header(reply, "x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        header(reply, "content-security-policy"),
        Some("sandbox"),
        "{what}"
    );
}

/// A file and its expected preview: (name, the index's type, bytes, kind,
/// the type its URL serves, inline).
type Case<'a> = (&'a str, &'a str, &'a [u8], &'a str, &'a str, bool);

#[tokio::test]
async fn previews_show_media_and_text_inline_and_markup_only_as_downloads() {
    let stack = Stack::new(Arc::new(SystemClock), |_| {});
    let token = stack.user("alice").await;
    let html: &[u8] = b"<html><script>alert(1)</script></html>";
    let svg: &[u8] = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
    let png: &[u8] = b"\x89PNG\r\n\x1a\nnot really";
    let md: &[u8] = b"# Notes\n\n<script>alert(1)</script>\n";
    let video: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
    let big_text = vec![b'a'; 2 * 1024 * 1024 + 1];
    let cases: Vec<Case> = vec![
        ("page.html", "text/html", html, "none", "text/html", false),
        (
            "pic.svg",
            "image/svg+xml",
            svg,
            "none",
            "image/svg+xml",
            false,
        ),
        ("sneaky.txt", "text/html", html, "none", "text/html", false),
        (
            "sneaky.png",
            "image/svg+xml",
            svg,
            "none",
            "image/svg+xml",
            false,
        ),
        ("photo.png", "image/png", png, "image", "image/png", true),
        (
            "notes.md",
            "text/markdown",
            md,
            "text",
            "text/plain; charset=utf-8",
            true,
        ),
        (
            "data.json",
            "application/json",
            b"{\"a\":1}",
            "text",
            "text/plain; charset=utf-8",
            true,
        ),
        ("clip.mp4", "video/mp4", &video, "video", "video/mp4", true),
        (
            "big.txt",
            "text/plain",
            &big_text,
            "none",
            "text/plain",
            false,
        ),
        (
            "archive.zip",
            "application/zip",
            b"PK",
            "none",
            "application/zip",
            false,
        ),
    ];
    let mut ids = Vec::new();
    for (name, ty, bytes, ..) in &cases {
        ids.push(upload(&stack, &token, name, ty, bytes).await);
    }
    stack.settle().await;

    for ((name, _, bytes, kind, served, inline), id) in cases.iter().zip(&ids) {
        let reply = stack.get(&token, &format!("/api/files/{id}/preview")).await;
        assert_eq!(
            reply.status,
            200,
            "{name}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let preview = reply.json();
        assert_eq!(preview["kind"], *kind, "{name}: {preview}");
        assert_eq!(preview["inline"], *inline, "{name}: {preview}");
        assert_eq!(preview["contentType"], *served, "{name}: {preview}");
        assert_eq!(preview["size"], bytes.len(), "{name}");
        let sha = hex(&sha2::Sha256::digest(bytes));
        assert_eq!(preview["sha256"], sha.as_str(), "{name}");
        let url = preview["url"].as_str().unwrap();
        assert!(url.starts_with(PUBLIC_URL), "{url}");

        let got = fetch(&stack, url, &[]).await;
        assert_eq!(
            got.status,
            200,
            "{name}: {}",
            String::from_utf8_lossy(&got.body)
        );
        assert_eq!(got.body, *bytes, "{name}");
        assert_sandboxed(&got, name);
        let disposition = header(&got, "content-disposition").unwrap();
        let content_type = header(&got, "content-type").unwrap();
        if *inline {
            assert_eq!(
                disposition,
                format!("inline; filename*=UTF-8''{name}"),
                "{name}"
            );
            assert_eq!(content_type, *served, "{name}");
            assert_eq!(
                header(&got, "cache-control"),
                Some("private, max-age=900"),
                "{name}"
            );
        } else {
            assert_eq!(
                disposition,
                format!("attachment; filename*=UTF-8''{name}"),
                "{name}"
            );
            assert!(
                !["text/html", "image/svg+xml"].contains(&content_type),
                "{name} came back as {content_type}"
            );
        }
    }

    // The video seeks: a range of its preview URL is 206.
    let video_url = stack
        .get(&token, &format!("/api/files/{}/preview", ids[7]))
        .await
        .json()["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let part = fetch(&stack, &video_url, &[("range", "bytes=100-199")]).await;
    assert_eq!(part.status, 206);
    assert_eq!(header(&part, "content-range"), Some("bytes 100-199/4096"));
    assert_eq!(header(&part, "accept-ranges"), Some("bytes"));
    assert_eq!(part.body, &video[100..200]);
    assert_sandboxed(&part, "range");
    let beyond = fetch(&stack, &video_url, &[("range", "bytes=5000-")]).await;
    assert_eq!(beyond.status, 416);
}

#[tokio::test]
async fn no_one_gets_an_inline_html_or_svg_url_signed_or_served() {
    let stack = Stack::new(Arc::new(SystemClock), |_| {});
    let alice = stack.user("alice").await;
    let bob = stack.user("bob").await;
    let html: &[u8] = b"<html><script>alert(1)</script></html>";
    let id = upload(&stack, &alice, "page.html", "text/html", html).await;
    stack.settle().await;

    // Another user's file, and no file at all: 404, as for a download.
    let theirs = stack.get(&bob, &format!("/api/files/{id}/preview")).await;
    assert_eq!(theirs.status, 404);
    assert_eq!(theirs.json()["code"], "NotFound");
    let none = stack
        .get(
            &alice,
            &format!("/api/files/{}/preview", uuid::Uuid::new_v4()),
        )
        .await;
    assert_eq!(none.status, 404);

    // The store itself refuses to sign an inline GET of an active type.
    let store = stack.state.objects.store();
    let now = ferry_protocol::Timestamp::new(time::OffsetDateTime::now_utc());
    let key = format!("users/{}/{id}", sub_of(&alice));
    for ty in [
        "text/html",
        "image/svg+xml",
        "application/xhtml+xml",
        "text/xml",
    ] {
        let refused = store
            .presign_inline_get(
                &key,
                "page.html",
                ty,
                None,
                now,
                std::time::Duration::from_secs(60),
            )
            .await;
        assert!(
            matches!(refused, Err(ferry_core::ports::PortError::Invalid(_))),
            "{ty}: {refused:?}"
        );
    }

    // A URL signed by hand with the endpoint's own key, asking for HTML
    // inline, is served as an attachment of no renderable type.
    let config = stack.state.objects.config();
    let signer = ferry_objects::presign::Signer {
        access_key_id: config.access_key_id.clone(),
        secret_access_key: config.secret_access_key.clone(),
        region: config.region.clone(),
        base_url: PUBLIC_URL.to_owned(),
    };
    for (ty, disposition) in [
        ("text/html", "inline"),
        ("image/svg+xml", "inline; filename=\"a.svg\""),
        ("text/html; charset=utf-8", ""),
    ] {
        let mut query = vec![("response-content-type".to_owned(), ty.to_owned())];
        if !disposition.is_empty() {
            query.push((
                "response-content-disposition".to_owned(),
                disposition.to_owned(),
            ));
        }
        let url = signer.presign(&ferry_objects::presign::PresignRequest {
            method: "GET",
            path: &format!("/{}/{key}", config.bucket),
            query,
            headers: vec![],
            now: now.get(),
            expires_secs: 60,
        });
        let got = fetch(&stack, &url, &[]).await;
        assert_eq!(got.status, 200, "{}", String::from_utf8_lossy(&got.body));
        assert!(
            header(&got, "content-disposition")
                .unwrap()
                .starts_with("attachment"),
            "{ty}"
        );
        assert_eq!(
            header(&got, "content-type"),
            Some("application/octet-stream")
        );
        assert_sandboxed(&got, ty);
        // HEAD says the same safety, and that ranges are taken.
        let head = signer.presign(&ferry_objects::presign::PresignRequest {
            method: "HEAD",
            path: &format!("/{}/{key}", config.bucket),
            query: vec![],
            headers: vec![],
            now: now.get(),
            expires_secs: 60,
        });
        let got = stack
            .presigned(
                &json!({"method": "HEAD", "url": head, "headers": {}}),
                Vec::new(),
            )
            .await;
        assert_eq!(got.status, 200);
        assert_eq!(header(&got, "accept-ranges"), Some("bytes"));
        assert_sandboxed(&got, "HEAD");
    }

    // The download of it is an attachment too, whatever the index says.
    let download = stack
        .get(&alice, &format!("/api/files/{id}/download"))
        .await
        .json();
    let got = stack.presigned(&download["request"], Vec::new()).await;
    assert_eq!(
        header(&got, "content-disposition"),
        Some("attachment; filename*=UTF-8''page.html")
    );
    assert_eq!(
        header(&got, "content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(got.body, html);
}

/// The `sub` claim of an access token.
fn sub_of(token: &str) -> String {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    claims["sub"].as_str().unwrap().to_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
