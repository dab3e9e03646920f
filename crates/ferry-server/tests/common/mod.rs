//! A local stack in-process, driven through the router without a socket:
//! users, signed-in tokens, commands, queries and S3 requests.

#![allow(dead_code, clippy::unwrap_used)]

use axum::body::Body;
use axum::http::Request;
use ferry_server::clock::Clock;
use ferry_server::{AppState, LOCAL_CLIENT_ID, Settings, app};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;
use uuid::Uuid;

pub const PASSWORD: &str = "Correct-Horse-1";
pub const PUBLIC_URL: &str = "http://127.0.0.1:9";

pub struct Stack {
    pub state: Arc<AppState>,
    pub dir: tempfile::TempDir,
}

pub struct Reply {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

impl Stack {
    pub fn new(clock: Arc<dyn Clock>, tune: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut settings =
            Settings::new(PUBLIC_URL, dir.path().join("data"), dir.path().join("dist"));
        settings.bus_retry = ferry_bus::RetryPolicy {
            max_attempts: 3,
            base: std::time::Duration::from_millis(5),
            cap: std::time::Duration::from_millis(20),
        };
        tune(&mut settings);
        let state = AppState::open(settings, clock).unwrap();
        Self { state, dir }
    }

    /// Creates a user and returns an access token for them.
    pub async fn user(&self, name: &str) -> String {
        self.state
            .identity
            .create_user(name, PASSWORD, None, false)
            .unwrap();
        self.sign_in(name).await
    }

    pub async fn sign_in(&self, name: &str) -> String {
        let reply = self
            .send(
                Request::post("/")
                    .header("content-type", "application/x-amz-json-1.1")
                    .header(
                        "x-amz-target",
                        "AWSCognitoIdentityProviderService.InitiateAuth",
                    )
                    .body(Body::from(
                        json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": LOCAL_CLIENT_ID,
                               "AuthParameters": {"USERNAME": name, "PASSWORD": PASSWORD}})
                        .to_string(),
                    ))
                    .unwrap(),
            )
            .await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        reply.json()["AuthenticationResult"]["AccessToken"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, token: &str, path: &str) -> Reply {
        self.send(
            Request::get(path)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> Reply {
        self.post_raw(token, path, body.to_string()).await
    }

    pub async fn post_raw(&self, token: &str, path: &str, body: String) -> Reply {
        self.send(
            Request::post(path)
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }

    /// Sends a command envelope with a fresh id; returns the reply.
    pub async fn command(&self, token: &str, data: Value) -> Reply {
        self.post(token, "/api/commands", &envelope(Uuid::new_v4(), data))
            .await
    }

    /// Sends a request to a presigned URL of the object endpoint.
    pub async fn presigned(&self, request: &Value, body: Vec<u8>) -> Reply {
        let url = request["url"].as_str().unwrap();
        let path = url.strip_prefix(PUBLIC_URL).unwrap();
        let mut builder = Request::builder()
            .method(request["method"].as_str().unwrap())
            .uri(path)
            .header("host", PUBLIC_URL.strip_prefix("http://").unwrap());
        if request["method"] == "PUT" {
            builder = builder.header("content-length", body.len());
        }
        if let Some(headers) = request["headers"].as_object() {
            for (name, value) in headers {
                builder = builder.header(name, value.as_str().unwrap());
            }
        }
        self.send(builder.body(Body::from(body)).unwrap()).await
    }

    /// Waits until every bus delivery so far is done.
    pub async fn settle(&self) {
        tokio::time::timeout(std::time::Duration::from_secs(30), self.state.bus.drain())
            .await
            .expect("the bus settles");
    }

    /// Sends `create` (a `CreateFile` command's data) and `content` in the
    /// one presigned PUT it answers; the command's answer (`file`,
    /// `upload`). Asserts both succeeded.
    #[allow(dead_code)] // not every test file uploads
    pub async fn create_and_put(&self, token: &str, create: Value, content: &[u8]) -> Value {
        let created = self.command(token, create).await;
        assert_eq!(
            created.status,
            201,
            "{}",
            String::from_utf8_lossy(&created.body)
        );
        let created = created.json();
        let put = self
            .presigned(&created["upload"]["request"], content.to_vec())
            .await;
        assert_eq!(put.status, 200, "{}", String::from_utf8_lossy(&put.body));
        created
    }

    /// Creates a file, uploads `content` in one PUT and waits for the index.
    pub async fn upload(&self, token: &str, folder: &str, name: &str, content: &[u8]) -> Value {
        let create = json!({"Action": "CreateFile", "Folder": folder, "Name": name,
                            "Size": content.len(), "ContentType": "text/plain"});
        let created = self.create_and_put(token, create, content).await;
        self.settle().await;
        let id = created["file"]["fileId"].as_str().unwrap();
        let file = self.get(token, &format!("/api/files/{id}")).await;
        assert_eq!(file.json()["status"], "available", "{:?}", file.json());
        file.json()
    }

    /// The events the user's feed holds.
    pub async fn events(&self, token: &str) -> Vec<Value> {
        let reply = self.get(token, "/api/events?after=0&limit=1000").await;
        assert_eq!(reply.status, 200);
        reply.json()["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["event"].clone())
            .collect()
    }
}

/// A command envelope as the browser sends it.
pub fn envelope(command_id: Uuid, data: Value) -> Value {
    json!({
        "metadata": {
            "EventVersion": 1,
            "EventId": command_id,
            "CommandId": command_id,
            "TraceId": format!("trace-{}", command_id.simple()),
            "OccurredAt": "2026-11-26T12:00:00Z",
            "Producer": "web"
        },
        "data": data
    })
}

/// Every file under `dir`, recursively.
pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}
