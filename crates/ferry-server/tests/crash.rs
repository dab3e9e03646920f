//! `kill -9` of the real `ferry-server` process while consumers are busy:
//! after a restart on the same data directory every accepted command is
//! carried out, an upload whose answer may have been lost is indexed, and
//! nothing lands in the dead-letter table.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

mod net;

use net::start_server as start;

use serde_json::json;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_ferry-server");
const WAIT: Duration = Duration::from_secs(60);

fn run(data: &Path, args: &[&str]) -> String {
    let output = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

async fn status_of(addr: SocketAddr, token: &str, path: &str) -> (u16, serde_json::Value) {
    net::get(addr, token, path).await
}

async fn until_available(addr: SocketAddr, token: &str, id: &str) {
    let path = format!("/api/files/{id}");
    net::eventually(WAIT, &format!("{id} to be available"), || {
        let path = path.clone();
        async move { status_of(addr, token, &path).await.1["status"] == "available" }
    })
    .await;
}

/// Deliveries the killed server left for its successor (diagnostics only).
fn unfinished_deliveries(data: &Path) -> i64 {
    let db = rusqlite::Connection::open(data.join("bus.sqlite3")).unwrap();
    db.query_row(
        "SELECT COUNT(*) FROM deliveries WHERE state != 'done'",
        [],
        |row| row.get(0),
    )
    .unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_commands_survive_kill_9_and_are_carried_out_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (data, dist) = (dir.path().join("data"), dir.path().join("dist"));
    std::fs::create_dir_all(&dist).unwrap();
    run(
        &data,
        &["user", "add", "alice", "--password", net::PASSWORD],
    );
    let (mut child, addr) = start(&data, &dist, "127.0.0.1:0");
    let same_port = addr.to_string();

    for (round, kill_after_ms) in [0u64, 5, 20].into_iter().enumerate() {
        let token = net::sign_in(addr, "alice").await;
        let mut doomed = Vec::new();
        let mut moving = Vec::new();
        for i in 0..20 {
            doomed
                .push(net::upload(addr, &token, "", &format!("del-{round}-{i}.txt"), b"bye").await);
            moving.push(net::upload(addr, &token, "", &format!("mv-{round}-{i}.txt"), b"go").await);
        }
        for id in doomed.iter().chain(&moving) {
            until_available(addr, &token, id).await;
        }

        // Sixty commands at once, so the consumers fall behind; every 202
        // is a promise.
        let mut sending = Vec::new();
        for i in 0..20 {
            for data in [
                json!({"Action": "DeleteFile", "FileId": doomed[i]}),
                json!({"Action": "CreateFolder", "Path": format!("round{round}/f{i}")}),
                json!({"Action": "MoveFile", "FileId": moving[i], "ToFolder": format!("moved{round}"),
                       "ToName": format!("moved-{i}.txt")}),
            ] {
                let token = token.clone();
                sending.push(tokio::spawn(async move {
                    let id = Uuid::new_v4();
                    let delete = data["Action"] == "DeleteFile";
                    let (status, body) = net::command(addr, &token, id, data).await;
                    assert_eq!(status, 202, "{body}");
                    (id, delete)
                }));
            }
        }
        let mut accepted = Vec::new();
        for task in sending {
            accepted.push(task.await.unwrap());
        }
        // An upload whose Object Created may be in flight at the kill.
        let (status, created) = net::command(
            addr,
            &token,
            Uuid::new_v4(),
            json!({"Action": "CreateFile", "Folder": "", "Name": format!("late-{round}.txt"),
                   "Size": 4, "ContentType": "text/plain"}),
        )
        .await;
        assert_eq!(status, 201, "{created}");
        let late = created["file"]["fileId"].as_str().unwrap().to_owned();
        let request = created["upload"]["request"].clone();
        let put = {
            let request = request.clone();
            tokio::spawn(async move {
                let url = request["url"].as_str().unwrap();
                let path = &url[url.find("/ferry").unwrap()..];
                let mut headers = vec![("content-length".to_owned(), "4".to_owned())];
                for (name, value) in request["headers"].as_object().unwrap() {
                    headers.push((name.clone(), value.as_str().unwrap().to_owned()));
                }
                net::send(addr, "PUT", path, &headers, b"late".to_vec()).await
            })
        };
        tokio::time::sleep(Duration::from_millis(kill_after_ms)).await;
        child.kill().unwrap();
        child.wait().unwrap();
        let put_answered = matches!(put.await.unwrap(), Ok((200, _)));
        let unfinished = unfinished_deliveries(&data);

        // Same port, so the public URL (token issuer, presigned URLs) is unchanged.
        (child, _) = start(&data, &dist, &same_port);
        let token = net::sign_in(addr, "alice").await;
        if !put_answered {
            // The client never heard back, so it retries, as a browser would.
            let (status, body) = net::presigned(addr, &request, b"late".to_vec()).await;
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        }
        // Shown when the test fails: how much work the kill interrupted.
        eprintln!(
            "round {round}: killed after {kill_after_ms} ms; {unfinished} bus deliveries \
             unfinished; the last PUT answered: {put_answered}"
        );
        for (id, _) in &accepted {
            let path = format!("/api/commands/{id}");
            let started = std::time::Instant::now();
            let last = loop {
                let (_, status) = status_of(addr, &token, &path).await;
                if status["status"] == "succeeded" || status["status"] == "failed" {
                    break status;
                }
                assert!(
                    started.elapsed() < WAIT,
                    "command {id} never finished: {status}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            assert_eq!(last["status"], "succeeded", "{last}");
        }
        until_available(addr, &token, &late).await;

        for id in &doomed {
            let (_, file) = status_of(addr, &token, &format!("/api/files/{id}")).await;
            assert_eq!(file["status"], "trashed", "{file}");
        }
        let (_, listing) = status_of(
            addr,
            &token,
            &format!("/api/files?folder=round{round}&limit=100"),
        )
        .await;
        let mut folders: Vec<String> = listing["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect();
        folders.sort();
        let mut expected: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
        expected.sort();
        assert_eq!(folders, expected);
        for (i, id) in moving.iter().enumerate() {
            let (_, file) = status_of(addr, &token, &format!("/api/files/{id}")).await;
            assert_eq!(
                (
                    file["folder"].clone(),
                    file["name"].clone(),
                    file["status"].clone()
                ),
                (
                    json!(format!("moved{round}")),
                    json!(format!("moved-{i}.txt")),
                    json!("available")
                ),
                "{file}"
            );
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(run(&data, &["dlq", "list"]).contains("no dead letters"));
}

/// Waits until the command `id` finished; asserts it succeeded.
async fn until_succeeded(addr: SocketAddr, token: &str, id: Uuid) {
    let path = format!("/api/commands/{id}");
    let started = std::time::Instant::now();
    loop {
        let (_, status) = status_of(addr, token, &path).await;
        if status["status"] == "succeeded" {
            return;
        }
        assert_ne!(status["status"], "failed", "{status}");
        assert!(
            started.elapsed() < WAIT,
            "command {id} never finished: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends a command and waits for it to succeed.
async fn carried_out(addr: SocketAddr, token: &str, data: serde_json::Value) -> Uuid {
    let id = Uuid::new_v4();
    let (status, body) = net::command(addr, token, id, data).await;
    assert_eq!(status, 202, "{body}");
    until_succeeded(addr, token, id).await;
    id
}

/// `kill -9` while the trash and versions are busy: restores, purges,
/// deletes and replacing uploads in flight. After the restart every file is
/// current, in the trash or a version, as its command said — never gone
/// (but the purged ones), never twice — and `ferry-server check` finds the
/// index, usage and objects agreeing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trash_and_versions_survive_kill_9_with_nothing_lost_or_doubled() {
    let dir = tempfile::tempdir().unwrap();
    let (data, dist) = (dir.path().join("data"), dir.path().join("dist"));
    std::fs::create_dir_all(&dist).unwrap();
    run(
        &data,
        &["user", "add", "alice", "--password", net::PASSWORD],
    );
    let (mut child, addr) = start(&data, &dist, "127.0.0.1:0");
    let same_port = addr.to_string();
    const N: usize = 8;

    for (round, kill_after_ms) in [0u64, 10, 40].into_iter().enumerate() {
        let token = net::sign_in(addr, "alice").await;
        let folder = format!("r{round}");
        let mut ids: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
        for kind in ["restored", "purged", "replaced", "trashed"] {
            for i in 0..N {
                let name = format!("{kind}-{i}.txt");
                let id = net::upload(addr, &token, &folder, &name, name.as_bytes()).await;
                ids.entry(kind).or_default().push(id);
            }
        }
        for list in ids.values() {
            for id in list {
                until_available(addr, &token, id).await;
            }
        }
        // Into the trash first: what the round restores and purges.
        let mut trash = std::collections::BTreeMap::new();
        for kind in ["restored", "purged"] {
            for id in &ids[kind] {
                let trash_id =
                    carried_out(addr, &token, json!({"Action": "DeleteFile", "FileId": id})).await;
                trash.insert(id.clone(), trash_id);
            }
        }

        // All at once, then the kill.
        let mut sending = Vec::new();
        for i in 0..N {
            for data in [
                json!({"Action": "RestoreTrashItem", "TrashId": trash[&ids["restored"][i]]}),
                json!({"Action": "PurgeTrashItem", "TrashId": trash[&ids["purged"][i]]}),
                json!({"Action": "DeleteFile", "FileId": ids["trashed"][i]}),
            ] {
                let token = token.clone();
                sending.push(tokio::spawn(async move {
                    let id = Uuid::new_v4();
                    let (status, body) = net::command(addr, &token, id, data).await;
                    assert_eq!(status, 202, "{body}");
                    id
                }));
            }
        }
        let mut replacing = Vec::new();
        for i in 0..N {
            let name = format!("replaced-{i}.txt");
            let (status, created) = net::command(
                addr,
                &token,
                Uuid::new_v4(),
                json!({"Action": "CreateFile", "Folder": folder, "Name": name,
                       "Size": 8, "ContentType": "text/plain", "OnConflict": "Replace"}),
            )
            .await;
            assert_eq!(status, 201, "{created}");
            let request = created["upload"]["request"].clone();
            let put = tokio::spawn({
                let request = request.clone();
                async move { net::presigned(addr, &request, b"newer!!!".to_vec()).await.0 }
            });
            replacing.push((
                created["file"]["fileId"].as_str().unwrap().to_owned(),
                request,
                put,
            ));
        }
        let mut accepted = Vec::new();
        for task in sending {
            accepted.push(task.await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(kill_after_ms)).await;
        child.kill().unwrap();
        child.wait().unwrap();
        let mut answered = Vec::new();
        for (id, request, put) in replacing {
            answered.push((id, request, matches!(put.await, Ok(200))));
        }
        let unfinished = unfinished_deliveries(&data);
        (child, _) = start(&data, &dist, &same_port);
        let token = net::sign_in(addr, "alice").await;
        eprintln!(
            "round {round}: killed after {kill_after_ms} ms; {unfinished} deliveries unfinished"
        );
        for (_, request, ok) in &answered {
            if !ok {
                // The browser never heard back: it sends the part again.
                let (status, body) = net::presigned(addr, request, b"newer!!!".to_vec()).await;
                assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
            }
        }
        for id in &accepted {
            until_succeeded(addr, &token, *id).await;
        }
        for (id, _, _) in &answered {
            until_available(addr, &token, id).await;
        }

        let file = |id: String| {
            let token = token.clone();
            async move { status_of(addr, &token, &format!("/api/files/{id}")).await }
        };
        for i in 0..N {
            let restored = file(ids["restored"][i].clone()).await.1;
            assert_eq!(
                (restored["status"].clone(), restored["name"].clone()),
                (json!("available"), json!(format!("restored-{i}.txt")))
            );
            assert_eq!(file(ids["purged"][i].clone()).await.0, 404);
            assert_eq!(file(ids["trashed"][i].clone()).await.1["status"], "trashed");
            let old = file(ids["replaced"][i].clone()).await.1;
            assert_eq!(old["status"], "version", "{old}");
            let (new, _, _) = &answered[i];
            let (_, versions) =
                status_of(addr, &token, &format!("/api/files/{new}/versions")).await;
            assert_eq!(
                versions["versions"].as_array().unwrap().len(),
                1,
                "{versions}"
            );
            assert_eq!(
                versions["versions"][0]["fileId"],
                ids["replaced"][i].as_str()
            );
        }
        // Never twice: one current file per name, the ones expected.
        let (_, listing) = status_of(
            addr,
            &token,
            &format!("/api/files?folder={folder}&limit=1000"),
        )
        .await;
        let mut names: Vec<String> = listing["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        let mut expected: Vec<String> = (0..N)
            .flat_map(|i| [format!("restored-{i}.txt"), format!("replaced-{i}.txt")])
            .collect();
        expected.sort();
        assert_eq!(names, expected);
        // The trash holds the round's deletes, each once.
        let (_, trash) = status_of(addr, &token, "/api/trash?limit=1000").await;
        let in_trash: Vec<&str> = trash["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["fileId"].as_str())
            .collect();
        for id in &ids["trashed"] {
            assert_eq!(in_trash.iter().filter(|t| **t == id.as_str()).count(), 1);
        }
        for id in ids["restored"].iter().chain(&ids["purged"]) {
            assert!(!in_trash.contains(&id.as_str()));
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let checked = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data)
        .arg("check")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&checked.stdout);
    assert!(
        checked.status.success() && said.contains("no problems"),
        "{said}"
    );
    assert!(run(&data, &["dlq", "list"]).contains("no dead letters"));
}

/// One server per data directory: a second one refuses to start and names
/// the first one's pid; the admin commands still work beside it; and after
/// the first one dies (even by `kill -9`) the directory is free again.
#[test]
fn a_second_server_on_the_same_data_directory_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let (data, dist) = (dir.path().join("data"), dir.path().join("dist"));
    std::fs::create_dir_all(&dist).unwrap();
    let (mut first, _) = start(&data, &dist, "127.0.0.1:0");
    let second = Command::new(BIN)
        .arg("--data-dir")
        .arg(&data)
        .args(["--addr", "127.0.0.1:0", "--dist"])
        .arg(&dist)
        .output()
        .unwrap();
    assert!(!second.status.success());
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(
        said.contains(&format!(
            "another ferry-server (pid {}) is serving",
            first.id()
        )),
        "{said}"
    );
    run(&data, &["user", "list"]);
    first.kill().unwrap();
    first.wait().unwrap();
    let (mut again, _) = start(&data, &dist, "127.0.0.1:0");
    again.kill().unwrap();
    again.wait().unwrap();
}

/// The serving process runs with glibc's mmap threshold fixed and two
/// malloc arenas (it starts itself again with `MALLOC_MMAP_THRESHOLD_` and
/// `MALLOC_ARENA_MAX` set, keeping its process id), so memory freed under
/// load is given back or reused instead of swelling the allocator's
/// arenas (issue 15's soak). A value the person starting it chose is kept.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn the_server_runs_with_malloc_tuned() {
    use std::io::BufRead as _;
    const VARS: [&str; 2] = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_ARENA_MAX"];
    let dir = tempfile::tempdir().unwrap();
    let (data, dist) = (dir.path().join("data"), dir.path().join("dist"));
    std::fs::create_dir_all(&dist).unwrap();
    let served_with = |chosen: &[(&str, &str)]| -> Vec<Option<String>> {
        let mut command = Command::new(BIN);
        command
            .arg("--data-dir")
            .arg(&data)
            .args(["--addr", "127.0.0.1:0", "--dist"])
            .arg(&dist)
            .env("FERRY_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        for var in VARS {
            command.env_remove(var);
        }
        command.envs(chosen.iter().copied());
        let mut server = command.spawn().unwrap();
        let mut lines = std::io::BufReader::new(server.stdout.take().unwrap()).lines();
        // Serving: the process the listening line comes from is the one
        // that serves.
        while !lines.next().unwrap().unwrap().contains("listening on") {}
        let environ = std::fs::read(format!("/proc/{}/environ", server.id())).unwrap();
        server.kill().unwrap();
        server.wait().unwrap();
        let environ = String::from_utf8_lossy(&environ);
        VARS.iter()
            .map(|name| {
                environ
                    .split('\0')
                    .find_map(|var| var.strip_prefix(name)?.strip_prefix('='))
                    .map(str::to_owned)
            })
            .collect()
    };
    let values = |values: [&str; 2]| values.map(|value| Some(value.to_owned())).to_vec();
    assert_eq!(served_with(&[]), values(["131072", "2"]));
    assert_eq!(
        served_with(&[("MALLOC_MMAP_THRESHOLD_", "65536")]),
        values(["65536", "2"])
    );
    assert_eq!(
        served_with(&[("MALLOC_ARENA_MAX", "4")]),
        values(["131072", "4"])
    );
}
