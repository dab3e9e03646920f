//! The web client's release build: the wasm cut into lazily loaded chunks at
//! its `#[wasm_split]` points, as cargo-leptos does for `--split`, and every
//! file made ready to be served for good. Trunk can't split (and took minutes
//! to install), so it only serves the client during development; this is the
//! build that `run`, `test`, `bench` and a deployment use.
//!
//! 1. cargo builds the binary for `wasm32-unknown-unknown`, release, with the
//!    `split` feature and `--emit-relocs` (added to the wasm target's flags
//!    only, so build scripts of the host aren't rebuilt): wasm-split needs the
//!    relocations to move code between modules.
//! 2. wasm-split cuts it: a main module, a module per split (`split_NAME`) and
//!    one per group of splits sharing code (`chunk_N`), and the *loader*, a
//!    small JS module that fetches a chunk the first time a split function is
//!    called. With no split point at all there is only the main module and
//!    nothing refers to the loader, which is then left out.
//! 3. wasm-bindgen writes the JS glue for the main module; classes a
//!    dependency exports that nothing can reach are dropped from the glue
//!    and the wasm (`UNREACHABLE_CLASSES`), and the glue's functions the
//!    wasm imports get short names (`shorten_glue_imports`).
//! 4. wasm-opt `-Oz` on every wasm, with exactly the features rustc's
//!    `target_features` section names (rustc's defaults change between
//!    releases; what wasm-opt may use must follow them): the wasm-opt command
//!    on the main module, binaryen's API in one process on the chunks (see
//!    `optimise_chunks`).
//! 5. esbuild minifies the JS (glue, loader, snippets) as ES modules and the
//!    stylesheet.
//! 6. Every file but `index.html` is named by its content
//!    (`NAME-<16 hex digits of SHA-256>.EXT`) and every reference is
//!    rewritten. Snippets, the stylesheet and the chunks refer to nothing, so
//!    each is named by its own bytes. The glue, the main wasm and the loader
//!    refer to each other in a cycle (the glue imports the loader, the loader
//!    imports the glue's `initSync`, the main wasm imports the loader by
//!    name, the glue names the main wasm), so no one of them can carry its
//!    own hash: they share one, of all three with their references to each
//!    other left unhashed. In the main wasm the names are those of the
//!    modules it imports from (the loader, and snippets whose functions it
//!    calls without glue): its import section is rewritten, the rest kept.
//! 7. `index.html` from `index.html` next to this file: the stylesheet, the
//!    main JS (modulepreload) and wasm (preload) with `integrity`, an import
//!    map giving the integrity of every module the glue imports, and the
//!    module script that starts the app. Chunks load lazily and aren't named
//!    there (nor given an integrity: see `loader_with_chunks`).
//! 8. `NAME.br` (brotli 11) and `NAME.gz` (gzip by Zopfli) beside `index.html` and
//!    every JS, wasm and CSS file, always (CloudFront's `WebEncodings`
//!    function in deploy/aws/template.yaml counts on it), and beside any other
//!    file of 1 KB or more; ferry-server sends them
//!    (`crates/ferry-server/src/web.rs`).
//! 9. `ferry-build.json`: each file's role, name and sizes, for the bench,
//!    the tests and people.
//!
//! wasm-split runs as a library (`wasm_split_cli_support`, pinned in
//! xtask/Cargo.toml and so in Cargo.lock) rather than as its `wasm-split-cli`
//! binary. Building costs the same either way (measured on 2 cores, cold:
//! 53 s more for xtask with the library and this module's other
//! dependencies, 56 s for `cargo install wasm_split_cli_support --features
//! build-binary`), but the library is pinned with everything else, needs no
//! install step, version check or PATH, and hands back the chunks and which
//! splits load them instead of files to read back.
//!
//! The result replaces `dist/` only once it is complete.

use crate::tools::BuildTools;
use crate::{describe, run_checked};
use anyhow::{Context, Result, bail, ensure};
use base64::Engine as _;
use sha2::{Digest, Sha256, Sha384};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The page every build writes; `<!-- ferry:assets -->` becomes the links
/// and the script.
const INDEX_TEMPLATE: &str = include_str!("index.html");
const ASSETS_MARKER: &str = "<!-- ferry:assets -->";
/// Hex digits of SHA-256 in a hashed name: 64 bits, plenty to tell builds
/// apart, and what ferry-server recognises as a hashed name.
const HASH_LEN: usize = 16;
/// The machine-readable list of what the build wrote.
pub const MANIFEST: &str = "ferry-build.json";
/// Files under this size that aren't JS, wasm or CSS aren't precompressed:
/// the bytes saved don't pay for a second request path.
const PRECOMPRESS_MIN: usize = 1024;

/// A web client to build: which crate, which binary, what it's called in
/// `dist/`, and its stylesheet.
#[derive(Debug, Clone)]
pub struct WebApp {
    /// The directory of the crate's Cargo.toml.
    pub crate_dir: PathBuf,
    pub package: String,
    pub bin: String,
    /// Cargo features to build with (the split points need `split`).
    pub features: Vec<String>,
    /// The stylesheet, minified into `dist/`: each element's shadow root
    /// links it, and so does the standalone page.
    pub stylesheet: PathBuf,
    /// Where the result goes (replaced as a whole).
    pub dist: PathBuf,
}

impl WebApp {
    /// Ferry's client: the root package.
    pub fn ferry() -> Self {
        let root = crate::root();
        Self {
            crate_dir: root.clone(),
            package: "ferry-web".into(),
            bin: "ferry-web".into(),
            features: vec!["split".into()],
            stylesheet: root.join("style/ferry.css"),
            dist: root.join("dist"),
        }
    }
}

/// What a file in `dist/` is for, as `ferry-build.json` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The page.
    Html,
    /// wasm-bindgen's glue, the module `index.html` starts.
    MainJs,
    /// The main wasm module, fetched by `index.html`.
    MainWasm,
    /// The stylesheet.
    Css,
    /// wasm-split's loader, imported by the glue when there are chunks.
    Loader,
    /// A lazily loaded wasm module: `split_NAME` for a split, `chunk_N` for
    /// code shared by several splits (`splits` are the split names that
    /// load it).
    Chunk { name: String, splits: Vec<String> },
    /// A JS snippet the glue imports (`#[wasm_bindgen(module = …)]`).
    Snippet,
    /// A JS file the glue only names by URL (`wasm_bindgen::link_to!`),
    /// such as a worker: fetched when the code asks for it.
    Linked,
    /// `ferry.js`, the module a page adds to use `<ferry-files>`: at a
    /// stable URL (not named by its content), it starts the hashed glue and
    /// wasm once per page.
    Element,
}

impl Role {
    fn label(&self) -> &'static str {
        match self {
            Role::Html => "html",
            Role::MainJs => "main-js",
            Role::MainWasm => "main-wasm",
            Role::Css => "css",
            Role::Loader => "loader",
            Role::Chunk { .. } => "chunk",
            Role::Snippet => "snippet",
            Role::Linked => "linked",
            Role::Element => "element",
        }
    }

    /// Whether the first load of the page fetches it.
    pub fn first_load(&self) -> bool {
        !matches!(self, Role::Chunk { .. } | Role::Linked)
    }
}

/// One file of the build, in memory until the end.
#[derive(Debug)]
struct Asset {
    role: Role,
    /// Its path in `dist/` before hashing, `/`-separated.
    name: String,
    bytes: Vec<u8>,
    /// Its path in `dist/` once named by its content.
    hashed: Option<String>,
}

impl Asset {
    fn final_name(&self) -> &str {
        self.hashed.as_deref().unwrap_or(&self.name)
    }

    fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.bytes).with_context(|| format!("{} is not UTF-8", self.name))
    }
}

/// A file `build` wrote, as listed in `ferry-build.json`.
#[derive(Debug, Clone)]
pub struct Built {
    pub role: Role,
    /// Its path in `dist/`, `/`-separated.
    pub path: String,
    pub bytes: u64,
    pub gzip: u64,
    pub brotli: u64,
    /// Whether `.gz` and `.br` files were written next to it.
    pub precompressed: bool,
}

/// Builds `app` into `app.dist`, answering what was written.
pub fn build(app: &WebApp, tools: &BuildTools) -> Result<Vec<Built>> {
    let started = Instant::now();
    let mut stages = Stages::default();
    let wasm = cargo_build(app)?;
    stages.done("cargo");
    let work = work_dir(app)?;

    let out_name = app.bin.clone();
    let loader_name = format!("{out_name}-split.js");
    let split = split(&wasm, &work, &out_name, &loader_name)?;
    stages.done("wasm-split");
    let bindgen_dir = work.join("bindgen");
    eprintln!("$ wasm-bindgen (library) {}", split.main.display());
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&split.main)
        .web(true)
        .map_err(|e| anyhow::anyhow!("wasm-bindgen: {e:#}"))?
        .typescript(false)
        // As the CLI does: the glue names its wasm (the library's default
        // leaves that to the caller, and the pipeline rewrites that name).
        .omit_default_module_path(false)
        .keep_lld_exports(true)
        .demangle(false)
        // A `link_to!` file (the hash worker) as a file of its own, fetched
        // when used, not a string in the glue turned into a blob: URL.
        .split_linked_modules(true)
        .out_name(&out_name)
        .generate(&bindgen_dir)
        .map_err(|e| anyhow::anyhow!("wasm-bindgen: {e:#}"))?;

    let (glue, main_wasm) = (
        bindgen_dir.join(format!("{out_name}.js")),
        bindgen_dir.join(format!("{out_name}_bg.wasm")),
    );
    drop_unreachable_classes(&glue, &main_wasm)?;
    shorten_glue_imports(&glue, &main_wasm, &format!("./{out_name}_bg.js"))?;
    stages.done("wasm-bindgen");
    let features = wasm_features(tools, &wasm)?;
    let mut assets = Vec::new();
    assets.push(Asset {
        role: Role::MainJs,
        name: format!("{out_name}.js"),
        bytes: read(&bindgen_dir.join(format!("{out_name}.js")))?,
        hashed: None,
    });
    // The glue's own default names the wasm `NAME_bg.wasm`; the page passes
    // the hashed name anyway, and the glue's is rewritten to match.
    assets.push(Asset {
        role: Role::MainWasm,
        name: format!("{out_name}_bg.wasm"),
        bytes: Vec::new(),
        hashed: None,
    });
    let optimised = work.join("opt");
    std::fs::create_dir_all(&optimised)?;
    let chunk_jobs: Vec<(PathBuf, PathBuf)> = split
        .chunks
        .iter()
        .map(|chunk| {
            let file = format!("{}.wasm", chunk.name);
            (split.dir.join(&file), optimised.join(file))
        })
        .collect();
    // The few big chunks (the file browser, which a signed-in reload waits
    // for, the uploads, the live connection) go through the wasm-opt
    // command like the main wasm: its output is 0.4-1% smaller than the
    // API's. The many small ones go through the API in one process.
    let (big_chunk_jobs, chunk_jobs): (Vec<_>, Vec<_>) = chunk_jobs
        .into_iter()
        .partition(|(input, _)| std::fs::metadata(input).is_ok_and(|m| m.len() >= BIG_CHUNK_BYTES));

    // Snippets are JS files under bindgen/snippets; whether the glue
    // imports one or only links to it decides whether it's first-load.
    let glue = String::from_utf8(assets[0].bytes.clone()).context("the glue is not UTF-8")?;
    for snippet in files_under(&bindgen_dir.join("snippets"))? {
        let name = relative_name(&bindgen_dir, &snippet)?;
        let imported = ["\"", "'"].iter().any(|quote| {
            glue.contains(&format!("from {quote}./{name}{quote}"))
                || glue.contains(&format!("from {quote}{name}{quote}"))
        });
        assets.push(Asset {
            role: if imported {
                Role::Snippet
            } else {
                Role::Linked
            },
            name,
            bytes: read(&snippet)?,
            hashed: None,
        });
    }
    let css_name = app
        .stylesheet
        .file_name()
        .and_then(|n| n.to_str())
        .context("the stylesheet has no file name")?
        .to_owned();
    assets.push(Asset {
        role: Role::Css,
        name: css_name,
        bytes: read(&app.stylesheet)?,
        hashed: None,
    });

    // wasm-opt on the main wasm and binaryen on the chunks while esbuild
    // minifies the JS and CSS.
    let minified = work.join("min");
    std::thread::scope(|scope| -> Result<()> {
        let main = scope.spawn(|| {
            wasm_opt(
                tools,
                &features,
                &bindgen_dir.join(format!("{out_name}_bg.wasm")),
                &optimised.join(format!("{out_name}_bg.wasm")),
            )?;
            for (input, output) in &big_chunk_jobs {
                wasm_opt(tools, &features, input, output)?;
            }
            Ok(())
        });
        let chunks = scope.spawn(|| optimise_chunks(tools, &chunk_jobs));
        for asset in assets.iter_mut() {
            if !asset.bytes.is_empty() {
                asset.bytes = minify(tools, &minified, &asset.name, &asset.bytes)?;
            }
        }
        for job in [main, chunks] {
            job.join()
                .map_err(|_| anyhow::anyhow!("a wasm-opt thread panicked"))??;
        }
        Ok(())
    })?;
    stages.done("wasm-opt and esbuild");
    for asset in assets.iter_mut() {
        if asset.role == Role::MainWasm {
            asset.bytes = read(&optimised.join(format!("{out_name}_bg.wasm")))?;
        }
    }

    // Leaves first: files that refer to no other file. The stylesheet
    // before the snippets: the element's snippet names it.
    for asset in assets.iter_mut() {
        if asset.role == Role::Css {
            asset.hashed = Some(hashed_name(&asset.name, &content_hash(&[&asset.bytes])));
        }
    }
    name_stylesheet_in_snippets(&mut assets)?;
    for asset in assets.iter_mut() {
        if matches!(asset.role, Role::Snippet | Role::Linked) {
            asset.hashed = Some(hashed_name(&asset.name, &content_hash(&[&asset.bytes])));
        }
    }
    check_snippets_are_leaves(&assets)?;
    let mut chunks = Vec::new();
    for chunk in &split.chunks {
        let bytes = read(&optimised.join(format!("{}.wasm", chunk.name)))?;
        if contains(&bytes, loader_name.as_bytes()) {
            // Chunks are instantiated with the imports the loader hands
            // them; one that named the loader would join the cycle below.
            bail!(
                "the chunk {} names the loader; web.rs expects only the main wasm to",
                chunk.name
            );
        }
        let name = format!("{}.wasm", chunk.name);
        let hashed = hashed_name(&name, &content_hash(&[&bytes]));
        chunks.push(Asset {
            role: Role::Chunk {
                name: chunk.name.clone(),
                splits: chunk.splits.clone(),
            },
            name,
            bytes,
            hashed: Some(hashed),
        });
    }

    // The glue imports the snippets and links to the linked files; the main
    // wasm imports some snippets' functions straight from their modules
    // (the glue's import object is keyed by the same names).
    let leaves: Vec<(String, String)> = assets
        .iter()
        .filter_map(|a| Some((a.name.clone(), a.hashed.clone()?)))
        .collect();
    let snippets: Vec<String> = assets
        .iter()
        .filter(|a| matches!(a.role, Role::Snippet | Role::Linked))
        .map(|a| a.name.clone())
        .collect();
    let main_js = position(&assets, &Role::MainJs)?;
    let main_wasm = position(&assets, &Role::MainWasm)?;
    let glue = rewrite(
        assets[main_js].text()?,
        &assets[main_js].name,
        &leaves,
        |old| snippets.contains(old),
    )?;
    assets[main_js].bytes = glue.into_bytes();
    assets[main_wasm].bytes = rename_wasm_imports(&assets[main_wasm].bytes, &leaves)?;

    // Then the cycle: glue, main wasm and, when there are chunks, the loader.
    let uses_loader = contains(&assets[main_js].bytes, loader_name.as_bytes());
    if uses_loader == chunks.is_empty() {
        bail!(
            "wasm-split cut {} chunks but the glue {} the loader",
            chunks.len(),
            if uses_loader {
                "imports"
            } else {
                "doesn't import"
            }
        );
    }
    if uses_loader {
        let loader = loader_with_chunks(&split.loader, &chunks)?;
        let bytes = minify(tools, &minified, &loader_name, loader.as_bytes())?;
        assets.push(Asset {
            role: Role::Loader,
            name: loader_name.clone(),
            bytes,
            hashed: None,
        });
    }
    let cycle: Vec<usize> = (0..assets.len())
        .filter(|&i| matches!(assets[i].role, Role::MainJs | Role::MainWasm | Role::Loader))
        .collect();
    let hash = content_hash(
        &cycle
            .iter()
            .map(|&i| assets[i].bytes.as_slice())
            .collect::<Vec<_>>(),
    );
    for &i in &cycle {
        let name = match assets[i].role {
            // Not `NAME_bg.wasm`: nothing else is called `NAME` here.
            Role::MainWasm => format!("{out_name}.wasm"),
            _ => assets[i].name.clone(),
        };
        assets[i].hashed = Some(hashed_name(&name, &hash));
    }
    let renames: Vec<(String, String)> = cycle
        .iter()
        .map(|&i| (assets[i].name.clone(), assets[i].final_name().to_owned()))
        .collect();
    let main_js_name = assets[main_js].name.clone();
    for &i in &cycle {
        let asset = &mut assets[i];
        asset.bytes = match asset.role {
            Role::MainWasm => rename_wasm_imports(&asset.bytes, &renames)?,
            // The glue names its wasm (its default URL), and the loader
            // when it imports it.
            Role::MainJs => rewrite(asset.text()?, &asset.name, &renames, |old| {
                old.ends_with(".wasm") || *old == loader_name
            })?
            .into_bytes(),
            Role::Loader => rewrite(asset.text()?, &asset.name, &renames, |old| {
                *old == main_js_name
            })?
            .into_bytes(),
            _ => continue,
        };
    }
    // Every old name is gone from the files that named them.
    for &i in &cycle {
        for (old, _) in renames.iter().chain(&leaves) {
            let quoted = [format!("\"{old}\""), format!("\"./{old}\"")];
            if quoted
                .iter()
                .any(|q| contains(&assets[i].bytes, q.as_bytes()))
                || (assets[i].role == Role::MainWasm && contains(&assets[i].bytes, old.as_bytes()))
            {
                bail!("{} still names {old} after it was renamed", assets[i].name);
            }
        }
    }
    assets.extend(chunks);

    let element = element_js(&assets)?;
    assets.push(Asset {
        role: Role::Element,
        name: ELEMENT_MODULE.into(),
        bytes: minify(tools, &minified, ELEMENT_MODULE, element.as_bytes())?,
        hashed: None,
    });
    let index = index_html(&assets)?;
    assets.push(Asset {
        role: Role::Html,
        name: "index.html".into(),
        bytes: index.into_bytes(),
        hashed: None,
    });
    stages.done("naming");
    let built = write_dist(app, &assets)?;
    stages.done("compressing and writing");
    eprintln!(
        "web: {} built into {} in {:.1?} ({})",
        app.bin,
        app.dist.display(),
        started.elapsed(),
        stages.summary()
    );
    Ok(built)
}

/// How long each step of the build took, for its last line.
#[derive(Debug)]
struct Stages {
    last: Instant,
    done: Vec<(&'static str, Duration)>,
}

impl Default for Stages {
    fn default() -> Self {
        Self {
            last: Instant::now(),
            done: Vec::new(),
        }
    }
}

impl Stages {
    fn done(&mut self, stage: &'static str) {
        let now = Instant::now();
        self.done.push((stage, now - self.last));
        self.last = now;
    }

    fn summary(&self) -> String {
        self.done
            .iter()
            .map(|(stage, took)| format!("{stage} {:.1} s", took.as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `work` on every item, on as many threads as there are cores, the
/// results in the items' order.
fn parallel<T: Sync, R: Send>(
    items: &[T],
    work: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .min(items.len());
    let results: Mutex<Vec<Option<Result<R>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(index) else {
                        break;
                    };
                    let result = work(item);
                    if let Ok(mut results) = results.lock() {
                        results[index] = Some(result);
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a worker thread panicked"))?
        .into_iter()
        .map(|result| result.unwrap_or_else(|| Err(anyhow::anyhow!("a worker thread panicked"))))
        .collect()
}

/// `cargo build` for the browser; answers the wasm's path.
fn cargo_build(app: &WebApp) -> Result<PathBuf> {
    let manifest = app.crate_dir.join("Cargo.toml");
    let mut command = crate::cargo();
    command
        .current_dir(&app.crate_dir)
        .args(["build", "--release", "--target", "wasm32-unknown-unknown"])
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["--package", &app.package, "--bin", &app.bin]);
    if !app.features.is_empty() {
        command.args(["--features", &app.features.join(",")]);
    }
    // Cargo takes the first of these that is set and ignores the others;
    // the target's own flags (.cargo/config.toml's `erase_components`) merge
    // with the environment's, and leave build scripts alone.
    const EMIT_RELOCS: &str = "-Clink-args=--emit-relocs";
    if let Some(flags) = std::env::var_os("CARGO_ENCODED_RUSTFLAGS") {
        let mut flags = flags
            .into_string()
            .ok()
            .context("CARGO_ENCODED_RUSTFLAGS")?;
        if !flags.is_empty() {
            flags.push('\u{1f}');
        }
        flags.push_str(EMIT_RELOCS);
        command.env("CARGO_ENCODED_RUSTFLAGS", flags);
    } else if let Some(flags) = std::env::var_os("RUSTFLAGS") {
        let flags = flags.into_string().ok().context("RUSTFLAGS")?;
        command.env("RUSTFLAGS", format!("{flags} {EMIT_RELOCS}"));
    } else {
        let key = "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS";
        let flags = std::env::var(key).unwrap_or_default();
        command.env(key, format!("{flags} {EMIT_RELOCS}").trim_start());
    }
    run_checked(&mut command)?;
    Ok(target_dir(&app.crate_dir)?
        .join("wasm32-unknown-unknown/release")
        .join(format!("{}.wasm", app.bin)))
}

/// The target directory cargo uses for the crate in `crate_dir`.
fn target_dir(crate_dir: &Path) -> Result<PathBuf> {
    let output = crate::cargo()
        .current_dir(crate_dir)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("running cargo metadata")?;
    ensure!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata names no target directory")
}

/// An empty directory for the intermediate files, under the target dir.
fn work_dir(app: &WebApp) -> Result<PathBuf> {
    let work = target_dir(&app.crate_dir)?.join("web").join(&app.bin);
    if work.exists() {
        std::fs::remove_dir_all(&work).with_context(|| format!("emptying {}", work.display()))?;
    }
    std::fs::create_dir_all(&work)?;
    Ok(work)
}

/// What wasm-split wrote.
#[derive(Debug)]
struct Split {
    dir: PathBuf,
    /// The main module, for wasm-bindgen.
    main: PathBuf,
    chunks: Vec<SplitChunk>,
    /// The loader's JS as wasm-split wrote it (it imports `./NAME.js`).
    loader: String,
}

#[derive(Debug)]
struct SplitChunk {
    /// The file's stem: `split_NAME` or `chunk_N`.
    name: String,
    /// The splits that load it.
    splits: Vec<String>,
}

/// Runs wasm-split on the build's wasm.
fn split(wasm: &Path, work: &Path, out_name: &str, loader_name: &str) -> Result<Split> {
    let input = read(wasm)?;
    let dir = work.join("split");
    let main = dir.join("main.wasm");
    let main_module = format!("./{out_name}.js");
    let link_name = format!("./{loader_name}");
    let split = wasm_split_cli_support::transform({
        let mut options = wasm_split_cli_support::Options::new(&input);
        options.output_dir = &dir;
        options.main_out_path = &main;
        options.main_module = &main_module;
        options.link_name = &link_name;
        options
    })
    // eyre's report, with its chain, into anyhow's.
    .map_err(|error| anyhow::anyhow!("{error:?}"))
    .with_context(|| {
        format!(
            "wasm-split could not split {} (was it linked with --emit-relocs?)",
            wasm.display()
        )
    })?;
    let mut chunks = Vec::new();
    for path in &split.split_modules {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .context("wasm-split wrote a chunk without a name")?
            .to_owned();
        let mut splits: Vec<String> = split
            .prefetch_map
            .iter()
            .filter(|(_, files)| files.contains(&name))
            .map(|(split, _)| split.clone())
            .collect();
        splits.sort();
        chunks.push(SplitChunk { name, splits });
    }
    chunks.sort_by(|a, b| a.name.cmp(&b.name));
    let loader = std::fs::read_to_string(dir.join(loader_name))
        .with_context(|| format!("reading wasm-split's {loader_name}"))?;
    Ok(Split {
        dir,
        main,
        chunks,
        loader,
    })
}

/// The loader with each chunk's hashed name. wasm-split 0.2.3 writes each
/// as the string `"./NAME.wasm"` in `new URL(…, import.meta.url)`.
///
/// The chunks get no `integrity`: Ferry's build has 70-odd chunks, and their
/// SHA-384s, which don't compress, made the loader 6.3 KB gzip instead of
/// 2.2 KB, on every first load, for files fetched only when used. Their names
/// still change with their bytes.
fn loader_with_chunks(loader: &str, chunks: &[Asset]) -> Result<String> {
    let mut loader = loader.to_owned();
    for chunk in chunks {
        let old = format!("\"./{}\"", chunk.name);
        ensure!(
            loader.contains(&old),
            "wasm-split's loader doesn't fetch {} as web.rs expects ({old})",
            chunk.name
        );
        loader = loader.replace(&old, &format!("\"./{}\"", chunk.final_name()));
    }
    Ok(loader)
}

/// The `--enable-…` flags for the features the wasm's `target_features`
/// section names. wasm-opt would read the section of each file itself
/// (wasm-split and wasm-bindgen keep it); named once, the features are the
/// same for every file and in the build's log, and a rustc that stopped
/// writing the section fails the build instead of getting MVP output.
fn wasm_features(tools: &BuildTools, wasm: &Path) -> Result<Vec<String>> {
    let mut command = tools.wasm_opt();
    command
        .args(["--mvp-features", "--print-features"])
        .arg(wasm);
    let output = command
        .output()
        .with_context(|| format!("could not start {}", describe(&command)))?;
    ensure!(
        output.status.success(),
        "`{}` failed: {}",
        describe(&command),
        String::from_utf8_lossy(&output.stderr)
    );
    let features: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("--enable-"))
        .map(str::to_owned)
        .collect();
    ensure!(
        !features.is_empty(),
        "{} has no target_features section",
        wasm.display()
    );
    Ok(features)
}

/// Classes that wasm-streams exports to JS for the streamed bodies of
/// Leptos's server functions (Leptos always builds `server_fn`'s browser
/// side). Ferry calls no server function. The glue's classes only wrap a
/// pointer Rust hands to JS (`NAME.__wrap`), and no code of the app's does:
/// their methods can't be reached, yet as exports they were kept, with
/// everything they call (1.3 KB gzip of the first load).
const UNREACHABLE_CLASSES: [&str; 3] = [
    "IntoUnderlyingByteSource",
    "IntoUnderlyingSink",
    "IntoUnderlyingSource",
];

/// Drops [`UNREACHABLE_CLASSES`] from the glue at `glue` and their exports
/// from the wasm at `wasm` (wasm-opt then drops their code). Refuses if
/// Rust code can hand one of them to JS after all, or if the glue doesn't
/// have the shape wasm-bindgen 0.2.130 gives it.
fn drop_unreachable_classes(glue: &Path, wasm: &Path) -> Result<()> {
    let mut text = std::fs::read_to_string(glue)?;
    let mut exports = Vec::new();
    for class in UNREACHABLE_CLASSES {
        if !text.contains(&format!("export class {class} ")) {
            continue;
        }
        ensure!(
            !text.contains(&format!("{class}.__wrap(")),
            "the glue hands a {class} to JS: the app now uses what web.rs drops \
             as unreachable (UNREACHABLE_CLASSES)"
        );
        let body = cut_between(
            &text,
            &format!("export class {class} {{"),
            &format!(
                "if (Symbol.dispose) {class}.prototype[Symbol.dispose] = {class}.prototype.free;\n"
            ),
        )?;
        text.replace_range(body, "");
        let registry = cut_between(
            &text,
            &format!("const {class}Finalization = "),
            "_free(ptr, 1));\n",
        )?;
        text.replace_range(registry, "");
        ensure!(
            !text.contains(class),
            "the glue still names {class} after its class was dropped"
        );
        exports.push(class.to_lowercase());
    }
    let dropped = |name: &str| {
        exports.iter().any(|class| {
            name.strip_prefix(class.as_str())
                .is_some_and(|rest| rest.starts_with('_'))
                || name == format!("__wbg_{class}_free")
        })
    };
    let bytes = drop_wasm_exports(&read(wasm)?, dropped)?;
    std::fs::write(wasm, bytes)?;
    std::fs::write(glue, text)?;
    Ok(())
}

/// The range of `text` from `start` to the end of the first `end` after it.
fn cut_between(text: &str, start: &str, end: &str) -> Result<std::ops::Range<usize>> {
    let from = text
        .find(start)
        .with_context(|| format!("the glue has no `{start}`"))?;
    let to = text[from..]
        .find(end)
        .with_context(|| format!("the glue has no `{end}` after `{start}`"))?;
    Ok(from..from + to + end.len())
}

/// Gives the glue's functions that the main wasm imports short names (`a`,
/// `b`, … `ba`, …) in both. wasm-bindgen names each after its JS function
/// and 16 hex digits of hash (`__wbg_getElementById_7ee213db584f37b0`), a
/// name written twice, in the wasm's import section and as a key of the
/// glue's import object, that compresses badly: 236 of them were 6.3 KB
/// gzip of every load. Each key must appear once in the glue, as
/// wasm-bindgen 0.2.130 writes it, or the build stops.
fn shorten_glue_imports(glue: &Path, wasm: &Path, module: &str) -> Result<()> {
    let mut text = std::fs::read_to_string(glue)?;
    let mut names: Vec<(String, String)> = Vec::new();
    let mut failure = None;
    let bytes = rewrite_wasm_imports(&read(wasm)?, |from, field| {
        if from != module {
            return (from.to_owned(), field.to_owned());
        }
        let short = match names.iter().find(|(long, _)| long == field) {
            Some((_, short)) => short.clone(),
            None => {
                let short = short_name(names.len());
                let key = format!("\n        {field}: ");
                if text.matches(&key).count() == 1 {
                    text = text.replace(&key, &format!("\n        {short}: "));
                } else if failure.is_none() {
                    failure = Some(field.to_owned());
                }
                names.push((field.to_owned(), short.clone()));
                short
            }
        };
        (from.to_owned(), short)
    })?;
    if let Some(field) = failure {
        bail!("the glue doesn't define the import {field} once as web.rs expects");
    }
    std::fs::write(wasm, bytes)?;
    std::fs::write(glue, text)?;
    Ok(())
}

/// The `n`th short name: `a` … `z`, `A` … `Z`, then two letters.
fn short_name(mut n: usize) -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut name = String::new();
    loop {
        name.push(char::from(LETTERS[n % LETTERS.len()]));
        n /= LETTERS.len();
        if n == 0 {
            return name;
        }
        n -= 1;
    }
}

/// Chunks at least this big before optimising go through the wasm-opt
/// command rather than binaryen's API (see `build`).
const BIG_CHUNK_BYTES: u64 = 128 * 1024;

/// `wasm-opt -Oz` on the main wasm, the one the first load waits for, and
/// on the biggest chunks.
fn wasm_opt(tools: &BuildTools, features: &[String], input: &Path, output: &Path) -> Result<()> {
    run_checked(
        tools
            .wasm_opt()
            .arg("-Oz")
            .args(features)
            // Browsers read neither section. (Without `-g` the names go too.)
            .args(["--strip-producers", "--strip-target-features"])
            .arg(input)
            .arg("-o")
            .arg(output),
    )
}

/// The same optimisation on every chunk, in one process of binaryen's API
/// (tools/npm/optimize-chunks.mjs): npm's wasm-opt is binaryen compiled to
/// WebAssembly, and each run spends about 2 s of CPU before it goes at
/// speed. With a wasm-opt per chunk this step took 116 s for Ferry's 75
/// chunks on two busy cores; in one process it takes 14 s. The API's passes
/// are `-Oz`'s, yet its output comes out about 0.4% bigger than the
/// command's, which is why the main module still goes through the command.
fn optimise_chunks(tools: &BuildTools, jobs: &[(PathBuf, PathBuf)]) -> Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let mut command = tools.node_script("optimize-chunks.mjs");
    for (input, output) in jobs {
        command.arg(input).arg(output);
    }
    eprintln!(
        "$ node tools/npm/optimize-chunks.mjs (wasm-opt -Oz as binaryen's API) on {} chunks",
        jobs.len()
    );
    run_quietly(&mut command)
}

/// Runs `command`, showing what it printed only if it fails: binaryen warns
/// about each chunk's names section, which it drops anyway.
fn run_quietly(command: &mut std::process::Command) -> Result<()> {
    let output = command
        .output()
        .with_context(|| format!("could not start {}", describe(command)))?;
    ensure!(
        output.status.success(),
        "`{}` failed ({}):\n{}{}",
        describe(command),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// The file minified by esbuild (JS as an ES module, so `import.meta.url`
/// and the imports stay), or as it was for anything else.
fn minify(tools: &BuildTools, work: &Path, name: &str, bytes: &[u8]) -> Result<Vec<u8>> {
    // esbuild picks its loader (JS or CSS) by the extension.
    let module = match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => true,
        Some("css") => false,
        _ => return Ok(bytes.to_vec()),
    };
    let input = work.join("in").join(name);
    let output = work.join("out").join(name);
    for path in [&input, &output] {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
    }
    std::fs::write(&input, bytes)?;
    let mut command = tools.esbuild();
    command
        .arg(&input)
        .args(["--minify", "--log-level=warning"])
        // wasm-bindgen's import object names a module once per import from
        // it, each the same namespace: the repeated keys are harmless.
        .arg("--log-override:duplicate-object-key=silent")
        // Browsers with module workers and import maps: esbuild writes no
        // syntax newer than they read.
        .arg("--target=es2022,chrome110,firefox115,safari16")
        .arg(format!("--outfile={}", output.display()));
    if module {
        command.arg("--format=esm");
    }
    run_checked(&mut command)?;
    read(&output)
}

/// Snippets are named by their own bytes, which holds only while none
/// names another.
fn check_snippets_are_leaves(assets: &[Asset]) -> Result<()> {
    let snippets = || {
        assets
            .iter()
            .filter(|a| matches!(a.role, Role::Snippet | Role::Linked))
    };
    for snippet in snippets() {
        for other in snippets() {
            let file = other.name.rsplit('/').next().unwrap_or(&other.name);
            if snippet.name != other.name && contains(&snippet.bytes, file.as_bytes()) {
                bail!(
                    "{} names {}: snippets that import each other need web.rs to hash them in order",
                    snippet.name,
                    other.name
                );
            }
        }
    }
    Ok(())
}

/// `text` with every name in `renames` replaced by its new name; `required`
/// says which names `text` (the file `file`) must contain.
fn rewrite(
    text: &str,
    file: &str,
    renames: &[(String, String)],
    required: impl Fn(&String) -> bool,
) -> Result<String> {
    let mut text = text.to_owned();
    // Longest first, so no name is replaced inside a longer one.
    let mut renames: Vec<_> = renames.iter().collect();
    renames.sort_by_key(|(old, _)| std::cmp::Reverse(old.len()));
    for (old, new) in renames {
        if old == file {
            continue;
        }
        let found = text.contains(old.as_str());
        if !found && required(old) {
            bail!("{file} doesn't name {old}; the pipeline can't rewrite it to {new}");
        }
        text = text.replace(old.as_str(), new);
    }
    Ok(text)
}

/// The wasm module `wasm` with the modules its imports come from renamed
/// (`./OLD` to `./NEW`, or `OLD` to `NEW`); every other byte as it was.
fn rename_wasm_imports(wasm: &[u8], renames: &[(String, String)]) -> Result<Vec<u8>> {
    let renamed = |module: &str| {
        renames.iter().find_map(|(old, new)| {
            if module == old {
                Some(new.clone())
            } else if module.strip_prefix("./") == Some(old.as_str()) {
                Some(format!("./{new}"))
            } else {
                None
            }
        })
    };
    rewrite_wasm_imports(wasm, |module, field| {
        (
            renamed(module).unwrap_or_else(|| module.to_owned()),
            field.to_owned(),
        )
    })
}

/// `wasm` with each import's module and field as `rename` gives them.
fn rewrite_wasm_imports(
    wasm: &[u8],
    mut rename: impl FnMut(&str, &str) -> (String, String),
) -> Result<Vec<u8>> {
    const IMPORT_SECTION: u8 = 2;
    rewrite_section(wasm, IMPORT_SECTION, |content, offset| {
        let mut imports = wasmparser::BinaryReader::new(content, offset);
        let mut section = Vec::new();
        let count = imports.read_var_u32()?;
        write_leb128(&mut section, count);
        for _ in 0..count {
            let module = imports.read_string()?;
            let field = imports.read_string()?;
            let rest = imports.current_position();
            let mut probe = imports.clone();
            if field.is_empty() && matches!(probe.read_u8()?, 0x7e | 0x7f) {
                bail!("the wasm groups its imports (compact imports), which web.rs can't rename");
            }
            imports.read::<wasmparser::TypeRef>()?;
            let (module, field) = rename(module, field);
            for name in [module, field] {
                write_leb128(&mut section, u32::try_from(name.len())?);
                section.extend_from_slice(name.as_bytes());
            }
            section.extend_from_slice(&content[rest..imports.current_position()]);
        }
        ensure!(
            imports.eof(),
            "the wasm's import section has bytes after its imports"
        );
        Ok(section)
    })
}

/// `wasm` without the exports `drop` picks (their code is then dead, and
/// wasm-opt removes it).
fn drop_wasm_exports(wasm: &[u8], drop: impl Fn(&str) -> bool) -> Result<Vec<u8>> {
    const EXPORT_SECTION: u8 = 7;
    rewrite_section(wasm, EXPORT_SECTION, |content, offset| {
        let mut exports = wasmparser::BinaryReader::new(content, offset);
        let mut kept = Vec::new();
        let mut count = 0;
        for _ in 0..exports.read_var_u32()? {
            let start = exports.current_position();
            let export = exports.read::<wasmparser::Export>()?;
            if !drop(export.name) {
                kept.extend_from_slice(&content[start..exports.current_position()]);
                count += 1;
            }
        }
        ensure!(
            exports.eof(),
            "the wasm's export section has bytes after its exports"
        );
        let mut section = Vec::new();
        write_leb128(&mut section, count);
        section.extend_from_slice(&kept);
        Ok(section)
    })
}

/// `wasm` with the content of its section `id` replaced by what `rewrite`
/// makes of it (given the content and its offset in the module); every
/// other section as it was.
fn rewrite_section(
    wasm: &[u8],
    id: u8,
    mut rewrite: impl FnMut(&[u8], u64) -> Result<Vec<u8>>,
) -> Result<Vec<u8>> {
    ensure!(
        wasm.len() >= 8 && wasm.starts_with(b"\0asm"),
        "not a wasm module"
    );
    let mut out = wasm[..8].to_vec();
    let mut sections = wasmparser::BinaryReader::new(&wasm[8..], 8);
    while !sections.eof() {
        let section_id = sections.read_u8()?;
        let size = sections.read_var_u32()?;
        let offset = sections.original_position();
        let content = sections.read_bytes(size as usize)?;
        out.push(section_id);
        if section_id == id {
            let section = rewrite(content, offset)?;
            write_leb128(&mut out, u32::try_from(section.len())?);
            out.extend_from_slice(&section);
        } else {
            write_leb128(&mut out, size);
            out.extend_from_slice(content);
        }
    }
    Ok(out)
}

fn write_leb128(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

/// The first hex digits of the SHA-256 of `parts`, each length-prefixed so
/// that moving bytes between parts changes the hash.
fn content_hash(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex[..HASH_LEN].to_owned()
}

/// `dir/stem.ext` as `dir/stem-hash.ext`, the stem being the file name up
/// to its last dot.
fn hashed_name(name: &str, hash: &str) -> String {
    let (dir, file) = match name.rsplit_once('/') {
        Some((dir, file)) => (format!("{dir}/"), file),
        None => (String::new(), name),
    };
    match file.rsplit_once('.') {
        Some((stem, ext)) => format!("{dir}{stem}-{hash}.{ext}"),
        None => format!("{dir}{file}-{hash}"),
    }
}

/// The Subresource Integrity value of `bytes`.
fn integrity(bytes: &[u8]) -> String {
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha384::digest(bytes))
    )
}

fn position(assets: &[Asset], role: &Role) -> Result<usize> {
    assets
        .iter()
        .position(|a| a.role == *role)
        .with_context(|| format!("the build has no {}", role.label()))
}

/// What `js/element.js` writes where the stylesheet's URL goes.
const STYLESHEET_PLACEHOLDER: &str = "\"ferry:stylesheet\"";

/// Writes the hashed stylesheet's URL, relative to the snippet, in place of
/// [`STYLESHEET_PLACEHOLDER`] in the snippet that has it (the element's,
/// whose shadow roots link the stylesheet). Exactly one snippet must.
fn name_stylesheet_in_snippets(assets: &mut [Asset]) -> Result<()> {
    let css = find_role(assets, Role::Css)?.final_name().to_owned();
    let mut named = 0;
    for asset in assets.iter_mut().filter(|a| a.role == Role::Snippet) {
        let text = asset.text()?;
        if !text.contains(STYLESHEET_PLACEHOLDER) {
            continue;
        }
        // From the snippet's folder back up to the root of `dist/`.
        let up = "../".repeat(asset.name.matches('/').count());
        asset.bytes = text
            .replace(STYLESHEET_PLACEHOLDER, &format!("\"{up}{css}\""))
            .into_bytes();
        named += 1;
    }
    ensure!(
        named == 1,
        "{named} snippets name the stylesheet ({STYLESHEET_PLACEHOLDER}); web.rs expects the element's alone"
    );
    Ok(())
}

/// The module a page adds to use `<ferry-files>`, at this stable URL.
pub const ELEMENT_MODULE: &str = "ferry.js";

/// `ferry.js`: starts the glue with the main wasm (fetched with its
/// integrity), once per page however many elements it has; the wasm's
/// start defines `<ferry-files>`. Its URLs are relative to its own, so a
/// portal on another origin loads everything from Ferry's.
fn element_js(assets: &[Asset]) -> Result<String> {
    let js = find_role(assets, Role::MainJs)?;
    let wasm = find_role(assets, Role::MainWasm)?;
    Ok(format!(
        "// Ferry's <ferry-files> element. Add this module to a page, and the element\n\
         // anywhere in it, as many times as needed (docs/embedding.md).\n\
         import init from \"./{js}\";\n\
         await init({{ module_or_path: fetch(new URL(\"./{wasm}\", import.meta.url), {{ integrity: \"{integrity}\" }}) }});\n",
        js = js.final_name(),
        wasm = wasm.final_name(),
        integrity = integrity(&wasm.bytes),
    ))
}

fn find_role(assets: &[Asset], role: Role) -> Result<&Asset> {
    Ok(&assets[position(assets, &role)?])
}

/// The page: the template with the page's stylesheet, a `modulepreload`
/// with its integrity for every module `ferry.js` imports (glue, loader,
/// snippets), a preload of the main wasm, and `ferry.js` itself. No inline
/// script or style: the page runs under a strict Content-Security-Policy.
fn index_html(assets: &[Asset]) -> Result<String> {
    let wasm = find_role(assets, Role::MainWasm)?;
    let css = find_role(assets, Role::Css)?;
    let element = find_role(assets, Role::Element)?;
    let url = |asset: &Asset| format!("/{}", asset.final_name());
    let mut lines = vec![format!(
        r#"<link rel="stylesheet" href="{}" integrity="{}" crossorigin />"#,
        url(css),
        integrity(&css.bytes)
    )];
    for module in assets
        .iter()
        .filter(|a| matches!(a.role, Role::MainJs | Role::Loader | Role::Snippet))
    {
        lines.push(format!(
            r#"<link rel="modulepreload" href="{}" integrity="{}" crossorigin />"#,
            url(module),
            integrity(&module.bytes)
        ));
    }
    // The same integrity as ferry.js's fetch, which the preload must match
    // to be used (HTML's "consume a preloaded resource"). Chrome doesn't
    // check it for `as="fetch"` yet and says so in the console
    // (crbug.com/981419); the fetch's own integrity is checked anyway.
    lines.push(format!(
        r#"<link rel="preload" href="{}" as="fetch" type="application/wasm" integrity="{}" crossorigin />"#,
        url(wasm),
        integrity(&wasm.bytes)
    ));
    lines.push(format!(
        r#"<script type="module" src="{}"></script>"#,
        url(element)
    ));
    ensure!(
        INDEX_TEMPLATE.contains(ASSETS_MARKER),
        "xtask/src/index.html lost its {ASSETS_MARKER} line"
    );
    Ok(INDEX_TEMPLATE.replace(ASSETS_MARKER, &lines.join("\n    ")))
}

/// Writes every asset, its precompressed copies and the manifest into a new
/// directory beside `dist`, then puts it in `dist`'s place.
fn write_dist(app: &WebApp, assets: &[Asset]) -> Result<Vec<Built>> {
    let dist = &app.dist;
    let parent = dist.parent().context("dist has no parent directory")?;
    let file_name = dist
        .file_name()
        .and_then(|n| n.to_str())
        .context("dist has no name")?;
    let fresh = parent.join(format!(".{file_name}.new"));
    let old = parent.join(format!(".{file_name}.old"));
    for dir in [&fresh, &old] {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
    }
    // Compressing the main wasm at brotli's best takes a few seconds; the
    // files go in parallel.
    let built = parallel(assets, |asset| write_asset(&fresh, asset))?;
    std::fs::write(fresh.join(MANIFEST), manifest(&built)?)?;
    if dist.exists() {
        std::fs::rename(dist, &old)?;
    }
    std::fs::rename(&fresh, dist)
        .with_context(|| format!("moving the build into {}", dist.display()))?;
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    Ok(built)
}

fn write_asset(dir: &Path, asset: &Asset) -> Result<Built> {
    let path = dir.join(asset.final_name());
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&path, &asset.bytes)?;
    let gzip = gzip(&asset.bytes)?;
    let brotli = brotli(&asset.bytes)?;
    let kind = asset.final_name().rsplit('.').next().unwrap_or_default();
    let precompressed =
        matches!(kind, "js" | "wasm" | "css" | "html") || asset.bytes.len() >= PRECOMPRESS_MIN;
    if precompressed {
        std::fs::write(append_extension(&path, "gz"), &gzip)?;
        std::fs::write(append_extension(&path, "br"), &brotli)?;
    }
    Ok(Built {
        role: asset.role.clone(),
        path: asset.final_name().to_owned(),
        bytes: asset.bytes.len() as u64,
        gzip: gzip.len() as u64,
        brotli: brotli.len() as u64,
        precompressed,
    })
}

fn append_extension(path: &Path, extension: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(extension);
    PathBuf::from(name)
}

/// gzip as small as its format allows: Zopfli's search for the shortest
/// deflate stream, which every gzip reader decodes. On Ferry's wasm it is
/// about 5% smaller than zlib's best level (the signed-in path measured
/// 275.3 KB with zlib -9, 262 KB with Zopfli); it costs seconds of build
/// time, spent in parallel over the files.
pub fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    zopfli::compress(
        zopfli::Options::default(),
        zopfli::Format::Gzip,
        bytes,
        &mut out,
    )?;
    Ok(out)
}

/// brotli at its best quality, with the largest window every browser
/// decodes.
fn brotli(bytes: &[u8]) -> Result<Vec<u8>> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 24,
        size_hint: bytes.len(),
        ..Default::default()
    };
    let mut out = Vec::new();
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)?;
    Ok(out)
}

/// `ferry-build.json`.
fn manifest(built: &[Built]) -> Result<String> {
    let files: Vec<serde_json::Value> = built
        .iter()
        .map(|file| {
            let mut entry = serde_json::json!({
                "role": file.role.label(),
                "path": file.path,
                "bytes": file.bytes,
                "gzip": file.gzip,
                "brotli": file.brotli,
                "precompressed": file.precompressed,
                "first_load": file.role.first_load(),
            });
            if let Role::Chunk { name, splits } = &file.role {
                entry["chunk"] = name.clone().into();
                entry["splits"] = splits.clone().into();
            }
            entry
        })
        .collect();
    Ok(serde_json::to_string_pretty(&serde_json::json!({
        "version": 1,
        "files": files,
    }))?)
}

/// Reads `ferry-build.json` from a built `dist`.
pub fn read_manifest(dist: &Path) -> Result<Vec<Built>> {
    let path = dist.join(MANIFEST);
    let manifest: serde_json::Value = serde_json::from_slice(&read(&path)?)
        .with_context(|| format!("{} is not JSON", path.display()))?;
    let files = manifest["files"]
        .as_array()
        .with_context(|| format!("{} lists no files", path.display()))?;
    files
        .iter()
        .map(|file| {
            let number = |key: &str| {
                file[key]
                    .as_u64()
                    .with_context(|| format!("{} has a file without {key}", path.display()))
            };
            let text = |key: &str| file[key].as_str().unwrap_or_default().to_owned();
            let role = match file["role"].as_str().unwrap_or_default() {
                "html" => Role::Html,
                "element" => Role::Element,
                "main-js" => Role::MainJs,
                "main-wasm" => Role::MainWasm,
                "css" => Role::Css,
                "loader" => Role::Loader,
                "snippet" => Role::Snippet,
                "linked" => Role::Linked,
                "chunk" => Role::Chunk {
                    name: text("chunk"),
                    splits: file["splits"]
                        .as_array()
                        .map(|s| {
                            s.iter()
                                .filter_map(|v| v.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                },
                other => bail!("{} has a file of unknown role {other:?}", path.display()),
            };
            Ok(Built {
                role,
                path: text("path"),
                bytes: number("bytes")?,
                gzip: number("gzip")?,
                brotli: number("brotli")?,
                precompressed: file["precompressed"].as_bool().unwrap_or(false),
            })
        })
        .collect()
}

/// Prints what a build wrote: each file and the first load's total.
pub fn print_sizes(built: &[Built]) {
    let kb = |bytes: u64| format!("{:.1} KB", bytes as f64 / 1000.0);
    let first_load =
        built
            .iter()
            .filter(|file| file.role.first_load())
            .fold((0, 0, 0), |total, file| {
                (
                    total.0 + file.bytes,
                    total.1 + file.gzip,
                    total.2 + file.brotli,
                )
            });
    let mut rows: Vec<[String; 5]> = vec![[
        "role".into(),
        "file".into(),
        "raw".into(),
        "gzip".into(),
        "brotli".into(),
    ]];
    for file in built {
        let role = match &file.role {
            Role::Chunk { name, .. } => format!("chunk {name}"),
            role => role.label().to_owned(),
        };
        rows.push([
            role,
            file.path.clone(),
            kb(file.bytes),
            kb(file.gzip),
            kb(file.brotli),
        ]);
    }
    rows.push([
        "first load".into(),
        "(all but chunks and linked files)".into(),
        kb(first_load.0),
        kb(first_load.1),
        kb(first_load.2),
    ]);
    let width = |column: usize| rows.iter().map(|row| row[column].len()).max().unwrap_or(0);
    let widths = [width(0), width(1), width(2), width(3), width(4)];
    for [role, file, raw, gzip, brotli] in &rows {
        println!(
            "{role:<w0$}  {file:<w1$}  {raw:>w2$}  {gzip:>w3$}  {brotli:>w4$}",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4],
        );
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Every file under `dir` (none if it doesn't exist), sorted.
fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// `path` relative to `base`, `/`-separated.
fn relative_name(base: &Path, path: &Path) -> Result<String> {
    let relative = path
        .strip_prefix(base)
        .with_context(|| format!("{} is not under {}", path.display(), base.display()))?;
    let parts: Option<Vec<&str>> = relative.iter().map(|part| part.to_str()).collect();
    Ok(parts.context("a snippet's path is not UTF-8")?.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_keep_the_directory_and_the_extension() {
        assert_eq!(hashed_name("ferry.css", "0123"), "ferry-0123.css");
        assert_eq!(
            hashed_name("snippets/ferry-web-ab/js/hash-worker.js", "0123"),
            "snippets/ferry-web-ab/js/hash-worker-0123.js"
        );
    }

    #[test]
    fn the_cycle_hash_changes_when_bytes_move_between_files() {
        assert_ne!(content_hash(&[b"ab", b"c"]), content_hash(&[b"a", b"bc"]));
        assert_eq!(content_hash(&[b"x"]).len(), HASH_LEN);
    }

    /// A module with a custom section and two function imports, from
    /// `module` and from `wbg`.
    fn module_importing(module: &str) -> Vec<u8> {
        let mut imports = vec![2];
        for (module, field) in [(module, "f"), ("wbg", "g")] {
            imports.push(module.len() as u8);
            imports.extend_from_slice(module.as_bytes());
            imports.push(field.len() as u8);
            imports.extend_from_slice(field.as_bytes());
            imports.extend_from_slice(&[0x00, 0x00]);
        }
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend_from_slice(&[0, 3, 1, b'n', 7]);
        wasm.push(2);
        wasm.push(imports.len() as u8);
        wasm.extend_from_slice(&imports);
        wasm
    }

    #[test]
    fn wasm_imports_are_renamed_and_nothing_else_changes() {
        let renames = vec![("a.js".to_owned(), "a-0123456789abcdef.js".to_owned())];
        assert_eq!(
            rename_wasm_imports(&module_importing("./a.js"), &renames).unwrap(),
            module_importing("./a-0123456789abcdef.js")
        );
        assert_eq!(
            rename_wasm_imports(&module_importing("a.js"), &renames).unwrap(),
            module_importing("a-0123456789abcdef.js")
        );
        let other = module_importing("./b.js");
        assert_eq!(rename_wasm_imports(&other, &renames).unwrap(), other);
        assert!(rename_wasm_imports(b"not wasm", &renames).is_err());
    }

    #[test]
    fn short_names_are_letters_and_all_different() {
        let names: Vec<String> = (0..3000).map(short_name).collect();
        assert_eq!(names[..3], ["a", "b", "c"]);
        assert_eq!([&names[25], &names[26], &names[51]], ["z", "A", "Z"]);
        assert_eq!([&names[52], &names[53]], ["aa", "ba"]);
        let unique: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
        assert!(
            names
                .iter()
                .all(|n| n.bytes().all(|b| b.is_ascii_alphabetic()))
        );
    }

    /// A fresh directory for one test's files.
    fn scratch(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_glues_imports_get_short_names_in_the_wasm_and_the_glue() {
        let dir = scratch("shorten");
        let (glue, wasm) = (dir.join("m.js"), dir.join("m_bg.wasm"));
        let text = "const import0 = {\n        f: function() {},\n        g: function() {},\n};\n";
        std::fs::write(&glue, text).unwrap();
        std::fs::write(&wasm, module_importing("./m_bg.js")).unwrap();
        shorten_glue_imports(&glue, &wasm, "./m_bg.js").unwrap();
        // `f` comes from the glue's module and is renamed in both; `g`, from
        // another module, is left alone (and so is its key).
        let mut expected = module_importing("./m_bg.js");
        let at = find(&expected, b"\x01f").unwrap();
        expected[at + 1] = b'a';
        assert_eq!(read(&wasm).unwrap(), expected);
        assert_eq!(
            std::fs::read_to_string(&glue).unwrap(),
            "const import0 = {\n        a: function() {},\n        g: function() {},\n};\n"
        );
        // A glue that doesn't define the import once is refused, and
        // nothing is written.
        std::fs::write(&glue, "const import0 = {};\n").unwrap();
        std::fs::write(&wasm, module_importing("./m_bg.js")).unwrap();
        assert!(shorten_glue_imports(&glue, &wasm, "./m_bg.js").is_err());
        assert_eq!(read(&wasm).unwrap(), module_importing("./m_bg.js"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A module exporting functions 0, 1, 2… under `names`.
    fn module_exporting(names: &[&str]) -> Vec<u8> {
        let mut exports = vec![names.len() as u8];
        for (index, name) in names.iter().enumerate() {
            exports.push(name.len() as u8);
            exports.extend_from_slice(name.as_bytes());
            exports.extend_from_slice(&[0x00, index as u8]);
        }
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.push(7);
        wasm.push(exports.len() as u8);
        wasm.extend_from_slice(&exports);
        wasm
    }

    #[test]
    fn unreachable_classes_leave_the_glue_and_their_exports_the_wasm() {
        let dir = scratch("classes");
        let (glue, wasm) = (dir.join("m.js"), dir.join("m_bg.wasm"));
        let class = "export class IntoUnderlyingSink {\n    free() { wasm.__wbg_intounderlyingsink_free(0, 0); }\n}\n\
            if (Symbol.dispose) IntoUnderlyingSink.prototype[Symbol.dispose] = IntoUnderlyingSink.prototype.free;\n";
        let registry = "const IntoUnderlyingSinkFinalization = (typeof FinalizationRegistry === 'undefined')\n    \
            ? { register: () => {}, unregister: () => {} }\n    \
            : new FinalizationRegistry(ptr => wasm.__wbg_intounderlyingsink_free(ptr, 1));\n";
        std::fs::write(&glue, format!("A\n{class}B\n{registry}C\n")).unwrap();
        std::fs::write(
            &wasm,
            module_exporting(&[
                "main",
                "intounderlyingsink_write",
                "__wbg_intounderlyingsink_free",
                "sink",
            ]),
        )
        .unwrap();
        drop_unreachable_classes(&glue, &wasm).unwrap();
        assert_eq!(std::fs::read_to_string(&glue).unwrap(), "A\nB\nC\n");
        // Kept in place: what the index says stays right (exports 0 and 3).
        let mut expected = module_exporting(&["main", "x", "y", "sink"]);
        expected = drop_wasm_exports(&expected, |name| name.len() == 1).unwrap();
        assert_eq!(read(&wasm).unwrap(), expected);
        // One that Rust hands to JS is in use: the build stops.
        std::fs::write(
            &glue,
            format!("{class}{registry}IntoUnderlyingSink.__wrap(ptr);\n"),
        )
        .unwrap();
        assert!(drop_unreachable_classes(&glue, &wasm).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_required_name_that_is_missing_is_an_error() {
        let renames = vec![("a.js".to_owned(), "a-1.js".to_owned())];
        assert_eq!(
            rewrite("import './a.js'", "m.js", &renames, |_| true).unwrap(),
            "import './a-1.js'"
        );
        assert!(rewrite("nothing", "m.js", &renames, |_| true).is_err());
        assert!(rewrite("nothing", "m.js", &renames, |_| false).is_ok());
    }
}
