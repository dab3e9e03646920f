//! The live connection's messages, as literal JSON: each is what the code
//! writes, reads back as the same message, and is valid under its
//! committed schema (`schemas/live/`). A message that isn't valid under
//! its schema is refused by the schema too: the schemas say something.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

use ferry_protocol::live::{ClientMessage, MESSAGES, ServerMessage, VERSION};
use ferry_protocol::{ApiError, ErrorCode};
use serde_json::{Value, json};
use std::path::Path;

fn committed_schema(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas/live")
        .join(format!("{name}.v{VERSION}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn errors(name: &str, wire: &Value) -> Vec<String> {
    let schema = committed_schema(name);
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    validator
        .iter_errors(wire)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

fn client(name: &str, message: ClientMessage, wire: Value) {
    assert_eq!(serde_json::to_value(&message).unwrap(), wire, "{name}");
    assert_eq!(
        serde_json::from_value::<ClientMessage>(wire.clone()).unwrap(),
        message
    );
    assert_eq!(errors(name, &wire), Vec::<String>::new(), "{name}");
}

fn server(name: &str, message: ServerMessage, wire: Value) {
    assert_eq!(
        serde_json::from_str::<Value>(&message.to_text()).unwrap(),
        wire,
        "{name}"
    );
    assert_eq!(ServerMessage::parse(&wire.to_string()), Some(message));
    assert_eq!(errors(name, &wire), Vec::<String>::new(), "{name}");
}

#[test]
fn every_message_is_published() {
    for (name, _) in MESSAGES {
        assert_eq!(committed_schema(name)["title"], format!("{name} v1"));
    }
}

#[test]
fn client_messages() {
    client(
        "client-hello",
        ClientMessage::Hello { version: None },
        json!({"action": "hello"}),
    );
    client(
        "client-hello",
        ClientMessage::Hello { version: Some(1) },
        json!({"action": "hello", "version": 1}),
    );
    client(
        "client-resume",
        ClientMessage::Resume { after: 41 },
        json!({"action": "resume", "after": 41}),
    );
    client(
        "client-ping",
        ClientMessage::Ping,
        json!({"action": "ping"}),
    );
}

#[test]
fn server_messages() {
    server(
        "server-hello",
        ServerMessage::Hello {
            cursor: Some(7),
            version: 1,
        },
        json!({"type": "hello", "cursor": 7, "version": 1}),
    );
    server(
        "server-hello",
        ServerMessage::Hello {
            cursor: None,
            version: 1,
        },
        json!({"type": "hello", "version": 1}),
    );
    let event = json!({
        "metadata": {"EventId": "0b7c0e2a-8a4b-4f8e-9d2c-3e1f5a6b7c8d", "EventVersion": 1},
        "data": {"Action": "FolderCreated", "Path": "docs"}
    });
    server(
        "server-event",
        ServerMessage::event(12, event.clone()),
        json!({"type": "event", "cursor": 12, "event": event}),
    );
    server(
        "server-event",
        ServerMessage::Event {
            cursor: 13,
            event: None,
            truncated: true,
            event_id: Some("0b7c0e2a-8a4b-4f8e-9d2c-3e1f5a6b7c8d".into()),
        },
        json!({"type": "event", "cursor": 13, "truncated": true,
               "eventId": "0b7c0e2a-8a4b-4f8e-9d2c-3e1f5a6b7c8d"}),
    );
    server(
        "server-resumed",
        ServerMessage::Resumed {
            cursor: 20,
            missed: true,
        },
        json!({"type": "resumed", "cursor": 20, "missed": true}),
    );
    server(
        "server-resumed",
        ServerMessage::Resumed {
            cursor: 20,
            missed: false,
        },
        json!({"type": "resumed", "cursor": 20}),
    );
    server("server-pong", ServerMessage::Pong, json!({"type": "pong"}));
    server(
        "server-error",
        ServerMessage::Error {
            error: ApiError::new(ErrorCode::Unavailable, "The feed can't be read right now."),
        },
        json!({"type": "error", "error": {
            "code": "Unavailable",
            "message": "The feed can't be read right now.",
            "retryable": true
        }}),
    );
}

#[test]
fn the_schemas_refuse_what_the_code_would_not_read() {
    for (name, wire) in [
        (
            "client-resume",
            json!({"action": "resume", "after": "soon"}),
        ),
        ("client-ping", json!({"action": "pong"})),
        ("server-event", json!({"type": "event"})),
        ("server-resumed", json!({"type": "resumed", "cursor": 1.5})),
        (
            "server-error",
            json!({"type": "error", "error": {"message": "No."}}),
        ),
        ("server-hello", json!({"type": "hello", "cursor": 3})),
    ] {
        assert!(!errors(name, &wire).is_empty(), "{name} took {wire}");
    }
    // What the code reads leniently (an older server's hello had no
    // version), the schema holds new servers to.
    assert!(ServerMessage::parse(r#"{"type":"hello","cursor":3}"#).is_some());
}
