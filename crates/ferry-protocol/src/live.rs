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

/// How many events a resume reads at a time.
pub const RESUME_PAGE: u32 = 500;

/// The answer to `{"action":"resume","after":N}`: every event after `after`,
/// read a page at a time through `page(after, limit)`, then `resumed` with
/// where the client now stands (and `missed` when a page said so). The
/// local WebSocket and the Lambda one both answer with this.
pub async fn resume<E, Fut>(
    after: i64,
    mut page: impl FnMut(i64, u32) -> Fut,
) -> Result<Vec<String>, E>
where
    Fut: Future<Output = Result<crate::api::FeedPage, E>>,
{
    let (mut after, mut missed, mut lines) = (after, false, Vec::new());
    loop {
        let read = page(after, RESUME_PAGE).await?;
        lines.extend(
            read.events
                .iter()
                .map(|item| event_message(item.cursor, &item.event)),
        );
        after = read.cursor;
        missed |= read.missed;
        if !read.more {
            break;
        }
    }
    lines.push(resumed_message(after, missed));
    Ok(lines)
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

    #[test]
    fn a_resume_reads_every_page_and_says_when_one_missed_events() {
        use crate::api::{FeedItem, FeedPage};
        let pages = [
            FeedPage {
                events: vec![FeedItem {
                    cursor: 4,
                    event: json!({"n": 4}),
                }],
                cursor: 4,
                more: true,
                missed: true,
            },
            FeedPage {
                events: vec![FeedItem {
                    cursor: 9,
                    event: json!({"n": 9}),
                }],
                cursor: 12,
                more: false,
                missed: false,
            },
        ];
        let mut asked = Vec::new();
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        let lines = {
            let answer = resume(1, |after, limit| {
                asked.push((after, limit));
                let page = pages[asked.len() - 1].clone();
                std::future::ready(Ok::<_, ()>(page))
            });
            let mut answer = std::pin::pin!(answer);
            let std::task::Poll::Ready(Ok(lines)) = answer.as_mut().poll(&mut context) else {
                panic!("the pages were ready");
            };
            lines
        };
        assert_eq!(asked, [(1, RESUME_PAGE), (4, RESUME_PAGE)]);
        let lines: Vec<Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["cursor"], 4);
        assert_eq!(lines[1]["cursor"], 9);
        assert_eq!(
            lines[2],
            json!({"type": "resumed", "cursor": 12, "missed": true})
        );
        let failed = resume(0, |_, _| std::future::ready(Err::<FeedPage, _>("down")));
        let mut failed = std::pin::pin!(failed);
        assert!(matches!(
            failed.as_mut().poll(&mut context),
            std::task::Poll::Ready(Err("down"))
        ));
    }
}
