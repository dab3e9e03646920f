//! AWS's own SDK for JavaScript (pinned in tools/npm) as an independent
//! client of the endpoint over a real socket: header-signed object and
//! multipart calls with checksums, refusals, the SDK's presigned URLs, and
//! our presigner's URL compared with the SDK's for the same inputs and time.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

mod common;

use common::*;
use ferry_core::clock::Clock;
use ferry_core::ports::{ObjectStore, PutLimits};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

fn npm_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/npm")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_sdk_for_javascript_agrees_with_the_endpoint() {
    let modules = npm_dir().join("node_modules/@aws-sdk/client-s3");
    assert!(
        modules.exists(),
        "{} is missing: run `npm ci` in tools/npm (or `cargo xtask test`, which installs the npm test peers)",
        modules.display()
    );

    let s = start().await;
    let body = b"compare me";
    let limits = PutLimits {
        content_length: body.len() as u64,
        checksum_sha256: Some(sha256_b64(body)),
        content_type: Some("text/plain".into()),
    };
    let signing_time = s.clock.now();
    let ours = s
        .store
        .presign_put(
            "sdk/compare me ü.txt",
            &limits,
            s.now(),
            Duration::from_secs(900),
        )
        .await
        .unwrap();
    let date = signing_time
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();

    let url = s.url.clone();
    let checksum = limits.checksum_sha256.clone().unwrap();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(npm_dir().join("peers/s3-sdk.mjs"))
            .env("ENDPOINT", &url)
            .env("BUCKET", BUCKET)
            .env("ACCESS_KEY_ID", ACCESS_KEY)
            .env("SECRET_ACCESS_KEY", SECRET_KEY)
            .env("OUR_PUT_URL", &ours.url)
            .env("PRESIGN_DATE", date)
            .env("PRESIGN_LENGTH", "10")
            .env("PRESIGN_CHECKSUM", checksum)
            .env("PRESIGN_TYPE", "text/plain")
            .env("PRESIGN_EXPIRES", "900")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}");
    let last = stdout.lines().last().unwrap_or_default();
    let result: serde_json::Value = serde_json::from_str(last).unwrap_or_else(|_| {
        panic!(
            "no JSON result from node:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(
        result["ok"],
        true,
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let steps: Vec<&str> = result["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(steps.contains(&"complete-multipart"), "{steps:?}");
    // A header-signed body unlike its x-amz-content-sha256: S3's own code.
    assert!(steps.contains(&"content-sha256-mismatch"), "{steps:?}");
    assert!(steps.contains(&"sdk-presigned-refusals"), "{steps:?}");
    assert!(
        steps.contains(&"our-presigned-url-equals-the-sdks"),
        "{steps:?}"
    );

    // What the SDK did left S3's events on the bus, in order.
    let events: Vec<(String, String, String)> = s
        .bus
        .take()
        .into_iter()
        .map(|e| {
            (
                e.detail_type,
                e.detail["object"]["key"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                e.detail["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let created = |key: &str, reason: &str| {
        (
            "Object Created".to_owned(),
            key.to_owned(),
            reason.to_owned(),
        )
    };
    assert_eq!(
        events,
        [
            created("sdk/small.bin", "PutObject"),
            created("sdk/big.bin", "CompleteMultipartUpload"),
            created("sdk/copy.bin", "CopyObject"),
            (
                "Object Deleted".to_owned(),
                "sdk/copy.bin".to_owned(),
                "DeleteObject".to_owned()
            ),
            (
                "Object Deleted".to_owned(),
                "sdk/small.bin".to_owned(),
                "DeleteObject".to_owned()
            ),
            created("sdk/presigned.txt", "PutObject"),
            // Only the upload of the signed size is stored; every refused
            // presigned request left nothing.
            created("sdk/sized.txt", "PutObject"),
            (
                "Object Deleted".to_owned(),
                "sdk/presigned.txt".to_owned(),
                "DeleteObject".to_owned()
            ),
            (
                "Object Deleted".to_owned(),
                "sdk/sized.txt".to_owned(),
                "DeleteObject".to_owned()
            ),
        ]
    );
}
