//! Time-based one-time passwords (RFC 6238 over RFC 4226): HMAC-SHA1, 30-second
//! steps, 6 digits, as authenticator apps and Cognito use them.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// Seconds per step.
pub const STEP: i64 = 30;

/// The code for `secret` at step `counter` (RFC 4226 §5.3).
pub fn code_at(secret: &[u8], counter: u64) -> String {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = (u32::from(digest[offset] & 0x7f) << 24)
        | (u32::from(digest[offset + 1]) << 16)
        | (u32::from(digest[offset + 2]) << 8)
        | u32::from(digest[offset + 3]);
    format!("{:06}", binary % 1_000_000)
}

/// The step a code entered at `unix` time matches, allowing one step of
/// clock drift either way; `None` if it matches none. Steps at or before
/// `last_used` are refused, so a code can't be replayed.
pub fn verify(secret: &[u8], code: &str, unix: i64, last_used: Option<i64>) -> Option<i64> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = unix.div_euclid(STEP);
    let mut matched = None;
    for step in [now - 1, now, now + 1] {
        let Ok(counter) = u64::try_from(step) else {
            continue;
        };
        // Every candidate is compared, so the time taken does not depend on which matched.
        if bool::from(code_at(secret, counter).as_bytes().ct_eq(code.as_bytes())) {
            matched = Some(step);
        }
    }
    matched.filter(|step| last_used.is_none_or(|last| *step > last))
}

/// RFC 4648 base32 without padding, as authenticator apps expect secrets.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1 column (8 digits there; the last 6 here).
    #[test]
    fn rfc_6238_vectors() {
        let secret = b"12345678901234567890";
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(code_at(secret, time / 30), code, "at {time}");
        }
    }

    #[test]
    fn one_step_of_drift_is_allowed_and_replays_are_not() {
        let secret = b"12345678901234567890";
        let t = 1_111_111_111;
        let code = code_at(secret, (t / 30) as u64);
        assert_eq!(verify(secret, &code, t, None), Some(t / 30));
        assert_eq!(verify(secret, &code, t + 30, None), Some(t / 30));
        assert_eq!(verify(secret, &code, t - 30, None), Some(t / 30));
        assert_eq!(verify(secret, &code, t + 60, None), None);
        assert_eq!(verify(secret, &code, t, Some(t / 30)), None, "replayed");
        assert_eq!(verify(secret, "12345", t, None), None);
        assert_eq!(verify(secret, "abcdef", t, None), None);
    }

    #[test]
    fn base32_matches_rfc_4648() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(
            base32(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
    }
}
