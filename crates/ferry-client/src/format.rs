//! Numbers as people read them. Plain Rust, tested natively.

/// Bytes with a unit: `0 bytes`, `999 bytes`, `1.5 KB`, `12 MB`, `3.1 GB`
/// (powers of 1,000, as file managers show them). Integer arithmetic only:
/// formatting a float would bring the float printer into the browser's
/// download for this one line.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["KB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return if n == 1 {
            "1 byte".to_owned()
        } else {
            format!("{n} bytes")
        };
    }
    // Rounded half up: tenths of the unit below 10, whole units above; a
    // size that would round to 1000 of a unit is shown in the next.
    let n = u128::from(n);
    let mut unit = 0;
    let mut size = 1000_u128;
    while n * 2 >= 1999 * size && unit < UNITS.len() - 1 {
        size *= 1000;
        unit += 1;
    }
    // The results are small (below 20,000): printed as u64, whose printer
    // the page has anyway.
    let tenths = ((n * 10 + size / 2) / size) as u64;
    if tenths < 100 {
        format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
    } else {
        format!("{} {}", ((n + size / 2) / size) as u64, UNITS[unit])
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
        assert_eq!(bytes(9_949), "9.9 KB");
        assert_eq!(bytes(9_950), "10 KB");
        assert_eq!(bytes(99_500), "100 KB");
        assert_eq!(bytes(999_499), "999 KB");
        assert_eq!(bytes(999_500), "1.0 MB");
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
