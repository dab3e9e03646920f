//! Our SRP against Cognito's: fixed vectors made by AWS's own JavaScript
//! client (tests/make_vectors.js), and an independent Rust implementation of
//! Cognito's client side (the `aws-cognito-srp` crate) signing in against our
//! server side.

#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

use aws_cognito_srp::{SrpClient, User};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ferry_srp::{ClientSession, N_HEX, PasswordVerifier, ServerChallenge, SrpError};
use proptest::prelude::*;
use serde_json::Value;

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

#[test]
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

#[test]
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

#[test]
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

fn sign_in_with_aws_cognito_srp(
    password_known_to_server: &str,
    password_typed: &str,
) -> Result<(), SrpError> {
    let client = SrpClient::new(
        User::new("local-1_ferry", "alice", password_typed),
        "ferryweb",
        None,
    );
    let auth = client.get_auth_parameters();
    let verifier = PasswordVerifier::new("ferry", "alice", password_known_to_server, &[0x9a; 16]);
    let server = ServerChallenge::new(&verifier, &[0x5c; 128]).unwrap();
    let secret = vec![7u8; 48];
    let secret_b64 = BASE64.encode(&secret);
    let answer = client
        .verify(&secret_b64, "alice", &server.salt(), &server.srp_b())
        .unwrap();
    assert_eq!(answer.password_claim_secret_block, secret_b64);
    // Its timestamp comes from its own clock, in Cognito's format.
    assert!(
        ferry_srp::parse_timestamp(&answer.timestamp).is_some(),
        "{}",
        answer.timestamp
    );
    server.verify_claim(
        &auth.a,
        "ferry",
        "alice",
        &secret,
        &answer.timestamp,
        &answer.password_claim_signature,
    )
}

#[test]
fn an_independent_cognito_client_signs_in_against_our_server_side() {
    assert_eq!(
        sign_in_with_aws_cognito_srp("Correct-Horse-1!", "Correct-Horse-1!"),
        Ok(())
    );
    assert_eq!(
        sign_in_with_aws_cognito_srp("Correct-Horse-1!", "correct-horse-1!"),
        Err(SrpError::BadClaim)
    );
}

#[test]
fn public_values_that_are_zero_mod_n_are_refused() {
    let verifier = PasswordVerifier::new("ferry", "alice", "pw", &[1; 16]);
    let server = ServerChallenge::new(&verifier, &[3; 128]).unwrap();
    let n = num_bigint::BigUint::parse_bytes(N_HEX.as_bytes(), 16).unwrap();
    let two_n = (&n + &n).to_str_radix(16);
    for zero in ["0", "00", N_HEX, &two_n] {
        assert_eq!(
            server.password_key(zero),
            Err(SrpError::ZeroPublicValue("A")),
            "{zero}"
        );
        let client = ClientSession::new(&[3; 128]).unwrap();
        assert_eq!(
            client.password_key("ferry", "alice", "pw", "01", zero),
            Err(SrpError::ZeroPublicValue("B")),
            "{zero}"
        );
    }
    assert_eq!(
        server.password_key("xyz"),
        Err(SrpError::Encoding("SRP_A", "hex"))
    );
    assert_eq!(
        ClientSession::new(&[1; 16]).unwrap_err(),
        SrpError::NotEnoughRandomness("a", 128)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn both_sides_derive_the_same_key(
        user in "[a-zA-Z0-9@._-]{1,32}",
        password in "\\PC{1,40}",
        a in proptest::collection::vec(any::<u8>(), 128),
        b in proptest::collection::vec(any::<u8>(), 128),
        salt in proptest::collection::vec(any::<u8>(), 16),
    ) {
        let client = ClientSession::new(&a).unwrap();
        let verifier = PasswordVerifier::new("ferry", &user, &password, &salt);
        let server = ServerChallenge::new(&verifier, &b).unwrap();
        let client_key = client.password_key("ferry", &user, &password, &server.salt(), &server.srp_b()).unwrap();
        prop_assert_eq!(client_key, server.password_key(&client.srp_a()).unwrap());
        let wrong = client.password_key("ferry", &user, &format!("{password}x"), &server.salt(), &server.srp_b()).unwrap();
        prop_assert_ne!(wrong, client_key);
    }
}
