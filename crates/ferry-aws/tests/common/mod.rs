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

pub fn moto_server() -> PathBuf {
    if let Some(path) = std::env::var_os("FERRY_MOTO_SERVER") {
        return path.into();
    }
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/python/bin/moto_server");
    assert!(
        path.exists(),
        "{} is missing: `cargo xtask test` installs the PyPI test peers (tools/python/requirements.txt)",
        path.display()
    );
    path
}

pub fn start_moto() -> Moto {
    use std::os::unix::process::CommandExt as _;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(moto_server())
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
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
    panic!("moto_server never listened on {port}");
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
