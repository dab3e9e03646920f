//! Which crate may depend on which, checked over `cargo metadata`, so a
//! forbidden dependency fails `cargo xtask test` (and CI) instead of
//! waiting for a review to notice. ARCHITECTURE.md states the same rules in
//! prose; this table is the one that holds.
//!
//! Three rules:
//!
//! - **Layers.** Each workspace crate's normal and build dependencies on
//!   other workspace crates are the ones [`LAYERS`] allows it. Arrows only
//!   point down: `ferry-protocol` and `ferry-srp` depend on no Ferry crate,
//!   the domain (`ferry-core`) only on the wire types, the adapters only on
//!   the domain, and only the hosts (`ferry-server`, `ferry-lambda`) on the
//!   adapters. The browser's crates never reach the backend's. A workspace
//!   crate missing from the table fails too: a new crate must be placed.
//!   Dev-dependencies are free (a test may drive any crate).
//! - **The AWS SDK stays on AWS.** No crate but those in [`AWS_SDK_USERS`]
//!   reaches an AWS SDK crate (`aws-sdk-*`, `aws-config`) through its normal
//!   dependencies, however deep; tests (dev-dependencies) may, as peers to
//!   test against.
//! - **The pure crates stay pure.** The crates in [`PURE`] reach no IO or
//!   async runtime ([`RUNTIMES`]) through their normal dependencies, however
//!   deep.
//!
//! How deep: from a workspace crate its normal, non-optional dependencies
//! (and the optional ones its default features turn on) are followed; from
//! there on, cargo's resolved graph. That graph is the whole workspace's,
//! with features unified, so a dependency that another crate's features
//! turn on in a shared library counts: the check is stricter than a build
//! of the crate alone, never looser.

use anyhow::{Context as _, bail};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// For each workspace crate, the workspace crates it may depend on (normal
/// and build dependencies). Listed from the bottom up.
const LAYERS: &[(&str, &[&str])] = &[
    // The wire types and SRP: plain Rust that every side shares.
    ("ferry-protocol", &[]),
    ("ferry-srp", &[]),
    // The thumbnail engine: image bytes in, thumbnails out, no IO.
    ("ferry-thumbs", &[]),
    // The domain, written once against ports.
    ("ferry-core", &["ferry-protocol"]),
    // The browser: the core decides, the shell (the root package) wires it
    // to the DOM. Neither reaches the backend's crates.
    ("ferry-client", &["ferry-protocol", "ferry-srp"]),
    (
        "ferry-web",
        &["ferry-client", "ferry-protocol", "ferry-srp"],
    ),
    // The local adapters of the domain's ports, and the identity provider.
    ("ferry-index", &["ferry-core", "ferry-protocol"]),
    ("ferry-bus", &["ferry-core", "ferry-protocol"]),
    ("ferry-objects", &["ferry-core", "ferry-protocol"]),
    (
        "ferry-identity",
        &["ferry-core", "ferry-protocol", "ferry-srp"],
    ),
    // The API's routes, written once for both hosts.
    ("ferry-api", &["ferry-core", "ferry-protocol"]),
    // The AWS adapters.
    ("ferry-aws", &["ferry-core", "ferry-protocol"]),
    // The thumbnailer port on the engine, one adapter for both hosts.
    (
        "ferry-thumbnailer",
        &["ferry-core", "ferry-protocol", "ferry-thumbs"],
    ),
    // The hosts: the local stack wires the local adapters, Lambda the AWS
    // ones; neither reaches the other's.
    (
        "ferry-server",
        &[
            "ferry-api",
            "ferry-bus",
            "ferry-core",
            "ferry-identity",
            "ferry-index",
            "ferry-objects",
            "ferry-protocol",
            "ferry-srp",
            "ferry-thumbnailer",
            "ferry-thumbs",
        ],
    ),
    (
        "ferry-lambda",
        &[
            "ferry-api",
            "ferry-aws",
            "ferry-core",
            "ferry-protocol",
            "ferry-thumbnailer",
            "ferry-thumbs",
        ],
    ),
    // The developer commands run Cargo and tools, and link no Ferry crate.
    ("xtask", &[]),
];

/// The only crates whose normal dependencies may reach an AWS SDK crate.
const AWS_SDK_USERS: &[&str] = &["ferry-aws", "ferry-lambda"];

/// Crates that do no IO of their own: the wire types, SRP, the thumbnail
/// engine, the domain and the browser's core.
const PURE: &[&str] = &[
    "ferry-protocol",
    "ferry-srp",
    "ferry-thumbs",
    "ferry-core",
    "ferry-client",
];

/// What a pure crate may not reach: async runtimes, servers, HTTP clients,
/// SQLite, the S3 stack.
const RUNTIMES: &[&str] = &["tokio", "axum", "hyper", "reqwest", "rusqlite", "s3s"];

fn is_aws_sdk(name: &str) -> bool {
    name.starts_with("aws-sdk-") || name == "aws-config"
}

/// A package in the metadata: its name and the dependencies declared in
/// its manifest.
struct Package<'a> {
    name: &'a str,
    manifest: &'a Value,
}

/// Every broken rule in `metadata` (the JSON of `cargo metadata
/// --format-version 1`), one sentence each naming the edge and the rule.
fn violations(metadata: &Value) -> anyhow::Result<Vec<String>> {
    let packages: BTreeMap<&str, Package> = metadata["packages"]
        .as_array()
        .context("metadata has no packages")?
        .iter()
        .filter_map(|p| {
            Some((
                p["id"].as_str()?,
                Package {
                    name: p["name"].as_str()?,
                    manifest: p,
                },
            ))
        })
        .collect();
    let members: Vec<&str> = metadata["workspace_members"]
        .as_array()
        .context("metadata has no workspace members")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let member_names: BTreeSet<&str> = members
        .iter()
        .filter_map(|id| packages.get(id).map(|p| p.name))
        .collect();
    let layers: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    let mut found = Vec::new();

    for &id in &members {
        let package = packages
            .get(id)
            .with_context(|| format!("workspace member {id} is not among the packages"))?;
        let name = package.name;
        let Some(allowed) = layers.get(name) else {
            found.push(format!(
                "{name} is a workspace crate missing from LAYERS in xtask/tests/layers.rs: \
                 place it (which Ferry crates may it depend on?) and say so in \
                 ARCHITECTURE.md"
            ));
            continue;
        };
        for dep in declared(package.manifest, false) {
            let dep_name = dep["name"].as_str().unwrap_or_default();
            if member_names.contains(dep_name) && dep_name != name && !allowed.contains(&dep_name) {
                let may = if allowed.is_empty() {
                    "on no Ferry crate".to_owned()
                } else {
                    format!("only on {}", allowed.join(", "))
                };
                found.push(format!(
                    "{name} depends on {dep_name}, but by the layers rule (LAYERS in \
                     xtask/tests/layers.rs) {name} may depend {may}"
                ));
            }
        }
    }

    // The transitive rules walk cargo's resolved graph; `--no-deps`
    // metadata has none, and then only the layers are checked.
    let Some(nodes) = metadata["resolve"]["nodes"].as_array() else {
        found.sort();
        found.dedup();
        return Ok(found);
    };
    // Each package's resolved normal and build dependencies.
    let graph: BTreeMap<&str, Vec<&str>> = nodes
        .iter()
        .filter_map(|node| {
            let deps = node["deps"]
                .as_array()?
                .iter()
                .filter(|d| {
                    d["dep_kinds"].as_array().is_some_and(|kinds| {
                        kinds
                            .iter()
                            .any(|k| k["kind"].is_null() || k["kind"] == "build")
                    })
                })
                .filter_map(|d| d["pkg"].as_str())
                .collect();
            Some((node["id"].as_str()?, deps))
        })
        .collect();
    let next = |id: &'_ str| -> Vec<&str> {
        let resolved = graph.get(id).map(Vec::as_slice).unwrap_or_default();
        let Some(package) = packages.get(id).filter(|_| members.contains(&id)) else {
            return resolved.to_vec();
        };
        // A workspace crate's own optional dependencies count only when
        // its default features turn them on (ferry-core's tokio, for the
        // port contract's tests, doesn't).
        let on: BTreeSet<&str> = declared(package.manifest, true)
            .filter_map(|d| d["name"].as_str())
            .collect();
        resolved
            .iter()
            .copied()
            .filter(|pkg| packages.get(pkg).is_some_and(|p| on.contains(p.name)))
            .collect()
    };
    for &id in &members {
        let Some(package) = packages.get(id) else {
            continue;
        };
        let name = package.name;
        let reached = reach(&next, id);
        for (pkg, path) in &reached {
            let Some(dep) = packages.get(pkg) else {
                continue;
            };
            let chain = path
                .iter()
                .filter_map(|p| packages.get(p).map(|p| p.name))
                .collect::<Vec<_>>()
                .join(" → ");
            if is_aws_sdk(dep.name) && !AWS_SDK_USERS.contains(&name) {
                found.push(format!(
                    "{name} reaches {} ({chain}), but by the AWS SDK rule only {} may link \
                     an AWS SDK crate (a test may, through dev-dependencies)",
                    dep.name,
                    AWS_SDK_USERS.join(" and ")
                ));
            }
            if RUNTIMES.contains(&dep.name) && PURE.contains(&name) {
                found.push(format!(
                    "{name} reaches {} ({chain}), but by the purity rule {name} (like {}) \
                     reaches no IO or async runtime ({})",
                    dep.name,
                    PURE.join(", "),
                    RUNTIMES.join(", ")
                ));
            }
        }
    }
    // A dependency declared for two targets is one edge.
    found.sort();
    found.dedup();
    Ok(found)
}

/// A package's normal and build dependencies as its manifest declares
/// them; with `enabled_only`, without the optional ones its default
/// features leave off.
fn declared(manifest: &Value, enabled_only: bool) -> impl Iterator<Item = &Value> {
    let on = default_dependencies(manifest);
    manifest["dependencies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["kind"].is_null() || d["kind"] == "build")
        .filter(move |d| {
            let name = d["rename"].as_str().or(d["name"].as_str()).unwrap_or("");
            !enabled_only || d["optional"] != true || on.contains(name)
        })
}

/// The optional dependencies a package's default features turn on.
fn default_dependencies(manifest: &Value) -> BTreeSet<String> {
    let features = &manifest["features"];
    let mut seen = BTreeSet::new();
    let mut on = BTreeSet::new();
    let mut queue = vec!["default".to_owned()];
    while let Some(feature) = queue.pop() {
        if !seen.insert(feature.clone()) {
            continue;
        }
        for item in features[&feature].as_array().into_iter().flatten() {
            let Some(item) = item.as_str() else { continue };
            if let Some(dep) = item.strip_prefix("dep:") {
                on.insert(dep.to_owned());
            } else if let Some((dep, _)) = item.split_once('/') {
                if !dep.ends_with('?') {
                    on.insert(dep.to_owned());
                }
            } else if features.get(item).is_some() {
                queue.push(item.to_owned());
            } else {
                on.insert(item.to_owned());
            }
        }
    }
    on
}

/// Every package reachable from `root` by `next`, with the path that first
/// reached it.
fn reach<'a>(
    next: &impl Fn(&'a str) -> Vec<&'a str>,
    root: &'a str,
) -> BTreeMap<&'a str, Vec<&'a str>> {
    let mut paths: BTreeMap<&str, Vec<&str>> = BTreeMap::from([(root, vec![root])]);
    let mut queue = VecDeque::from([root]);
    while let Some(id) = queue.pop_front() {
        for dep in next(id) {
            if !paths.contains_key(dep) {
                let mut path = paths[id].clone();
                path.push(dep);
                paths.insert(dep, path);
                queue.push_back(dep);
            }
        }
    }
    paths.remove(root);
    paths
}

fn cargo_metadata() -> anyhow::Result<Value> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("xtask has no parent folder")?;
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1"])
        .current_dir(workspace)
        .output()
        .context("cannot run cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

#[test]
fn every_crate_keeps_to_its_layer() -> anyhow::Result<()> {
    let found = violations(&cargo_metadata()?)?;
    assert!(
        found.is_empty(),
        "the dependency rules are broken:\n- {}",
        found.join("\n- ")
    );
    Ok(())
}

#[test]
fn the_checker_catches_forbidden_edges() -> anyhow::Result<()> {
    // A workspace as `cargo metadata` describes it, doctored: the domain
    // depends on an adapter, a new crate isn't placed, the wire types reach
    // Tokio and the index the AWS SDK, each through a library.
    let package = |name: &str, deps: Value| serde_json::json!({ "name": name, "id": format!("{name}-id"), "dependencies": deps, "features": {} });
    let dep = |name: &str| serde_json::json!({ "name": name, "kind": null, "optional": false });
    let node = |name: &str, deps: &[&str]| {
        let deps: Vec<Value> = deps
            .iter()
            .map(|d| serde_json::json!({ "name": d.replace('-', "_"), "pkg": format!("{d}-id"), "dep_kinds": [{ "kind": null }] }))
            .collect();
        serde_json::json!({ "id": format!("{name}-id"), "deps": deps })
    };
    let metadata = serde_json::json!({
        "packages": [
            package("ferry-protocol", serde_json::json!([dep("uuid")])),
            package("ferry-core", serde_json::json!([dep("ferry-protocol"), dep("ferry-index")])),
            package("ferry-index", serde_json::json!([dep("ferry-core"), dep("cloud")])),
            package("ferry-newcomer", serde_json::json!([])),
            package("uuid", serde_json::json!([dep("tokio")])),
            package("tokio", serde_json::json!([])),
            package("cloud", serde_json::json!([dep("aws-config")])),
            package("aws-config", serde_json::json!([])),
        ],
        "workspace_members": ["ferry-protocol-id", "ferry-core-id", "ferry-index-id", "ferry-newcomer-id"],
        "resolve": { "nodes": [
            node("ferry-protocol", &["uuid"]),
            node("ferry-core", &["ferry-protocol", "ferry-index"]),
            node("ferry-index", &["ferry-core", "cloud"]),
            node("ferry-newcomer", &[]),
            node("uuid", &["tokio"]),
            node("tokio", &[]),
            node("cloud", &["aws-config"]),
            node("aws-config", &[]),
        ]},
    });
    let found = violations(&metadata)?;
    let expect = [
        "ferry-core depends on ferry-index, but by the layers rule",
        "ferry-newcomer is a workspace crate missing from LAYERS",
        "ferry-protocol reaches tokio (ferry-protocol → uuid → tokio), but by the purity rule",
        "ferry-index reaches aws-config (ferry-index → cloud → aws-config), but by the AWS SDK rule",
    ];
    for wanted in expect {
        assert!(
            found.iter().any(|f| f.starts_with(wanted)),
            "no violation starting {wanted:?} in {found:#?}"
        );
    }
    Ok(())
}
