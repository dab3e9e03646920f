//! Names and digests as the domain writes them, shared by the service (the
//! API's side) and the consumers (the events' side).

use crate::error::DomainResult;
use ferry_protocol::FileName;

/// `report.pdf` → `report (n).pdf`.
pub fn numbered_name(name: &FileName, n: u32) -> DomainResult<FileName> {
    let text = name.as_str();
    let (stem, ext) = match text.rfind('.') {
        Some(dot) if dot > 0 => (&text[..dot], &text[dot..]),
        _ => (text, ""),
    };
    Ok(FileName::parse(&format!("{stem} ({n}){ext}"))?)
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_names_keep_the_extension() {
        let name = FileName::parse("report.pdf").unwrap();
        assert_eq!(numbered_name(&name, 2).unwrap().as_str(), "report (2).pdf");
        let name = FileName::parse(".bashrc").unwrap();
        assert_eq!(numbered_name(&name, 1).unwrap().as_str(), ".bashrc (1)");
        let name = FileName::parse("Makefile").unwrap();
        assert_eq!(numbered_name(&name, 1).unwrap().as_str(), "Makefile (1)");
    }
}
