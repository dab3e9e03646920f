//! The trash: restoring an item (a file, a folder with all it held), what a
//! taken name does, purging one item or all, the retention, and a crash at
//! any step of each.

use super::*;
use ferry_core::ports::Index as _;
use ferry_protocol::messages::{EmptyTrashV1, PurgeTrashItemV1, RestoreTrashItemV1};

pub fn restore(trash_id: Uuid, policy: ConflictPolicy) -> Command {
    Command::RestoreTrashItem(RestoreTrashItemV1 {
        trash_id,
        on_conflict: policy,
    })
}

pub fn purge(trash_id: Uuid) -> Command {
    Command::PurgeTrashItem(PurgeTrashItemV1 { trash_id })
}

/// A file deleted to the trash and a folder with two files too, settled.
async fn a_trashed_file_and_folder() -> (World, Uuid, Uuid, Uuid) {
    let world = World::new();
    let file = world.upload("docs", "plan.txt", b"plan").await;
    world.upload("old", "a.txt", b"a").await;
    world.upload("old/empty-later", "b.txt", b"bb").await;
    world.stack.settle().await.unwrap();
    world.send(create_folder("old/empty")).await;
    let file_trash = world.send(delete_file(file)).await;
    let folder_trash = world.send(delete_folder("old")).await;
    world.stack.settle().await.unwrap();
    (world, file, file_trash, folder_trash)
}

async fn a_file_and_its_restore() -> World {
    let (world, _, file_trash, _) = a_trashed_file_and_folder().await;
    world.send(restore(file_trash, ConflictPolicy::Fail)).await;
    world
}

async fn a_folder_and_its_restore() -> World {
    let (world, _, _, folder_trash) = a_trashed_file_and_folder().await;
    world
        .send(restore(folder_trash, ConflictPolicy::Fail))
        .await;
    world
}

async fn a_taken_name_and_a_replacing_restore() -> World {
    let (world, _, file_trash, _) = a_trashed_file_and_folder().await;
    world.upload("docs", "plan.txt", b"newer").await;
    world
        .send(restore(file_trash, ConflictPolicy::Replace))
        .await;
    world
}

async fn a_folder_and_its_purge() -> World {
    let (world, _, _, folder_trash) = a_trashed_file_and_folder().await;
    world.send(purge(folder_trash)).await;
    world
}

#[tokio::test]
async fn a_restored_file_is_back_where_it_was_with_its_bytes() {
    let (world, _, file_trash, _) = a_trashed_file_and_folder().await;
    let command = world.send(restore(file_trash, ConflictPolicy::Fail)).await;
    world.stack.settle().await.unwrap();
    assert!(
        world
            .listing()
            .contains(&"docs/plan.txt available".to_owned())
    );
    assert_eq!(world.trash().len(), 1, "only the folder is left");
    let restored = world.published("FileRestored");
    assert_eq!(restored.len(), 1);
    assert_eq!(restored[0]["Name"], "plan.txt");
    assert_eq!(
        world.outcome(command),
        (CommandStatus::Succeeded, Some("FileRestored".into()))
    );
    assert_eq!(world.stack.objects.keys().len(), 3);
    let usage = world.stack.index.usage(&world.ann.user).await.unwrap();
    assert_eq!((usage.trash_bytes, usage.files), (3, 1));
}

#[tokio::test]
async fn a_restored_folder_brings_back_its_files_and_its_empty_folders() {
    let world = a_folder_and_its_restore().await;
    world.stack.settle().await.unwrap();
    assert_eq!(
        world.listing(),
        [
            "docs/plan.txt trashed",
            "old/a.txt available",
            "old/empty-later/b.txt available"
        ]
    );
    assert!(
        world
            .stack
            .index
            .all_folders()
            .contains(&"ann:old/empty".to_owned())
    );
    assert_eq!(world.published("FolderRestored")[0]["FilesRestored"], 2);
    assert_eq!(world.trash().len(), 1);
}

#[tokio::test]
async fn a_restore_onto_a_taken_name_fails_and_changes_nothing_unless_told() {
    let (world, _, file_trash, _) = a_trashed_file_and_folder().await;
    let newer = world.upload("docs", "plan.txt", b"newer").await;
    let refused = world.send(restore(file_trash, ConflictPolicy::Fail)).await;
    world.stack.settle().await.unwrap();
    assert_eq!(world.outcome(refused).0, CommandStatus::Failed);
    let failed = world.published("CommandFailed");
    assert_eq!(failed[0]["Code"], "Conflict");
    assert_eq!(
        failed[0]["Message"],
        "A file named “plan.txt” is already in “docs”."
    );
    // Nothing but the command and its failure changed.
    assert_eq!(world.trash().len(), 2);
    assert!(available(&world, newer));
    // Keep both: the restored file takes a free name.
    world
        .send(restore(file_trash, ConflictPolicy::KeepBoth))
        .await;
    world.stack.settle().await.unwrap();
    assert!(
        world
            .listing()
            .contains(&"docs/plan (1).txt available".to_owned())
    );
    assert!(available(&world, newer));
}

#[tokio::test]
async fn a_replacing_restore_sends_the_file_in_the_way_to_the_trash() {
    let world = a_taken_name_and_a_replacing_restore().await;
    world.stack.settle().await.unwrap();
    let listing = world.listing();
    assert!(
        listing.contains(&"docs/plan.txt available".to_owned()),
        "{listing:?}"
    );
    assert!(
        listing.contains(&"docs/plan.txt trashed".to_owned()),
        "{listing:?}"
    );
    assert!(world.published("FileRestored")[0]["Replaced"].is_string());
    // The newer file is an item of its own in the trash: nothing was lost.
    let names: Vec<String> = world.trash().iter().map(|t| t.name.clone()).collect();
    assert!(names.contains(&"plan.txt".to_owned()) && names.contains(&"old".to_owned()));
    assert_eq!(world.stack.objects.keys().len(), 4);
}

#[tokio::test]
async fn a_purged_item_deletes_its_files_forever_and_says_so_per_file() {
    let world = a_folder_and_its_purge().await;
    world.stack.settle().await.unwrap();
    assert_eq!(world.listing(), ["docs/plan.txt trashed"]);
    assert_eq!(world.stack.objects.keys().len(), 1);
    assert_eq!(world.published("FileDeleted").len(), 2);
    let purged = world.published("TrashItemPurged");
    assert_eq!(
        (
            purged[0]["FilesDeleted"].as_u64(),
            purged[0]["Reason"].as_str()
        ),
        (Some(2), Some("purged"))
    );
    assert_eq!(world.trash().len(), 1);
    let usage = world.stack.index.usage(&world.ann.user).await.unwrap();
    assert_eq!((usage.bytes, usage.trash_bytes), (4, 4));
}

#[tokio::test]
async fn emptying_the_trash_purges_every_item_deleted_before_it() {
    let (world, _, _, _) = a_trashed_file_and_folder().await;
    let empty = world.send(Command::EmptyTrash(EmptyTrashV1 {})).await;
    world.stack.settle().await.unwrap();
    assert!(world.trash().is_empty());
    assert!(world.listing().is_empty());
    assert!(world.stack.objects.keys().is_empty());
    assert_eq!(world.published("TrashEmptied")[0]["ItemsPurged"], 2);
    assert_eq!(world.published("FileDeleted").len(), 3);
    assert_eq!(
        world.outcome(empty),
        (CommandStatus::Succeeded, Some("TrashEmptied".into()))
    );
}

#[tokio::test]
async fn the_sweep_purges_what_outlived_the_retention() {
    let (world, _, _, _) = a_trashed_file_and_folder().await;
    world.stack.clock.advance(29 * 24 * 3600);
    let report = world.stack.consumers.sweep(DAY).await.unwrap();
    assert_eq!(report.trash_purged, 0);
    world.stack.clock.advance(2 * 24 * 3600);
    let report = world.stack.consumers.sweep(DAY).await.unwrap();
    world.stack.settle().await.unwrap();
    assert_eq!(report.trash_purged, 2);
    assert!(world.trash().is_empty());
    assert!(world.stack.objects.keys().is_empty());
    let reasons: Vec<Value> = world
        .published("TrashItemPurged")
        .iter()
        .map(|e| e["Reason"].clone())
        .collect();
    assert_eq!(reasons, ["expired", "expired"]);
}

#[tokio::test]
async fn nobody_restores_or_purges_another_users_trash() {
    let (world, _, file_trash, _) = a_trashed_file_and_folder().await;
    for command in [restore(file_trash, ConflictPolicy::Fail), purge(file_trash)] {
        let refused = world.send_as(&world.bob, command).await.unwrap_err();
        assert_eq!(refused.code, ferry_protocol::ErrorCode::NotFound);
    }
    assert_eq!(world.trash().len(), 2);
}

#[tokio::test]
async fn a_redelivered_restore_and_purge_change_nothing() {
    for world in [
        a_file_and_its_restore().await,
        a_folder_and_its_purge().await,
    ] {
        world.stack.settle().await.unwrap();
        let once = world.snapshot();
        redeliver_everything(&world).await;
        assert_eq!(world.snapshot(), once);
    }
}

#[tokio::test]
async fn a_file_restore_stopped_at_any_step_ends_like_the_clean_run() {
    let steps = every_crash_ends_like_the_clean_run(
        a_file_and_its_restore,
        Run::Deliver,
        Repair::Redelivery,
    )
    .await;
    assert!(steps >= 4, "{steps}");
}

#[tokio::test]
async fn a_folder_restore_stopped_at_any_step_ends_like_the_clean_run() {
    every_crash_ends_like_the_clean_run(a_folder_and_its_restore, Run::Deliver, Repair::Redelivery)
        .await;
}

#[tokio::test]
async fn a_replacing_restore_stopped_at_any_step_ends_like_the_clean_run() {
    every_crash_ends_like_the_clean_run(
        a_taken_name_and_a_replacing_restore,
        Run::Deliver,
        Repair::Redelivery,
    )
    .await;
}

#[tokio::test]
async fn a_purge_stopped_at_any_step_ends_like_the_clean_run_once_swept() {
    every_crash_ends_like_the_clean_run(
        a_folder_and_its_purge,
        Run::Deliver,
        Repair::RedeliveryAndSweep,
    )
    .await;
}

#[tokio::test]
async fn a_folder_trashed_at_any_step_ends_like_the_clean_run() {
    async fn arrange() -> World {
        let world = World::new();
        world.upload("old", "a.txt", b"a").await;
        world.upload("old/deep", "b.txt", b"bb").await;
        world.send(create_folder("old/empty")).await;
        world.stack.settle().await.unwrap();
        world.send(delete_folder("old")).await;
        world
    }
    every_crash_ends_like_the_clean_run(arrange, Run::Deliver, Repair::Redelivery).await;
}
