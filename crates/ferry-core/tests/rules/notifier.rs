//! The notifier: each of Ferry's events pushed to its owner.

use super::*;

async fn two_users_uploading() -> World {
    let world = World::new();
    let a = world.create("", "a.txt", 1, ConflictPolicy::Fail).await;
    world.put(a, b"a");
    let command = Command::CreateFile(CreateFileV1 {
        folder: FolderPath::root(),
        name: file_name("b.txt"),
        size: 1,
        content_type: "text/plain".into(),
        sha256: None,
        on_conflict: ConflictPolicy::Fail,
    });
    let CommandAnswer::Created(created) = world.send_as(&world.bob, command).await.unwrap().0
    else {
        panic!("a file")
    };
    world
        .stack
        .objects
        .put(&world.bob.user.object_key(created.file.file_id), b"b");
    world
}

#[tokio::test]
async fn each_event_is_pushed_to_its_owner_only() {
    let world = two_users_uploading().await;
    world.stack.settle().await.unwrap();
    let pushed = world.stack.notifier.pushed();
    assert_eq!(pushed.len(), 2);
    for (user, event) in pushed {
        assert_eq!(event.metadata().user_id.as_deref(), Some(user.as_str()));
    }
}

#[tokio::test]
async fn a_push_that_fails_is_made_on_redelivery() {
    let world = two_users_uploading().await;
    let before = world.stack.faults.count();
    let clean = two_users_uploading().await;
    clean.stack.settle().await.unwrap();
    let steps = clean.stack.faults.calls_since(before);
    let push = steps.iter().position(|s| *s == "notifier.notify").unwrap();
    world.stack.faults.fail_call(push + 1);
    assert!(world.stack.settle().await.is_err());
    world.stack.settle().await.unwrap();
    assert_eq!(world.snapshot(), clean.snapshot());
}

#[tokio::test]
async fn pushes_stopped_at_any_step_end_like_the_clean_run() {
    every_crash_ends_like_the_clean_run(two_users_uploading, Run::Deliver, Repair::Redelivery)
        .await;
}

#[tokio::test]
async fn events_delivered_in_any_order_each_reach_their_owner() {
    let world = two_users_uploading().await;
    // The uploads land; their events wait for the notifier.
    for delivery in world.stack.bus.take() {
        world.stack.deliver(&delivery).await.unwrap();
    }
    let mut waiting = world.stack.bus.take();
    // The thumbnailer hears of the new files too (it takes no text file).
    assert!(
        waiting
            .iter()
            .all(|d| d.rule == "notifier" || d.rule == "thumbnailer")
    );
    waiting.retain(|d| d.rule == "notifier");
    assert!(!waiting.is_empty());
    waiting.reverse();
    for delivery in &waiting {
        world.stack.deliver(delivery).await.unwrap();
    }
    let mut owners: Vec<String> = world
        .stack
        .notifier
        .pushed()
        .into_iter()
        .map(|(user, _)| user.to_string())
        .collect();
    owners.sort();
    assert_eq!(owners, ["ann", "bob"]);
}

#[tokio::test]
async fn an_event_without_an_owner_is_not_pushed() {
    let world = World::new();
    let event = serde_json::json!({
        "id": Uuid::from_u128(7).to_string(),
        "source": "ferry.files",
        "detail-type": "FileDeleted",
        "detail": {"metadata": {}, "data": {"Action": "FileDeleted"}},
    });
    world
        .stack
        .consumers
        .deliver("notifier", &event)
        .await
        .unwrap();
    assert!(world.stack.notifier.pushed().is_empty());
}
