//! Commands as the person sees them leave: each is listed in Activity with
//! its trace id before it is sent, and a refusal is written there too. The
//! file browser's actions and the uploads send through the same outbox.

use crate::api::files::{FilesApi, Sent};
use crate::chunks::{self, ChunkFuture};
use ferry_client::activity::Activity;
use ferry_client::commands;
use ferry_client::failure::ApiFailure;
use ferry_protocol::Command;
use ferry_protocol::envelope::TraceId;
use leptos::prelude::*;
use uuid::Uuid;

/// The API and the Activity list it reports to. `Copy`.
#[derive(Debug, Clone, Copy)]
pub struct Outbox {
    api: StoredValue<FilesApi>,
    /// Every command sent, and what it caused.
    pub activity: RwSignal<Activity>,
}

impl Outbox {
    /// An outbox over `api`, with an empty Activity list.
    pub fn new(api: FilesApi) -> Self {
        Self {
            api: StoredValue::new(api),
            activity: RwSignal::new(Activity::default()),
        }
    }

    /// The API, for queries and unlisted commands.
    pub fn api(&self) -> FilesApi {
        self.api.get_value()
    }

    /// Sends `command` about `name` under `command_id`, listing it in
    /// Activity (with the refusal, if any). Sending is a chunk of its own
    /// (`commands`), fetched with the first command; if it can't be
    /// fetched, the command was not sent.
    pub async fn send(
        &self,
        command: Command,
        command_id: Uuid,
        name: &str,
    ) -> Result<Sent, ApiFailure> {
        match sending(*self, command, command_id, name.to_owned()).await {
            Ok(sent) => sent.await,
            Err(_) => Err(ApiFailure::Unreachable),
        }
    }

    /// Sends several commands as one request, each `(command, its id, its
    /// title in Activity)`, listing each there; the answer is each
    /// command's, in order (all refused when the request was).
    pub async fn send_batch(
        &self,
        commands: Vec<(Command, Uuid, String)>,
    ) -> Vec<(Uuid, Result<Sent, ApiFailure>)> {
        let ids: Vec<Uuid> = commands.iter().map(|(_, id, _)| *id).collect();
        match sending_batch(*self, commands).await {
            Ok(sent) => sent.await,
            Err(_) => ids
                .into_iter()
                .map(|id| (id, Err(ApiFailure::Unreachable)))
                .collect(),
        }
    }
}

chunks::split_point! {
    commands =>
    /// Lists the commands in Activity and sends them as one batch (at most
    /// 100 a request, as the API takes), noting each refusal.
    fn sending_batch(
        outbox: Outbox,
        commands: Vec<(Command, Uuid, String)>,
    ) -> ChunkFuture<Vec<(Uuid, Result<Sent, ApiFailure>)>> {
        Box::pin(async move {
            let mut answers = Vec::with_capacity(commands.len());
            let mut commands = commands.into_iter().peekable();
            while commands.peek().is_some() {
                let part: Vec<(Command, Uuid, String)> = commands.by_ref().take(100).collect();
                let ids: Vec<Uuid> = part.iter().map(|(_, id, _)| *id).collect();
                let mut sent = Vec::with_capacity(part.len());
                for (command, id, title) in part {
                    outbox.activity.try_update(|a| {
                        a.sent(id, &title, TraceId::from_uuid(id).as_str())
                    });
                    sent.push((command, id));
                }
                let results = match outbox.api().command_batch(sent).await {
                    Ok(results) => results,
                    Err(failure) => ids.iter().map(|_| Err(failure.clone())).collect(),
                };
                for (id, result) in ids.into_iter().zip(results) {
                    if let Err(failure) = &result {
                        outbox
                            .activity
                            .try_update(|a| a.refused(id, &failure.to_string()));
                    }
                    answers.push((id, result));
                }
            }
            answers
        })
    }
}

chunks::split_point! {
    commands =>
    /// Lists the command in Activity, sends it in its envelope, and notes a
    /// refusal: the commands chunk's entry.
    fn sending(
        outbox: Outbox,
        command: Command,
        command_id: Uuid,
        name: String,
    ) -> ChunkFuture<Result<Sent, ApiFailure>> {
        Box::pin(async move {
            let title = commands::title(&command, &name);
            outbox.activity.try_update(|a| {
                a.sent(command_id, &title, TraceId::from_uuid(command_id).as_str())
            });
            let answer = outbox.api().command_with_id(command, command_id).await;
            if let Err(failure) = &answer {
                outbox
                    .activity
                    .try_update(|a| a.refused(command_id, &failure.to_string()));
            }
            answer
        })
    }
}
