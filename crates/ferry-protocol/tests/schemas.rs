//! The committed schemas in `schemas/` are the published contract; the code
//! may only change in ways that keep them valid for consumers.
//!
//! A compatible change (an optional field added, a description reworded) is
//! written back with `FERRY_BLESS_SCHEMAS=1 cargo test -p ferry-protocol`; a
//! breaking one can't be blessed and needs a new version of the message.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

use ferry_protocol::catalog;
use ferry_protocol::schema::{BreakingChange, ChangeKind, Kind, breaking_changes};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas")
}

fn file_for(kind: Kind, action: &str, version: u32) -> PathBuf {
    schema_dir()
        .join(kind.folder())
        .join(format!("{action}.v{version}.json"))
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap() + "\n"
}

#[test]
fn every_published_version_is_committed_and_still_compatible() {
    let bless = std::env::var_os("FERRY_BLESS_SCHEMAS").is_some();
    let mut problems = Vec::new();
    for (kind, action, version, current) in catalog::published() {
        let path = file_for(kind, action, version);
        let Ok(text) = std::fs::read_to_string(&path) else {
            if bless {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, pretty(&current)).unwrap();
            } else {
                problems.push(format!(
                    "{action} v{version} has no committed schema at {}; \
                     run with FERRY_BLESS_SCHEMAS=1 to publish it",
                    path.display()
                ));
            }
            continue;
        };
        let committed: Value = serde_json::from_str(&text).unwrap();
        let breaks = breaking_changes(&committed, &current);
        if !breaks.is_empty() {
            let list: Vec<_> = breaks.iter().map(BreakingChange::to_string).collect();
            problems.push(format!(
                "{action} v{version} changed incompatibly ({}); \
                 published versions never break consumers: add v{} instead",
                list.join("; "),
                version + 1
            ));
        } else if committed != current {
            if bless {
                std::fs::write(&path, pretty(&current)).unwrap();
            } else {
                problems.push(format!(
                    "{action} v{version} changed compatibly; \
                     run with FERRY_BLESS_SCHEMAS=1 to update {}",
                    path.display()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_committed_version_is_dropped_from_the_code() {
    let published: BTreeSet<PathBuf> = catalog::published()
        .into_iter()
        .map(|(kind, action, version, _)| file_for(kind, action, version))
        .collect();
    for kind in Kind::ALL {
        for entry in std::fs::read_dir(schema_dir().join(kind.folder())).unwrap() {
            let path = entry.unwrap().path();
            assert!(
                published.contains(&path),
                "{} is published but the code no longer produces it; every version \
                 still in use must keep being published",
                path.display()
            );
        }
    }
}

#[test]
fn every_host_event_is_published_under_its_name() {
    let host: Vec<(&str, u32)> = catalog::published()
        .into_iter()
        .filter(|(kind, ..)| *kind == Kind::HostEvent)
        .map(|(_, name, version, _)| (name, version))
        .collect();
    assert_eq!(host, ferry_protocol::host::HOST_EVENTS);
    for (name, version) in host {
        assert!(
            file_for(Kind::HostEvent, name, version)
                .ends_with(format!("host/{name}.v{version}.json")),
            "{name}"
        );
    }
}

fn committed(kind: Kind, action: &str) -> Value {
    let text = std::fs::read_to_string(file_for(kind, action, 1)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The checker itself: each kind of breaking change is caught, and the
/// changes that are allowed are let through.
mod checker {
    use super::*;

    fn data_props(schema: &mut Value) -> &mut serde_json::Map<String, Value> {
        schema["properties"]["data"]["properties"]
            .as_object_mut()
            .unwrap()
    }

    #[test]
    fn an_unchanged_schema_has_no_breaking_change() {
        let old = committed(Kind::Event, "FileDeleted");
        assert_eq!(breaking_changes(&old, &old), []);
    }

    #[test]
    fn deleting_a_field_from_a_v1_event_is_caught() {
        let old = committed(Kind::Event, "FileDeleted");
        let mut new = old.clone();
        assert!(data_props(&mut new).remove("Name").is_some());
        let breaks = breaking_changes(&old, &new);
        assert!(
            breaks.contains(&BreakingChange {
                at: "/data/Name".into(),
                kind: ChangeKind::FieldRemoved
            }),
            "{breaks:?}"
        );
    }

    #[test]
    fn a_changed_type_is_caught() {
        let old = committed(Kind::Event, "FileDeleted");
        let mut new = old.clone();
        data_props(&mut new).insert("Version".into(), json!({"type": "string"}));
        let breaks = breaking_changes(&old, &new);
        assert!(
            matches!(&breaks[..], [BreakingChange { at, kind: ChangeKind::TypeChanged { .. } }] if at == "/data/Version"),
            "{breaks:?}"
        );
    }

    #[test]
    fn a_new_required_field_is_caught_and_an_optional_one_allowed() {
        let old = committed(Kind::Event, "FileDeleted");
        let mut optional = old.clone();
        data_props(&mut optional).insert("Reason".into(), json!({"type": "string"}));
        assert_eq!(breaking_changes(&old, &optional), []);

        let mut required = optional.clone();
        required["properties"]["data"]["required"]
            .as_array_mut()
            .unwrap()
            .push(json!("Reason"));
        assert_eq!(
            breaking_changes(&old, &required),
            [BreakingChange {
                at: "/data/Reason".into(),
                kind: ChangeKind::NewRequiredField
            }]
        );
    }

    #[test]
    fn a_field_made_optional_or_a_value_set_changed_is_caught() {
        let old = committed(Kind::Event, "FileDeleted");
        let mut new = old.clone();
        let required = new["properties"]["data"]["required"]
            .as_array_mut()
            .unwrap();
        required.retain(|r| r != "FileId");
        assert!(
            breaking_changes(&old, &new)
                .iter()
                .any(|b| b.kind == ChangeKind::NoLongerRequired && b.at == "/data/FileId")
        );

        let mut new = old.clone();
        new["properties"]["data"]["properties"]["Action"]["const"] = json!("FileRemoved");
        assert!(
            breaking_changes(&old, &new)
                .iter()
                .any(|b| b.kind == ChangeKind::ValuesChanged && b.at == "/data/Action")
        );
    }

    #[test]
    fn a_host_event_detail_is_held_to_the_same_rules() {
        let old = committed(Kind::HostEvent, "ferry-file-changed");
        assert_eq!(breaking_changes(&old, &old), []);

        let mut new = old.clone();
        let props = new["properties"].as_object_mut().unwrap();
        assert!(props.remove("from").is_some());
        assert_eq!(
            breaking_changes(&old, &new),
            [BreakingChange {
                at: "/from".into(),
                kind: ChangeKind::FieldRemoved
            }]
        );

        // A host that switches on `action` would meet a value it never saw.
        let mut new = old.clone();
        let actions = new["$defs"]["ChangeAction"]["oneOf"]
            .as_array_mut()
            .unwrap();
        actions.push(json!({"type": "string", "const": "copied"}));
        let breaks = breaking_changes(&old, &new);
        assert!(breaks.iter().any(|b| b.at == "/action"), "{breaks:?}");

        // `schemaVersion` is a constant: a detail can't change it in place.
        let mut new = old.clone();
        new["properties"]["schemaVersion"]["const"] = json!(2);
        assert!(
            breaking_changes(&old, &new)
                .iter()
                .any(|b| b.kind == ChangeKind::ValuesChanged && b.at == "/schemaVersion")
        );
    }

    #[test]
    fn changes_inside_referenced_definitions_are_caught() {
        // CommandFailed's `Code` is an enum kept under `$defs`.
        let old = committed(Kind::Event, "CommandFailed");
        let mut new = old.clone();
        let defs = new["$defs"].as_object_mut().unwrap();
        let code = defs
            .get_mut("ErrorCode")
            .expect("ErrorCode is a definition");
        code["type"] = json!("integer");
        let breaks = breaking_changes(&old, &new);
        assert!(breaks.iter().any(|b| b.at == "/data/Code"), "{breaks:?}");
    }
}
