//! The file API under `/api`: commands (`POST /api/commands`) and queries,
//! as the OpenAPI document `openapi.json` describes them. Handlers are thin:
//! they authorize, parse and hand over to the domain ([`ferry_core::Files`]).
//!
//! Written once, served twice: `ferry-server` mounts [`routes`] locally, and
//! the API function runs them on Lambda. What differs is the [`ApiHost`]:
//! who the caller is (a bearer token checked here, or the claims API
//! Gateway's JWT authorizer already checked) and where the event feed is.

pub mod auth;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ferry_core::feed::Feed;
use ferry_core::model::{DEFAULT_PAGE, ListQuery, UserId};
use ferry_core::service::{CommandAnswer, parse_folder, parse_sort};
use ferry_core::{Caller, DomainError, DomainResult, Files};
use ferry_protocol::api::{
    BatchRequest, BatchResponse, BatchResult, CommandView, DownloadResponse, FeedPage, FileView,
    ListResponse, PartsResponse, PresignPartsRequest, SearchResponse, TrashPage,
    UploadedPartsResponse, UsageView, VersionsPage,
};
use ferry_protocol::{
    ApiError, Command, CommandEnvelope, ErrorCode, FileName, FolderPath, TraceId,
};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tower_http::cors::{Any, CorsLayer};
use uuid::Uuid;

/// The most a command body may weigh.
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;
/// The most commands in one batch.
pub const MAX_BATCH: usize = 100;
/// The OpenAPI document of this API, committed beside the code.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// What the API runs on: the stack's file service, how it knows the
/// caller, and its event feed.
pub trait ApiHost: Send + Sync + 'static {
    /// The file service.
    fn files(&self) -> &Files;
    /// The caller of a request, from its headers or from what the platform
    /// put in its extensions; a `401` body when there is none.
    fn caller(&self, parts: &Parts) -> Result<UserId, ApiError>;
    /// The stack's event feed (`GET /api/events` reads it).
    fn feed(&self) -> &dyn Feed;
}

/// The shared state of the routes.
type Host = Arc<dyn ApiHost>;

/// What a query route answers: its JSON body, or a [`Failure`].
type Reply<T> = Result<Json<T>, Failure>;

/// A failure as the client sees it: the stable [`ApiError`] body and its
/// status.
#[derive(Debug)]
pub struct Failure(pub ApiError);

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.0)).into_response()
    }
}

/// The routes, relative to `/api`, on `host`.
pub fn routes<S>(host: Arc<dyn ApiHost>) -> Router<S> {
    Router::new()
        .route("/commands", post(post_command))
        .route("/commands/batch", post(post_batch))
        .route("/commands/{id}", get(command_status))
        .route("/files", get(list))
        .route("/files/{id}", get(file))
        .route("/files/{id}/download", get(download))
        .route("/files/{id}/preview", get(preview))
        .route("/files/{id}/parts", get(uploaded_parts).post(presign_parts))
        .route("/files/{id}/versions", get(versions))
        .route("/trash", get(trash))
        .route("/search", get(search))
        .route("/thumbnails", post(thumbnails))
        .route("/usage", get(usage))
        .route("/events", get(events))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .layer(
            // API Gateway's CORS for the HTTP API: bearer tokens, no cookies,
            // so any origin (a portal embedding Ferry) may call it.
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    HeaderName::from_static("x-ferry-trace-id"),
                ])
                .max_age(Duration::from_secs(600)),
        )
        .with_state(host)
}

/// A request whose bearer token passed the authorizer.
#[derive(Debug, Clone)]
pub struct Authed {
    /// The caller's user id.
    pub user: UserId,
    /// The request's trace id: the `X-Ferry-Trace-Id` header, or a fresh one.
    pub trace_id: TraceId,
}

impl FromRequestParts<Host> for Authed {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, host: &Host) -> Result<Self, Self::Rejection> {
        let trace_id = request_trace(parts);
        let user = host
            .caller(parts)
            .map_err(|e| Failure(e.with_trace_id(trace_id.as_str())))?;
        Ok(Self { user, trace_id })
    }
}

impl Authed {
    /// The reply to a query: the domain's answer as JSON, or its error with
    /// this request's trace id.
    fn reply<T: Serialize>(&self, answer: DomainResult<T>) -> Result<Json<T>, Failure> {
        answer.map(Json).map_err(|e| api_error(e, &self.trace_id))
    }
}

/// The id in a route's `{id}` segment, naming a `what`. A malformed id
/// names nothing: the same `404` as an unknown one.
async fn path_id(parts: &mut Parts, host: &Host, what: &str) -> Result<Uuid, Failure> {
    let text = Path::<String>::from_request_parts(parts, host).await.ok();
    text.and_then(|Path(text)| Uuid::parse_str(&text).ok())
        .ok_or_else(|| api_error(DomainError::not_found(what), &request_trace(parts)))
}

/// The file a `/files/{id}…` route is about.
#[derive(Debug, Clone, Copy)]
pub struct FileId(pub Uuid);

impl FromRequestParts<Host> for FileId {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, host: &Host) -> Result<Self, Self::Rejection> {
        path_id(parts, host, "file").await.map(Self)
    }
}

/// The command `/commands/{id}` is about.
#[derive(Debug, Clone, Copy)]
pub struct CommandId(pub Uuid);

impl FromRequestParts<Host> for CommandId {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, host: &Host) -> Result<Self, Self::Rejection> {
        path_id(parts, host, "command").await.map(Self)
    }
}

/// The request's trace id: the `X-Ferry-Trace-Id` header, or a fresh one,
/// kept with the request so every extractor's error names the same one.
fn request_trace(parts: &mut Parts) -> TraceId {
    if let Some(RequestTrace(known)) = parts.extensions.get::<RequestTrace>() {
        return known.clone();
    }
    let trace_id = trace_id(&parts.headers);
    parts.extensions.insert(RequestTrace(trace_id.clone()));
    trace_id
}

/// A request's trace id, as [`request_trace`] keeps it.
#[derive(Clone)]
struct RequestTrace(TraceId);

fn trace_id(headers: &HeaderMap) -> TraceId {
    headers
        .get("x-ferry-trace-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| TraceId::parse(v).ok())
        .unwrap_or_else(|| TraceId::from_uuid(Uuid::new_v4()))
}

fn api_error(error: impl Into<ApiError>, trace_id: &TraceId) -> Failure {
    Failure(error.into().with_trace_id(trace_id.as_str()))
}

fn domain(trace_id: &TraceId) -> impl Fn(DomainError) -> Failure + '_ {
    move |e| api_error(e, trace_id)
}

/// Parses a command body: valid JSON, a known action, names and paths that
/// keep the rules, and the shape of that action's version.
pub fn parse_command(raw: &[u8]) -> Result<CommandEnvelope, ApiError> {
    let value: Value = serde_json::from_slice(raw).map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedRequest,
            format!("The body isn't valid JSON: {e}."),
        )
    })?;
    let action = value
        .pointer("/data/Action")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::MalformedRequest,
                "A command is {\"metadata\": {…}, \"data\": {\"Action\": …}}; data.Action is missing.",
            )
        })?;
    if !Command::CATALOG.iter().any(|(known, _)| *known == action) {
        return Err(ApiError::new(
            ErrorCode::UnknownAction,
            format!("There is no command “{action}”."),
        ));
    }
    if let Some(data) = value.get("data") {
        for field in ["Name", "ToName"] {
            if let Some(text) = data.get(field).and_then(Value::as_str) {
                FileName::parse(text)?;
            }
        }
        for field in ["Folder", "Path", "ToFolder"] {
            if let Some(text) = data.get(field).and_then(Value::as_str) {
                FolderPath::parse(text)?;
            }
        }
    }
    serde_json::from_value(value).map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedRequest,
            format!("The command doesn't match its schema: {e}."),
        )
    })
}

/// The HTTP status of each kind of answer.
fn answer_status(answer: &CommandAnswer) -> StatusCode {
    match answer {
        CommandAnswer::Created(_) => StatusCode::CREATED,
        CommandAnswer::UploadStep(_) => StatusCode::OK,
        CommandAnswer::Accepted(_) => StatusCode::ACCEPTED,
    }
}

async fn run_command(
    host: &dyn ApiHost,
    authed: &Authed,
    raw: &[u8],
) -> Result<CommandAnswer, ApiError> {
    if raw.len() > MAX_COMMAND_BYTES {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!("A command may weigh {MAX_COMMAND_BYTES} bytes at most."),
        ));
    }
    let envelope = parse_command(raw)?;
    let caller = Caller {
        user: authed.user.clone(),
        trace_id: envelope.metadata().trace_id.clone(),
    };
    Ok(host.files().command(&caller, envelope, raw).await?)
}

async fn post_command(
    State(host): State<Host>,
    authed: Authed,
    body: Bytes,
) -> Result<Response, Failure> {
    let answer = run_command(&*host, &authed, &body)
        .await
        .map_err(|e| api_error(e, &authed.trace_id))?;
    Ok((answer_status(&answer), Json(answer)).into_response())
}

async fn post_batch(
    State(host): State<Host>,
    authed: Authed,
    body: Bytes,
) -> Result<Json<BatchResponse>, Failure> {
    let request: BatchRequest = serde_json::from_slice(&body).map_err(|e| {
        api_error(
            ApiError::new(
                ErrorCode::MalformedRequest,
                format!("A batch is {{\"commands\": [command, …]}}: {e}."),
            ),
            &authed.trace_id,
        )
    })?;
    if request.commands.is_empty() || request.commands.len() > MAX_BATCH {
        return Err(api_error(
            ApiError::new(
                ErrorCode::InvalidParameter,
                format!("Send 1 to {MAX_BATCH} commands in a batch."),
            ),
            &authed.trace_id,
        ));
    }
    let mut results = Vec::with_capacity(request.commands.len());
    for command in request.commands {
        let raw = serde_json::to_vec(&command).unwrap_or_default();
        let result = match run_command(&*host, &authed, &raw).await {
            Ok(answer) => BatchResult {
                status: answer_status(&answer).as_u16(),
                body: answer.to_json(),
            },
            Err(error) => BatchResult {
                status: error.code.http_status(),
                body: serde_json::to_value(error.with_trace_id(authed.trace_id.as_str()))
                    .unwrap_or_default(),
            },
        };
        results.push(result);
    }
    Ok(Json(BatchResponse { results }))
}

fn parse_limit(query: &HashMap<String, String>, trace_id: &TraceId) -> Result<u32, Failure> {
    match query.get("limit") {
        None => Ok(DEFAULT_PAGE),
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=ferry_core::model::MAX_PAGE).contains(&n) => Ok(n),
            _ => Err(api_error(
                DomainError::invalid(format!(
                    "limit is a number from 1 to {}.",
                    ferry_core::model::MAX_PAGE
                )),
                trace_id,
            )),
        },
    }
}

async fn list(
    State(host): State<Host>,
    authed: Authed,
    Query(query): Query<HashMap<String, String>>,
) -> Reply<ListResponse> {
    let t = &authed.trace_id;
    let folder = parse_folder(query.get("folder").map(String::as_str)).map_err(domain(t))?;
    let sort = parse_sort(query.get("sort").map(String::as_str)).map_err(domain(t))?;
    let descending = match query.get("order").map(String::as_str) {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(_) => {
            return Err(api_error(DomainError::invalid("order is asc or desc."), t));
        }
    };
    let limit = parse_limit(&query, t)?;
    let query = ListQuery {
        folder,
        sort,
        descending,
        cursor: query.get("cursor").cloned(),
        limit,
    };
    authed.reply(host.files().list(&authed.user, query).await)
}

async fn search(
    State(host): State<Host>,
    authed: Authed,
    Query(query): Query<HashMap<String, String>>,
) -> Reply<SearchResponse> {
    let limit = parse_limit(&query, &authed.trace_id)?;
    let text = query.get("q").map(String::as_str).unwrap_or_default();
    let cursor = query.get("cursor").map(String::as_str);
    authed.reply(host.files().search(&authed.user, text, cursor, limit).await)
}

async fn file(State(host): State<Host>, authed: Authed, FileId(id): FileId) -> Reply<FileView> {
    authed.reply(host.files().file(&authed.user, id).await)
}

async fn download(
    State(host): State<Host>,
    authed: Authed,
    FileId(id): FileId,
    Query(query): Query<HashMap<String, String>>,
) -> Reply<DownloadResponse> {
    let t = &authed.trace_id;
    let ttl = match query.get("expiresIn") {
        None => None,
        Some(text) => match text.parse::<u64>() {
            Ok(secs) if (1..=900).contains(&secs) => Some(Duration::from_secs(secs)),
            _ => {
                return Err(api_error(
                    DomainError::invalid("expiresIn is a number of seconds from 1 to 900."),
                    t,
                ));
            }
        },
    };
    authed.reply(host.files().download(&authed.user, id, ttl).await)
}

/// `GET /api/files/{id}/preview`: how the browser may show the file, and
/// a presigned URL to show it from (a download for what it mustn't show).
async fn preview(
    State(host): State<Host>,
    authed: Authed,
    FileId(id): FileId,
) -> Reply<ferry_protocol::api::PreviewResponse> {
    authed.reply(host.files().preview(&authed.user, id).await)
}

async fn uploaded_parts(
    State(host): State<Host>,
    authed: Authed,
    FileId(id): FileId,
) -> Reply<UploadedPartsResponse> {
    authed.reply(host.files().uploaded_parts(&authed.user, id).await)
}

async fn presign_parts(
    State(host): State<Host>,
    authed: Authed,
    FileId(id): FileId,
    body: Bytes,
) -> Reply<PartsResponse> {
    let request: PresignPartsRequest = serde_json::from_slice(&body).map_err(|e| {
        api_error(
            ApiError::new(
                ErrorCode::MalformedRequest,
                format!("Ask for parts as {{\"parts\": [{{\"partNumber\": 1}}, …]}}: {e}."),
            ),
            &authed.trace_id,
        )
    })?;
    authed.reply(
        host.files()
            .presign_parts(&authed.user, id, &request.parts)
            .await,
    )
}

/// `POST /api/thumbnails`: presigned GETs of the caller's files'
/// thumbnails, or why there are none.
async fn thumbnails(
    State(host): State<Host>,
    authed: Authed,
    body: Bytes,
) -> Reply<ferry_protocol::api::ThumbnailsResponse> {
    let request: ferry_protocol::api::ThumbnailsRequest =
        serde_json::from_slice(&body).map_err(|e| {
            api_error(
                ApiError::new(
                    ErrorCode::MalformedRequest,
                    format!(
                        "Ask for thumbnails as {{\"fileIds\": [\"…\"], \"size\": \"small\"}} \
                         (or \"medium\"): {e}."
                    ),
                ),
                &authed.trace_id,
            )
        })?;
    authed.reply(
        host.files()
            .thumbnails(&authed.user, &request.file_ids, request.size)
            .await,
    )
}

async fn command_status(
    State(host): State<Host>,
    authed: Authed,
    CommandId(id): CommandId,
) -> Reply<CommandView> {
    authed.reply(host.files().command_status(&authed.user, id).await)
}

/// `GET /api/trash?cursor=&limit=`: the trash, the most recently deleted
/// first.
async fn trash(
    State(host): State<Host>,
    authed: Authed,
    Query(query): Query<HashMap<String, String>>,
) -> Reply<TrashPage> {
    let limit = parse_limit(&query, &authed.trace_id)?;
    let cursor = query.get("cursor").map(String::as_str);
    authed.reply(host.files().trash(&authed.user, cursor, limit).await)
}

/// `GET /api/files/{id}/versions?cursor=&limit=`: a current file's older
/// versions, the newest first.
async fn versions(
    State(host): State<Host>,
    authed: Authed,
    FileId(id): FileId,
    Query(query): Query<HashMap<String, String>>,
) -> Reply<VersionsPage> {
    let limit = parse_limit(&query, &authed.trace_id)?;
    let cursor = query.get("cursor").map(String::as_str);
    authed.reply(host.files().versions(&authed.user, id, cursor, limit).await)
}

async fn usage(State(host): State<Host>, authed: Authed) -> Reply<UsageView> {
    authed.reply(host.files().usage(&authed.user).await)
}

/// `GET /api/events?after=N`: the caller's events after a cursor, for a
/// client that can't hold a WebSocket open (the same feed the socket resumes
/// from).
async fn events(
    State(host): State<Host>,
    authed: Authed,
    Query(query): Query<HashMap<String, String>>,
) -> Reply<FeedPage> {
    let t = &authed.trace_id;
    let after = match query.get("after") {
        None => 0,
        Some(text) => text.parse::<i64>().map_err(|_| {
            api_error(
                DomainError::invalid("after is a cursor from an earlier event."),
                t,
            )
        })?,
    };
    let limit = parse_limit(&query, t)?;
    let page = host.feed().events_after(&authed.user, after, limit).await;
    authed.reply(page.map_err(DomainError::from))
}

async fn openapi() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        OPENAPI,
    )
        .into_response()
}

async fn not_found(
    method: Method,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
) -> Failure {
    Failure(ApiError::new(
        ErrorCode::NotFound,
        format!("There is no API route {method} {}.", uri.path()),
    ))
}
