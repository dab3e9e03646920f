//! Numbers as people read them. Plain Rust, tested natively.

/// Bytes with a unit: `0 bytes`, `999 bytes`, `1.5 KB`, `12 MB`, `3.1 GB`
/// (powers of 1,000, as file managers show them).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return if n == 1 {
            "1 byte".to_owned()
        } else {
            format!("{n} bytes")
        };
    }
    let mut value = n as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// A share as a whole percentage, never 100 before it is full.
pub fn percent(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        return 0;
    }
    let p = (part as u128 * 100 / whole as u128) as u64;
    if part < whole { p.min(99) } else { 100 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(bytes(0), "0 bytes");
        assert_eq!(bytes(1), "1 byte");
        assert_eq!(bytes(999), "999 bytes");
        assert_eq!(bytes(1000), "1.0 KB");
        assert_eq!(bytes(1536), "1.5 KB");
        assert_eq!(bytes(12_345_678), "12 MB");
        assert_eq!(bytes(999_999), "1.0 MB");
        assert_eq!(bytes(3_100_000_000), "3.1 GB");
        assert_eq!(bytes(u64::MAX), "18447 PB");
    }

    #[test]
    fn percentages_do_not_claim_full_early() {
        assert_eq!(percent(0, 0), 0);
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(999, 1000), 99);
        assert_eq!(percent(1000, 1000), 100);
        assert_eq!(percent(2000, 1000), 100);
    }
}
