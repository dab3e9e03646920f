//! `cargo xtask bench`: the benchmark report.
//!
//! Sizes are exact byte counts, not timings; they are shown against our goal
//! and against the published sizes of the products we compete with, both as
//! built (the manifest) and as fetched (Chromium's network log until the
//! sign-in form, or a kept session's list, is there). Times are shown
//! against a baseline measured in the same run.

use crate::tools::BuildTools;
use crate::web;
use anyhow::{Context, Result};
use std::path::Path;

/// Our goal for the finished app's first load, gzip, in bytes.
const GOAL_GZIP: u64 = 150 * 1000;
/// Our goal for what a signed-in person fetches before their list shows
/// (a reload with the session kept), gzip, in bytes.
const GOAL_SIGNED_IN_GZIP: u64 = 250 * 1000;
/// AWS Amplify Authenticator + Storage Browser: 396 KB JS + 30 KB CSS, gzip.
const AMPLIFY_GZIP: u64 = 426 * 1000;
/// Uppy dashboard + S3 uploader: 84 KB JS + 11 KB CSS, gzip.
const UPPY_GZIP: u64 = 95 * 1000;

/// Runs `command` and returns its standard output, echoing nothing.
fn output_of(command: &mut std::process::Command) -> Result<String> {
    eprintln!("$ {}", crate::describe(command));
    let output = command.output()?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        anyhow::bail!(
            "`{}` failed:\n{stdout}\n{}",
            crate::describe(command),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(stdout)
}

/// The value of `name=value` in a benchmark's output.
fn figure(output: &str, name: &str) -> Result<f64> {
    output
        .lines()
        .find_map(|line| {
            line.split_whitespace()
                .find_map(|word| word.strip_prefix(&format!("{name}=")))
        })
        .and_then(|value| value.parse().ok())
        .with_context(|| format!("the benchmark printed no {name}"))
}

/// The text of `name=value` in a benchmark's output.
fn word<'a>(output: &'a str, name: &str) -> Result<&'a str> {
    output
        .lines()
        .find_map(|line| {
            line.split_whitespace()
                .find_map(|word| word.strip_prefix(&format!("{name}=")))
        })
        .with_context(|| format!("the benchmark printed no {name}"))
}

/// Kilobytes (1000 bytes) with one decimal.
fn kb(bytes: f64) -> String {
    format!("{:.1} KB", bytes / 1000.0)
}

/// What a portal's page fetches to show `<ferry-files>`, before any chunk:
/// everything of the first load but Ferry's own page (`ferry.js`, the glue,
/// its snippets and loader, the main wasm, the stylesheet the shadow roots
/// link).
fn embed_report(built: &[web::Built]) {
    let (gzip, brotli) = built
        .iter()
        .filter(|file| file.role.first_load() && file.role != web::Role::Html)
        .fold((0, 0), |total, file| {
            (total.0 + file.gzip, total.1 + file.brotli)
        });
    println!();
    println!(
        "A portal's first load of <ferry-files> (ferry.js, glue, snippets, loader, wasm, CSS): \
         {} gzip, {} brotli",
        kb(gzip as f64),
        kb(brotli as f64)
    );
}

/// Each split point's chunk with the shared chunks its loader fetches with
/// it (the manifest's `splits` of each shared chunk), gzip and brotli.
fn chunk_report(built: &[web::Built]) {
    let shared: Vec<(&[String], &web::Built)> = built
        .iter()
        .filter_map(|file| match &file.role {
            web::Role::Chunk { name, splits } if !name.starts_with("split_") => {
                Some((splits.as_slice(), file))
            }
            _ => None,
        })
        .collect();
    let mut rows: Vec<[String; 7]> = vec![[
        "split point".into(),
        "own gzip".into(),
        "own brotli".into(),
        "shared chunks".into(),
        "their gzip".into(),
        "their brotli".into(),
        "total gzip / brotli".into(),
    ]];
    for file in built {
        let web::Role::Chunk { name, .. } = &file.role else {
            continue;
        };
        let Some(split) = name.strip_prefix("split_") else {
            continue;
        };
        let with: Vec<&web::Built> = shared
            .iter()
            .filter(|(splits, _)| splits.iter().any(|s| s == split))
            .map(|(_, chunk)| *chunk)
            .collect();
        let gzip: u64 = with.iter().map(|c| c.gzip).sum();
        let brotli: u64 = with.iter().map(|c| c.brotli).sum();
        rows.push([
            split.to_owned(),
            kb(file.gzip as f64),
            kb(file.brotli as f64),
            with.len().to_string(),
            kb(gzip as f64),
            kb(brotli as f64),
            format!(
                "{} / {}",
                kb((file.gzip + gzip) as f64),
                kb((file.brotli + brotli) as f64)
            ),
        ]);
    }
    println!();
    println!(
        "Each split point's chunk and the shared chunks its loader fetches with it \
         (one another split point fetched already is not fetched again)"
    );
    let width = |column: usize| rows.iter().map(|row| row[column].len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..7).map(width).collect();
    for row in &rows {
        let mut line = format!("{:<w$}", row[0], w = widths[0]);
        for (cell, w) in row.iter().zip(&widths).skip(1) {
            line.push_str(&format!("  {cell:>w$}"));
        }
        println!("{line}");
    }
}

/// What Chromium fetched before the sign-in form, and before a kept
/// session's list, and how long each took against navigating to
/// `/config.json` in the same run (the `load_sizes_and_times` bench).
fn load_report(out: &str) -> Result<()> {
    let get = |name: &str| figure(out, name);
    println!();
    println!(
        "What Chromium fetched, from its network log (HTTP cache off; sizes by the build's \
         manifest, and as the browser received them)"
    );
    for (label, words, goal) in [
        (
            "first_load",
            "first load, until the sign-in form is there",
            GOAL_GZIP,
        ),
        (
            "signed_in",
            "signed in, a reload until the list's first row is there",
            GOAL_SIGNED_IN_GZIP,
        ),
    ] {
        let gzip = get(&format!("{label}_gzip_bytes"))?;
        let brotli = get(&format!("{label}_brotli_bytes"))?;
        let received = get(&format!("{label}_received_bytes"))?;
        let splits = word(out, &format!("{label}_splits"))?;
        println!(
            "{words}: {:.0} files (split chunks: {splits}), {} gzip, {} brotli",
            get(&format!("{label}_files"))?,
            kb(gzip),
            kb(brotli),
        );
        println!(
            "  received {} ({:.0} files brotli'd, {:.0} gzip'd, {:.0} as they are); \
             besides, the settings and the API: {:.0} requests, {}",
            kb(received),
            get(&format!("{label}_files_brotli"))?,
            get(&format!("{label}_files_gzip"))?,
            get(&format!("{label}_files_as_is"))?,
            get(&format!("{label}_other_requests"))?,
            kb(get(&format!("{label}_other_bytes"))?),
        );
        println!(
            "  gzip vs our goal ({}): {:.2}x; vs Amplify Storage Browser: {:.2}x ({}); \
             vs Uppy dashboard + S3: {:.2}x ({})",
            kb(goal as f64),
            gzip / goal as f64,
            gzip / AMPLIFY_GZIP as f64,
            kb(AMPLIFY_GZIP as f64),
            gzip / UPPY_GZIP as f64,
            kb(UPPY_GZIP as f64),
        );
    }
    println!();
    println!("Loading in Chromium, HTTP cache off (medians of 7)");
    for (label, shown, words) in [
        (
            "first_load",
            "form_shown",
            "navigation to the sign-in form:     ",
        ),
        (
            "signed_in",
            "list_shown",
            "reload to the list's first row (100):",
        ),
    ] {
        let bare = get(&format!("{label}_baseline_navigation_ms"))?;
        let ms = get(&format!("{label}_{shown}_ms"))?;
        println!(
            "{words} {ms:>8.1} ms = {:.1}x navigating to /config.json ({bare:.1} ms)",
            ms / bare.max(0.1)
        );
    }
    Ok(())
}

/// The client in Chromium against the server built as it serves: what the
/// first load and the signed-in path fetch and how long they take, the
/// list's first render and a delete's round trip, with the WebSocket and
/// with polling, each against a baseline of the same run; then uploads.
fn ui_report(dist: &Path, browser: &crate::tools::Browser) -> Result<()> {
    let server = crate::build_server("release-server")?;
    let out = output_of(
        crate::cargo()
            .args([
                "test",
                "--test",
                "ui_bench",
                "--",
                "--ignored",
                "--nocapture",
                // One at a time: an upload of 1 GiB beside a page load
                // would time both on a machine they share.
                "--test-threads=1",
            ])
            .env("FERRY_SERVER_BIN", &server)
            .env("FERRY_DIST", dist)
            .env("CHROMEDRIVER", &browser.chromedriver),
    )?;
    let get = |name: &str| figure(&out, name);
    load_report(&out)?;
    println!();
    println!("The web client in Chromium (medians of 7; 100 entries listed)");
    for mode in ["websocket", "polling"] {
        let bare = get(&format!("{mode}_baseline_navigation_ms"))?;
        let listed = get(&format!("{mode}_list_rendered_ms"))?;
        let click = get(&format!("{mode}_baseline_click_ms"))?;
        let deleted = get(&format!("{mode}_delete_to_row_gone_ms"))?;
        println!(
            "{mode:<9} navigation to a rendered list: {listed:>8.1} ms = {:.1}x navigating to /config.json ({bare:.1} ms)",
            listed / bare
        );
        println!(
            "{mode:<9} delete click to row gone:      {deleted:>8.1} ms = {:.1}x a click that only changes the page ({click:.1} ms)",
            deleted / click.max(0.1)
        );
    }
    println!();
    println!(
        "Uploading 1 GiB from Chromium (multipart, 64 parts of 16 MiB, 4 in flight) next to curl's \
         single presigned PUT of 1 GiB to the same endpoint (medians of 3 rounds; each round a fresh \
         server and page uploading once each way, in turn)"
    );
    let mib = 1024.0 * 1024.0;
    for (label, words) in [
        ("checksums", "with checksums   "),
        ("no_checksums", "without checksums"),
    ] {
        let curl = get(&format!("upload_{label}_curl_ms"))?;
        let page = get(&format!("upload_{label}_browser_ms"))?;
        let peak = get(&format!("upload_{label}_peak_bytes"))?;
        let longest = get(&format!("upload_{label}_longest_task_ms"))?;
        let long = get(&format!("upload_{label}_long_tasks"))?;
        println!(
            "{words}: {:>7.1} MiB/s = {:.2}x curl ({:.1} MiB/s; goal 0.9x); tab peak {:.0} MiB; \
             main-thread tasks over 50 ms: {long:.0} (longest {longest:.0} ms)",
            1024.0 / (page / 1000.0),
            curl / page,
            1024.0 / (curl / 1000.0),
            peak / mib,
        );
        let chromium = get(&format!("upload_{label}_chromium_cpu_s"))?;
        let server = get(&format!("upload_{label}_server_cpu_s"))?;
        let server_curl = get(&format!("upload_{label}_curl_server_cpu_s"))?;
        // Two cores: CPU seconds per wall second near 2 means the machine,
        // not the network path, sets the pace.
        println!(
            "{:17}  CPU: Chromium {chromium:.1} s + server {server:.1} s over {:.1} s = {:.2} cores busy \
             (server {server_curl:.1} s for curl's PUT)",
            "",
            page / 1000.0,
            (chromium + server) / (page / 1000.0),
        );
        if label == "checksums" {
            let alone = get("upload_checksums_hash_alone_ms")?;
            let alone_cpu = get("upload_checksums_hash_alone_chromium_cpu_s")?;
            let unchecked = get("upload_no_checksums_chromium_cpu_s")?;
            println!(
                "{:17}  hashing alone (Ferry's two workers, no upload): {alone:.0} ms, Chromium \
                 {alone_cpu:.1} CPU-s; Chromium's CPU with checksums less without: {:.1} s",
                "",
                chromium - unchecked,
            );
        }
        let bare = get(&format!("upload_{label}_bare_put_ms"))?;
        let bare_chromium = get(&format!("upload_{label}_bare_put_chromium_cpu_s"))?;
        let bare_server = get(&format!("upload_{label}_bare_put_server_cpu_s"))?;
        println!(
            "{:17}  = {:.2}x a bare page's fetch PUT of 1 GiB ({:.1} MiB/s, Chromium {bare_chromium:.1} \
             CPU-s, server {bare_server:.1}; goal {}; rounds {})",
            "",
            bare / page,
            1024.0 / (bare / 1000.0),
            if label == "checksums" { "0.9x" } else { "1.0x" },
            word(&out, &format!("upload_{label}_ratios_to_bare_put"))?,
        );
        let uppy = get(&format!("upload_{label}_uppy_ms"))?;
        let uppy_chromium = get(&format!("upload_{label}_uppy_chromium_cpu_s"))?;
        let uppy_server = get(&format!("upload_{label}_uppy_server_cpu_s"))?;
        // What the CPU alone allows: with both cores busy all the time, an
        // upload that needs this much CPU can't take less.
        let floor = (chromium + server) / 2.0;
        let uppy_floor = (uppy_chromium + uppy_server) / 2.0;
        println!(
            "{:17}  = {:.2}x Uppy 5.1's AwsS3 multipart, 6 parts in flight, no checksums ({:.1} MiB/s, \
             Chromium {uppy_chromium:.1} CPU-s, server {uppy_server:.1}; goal 1.0x; rounds {})",
            "",
            uppy / page,
            1024.0 / (uppy / 1000.0),
            word(&out, &format!("upload_{label}_ratios_to_uppy"))?,
        );
        println!(
            "{:17}  the CPU alone on two cores allows Ferry {floor:.1} s and Uppy {uppy_floor:.1} s: \
             at best {:.2}x Uppy's measured time",
            "",
            uppy / (floor * 1000.0),
        );
        let fourth = get(&format!("upload_{label}_fourth_part_started_ms"))?;
        let presigns = get(&format!("upload_{label}_presign_requests"))?;
        let puts = get(&format!("upload_{label}_part_puts"))?;
        let waited = get(&format!("upload_{label}_parts_that_waited_for_a_presign"))?;
        let waited_hash = get(&format!("upload_{label}_parts_that_waited_for_their_hash"))?;
        println!(
            "{:17}  4th part in flight {fourth:.0} ms after the pick (goal 100); {presigns:.0} presign \
             requests for {puts:.0} part PUTs; parts whose slot was free before their URL: \
             {waited:.0} waiting on a presign round trip (goal 0), {waited_hash:.0} on their hash",
            "",
        );
        let first = get(&format!("upload_{label}_first_part_started_ms"))?;
        let last = get(&format!("upload_{label}_last_part_stored_ms"))?;
        println!(
            "{:17}  first part in flight {first:.0} ms after the pick; last part stored at {last:.0} ms, \
             done (completed and shown) {:.0} ms later (goal 50)",
            "",
            page - last,
        );
    }
    for (label, words) in [
        ("checksums", "with checksums   "),
        ("no_checksums", "without checksums"),
    ] {
        let page = get(&format!("upload_{label}_quarter_browser_ms"))?;
        let bare = get(&format!("upload_{label}_quarter_bare_put_ms"))?;
        let uppy = get(&format!("upload_{label}_quarter_uppy_ms"))?;
        let chromium = get(&format!("upload_{label}_quarter_chromium_cpu_s"))?;
        let server = get(&format!("upload_{label}_quarter_server_cpu_s"))?;
        let fourth = get(&format!("upload_{label}_quarter_fourth_part_started_ms"))?;
        println!(
            "256 MiB {words}: {:>7.1} MiB/s = {:.2}x the bare PUT ({:.1} MiB/s; rounds {}), \
             {:.2}x Uppy ({:.1} MiB/s; rounds {}); CPU: Chromium {chromium:.1} s + server {server:.1} s; \
             4th part in flight {fourth:.0} ms after the pick",
            256.0 / (page / 1000.0),
            bare / page,
            256.0 / (bare / 1000.0),
            word(&out, &format!("upload_{label}_quarter_ratios_to_bare_put"))?,
            uppy / page,
            256.0 / (uppy / 1000.0),
            word(&out, &format!("upload_{label}_quarter_ratios_to_uppy"))?,
        );
        if label == "checksums" {
            println!(
                "{:25}hashing alone: {:.0} ms, Chromium {:.1} CPU-s",
                "",
                get("upload_checksums_quarter_hash_alone_ms")?,
                get("upload_checksums_quarter_hash_alone_chromium_cpu_s")?,
            );
        }
    }
    println!(
        "Where the CPU went in the first round's Ferry and Uppy uploads, by process kind and \
         thread (threads over 0.05 CPU-s):"
    );
    for line in out.lines().filter_map(|l| l.strip_prefix("FERRY_PROFILE ")) {
        println!("  {line}");
    }
    for (label, words) in [
        ("checksums", "with checksums   "),
        ("no_checksums", "without checksums"),
    ] {
        let big = get(&format!("upload_{label}_peak_bytes"))?;
        let quarter = get(&format!("upload_{label}_quarter_peak_bytes"))?;
        println!(
            "tab peak memory {words}, 1 GiB vs 256 MiB upload: {:.0} MiB vs {:.0} MiB = {:.2}x (flat is 1x)",
            big / mib,
            quarter / mib,
            big / quarter.max(1.0)
        );
    }
    one_read_report(&out)
}

/// Issue 17's "one read per byte": each way Chromium offers to send the
/// buffer a worker read and hashed, against reading the file twice (what
/// Ferry does), in one Chromium against the bench's own sink.
fn one_read_report(out: &str) -> Result<()> {
    let mib = 1024.0 * 1024.0;
    println!();
    println!(
        "One read per byte? The same reading and hashing (two workers, 16 MiB parts, 4 in flight), \
         only the sending differs (medians of 3; ratios to two reads in the same run)"
    );
    for (label, size) in [("", "1 GiB"), ("quarter_", "256 MiB")] {
        for (lever, words) in [
            (
                "two_reads",
                "two reads: the page sends a slice of the file (Ferry)",
            ),
            ("page_bytes", "one read: the page sends the worker's buffer"),
            (
                "page_blob",
                "one read: the page sends a Blob made of the buffer",
            ),
            ("worker_bytes", "one read: the worker sends its buffer"),
            ("worker_stream", "one read: the worker sends a body stream"),
        ] {
            let name = format!("one_read_{label}{lever}");
            if let Ok(refused) = word(out, &format!("{name}_refused")) {
                println!(
                    "{size:>7} {words}: refused by Chromium ({})",
                    refused.replace('_', " ")
                );
                continue;
            }
            let get = |what: &str| figure(out, &format!("{name}_{what}"));
            println!(
                "{size:>7} {words}: {:.0} ms = {:.2}x, Chromium {:.1} CPU-s = {:.2}x, \
                 memory +{:.0} MiB",
                get("ms")?,
                get("time_ratio")?,
                get("chromium_cpu_s")?,
                get("cpu_ratio")?,
                get("memory_rise_bytes")? / mib,
            );
        }
    }
    Ok(())
}

fn sign_in_report(tools: &BuildTools, browser: &crate::tools::Browser) -> Result<()> {
    let native = output_of(crate::cargo().args([
        "bench",
        "--package",
        "ferry-identity",
        "--bench",
        "identity",
    ]))?;
    // The browser's step, built as the client ships (release, size-optimised).
    let wasm = output_of(
        crate::cargo()
            .args([
                "test",
                "--release",
                "--package",
                "ferry-srp",
                "--target",
                "wasm32-unknown-unknown",
                "--test",
                "browser_timing",
                "--",
                "--nocapture",
            ])
            .env("PATH", tools.path_with_tools()?)
            .env("CHROMEDRIVER", &browser.chromedriver),
    )?;
    let modpow = figure(&native, "baseline_modpow_ms")?;
    let server = figure(&native, "server_sign_in_ms")?;
    let client_native = figure(&native, "native_client_srp_step_ms")?;
    let client_wasm = figure(&wasm, "FERRY_BENCH client_srp_step_ms")
        .or_else(|_| figure(&wasm, "client_srp_step_ms"))?;
    println!();
    println!(
        "Sign-in (SRP), baseline: one 3072-bit modpow with a 1024-bit exponent = {modpow:.2} ms"
    );
    println!(
        "server, one SRP sign-in:          {server:>8.2} ms = {:.2}x baseline ({:.1} sign-ins/s per core)",
        server / modpow,
        1000.0 / server
    );
    println!(
        "client SRP step, native:          {client_native:>8.2} ms = {:.2}x baseline",
        client_native / modpow
    );
    println!(
        "client SRP step, Chromium (wasm): {client_wasm:>8.2} ms = {:.2}x baseline, {:.2}x native",
        client_wasm / modpow,
        client_wasm / client_native
    );
    Ok(())
}

/// The `FERRY_BENCH …` lines of a benchmark's output, without the prefix.
fn bench_lines(output: &str) -> Vec<&str> {
    output
        .lines()
        .filter_map(|line| line.trim().strip_prefix("FERRY_BENCH "))
        .collect()
}

/// The file API over real sockets (`ferry-server`'s `files` bench): request
/// rates against `/healthz`, notification delay against a WebSocket ping, and
/// PUT throughput against a raw disk write, all measured in the same run.
fn files_report() -> Result<()> {
    let output =
        output_of(crate::cargo().args(["bench", "--package", "ferry-server", "--bench", "files"]))?;
    let healthz = figure(&output, "healthz_rps")?;
    let list = figure(&output, "list_rps")?;
    let trash = figure(&output, "trash_rps")?;
    let create = figure(&output, "create_rps")?;
    let ping = figure(&output, "ws_ping_p50_ms")?;
    let event_p50 = figure(&output, "put_to_event_p50_ms")?;
    let event_p99 = figure(&output, "put_to_event_p99_ms")?;
    let raw = figure(&output, "raw_write_mib_s")?;
    let put = figure(&output, "put_mib_s")?;
    let put_sha = figure(&output, "put_sha256_mib_s")?;
    println!();
    println!("File API over loopback, baselines measured in the same run");
    println!("GET /healthz (baseline):            {healthz:>9.0} req/s");
    println!(
        "list a folder of 100:               {list:>9.0} req/s = {:.3}x healthz",
        list / healthz
    );
    println!(
        "trash, first 100 of 10,000 items:   {trash:>9.0} req/s = {:.3}x the folder listing",
        trash / list
    );
    println!(
        "CreateFile:                         {create:>9.0} req/s = {:.3}x healthz",
        create / healthz
    );
    println!("WebSocket ping → pong (baseline):   {ping:>9.2} ms p50");
    println!(
        "PUT answered → FileCreated pushed:  {event_p50:>9.2} ms p50 = {:.1}x ping, {event_p99:.2} ms p99 = {:.1}x ping",
        event_p50 / ping,
        event_p99 / ping
    );
    println!("raw write + fsync (baseline):       {raw:>9.0} MiB/s");
    println!(
        "presigned PUT, 256 MiB:             {put:>9.0} MiB/s = {:.2}x raw write",
        put / raw
    );
    println!(
        "presigned PUT + SHA-256, 256 MiB:   {put_sha:>9.0} MiB/s = {:.2}x raw write",
        put_sha / raw
    );
    for line in bench_lines(&output) {
        println!("  {line}");
    }
    Ok(())
}

/// The object store's multipart path (`ferry-objects`' `multipart` bench):
/// the endpoint in a process of its own, its CPU per GiB taken in 16 MiB
/// parts (with and without a signed SHA-256 each) against a single PUT of
/// the same GiB, and CompleteMultipartUpload's time against a
/// CreateMultipartUpload round trip, all in the same run.
fn objects_report() -> Result<()> {
    let output = output_of(crate::cargo().args([
        "bench",
        "--package",
        "ferry-objects",
        "--bench",
        "multipart",
    ]))?;
    let put = figure(&output, "single_put_cpu_s_per_gib")?;
    let plain = figure(&output, "multipart_cpu_s_per_gib")?;
    let checked = figure(&output, "multipart_sha256_cpu_s_per_gib")?;
    let create = figure(&output, "create_multipart_p50_ms")?;
    let complete = figure(&output, "complete_ms")?;
    let complete_checked = figure(&output, "complete_sha256_ms")?;
    let complete_settled = figure(&output, "complete_after_pause_ms")?;
    println!();
    println!("Object store, 1 GiB in 16 MiB parts, server CPU; baselines measured in the same run");
    println!("single PUT, no checksum (baseline):     {put:>7.2} CPU-s/GiB");
    println!(
        "multipart, no checksums:                {plain:>7.2} CPU-s/GiB = {:.2}x single PUT",
        plain / put
    );
    println!(
        "multipart, SHA-256 per part:            {checked:>7.2} CPU-s/GiB = {:.2}x single PUT",
        checked / put
    );
    println!("CreateMultipartUpload (baseline):       {create:>7.2} ms");
    println!(
        "CompleteMultipartUpload (goal 50 ms):   {complete:>7.2} ms = {:.1}x create; with SHA-256 parts {complete_checked:.2} ms = {:.1}x",
        complete / create,
        complete_checked / create
    );
    println!(
        "  sent 1 s after the last part:         {complete_settled:>7.2} ms = {:.1}x create (the whole file's hash already done)",
        complete_settled / create
    );
    let copy = figure(&output, "memcpy_mib_s")?;
    let sha = figure(&output, "sha256_mib_s")?;
    let md5 = figure(&output, "md5_mib_s")?;
    println!("memory copy (baseline):                 {copy:>7.0} MiB/s");
    println!(
        "SHA-256 (sha2, SHA extensions if any):  {sha:>7.0} MiB/s = {:.3}x copy",
        sha / copy
    );
    println!(
        "MD5 (part ETags):                       {md5:>7.0} MiB/s = {:.3}x copy",
        md5 / copy
    );
    Ok(())
}

/// The SQLite index (`ferry-index`'s `index` bench): its lines are relayed as
/// the bench prints them, each with its own same-run baseline.
fn index_report() -> Result<()> {
    let output =
        output_of(crate::cargo().args(["bench", "--package", "ferry-index", "--bench", "index"]))?;
    let lines = bench_lines(&output);
    if lines.is_empty() {
        anyhow::bail!("the index benchmark printed no FERRY_BENCH line");
    }
    println!();
    println!("File index (SQLite), baselines measured in the same run");
    for line in lines {
        println!("  {line}");
    }
    Ok(())
}

/// The thumbnail engine (`ferry-thumbs`' `thumbs` bench): a 12-megapixel
/// JPEG's thumbnails per second on one core, against decoding the same
/// JPEG alone in the same run.
fn thumbs_report() -> Result<()> {
    let output = output_of(crate::cargo().args([
        "bench",
        "--package",
        "ferry-thumbs",
        "--bench",
        "thumbs",
    ]))?;
    let decode = figure(&output, "baseline_decode_12mp_jpeg_ms")?;
    let thumbs = figure(&output, "thumbs_12mp_jpeg_ms")?;
    let rate = figure(&output, "thumbs_12mp_jpeg_per_s_per_core")?;
    let cpu = figure(&output, "thumbs_cpu_per_wall")?;
    println!();
    println!(
        "Thumbnails of a 12-megapixel JPEG (4000 × 3000), one core; baseline measured in the same run"
    );
    println!("decode alone, full size (baseline):  {decode:>7.1} ms");
    println!(
        "small + medium thumbnails:           {thumbs:>7.1} ms = {:.2}x the decode, {rate:.1} per second per core",
        thumbs / decode
    );
    println!("  CPU time over wall time, every thread: {cpu:.2} (1.00 = one core)");
    Ok(())
}

pub fn bench() -> Result<()> {
    let tools = BuildTools::ensure()?;
    tools.ensure_test_runner()?;
    let browser = crate::tools::Browser::ensure()?;
    let dist = crate::build_client(&tools)?;

    // What the first load fetches, as the build listed it: the page, the
    // main JS and wasm, the stylesheet, the split loader and the snippets
    // the glue imports; chunks and linked files (the hash worker) come
    // later, when used.
    let built = web::read_manifest(&dist)?;
    println!();
    println!("The web client's files ({})", dist.display());
    web::print_sizes(&built);
    chunk_report(&built);
    embed_report(&built);
    let total = built
        .iter()
        .filter(|file| file.role.first_load())
        .fold((0, 0), |total, file| {
            (total.0 + file.bytes, total.1 + file.gzip)
        });
    println!();
    println!("As built (the manifest's first-load files; measured in Chromium below):");
    let ratio = |other: u64| total.1 as f64 / other as f64;
    println!(
        "first load, gzip, vs our goal (150 KB):         {:.2}x",
        ratio(GOAL_GZIP)
    );
    println!(
        "first load, gzip, vs Amplify Storage Browser:   {:.2}x (426 KB)",
        ratio(AMPLIFY_GZIP)
    );
    println!(
        "first load, gzip, vs Uppy dashboard + S3:       {:.2}x (95 KB)",
        ratio(UPPY_GZIP)
    );
    ui_report(&dist, &browser)?;
    sign_in_report(&tools, &browser)?;
    files_report()?;
    objects_report()?;
    index_report()?;
    thumbs_report()?;
    thumbnailer_report()
}

/// The thumbnailer on the local stack (`ferry-server`'s `thumbnails`
/// bench): from a photo's PUT answered to `ThumbnailCreated` on the
/// WebSocket, against the same PUT to `FileCreated` on the same socket,
/// in the same run.
fn thumbnailer_report() -> Result<()> {
    let output = output_of(crate::cargo().args([
        "bench",
        "--package",
        "ferry-server",
        "--bench",
        "thumbnails",
    ]))?;
    let file_p50 = figure(&output, "put_to_file_created_p50_ms")?;
    let file_p99 = figure(&output, "put_to_file_created_p99_ms")?;
    let thumb_p50 = figure(&output, "put_to_thumbnail_created_p50_ms")?;
    let thumb_p99 = figure(&output, "put_to_thumbnail_created_p99_ms")?;
    println!();
    println!("Thumbnails on the local stack, 36 photos of 1600 x 1200, one at a time");
    println!(
        "PUT answered → FileCreated (baseline):  {file_p50:>7.1} ms p50, {file_p99:.1} ms p99"
    );
    println!(
        "PUT answered → ThumbnailCreated:        {thumb_p50:>7.1} ms p50 = {:.1}x, {thumb_p99:.1} ms p99 = {:.1}x",
        thumb_p50 / file_p50,
        thumb_p99 / file_p99
    );
    Ok(())
}

/// `cargo xtask bench --load`: the load and soak run (`ferry-server`'s
/// `load` bench against one server process), its figures beside the
/// baselines measured in the same run. Fails when the run found errors.
pub fn load(args: &[String]) -> Result<()> {
    let mut forwarded = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--load" => {}
            "--seconds" | "--sockets" | "--uploaders" | "--senders" | "--warm-up" => {
                let value = args
                    .next()
                    .with_context(|| format!("{arg} takes a number"))?;
                value
                    .parse::<u64>()
                    .with_context(|| format!("{arg} takes a number, not {value:?}"))?;
                forwarded.extend([arg.clone(), value.clone()]);
            }
            other => anyhow::bail!(
                "`bench --load` takes --seconds, --sockets, --uploaders, --senders and --warm-up, not {other}"
            ),
        }
    }
    // Progress and the compiler's lines go straight to the terminal: the
    // run takes minutes.
    let output = output_of(
        crate::cargo()
            .args([
                "bench",
                "--package",
                "ferry-server",
                "--bench",
                "load",
                "--",
            ])
            .args(&forwarded)
            .stderr(std::process::Stdio::inherit()),
    )?;
    let get = |name: &str| figure(&output, name);
    let ping = get("ws_ping_p50_ms")?;
    let healthz = get("healthz_p50_ms")?;
    let errors = get("errors")?;
    println!();
    println!(
        "Load and soak over loopback: one ferry-server process, {:.0} s measured after a warm-up",
        get("load_seconds")?
    );
    println!(
        "{:.0} WebSocket clients (each closes and resumes about once a minute), {:.0} uploaders \
         (every fifth file multipart, 2-3 parts), {:.0} command senders",
        get("load_sockets")?,
        get("load_uploaders")?,
        get("load_senders")?
    );
    println!(
        "HTTP requests answered:               {:>9.1} req/s",
        get("requests_per_s")?
    );
    println!(
        "WebSocket ping → pong (baseline):     {ping:>9.2} ms p50, {:.2} ms p99",
        get("ws_ping_p99_ms")?
    );
    println!("GET /healthz (baseline):              {healthz:>9.2} ms p50");
    println!(
        "command answered (202):               {:>9.2} ms p50 = {:.1}x healthz, {:.2} ms p99",
        get("command_answer_p50_ms")?,
        get("command_answer_p50_vs_healthz")?,
        get("command_answer_p99_ms")?
    );
    for (name, words) in [
        ("command_to_event", "command accepted → its event:       "),
        ("put_to_event", "PUT answered → FileCreated:         "),
        (
            "complete_to_event",
            "CompleteUpload answered → FileCreated:",
        ),
    ] {
        println!(
            "{words} {:>8.2} ms p50 = {:.1}x ping, {:.2} ms p99 = {:.1}x ping ({:.0} samples)",
            get(&format!("{name}_p50_ms"))?,
            get(&format!("{name}_p50_vs_ping"))?,
            get(&format!("{name}_p99_ms"))?,
            get(&format!("{name}_p99_vs_ping"))?,
            get(&format!("{name}_samples"))?
        );
    }
    println!(
        "server RSS: {:.1} MiB after the warm-up, {:.1} MiB at the end = {:.3}x (goal: within 1.10x), \
         peak {:.1} MiB",
        get("rss_start_mib")?,
        get("rss_end_mib")?,
        get("rss_end_vs_start")?,
        get("rss_peak_mib")?
    );
    println!(
        "            {:.1} MiB halfway; the end = {:.3}x halfway (the second half's growth)",
        get("rss_mid_mib")?,
        get("rss_end_vs_mid")?
    );
    println!(
        "done: {:.0} commands, {:.0} single and {:.0} multipart uploads, {:.0} events delivered \
         ({:.0} duplicates dropped), {:.0} reconnects with resume, {:.0} connections closed by the server",
        get("commands")?,
        get("uploads_single")?,
        get("uploads_multipart")?,
        get("events_delivered")?,
        get("duplicates")?,
        get("reconnects")?,
        get("server_closes")?
    );
    println!(
        "checked once the bus settled: {:.0} commands succeeded, {:.0} files listed available at \
         their size and SHA-256, {:.0} deleted files gone",
        get("commands_checked")?,
        get("files_checked")?,
        get("deleted_checked")?
    );
    println!("errors: {errors:.0} (goal 0)");
    for line in output.lines() {
        if let Some(error) = line.strip_prefix("FERRY_ERROR ") {
            println!("  {error}");
        }
    }
    if errors > 0.0 {
        anyhow::bail!("the load run found {errors:.0} errors");
    }
    Ok(())
}
