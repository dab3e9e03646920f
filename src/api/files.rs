//! The file API from the browser: queries and commands over `fetch`, with the
//! session's bearer token. After a 401 the session refreshes its tokens and
//! the request is sent once more; a command keeps its `CommandId` across that
//! retry, so it still has one effect.

use super::http::{self, Answer};
use crate::chunks;
use crate::session::Session;
use ferry_client::commands;
use ferry_client::failure::ApiFailure;
use ferry_protocol::api::{
    DownloadResponse, FeedPage, ListResponse, PartWanted, PartsResponse, PresignPartsRequest,
    PreviewResponse, SearchResponse, ThumbnailsRequest, ThumbnailsResponse, TrashPage,
    UploadedPartsResponse, UsageView, VersionsPage,
};
use ferry_protocol::messages::ThumbnailSize;
use ferry_protocol::{Command, FolderPath};
use gloo_net::http::Method;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// The API at the configuration's `apiUrl`, on behalf of the signed-in user.
#[derive(Debug, Clone)]
pub struct FilesApi {
    base: String,
    session: Session,
}

/// The API's answer to a command.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The command's id (also its trace id).
    pub command_id: Uuid,
    /// The HTTP status: 201 for `CreateFile`, 200 or 202 for the rest.
    pub status: u16,
    /// The answer's body (JSON); empty for a command sent in a batch.
    pub body: String,
}

impl FilesApi {
    /// The API at `api_url` (with or without a trailing `/`).
    pub fn new(api_url: &str, session: Session) -> Self {
        Self {
            base: api_url.trim_end_matches('/').to_owned(),
            session,
        }
    }

    /// A folder's entries, one page.
    pub async fn list(
        &self,
        folder: &FolderPath,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<ListResponse, ApiFailure> {
        let mut path = format!(
            "/files?folder={}&limit={limit}",
            query_value(folder.as_str())
        );
        if let Some(cursor) = cursor {
            path.push_str(&format!("&cursor={}", query_value(cursor)));
        }
        self.get(&path).await
    }

    /// Files whose names contain `text`, across folders.
    pub async fn search(&self, text: &str) -> Result<SearchResponse, ApiFailure> {
        self.get(&format!("/search?q={}&limit=200", query_value(text)))
            .await
    }

    /// One file's metadata.
    pub async fn file(&self, file_id: Uuid) -> Result<ferry_protocol::api::FileView, ApiFailure> {
        self.get(&format!("/files/{file_id}")).await
    }

    /// Bytes and files used, and the quota.
    pub async fn usage(&self) -> Result<UsageView, ApiFailure> {
        self.get("/usage").await
    }

    /// A presigned download of a file.
    pub async fn download(&self, file_id: Uuid) -> Result<DownloadResponse, ApiFailure> {
        self.get(&format!("/files/{file_id}/download")).await
    }

    /// How a file may be shown: its viewer and a presigned link for it.
    pub async fn preview(&self, file_id: Uuid) -> Result<PreviewResponse, ApiFailure> {
        self.get(&format!("/files/{file_id}/preview")).await
    }

    /// One page of the trash, the most recently deleted first.
    pub async fn trash(&self, cursor: Option<&str>) -> Result<TrashPage, ApiFailure> {
        let mut path = "/trash?limit=200".to_owned();
        if let Some(cursor) = cursor {
            path.push_str(&format!("&cursor={}", query_value(cursor)));
        }
        self.get(&path).await
    }

    /// A current file and its older versions, the newest first.
    pub async fn versions(&self, file_id: Uuid) -> Result<VersionsPage, ApiFailure> {
        self.get(&format!("/files/{file_id}/versions?limit=200"))
            .await
    }

    /// The user's events after `cursor` (the polling fallback).
    pub async fn events(&self, after: i64) -> Result<FeedPage, ApiFailure> {
        self.get(&format!("/events?after={after}")).await
    }

    /// Presigned requests for more parts of a multipart upload.
    pub async fn presign_parts(
        &self,
        file_id: Uuid,
        parts: Vec<PartWanted>,
    ) -> Result<PartsResponse, ApiFailure> {
        let body = serde_json::to_string(&PresignPartsRequest { parts })
            .map_err(|_| ApiFailure::Unreachable)?;
        let answer = self
            .send(Method::POST, &format!("/files/{file_id}/parts"), Some(body))
            .await?;
        read(answer)
    }

    /// Links to the thumbnails of up to 100 files, of one size.
    pub async fn thumbnails(
        &self,
        file_ids: Vec<Uuid>,
        size: ThumbnailSize,
    ) -> Result<ThumbnailsResponse, ApiFailure> {
        let body = serde_json::to_string(&ThumbnailsRequest { file_ids, size })
            .map_err(|_| ApiFailure::Unreachable)?;
        let answer = self.send(Method::POST, "/thumbnails", Some(body)).await?;
        read(answer)
    }

    /// The parts of a multipart upload the store has (for resuming).
    pub async fn uploaded_parts(&self, file_id: Uuid) -> Result<UploadedPartsResponse, ApiFailure> {
        self.get(&format!("/files/{file_id}/parts")).await
    }

    /// Sends `command` with a fresh id. A refusal (4xx/5xx) is an error.
    pub async fn command(&self, command: Command) -> Result<Sent, ApiFailure> {
        self.command_with_id(command, crate::platform::new_id())
            .await
    }

    /// Sends `command` with the given id (a retry of the same intent).
    pub async fn command_with_id(
        &self,
        command: Command,
        command_id: Uuid,
    ) -> Result<Sent, ApiFailure> {
        let body = command_body(command, command_id, crate::platform::now())
            .await
            .map_err(|_| ApiFailure::Unreachable)??;
        let answer = self.send(Method::POST, "/commands", Some(body)).await?;
        if !answer.is_success() {
            return Err(ApiFailure::from_response(answer.status, &answer.body));
        }
        Ok(Sent {
            command_id,
            status: answer.status,
            body: answer.body,
        })
    }

    /// Sends several commands in one request (`/commands/batch`), each
    /// with its id; the answer is each command's, in order. The request
    /// itself refused is an error.
    pub async fn command_batch(
        &self,
        commands: Vec<(Command, Uuid)>,
    ) -> Result<Vec<Result<Sent, ApiFailure>>, ApiFailure> {
        let ids: Vec<Uuid> = commands.iter().map(|(_, id)| *id).collect();
        let mut envelopes = Vec::with_capacity(commands.len());
        for (command, id) in commands {
            envelopes.push(
                command_body(command, id, crate::platform::now())
                    .await
                    .map_err(|_| ApiFailure::Unreachable)??,
            );
        }
        let body = commands::batch_body(&envelopes);
        let answer = self
            .send(Method::POST, "/commands/batch", Some(body))
            .await?;
        if !answer.is_success() {
            return Err(ApiFailure::from_response(answer.status, &answer.body));
        }
        let results = commands::batch_answers(&answer.body)
            .ok_or_else(|| ApiFailure::from_response(502, ""))?;
        Ok(ids
            .into_iter()
            .zip(results)
            .map(|(command_id, result)| {
                result.map(|status| Sent {
                    command_id,
                    status,
                    body: String::new(),
                })
            })
            .collect())
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiFailure> {
        let answer = self.send(Method::GET, path, None).await?;
        read(answer)
    }

    /// Sends a request with the access token; after a 401, refreshes and
    /// sends it once more.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Answer, ApiFailure> {
        let url = format!("{}{path}", self.base);
        let token = self.session.access_token().ok_or(ApiFailure::SignedOut)?;
        let first = fetch(method.clone(), &url, &token, body.clone()).await?;
        if first.status != 401 {
            return Ok(first);
        }
        let token = self
            .session
            .refresh_after_unauthorized(&token, true)
            .await
            .ok_or(ApiFailure::SignedOut)?;
        fetch(method, &url, &token, body).await
    }
}

chunks::split_point! {
    commands =>
    /// A command in its envelope, as JSON: the commands' types and their
    /// writer are a chunk of their own, loaded with the first command.
    fn command_body(
        command: Command,
        command_id: Uuid,
        now: time::OffsetDateTime,
    ) -> Result<String, ApiFailure> {
        let envelope = commands::envelope(command, command_id, now);
        serde_json::to_string(&envelope).map_err(|_| ApiFailure::Unreachable)
    }
}

fn read<T: DeserializeOwned>(answer: Answer) -> Result<T, ApiFailure> {
    if answer.is_success() {
        serde_json::from_str(&answer.body).map_err(|_| ApiFailure::from_response(502, ""))
    } else {
        Err(ApiFailure::from_response(answer.status, &answer.body))
    }
}

async fn fetch(
    method: Method,
    url: &str,
    token: &str,
    body: Option<String>,
) -> Result<Answer, ApiFailure> {
    let bearer = format!("Bearer {token}");
    let mut headers = vec![("Authorization", bearer.as_str())];
    if body.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    http::send(method, url, &headers, body)
        .await
        .map_err(|_| ApiFailure::Unreachable)
}

/// Encodes a query parameter's value.
fn query_value(text: &str) -> String {
    String::from(js_sys::encode_uri_component(text))
}
