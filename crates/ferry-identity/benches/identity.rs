//! Sign-in speed, printed for `cargo xtask bench`: SRP sign-ins through
//! the provider's router, as the local stack serves them.
//!
//! Every figure is shown next to a baseline measured in the same run: one
//! 3072-bit modular exponentiation (the unit SRP's cost is made of), so the
//! ratios stay meaningful on a noisy machine.

#![allow(clippy::unwrap_used)] // A benchmark fails loudly on anything unexpected.

use axum::body::Body;
use axum::http::Request;
use ferry_core::clock::SystemClock;
use ferry_identity::{Identity, IdentitySettings, Lifetimes, MfaConfiguration};
use ferry_srp::{ClientSession, PasswordVerifier, ServerChallenge};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

/// The local stack's app client.
const LOCAL_CLIENT_ID: &str = "ferryweb";

async fn call(identity: &Arc<Identity>, operation: &str, body: Value) -> (Value, Duration) {
    let request = Request::post("/")
        .header(
            "x-amz-target",
            format!("AWSCognitoIdentityProviderService.{operation}"),
        )
        .body(Body::from(body.to_string()))
        .unwrap();
    let start = Instant::now();
    let response = ferry_identity::routes(identity.clone())
        .oneshot(request)
        .await
        .unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let elapsed = start.elapsed();
    (serde_json::from_slice(&bytes).unwrap(), elapsed)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let settings = IdentitySettings {
            pool_id: "local-1_ferry".to_owned(),
            client_ids: vec![LOCAL_CLIENT_ID.to_owned()],
            issuer: "http://127.0.0.1:9/local-1_ferry".to_owned(),
            base_url: "http://127.0.0.1:9".to_owned(),
            lifetimes: Lifetimes::default(),
            mfa: MfaConfiguration::default(),
            allow_sign_up: false,
            callback_urls: Vec::new(),
        };
        let identity = Arc::new(Identity::open(settings, &dir.path().join("data"), Arc::new(SystemClock)).unwrap());
        identity.create_user("alice", "Correct-Horse-1", None, false).unwrap();

        // Baseline: one 3072-bit modular exponentiation with a 1024-bit
        // exponent (B = k·v + g^b mod N is one, plus a multiplication).
        let verifier = PasswordVerifier::new("ferry", "alice", "pw", &[1; 16]);
        let rounds = 40;
        let start = Instant::now();
        for i in 0..rounds {
            std::hint::black_box(ServerChallenge::new(&verifier, &[i as u8 + 1; 128]).unwrap());
        }
        let modpow = start.elapsed() / rounds;

        // The browser's step, natively: A, then the password claim.
        let mut client_time = Duration::ZERO;
        let mut server_time = Duration::ZERO;
        let sign_ins = 40;
        for i in 0..sign_ins {
            let started = Instant::now();
            let client = ClientSession::new(&[i as u8 + 1; 128]).unwrap();
            let a = client.srp_a();
            client_time += started.elapsed();
            let (challenge, t1) = call(
                &identity,
                "InitiateAuth",
                json!({"AuthFlow": "USER_SRP_AUTH", "ClientId": LOCAL_CLIENT_ID,
                       "AuthParameters": {"USERNAME": "alice", "SRP_A": a}}),
            )
            .await;
            let p = &challenge["ChallengeParameters"];
            let s = |k: &str| p[k].as_str().unwrap().to_owned();
            let timestamp = ferry_srp::timestamp(time::OffsetDateTime::now_utc());
            let started = Instant::now();
            let signature = client
                .password_claim("ferry", "alice", "Correct-Horse-1", &s("SALT"), &s("SRP_B"), &s("SECRET_BLOCK"), &timestamp)
                .unwrap();
            client_time += started.elapsed();
            let (answer, t2) = call(
                &identity,
                "RespondToAuthChallenge",
                json!({"ChallengeName": "PASSWORD_VERIFIER", "ClientId": LOCAL_CLIENT_ID,
                       "ChallengeResponses": {"USERNAME": "alice", "PASSWORD_CLAIM_SECRET_BLOCK": s("SECRET_BLOCK"),
                                              "TIMESTAMP": timestamp, "PASSWORD_CLAIM_SIGNATURE": signature}}),
            )
            .await;
            assert!(answer["AuthenticationResult"]["AccessToken"].is_string(), "{answer}");
            server_time += t1 + t2;
        }
        let client_step = client_time / sign_ins;
        let server_sign_in = server_time / sign_ins;
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!("baseline_modpow_ms={:.3}", ms(modpow));
        println!("native_client_srp_step_ms={:.3}", ms(client_step));
        println!("server_sign_in_ms={:.3}", ms(server_sign_in));
        println!("server_sign_ins_per_second_one_core={:.1}", 1.0 / server_sign_in.as_secs_f64());
        println!("server_sign_in_in_modpows={:.2}", server_sign_in.as_secs_f64() / modpow.as_secs_f64());
        println!("native_client_step_in_modpows={:.2}", client_step.as_secs_f64() / modpow.as_secs_f64());
    });
}
