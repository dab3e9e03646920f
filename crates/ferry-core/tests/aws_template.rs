//! The SAM template's rules on Ferry's bus are [`rules`] exactly: the local
//! bus and AWS route the same events to the same consumers, each a function
//! of its own with a dead-letter queue and an alarm. And what the template
//! says about objects: which S3 events reach the bus, what the bucket's
//! CORS allows, how long deleted bytes stay.

use ferry_core::consumers::rules;
use ferry_core::model::UserId;
use ferry_protocol::messages::ThumbnailSize;
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

#[test]
fn every_bus_rule_in_the_template_is_a_rule_of_the_local_bus() {
    let template = template();
    let rules = rules();
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

/// `indexer` → `Indexer`: the template names a consumer's resources so.
fn capitalized(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

#[test]
fn every_consumer_is_a_function_of_its_own_with_a_dead_letter_queue_and_an_alarm() {
    let template = template();
    let policy = resource(&template, "DeadLettersPolicy");
    for (name, _) in rules() {
        let who = capitalized(name);
        // The function runs the consumer of that name…
        let function = resource(&template, &format!("{who}Function"));
        assert!(
            function.contains("FERRY_FUNCTION: consumer\n")
                && function.contains(&format!("FERRY_CONSUMER: {name}\n")),
            "{function}"
        );
        // …fed by its rule, whose failed deliveries, like the function's
        // failed events, land in its queue…
        let queue = format!("!GetAtt {who}DeadLetters.Arn");
        assert!(
            function.contains(&format!("Destination: {queue}\n")),
            "{function}"
        );
        let rule = resource(&template, &format!("{who}Rule"));
        assert!(
            rule.contains(&format!("Arn: !GetAtt {who}Function.Arn\n"))
                && rule.contains(&format!("Arn: {queue}\n"))
                && rule.contains("RetryPolicy:"),
            "{rule}"
        );
        assert!(
            policy.contains(&format!("- {queue}\n"))
                && policy.contains(&format!("- !GetAtt {who}Rule.Arn\n")),
            "the rule {name:?} may not send to its queue: {policy}"
        );
        // …which an alarm watches.
        let alarm = resource(&template, &format!("{who}DeadLettersAlarm"));
        assert!(
            alarm.contains(&format!("Value: !GetAtt {who}DeadLetters.QueueName\n")),
            "{alarm}"
        );
    }
}

#[test]
fn the_thumbnailer_reads_files_but_writes_and_deletes_only_thumbnails() {
    let template = template();
    let function = resource(&template, "ThumbnailerFunction");
    let statements: Vec<&str> = function.split("- Effect: Allow").skip(1).collect();
    let granting = |action: &str| -> Vec<&str> {
        statements
            .iter()
            .copied()
            .filter(|s| s.contains(action))
            .collect()
    };
    let reads = granting("s3:GetObject");
    assert_eq!(reads.len(), 1, "{function}");
    assert!(reads[0].contains("/users/*\""), "{}", reads[0]);
    for action in ["s3:PutObject", "s3:DeleteObject"] {
        let writes = granting(action);
        assert_eq!(writes.len(), 1, "{action}: {function}");
        assert!(
            writes[0].contains("${FilesBucket.Arn}/users/*/thumbs/*\""),
            "{action} reaches beyond the thumbnails: {}",
            writes[0]
        );
    }
    // Sized for the engine's largest image, not the default 256 MB.
    assert!(function.contains("MemorySize: 2048\n"), "{function}");
}

/// EventBridge's `wildcard`: `*` stands for any run of characters, `/`
/// included.
fn wildcard_matches(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(text) = text.strip_prefix(head) else {
                return false;
            };
            (0..=text.len())
                .filter(|&i| text.is_char_boundary(i))
                .any(|i| wildcard_matches(rest, &text[i..]))
        }
    }
}

#[test]
fn a_thumbnail_s_s3_events_never_reach_ferry_s_bus_and_a_file_s_do() {
    let template = template();
    let forward = resource(&template, "ForwardS3EventsRule");
    let excluded: Vec<&str> = forward
        .split("anything-but:")
        .skip(1)
        .filter_map(|rest| {
            let rest = rest.split_once("wildcard: \"")?.1;
            Some(rest.split_once('"')?.0)
        })
        .collect();
    assert_eq!(excluded, ["users/*/thumbs/*"], "{forward}");
    assert!(
        forward.contains("      EventBusName: default\n"),
        "{forward}"
    );

    let user = UserId::parse("0b5e-ann").unwrap();
    let file = uuid::Uuid::from_u128(0x1234);
    for size in ThumbnailSize::ALL {
        let key = user.thumbnail_key(file, size);
        assert!(wildcard_matches(excluded[0], &key), "{key} is let through");
        // Were one let through, the indexer would still not take it for
        // an upload.
        assert_eq!(UserId::parse_object_key(&key), None, "{key}");
    }
    let key = user.object_key(file);
    assert!(!wildcard_matches(excluded[0], &key), "{key} is held back");
    assert_eq!(UserId::parse_object_key(&key), Some((user, file)));
}

#[test]
fn the_bucket_lets_the_app_s_origin_get_objects_for_text_previews() {
    let template = template();
    let bucket = resource(&template, "FilesBucket");
    let cors = bucket
        .split_once("CorsConfiguration:")
        .map(|(_, cors)| cors)
        .unwrap_or_default();
    // A text preview is `fetch`ed (the bytes decoded in the app), which
    // needs CORS; an image or a video in an element doesn't.
    let methods = cors
        .lines()
        .find_map(|l| l.trim().strip_prefix("- AllowedMethods: "))
        .unwrap_or_default();
    assert!(
        methods
            .trim_matches(['[', ']'])
            .split(", ")
            .any(|m| m == "GET"),
        "{cors}"
    );
    // From the app's own origin (the distribution's), and the portals'.
    assert!(
        cors.contains("[!Sub \"https://${Distribution.DomainName}\"]"),
        "{cors}"
    );
    assert!(
        cors.contains("Extra: !Join [\",\", !Ref ExtraAllowedOrigins]"),
        "{cors}"
    );
}
