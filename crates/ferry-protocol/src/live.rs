//! The live connection's protocol: what a browser sends on the WebSocket
//! ([`ClientMessage`]) and what the server answers or pushes
//! ([`ServerMessage`]), exactly as the local socket and API Gateway's
//! WebSocket API (through `@connections`) both carry them. Each message is
//! one JSON object in one text frame, tagged by `action` (from the client)
//! or `type` (from the server).
//!
//! The conversation: the client speaks first (API Gateway can't send before
//! `$connect` returns) with `hello`; the server answers `hello` with the
//! feed's newest cursor. A client that had a cursor sends `resume` and gets
//! every event after it, then `resumed`. Events arrive as `event` while the
//! socket is open; the client pings now and then (`ping` → `pong`) so an
//! idle connection isn't closed. A message the server can't take is
//! answered with `error`, and nothing else happens.
//!
//! This is version [`VERSION`]. Each message's JSON Schema is published in
//! `schemas/live/` and held compatible by the schema test, as commands and
//! events are: a field may be added when readers may ignore it, and a new
//! message type may be added (clients ignore types they don't know); a
//! breaking change is a new version, which a client asks for in its
//! `hello`.

use crate::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The protocol version this code speaks.
pub const VERSION: u32 = 1;

/// API Gateway's largest WebSocket message (frames over it are refused).
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// How many events a resume reads from the feed at a time.
pub const RESUME_PAGE: u32 = 500;

/// A message from the browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum ClientMessage {
    /// The first message on a connection; answered with the server's
    /// hello.
    Hello {
        /// The protocol version the client speaks; absent means 1.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<u32>,
    },
    /// Asks for every event after `after`; answered with those events, then
    /// `resumed`.
    Resume {
        /// The last cursor the client has seen (absent: from the start of
        /// what the feed keeps).
        #[serde(default)]
        after: i64,
    },
    /// Keeps the connection from being closed as idle; answered with
    /// `pong`.
    Ping,
}

impl ClientMessage {
    /// The message as one text frame.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A message from the server.
///
/// It is read with a hand-written `Deserialize` (one flat pass over the
/// object) rather than serde's internally tagged one, which buffers the
/// whole message first and weighs more in the browser's wasm.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ServerMessage {
    /// The answer to the client's hello.
    Hello {
        /// The feed's newest cursor; absent when the feed couldn't be read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<i64>,
        /// The protocol version the server speaks on this connection.
        version: u32,
    },
    /// One of the user's events, pushed live or sent by a resume.
    Event {
        /// Its position in the user's feed.
        cursor: i64,
        /// The event, `{metadata, data}` as the bus carried it; absent when
        /// it was too large for one message (128 KiB): then `truncated` is
        /// true and the client reads it from the feed (`GET /api/events`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event: Option<Value>,
        /// Whether the event was left out for its size.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        truncated: bool,
        /// The left-out event's `metadata.EventId`.
        #[serde(default, rename = "eventId", skip_serializing_if = "Option::is_none")]
        event_id: Option<String>,
    },
    /// The end of a resume: every event after the asked cursor still in
    /// the feed was sent.
    Resumed {
        /// Where the client now stands: resume after this next time.
        cursor: i64,
        /// Some events after the asked cursor were dropped for age before
        /// they were read: what the client shows may be stale, so it reads
        /// it again.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        missed: bool,
    },
    /// The answer to a ping.
    Pong,
    /// The server couldn't take a message (nothing was done).
    Error {
        /// Why, as the API's errors say it.
        error: ApiError,
    },
}

impl ServerMessage {
    /// An event as it is sent: whole when it fits in one message, else by
    /// its id alone, `truncated`.
    pub fn event(cursor: i64, event: Value) -> Self {
        Self::Event {
            cursor,
            event: Some(event),
            truncated: false,
            event_id: None,
        }
    }

    /// The message as one text frame, at most [`MAX_MESSAGE_BYTES`]: an
    /// event too large for that goes as its id with `truncated`.
    pub fn to_text(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        match self {
            Self::Event {
                cursor,
                event: Some(event),
                ..
            } if text.len() > MAX_MESSAGE_BYTES => serde_json::to_string(&Self::Event {
                cursor: *cursor,
                event: None,
                truncated: true,
                event_id: event
                    .pointer("/metadata/EventId")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            })
            .unwrap_or_default(),
            _ => text,
        }
    }

    /// Reads one text frame; `None` for anything that isn't a message of
    /// this version (a newer server's new types are ignored).
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// The flat shape every server message fits, read in one pass.
#[derive(Deserialize)]
struct Flat {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    cursor: Option<i64>,
    #[serde(default)]
    version: Option<u32>,
    #[serde(default)]
    event: Option<Value>,
    #[serde(default)]
    truncated: bool,
    #[serde(default, rename = "eventId")]
    event_id: Option<String>,
    #[serde(default)]
    missed: bool,
    #[serde(default)]
    error: Option<ApiError>,
}

impl<'de> Deserialize<'de> for ServerMessage {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let flat = Flat::deserialize(deserializer)?;
        let cursor = |cursor: Option<i64>| cursor.ok_or_else(|| D::Error::missing_field("cursor"));
        Ok(match flat.kind.as_str() {
            "hello" => Self::Hello {
                cursor: flat.cursor,
                version: flat.version.unwrap_or(1),
            },
            "event" => Self::Event {
                cursor: cursor(flat.cursor)?,
                event: flat.event,
                truncated: flat.truncated,
                event_id: flat.event_id,
            },
            "resumed" => Self::Resumed {
                cursor: cursor(flat.cursor)?,
                missed: flat.missed,
            },
            "pong" => Self::Pong,
            "error" => Self::Error {
                error: flat.error.ok_or_else(|| D::Error::missing_field("error"))?,
            },
            other => {
                return Err(D::Error::unknown_variant(
                    other,
                    &["hello", "event", "resumed", "pong", "error"],
                ));
            }
        })
    }
}

/// What the client's message was, or why it couldn't be read.
pub fn read_client_message(text: &str) -> Result<ClientMessage, ApiError> {
    use crate::ErrorCode::MalformedRequest;
    let how = "Send {\"action\": \"hello\"}, {\"action\": \"resume\", \"after\": N} or {\"action\": \"ping\"}.";
    let value: Value =
        serde_json::from_str(text).map_err(|_| ApiError::new(MalformedRequest, how))?;
    let action = value
        .get("action")
        .and_then(Value::as_str)
        .map(str::to_owned);
    match action.as_deref() {
        Some(action @ ("hello" | "resume" | "ping")) => {
            serde_json::from_value(value).map_err(|error| {
                ApiError::new(
                    MalformedRequest,
                    format!("The “{action}” message isn't right ({error}). {how}"),
                )
            })
        }
        Some(other) => Err(ApiError::new(
            MalformedRequest,
            format!("There is no action “{other}”; use hello, resume or ping."),
        )),
        None => Err(ApiError::new(MalformedRequest, how)),
    }
}

/// The names under which each message's schema is published
/// (`schemas/live/{name}.v1.json`), with its tag.
pub const MESSAGES: [(&str, &str); 8] = [
    ("client-hello", "hello"),
    ("client-resume", "resume"),
    ("client-ping", "ping"),
    ("server-hello", "hello"),
    ("server-event", "event"),
    ("server-resumed", "resumed"),
    ("server-pong", "pong"),
    ("server-error", "error"),
];

/// The schema of each message, by its published name: the variant of
/// [`ClientMessage`] or [`ServerMessage`] with that tag, standing alone.
#[cfg(feature = "schema")]
pub fn message_schemas() -> Vec<(&'static str, u32, Value)> {
    use crate::schema::{Kind, canonical};
    use serde_json::json;
    let whole = |schema: Value, tag: &str| -> Vec<(String, Value)> {
        let defs = schema.get("$defs").cloned();
        schema
            .get("oneOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|variant| {
                let name = variant.pointer(&format!("/properties/{tag}/const"))?;
                let mut variant = variant.clone();
                let refers = variant.to_string().contains("#/$defs/");
                if let (Some(defs), Some(object), true) = (&defs, variant.as_object_mut(), refers) {
                    object.insert("$defs".into(), defs.clone());
                }
                Some((name.as_str()?.to_owned(), variant))
            })
            .collect()
    };
    let settings = || {
        schemars::generate::SchemaSettings::draft2020_12()
            .for_serialize()
            .into_generator()
    };
    let client = whole(
        settings()
            .into_root_schema_for::<ClientMessage>()
            .to_value(),
        "action",
    );
    let server = whole(
        settings()
            .into_root_schema_for::<ServerMessage>()
            .to_value(),
        "type",
    );
    MESSAGES
        .iter()
        .filter_map(|&(name, tag)| {
            let from = if name.starts_with("client-") {
                &client
            } else {
                &server
            };
            let (_, schema) = from.iter().find(|(t, _)| t == tag)?;
            let mut schema = schema.clone();
            let object = schema.as_object_mut()?;
            object.insert(
                "$schema".into(),
                json!("https://json-schema.org/draft/2020-12/schema"),
            );
            object.insert(
                "$id".into(),
                json!(format!(
                    "https://ferry.invalid/schemas/{}/{name}.v{VERSION}.json",
                    Kind::Live.folder()
                )),
            );
            object.insert("title".into(), json!(format!("{name} v{VERSION}")));
            Some((name, VERSION, canonical(schema)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_too_large_for_one_message_goes_as_its_id() {
        let small = json!({"metadata": {"EventId": "e1"}, "data": {}});
        let text = ServerMessage::event(3, small).to_text();
        assert!(text.contains("\"cursor\":3") && !text.contains("truncated"));
        let big =
            json!({"metadata": {"EventId": "e2"}, "data": {"x": "y".repeat(MAX_MESSAGE_BYTES)}});
        let text = ServerMessage::event(4, big).to_text();
        assert!(text.len() < 200, "{}", text.len());
        assert_eq!(
            ServerMessage::parse(&text),
            Some(ServerMessage::Event {
                cursor: 4,
                event: None,
                truncated: true,
                event_id: Some("e2".into())
            })
        );
    }

    #[test]
    fn every_server_message_reads_back_as_it_was_written() {
        let messages = [
            ServerMessage::Hello {
                cursor: Some(7),
                version: 1,
            },
            ServerMessage::Hello {
                cursor: None,
                version: 1,
            },
            ServerMessage::event(9, json!({"metadata": {}, "data": {"a": 1}})),
            ServerMessage::Resumed {
                cursor: 12,
                missed: true,
            },
            ServerMessage::Resumed {
                cursor: 12,
                missed: false,
            },
            ServerMessage::Pong,
            ServerMessage::Error {
                error: ApiError::new(crate::ErrorCode::Unavailable, "Down."),
            },
        ];
        for message in messages {
            assert_eq!(
                ServerMessage::parse(&message.to_text()),
                Some(message.clone())
            );
        }
    }

    #[test]
    fn what_older_servers_sent_still_reads() {
        // Before the version was said, a hello had only its cursor.
        assert_eq!(
            ServerMessage::parse(r#"{"type":"hello","cursor":3}"#),
            Some(ServerMessage::Hello {
                cursor: Some(3),
                version: 1
            })
        );
        assert_eq!(ServerMessage::parse(r#"{"type":"shiny","cursor":3}"#), None);
        assert_eq!(ServerMessage::parse(r#"{"type":"event"}"#), None);
        assert_eq!(ServerMessage::parse("not json"), None);
    }

    #[test]
    fn client_messages_are_read_or_refused_with_a_reason() {
        assert_eq!(
            read_client_message(r#"{"action":"hello"}"#),
            Ok(ClientMessage::Hello { version: None })
        );
        assert_eq!(
            read_client_message(r#"{"action":"resume","after":41}"#),
            Ok(ClientMessage::Resume { after: 41 })
        );
        assert_eq!(
            read_client_message(r#"{"action":"resume"}"#),
            Ok(ClientMessage::Resume { after: 0 })
        );
        assert_eq!(
            read_client_message(&ClientMessage::Ping.to_text()),
            Ok(ClientMessage::Ping)
        );
        let unknown = read_client_message(r#"{"action":"dance"}"#).unwrap_err();
        assert!(unknown.message.contains("“dance”"), "{}", unknown.message);
        let wrong = read_client_message(r#"{"action":"resume","after":"x"}"#).unwrap_err();
        assert!(wrong.message.contains("resume"), "{}", wrong.message);
        for text in ["", "[]", r#"{"after":3}"#] {
            let error = read_client_message(text).unwrap_err();
            assert_eq!(error.code, crate::ErrorCode::MalformedRequest);
            assert!(error.message.starts_with("Send "), "{}", error.message);
        }
    }

    #[test]
    fn the_client_sends_what_servers_have_always_read() {
        assert_eq!(
            ClientMessage::Hello { version: None }.to_text(),
            r#"{"action":"hello"}"#
        );
        assert_eq!(
            ClientMessage::Resume { after: 5 }.to_text(),
            r#"{"action":"resume","after":5}"#
        );
        assert_eq!(ClientMessage::Ping.to_text(), r#"{"action":"ping"}"#);
    }
}
