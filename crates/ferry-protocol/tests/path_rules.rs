//! Property tests for the name and path rules: whatever string comes in, what
//! is accepted obeys every rule, and what breaks a rule is refused.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

use ferry_protocol::path::{MAX_KEY_BYTES, MAX_NAME_BYTES};
use ferry_protocol::{FileName, FolderPath, ObjectKey, PathError};
use proptest::prelude::*;
use unicode_normalization::{UnicodeNormalization, is_nfc};

fn obeys_name_rules(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.chars().any(char::is_control)
        && name.len() <= MAX_NAME_BYTES
        && is_nfc(name)
}

/// Names a person might type: letters from several scripts, combining marks,
/// spaces, dots and punctuation.
fn plausible_name() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Z0-9 ._\\-éüñßÅ中文한국어\u{301}\u{308}]{1,40}").unwrap()
}

proptest! {
    #[test]
    fn accepted_names_obey_every_rule(input in any::<String>()) {
        if let Ok(name) = FileName::parse(&input) {
            prop_assert!(obeys_name_rules(name.as_str()), "{:?}", name);
            // Parsing is idempotent: an accepted name is accepted unchanged.
            prop_assert_eq!(FileName::parse(name.as_str()).unwrap(), name);
        }
    }

    #[test]
    fn names_are_refused_exactly_when_they_break_a_rule(input in plausible_name()) {
        let normalized: String = input.nfc().collect();
        prop_assert_eq!(FileName::parse(&input).is_ok(), obeys_name_rules(&normalized));
    }

    #[test]
    fn control_characters_are_always_refused(
        prefix in plausible_name(),
        control in prop_oneof![0u32..0x20, 0x7fu32..0xa0],
        suffix in plausible_name(),
    ) {
        let c = char::from_u32(control).unwrap();
        let input = format!("{prefix}{c}{suffix}");
        prop_assert_eq!(FileName::parse(&input), Err(PathError::ControlCharacter(control)));
    }

    #[test]
    fn a_slash_is_never_part_of_a_name(a in plausible_name(), b in plausible_name()) {
        let joined = format!("{a}/{b}");
        prop_assert!(FileName::parse(&joined).is_err());
    }

    #[test]
    fn paths_built_from_valid_names_round_trip(names in proptest::collection::vec(plausible_name(), 1..6)) {
        let names: Vec<FileName> = names.iter().filter_map(|n| FileName::parse(n).ok()).collect();
        let mut path = FolderPath::root();
        for name in &names {
            path = path.join(name).unwrap();
        }
        let reparsed = FolderPath::parse(path.as_str()).unwrap();
        prop_assert_eq!(&reparsed, &path);
        let segments: Vec<&str> = reparsed.segments().collect();
        let expected: Vec<&str> = names.iter().map(FileName::as_str).collect();
        prop_assert_eq!(segments, expected);
        for ancestor in std::iter::successors(Some(path.clone()), FolderPath::parent) {
            prop_assert!(ancestor.contains(&path));
        }
    }

    #[test]
    fn dot_and_empty_segments_are_refused(
        before in proptest::collection::vec(plausible_name(), 0..3),
        bad in prop_oneof![Just(""), Just("."), Just("..")],
        after in proptest::collection::vec(plausible_name(), 0..3),
    ) {
        let before: Vec<String> = before.into_iter().filter(|n| FileName::parse(n).is_ok()).collect();
        let after: Vec<String> = after.into_iter().filter(|n| FileName::parse(n).is_ok()).collect();
        prop_assume!(!(before.is_empty() && after.is_empty() && bad.is_empty()));
        let parts: Vec<&str> = before.iter().map(String::as_str).chain([bad]).chain(after.iter().map(String::as_str)).collect();
        let joined = parts.join("/");
        prop_assert!(FolderPath::parse(&joined).is_err());
    }

    #[test]
    fn keys_never_exceed_the_s3_limit(
        segments in proptest::collection::vec("[a-z]{1,255}", 0..8),
        file in "[a-z]{1,255}",
    ) {
        if let Ok(folder) = FolderPath::parse(&segments.join("/")) {
            let name = FileName::parse(&file).unwrap();
            match ObjectKey::new("users/abc/", &folder, &name) {
                Ok(key) => prop_assert!(key.as_str().len() <= MAX_KEY_BYTES),
                Err(e) => {
                    let is_too_long = matches!(e, PathError::PathTooLong { .. });
                    prop_assert!(is_too_long);
                }
            }
        }
    }
}
