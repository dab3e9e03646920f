//! moto's server mode for the adapters' tests: one server per test, on a
//! free port, in its own process group, stopped when dropped.

#![allow(dead_code, clippy::unwrap_used)]

use ferry_aws::AwsSettings;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// moto's server, in its own process group, stopped on drop.
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// The Python that has moto (`cargo xtask test` installs it from the pins in
/// tools/python/requirements.txt), or `FERRY_MOTO_PYTHON`.
pub fn moto_python() -> PathBuf {
    if let Some(path) = std::env::var_os("FERRY_MOTO_PYTHON") {
        return path.into();
    }
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/python/bin/python");
    assert!(
        path.exists(),
        "{} is missing: `cargo xtask test` installs the PyPI test peers (tools/python/requirements.txt)",
        path.display()
    );
    path
}

/// moto's server on a free port, serving one request at a time
/// (tools/python/moto_serial.py says why).
pub fn start_moto() -> Moto {
    use std::os::unix::process::CommandExt as _;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/python/moto_serial.py");
    let child = Command::new(moto_python())
        .arg(script)
        .args(["127.0.0.1", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let moto = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return moto;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("moto never listened on {port}");
}

pub fn settings(moto: &Moto) -> AwsSettings {
    AwsSettings {
        region: "us-east-1".into(),
        credentials: aws_sdk_s3::config::Credentials::new(
            "AKIDMOTO",
            "moto-secret",
            None,
            None,
            "test",
        ),
        endpoint_url: Some(moto.url.clone()),
    }
}

/// What a stand-in received: (method, path, body).
pub type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, String, String)>>>;

/// An HTTP/1.1 stand-in on loopback for what moto lacks: every request is
/// recorded, and `answer(method, path, body)` gives the status, extra
/// headers and body.
pub async fn stand_in<F>(answer: F) -> (String, Received)
where
    F: Fn(&str, &str, &str) -> (u16, Vec<(String, String)>, String) + Send + Sync + 'static,
{
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let received: Received = std::sync::Arc::default();
    let log = received.clone();
    let answer = std::sync::Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let (log, answer) = (log.clone(), answer.clone());
            tokio::spawn(async move {
                let mut reader = BufReader::new(socket);
                let mut line = String::new();
                reader.read_line(&mut line).await.unwrap();
                let mut words = line.split_whitespace();
                let method = words.next().unwrap_or_default().to_owned();
                let path = words.next().unwrap_or_default().to_owned();
                let mut length = 0;
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).await.unwrap();
                    if header.trim().is_empty() {
                        break;
                    }
                    if let Some((name, value)) = header.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).await.unwrap();
                let body = String::from_utf8(body).unwrap();
                let (status, headers, reply) = answer(&method, &path, &body);
                log.lock().unwrap().push((method, path, body));
                let mut head = format!(
                    "HTTP/1.1 {status} Stand-in\r\ncontent-length: {}\r\nconnection: close\r\n",
                    reply.len()
                );
                for (name, value) in headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str("\r\n");
                head.push_str(&reply);
                reader.get_mut().write_all(head.as_bytes()).await.unwrap();
            });
        }
    });
    (url, received)
}

/// A stand-in for API Gateway's management API (`POST
/// /{stage}/@connections/{id}`): answers `410 Gone` (as API Gateway does)
/// for the ids in `gone`; answers the endpoint (with its stage) and, of the
/// posts it accepted, (connection id, body).
pub async fn management_stand_in(
    gone: std::collections::HashSet<String>,
) -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
) {
    let accepted: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>> =
        std::sync::Arc::default();
    let log = accepted.clone();
    let (url, _) = stand_in(move |_, path, body| {
        let id = path.rsplit('/').next().unwrap_or_default().to_owned();
        if gone.contains(&id) {
            (
                410,
                vec![
                    ("x-amzn-errortype".to_owned(), "GoneException".to_owned()),
                    ("content-type".to_owned(), "application/json".to_owned()),
                ],
                r#"{"message":"Gone"}"#.to_owned(),
            )
        } else {
            log.lock().unwrap().push((id, body.to_owned()));
            (200, Vec::new(), String::new())
        }
    })
    .await;
    (format!("{url}/prod"), accepted)
}

/// An S3 client on moto (path-style: one host).
pub fn s3_client(moto: &Moto) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&settings(moto).sdk_config())
            .force_path_style(true)
            .build(),
    )
}

/// An SQS client on moto.
pub fn sqs_client(moto: &Moto) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&settings(moto).sdk_config())
}

/// Ferry's bus on moto, as the SAM template lays it out: `bus`, and each
/// rule of `ferry_core::consumers::rules()` on it with an SQS queue as its
/// target (standing in for the consumer's function). Answers the SQS client
/// and each rule's queue URL.
pub async fn bus_with_queues(
    moto: &Moto,
    bus: &str,
) -> (
    aws_sdk_eventbridge::Client,
    aws_sdk_sqs::Client,
    std::collections::BTreeMap<&'static str, String>,
) {
    let events = aws_sdk_eventbridge::Client::new(&settings(moto).sdk_config());
    let sqs = sqs_client(moto);
    events.create_event_bus().name(bus).send().await.unwrap();
    let mut queues = std::collections::BTreeMap::new();
    for (name, pattern) in ferry_core::consumers::rules() {
        let url = sqs
            .create_queue()
            .queue_name(format!("ferry-{name}"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone();
        events
            .put_rule()
            .name(name)
            .event_bus_name(bus)
            .event_pattern(pattern.to_string())
            .send()
            .await
            .unwrap();
        events
            .put_targets()
            .rule(name)
            .event_bus_name(bus)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id(name)
                    .arn(arn)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        queues.insert(name, url);
    }
    (events, sqs, queues)
}

/// Every message in the queue at `url` (each an EventBridge event), taken
/// off it.
pub async fn receive_all(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<serde_json::Value> {
    let mut all = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return all;
        }
        for message in messages {
            all.push(serde_json::from_str(message.body().unwrap()).unwrap());
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}
