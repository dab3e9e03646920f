//! `cargo xtask package-aws`: the Lambda functions' zip. One binary
//! (`ferry-lambda`, every function; `FERRY_FUNCTION` picks) built for
//! Lambda's `provided.al2023` runtime, whose glibc is 2.34 (this machine's
//! is newer, so a plain build would not load there): cargo-zigbuild links
//! it against glibc 2.34 for arm64 or x86_64. The result is checked — its
//! machine, and no symbol needing a glibc newer than 2.34 (`objdump -T`) —
//! and zipped as `bootstrap` into `target/lambda/ferry.zip`, the `CodeUri`
//! of every function in deploy/aws/template.yaml.

use crate::tools::ZigTools;
use crate::{cargo, root, run_checked};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Lambda's provided.al2023 glibc.
const GLIBC: (u32, u32) = (2, 34);

/// The architectures Lambda runs, as the template's `Architecture` names
/// them: (name, Rust target, what `readelf -h` calls the machine).
const ARCHITECTURES: [(&str, &str, &str); 2] = [
    ("arm64", "aarch64-unknown-linux-gnu", "AArch64"),
    ("x86_64", "x86_64-unknown-linux-gnu", "X86-64"),
];

/// The zip, and the architecture it was built for.
pub fn package_aws(args: &[String]) -> Result<PathBuf> {
    let mut arch = "arm64".to_owned();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--arch" => arch = rest.next().context("--arch needs arm64 or x86_64")?.clone(),
            other => bail!("unknown option `{other}` (package-aws takes --arch arm64|x86_64)"),
        }
    }
    let Some(&(_, triple, machine)) = ARCHITECTURES.iter().find(|(name, ..)| *name == arch) else {
        bail!("--arch is arm64 or x86_64, not `{arch}`");
    };
    let tools = ZigTools::ensure(triple)?;
    let glibc_target = format!("{triple}.{}.{}", GLIBC.0, GLIBC.1);
    run_checked(
        cargo()
            .args([
                "zigbuild",
                "--package",
                "ferry-lambda",
                "--profile",
                "release-server",
                "--target",
                &glibc_target,
            ])
            .env("PATH", tools.path()?),
    )?;
    let binary = root()
        .join("target")
        .join(triple)
        .join("release-server/ferry-lambda");
    check_machine(&binary, machine)?;
    let newest = newest_glibc(&binary)?;
    if newest > GLIBC {
        bail!(
            "{} needs glibc {}.{}; Lambda's provided.al2023 has {}.{}",
            binary.display(),
            newest.0,
            newest.1,
            GLIBC.0,
            GLIBC.1
        );
    }
    if arch == std::env::consts::ARCH || (arch == "arm64" && std::env::consts::ARCH == "aarch64") {
        smoke(&binary)?;
    }
    let zip = root().join("target/lambda/ferry.zip");
    write_zip(&binary, &zip)?;
    let size = std::fs::metadata(&zip)?.len();
    println!(
        "{} ({arch}, {:.1} MB, glibc {}.{} at most): every function's CodeUri; deploy with Architecture={arch}",
        zip.display(),
        size as f64 / 1e6,
        newest.0,
        newest.1
    );
    Ok(zip)
}

/// Fails unless the binary is for `machine`.
fn check_machine(binary: &Path, machine: &str) -> Result<()> {
    let output = Command::new("readelf")
        .arg("-h")
        .arg(binary)
        .output()
        .context("readelf (binutils) checks the binary")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let found = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Machine:"))
        .map(str::trim)
        .unwrap_or_default();
    if !found.contains(machine) {
        bail!("{} is for {found:?}, not {machine}", binary.display());
    }
    Ok(())
}

/// The newest `GLIBC_x.y` version any dynamic symbol of the binary needs,
/// as `objdump -T` lists them (`readelf --dyn-syms` where this machine's
/// objdump doesn't know the architecture).
fn newest_glibc(binary: &Path) -> Result<(u32, u32)> {
    let listed = Command::new("objdump")
        .arg("-T")
        .arg(binary)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .or_else(|| {
            Command::new("readelf")
                .args(["--dyn-syms", "--wide"])
                .arg(binary)
                .output()
                .ok()
                .filter(|o| o.status.success())
        })
        .context("objdump -T (binutils) checks the binary's glibc symbols")?;
    let text = String::from_utf8_lossy(&listed.stdout);
    let versions = glibc_versions(&text);
    versions
        .into_iter()
        .max()
        .context("the binary names no glibc version: not a glibc build?")
}

/// Every `GLIBC_x.y[.z]` in a symbol listing, as (x, y).
fn glibc_versions(listing: &str) -> Vec<(u32, u32)> {
    listing
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .filter_map(|word| word.strip_prefix("GLIBC_"))
        .filter_map(|version| {
            let mut parts = version.split('.');
            let major = parts.next()?.parse().ok()?;
            let minor = parts.next()?.parse().ok()?;
            Some((major, minor))
        })
        .collect()
}

/// Runs the binary outside Lambda: it must load and start, then refuse for
/// want of Lambda's environment, naming what is missing.
fn smoke(binary: &Path) -> Result<()> {
    let output = Command::new(binary)
        .env_clear()
        .env("FERRY_FUNCTION", "api")
        .output()
        .with_context(|| format!("could not start {}", binary.display()))?;
    let said = String::from_utf8_lossy(&output.stderr).into_owned()
        + &String::from_utf8_lossy(&output.stdout);
    if output.status.success() || !said.contains("AWS_REGION is not set") {
        bail!(
            "{} started outside Lambda and said: {said}",
            binary.display()
        );
    }
    Ok(())
}

/// `binary` as `bootstrap` (mode 755) in a new zip at `zip`, through
/// Python's zipfile (no zip tool needed).
fn write_zip(binary: &Path, zip: &Path) -> Result<()> {
    if let Some(dir) = zip.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let script = "import sys, zipfile\n\
        info = zipfile.ZipInfo('bootstrap', date_time=(2026, 1, 1, 0, 0, 0))\n\
        info.external_attr = 0o100755 << 16\n\
        info.compress_type = zipfile.ZIP_DEFLATED\n\
        with open(sys.argv[1], 'rb') as f, zipfile.ZipFile(sys.argv[2], 'w') as z:\n    \
        z.writestr(info, f.read(), compresslevel=9)\n";
    run_checked(
        Command::new("python3")
            .args(["-c", script])
            .arg(binary)
            .arg(zip),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_versions_are_read_from_objdump_and_readelf_listings() {
        let objdump = "0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.34) __libc_start_main\n\
                       0000000000000000      DF *UND*  0000000000000000 (GLIBC_2.2.5) memcpy\n\
                       0000000000000000  w   D  *UND*  0000000000000000  Base        __gmon_start__";
        assert_eq!(glibc_versions(objdump), [(2, 34), (2, 2)]);
        let readelf =
            "     5: 0000000000000000     0 FUNC    GLOBAL DEFAULT  UND getrandom@GLIBC_2.25 (6)";
        assert_eq!(glibc_versions(readelf), [(2, 25)]);
        assert!(glibc_versions("no versions here").is_empty());
    }
}
