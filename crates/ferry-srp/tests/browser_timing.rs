//! The client's SRP step as the browser runs it: `cargo xtask bench` runs this
//! in headless Chromium, built the way the web client ships (release, size
//! optimised), and reads the printed timing. It also checks the step's result,
//! so it is a test in its own right.

#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used)] // A test fails loudly on anything unexpected.

use ferry_srp::{ClientSession, PasswordVerifier, ServerChallenge};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn the_client_srp_step_in_the_browser() {
    let verifier = PasswordVerifier::new("ferry", "alice", "Correct-Horse-1", &[7; 16]);
    let server = ServerChallenge::new(&verifier, &[9; 128]).unwrap();
    let performance = web_sys::window().unwrap().performance().unwrap();
    let rounds = 5;
    let start = performance.now();
    let mut signature = String::new();
    for round in 0..rounds {
        let client = ClientSession::new(&[round as u8 + 1; 128]).unwrap();
        signature = client
            .password_claim(
                "ferry",
                "alice",
                "Correct-Horse-1",
                &server.salt(),
                &server.srp_b(),
                "AAAA",
                "Tue Mar 3 09:05:07 UTC 2026",
            )
            .unwrap();
    }
    let per_step = (performance.now() - start) / f64::from(rounds);
    assert_eq!(signature.len(), 44, "a base64 HMAC-SHA256");
    web_sys::console::log_1(&format!("FERRY_BENCH client_srp_step_ms={per_step:.2}").into());
}
