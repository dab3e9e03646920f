//! Our SRP against an independent Rust implementation of Cognito's client
//! side (the `aws-cognito-srp` crate) signing in against our server side, and
//! properties over random inputs. The fixed vectors made by AWS's own
//! JavaScript client are checked in tests/vectors.rs, natively and in the
//! browser.

#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

use aws_cognito_srp::{SrpClient, User};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ferry_srp::{ClientSession, N_HEX, PasswordVerifier, ServerChallenge, SrpError};
use proptest::prelude::*;

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
    #[test]
    fn hex_is_read_as_num_bigint_reads_it(text in "[0-9a-fA-F+_gx -]{0,6}") {
        let n = num_bigint::BigUint::parse_bytes(N_HEX.as_bytes(), 16).unwrap();
        let expected = match num_bigint::BigUint::parse_bytes(text.as_bytes(), 16) {
            None => Err(SrpError::Encoding("SRP_A", "hex")),
            Some(value) if (&value % &n).bits() == 0 => {
                Err(SrpError::ZeroPublicValue("A"))
            }
            Some(_) => Ok(()),
        };
        prop_assert_eq!(ServerChallenge::check_srp_a(&text), expected, "{:?}", text);
    }
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
