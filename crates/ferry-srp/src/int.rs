//! The non-negative big integers SRP computes with, behind one small API.
//!
//! Natively an [`Int`] is `num-bigint`'s `BigUint`. In the browser it is
//! JavaScript's `BigInt` through `js-sys`: the engine multiplies and divides in
//! native code, so the web client ships without a big-number library of its
//! own. Both give the same results; the browser tests check that against the
//! vectors made by Cognito's own JavaScript client.
//!
//! Invariant: every value is non-negative, so subtraction is only ever asked
//! for a result that is not negative.

/// The hex digits of `text`, parsed by the rules of `num-bigint`'s
/// `BigUint::parse_bytes(text, 16)`: one optional leading `+`, then digits of
/// either case, with `_` allowed as a separator after the first digit.
/// Returns the number's big-endian bytes, or `None` for anything else.
pub(crate) fn hex_to_bytes(text: &str) -> Option<Vec<u8>> {
    let digits = match text.strip_prefix('+') {
        Some(tail) if !tail.starts_with('+') => tail,
        _ => text,
    };
    if digits.is_empty() || digits.starts_with('_') {
        return None;
    }
    let mut nibbles = Vec::with_capacity(digits.len() + 1);
    for byte in digits.bytes() {
        let nibble = match byte {
            b'_' => continue,
            _ => char::from(byte).to_digit(16)?,
        };
        // `to_digit(16)` gives at most 15, so this is exact.
        nibbles.push(nibble as u8);
    }
    if nibbles.len() % 2 == 1 {
        nibbles.insert(0, 0);
    }
    Some(
        nibbles
            .chunks_exact(2)
            .map(|pair| (pair[0] << 4) | pair[1])
            .collect(),
    )
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use num_bigint::BigUint;
    use num_traits::Zero;

    /// A non-negative integer of any size.
    #[derive(Clone)]
    pub(crate) struct Int(BigUint);

    impl Int {
        pub(crate) fn from_u32(value: u32) -> Self {
            Self(BigUint::from(value))
        }

        pub(crate) fn from_bytes_be(bytes: &[u8]) -> Self {
            Self(BigUint::from_bytes_be(bytes))
        }

        /// Big-endian bytes without leading zeros; zero is `[0]`.
        pub(crate) fn to_bytes_be(&self) -> Vec<u8> {
            self.0.to_bytes_be()
        }

        /// Lowercase hex without leading zeros; zero is `"0"`.
        pub(crate) fn to_hex(&self) -> String {
            self.0.to_str_radix(16)
        }

        pub(crate) fn is_zero(&self) -> bool {
            self.0.is_zero()
        }

        pub(crate) fn add(&self, other: &Self) -> Self {
            Self(&self.0 + &other.0)
        }

        /// `self - other`, which must not be negative.
        pub(crate) fn sub(&self, other: &Self) -> Self {
            Self(&self.0 - &other.0)
        }

        pub(crate) fn mul(&self, other: &Self) -> Self {
            Self(&self.0 * &other.0)
        }

        pub(crate) fn rem(&self, modulus: &Self) -> Self {
            Self(&self.0 % &modulus.0)
        }

        pub(crate) fn modpow(&self, exponent: &Self, modulus: &Self) -> Self {
            Self(self.0.modpow(&exponent.0, &modulus.0))
        }
    }
}

#[cfg(target_arch = "wasm32")]
mod browser {
    use super::hex_to_bytes;
    use js_sys::{BigInt, JsString};

    /// Lowercase hex of `bytes`, two digits a byte.
    fn bytes_to_hex(bytes: &[u8]) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(bytes.len() * 2);
        for byte in bytes {
            text.push(char::from(DIGITS[usize::from(byte >> 4)]));
            text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
        }
        text
    }

    /// A non-negative integer of any size, held by the JavaScript engine.
    #[derive(Clone)]
    pub(crate) struct Int(BigInt);

    impl Int {
        pub(crate) fn from_u32(value: u32) -> Self {
            Self(BigInt::from(value))
        }

        pub(crate) fn from_bytes_be(bytes: &[u8]) -> Self {
            if bytes.is_empty() {
                return Self::from_u32(0);
            }
            let mut literal = String::from("0x");
            literal.push_str(&bytes_to_hex(bytes));
            // `BigInt("0x…")` throws only for text that is not a number
            // literal, and this one is made of hex digits alone.
            Self(BigInt::new(&JsString::from(literal)).unwrap_or_else(|_| unreachable!()))
        }

        /// Big-endian bytes without leading zeros; zero is `[0]`.
        pub(crate) fn to_bytes_be(&self) -> Vec<u8> {
            // The engine's hex never has a sign or a separator, so it parses.
            hex_to_bytes(&self.to_hex()).unwrap_or_default()
        }

        /// Lowercase hex without leading zeros; zero is `"0"`.
        pub(crate) fn to_hex(&self) -> String {
            // `toString` throws only for a radix outside 2..=36.
            self.0
                .to_string(16)
                .map(String::from)
                .unwrap_or_else(|_| unreachable!())
        }

        pub(crate) fn is_zero(&self) -> bool {
            self.0 == 0u32
        }

        pub(crate) fn add(&self, other: &Self) -> Self {
            Self(&self.0 + &other.0)
        }

        /// `self - other`, which must not be negative.
        pub(crate) fn sub(&self, other: &Self) -> Self {
            Self(&self.0 - &other.0)
        }

        pub(crate) fn mul(&self, other: &Self) -> Self {
            Self(&self.0 * &other.0)
        }

        pub(crate) fn rem(&self, modulus: &Self) -> Self {
            Self(&self.0 % &modulus.0)
        }

        /// `self ^ exponent mod modulus` by square-and-multiply over the
        /// exponent's bits, most significant first. JavaScript has no modular
        /// power, and `**` would build the full power before reducing it.
        pub(crate) fn modpow(&self, exponent: &Self, modulus: &Self) -> Self {
            let base = self.rem(modulus);
            let mut result = Self::from_u32(1).rem(modulus);
            for byte in exponent.to_bytes_be() {
                for bit in (0..8).rev() {
                    result = result.mul(&result).rem(modulus);
                    if (byte >> bit) & 1 == 1 {
                        result = result.mul(&base).rem(modulus);
                    }
                }
            }
            result
        }
    }
}

#[cfg(target_arch = "wasm32")]
pub(crate) use browser::Int;
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use native::Int;
