//! The deleter: `DeleteFile` and `DeleteFolder`.

use super::*;
use ferry_core::testing::Delivery;

async fn a_file_and_its_delete() -> World {
    let world = World::new();
    let id = world.upload("docs", "plan.txt", b"twelve bytes").await;
    world.send(delete_file(id)).await;
    world
}

async fn a_folder_and_its_delete() -> World {
    let world = World::new();
    world.upload("old", "a.txt", b"a").await;
    world.upload("old/deeper", "b.txt", b"bb").await;
    world.upload("old/deeper", "c.txt", b"ccc").await;
    world.upload("kept", "d.txt", b"dddd").await;
    world.send(delete_folder("old")).await;
    world
}

#[tokio::test]
async fn a_deleted_file_is_gone_with_its_object_and_announced_once() {
    let world = World::new();
    let id = world.upload("docs", "plan.txt", b"twelve bytes").await;
    let delete = world.send(delete_file(id)).await;
    world.stack.settle().await.unwrap();
    assert_eq!(world.record(id), None);
    assert!(world.stack.objects.keys().is_empty());
    assert_eq!(world.published("FileDeleted").len(), 1);
    assert_eq!(
        world.outcome(delete),
        (CommandStatus::Succeeded, Some("FileDeleted".into()))
    );
}

#[tokio::test]
async fn a_file_delete_stopped_at_any_step_ends_like_the_clean_run() {
    let steps = every_crash_ends_like_the_clean_run(
        a_file_and_its_delete,
        Run::Deliver,
        Repair::Redelivery,
    )
    .await;
    assert!(steps >= 8, "{steps}");
}

#[tokio::test]
async fn a_redelivered_file_delete_changes_nothing() {
    let world = a_file_and_its_delete().await;
    world.stack.settle().await.unwrap();
    let once = world.snapshot();
    redeliver_everything(&world).await;
    assert_eq!(world.snapshot(), once);
}

#[tokio::test]
async fn deleting_a_file_already_gone_fails_as_not_found() {
    let world = World::new();
    let id = world.upload("", "x.txt", b"x").await;
    let first = world.send(delete_file(id)).await;
    let second = world.send(delete_file(id)).await;
    world.stack.settle().await.unwrap();
    assert_eq!(
        world.outcome(first),
        (CommandStatus::Succeeded, Some("FileDeleted".into()))
    );
    assert_eq!(
        world.outcome(second),
        (CommandStatus::Failed, Some("CommandFailed".into()))
    );
    assert_eq!(
        world.published("CommandFailed")[0]["Message"],
        "The file was already gone."
    );
}

#[tokio::test]
async fn a_delete_delivered_before_its_upload_lands_leaves_neither_file_nor_object() {
    let world = World::new();
    let id = world.create("", "late.bin", 4, ConflictPolicy::Fail).await;
    world.put(id, b"late");
    let delete = world.send(delete_file(id)).await;
    // The delete first, the object's arrival after.
    let mut deliveries: Vec<Delivery> = world.stack.bus.take();
    deliveries.reverse();
    for delivery in &deliveries {
        world.stack.deliver(delivery).await.unwrap();
    }
    world.stack.settle().await.unwrap();
    assert_eq!(world.record(id), None);
    assert!(world.stack.objects.keys().is_empty());
    assert!(world.published("FileCreated").is_empty());
    assert_eq!(world.outcome(delete).0, CommandStatus::Succeeded);
}

#[tokio::test]
async fn a_deleted_folder_takes_its_files_and_counts_them() {
    let world = a_folder_and_its_delete().await;
    world.stack.settle().await.unwrap();
    assert_eq!(world.listing(), ["kept/d.txt available"]);
    assert_eq!(world.stack.objects.keys().len(), 1);
    let deleted = world.published("FolderDeleted");
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["FilesDeleted"], 3);
    // Its files go quietly: the folder's event says it all.
    assert!(world.published("FileDeleted").is_empty());
    assert!(
        !world
            .stack
            .index
            .all_folders()
            .iter()
            .any(|f| f.starts_with("ann:old"))
    );
}

#[tokio::test]
async fn a_folder_delete_stopped_at_any_step_ends_like_the_clean_run() {
    let steps = every_crash_ends_like_the_clean_run(
        a_folder_and_its_delete,
        Run::Deliver,
        Repair::Redelivery,
    )
    .await;
    assert!(steps >= 15, "{steps}");
}

#[tokio::test]
async fn a_redelivered_folder_delete_changes_nothing() {
    let world = a_folder_and_its_delete().await;
    world.stack.settle().await.unwrap();
    let once = world.snapshot();
    redeliver_everything(&world).await;
    assert_eq!(world.snapshot(), once);
}

#[tokio::test]
async fn deleting_a_folder_already_gone_fails_as_not_found() {
    let world = World::new();
    world.upload("tmp", "x", b"x").await;
    let first = world.send(delete_folder("tmp")).await;
    let second = world.send(delete_folder("tmp")).await;
    world.stack.settle().await.unwrap();
    assert_eq!(world.outcome(first).0, CommandStatus::Succeeded);
    assert_eq!(world.outcome(second).0, CommandStatus::Failed);
    assert_eq!(
        world.published("CommandFailed")[0]["Message"],
        "The folder was already gone."
    );
}
