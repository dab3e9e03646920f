//! The sweep: what a crash or a lost event left behind, repaired.

use super::*;
use ferry_core::consumers::SweepReport;
use ferry_core::ports::Index as _;

const TWO_DAYS: i64 = 2 * 24 * 60 * 60;

/// An upload that never arrived, one whose `Object Created` was lost, a
/// delete left half done, an object without an entry and an entry without
/// an object, two days ago.
async fn everything_left_behind() -> World {
    let world = World::new();
    world.create("", "never.bin", 3, ConflictPolicy::Fail).await;
    let lost = world
        .create("", "lost-event.bin", 4, ConflictPolicy::Fail)
        .await;
    world.put(lost, b"lost");
    world.stack.bus.take();

    let half = world.upload("", "half-deleted.txt", b"half").await;
    let record = world.record(half).unwrap();
    let mut deleting = record.clone();
    deleting.status = FileStatus::Deleting;
    deleting.version += 1;
    world
        .stack
        .index
        .update_file(&deleting, record.version)
        .await
        .unwrap();

    let emptied = world.upload("", "emptied.txt", b"gone").await;
    world.stack.objects.remove(&world.key(emptied));
    world
        .stack
        .objects
        .put(&world.key(Uuid::from_u128(0x0bad)), b"orphan");
    world.stack.bus.take();
    world.stack.clock.advance(TWO_DAYS);
    world
}

#[tokio::test]
async fn the_sweep_repairs_everything_left_behind() {
    let world = everything_left_behind().await;
    let report = world.stack.consumers.sweep(DAY).await.unwrap();
    assert_eq!(
        report,
        SweepReport {
            uploads_aborted: 1,
            uploads_indexed: 1,
            uploads_announced: 0,
            deletes_finished: 1,
            orphan_objects: 1,
            orphan_thumbnails: 0,
            orphan_entries: 1,
            trash_purged: 0,
            versions_expired: 0,
        }
    );
    world.stack.settle().await.unwrap();
    assert_eq!(world.listing(), ["/lost-event.bin available"]);
    assert_eq!(world.stack.objects.keys().len(), 1);
    assert_eq!(world.published("UploadAborted")[0]["Reason"], "expired");
    assert_eq!(world.published("FileDeleted").len(), 2);
    assert_eq!(
        world.stack.consumers.sweep(DAY).await.unwrap(),
        SweepReport::default(),
        "a second sweep finds nothing to repair"
    );
}

/// Every stop is repaired by the next sweeps: a removal stopped after its
/// file was marked deleting, once that has settled; and an upload the sweep
/// made available but stopped before announcing (its lost `Object Created`
/// never comes, and it is no longer uploading) is announced by the next
/// sweep, which finishes its `CreateFile`.
#[tokio::test]
async fn a_sweep_stopped_at_any_step_ends_like_the_clean_one_on_the_next_sweep() {
    let crashes = crash_at_every_step(
        everything_left_behind,
        Run::Sweep,
        Repair::RedeliveryAndSweep,
    )
    .await;
    assert!(crashes.steps.len() >= 20, "{:?}", crashes.steps);
    let diverged: Vec<&str> = crashes.diverged.iter().map(|(_, step)| *step).collect();
    assert_eq!(
        diverged,
        Vec::<&str>::new(),
        "{}",
        crashes.first.unwrap_or_default()
    );
}

#[tokio::test]
async fn an_idle_upload_is_aborted_and_its_create_file_fails() {
    let world = World::new();
    let id = world.create("", "never.bin", 3, ConflictPolicy::Fail).await;
    let create = world.record(id).unwrap().command_id.unwrap();
    world.stack.clock.advance(TWO_DAYS);
    world.stack.consumers.sweep(DAY).await.unwrap();
    assert_eq!(world.record(id), None);
    assert_eq!(
        world.outcome(create),
        (CommandStatus::Failed, Some("UploadAborted".into()))
    );
}

#[tokio::test]
async fn an_upload_idle_less_than_the_idle_time_is_left_alone() {
    let world = World::new();
    let id = world.create("", "slow.bin", 3, ConflictPolicy::Fail).await;
    world.stack.clock.advance(60 * 60);
    let report = world.stack.consumers.sweep(DAY).await.unwrap();
    assert_eq!(report, SweepReport::default());
    assert!(world.record(id).is_some());
}

#[tokio::test]
async fn an_idle_multipart_upload_is_aborted_with_its_parts() {
    let world = World::with(FileSettings {
        multipart_threshold: 1,
        ..FileSettings::default()
    });
    let id = world.create("", "big.bin", 3, ConflictPolicy::Fail).await;
    let upload_id = world.record(id).unwrap().upload_id.unwrap();
    world.stack.objects.put_part(&upload_id, 1, 3);
    world.stack.clock.advance(TWO_DAYS);
    world.stack.consumers.sweep(DAY).await.unwrap();
    assert_eq!(world.stack.objects.open_uploads(), 0);
    assert_eq!(world.record(id), None);
}

#[tokio::test]
async fn a_multipart_upload_the_index_doesnt_know_is_aborted() {
    let world = World::with(FileSettings {
        multipart_threshold: 1,
        ..FileSettings::default()
    });
    let id = world.create("", "big.bin", 3, ConflictPolicy::Fail).await;
    let record = world.record(id).unwrap();
    world
        .stack
        .index
        .remove_file(&world.ann.user, id, record.version)
        .await
        .unwrap();
    world.stack.clock.advance(TWO_DAYS);
    let report = world.stack.consumers.sweep(DAY).await.unwrap();
    assert_eq!(report.uploads_aborted, 1);
    assert_eq!(world.stack.objects.open_uploads(), 0);
}
