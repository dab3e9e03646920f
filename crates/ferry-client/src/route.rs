//! Where the browser is, in the URL: the folder (and a search) live in the
//! fragment, `#/photos/2026` or `#/?q=report`, so back and forward work, a
//! copied link opens the same folder, and a portal embedding Ferry needs no
//! server routes for it.
//!
//! Plain Rust, tested natively.

use ferry_protocol::FolderPath;

/// How an instance keeps the folder it shows (the `routing` setting).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Routing {
    /// In the page's URL fragment: back and forward work, a link opens the
    /// same folder. The standalone app's way.
    Hash,
    /// In the instance alone: Ferry never touches the page's URL; the host
    /// follows `ferry-navigate` and sets `folder`. The default inside a
    /// host page.
    #[default]
    None,
}

impl Routing {
    /// Reads the `routing` setting (absent or empty: [`Routing::None`]).
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value.map(str::trim) {
            None | Some("") | Some("none") => Ok(Self::None),
            Some("hash") => Ok(Self::Hash),
            Some(other) => Err(format!(
                "the setting `routing` must be `hash` or `none`, but is `{other}`"
            )),
        }
    }
}

/// What the URL says to show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    /// The folder.
    pub folder: FolderPath,
    /// A search across folders, when one is running.
    pub search: Option<String>,
}

impl Route {
    /// A folder's route.
    pub fn folder(folder: FolderPath) -> Self {
        Self {
            folder,
            search: None,
        }
    }

    /// Reads a `location.hash` (with or without its `#`). Anything that isn't
    /// a valid folder opens Home rather than an error: a stale link still
    /// lands somewhere useful.
    pub fn parse(hash: &str) -> Self {
        let hash = hash.strip_prefix('#').unwrap_or(hash);
        let hash = hash.strip_prefix('/').unwrap_or(hash);
        let (path, query) = hash.split_once('?').unwrap_or((hash, ""));
        let segments: Option<Vec<String>> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(decode)
            .collect();
        let folder = segments
            .and_then(|s| FolderPath::parse(&s.join("/")).ok())
            .unwrap_or_default();
        let search = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("q="))
            .and_then(|q| decode(&q.replace('+', " ")))
            .map(|q| q.trim().to_owned())
            .filter(|q| !q.is_empty());
        Self { folder, search }
    }

    /// The fragment for this route, with its `#`.
    pub fn to_hash(&self) -> String {
        let mut out = String::from("#/");
        let segments: Vec<String> = self.folder.segments().map(encode).collect();
        out.push_str(&segments.join("/"));
        if let Some(q) = &self.search {
            out.push_str("?q=");
            out.push_str(&encode(q));
        }
        out
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Undoes [`encode`]; `None` for a broken escape or bytes that aren't UTF-8.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn folder(path: &str) -> FolderPath {
        FolderPath::parse(path).unwrap()
    }

    #[test]
    fn home_is_the_empty_fragment() {
        assert_eq!(Route::parse(""), Route::default());
        assert_eq!(Route::parse("#"), Route::default());
        assert_eq!(Route::parse("#/"), Route::default());
        assert_eq!(Route::default().to_hash(), "#/");
    }

    #[test]
    fn folders_round_trip_through_the_fragment() {
        for path in ["photos", "photos/2026", "a b/ü ñ/100% sure", "x#y/q?r&s"] {
            let route = Route::folder(folder(path));
            let hash = route.to_hash();
            assert!(!hash[1..].contains('#'), "{hash}");
            assert_eq!(Route::parse(&hash), route, "{hash}");
        }
        assert_eq!(Route::folder(folder("a b/ü")).to_hash(), "#/a%20b/%C3%BC");
    }

    #[test]
    fn a_search_rides_along() {
        let route = Route {
            folder: FolderPath::root(),
            search: Some("annual report & co".into()),
        };
        assert_eq!(Route::parse(&route.to_hash()), route);
        assert_eq!(Route::parse("#/?q=a+b").search.as_deref(), Some("a b"));
        assert_eq!(Route::parse("#/?q=%20").search, None);
    }

    #[test]
    fn broken_links_open_home() {
        assert_eq!(Route::parse("#/%ZZ/x").folder, FolderPath::root());
        assert_eq!(Route::parse("#/%FF").folder, FolderPath::root());
        assert_eq!(Route::parse("#/a/../b").folder, FolderPath::root());
        assert_eq!(Route::parse("#//a//b/").folder, folder("a/b"));
    }

    #[test]
    fn routing_is_hash_or_none_and_none_by_default() {
        assert_eq!(Routing::parse(None), Ok(Routing::None));
        assert_eq!(Routing::parse(Some("")), Ok(Routing::None));
        assert_eq!(Routing::parse(Some("none")), Ok(Routing::None));
        assert_eq!(Routing::parse(Some(" hash ")), Ok(Routing::Hash));
        assert_eq!(
            Routing::parse(Some("history")),
            Err("the setting `routing` must be `hash` or `none`, but is `history`".to_owned())
        );
    }
}
