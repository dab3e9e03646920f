//! The bus on EventBridge: `PutEvents` to Ferry's custom bus, our envelope as
//! the `detail`. EventBridge takes at most ten entries a call and may refuse
//! some of them (throttling, an internal failure): those are put again, and
//! `put` answers `Ok` only when every entry was accepted, as the port says.

use crate::AwsSettings;
use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use ferry_core::ports::{Bus, BusEntry, PortError, PortResult};
use std::time::Duration;

/// EventBridge's most entries per `PutEvents`.
const BATCH: usize = 10;
/// How many times refused entries are put again before giving up.
const TRIES: u32 = 4;

/// Ferry's custom event bus.
#[derive(Debug, Clone)]
pub struct EventBridgeBus {
    client: Client,
    bus: String,
}

impl EventBridgeBus {
    /// The bus named (or with the ARN) `bus`.
    pub fn new(settings: &AwsSettings, bus: &str) -> Self {
        Self {
            client: Client::new(&settings.sdk_config()),
            bus: bus.to_owned(),
        }
    }

    fn entry(&self, entry: &BusEntry) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(&entry.source)
            .detail_type(&entry.detail_type)
            .detail(entry.detail.to_string())
            .build()
    }
}

#[async_trait]
impl Bus for EventBridgeBus {
    async fn put(&self, entries: Vec<BusEntry>) -> PortResult<()> {
        for batch in entries.chunks(BATCH) {
            let mut pending: Vec<PutEventsRequestEntry> =
                batch.iter().map(|e| self.entry(e)).collect();
            let mut tries = 0;
            while !pending.is_empty() {
                tries += 1;
                let out = self
                    .client
                    .put_events()
                    .set_entries(Some(pending.clone()))
                    .send()
                    .await
                    .map_err(|e| {
                        PortError::Unavailable(format!(
                            "EventBridge: {}",
                            aws_sdk_eventbridge::error::DisplayErrorContext(&e)
                        ))
                    })?;
                // Answers come in the order of the entries; refused ones
                // carry an error code.
                let refused: Vec<(PutEventsRequestEntry, String)> = out
                    .entries()
                    .iter()
                    .zip(pending)
                    .filter_map(|(answer, entry)| {
                        answer.error_code().map(|code| {
                            (
                                entry,
                                format!("{code}: {}", answer.error_message().unwrap_or_default()),
                            )
                        })
                    })
                    .collect();
                if refused.is_empty() {
                    break;
                }
                if tries >= TRIES {
                    return Err(PortError::Unavailable(format!(
                        "EventBridge refused {} entries: {}",
                        refused.len(),
                        refused[0].1
                    )));
                }
                tokio::time::sleep(Duration::from_millis(100 << tries)).await;
                pending = refused.into_iter().map(|(entry, _)| entry).collect();
            }
        }
        Ok(())
    }
}
