//! The functions, invoked as Lambda invokes them: with real-shaped API
//! Gateway (HTTP API and WebSocket), authorizer, EventBridge and
//! CloudFormation events, on moto's server mode (S3, DynamoDB, EventBridge
//! with SQS targets standing in for the consumers' functions). moto neither
//! verifies Cognito tokens nor keeps what `@connections` is sent, so the
//! pool's JWKS, the management API and CloudFormation's response URL are
//! stand-ins on loopback that record what they get.

#![allow(clippy::unwrap_used)]

#[path = "../../ferry-aws/tests/common/mod.rs"]
mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{
    Moto, bus_with_queues, management_stand_in, receive_all, s3_client, settings, stand_in,
    start_moto,
};
use ferry_aws::{ApiGatewayNotifier, DynamoIndex};
use ferry_lambda::authorizer::Authorizer;
use ferry_lambda::http::Http;
use ferry_lambda::{Env, Stack};
use ferry_protocol::Timestamp;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashSet;
use tower::ServiceExt as _;

const BUS: &str = "ferry-bus";
const BUCKET: &str = "ferry-files";
const NOW: i64 = 1_795_000_000;

fn now() -> Timestamp {
    Timestamp::from_unix_millis(NOW * 1000).unwrap()
}

// --- The WebSocket authorizer -------------------------------------------

struct Pool {
    key: SigningKey<Sha256>,
    issuer: String,
    jwks_requests: common::Received,
}

/// A user pool's signing key, and its JWKS served at
/// `{issuer}/.well-known/jwks.json` as Cognito serves it.
async fn pool() -> Pool {
    let private = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
    let public = private.to_public_key();
    let jwks = json!({"keys": [{
        "kid": "key-1", "alg": "RS256", "kty": "RSA", "use": "sig",
        "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
    }]})
    .to_string();
    let (url, jwks_requests) = stand_in(move |method, path, _| {
        if method == "GET" && path == "/eu-west-1_pool/.well-known/jwks.json" {
            (
                200,
                vec![("content-type".into(), "application/json".into())],
                jwks.clone(),
            )
        } else {
            (404, Vec::new(), String::new())
        }
    })
    .await;
    Pool {
        key: SigningKey::new(private),
        issuer: format!("{url}/eu-west-1_pool"),
        jwks_requests,
    }
}

impl Pool {
    fn token(&self, kid: &str, claims: Value) -> String {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "kid": kid}).to_string());
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signature = self.key.sign(format!("{header}.{claims}").as_bytes());
        format!(
            "{header}.{claims}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }

    fn claims(&self, sub: &str, client: &str, exp: i64) -> Value {
        json!({"sub": sub, "iss": self.issuer, "client_id": client, "token_use": "access",
               "exp": exp, "iat": NOW})
    }
}

/// `$connect`'s REQUEST authorizer event, as API Gateway sends it.
fn connect_request(
    token: Option<&str>,
) -> aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest {
    let mut query = json!({});
    if let Some(token) = token {
        query["token"] = json!(token);
    }
    serde_json::from_value(json!({
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/live/$connect",
        "headers": {"Host": "abcdef1234.execute-api.eu-west-1.amazonaws.com", "Sec-WebSocket-Version": "13"},
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {},
        "stageVariables": {},
        "requestContext": {
            "routeKey": "$connect", "eventType": "CONNECT", "extendedRequestId": "x",
            "requestTime": "27/Nov/2026:07:00:00 +0000", "messageDirection": "IN", "stage": "live",
            "connectedAt": NOW * 1000, "requestTimeEpoch": NOW * 1000, "requestId": "r1",
            "domainName": "abcdef1234.execute-api.eu-west-1.amazonaws.com",
            "connectionId": "c1=", "apiId": "abcdef1234",
            "identity": {"sourceIp": "192.0.2.1"}
        }
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_websocket_authorizer_lets_in_only_the_pool_s_valid_tokens() {
    let pool = pool().await;
    let authorizer = Authorizer::new(&pool.issuer, vec!["web".into()]).unwrap();
    let valid = pool.token("key-1", pool.claims("ann", "web", NOW + 3600));
    let allowed = authorizer.handle(&connect_request(Some(&valid)), NOW).await;
    let answer = serde_json::to_value(&allowed).unwrap();
    assert_eq!(answer["principalId"], "ann");
    assert_eq!(answer["context"]["sub"], "ann");
    let statement = &answer["policyDocument"]["Statement"][0];
    assert_eq!(statement["Effect"], "Allow", "{answer}");
    assert_eq!(statement["Action"], json!(["execute-api:Invoke"]));
    assert_eq!(
        statement["Resource"],
        json!(["arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/live/$connect"])
    );

    let (head, rest) = valid.split_once('.').unwrap();
    let (claims, signature) = rest.split_once('.').unwrap();
    let forged = URL_SAFE_NO_PAD.encode(pool.claims("mallory", "web", NOW + 3600).to_string());
    let mut other_pool = pool.claims("ann", "web", NOW + 60);
    other_pool["iss"] = json!("https://cognito-idp.eu-west-1.amazonaws.com/other");
    let refused = [
        (None, "no token"),
        (Some("not.a.token".to_owned()), "garbage"),
        (
            Some(format!("{head}.{forged}.{signature}")),
            "claims changed under the signature",
        ),
        (
            Some(format!(
                "{head}.{claims}.{}",
                URL_SAFE_NO_PAD.encode([7u8; 256])
            )),
            "another signature",
        ),
        (
            Some(pool.token("key-1", pool.claims("ann", "web", NOW - 1))),
            "expired",
        ),
        (
            Some(pool.token("key-1", pool.claims("ann", "other", NOW + 60))),
            "another app's",
        ),
        (Some(pool.token("key-1", other_pool)), "another pool's"),
        (
            Some(pool.token("key-9", pool.claims("ann", "web", NOW + 60))),
            "an unknown key",
        ),
    ];
    for (token, why) in refused {
        let answer = serde_json::to_value(
            authorizer
                .handle(&connect_request(token.as_deref()), NOW)
                .await,
        )
        .unwrap();
        assert_eq!(
            answer["policyDocument"]["Statement"][0]["Effect"], "Deny",
            "{why}: {answer}"
        );
        assert_ne!(answer["principalId"], "ann", "{why}");
        assert_ne!(answer["principalId"], "mallory", "{why}");
    }
    // The keys were fetched once: kept, and an unknown key doesn't make
    // every connection fetch them again.
    assert_eq!(authorizer.fetches().await, 1);
    assert_eq!(pool.jwks_requests.lock().unwrap().len(), 1);
}

// --- The stack on moto ---------------------------------------------------

/// Everything the functions use, on moto: the tables, the bucket (with
/// EventBridge notifications on), the bus and its rules feeding queues.
struct Aws {
    moto: Moto,
    stack: Stack,
    sqs: aws_sdk_sqs::Client,
    queues: std::collections::BTreeMap<&'static str, String>,
    pushed: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

async fn aws() -> Aws {
    let moto = start_moto();
    let aws = settings(&moto);
    let s3 = s3_client(&moto);
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    s3.put_bucket_notification_configuration()
        .bucket(BUCKET)
        .notification_configuration(
            aws_sdk_s3::types::NotificationConfiguration::builder()
                .event_bridge_configuration(
                    aws_sdk_s3::types::EventBridgeConfiguration::builder().build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let (_, sqs, queues) = bus_with_queues(&moto, BUS).await;
    DynamoIndex::new(&aws, "ferry-files")
        .create_table()
        .await
        .unwrap();
    ApiGatewayNotifier::new(&aws, "ferry-files", "ferry-connections", None)
        .create_connections_table()
        .await
        .unwrap();
    let (live_endpoint, pushed) = management_stand_in(HashSet::new()).await;
    let vars = [
        ("AWS_REGION", aws.region.clone()),
        ("FERRY_FILES_TABLE", "ferry-files".into()),
        ("FERRY_CONNECTIONS_TABLE", "ferry-connections".into()),
        ("FERRY_BUCKET", BUCKET.into()),
        ("FERRY_EVENT_BUS", BUS.into()),
        ("FERRY_USER_POOL_ID", "us-east-1_pool".into()),
        ("FERRY_USER_POOL_CLIENT_ID", "web".into()),
        ("FERRY_LIVE_ENDPOINT", live_endpoint),
    ];
    let env = Env::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    Aws {
        stack: Stack::new(&aws, env),
        moto,
        sqs,
        queues,
        pushed,
    }
}

/// An HTTP API (payload 2.0) event for `method path` from `sub`, as API
/// Gateway hands it over once its JWT authorizer accepted the token.
fn http_event(
    method: &str,
    path: &str,
    query: &str,
    sub: Option<&str>,
    body: Option<&Value>,
) -> String {
    let mut context = json!({
        "accountId": "123456789012", "apiId": "api1234",
        "domainName": "api1234.execute-api.us-east-1.amazonaws.com", "domainPrefix": "api1234",
        "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "test"},
        "requestId": "req-1", "routeKey": "ANY /api/{proxy+}", "stage": "$default",
        "time": "27/Nov/2026:07:00:00 +0000", "timeEpoch": NOW * 1000
    });
    if let Some(sub) = sub {
        context["authorizer"] = json!({"jwt": {
            "claims": {"sub": sub, "token_use": "access", "client_id": "web"}, "scopes": null}});
    }
    let mut event = json!({
        "version": "2.0", "routeKey": "ANY /api/{proxy+}", "rawPath": path, "rawQueryString": query,
        "headers": {"content-type": "application/json", "host": "api1234.execute-api.us-east-1.amazonaws.com"},
        "requestContext": context, "isBase64Encoded": false
    });
    if let Some(body) = body {
        event["body"] = json!(body.to_string());
    }
    event.to_string()
}

async fn call(router: &axum::Router, event: String) -> (u16, Value) {
    let request = lambda_http::request::from_str(&event).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// A WebSocket route event, as API Gateway sends it once the authorizer let
/// the connection in.
fn socket_event(route: &str, connection: &str, sub: &str, body: Option<Value>) -> Value {
    let kind = match route {
        "$connect" => "CONNECT",
        "$disconnect" => "DISCONNECT",
        _ => "MESSAGE",
    };
    let mut event = json!({
        "requestContext": {
            "routeKey": route, "eventType": kind,
            "connectionId": connection, "apiId": "live1234", "stage": "live", "requestId": "r",
            "domainName": "live1234.execute-api.us-east-1.amazonaws.com", "connectedAt": NOW * 1000,
            "requestTimeEpoch": NOW * 1000, "messageDirection": "IN",
            "authorizer": {"principalId": sub, "sub": sub, "integrationLatency": 12},
            "identity": {"sourceIp": "192.0.2.1"}
        },
        "isBase64Encoded": false
    });
    if let Some(body) = body {
        event["body"] = json!(body.to_string());
    }
    event
}

fn envelope(data: Value) -> Value {
    let id = uuid::Uuid::new_v4();
    json!({
        "metadata": {"EventVersion": 1, "EventId": id, "CommandId": id,
                     "TraceId": format!("trace-{}", id.simple()),
                     "OccurredAt": "2026-11-27T07:00:00Z", "Producer": "web"},
        "data": data
    })
}

/// Waits for the queue to hold at least one event (moto delivers S3's and
/// the bus's at once, but on its own threads).
async fn next_events(aws: &Aws, queue: &str) -> Vec<Value> {
    for _ in 0..100 {
        let got = receive_all(&aws.sqs, &aws.queues[queue]).await;
        if !got.is_empty() {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("nothing reached the {queue} queue");
}

/// Sends a command through the API function; its answer, with `status`.
async fn command(router: &axum::Router, envelope: &Value, status: u16) -> Value {
    let (got, answer) = call(
        router,
        http_event("POST", "/api/commands", "", Some("ann"), Some(envelope)),
    )
    .await;
    assert_eq!(got, status, "{answer}");
    answer
}

/// Delivers what reached `rule`'s queue to its consumer, each event twice
/// (EventBridge may): `first` is among them.
async fn deliver(aws: &Aws, rule: &str, first: &str) {
    let events = next_events(aws, rule).await;
    assert!(
        events.iter().any(|e| e["detail-type"] == first),
        "{rule}: {events:?}"
    );
    for event in &events {
        // moto gives every S3 event it sends to EventBridge the same id;
        // EventBridge's are unique. Each event gets one of its own here
        // (and keeps it for its second delivery).
        let mut event = event.clone();
        if event["source"] == "aws.s3" {
            let unique = uuid::Uuid::new_v4().to_string();
            event["id"] = json!(unique);
        }
        let event = &event;
        aws.stack.consumers.deliver(rule, event).await.unwrap();
        aws.stack.consumers.deliver(rule, event).await.unwrap();
    }
}

/// The data of every event of `action` pushed to a connection.
fn pushed_of(aws: &Aws, action: &str) -> Vec<Value> {
    aws.pushed
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(_, body)| serde_json::from_str::<Value>(body).ok())
        .filter(|m| m["event"]["data"]["Action"] == action)
        .map(|m| m["event"]["data"].clone())
        .collect()
}

/// Uploads `bytes` as `docs/name` through the API function and S3, and
/// delivers what follows: the new file's id.
async fn upload(
    aws: &Aws,
    router: &axum::Router,
    name: &str,
    bytes: &[u8],
    policy: &str,
) -> String {
    upload_as(aws, router, name, bytes, "text/plain", policy).await
}

/// [`upload`] with the media type `content_type`.
async fn upload_as(
    aws: &Aws,
    router: &axum::Router,
    name: &str,
    bytes: &[u8],
    content_type: &str,
    policy: &str,
) -> String {
    let create = envelope(
        json!({"Action": "CreateFile", "Folder": "docs", "Name": name,
        "Size": bytes.len(), "ContentType": content_type, "OnConflict": policy}),
    );
    let created = command(router, &create, 201).await;
    let request = &created["upload"]["request"];
    let headers: Vec<(String, String)> = request["headers"]
        .as_array()
        .map(|h| {
            h.iter()
                .map(|pair| {
                    (
                        pair[0].as_str().unwrap().to_owned(),
                        pair[1].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (put, body) = Http::new()
        .unwrap()
        .send(
            "PUT",
            request["url"].as_str().unwrap(),
            &headers,
            bytes.to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(put, 200, "{}", String::from_utf8_lossy(&body));
    deliver(aws, "indexer", "Object Created").await;
    deliver(aws, "notifier", "FileCreated").await;
    created["file"]["fileId"].as_str().unwrap().to_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_goes_from_create_to_index_to_the_browser_and_is_deleted_through_every_function() {
    let aws = aws().await;
    let router = ferry_lambda::api::router(aws.stack.clone());
    let notifier = aws.stack.notifier.clone();
    let live = |event: Value| {
        let notifier = notifier.clone();
        async move { ferry_lambda::live::handle(&notifier, &event, now()).await }
    };

    // The browser connects and says hello.
    let connected = live(socket_event("$connect", "conn-1", "ann", None)).await;
    assert_eq!(connected["statusCode"], 200);
    let hello = json!({"action": "hello"});
    let greeted = live(socket_event("$default", "conn-1", "ann", Some(hello))).await;
    assert_eq!(greeted["statusCode"], 200);

    // CreateFile through the API function.
    let bytes = b"hello from the whole path".to_vec();
    let sha = hex(&sha2::Digest::finalize(
        <Sha256 as sha2::Digest>::new_with_prefix(&bytes),
    ));
    let create = envelope(
        json!({"Action": "CreateFile", "Folder": "docs", "Name": "hello.txt",
                                 "Size": bytes.len(), "ContentType": "text/plain", "Sha256": sha}),
    );
    let (status, created) = call(
        &router,
        http_event("POST", "/api/commands", "", Some("ann"), Some(&create)),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let request = &created["upload"]["request"];
    let headers: Vec<(String, String)> = request["headers"]
        .as_array()
        .map(|h| {
            h.iter()
                .map(|pair| {
                    (
                        pair[0].as_str().unwrap().to_owned(),
                        pair[1].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // The browser PUTs the bytes to S3 itself.
    let (put, body) = Http::new()
        .unwrap()
        .send(
            "PUT",
            request["url"].as_str().unwrap(),
            &headers,
            bytes.clone(),
        )
        .await
        .unwrap();
    assert_eq!(put, 200, "{}", String::from_utf8_lossy(&body));

    // S3 → EventBridge → the indexer's rule: Object Created.
    let created_events = next_events(&aws, "indexer").await;
    assert_eq!(created_events[0]["detail-type"], "Object Created");
    for event in &created_events {
        aws.stack.consumers.deliver("indexer", event).await.unwrap();
        // Delivered twice, as EventBridge may: no second effect.
        aws.stack.consumers.deliver("indexer", event).await.unwrap();
    }

    // The indexer published FileCreated: the notifier's rule gets it.
    let file_events = next_events(&aws, "notifier").await;
    let actions: Vec<&str> = file_events
        .iter()
        .filter_map(|e| e["detail-type"].as_str())
        .collect();
    assert!(actions.contains(&"FileCreated"), "{actions:?}");
    for event in &file_events {
        aws.stack
            .consumers
            .deliver("notifier", event)
            .await
            .unwrap();
    }

    // The browser's connection got the hello, then FileCreated.
    let pushed = aws.pushed.lock().unwrap().clone();
    let messages: Vec<Value> = pushed
        .iter()
        .filter(|(id, _)| id == "conn-1")
        .map(|(_, body)| serde_json::from_str(body).unwrap())
        .collect();
    assert_eq!(messages[0]["type"], "hello");
    assert_eq!(messages[0]["cursor"], 0);
    let created_message = messages
        .iter()
        .find(|m| m["event"]["data"]["Action"] == "FileCreated")
        .unwrap_or_else(|| panic!("no FileCreated pushed: {messages:?}"));
    assert_eq!(created_message["event"]["data"]["Name"], "hello.txt");

    // The API lists it, available; the feed has it.
    let (status, listed) = call(
        &router,
        http_event("GET", "/api/files", "folder=docs", Some("ann"), None),
    )
    .await;
    assert_eq!(status, 200, "{listed}");
    let entry = &listed["entries"][0];
    assert_eq!(entry["name"], "hello.txt", "{listed}");
    assert_eq!(entry["status"], "available", "{listed}");
    let (_, feed) = call(
        &router,
        http_event("GET", "/api/events", "after=0", Some("ann"), None),
    )
    .await;
    assert!(
        feed["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"]["data"]["Action"] == "FileCreated"),
        "{feed}"
    );

    // A resume after cursor 0 replays it, then says where the client is.
    let before = aws.pushed.lock().unwrap().len();
    let resume = json!({"action": "resume", "after": 0});
    live(socket_event("$default", "conn-1", "ann", Some(resume))).await;
    let replies: Vec<Value> = aws.pushed.lock().unwrap()[before..]
        .iter()
        .map(|(_, body)| serde_json::from_str(body).unwrap())
        .collect();
    assert_eq!(replies.last().unwrap()["type"], "resumed");
    assert!(
        replies
            .iter()
            .any(|m| m["event"]["data"]["Action"] == "FileCreated")
    );

    // Deleted: the API accepts DeleteFile; the deleter moves it to the
    // trash (delivered twice, no second effect), bytes kept.
    let file_id = entry["fileId"].as_str().unwrap().to_owned();
    let delete = envelope(json!({"Action": "DeleteFile", "FileId": file_id}));
    let trash_id = delete["metadata"]["CommandId"].as_str().unwrap().to_owned();
    command(&router, &delete, 202).await;
    deliver(&aws, "deleter", "DeleteFile").await;
    deliver(&aws, "notifier", "FileTrashed").await;
    assert_eq!(
        pushed_of(&aws, "FileTrashed")[0]["TrashId"],
        trash_id.as_str()
    );
    let (_, listed) = call(
        &router,
        http_event("GET", "/api/files", "folder=docs", Some("ann"), None),
    )
    .await;
    assert_eq!(listed["entries"], json!([]), "{listed}");
    let (status, trash) = call(
        &router,
        http_event("GET", "/api/trash", "", Some("ann"), None),
    )
    .await;
    assert_eq!(status, 200, "{trash}");
    assert_eq!(trash["items"][0]["trashId"], trash_id.as_str(), "{trash}");
    assert_eq!(trash["items"][0]["from"], "docs");
    assert_eq!(trash["trashBytes"], bytes.len());
    let key = format!("users/ann/{file_id}");
    let s3 = s3_client(&aws.moto);
    s3.head_object()
        .bucket(BUCKET)
        .key(&key)
        .send()
        .await
        .unwrap();

    // Restored: back in its folder.
    let restore = envelope(json!({"Action": "RestoreTrashItem", "TrashId": trash_id}));
    command(&router, &restore, 202).await;
    deliver(&aws, "deleter", "RestoreTrashItem").await;
    deliver(&aws, "notifier", "FileRestored").await;
    let (_, listed) = call(
        &router,
        http_event("GET", "/api/files", "folder=docs", Some("ann"), None),
    )
    .await;
    assert_eq!(listed["entries"][0]["fileId"], file_id.as_str(), "{listed}");

    // Deleted again, then forever: S3 deletes the object, FileDeleted says so.
    let delete = envelope(json!({"Action": "DeleteFile", "FileId": file_id}));
    let trash_id = delete["metadata"]["CommandId"].as_str().unwrap().to_owned();
    command(&router, &delete, 202).await;
    deliver(&aws, "deleter", "DeleteFile").await;
    let purge = envelope(json!({"Action": "PurgeTrashItem", "TrashId": trash_id}));
    command(&router, &purge, 202).await;
    deliver(&aws, "deleter", "PurgeTrashItem").await;
    // S3 says the object is gone: the indexer has nothing left to do.
    deliver(&aws, "indexer", "Object Deleted").await;
    deliver(&aws, "notifier", "TrashItemPurged").await;
    let gone = pushed_of(&aws, "FileDeleted");
    assert_eq!(gone.len(), 1, "{gone:?}");
    assert_eq!(gone[0]["FileId"], file_id.as_str());
    let (_, trash) = call(
        &router,
        http_event("GET", "/api/trash", "", Some("ann"), None),
    )
    .await;
    assert_eq!(trash["items"], json!([]), "{trash}");
    assert!(
        s3.head_object()
            .bucket(BUCKET)
            .key(&key)
            .send()
            .await
            .is_err()
    );

    live(socket_event("$disconnect", "conn-1", "ann", None)).await;
    let ann = ferry_core::model::UserId::parse("ann").unwrap();
    assert!(
        aws.stack
            .notifier
            .connections(&ann)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_function_refuses_a_request_without_the_authorizer_s_claims_and_bad_input() {
    let aws = aws().await;
    let router = ferry_lambda::api::router(aws.stack.clone());
    let (status, body) = call(&router, http_event("GET", "/api/usage", "", None, None)).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "Unauthorized", "{body}");
    let bad = envelope(json!({"Action": "CreateFile", "Folder": "", "Name": "a/b",
                              "Size": 1, "ContentType": "text/plain"}));
    let (status, body) = call(
        &router,
        http_event("POST", "/api/commands", "", Some("ann"), Some(&bad)),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, usage) = call(
        &router,
        http_event("GET", "/api/usage", "", Some("ann"), None),
    )
    .await;
    assert_eq!((status, usage["files"].as_u64()), (200, Some(0)), "{usage}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_resource_writes_config_json_and_answers_cloudformation() {
    let moto = start_moto();
    let s3 = s3_client(&moto);
    s3.create_bucket().bucket("ferry-web").send().await.unwrap();
    let (url, answers) = stand_in(|_, _, _| (200, Vec::new(), String::new())).await;
    let request = |kind: &str| {
        json!({
            "RequestType": kind, "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:config",
            "ResponseURL": format!("{url}/cloudformation-response?X-Amz-Signature=abc"),
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/ferry/1", "RequestId": "req-7",
            "LogicalResourceId": "WebConfig", "ResourceType": "Custom::FerryWebConfig",
            "ResourceProperties": {
                "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:config",
                "Bucket": "ferry-web", "Region": "us-east-1", "UserPoolId": "us-east-1_AbC",
                "UserPoolClientId": "client123", "ApiUrl": "https://api1234.execute-api.us-east-1.amazonaws.com",
                "WebSocketUrl": "wss://live1234.execute-api.us-east-1.amazonaws.com/live",
                "AuthMode": "srp", "HostedUiUrl": "", "MultipartThresholdBytes": "67108864"
            }
        })
    };
    let http = Http::new().unwrap();
    ferry_lambda::config::handle(&s3, &http, &request("Create"))
        .await
        .unwrap();
    let object = s3
        .get_object()
        .bucket("ferry-web")
        .key("config.json")
        .send()
        .await
        .unwrap();
    let config: ferry_protocol::ClientConfig =
        serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap();
    config.validate().unwrap();
    assert_eq!(
        config.api_url,
        "https://api1234.execute-api.us-east-1.amazonaws.com/api"
    );
    assert_eq!(config.user_pool_id, "us-east-1_AbC");
    assert_eq!(config.upload.multipart_threshold_bytes, 67_108_864);
    let answer: Value = serde_json::from_str(&answers.lock().unwrap()[0].2).unwrap();
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    assert_eq!(answer["RequestId"], "req-7");
    assert_eq!(answer["LogicalResourceId"], "WebConfig");

    // A property missing: CloudFormation hears FAILED and why.
    let mut broken = request("Update");
    broken["ResourceProperties"]
        .as_object_mut()
        .unwrap()
        .remove("UserPoolId");
    broken["PhysicalResourceId"] = json!("ferry-web/config.json");
    assert!(
        ferry_lambda::config::handle(&s3, &http, &broken)
            .await
            .is_err()
    );
    let answer: Value = serde_json::from_str(&answers.lock().unwrap()[1].2).unwrap();
    assert_eq!(answer["Status"], "FAILED");
    assert!(
        answer["Reason"].as_str().unwrap().contains("UserPoolId"),
        "{answer}"
    );

    ferry_lambda::config::handle(&s3, &http, &request("Delete"))
        .await
        .unwrap();
    assert!(
        s3.get_object()
            .bucket("ferry-web")
            .key("config.json")
            .send()
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_file_is_kept_as_a_version_restored_and_deleted_through_every_function() {
    let aws = aws().await;
    let router = ferry_lambda::api::router(aws.stack.clone());
    let live = |event: Value| {
        let notifier = aws.stack.notifier.clone();
        async move { ferry_lambda::live::handle(&notifier, &event, now()).await }
    };
    live(socket_event("$connect", "conn-1", "ann", None)).await;
    live(socket_event(
        "$default",
        "conn-1",
        "ann",
        Some(json!({"action": "hello"})),
    ))
    .await;

    let old = upload(&aws, &router, "report.txt", b"first", "Fail").await;
    let new = upload(&aws, &router, "report.txt", b"second!", "Replace").await;
    // Browsers get FileCreated v2 only, naming the replaced file.
    let created = pushed_of(&aws, "FileCreated");
    assert_eq!(created.len(), 2, "{created:?}");
    assert_eq!(created[1]["Replaced"], old.as_str());
    assert_eq!(created[1]["Lineage"], old.as_str());
    let (status, versions) = call(
        &router,
        http_event(
            "GET",
            &format!("/api/files/{new}/versions"),
            "",
            Some("ann"),
            None,
        ),
    )
    .await;
    assert_eq!(status, 200, "{versions}");
    assert_eq!(
        versions["versions"][0]["fileId"],
        old.as_str(),
        "{versions}"
    );
    assert_eq!(versions["versions"][0]["size"], 5);
    // Another user sees no such file.
    let (status, _) = call(
        &router,
        http_event(
            "GET",
            &format!("/api/files/{new}/versions"),
            "",
            Some("bob"),
            None,
        ),
    )
    .await;
    assert_eq!(status, 404);
    // The version downloads: its own bytes, from S3.
    let (status, download) = call(
        &router,
        http_event(
            "GET",
            &format!("/api/files/{old}/download"),
            "",
            Some("ann"),
            None,
        ),
    )
    .await;
    assert_eq!(status, 200, "{download}");
    let (got, body) = Http::new()
        .unwrap()
        .send(
            "GET",
            download["request"]["url"].as_str().unwrap(),
            &[],
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!((got, body.as_slice()), (200, b"first".as_slice()));

    // Restored: the old content is current again, the newer one a version.
    let restore = envelope(json!({"Action": "RestoreVersion", "FileId": new, "VersionId": old}));
    command(&router, &restore, 202).await;
    deliver(&aws, "deleter", "RestoreVersion").await;
    deliver(&aws, "notifier", "FileVersionRestored").await;
    let (_, listed) = call(
        &router,
        http_event("GET", "/api/files", "folder=docs", Some("ann"), None),
    )
    .await;
    assert_eq!(listed["entries"][0]["fileId"], old.as_str(), "{listed}");
    assert_eq!(listed["entries"].as_array().unwrap().len(), 1);

    // The newer content, now a version, deleted forever.
    let delete = envelope(json!({"Action": "DeleteVersion", "FileId": old, "VersionId": new}));
    command(&router, &delete, 202).await;
    deliver(&aws, "deleter", "DeleteVersion").await;
    deliver(&aws, "indexer", "Object Deleted").await;
    deliver(&aws, "notifier", "FileDeleted").await;
    let s3 = s3_client(&aws.moto);
    assert!(
        s3.head_object()
            .bucket(BUCKET)
            .key(format!("users/ann/{new}"))
            .send()
            .await
            .is_err()
    );
    let (_, usage) = call(
        &router,
        http_event("GET", "/api/usage", "", Some("ann"), None),
    )
    .await;
    assert_eq!(
        (usage["bytes"].as_u64(), usage["versionBytes"].as_u64()),
        (Some(5), Some(0)),
        "{usage}"
    );
}

// --- The thumbnailer -----------------------------------------------------

/// The keys under `prefix` in the bucket, in order.
async fn keys_under(aws: &Aws, prefix: &str) -> Vec<String> {
    s3_client(&aws.moto)
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix(prefix)
        .send()
        .await
        .unwrap()
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

/// The events on Ferry's bus since the notifier's queue (every Ferry
/// event reaches it) was last read, taken off it.
async fn published(aws: &Aws) -> Vec<Value> {
    next_events(aws, "notifier").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_thumbnailer_function_makes_stores_records_and_announces_a_photo_s_thumbnails() {
    use ferry_core::model::{ThumbnailState, UserId};
    use ferry_core::ports::Index as _;
    use ferry_protocol::messages::{ThumbnailCode, ThumbnailSize};

    let aws = aws().await;
    let router = ferry_lambda::api::router(aws.stack.clone());
    let index = DynamoIndex::new(&settings(&aws.moto), "ferry-files");
    let ann = UserId::parse("ann").unwrap();
    let photo = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/e2e/fixtures/photo.jpg"
    ))
    .unwrap();

    // A 640 × 480 JPEG uploaded through the API and S3; the indexer's
    // FileCreated reaches the thumbnailer's rule, and its function gets
    // each event twice.
    let photo_id = upload_as(&aws, &router, "photo.jpg", &photo, "image/jpeg", "Fail").await;
    deliver(&aws, "thumbnailer", "FileCreated").await;

    // Both sizes are in S3 under the user's thumbs prefix, as JPEGs.
    let prefix = format!("users/ann/thumbs/{photo_id}/");
    let keys = keys_under(&aws, &prefix).await;
    assert_eq!(keys, [format!("{prefix}medium"), format!("{prefix}small")]);
    let s3 = s3_client(&aws.moto);
    for key in &keys {
        let object = s3
            .get_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(object.content_type(), Some("image/jpeg"), "{key}");
        let bytes = object.body.collect().await.unwrap().into_bytes();
        assert!(bytes.starts_with(&[0xFF, 0xD8, 0xFF]), "{key} is no JPEG");
    }

    // The file's record in DynamoDB says they are ready, and how big.
    let file_id = uuid::Uuid::parse_str(&photo_id).unwrap();
    let record = index.file(&ann, file_id).await.unwrap().unwrap();
    let Some(ThumbnailState::Ready { sizes }) = &record.thumbnail else {
        panic!("no thumbnails recorded: {:?}", record.thumbnail);
    };
    let made: Vec<_> = sizes
        .iter()
        .map(|s| (s.size, s.width, s.height, s.content_type.as_str()))
        .collect();
    assert_eq!(
        made,
        [
            (ThumbnailSize::Small, 64, 48, "image/jpeg"),
            (ThumbnailSize::Medium, 320, 240, "image/jpeg")
        ]
    );

    // ThumbnailCreated is on the bus once, though FileCreated came twice
    // (and in two editions).
    let events = published(&aws).await;
    let created: Vec<_> = events
        .iter()
        .filter(|e| e["detail-type"] == "ThumbnailCreated")
        .collect();
    assert_eq!(created.len(), 1, "{events:?}");
    let data = &created[0]["detail"]["data"];
    assert_eq!(data["FileId"], photo_id.as_str());
    assert_eq!(data["Sizes"], serde_json::to_value(sizes).unwrap());
    assert_eq!(created[0]["detail"]["metadata"]["UserId"], "ann");

    // S3 announced the two thumbnails like any object; the indexer takes
    // neither for an upload (on AWS the forward rule holds them back
    // before; a test of the template keeps its pattern): both stay, the
    // record is as it was, and nothing new is published.
    let thumbnail_events = next_events(&aws, "indexer").await;
    assert_eq!(thumbnail_events.len(), 2, "{thumbnail_events:?}");
    for event in &thumbnail_events {
        assert_eq!(event["detail-type"], "Object Created");
        let key = event["detail"]["object"]["key"].as_str().unwrap();
        assert!(key.starts_with(&prefix), "{key}");
        let mut event = event.clone();
        event["id"] = json!(uuid::Uuid::new_v4().to_string());
        aws.stack
            .consumers
            .deliver("indexer", &event)
            .await
            .unwrap();
    }
    assert_eq!(keys_under(&aws, &prefix).await, keys);
    let again = index.file(&ann, file_id).await.unwrap().unwrap();
    assert_eq!(again.version, record.version);
    assert_eq!(
        receive_all(&aws.sqs, &aws.queues["notifier"]).await,
        Vec::<Value>::new()
    );

    // A damaged "JPEG": ThumbnailFailed with a sentence, recorded, nothing
    // stored. The function returns Ok for it (twice): Lambda neither
    // retries it nor sends it to the dead-letter queue.
    let broken_id = upload_as(
        &aws,
        &router,
        "broken.jpg",
        b"\xFF\xD8\xFF\xE0 this is no photo",
        "image/jpeg",
        "Fail",
    )
    .await;
    deliver(&aws, "thumbnailer", "FileCreated").await;
    let events = published(&aws).await;
    let failed: Vec<_> = events
        .iter()
        .filter(|e| e["detail-type"] == "ThumbnailFailed")
        .collect();
    assert_eq!(failed.len(), 1, "{events:?}");
    let data = &failed[0]["detail"]["data"];
    assert_eq!(data["FileId"], broken_id.as_str());
    assert_eq!(
        data["Code"],
        serde_json::to_value(ThumbnailCode::Corrupt).unwrap()
    );
    let reason = data["Reason"].as_str().unwrap();
    assert!(reason.ends_with('.') && reason.len() > 10, "{reason}");
    let broken = uuid::Uuid::parse_str(&broken_id).unwrap();
    let record = index.file(&ann, broken).await.unwrap().unwrap();
    assert!(
        matches!(
            &record.thumbnail,
            Some(ThumbnailState::Failed { code: ThumbnailCode::Corrupt, reason: r }) if r == reason
        ),
        "{:?}",
        record.thumbnail
    );
    assert_eq!(
        keys_under(&aws, &format!("users/ann/thumbs/{broken_id}/")).await,
        Vec::<String>::new()
    );
    assert_eq!(
        receive_all(&aws.sqs, &aws.queues["indexer"]).await,
        Vec::<Value>::new()
    );

    // The API function links the ready one (a presigned GET of S3, the
    // 64 px JPEG) and says why the other has none.
    let ask = json!({"fileIds": [photo_id, broken_id], "size": ThumbnailSize::Small});
    let (status, links) = call(
        &router,
        http_event("POST", "/api/thumbnails", "", Some("ann"), Some(&ask)),
    )
    .await;
    assert_eq!(status, 200, "{links}");
    let links = links["thumbnails"].as_array().unwrap();
    assert_eq!(links[0]["state"], "ready", "{links:?}");
    assert_eq!(
        (links[0]["width"].as_u64(), links[0]["height"].as_u64()),
        (Some(64), Some(48))
    );
    let (got, body) = Http::new()
        .unwrap()
        .send("GET", links[0]["url"].as_str().unwrap(), &[], Vec::new())
        .await
        .unwrap();
    assert_eq!(got, 200);
    let stored = s3
        .get_object()
        .bucket(BUCKET)
        .key(format!("{prefix}small"))
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    assert_eq!(body, stored.as_ref());
    assert_eq!(links[1]["state"], "failed", "{links:?}");
    assert_eq!(
        links[1]["code"],
        serde_json::to_value(ThumbnailCode::Corrupt).unwrap()
    );

    // The photo deleted for good: FileDeleted reaches the thumbnailer,
    // which deletes its thumbnails.
    let delete = envelope(json!({"Action": "DeleteFile", "FileId": photo_id}));
    let trash_id = delete["metadata"]["CommandId"].as_str().unwrap().to_owned();
    command(&router, &delete, 202).await;
    deliver(&aws, "deleter", "DeleteFile").await;
    let purge = envelope(json!({"Action": "PurgeTrashItem", "TrashId": trash_id}));
    command(&router, &purge, 202).await;
    deliver(&aws, "deleter", "PurgeTrashItem").await;
    assert_eq!(
        keys_under(&aws, &prefix).await.len(),
        2,
        "not before FileDeleted"
    );
    deliver(&aws, "thumbnailer", "FileDeleted").await;
    assert_eq!(keys_under(&aws, &prefix).await, Vec::<String>::new());
    assert!(index.file(&ann, file_id).await.unwrap().is_none());
}
