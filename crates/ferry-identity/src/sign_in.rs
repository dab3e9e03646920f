//! Signing in with a password: SRP (`USER_SRP_AUTH`, then the
//! `PASSWORD_VERIFIER` challenge) or the password itself
//! (`USER_PASSWORD_AUTH`), as Cognito does both.
//!
//! An unknown name gets a challenge from a stand-in verifier and fails
//! exactly like a wrong password, after the same work; the throttle counts
//! names that are not users like users. What a right password leads to
//! (tokens, or a challenge) is `challenges`' business.

use crate::session::{PasswordChallenge, Pending, Session};
use crate::{CognitoError, Identity, random, str_param, throttle};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ferry_srp::{PasswordVerifier, ServerChallenge};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far a PASSWORD_VERIFIER TIMESTAMP may be from the server's clock.
const TIMESTAMP_SKEW_SECONDS: i64 = 5 * 60;

impl Identity {
    /// `InitiateAuth`: SRP's first step, a password sent as is, or a refresh
    /// token.
    pub(crate) fn initiate_auth(
        &self,
        body: &Value,
        address: Option<std::net::IpAddr>,
    ) -> Result<Value, CognitoError> {
        let client_id = self.client_of(body)?;
        let flow = str_param(body, "AuthFlow")?;
        let params = body
            .get("AuthParameters")
            .cloned()
            .unwrap_or_else(|| json!({}));
        match flow {
            "USER_SRP_AUTH" => {
                let username = str_param(&params, "USERNAME")?;
                let srp_a = str_param(&params, "SRP_A")?;
                self.throttle_check(username, address)?;
                let user = self.store.get(username)?;
                let (verifier, known) = match &user {
                    Some(user) => (user.verifier.clone(), true),
                    None => (self.decoy_verifier(username), false),
                };
                // A ≡ 0 mod N is refused before any challenge is handed out.
                ServerChallenge::check_srp_a(srp_a)
                    .map_err(|_| CognitoError::invalid("Invalid SRP_A."))?;
                let challenge =
                    ServerChallenge::new(&verifier, &random::<{ ferry_srp::EXPONENT_BYTES }>())
                        .map_err(|e| CognitoError::internal(e.into()))?;
                let secret_block = random::<64>().to_vec();
                let block = B64.encode(&secret_block);
                let parameters = json!({
                    "SALT": challenge.salt(),
                    "SRP_B": challenge.srp_b(),
                    "SECRET_BLOCK": block,
                    "USER_ID_FOR_SRP": username,
                    "USERNAME": username,
                });
                // As on AWS, the challenge is bound to its SECRET_BLOCK (the
                // answer carries it back) and the answer has no Session.
                self.keep_session(
                    block,
                    Session {
                        username: username.to_owned(),
                        client_id: client_id.to_owned(),
                        created: self.clock.unix(),
                        pending: Pending::PasswordVerifier(PasswordChallenge {
                            challenge: Box::new(challenge),
                            srp_a: srp_a.to_owned(),
                            secret_block,
                            known,
                        }),
                    },
                );
                Ok(json!({
                    "ChallengeName": "PASSWORD_VERIFIER",
                    "ChallengeParameters": parameters,
                }))
            }
            "USER_PASSWORD_AUTH" => {
                let username = str_param(&params, "USERNAME")?;
                let password = str_param(&params, "PASSWORD")?;
                self.throttle_check(username, address)?;
                let user = self.store.get(username)?;
                let stored = user
                    .as_ref()
                    .map_or_else(|| self.decoy_verifier(username), |u| u.verifier.clone());
                let typed =
                    PasswordVerifier::new(self.pool_name(), username, password, &stored.salt);
                let matches = bool::from(typed.verifier.ct_eq(&stored.verifier));
                let result = match user {
                    Some(user) if matches => self.after_password(&user, client_id),
                    _ => Err(CognitoError::wrong_credentials()),
                };
                self.password_outcome(username, address, result)
            }
            "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => self.refresh_auth(&params, client_id),
            other => Err(CognitoError::invalid(format!(
                "Unsupported AuthFlow {other}"
            ))),
        }
    }

    /// The answer to SRP's challenge: the password claim, checked against
    /// the challenge it names (by its SECRET_BLOCK or its session).
    pub(crate) fn password_verifier(
        &self,
        username: &str,
        client_id: &str,
        responses: &Value,
        address: Option<std::net::IpAddr>,
        pending: PasswordChallenge,
    ) -> Result<Value, CognitoError> {
        let PasswordChallenge {
            challenge,
            srp_a,
            secret_block,
            known,
        } = pending;
        let given_block = B64
            .decode(str_param(responses, "PASSWORD_CLAIM_SECRET_BLOCK")?)
            .unwrap_or_default();
        let timestamp = str_param(responses, "TIMESTAMP")?;
        let signature = str_param(responses, "PASSWORD_CLAIM_SIGNATURE")?;
        let stamped = ferry_srp::parse_timestamp(timestamp)
            .ok_or_else(|| CognitoError::invalid("TIMESTAMP is not in the expected format."))?;
        if (stamped.unix_timestamp() - self.clock.unix()).abs() > TIMESTAMP_SKEW_SECONDS {
            return Err(CognitoError::not_authorized(
                "TIMESTAMP is too far from the current time.",
            ));
        }
        self.throttle_check(username, address)?;
        let block_ok = bool::from(given_block.ct_eq(&secret_block));
        let proof = challenge.verify_claim(
            &srp_a,
            self.pool_name(),
            username,
            &secret_block,
            timestamp,
            signature,
        );
        let user = self.store.get(username)?;
        let result = match user {
            Some(user) if known && block_ok && proof.is_ok() => {
                self.after_password(&user, client_id)
            }
            _ => Err(CognitoError::wrong_credentials()),
        };
        self.password_outcome(username, address, result)
    }
    /// A verifier for a name that is not a user: stable per name, so asking
    /// twice looks the same, useless without `decoy_key`, and made without a
    /// modular exponentiation, so an unknown name costs no more time than a
    /// known one (whose verifier is read from the database).
    fn decoy_verifier(&self, username: &str) -> PasswordVerifier {
        let block = |counter: u8| {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.decoy_key)
                .unwrap_or_else(|_| unreachable!());
            mac.update(&[counter]);
            mac.update(username.as_bytes());
            mac.finalize().into_bytes()
        };
        // 12 blocks = 384 bytes; dropping the first byte keeps it below N.
        let verifier: Vec<u8> = (1..=12).flat_map(block).skip(1).collect();
        PasswordVerifier {
            salt: block(0)[..16].to_vec(),
            verifier,
        }
    }

    /// Refuses a sign-in while its name is locked or its address throttled.
    pub(crate) fn throttle_check(
        &self,
        username: &str,
        address: Option<std::net::IpAddr>,
    ) -> Result<(), CognitoError> {
        self.throttle
            .check(username, address, self.clock.unix())
            .map_err(|refusal| match refusal {
                throttle::Refusal::NameLocked => {
                    CognitoError::not_authorized("Password attempts exceeded")
                }
                throttle::Refusal::AddressThrottled => CognitoError::new(
                    "TooManyRequestsException",
                    "Too many requests. Try again later.",
                ),
            })
    }

    /// Records the outcome of a password check for throttling.
    pub(crate) fn password_outcome(
        &self,
        username: &str,
        address: Option<std::net::IpAddr>,
        result: Result<Value, CognitoError>,
    ) -> Result<Value, CognitoError> {
        match &result {
            Err(e)
                if e.kind == "NotAuthorizedException"
                    && e.message == "Incorrect username or password." =>
            {
                self.throttle.failed(username, address, self.clock.unix());
            }
            Ok(_) => self.throttle.succeeded(username),
            Err(_) => {}
        }
        result
    }
}
