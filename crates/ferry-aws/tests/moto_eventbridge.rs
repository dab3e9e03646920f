//! The bus on EventBridge, against moto's server mode: Ferry's rules
//! (`ferry_core::consumers::rules()`, as the SAM template has them), each
//! feeding an SQS queue, on a custom bus; entries put through the adapter
//! (more than one `PutEvents` batch) reach exactly the queues of the
//! consumers the local bus would feed, with their envelopes intact. moto
//! matches the patterns with its own implementation of EventBridge's rules.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

mod common;

use common::{settings, start_moto};
use ferry_aws::EventBridgeBus;
use ferry_core::consumers::rules;
use ferry_core::ports::{Bus, BusEntry};
use serde_json::{Value, json};
use std::collections::BTreeMap;

const BUS: &str = "ferry-test-bus";

fn entry(source: &str, detail_type: &str, n: u32) -> BusEntry {
    BusEntry {
        source: source.into(),
        detail_type: detail_type.into(),
        detail: json!({
            "metadata": {"eventId": format!("00000000-0000-4000-8000-{n:012}"), "traceId": "1-0-0"},
            "data": {"n": n, "name": "ü & notes.txt"}
        }),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_reach_exactly_the_consumers_the_local_bus_feeds() {
    let moto = start_moto();
    let settings = settings(&moto);
    let region = aws_sdk_eventbridge::config::Region::new(settings.region.clone());
    let events = aws_sdk_eventbridge::Client::from_conf(
        aws_sdk_eventbridge::Config::builder()
            .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
            .region(region.clone())
            .credentials_provider(settings.credentials.clone())
            .endpoint_url(&moto.url)
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::Config::builder()
            .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
            .region(aws_sdk_sqs::config::Region::new(settings.region.clone()))
            .credentials_provider(settings.credentials.clone())
            .endpoint_url(&moto.url)
            .build(),
    );
    events.create_event_bus().name(BUS).send().await.unwrap();
    let mut queues = BTreeMap::new();
    for (name, pattern) in rules() {
        let url = sqs
            .create_queue()
            .queue_name(format!("ferry-{name}"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();
        events
            .put_rule()
            .name(name)
            .event_bus_name(BUS)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .unwrap();
        events
            .put_targets()
            .rule(name)
            .event_bus_name(BUS)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id(name)
                    .arn(arn)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        queues.insert(name, url);
    }

    // Twelve entries: two PutEvents batches.
    let mut entries = vec![
        entry("ferry.commands", "DeleteFile", 1),
        entry("ferry.commands", "MoveFile", 2),
        entry("ferry.commands", "CreateFolder", 3),
        entry("aws.s3", "Object Created", 4),
        // A command no rule takes (the API carries it out itself).
        entry("ferry.commands", "CreateFile", 5),
    ];
    entries.extend((6..=12).map(|n| entry("ferry.files", "FileCreated", n)));
    let bus = EventBridgeBus::new(&settings, BUS);
    bus.put(entries.clone()).await.unwrap();

    let mut got: BTreeMap<&str, Vec<(String, Value)>> = BTreeMap::new();
    for (name, url) in &queues {
        let mut seen = Vec::new();
        loop {
            let out = sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            for message in messages {
                let event: Value = serde_json::from_str(message.body().unwrap()).unwrap();
                assert_eq!(event["source"], json!(entry_source(&event)));
                seen.push((
                    event["detail-type"].as_str().unwrap().to_owned(),
                    event["detail"].clone(),
                ));
                sqs.delete_message()
                    .queue_url(url)
                    .receipt_handle(message.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
        seen.sort_by_key(|(_, d)| d["data"]["n"].as_u64());
        got.insert(name, seen);
    }
    let expect = |numbers: &[u32]| -> Vec<(String, Value)> {
        numbers
            .iter()
            .map(|&n| {
                let e = &entries[n as usize - 1];
                (e.detail_type.clone(), e.detail.clone())
            })
            .collect()
    };
    assert_eq!(got["deleter"], expect(&[1]));
    assert_eq!(got["mover"], expect(&[2, 3]));
    assert_eq!(got["indexer"], expect(&[4]));
    assert_eq!(got["notifier"], expect(&[6, 7, 8, 9, 10, 11, 12]));
}

/// An EventBridge event's source, as its detail-type implies.
fn entry_source(event: &Value) -> &'static str {
    match event["detail-type"].as_str() {
        Some("Object Created" | "Object Deleted") => "aws.s3",
        Some("FileCreated") => "ferry.files",
        _ => "ferry.commands",
    }
}
