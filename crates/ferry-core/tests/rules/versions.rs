//! Versions: a replacing upload keeps the old content as a version, a
//! version is restored or deleted, the retention keeps at most N and none
//! past its age, and a crash at any step of each.

use super::*;
use ferry_core::ports::Index as _;
use ferry_protocol::messages::{DeleteVersionV1, RestoreVersionV1};

fn restore_version(file_id: Uuid, version_id: Uuid) -> Command {
    Command::RestoreVersion(RestoreVersionV1 {
        file_id,
        version_id,
    })
}

fn delete_version(file_id: Uuid, version_id: Uuid) -> Command {
    Command::DeleteVersion(DeleteVersionV1 {
        file_id,
        version_id,
    })
}

/// `report.txt` uploaded, then replaced: the old id and the new.
async fn a_replaced_file() -> (World, Uuid, Uuid) {
    let world = World::new();
    let old = world.upload("", "report.txt", b"first").await;
    let new = world
        .upload_with("", "report.txt", b"second!", ConflictPolicy::Replace)
        .await;
    (world, old, new)
}

async fn a_version_and_its_restore() -> World {
    let (world, old, new) = a_replaced_file().await;
    world.send(restore_version(new, old)).await;
    world
}

async fn a_version_and_its_delete() -> World {
    let (world, old, new) = a_replaced_file().await;
    world.send(delete_version(new, old)).await;
    world
}

#[tokio::test]
async fn a_replaced_file_is_kept_as_a_version_of_the_new_one() {
    let (world, old, new) = a_replaced_file().await;
    assert_eq!(
        world.listing(),
        ["/report.txt available", "/report.txt version"]
    );
    let version = world.record(old).unwrap();
    assert_eq!(version.status, FileStatus::Version);
    assert_eq!(world.record(new).unwrap().lineage(), version.lineage());
    assert_eq!(world.stack.objects.keys().len(), 2);
    // FileCreated v2 names the lineage and the replaced file; v1 is published too.
    let created: Vec<Value> = world
        .stack
        .bus
        .events()
        .into_iter()
        .filter(|e| {
            e["detail"]["data"]["Action"] == "FileCreated"
                && e["detail"]["data"]["FileId"] == new.to_string()
        })
        .collect();
    assert_eq!(created.len(), 2);
    let v2 = created
        .iter()
        .find(|e| e["detail"]["metadata"]["EventVersion"] == 2)
        .unwrap();
    assert_eq!(v2["detail"]["data"]["Replaced"], old.to_string());
    assert_eq!(v2["detail"]["data"]["Lineage"], old.to_string());
    let v1 = created
        .iter()
        .find(|e| e["detail"]["metadata"]["EventVersion"] == 1)
        .unwrap();
    assert!(v1["detail"]["data"].get("Lineage").is_none());
    // The old content was not announced as deleted: its bytes are kept.
    assert!(world.published("FileDeleted").is_empty());
    let usage = world.stack.index.usage(&world.ann.user).await.unwrap();
    assert_eq!((usage.bytes, usage.version_bytes, usage.files), (12, 5, 1));
}

#[tokio::test]
async fn a_restored_version_becomes_current_and_the_current_one_a_version() {
    let (world, old, new) = a_replaced_file().await;
    let command = world.send(restore_version(new, old)).await;
    world.stack.settle().await.unwrap();
    assert_eq!(world.record(old).unwrap().status, FileStatus::Available);
    assert_eq!(world.record(new).unwrap().status, FileStatus::Version);
    let restored = world.published("FileVersionRestored");
    assert_eq!(restored[0]["FileId"], old.to_string());
    assert_eq!(restored[0]["Replaced"], new.to_string());
    assert_eq!(
        world.outcome(command),
        (CommandStatus::Succeeded, Some("FileVersionRestored".into()))
    );
    // And back again: the undo of a restore is a restore.
    world.send(restore_version(old, new)).await;
    world.stack.settle().await.unwrap();
    assert!(available(&world, new));
}

#[tokio::test]
async fn a_deleted_version_is_gone_forever() {
    let world = a_version_and_its_delete().await;
    world.stack.settle().await.unwrap();
    assert_eq!(world.listing(), ["/report.txt available"]);
    assert_eq!(world.stack.objects.keys().len(), 1);
    assert_eq!(world.published("FileDeleted").len(), 1);
}

#[tokio::test]
async fn at_most_the_newest_versions_are_kept() {
    let world = World::with(FileSettings::default());
    let mut ids = vec![world.upload("", "log.txt", b"0").await];
    for n in 1..=12u8 {
        world.stack.clock.advance(1);
        ids.push(
            world
                .upload_with("", "log.txt", &[b'0' + n % 10], ConflictPolicy::Replace)
                .await,
        );
    }
    let versions: Vec<Uuid> = world
        .stack
        .index
        .all_files()
        .into_iter()
        .filter(|f| f.status == FileStatus::Version)
        .map(|f| f.file_id)
        .collect();
    assert_eq!(versions.len(), 10);
    // The two oldest went.
    assert!(world.record(ids[0]).is_none() && world.record(ids[1]).is_none());
    assert!(world.record(ids[2]).is_some());
    assert_eq!(world.stack.objects.keys().len(), 11);
}

#[tokio::test]
async fn the_sweep_deletes_versions_past_their_age() {
    let (world, old, _) = a_replaced_file().await;
    world.stack.clock.advance(89 * 24 * 3600);
    assert_eq!(
        world
            .stack
            .consumers
            .sweep(DAY)
            .await
            .unwrap()
            .versions_expired,
        0
    );
    world.stack.clock.advance(2 * 24 * 3600);
    assert_eq!(
        world
            .stack
            .consumers
            .sweep(DAY)
            .await
            .unwrap()
            .versions_expired,
        1
    );
    world.stack.settle().await.unwrap();
    assert!(world.record(old).is_none());
    assert_eq!(world.stack.objects.keys().len(), 1);
}

#[tokio::test]
async fn nobody_lists_restores_or_deletes_another_users_versions() {
    let (world, old, new) = a_replaced_file().await;
    for command in [restore_version(new, old), delete_version(new, old)] {
        let refused = world.send_as(&world.bob, command).await.unwrap_err();
        assert_eq!(refused.code, ferry_protocol::ErrorCode::NotFound);
    }
    let refused = world
        .stack
        .files
        .versions(&world.bob.user, new, None, 10)
        .await
        .unwrap_err();
    assert_eq!(refused.code, ferry_protocol::ErrorCode::NotFound);
    let refused = world
        .stack
        .files
        .download(&world.bob.user, old, None)
        .await
        .unwrap_err();
    assert_eq!(refused.code, ferry_protocol::ErrorCode::NotFound);
    let page = world
        .stack
        .files
        .versions(&world.ann.user, new, None, 10)
        .await
        .unwrap();
    assert_eq!(page.versions.len(), 1);
    assert_eq!(page.versions[0].file_id, old);
    world
        .stack
        .files
        .download(&world.ann.user, old, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn commands_on_a_version_or_a_trashed_file_answer_a_clear_error() {
    let (world, old, new) = a_replaced_file().await;
    let refused = world
        .send_as(
            &world.ann,
            move_file(old, "", "x.txt", ConflictPolicy::Fail),
        )
        .await
        .unwrap_err();
    assert_eq!(
        refused.message,
        "That is an older version; restore it first."
    );
    world.send(delete_file(new)).await;
    world.stack.settle().await.unwrap();
    let refused = world
        .send_as(
            &world.ann,
            move_file(new, "", "y.txt", ConflictPolicy::Fail),
        )
        .await
        .unwrap_err();
    assert_eq!(
        refused.message,
        "The file is in the trash; restore it first."
    );
    let refused = world
        .send_as(&world.ann, restore_version(new, old))
        .await
        .unwrap_err();
    assert_eq!(
        refused.message,
        "The file is in the trash; restore it first."
    );
}

#[tokio::test]
async fn a_replacing_upload_stopped_at_any_step_keeps_the_old_content() {
    async fn arrange() -> World {
        let world = World::new();
        world.upload("", "report.txt", b"first").await;
        let new = world
            .create("", "report.txt", 7, ConflictPolicy::Replace)
            .await;
        world.put(new, b"second!");
        world
    }
    every_crash_ends_like_the_clean_run(arrange, Run::Deliver, Repair::Redelivery).await;
}

#[tokio::test]
async fn a_version_restore_stopped_at_any_step_ends_like_the_clean_run() {
    every_crash_ends_like_the_clean_run(
        a_version_and_its_restore,
        Run::Deliver,
        Repair::Redelivery,
    )
    .await;
}

#[tokio::test]
async fn a_version_delete_stopped_at_any_step_ends_like_the_clean_run_once_swept() {
    every_crash_ends_like_the_clean_run(
        a_version_and_its_delete,
        Run::Deliver,
        Repair::RedeliveryAndSweep,
    )
    .await;
}

#[tokio::test]
async fn redelivered_version_commands_change_nothing() {
    for world in [
        a_version_and_its_restore().await,
        a_version_and_its_delete().await,
    ] {
        world.stack.settle().await.unwrap();
        let once = world.snapshot();
        redeliver_everything(&world).await;
        assert_eq!(world.snapshot(), once);
    }
}

/// A preview follows the download's rule (issue 20): a version is its
/// owner's to preview, and another user's id is not found.
#[tokio::test]
async fn a_version_previews_for_its_owner_and_no_one_else() {
    let (world, old, _new) = a_replaced_file().await;
    let refused = world
        .stack
        .files
        .preview(&world.bob.user, old)
        .await
        .unwrap_err();
    assert_eq!(refused.code, ferry_protocol::ErrorCode::NotFound);
    let preview = world
        .stack
        .files
        .preview(&world.ann.user, old)
        .await
        .unwrap();
    // A small text/plain file is shown as text, inline, never as HTML.
    assert_eq!(preview.kind, ferry_protocol::preview::PreviewKind::Text);
    assert!(preview.inline);
    assert_eq!(preview.content_type, "text/plain; charset=utf-8");
    assert!(preview.url.contains("inline="), "{}", preview.url);
}
