//! File names, folder paths and object keys, and the rules they obey.
//!
//! Client and server use the same rules, so a name the browser accepts is a
//! name the API accepts. Every constructor normalises to Unicode NFC first (so
//! `e` + combining acute and `é` are the same name), then checks:
//! no NUL or other control characters; no `/` inside a name; no empty, `.` or
//! `..` segments; a name at most 255 bytes; a whole object key at most the
//! 1,024 bytes S3 allows. Case is preserved.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// `text` in Unicode Normalization Form C. Natively by the
/// `unicode-normalization` crate; in the browser by JavaScript's own
/// `String.prototype.normalize`, which saves the web client the crate's
/// tables (about 60 KB gzip of its download). Both follow the Unicode
/// standard; the browser tests compare them.
#[cfg(not(target_arch = "wasm32"))]
pub fn nfc(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    text.nfc().collect()
}

/// See the native version.
#[cfg(target_arch = "wasm32")]
pub fn nfc(text: &str) -> String {
    let js = js_sys::JsString::from(text);
    String::from(js.normalize("NFC"))
}

/// A name as search compares it: NFC, lower case (Unicode's full mapping,
/// so `ÉTÉ` and `été` fold alike), NFC again. Every index folds with this,
/// and the browser's filter too.
pub fn fold(text: &str) -> String {
    nfc(&lower(&nfc(text)))
}

/// Unicode's full lower-case mapping: natively std's `to_lowercase`; in the
/// browser JavaScript's `toLowerCase`, which saves the web client std's case
/// tables (about 8 KB of its download). Both implement the same mapping; the
/// browser tests compare them.
#[cfg(not(target_arch = "wasm32"))]
pub fn lower(text: &str) -> String {
    text.to_lowercase()
}

/// See the native version.
#[cfg(target_arch = "wasm32")]
pub fn lower(text: &str) -> String {
    String::from(js_sys::JsString::from(text).to_lower_case())
}

/// Names and how [`fold`] folds them: the answers every build must give,
/// checked natively here and in the browser (where `toLowerCase` and
/// `normalize` do the work) by the web client's tests.
pub const FOLD_EXAMPLES: &[(&str, &str)] = &[
    ("ÉTÉ", "été"),
    ("E\u{301}te\u{301}", "été"),
    ("STRASSE", "strasse"),
    // Final sigma, and a capital I with a dot (two code points).
    ("ΟΔΟΣ", "οδος"),
    ("\u{130}stanbul", "i\u{307}stanbul"),
    ("ǅemal", "ǆemal"),
];

/// The longest file or folder name, in UTF-8 bytes.
pub const MAX_NAME_BYTES: usize = 255;
/// The longest object key S3 accepts, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// Why a name or path was refused. The `Display` text is written for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The name is empty.
    #[error("A name can't be empty.")]
    Empty,
    /// The name is `.` or `..`.
    #[error("“{0}” can't be used as a name.")]
    DotName(String),
    /// The name contains `/`.
    #[error("A name can't contain “/”.")]
    Slash,
    /// The name contains a control character such as NUL or a line break.
    #[error("A name can't contain control characters (U+{0:04X}).")]
    ControlCharacter(u32),
    /// The name is longer than [`MAX_NAME_BYTES`].
    #[error("A name can be at most {MAX_NAME_BYTES} bytes long; this one has {0}.")]
    NameTooLong(usize),
    /// The path has an empty segment: `//`, or a leading or trailing `/`.
    #[error("A path can't have empty parts (“//”, or “/” at its start or end).")]
    EmptySegment,
    /// The path or key is longer than [`MAX_KEY_BYTES`].
    #[error("The full path can be at most {max} bytes long; this one has {len}.")]
    PathTooLong {
        /// Its length in bytes.
        len: usize,
        /// The limit that applied.
        max: usize,
    },
}

/// A valid file or folder name: one path segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(with = "String"))]
#[serde(transparent)]
pub struct FileName(String);

impl FileName {
    /// Normalises `input` to NFC and checks it is a valid name.
    pub fn parse(input: &str) -> Result<Self, PathError> {
        let name = nfc(input);
        check_name(&name)?;
        Ok(Self(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn check_name(name: &str) -> Result<(), PathError> {
    if name.is_empty() {
        return Err(PathError::Empty);
    }
    if name == "." || name == ".." {
        return Err(PathError::DotName(name.to_owned()));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(PathError::ControlCharacter(u32::from(c)));
    }
    if name.contains('/') {
        return Err(PathError::Slash);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(PathError::NameTooLong(name.len()));
    }
    Ok(())
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for FileName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(D::Error::custom)
    }
}

/// A valid folder path: names joined by `/`, with `""` for the root.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(with = "String"))]
#[serde(transparent)]
pub struct FolderPath(String);

impl FolderPath {
    /// The root folder.
    pub fn root() -> Self {
        Self::default()
    }

    /// Normalises `input` to NFC and checks each segment. `""` is the root;
    /// otherwise there is no leading or trailing `/`.
    pub fn parse(input: &str) -> Result<Self, PathError> {
        let path = nfc(input);
        if path.is_empty() {
            return Ok(Self::root());
        }
        for segment in path.split('/') {
            match check_name(segment) {
                Err(PathError::Empty) => return Err(PathError::EmptySegment),
                other => other?,
            }
        }
        if path.len() > MAX_KEY_BYTES {
            return Err(PathError::PathTooLong {
                len: path.len(),
                max: MAX_KEY_BYTES,
            });
        }
        Ok(Self(path))
    }

    /// Whether this is the root folder.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The path as text (`""` for the root).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The names from the root down.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|s| !s.is_empty())
    }

    /// The folder's own name; `None` for the root.
    pub fn name(&self) -> Option<&str> {
        self.segments().last()
    }

    /// The folder above; `None` for the root.
    pub fn parent(&self) -> Option<Self> {
        if self.is_root() {
            return None;
        }
        Some(match self.0.rfind('/') {
            Some(at) => Self(self.0[..at].to_owned()),
            None => Self::root(),
        })
    }

    /// The sub-folder `name` of this folder.
    pub fn join(&self, name: &FileName) -> Result<Self, PathError> {
        let path = if self.is_root() {
            name.as_str().to_owned()
        } else {
            format!("{}/{}", self.0, name.as_str())
        };
        if path.len() > MAX_KEY_BYTES {
            return Err(PathError::PathTooLong {
                len: path.len(),
                max: MAX_KEY_BYTES,
            });
        }
        Ok(Self(path))
    }

    /// Whether `other` is this folder or inside it.
    pub fn contains(&self, other: &FolderPath) -> bool {
        self.is_root()
            || other.0 == self.0
            || (other.0.starts_with(&self.0) && other.0.as_bytes().get(self.0.len()) == Some(&b'/'))
    }
}

impl fmt::Display for FolderPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}", self.0)
    }
}

impl<'de> Deserialize<'de> for FolderPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(D::Error::custom)
    }
}

/// An object key in the store: `{owner prefix}{folder}/{name}`.
///
/// The owner prefix (e.g. `users/{sub}/`) is chosen by the server and keeps
/// each user's objects apart; the key as a whole fits S3's 1,024-byte limit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// The key of `name` in `folder` under `owner_prefix`, which must end in `/`.
    pub fn new(
        owner_prefix: &str,
        folder: &FolderPath,
        name: &FileName,
    ) -> Result<Self, PathError> {
        let key = if folder.is_root() {
            format!("{owner_prefix}{name}")
        } else {
            format!("{owner_prefix}{}/{name}", folder.as_str())
        };
        if key.len() > MAX_KEY_BYTES {
            return Err(PathError::PathTooLong {
                len: key.len(),
                max: MAX_KEY_BYTES,
            });
        }
        Ok(Self(key))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_to_nfc() {
        let decomposed = FileName::parse("Cafe\u{301}.txt").unwrap();
        assert_eq!(decomposed.as_str(), "Caf\u{e9}.txt");
        assert_eq!(decomposed, FileName::parse("Caf\u{e9}.txt").unwrap());
    }

    #[test]
    fn case_is_preserved() {
        assert_eq!(FileName::parse("ReadMe.MD").unwrap().as_str(), "ReadMe.MD");
        assert_ne!(FileName::parse("a").unwrap(), FileName::parse("A").unwrap());
    }

    #[test]
    fn bad_names_are_refused_with_a_reason() {
        assert_eq!(FileName::parse(""), Err(PathError::Empty));
        assert_eq!(FileName::parse("."), Err(PathError::DotName(".".into())));
        assert_eq!(FileName::parse(".."), Err(PathError::DotName("..".into())));
        assert_eq!(FileName::parse("a/b"), Err(PathError::Slash));
        assert_eq!(FileName::parse("a\0b"), Err(PathError::ControlCharacter(0)));
        assert_eq!(
            FileName::parse("a\nb"),
            Err(PathError::ControlCharacter(10))
        );
        assert_eq!(
            FileName::parse("a\u{85}b"),
            Err(PathError::ControlCharacter(0x85))
        );
        assert_eq!(
            FileName::parse(&"x".repeat(256)),
            Err(PathError::NameTooLong(256))
        );
        // 255 bytes made of 2-byte characters plus one: over the limit by bytes, not chars.
        assert_eq!(
            FileName::parse(&"é".repeat(128)),
            Err(PathError::NameTooLong(256))
        );
        assert!(FileName::parse(&"x".repeat(255)).is_ok());
        assert!(FileName::parse("...").is_ok());
        assert!(FileName::parse(" spaced name ").is_ok());
    }

    #[test]
    fn paths_refuse_empty_and_dot_segments() {
        assert_eq!(FolderPath::parse("").unwrap(), FolderPath::root());
        assert_eq!(FolderPath::parse("/a"), Err(PathError::EmptySegment));
        assert_eq!(FolderPath::parse("a/"), Err(PathError::EmptySegment));
        assert_eq!(FolderPath::parse("a//b"), Err(PathError::EmptySegment));
        assert_eq!(
            FolderPath::parse("a/../b"),
            Err(PathError::DotName("..".into()))
        );
        assert_eq!(
            FolderPath::parse("a/./b"),
            Err(PathError::DotName(".".into()))
        );
        let path = FolderPath::parse("Photos/2026/March").unwrap();
        assert_eq!(
            path.segments().collect::<Vec<_>>(),
            ["Photos", "2026", "March"]
        );
        assert_eq!(path.name(), Some("March"));
        assert_eq!(path.parent().unwrap().as_str(), "Photos/2026");
        assert_eq!(
            FolderPath::parse("a").unwrap().parent(),
            Some(FolderPath::root())
        );
        assert_eq!(FolderPath::root().parent(), None);
        assert_eq!(path.to_string(), "/Photos/2026/March");
    }

    #[test]
    fn containment_respects_segment_boundaries() {
        let photos = FolderPath::parse("Photos").unwrap();
        assert!(photos.contains(&FolderPath::parse("Photos/2026").unwrap()));
        assert!(photos.contains(&photos));
        assert!(!photos.contains(&FolderPath::parse("Photos2").unwrap()));
        assert!(FolderPath::root().contains(&photos));
    }

    #[test]
    fn keys_stay_within_the_s3_limit() {
        let folder = FolderPath::parse(&vec!["d".repeat(200); 5].join("/")).unwrap();
        let name = FileName::parse(&"n".repeat(200)).unwrap();
        let err = ObjectKey::new("users/0123/", &folder, &name).unwrap_err();
        assert!(matches!(err, PathError::PathTooLong { max: 1024, .. }));
        let key = ObjectKey::new("users/0123/", &FolderPath::root(), &name).unwrap();
        assert_eq!(key.as_str(), format!("users/0123/{}", "n".repeat(200)));
    }

    #[test]
    fn serde_refuses_invalid_names() {
        assert!(serde_json::from_str::<FileName>("\"a/b\"").is_err());
        assert!(serde_json::from_str::<FolderPath>("\"a/../b\"").is_err());
        let name: FileName = serde_json::from_str("\"e\\u0301\"").unwrap();
        assert_eq!(name.as_str(), "\u{e9}");
    }

    #[test]
    fn folding_is_unicode_aware() {
        for (given, folded) in FOLD_EXAMPLES {
            assert_eq!(fold(given), *folded, "{given:?}");
        }
    }
}
