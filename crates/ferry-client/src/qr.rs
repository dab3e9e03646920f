//! A QR code as an SVG path, for the authenticator app's setup: most apps
//! scan it rather than take a typed key. Plain Rust, tested natively.

use qrcodegen::{QrCode, QrCodeEcc};

/// A QR code ready to draw: `size` modules a side, and one path (in module
/// units) covering the dark ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrPath {
    /// Modules per side, without the quiet zone.
    pub size: i32,
    /// The SVG path data.
    pub path: String,
}

/// Encodes `text` (medium error correction); `None` if it is too long for
/// any QR code.
pub fn encode(text: &str) -> Option<QrPath> {
    let code = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let size = code.size();
    let mut path = String::new();
    for y in 0..size {
        let mut x = 0;
        while x < size {
            if code.get_module(x, y) {
                // One run of dark modules in a row is one rectangle.
                let start = x;
                while x < size && code.get_module(x, y) {
                    x += 1;
                }
                path.push_str(&format!("M{start} {y}h{}v1h-{}z", x - start, x - start));
            } else {
                x += 1;
            }
        }
    }
    Some(QrPath { size, path })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_otpauth_uri_becomes_a_code_with_its_finder_patterns() {
        let uri = "otpauth://totp/Ferry:alice?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Ferry";
        let qr = encode(uri).unwrap();
        // Version 4 or more for this length: 33 modules a side at least.
        assert!(qr.size >= 33 && (qr.size - 17) % 4 == 0, "{}", qr.size);
        // The top-left finder pattern's first row is a run of seven.
        assert!(qr.path.starts_with("M0 0h7v1h-7z"), "{}", &qr.path[..40]);
        // Another text gives another code.
        assert_ne!(encode("otpauth://totp/Ferry:bob?secret=A").unwrap(), qr);
    }

    #[test]
    fn text_beyond_any_qr_code_is_refused() {
        assert_eq!(encode(&"x".repeat(5000)), None);
    }
}
