//! Rule patterns: EventBridge's pattern language, matched by `quamina`.
//!
//! `quamina` knows every EventBridge operator Ferry uses (exact values,
//! `prefix`, `suffix`, `anything-but`, `numeric`, `exists`, `wildcard`,
//! `equals-ignore-case`, `cidr`) but not `$or`, and it would read `"$or"` as
//! a field name and silently never match. So `$or` is expanded here into
//! alternative plain patterns that are all added under the rule's name.

use anyhow::{Context as _, anyhow};
use quamina::Quamina;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// At most this many plain patterns per rule once `$or` is expanded; a bigger
/// product is refused, as EventBridge refuses overly complex patterns.
const MAX_ALTERNATIVES: usize = 1000;

/// Every rule's pattern, ready to match events against.
pub(crate) struct Patterns {
    matcher: Quamina<String>,
}

impl Patterns {
    /// Compiles the patterns; an invalid pattern is an error naming its rule.
    pub(crate) fn new<'a>(
        rules: impl IntoIterator<Item = (&'a str, &'a Value)>,
    ) -> anyhow::Result<Self> {
        let mut matcher = Quamina::new();
        for (name, pattern) in rules {
            let alternatives = expand(pattern)
                .map_err(|reason| anyhow!("rule `{name}`: invalid event pattern: {reason}"))?;
            for alternative in alternatives {
                let text = Value::Object(alternative).to_string();
                matcher
                    .add_pattern(name.to_owned(), &text)
                    .with_context(|| format!("rule `{name}`: invalid event pattern"))?;
            }
        }
        Ok(Self { matcher })
    }

    /// The names of the rules whose pattern matches `event` (a whole
    /// EventBridge event as JSON), each once, in name order.
    pub(crate) fn matching(&self, event: &[u8]) -> anyhow::Result<Vec<String>> {
        let names: BTreeSet<String> = self
            .matcher
            .matches_for_event(event)
            .context("matching an event against the rules")?
            .into_iter()
            .collect();
        Ok(names.into_iter().collect())
    }
}

/// The plain (`$or`-free) patterns that together mean the same as `pattern`.
fn expand(pattern: &Value) -> Result<Vec<Map<String, Value>>, String> {
    let Value::Object(object) = pattern else {
        return Err("a pattern is a JSON object".to_owned());
    };
    expand_object(object, "")
}

fn expand_object(
    object: &Map<String, Value>,
    path: &str,
) -> Result<Vec<Map<String, Value>>, String> {
    if object.is_empty() {
        return Err(format!("empty object at `{}`", display_path(path)));
    }
    let mut alternatives = vec![Map::new()];
    for (key, value) in object {
        let here = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        // The alternatives for this one field, each a fragment to merge in.
        let fragments: Vec<Map<String, Value>> = if key == "$or" {
            let Value::Array(branches) = value else {
                return Err(format!(
                    "`{}` must be an array of objects",
                    display_path(&here)
                ));
            };
            if branches.is_empty() {
                return Err(format!("`{}` is empty", display_path(&here)));
            }
            let mut fragments = Vec::new();
            for branch in branches {
                let Value::Object(branch) = branch else {
                    return Err(format!(
                        "`{}` must be an array of objects",
                        display_path(&here)
                    ));
                };
                fragments.extend(expand_object(branch, path)?);
            }
            fragments
        } else {
            match value {
                Value::Object(nested) => expand_object(nested, &here)?
                    .into_iter()
                    .map(|inner| Map::from_iter([(key.clone(), Value::Object(inner))]))
                    .collect(),
                Value::Array(values) if values.is_empty() => {
                    return Err(format!("`{here}` has an empty list of values"));
                }
                // quamina checks the values and operators themselves.
                other => vec![Map::from_iter([(key.clone(), other.clone())])],
            }
        };
        let mut next = Vec::with_capacity(alternatives.len() * fragments.len());
        for alternative in &alternatives {
            for fragment in &fragments {
                next.push(merge(alternative.clone(), fragment, path)?);
                if next.len() > MAX_ALTERNATIVES {
                    return Err(format!(
                        "`$or` expands to more than {MAX_ALTERNATIVES} combinations"
                    ));
                }
            }
        }
        alternatives = next;
    }
    Ok(alternatives)
}

/// Merges `fragment` into `into`; the same field constrained twice (inside and
/// outside an `$or`) is refused, as quamina can't AND two lists on one field.
fn merge(
    mut into: Map<String, Value>,
    fragment: &Map<String, Value>,
    path: &str,
) -> Result<Map<String, Value>, String> {
    for (key, value) in fragment {
        let here = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        match (into.remove(key), value) {
            (None, value) => {
                into.insert(key.clone(), value.clone());
            }
            (Some(Value::Object(existing)), Value::Object(more)) => {
                into.insert(key.clone(), Value::Object(merge(existing, more, &here)?));
            }
            (Some(_), _) => {
                return Err(format!(
                    "`{here}` is constrained both inside and outside `$or`"
                ));
            }
        }
    }
    Ok(into)
}

fn display_path(path: &str) -> &str {
    if path.is_empty() { "(top level)" } else { path }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn matches(pattern: Value, event: Value) -> bool {
        let patterns = Patterns::new([("r", &pattern)]).unwrap();
        !patterns
            .matching(event.to_string().as_bytes())
            .unwrap()
            .is_empty()
    }

    #[test]
    fn or_is_expanded_at_any_depth() {
        let pattern = json!({
            "source": ["ferry.files"],
            "detail": {"$or": [{"a": ["1"]}, {"b": [{"prefix": "x"}]}]}
        });
        assert_eq!(expand(&pattern).unwrap().len(), 2);
        let event = |detail: Value| json!({"source": "ferry.files", "detail": detail});
        assert!(matches(pattern.clone(), event(json!({"a": "1"}))));
        assert!(matches(pattern.clone(), event(json!({"b": "xyz"}))));
        assert!(!matches(pattern, event(json!({"a": "2", "b": "y"}))));
    }

    #[test]
    fn operators_eventbridge_rules_use_are_supported() {
        let event = json!({
            "source": "aws.s3",
            "detail-type": "Object Created",
            "detail": {"object": {"key": "u/1/a.txt", "size": 42}, "reason": "PutObject"}
        });
        for pattern in [
            json!({"source": ["aws.s3"], "detail-type": ["Object Created", "Object Deleted"]}),
            json!({"detail": {"object": {"key": [{"prefix": "u/"}]}}}),
            json!({"detail": {"object": {"key": [{"suffix": ".txt"}]}}}),
            json!({"detail": {"reason": [{"anything-but": ["CopyObject"]}]}}),
            json!({"detail": {"object": {"size": [{"numeric": [">", 0, "<=", 100]}]}}}),
            json!({"detail": {"object": {"etag": [{"exists": false}]}}}),
            json!({"detail": {"object": {"key": [{"exists": true}]}}}),
            json!({"detail": {"reason": [{"equals-ignore-case": "putobject"}]}}),
            json!({"detail": {"object": {"key": [{"wildcard": "u/*.txt"}]}}}),
        ] {
            assert!(matches(pattern.clone(), event.clone()), "{pattern}");
        }
        for pattern in [
            json!({"source": ["aws.s3"], "detail-type": ["Object Deleted"]}),
            json!({"detail": {"reason": [{"anything-but": ["PutObject"]}]}}),
            json!({"detail": {"object": {"size": [{"numeric": [">", 100]}]}}}),
            json!({"detail": {"object": {"key": [{"exists": false}]}}}),
        ] {
            assert!(!matches(pattern.clone(), event.clone()), "{pattern}");
        }
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for pattern in [
            json!([]),
            json!({}),
            json!({"source": "aws.s3"}),
            json!({"source": []}),
            json!({"detail": {}}),
            json!({"$or": []}),
            json!({"$or": ["x"]}),
            json!({"a": ["1"], "$or": [{"a": ["2"]}, {"b": ["3"]}]}),
            json!({"detail": {"size": [{"numeric": ["~", 3]}]}}),
            json!({"detail": {"size": [{"no-such-operator": 3}]}}),
            // EventBridge allows these; quamina doesn't, so the rule is refused
            // rather than left never matching.
            json!({"detail": {"key": [{"anything-but": {"prefix": "tmp/"}}]}}),
        ] {
            assert!(Patterns::new([("r", &pattern)]).is_err(), "{pattern}");
        }
    }
}
