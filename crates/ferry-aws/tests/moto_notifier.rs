//! The notifier on AWS: the feed and the connections in DynamoDB (moto's
//! server mode), pushes through the management API. moto's `@connections`
//! accepts every post and keeps no record a test can read, and never
//! answers `410 Gone`; so the pushes' content and the cleanup of a gone
//! connection are checked against a recording stand-in for the management
//! API on loopback, and moto shows the SDK's requests are well-formed.

#![allow(clippy::unwrap_used)]

mod common;

use common::{management_stand_in, settings, start_moto};
use ferry_aws::{ApiGatewayNotifier, DynamoIndex};
use ferry_core::feed::Feed;
use ferry_core::model::UserId;
use ferry_core::ports::Notifier;
use ferry_protocol::messages::FileDeletedV1;
use ferry_protocol::{Event, EventEnvelope, FileName, FolderPath, Metadata, Timestamp, TraceId};
use serde_json::Value;
use std::collections::HashSet;
use uuid::Uuid;

fn user(sub: &str) -> UserId {
    UserId::parse(sub).unwrap()
}

fn deleted(owner: &UserId, name: &str) -> EventEnvelope {
    EventEnvelope::new(
        Metadata {
            event_id: Uuid::new_v4(),
            trace_id: TraceId::from_uuid(Uuid::new_v4()),
            command_id: None,
            occurred_at: Timestamp::from_unix_millis(1_767_225_600_000).unwrap(),
            producer: "deleter".into(),
            user_id: Some(owner.as_str().into()),
        },
        Event::FileDeleted(FileDeletedV1 {
            file_id: Uuid::new_v4(),
            folder: FolderPath::root(),
            name: FileName::parse(name).unwrap(),
            version: 2,
        }),
    )
}

async fn tables(moto: &common::Moto, management: &str) -> ApiGatewayNotifier {
    let settings = settings(moto);
    DynamoIndex::new(&settings, "ferry-files")
        .create_table()
        .await
        .unwrap();
    let notifier = ApiGatewayNotifier::new(
        &settings,
        "ferry-files",
        "ferry-connections",
        Some(management),
    );
    notifier.create_connections_table().await.unwrap();
    notifier
}

// The feed's contract, as the local hub runs it too (no management API:
// the pushes are checked above and below, not by the contract).
ferry_core::feed_conformance_tests!({
    let moto = start_moto();
    let settings = settings(&moto);
    DynamoIndex::new(&settings, "ferry-files")
        .create_table()
        .await
        .unwrap();
    let notifier = ApiGatewayNotifier::new(&settings, "ferry-files", "ferry-connections", None);
    (Box::new(notifier), moto)
});

#[tokio::test]
async fn events_reach_only_their_users_connections_once_and_stay_in_the_feed() {
    let moto = start_moto();
    let (url, received) = management_stand_in(HashSet::from(["gone-1".to_owned()])).await;
    let notifier = tables(&moto, &url).await;
    let (ann, bob) = (user("ann"), user("bob"));
    let now = Timestamp::from_unix_millis(1_767_225_600_000).unwrap();
    for (id, owner) in [
        ("ann-1", &ann),
        ("ann-2", &ann),
        ("gone-1", &ann),
        ("bob-1", &bob),
    ] {
        notifier.connect(id, owner, now).await.unwrap();
    }
    assert_eq!(notifier.user_of("ann-1").await.unwrap(), Some(ann.clone()));
    assert_eq!(notifier.latest_cursor(&ann).await.unwrap(), 0);

    let first = deleted(&ann, "a.txt");
    notifier.notify(&ann, &first).await.unwrap();
    // Delivered again (the bus delivers at least once): one feed entry, no
    // second push.
    notifier.notify(&ann, &first).await.unwrap();
    let mut pushed = received.lock().unwrap().clone();
    pushed.sort();
    let ids: Vec<&str> = pushed.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["ann-1", "ann-2"]);
    let message: Value = serde_json::from_str(&pushed[0].1).unwrap();
    assert_eq!(message["type"], "event");
    assert_eq!(message["cursor"], 1);
    assert_eq!(
        message["event"]["metadata"]["EventId"],
        first.metadata().event_id.to_string()
    );
    // The gone connection was forgotten; the others kept.
    assert_eq!(notifier.user_of("gone-1").await.unwrap(), None);
    let mut open = notifier.connections(&ann).await.unwrap();
    open.sort();
    assert_eq!(open, ["ann-1", "ann-2"]);

    let second = deleted(&ann, "b.txt");
    notifier.notify(&ann, &second).await.unwrap();
    assert_eq!(notifier.latest_cursor(&ann).await.unwrap(), 2);
    let page = notifier.events_after(&ann, 0, 10).await.unwrap();
    let cursors: Vec<i64> = page.events.iter().map(|e| e.cursor).collect();
    assert_eq!(cursors, [1, 2]);
    assert_eq!(page.cursor, 2);
    assert!(!page.more);
    assert_eq!(
        page.events[1].event["metadata"]["EventId"],
        second.metadata().event_id.to_string()
    );
    let paged = notifier.events_after(&ann, 0, 1).await.unwrap();
    assert_eq!((paged.events.len(), paged.cursor, paged.more), (1, 1, true));
    let rest = notifier.events_after(&ann, 1, 10).await.unwrap();
    assert_eq!(rest.events.len(), 1);
    assert_eq!(rest.events[0].cursor, 2);
    // Bob saw nothing of Ann's.
    assert!(received.lock().unwrap().iter().all(|(id, _)| id != "bob-1"));
    let bobs = notifier.events_after(&bob, 0, 10).await.unwrap();
    assert!(bobs.events.is_empty());
    assert_eq!(bobs.cursor, 0);

    notifier.disconnect("ann-2").await.unwrap();
    assert_eq!(notifier.connections(&ann).await.unwrap(), ["ann-1"]);
}

#[tokio::test]
async fn moto_takes_the_pushes_the_sdk_sends() {
    let moto = start_moto();
    let notifier = tables(&moto, &moto.url).await;
    let ann = user("ann");
    let now = Timestamp::from_unix_millis(1_767_225_600_000).unwrap();
    notifier.connect("c1", &ann, now).await.unwrap();
    assert!(notifier.send("c1", "{\"type\":\"pong\"}").await.unwrap());
    notifier
        .notify(&ann, &deleted(&ann, "a.txt"))
        .await
        .unwrap();
    assert_eq!(notifier.latest_cursor(&ann).await.unwrap(), 1);
}

#[test]
fn the_template_creates_the_connections_table_the_notifier_reads() {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/aws/template.yaml"
    ))
    .unwrap();
    let at = template
        .find("\n  ConnectionsTable:\n")
        .expect("ConnectionsTable");
    let table = &template[at..at + template[at..].find("\n\n").unwrap()];
    for line in [
        "- AttributeName: connection_id\n          AttributeType: S",
        "- AttributeName: user_id\n          AttributeType: S",
        "KeySchema:\n        - AttributeName: connection_id\n          KeyType: HASH",
        &format!("- IndexName: {}", ferry_aws::notifier::BY_USER),
        "- AttributeName: user_id\n              KeyType: HASH",
        "ProjectionType: KEYS_ONLY",
        "AttributeName: expires_at\n        Enabled: true",
    ] {
        assert!(table.contains(line), "ConnectionsTable lacks {line:?}");
    }
}

/// Cursors are taken and written in one transaction: invocations racing for
/// one user write every cursor once, in order, with no hole; a hole a reader
/// meets is an event dropped for age, and the page says it missed events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_invocations_write_dense_cursors_and_a_hole_reads_as_missed() {
    let moto = start_moto();
    let (url, _received) = management_stand_in(HashSet::new()).await;
    let notifier = tables(&moto, &url).await;
    let ann = user("ann");
    let events: Vec<EventEnvelope> = (0..6).map(|n| deleted(&ann, &format!("{n}.txt"))).collect();
    let mut racing = Vec::new();
    for event in events.iter().cloned().chain(events.iter().take(2).cloned()) {
        let (notifier, ann) = (notifier.clone(), ann.clone());
        racing.push(tokio::spawn(async move {
            notifier.notify(&ann, &event).await.unwrap();
        }));
    }
    for task in racing {
        task.await.unwrap();
    }
    let page = notifier.events_after(&ann, 0, 100).await.unwrap();
    let cursors: Vec<i64> = page.events.iter().map(|e| e.cursor).collect();
    assert_eq!(cursors, [1, 2, 3, 4, 5, 6]);
    let ids: HashSet<String> = page
        .events
        .iter()
        .map(|e| e.event["metadata"]["EventId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 6, "each event once");
    assert!(!page.missed);

    // TTL drops cursor 3 (as DynamoDB would once it expired).
    let dynamo = aws_sdk_dynamodb::Client::new(&settings(&moto).sdk_config());
    dynamo
        .delete_item()
        .table_name("ferry-files")
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("U#ann".into()),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("E#{:020}", 3)),
        )
        .send()
        .await
        .unwrap();
    assert!(notifier.events_after(&ann, 0, 100).await.unwrap().missed);
    assert!(notifier.events_after(&ann, 2, 100).await.unwrap().missed);
    assert!(!notifier.events_after(&ann, 3, 100).await.unwrap().missed);
    // The newest dropped too: nothing to read, and still missed.
    for cursor in [4, 5, 6] {
        dynamo
            .delete_item()
            .table_name("ferry-files")
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S("U#ann".into()),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("E#{cursor:020}")),
            )
            .send()
            .await
            .unwrap();
    }
    let emptied = notifier.events_after(&ann, 3, 100).await.unwrap();
    assert!(emptied.events.is_empty() && emptied.missed && emptied.cursor == 6);
    assert!(!notifier.events_after(&ann, 6, 100).await.unwrap().missed);
}
