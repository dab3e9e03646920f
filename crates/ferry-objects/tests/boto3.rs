//! boto3, AWS's SDK for Python (pinned in tools/python/requirements.txt,
//! installed by `cargo xtask test`), as a second independent client of the
//! endpoint, over a real socket: the multipart conversation and the shape of
//! each multipart answer as S3 documents it (`Location` in
//! CompleteMultipartUpload's, the ETags, checksums, paging and errors), and
//! s3transfer's managed upload.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

mod common;

use common::*;
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python that has boto3: the test peers' environment, or
/// `FERRY_PYTHON`.
fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("FERRY_PYTHON") {
        return path.into();
    }
    let path = root().join("target/tools/python/bin/python");
    assert!(
        path.exists(),
        "{} is missing: `cargo xtask test` installs the PyPI test peers (tools/python/requirements.txt)",
        path.display()
    );
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_agrees_with_the_endpoint_on_multipart_uploads() {
    let s = start().await;
    let url = s.url.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python())
            .arg(root().join("tools/python/peers/s3_boto3.py"))
            .env("ENDPOINT", &url)
            .env("BUCKET", BUCKET)
            .env("ACCESS_KEY_ID", ACCESS_KEY)
            .env("SECRET_ACCESS_KEY", SECRET_KEY)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}");
    let last = stdout.lines().last().unwrap_or_default();
    let result: serde_json::Value = serde_json::from_str(last)
        .unwrap_or_else(|_| panic!("no JSON result from python:\n{stdout}\n{stderr}"));
    assert_eq!(result["ok"], true, "{stdout}\n{stderr}");
    let steps: Vec<&str> = result["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(
        steps,
        [
            "create-multipart",
            "upload-parts",
            "damaged-part-refused",
            "list-parts",
            "list-parts-paged",
            "list-uploads",
            "complete-multipart",
            "complete-again",
            "object-is-the-parts",
            "abort-multipart",
            "managed-upload",
        ]
    );
    // Each completed upload was announced once per completion answered.
    let created: Vec<String> = s
        .bus
        .take()
        .into_iter()
        .filter(|e| e.detail_type == "Object Created")
        .map(|e| {
            e.detail["object"]["key"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        created,
        [
            "boto3/multipart parts.bin",
            "boto3/multipart parts.bin",
            "boto3/managed.bin"
        ]
    );
}

/// Byte ranges and content safety through boto3 (issue 20): header-signed
/// ranged GETs, 416 past the end, HEAD's `Accept-Ranges`, a `Range` sent
/// with boto3's own presigned URL, and HTML asked inline by that URL served
/// as an attachment (`tools/python/peers/s3_ranges_boto3.py`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boto3_reads_byte_ranges_and_gets_no_inline_html() {
    let s = start().await;
    let url = s.url.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python())
            .arg(root().join("tools/python/peers/s3_ranges_boto3.py"))
            .env("ENDPOINT", &url)
            .env("BUCKET", BUCKET)
            .env("ACCESS_KEY_ID", ACCESS_KEY)
            .env("SECRET_ACCESS_KEY", SECRET_KEY)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stdout.lines().last().unwrap_or_default();
    let result: serde_json::Value = serde_json::from_str(last)
        .unwrap_or_else(|_| panic!("no JSON result from python:\n{stdout}\n{stderr}"));
    assert_eq!(result["ok"], true, "{stdout}\n{stderr}");
    assert_eq!(
        result["steps"],
        serde_json::json!([
            "ranges",
            "range-past-the-end",
            "head-accepts-ranges",
            "presigned-range",
            "inline-html-is-an-attachment"
        ])
    );
}
