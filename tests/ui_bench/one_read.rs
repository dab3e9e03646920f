//! Issue 17's first ask, measured: could a checked upload read each byte of
//! the file once, hashing and sending the same buffer, instead of twice (a
//! hashing worker's read and the browser's own read of the slice it sends)?
//!
//! Every way Chromium offers to send bytes a script holds is tried side by
//! side in one Chromium, against one sink, with the same file and the same
//! reading and hashing code (Ferry's: two workers, each reading its parts
//! into a reused buffer through a "bring your own buffer" reader, SHA-256 by
//! WebCrypto), 16 MiB parts, 4 in flight. Only how a part's bytes leave
//! differs:
//!
//! - `two_reads` (what Ferry does): the worker reports the checksum and the
//!   page sends a slice of the file, which the browser reads again;
//! - `page_bytes`: the worker hands its buffer to the page (a transfer, no
//!   copy), which sends it by `XMLHttpRequest` and then hands it back;
//! - `page_blob`: the page makes a `Blob` of the buffer, hands the buffer
//!   back at once and sends the `Blob`;
//! - `worker_bytes`: the worker sends its buffer by `XMLHttpRequest` itself;
//! - `worker_stream`: the worker sends it as a request body stream (the way
//!   a hash could be taken from the stream being sent), which Chromium
//!   allows only over HTTP/2 or later: S3's presigned endpoints and the local
//!   store speak HTTP/1.1.
//!
//! The sink is this test's own HTTP/1.1 server on loopback. It serves the
//! page and the worker (same origin, so nothing is in the way of any of
//! them) and checks each part's SHA-256 against what the page said, so a
//! way that sent the wrong bytes fails. For each way it prints the wall
//! time, Chromium's CPU and how far Chromium's private memory (all its
//! processes: a `Blob`'s bytes live in the browser process) rose above
//! where it started, as ratios to `two_reads` in the same run.

use anyhow::{Context, Result};
use sha2::Digest;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::harness::Browser;
use super::{big_file, median, settle};

/// The page: a file input, and `leverUpload(lever)`, which sets
/// `window.__lever` to `{ ms }` or `{ error }` when done.
const PAGE: &str = r#"<!doctype html><meta charset=utf-8><title>one read</title>
<input type=file id=file aria-label="File to send">
<script>
const PART = 16 * 1024 * 1024;
const IN_FLIGHT = 4;
window.leverUpload = (lever) => {
  window.__lever = null;
  const file = document.getElementById('file').files[0];
  const parts = Math.ceil(file.size / PART);
  const started = performance.now();
  let stored = 0, running = 0, over = false;
  const ready = [];
  const finish = (error) => {
    if (over) return;
    over = true;
    workers.forEach((w) => w.terminate());
    window.__lever = error ? { error } : { ms: performance.now() - started };
  };
  const storedOne = () => { if (++stored === parts) finish(); };
  const put = (part, body, sha256, after) => {
    running++;
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', '/put/' + part);
    xhr.setRequestHeader('x-sha256', sha256);
    xhr.upload.onprogress = () => {};
    xhr.onloadend = () => {
      running--;
      if (xhr.status !== 200) return finish('part ' + part + ': ' + xhr.status + ' ' + xhr.responseText);
      after();
      storedOne();
      pump();
    };
    xhr.send(body);
  };
  const pump = () => {
    ready.sort((a, b) => a.part - b.part);
    while (running < IN_FLIGHT && ready.length) {
      const { part, sha256, buffer, length, worker, blob } = ready.shift();
      const start = (part - 1) * PART;
      if (lever === 'two_reads') put(part, file.slice(start, Math.min(file.size, start + PART)), sha256, () => {});
      else if (lever === 'page_blob') put(part, blob, sha256, () => {});
      else put(part, new Uint8Array(buffer, 0, length), sha256, () => worker.postMessage({ give: buffer }, [buffer]));
    }
  };
  const inWorker = lever.startsWith('worker_');
  const workers = [1, 2].map((first) => {
    const worker = new Worker('/worker.js');
    worker.onmessage = ({ data }) => {
      if (data.error) return finish(data.error);
      if (data.sent) return storedOne();
      if (lever === 'page_blob') {
        data.blob = new Blob([new Uint8Array(data.buffer, 0, data.length)]);
        worker.postMessage({ give: data.buffer }, [data.buffer]);
      }
      ready.push({ ...data, worker });
      pump();
    };
    worker.postMessage({
      file, partSize: PART, lever, first, stride: 2,
      // Each worker's share: a buffer per part it may have in flight,
      // and one more being read (two more in all, as issue 17 allows).
      buffers: lever === 'two_reads' ? 1 : IN_FLIGHT / 2 + 1,
      inFlight: IN_FLIGHT / 2,
    });
    return worker;
  });
};
</script>"#;

/// The worker: Ferry's own hashing worker's code (`js/hash-worker.js`:
/// its `fill` reads a part into a reused buffer) with a message handler of
/// the bench's, which hashes each part as Ferry's does and then sends or
/// hands over the buffer as its lever says.
const WORKER: &str = r#"
const pool = [];
let freed = null;
const give = (buffer) => { pool.push(buffer); if (freed) { const f = freed; freed = null; f(); } };
const take = async () => { while (!pool.length) await new Promise((r) => (freed = r)); return pool.pop(); };
const hex = (digest) => Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
self.onmessage = async ({ data }) => {
  if (data.give) return give(data.give);
  const { file, partSize, lever, first, stride, buffers, inFlight } = data;
  for (let i = 0; i < buffers; i++) pool.push(new ArrayBuffer(partSize));
  let running = 0;
  const slot = async () => { while (running >= inFlight) await new Promise((r) => (freed = r)); };
  try {
    for (let part = first, start = (first - 1) * partSize; start < file.size; part += stride, start += stride * partSize) {
      if (lever.startsWith('worker_')) await slot();
      let buffer = await take();
      const length = Math.min(partSize, file.size - start);
      buffer = await fill(file.slice(start, start + length), buffer);
      const view = new Uint8Array(buffer, 0, length);
      const sha256 = hex(await crypto.subtle.digest('SHA-256', view));
      if (lever === 'two_reads') {
        give(buffer);
        self.postMessage({ part, sha256 });
      } else if (lever === 'page_bytes' || lever === 'page_blob') {
        self.postMessage({ part, sha256, buffer, length }, [buffer]);
      } else {
        running++;
        const ended = (error) => {
          running--;
          if (error) self.postMessage({ error });
          else self.postMessage({ sent: part });
          give(buffer);
        };
        if (lever === 'worker_bytes') {
          const xhr = new XMLHttpRequest();
          xhr.open('PUT', '/put/' + part);
          xhr.setRequestHeader('x-sha256', sha256);
          xhr.upload.onprogress = () => {};
          xhr.onloadend = () => ended(xhr.status === 200 ? null : 'part ' + part + ': ' + xhr.status);
          xhr.send(view);
        } else {
          const body = new ReadableStream({ start(c) { c.enqueue(view); c.close(); } });
          fetch('/put/' + part, { method: 'PUT', body, duplex: 'half', headers: { 'x-sha256': sha256 } })
            .then((r) => ended(r.ok ? null : 'part ' + part + ': ' + r.status), (e) => ended(String(e)));
        }
      }
    }
  } catch (error) {
    self.postMessage({ error: String(error && error.message || error) });
  }
};
"#;

/// Ferry's hashing worker, as built.
const HASH_WORKER: &str = include_str!("../../js/hash-worker.js");

/// What the sink saw: bytes received in parts whose SHA-256 matched, and
/// whether any part's didn't.
#[derive(Default)]
struct Sunk {
    bytes: AtomicU64,
    wrong: AtomicBool,
}

/// Serves the page, the worker and `PUT /put/N` (body read, hashed,
/// compared with `x-sha256`: 200 when they agree, 400 when not) over
/// HTTP/1.1 with keep-alive. Answers the port.
async fn sink(sunk: Arc<Sunk>) -> Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let sunk = sunk.clone();
            tokio::spawn(async move {
                let _ = serve(stream, &sunk).await;
            });
        }
    });
    Ok(port)
}

async fn serve(stream: tokio::net::TcpStream, sunk: &Sunk) -> Result<()> {
    let mut stream = BufReader::with_capacity(1 << 20, stream);
    let mut body = vec![0u8; 1 << 20];
    loop {
        let mut line = String::new();
        if stream.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut words = line.split_whitespace();
        let (method, path) = (
            words.next().unwrap_or_default().to_owned(),
            words.next().unwrap_or_default().to_owned(),
        );
        let (mut length, mut sha256, mut chunked) = (0u64, String::new(), false);
        loop {
            let mut header = String::new();
            stream.read_line(&mut header).await?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse()?,
                "x-sha256" => sha256 = value.trim().to_owned(),
                "transfer-encoding" => chunked = true,
                _ => {}
            }
        }
        let (status, kind, answer): (&str, &str, Vec<u8>) = match (method.as_str(), path.as_str()) {
            ("GET", "/") => ("200 OK", "text/html", PAGE.into()),
            ("GET", "/worker.js") => (
                "200 OK",
                "text/javascript",
                format!("{HASH_WORKER}\n{WORKER}").into(),
            ),
            // Chromium never sends one over HTTP/1.1; if it did, the sink
            // would say so rather than read it.
            ("PUT", _) if chunked => ("501 Not Implemented", "text/plain", "chunked".into()),
            ("PUT", _) => {
                let mut hasher = sha2::Sha256::new();
                let mut left = length;
                while left > 0 {
                    let want = usize::try_from(left.min(body.len() as u64))?;
                    let got = stream.read(&mut body[..want]).await?;
                    anyhow::ensure!(got > 0, "the body ended early");
                    hasher.update(&body[..got]);
                    left -= got as u64;
                }
                let got: String = hasher
                    .finalize()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                if got == sha256 {
                    sunk.bytes.fetch_add(length, Ordering::Relaxed);
                    ("200 OK", "text/plain", Vec::new())
                } else {
                    sunk.wrong.store(true, Ordering::Relaxed);
                    ("400 Bad Request", "text/plain", "BadDigest".into())
                }
            }
            _ => ("404 Not Found", "text/plain", Vec::new()),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: {kind}\r\ncontent-length: {}\r\n\r\n",
            answer.len()
        );
        let stream = stream.get_mut();
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&answer).await?;
        if chunked {
            return Ok(());
        }
    }
}

const LEVERS: [&str; 5] = [
    "two_reads",
    "page_bytes",
    "page_blob",
    "worker_bytes",
    "worker_stream",
];

/// One way, once: wall ms, Chromium CPU-s, and the rise of Chromium's
/// private memory over where it was before.
#[derive(Debug, Clone, Copy)]
struct Run {
    ms: f64,
    cpu: f64,
    memory: u64,
}

/// Sends the file once the way `lever` says: its [`Run`], or what failed.
async fn send_once(browser: &Browser, lever: &str) -> Result<std::result::Result<Run, String>> {
    settle();
    let memory = browser.private_memory_sampler();
    let before = memory();
    let peak = Arc::new(AtomicU64::new(before));
    let stop = Arc::new(AtomicBool::new(false));
    let watching = {
        let (peak, stop) = (peak.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(memory(), Ordering::Relaxed);
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        })
    };
    let cpu = browser.cpu_seconds();
    browser
        .run(&format!(
            "window.leverUpload({}); return true;",
            serde_json::json!(lever)
        ))
        .await?;
    // Polled: one way takes longer than WebDriver waits for a script.
    let outcome = loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let now = browser.run("return window.__lever;").await?;
        if !now.is_null() {
            break now;
        }
    };
    let cpu = browser.cpu_seconds() - cpu;
    stop.store(true, Ordering::Relaxed);
    watching.await?;
    Ok(match outcome["ms"].as_f64() {
        Some(ms) => Ok(Run {
            ms,
            cpu,
            memory: peak.load(Ordering::Relaxed).saturating_sub(before),
        }),
        None => Err(outcome["error"].as_str().unwrap_or("no answer").to_owned()),
    })
}

#[tokio::test]
#[ignore = "a benchmark: `cargo xtask bench` runs it"]
async fn one_read_per_byte() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let sunk = Arc::new(Sunk::default());
    let port = sink(sunk.clone()).await?;
    // 1 GiB and a quarter of it: whether memory follows the file's size.
    for (label, size) in [("", 1u64 << 30), ("quarter_", 1 << 28)] {
        let path = big_file(dir.path(), &format!("{label}one-read.bin"), size)?;
        let browser = Browser::start().await?;
        browser.goto(&format!("http://127.0.0.1:{port}/")).await?;
        browser
            .find_by_label("File to send")
            .await?
            .send_keys(path.to_str().context("a UTF-8 path")?)
            .await?;
        compare(&browser, &sunk, size, label).await?;
    }
    Ok(())
}

/// Sends the picked file of `size` bytes each way, `ROUNDS` times in
/// turns, and prints the medians (names start `one_read_{label}`).
async fn compare(browser: &Browser, sunk: &Sunk, size: u64, label: &str) -> Result<()> {
    const ROUNDS: usize = 3;
    // Each way's runs, and what failed when one did.
    let mut figures: Vec<(&str, Vec<Run>, Option<String>)> =
        LEVERS.iter().map(|l| (*l, Vec::new(), None)).collect();
    for round in 0..ROUNDS {
        for i in 0..LEVERS.len() {
            let (lever, runs, failed) = &mut figures[(i + round) % LEVERS.len()];
            let stored = sunk.bytes.load(Ordering::Relaxed);
            match send_once(browser, lever).await? {
                Ok(run) => {
                    // Every byte arrived, and every part's hash matched.
                    anyhow::ensure!(
                        sunk.bytes.load(Ordering::Relaxed) - stored == size
                            && !sunk.wrong.load(Ordering::Relaxed),
                        "{lever} sent the wrong bytes"
                    );
                    println!(
                        "one read run: {label}round {round} {lever}: {:.0} ms, Chromium {:.2} CPU-s, \
                         memory +{:.0} MiB",
                        run.ms,
                        run.cpu,
                        run.memory as f64 / f64::from(1 << 20)
                    );
                    runs.push(run);
                }
                Err(error) => {
                    println!("one read run: {label}round {round} {lever}: failed: {error}");
                    *failed = Some(error);
                }
            }
        }
    }
    let (_, base, _) = &figures[0];
    anyhow::ensure!(!base.is_empty(), "two_reads failed");
    let base_ms = median(base.iter().map(|r| r.ms).collect());
    let base_cpu = median(base.iter().map(|r| r.cpu).collect());
    for (lever, runs, failed) in &figures {
        let name = format!("one_read_{label}{lever}");
        match (failed, runs.is_empty()) {
            // Refused every time: what the browser said.
            (Some(error), true) => {
                println!("FERRY_BENCH {name}_refused={}", error.replace(' ', "_"));
                continue;
            }
            (Some(error), false) => anyhow::bail!("{lever} failed in one round only: {error}"),
            _ => {}
        }
        let ms = median(runs.iter().map(|r| r.ms).collect());
        let cpu = median(runs.iter().map(|r| r.cpu).collect());
        let memory = median(runs.iter().map(|r| r.memory as f64).collect());
        println!("FERRY_BENCH {name}_ms={ms:.1}");
        println!("FERRY_BENCH {name}_chromium_cpu_s={cpu:.2}");
        println!("FERRY_BENCH {name}_memory_rise_bytes={memory:.0}");
        println!("FERRY_BENCH {name}_time_ratio={:.3}", ms / base_ms);
        println!("FERRY_BENCH {name}_cpu_ratio={:.3}", cpu / base_cpu);
    }
    Ok(())
}
