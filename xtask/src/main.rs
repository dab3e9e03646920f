//! `cargo xtask`: the project's commands, so a fresh machine needs nothing but
//! Rust to build, run, test and measure Ferry.
//!
//! - `cargo xtask run`   installs what is missing, builds the client, serves it
//!   on the local stack and prints the URL; with `--portal`, the example
//!   portal (examples/portal/) on another origin beside it.
//! - `cargo xtask build-web` builds the client's release `dist/` (web.rs).
//! - `cargo xtask test`  formatting, lints (native and wasm), every native test,
//!   the wasm component tests and the end-to-end browser tests.
//! - `cargo xtask package-aws` builds the Lambda functions' zip.
//! - `cargo xtask bench` prints the benchmark report.

mod bench;
mod package;
// The example portal's build and server, shared with the end-to-end tests.
#[path = "../../examples/portal/serve.rs"]
mod portal;
mod tools;
mod web;

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const USAGE: &str = "\
Usage: cargo xtask <command> [options]

Commands:
  run     Build the web client and serve it on the local stack.
            --addr ADDR         listen address (default 127.0.0.1:8080)
            --data-dir DIR      state directory (default .ferry)
            --public-url URL    the URL browsers use, when it differs from ADDR
            --portal            also serve the example portal (examples/portal/)
                                on another origin, embedding Ferry
            --portal-addr ADDR  the portal's listen address (default
                                127.0.0.1:8081)
  build-web
          Build the web client's release into dist/: the wasm split into
          lazily loaded chunks, minified, every file named by its hash,
          precompressed (.br, .gz), listed in dist/ferry-build.json.
            --crate-dir DIR     another crate to build instead (to try the
                                pipeline on a scratch app), with
            --package NAME, --bin NAME, --css FILE, --dist DIR and
            --features LIST     (default: the root package, ferry-web,
                                style/ferry.css, dist/, split)
  test    Run every check CI runs: fmt, clippy (native + wasm), cfn-lint on
          the AWS template, native tests (the AWS adapters' and the Lambda
          handlers' against moto), wasm tests in headless Chromium,
          end-to-end browser tests, and package-aws.
  package-aws
          Build the Lambda functions' zip (target/lambda/ferry.zip) for
          deploy/aws/template.yaml: one binary linked against glibc 2.34
          (Lambda's provided.al2023) with cargo-zigbuild and Zig from PyPI.
            --arch arm64|x86_64 the functions' CPU (default arm64, as the
                                template's Architecture)
  bench   Print the benchmark report: the client's first-load size, the
          client in headless Chromium (a rendered list, a delete's round
          trip over the WebSocket and polling, a 1 GiB upload next to curl
          with and without checksums with the CPU each side used, the tab's
          peak memory at 1 GiB and 256 MiB), SRP sign-ins
          on the server and the client's SRP step natively and in Chromium,
          the file API (list and create rates, upload to WebSocket latency,
          PUT throughput) and the index at 100,000 files.
            --load              instead, the load and soak run: one
                                ferry-server process for 5 minutes under
                                200 WebSocket clients, 20 uploaders and 20
                                command senders; request rate, command and
                                upload to event latencies against a ping,
                                the server's RSS, errors, and a check that
                                everything accepted took effect. Smaller
                                with --seconds N, --sockets N,
                                --uploaders N, --senders N; --warm-up N
                                sets the seconds before measuring (15).
  help    Show this text.

Everything missing is installed first (wasm32 target, wasm-bindgen-cli,
wasm-opt and esbuild from npm; Chromium and chromedriver with apt-get when
run as root; for `test`, cfn-lint and moto from PyPI into
target/tools/python).";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("build-web") => build_web(&args[1..]),
        Some("test") => test(),
        Some("bench") if args.iter().any(|arg| arg == "--load") => bench::load(&args[1..]),
        Some("bench") => bench::bench(),
        Some("package-aws") => package::package_aws(&args[1..]).map(|_| ()),
        Some("help" | "--help" | "-h") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(anyhow::anyhow!("unknown command `{other}`\n\n{USAGE}")),
    };
    if let Err(error) = result {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    // `cargo run` sets CARGO_MANIFEST_DIR for the running binary too; it is
    // right even when a shared target directory holds a binary built from
    // another checkout, which the compile-time value would not be.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `cargo` as invoked by the user (rustup's proxy or a pinned toolchain).
pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root());
    command
}

/// Runs `command`, failing with its description when it fails.
pub fn run_checked(command: &mut Command) -> Result<()> {
    eprintln!("$ {}", describe(command));
    let status = command
        .status()
        .with_context(|| format!("could not start {}", describe(command)))?;
    if !status.success() {
        bail!("`{}` failed ({status})", describe(command));
    }
    Ok(())
}

/// A shell-like rendering of a command, for messages.
pub fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|s| s.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Builds the web client's release (split, hashed, precompressed) into
/// `dist/`.
pub fn build_client(tools: &tools::BuildTools) -> Result<PathBuf> {
    let app = web::WebApp::ferry();
    web::build(&app, tools)?;
    Ok(app.dist)
}

/// `cargo xtask build-web`: the release build, of Ferry or of the crate the
/// options name, and what it wrote.
fn build_web(args: &[String]) -> Result<()> {
    let mut app = web::WebApp::ferry();
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let mut value = || {
            rest.next()
                .cloned()
                .with_context(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--crate-dir" => app.crate_dir = PathBuf::from(value()?),
            "--package" => app.package = value()?,
            "--bin" => app.bin = value()?,
            "--css" => app.stylesheet = PathBuf::from(value()?),
            "--dist" => app.dist = PathBuf::from(value()?),
            "--features" => {
                app.features = value()?
                    .split(',')
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            other => bail!("unknown option `{other}` for `build-web`\n\n{USAGE}"),
        }
    }
    let tools = tools::BuildTools::ensure()?;
    let built = web::build(&app, &tools)?;
    println!();
    web::print_sizes(&built);
    Ok(())
}

/// Builds `ferry-server` and returns the binary's path.
pub fn build_server(profile: &str) -> Result<PathBuf> {
    run_checked(cargo().args(["build", "--package", "ferry-server", "--profile", profile]))?;
    let dir = if profile == "dev" { "debug" } else { profile };
    Ok(target_dir().join(dir).join("ferry-server"))
}

/// The cargo target directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn run(args: &[String]) -> Result<()> {
    let mut addr = "127.0.0.1:8080".to_owned();
    let mut data_dir = root().join(".ferry");
    let mut public_url = None;
    let mut portal_addr = None;
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let mut value = || {
            rest.next()
                .cloned()
                .with_context(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--addr" => addr = value()?,
            "--data-dir" => data_dir = PathBuf::from(value()?),
            "--public-url" => public_url = Some(value()?),
            "--portal" => {
                portal_addr.get_or_insert_with(|| "127.0.0.1:8081".to_owned());
            }
            "--portal-addr" => portal_addr = Some(value()?),
            other => bail!("unknown option `{other}` for `run`\n\n{USAGE}"),
        }
    }
    let tools = tools::BuildTools::ensure()?;
    let dist = build_client(&tools)?;
    let server = build_server("dev")?;
    ensure_demo_user(&server, &data_dir)?;
    // The portal's port is taken first: the server is told its origin.
    let portal = match &portal_addr {
        Some(addr) => {
            let listener = std::net::TcpListener::bind(addr)
                .with_context(|| format!("listening for the portal on {addr}"))?;
            let origin = format!("http://{}", listener.local_addr()?);
            Some((listener, origin))
        }
        None => None,
    };

    let mut command = Command::new(&server);
    command
        .args(["--addr", &addr, "--data-dir"])
        .arg(&data_dir)
        .arg("--dist")
        .arg(&dist)
        .stdout(Stdio::piped());
    if let Some(url) = &public_url {
        command.args(["--public-url", url]);
    }
    if let Some((_, origin)) = &portal {
        command.args(["--allow-origin", origin]);
    }
    let status = serve_until_stopped(&mut command, |url| {
        // The portal is built for the URL the server says it has.
        let serving = match portal {
            Some((listener, origin)) => Some(serve_portal(&tools, url, listener, &origin)?),
            None => None,
        };
        println!();
        println!("  Ferry is running at {url}");
        if let Some((origin, _)) = &serving {
            println!("  The example portal is at {origin}/ (another origin, embedding Ferry)");
        }
        println!("  Sign in as {DEMO_USER} with the password {DEMO_PASSWORD}");
        println!("  Data directory: {}", data_dir.display());
        println!("  Press Ctrl+C to stop.");
        println!();
        Ok(serving)
    })?;
    if !status.success() {
        bail!("ferry-server exited with {status}");
    }
    Ok(())
}

/// Builds the example portal for Ferry at `ferry` into target/portal and
/// serves it on `listener` (at `origin`), until the answer is dropped.
fn serve_portal(
    tools: &tools::BuildTools,
    ferry: &str,
    listener: std::net::TcpListener,
    origin: &str,
) -> Result<(String, portal::Serving)> {
    let site = target_dir().join("portal");
    portal::build(&root(), tools.esbuild(), ferry, &site).context("building the portal")?;
    let serving = portal::serve(listener, site, portal::policy(ferry))?;
    Ok((origin.to_owned(), serving))
}

/// Runs the server `command` starts until it ends, telling `on_url` where
/// it listens (what `on_url` answers is kept until then; if it fails, the
/// server is stopped). When xtask itself is told to stop (SIGTERM, SIGINT,
/// SIGHUP), the server is told too (SIGTERM: it shuts down gracefully), so
/// stopping `cargo xtask run` never leaves a server behind.
fn serve_until_stopped<T>(
    command: &mut Command,
    on_url: impl FnOnce(&str) -> Result<T>,
) -> Result<std::process::ExitStatus> {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .context("starting ferry-server")?;
    let pid = child.id().to_string();
    ctrlc::set_handler(move || {
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
    })
    .context("listening for the signal to stop")?;
    let stdout = child.stdout.take().context("ferry-server's output")?;
    let mut lines = BufReader::new(stdout).lines();
    let kept = match lines.next() {
        Some(Ok(first)) => {
            let url = first
                .trim()
                .strip_prefix("ferry-server listening on ")
                .unwrap_or(&first);
            match on_url(url) {
                Ok(kept) => Some(kept),
                Err(error) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(error);
                }
            }
        }
        _ => None,
    };
    for line in lines.map_while(Result::ok) {
        println!("{line}");
    }
    let status = child.wait()?;
    drop(kept);
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stopping xtask (SIGTERM) stops the server it runs, and xtask goes
    /// on to its end: nothing is left running. (The server here is a shell
    /// that prints the line ferry-server prints, then waits.)
    #[test]
    fn a_stopped_run_stops_its_server() {
        let (told, heard) = std::sync::mpsc::channel();
        let serving = std::thread::spawn(move || {
            let mut server = Command::new("sh");
            server.args([
                "-c",
                "echo 'ferry-server listening on http://127.0.0.1:9/'; exec sleep 600",
            ]);
            serve_until_stopped(&mut server, |url| {
                let _ = told.send(url.to_owned());
                Ok(())
            })
        });
        let url = heard
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the server started");
        assert_eq!(url, "http://127.0.0.1:9/");
        let us = std::process::id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &us])
                .status()
                .unwrap()
                .success()
        );
        // If the server were left running, this would wait ten minutes.
        let status = serving.join().expect("no panic").expect("it ran");
        assert!(
            !status.success(),
            "the server ended by its signal: {status}"
        );
    }
}

/// The demo account `cargo xtask run` creates on the local stack.
const DEMO_USER: &str = "demo";
/// Its password: this account exists only on a developer's own machine.
const DEMO_PASSWORD: &str = "Ferry-demo-1";

/// Creates the demo user unless the pool already has it.
fn ensure_demo_user(server: &Path, data_dir: &Path) -> Result<()> {
    let listing = Command::new(server)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["user", "list"])
        .output()
        .context("listing users")?;
    if !listing.status.success() {
        bail!(
            "`ferry-server user list` failed: {}",
            String::from_utf8_lossy(&listing.stderr)
        );
    }
    let exists = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .any(|line| line.split('\t').next() == Some(DEMO_USER));
    if !exists {
        run_checked(
            Command::new(server)
                .arg("--data-dir")
                .arg(data_dir)
                .args(["user", "add", DEMO_USER, "--password", DEMO_PASSWORD])
                .args(["--email", "demo@ferry.invalid"]),
        )?;
    }
    Ok(())
}

/// Counts of tests seen in cargo's `test result:` lines.
#[derive(Debug, Default)]
struct Tally {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Tally {
    fn add_line(&mut self, line: &str) {
        // test result: ok. 8 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; …
        let Some(rest) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(kind), Some(count)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(count) = count.parse::<u64>() else {
                continue;
            };
            match kind {
                "passed" => self.passed += count,
                "failed" => self.failed += count,
                "ignored" => self.ignored += count,
                _ => {}
            }
        }
    }
}

/// Runs a test command, echoing its output and tallying its results.
fn run_tests(command: &mut Command, tally: &mut Tally) -> Result<()> {
    eprintln!("$ {}", describe(command));
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start {}", describe(command)))?;
    let stdout = child.stdout.take().context("test output")?;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        println!("{line}");
        tally.add_line(&line);
    }
    let status = child.wait()?;
    if !status.success() {
        println!("{} passed, {} failed", tally.passed, tally.failed.max(1));
        bail!("`{}` failed ({status})", describe(command));
    }
    Ok(())
}

fn test() -> Result<()> {
    let started = std::time::Instant::now();
    let tools = tools::BuildTools::ensure()?;
    tools.ensure_test_runner()?;
    let browser = tools::Browser::ensure()?;

    run_checked(cargo().args(["fmt", "--all", "--check"]))?;
    run_checked(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The browser's crates, built for the browser. The shared crates' own
    // tests use native-only dev-dependencies, so only their libraries are linted here.
    for (package, targets) in [
        ("ferry-web", "--all-targets"),
        ("ferry-client", "--lib"),
        ("ferry-protocol", "--lib"),
        ("ferry-srp", "--lib"),
    ] {
        run_checked(cargo().args([
            "clippy",
            "--package",
            package,
            "--target",
            "wasm32-unknown-unknown",
            targets,
            "--",
            "-D",
            "warnings",
        ]))?;
    }
    // The split build's code paths (the split points as the release links
    // them), which the plain build leaves out.
    run_checked(cargo().args([
        "clippy",
        "--package",
        "ferry-web",
        "--target",
        "wasm32-unknown-unknown",
        "--features",
        "split",
        "--lib",
        "--bins",
        "--",
        "-D",
        "warnings",
    ]))?;

    // The AWS stack's template, linted as AWS's own linter sees it (with
    // the SAM transform).
    let python = tools::PythonTools::ensure()?;
    run_checked(
        python
            .cfn_lint()
            .arg(root().join("deploy/aws/template.yaml")),
    )?;

    let dist = build_client(&tools)?;
    let server = build_server("dev")?;
    let mut tally = Tally::default();

    // Native: unit, property, schema and server tests. The end-to-end tests
    // are `#[ignore]`d for a plain `cargo test` and run last, below.
    run_tests(cargo().args(["test", "--workspace"]), &mut tally)?;

    // Components in headless Chromium.
    run_tests(
        cargo()
            .args([
                "test",
                "--package",
                "ferry-web",
                "--target",
                "wasm32-unknown-unknown",
                "--test",
                "web",
            ])
            .env("PATH", tools.path_with_tools()?)
            .env("CHROMEDRIVER", &browser.chromedriver),
        &mut tally,
    )?;

    // End to end: the real server, the release client, headless Chromium.
    let passed_before = tally.passed;
    run_tests(
        cargo()
            .args([
                "test",
                // `--workspace` keeps the feature set of the run above, so
                // nothing is rebuilt for it.
                "--workspace",
                "--test",
                "e2e",
                "--",
                "--ignored",
            ])
            .env("FERRY_SERVER_BIN", &server)
            .env("FERRY_DIST", &dist)
            .env("CHROMEDRIVER", &browser.chromedriver),
        &mut tally,
    )?;
    // The plain run ignored exactly the end-to-end tests, which have now run.
    tally.ignored = tally.ignored.saturating_sub(tally.passed - passed_before);

    // The AWS stack's zip builds on a fresh machine, for the template's
    // default architecture, and needs no glibc newer than Lambda's.
    package::package_aws(&[])?;

    eprintln!(
        "xtask test: every check passed in {:.0?} ({} ignored)",
        started.elapsed(),
        tally.ignored
    );
    if tally.failed > 0 {
        println!("{} passed, {} failed", tally.passed, tally.failed);
        bail!("{} tests failed", tally.failed);
    }
    if tally.passed == 0 {
        bail!("no test ran");
    }
    println!("{} passed, {} failed", tally.passed, tally.failed);
    Ok(())
}
