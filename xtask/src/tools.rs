//! Installing the tools the build and the tests need, each checked by version
//! first so a second run installs nothing.
//!
//! Versions are pinned here and nowhere else (except the `wasm-bindgen` pin in
//! Cargo.toml, which this reads so the CLI always matches the library).

use crate::{root, run_checked};
use anyhow::{Context, Result, bail};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

/// The wasm-opt from npm's `binaryen` (pinned in tools/npm/package-lock.json).
/// Debian's binaryen 108 produces a wasm that crashes: never use it.
const WASM_OPT_VERSION: &str = "version 132";
/// esbuild from npm (pinned in tools/npm/package-lock.json), which minifies
/// the client's JavaScript and CSS; npm fetches its binary as the
/// `@esbuild/linux-x64` package, so nothing is downloaded when it runs.
const ESBUILD_VERSION: &str = "0.28.2";

/// The first line a command prints, or `None` if it can't run.
fn version_of(program: impl AsRef<std::ffi::OsStr>, arg: &str) -> Option<String> {
    let output = Command::new(program).arg(arg).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    Some(text.lines().next().unwrap_or_default().trim().to_owned())
}

fn is_root() -> bool {
    version_of("id", "-u").as_deref() == Some("0")
}

/// The `wasm-bindgen = "=X"` pin in the root Cargo.toml.
fn wasm_bindgen_pin() -> Result<String> {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml"))?;
    manifest
        .lines()
        .find_map(|line| {
            let value = line.trim().strip_prefix("wasm-bindgen = \"=")?;
            Some(value.trim_end_matches('"').to_owned())
        })
        .context("Cargo.toml must pin `wasm-bindgen = \"=X.Y.Z\"`")
}

/// The tools that build the web client (see web.rs) and run its wasm tests.
/// wasm-split is not among them: it is a library of xtask, pinned by
/// Cargo.lock. Trunk isn't either: only `trunk serve`, for development, uses
/// it, and a developer who wants that installs it (see the README).
#[derive(Debug)]
pub struct BuildTools {
    /// Where npm installed wasm-opt and esbuild.
    npm_bin: PathBuf,
}

impl BuildTools {
    /// Installs whatever the release build is missing: the wasm32 target,
    /// wasm-opt and esbuild. (wasm-bindgen and wasm-split are libraries of
    /// xtask itself.)
    pub fn ensure() -> Result<Self> {
        let targets = Command::new("rustup")
            .args(["target", "list", "--installed"])
            .output()
            .context("rustup is needed to add the wasm32 target")?;
        if !String::from_utf8_lossy(&targets.stdout).contains("wasm32-unknown-unknown") {
            run_checked(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
        }

        // The npm packages (wasm-opt, esbuild and the test peers) are
        // reinstalled whenever the committed lockfile differs from the one
        // last installed.
        let npm_dir = root().join("tools/npm");
        let npm_bin = npm_dir.join("node_modules/.bin");
        let lock = std::fs::read(npm_dir.join("package-lock.json"))?;
        let stamp = npm_dir.join("node_modules/.ferry-installed-lock");
        let wasm_opt = version_of(npm_bin.join("wasm-opt"), "--version").unwrap_or_default();
        let esbuild = version_of(npm_bin.join("esbuild"), "--version").unwrap_or_default();
        if !wasm_opt.contains(WASM_OPT_VERSION)
            || esbuild != ESBUILD_VERSION
            || std::fs::read(&stamp).ok() != Some(lock.clone())
        {
            ensure_node()?;
            run_checked(
                Command::new("npm")
                    .args(["ci", "--no-audit", "--no-fund"])
                    .current_dir(&npm_dir),
            )?;
            std::fs::write(&stamp, &lock)?;
        }
        Ok(Self { npm_bin })
    }

    /// Installs the wasm tests' runner (`wasm-bindgen-test-runner`, which
    /// comes with wasm-bindgen-cli) at the version of the library's pin,
    /// unless it is there: `cargo xtask test` and `bench` need it, `run`
    /// doesn't.
    pub fn ensure_test_runner(&self) -> Result<()> {
        let bindgen = wasm_bindgen_pin()?;
        if version_of("wasm-bindgen", "--version").as_deref()
            != Some(&format!("wasm-bindgen {bindgen}"))
        {
            // Not `--locked`: the CLI's own lockfile asks for a newer Rust.
            run_checked(crate::cargo().args([
                "install",
                "wasm-bindgen-cli",
                "--version",
                &format!("={bindgen}"),
            ]))?;
        }
        Ok(())
    }

    /// wasm-opt from npm's binaryen.
    pub fn wasm_opt(&self) -> Command {
        Command::new(self.npm_bin.join("wasm-opt"))
    }

    /// esbuild from npm.
    pub fn esbuild(&self) -> Command {
        Command::new(self.npm_bin.join("esbuild"))
    }

    /// Node running `script` from tools/npm, where it finds the packages.
    pub fn node_script(&self, script: &str) -> Command {
        let mut command = Command::new("node");
        command.arg(root().join("tools/npm").join(script));
        command
    }

    /// `PATH` with the npm tools first, for the commands that run the wasm
    /// tests.
    pub fn path_with_tools(&self) -> Result<OsString> {
        let current = std::env::var_os("PATH").unwrap_or_default();
        let paths = std::iter::once(self.npm_bin.clone()).chain(std::env::split_paths(&current));
        Ok(std::env::join_paths(paths)?)
    }
}

fn apt_install(packages: &[&str], why: &str) -> Result<()> {
    if !is_root() {
        bail!(
            "{why} needs the Debian packages {}: install them with \
             `sudo apt-get install -y {}` and run this again",
            packages.join(", "),
            packages.join(" ")
        );
    }
    run_checked(Command::new("apt-get").arg("update"))?;
    run_checked(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn ensure_node() -> Result<()> {
    if version_of("npm", "--version").is_none() {
        apt_install(&["nodejs", "npm"], "installing wasm-opt and esbuild")?;
    }
    Ok(())
}

/// Chromium and its WebDriver.
#[derive(Debug)]
pub struct Browser {
    /// The chromedriver binary.
    pub chromedriver: PathBuf,
}

impl Browser {
    /// Finds Chromium and chromedriver, installing them with apt-get when
    /// missing and running as root.
    pub fn ensure() -> Result<Self> {
        let found = |name: &str| version_of(name, "--version").map(|_| PathBuf::from(name));
        if found("chromium").is_none() || found("chromedriver").is_none() {
            apt_install(&["chromium", "chromium-driver"], "the browser tests")?;
        }
        let chromedriver = ["/usr/bin/chromedriver", "chromedriver"]
            .iter()
            .map(PathBuf::from)
            .find(|p| version_of(p, "--version").is_some())
            .context("chromedriver is not on PATH after installing it")?;
        Ok(Self { chromedriver })
    }
}

/// The test peers from PyPI (cfn-lint), pinned in tools/python/requirements.txt,
/// in a virtual environment under target/.
#[derive(Debug)]
pub struct PythonTools {
    bin: PathBuf,
}

impl PythonTools {
    /// Creates the environment and installs the pinned requirements, again
    /// whenever the committed file differs from the one last installed.
    pub fn ensure() -> Result<Self> {
        let bin = venv(
            "tools/python/requirements.txt",
            "target/tools/python",
            "cfn-lint",
        )?;
        Ok(Self { bin })
    }

    /// cfn-lint from the environment.
    pub fn cfn_lint(&self) -> Command {
        Command::new(self.bin.join("cfn-lint"))
    }
}

/// cargo-zigbuild, which builds against an older glibc than this machine's
/// (Lambda's `provided.al2023` has 2.34) through Zig's linker.
const CARGO_ZIGBUILD_VERSION: &str = "0.24.1";

/// The tools that build the Lambda binary: Zig from PyPI (pinned in
/// tools/python/package-aws.txt) and cargo-zigbuild from crates.io, both
/// under target/tools, and the Rust target.
#[derive(Debug)]
pub struct ZigTools {
    bins: Vec<PathBuf>,
}

impl ZigTools {
    /// Installs what is missing for `triple`.
    pub fn ensure(triple: &str) -> Result<Self> {
        let targets = Command::new("rustup")
            .args(["target", "list", "--installed"])
            .output()
            .context("rustup is needed to add the Lambda's target")?;
        if !String::from_utf8_lossy(&targets.stdout)
            .lines()
            .any(|l| l.trim() == triple)
        {
            run_checked(Command::new("rustup").args(["target", "add", triple]))?;
        }
        let tools = root().join("target/tools");
        let zigbuild_root = tools.join("cargo-zigbuild");
        let zigbuild = zigbuild_root.join("bin/cargo-zigbuild");
        let wanted = format!("cargo-zigbuild {CARGO_ZIGBUILD_VERSION}");
        if version_of(&zigbuild, "--version").as_deref() != Some(wanted.as_str()) {
            run_checked(
                crate::cargo()
                    .args([
                        "install",
                        "cargo-zigbuild",
                        "--locked",
                        "--version",
                        &format!("={CARGO_ZIGBUILD_VERSION}"),
                        "--root",
                    ])
                    .arg(&zigbuild_root),
            )?;
        }
        let venv_bin = venv(
            "tools/python/package-aws.txt",
            "target/tools/zig",
            "python3",
        )?;
        Ok(Self {
            bins: vec![zigbuild_root.join("bin"), venv_bin],
        })
    }

    /// `PATH` with cargo-zigbuild and the venv's `python3` (which finds Zig
    /// as `python3 -m ziglang`) first.
    pub fn path(&self) -> Result<OsString> {
        let mut paths = self.bins.clone();
        paths.extend(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        ));
        Ok(std::env::join_paths(paths)?)
    }
}

/// A Python virtual environment at `dir` (under the root) with the pinned
/// `requirements` installed, again whenever the committed file differs from
/// the one last installed or `program` is missing from it; answers its
/// `bin` directory.
fn venv(requirements: &str, dir: &str, program: &str) -> Result<PathBuf> {
    let requirements = root().join(requirements);
    let venv = root().join(dir);
    let bin = venv.join("bin");
    let wanted = std::fs::read(&requirements)?;
    let stamp = venv.join(".ferry-installed-requirements");
    if std::fs::read(&stamp).ok() != Some(wanted.clone()) || !bin.join(program).exists() {
        if !bin.join("python").exists() {
            run_checked(Command::new("python3").arg("-m").arg("venv").arg(&venv)).with_context(
                || {
                    format!(
                        "Python 3 with its venv module is needed for {} \
                         (on Debian: `apt-get install -y python3-venv`)",
                        requirements.display()
                    )
                },
            )?;
        }
        run_checked(
            Command::new(bin.join("pip"))
                .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(&requirements),
        )?;
        std::fs::write(&stamp, &wanted)?;
    }
    Ok(bin)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The release build's wasm-bindgen (a library of xtask) must be the
    /// version the client links, as the CLI the tests install is.
    #[test]
    fn the_bindgen_library_matches_the_clients_pin() {
        let manifest = include_str!("../Cargo.toml");
        let library = manifest
            .lines()
            .find_map(|line| {
                let value = line.trim().strip_prefix("wasm-bindgen-cli-support = \"=")?;
                Some(value.trim_end_matches('"').to_owned())
            })
            .expect("xtask pins wasm-bindgen-cli-support");
        assert_eq!(library, wasm_bindgen_pin().expect("the root pin"));
    }
}
