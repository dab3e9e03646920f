//! How a file may be shown in the browser: the one rule the API follows
//! when it signs a preview, the object endpoint follows when it serves one,
//! and the browser's preview dialog follows when it picks a viewer.
//!
//! User content must never run in Ferry's origin (issue 20). So only types a
//! browser shows as passive media are served inline with their own type
//! (images but SVG, PDF, audio, video); text of any kind (code, Markdown,
//! CSV, JSON) is served as `text/plain; charset=utf-8` and only up to
//! [`MAX_TEXT_PREVIEW`]; HTML, SVG, XML and everything else are downloads.
//! The decision reads the index's content type and the name's extension,
//! never the bytes: a file's bytes are whatever its uploader chose.

use serde::{Deserialize, Serialize};

/// The largest file shown as text (2 MiB): bigger text is a download.
pub const MAX_TEXT_PREVIEW: u64 = 2 * 1024 * 1024;

/// The content type a text preview is served with, whatever the file's own.
pub const TEXT_PREVIEW_TYPE: &str = "text/plain; charset=utf-8";

/// Which viewer shows a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum PreviewKind {
    /// A raster image (`<img>`), served with its own type.
    Image,
    /// A PDF, in the browser's own viewer.
    Pdf,
    /// The native audio player.
    Audio,
    /// The native video player.
    Video,
    /// Plain text, served as [`TEXT_PREVIEW_TYPE`].
    Text,
    /// No preview: icon, size, type, SHA-256 and a download.
    None,
}

impl PreviewKind {
    /// Whether a preview of this kind is served inline.
    pub fn is_inline(self) -> bool {
        self != Self::None
    }
}

/// What a preview of a file is: its kind, and the content type it is
/// served with (empty for [`PreviewKind::None`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// The viewer.
    pub kind: PreviewKind,
    /// `Content-Type` of the inline response.
    pub content_type: String,
}

/// The lower-case essence of a media type: `Text/HTML; charset=x` →
/// `text/html`.
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Types a browser renders as a document that can run script or load
/// others (HTML, XHTML, SVG, any XML, XSLT), or as something stranger than
/// passive media. These are never served inline.
pub fn is_active_type(content_type: &str) -> bool {
    let e = essence(content_type);
    e.is_empty()
        || e.contains("html")
        || e.contains("xml")
        || e.contains("svg")
        || e.contains("xsl")
        || e.starts_with("multipart/")
}

/// Types the object endpoint may serve inline: passive media (images but
/// SVG, audio, video), PDF, and plain text. Everything else it answers as an
/// attachment, whatever the request asked for.
pub fn is_inline_safe(content_type: &str) -> bool {
    if is_active_type(content_type) {
        return false;
    }
    let e = essence(content_type);
    let Some((top, sub)) = e.split_once('/') else {
        return false;
    };
    // A token only: `image/png x` or `image/` is no type a browser knows.
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    if !token(top) || !token(sub) {
        return false;
    }
    matches!(top, "image" | "audio" | "video") || e == "application/pdf" || e == "text/plain"
}

/// The name's extension, lower-case, without its dot (`a.TAR.gz` → `gz`).
fn extension(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty()).then(|| ext.to_ascii_lowercase())
}

/// Extensions that name a raster image, and its type.
fn image_type(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "png" => "image/png",
        "jpg" | "jpeg" | "jpe" | "jfif" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "bmp" => "image/bmp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        _ => return None,
    })
}

fn audio_type(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "aac" => "audio/aac",
        "wav" => "audio/wav",
        "ogg" | "oga" => "audio/ogg",
        "opus" => "audio/opus",
        "flac" => "audio/flac",
        "weba" => "audio/webm",
        _ => return None,
    })
}

fn video_type(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "ogv" => "video/ogg",
        "mov" => "video/quicktime",
        _ => return None,
    })
}

/// Extensions of text a person reads as source: code, Markdown, CSV, JSON,
/// configuration, logs. (HTML, SVG and XML are text too, but never shown:
/// they are downloads, see [`preview`].)
fn is_text_extension(ext: &str) -> bool {
    matches!(
        ext,
        "txt"
            | "text"
            | "md"
            | "markdown"
            | "csv"
            | "tsv"
            | "json"
            | "jsonl"
            | "ndjson"
            | "log"
            | "ini"
            | "cfg"
            | "conf"
            | "toml"
            | "yaml"
            | "yml"
            | "rs"
            | "py"
            | "js"
            | "mjs"
            | "cjs"
            | "ts"
            | "tsx"
            | "jsx"
            | "css"
            | "scss"
            | "c"
            | "h"
            | "cc"
            | "cpp"
            | "hpp"
            | "java"
            | "kt"
            | "go"
            | "rb"
            | "php"
            | "sh"
            | "bash"
            | "zsh"
            | "ps1"
            | "bat"
            | "sql"
            | "swift"
            | "cs"
            | "lua"
            | "pl"
            | "r"
            | "tex"
            | "diff"
            | "patch"
            | "env"
            | "properties"
            | "gradle"
            | "dockerfile"
            | "makefile"
            | "rst"
            | "adoc"
            | "org"
    )
}

/// Extensions whose content a browser would run or render as a document,
/// whatever type the index claims: these are never previewed.
fn is_active_extension(ext: &str) -> bool {
    matches!(
        ext,
        "html"
            | "htm"
            | "xhtml"
            | "xht"
            | "shtml"
            | "svg"
            | "svgz"
            | "xml"
            | "xsl"
            | "xslt"
            | "mht"
            | "mhtml"
    )
}

/// Whether a (non-active) type is text a person reads: `text/*`, JSON,
/// JavaScript, YAML, TOML, CSV and the like.
fn is_text_type(e: &str) -> bool {
    e.starts_with("text/")
        || e.ends_with("+json")
        || matches!(
            e,
            "application/json"
                | "application/javascript"
                | "application/x-javascript"
                | "application/ecmascript"
                | "application/x-sh"
                | "application/x-yaml"
                | "application/yaml"
                | "application/toml"
                | "application/sql"
                | "application/x-httpd-php"
                | "application/ld+json"
        )
}

/// How a file named `name`, of `size` bytes and (per the index)
/// `content_type`, is previewed.
///
/// - HTML, XHTML, SVG, XML (by type or by extension): none, download only.
/// - Images but SVG, PDF, audio, video: inline, with the type the index
///   has, or the one the extension names when the index says only
///   `application/octet-stream` (or nothing).
/// - Text, code, Markdown, CSV, JSON of at most [`MAX_TEXT_PREVIEW`] bytes:
///   [`PreviewKind::Text`], served as [`TEXT_PREVIEW_TYPE`]; bigger: none.
/// - Everything else: none.
pub fn preview(name: &str, content_type: &str, size: u64) -> Preview {
    let none = Preview {
        kind: PreviewKind::None,
        content_type: String::new(),
    };
    let ext = extension(name);
    let ext = ext.as_deref().unwrap_or_default();
    let e = essence(content_type);
    if is_active_extension(ext) || (!e.is_empty() && is_active_type(&e)) {
        return none;
    }
    let media = |kind: PreviewKind, ty: &str| Preview {
        kind,
        content_type: ty.to_owned(),
    };
    // The index's type first; the extension only when the type says nothing.
    let known = !(e.is_empty() || e == "application/octet-stream" || e == "binary/octet-stream");
    if known {
        let top = e.split('/').next().unwrap_or_default();
        if is_inline_safe(&e) && e != "text/plain" {
            return match top {
                "image" => media(PreviewKind::Image, &e),
                "audio" => media(PreviewKind::Audio, &e),
                "video" => media(PreviewKind::Video, &e),
                _ => media(PreviewKind::Pdf, "application/pdf"),
            };
        }
        if is_text_type(&e) {
            return text(size);
        }
        return none;
    }
    if let Some(ty) = image_type(ext) {
        media(PreviewKind::Image, ty)
    } else if let Some(ty) = audio_type(ext) {
        media(PreviewKind::Audio, ty)
    } else if let Some(ty) = video_type(ext) {
        media(PreviewKind::Video, ty)
    } else if ext == "pdf" {
        media(PreviewKind::Pdf, "application/pdf")
    } else if is_text_extension(ext) || name.eq_ignore_ascii_case("makefile") {
        text(size)
    } else {
        none
    }
}

fn text(size: u64) -> Preview {
    if size <= MAX_TEXT_PREVIEW {
        Preview {
            kind: PreviewKind::Text,
            content_type: TEXT_PREVIEW_TYPE.to_owned(),
        }
    } else {
        Preview {
            kind: PreviewKind::None,
            content_type: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(name: &str, ty: &str, size: u64) -> PreviewKind {
        preview(name, ty, size).kind
    }

    #[test]
    fn markup_is_never_previewed_whatever_its_type_or_name_says() {
        for (name, ty) in [
            ("a.html", "text/html"),
            ("a.txt", "text/html; charset=utf-8"),
            ("a.html", "text/plain"),
            ("a.png", "image/svg+xml"),
            ("a.svg", "image/png"),
            ("a.svg", "application/octet-stream"),
            ("a.xhtml", ""),
            ("feed", "application/rss+xml"),
            ("a.xml", "text/xml"),
            ("a.json", "application/xml"),
            ("a.jpg", "TEXT/HTML"),
            ("a.xsl", "text/plain"),
        ] {
            assert_eq!(kind(name, ty, 10), PreviewKind::None, "{name} {ty}");
        }
    }

    #[test]
    fn media_keeps_its_type_and_text_becomes_plain_text() {
        let p = preview("cat.jpg", "image/jpeg", 5);
        assert_eq!(
            (p.kind, p.content_type.as_str()),
            (PreviewKind::Image, "image/jpeg")
        );
        let p = preview("doc.pdf", "application/pdf", 5);
        assert_eq!(
            (p.kind, p.content_type.as_str()),
            (PreviewKind::Pdf, "application/pdf")
        );
        assert_eq!(kind("a.mp3", "audio/mpeg", 5), PreviewKind::Audio);
        assert_eq!(kind("a.webm", "video/webm", 5), PreviewKind::Video);
        for (name, ty) in [
            ("notes.md", "text/markdown"),
            ("data.csv", "text/csv"),
            ("x.json", "application/json"),
            ("main.rs", "application/octet-stream"),
            ("Makefile", ""),
            ("a.txt", "text/plain; charset=iso-8859-1"),
        ] {
            let p = preview(name, ty, 100);
            assert_eq!(
                (p.kind, p.content_type.as_str()),
                (PreviewKind::Text, TEXT_PREVIEW_TYPE),
                "{name} {ty}"
            );
        }
    }

    #[test]
    fn the_extension_speaks_only_when_the_type_says_nothing() {
        let p = preview("photo.PNG", "application/octet-stream", 5);
        assert_eq!(
            (p.kind, p.content_type.as_str()),
            (PreviewKind::Image, "image/png")
        );
        assert_eq!(kind("clip.mp4", "", 5), PreviewKind::Video);
        // The index's type wins over the name.
        assert_eq!(kind("photo.png", "application/zip", 5), PreviewKind::None);
        assert_eq!(kind("archive.zip", "application/zip", 5), PreviewKind::None);
        assert_eq!(kind("noext", "", 5), PreviewKind::None);
        assert_eq!(kind(".png", "", 5), PreviewKind::None);
    }

    #[test]
    fn text_is_shown_up_to_two_mebibytes() {
        assert_eq!(
            kind("a.txt", "text/plain", MAX_TEXT_PREVIEW),
            PreviewKind::Text
        );
        assert_eq!(
            kind("a.txt", "text/plain", MAX_TEXT_PREVIEW + 1),
            PreviewKind::None
        );
        // Media has no such limit: the players stream it by ranges.
        assert_eq!(
            kind("a.mp4", "video/mp4", 10 * MAX_TEXT_PREVIEW),
            PreviewKind::Video
        );
    }

    #[test]
    fn only_passive_types_are_safe_inline() {
        for ty in [
            "image/png",
            "image/jpeg",
            "audio/mpeg",
            "video/mp4",
            "application/pdf",
            "text/plain; charset=utf-8",
            "Image/WebP",
        ] {
            assert!(is_inline_safe(ty), "{ty}");
        }
        for ty in [
            "",
            "text/html",
            "application/xhtml+xml",
            "image/svg+xml",
            "text/xml",
            "application/xml",
            "text/xsl",
            "multipart/x-mixed-replace; boundary=a",
            "application/octet-stream",
            "application/json",
            "text/javascript",
            "text/css",
            "image/",
            "image/png x",
            "text/markdown",
        ] {
            assert!(!is_inline_safe(ty), "{ty}");
        }
        assert!(is_active_type("TEXT/HTML; charset=utf-8"));
        assert!(is_active_type(""));
        assert!(!is_active_type("application/zip"));
    }
}
