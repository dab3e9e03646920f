//! A fault-injecting HTTP proxy on loopback, between the browser and
//! `ferry-server`, that the test controls: it can cut a request's body
//! short (a dropped connection), flip a byte of it (damage on the way) or
//! hold it back (so its presigned link expires). It records every request
//! and the status that answered it, so tests can count what was sent.
//!
//! Each request is forwarded with `Connection: close`, so one connection
//! carries one request and the answer is piped back until the server closes
//! it. WebSocket upgrades are piped untouched, and counted while open.

use anyhow::{Context, Result};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What to do to matching requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Forward this many body bytes, then drop both connections.
    Cut(usize),
    /// Flip the body byte at this offset.
    Corrupt(usize),
    /// Hold the request back this long before forwarding it.
    Delay(Duration),
}

/// A fault for the next `times` `PUT`s of part `part` (any upload).
#[derive(Debug, Clone)]
pub struct Rule {
    pub part: u32,
    pub fault: Fault,
    pub times: u32,
}

/// One request the proxy saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    /// The `partNumber` query parameter, for part uploads.
    pub part: Option<u32>,
    /// The answer's status; `None` when the proxy cut the request.
    pub status: Option<u16>,
}

#[derive(Debug, Default)]
struct Shared {
    rules: Vec<Rule>,
    seen: Vec<Seen>,
    /// `PUT`s in flight now, and the most at once.
    puts: usize,
    most_puts: usize,
    /// WebSockets piped now: each ends only when both the browser and the
    /// server have closed their side.
    sockets: usize,
}

/// The running proxy; it stops with the test's runtime.
#[derive(Debug, Clone)]
pub struct Proxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    shared: Arc<Mutex<Shared>>,
}

impl Proxy {
    /// Listens on a free loopback port, forwarding to `upstream` (`host:port`)
    /// once [`Proxy::start`]ed.
    pub async fn bind() -> Result<(Self, TcpListener)> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let proxy = Self {
            url,
            shared: Arc::default(),
        };
        Ok((proxy, listener))
    }

    /// Serves `listener`, forwarding to `upstream`.
    pub fn start(&self, listener: TcpListener, upstream: String) {
        let shared = Arc::clone(&self.shared);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let shared = Arc::clone(&shared);
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let _ = relay(client, &upstream, &shared).await;
                });
            }
        });
    }

    /// Adds a rule.
    pub fn add(&self, rule: Rule) {
        self.lock().rules.push(rule);
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    /// The most `PUT`s (uploads of bytes) that were in flight at once.
    pub fn most_puts_at_once(&self) -> usize {
        self.lock().most_puts
    }

    /// The `PUT`s in flight now (held by a [`Fault::Delay`], say).
    #[allow(dead_code)] // used by portal.rs, not by the benchmark (tests/ui_bench.rs)
    pub fn puts_in_flight(&self) -> usize {
        self.lock().puts
    }

    /// The WebSockets open through the proxy now: one that the browser
    /// closed counts until the server has closed it too.
    #[allow(dead_code)] // used by portal.rs, not by the benchmark (tests/ui_bench.rs)
    pub fn sockets_open(&self) -> usize {
        self.lock().sockets
    }

    /// The statuses that answered `PUT`s of part `part`, in order (`None`
    /// for a cut request).
    pub fn part_answers(&self, part: u32) -> Vec<Option<u16>> {
        self.seen()
            .into_iter()
            .filter(|s| s.method == "PUT" && s.part == Some(part))
            .map(|s| s.status)
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn relay(mut client: TcpStream, upstream: &str, shared: &Mutex<Shared>) -> Result<()> {
    // The request head, and whatever of the body came with it.
    let mut buffer = Vec::with_capacity(8192);
    let head_end = loop {
        let mut chunk = [0u8; 8192];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut body = buffer[head_end..].to_vec();
    let request_line = head.lines().next().unwrap_or_default().to_owned();
    let mut words = request_line.split(' ');
    let method = words.next().unwrap_or_default().to_owned();
    let target = words.next().unwrap_or_default().to_owned();
    let part = target
        .split_once('?')
        .map(|(_, query)| query)
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("partNumber="))
        .and_then(|n| n.parse::<u32>().ok());
    let header = |name: &str| {
        head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    let mut server = TcpStream::connect(upstream)
        .await
        .context("the proxy's upstream")?;
    if header("upgrade").is_some() {
        let _open = SocketOpen::start(shared);
        server.write_all(&buffer).await?;
        // Each direction is shut when its reader ends; both must end.
        tokio::io::copy_bidirectional(&mut client, &mut server).await?;
        return Ok(());
    }
    let _put = (method == "PUT").then(|| PutInFlight::start(shared));
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let fault = {
        let mut shared = shared.lock().unwrap_or_else(|e| e.into_inner());
        let rule = shared
            .rules
            .iter_mut()
            .find(|r| method == "PUT" && part == Some(r.part) && r.times > 0);
        rule.map(|r| {
            r.times -= 1;
            r.fault.clone()
        })
    };
    if let Some(Fault::Delay(wait)) = &fault {
        tokio::time::sleep(*wait).await;
    }
    // The head again, one request per connection.
    let mut rewritten = String::new();
    for line in head.trim_end().lines() {
        if line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        rewritten.push_str(line);
        rewritten.push_str("\r\n");
    }
    rewritten.push_str("Connection: close\r\n\r\n");
    server.write_all(rewritten.as_bytes()).await?;
    // The body, through the fault. A server that answers early (an
    // expired link) stops reading: the rest is read and dropped, so the
    // browser still gets the answer.
    let mut forwarded = 0usize;
    let mut server_reads = true;
    loop {
        if let Some(Fault::Corrupt(offset)) = fault
            && offset >= forwarded
            && offset < forwarded + body.len()
        {
            body[offset - forwarded] ^= 0x55;
        }
        if let Some(Fault::Cut(after)) = fault
            && forwarded + body.len() >= after
        {
            let keep = after.saturating_sub(forwarded);
            let _ = server.write_all(&body[..keep]).await;
            record(shared, &method, part, None);
            // Dropping both sockets ends the browser's request unanswered.
            return Ok(());
        }
        if server_reads && server.write_all(&body).await.is_err() {
            server_reads = false;
        }
        forwarded += body.len();
        if forwarded >= length {
            break;
        }
        let mut chunk = vec![0u8; 256 * 1024];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        chunk.truncate(n);
        body = chunk;
    }
    // The answer, until the server closes.
    let mut answer = vec![0u8; 64 * 1024];
    let n = server.read(&mut answer).await?;
    let status = String::from_utf8_lossy(&answer[..n])
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok());
    record(shared, &method, part, status);
    client.write_all(&answer[..n]).await?;
    tokio::io::copy(&mut server, &mut client).await?;
    client.shutdown().await?;
    Ok(())
}

fn record(shared: &Mutex<Shared>, method: &str, part: Option<u32>, status: Option<u16>) {
    shared
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .seen
        .push(Seen {
            method: method.to_owned(),
            part,
            status,
        });
}

/// Counts a `PUT` as in flight until dropped.
struct PutInFlight<'a>(&'a Mutex<Shared>);

impl<'a> PutInFlight<'a> {
    fn start(shared: &'a Mutex<Shared>) -> Self {
        let mut state = shared.lock().unwrap_or_else(|e| e.into_inner());
        state.puts += 1;
        state.most_puts = state.most_puts.max(state.puts);
        Self(shared)
    }
}

impl Drop for PutInFlight<'_> {
    fn drop(&mut self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).puts -= 1;
    }
}

/// Counts a WebSocket as open until dropped.
struct SocketOpen<'a>(&'a Mutex<Shared>);

impl<'a> SocketOpen<'a> {
    fn start(shared: &'a Mutex<Shared>) -> Self {
        shared.lock().unwrap_or_else(|e| e.into_inner()).sockets += 1;
        Self(shared)
    }
}

impl Drop for SocketOpen<'_> {
    fn drop(&mut self) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).sockets -= 1;
    }
}
