//! The conversation against a scripted transport; the real identity provider
//! drives the same code in the end-to-end tests.

use super::*;
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::VecDeque;

/// Answers calls from a script and remembers what was asked.
#[derive(Debug, Default)]
struct Scripted {
    answers: RefCell<VecDeque<Result<Value, TransportError>>>,
    calls: RefCell<Vec<(String, Value)>>,
}

impl Scripted {
    fn new(answers: Vec<Result<Value, TransportError>>) -> Self {
        Self {
            answers: RefCell::new(answers.into()),
            calls: RefCell::default(),
        }
    }
}

impl Transport for &Scripted {
    async fn call(&self, operation: &str, body: String) -> Result<String, TransportError> {
        let body: Value = serde_json::from_str(&body).expect("the client sends JSON");
        self.calls.borrow_mut().push((operation.to_owned(), body));
        self.answers
            .borrow_mut()
            .pop_front()
            .unwrap_or(Err(TransportError::Unreachable))
            .map(|answer| answer.to_string())
    }
}

/// The `AuthenticationResult` of an answer made by [`result`].
fn authentication(answer: Value) -> AuthenticationResult {
    serde_json::from_value(answer["AuthenticationResult"].clone()).expect("a result")
}

fn jwt(claims: Value) -> String {
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.sig",
        engine.encode(br#"{"alg":"RS256"}"#),
        engine.encode(claims.to_string())
    )
}

fn result(exp: i64, refresh: Option<&str>) -> Value {
    let mut result = json!({
        "AccessToken": jwt(json!({"exp": exp, "username": "alice"})),
        "IdToken": jwt(json!({"exp": exp, "cognito:username": "alice"})),
    });
    if let Some(refresh) = refresh {
        result["RefreshToken"] = json!(refresh);
    }
    json!({"AuthenticationResult": result, "ChallengeParameters": {}})
}

fn service(kind: &str, message: &str) -> TransportError {
    TransportError::Service {
        kind: kind.into(),
        message: message.into(),
    }
}

#[test]
fn tokens_refresh_five_minutes_before_expiry() {
    let tokens =
        TokenSet::from_result(&authentication(result(10_000, Some("r"))), None).expect("tokens");
    assert_eq!(tokens.expires_at, 10_000);
    assert!(!tokens.needs_refresh(10_000 - 301));
    assert!(tokens.needs_refresh(10_000 - 300));
    assert!(tokens.is_valid(9_999));
    assert!(!tokens.is_valid(10_000));
    assert_eq!(tokens.username().as_deref(), Some("alice"));
}

#[test]
fn short_lived_tokens_refresh_halfway_not_at_once() {
    let access = jwt(json!({"iat": 1_000, "exp": 1_030, "username": "alice"}));
    let tokens = TokenSet::from_result(
        &authentication(json!({"AuthenticationResult": {"AccessToken": access, "IdToken": jwt(json!({"exp": 1_030}))}})),
        None,
    )
    .expect("tokens");
    assert_eq!(tokens.refresh_at(), 1_015);
    assert!(!tokens.needs_refresh(1_014));
    // An hour-long token keeps the five-minute margin.
    let access = jwt(json!({"iat": 0, "exp": 3_600}));
    let tokens = TokenSet::from_result(
        &authentication(json!({"AuthenticationResult": {"AccessToken": access, "IdToken": jwt(json!({"exp": 3_600}))}})),
        None,
    )
    .expect("tokens");
    assert_eq!(tokens.refresh_at(), 3_300);
}

#[test]
fn a_refresh_answer_keeps_the_refresh_token() {
    let tokens =
        TokenSet::from_result(&authentication(result(1, None)), Some("old")).expect("tokens");
    assert_eq!(tokens.refresh_token.as_deref(), Some("old"));
}

#[test]
fn errors_read_as_sentences() {
    let cases = [
        (
            service("NotAuthorizedException", "Incorrect username or password."),
            "Incorrect username or password.",
        ),
        (
            service("UserNotFoundException", "User does not exist."),
            "Incorrect username or password.",
        ),
        (
            service("NotAuthorizedException", "Password attempts exceeded"),
            "Too many attempts. Wait a few minutes and try again.",
        ),
        (
            service("ExpiredCodeException", "Invalid code provided"),
            "That code or sign-in step has expired. Start again.",
        ),
        (
            service("CodeMismatchException", "Invalid code"),
            "That code is not right. Check it and try again.",
        ),
        (
            TransportError::Unreachable,
            "Can't reach the sign-in service. Check your connection.",
        ),
    ];
    for (error, sentence) in cases {
        assert_eq!(AuthError::from(error).to_string(), sentence);
    }
}

#[test]
fn error_bodies_drop_the_type_prefix() {
    let error = TransportError::from_body(
        r#"{"__type":"com.amazonaws#NotAuthorizedException","message":"no"}"#,
    );
    assert_eq!(error, service("NotAuthorizedException", "no"));
}

#[test]
fn pool_name_is_after_the_underscore() {
    assert_eq!(pool_name("local-1_ferry"), "ferry");
}

fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(1_780_000_000).expect("time")
}

/// A challenge the server could send: any valid B and salt will do, as the
/// scripted server does not check the proof.
fn password_verifier() -> Value {
    let verifier = ferry_srp::PasswordVerifier::new("ferry", "alice", "pw", &[7; 16]);
    let challenge = ferry_srp::ServerChallenge::new(&verifier, &[9; 128]).expect("challenge");
    json!({
        "ChallengeName": "PASSWORD_VERIFIER",
        "ChallengeParameters": {
            "SALT": challenge.salt(), "SRP_B": challenge.srp_b(),
            "SECRET_BLOCK": "c2VjcmV0", "USER_ID_FOR_SRP": "alice", "USERNAME": "alice",
        },
    })
}

#[tokio::test]
async fn srp_sign_in_sends_a_proof_never_the_password() {
    let script = Scripted::new(vec![Ok(password_verifier()), Ok(result(99, Some("r")))]);
    let client = Client::new(&script, "local-1_ferry", "client");
    let step = client
        .sign_in("alice", "Secret-pw-1", &[5; 128], now())
        .await
        .expect("signed in");
    assert!(matches!(step, Step::SignedIn(ref t) if t.refresh_token.as_deref() == Some("r")));
    let calls = script.calls.borrow();
    assert_eq!(calls[0].1["AuthFlow"], "USER_SRP_AUTH");
    assert_eq!(calls[1].1["ChallengeName"], "PASSWORD_VERIFIER");
    assert_eq!(
        calls[1].1["ChallengeResponses"]["TIMESTAMP"],
        ferry_srp::timestamp(now())
    );
    for (_, body) in calls.iter() {
        assert!(!body.to_string().contains("Secret-pw-1"));
    }
}

#[tokio::test]
async fn challenges_become_steps() {
    let new_password = json!({"ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": "s1",
                              "ChallengeParameters": {"USER_ID_FOR_SRP": "alice"}});
    let script = Scripted::new(vec![Ok(password_verifier()), Ok(new_password)]);
    let client = Client::new(&script, "local-1_ferry", "client");
    let step = client
        .sign_in("alice", "pw", &[5; 128], now())
        .await
        .expect("step");
    assert_eq!(
        step,
        Step::NewPasswordRequired {
            session: "s1".into(),
            username: "alice".into()
        }
    );

    let setup = json!({"ChallengeName": "MFA_SETUP", "Session": "s2", "ChallengeParameters": {}});
    let script = Scripted::new(vec![
        Ok(setup),
        Ok(json!({"SecretCode": "ABC", "Session": "s3"})),
        Ok(json!({"Status": "SUCCESS", "Session": "s4"})),
        Ok(result(5, Some("r"))),
    ]);
    let client = Client::new(&script, "local-1_ferry", "client");
    let step = client
        .set_new_password("s1", "alice", "New-pw-1")
        .await
        .expect("setup");
    assert_eq!(
        step,
        Step::MfaSetup {
            session: "s3".into(),
            username: "alice".into(),
            secret: "ABC".into()
        }
    );
    let step = client
        .finish_mfa_setup("s3", "alice", " 123456 ")
        .await
        .expect("done");
    assert!(matches!(step, Step::SignedIn(_)));
    let calls = script.calls.borrow();
    assert_eq!(calls[2].1["UserCode"], "123456");
    assert_eq!(calls[3].1["Session"], "s4");
    assert_eq!(calls[3].1["ChallengeName"], "MFA_SETUP");
}

#[tokio::test]
async fn wrong_password_is_one_sentence() {
    let script = Scripted::new(vec![
        Ok(password_verifier()),
        Err(service(
            "NotAuthorizedException",
            "Incorrect username or password.",
        )),
    ]);
    let client = Client::new(&script, "local-1_ferry", "client");
    let error = client
        .sign_in("alice", "nope", &[5; 128], now())
        .await
        .expect_err("refused");
    assert_eq!(error, AuthError::IncorrectCredentials);
}

#[tokio::test]
async fn refresh_and_sign_out_use_the_refresh_token() {
    let script = Scripted::new(vec![Ok(result(50, None)), Ok(json!({}))]);
    let client = Client::new(&script, "local-1_ferry", "client");
    let tokens =
        TokenSet::from_result(&authentication(result(1, Some("r"))), None).expect("tokens");
    let fresh = client.refresh(&tokens).await.expect("refreshed");
    assert_eq!(
        (fresh.expires_at, fresh.refresh_token.as_deref()),
        (50, Some("r"))
    );
    client.sign_out(&fresh).await.expect("revoked");
    let calls = script.calls.borrow();
    assert_eq!(calls[0].1["AuthParameters"]["REFRESH_TOKEN"], "r");
    assert_eq!(calls[1].0, "RevokeToken");
    assert_eq!(calls[1].1["Token"], "r");
}

#[test]
fn a_providers_tokens_are_taken_without_a_refresh_token() {
    let id = jwt(json!({"exp": 900, "token_use": "id", "cognito:username": "alice"}));
    let access = jwt(json!({"exp": 900, "iat": 0, "token_use": "access"}));
    let tokens = provided_tokens(Some(id.clone()), Some(access.clone()), 100).expect("taken");
    assert_eq!(
        (tokens.id_token, tokens.access_token, tokens.refresh_token),
        (id, access, None)
    );
    assert_eq!((tokens.expires_at, tokens.issued_at), (900, Some(0)));
}

#[test]
fn a_providers_tokens_that_cant_be_used_are_refused_with_the_reason() {
    let id = jwt(json!({"exp": 900, "token_use": "id"}));
    let access = jwt(json!({"exp": 900, "token_use": "access"}));
    let refused = |id: Option<&str>, access: Option<&str>, now: i64| {
        provided_tokens(id.map(str::to_owned), access.map(str::to_owned), now).expect_err("refused")
    };
    assert!(refused(None, Some(&access), 100).contains("no `idToken`"));
    assert!(refused(Some(&id), Some(""), 100).contains("no `accessToken`"));
    assert!(refused(Some("opaque"), Some(&access), 100).contains("`idToken` is not a JWT"));
    // Swapped: each is the other's kind.
    assert!(refused(Some(&access), Some(&id), 100).contains("is an access token"));
    assert!(refused(Some(&id), Some(&access), 900).contains("has expired"));
    let lasting = jwt(json!({"token_use": "access"}));
    assert!(refused(Some(&id), Some(&lasting), 100).contains("no expiry"));
}
