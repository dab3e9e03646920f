//! The deleter: `DeleteFile` and `DeleteFolder` move to the trash.

use super::*;
use ferry_core::ports::Index as _;
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
async fn a_deleted_file_goes_to_the_trash_with_its_bytes_and_is_announced_once() {
    let world = World::new();
    let id = world.upload("docs", "plan.txt", b"twelve bytes").await;
    let delete = world.send(delete_file(id)).await;
    world.stack.settle().await.unwrap();
    let record = world.record(id).unwrap();
    assert_eq!(record.status, FileStatus::Trashed);
    assert_eq!(record.trash_id, Some(delete));
    assert_eq!(world.stack.objects.keys(), [world.key(id)]);
    let trashed = world.published("FileTrashed");
    assert_eq!(trashed.len(), 1);
    assert_eq!(trashed[0]["TrashId"], delete.to_string());
    assert!(world.published("FileDeleted").is_empty());
    assert_eq!(
        world.outcome(delete),
        (CommandStatus::Succeeded, Some("FileTrashed".into()))
    );
    let trash = world.trash();
    assert_eq!(trash.len(), 1);
    assert_eq!(
        (trash[0].name.as_str(), trash[0].path.as_str()),
        ("plan.txt", "docs")
    );
    assert_eq!(trash[0].bytes, 12);
    // Its name is free, and its bytes still count, apart.
    world.upload("docs", "plan.txt", b"new").await;
    let usage = world.stack.index.usage(&world.ann.user).await.unwrap();
    assert_eq!((usage.bytes, usage.trash_bytes, usage.files), (15, 12, 1));
}

#[tokio::test]
async fn a_file_delete_stopped_at_any_step_ends_like_the_clean_run() {
    let steps = every_crash_ends_like_the_clean_run(
        a_file_and_its_delete,
        Run::Deliver,
        Repair::Redelivery,
    )
    .await;
    assert!(steps >= 4, "{steps}");
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
async fn deleting_a_file_already_in_the_trash_fails_and_changes_nothing() {
    let world = World::new();
    let id = world.upload("", "x.txt", b"x").await;
    let first = world.send(delete_file(id)).await;
    let second = world.send(delete_file(id)).await;
    world.stack.settle().await.unwrap();
    assert_eq!(
        world.outcome(first),
        (CommandStatus::Succeeded, Some("FileTrashed".into()))
    );
    assert_eq!(
        world.outcome(second),
        (CommandStatus::Failed, Some("CommandFailed".into()))
    );
    assert_eq!(
        world.published("CommandFailed")[0]["Message"],
        "The file is already in the trash."
    );
    assert_eq!(world.record(id).unwrap().trash_id, Some(first));
    assert_eq!(world.trash().len(), 1);
    // Once settled, the API refuses it up front.
    let refused = world
        .send_as(&world.ann, delete_file(id))
        .await
        .unwrap_err();
    assert_eq!(refused.message, "The file is already in the trash.");
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
async fn a_deleted_folder_goes_to_the_trash_as_one_item_with_its_files() {
    let world = a_folder_and_its_delete().await;
    world.stack.settle().await.unwrap();
    assert_eq!(
        world.listing(),
        [
            "kept/d.txt available",
            "old/a.txt trashed",
            "old/deeper/b.txt trashed",
            "old/deeper/c.txt trashed"
        ]
    );
    assert_eq!(world.stack.objects.keys().len(), 4);
    let trashed = world.published("FolderTrashed");
    assert_eq!(trashed.len(), 1);
    assert_eq!(trashed[0]["FilesTrashed"], 3);
    // Its files go quietly: the folder's event says it all.
    assert!(world.published("FileTrashed").is_empty());
    assert!(world.published("FileDeleted").is_empty());
    assert!(
        !world
            .stack
            .index
            .all_folders()
            .iter()
            .any(|f| f.starts_with("ann:old"))
    );
    let trash = world.trash();
    assert_eq!(trash.len(), 1);
    assert_eq!((trash[0].files, trash[0].bytes), (3, 6));
    assert_eq!(
        trash[0]
            .folders
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>(),
        ["old", "old/deeper"]
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
