//! Events as the domain builds and names them, for the service (the API's
//! side) and the consumers alike: an event's id is derived from its user and
//! what it reports, so the same fact published twice is one event; each
//! event goes on the bus in every edition still in use; commands and events
//! become bus entries here.

use crate::model::{FileRecord, UserId};
use crate::ports::BusEntry;
use ferry_protocol::envelope::{COMMAND_SOURCE, EVENT_SOURCE};
use ferry_protocol::{Event, EventEnvelope, Metadata, Payload, Timestamp, TraceId};
use uuid::Uuid;

const EVENT_NAMESPACE: Uuid = Uuid::from_u128(0x0f3a_91c4_5e2b_4d77_a1c8_3b9e_77d2_e4a0);

/// An event about `file`, with an id derived from its user and `dedupe_key`
/// so the same fact published twice is one event, and the same key of two
/// users (ids are chosen by clients) is two.
pub fn event_envelope(
    file: &FileRecord,
    command_id: Option<Uuid>,
    producer: &str,
    at: Timestamp,
    event: Event,
    dedupe_key: &str,
) -> EventEnvelope {
    envelope_for(
        &file.user,
        file.trace_id.as_deref(),
        command_id,
        producer,
        at,
        event,
        dedupe_key,
    )
}

/// An event of `user`'s, with an id derived from the user and `dedupe_key`
/// (as [`event_envelope`]); the trace id is `trace_id` when it is one, else
/// derived from the event id.
pub fn envelope_for(
    user: &UserId,
    trace_id: Option<&str>,
    command_id: Option<Uuid>,
    producer: &str,
    at: Timestamp,
    event: Event,
    dedupe_key: &str,
) -> EventEnvelope {
    let event_id = Uuid::new_v5(
        &EVENT_NAMESPACE,
        format!("{}/{dedupe_key}", user.as_str()).as_bytes(),
    );
    let trace_id = trace_id
        .and_then(|t| TraceId::parse(t).ok())
        .unwrap_or_else(|| TraceId::from_uuid(event_id));
    EventEnvelope::new(
        Metadata {
            event_id,
            trace_id,
            command_id,
            occurred_at: at,
            producer: producer.to_owned(),
            user_id: Some(user.as_str().to_owned()),
        },
        event,
    )
}

/// An event envelope in every version still in use ([`Event::editions`]):
/// the first keeps its id, each older edition gets an id derived from it, so
/// republishing stays idempotent.
pub fn editions(envelope: &EventEnvelope) -> Vec<EventEnvelope> {
    let metadata = envelope.metadata().clone();
    envelope
        .data()
        .clone()
        .editions()
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            let mut metadata = metadata.clone();
            if i > 0 {
                metadata.event_id = Uuid::new_v5(
                    &metadata.event_id,
                    format!("v{}", event.version()).as_bytes(),
                );
            }
            EventEnvelope::new(metadata, event)
        })
        .collect()
}

/// The bus entry of an event envelope.
pub fn event_entry(envelope: &EventEnvelope) -> BusEntry {
    BusEntry {
        source: EVENT_SOURCE.to_owned(),
        detail_type: envelope.action().to_owned(),
        detail: serde_json::to_value(envelope).unwrap_or_default(),
    }
}

/// The bus entry of a command envelope (already JSON) of `action`.
pub fn command_entry(action: String, envelope: serde_json::Value) -> BusEntry {
    BusEntry {
        source: COMMAND_SOURCE.to_owned(),
        detail_type: action,
        detail: envelope,
    }
}

/// The bus entries of `envelopes`, each in every edition still in use.
pub fn event_entries(envelopes: &[EventEnvelope]) -> Vec<BusEntry> {
    envelopes
        .iter()
        .flat_map(editions)
        .map(|e| event_entry(&e))
        .collect()
}
