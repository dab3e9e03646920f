//! Starting the stack and the browser, and finding things on the page.
//!
//! Every process is started in its own process group and the whole group is
//! killed when its guard drops, so nothing outlives a test, even one that
//! panicked. Each run gets its own temporary directory (TMPDIR, the browser
//! profile and the server's data).

use anyhow::{Context, Result, anyhow, bail};
use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long to wait for something to appear before failing. A bound on
/// waiting, not a performance assertion.
const PATIENCE: Duration = Duration::from_secs(15);

/// A child process and its process group, killed on drop.
#[derive(Debug)]
pub struct ProcessGroup {
    child: Child,
}

impl ProcessGroup {
    /// Starts `command` in a new process group.
    pub fn spawn(command: &mut Command) -> Result<Self> {
        let child = command
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {command:?}"))?;
        Ok(Self { child })
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        // The group id is the leader's pid; `kill -- -PGID` reaches every
        // process in it (chromedriver's browsers, the server's workers).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The built client the tests serve: `FERRY_DIST`, by default `dist/`.
fn dist_dir() -> PathBuf {
    env_path("FERRY_DIST", || workspace_root().join("dist"))
}

fn env_path(name: &str, default: impl FnOnce() -> PathBuf) -> PathBuf {
    std::env::var_os(name).map_or_else(default, PathBuf::from)
}

/// A running `ferry-server` on a free loopback port with its own data dir.
#[derive(Debug)]
pub struct Stack {
    /// The base URL, without a trailing `/`.
    pub url: String,
    bin: PathBuf,
    _server: ProcessGroup,
    dir: tempfile::TempDir,
}

impl Stack {
    /// A sampler of CPU ticks per thread of the server (see [`thread_ticks`]).
    #[allow(dead_code)] // used by the benchmark, tests/ui_bench.rs
    pub fn thread_sampler(&self) -> impl Fn() -> ThreadTicks + Send + 'static {
        let group = self._server.child.id();
        move || thread_ticks(group, |_| true)
    }

    /// Starts the server binary named by `FERRY_SERVER_BIN` serving `FERRY_DIST`.
    pub fn start() -> Result<Self> {
        Self::start_with(&[])
    }

    /// Like [`Stack::start`], with more `serve` flags.
    pub fn start_with(flags: &[&str]) -> Result<Self> {
        Self::launch("127.0.0.1:0", flags)
    }

    /// A stack reached through `proxy` (its URL is the server's public URL,
    /// so presigned links go through it too), with more `serve` flags.
    pub async fn start_behind(
        proxy: &crate::proxy::Proxy,
        listener: tokio::net::TcpListener,
        flags: &[&str],
    ) -> Result<Self> {
        // A free port for the server; the proxy forwards there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let upstream = format!("127.0.0.1:{port}");
        let mut all = vec!["--public-url", proxy.url.as_str()];
        all.extend_from_slice(flags);
        let stack = Self::launch(&upstream, &all)?;
        proxy.start(listener, upstream);
        Ok(stack)
    }

    fn launch(addr: &str, flags: &[&str]) -> Result<Self> {
        let bin = env_path("FERRY_SERVER_BIN", || {
            workspace_root().join("target/debug/ferry-server")
        });
        let dist = dist_dir();
        if !bin.exists() || !dist.join("index.html").exists() {
            bail!(
                "the end-to-end tests need {} and a built client in {}: run `cargo xtask test`",
                bin.display(),
                dist.display()
            );
        }
        let dir = tempfile::tempdir()?;
        let mut server = ProcessGroup::spawn(
            Command::new(&bin)
                .args(["--addr", addr, "--data-dir"])
                .arg(dir.path().join("data"))
                .arg("--dist")
                .arg(&dist)
                .args(flags)
                .env("TMPDIR", dir.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
        )?;
        let stdout = server.child.stdout.take().context("server stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let url = line
            .trim()
            .strip_prefix("ferry-server listening on ")
            .ok_or_else(|| anyhow!("unexpected first line from ferry-server: {line:?}"))?
            .trim_end_matches('/')
            .to_owned();
        Ok(Self {
            url,
            bin,
            _server: server,
            dir,
        })
    }

    /// CPU seconds the server has used so far (user and system).
    #[allow(dead_code)] // used by the benchmark, tests/ui_bench.rs
    pub fn cpu_seconds(&self) -> f64 {
        group_cpu_seconds(self._server.child.id(), |_| true)
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs one of the server's admin commands (`user …`) on this stack's
    /// data and returns what it printed.
    pub fn admin(&self, args: &[&str]) -> Result<String> {
        let output = Command::new(&self.bin)
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args(args)
            .stderr(Stdio::inherit())
            .output()?;
        if !output.status.success() {
            bail!("`ferry-server {}` failed", args.join(" "));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The newest code the server "sent" (written to its outbox), waiting
    /// for it to arrive.
    pub async fn latest_code(&self) -> Result<String> {
        let outbox = self.dir.path().join("data").join("outbox");
        let deadline = Instant::now() + PATIENCE;
        loop {
            let mut messages: Vec<PathBuf> = std::fs::read_dir(&outbox)
                .map(|dir| dir.filter_map(|e| e.ok()).map(|e| e.path()).collect())
                .unwrap_or_default();
            // A message being written is a dot-file until it is whole.
            messages.retain(|path| path.extension().is_some_and(|e| e == "txt"));
            messages.sort();
            if let Some(newest) = messages.last() {
                let text = std::fs::read_to_string(newest)?;
                return text
                    .split_once("Your code is ")
                    .and_then(|(_, rest)| rest.get(..6))
                    .map(str::to_owned)
                    .ok_or_else(|| anyhow!("no code in {}", newest.display()));
            }
            if Instant::now() > deadline {
                bail!("nothing reached the outbox {}", outbox.display());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Adds a user with the server's own admin command.
    pub fn add_user(&self, name: &str, password: &str) -> Result<()> {
        let status = Command::new(&self.bin)
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .args(["user", "add", name, "--password", password])
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("`ferry-server user add {name}` failed");
        }
        Ok(())
    }
}

/// Headless Chromium under chromedriver, with a fresh profile.
#[derive(Debug)]
pub struct Browser {
    client: Client,
    driver: ProcessGroup,
    downloads: PathBuf,
    _dir: tempfile::TempDir,
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Browser {
    /// Starts chromedriver (`CHROMEDRIVER`, default `chromedriver` on PATH)
    /// and a headless Chromium session.
    pub async fn start() -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let driver_bin = env_path("CHROMEDRIVER", || PathBuf::from("chromedriver"));
        let port = free_port()?;
        let driver = ProcessGroup::spawn(
            Command::new(&driver_bin)
                .arg(format!("--port={port}"))
                .env("TMPDIR", dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )?;
        let deadline = Instant::now() + PATIENCE;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!(
                    "chromedriver ({}) did not start listening",
                    driver_bin.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = dir.path().join("profile");
        let downloads = dir.path().join("downloads");
        std::fs::create_dir_all(&downloads)?;
        let mut options = json!({
            "prefs": {
                "download.default_directory": downloads,
                "download.prompt_for_download": false,
            },
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-quic", "--no-first-run", "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ]
        });
        let chrome = env_path("CHROME_BIN", || PathBuf::from("/usr/bin/chromium"));
        if chrome.exists() {
            options["binary"] = json!(chrome);
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .context("starting a Chromium session")?;
        Ok(Self {
            client,
            driver,
            downloads,
            _dir: dir,
        })
    }

    /// Waits for a finished download named `name` and returns its bytes.
    pub async fn downloaded(&self, name: &str) -> Result<Vec<u8>> {
        let path = self.downloads.join(name);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let partial = std::fs::read_dir(&self.downloads)?
                .filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().ends_with(".crdownload"));
            if path.exists() && !partial {
                return Ok(std::fs::read(&path)?);
            }
            if Instant::now() > deadline {
                let seen: Vec<String> = std::fs::read_dir(&self.downloads)?
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                bail!("{name} was never downloaded; the folder has {seen:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until no element with this role and accessible name is left.
    pub async fn wait_gone(&self, role: &str, name: &str) -> Result<()> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let mut found = false;
            for element in self.find_all(candidates(role)).await? {
                if let Ok((computed_role, label)) = self.accessible(&element).await
                    && computed_role == role
                    && label == name
                {
                    found = true;
                    break;
                }
            }
            if !found {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the {role} named {name:?} is still on the page");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Signs in through the form and waits for the signed-in app.
    pub async fn sign_in(&self, stack: &Stack, name: &str, password: &str) -> Result<()> {
        self.goto(&format!("{}/", stack.url)).await?;
        self.submit_credentials(name, password).await?;
        self.find_by_role("heading", &format!("Signed in as {name}"))
            .await?;
        Ok(())
    }

    /// Types a username and password into the sign-in form on the page
    /// (the app's own, or the hosted UI's) and presses "Sign in".
    pub async fn submit_credentials(&self, name: &str, password: &str) -> Result<()> {
        self.find_by_label("Username")
            .await?
            .send_keys(name)
            .await?;
        self.find_by_label("Password")
            .await?
            .send_keys(password)
            .await?;
        self.find_by_role("button", "Sign in")
            .await?
            .click()
            .await?;
        Ok(())
    }

    /// Creates folders `f0000` … in Home through the API, from the page and
    /// with its token, as any API client would; fails unless all are accepted.
    pub async fn create_folders(&self, count: usize) -> Result<()> {
        let accepted = self.run_async(CREATE_FOLDERS, vec![json!(count)]).await?;
        if accepted != json!(count) {
            bail!("{count} folders asked for, {accepted} accepted");
        }
        Ok(())
    }

    /// A function that reads the resident memory of this browser's renderer
    /// processes (its tabs), in bytes, from `/proc` (Linux). Chromium runs in
    /// chromedriver's process group.
    #[allow(dead_code)] // used by the benchmark, tests/ui_bench.rs
    pub fn memory_sampler(&self) -> impl Fn() -> u64 + Send + 'static {
        let group = self.driver.child.id();
        move || renderer_memory(group)
    }

    /// A function that reads the private memory (`RssAnon`: not file
    /// pages, not shared) of all this browser's processes, in bytes: a
    /// `Blob`'s bytes are kept by the browser process, not the tab's.
    #[allow(dead_code)] // used by the benchmark, tests/ui_bench.rs
    pub fn private_memory_sampler(&self) -> impl Fn() -> u64 + Send + 'static {
        let group = self.driver.child.id();
        move || {
            group_processes(group, is_chromium)
                .iter()
                .filter_map(|(pid, _)| status_kib(*pid, "RssAnon:"))
                .map(|kib| kib * 1024)
                .sum()
        }
    }
}

impl Browser {
    /// A sampler of CPU ticks per thread of Chromium's processes (see
    /// [`thread_ticks`]).
    #[allow(dead_code)] // used by the benchmark, tests/ui_bench.rs
    pub fn thread_sampler(&self) -> impl Fn() -> ThreadTicks + Send + 'static {
        let group = self.driver.child.id();
        move || thread_ticks(group, is_chromium)
    }

    /// CPU seconds Chromium's live processes (browser, renderers, network
    /// service, GPU…) have used so far, user and system.
    #[allow(dead_code)] // used by the benchmark, tests/ui_bench.rs
    pub fn cpu_seconds(&self) -> f64 {
        group_cpu_seconds(self.driver.child.id(), is_chromium)
    }
}

/// Whether a process of chromedriver's group is Chromium's (any of its
/// processes), not chromedriver itself.
#[allow(dead_code)] // used by the benchmark, tests/ui_bench.rs
fn is_chromium(cmdline: &str) -> bool {
    cmdline.contains("chrom") && !cmdline.contains("chromedriver")
}

/// The live processes in process group `group` whose command line passes
/// `wanted`: their pid, and the `/proc/PID/stat` fields after the command's
/// closing parenthesis (state (0), ppid, pgrp (2), …, utime (11), stime (12)).
fn group_processes(group: u32, wanted: impl Fn(&str) -> bool) -> Vec<(u32, Vec<String>)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let fields: Vec<String> = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            if fields.get(2)?.parse::<u32>().ok()? != group {
                return None;
            }
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            wanted(&String::from_utf8_lossy(&cmdline)).then_some((pid, fields))
        })
        .collect()
}

/// CPU seconds of the live processes in process group `group` whose
/// command line passes `wanted` (utime and stime, in clock ticks of 1/100 s).
#[allow(dead_code)] // used by the benchmark, tests/ui_bench.rs
fn group_cpu_seconds(group: u32, wanted: impl Fn(&str) -> bool) -> f64 {
    let ticks: u64 = group_processes(group, wanted)
        .iter()
        .filter_map(|(_, fields)| {
            let utime: u64 = fields.get(11)?.parse().ok()?;
            let stime: u64 = fields.get(12)?.parse().ok()?;
            Some(utime + stime)
        })
        .sum();
    ticks as f64 / 100.0
}

/// CPU clock ticks (1/100 s, user and system) of each live thread, by
/// (pid, tid): the thread's label (its process's kind and its name, digits
/// dropped) and its ticks so far.
pub type ThreadTicks = std::collections::HashMap<(u32, u32), (String, u64)>;

/// The [`ThreadTicks`] of the processes in group `group` whose command line
/// passes `wanted`. A thread that ended is gone from it: sample while a
/// measurement runs and keep each thread's largest count.
#[allow(dead_code)] // used by the benchmark, tests/ui_bench.rs
pub fn thread_ticks(group: u32, wanted: impl Fn(&str) -> bool) -> ThreadTicks {
    let mut ticks = ThreadTicks::new();
    let kinds: Vec<(u32, String)> = group_processes(group, |_| true)
        .into_iter()
        .filter_map(|(pid, _)| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if !wanted(&cmdline) {
                return None;
            }
            let kind = if cmdline.contains("NetworkService") {
                "network"
            } else if cmdline.contains("--type=renderer") {
                "renderer"
            } else if cmdline.contains("--type=gpu") {
                "gpu"
            } else if cmdline.contains("--type=") {
                "utility"
            } else {
                "main"
            };
            Some((pid, kind.to_owned()))
        })
        .collect();
    for (pid, kind) in kinds {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.filter_map(|t| t.ok()) {
            let Some(tid) = task
                .file_name()
                .to_str()
                .and_then(|t| t.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")) else {
                continue;
            };
            let Some((head, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            let name: String = head
                .split_once('(')
                .map(|(_, n)| n)
                .unwrap_or("")
                .chars()
                .filter(|c| !c.is_ascii_digit())
                .collect();
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let used = fields
                .get(11)
                .and_then(|u| u.parse::<u64>().ok())
                .zip(fields.get(12).and_then(|s| s.parse::<u64>().ok()))
                .map(|(u, s)| u + s)
                .unwrap_or(0);
            ticks.insert((pid, tid), (format!("{kind}/{}", name.trim()), used));
        }
    }
    ticks
}

/// The resident memory of the renderers in process group `group`.
fn renderer_memory(group: u32) -> u64 {
    group_processes(group, |cmdline| cmdline.contains("--type=renderer"))
        .iter()
        .filter_map(|(pid, _)| status_kib(*pid, "VmRSS:"))
        .map(|kib| kib * 1024)
        .sum()
}

/// A `/proc/PID/status` figure in KiB (`field` with its colon).
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

impl Browser {
    /// How many elements match a CSS selector right now.
    pub async fn count(&self, css: &str) -> Result<usize> {
        Ok(self.find_all(css).await?.len())
    }

    /// Every element matching a CSS selector, in the page and inside every
    /// open shadow root (each `<ferry-files>` element keeps its view in
    /// one), in document order.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>> {
        let found = self
            .client
            .execute(
                &format!("{DEEP}\nreturn deep(arguments[0]);"),
                vec![json!(css)],
            )
            .await?;
        let found = found
            .as_array()
            .context("the deep query returned no list")?;
        found
            .iter()
            .map(|element| {
                let id = element
                    .get(ELEMENT_KEY)
                    .and_then(|id| id.as_str())
                    .with_context(|| {
                        format!("the deep query returned {element}, not an element")
                    })?;
                Ok(Element::from_element_id(
                    self.client.clone(),
                    fantoccini::elements::ElementRef::from(id.to_owned()),
                ))
            })
            .collect()
    }

    /// Goes back in the browser's history.
    pub async fn back(&self) -> Result<()> {
        self.client.back().await?;
        Ok(())
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.client.goto(url).await?;
        Ok(())
    }

    /// The text of the alert open in the tab, if one is (WebDriver's "get
    /// alert text": "no such alert" when none is); an open one is dismissed.
    pub async fn open_alert(&self) -> Result<Option<String>> {
        match self.client.get_alert_text().await {
            Ok(text) => {
                self.client.dismiss_alert().await?;
                Ok(Some(text))
            }
            Err(e) if e.is_no_such_alert() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Runs `script` in the page without waiting for anything it starts.
    pub async fn run(&self, script: &str) -> Result<serde_json::Value> {
        Ok(self.client.execute(script, Vec::new()).await?)
    }

    /// Waits for the element with this ARIA role and accessible name, as
    /// Chromium's accessibility tree computes them.
    pub async fn find_by_role(&self, role: &str, name: &str) -> Result<Element> {
        self.find_by_role_in("", role, name).await
    }

    /// [`Self::find_by_role`] among the elements inside one that `within`
    /// (CSS) matches, such as `[role=alert]`: for a name the page uses in
    /// more than one place. `""` looks in the whole page.
    pub async fn find_by_role_in(&self, within: &str, role: &str, name: &str) -> Result<Element> {
        let deadline = Instant::now() + PATIENCE;
        let css = candidates(role)
            .split(',')
            .map(|c| format!("{within} {}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        loop {
            let mut seen = Vec::new();
            for element in self.find_all(&css).await? {
                let Ok((computed_role, label)) = self.accessible(&element).await else {
                    continue;
                };
                if computed_role == role && label == name {
                    return Ok(element);
                }
                if computed_role == role {
                    seen.push(label);
                }
            }
            if Instant::now() > deadline {
                bail!("no {role} named {name:?} on the page; {role}s seen: {seen:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Moves the pointer onto `element`, as a person's pointer reaches a
    /// control before pressing it.
    pub async fn hover(&self, element: &Element) -> Result<()> {
        use fantoccini::actions::{InputSource as _, MouseActions, PointerAction};
        let reach = MouseActions::new("pointer".to_owned()).then(PointerAction::MoveToElement {
            element: element.clone(),
            duration: None,
            x: 0.0,
            y: 0.0,
        });
        self.client.perform_actions(reach).await?;
        Ok(())
    }

    /// Waits for the form field with this accessible name, whatever its role
    /// (a password field has none in ARIA): as a person finds it by its label.
    pub async fn find_by_label(&self, name: &str) -> Result<Element> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let fields = "input:not([type=hidden]), select, textarea, [contenteditable]";
            for element in self.find_all(fields).await? {
                if let Ok((_, label)) = self.accessible(&element).await
                    && label == name
                {
                    return Ok(element);
                }
            }
            if Instant::now() > deadline {
                bail!("no field labelled {name:?} on the page");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The computed ARIA role and accessible name of `element`.
    pub async fn accessible(&self, element: &Element) -> Result<(String, String)> {
        let id = element.element_id().to_string();
        let role = self
            .client
            .issue_cmd(ElementQuery {
                id: id.clone(),
                what: "computedrole",
            })
            .await?;
        let label = self
            .client
            .issue_cmd(ElementQuery {
                id,
                what: "computedlabel",
            })
            .await?;
        Ok((
            role.as_str().unwrap_or_default().to_owned(),
            label.as_str().unwrap_or_default().to_owned(),
        ))
    }

    /// Takes the browser off the network, or puts it back (Chromium's
    /// network emulation: requests fail, `navigator.onLine` turns false and
    /// the page hears `offline`, then `online`).
    #[allow(dead_code)] // the benchmark shares this harness
    pub async fn set_offline(&self, offline: bool) -> Result<()> {
        self.client.issue_cmd(NetworkConditions { offline }).await?;
        Ok(())
    }

    /// The page's current URL.
    pub async fn url(&self) -> Result<String> {
        Ok(self.client.current_url().await?.to_string())
    }

    /// Waits until the page's URL starts with `prefix`, and returns it.
    pub async fn wait_for_url(&self, prefix: &str) -> Result<String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let url = self.url().await?;
            if url.starts_with(prefix) {
                return Ok(url);
            }
            if Instant::now() > deadline {
                bail!("the page never reached {prefix}; it is at {url}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs `script` in the page; it calls `arguments[arguments.length - 1]`
    /// with its result.
    pub async fn run_async(
        &self,
        script: &str,
        args: Vec<serde_json::Value>,
    ) -> Result<serde_json::Value> {
        let script = format!("{DEEP}\n{script}");
        Ok(self.client.execute_async(&script, args).await?)
    }

    /// Fails if any interactive control on the page has no accessible name.
    pub async fn assert_every_control_is_named(&self) -> Result<()> {
        let controls = "button, a[href], input:not([type=hidden]), select, textarea, [role=button], [role=link], \
                        [role=checkbox], [role=tab], [role=menuitem], [tabindex]";
        for element in self.find_all(controls).await? {
            let (role, label) = self.accessible(&element).await?;
            if label.trim().is_empty() {
                let html = element.html(false).await.unwrap_or_default();
                bail!("a {role} has no accessible name: {html}");
            }
        }
        Ok(())
    }

    /// Saves a screenshot to `FERRY_SCREENSHOTS/name.png` when that variable
    /// is set, so a person can look at what the test saw.
    pub async fn screenshot(&self, name: &str) -> Result<()> {
        if let Some(dir) = std::env::var_os("FERRY_SCREENSHOTS") {
            let png = self.client.screenshot().await?;
            std::fs::create_dir_all(&dir)?;
            std::fs::write(Path::new(&dir).join(format!("{name}.png")), png)?;
        }
        Ok(())
    }
}

/// WebDriver's key for an element in a script's result (W3C WebDriver §12.1).
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A script's `deep(css)`: every element matching `css` in the document and
/// in every open shadow root, in document order. Scripts that look into the
/// page start with it.
pub const DEEP: &str = r#"
const deep = (css, root = document) => {
  const found = [];
  const walk = (node) => {
    for (const element of node.querySelectorAll('*')) {
      if (element.matches(css)) found.push(element);
      if (element.shadowRoot) walk(element.shadowRoot);
    }
  };
  walk(root);
  return found;
};
const deepOne = (css) => deep(css)[0] ?? null;
const deepFocus = () => {
  let active = document.activeElement;
  while (active && active.shadowRoot && active.shadowRoot.activeElement) {
    active = active.shadowRoot.activeElement;
  }
  return active;
};
"#;

/// The script behind [`Browser::create_folders`].
const CREATE_FOLDERS: &str = r#"
const [count, done] = [arguments[0], arguments[arguments.length - 1]];
const token = JSON.parse(sessionStorage.getItem('ferry.tokens')).access_token;
(async () => {
  let accepted = 0;
  for (let i = 0; i < count; i += 50) {
    const batch = [];
    for (let j = i; j < Math.min(count, i + 50); j++) {
      const id = crypto.randomUUID();
      const body = {
        metadata: { EventVersion: 1, EventId: id, CommandId: id, TraceId: id.replaceAll('-', ''),
                    OccurredAt: new Date().toISOString(), Producer: 'e2e' },
        data: { Action: 'CreateFolder', Path: 'f' + String(j).padStart(4, '0') },
      };
      batch.push(fetch('/api/commands', { method: 'POST', body: JSON.stringify(body),
        headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' } }));
    }
    for (const response of await Promise.all(batch)) if (response.status === 202) accepted++;
  }
  done(accepted);
})().catch(e => done(String(e)));
"#;

/// CSS that narrows the search for a role to the elements that can have it.
fn candidates(role: &str) -> &'static str {
    match role {
        "button" => {
            "button, [role=button], input[type=button], input[type=submit], input[type=reset]"
        }
        "heading" => "h1, h2, h3, h4, h5, h6, [role=heading]",
        "link" => "a[href], [role=link]",
        "textbox" => {
            "input:not([type]), input[type=text], input[type=email], input[type=search], textarea, [role=textbox]"
        }
        "checkbox" => "input[type=checkbox], [role=checkbox]",
        "alert" => "[role=alert]",
        "status" => "[role=status], output",
        "banner" => "header, [role=banner]",
        "main" => "main, [role=main]",
        "region" => "section, [role=region]",
        "dialog" => "dialog, [role=dialog], [role=alertdialog]",
        "grid" => "table, [role=grid]",
        "searchbox" => "input[type=search], [role=searchbox]",
        "img" | "image" => "img, svg, [role=img], [role=image]",
        "progressbar" => "progress, [role=progressbar]",
        "navigation" => "nav, [role=navigation]",
        "complementary" => "aside, [role=complementary]",
        _ => "*",
    }
}

/// `GET /session/{id}/element/{element}/{what}`: Chromium's computed role or
/// label from its accessibility tree (WebDriver §12.4.9, §12.4.10).
#[derive(Debug)]
struct ElementQuery {
    id: String,
    what: &'static str,
}

impl WebDriverCompatibleCommand for ElementQuery {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!(
            "session/{session}/element/{}/{}",
            self.id, self.what
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::GET, None)
    }
}

/// chromedriver's `POST /session/{id}/chromium/network_conditions`.
#[derive(Debug)]
struct NetworkConditions {
    offline: bool,
}

impl WebDriverCompatibleCommand for NetworkConditions {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/chromium/network_conditions"))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({"network_conditions": {
            "offline": self.offline,
            "latency": 0,
            "download_throughput": -1,
            "upload_throughput": -1,
        }});
        (http::Method::POST, Some(body.to_string()))
    }
}

/// Waits until `check` holds for the page's text content of `element`.
pub async fn wait_for_text(element: &Element, check: impl Fn(&str) -> bool) -> Result<String> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = element.text().await?;
        if check(&text) {
            return Ok(text);
        }
        if Instant::now() > deadline {
            bail!("the text never matched; last seen: {text:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One file of the client's build, as `ferry-build.json` (written by
/// `cargo xtask build-web`) lists it.
#[derive(Debug, Clone)]
pub struct BuiltFile {
    /// Its path in the build, `/`-separated: the URL's path without its `/`.
    pub path: String,
    /// `html`, `main-js`, `main-wasm`, `css`, `loader`, `snippet`, `linked`
    /// or `chunk`.
    pub role: String,
    /// A chunk's name: `split_NAME` for a split point's own, `chunk_N` for
    /// code that several split points share.
    pub chunk: Option<String>,
    /// For a shared chunk, the split points whose loaders fetch it.
    pub splits: Vec<String>,
    /// Its size as built, gzip'd and brotli'd, in bytes.
    #[allow(dead_code)] // used by the benchmark, tests/ui_bench.rs
    pub bytes: u64,
    #[allow(dead_code)] // used by the benchmark, tests/ui_bench.rs
    pub gzip: u64,
    #[allow(dead_code)] // used by the benchmark, tests/ui_bench.rs
    pub brotli: u64,
    /// Whether the build says the page's first load fetches it.
    pub first_load: bool,
}

impl BuiltFile {
    /// What the file is, in a word: a chunk's name, or else its role.
    pub fn what(&self) -> &str {
        self.chunk.as_deref().unwrap_or(&self.role)
    }

    /// The split point this file is the chunk of (`auth` for `split_auth`).
    pub fn split(&self) -> Option<&str> {
        self.chunk.as_deref()?.strip_prefix("split_")
    }
}

/// The client's build the tests serve, read from its `ferry-build.json`.
#[derive(Debug, Clone)]
pub struct Build {
    pub files: Vec<BuiltFile>,
}

impl Build {
    /// Reads the manifest of `FERRY_DIST` (by default `dist/`).
    pub fn read() -> Result<Self> {
        let path = dist_dir().join("ferry-build.json");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {}: build the client with `cargo xtask build-web`",
                path.display()
            )
        })?;
        let manifest: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let files = manifest["files"]
            .as_array()
            .with_context(|| format!("{} lists no files", path.display()))?
            .iter()
            .map(|file| {
                let size = |key: &str| {
                    file[key]
                        .as_u64()
                        .with_context(|| format!("a file in {} has no {key}", path.display()))
                };
                Ok(BuiltFile {
                    path: file["path"].as_str().unwrap_or_default().to_owned(),
                    role: file["role"].as_str().unwrap_or_default().to_owned(),
                    chunk: file["chunk"].as_str().map(str::to_owned),
                    splits: file["splits"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect(),
                    bytes: size("bytes")?,
                    gzip: size("gzip")?,
                    brotli: size("brotli")?,
                    first_load: file["first_load"].as_bool().unwrap_or(false),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { files })
    }

    /// The file of the build a request fetched, if it fetched one: the page
    /// for the navigation, otherwise the file at the request's path.
    pub fn file_of(&self, request: &Fetched) -> Option<&BuiltFile> {
        if request.navigation {
            return self.files.iter().find(|f| f.role == "html");
        }
        self.files.iter().find(|f| f.path == request.path)
    }

    /// The chunk of split point `name` (`auth`, `browser`, …).
    pub fn split(&self, name: &str) -> Option<&BuiltFile> {
        self.files.iter().find(|f| f.split() == Some(name))
    }

    /// The split points' names, as the build cut them.
    pub fn split_names(&self) -> Vec<&str> {
        self.files.iter().filter_map(BuiltFile::split).collect()
    }
}

/// One request of the page, from its network log (the navigation and
/// resource timing entries).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Fetched {
    /// The URL's path without its leading `/` and query, or the whole URL
    /// when it is on another origin.
    pub path: String,
    /// Whether this is the page's own navigation.
    pub navigation: bool,
    /// When the request started and when its response ended, in
    /// milliseconds on the page's clock (from the navigation's start).
    pub start: f64,
    pub end: f64,
    /// The response body's bytes as they came (compressed, if it was), as
    /// the browser reports them; for an answer from the cache, as stored.
    #[allow(dead_code)] // used by the benchmark, tests/ui_bench.rs
    pub encoded: u64,
    /// Bytes read from the network, headers included (0 from the cache).
    #[allow(dead_code)] // used by the benchmark, tests/ui_bench.rs
    pub transfer: u64,
}

/// The script behind [`Browser::settle`].
const SETTLE: &str = r#"
const done = arguments[arguments.length - 1];
requestIdleCallback(() => requestIdleCallback(() => done(true), { timeout: 1000 }), { timeout: 1000 });
"#;

/// The script behind [`Browser::fetched`].
const NETWORK_LOG: &str = r#"
const done = arguments[arguments.length - 1];
const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
done(entries.map(e => {
  const url = new URL(e.name);
  return {
    path: url.origin === location.origin ? decodeURIComponent(url.pathname.slice(1)) : e.name,
    navigation: e.entryType === 'navigation',
    start: e.startTime,
    end: e.responseEnd,
    encoded: e.encodedBodySize,
    transfer: e.transferSize,
  };
}));
"#;

impl Browser {
    /// The page's network log so far: its navigation and every request
    /// that has ended (a request still under way shows up once it ends,
    /// with the time it started).
    pub async fn fetched(&self) -> Result<Vec<Fetched>> {
        let log = self.run_async(NETWORK_LOG, vec![]).await?;
        serde_json::from_value(log.clone())
            .with_context(|| format!("reading the page's network log: {log}"))
    }

    /// Waits until the page's network log has a request for which `wanted`
    /// holds, and returns it.
    pub async fn wait_for_fetch(
        &self,
        what: &str,
        wanted: impl Fn(&Fetched) -> bool,
    ) -> Result<Fetched> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(found) = self.fetched().await?.into_iter().find(|f| wanted(f)) {
                return Ok(found);
            }
            if Instant::now() > deadline {
                let seen: Vec<String> = self.fetched().await?.into_iter().map(|f| f.path).collect();
                bail!("the page never fetched {what}; it fetched {seen:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The page's clock now (`performance.now()`, milliseconds since its
    /// navigation started), to compare with its network log.
    pub async fn page_clock(&self) -> Result<f64> {
        let now = self
            .run_async("arguments[0](performance.now())", vec![])
            .await?;
        now.as_f64()
            .with_context(|| format!("the page's clock: {now}"))
    }

    /// Waits until the page has had two idle moments (no task of its own
    /// pending), so what it starts by itself after loading has started. A
    /// page that is never idle (Chromium may give a busy page no idle time)
    /// goes on after a second each.
    pub async fn settle(&self) -> Result<()> {
        self.run_async(SETTLE, vec![])
            .await
            .context("waiting for the page to be idle")?;
        Ok(())
    }

    /// Runs `script` at the start of every page this browser opens from
    /// now on, before the page's own scripts (Chromium's
    /// `Page.addScriptToEvaluateOnNewDocument`).
    pub async fn before_each_page(&self, script: &str) -> Result<()> {
        self.cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({ "source": script }),
        )
        .await?;
        Ok(())
    }

    /// Has Chromium fetch every request from the network, as on a first
    /// visit, or use its cache again.
    #[allow(dead_code)] // used by the benchmark, tests/ui_bench.rs
    pub async fn set_cache_disabled(&self, disabled: bool) -> Result<()> {
        self.cdp("Network.enable", json!({})).await?;
        self.cdp(
            "Network.setCacheDisabled",
            json!({ "cacheDisabled": disabled }),
        )
        .await?;
        Ok(())
    }

    /// Sends one DevTools protocol command through chromedriver.
    async fn cdp(&self, cmd: &'static str, params: serde_json::Value) -> Result<serde_json::Value> {
        self.client
            .issue_cmd(Cdp { cmd, params })
            .await
            .with_context(|| format!("the DevTools command {cmd}"))
    }
}

/// chromedriver's `POST /session/{id}/goog/cdp/execute`: one command of
/// Chromium's DevTools protocol.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: serde_json::Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/goog/cdp/execute"))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}
