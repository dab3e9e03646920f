//! Commands as the person sees them leave: each is listed in Activity with
//! its trace id before it is sent, and a refusal is written there too. The
//! file browser's actions and the uploads send through the same outbox.

use crate::api::files::{FilesApi, Sent};
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
    /// Activity (with the refusal, if any).
    pub async fn send(
        &self,
        command: Command,
        command_id: Uuid,
        name: &str,
    ) -> Result<Sent, ApiFailure> {
        let title = commands::title(&command, name);
        self.activity
            .try_update(|a| a.sent(command_id, &title, TraceId::from_uuid(command_id).as_str()));
        let answer = self.api().command_with_id(command, command_id).await;
        if let Err(failure) = &answer {
            self.activity
                .try_update(|a| a.refused(command_id, &failure.to_string()));
        }
        answer
    }
}
