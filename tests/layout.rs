//! The shell's layout rules, held by a test: no import circle among the
//! files of `src/` (a file may lean on its parent module and its own
//! children, as Rust modules do; otherwise imports run one way), and no
//! global state (`thread_local!`, `static` cells) anywhere in the client.

#![cfg(not(target_arch = "wasm32"))]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, by its module path (`components::files`).
fn modules(dir: &Path, prefix: &str, found: &mut BTreeMap<String, PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let join = |segment: &str| {
            if prefix.is_empty() {
                segment.to_owned()
            } else {
                format!("{prefix}::{segment}")
            }
        };
        if path.is_dir() {
            modules(&path, &join(&name), found);
        } else if let Some(stem) = name.strip_suffix(".rs") {
            // `mod.rs` is its folder's module, `lib.rs` the crate's root.
            let module = match stem {
                "mod" => prefix.to_owned(),
                "lib" if prefix.is_empty() => String::new(),
                _ => join(stem),
            };
            found.insert(module, path);
        }
    }
}

/// The modules `text` (the file of `module`) takes names from.
fn imports(module: &str, text: &str, known: &BTreeMap<String, PathBuf>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest: String = text[at + "crate::".len()..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        // The longest known module the path starts with.
        let segments: Vec<&str> = rest.split("::").filter(|s| !s.is_empty()).collect();
        for len in (1..=segments.len()).rev() {
            let candidate = segments[..len].join("::");
            if known.contains_key(&candidate) {
                if candidate != module {
                    found.insert(candidate);
                }
                break;
            }
        }
    }
    found
}

/// Whether one module contains the other (a parent and its descendants
/// lean on each other as Rust modules do).
fn related(a: &str, b: &str) -> bool {
    a.is_empty()
        || b.is_empty()
        || a.starts_with(&format!("{b}::"))
        || b.starts_with(&format!("{a}::"))
}

#[test]
fn the_shell_has_no_import_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut known = BTreeMap::new();
    modules(&src, "", &mut known);
    assert!(known.len() > 20, "found only {known:?}");
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, path) in &known {
        let text = std::fs::read_to_string(path).expect("a source file");
        let targets = imports(module, &text, &known)
            .into_iter()
            .filter(|target| !related(module, target))
            .collect();
        edges.insert(module.clone(), targets);
    }
    // Depth-first search for a path back to where it started.
    fn visit(
        at: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if let Some(start) = path.iter().position(|m| m == at) {
            panic!("import circle: {} -> {at}", path[start..].join(" -> "));
        }
        if done.contains(at) {
            return;
        }
        path.push(at.to_owned());
        for next in edges.get(at).into_iter().flatten() {
            visit(next, edges, path, done);
        }
        path.pop();
        done.insert(at.to_owned());
    }
    let mut done = BTreeSet::new();
    for module in edges.keys() {
        visit(module, &edges, &mut Vec::new(), &mut done);
    }
}

#[test]
fn the_client_keeps_no_global_state() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = BTreeMap::new();
    modules(&root.join("src"), "", &mut files);
    modules(&root.join("crates/ferry-client/src"), "", &mut files);
    let mut found = Vec::new();
    for path in files.values() {
        let text = std::fs::read_to_string(path).expect("a source file");
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if code.contains("thread_local!")
                || code.contains("static mut ")
                || (code.trim_start().starts_with("static ")
                    && (code.contains("Cell<")
                        || code.contains("Mutex<")
                        || code.contains("Lock<")))
            {
                found.push(format!(
                    "{}:{}: {}",
                    path.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "state shared by every mount on a page belongs to a hook's owner instead:\n{}",
        found.join("\n")
    );
}
