//! The password policy, Cognito's defaults: at least 8 characters, with a
//! lower-case letter, an upper-case letter, a number and a symbol.

/// The characters Cognito counts as symbols.
const SYMBOLS: &str = "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ";

/// Checks `password` against the policy; the error is Cognito's message.
pub fn check(password: &str) -> Result<(), String> {
    let fail = |what: &str| Err(format!("Password does not conform to policy: {what}"));
    let length = password.chars().count();
    if length < 8 {
        return fail("Password not long enough");
    }
    if length > 256 {
        return fail("Password is too long");
    }
    if !password.chars().any(|c| c.is_lowercase()) {
        return fail("Password must have lowercase characters");
    }
    if !password.chars().any(|c| c.is_uppercase()) {
        return fail("Password must have uppercase characters");
    }
    if !password.chars().any(|c| c.is_ascii_digit()) {
        return fail("Password must have numeric characters");
    }
    if !password.chars().any(|c| SYMBOLS.contains(c)) {
        return fail("Password must have symbol characters");
    }
    Ok(())
}

/// A random password that meets the policy, for temporary passwords.
pub fn generate(random: &[u8; 16]) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let body: String = random
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    // A fixed tail guarantees every class is present.
    format!("{body}-a7K")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_is_enforced() {
        assert!(check("Correct-Horse-1").is_ok());
        assert_eq!(
            check("Sh0rt!").unwrap_err(),
            "Password does not conform to policy: Password not long enough"
        );
        assert!(
            check("nouppercase-1")
                .unwrap_err()
                .ends_with("uppercase characters")
        );
        assert!(
            check("NOLOWERCASE-1")
                .unwrap_err()
                .ends_with("lowercase characters")
        );
        assert!(
            check("No-Numbers-Here")
                .unwrap_err()
                .ends_with("numeric characters")
        );
        assert!(
            check("NoSymbols123")
                .unwrap_err()
                .ends_with("symbol characters")
        );
        assert!(
            check(&format!("Aa1-{}", "x".repeat(253)))
                .unwrap_err()
                .ends_with("too long")
        );
    }

    #[test]
    fn generated_passwords_meet_the_policy() {
        for seed in 0..=255u8 {
            assert_eq!(check(&generate(&[seed; 16])), Ok(()));
        }
    }
}
