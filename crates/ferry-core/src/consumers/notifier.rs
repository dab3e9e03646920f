//! The notifier: pushes each of Ferry's events to its owner's connections.
//! An event published in several editions (`FileCreated` v2 and v1) reaches
//! browsers and the feed once, as its newest edition: the bus keeps every
//! edition for the consumers that read older ones.

use super::{Consumers, Retry, retry};
use crate::model::UserId;
use ferry_protocol::EventEnvelope;
use serde_json::Value;

impl Consumers {
    /// The notifier: pushes each of Ferry's events to its owner.
    pub(super) async fn notifier(&self, event: &Value) -> Result<(), Retry> {
        let Some(detail) = event.get("detail") else {
            return Ok(());
        };
        let envelope: EventEnvelope = match serde_json::from_value(detail.clone()) {
            Ok(envelope) => envelope,
            Err(error) => {
                tracing::error!(%error, "an unreadable event was not pushed");
                return Ok(());
            }
        };
        if envelope.data().is_older_edition() {
            return Ok(());
        }
        let Some(user) = envelope
            .metadata()
            .user_id
            .as_deref()
            .and_then(UserId::parse)
        else {
            return Ok(());
        };
        self.notifier.notify(&user, &envelope).await.map_err(retry)
    }
}
