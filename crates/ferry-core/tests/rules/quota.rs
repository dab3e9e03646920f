//! Quota and usage: uploads count at their declared size from the moment
//! they are created, so parallel uploads can't overrun the quota.

use super::trash::purge;
use super::*;
use ferry_protocol::ErrorCode;
use ferry_protocol::messages::AbortUploadV1;

fn with_quota(bytes: u64) -> World {
    World::with(FileSettings {
        quota_bytes: Some(bytes),
        ..FileSettings::default()
    })
}

fn create_command(name: &str, size: u64) -> Command {
    Command::CreateFile(CreateFileV1 {
        folder: FolderPath::root(),
        name: file_name(name),
        size,
        content_type: "text/plain".into(),
        sha256: None,
        on_conflict: ConflictPolicy::Fail,
    })
}

#[tokio::test]
async fn an_upload_over_the_quota_is_refused_and_changes_nothing() {
    let world = with_quota(100);
    world.upload("", "a.txt", &[b'a'; 60]).await;
    let before = world.snapshot();
    let refused = world
        .send_as(&world.ann, create_command("b.txt", 41))
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::QuotaExceeded);
    assert!(
        refused.message.contains("60 of 100 bytes are used"),
        "{refused}"
    );
    assert_eq!(world.snapshot(), before);
    // Exactly up to the quota is allowed.
    world.create("", "c.txt", 40, ConflictPolicy::Fail).await;
}

#[tokio::test]
async fn usage_counts_an_upload_at_its_declared_size_from_its_creation() {
    let world = with_quota(100);
    world.create("", "a.txt", 30, ConflictPolicy::Fail).await;
    let usage = world.stack.files.usage(&world.ann.user).await.unwrap();
    assert_eq!(
        (usage.bytes, usage.files, usage.quota_bytes),
        (30, 1, Some(100))
    );
}

#[tokio::test]
async fn a_trashed_file_counts_until_it_is_purged() {
    let world = with_quota(100);
    let id = world.upload("", "a.txt", &[b'a'; 60]).await;
    let trash = world.send(delete_file(id)).await;
    world.stack.settle().await.unwrap();
    let usage = world.stack.files.usage(&world.ann.user).await.unwrap();
    assert_eq!(
        (usage.bytes, usage.files, usage.trash_bytes),
        (60, 0, Some(60))
    );
    let refused = world
        .send_as(&world.ann, create_command("b.txt", 100))
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::QuotaExceeded);
    world.send(purge(trash)).await;
    world.stack.settle().await.unwrap();
    let usage = world.stack.files.usage(&world.ann.user).await.unwrap();
    assert_eq!((usage.bytes, usage.files), (0, 0));
    world.create("", "b.txt", 100, ConflictPolicy::Fail).await;
}

#[tokio::test]
async fn an_aborted_upload_frees_its_bytes() {
    let world = with_quota(100);
    let id = world.create("", "a.txt", 100, ConflictPolicy::Fail).await;
    world
        .send(Command::AbortUpload(AbortUploadV1 { file_id: id }))
        .await;
    let usage = world.stack.files.usage(&world.ann.user).await.unwrap();
    assert_eq!((usage.bytes, usage.files), (0, 0));
}

#[tokio::test]
async fn a_replacing_upload_counts_both_files_and_keeps_counting_the_version() {
    let world = World::new();
    world.upload("", "r.txt", &[b'a'; 40]).await;
    let id = world.create("", "r.txt", 50, ConflictPolicy::Replace).await;
    let usage = world.stack.files.usage(&world.ann.user).await.unwrap();
    assert_eq!((usage.bytes, usage.files), (90, 2));
    world.put(id, &[b'b'; 50]);
    world.stack.settle().await.unwrap();
    let usage = world.stack.files.usage(&world.ann.user).await.unwrap();
    assert_eq!(
        (usage.bytes, usage.files, usage.version_bytes),
        (90, 1, Some(40))
    );
}

#[tokio::test]
async fn each_user_has_a_quota_of_their_own() {
    let world = with_quota(100);
    world.upload("", "a.txt", &[b'a'; 60]).await;
    world
        .send_as(&world.bob, create_command("a.txt", 60))
        .await
        .unwrap();
    let usage = world.stack.files.usage(&world.bob.user).await.unwrap();
    assert_eq!(usage.bytes, 60);
}
