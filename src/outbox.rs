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
