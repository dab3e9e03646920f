//! The SAM template's rules on Ferry's bus are [`rules`] exactly: the local
//! bus and AWS route the same events to the same consumers.

use ferry_core::consumers::rules;
use serde_json::Value;

fn template() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/aws/template.yaml"
    );
    std::fs::read_to_string(path).expect("deploy/aws/template.yaml")
}

/// The `EventPattern:` of the rule described as `(rule "NAME")`.
fn pattern_of(template: &str, name: &str) -> Option<Value> {
    let at = template.find(&format!("(rule \"{name}\")"))?;
    let line = template[at..]
        .lines()
        .find_map(|l| l.trim().strip_prefix("EventPattern:"))?;
    serde_json::from_str(line.trim()).ok()
}

/// Rules the local bus has that the template doesn't carry yet: the
/// thumbnailer runs on the local stack; its Lambda function, rule and
/// queue are issue 20's part 5, not built yet. Remove it from here when
/// the template has it.
const NOT_YET_ON_AWS: [&str; 1] = ["thumbnailer"];

#[test]
fn every_bus_rule_in_the_template_is_a_rule_of_the_local_bus() {
    let template = template();
    let rules: Vec<_> = rules()
        .into_iter()
        .filter(|(name, _)| {
            !NOT_YET_ON_AWS.contains(name) || template.contains(&format!("(rule \"{name}\")"))
        })
        .collect();
    for (name, pattern) in &rules {
        assert_eq!(
            pattern_of(&template, name).as_ref(),
            Some(pattern),
            "the template's rule {name:?} differs from ferry_core::consumers::rules()"
        );
        // Its target is the consumer of that name.
        assert!(
            template.contains(&format!("- Id: {name}\n")),
            "the template's rule {name:?} has no target {name:?}"
        );
    }
    assert_eq!(
        template.matches("(rule \"").count(),
        rules.len(),
        "the template has rules that ferry_core::consumers::rules() lacks"
    );
}

/// The text of the resource `name` in the template, up to the next line
/// at its indentation (the next resource, or a comment before it).
fn resource(template: &str, name: &str) -> String {
    let start = template
        .find(&format!("\n  {name}:\n"))
        .unwrap_or_else(|| panic!("the template has no resource {name}"));
    template[start + 1..]
        .lines()
        .enumerate()
        .take_while(|(i, line)| *i == 0 || !line.starts_with("  ") || line.starts_with("   "))
        .map(|(_, line)| format!("{line}\n"))
        .collect()
}

#[test]
fn a_portals_origin_may_load_the_apps_files_from_the_distribution() {
    let template = template();
    // The distribution's responses carry the response headers policy…
    let distribution = resource(&template, "Distribution");
    assert!(
        distribution.contains("ResponseHeadersPolicyId: !Ref WebHeaders"),
        "{distribution}"
    );
    // …whose CORS names the same portal origins as the API and the bucket.
    let headers = resource(&template, "WebHeaders");
    assert!(headers.contains("CorsConfig: !If"), "{headers}");
    assert!(headers.contains("- HasExtraOrigins"), "{headers}");
    assert!(
        headers.contains("Items: !Ref ExtraAllowedOrigins"),
        "{headers}"
    );
    assert!(headers.contains("Items: [GET, HEAD]"), "{headers}");
    assert!(
        headers.contains("AccessControlAllowCredentials: false"),
        "{headers}"
    );
}

#[test]
fn the_bucket_keeps_a_deleted_objects_bytes_for_90_days() {
    let template = template();
    let bucket = resource(&template, "FilesBucket");
    // Objects are keyed by file id and never overwritten: a noncurrent
    // version only arises from a delete, and expires after 90 days.
    assert!(
        bucket.contains("      VersioningConfiguration:\n        Status: Enabled\n"),
        "{bucket}"
    );
    assert!(
        bucket.contains("NoncurrentVersionExpiration:\n              NoncurrentDays: 90\n"),
        "{bucket}"
    );
}
