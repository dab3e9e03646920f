//! Our SRP against fixed vectors made by AWS's own JavaScript client
//! (tests/make_vectors.js), on both sides. These run natively with `cargo
//! test` and in headless Chromium with `--target wasm32-unknown-unknown`,
//! where the big numbers are JavaScript's `BigInt` instead of `num-bigint`:
//! both must give Cognito's results.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ferry_srp::{ClientSession, N_HEX, PasswordVerifier, ServerChallenge, SrpError};
use serde_json::Value;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test_configure!(run_in_browser);

fn hex_bytes(text: &str) -> Vec<u8> {
    let text = if text.len() % 2 == 1 {
        format!("0{text}")
    } else {
        text.to_owned()
    };
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn vectors() -> Vec<Value> {
    serde_json::from_str(include_str!("vectors.json")).unwrap()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap()
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn the_vectors_cover_the_padding_cases() {
    let vectors = vectors();
    for (a_top, salt_top) in [(true, true), (true, false), (false, true), (false, false)] {
        assert!(
            vectors
                .iter()
                .any(|v| v["aTopBitSet"] == a_top && v["saltTopBitSet"] == salt_top),
            "no vector with A top bit {a_top} and salt top bit {salt_top}"
        );
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn the_client_side_matches_amazon_cognito_identity_js() {
    for v in vectors() {
        let client = ClientSession::new(&hex_bytes(s(&v, "a"))).unwrap();
        assert_eq!(client.srp_a(), s(&v, "srpA"), "{}", s(&v, "name"));
        let key = client
            .password_key(
                s(&v, "poolName"),
                s(&v, "user"),
                s(&v, "password"),
                s(&v, "salt"),
                s(&v, "srpB"),
            )
            .unwrap();
        let key_hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(key_hex, s(&v, "key"), "{}", s(&v, "name"));
        let signature = client
            .password_claim(
                s(&v, "poolName"),
                s(&v, "user"),
                s(&v, "password"),
                s(&v, "salt"),
                s(&v, "srpB"),
                s(&v, "secretBlock"),
                s(&v, "timestamp"),
            )
            .unwrap();
        assert_eq!(signature, s(&v, "signature"), "{}", s(&v, "name"));
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn the_server_side_matches_and_accepts_the_js_clients_claims() {
    for v in vectors() {
        let verifier = PasswordVerifier::new(
            s(&v, "poolName"),
            s(&v, "user"),
            s(&v, "password"),
            &hex_bytes(s(&v, "salt")),
        );
        assert_eq!(
            verifier.verifier,
            hex_bytes(s(&v, "verifier")),
            "{}",
            s(&v, "name")
        );
        let server = ServerChallenge::new(&verifier, &hex_bytes(s(&v, "b"))).unwrap();
        assert_eq!(server.srp_b(), s(&v, "srpB"));
        assert_eq!(server.salt(), s(&v, "salt"));
        let secret = BASE64.decode(s(&v, "secretBlock")).unwrap();
        let verify = |user: &str, timestamp: &str, signature: &str| {
            server.verify_claim(
                s(&v, "srpA"),
                s(&v, "poolName"),
                user,
                &secret,
                timestamp,
                signature,
            )
        };
        assert_eq!(
            verify(s(&v, "user"), s(&v, "timestamp"), s(&v, "signature")),
            Ok(())
        );
        // The signature covers the user and the timestamp.
        assert_eq!(
            verify("mallory", s(&v, "timestamp"), s(&v, "signature")),
            Err(SrpError::BadClaim)
        );
        assert_eq!(
            verify(
                s(&v, "user"),
                "Tue Mar 3 09:05:08 UTC 2026",
                s(&v, "signature")
            ),
            Err(SrpError::BadClaim)
        );
        assert_eq!(
            verify(s(&v, "user"), s(&v, "timestamp"), "not base64!"),
            Err(SrpError::BadClaim)
        );
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn hex_is_read_as_num_bigint_reads_it() {
    // A leading `+` and `_` between digits are accepted, as `num-bigint`'s
    // parser accepts them; the browser's parser must agree.
    for fine in ["1", "+1", "1_0", "1_", "Ab", "+f_f"] {
        assert_eq!(ServerChallenge::check_srp_a(fine), Ok(()), "{fine}");
    }
    for bad in ["", "+", "++1", "_1", "+_1", "-1", "0x1", "g", " 1", "é"] {
        assert_eq!(
            ServerChallenge::check_srp_a(bad),
            Err(SrpError::Encoding("SRP_A", "hex")),
            "{bad:?}"
        );
    }
    for zero in ["0", "00", "+0_0", N_HEX, &N_HEX.to_lowercase()] {
        assert_eq!(
            ServerChallenge::check_srp_a(zero),
            Err(SrpError::ZeroPublicValue("A")),
            "{zero}"
        );
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test)]
fn salts_print_without_leading_zeros() {
    // A salt of zero bytes prints as "0", and one with leading zero bytes
    // without them, as `num-bigint` prints it.
    let verifier = PasswordVerifier::new("ferry", "alice", "pw", &[0; 16]);
    assert_eq!(verifier.salt, vec![0]);
    let server = ServerChallenge::new(&verifier, &[3; 128]).unwrap();
    assert_eq!(server.salt(), "0");
    let verifier = PasswordVerifier::new("ferry", "alice", "pw", &[0, 0, 1, 0xab]);
    assert_eq!(verifier.salt, vec![1, 0xab]);
    let server = ServerChallenge::new(&verifier, &[3; 128]).unwrap();
    assert_eq!(server.salt(), "1ab");
    // Both sides still agree with such a salt.
    let client = ClientSession::new(&[5; 128]).unwrap();
    let key = client
        .password_key("ferry", "alice", "pw", &server.salt(), &server.srp_b())
        .unwrap();
    assert_eq!(Ok(key), server.password_key(&client.srp_a()));
}
