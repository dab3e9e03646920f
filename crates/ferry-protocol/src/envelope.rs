//! The `{metadata, data}` envelope that every command and event travels in,
//! and its EventBridge wrapping.
//!
//! An envelope is immutable once built: its fields are private, and its
//! `EventVersion` is always the version of the payload it carries, so a
//! producer can't publish a v2 body under a v1 label.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use time::OffsetDateTime;
use uuid::Uuid;

/// The EventBridge `source` of every event Ferry publishes.
pub const EVENT_SOURCE: &str = "ferry.files";
/// The EventBridge `source` of commands put on the bus by the API.
pub const COMMAND_SOURCE: &str = "ferry.commands";

/// A command or event body that knows its action name and schema version.
///
/// Implemented by [`crate::Command`] and [`crate::Event`]; the envelope uses it
/// to write `data.Action` and `metadata.EventVersion`, and to pick the right
/// version's decoder when reading.
pub trait Payload: Sized {
    /// The action name, written as `data.Action` and as EventBridge's `detail-type`.
    fn action(&self) -> &'static str;
    /// The schema version of this body, written as `metadata.EventVersion`.
    fn version(&self) -> u32;
    /// The body as a JSON object, `Action` included.
    fn to_data(&self) -> serde_json::Value;
    /// Decodes a body published as `action` at `version`.
    fn from_data(action: &str, version: u32, data: serde_json::Value) -> Result<Self, DecodeError>;
}

/// Why a command or event could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The action is not one this build knows.
    #[error("unknown action `{0}`")]
    UnknownAction(String),
    /// The action is known, but not at this version.
    #[error("`{action}` has no version {version}")]
    UnknownVersion {
        /// The action name.
        action: String,
        /// The version that was asked for.
        version: u32,
    },
    /// The body does not match the schema of its action and version.
    #[error("`{action}` v{version} is malformed: {reason}")]
    Malformed {
        /// The action name.
        action: String,
        /// The version.
        version: u32,
        /// What serde reported.
        reason: String,
    },
    /// `data.Action` is missing or not a string.
    #[error("`data.Action` is missing or not a string")]
    MissingAction,
}

/// A point in time, written as RFC 3339 in UTC (`2026-03-03T09:05:07.123Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(with = "String", extend("format" = "date-time")))]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// Wraps a time; it is converted to UTC.
    pub fn new(at: OffsetDateTime) -> Self {
        Self(at.to_offset(time::UtcOffset::UTC))
    }

    /// Milliseconds since the Unix epoch, for producers whose clock gives that
    /// (the browser's `Date.now()`, a Lambda context).
    pub fn from_unix_millis(millis: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
            .ok()
            .map(Self)
    }

    /// The time itself.
    pub fn get(self) -> OffsetDateTime {
        self.0
    }

    /// Milliseconds since the Unix epoch.
    pub fn unix_millis(self) -> i64 {
        // The range of OffsetDateTime keeps this within i64.
        (self.0.unix_timestamp_nanos() / 1_000_000) as i64
    }
}

impl fmt::Display for Timestamp {
    #[cfg(not(target_arch = "wasm32"))]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self
            .0
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }

    /// In the browser, JavaScript's `Date` writes it (milliseconds, which is
    /// all a browser's clock gives): `time`'s RFC 3339 printer stays out of
    /// the download.
    #[cfg(target_arch = "wasm32")]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let date = js_sys::Date::new(&(self.unix_millis() as f64).into());
        f.write_str(&String::from(date.to_iso_string()))
    }
}

/// RFC 3339 texts and the instant each names (Unix milliseconds), or none:
/// the answers every build must give, checked natively here and in the
/// browser (where JavaScript's `Date` reads them) by the web client's tests.
pub const TIME_EXAMPLES: &[(&str, Option<i64>)] = &[
    ("2026-03-03T09:05:07.123Z", Some(1_772_528_707_123)),
    ("2026-03-03T11:05:07.123+02:00", Some(1_772_528_707_123)),
    ("2026-03-03t09:05:07.123z", Some(1_772_528_707_123)),
    ("2026-03-03", None),
    ("2026-03-03T09:05:07", None),
    ("yesterday", None),
    ("", None),
];

impl Timestamp {
    /// Reads an RFC 3339 time.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn parse(text: &str) -> Option<Self> {
        OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .ok()
            .map(Self::new)
    }

    /// Reads an RFC 3339 time. In the browser, JavaScript's `Date` reads it
    /// (to the millisecond): `time`'s parser stays out of the download. The
    /// browser tests check it against the native parser's answers.
    #[cfg(target_arch = "wasm32")]
    pub fn parse(text: &str) -> Option<Self> {
        // `Date.parse` takes more than RFC 3339 (dates alone, local times);
        // only full times with a zone are accepted, as natively.
        let bytes = text.as_bytes();
        let zoned = text.ends_with('Z')
            || text.ends_with('z')
            || (bytes.len() > 6 && matches!(bytes[bytes.len() - 6], b'+' | b'-'));
        if bytes.len() < 20 || !matches!(bytes.get(10), Some(b'T' | b't' | b' ')) || !zoned {
            return None;
        }
        let millis = js_sys::Date::parse(text);
        if millis.is_nan() {
            return None;
        }
        Self::from_unix_millis(millis as i64)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text)
            .ok_or_else(|| D::Error::custom(format!("`{text}` is not an RFC 3339 time")))
    }
}

/// The id that ties a user's action to every command and event it causes.
///
/// Printable ASCII, 1 to 128 characters, so it fits an HTTP header and an
/// X-Ray trace id alike.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct TraceId(String);

impl TraceId {
    /// The longest trace id accepted.
    pub const MAX_LEN: usize = 128;

    /// Checks and wraps a trace id.
    pub fn parse(text: &str) -> Result<Self, String> {
        let ok = !text.is_empty()
            && text.len() <= Self::MAX_LEN
            && text.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!(
                "a trace id is 1 to {} printable ASCII characters",
                Self::MAX_LEN
            ))
        }
    }

    /// A trace id made from a fresh uuid.
    pub fn from_uuid(id: Uuid) -> Self {
        Self(id.simple().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TraceId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(D::Error::custom)
    }
}

/// The metadata half of an envelope, as written on the wire.
///
/// `EventVersion` is not a field here: the envelope writes it from its payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "PascalCase")]
pub struct Metadata {
    /// Unique per message; consumers deduplicate on it. For a command it
    /// equals the `CommandId`.
    pub event_id: Uuid,
    /// Ties the message to the user action that caused it.
    pub trace_id: TraceId,
    /// The command this message is, or was caused by. Clients generate it, so
    /// a retried request carries the same id and has one effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<Uuid>,
    /// When the intent was expressed or the fact happened.
    pub occurred_at: Timestamp,
    /// Who wrote the message: `web`, `api`, `indexer`, `deleter`, …
    pub producer: String,
    /// The user the message belongs to (the token's `sub`); events are only
    /// ever delivered to this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// A command or event with its metadata: `{"metadata": {…}, "data": {…}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope<P> {
    metadata: Metadata,
    data: P,
}

/// An envelope carrying a command (an intent).
pub type CommandEnvelope = Envelope<crate::Command>;
/// An envelope carrying an event (a fact).
pub type EventEnvelope = Envelope<crate::Event>;

impl<P: Payload> Envelope<P> {
    /// Puts `data` in an envelope.
    pub fn new(metadata: Metadata, data: P) -> Self {
        Self { metadata, data }
    }

    /// The metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The command or event.
    pub fn data(&self) -> &P {
        &self.data
    }

    /// The action name (`data.Action`).
    pub fn action(&self) -> &'static str {
        self.data.action()
    }

    /// The schema version (`metadata.EventVersion`).
    pub fn version(&self) -> u32 {
        self.data.version()
    }

    /// Splits the envelope into its parts.
    pub fn into_parts(self) -> (Metadata, P) {
        (self.metadata, self.data)
    }
}

#[derive(Serialize)]
struct WireOut<'a> {
    metadata: WireMetadataOut<'a>,
    data: serde_json::Value,
}

#[derive(Serialize)]
struct WireMetadataOut<'a> {
    #[serde(rename = "EventVersion")]
    event_version: u32,
    #[serde(flatten)]
    rest: &'a Metadata,
}

#[derive(Deserialize)]
struct WireIn {
    metadata: WireMetadataIn,
    data: serde_json::Value,
}

#[derive(Deserialize)]
struct WireMetadataIn {
    #[serde(rename = "EventVersion")]
    event_version: u32,
    #[serde(flatten)]
    rest: Metadata,
}

impl<P: Payload> Serialize for Envelope<P> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireOut {
            metadata: WireMetadataOut {
                event_version: self.data.version(),
                rest: &self.metadata,
            },
            data: self.data.to_data(),
        }
        .serialize(serializer)
    }
}

impl<'de, P: Payload> Deserialize<'de> for Envelope<P> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = WireIn::deserialize(deserializer)?;
        let action = wire
            .data
            .get("Action")
            .and_then(serde_json::Value::as_str)
            .ok_or(DecodeError::MissingAction)
            .map_err(D::Error::custom)?
            .to_owned();
        let data = P::from_data(&action, wire.metadata.event_version, wire.data)
            .map_err(D::Error::custom)?;
        Ok(Self {
            metadata: wire.metadata.rest,
            data,
        })
    }
}

/// An envelope as EventBridge carries it: `detail-type` is the action,
/// `detail` the whole `{metadata, data}` envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventBridgeEvent<D> {
    /// Always `"0"`.
    pub version: String,
    /// EventBridge's own id; Ferry's consumers dedupe on `detail.metadata.EventId`.
    pub id: Uuid,
    /// The action, e.g. `FileDeleted`.
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// [`EVENT_SOURCE`] or [`COMMAND_SOURCE`] for Ferry's own messages.
    pub source: String,
    /// The AWS account id (`000000000000` on the local stack).
    pub account: String,
    /// When the bus accepted the event.
    pub time: Timestamp,
    /// The AWS region.
    pub region: String,
    /// ARNs the event concerns; usually empty.
    #[serde(default)]
    pub resources: Vec<String>,
    /// The payload.
    pub detail: D,
}

impl<P: Payload> EventBridgeEvent<Envelope<P>> {
    /// Wraps an envelope for a bus. `id` is the bus's own id for the entry.
    pub fn wrap(
        envelope: Envelope<P>,
        source: &str,
        id: Uuid,
        account: &str,
        region: &str,
        time: Timestamp,
    ) -> Self {
        Self {
            version: "0".to_owned(),
            id,
            detail_type: envelope.action().to_owned(),
            source: source.to_owned(),
            account: account.to_owned(),
            time,
            region: region.to_owned(),
            resources: Vec::new(),
            detail: envelope,
        }
    }
}

#[cfg(test)]
mod time_tests {
    use super::{TIME_EXAMPLES, Timestamp};

    #[test]
    fn times_read_as_the_examples_say() {
        for (text, millis) in TIME_EXAMPLES {
            assert_eq!(
                Timestamp::parse(text).map(Timestamp::unix_millis),
                *millis,
                "{text}"
            );
        }
    }
}
