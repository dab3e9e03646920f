//! The mover: `MoveFile` and `CreateFolder`.

use super::*;

async fn a_file_and_its_move() -> World {
    let world = World::new();
    let id = world.upload("inbox", "draft.txt", b"draft").await;
    world
        .send(move_file(id, "done", "final.txt", ConflictPolicy::Fail))
        .await;
    world
}

async fn a_move_replacing_another_file() -> World {
    let world = World::new();
    let id = world.upload("inbox", "new.txt", b"new").await;
    world.upload("done", "report.txt", b"old").await;
    world
        .send(move_file(id, "done", "report.txt", ConflictPolicy::Replace))
        .await;
    world
}

async fn a_folder_to_create() -> World {
    let world = World::new();
    world.send(create_folder("a/b/c")).await;
    world
}

#[tokio::test]
async fn a_move_is_announced_from_where_the_file_was() {
    let world = a_file_and_its_move().await;
    world.stack.settle().await.unwrap();
    assert_eq!(world.listing(), ["done/final.txt available"]);
    let moved = world.published("FileMoved");
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0]["FromFolder"], "inbox");
    assert_eq!(moved[0]["FromName"], "draft.txt");
    assert_eq!(moved[0]["ToName"], "final.txt");
}

#[tokio::test]
async fn a_move_stopped_at_any_step_ends_like_the_clean_run() {
    every_crash_ends_like_the_clean_run(a_file_and_its_move, Run::Deliver, Repair::Redelivery)
        .await;
}

/// The replaced file, once in the trash, no longer holds the name, so a
/// redelivered move doesn't find it again: what the first attempt noted
/// announces it.
#[tokio::test]
async fn a_replacing_move_stopped_at_any_step_ends_like_the_clean_run() {
    every_crash_ends_like_the_clean_run(
        a_move_replacing_another_file,
        Run::Deliver,
        Repair::Redelivery,
    )
    .await;
}

#[tokio::test]
async fn a_replacing_move_sends_the_replaced_file_to_the_trash() {
    let world = a_move_replacing_another_file().await;
    world.stack.settle().await.unwrap();
    assert_eq!(
        world.listing(),
        ["done/report.txt available", "done/report.txt trashed"]
    );
    assert_eq!(world.published("FileTrashed").len(), 1);
    assert!(world.published("FileDeleted").is_empty());
    let moved = world.published("FileMoved");
    assert_eq!(
        moved[0]["Replaced"],
        world.published("FileTrashed")[0]["FileId"]
    );
    assert_eq!(world.stack.objects.keys().len(), 2);
    assert_eq!(world.trash().len(), 1);
}

#[tokio::test]
async fn a_redelivered_move_announces_the_same_move_once() {
    let world = a_file_and_its_move().await;
    world.stack.settle().await.unwrap();
    let once = world.snapshot();
    redeliver_everything(&world).await;
    assert_eq!(world.snapshot(), once);
    assert_eq!(world.published("FileMoved").len(), 1);
}

#[tokio::test]
async fn a_taken_name_fails_the_move_unless_asked_to_keep_both() {
    let world = World::new();
    let a = world.upload("", "a.txt", b"a").await;
    world.upload("", "b.txt", b"b").await;
    let refused = world
        .send(move_file(a, "", "b.txt", ConflictPolicy::Fail))
        .await;
    world.stack.settle().await.unwrap();
    assert_eq!(world.outcome(refused).0, CommandStatus::Failed);
    let kept = world
        .send(move_file(a, "", "b.txt", ConflictPolicy::KeepBoth))
        .await;
    world.stack.settle().await.unwrap();
    assert_eq!(world.outcome(kept).0, CommandStatus::Succeeded);
    assert_eq!(
        world.listing(),
        ["/b (1).txt available", "/b.txt available"]
    );
}

#[tokio::test]
async fn a_move_delivered_after_its_file_was_trashed_fails_and_leaves_it_there() {
    let world = World::new();
    let id = world.upload("", "x.txt", b"x").await;
    let moving = world
        .send(move_file(id, "elsewhere", "x.txt", ConflictPolicy::Fail))
        .await;
    let deleting = world.send(delete_file(id)).await;
    let mut deliveries = world.stack.bus.take();
    deliveries.reverse();
    for delivery in &deliveries {
        world.stack.deliver(delivery).await.unwrap();
    }
    world.stack.settle().await.unwrap();
    assert_eq!(world.outcome(deleting).0, CommandStatus::Succeeded);
    assert_eq!(
        world.outcome(moving),
        (CommandStatus::Failed, Some("CommandFailed".into()))
    );
    assert_eq!(
        world.published("CommandFailed")[0]["Message"],
        "The file is in the trash; restore it first."
    );
    assert_eq!(world.listing(), ["/x.txt trashed"]);
}

#[tokio::test]
async fn a_folder_created_is_there_with_its_parents() {
    let world = a_folder_to_create().await;
    world.stack.settle().await.unwrap();
    assert_eq!(
        world.stack.index.all_folders(),
        ["ann:a", "ann:a/b", "ann:a/b/c"]
    );
    assert_eq!(world.published("FolderCreated").len(), 1);
}

#[tokio::test]
async fn a_folder_creation_stopped_at_any_step_ends_like_the_clean_run() {
    every_crash_ends_like_the_clean_run(a_folder_to_create, Run::Deliver, Repair::Redelivery).await;
}

#[tokio::test]
async fn a_redelivered_folder_creation_is_one_folder_and_one_event() {
    let world = a_folder_to_create().await;
    world.stack.settle().await.unwrap();
    let once = world.snapshot();
    redeliver_everything(&world).await;
    assert_eq!(world.snapshot(), once);
}
