//! The file service's answers: each kind of command its kind of answer,
//! and a command id answered once, however often it is sent.

use super::*;
use ferry_protocol::ErrorCode;
use ferry_protocol::messages::CompleteUploadV1;

#[tokio::test]
async fn each_kind_of_command_gets_its_kind_of_answer() {
    let world = World::new();
    let command = Command::CreateFile(CreateFileV1 {
        folder: FolderPath::root(),
        name: file_name("a.txt"),
        size: 1,
        content_type: "text/plain".into(),
        sha256: None,
        on_conflict: ConflictPolicy::Fail,
    });
    let (created, _) = world.send_as(&world.ann, command).await.unwrap();
    let CommandAnswer::Created(created) = created else {
        panic!("{created:?}")
    };
    let id = created.file.file_id;
    world.put(id, b"a");
    let complete = Command::CompleteUpload(CompleteUploadV1 {
        file_id: id,
        parts: Vec::new(),
        sha256: None,
    });
    let (step, _) = world.send_as(&world.ann, complete).await.unwrap();
    assert!(matches!(step, CommandAnswer::UploadStep(_)), "{step:?}");
    let (accepted, _) = world.send_as(&world.ann, delete_file(id)).await.unwrap();
    let CommandAnswer::Accepted(accepted) = accepted else {
        panic!("{accepted:?}")
    };
    assert_eq!(
        (accepted.action.as_str(), accepted.status.as_str()),
        ("DeleteFile", "pending")
    );
}

#[tokio::test]
async fn a_retried_command_gets_the_same_answer_and_has_no_second_effect() {
    let world = World::new();
    let id = world.upload("", "a.txt", b"a").await;
    let (envelope, raw) = world.envelope(&world.ann, delete_file(id));
    let files = &world.stack.files;
    let first = files
        .command(&world.ann, envelope.clone(), &raw)
        .await
        .unwrap();
    let again = files.command(&world.ann, envelope, &raw).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(world.stack.bus.take().len(), 1);
}

#[tokio::test]
async fn a_command_id_used_for_another_request_is_refused() {
    let world = World::new();
    let a = world.upload("", "a.txt", b"a").await;
    let b = world.upload("", "b.txt", b"b").await;
    let (envelope, raw) = world.envelope(&world.ann, delete_file(a));
    let files = &world.stack.files;
    files
        .command(&world.ann, envelope.clone(), &raw)
        .await
        .unwrap();
    let (metadata, _) = envelope.into_parts();
    let other = CommandEnvelope::new(metadata, delete_file(b));
    let other_raw = serde_json::to_vec(&other).unwrap();
    let refused = files
        .command(&world.ann, other, &other_raw)
        .await
        .unwrap_err();
    assert_eq!(refused.code, ErrorCode::Conflict);
}

#[tokio::test]
async fn a_command_recorded_but_lost_before_the_bus_is_put_there_by_its_retry() {
    let world = World::new();
    let id = world.upload("", "a.txt", b"a").await;
    let (envelope, raw) = world.envelope(&world.ann, delete_file(id));
    let files = &world.stack.files;
    // The record is written, the bus put fails: the caller retries.
    let before = world.stack.faults.count();
    let check = World::new();
    let check_id = check.upload("", "a.txt", b"a").await;
    let (check_envelope, check_raw) = check.envelope(&check.ann, delete_file(check_id));
    let from = check.stack.faults.count();
    check
        .stack
        .files
        .command(&check.ann, check_envelope, &check_raw)
        .await
        .unwrap();
    let calls = check.stack.faults.calls_since(from);
    let put = calls.iter().position(|c| *c == "bus.put").unwrap();
    assert_eq!(world.stack.faults.count(), before);
    world.stack.faults.fail_call(put + 1);
    assert!(
        files
            .command(&world.ann, envelope.clone(), &raw)
            .await
            .is_err()
    );
    assert!(world.stack.bus.take().is_empty());
    let answer = files.command(&world.ann, envelope, &raw).await.unwrap();
    assert!(matches!(answer, CommandAnswer::Accepted(_)));
    world.stack.settle().await.unwrap();
    assert_eq!(world.listing(), ["/a.txt trashed"]);
}

#[tokio::test]
async fn a_retried_create_file_names_the_same_file_with_fresh_urls() {
    let world = World::new();
    let command = Command::CreateFile(CreateFileV1 {
        folder: FolderPath::root(),
        name: file_name("a.txt"),
        size: 1,
        content_type: "text/plain".into(),
        sha256: None,
        on_conflict: ConflictPolicy::Fail,
    });
    let (envelope, raw) = world.envelope(&world.ann, command);
    let files = &world.stack.files;
    let first = files
        .command(&world.ann, envelope.clone(), &raw)
        .await
        .unwrap();
    world.stack.clock.advance(60);
    let again = files.command(&world.ann, envelope, &raw).await.unwrap();
    let (CommandAnswer::Created(first), CommandAnswer::Created(again)) = (first, again) else {
        panic!("two files")
    };
    assert_eq!(first.file.file_id, again.file.file_id);
    assert_ne!(first.upload, again.upload, "fresh URLs");
    assert_eq!(world.listing(), ["/a.txt uploading"]);
}
