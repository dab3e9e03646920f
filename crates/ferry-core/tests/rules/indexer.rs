//! The indexer: the object store's `Object Created` and `Object Deleted`.

use super::*;

async fn an_upload_landing() -> World {
    let world = World::new();
    let id = world
        .create("photos", "cat.jpg", 5, ConflictPolicy::Fail)
        .await;
    world.put(id, b"meow!");
    world
}

async fn an_upload_replacing_an_older_file() -> World {
    let world = World::new();
    world.upload("", "report.pdf", b"version one").await;
    let id = world
        .create("", "report.pdf", 11, ConflictPolicy::Replace)
        .await;
    world.put(id, b"version two");
    world
}

async fn an_object_deleted_behind_ferrys_back() -> World {
    let world = World::new();
    let id = world.upload("", "x.txt", b"x").await;
    world.stack.objects.remove(&world.key(id));
    world
}

#[tokio::test]
async fn an_upload_becomes_available_when_its_object_lands() {
    let world = an_upload_landing().await;
    let id = world.stack.index.all_files()[0].file_id;
    world.stack.settle().await.unwrap();
    let file = world.record(id).unwrap();
    assert_eq!(file.status, FileStatus::Available);
    // The store's SHA-256 of the whole object is kept with it.
    assert_eq!(file.sha256.as_deref().map(str::len), Some(64));
    assert_eq!(world.published("FileCreated").len(), 1);
    let create = file.command_id.unwrap();
    assert_eq!(
        world.outcome(create),
        (CommandStatus::Succeeded, Some("FileCreated".into()))
    );
}

#[tokio::test]
async fn an_upload_indexed_with_a_stop_at_any_step_ends_like_the_clean_run() {
    let steps =
        every_crash_ends_like_the_clean_run(an_upload_landing, Run::Deliver, Repair::Redelivery)
            .await;
    assert!(steps >= 6, "{steps}");
}

#[tokio::test]
async fn a_replacing_upload_takes_the_name_and_the_older_file_becomes_its_version() {
    let world = an_upload_replacing_an_older_file().await;
    world.stack.settle().await.unwrap();
    assert_eq!(
        world.listing(),
        ["/report.pdf available", "/report.pdf version"]
    );
    assert_eq!(world.stack.objects.keys().len(), 2);
    assert!(world.published("FileDeleted").is_empty());
    assert_eq!(world.published("FileCreated").len(), 2);
}

#[tokio::test]
async fn a_replacing_upload_indexed_with_a_stop_at_any_step_ends_like_the_clean_run() {
    every_crash_ends_like_the_clean_run(
        an_upload_replacing_an_older_file,
        Run::Deliver,
        Repair::Redelivery,
    )
    .await;
}

#[tokio::test]
async fn a_redelivered_object_created_announces_nothing_new() {
    let world = an_upload_replacing_an_older_file().await;
    world.stack.settle().await.unwrap();
    let once = world.snapshot();
    redeliver_everything(&world).await;
    assert_eq!(world.snapshot(), once);
}

#[tokio::test]
async fn an_object_deleted_behind_ferrys_back_drops_its_file() {
    let world = an_object_deleted_behind_ferrys_back().await;
    world.stack.settle().await.unwrap();
    assert!(world.listing().is_empty());
    assert_eq!(world.published("FileDeleted").len(), 1);
}

/// Once the file is marked deleting, the indexer leaves it alone (it can't
/// tell its own removal from the deleter's): a stop after that step is the
/// sweep's to finish.
#[tokio::test]
async fn an_object_deleted_behind_ferrys_back_with_a_stop_at_any_step_ends_like_the_clean_run_once_swept()
 {
    every_crash_ends_like_the_clean_run(
        an_object_deleted_behind_ferrys_back,
        Run::Deliver,
        Repair::RedeliveryAndSweep,
    )
    .await;
}

#[tokio::test]
async fn an_object_deleted_behind_ferrys_back_is_left_to_the_sweep_only_once_marked_deleting() {
    let crashes = crash_at_every_step(
        an_object_deleted_behind_ferrys_back,
        Run::Deliver,
        Repair::Redelivery,
    )
    .await;
    assert_eq!(
        crashes.diverged,
        [
            (4, "objects.delete"),
            (5, "bus.put"),
            (6, "index.remove_file")
        ]
    );
}

#[tokio::test]
async fn an_object_created_that_arrives_after_its_object_is_gone_changes_nothing() {
    let world = World::new();
    let id = world.create("", "brief.txt", 5, ConflictPolicy::Fail).await;
    world.put(id, b"brief");
    world.stack.objects.remove(&world.key(id));
    // `Object Deleted` first, `Object Created` after.
    let mut deliveries = world.stack.bus.take();
    deliveries.reverse();
    for delivery in &deliveries {
        world.stack.deliver(delivery).await.unwrap();
    }
    world.stack.settle().await.unwrap();
    assert_eq!(world.record(id).unwrap().status, FileStatus::Uploading);
    assert!(world.published("FileCreated").is_empty());
}

#[tokio::test]
async fn an_object_nobody_asked_for_is_deleted() {
    let world = World::new();
    let key = world.key(Uuid::from_u128(42));
    world.stack.objects.put(&key, b"stray");
    world.stack.settle().await.unwrap();
    assert!(world.stack.objects.keys().is_empty());
    assert!(world.listing().is_empty());
}

#[tokio::test]
async fn objects_outside_the_users_prefix_are_not_the_indexers_business() {
    let world = World::new();
    world.stack.objects.put("site/index.html", b"<html>");
    world.stack.settle().await.unwrap();
    assert_eq!(world.stack.objects.keys(), ["site/index.html"]);
}
