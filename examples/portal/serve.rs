//! The example portal's build and its web server: the portal's page,
//! stylesheet and script on an origin of their own, under the strict
//! Content-Security-Policy a portal embedding Ferry needs.
//!
//! One implementation, std only, compiled into both users with `#[path]`:
//! `cargo xtask run --portal` (xtask/src/main.rs) and the end-to-end tests
//! (tests/e2e/portal.rs). So what the tests check is what a person runs.
//!
//! The server is deliberately small: `GET` and `HEAD` of the three built
//! files, and the page for every path without an extension (the portal's
//! router owns `/files`, `/reports`, …). One thread per connection, one
//! request per connection. It is for a developer's machine, not the
//! internet.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

/// The files of a built portal, each served from the site's root.
const FILES: [(&str, &str); 3] = [
    ("index.html", "text/html; charset=utf-8"),
    ("portal.css", "text/css; charset=utf-8"),
    ("portal.js", "text/javascript; charset=utf-8"),
];

/// Where the page names Ferry's origin; the build writes it in.
const FERRY_PLACEHOLDER: &str = "FERRY_URL";

/// The origin of `url` (`http://127.0.0.1:8080` of
/// `http://127.0.0.1:8080/some/path`).
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |at| at + 3);
    let end = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |at| after_scheme + at);
    &url[..end]
}

/// The Content-Security-Policy the portal is served with, for Ferry at
/// `ferry` (its public URL). Ferry's origin is added where the element
/// needs it: its scripts and wasm (`script-src`, with `'wasm-unsafe-eval'`
/// to compile it), its stylesheet (`style-src`), its settings, API, sign-in,
/// object store and live connection (`connect-src`, with the `ws:`/`wss:`
/// origin, which an `http:` source doesn't cover), and its hashing worker
/// (`worker-src`): Ferry starts it from a `blob:` module of the page's
/// origin whose static `import` fetches the worker's script from Ferry's,
/// and a module worker's imports are checked against `worker-src`, not
/// `script-src` (without Ferry's origin there, every upload with checksums
/// stalls: the worker fails to load, and the violation is reported in the
/// worker, not to the page).
pub fn policy(ferry: &str) -> String {
    let ferry = origin(ferry);
    // `http` → `ws`, `https` → `wss`.
    let socket = ferry.replacen("http", "ws", 1);
    format!(
        "default-src 'self'; script-src 'self' {ferry} 'wasm-unsafe-eval'; \
         style-src 'self' {ferry}; connect-src 'self' {ferry} {socket}; \
         worker-src 'self' blob: {ferry}; img-src 'self' data: blob:; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Builds the portal for Ferry at `ferry` into `out`: the page with
/// Ferry's origin written in, the stylesheet, and `portal.js`, the
/// portal's modules with amazon-cognito-identity-js bundled by `esbuild`
/// (tools/npm's pin), which finds the package in `root`/tools/npm.
pub fn build(root: &Path, mut esbuild: Command, ferry: &str, out: &Path) -> io::Result<()> {
    let source = root.join("examples/portal");
    std::fs::create_dir_all(out)?;
    let page = std::fs::read_to_string(source.join("index.html"))?;
    std::fs::write(
        out.join("index.html"),
        page.replace(FERRY_PLACEHOLDER, origin(ferry)),
    )?;
    std::fs::copy(source.join("portal.css"), out.join("portal.css"))?;
    esbuild
        .arg(source.join("src/main.js"))
        .args(["--bundle", "--format=esm", "--platform=browser", "--minify"])
        .arg("--target=es2022,chrome110,firefox115,safari16")
        // The `buffer` package the library uses reads Node's `global`.
        .arg("--define:global=globalThis")
        .arg("--log-level=warning")
        .arg(format!("--outfile={}", out.join("portal.js").display()))
        .env("NODE_PATH", root.join("tools/npm/node_modules"));
    let status = esbuild.status().map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("starting esbuild ({error}): run `npm ci` in tools/npm"),
        )
    })?;
    if !status.success() {
        return Err(io::Error::other(format!(
            "esbuild failed to bundle the portal ({status})"
        )));
    }
    Ok(())
}

/// The portal's server, running until dropped.
#[derive(Debug)]
pub struct Serving {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepting: Option<JoinHandle<()>>,
}

impl Drop for Serving {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread, which then sees `stop`.
        let _ = TcpStream::connect(self.addr);
        if let Some(accepting) = self.accepting.take() {
            let _ = accepting.join();
        }
    }
}

/// Serves the portal built in `site` on `listener`, its page with `policy`.
pub fn serve(listener: TcpListener, site: PathBuf, policy: String) -> io::Result<Serving> {
    let addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let site = Arc::new(Site { dir: site, policy });
    let accepting = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let site = Arc::clone(&site);
                std::thread::spawn(move || {
                    let _ = site.answer(stream);
                });
            }
        })
    };
    Ok(Serving {
        addr,
        stop,
        accepting: Some(accepting),
    })
}

/// What the server serves.
#[derive(Debug)]
struct Site {
    dir: PathBuf,
    policy: String,
}

impl Site {
    /// Reads one request from `stream` and answers it.
    fn answer(&self, mut stream: TcpStream) -> io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut request_line = String::new();
        reader.read_line(&mut request_line)?;
        // The headers, up to the blank line; none of them matters here.
        let mut header = String::new();
        while reader.read_line(&mut header)? > 2 && header.len() < 65_536 {}
        let mut words = request_line.split_whitespace();
        let method = words.next().unwrap_or_default();
        let target = words.next().unwrap_or("/");
        let path = target.split(['?', '#']).next().unwrap_or("/");
        if method != "GET" && method != "HEAD" {
            return respond(&mut stream, "405 Method Not Allowed", &[], b"", true);
        }
        let Some((name, kind)) = Self::file(path) else {
            let headers = [("Content-Type", "text/plain; charset=utf-8")];
            return respond(&mut stream, "404 Not Found", &headers, b"Not found\n", true);
        };
        let body = std::fs::read(self.dir.join(name))?;
        let mut headers = vec![("Content-Type", kind), ("Cache-Control", "no-cache")];
        if name == "index.html" {
            headers.push(("Content-Security-Policy", &self.policy));
            headers.push(("Referrer-Policy", "no-referrer"));
        }
        respond(&mut stream, "200 OK", &headers, &body, method == "GET")
    }

    /// The built file a path names, with its type: the page for a path
    /// without an extension (a route of the portal's router).
    fn file(path: &str) -> Option<(&'static str, &'static str)> {
        let last = path.rsplit('/').next().unwrap_or_default();
        if !last.contains('.') {
            return Some(FILES[0]);
        }
        FILES
            .iter()
            .find(|(name, _)| path.strip_prefix('/') == Some(*name))
            .copied()
    }
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    with_body: bool,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nX-Content-Type-Options: nosniff\r\n\
         Connection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if with_body {
        stream.write_all(body)?;
    }
    stream.flush()
}
