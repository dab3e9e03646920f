//! The thumbnailer (issue 20): a new image gets thumbnails stored beside
//! it, recorded on its record and announced once; a damaged one a
//! `ThumbnailFailed`; a crash at any step, a redelivery, a file gone
//! meanwhile and another user's file id change nothing more; a purge and
//! the sweep remove thumbnails whose file is gone, and keep the others.

use super::*;
use crate::trash::purge;
use ferry_core::consumers::{SweepReport, THUMBNAILER};
use ferry_core::model::{ThumbnailState, UserId};
use ferry_core::service::CommandAnswer;
use ferry_protocol::messages::{FileCreatedV2, ThumbnailCode, ThumbnailSize};
use ferry_protocol::{Event, EventEnvelope};
use serde_json::json;

/// Ann's `CreateFile` of an image; the new file's id.
async fn create_image(world: &World, name: &str, size: u64) -> Uuid {
    create_image_with(world, name, size, ConflictPolicy::Fail).await
}

async fn create_image_with(
    world: &World,
    name: &str,
    size: u64,
    on_conflict: ConflictPolicy,
) -> Uuid {
    let command = Command::CreateFile(CreateFileV1 {
        folder: folder_path(""),
        name: file_name(name),
        size,
        content_type: "image/jpeg".to_owned(),
        sha256: None,
        on_conflict,
    });
    match world.send_as(&world.ann, command).await.unwrap().0 {
        CommandAnswer::Created(created) => created.file.file_id,
        other => panic!("CreateFile answered {other:?}"),
    }
}

/// Ann uploads an image with `content`, and everything it causes is
/// delivered.
async fn upload_image(world: &World, name: &str, content: &[u8]) -> Uuid {
    let id = create_image(world, name, content.len() as u64).await;
    world.put(id, content);
    world.stack.settle().await.unwrap();
    id
}

fn thumbnail_keys(world: &World, file_id: Uuid) -> Vec<String> {
    let prefix = world.ann.user.thumbnails_prefix(file_id);
    world
        .stack
        .objects
        .keys()
        .into_iter()
        .filter(|k| k.starts_with(&prefix))
        .collect()
}

/// An image's bytes have arrived; nothing is delivered yet.
async fn an_image_arriving() -> World {
    let world = World::new();
    let id = create_image(&world, "photo.jpg", 10).await;
    world.put(id, b"0123456789");
    world
}

#[tokio::test]
async fn an_image_gets_its_thumbnails_stored_recorded_and_announced() {
    let world = World::new();
    let id = upload_image(&world, "photo.jpg", b"0123456789").await;
    // Both sizes, beside the file under Ann's prefix; the indexer, which
    // heard of them from the store, didn't take them for files.
    assert_eq!(
        thumbnail_keys(&world, id),
        [
            format!("users/ann/thumbs/{id}/medium"),
            format!("users/ann/thumbs/{id}/small"),
        ]
    );
    assert_eq!(
        world
            .stack
            .objects
            .content(&world.ann.user.thumbnail_key(id, ThumbnailSize::Small)),
        Some(b"small:10".to_vec())
    );
    assert_eq!(world.listing(), ["/photo.jpg available"]);
    let record = world.record(id).unwrap();
    let Some(ThumbnailState::Ready { sizes }) = &record.thumbnail else {
        panic!("{:?}", record.thumbnail);
    };
    assert_eq!(sizes.len(), 2);
    let created = world.published("ThumbnailCreated");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["FileId"], id.to_string());
    assert_eq!(created[0]["Sizes"][0]["Size"], "small");
    assert_eq!(created[0]["Sizes"][0]["Width"], 64);
    assert_eq!(created[0]["SourceSha256"], json!(record.sha256));
    assert!(world.published("ThumbnailFailed").is_empty());
    // Pushed to Ann, and to nobody else.
    let pushed: Vec<_> = world
        .stack
        .notifier
        .pushed()
        .into_iter()
        .filter(|(_, e)| e.action() == "ThumbnailCreated")
        .map(|(user, _)| user.to_string())
        .collect();
    assert_eq!(pushed, ["ann"]);
    // The usage is the file's bytes alone.
    let usage = world.stack.files.usage(&world.ann.user).await.unwrap();
    assert_eq!(usage.bytes, 10);
}

#[tokio::test]
async fn a_file_that_is_no_image_costs_the_thumbnailer_nothing() {
    let world = World::new();
    let id = world.create("", "notes.txt", 5, ConflictPolicy::Fail).await;
    world.put(id, b"hello");
    let before = world.stack.faults.count();
    world.stack.settle().await.unwrap();
    assert!(thumbnail_keys(&world, id).is_empty());
    assert_eq!(world.record(id).unwrap().thumbnail, None);
    assert!(world.published("ThumbnailCreated").is_empty());
    // The thumbnailer's rule heard FileCreated and called no port: the
    // calls are the indexer's and the notifier's alone.
    let calls = world.stack.faults.calls_since(before);
    assert!(!calls.contains(&"objects.read"), "{calls:?}");
}

#[tokio::test]
async fn thumbnails_stopped_at_any_step_end_like_the_clean_run() {
    let steps =
        every_crash_ends_like_the_clean_run(an_image_arriving, Run::Deliver, Repair::Redelivery)
            .await;
    assert!(steps > 5);
}

#[tokio::test]
async fn a_redelivery_publishes_no_duplicate() {
    let world = an_image_arriving().await;
    redeliver_everything(&world).await;
    redeliver_everything(&world).await;
    assert_eq!(world.published("ThumbnailCreated").len(), 1);
    let created: Vec<_> = world
        .stack
        .notifier
        .pushed()
        .into_iter()
        .filter(|(_, e)| e.action() == "ThumbnailCreated")
        .map(|(_, e)| e.metadata().event_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(created.len(), 1);
}

#[tokio::test]
async fn a_redelivery_after_the_record_was_written_announces_the_same_event() {
    // The clean run's event, and a run stopped right after the record
    // took its thumbnails (before the publish): the redelivery publishes
    // the same event, by id and content.
    let clean = an_image_arriving().await;
    clean.stack.settle().await.unwrap();
    let crashes = crash_at_every_step(an_image_arriving, Run::Deliver, Repair::Redelivery).await;
    assert!(crashes.steps.contains(&"objects.put_derived"));
    assert!(crashes.diverged.is_empty(), "{:?}", crashes.first);
    assert_eq!(clean.published("ThumbnailCreated").len(), 1);
}

#[tokio::test]
async fn a_damaged_image_fails_with_a_reason_and_is_not_retried() {
    let world = World::new();
    let id = upload_image(&world, "broken.jpg", b"corrupt bytes").await;
    let failed = world.published("ThumbnailFailed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["Code"], "Corrupt");
    assert_eq!(failed[0]["Reason"], "The image is damaged.");
    assert!(thumbnail_keys(&world, id).is_empty());
    assert_eq!(
        world.record(id).unwrap().thumbnail,
        Some(ThumbnailState::Failed {
            code: ThumbnailCode::Corrupt,
            reason: "The image is damaged.".into()
        })
    );
    // Settled without an error: nothing is waiting to be tried again.
    assert!(world.stack.bus.next().is_none());
    redeliver_everything(&world).await;
    assert_eq!(world.published("ThumbnailFailed").len(), 1);
}

#[tokio::test]
async fn a_decompression_bomb_fails_as_too_many_pixels() {
    let world = World::new();
    upload_image(&world, "bomb.jpg", b"bomb!").await;
    let failed = world.published("ThumbnailFailed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["Code"], "TooManyPixels");
}

#[tokio::test]
async fn an_image_over_the_input_limit_fails_as_too_large_unread() {
    let world = World::new();
    let id = create_image(&world, "huge.jpg", 2 * 1024 * 1024).await;
    world.put(id, &vec![7; 2 * 1024 * 1024]);
    let before = world.stack.faults.count();
    world.stack.settle().await.unwrap();
    let failed = world.published("ThumbnailFailed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["Code"], "TooLarge");
    assert!(
        failed[0]["Reason"]
            .as_str()
            .unwrap()
            .contains("up to 1 MiB")
    );
    let calls = world.stack.faults.calls_since(before);
    assert!(!calls.contains(&"objects.read"), "{calls:?}");
}

/// A `FileCreated` as the indexer publishes it, for `user`'s file.
fn file_created(user: &str, file_id: Uuid) -> Value {
    let event = Event::FileCreated(FileCreatedV2 {
        file_id,
        folder: folder_path(""),
        name: file_name("photo.jpg"),
        size: 10,
        content_type: "image/jpeg".into(),
        sha256: None,
        e_tag: "e".into(),
        version: 2,
        lineage: file_id,
        replaced: None,
    });
    let envelope = EventEnvelope::new(
        Metadata {
            event_id: Uuid::new_v4(),
            trace_id: TraceId::from_uuid(Uuid::from_u128(1)),
            command_id: None,
            occurred_at: Timestamp::new(time::OffsetDateTime::UNIX_EPOCH),
            producer: "indexer".into(),
            user_id: Some(user.into()),
        },
        event,
    );
    json!({
        "id": Uuid::new_v4().to_string(),
        "source": "ferry.files",
        "detail-type": "FileCreated",
        "detail": envelope,
    })
}

#[tokio::test]
async fn another_users_file_is_never_read() {
    let world = World::new();
    // Bob's image, its thumbnails made.
    let command = Command::CreateFile(CreateFileV1 {
        folder: folder_path(""),
        name: file_name("bob.jpg"),
        size: 3,
        content_type: "image/jpeg".to_owned(),
        sha256: None,
        on_conflict: ConflictPolicy::Fail,
    });
    let CommandAnswer::Created(created) = world.send_as(&world.bob, command).await.unwrap().0
    else {
        panic!("not created");
    };
    let bobs = created.file.file_id;
    world
        .stack
        .objects
        .put(&world.bob.user.object_key(bobs), b"bob");
    world.stack.settle().await.unwrap();
    let made = world.published("ThumbnailCreated").len();
    // An event of Ann's naming Bob's file: nothing is read or made.
    let before = world.stack.faults.count();
    world
        .stack
        .consumers
        .deliver(THUMBNAILER, &file_created("ann", bobs))
        .await
        .unwrap();
    world.stack.settle().await.unwrap();
    let calls = world.stack.faults.calls_since(before);
    assert!(!calls.contains(&"objects.read"), "{calls:?}");
    assert!(!calls.contains(&"objects.put_derived"), "{calls:?}");
    assert_eq!(world.published("ThumbnailCreated").len(), made);
    assert!(
        world
            .stack
            .objects
            .keys()
            .iter()
            .all(|k| !k.starts_with("users/ann/"))
    );
}

#[tokio::test]
async fn an_image_trashed_before_its_thumbnails_are_made_is_skipped_quietly() {
    let world = an_image_arriving().await;
    let id = world.stack.index.all_files()[0].file_id;
    // The indexer makes it available; the thumbnailer's delivery waits.
    let mut held = Vec::new();
    while let Some(delivery) = world.stack.bus.next() {
        world.stack.bus.done();
        if delivery.rule == THUMBNAILER {
            held.push(delivery);
        } else {
            world.stack.deliver(&delivery).await.unwrap();
        }
    }
    assert!(available(&world, id));
    world.send(delete_file(id)).await;
    world.stack.settle().await.unwrap();
    assert_eq!(world.record(id).unwrap().status, FileStatus::Trashed);
    for delivery in &held {
        world.stack.deliver(delivery).await.unwrap();
    }
    world.stack.settle().await.unwrap();
    assert!(thumbnail_keys(&world, id).is_empty());
    assert!(world.published("ThumbnailCreated").is_empty());
    assert!(world.published("ThumbnailFailed").is_empty());
    assert_eq!(world.record(id).unwrap().thumbnail, None);
}

#[tokio::test]
async fn a_trashed_image_keeps_its_thumbnails_and_a_purge_removes_them() {
    let world = World::new();
    let id = upload_image(&world, "photo.jpg", b"0123456789").await;
    let trash_id = world.send(delete_file(id)).await;
    world.stack.settle().await.unwrap();
    assert_eq!(thumbnail_keys(&world, id).len(), 2);
    // The sweep keeps a trashed file's thumbnails.
    world.stack.clock.advance(120);
    let report = world.stack.consumers.sweep(DAY).await.unwrap();
    assert_eq!(report.orphan_thumbnails, 0);
    assert_eq!(thumbnail_keys(&world, id).len(), 2);
    world.send(purge(trash_id)).await;
    world.stack.settle().await.unwrap();
    assert!(world.record(id).is_none());
    assert!(thumbnail_keys(&world, id).is_empty());
    assert!(world.stack.objects.keys().is_empty());
}

#[tokio::test]
async fn a_purge_stopped_at_any_step_removes_the_thumbnails_too() {
    async fn a_trashed_image_and_its_purge() -> World {
        let world = World::new();
        let id = upload_image(&world, "photo.jpg", b"0123456789").await;
        let trash_id = world.send(delete_file(id)).await;
        world.stack.settle().await.unwrap();
        world.send(purge(trash_id)).await;
        world
    }
    every_crash_ends_like_the_clean_run(
        a_trashed_image_and_its_purge,
        Run::Deliver,
        Repair::RedeliveryAndSweep,
    )
    .await;
    let world = a_trashed_image_and_its_purge().await;
    world.stack.settle().await.unwrap();
    assert!(world.stack.objects.keys().is_empty());
}

#[tokio::test]
async fn the_sweep_removes_thumbnails_whose_file_is_gone_and_keeps_the_rest() {
    let world = World::new();
    let kept = upload_image(&world, "photo.jpg", b"0123456789").await;
    // Thumbnails left by a file whose record is gone (a crash between the
    // purge's steps and a lost event, say).
    let gone = Uuid::from_u128(0xdead);
    let orphan = world.ann.user.thumbnail_key(gone, ThumbnailSize::Small);
    world.stack.objects.put(&orphan, b"old");
    world.stack.settle().await.unwrap();
    world.stack.clock.advance(120);
    let report = world.stack.consumers.sweep(DAY).await.unwrap();
    assert_eq!(
        report,
        SweepReport {
            orphan_thumbnails: 1,
            ..SweepReport::default()
        }
    );
    assert!(!world.stack.objects.keys().contains(&orphan));
    assert_eq!(thumbnail_keys(&world, kept).len(), 2);
    assert!(available(&world, kept));
}

#[test]
fn a_thumbnails_key_is_never_taken_for_a_file() {
    let user = UserId::parse("ann").unwrap();
    let id = Uuid::from_u128(7);
    let key = user.thumbnail_key(id, ThumbnailSize::Medium);
    assert_eq!(key, format!("users/ann/thumbs/{id}/medium"));
    assert_eq!(UserId::parse_object_key(&key), None);
    assert_eq!(
        UserId::parse_thumbnail_key(&key),
        Some((user.clone(), id, ThumbnailSize::Medium))
    );
    assert_eq!(UserId::parse_thumbnail_key(&user.object_key(id)), None);
    assert_eq!(
        UserId::parse_thumbnail_key(&format!("users/ann/thumbs/{id}/large")),
        None
    );
}

#[tokio::test]
async fn a_version_made_current_gets_thumbnails_only_when_it_has_none() {
    use ferry_core::ports::Index as _;
    use ferry_protocol::messages::RestoreVersionV1;
    let world = World::new();
    let old = upload_image(&world, "photo.jpg", b"first").await;
    let new = create_image_with(&world, "photo.jpg", 7, ConflictPolicy::Replace).await;
    world.put(new, b"second!");
    world.stack.settle().await.unwrap();
    assert_eq!(world.record(old).unwrap().status, FileStatus::Version);
    // A version keeps its thumbnails: made current again, nothing is made.
    let before = world.stack.faults.count();
    world
        .send(Command::RestoreVersion(RestoreVersionV1 {
            file_id: new,
            version_id: old,
        }))
        .await;
    world.stack.settle().await.unwrap();
    assert!(available(&world, old));
    let calls = world.stack.faults.calls_since(before);
    assert!(!calls.contains(&"objects.read"), "{calls:?}");
    assert_eq!(thumbnail_keys(&world, old).len(), 2);
    // One without thumbnails (made before there was a thumbnailer, say)
    // gets them when it is made current.
    let kept = world.record(new).unwrap();
    let mut bare = kept.clone();
    bare.thumbnail = None;
    bare.version += 1;
    world
        .stack
        .index
        .update_file(&bare, kept.version)
        .await
        .unwrap();
    for key in thumbnail_keys(&world, new) {
        world.stack.objects.remove(&key);
    }
    world.stack.settle().await.unwrap();
    world
        .send(Command::RestoreVersion(RestoreVersionV1 {
            file_id: old,
            version_id: new,
        }))
        .await;
    world.stack.settle().await.unwrap();
    assert!(available(&world, new));
    assert!(matches!(
        world.record(new).unwrap().thumbnail,
        Some(ThumbnailState::Ready { .. })
    ));
    assert_eq!(
        world
            .stack
            .objects
            .content(&world.ann.user.thumbnail_key(new, ThumbnailSize::Small)),
        Some(b"small:7".to_vec())
    );
}

/// `POST /api/thumbnails`' answer: a link for a made thumbnail, signed as
/// of the hour (the same all hour, an hour or more left), and the state of
/// the others; another user's file is not found.
#[tokio::test]
async fn thumbnail_links_are_signed_by_the_hour_and_say_why_there_is_none() {
    use ferry_protocol::api::ThumbnailLinkState;
    let world = World::new();
    let photo = upload_image(&world, "photo.jpg", b"0123456789").await;
    let broken = upload_image(&world, "broken.jpg", b"corrupt!").await;
    let notes = world.upload("", "notes.txt", b"hello").await;
    let waiting = create_image(&world, "later.jpg", 3).await;
    let files = &world.stack.files;
    let ids = [photo, broken, notes, waiting, Uuid::from_u128(9)];
    let answer = files
        .thumbnails(&world.ann.user, &ids, ThumbnailSize::Medium)
        .await
        .unwrap();
    let states: Vec<_> = answer.thumbnails.iter().map(|t| t.state).collect();
    assert_eq!(
        states,
        [
            ThumbnailLinkState::Ready,
            ThumbnailLinkState::Failed,
            ThumbnailLinkState::None,
            ThumbnailLinkState::Pending,
            ThumbnailLinkState::NotFound,
        ]
    );
    let link = &answer.thumbnails[0];
    assert!(link.url.as_deref().unwrap().contains("/thumbs/"));
    assert_eq!((link.width, link.height), (Some(320), Some(160)));
    assert_eq!(answer.thumbnails[1].code, Some(ThumbnailCode::Corrupt));
    // Signed as of the start of the hour, for two hours.
    let hour = ferry_core::testing::START - ferry_core::testing::START.rem_euclid(3600);
    let first = expires_after(&world, photo, 0).await;
    assert_eq!(first, hour + 2 * 3600);
    let now = ferry_core::clock::Clock::now(&*world.stack.clock).unix_timestamp();
    let to_end_of_hour = hour + 3600 - now - 1;
    assert_eq!(expires_after(&world, photo, to_end_of_hour).await, first);
    assert_eq!(expires_after(&world, photo, 1).await, first + 3600);
    // Bob asking for Ann's photo finds nothing.
    let foreign = files
        .thumbnails(&world.bob.user, &[photo], ThumbnailSize::Small)
        .await
        .unwrap();
    assert_eq!(foreign.thumbnails[0].state, ThumbnailLinkState::NotFound);
    assert_eq!(foreign.thumbnails[0].url, None);
    // 1 to 100 ids.
    assert!(
        files
            .thumbnails(&world.ann.user, &[], ThumbnailSize::Small)
            .await
            .is_err()
    );
    assert!(
        files
            .thumbnails(&world.ann.user, &[photo; 101], ThumbnailSize::Small)
            .await
            .is_err()
    );
}

/// When the medium thumbnail link of `photo` expires (unix seconds), asked
/// `seconds` later.
async fn expires_after(world: &World, photo: Uuid, seconds: i64) -> i64 {
    world.stack.clock.advance(seconds);
    let answer = world
        .stack
        .files
        .thumbnails(&world.ann.user, &[photo], ThumbnailSize::Medium)
        .await
        .unwrap();
    answer.thumbnails[0]
        .expires_at
        .unwrap()
        .get()
        .unix_timestamp()
}
