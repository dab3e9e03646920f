//! JSON Schemas of every published command and event version and of every
//! host-page event's detail, and the check that a new schema does not break
//! consumers of the published one.
//!
//! The rule "never break consumers; a breaking change is a new EventVersion"
//! is made executable here: [`breaking_changes`] lists what a changed schema
//! would break, and `tests/schemas.rs` runs it against the schemas committed in
//! `schemas/`. A field may be added when it is optional; removing a field,
//! changing its type or allowed values, or requiring a field that was not
//! required is breaking.

use schemars::JsonSchema;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::fmt;

/// Whether a message is a command, an event, a host-page event's detail or
/// a live-connection message (it picks the folder in `schemas/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An intent.
    Command,
    /// A fact.
    Event,
    /// The `detail` of a DOM event `<ferry-files>` dispatches on its host
    /// page ([`crate::host`]).
    HostEvent,
    /// A message on the live connection ([`crate::live`]).
    Live,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 4] = [Self::Command, Self::Event, Self::HostEvent, Self::Live];

    /// The folder name under `schemas/`.
    pub fn folder(self) -> &'static str {
        match self {
            Self::Command => "commands",
            Self::Event => "events",
            Self::HostEvent => "host",
            Self::Live => "live",
        }
    }
}

/// The schema of a host event's `detail`, named after the event. It
/// describes what the element sends (schemars' serialize contract), so a
/// field that is always written — `null` when unknown — is required.
pub fn detail_schema<T: JsonSchema>(name: &str, version: u32) -> Value {
    let mut schema = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    if let Some(object) = schema.as_object_mut() {
        object.insert(
            "$id".into(),
            json!(format!(
                "https://ferry.invalid/schemas/{}/{name}.v{version}.json",
                Kind::HostEvent.folder()
            )),
        );
        object.insert("title".into(), json!(format!("{name} v{version} detail")));
    }
    canonical(schema)
}

/// The schema of a message body with its `Action` constant.
pub fn body_schema<T: JsonSchema>(action: &str) -> Value {
    let mut schema = schemars::schema_for!(T).to_value();
    if let Some(object) = schema.as_object_mut() {
        let properties = object
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(properties) = properties.as_object_mut() {
            properties.insert("Action".into(), json!({"type": "string", "const": action}));
        }
        let required = object.entry("required").or_insert_with(|| json!([]));
        if let Some(required) = required.as_array_mut() {
            required.insert(0, json!("Action"));
        }
    }
    schema
}

/// The schema of a whole `{metadata, data}` envelope carrying one message version.
pub fn envelope_schema(kind: Kind, action: &str, version: u32, body: Value) -> Value {
    let mut defs = Map::new();
    let mut metadata = schemars::schema_for!(crate::Metadata).to_value();
    if let Some(object) = metadata.as_object_mut() {
        if let Some(properties) = object.get_mut("properties").and_then(Value::as_object_mut) {
            properties.insert(
                "EventVersion".into(),
                json!({"type": "integer", "const": version, "description": "The schema version of `data`."}),
            );
        }
        if let Some(required) = object.get_mut("required").and_then(Value::as_array_mut) {
            required.insert(0, json!("EventVersion"));
        }
    }
    let metadata = hoist_defs(metadata, &mut defs);
    let body = hoist_defs(body, &mut defs);
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("https://ferry.invalid/schemas/{}/{action}.v{version}.json", kind.folder()),
        "title": format!("{action} v{version}"),
        "type": "object",
        "required": ["metadata", "data"],
        "properties": {"metadata": metadata, "data": body},
    });
    if !defs.is_empty() {
        schema["$defs"] = Value::Object(defs);
    }
    canonical(schema)
}

fn hoist_defs(mut schema: Value, defs: &mut Map<String, Value>) -> Value {
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        if let Some(Value::Object(inner)) = object.remove("$defs") {
            defs.extend(inner);
        }
    }
    schema
}

/// The value with object keys sorted, so committed files diff cleanly.
pub fn canonical(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, canonical(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// One way a new schema breaks consumers of a published one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakingChange {
    /// Where, as a JSON pointer into the message (`/data/FileId`).
    pub at: String,
    /// What.
    pub kind: ChangeKind,
}

/// The kinds of breaking change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// A field consumers may read is gone.
    FieldRemoved,
    /// A field's JSON type or format changed.
    TypeChanged {
        /// Before.
        old: String,
        /// After.
        new: String,
    },
    /// The set of allowed values (`enum`/`const`) changed.
    ValuesChanged,
    /// A field that producers could leave out is now required.
    NewRequiredField,
    /// A field consumers could rely on is no longer always there.
    NoLongerRequired,
}

impl fmt::Display for BreakingChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ChangeKind::FieldRemoved => write!(f, "{}: field removed", self.at),
            ChangeKind::TypeChanged { old, new } => {
                write!(f, "{}: type changed from {old} to {new}", self.at)
            }
            ChangeKind::ValuesChanged => write!(f, "{}: allowed values changed", self.at),
            ChangeKind::NewRequiredField => write!(f, "{}: new required field", self.at),
            ChangeKind::NoLongerRequired => write!(f, "{}: no longer required", self.at),
        }
    }
}

/// What `new` would break for consumers of messages valid under `old`.
/// Empty means `new` may replace `old` under the same version.
pub fn breaking_changes(old: &Value, new: &Value) -> Vec<BreakingChange> {
    let mut found = Vec::new();
    compare(old, old, new, new, "", &mut found);
    found
}

fn resolve<'a>(node: &'a Value, root: &'a Value) -> &'a Value {
    let mut node = node;
    // A chain of references is short; the bound only guards against a cycle.
    for _ in 0..16 {
        let Some(target) = node.get("$ref").and_then(Value::as_str) else {
            break;
        };
        match target
            .strip_prefix('#')
            .and_then(|pointer| root.pointer(pointer))
        {
            Some(next) => node = next,
            None => break,
        }
    }
    node
}

fn type_set(node: &Value) -> BTreeSet<String> {
    match node.get("type") {
        Some(Value::String(t)) => [t.clone()].into(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => BTreeSet::new(),
    }
}

fn describe(types: &BTreeSet<String>, format: Option<&Value>) -> String {
    let mut text = if types.is_empty() {
        "any".to_owned()
    } else {
        types.iter().cloned().collect::<Vec<_>>().join("|")
    };
    if let Some(format) = format.and_then(Value::as_str) {
        text.push_str(&format!(" ({format})"));
    }
    text
}

fn allowed_values(node: &Value) -> Option<BTreeSet<String>> {
    if let Some(value) = node.get("const") {
        return Some([value.to_string()].into());
    }
    node.get("enum")
        .and_then(Value::as_array)
        .map(|values| values.iter().map(Value::to_string).collect())
}

fn required(node: &Value) -> BTreeSet<&str> {
    node.get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn compare(
    old: &Value,
    old_root: &Value,
    new: &Value,
    new_root: &Value,
    at: &str,
    found: &mut Vec<BreakingChange>,
) {
    let old = resolve(old, old_root);
    let new = resolve(new, new_root);
    let mut report = |kind| {
        found.push(BreakingChange {
            at: if at.is_empty() { "/".into() } else { at.into() },
            kind,
        })
    };

    let (old_types, new_types) = (type_set(old), type_set(new));
    if old_types != new_types || old.get("format") != new.get("format") {
        report(ChangeKind::TypeChanged {
            old: describe(&old_types, old.get("format")),
            new: describe(&new_types, new.get("format")),
        });
        return;
    }
    if allowed_values(old) != allowed_values(new) {
        report(ChangeKind::ValuesChanged);
    }

    for keyword in ["anyOf", "oneOf", "allOf"] {
        match (
            old.get(keyword).and_then(Value::as_array),
            new.get(keyword).and_then(Value::as_array),
        ) {
            (None, None) => {}
            (Some(o), Some(n)) if o.len() == n.len() => {
                for (i, (o, n)) in o.iter().zip(n).enumerate() {
                    compare(
                        o,
                        old_root,
                        n,
                        new_root,
                        &format!("{at}/{keyword}/{i}"),
                        found,
                    );
                }
            }
            _ => found.push(BreakingChange {
                at: if at.is_empty() { "/".into() } else { at.into() },
                kind: ChangeKind::TypeChanged {
                    old: format!(
                        "{keyword} of {}",
                        old.get(keyword)
                            .map_or(0, |v| v.as_array().map_or(0, Vec::len))
                    ),
                    new: format!(
                        "{keyword} of {}",
                        new.get(keyword)
                            .map_or(0, |v| v.as_array().map_or(0, Vec::len))
                    ),
                },
            }),
        }
    }

    let empty = Map::new();
    let old_props = old
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let new_props = new
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let (old_required, new_required) = (required(old), required(new));
    for (name, old_prop) in old_props {
        let here = format!("{at}/{name}");
        match new_props.get(name) {
            None => found.push(BreakingChange {
                at: here,
                kind: ChangeKind::FieldRemoved,
            }),
            Some(new_prop) => {
                if old_required.contains(name.as_str()) && !new_required.contains(name.as_str()) {
                    found.push(BreakingChange {
                        at: here.clone(),
                        kind: ChangeKind::NoLongerRequired,
                    });
                }
                compare(old_prop, old_root, new_prop, new_root, &here, found);
            }
        }
    }
    for name in new_required.difference(&old_required) {
        found.push(BreakingChange {
            at: format!("{at}/{name}"),
            kind: ChangeKind::NewRequiredField,
        });
    }

    if let (Some(o), Some(n)) = (old.get("items"), new.get("items")) {
        compare(o, old_root, n, new_root, &format!("{at}/items"), found);
    }
}
