//! The OpenAPI document (`openapi.json`) against the implementation: its
//! schemas are the Rust types' own, every documented operation is routed and
//! every route documented, and real answers match the documented schema for
//! their status.
//!
//! `FERRY_BLESS_OPENAPI=1 cargo test -p ferry-server --test openapi`
//! rewrites the document's `components.schemas` from the types after a
//! deliberate change; the paths are written by hand.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::{Stack, envelope};
use ferry_server::clock::SystemClock;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use uuid::Uuid;

fn document() -> Value {
    serde_json::from_str(ferry_server::api::OPENAPI).unwrap()
}

#[test]
fn the_schemas_are_the_types_own() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ferry-api/openapi.json");
    let mut doc = document();
    let generated = ferry_protocol::catalog::api_components();
    if std::env::var_os("FERRY_BLESS_OPENAPI").is_some() {
        doc["components"]["schemas"] = generated;
        let text = serde_json::to_string_pretty(&doc).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
        return;
    }
    assert_eq!(
        ferry_protocol::schema::canonical(doc["components"]["schemas"].clone()),
        generated,
        "openapi.json's schemas differ from the Rust types; if the change is meant, \
         run FERRY_BLESS_OPENAPI=1 cargo test -p ferry-server --test openapi"
    );
    assert_eq!(doc["openapi"], "3.1.0");
}

/// `(method, path)` of every route in `ferry-api`'s `src/lib.rs`, read from its source.
fn implemented() -> BTreeSet<(String, String)> {
    let source = include_str!("../../ferry-api/src/lib.rs");
    let mut routes = BTreeSet::new();
    for line in source.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix(".route(\"") else {
            continue;
        };
        let (path, handlers) = rest.split_once('"').unwrap();
        for method in ["get", "post", "put", "delete", "patch"] {
            if handlers.contains(&format!("{method}(")) {
                routes.insert((method.to_owned(), path.to_owned()));
            }
        }
    }
    routes
}

fn documented() -> BTreeSet<(String, String)> {
    let doc = document();
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.insert((method.clone(), path.clone()));
        }
    }
    operations
}

#[test]
fn every_route_is_documented_and_every_documented_route_exists() {
    let implemented = implemented();
    assert!(implemented.len() >= 10, "{implemented:?}");
    assert_eq!(documented(), implemented);
    for (path, item) in document()["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            assert!(operation["operationId"].is_string(), "{method} {path}");
            assert!(!operation["responses"].as_object().unwrap().is_empty());
            if path != "/openapi.json" {
                assert!(
                    operation["responses"]["401"].is_object(),
                    "{method} {path} documents 401"
                );
            }
        }
    }
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let stack = Stack::new(Arc::new(SystemClock), |_| {});
    let token = stack.user("alice").await;
    for (method, path) in documented() {
        let uri = format!("/api{}", path.replace("{id}", &Uuid::new_v4().to_string()));
        let request = Request::builder()
            .method(method.to_uppercase().as_str())
            .uri(&uri)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let reply = stack.send(request).await;
        assert_ne!(reply.status, 405, "{method} {uri}");
        let message = reply.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            !message.starts_with("There is no API route"),
            "{method} {uri}: {message}"
        );
    }
    // And a path outside the document is not.
    let reply = stack.get(&token, "/api/files/x/y/z").await;
    assert_eq!(reply.status, 404);
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("There is no API route")
    );
}

/// Checks real answers against the document as they come.
struct Checker {
    doc: Value,
    checked: BTreeSet<(String, String, u16)>,
}

impl Checker {
    fn check(&mut self, method: &str, path: &str, status: u16, body: &Value) {
        let operation = &self.doc["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is not documented");
        let response = &operation["responses"][status.to_string()];
        assert!(
            response.is_object(),
            "{method} {path} answered {status}, which the document doesn't list: {body}"
        );
        let schema = &response["content"]["application/json"]["schema"];
        let mut root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.doc["components"].clone(),
        });
        for (key, value) in schema.as_object().unwrap() {
            root[key] = value.clone();
        }
        let validator = jsonschema::draft202012::new(&root).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {path} {status}: {errors:?}\n{body}"
        );
        self.checked
            .insert((method.to_owned(), path.to_owned(), status));
    }
}

#[tokio::test]
async fn answers_match_the_documented_schemas() {
    const MIB: u64 = 1024 * 1024;
    let stack = Stack::new(Arc::new(SystemClock), |s| {
        s.files.multipart_threshold = 6 * MIB;
        s.files.quota_bytes = Some(100 * MIB);
    });
    let token = stack.user("alice").await;
    let mut checker = Checker {
        doc: document(),
        checked: BTreeSet::new(),
    };

    // Commands: 201, 202, 200, and errors.
    let created = stack
        .command(
            &token,
            json!({"Action": "CreateFile", "Folder": "docs", "Name": "a.txt",
                                "Size": 3, "ContentType": "text/plain"}),
        )
        .await;
    checker.check("post", "/commands", created.status, &created.json());
    let created = created.json();
    stack
        .presigned(&created["upload"]["request"], b"abc".to_vec())
        .await;
    let big = stack
        .command(
            &token,
            json!({"Action": "CreateFile", "Folder": "", "Name": "big.bin",
                                "Size": 12 * MIB, "ContentType": "application/octet-stream"}),
        )
        .await;
    checker.check("post", "/commands", big.status, &big.json());
    let big_id = big.json()["file"]["fileId"].as_str().unwrap().to_owned();
    let folder_command = Uuid::new_v4();
    let folder = stack
        .post(
            &token,
            "/api/commands",
            &envelope(
                folder_command,
                json!({"Action": "CreateFolder", "Path": "new"}),
            ),
        )
        .await;
    checker.check("post", "/commands", folder.status, &folder.json());
    for data in [
        json!({"Action": "Nope"}),
        json!({"Action": "CreateFolder", "Path": "../x"}),
        json!({"Action": "DeleteFile", "FileId": Uuid::new_v4()}),
        json!({"Action": "CreateFile", "Folder": "docs", "Name": "a.txt", "Size": 3, "ContentType": "text/plain"}),
        json!({"Action": "CreateFile", "Folder": "", "Name": "huge", "Size": 1u64 << 50, "ContentType": "text/plain"}),
        json!({"Action": "CreateFile", "Folder": "", "Name": "over", "Size": 200 * MIB, "ContentType": "text/plain"}),
    ] {
        let reply = stack.command(&token, data).await;
        checker.check("post", "/commands", reply.status, &reply.json());
    }
    let unauthorized = stack
        .post(&"x".repeat(10), "/api/commands", &json!({}))
        .await;
    checker.check(
        "post",
        "/commands",
        unauthorized.status,
        &unauthorized.json(),
    );
    stack.settle().await;

    let a_id = created["file"]["fileId"].as_str().unwrap();
    let parts = stack
        .post(
            &token,
            &format!("/api/files/{big_id}/parts"),
            &json!({"parts": [{"partNumber": 2}]}),
        )
        .await;
    checker.check("post", "/files/{id}/parts", parts.status, &parts.json());
    let bad_parts = stack
        .post(
            &token,
            &format!("/api/files/{big_id}/parts"),
            &json!({"parts": [{"partNumber": 99}]}),
        )
        .await;
    checker.check(
        "post",
        "/files/{id}/parts",
        bad_parts.status,
        &bad_parts.json(),
    );
    let not_multipart = stack
        .post(
            &token,
            &format!("/api/files/{a_id}/parts"),
            &json!({"parts": [{"partNumber": 1}]}),
        )
        .await;
    checker.check(
        "post",
        "/files/{id}/parts",
        not_multipart.status,
        &not_multipart.json(),
    );
    let uploaded = stack
        .get(&token, &format!("/api/files/{big_id}/parts"))
        .await;
    checker.check(
        "get",
        "/files/{id}/parts",
        uploaded.status,
        &uploaded.json(),
    );
    let aborted = stack
        .command(&token, json!({"Action": "AbortUpload", "FileId": big_id}))
        .await;
    checker.check("post", "/commands", aborted.status, &aborted.json());

    for path in [
        "/files".to_owned(),
        "/files?folder=docs&sort=size&order=desc&limit=1".to_owned(),
        "/files?folder=missing".to_owned(),
        "/files?limit=0".to_owned(),
        format!("/files/{a_id}"),
        format!("/files/{}", Uuid::new_v4()),
        format!("/files/{a_id}/download"),
        format!("/files/{a_id}/download?expiresIn=901"),
        format!("/files/{a_id}/preview"),
        format!("/files/{}/preview", Uuid::new_v4()),
        "/search?q=a".to_owned(),
        "/search?q=".to_owned(),
        "/usage".to_owned(),
        "/trash".to_owned(),
        "/trash?limit=0".to_owned(),
        format!("/files/{a_id}/versions"),
        format!("/files/{}/versions", Uuid::new_v4()),
        "/events?after=0".to_owned(),
        "/events?after=x".to_owned(),
        format!("/commands/{folder_command}"),
        format!("/commands/{}", Uuid::new_v4()),
    ] {
        let reply = stack.get(&token, &format!("/api{path}")).await;
        let template = path
            .split('?')
            .next()
            .unwrap()
            .replace(a_id, "{id}")
            .split('/')
            .map(|segment| {
                if Uuid::parse_str(segment).is_ok() {
                    "{id}"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        checker.check("get", &template, reply.status, &reply.json());
    }
    let batch = stack
        .post(
            &token,
            "/api/commands/batch",
            &json!({"commands": [
                envelope(Uuid::new_v4(), json!({"Action": "DeleteFile", "FileId": a_id})),
                envelope(Uuid::new_v4(), json!({"Action": "DeleteFile", "FileId": Uuid::new_v4()})),
            ]}),
        )
        .await;
    checker.check("post", "/commands/batch", batch.status, &batch.json());
    let empty = stack
        .post(&token, "/api/commands/batch", &json!({"commands": []}))
        .await;
    checker.check("post", "/commands/batch", empty.status, &empty.json());
    let thumbnails = stack
        .post(
            &token,
            "/api/thumbnails",
            &json!({"fileIds": [Uuid::new_v4()], "size": "small"}),
        )
        .await;
    checker.check("post", "/thumbnails", thumbnails.status, &thumbnails.json());
    let no_ids = stack
        .post(
            &token,
            "/api/thumbnails",
            &json!({"fileIds": [], "size": "small"}),
        )
        .await;
    checker.check("post", "/thumbnails", no_ids.status, &no_ids.json());
    stack.settle().await;
    let events = stack.get(&token, "/api/events?after=0").await;
    checker.check("get", "/events", events.status, &events.json());
    // Every event in the feed is a published event version.
    let published = ferry_protocol::catalog::published();
    for item in events.json()["events"].as_array().unwrap() {
        let event = &item["event"];
        let (.., schema) = published
            .iter()
            .find(|(kind, action, version, _)| {
                *kind == ferry_protocol::schema::Kind::Event
                    && event["data"]["Action"] == *action
                    && event["metadata"]["EventVersion"] == *version
            })
            .unwrap_or_else(|| panic!("{event} is no published event"));
        let validator = jsonschema::draft202012::new(schema).unwrap();
        assert!(validator.is_valid(event), "{event}");
    }

    // Every operation was exercised, with a success and an error.
    let operations: BTreeSet<_> = checker
        .checked
        .iter()
        .map(|(m, p, _)| (m.clone(), p.clone()))
        .collect();
    let mut expected = documented();
    expected.remove(&("get".to_owned(), "/openapi.json".to_owned()));
    assert_eq!(operations, expected);
    for status in [200u16, 201, 202, 400, 401, 403, 404, 409, 413] {
        assert!(
            checker.checked.iter().any(|(_, _, s)| *s == status),
            "no answer with {status} was checked"
        );
    }
}
