//! The file API through the router without a socket (`oneshot`), on the real
//! local adapters: SQLite index, durable bus, object endpoint on disk.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::{Stack, envelope};
use ferry_server::clock::SystemClock;
use serde_json::{Value, json};
use sha2::Digest;
use std::sync::Arc;
use uuid::Uuid;

fn stack() -> Stack {
    Stack::new(Arc::new(SystemClock), |_| {})
}

fn names(list: &Value) -> Vec<String> {
    list["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect()
}

fn actions(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["data"]["Action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_small_file_is_created_uploaded_indexed_and_announced() {
    let stack = stack();
    let token = stack.user("alice").await;
    let content = b"hello, ferry".to_vec();
    let sha = ferry_core::service::hex(&sha2::Sha256::digest(&content));
    let command_id = Uuid::new_v4();
    let create = envelope(
        command_id,
        json!({"Action": "CreateFile", "Folder": "docs", "Name": "hello.txt",
               "Size": content.len(), "ContentType": "text/plain", "Sha256": sha}),
    );
    let created = stack.post(&token, "/api/commands", &create).await;
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let created = created.json();
    assert_eq!(created["file"]["status"], "uploading");
    assert_eq!(created["upload"]["kind"], "single");
    let request = &created["upload"]["request"];
    assert_eq!(request["method"], "PUT");
    assert!(request["headers"]["x-amz-checksum-sha256"].is_string());
    let file_id = created["file"]["fileId"].as_str().unwrap().to_owned();

    // The same command again: the same answer, and still one file.
    let again = stack.post(&token, "/api/commands", &create).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.json()["file"]["fileId"], file_id.as_str());
    assert_eq!(stack.get(&token, "/api/usage").await.json()["files"], 1);

    let put = stack.presigned(request, content.clone()).await;
    assert_eq!(put.status, 200, "{}", String::from_utf8_lossy(&put.body));
    stack.settle().await;

    let file = stack
        .get(&token, &format!("/api/files/{file_id}"))
        .await
        .json();
    assert_eq!(file["status"], "available");
    assert_eq!(file["size"], content.len());
    assert_eq!(file["sha256"], sha.as_str());
    assert_eq!(file["version"], 2);

    let status = stack
        .get(&token, &format!("/api/commands/{command_id}"))
        .await
        .json();
    assert_eq!(status["status"], "succeeded");
    assert_eq!(status["result"]["data"]["Action"], "FileCreated");

    let events = stack.events(&token).await;
    assert_eq!(actions(&events), ["FileCreated"]);
    assert_eq!(events[0]["metadata"]["CommandId"], command_id.to_string());
    assert_eq!(
        events[0]["metadata"]["TraceId"],
        format!("trace-{}", command_id.simple())
    );

    let listing = stack.get(&token, "/api/files?folder=docs").await.json();
    assert_eq!(names(&listing), ["hello.txt"]);
    let root = stack.get(&token, "/api/files").await.json();
    assert_eq!(root["entries"][0]["type"], "folder");
    assert_eq!(names(&root), ["docs"]);

    // The download keeps the name and the bytes.
    let download = stack
        .get(&token, &format!("/api/files/{file_id}/download"))
        .await
        .json();
    assert_eq!(download["sha256"], sha.as_str());
    let got = stack.presigned(&download["request"], Vec::new()).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, content);
    let disposition = got.headers["content-disposition"].to_str().unwrap();
    assert!(disposition.contains("hello.txt"), "{disposition}");
}

#[tokio::test]
async fn a_command_id_reused_for_another_request_is_refused() {
    let stack = stack();
    let token = stack.user("alice").await;
    let id = Uuid::new_v4();
    let first = envelope(id, json!({"Action": "CreateFolder", "Path": "a"}));
    let second = envelope(id, json!({"Action": "CreateFolder", "Path": "b"}));
    assert_eq!(
        stack.post(&token, "/api/commands", &first).await.status,
        202
    );
    let refused = stack.post(&token, "/api/commands", &second).await;
    assert_eq!(refused.status, 409);
    assert_eq!(refused.json()["code"], "Conflict");
    stack.settle().await;
    let root = stack.get(&token, "/api/files").await.json();
    assert_eq!(names(&root), ["a"]);
}

/// Ids are chosen by clients, so two users may pick the same one: every key
/// derived from it (the bus's dedupe key, the consumers' marks, the file id,
/// the ids of the events about the file) starts with the user, and both
/// commands run.
#[tokio::test]
async fn two_users_may_use_the_same_command_id() {
    let stack = stack();
    let alice = stack.user("alice").await;
    let bob = stack.user("bob").await;
    let folder = Uuid::new_v4();
    let create = Uuid::new_v4();
    let mut file_ids = Vec::new();
    for token in [&alice, &bob] {
        let made = stack
            .post(
                token,
                "/api/commands",
                &envelope(
                    folder,
                    json!({"Action": "CreateFolder", "Path": "shared-id"}),
                ),
            )
            .await;
        assert_eq!(made.status, 202, "{}", String::from_utf8_lossy(&made.body));
        let created = stack
            .post(
                token,
                "/api/commands",
                &envelope(
                    create,
                    json!({"Action": "CreateFile", "Folder": "", "Name": "same.txt",
                           "Size": 4, "ContentType": "text/plain"}),
                ),
            )
            .await;
        assert_eq!(
            created.status,
            201,
            "{}",
            String::from_utf8_lossy(&created.body)
        );
        let created = created.json();
        let put = stack
            .presigned(&created["upload"]["request"], b"same".to_vec())
            .await;
        assert_eq!(put.status, 200, "{}", String::from_utf8_lossy(&put.body));
        file_ids.push(created["file"]["fileId"].as_str().unwrap().to_owned());
    }
    stack.settle().await;
    assert_ne!(file_ids[0], file_ids[1], "a file id starts with its user");
    for (token, file_id) in [(&alice, &file_ids[0]), (&bob, &file_ids[1])] {
        let status = stack.get(token, &format!("/api/commands/{folder}")).await;
        assert_eq!(status.json()["status"], "succeeded", "{:?}", status.json());
        assert_eq!(
            names(&stack.get(token, "/api/files").await.json()),
            ["shared-id", "same.txt"]
        );
        let file = stack.get(token, &format!("/api/files/{file_id}")).await;
        assert_eq!(file.json()["status"], "available", "{:?}", file.json());
        let events = stack.events(token).await;
        assert_eq!(
            actions(&events),
            ["FolderCreated", "FileCreated"],
            "{events:?}"
        );
    }
}

#[tokio::test]
async fn delete_is_accepted_then_carried_out_once() {
    let stack = stack();
    let token = stack.user("alice").await;
    let file = stack.upload(&token, "", "a.txt", b"abc").await;
    let id = file["fileId"].as_str().unwrap();
    let command_id = Uuid::new_v4();
    let delete = envelope(command_id, json!({"Action": "DeleteFile", "FileId": id}));
    let accepted = stack.post(&token, "/api/commands", &delete).await;
    assert_eq!(accepted.status, 202);
    assert_eq!(accepted.json()["status"], "pending");
    assert_eq!(accepted.json()["commandId"], command_id.to_string());
    // A retry while it is pending: the same answer.
    let retry = stack.post(&token, "/api/commands", &delete).await;
    assert_eq!(retry.status, 202);
    assert_eq!(retry.body, accepted.body);
    stack.settle().await;

    // In the trash: still the user's to read, out of the folder.
    let trashed = stack.get(&token, &format!("/api/files/{id}")).await;
    assert_eq!(trashed.status, 200);
    assert_eq!(trashed.json()["status"], "trashed");
    assert_eq!(
        names(&stack.get(&token, "/api/files").await.json()),
        [] as [&str; 0]
    );
    let status = stack
        .get(&token, &format!("/api/commands/{command_id}"))
        .await
        .json();
    assert_eq!(status["status"], "succeeded");
    assert_eq!(status["result"]["data"]["Action"], "FileTrashed");
    assert_eq!(
        actions(&stack.events(&token).await),
        ["FileCreated", "FileTrashed"]
    );
    let usage = stack.get(&token, "/api/usage").await.json();
    assert_eq!(
        (
            usage["files"].clone(),
            usage["bytes"].clone(),
            usage["trashBytes"].clone()
        ),
        (json!(0), json!(3), json!(3))
    );
    let trash = stack.get(&token, "/api/trash").await.json();
    assert_eq!(trash["items"][0]["trashId"], command_id.to_string());
    assert_eq!(trash["items"][0]["name"], "a.txt");
    assert_eq!(trash["retentionDays"], 30);
    // Sent again after it finished: the same 202, no second effect.
    let late = stack.post(&token, "/api/commands", &delete).await;
    assert_eq!(late.status, 202);
    stack.settle().await;
    assert_eq!(
        actions(&stack.events(&token).await),
        ["FileCreated", "FileTrashed"]
    );
    // Deleted forever: the bytes go, and only then FileDeleted.
    let purge = stack
        .command(
            &token,
            json!({"Action": "PurgeTrashItem", "TrashId": command_id}),
        )
        .await;
    assert_eq!(purge.status, 202);
    stack.settle().await;
    assert_eq!(
        stack.get(&token, &format!("/api/files/{id}")).await.status,
        404
    );
    assert_eq!(
        actions(&stack.events(&token).await),
        [
            "FileCreated",
            "FileTrashed",
            "FileDeleted",
            "TrashItemPurged"
        ]
    );
    let usage = stack.get(&token, "/api/usage").await.json();
    assert_eq!(
        (usage["files"].clone(), usage["bytes"].clone()),
        (json!(0), json!(0))
    );
    let objects: Vec<_> = common::walk(&stack.dir.path().join("data/objects"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(id))
        .collect();
    assert!(objects.is_empty(), "{objects:?}");
}

#[tokio::test]
async fn move_rename_and_conflicts() {
    let stack = stack();
    let token = stack.user("alice").await;
    let a = stack.upload(&token, "", "a.txt", b"a").await;
    let b = stack.upload(&token, "", "b.txt", b"b").await;
    let a_id = a["fileId"].as_str().unwrap();

    // Rename onto a taken name: the command fails, nothing changes.
    let command_id = Uuid::new_v4();
    let refused = envelope(
        command_id,
        json!({"Action": "MoveFile", "FileId": a_id, "ToFolder": "", "ToName": "b.txt"}),
    );
    assert_eq!(
        stack.post(&token, "/api/commands", &refused).await.status,
        202
    );
    stack.settle().await;
    let status = stack
        .get(&token, &format!("/api/commands/{command_id}"))
        .await
        .json();
    assert_eq!(status["status"], "failed");
    assert_eq!(status["result"]["data"]["Action"], "CommandFailed");
    assert_eq!(status["result"]["data"]["Code"], "Conflict");
    assert_eq!(
        names(&stack.get(&token, "/api/files").await.json()),
        ["a.txt", "b.txt"]
    );

    // KeepBoth picks a free name.
    let keep = stack
        .command(
            &token,
            json!({"Action": "MoveFile", "FileId": a_id, "ToFolder": "", "ToName": "b.txt",
                   "OnConflict": "KeepBoth"}),
        )
        .await;
    assert_eq!(keep.status, 202);
    stack.settle().await;
    assert_eq!(
        names(&stack.get(&token, "/api/files").await.json()),
        ["b (1).txt", "b.txt"]
    );

    // Move into a folder; the folder appears.
    stack
        .command(
            &token,
            json!({"Action": "MoveFile", "FileId": a_id, "ToFolder": "x/y", "ToName": "moved.txt"}),
        )
        .await;
    stack.settle().await;
    let file = stack
        .get(&token, &format!("/api/files/{a_id}"))
        .await
        .json();
    assert_eq!(
        (file["folder"].clone(), file["name"].clone()),
        (json!("x/y"), json!("moved.txt"))
    );
    assert_eq!(
        names(&stack.get(&token, "/api/files?folder=x").await.json()),
        ["y"]
    );

    // Replace: the target goes to the trash, the mover takes its name.
    stack
        .command(
            &token,
            json!({"Action": "MoveFile", "FileId": a_id, "ToFolder": "", "ToName": "b.txt",
                   "OnConflict": "Replace"}),
        )
        .await;
    stack.settle().await;
    let root = stack.get(&token, "/api/files").await.json();
    assert_eq!(names(&root), ["x", "b.txt"]);
    let b_id = b["fileId"].as_str().unwrap();
    assert_eq!(
        stack
            .get(&token, &format!("/api/files/{b_id}"))
            .await
            .json()["status"],
        "trashed"
    );
    let kinds = actions(&stack.events(&token).await);
    assert_eq!(kinds.iter().filter(|k| *k == "FileMoved").count(), 3);
    assert!(kinds.contains(&"CommandFailed".to_owned()));
    assert!(kinds.contains(&"FileTrashed".to_owned()));
    assert!(!kinds.contains(&"FileDeleted".to_owned()));
}

#[tokio::test]
async fn folders_are_created_and_deleted_recursively() {
    let stack = stack();
    let token = stack.user("alice").await;
    assert_eq!(
        stack
            .command(
                &token,
                json!({"Action": "CreateFolder", "Path": "empty/inner"})
            )
            .await
            .status,
        202
    );
    stack.upload(&token, "photos", "1.jpg", b"1").await;
    stack.upload(&token, "photos/2026", "2.jpg", b"22").await;
    stack.upload(&token, "photosphere", "keep.jpg", b"3").await;
    stack.settle().await;
    assert_eq!(
        names(&stack.get(&token, "/api/files").await.json()),
        ["empty", "photos", "photosphere"]
    );
    let command_id = Uuid::new_v4();
    let delete = envelope(
        command_id,
        json!({"Action": "DeleteFolder", "Path": "photos"}),
    );
    assert_eq!(
        stack.post(&token, "/api/commands", &delete).await.status,
        202
    );
    stack.settle().await;
    assert_eq!(
        names(&stack.get(&token, "/api/files").await.json()),
        ["empty", "photosphere"]
    );
    let status = stack
        .get(&token, &format!("/api/commands/{command_id}"))
        .await
        .json();
    assert_eq!(status["result"]["data"]["Action"], "FolderTrashed");
    assert_eq!(status["result"]["data"]["FilesTrashed"], 2);
    let usage = stack.get(&token, "/api/usage").await.json();
    assert_eq!(usage["files"], 1);
    // The folder's 3 bytes are in the trash, and still count.
    assert_eq!(
        (usage["bytes"].clone(), usage["trashBytes"].clone()),
        (json!(4), json!(3))
    );
    // A folder that isn't there, and the root, are refused up front.
    let gone = stack
        .command(&token, json!({"Action": "DeleteFolder", "Path": "photos"}))
        .await;
    assert_eq!(gone.status, 404);
    let root = stack
        .command(&token, json!({"Action": "DeleteFolder", "Path": ""}))
        .await;
    assert_eq!(root.status, 400);
}

#[tokio::test]
async fn listing_pages_sorts_and_search() {
    let stack = stack();
    let token = stack.user("alice").await;
    for (name, size) in [
        ("b.txt", 3usize),
        ("A.txt", 1),
        ("c.log", 2),
        ("Été.txt", 4),
    ] {
        stack.upload(&token, "", name, &vec![b'x'; size]).await;
    }
    let page = stack.get(&token, "/api/files?limit=2").await.json();
    assert_eq!(page["entries"].as_array().unwrap().len(), 2);
    let cursor = page["nextCursor"].as_str().unwrap();
    let rest = stack
        .get(
            &token,
            &format!("/api/files?limit=2&cursor={}", urlencode(cursor)),
        )
        .await
        .json();
    let mut all = names(&page);
    all.extend(names(&rest));
    assert_eq!(all, ["A.txt", "b.txt", "c.log", "Été.txt"]);
    assert!(rest.get("nextCursor").is_none());

    let by_size = stack
        .get(&token, "/api/files?sort=size&order=desc")
        .await
        .json();
    assert_eq!(names(&by_size), ["Été.txt", "b.txt", "c.log", "A.txt"]);

    let found = stack
        .get(&token, "/api/search?q=%C3%89T%C3%89")
        .await
        .json();
    let found: Vec<_> = found["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].clone())
        .collect();
    assert_eq!(found, [json!("Été.txt")]);
    let txt = stack.get(&token, "/api/search?q=.TXT").await.json();
    assert_eq!(txt["files"].as_array().unwrap().len(), 3);

    for bad in [
        "/api/files?limit=0",
        "/api/files?limit=1001",
        "/api/files?sort=colour",
        "/api/files?order=up",
        "/api/files?cursor=garbage",
        "/api/search?q=",
        "/api/files?folder=..%2Fetc",
    ] {
        let reply = stack.get(&token, bad).await;
        assert_eq!(
            reply.status,
            400,
            "{bad}: {}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    assert_eq!(
        stack.get(&token, "/api/files?folder=nowhere").await.status,
        404
    );
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn a_multipart_upload_is_completed_from_its_parts() {
    const MIB: usize = 1024 * 1024;
    let stack = Stack::new(Arc::new(SystemClock), |s| {
        s.files.multipart_threshold = 6 * MIB as u64;
        s.files.part_size = 5 * MIB as u64;
    });
    let token = stack.user("alice").await;
    let content: Vec<u8> = (0..(11 * MIB + 7)).map(|i| (i % 251) as u8).collect();
    let created = stack
        .command(
            &token,
            json!({"Action": "CreateFile", "Folder": "", "Name": "big.bin",
                   "Size": content.len(), "ContentType": "application/octet-stream"}),
        )
        .await;
    assert_eq!(created.status, 201);
    let created = created.json();
    let upload = &created["upload"];
    assert_eq!(upload["kind"], "multipart");
    assert_eq!(upload["partSize"], 5 * MIB);
    assert_eq!(upload["partCount"], 3);
    let id = created["file"]["fileId"].as_str().unwrap();

    // Part 2 with a signed checksum, presigned on demand.
    let chunk = |n: usize| content[(n - 1) * 5 * MIB..(n * 5 * MIB).min(content.len())].to_vec();
    use base64::Engine as _;
    let checksum = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(chunk(2)));
    let more = stack
        .post(
            &token,
            &format!("/api/files/{id}/parts"),
            &json!({"parts": [{"partNumber": 2, "checksumSha256": checksum}]}),
        )
        .await;
    assert_eq!(more.status, 200, "{}", String::from_utf8_lossy(&more.body));
    let part2 = more.json()["parts"][0]["request"].clone();
    // A corrupted part 2 is refused by the store.
    let mut corrupted = chunk(2);
    corrupted[0] ^= 1;
    let refused = stack.presigned(&part2, corrupted).await;
    assert_eq!(
        refused.status,
        400,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    assert!(String::from_utf8_lossy(&refused.body).contains("BadDigest"));

    let mut parts = Vec::new();
    for n in 1..=3usize {
        let request = if n == 2 {
            part2.clone()
        } else {
            upload["parts"][n - 1]["request"].clone()
        };
        let reply = stack.presigned(&request, chunk(n)).await;
        assert_eq!(
            reply.status,
            200,
            "part {n}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        parts.push(json!({"PartNumber": n, "ETag": reply.headers["etag"].to_str().unwrap()}));
    }
    let listed = stack
        .get(&token, &format!("/api/files/{id}/parts"))
        .await
        .json();
    assert_eq!(listed["parts"].as_array().unwrap().len(), 3);
    assert!(listed["parts"][1]["checksumSha256"].is_string());

    // Missing a part: refused, nothing completed.
    let short = stack
        .command(
            &token,
            json!({"Action": "CompleteUpload", "FileId": id, "Parts": parts[..2]}),
        )
        .await;
    assert_eq!(short.status, 400);
    // A malformed whole-file SHA-256: refused, nothing completed.
    let malformed = stack
        .command(
            &token,
            json!({"Action": "CompleteUpload", "FileId": id, "Parts": parts, "Sha256": "xyz"}),
        )
        .await;
    assert_eq!(malformed.status, 400);
    // The client's SHA-256 of the whole file is kept in the index.
    let whole: String = sha2::Sha256::digest(&content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let done = stack
        .command(
            &token,
            json!({"Action": "CompleteUpload", "FileId": id, "Parts": parts, "Sha256": whole}),
        )
        .await;
    assert_eq!(done.status, 200, "{}", String::from_utf8_lossy(&done.body));
    stack.settle().await;
    let file = stack.get(&token, &format!("/api/files/{id}")).await.json();
    assert_eq!(file["status"], "available");
    assert_eq!(file["sha256"], whole);
    assert!(file.get("multipart").is_none());
    let download = stack
        .get(&token, &format!("/api/files/{id}/download"))
        .await
        .json();
    let got = stack.presigned(&download["request"], Vec::new()).await;
    assert_eq!(got.body.len(), content.len());
    assert!(got.body == content);
}

#[tokio::test]
async fn an_aborted_upload_leaves_nothing() {
    const MIB: u64 = 1024 * 1024;
    let stack = Stack::new(Arc::new(SystemClock), |s| {
        s.files.multipart_threshold = 6 * MIB;
        s.files.part_size = 5 * MIB;
    });
    let token = stack.user("alice").await;
    let created = stack
        .command(
            &token,
            json!({"Action": "CreateFile", "Folder": "", "Name": "big.bin",
                   "Size": 12 * MIB, "ContentType": "application/octet-stream"}),
        )
        .await
        .json();
    let id = created["file"]["fileId"].as_str().unwrap();
    let part = stack
        .presigned(
            &created["upload"]["parts"][0]["request"],
            vec![0u8; 5 * MIB as usize],
        )
        .await;
    assert_eq!(part.status, 200);
    let aborted = stack
        .command(&token, json!({"Action": "AbortUpload", "FileId": id}))
        .await;
    assert_eq!(
        aborted.status,
        200,
        "{}",
        String::from_utf8_lossy(&aborted.body)
    );
    stack.settle().await;
    assert_eq!(
        stack.get(&token, &format!("/api/files/{id}")).await.status,
        404
    );
    assert_eq!(stack.get(&token, "/api/usage").await.json()["bytes"], 0);
    let uploads = ferry_core::ports::ObjectStore::list_uploads(&*stack.state.objects.store())
        .await
        .unwrap();
    assert!(uploads.is_empty(), "{uploads:?}");
    assert_eq!(actions(&stack.events(&token).await), ["UploadAborted"]);
    let create = created["commandId"].as_str().unwrap();
    let status = stack
        .get(&token, &format!("/api/commands/{create}"))
        .await
        .json();
    assert_eq!(status["status"], "failed");
    assert_eq!(status["result"]["data"]["Action"], "UploadAborted");
}

#[tokio::test]
async fn quota_and_size_limits_refuse_and_change_nothing() {
    let stack = Stack::new(Arc::new(SystemClock), |s| {
        s.files.quota_bytes = Some(10);
        s.files.max_file_bytes = 8;
    });
    let token = stack.user("alice").await;
    stack.upload(&token, "", "six.txt", b"123456").await;
    let over = stack
        .command(
            &token,
            json!({"Action": "CreateFile", "Folder": "", "Name": "five.txt",
                                "Size": 5, "ContentType": "text/plain"}),
        )
        .await;
    assert_eq!(over.status, 403);
    assert_eq!(over.json()["code"], "QuotaExceeded");
    let big = stack
        .command(
            &token,
            json!({"Action": "CreateFile", "Folder": "", "Name": "nine.txt",
                                "Size": 9, "ContentType": "text/plain"}),
        )
        .await;
    assert_eq!(big.status, 413);
    assert_eq!(big.json()["code"], "TooLarge");
    let usage = stack.get(&token, "/api/usage").await.json();
    assert_eq!(
        usage,
        json!({"bytes": 6, "files": 1, "quotaBytes": 10, "trashBytes": 0, "versionBytes": 0})
    );
    assert_eq!(
        names(&stack.get(&token, "/api/files").await.json()),
        ["six.txt"]
    );

    // A body bigger than declared is refused by the store (the size is signed).
    let created = stack
        .command(
            &token,
            json!({"Action": "CreateFile", "Folder": "", "Name": "two.txt",
                                "Size": 2, "ContentType": "text/plain"}),
        )
        .await
        .json();
    let refused = stack
        .presigned(&created["upload"]["request"], b"three".to_vec())
        .await;
    assert_eq!(
        refused.status,
        403,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    stack.settle().await;
    let id = created["file"]["fileId"].as_str().unwrap();
    assert_eq!(
        stack.get(&token, &format!("/api/files/{id}")).await.json()["status"],
        "uploading"
    );
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let stack = stack();
    let token = stack.user("alice").await;
    let cases: Vec<(String, u16, &str)> = vec![
        ("{not json".into(), 400, "MalformedRequest"),
        (
            json!({"metadata": {}, "data": {}}).to_string(),
            400,
            "MalformedRequest",
        ),
        (
            envelope(Uuid::new_v4(), json!({"Action": "FormatDisk"})).to_string(),
            400,
            "UnknownAction",
        ),
        (
            envelope(
                Uuid::new_v4(),
                json!({"Action": "CreateFolder", "Path": "../etc"}),
            )
            .to_string(),
            400,
            "InvalidName",
        ),
        (
            envelope(
                Uuid::new_v4(),
                json!({"Action": "CreateFolder", "Path": "a//b"}),
            )
            .to_string(),
            400,
            "InvalidName",
        ),
        (
            envelope(
                Uuid::new_v4(),
                json!({"Action": "CreateFile", "Folder": "", "Name": "a/b",
            "Size": 1, "ContentType": "text/plain"}),
            )
            .to_string(),
            400,
            "InvalidName",
        ),
        (
            envelope(
                Uuid::new_v4(),
                json!({"Action": "CreateFile", "Folder": "", "Name": "x\u{0}y",
            "Size": 1, "ContentType": "text/plain"}),
            )
            .to_string(),
            400,
            "InvalidName",
        ),
        (
            envelope(
                Uuid::new_v4(),
                json!({"Action": "CreateFile", "Folder": "", "Name": "ok.txt",
            "Size": -1, "ContentType": "text/plain"}),
            )
            .to_string(),
            400,
            "MalformedRequest",
        ),
        (
            envelope(
                Uuid::new_v4(),
                json!({"Action": "CreateFile", "Folder": "", "Name": "ok.txt",
            "Size": 1, "ContentType": "text/plain", "Sha256": "xyz"}),
            )
            .to_string(),
            400,
            "InvalidParameter",
        ),
        (
            envelope(
                Uuid::new_v4(),
                json!({"Action": "DeleteFile", "FileId": "not-a-uuid"}),
            )
            .to_string(),
            400,
            "MalformedRequest",
        ),
        (
            envelope(
                Uuid::new_v4(),
                json!({"Action": "DeleteFile", "FileId": Uuid::new_v4()}),
            )
            .to_string(),
            404,
            "NotFound",
        ),
    ];
    for (body, status, code) in cases {
        let reply = stack.post_raw(&token, "/api/commands", body.clone()).await;
        assert_eq!(
            reply.status,
            status,
            "{body}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        let error = reply.json();
        assert_eq!(error["code"], code, "{body}");
        assert!(error["message"].as_str().unwrap().len() > 10);
        assert!(error["traceId"].is_string());
    }
    stack.settle().await;
    assert_eq!(
        stack.get(&token, "/api/files").await.json()["entries"],
        json!([])
    );
    assert_eq!(stack.get(&token, "/api/usage").await.json()["files"], 0);
    assert!(stack.events(&token).await.is_empty());
    assert_eq!(stack.get(&token, "/api/nothing-here").await.status, 404);
}

#[tokio::test]
async fn tokens_are_checked_like_api_gateway_does() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let clock = Arc::new(ferry_server::clock::ManualClock::new(
        time::OffsetDateTime::now_utc().unix_timestamp(),
    ));
    let stack = Stack::new(clock.clone(), |_| {});
    let token = stack.user("alice").await;
    assert_eq!(stack.get(&token, "/api/usage").await.status, 200);

    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    claims["sub"] = json!("someone-else");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(claims.to_string()),
        parts[2]
    );
    let none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    let id_token_header = stack.sign_in("alice").await; // a fresh one works
    for bad in [String::new(), "garbage".to_owned(), tampered, none] {
        let reply = stack.get(&bad, "/api/usage").await;
        assert_eq!(reply.status, 401, "{bad}");
        assert_eq!(reply.json()["code"], "Unauthorized");
    }
    let missing = stack
        .send(Request::get("/api/usage").body(Body::empty()).unwrap())
        .await;
    assert_eq!(missing.status, 401);
    clock.advance(3601);
    let expired = stack.get(&id_token_header, "/api/usage").await;
    assert_eq!(expired.status, 401);
    assert!(
        expired.json()["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
}

#[tokio::test]
async fn two_users_never_see_or_touch_each_others_files() {
    let stack = stack();
    let alice = stack.user("alice").await;
    let bob = stack.user("bob").await;
    let file = stack
        .upload(&alice, "private", "diary.txt", b"dear diary")
        .await;
    let id = file["fileId"].as_str().unwrap();

    let unknown = Uuid::new_v4();
    for path in ["", "/download", "/parts"] {
        let theirs = stack.get(&bob, &format!("/api/files/{id}{path}")).await;
        let nobodys = stack
            .get(&bob, &format!("/api/files/{unknown}{path}"))
            .await;
        assert_eq!(theirs.status, 404, "{path}");
        let strip = |mut v: Value| {
            v.as_object_mut().unwrap().remove("traceId");
            v
        };
        assert_eq!(strip(theirs.json()), strip(nobodys.json()), "{path}");
    }
    for data in [
        json!({"Action": "DeleteFile", "FileId": id}),
        json!({"Action": "MoveFile", "FileId": id, "ToFolder": "", "ToName": "mine.txt"}),
        json!({"Action": "CompleteUpload", "FileId": id}),
        json!({"Action": "AbortUpload", "FileId": id}),
        json!({"Action": "DeleteFolder", "Path": "private"}),
    ] {
        assert_eq!(
            stack.command(&bob, data.clone()).await.status,
            404,
            "{data}"
        );
    }
    let theirs = stack
        .post(
            &bob,
            &format!("/api/files/{id}/parts"),
            &json!({"parts": [{"partNumber": 1}]}),
        )
        .await;
    assert_eq!(theirs.status, 404);
    assert_eq!(
        stack.get(&bob, "/api/files").await.json()["entries"],
        json!([])
    );
    assert_eq!(
        stack.get(&bob, "/api/search?q=diary").await.json()["files"],
        json!([])
    );
    assert_eq!(stack.get(&bob, "/api/usage").await.json()["files"], 0);
    assert!(stack.events(&bob).await.is_empty());
    // Bob's commands are his: Alice can't read their status.
    let command_id = Uuid::new_v4();
    stack
        .post(
            &bob,
            "/api/commands",
            &envelope(
                command_id,
                json!({"Action": "CreateFolder", "Path": "bobs"}),
            ),
        )
        .await;
    stack.settle().await;
    assert_eq!(
        stack
            .get(&bob, &format!("/api/commands/{command_id}"))
            .await
            .status,
        200
    );
    assert_eq!(
        stack
            .get(&alice, &format!("/api/commands/{command_id}"))
            .await
            .status,
        404
    );
    // Alice's file is untouched.
    assert_eq!(
        stack.get(&alice, &format!("/api/files/{id}")).await.json()["status"],
        "available"
    );
    assert_eq!(
        names(&stack.get(&alice, "/api/files").await.json()),
        ["private"]
    );
}

#[tokio::test]
async fn a_selection_is_deleted_in_one_batch() {
    let stack = stack();
    let token = stack.user("alice").await;
    let mut ids = Vec::new();
    for name in ["1.txt", "2.txt", "3.txt"] {
        ids.push(
            stack.upload(&token, "", name, b"x").await["fileId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let commands: Vec<Value> = ids[..2]
        .iter()
        .map(|id| {
            envelope(
                Uuid::new_v4(),
                json!({"Action": "DeleteFile", "FileId": id}),
            )
        })
        .chain([envelope(
            Uuid::new_v4(),
            json!({"Action": "DeleteFile", "FileId": Uuid::new_v4()}),
        )])
        .collect();
    let reply = stack
        .post(
            &token,
            "/api/commands/batch",
            &json!({"commands": commands}),
        )
        .await;
    assert_eq!(reply.status, 200);
    let statuses: Vec<_> = reply.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].clone())
        .collect();
    assert_eq!(statuses, [json!(202), json!(202), json!(404)]);
    stack.settle().await;
    assert_eq!(
        names(&stack.get(&token, "/api/files").await.json()),
        ["3.txt"]
    );
    let empty = stack
        .post(&token, "/api/commands/batch", &json!({"commands": []}))
        .await;
    assert_eq!(empty.status, 400);
}

#[tokio::test]
async fn a_replacing_upload_takes_the_name_over_once_it_is_available() {
    let stack = stack();
    let token = stack.user("alice").await;
    let old = stack.upload(&token, "", "report.pdf", b"old").await;
    let taken = stack
        .command(
            &token,
            json!({"Action": "CreateFile", "Folder": "", "Name": "report.pdf",
                                "Size": 3, "ContentType": "application/pdf"}),
        )
        .await;
    assert_eq!(taken.status, 409);
    let keep = stack
        .command(&token, json!({"Action": "CreateFile", "Folder": "", "Name": "report.pdf",
                                "Size": 3, "ContentType": "application/pdf", "OnConflict": "KeepBoth"}))
        .await;
    assert_eq!(keep.json()["file"]["name"], "report (1).pdf");
    let replace = stack
        .command(&token, json!({"Action": "CreateFile", "Folder": "", "Name": "report.pdf",
                                "Size": 3, "ContentType": "application/pdf", "OnConflict": "Replace"}))
        .await
        .json();
    // Until the new bytes arrive, the old file is still there.
    let old_id = old["fileId"].as_str().unwrap();
    assert_eq!(
        stack
            .get(&token, &format!("/api/files/{old_id}"))
            .await
            .status,
        200
    );
    let put = stack
        .presigned(&replace["upload"]["request"], b"new".to_vec())
        .await;
    assert_eq!(put.status, 200);
    stack.settle().await;
    // The old content is kept as a version of the new file.
    assert_eq!(
        stack
            .get(&token, &format!("/api/files/{old_id}"))
            .await
            .json()["status"],
        "version"
    );
    let new_id = replace["file"]["fileId"].as_str().unwrap();
    let versions = stack
        .get(&token, &format!("/api/files/{new_id}/versions"))
        .await
        .json();
    assert_eq!(versions["versions"][0]["fileId"], old_id);
    assert_eq!(versions["keepVersions"], 10);
    let new = stack
        .get(&token, &format!("/api/files/{new_id}"))
        .await
        .json();
    assert_eq!(
        (new["name"].clone(), new["status"].clone()),
        (json!("report.pdf"), json!("available"))
    );
}

#[tokio::test]
async fn the_openapi_document_is_served() {
    let stack = stack();
    let reply = stack
        .send(
            Request::get("/api/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["openapi"], "3.1.0");
}
