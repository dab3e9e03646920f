//! What the preview dialog and the tiles decide without the browser: how a
//! text file's bytes are to be read (or that they aren't text), which file
//! the arrow keys go to, and which view of a folder a person chose.
//!
//! The dialog fetches a text preview's bytes and decodes them with the
//! browser's `TextDecoder` under the label [`sniff_text`] answers; nothing
//! here renders anything, and text is only ever shown as text.

use crate::rows::{RowKind, RowView};

/// How a text file's bytes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8 (with or without a byte order mark).
    Utf8,
    /// UTF-16, little-endian.
    Utf16Le,
    /// UTF-16, big-endian.
    Utf16Be,
    /// A legacy single-byte encoding, read as Windows-1252 (which the
    /// browser's decoder also uses for ISO-8859-1).
    Windows1252,
}

impl TextEncoding {
    /// The `TextDecoder` label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Utf8 => "utf-8",
            Self::Utf16Le => "utf-16le",
            Self::Utf16Be => "utf-16be",
            Self::Windows1252 => "windows-1252",
        }
    }

    /// The name a person reads beside the text.
    pub fn name(self) -> &'static str {
        match self {
            Self::Utf8 => "UTF-8",
            Self::Utf16Le => "UTF-16 LE",
            Self::Utf16Be => "UTF-16 BE",
            Self::Windows1252 => "Windows-1252",
        }
    }
}

/// How to read a text file: its encoding, and how many leading bytes are a
/// byte order mark to skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextSniff {
    /// The encoding.
    pub encoding: TextEncoding,
    /// The byte order mark's length (0 when there is none).
    pub bom: usize,
}

/// Why a file can't be shown as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotText {
    /// Bytes no text has: NUL, or many control characters.
    #[error("This file can't be shown as text: it holds binary data.")]
    Binary,
}

/// The share of control characters (other than tab, line feed, carriage
/// return, form feed and escape) above which bytes are taken for binary,
/// in thousandths.
const MAX_CONTROL_PER_MILLE: usize = 10;

/// How a text file's bytes are encoded, from the bytes alone: a byte order
/// mark decides; otherwise valid UTF-8 is UTF-8, a NUL in every other byte
/// position is UTF-16 of that order, NUL elsewhere or many control
/// characters is binary, and anything else is a legacy single-byte text
/// (Windows-1252). An empty file is empty UTF-8 text.
pub fn sniff_text(bytes: &[u8]) -> Result<TextSniff, NotText> {
    let with_bom = |encoding, bom| Ok(TextSniff { encoding, bom });
    match bytes {
        [0xEF, 0xBB, 0xBF, ..] => return with_bom(TextEncoding::Utf8, 3),
        [0xFF, 0xFE, ..] => return with_bom(TextEncoding::Utf16Le, 2),
        [0xFE, 0xFF, ..] => return with_bom(TextEncoding::Utf16Be, 2),
        _ => {}
    }
    if let Some(encoding) = utf16_without_bom(bytes) {
        return with_bom(encoding, 0);
    }
    if bytes.contains(&0) || too_many_controls(bytes) {
        return Err(NotText::Binary);
    }
    let encoding = if std::str::from_utf8(bytes).is_ok() {
        TextEncoding::Utf8
    } else {
        TextEncoding::Windows1252
    };
    with_bom(encoding, 0)
}

/// The text of `bytes` read as `sniff` says, byte order mark skipped.
/// Malformed sequences (a UTF-16 file cut in a pair, say) become U+FFFD, as
/// the browser's decoder writes them.
pub fn decode_text(bytes: &[u8], sniff: TextSniff) -> String {
    let body = bytes.get(sniff.bom..).unwrap_or_default();
    match sniff.encoding {
        TextEncoding::Utf8 => String::from_utf8_lossy(body).into_owned(),
        TextEncoding::Utf16Le | TextEncoding::Utf16Be => {
            let little = sniff.encoding == TextEncoding::Utf16Le;
            let units = body.chunks(2).map(|pair| match (pair, little) {
                ([a, b], true) => u16::from_le_bytes([*a, *b]),
                ([a, b], false) => u16::from_be_bytes([*a, *b]),
                // An odd last byte: no whole unit.
                _ => 0xFFFD,
            });
            char::decode_utf16(units)
                .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        }
        TextEncoding::Windows1252 => body.iter().map(|b| windows_1252(*b)).collect(),
    }
}

/// One Windows-1252 byte as a character: Latin-1, but for the printable
/// characters 0x80–0x9F holds (the five unassigned bytes map to their C1
/// controls, as WHATWG's index does).
fn windows_1252(byte: u8) -> char {
    const HIGH: [u16; 32] = [
        0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
        0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
        0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
    ];
    match byte {
        0x80..=0x9F => char::from_u32(u32::from(HIGH[usize::from(byte - 0x80)]))
            .unwrap_or(char::REPLACEMENT_CHARACTER),
        _ => char::from(byte),
    }
}

/// UTF-16 without a byte order mark: in the first 4 KiB, most bytes at one
/// parity are NUL (the high bytes of Latin text) and almost none at the
/// other.
fn utf16_without_bom(bytes: &[u8]) -> Option<TextEncoding> {
    let head = &bytes[..bytes.len().min(4096) & !1];
    if head.len() < 4 {
        return None;
    }
    let pairs = head.len() / 2;
    let zeros_at = |parity: usize| {
        head.iter()
            .skip(parity)
            .step_by(2)
            .filter(|b| **b == 0)
            .count()
    };
    let (even, odd) = (zeros_at(0), zeros_at(1));
    let most = pairs * 2 / 5;
    let few = pairs / 50;
    if odd >= most && even <= few {
        Some(TextEncoding::Utf16Le)
    } else if even >= most && odd <= few {
        Some(TextEncoding::Utf16Be)
    } else {
        None
    }
}

fn too_many_controls(bytes: &[u8]) -> bool {
    let controls = bytes
        .iter()
        .filter(|b| matches!(b, 0x01..=0x08 | 0x0B | 0x0E..=0x1A | 0x1C..=0x1F | 0x7F))
        .count();
    controls * 1000 > bytes.len() * MAX_CONTROL_PER_MILLE
}

/// Which way the arrow keys move through a folder's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The next file (→).
    Next,
    /// The previous file (←).
    Previous,
}

/// The file after or before `current` among `rows` in the order shown,
/// folders skipped; `None` at either end (the preview doesn't wrap around,
/// so a person knows when they have seen them all) or when `current` isn't
/// there.
pub fn neighbour(rows: &[RowView], current: &str, step: Step) -> Option<String> {
    let files: Vec<&RowView> = rows
        .iter()
        .filter(|row| matches!(row.kind, RowKind::File(_)))
        .collect();
    let at = files.iter().position(|row| row.key == current)?;
    let to = match step {
        Step::Next => at.checked_add(1)?,
        Step::Previous => at.checked_sub(1)?,
    };
    files.get(to).map(|row| row.key.clone())
}

/// How a folder's entries are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ViewMode {
    /// Rows with name, size and date (the default).
    #[default]
    List,
    /// Tiles with a thumbnail or an icon.
    Tiles,
}

impl ViewMode {
    /// How it is kept on the device.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::List => "list",
            Self::Tiles => "tiles",
        }
    }

    /// What was kept; anything else (a value from another version, an
    /// edit by hand) is the default.
    pub fn parse(kept: Option<&str>) -> Self {
        match kept {
            Some("tiles") => Self::Tiles,
            _ => Self::List,
        }
    }

    /// The device storage key that keeps one user's choice, so people
    /// sharing a browser each keep their own.
    pub fn storage_key(user: &str) -> String {
        format!("ferry.view.{user}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn a_byte_order_mark_decides_the_encoding_and_is_skipped() {
        let utf8 = sniff_text(b"\xEF\xBB\xBFhello").unwrap();
        assert_eq!((utf8.encoding, utf8.bom), (TextEncoding::Utf8, 3));
        let le = sniff_text(b"\xFF\xFEh\0i\0").unwrap();
        assert_eq!((le.encoding, le.bom), (TextEncoding::Utf16Le, 2));
        let be = sniff_text(b"\xFE\xFF\0h\0i").unwrap();
        assert_eq!((be.encoding, be.bom), (TextEncoding::Utf16Be, 2));
    }

    #[test]
    fn utf8_text_code_and_csv_are_utf8() {
        for text in [
            "plain ascii\n",
            "a,b,c\n1,2,3\n",
            "fn main() {\n\tprintln!(\"héllo, 世界\");\n}\n",
            "{\"ok\": true}",
            "",
        ] {
            let sniff = sniff_text(text.as_bytes()).unwrap();
            assert_eq!(
                (sniff.encoding, sniff.bom),
                (TextEncoding::Utf8, 0),
                "{text:?}"
            );
        }
    }

    #[test]
    fn utf16_without_a_mark_is_found_by_its_nul_bytes() {
        let text = "Quarterly report, draft two\r\n";
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(sniff_text(&le).unwrap().encoding, TextEncoding::Utf16Le);
        assert_eq!(sniff_text(&be).unwrap().encoding, TextEncoding::Utf16Be);
    }

    #[test]
    fn latin1_text_that_isnt_utf8_is_read_as_windows_1252() {
        // "café crème" in ISO-8859-1.
        let sniff = sniff_text(b"caf\xE9 cr\xE8me\n").unwrap();
        assert_eq!(sniff.encoding, TextEncoding::Windows1252);
    }

    #[test]
    fn binary_bytes_are_not_text() {
        // A PNG's signature and header: NUL bytes among others.
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10";
        assert_eq!(sniff_text(png), Err(NotText::Binary));
        // Control characters throughout, no NUL.
        let noisy: Vec<u8> = (0..1000u32)
            .map(|i| if i % 20 == 0 { 0x02 } else { b'a' })
            .collect();
        assert_eq!(sniff_text(&noisy), Err(NotText::Binary));
        // A few escapes and form feeds are text (terminal logs, old code).
        assert!(sniff_text(b"\x1b[1mbold\x1b[0m\x0c\n").is_ok());
        assert_eq!(
            NotText::Binary.to_string(),
            "This file can't be shown as text: it holds binary data."
        );
    }

    #[test]
    fn text_is_decoded_as_sniffed() {
        let read = |bytes: &[u8]| decode_text(bytes, sniff_text(bytes).unwrap());
        assert_eq!(read(b"\xEF\xBB\xBFh\xC3\xA9"), "hé");
        assert_eq!(read(b"\xFF\xFEh\0\xE9\0"), "hé");
        assert_eq!(read(b"\xFE\xFF\0h\0\xE9"), "hé");
        let le: Vec<u8> = "naïve café"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(read(&le), "naïve café");
        // Windows-1252's own characters in 0x80–0x9F, and Latin-1 above.
        assert_eq!(read(b"\x80 \x93quoted\x94 caf\xE9"), "€ “quoted” café");
        // A UTF-16 file cut in the middle of a unit.
        assert_eq!(read(b"\xFF\xFEh\0i"), "h\u{FFFD}");
    }

    fn row(key: &str, file: bool) -> RowView {
        RowView {
            key: key.to_owned(),
            kind: if file {
                RowKind::File(Uuid::nil())
            } else {
                RowKind::Folder(ferry_protocol::FolderPath::root())
            },
            name: key.to_owned(),
            place: None,
            size: None,
            modified: None,
            status: String::new(),
            version: 1,
            sha256: None,
            content_type: String::new(),
            thumbnail: None,
        }
    }

    #[test]
    fn the_arrows_move_through_files_in_the_order_shown_and_stop_at_the_ends() {
        let rows = [
            row("docs", false),
            row("a", true),
            row("b", true),
            row("c", true),
        ];
        assert_eq!(neighbour(&rows, "a", Step::Next).as_deref(), Some("b"));
        assert_eq!(neighbour(&rows, "c", Step::Previous).as_deref(), Some("b"));
        // Folders are skipped, and the ends don't wrap around.
        assert_eq!(neighbour(&rows, "a", Step::Previous), None);
        assert_eq!(neighbour(&rows, "c", Step::Next), None);
        // A file no longer shown (deleted meanwhile) has no neighbours.
        assert_eq!(neighbour(&rows, "gone", Step::Next), None);
    }

    #[test]
    fn the_view_is_kept_per_user_and_anything_unknown_is_the_list() {
        assert_eq!(
            ViewMode::parse(Some(ViewMode::Tiles.as_str())),
            ViewMode::Tiles
        );
        assert_eq!(
            ViewMode::parse(Some(ViewMode::List.as_str())),
            ViewMode::List
        );
        assert_eq!(ViewMode::parse(Some("grid")), ViewMode::List);
        assert_eq!(ViewMode::parse(None), ViewMode::List);
        assert_ne!(ViewMode::storage_key("alice"), ViewMode::storage_key("bob"));
    }
}
