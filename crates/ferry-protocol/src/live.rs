//! The live connection's server messages, as the local WebSocket and API
//! Gateway's `@connections` both send them.

use serde_json::{Value, json};

/// API Gateway's largest WebSocket message (frames over it are refused).
pub const MAX_MESSAGE_BYTES: usize = 128 * 1024;

/// `{"type":"event","cursor":N,"event":…}`; an event too large for one
/// message goes as its id with `"truncated": true` (the client then reads
/// it from the API).
pub fn event_message(cursor: i64, event: &Value) -> String {
    let message = json!({"type": "event", "cursor": cursor, "event": event}).to_string();
    if message.len() <= MAX_MESSAGE_BYTES {
        return message;
    }
    json!({
        "type": "event",
        "cursor": cursor,
        "truncated": true,
        "eventId": event.pointer("/metadata/EventId"),
    })
    .to_string()
}

/// `{"type":"hello","cursor":N}`: the newest cursor when the connection
/// opened (none when the feed couldn't be read).
pub fn hello_message(cursor: Option<i64>) -> String {
    match cursor {
        Some(cursor) => json!({"type": "hello", "cursor": cursor}),
        None => json!({"type": "hello"}),
    }
    .to_string()
}

/// `{"type":"resumed","cursor":N}`: every event after the asked cursor
/// still in the feed was sent; `N` is where the client now stands. With
/// `"missed": true`, some were dropped for age before the client read them:
/// it reads what it shows again.
pub fn resumed_message(cursor: i64, missed: bool) -> String {
    if missed {
        json!({"type": "resumed", "cursor": cursor, "missed": true})
    } else {
        json!({"type": "resumed", "cursor": cursor})
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_too_large_for_one_message_goes_as_its_id() {
        let small = json!({"metadata": {"EventId": "e1"}, "data": {}});
        let text = event_message(3, &small);
        assert!(text.contains("\"cursor\":3") && !text.contains("truncated"));
        let big =
            json!({"metadata": {"EventId": "e2"}, "data": {"x": "y".repeat(MAX_MESSAGE_BYTES)}});
        let text = event_message(4, &big);
        assert!(text.len() < 200, "{}", text.len());
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["truncated"], true);
        assert_eq!(parsed["eventId"], "e2");
    }
}
