//! User content never runs in the app's origin (issue 20). The object
//! endpoint shares the app's origin on the local stack, so an uploaded HTML
//! page or SVG with a script, opened in the browser by any URL the API
//! hands out (its preview, its download) or by one signed by hand asking
//! for it inline as `text/html`, must run nothing: no `alert`, and no
//! request to a spy server the test listens with. Controls first show that
//! the test would see an alert and a request to the spy. (The preview
//! dialog's own test is `viewer.rs`.)

use crate::harness::{Browser, Stack};
use anyhow::{Context, Result, bail};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A plain HTTP listener on 127.0.0.1 that records the request line of
/// everything that reaches it and answers `200` with a short body.
struct Spy {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Spy {
    async fn start() -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let record = record.clone();
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 8192];
                    let n = socket.read(&mut buffer).await.unwrap_or(0);
                    let text = String::from_utf8_lossy(&buffer[..n]);
                    let line = text.lines().next().unwrap_or("(connection)").to_owned();
                    if let Ok(mut seen) = record.lock() {
                        seen.push(line);
                    }
                    let _ = socket
                        .write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\
                              content-length: 3\r\nconnection: close\r\n\r\nspy",
                        )
                        .await;
                });
            }
        });
        Ok(Self { url, seen })
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// What reached it besides the control's page (and the icon Chromium
    /// asks for after any page it shows).
    fn beyond_control(&self) -> Vec<String> {
        self.seen()
            .into_iter()
            .filter(|l| !l.contains(" /control ") && !l.contains(" /favicon.ico "))
            .collect()
    }
}

/// Creates a file through the API and PUTs its bytes to the presigned URL,
/// from the signed-in page; answers its id once it is available.
const UPLOAD: &str = r#"
const [name, type, text, done] = arguments;
const token = JSON.parse(sessionStorage.getItem('ferry.tokens')).access_token;
const auth = { authorization: 'Bearer ' + token };
(async () => {
  const bytes = new TextEncoder().encode(text);
  const id = crypto.randomUUID();
  const command = {
    metadata: { EventVersion: 1, EventId: id, CommandId: id, TraceId: id.replaceAll('-', ''),
                OccurredAt: new Date().toISOString(), Producer: 'e2e' },
    data: { Action: 'CreateFile', Folder: '', Name: name, Size: bytes.length, ContentType: type },
  };
  const created = await (await fetch('/api/commands', { method: 'POST', body: JSON.stringify(command),
    headers: { ...auth, 'content-type': 'application/json' } })).json();
  const request = created.upload.request;
  const put = await fetch(request.url, { method: 'PUT', headers: request.headers, body: bytes });
  if (put.status !== 200) throw new Error('PUT answered ' + put.status);
  const fileId = created.file.fileId;
  for (;;) {
    const file = await (await fetch('/api/files/' + fileId, { headers: auth })).json();
    if (file.status === 'available') break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  done({ fileId });
})().catch((e) => done({ error: String(e) }));
"#;

/// `GET /api/{path}` from the signed-in page.
const API_GET: &str = r#"
const [path, done] = arguments;
const token = JSON.parse(sessionStorage.getItem('ferry.tokens')).access_token;
fetch('/api/' + path, { headers: { authorization: 'Bearer ' + token } })
  .then(async (r) => done({ status: r.status, body: await r.json() }))
  .catch((e) => done({ error: String(e) }));
"#;

/// SigV4's encoding of a query component (unreserved characters kept).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn hmac(key: &[u8], data: &str) -> Result<Vec<u8>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key)?;
    mac.update(data.as_bytes());
    Ok(mac.finalize().into_bytes().to_vec())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A presigned GET of the object `api_url` names, signed by hand with the
/// endpoint's own key (read from the server's data directory) and carrying
/// `query`: what someone holding the key, or a bug in the API, could make.
/// The signing time and scope are `api_url`'s own.
fn sign_by_hand(stack: &Stack, api_url: &str, query: &[(&str, &str)]) -> Result<String> {
    let keys: Value = serde_json::from_str(&std::fs::read_to_string(
        stack.data_dir().join("keys/s3-credentials.json"),
    )?)?;
    let access = keys["accessKeyId"].as_str().context("accessKeyId")?;
    let secret = keys["secretAccessKey"]
        .as_str()
        .context("secretAccessKey")?;
    let url = url::Url::parse(api_url)?;
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .with_context(|| format!("{name} in {api_url}"))
    };
    let amz_date = param("X-Amz-Date")?;
    let credential = param("X-Amz-Credential")?;
    let scope = credential
        .split_once('/')
        .map(|(_, scope)| scope.to_owned())
        .context("credential scope")?;
    let parts: Vec<&str> = scope.split('/').collect();
    let (date, region) = (parts[0], parts[1]);
    let host = format!(
        "{}:{}",
        url.host_str().context("host")?,
        url.port().context("port")?
    );
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (encode(k), encode(v)))
        .chain([
            ("X-Amz-Algorithm".into(), "AWS4-HMAC-SHA256".into()),
            (
                "X-Amz-Credential".into(),
                encode(&format!("{access}/{scope}")),
            ),
            ("X-Amz-Date".into(), amz_date.clone()),
            ("X-Amz-Expires".into(), "600".into()),
            ("X-Amz-SignedHeaders".into(), "host".into()),
        ])
        .collect();
    pairs.sort();
    let canonical_query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let canonical = format!(
        "GET\n{}\n{canonical_query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD",
        url.path()
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let mut key = format!("AWS4{secret}").into_bytes();
    for part in [date, region, "s3", "aws4_request"] {
        key = hmac(&key, part)?;
    }
    let signature = hex(&hmac(&key, &to_sign)?);
    Ok(format!(
        "{}://{host}{}?{canonical_query}&X-Amz-Signature={signature}",
        url.scheme(),
        url.path()
    ))
}

/// Opens `url` in the tab; it must be handled as a download named `saved`
/// (not shown), and nothing it holds may run.
async fn open_as_download(
    browser: &Browser,
    spy: &Spy,
    url: &str,
    saved: &str,
    what: &str,
) -> Result<Vec<u8>> {
    // A navigation that turns into a download may end in an error for the
    // driver (net::ERR_ABORTED); the file in the downloads folder is what
    // says how the browser took it.
    let _ = browser.goto(url).await;
    let bytes = browser
        .downloaded(saved)
        .await
        .with_context(|| format!("{what} was not a download"))?;
    assert_nothing_ran(browser, spy, what).await?;
    Ok(bytes)
}

async fn assert_nothing_ran(browser: &Browser, spy: &Spy, what: &str) -> Result<()> {
    if let Some(text) = browser.open_alert().await? {
        bail!("{what} ran a script: an alert says {text:?}");
    }
    let beyond = spy.beyond_control();
    if !beyond.is_empty() {
        bail!("{what} made requests to the spy: {beyond:?}");
    }
    Ok(())
}

#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn uploaded_html_and_svg_run_no_script_however_they_are_opened() -> Result<()> {
    let stack = Stack::start()?;
    stack.add_user("demo", "Ferry-demo-1")?;
    let spy = Spy::start().await?;
    let browser = Browser::start().await?;
    browser.sign_in(&stack, "demo", "Ferry-demo-1").await?;

    // Control: an alert is seen.
    browser
        .run("setTimeout(() => alert('control'), 0); return 1;")
        .await?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(text) = browser.open_alert().await? {
            assert_eq!(text, "control");
            break;
        }
        if Instant::now() > deadline {
            bail!("the control alert was never seen");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let spy_url = &spy.url;
    let html = format!(
        "<!doctype html><html><body><h1>hostile</h1>\
         <img src=\"{spy_url}/html-img\">\
         <script>alert('html ran'); fetch('{spy_url}/html-fetch', {{mode: 'no-cors'}});</script>\
         </body></html>"
    );
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert('svg onload')\" \
         width=\"10\" height=\"10\">\
         <image href=\"{spy_url}/svg-img\" width=\"1\" height=\"1\"/>\
         <script>alert('svg ran'); fetch('{spy_url}/svg-fetch', {{mode: 'no-cors'}});</script></svg>"
    );
    let text = format!("<script>alert('text ran')</script> <img src=\"{spy_url}/text-img\">");
    let mut files = Vec::new();
    for (name, ty, body) in [
        ("page.html", "text/html", &html),
        ("pic.svg", "image/svg+xml", &svg),
        ("notes.txt", "text/plain", &text),
    ] {
        let up = browser
            .run_async(UPLOAD, vec![json!(name), json!(ty), json!(body)])
            .await?;
        let id = up["fileId"]
            .as_str()
            .with_context(|| format!("uploading {name}: {up}"))?
            .to_owned();
        let preview = browser
            .run_async(API_GET, vec![json!(format!("files/{id}/preview"))])
            .await?;
        assert_eq!(preview["status"], 200, "{preview}");
        let download = browser
            .run_async(API_GET, vec![json!(format!("files/{id}/download"))])
            .await?;
        assert_eq!(download["status"], 200, "{download}");
        files.push((
            name,
            body,
            preview["body"].clone(),
            download["body"]["request"]["url"].clone(),
        ));
    }

    // (c) The API never signs markup inline: no viewer, not inline, and the
    // preview's URL is a download's.
    for (name, _, preview, _) in &files[..2] {
        assert_eq!(preview["kind"], "none", "{name}: {preview}");
        assert_eq!(preview["inline"], false, "{name}: {preview}");
        let url = preview["url"].as_str().context("url")?;
        assert!(
            url.contains("response-content-disposition=attachment"),
            "{url}"
        );
    }
    assert_eq!(files[2].2["kind"], "text", "{}", files[2].2);

    // Control: a request to the spy is seen.
    browser.goto(&format!("{spy_url}/control")).await?;
    assert_eq!(
        spy.seen().first().map(String::as_str),
        Some("GET /control HTTP/1.1")
    );

    // (a) the preview URL and (b) the download URL, opened directly; then a
    // URL signed by hand that asks for the file inline as HTML or SVG.
    for ((name, body, preview, download), (first, second, third, ty)) in files[..2].iter().zip([
        ("page.html", "page (1).html", "evil.html", "text/html"),
        ("pic.svg", "pic (1).svg", "evil.svg", "image/svg+xml"),
    ]) {
        let got = open_as_download(
            &browser,
            &spy,
            preview["url"].as_str().context("url")?,
            first,
            &format!("{name}'s preview URL"),
        )
        .await?;
        assert_eq!(got, body.as_bytes());
        open_as_download(
            &browser,
            &spy,
            download.as_str().context("url")?,
            second,
            &format!("{name}'s download URL"),
        )
        .await?;
        let disposition = format!("inline; filename=\"{third}\"");
        let by_hand = sign_by_hand(
            &stack,
            download.as_str().context("url")?,
            &[
                ("response-content-type", ty),
                ("response-content-disposition", &disposition),
            ],
        )?;
        open_as_download(
            &browser,
            &spy,
            &by_hand,
            third,
            &format!("{name} signed by hand as {ty} inline"),
        )
        .await?;
    }

    // Text with markup in it is shown, as text: the tab is on its URL (not
    // a download) and nothing in it ran.
    let text_url = files[2].2["url"].as_str().context("url")?;
    browser.goto(text_url).await?;
    let path = text_url.split('?').next().unwrap_or(text_url);
    let shown = browser.url().await?;
    assert!(shown.starts_with(path), "the tab is on {shown}");
    assert_nothing_ran(&browser, &spy, "the text preview").await?;
    Ok(())
}

/// A minimal one-page PDF (its cross-reference offsets are not checked by
/// Chromium's viewer, which repairs them).
const PDF: &str = "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n\
2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n\
3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n\
trailer<</Root 1 0 R>>\n%%EOF\n";

/// The endpoint's `Content-Security-Policy: sandbox` must not keep a PDF
/// preview out of the browser's own viewer: the tab shows it (no download,
/// no "blocked" page) and the document is the viewer's.
#[tokio::test]
#[ignore = "needs Chromium and a built client: run `cargo xtask test`"]
async fn a_pdf_preview_opens_in_the_browsers_viewer() -> Result<()> {
    let stack = Stack::start()?;
    stack.add_user("demo", "Ferry-demo-1")?;
    let browser = Browser::start().await?;
    browser.sign_in(&stack, "demo", "Ferry-demo-1").await?;
    let up = browser
        .run_async(
            UPLOAD,
            vec![json!("doc.pdf"), json!("application/pdf"), json!(PDF)],
        )
        .await?;
    let id = up["fileId"].as_str().with_context(|| format!("{up}"))?;
    let preview = browser
        .run_async(API_GET, vec![json!(format!("files/{id}/preview"))])
        .await?;
    assert_eq!(preview["body"]["kind"], "pdf", "{preview}");
    assert_eq!(preview["body"]["inline"], true, "{preview}");
    let url = preview["body"]["url"].as_str().context("url")?;
    browser.goto(url).await?;
    let shown = browser.url().await?;
    assert!(
        shown.starts_with(url.split('?').next().unwrap_or(url)),
        "the tab is on {shown}"
    );
    // The document is the viewer's (its embedder, not Chrome's "blocked"
    // page): `sandbox` doesn't reach the built-in viewer.
    let page = browser
        .run("return [document.contentType, document.documentElement.outerHTML];")
        .await?;
    assert_eq!(page[0], "application/pdf", "{page}");
    assert!(
        page[1]
            .as_str()
            .unwrap_or_default()
            .contains("pdf_embedder"),
        "{page}"
    );
    Ok(())
}
