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
    let (_, sqs, queues) = common::bus_with_queues(&moto, BUS).await;
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
        for event in common::receive_all(&sqs, url).await {
            assert_eq!(event["source"], json!(entry_source(&event)));
            seen.push((
                event["detail-type"].as_str().unwrap().to_owned(),
                event["detail"].clone(),
            ));
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
