//! The routes over the domain's in-memory ports: what each route states
//! (its id, its answer's status) and what they all share (the caller, the
//! trace id, the error body), checked with `oneshot`, no socket.

#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Request, StatusCode};
use ferry_api::{ApiHost, routes};
use ferry_core::Files;
use ferry_core::feed::Feed;
use ferry_core::model::UserId;
use ferry_core::testing::MemoryStack;
use ferry_protocol::ApiError;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt as _;
use uuid::Uuid;

/// Everyone is Ann.
struct Host(MemoryStack);

impl ApiHost for Host {
    fn files(&self) -> &Files {
        &self.0.files
    }

    fn caller(&self, _: &Parts) -> Result<UserId, ApiError> {
        Ok(UserId::parse("ann").unwrap())
    }

    fn feed(&self) -> &dyn Feed {
        &*self.0.notifier
    }
}

async fn call(app: &axum::Router, method: &str, uri: &str, body: Value) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .header("x-ferry-trace-id", "trace-routes-1")
        .body(Body::from(body.to_string()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn command(data: Value) -> Value {
    let id = Uuid::new_v4();
    json!({
        "metadata": {
            "EventId": id, "CommandId": id, "TraceId": "trace-routes-1",
            "OccurredAt": "2026-01-01T00:00:00Z", "Producer": "test", "EventVersion": 1,
        },
        "data": data,
    })
}

fn app() -> axum::Router {
    routes(Arc::new(Host(MemoryStack::default())))
}

#[tokio::test]
async fn each_kind_of_answer_has_its_status() {
    let app = app();
    let (created, body) = call(
        &app,
        "POST",
        "/commands",
        command(
            json!({"Action": "CreateFile", "Folder": "", "Name": "a.txt",
            "Size": 1, "ContentType": "text/plain"}),
        ),
    )
    .await;
    assert_eq!(created, StatusCode::CREATED, "{body}");
    let file_id = body["file"]["fileId"].as_str().unwrap().to_owned();
    let (aborted, body) = call(
        &app,
        "POST",
        "/commands",
        command(json!({"Action": "AbortUpload", "FileId": file_id})),
    )
    .await;
    assert_eq!(aborted, StatusCode::OK, "{body}");
    let (accepted, body) = call(
        &app,
        "POST",
        "/commands",
        command(json!({"Action": "CreateFolder", "Path": "docs"})),
    )
    .await;
    assert_eq!(accepted, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "pending");
}

#[tokio::test]
async fn a_batch_gives_each_command_the_status_it_would_have_alone() {
    let app = app();
    let batch = json!({"commands": [
        command(json!({"Action": "CreateFolder", "Path": "docs"})),
        command(json!({"Action": "DeleteFile", "FileId": Uuid::new_v4()})),
    ]});
    let (status, body) = call(&app, "POST", "/commands/batch", batch).await;
    assert_eq!(status, StatusCode::OK);
    let statuses: Vec<&Value> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["status"])
        .collect();
    assert_eq!(statuses, [202, 404]);
}

#[tokio::test]
async fn a_malformed_id_is_not_found_like_an_unknown_one_with_the_requests_trace() {
    let app = app();
    for uri in [
        "/files/not-a-uuid",
        "/files/not-a-uuid/download",
        "/files/not-a-uuid/parts",
        "/commands/not-a-uuid",
        &format!("/files/{}", Uuid::new_v4()),
        &format!("/commands/{}", Uuid::new_v4()),
    ] {
        let (status, body) = call(&app, "GET", uri, Value::Null).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(body["code"], "NotFound", "{uri}");
        assert_eq!(body["traceId"], "trace-routes-1", "{uri}");
    }
}

#[tokio::test]
async fn a_query_answers_the_domains_view_as_json() {
    let app = app();
    let (status, body) = call(&app, "GET", "/usage", Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"bytes": 0, "files": 0, "trashBytes": 0, "versionBytes": 0})
    );
    let (status, body) = call(&app, "GET", "/files?order=sideways", Value::Null).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["traceId"], "trace-routes-1");
}

#[tokio::test]
async fn the_event_feed_reads_the_hosts_feed_for_the_caller_only() {
    use ferry_core::ports::Notifier;
    let stack = MemoryStack::default();
    let notifier = stack.notifier.clone();
    let app = routes(Arc::new(Host(stack)));
    let event = |folder: &str| {
        serde_json::from_value::<ferry_protocol::EventEnvelope>(command(
            json!({"Action": "FolderCreated", "Path": folder}),
        ))
        .unwrap()
    };
    let ann = UserId::parse("ann").unwrap();
    notifier.notify(&ann, &event("a")).await.unwrap();
    notifier
        .notify(&UserId::parse("bob").unwrap(), &event("b"))
        .await
        .unwrap();
    let (status, page) = call(&app, "GET", "/events?after=0", Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{page}");
    assert_eq!(events[0]["event"]["data"]["Path"], "a");
    assert_eq!(page["more"], false);
}
