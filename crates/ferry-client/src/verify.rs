//! Checking a copy of a stored file: its size, then its SHA-256, against
//! what the index recorded when the file was stored. No DOM here; the
//! copy-check dialog (the shell's `use_copy_check`) hashes the copy in a worker and shows
//! [`Check::text`].

use crate::format;

/// Where a check of a copy stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// No copy chosen yet.
    Waiting,
    /// Hashing: this many bytes of `of` read.
    Reading { read: u64, of: u64 },
    /// Same size and SHA-256 as the stored file.
    Matches { sha256: String },
    /// The copy's size isn't the stored file's: it needn't be read.
    WrongSize { copy: u64, stored: u64 },
    /// Same size, another SHA-256.
    Differs,
    /// The copy couldn't be read.
    Unreadable(String),
}

impl Check {
    /// The check of a copy of `copy_size` bytes against a stored file of
    /// `stored_size`: hashing starts only when the sizes agree.
    pub fn start(copy_size: u64, stored_size: u64) -> Self {
        if copy_size == stored_size {
            Self::Reading {
                read: 0,
                of: copy_size,
            }
        } else {
            Self::WrongSize {
                copy: copy_size,
                stored: stored_size,
            }
        }
    }

    /// The copy's SHA-256 (hex) is known: compare it with the stored one.
    pub fn hashed(&self, copy: &str, stored: &str) -> Self {
        if copy.eq_ignore_ascii_case(stored) {
            Self::Matches {
                sha256: stored.to_ascii_lowercase(),
            }
        } else {
            Self::Differs
        }
    }

    /// What the dialog says.
    pub fn text(&self) -> String {
        match self {
            Self::Waiting => String::new(),
            Self::Reading { read, of } => {
                format!("Checking… {}%", format::percent(*read, *of))
            }
            Self::Matches { sha256 } => format!(
                "Your copy matches the stored file (SHA-256 {}…).",
                sha256.get(..16).unwrap_or(sha256)
            ),
            Self::WrongSize { copy, stored } => {
                // Rounded sizes can read the same: then the exact counts.
                let (mut a, mut b) = (format::bytes(*copy), format::bytes(*stored));
                if a == b {
                    (a, b) = (format!("{copy} bytes"), format!("{stored} bytes"));
                }
                format!(
                    "Your copy differs from the stored file: it has {a}, the stored file {b}. Download it again."
                )
            }
            Self::Differs => {
                "Your copy differs from the stored file: its SHA-256 is another. Download it again."
                    .to_owned()
            }
            Self::Unreadable(reason) => format!("Your copy couldn't be read ({reason})."),
        }
    }

    /// Whether the check has ended.
    pub fn is_over(&self) -> bool {
        !matches!(self, Self::Waiting | Self::Reading { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUM: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn a_copy_of_another_size_is_not_read() {
        let check = Check::start(10, 12);
        assert_eq!(
            check,
            Check::WrongSize {
                copy: 10,
                stored: 12
            }
        );
        assert!(check.is_over());
        assert!(
            check
                .text()
                .contains("has 10 bytes, the stored file 12 bytes"),
            "{}",
            check.text()
        );
        // Sizes that round alike are told exactly.
        let close = Check::start(1_000_001, 1_000_002).text();
        assert!(
            close.contains("1000001 bytes") && close.contains("1000002 bytes"),
            "{close}"
        );
    }

    #[test]
    fn same_size_is_hashed_then_compared() {
        let check = Check::start(4, 4);
        assert_eq!(check, Check::Reading { read: 0, of: 4 });
        assert!(!check.is_over());
        assert_eq!(check.text(), "Checking… 0%");
        let matched = check.hashed(&SUM.to_ascii_uppercase(), SUM);
        assert_eq!(
            matched,
            Check::Matches {
                sha256: SUM.to_owned()
            }
        );
        assert!(
            matched.text().starts_with("Your copy matches"),
            "{}",
            matched.text()
        );
        assert!(matched.text().contains("9f86d081884c7d65…"));
        let other = check.hashed(&SUM.replace('9', "8"), SUM);
        assert_eq!(other, Check::Differs);
        assert!(other.text().contains("differs"));
    }
}
