//! The feed: each user's recent events, numbered by a cursor, so a browser
//! that reconnects (or polls) gets every event it missed. The [`Notifier`]
//! writes it; [`Feed`] reads it; [`answer`] is the live connection's reply
//! to a browser's message, the same on the local socket and on API
//! Gateway's.
//!
//! [`Notifier`]: crate::ports::Notifier

use crate::model::UserId;
use crate::ports::PortResult;
use async_trait::async_trait;
use ferry_protocol::api::FeedPage;
use ferry_protocol::live::{ClientMessage, RESUME_PAGE, ServerMessage, VERSION};
use ferry_protocol::{ApiError, ErrorCode};
use std::time::Duration;

/// Reads a user's feed: the SQLite feed of the local hub, the DynamoDB
/// one on AWS.
///
/// Cursors grow: every event a user's feed gains has a cursor above every
/// cursor that feed has handed out, so "after N" never misses one and never
/// repeats one. They needn't be dense or per user.
#[async_trait]
pub trait Feed: Send + Sync {
    /// `user`'s events after `after`, oldest first, at most `limit`
    /// (clamped to 1–1,000). The page's cursor is its last event's when
    /// more follow; otherwise it is where the client now stands, never
    /// below `after`. `missed` says events after `after` were dropped for
    /// age before they were read.
    async fn events_after(&self, user: &UserId, after: i64, limit: u32) -> PortResult<FeedPage>;

    /// Where a client that has read all of `user`'s feed stands: a resume
    /// after it returns only events that arrive later.
    async fn latest_cursor(&self, user: &UserId) -> PortResult<i64>;

    /// How long events stay in the feed. A client away longer is told it
    /// missed events and reads what it shows again.
    fn retention(&self) -> Duration;
}

/// The replies to one message from `user`'s browser, in order, each one
/// text frame. A message that can't be read is answered with an error and
/// changes nothing.
pub async fn answer(feed: &dyn Feed, user: &UserId, text: &str) -> Vec<String> {
    let message = match ferry_protocol::live::read_client_message(text) {
        Ok(message) => message,
        Err(error) => return vec![ServerMessage::Error { error }.to_text()],
    };
    match message {
        ClientMessage::Ping => vec![ServerMessage::Pong.to_text()],
        // This server speaks version 1 whatever the client asks for; the
        // client reads the version in the answer.
        ClientMessage::Hello { .. } => vec![
            ServerMessage::Hello {
                cursor: feed.latest_cursor(user).await.ok(),
                version: VERSION,
            }
            .to_text(),
        ],
        ClientMessage::Resume { after } => resume(feed, user, after).await.unwrap_or_else(|_| {
            vec![
                ServerMessage::Error {
                    error: ApiError::new(
                        ErrorCode::Unavailable,
                        "The feed can't be read right now; try again.",
                    ),
                }
                .to_text(),
            ]
        }),
    }
}

/// Every event after `after`, read a page at a time, then `resumed` with
/// where the client now stands (and `missed` when any page said so).
async fn resume(feed: &dyn Feed, user: &UserId, after: i64) -> PortResult<Vec<String>> {
    let (mut after, mut missed, mut lines) = (after, false, Vec::new());
    loop {
        let FeedPage {
            events,
            cursor,
            more,
            missed: dropped,
        } = feed.events_after(user, after, RESUME_PAGE).await?;
        lines.extend(
            events
                .into_iter()
                .map(|item| ServerMessage::event(item.cursor, item.event).to_text()),
        );
        after = cursor;
        missed |= dropped;
        if !more {
            break;
        }
    }
    lines.push(
        ServerMessage::Resumed {
            cursor: after,
            missed,
        }
        .to_text(),
    );
    Ok(lines)
}

/// The feed's contract as tests any adapter must pass (with the notifier
/// that writes it): the SQLite hub (`ferry-server`) and the DynamoDB feed
/// (`ferry-aws`, against moto) run the same tests through
/// [`feed_conformance_tests!`](crate::feed_conformance_tests).
#[cfg(feature = "conformance")]
#[allow(clippy::unwrap_used, clippy::missing_panics_doc, missing_docs)]
pub mod conformance {
    use super::*;
    use crate::ports::Notifier;
    use ferry_protocol::messages::FolderCreatedV1;
    use ferry_protocol::{Event, EventEnvelope, FolderPath, Metadata, Timestamp, TraceId};
    use uuid::Uuid;

    /// What a feed under test is: its notifier writes, its feed reads.
    pub trait NotifyingFeed: Notifier + Feed {}
    impl<T: Notifier + Feed> NotifyingFeed for T {}

    fn user(name: &str) -> UserId {
        UserId::parse(name).unwrap()
    }

    /// An event with this id, made now (so no retention drops it).
    pub fn event(id: Uuid, folder: &str) -> EventEnvelope {
        EventEnvelope::new(
            Metadata {
                event_id: id,
                trace_id: TraceId::from_uuid(id),
                command_id: None,
                occurred_at: Timestamp::from_unix_millis(
                    time::OffsetDateTime::now_utc().unix_timestamp() * 1000,
                )
                .unwrap(),
                producer: "conformance".into(),
                user_id: None,
            },
            Event::FolderCreated(FolderCreatedV1 {
                path: FolderPath::parse(folder).unwrap(),
            }),
        )
    }

    fn ids(page: &FeedPage) -> Vec<String> {
        page.events
            .iter()
            .map(|item| {
                item.event["metadata"]["EventId"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    async fn notify(feed: &dyn NotifyingFeed, owner: &UserId, id: Uuid) -> String {
        feed.notify(owner, &event(id, "f")).await.unwrap();
        id.to_string()
    }

    pub async fn a_users_events_come_back_in_order_and_only_to_them(feed: &dyn NotifyingFeed) {
        let (ann, bob) = (user("ann"), user("bob"));
        let mut anns = Vec::new();
        let mut bobs = Vec::new();
        for turn in 0..3 {
            anns.push(notify(feed, &ann, Uuid::new_v4()).await);
            if turn == 1 {
                bobs.push(notify(feed, &bob, Uuid::new_v4()).await);
            }
        }
        let page = feed.events_after(&ann, 0, 100).await.unwrap();
        assert_eq!(ids(&page), anns);
        assert!(!page.more && !page.missed);
        let cursors: Vec<i64> = page.events.iter().map(|e| e.cursor).collect();
        assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{cursors:?}");
        assert!(page.cursor >= *cursors.last().unwrap());
        assert_eq!(ids(&feed.events_after(&bob, 0, 100).await.unwrap()), bobs);
        let carol = feed.events_after(&user("carol"), 0, 100).await.unwrap();
        assert!(carol.events.is_empty() && !carol.more);
    }

    pub async fn an_event_is_in_a_feed_once_however_often_it_is_delivered(
        feed: &dyn NotifyingFeed,
    ) {
        let (ann, bob) = (user("ann"), user("bob"));
        let id = Uuid::new_v4();
        for owner in [&ann, &ann, &bob, &ann] {
            notify(feed, owner, id).await;
        }
        assert_eq!(
            ids(&feed.events_after(&ann, 0, 100).await.unwrap()),
            [id.to_string()]
        );
        assert_eq!(
            ids(&feed.events_after(&bob, 0, 100).await.unwrap()),
            [id.to_string()]
        );
    }

    pub async fn pages_follow_on_without_gaps_or_repeats(feed: &dyn NotifyingFeed) {
        let ann = user("ann");
        let mut sent = Vec::new();
        for _ in 0..7 {
            sent.push(notify(feed, &ann, Uuid::new_v4()).await);
        }
        let (mut after, mut read, mut sizes) = (0, Vec::new(), Vec::new());
        loop {
            let page = feed.events_after(&ann, after, 3).await.unwrap();
            sizes.push(page.events.len());
            if page.more {
                assert_eq!(page.cursor, page.events.last().unwrap().cursor);
            }
            assert!(page.cursor >= after, "a page's cursor went back");
            read.extend(ids(&page));
            after = page.cursor;
            if !page.more {
                break;
            }
        }
        assert_eq!(sizes, [3, 3, 1]);
        assert_eq!(read, sent);
    }

    pub async fn a_caught_up_client_gets_only_what_comes_later(feed: &dyn NotifyingFeed) {
        let (ann, bob) = (user("ann"), user("bob"));
        let empty = feed.latest_cursor(&ann).await.unwrap();
        let nothing = feed.events_after(&ann, empty, 100).await.unwrap();
        assert!(nothing.events.is_empty() && !nothing.more && !nothing.missed);
        assert!(nothing.cursor >= empty);

        let first = notify(feed, &ann, Uuid::new_v4()).await;
        notify(feed, &bob, Uuid::new_v4()).await;
        let latest = feed.latest_cursor(&ann).await.unwrap();
        let read = feed.events_after(&ann, empty, 100).await.unwrap();
        assert_eq!(ids(&read), [first]);
        assert!(latest >= read.events[0].cursor);
        let caught_up = feed.events_after(&ann, latest, 100).await.unwrap();
        assert!(caught_up.events.is_empty(), "{:?}", caught_up.events);
        assert!(caught_up.cursor >= latest);

        let later = notify(feed, &ann, Uuid::new_v4()).await;
        let read = feed.events_after(&ann, latest, 100).await.unwrap();
        assert_eq!(ids(&read), [later]);
        assert!(read.events[0].cursor > latest);
    }

    pub async fn a_cursor_never_goes_back_and_limits_are_clamped(feed: &dyn NotifyingFeed) {
        let ann = user("ann");
        let first = notify(feed, &ann, Uuid::new_v4()).await;
        notify(feed, &ann, Uuid::new_v4()).await;
        let ahead = feed.events_after(&ann, 1_000_000, 10).await.unwrap();
        assert!(ahead.events.is_empty() && !ahead.more && !ahead.missed);
        assert!(ahead.cursor >= 1_000_000);
        let one = feed.events_after(&ann, 0, 0).await.unwrap();
        assert_eq!(ids(&one), [first]);
        assert!(one.more);
    }

    pub async fn a_resume_through_the_answer_sends_every_event_then_where_to_stand(
        feed: &dyn NotifyingFeed,
    ) {
        let ann = user("ann");
        let mut sent = Vec::new();
        for _ in 0..3 {
            sent.push(notify(feed, &ann, Uuid::new_v4()).await);
        }
        let hello = answer(feed, &ann, r#"{"action":"hello"}"#).await;
        let Some(ServerMessage::Hello {
            cursor: Some(latest),
            version: 1,
        }) = ServerMessage::parse(&hello[0])
        else {
            panic!("{hello:?}");
        };
        let lines = answer(feed, &ann, r#"{"action":"resume","after":0}"#).await;
        let messages: Vec<ServerMessage> = lines
            .iter()
            .map(|l| ServerMessage::parse(l).unwrap())
            .collect();
        let (last, events) = messages.split_last().unwrap();
        let got: Vec<String> = events
            .iter()
            .map(|m| match m {
                ServerMessage::Event {
                    event: Some(event), ..
                } => event["metadata"]["EventId"].as_str().unwrap().to_owned(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(got, sent);
        assert!(
            matches!(last, ServerMessage::Resumed { cursor, missed: false } if *cursor >= latest),
            "{last:?}"
        );
        let none = answer(
            feed,
            &ann,
            &format!(r#"{{"action":"resume","after":{latest}}}"#),
        )
        .await;
        assert_eq!(none.len(), 1, "{none:?}");
        let refused = answer(feed, &ann, r#"{"action":"resume","after":"soon"}"#).await;
        assert!(matches!(
            ServerMessage::parse(&refused[0]),
            Some(ServerMessage::Error { .. })
        ));
    }

    pub async fn the_feed_outlives_a_connection(feed: &dyn NotifyingFeed) {
        // A connection lives at most 2 hours (API Gateway's limit); a
        // client reconnecting after it must still find its events.
        assert!(feed.retention() >= Duration::from_secs(2 * 3600));
    }

    /// Expands to one `#[tokio::test]` per contract test, each given a
    /// fresh feed by `$make` (an expression, `.await` allowed, of type
    /// `(P, impl Sized)` where `P` derefs to a [`NotifyingFeed`] (an `Arc`
    /// or a `Box`): the feed and whatever must live as long as it).
    #[macro_export]
    macro_rules! feed_conformance_tests {
        ($make:expr) => {
            $crate::feed_conformance_tests!(@each $make;
                a_users_events_come_back_in_order_and_only_to_them,
                an_event_is_in_a_feed_once_however_often_it_is_delivered,
                pages_follow_on_without_gaps_or_repeats,
                a_caught_up_client_gets_only_what_comes_later,
                a_cursor_never_goes_back_and_limits_are_clamped,
                a_resume_through_the_answer_sends_every_event_then_where_to_stand,
                the_feed_outlives_a_connection);
        };
        (@each $make:expr; $($name:ident),* $(,)?) => {
            mod feed_conformance {
                use super::*;
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        let (feed, _keep) = $make;
                        $crate::feed::conformance::$name(&*feed).await;
                    }
                )*
            }
        };
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use ferry_protocol::api::FeedItem;
    use serde_json::json;
    use std::sync::Mutex;

    /// A feed of fixed pages that records what it was asked.
    struct Pages {
        pages: Vec<PortResult<FeedPage>>,
        asked: Mutex<Vec<(i64, u32)>>,
    }

    #[async_trait]
    impl Feed for Pages {
        async fn events_after(&self, _: &UserId, after: i64, limit: u32) -> PortResult<FeedPage> {
            let mut asked = self.asked.lock().unwrap();
            asked.push((after, limit));
            self.pages[asked.len() - 1].clone()
        }
        async fn latest_cursor(&self, _: &UserId) -> PortResult<i64> {
            Err(crate::ports::PortError::Unavailable("down".into()))
        }
        fn retention(&self) -> Duration {
            Duration::from_secs(7 * 86_400)
        }
    }

    fn item(cursor: i64) -> FeedItem {
        FeedItem {
            cursor,
            event: json!({"n": cursor}),
        }
    }

    fn user() -> UserId {
        UserId::parse("ann").unwrap()
    }

    #[tokio::test]
    async fn a_resume_reads_every_page_and_says_when_one_missed_events() {
        let feed = Pages {
            pages: vec![
                Ok(FeedPage {
                    events: vec![item(4)],
                    cursor: 4,
                    more: true,
                    missed: true,
                }),
                Ok(FeedPage {
                    events: vec![item(9)],
                    cursor: 12,
                    more: false,
                    missed: false,
                }),
            ],
            asked: Mutex::default(),
        };
        let lines = answer(&feed, &user(), r#"{"action":"resume","after":1}"#).await;
        assert_eq!(
            *feed.asked.lock().unwrap(),
            [(1, RESUME_PAGE), (4, RESUME_PAGE)]
        );
        let lines: Vec<_> = lines
            .iter()
            .map(|l| ServerMessage::parse(l).unwrap())
            .collect();
        assert_eq!(
            lines,
            [
                ServerMessage::event(4, json!({"n": 4})),
                ServerMessage::event(9, json!({"n": 9})),
                ServerMessage::Resumed {
                    cursor: 12,
                    missed: true
                }
            ]
        );
    }

    #[tokio::test]
    async fn a_feed_that_cant_be_read_is_said_and_a_hello_still_answered() {
        let feed = Pages {
            pages: vec![Err(crate::ports::PortError::Unavailable("down".into()))],
            asked: Mutex::default(),
        };
        let lines = answer(&feed, &user(), r#"{"action":"resume","after":1}"#).await;
        assert!(matches!(
            ServerMessage::parse(&lines[0]),
            Some(ServerMessage::Error { error }) if error.code == ErrorCode::Unavailable
        ));
        let hello = answer(&feed, &user(), r#"{"action":"hello","version":2}"#).await;
        assert_eq!(
            ServerMessage::parse(&hello[0]),
            Some(ServerMessage::Hello {
                cursor: None,
                version: 1
            })
        );
        assert_eq!(
            answer(&feed, &user(), r#"{"action":"ping"}"#).await,
            [r#"{"type":"pong"}"#]
        );
    }

    #[tokio::test]
    async fn an_unreadable_message_is_refused_and_reads_nothing() {
        let feed = Pages {
            pages: Vec::new(),
            asked: Mutex::default(),
        };
        for text in [
            "{",
            r#"{"action":"dance"}"#,
            r#"{"action":"resume","after":[]}"#,
        ] {
            let lines = answer(&feed, &user(), text).await;
            assert!(
                matches!(
                    ServerMessage::parse(&lines[0]),
                    Some(ServerMessage::Error { error }) if error.code == ErrorCode::MalformedRequest
                ),
                "{text}: {lines:?}"
            );
        }
        assert!(feed.asked.lock().unwrap().is_empty());
    }
}
