//! The identity provider's security rules, through its router without a socket.

#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

mod common;

use axum::body::Body;
use axum::http::Request;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use common::{LOCAL_CLIENT_ID, LOCAL_POOL_ID};
use ferry_core::clock::{Clock, ManualClock};
use ferry_identity::{Identity, MfaConfiguration, totp};
use ferry_srp::ClientSession;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

struct Pool {
    identity: Arc<Identity>,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

const PASSWORD: &str = "Correct-Horse-1";

fn pool() -> Pool {
    pool_with(MfaConfiguration::Optional)
}

fn pool_with(mfa: MfaConfiguration) -> Pool {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(
        time::OffsetDateTime::now_utc().unix_timestamp(),
    ));
    let mut settings = common::settings("http://127.0.0.1:9");
    settings.mfa = mfa;
    let identity = common::open(settings, &dir.path().join("data"), clock.clone());
    identity
        .create_user("alice", PASSWORD, Some("alice@example.com".into()), false)
        .unwrap();
    Pool {
        identity,
        clock,
        _dir: dir,
    }
}

impl Pool {
    async fn call(&self, operation: &str, body: Value) -> (u16, Value) {
        self.raw(operation, body.to_string()).await
    }

    async fn raw(&self, operation: &str, body: String) -> (u16, Value) {
        let request = Request::post("/")
            .header("content-type", "application/x-amz-json-1.1")
            .header(
                "x-amz-target",
                format!("AWSCognitoIdentityProviderService.{operation}"),
            )
            .body(Body::from(body))
            .unwrap();
        let response = common::app(&self.identity).oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn initiate(&self, user: &str, client: &ClientSession) -> (u16, Value) {
        self.call(
            "InitiateAuth",
            json!({"AuthFlow": "USER_SRP_AUTH", "ClientId": LOCAL_CLIENT_ID,
                   "AuthParameters": {"USERNAME": user, "SRP_A": client.srp_a()}}),
        )
        .await
    }

    fn claim(
        &self,
        client: &ClientSession,
        challenge: &Value,
        password: &str,
        timestamp: &str,
    ) -> Value {
        let p = &challenge["ChallengeParameters"];
        let s = |k: &str| p[k].as_str().unwrap().to_owned();
        let signature = client
            .password_claim(
                "ferry",
                &s("USER_ID_FOR_SRP"),
                password,
                &s("SALT"),
                &s("SRP_B"),
                &s("SECRET_BLOCK"),
                timestamp,
            )
            .unwrap();
        // No Session: AWS answers USER_SRP_AUTH without one, and its API
        // takes PASSWORD_VERIFIER's answer without one.
        json!({"ChallengeName": "PASSWORD_VERIFIER", "ClientId": LOCAL_CLIENT_ID,
               "ChallengeResponses": {"USERNAME": s("USERNAME"), "PASSWORD_CLAIM_SECRET_BLOCK": s("SECRET_BLOCK"),
                                      "TIMESTAMP": timestamp, "PASSWORD_CLAIM_SIGNATURE": signature}})
    }

    fn now_stamp(&self) -> String {
        ferry_srp::timestamp(self.clock.now())
    }

    async fn sign_in(&self, user: &str, password: &str) -> (u16, Value) {
        let client = ClientSession::new(&[0x42; 128]).unwrap();
        let (status, challenge) = self.initiate(user, &client).await;
        assert_eq!(status, 200, "{challenge}");
        let claim = self.claim(&client, &challenge, password, &self.now_stamp());
        self.call("RespondToAuthChallenge", claim).await
    }

    async fn refresh(&self, token: &Value) -> (u16, Value) {
        self.call(
            "InitiateAuth",
            json!({"AuthFlow": "REFRESH_TOKEN_AUTH", "ClientId": LOCAL_CLIENT_ID,
                   "AuthParameters": {"REFRESH_TOKEN": token}}),
        )
        .await
    }
}

fn error_of(body: &Value) -> (&str, &str) {
    (
        body["__type"].as_str().unwrap_or_default(),
        body["message"].as_str().unwrap_or_default(),
    )
}

#[tokio::test]
async fn srp_sign_in_issues_tokens() {
    let pool = pool();
    let (status, body) = pool.sign_in("alice", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let result = &body["AuthenticationResult"];
    assert_eq!(result["TokenType"], "Bearer");
    assert_eq!(result["ExpiresIn"], 3600);
    let (status, user) = pool
        .call("GetUser", json!({"AccessToken": result["AccessToken"]}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(user["Username"], "alice");
}

#[tokio::test]
async fn an_unknown_user_and_a_wrong_password_get_the_same_answer() {
    let pool = pool();
    let wrong = pool.sign_in("alice", "Wrong-Horse-1").await;
    let unknown = pool.sign_in("mallory", PASSWORD).await;
    assert_eq!(wrong.0, 400);
    assert_eq!(wrong, unknown);
    assert_eq!(
        error_of(&wrong.1),
        ("NotAuthorizedException", "Incorrect username or password.")
    );
    // The challenge for an unknown name looks like a real one, and is stable.
    let client = ClientSession::new(&[1; 128]).unwrap();
    let (status, first) = pool.initiate("mallory", &client).await;
    let (_, second) = pool.initiate("mallory", &client).await;
    assert_eq!(status, 200);
    assert_eq!(
        first["ChallengeParameters"]["SALT"],
        second["ChallengeParameters"]["SALT"]
    );
    assert_eq!(first["ChallengeName"], "PASSWORD_VERIFIER");
}

/// As on AWS: the PASSWORD_VERIFIER challenge names the user both ways and
/// carries no Session; the answer is bound by its SECRET_BLOCK, which must
/// be the one handed out, to this user and this app client.
#[tokio::test]
async fn the_password_verifier_is_bound_by_its_secret_block_not_a_session() {
    let pool = pool();
    let client = ClientSession::new(&[7; 128]).unwrap();
    let (status, challenge) = pool.initiate("alice", &client).await;
    assert_eq!(status, 200, "{challenge}");
    assert!(challenge.get("Session").is_none(), "{challenge}");
    let parameters = &challenge["ChallengeParameters"];
    assert_eq!(parameters["USERNAME"], "alice");
    assert_eq!(parameters["USER_ID_FOR_SRP"], "alice");

    // Another app client can't answer it.
    let mut elsewhere = pool.claim(&client, &challenge, PASSWORD, &pool.now_stamp());
    elsewhere["ClientId"] = json!("someone-else");
    assert_eq!(pool.call("RespondToAuthChallenge", elsewhere).await.0, 400);

    // A made-up secret block names no challenge.
    let (_, challenge) = pool.initiate("alice", &client).await;
    let mut forged = pool.claim(&client, &challenge, PASSWORD, &pool.now_stamp());
    forged["ChallengeResponses"]["PASSWORD_CLAIM_SECRET_BLOCK"] = json!("bm90IGEgYmxvY2s=");
    let (status, body) = pool.call("RespondToAuthChallenge", forged).await;
    assert_eq!(status, 400);
    assert_eq!(error_of(&body).0, "NotAuthorizedException");

    // The real answer signs in, once.
    let claim = pool.claim(&client, &challenge, PASSWORD, &pool.now_stamp());
    let (status, body) = pool.call("RespondToAuthChallenge", claim.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["AuthenticationResult"]["AccessToken"].is_string());
    assert_eq!(pool.call("RespondToAuthChallenge", claim).await.0, 400);

    // Another challenge (NEW_PASSWORD_REQUIRED, MFA) still needs its Session.
    let (status, body) = pool
        .call(
            "RespondToAuthChallenge",
            json!({"ChallengeName": "SOFTWARE_TOKEN_MFA", "ClientId": LOCAL_CLIENT_ID,
                   "ChallengeResponses": {"USERNAME": "alice", "SOFTWARE_TOKEN_MFA_CODE": "123456"}}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(error_of(&body).1.contains("Session"), "{body}");
}

#[tokio::test]
async fn a_challenge_session_is_single_use() {
    let pool = pool();
    let client = ClientSession::new(&[2; 128]).unwrap();
    let (_, challenge) = pool.initiate("alice", &client).await;
    let claim = pool.claim(&client, &challenge, PASSWORD, &pool.now_stamp());
    assert_eq!(
        pool.call("RespondToAuthChallenge", claim.clone()).await.0,
        200
    );
    let (status, body) = pool.call("RespondToAuthChallenge", claim).await;
    assert_eq!(status, 400);
    assert_eq!(error_of(&body).0, "NotAuthorizedException");
    assert!(error_of(&body).1.contains("session"), "{body}");
}

#[tokio::test]
async fn a_challenge_session_expires_after_three_minutes() {
    let pool = pool();
    let client = ClientSession::new(&[3; 128]).unwrap();
    let (_, challenge) = pool.initiate("alice", &client).await;
    pool.clock.advance(181);
    let claim = pool.claim(&client, &challenge, PASSWORD, &pool.now_stamp());
    let (status, body) = pool.call("RespondToAuthChallenge", claim).await;
    assert_eq!(status, 400);
    assert!(error_of(&body).1.contains("session is expired"), "{body}");
}

#[tokio::test]
async fn a_timestamp_more_than_five_minutes_off_is_refused() {
    let pool = pool();
    for offset in [-301, 301] {
        let client = ClientSession::new(&[4; 128]).unwrap();
        let (_, challenge) = pool.initiate("alice", &client).await;
        let skewed = ferry_srp::timestamp(pool.clock.now() + time::Duration::seconds(offset));
        let (status, body) = pool
            .call(
                "RespondToAuthChallenge",
                pool.claim(&client, &challenge, PASSWORD, &skewed),
            )
            .await;
        assert_eq!(status, 400, "{offset}");
        assert!(error_of(&body).1.contains("TIMESTAMP"), "{body}");
    }
    // Within the window, it works.
    let client = ClientSession::new(&[4; 128]).unwrap();
    let (_, challenge) = pool.initiate("alice", &client).await;
    let close = ferry_srp::timestamp(pool.clock.now() - time::Duration::seconds(299));
    assert_eq!(
        pool.call(
            "RespondToAuthChallenge",
            pool.claim(&client, &challenge, PASSWORD, &close)
        )
        .await
        .0,
        200
    );
}

#[tokio::test]
async fn the_secret_block_is_bound_to_its_challenge() {
    let pool = pool();
    let client = ClientSession::new(&[5; 128]).unwrap();
    let (_, first) = pool.initiate("alice", &client).await;
    let (_, second) = pool.initiate("alice", &client).await;
    // A correct claim for the second challenge, sent with the first one's
    // secret block (which names the first challenge).
    let mut claim = pool.claim(&client, &second, PASSWORD, &pool.now_stamp());
    claim["ChallengeResponses"]["PASSWORD_CLAIM_SECRET_BLOCK"] =
        first["ChallengeParameters"]["SECRET_BLOCK"].clone();
    let (status, body) = pool.call("RespondToAuthChallenge", claim).await;
    assert_eq!(status, 400);
    assert_eq!(
        error_of(&body),
        ("NotAuthorizedException", "Incorrect username or password.")
    );
}

#[tokio::test]
async fn a_public_value_of_zero_mod_n_is_refused() {
    let pool = pool();
    for a in ["0", ferry_srp::N_HEX] {
        let (status, body) = pool
            .call(
                "InitiateAuth",
                json!({"AuthFlow": "USER_SRP_AUTH", "ClientId": LOCAL_CLIENT_ID,
                       "AuthParameters": {"USERNAME": "alice", "SRP_A": a}}),
            )
            .await;
        assert_eq!(status, 400);
        assert_eq!(error_of(&body).0, "InvalidParameterException");
    }
}

#[tokio::test]
async fn a_disabled_users_refresh_and_access_tokens_stop_working() {
    let pool = pool();
    let (_, body) = pool.sign_in("alice", PASSWORD).await;
    let tokens = &body["AuthenticationResult"];
    pool.clock.advance(1);
    pool.identity
        .store()
        .set_enabled("alice", false, pool.clock.unix())
        .unwrap();
    let (status, body) = pool.refresh(&tokens["RefreshToken"]).await;
    assert_eq!(status, 400);
    assert_eq!(error_of(&body).0, "NotAuthorizedException");
    let (status, _) = pool
        .call("GetUser", json!({"AccessToken": tokens["AccessToken"]}))
        .await;
    assert_eq!(status, 400);
    // And they can't sign in, even with the right password.
    let (_, body) = pool.sign_in("alice", PASSWORD).await;
    assert_eq!(
        error_of(&body),
        ("NotAuthorizedException", "User is disabled.")
    );
}

#[tokio::test]
async fn a_revoked_refresh_token_fails() {
    let pool = pool();
    let (_, body) = pool.sign_in("alice", PASSWORD).await;
    let refresh = body["AuthenticationResult"]["RefreshToken"].clone();
    assert_eq!(pool.refresh(&refresh).await.0, 200);
    let (status, _) = pool
        .call(
            "RevokeToken",
            json!({"Token": refresh, "ClientId": LOCAL_CLIENT_ID}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = pool.refresh(&refresh).await;
    assert_eq!(status, 400);
    assert_eq!(
        error_of(&body),
        ("NotAuthorizedException", "Refresh Token has been revoked")
    );
}

#[tokio::test]
async fn access_tokens_expire_and_forged_ones_are_refused() {
    let pool = pool();
    let (_, body) = pool.sign_in("alice", PASSWORD).await;
    let access = body["AuthenticationResult"]["AccessToken"]
        .as_str()
        .unwrap()
        .to_owned();

    // alg "none" with the same claims.
    let claims = access.split('.').nth(1).unwrap();
    let none = format!(
        "{}.{claims}.",
        B64URL.encode(r#"{"alg":"none","typ":"JWT"}"#)
    );
    let (status, body) = pool.call("GetUser", json!({"AccessToken": none})).await;
    assert_eq!((status, error_of(&body).1), (400, "Invalid Access Token"));

    // A changed claim breaks the signature.
    let mut decoded: Value = serde_json::from_slice(&B64URL.decode(claims).unwrap()).unwrap();
    decoded["username"] = json!("root");
    let parts: Vec<&str> = access.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        B64URL.encode(decoded.to_string()),
        parts[2]
    );
    let (status, _) = pool.call("GetUser", json!({"AccessToken": tampered})).await;
    assert_eq!(status, 400);

    pool.clock.advance(3601);
    let (status, body) = pool.call("GetUser", json!({"AccessToken": access})).await;
    assert_eq!(
        (status, error_of(&body).1),
        (400, "Access Token has expired")
    );
}

#[tokio::test]
async fn global_sign_out_revokes_access_and_refresh_tokens() {
    let pool = pool();
    let (_, body) = pool.sign_in("alice", PASSWORD).await;
    let tokens = body["AuthenticationResult"].clone();
    assert_eq!(
        pool.call(
            "GlobalSignOut",
            json!({"AccessToken": tokens["AccessToken"]})
        )
        .await
        .0,
        200
    );
    let (status, body) = pool
        .call("GetUser", json!({"AccessToken": tokens["AccessToken"]}))
        .await;
    assert_eq!(
        (status, error_of(&body).1),
        (400, "Access Token has been revoked")
    );
    assert_eq!(pool.refresh(&tokens["RefreshToken"]).await.0, 400);
    // A new sign-in (a later second) works again.
    pool.clock.advance(2);
    assert_eq!(pool.sign_in("alice", PASSWORD).await.0, 200);
}

#[tokio::test]
async fn password_sign_in_and_change_enforce_the_policy() {
    let pool = pool();
    let password_auth = |password: &str| {
        json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": LOCAL_CLIENT_ID,
               "AuthParameters": {"USERNAME": "alice", "PASSWORD": password}})
    };
    let (status, body) = pool.call("InitiateAuth", password_auth(PASSWORD)).await;
    assert_eq!(status, 200, "{body}");
    let access = body["AuthenticationResult"]["AccessToken"].clone();
    let (status, body) = pool
        .call("ChangePassword", json!({"AccessToken": access, "PreviousPassword": PASSWORD, "ProposedPassword": "weak"}))
        .await;
    assert_eq!(
        (status, error_of(&body).0),
        (400, "InvalidPasswordException")
    );
    let (status, body) = pool
        .call("ChangePassword", json!({"AccessToken": access, "PreviousPassword": "Not-The-1", "ProposedPassword": "Better-Pass-2"}))
        .await;
    assert_eq!((status, error_of(&body).0), (400, "NotAuthorizedException"));
    let (status, _) = pool
        .call("ChangePassword", json!({"AccessToken": access, "PreviousPassword": PASSWORD, "ProposedPassword": "Better-Pass-2"}))
        .await;
    assert_eq!(status, 200);
    pool.clock.advance(1);
    assert_eq!(
        pool.call("InitiateAuth", password_auth(PASSWORD)).await.0,
        400
    );
    assert_eq!(
        pool.call("InitiateAuth", password_auth("Better-Pass-2"))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn bad_requests_get_cognito_shaped_errors() {
    let pool = pool();
    let (status, body) = pool.call("DescribeUserPool", json!({})).await;
    assert_eq!(
        (status, error_of(&body).0),
        (400, "UnknownOperationException")
    );
    let (status, body) = pool.raw("InitiateAuth", "{not json".into()).await;
    assert_eq!((status, error_of(&body).0), (400, "SerializationException"));
    let (status, body) = pool
        .call(
            "InitiateAuth",
            json!({"AuthFlow": "USER_SRP_AUTH", "ClientId": "someone-else", "AuthParameters": {}}),
        )
        .await;
    assert_eq!(
        (status, error_of(&body).0),
        (400, "ResourceNotFoundException")
    );
    let (status, body) = pool
        .call(
            "InitiateAuth",
            json!({"AuthFlow": "USER_SRP_AUTH", "ClientId": LOCAL_CLIENT_ID, "AuthParameters": {}}),
        )
        .await;
    assert_eq!(
        (status, error_of(&body).0),
        (400, "InvalidParameterException")
    );
}

#[tokio::test]
async fn no_password_is_stored() {
    let pool = pool();
    let bytes = std::fs::read(pool._dir.path().join("data/identity.sqlite3")).unwrap();
    let wal = std::fs::read(pool._dir.path().join("data/identity.sqlite3-wal")).unwrap_or_default();
    for haystack in [&bytes, &wal] {
        assert!(
            !haystack
                .windows(PASSWORD.len())
                .any(|w| w == PASSWORD.as_bytes())
        );
        let b64 = B64.encode(PASSWORD);
        assert!(!haystack.windows(b64.len()).any(|w| w == b64.as_bytes()));
    }
    // The user row itself exists (so the search above looked at real data).
    assert!(bytes.windows(5).any(|w| w == b"alice") || wal.windows(5).any(|w| w == b"alice"));
}

#[tokio::test]
async fn the_jwks_and_discovery_document_are_at_the_issuer() {
    let pool = pool();
    let get = |uri: String| {
        let identity = pool.identity.clone();
        async move {
            let response = common::app(&identity)
                .oneshot(Request::get(uri).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            serde_json::from_slice::<Value>(&bytes).unwrap()
        }
    };
    let jwks = get(format!("/{LOCAL_POOL_ID}/.well-known/jwks.json")).await;
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0]["kid"], keys[1]["kid"]);
    assert!(
        keys.iter()
            .all(|k| k["alg"] == "RS256" && k["kty"] == "RSA")
    );
    let discovery = get(format!("/{LOCAL_POOL_ID}/.well-known/openid-configuration")).await;
    assert_eq!(
        discovery["issuer"],
        format!("http://127.0.0.1:9/{LOCAL_POOL_ID}")
    );
    assert_eq!(
        discovery["jwks_uri"],
        format!("http://127.0.0.1:9/{LOCAL_POOL_ID}/.well-known/jwks.json")
    );
}

fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.chars() {
        bits = (bits << 5) | ALPHABET.find(c).unwrap() as u32;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

impl Pool {
    fn code(&self, secret: &[u8], steps_ahead: i64) -> String {
        totp::code_at(secret, (self.clock.unix() / 30 + steps_ahead) as u64)
    }
}

#[tokio::test]
async fn a_pool_that_requires_mfa_makes_users_set_up_an_authenticator() {
    let pool = pool_with(MfaConfiguration::Required);
    let (status, body) = pool.sign_in("alice", PASSWORD).await;
    assert_eq!(status, 200);
    assert_eq!(body["ChallengeName"], "MFA_SETUP", "{body}");
    let (_, associated) = pool
        .call(
            "AssociateSoftwareToken",
            json!({"Session": body["Session"]}),
        )
        .await;
    let secret = base32_decode(associated["SecretCode"].as_str().unwrap());
    assert_eq!(secret.len(), 20);
    let (status, body) = pool
        .call(
            "VerifySoftwareToken",
            json!({"Session": associated["Session"], "UserCode": "000000"}),
        )
        .await;
    // A wrong code is refused (and, being wrong, consumed nothing but the session).
    if pool.code(&secret, 0) != "000000" {
        assert_eq!(
            (status, error_of(&body).0),
            (400, "EnableSoftwareTokenMFAException")
        );
    }
    // Start again and do it right.
    let (_, body) = pool.sign_in("alice", PASSWORD).await;
    let (_, associated) = pool
        .call(
            "AssociateSoftwareToken",
            json!({"Session": body["Session"]}),
        )
        .await;
    let secret = base32_decode(associated["SecretCode"].as_str().unwrap());
    let (status, verified) = pool
        .call(
            "VerifySoftwareToken",
            json!({"Session": associated["Session"], "UserCode": pool.code(&secret, 0)}),
        )
        .await;
    assert_eq!(
        (status, verified["Status"].as_str()),
        (200, Some("SUCCESS")),
        "{verified}"
    );
    let (status, body) = pool
        .call(
            "RespondToAuthChallenge",
            json!({"ChallengeName": "MFA_SETUP", "ClientId": LOCAL_CLIENT_ID, "Session": verified["Session"],
                   "ChallengeResponses": {"USERNAME": "alice"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["AuthenticationResult"]["AccessToken"].is_string());

    // From now on sign-in asks for a code; a used code can't be used again.
    pool.clock.advance(30);
    let (_, challenge) = pool.sign_in("alice", PASSWORD).await;
    assert_eq!(challenge["ChallengeName"], "SOFTWARE_TOKEN_MFA");
    let answer = |session: &Value, code: String| {
        json!({"ChallengeName": "SOFTWARE_TOKEN_MFA", "ClientId": LOCAL_CLIENT_ID, "Session": session,
               "ChallengeResponses": {"USERNAME": "alice", "SOFTWARE_TOKEN_MFA_CODE": code}})
    };
    let code = pool.code(&secret, 0);
    assert_eq!(
        pool.call(
            "RespondToAuthChallenge",
            answer(&challenge["Session"], code.clone())
        )
        .await
        .0,
        200
    );
    let (_, challenge) = pool.sign_in("alice", PASSWORD).await;
    let (status, body) = pool
        .call(
            "RespondToAuthChallenge",
            answer(&challenge["Session"], code),
        )
        .await;
    assert_eq!(
        (status, error_of(&body).0),
        (400, "CodeMismatchException"),
        "a replayed code"
    );
}

#[tokio::test]
async fn three_wrong_codes_end_the_mfa_challenge() {
    let pool = pool();
    // Set up TOTP with an access token, then turn it on.
    let (_, body) = pool.sign_in("alice", PASSWORD).await;
    let access = body["AuthenticationResult"]["AccessToken"].clone();
    let (status, body) = pool
        .call("SetUserMFAPreference", json!({"AccessToken": access, "SoftwareTokenMfaSettings": {"Enabled": true, "PreferredMfa": true}}))
        .await;
    assert_eq!(
        (status, error_of(&body).0),
        (400, "InvalidParameterException"),
        "not verified yet"
    );
    let (_, associated) = pool
        .call("AssociateSoftwareToken", json!({"AccessToken": access}))
        .await;
    let secret = base32_decode(associated["SecretCode"].as_str().unwrap());
    let (status, _) = pool
        .call(
            "VerifySoftwareToken",
            json!({"AccessToken": access, "UserCode": pool.code(&secret, 0)}),
        )
        .await;
    assert_eq!(status, 200);
    // Verified but not yet preferred: sign-in does not ask for a code.
    pool.clock.advance(30);
    let (_, body) = pool.sign_in("alice", PASSWORD).await;
    assert!(body["AuthenticationResult"].is_object(), "{body}");
    let (status, _) = pool
        .call("SetUserMFAPreference", json!({"AccessToken": access, "SoftwareTokenMfaSettings": {"Enabled": true, "PreferredMfa": true}}))
        .await;
    assert_eq!(status, 200);
    let (_, user) = pool.call("GetUser", json!({"AccessToken": access})).await;
    assert_eq!(user["PreferredMfaSetting"], "SOFTWARE_TOKEN_MFA");

    let (_, challenge) = pool.sign_in("alice", PASSWORD).await;
    assert_eq!(challenge["ChallengeName"], "SOFTWARE_TOKEN_MFA");
    let wrong = if pool.code(&secret, 0) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let answer = |code: &str| {
        json!({"ChallengeName": "SOFTWARE_TOKEN_MFA", "ClientId": LOCAL_CLIENT_ID, "Session": challenge["Session"],
               "ChallengeResponses": {"USERNAME": "alice", "SOFTWARE_TOKEN_MFA_CODE": code}})
    };
    for _ in 0..2 {
        let (status, body) = pool.call("RespondToAuthChallenge", answer(wrong)).await;
        assert_eq!((status, error_of(&body).0), (400, "CodeMismatchException"));
    }
    let (_, body) = pool.call("RespondToAuthChallenge", answer(wrong)).await;
    assert!(error_of(&body).1.contains("session"), "{body}");
    // The session is gone: even the right code is too late now.
    let (status, _) = pool
        .call("RespondToAuthChallenge", answer(&pool.code(&secret, 0)))
        .await;
    assert_eq!(status, 400);
}

impl Pool {
    /// The code in the newest outbox message for `purpose`.
    fn code_from_outbox(&self, purpose: &str) -> String {
        let dir = self._dir.path().join("data/outbox");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(&format!("-{purpose}.txt")))
            .collect();
        files.sort();
        let text = std::fs::read_to_string(files.last().expect("a message in the outbox")).unwrap();
        let code = text.split("Your code is ").nth(1).unwrap();
        code[..6].to_owned()
    }
}

#[tokio::test]
async fn forgot_password_sends_a_code_to_the_outbox_that_works_once() {
    let pool = pool();
    let (status, body) = pool
        .call(
            "ForgotPassword",
            json!({"ClientId": LOCAL_CLIENT_ID, "Username": "alice"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["CodeDeliveryDetails"]["Destination"], "a***@e***");
    let code = pool.code_from_outbox("reset");
    // Only whole messages are in the outbox: each is written aside, then renamed.
    let names: Vec<String> = std::fs::read_dir(pool._dir.path().join("data/outbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.len() == 1 && names[0].ends_with("-reset.txt"),
        "{names:?}"
    );
    let confirm = |code: &str, password: &str| json!({"ClientId": LOCAL_CLIENT_ID, "Username": "alice", "ConfirmationCode": code, "Password": password});
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, body) = pool
        .call("ConfirmForgotPassword", confirm(wrong, "Brand-New-1"))
        .await;
    assert_eq!((status, error_of(&body).0), (400, "CodeMismatchException"));
    let (status, body) = pool
        .call("ConfirmForgotPassword", confirm(&code, "weak"))
        .await;
    assert_eq!(
        (status, error_of(&body).0),
        (400, "InvalidPasswordException")
    );
    assert_eq!(
        pool.call("ConfirmForgotPassword", confirm(&code, "Brand-New-1"))
            .await
            .0,
        200
    );
    let (status, body) = pool
        .call("ConfirmForgotPassword", confirm(&code, "Brand-New-2"))
        .await;
    assert_eq!(
        (status, error_of(&body).0),
        (400, "CodeMismatchException"),
        "used once"
    );
    pool.clock.advance(1);
    assert_eq!(pool.sign_in("alice", "Brand-New-1").await.0, 200);
    assert_eq!(pool.sign_in("alice", PASSWORD).await.0, 400);
}

#[tokio::test]
async fn reset_codes_expire_and_take_five_wrong_guesses() {
    let pool = pool();
    pool.call(
        "ForgotPassword",
        json!({"ClientId": LOCAL_CLIENT_ID, "Username": "alice"}),
    )
    .await;
    let code = pool.code_from_outbox("reset");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let confirm = |code: &str| json!({"ClientId": LOCAL_CLIENT_ID, "Username": "alice", "ConfirmationCode": code, "Password": "Brand-New-1"});
    for _ in 0..5 {
        assert_eq!(
            pool.call("ConfirmForgotPassword", confirm(wrong)).await.0,
            400
        );
    }
    let (_, body) = pool.call("ConfirmForgotPassword", confirm(&code)).await;
    assert_eq!(error_of(&body).0, "LimitExceededException");

    pool.call(
        "ForgotPassword",
        json!({"ClientId": LOCAL_CLIENT_ID, "Username": "alice"}),
    )
    .await;
    pool.clock.advance(1);
    let code = pool.code_from_outbox("reset");
    pool.clock.advance(3601);
    let (_, body) = pool.call("ConfirmForgotPassword", confirm(&code)).await;
    assert_eq!(error_of(&body).0, "ExpiredCodeException");
}

#[tokio::test]
async fn forgot_password_for_an_unknown_user_looks_the_same_and_sends_nothing() {
    let pool = pool();
    let (status, body) = pool
        .call(
            "ForgotPassword",
            json!({"ClientId": LOCAL_CLIENT_ID, "Username": "mallory"}),
        )
        .await;
    assert_eq!(status, 200);
    let destination = body["CodeDeliveryDetails"]["Destination"].as_str().unwrap();
    assert!(destination.contains("***@"), "{destination}");
    assert!(!pool._dir.path().join("data/outbox").exists());
}

#[tokio::test]
async fn sign_up_is_off_by_default_and_needs_confirmation_when_on() {
    let pool = pool();
    let sign_up = json!({"ClientId": LOCAL_CLIENT_ID, "Username": "bob", "Password": "Bobs-Pass-1",
                         "UserAttributes": [{"Name": "email", "Value": "bob@example.com"}]});
    let (status, body) = pool.call("SignUp", sign_up.clone()).await;
    assert_eq!((status, error_of(&body).0), (400, "NotAuthorizedException"));

    let dir = tempfile::tempdir().unwrap();
    let mut settings = common::settings("http://127.0.0.1:9");
    settings.allow_sign_up = true;
    let open = Pool {
        identity: common::open(settings, &dir.path().join("data"), pool.clock.clone()),
        clock: pool.clock.clone(),
        _dir: dir,
    };
    let (status, body) = open.call("SignUp", sign_up.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["UserConfirmed"], false);
    assert_eq!(body["CodeDeliveryDetails"]["Destination"], "b***@e***");
    let (_, again) = open.call("SignUp", sign_up).await;
    assert_eq!(error_of(&again).0, "UsernameExistsException");
    let (_, body) = open.sign_in("bob", "Bobs-Pass-1").await;
    assert_eq!(error_of(&body).0, "UserNotConfirmedException");
    let code = open.code_from_outbox("sign-up");
    let (status, _) = open
        .call(
            "ConfirmSignUp",
            json!({"ClientId": LOCAL_CLIENT_ID, "Username": "bob", "ConfirmationCode": code}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(open.sign_in("bob", "Bobs-Pass-1").await.0, 200);
}

#[tokio::test]
async fn repeated_failures_lock_the_name_whether_or_not_it_exists() {
    let pool = pool();
    for name in ["alice", "mallory"] {
        for _ in 0..5 {
            let (_, body) = pool.sign_in(name, "Wrong-Horse-1").await;
            assert_eq!(error_of(&body).1, "Incorrect username or password.");
        }
        let client = ClientSession::new(&[9; 128]).unwrap();
        let (status, body) = pool.initiate(name, &client).await;
        assert_eq!(
            (status, error_of(&body)),
            (
                400,
                ("NotAuthorizedException", "Password attempts exceeded")
            ),
            "{name}"
        );
    }
    // Even the right password waits for the lock to pass.
    let (status, _) = pool
        .call(
            "InitiateAuth",
            json!({"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": LOCAL_CLIENT_ID,
                   "AuthParameters": {"USERNAME": "alice", "PASSWORD": PASSWORD}}),
        )
        .await;
    assert_eq!(status, 400);
    pool.clock.advance(2);
    assert_eq!(pool.sign_in("alice", PASSWORD).await.0, 200);
}
