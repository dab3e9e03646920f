//! SRP-6a as Amazon Cognito user pools do it, both sides.
//!
//! The browser proves it knows the password without sending it
//! ([`ClientSession`]); the identity provider checks the proof against a
//! salt and verifier stored in place of the password ([`PasswordVerifier`],
//! [`ServerChallenge`]). The arithmetic follows Cognito's own client
//! (amazon-cognito-identity-js), which differs from RFC 5054 in how `k`, `x`
//! and the session key are derived:
//!
//! - N is the 3072-bit prime of RFC 3526, g = 2;
//! - PAD(n) is n's big-endian bytes with a `00` byte in front when the top bit
//!   is set (a positive two's-complement number);
//! - k = H(PAD(N) ‖ PAD(g)), u = H(PAD(A) ‖ PAD(B)),
//!   x = H(PAD(salt) ‖ H(pool ‖ user ‖ ":" ‖ password));
//! - the key is HKDF-SHA256(salt = PAD(u), ikm = PAD(S), info = "Caldera Derived Key"), 16 bytes;
//! - the claim is HMAC-SHA256(key, pool ‖ user ‖ secret block ‖ timestamp), base64.
//!
//! Invariant: no IO, no clock and no randomness of its own: callers pass the
//! random bytes and the time, so every step is reproducible in tests and the
//! crate builds for `wasm32-unknown-unknown` unchanged. Only the big-number
//! arithmetic differs there: it runs on JavaScript's `BigInt` (see `int`), with
//! the same results.

mod int;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use int::Int;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The 3072-bit safe prime of RFC 3526 §4, in hex.
pub const N_HEX: &str = "\
FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74\
020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437\
4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED\
EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05\
98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB\
9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B\
E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718\
3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33\
A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7\
ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864\
D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2\
08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF";

/// The length of the random exponents `a` and `b`, in bytes (as Cognito's client uses).
pub const EXPONENT_BYTES: usize = 128;
/// The length of a fresh salt, in bytes.
pub const SALT_BYTES: usize = 16;

struct Group {
    n: Int,
    g: Int,
    k: Int,
}

impl Group {
    fn new() -> Self {
        let n = Int::from_bytes_be(&int::hex_to_bytes(N_HEX).unwrap_or_default());
        let g = Int::from_u32(2);
        let k = hash_to_int(&[&pad(&n), &pad(&g)]);
        Self { n, g, k }
    }
}

thread_local! {
    // Per thread rather than one static: in the browser the numbers live in
    // the JavaScript engine, whose values can't be shared between threads.
    static GROUP: Group = Group::new();
}

/// Runs `f` with the group's N, g and k.
fn with_group<R>(f: impl FnOnce(&Group) -> R) -> R {
    GROUP.with(f)
}

/// Why an SRP step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SrpError {
    /// A public value is ≡ 0 mod N, which would let an attacker fix the key.
    #[error("the public value {0} is zero modulo N")]
    ZeroPublicValue(&'static str),
    /// The scrambling parameter u came out zero.
    #[error("the scrambling parameter u is zero")]
    ZeroScrambler,
    /// A hex or base64 parameter could not be decoded.
    #[error("{0} is not valid {1}")]
    Encoding(&'static str, &'static str),
    /// Too few random bytes were given.
    #[error("{0} needs at least {1} random bytes")]
    NotEnoughRandomness(&'static str, usize),
    /// The password claim's signature does not match.
    #[error("the password claim does not match")]
    BadClaim,
}

/// PAD(n): big-endian bytes, with `00` prepended when the top bit is set.
fn pad(value: &Int) -> Vec<u8> {
    let mut bytes = value.to_bytes_be();
    if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        bytes.insert(0, 0);
    }
    bytes
}

fn parse_hex(name: &'static str, text: &str) -> Result<Int, SrpError> {
    let bytes = int::hex_to_bytes(text).ok_or(SrpError::Encoding(name, "hex"))?;
    Ok(Int::from_bytes_be(&bytes))
}

fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

fn hash_to_int(parts: &[&[u8]]) -> Int {
    Int::from_bytes_be(&hash(parts))
}

/// x = H(PAD(salt) ‖ H(pool ‖ user ‖ ":" ‖ password)).
fn private_key(pool_name: &str, user_id: &str, password: &str, salt: &Int) -> Int {
    let identity = hash(&[
        pool_name.as_bytes(),
        user_id.as_bytes(),
        b":",
        password.as_bytes(),
    ]);
    hash_to_int(&[&pad(salt), &identity])
}

fn scrambler(big_a: &Int, big_b: &Int) -> Result<Int, SrpError> {
    let u = hash_to_int(&[&pad(big_a), &pad(big_b)]);
    if u.is_zero() {
        return Err(SrpError::ZeroScrambler);
    }
    Ok(u)
}

/// HKDF-SHA256(salt = PAD(u), ikm = PAD(S), info = "Caldera Derived Key"), 16 bytes.
fn session_key(s: &Int, u: &Int) -> [u8; 16] {
    let hkdf = hkdf::Hkdf::<Sha256>::new(Some(&pad(u)), &pad(s));
    let mut key = [0u8; 16];
    // 16 bytes is far below HKDF-SHA256's limit of 255 × 32.
    let _ = hkdf.expand(b"Caldera Derived Key", &mut key);
    key
}

fn claim_signature(
    key: &[u8; 16],
    pool_name: &str,
    user_id: &str,
    secret_block: &[u8],
    timestamp: &str,
) -> [u8; 32] {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(pool_name.as_bytes());
    mac.update(user_id.as_bytes());
    mac.update(secret_block);
    mac.update(timestamp.as_bytes());
    mac.finalize().into_bytes().into()
}

fn exponent(name: &'static str, random: &[u8], group: &Group) -> Result<Int, SrpError> {
    if random.len() < EXPONENT_BYTES {
        return Err(SrpError::NotEnoughRandomness(name, EXPONENT_BYTES));
    }
    Ok(Int::from_bytes_be(random).rem(&group.n))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Cognito's TIMESTAMP: `Tue Mar 3 09:05:07 UTC 2026`, in UTC, the day of the
/// month not padded.
pub fn timestamp(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    format!(
        "{} {} {} {:02}:{:02}:{:02} UTC {}",
        DAYS[usize::from(at.weekday().number_days_from_monday())],
        MONTHS[usize::from(u8::from(at.month()) - 1)],
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.year()
    )
}

/// Parses a Cognito TIMESTAMP back into a time, for the server's clock-skew check.
pub fn parse_timestamp(text: &str) -> Option<time::OffsetDateTime> {
    let mut parts = text.split(' ');
    let _weekday = parts.next()?;
    let month_name = parts.next()?;
    let month = MONTHS.iter().position(|m| *m == month_name)?;
    let day: u8 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':').map(|p| p.parse::<u8>().ok());
    let (hour, minute, second) = (clock.next()??, clock.next()??, clock.next()??);
    if parts.next()? != "UTC" {
        return None;
    }
    let year: i32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    let month = time::Month::try_from(u8::try_from(month + 1).ok()?).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let clock = time::Time::from_hms(hour, minute, second).ok()?;
    let parsed = time::PrimitiveDateTime::new(date, clock).assume_utc();
    // The weekday must agree, as Cognito's format always writes it right.
    (timestamp(parsed) == text).then_some(parsed)
}

/// The browser's side of one sign-in.
#[derive(Clone)]
pub struct ClientSession {
    a: Int,
    big_a: Int,
}

impl std::fmt::Debug for ClientSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `a` is secret.
        f.debug_struct("ClientSession")
            .field("srp_a", &self.srp_a())
            .finish_non_exhaustive()
    }
}

impl ClientSession {
    /// Starts a sign-in from [`EXPONENT_BYTES`] fresh random bytes.
    pub fn new(random: &[u8]) -> Result<Self, SrpError> {
        with_group(|group| {
            let a = exponent("a", random, group)?;
            let big_a = group.g.modpow(&a, &group.n);
            if big_a.rem(&group.n).is_zero() {
                return Err(SrpError::ZeroPublicValue("A"));
            }
            Ok(Self { a, big_a })
        })
    }

    /// SRP_A as Cognito's client sends it: hex, not padded.
    pub fn srp_a(&self) -> String {
        self.big_a.to_hex()
    }

    /// The 16-byte key both sides derive.
    pub fn password_key(
        &self,
        pool_name: &str,
        user_id: &str,
        password: &str,
        salt_hex: &str,
        srp_b_hex: &str,
    ) -> Result<[u8; 16], SrpError> {
        with_group(|group| {
            let n = &group.n;
            let big_b = parse_hex("SRP_B", srp_b_hex)?;
            if big_b.rem(n).is_zero() {
                return Err(SrpError::ZeroPublicValue("B"));
            }
            let salt = parse_hex("SALT", salt_hex)?;
            let u = scrambler(&self.big_a, &big_b)?;
            let x = private_key(pool_name, user_id, password, &salt);
            let kgx = group.k.mul(&group.g.modpow(&x, n)).rem(n);
            let base = big_b.rem(n).add(n).sub(&kgx).rem(n);
            let s = base.modpow(&self.a.add(&u.mul(&x)), n);
            Ok(session_key(&s, &u))
        })
    }

    /// PASSWORD_CLAIM_SIGNATURE for the `PASSWORD_VERIFIER` challenge.
    #[allow(clippy::too_many_arguments)]
    pub fn password_claim(
        &self,
        pool_name: &str,
        user_id: &str,
        password: &str,
        salt_hex: &str,
        srp_b_hex: &str,
        secret_block_b64: &str,
        timestamp: &str,
    ) -> Result<String, SrpError> {
        let key = self.password_key(pool_name, user_id, password, salt_hex, srp_b_hex)?;
        let secret_block = BASE64
            .decode(secret_block_b64)
            .map_err(|_| SrpError::Encoding("SECRET_BLOCK", "base64"))?;
        let signature = claim_signature(&key, pool_name, user_id, &secret_block, timestamp);
        Ok(BASE64.encode(signature))
    }
}

/// What the identity provider stores in place of a password.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordVerifier {
    /// The salt, big-endian.
    pub salt: Vec<u8>,
    /// v = g^x mod N, big-endian.
    pub verifier: Vec<u8>,
}

impl std::fmt::Debug for PasswordVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordVerifier { .. }")
    }
}

impl PasswordVerifier {
    /// The salt and verifier for `password`, from [`SALT_BYTES`] fresh random bytes.
    pub fn new(pool_name: &str, user_id: &str, password: &str, salt: &[u8]) -> Self {
        let salt_int = Int::from_bytes_be(salt);
        let x = private_key(pool_name, user_id, password, &salt_int);
        let v = with_group(|group| group.g.modpow(&x, &group.n));
        Self {
            salt: salt_int.to_bytes_be(),
            verifier: v.to_bytes_be(),
        }
    }
}

/// The identity provider's side of one sign-in.
#[derive(Clone)]
pub struct ServerChallenge {
    b: Int,
    big_b: Int,
    v: Int,
    salt: Int,
}

impl std::fmt::Debug for ServerChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerChallenge")
            .field("srp_b", &self.srp_b())
            .finish_non_exhaustive()
    }
}

impl ServerChallenge {
    /// Answers a client's SRP_A: B = (k·v + g^b) mod N from fresh random `b`.
    pub fn new(verifier: &PasswordVerifier, random: &[u8]) -> Result<Self, SrpError> {
        with_group(|group| {
            let n = &group.n;
            let b = exponent("b", random, group)?;
            let v = Int::from_bytes_be(&verifier.verifier);
            let big_b = group.k.mul(&v).add(&group.g.modpow(&b, n)).rem(n);
            if big_b.is_zero() {
                return Err(SrpError::ZeroPublicValue("B"));
            }
            Ok(Self {
                b,
                big_b,
                v,
                salt: Int::from_bytes_be(&verifier.salt),
            })
        })
    }

    /// SRP_B, hex.
    pub fn srp_b(&self) -> String {
        self.big_b.to_hex()
    }

    /// SALT, hex.
    pub fn salt(&self) -> String {
        self.salt.to_hex()
    }

    /// Checks a client's SRP_A without deriving the key: valid hex and not
    /// ≡ 0 mod N. Cheap, so it can run before a challenge is handed out.
    pub fn check_srp_a(srp_a_hex: &str) -> Result<(), SrpError> {
        let big_a = parse_hex("SRP_A", srp_a_hex)?;
        if with_group(|group| big_a.rem(&group.n).is_zero()) {
            return Err(SrpError::ZeroPublicValue("A"));
        }
        Ok(())
    }

    /// The 16-byte key, from the client's SRP_A.
    pub fn password_key(&self, srp_a_hex: &str) -> Result<[u8; 16], SrpError> {
        let big_a = parse_hex("SRP_A", srp_a_hex)?;
        with_group(|group| {
            let n = &group.n;
            if big_a.rem(n).is_zero() {
                return Err(SrpError::ZeroPublicValue("A"));
            }
            let u = scrambler(&big_a, &self.big_b)?;
            let s = big_a.rem(n).mul(&self.v.modpow(&u, n)).modpow(&self.b, n);
            Ok(session_key(&s, &u))
        })
    }

    /// Checks PASSWORD_CLAIM_SIGNATURE in constant time.
    pub fn verify_claim(
        &self,
        srp_a_hex: &str,
        pool_name: &str,
        user_id: &str,
        secret_block: &[u8],
        timestamp: &str,
        signature_b64: &str,
    ) -> Result<(), SrpError> {
        let key = self.password_key(srp_a_hex)?;
        let expected = claim_signature(&key, pool_name, user_id, secret_block, timestamp);
        let given = BASE64
            .decode(signature_b64)
            .map_err(|_| SrpError::BadClaim)?;
        if bool::from(given.ct_eq(&expected)) {
            Ok(())
        } else {
            Err(SrpError::BadClaim)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pad_hex(value: &Int) -> String {
        pad(value).iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn pad_adds_a_zero_byte_only_when_the_top_bit_is_set() {
        assert_eq!(pad_hex(&Int::from_u32(0x7f)), "7f");
        assert_eq!(pad_hex(&Int::from_u32(0x80)), "0080");
        assert_eq!(pad_hex(&Int::from_u32(0xf)), "0f");
        assert_eq!(pad_hex(&Int::from_u32(0x1ff)), "01ff");
        assert_eq!(pad_hex(&Int::from_u32(0)), "00");
        // N's top bit is set, so PAD(N) starts with 00.
        assert!(with_group(|group| pad_hex(&group.n)).starts_with("00ffffffff"));
    }

    #[test]
    fn the_timestamp_does_not_pad_the_day() {
        let at = time::macros::datetime!(2026-03-03 09:05:07 UTC);
        assert_eq!(timestamp(at), "Tue Mar 3 09:05:07 UTC 2026");
        let at = time::macros::datetime!(2026-11-26 23:59:09 +02:00);
        assert_eq!(timestamp(at), "Thu Nov 26 21:59:09 UTC 2026");
        assert_eq!(
            parse_timestamp("Tue Mar 3 09:05:07 UTC 2026"),
            Some(time::macros::datetime!(2026-03-03 09:05:07 UTC))
        );
        assert_eq!(
            parse_timestamp("Wed Mar 3 09:05:07 UTC 2026"),
            None,
            "wrong weekday"
        );
        assert_eq!(
            parse_timestamp("Tue Mar 03 09:05:07 UTC 2026"),
            None,
            "padded day"
        );
        assert_eq!(parse_timestamp("garbage"), None);
    }
}
