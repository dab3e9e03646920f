//! The provider on its own, as a host would compose it: a user pool in a
//! temporary directory and `ferry_identity::routes` as the whole router,
//! with the local stack's pool id, app client and callback URLs.

#![allow(dead_code, clippy::unwrap_used)]

use axum::Router;
use ferry_core::clock::Clock;
use ferry_identity::{Identity, IdentitySettings, Lifetimes, MfaConfiguration};
use std::path::Path;
use std::sync::Arc;

/// The pool's id, `{region}_{name}` as Cognito writes it.
pub const LOCAL_POOL_ID: &str = "local-1_ferry";
/// The app client the tests sign in with.
pub const LOCAL_CLIENT_ID: &str = "ferryweb";

/// Settings as the local stack gives them for `base_url`: its issuer, and
/// the app and its callback page as the hosted UI's redirects.
pub fn settings(base_url: &str) -> IdentitySettings {
    let base = base_url.trim_end_matches('/');
    IdentitySettings {
        pool_id: LOCAL_POOL_ID.to_owned(),
        client_ids: vec![LOCAL_CLIENT_ID.to_owned()],
        issuer: format!("{base}/{LOCAL_POOL_ID}"),
        base_url: base.to_owned(),
        lifetimes: Lifetimes::default(),
        mfa: MfaConfiguration::default(),
        allow_sign_up: false,
        callback_urls: vec![format!("{base}/"), format!("{base}/auth/callback")],
    }
}

/// Opens the pool in `data_dir`.
pub fn open(settings: IdentitySettings, data_dir: &Path, clock: Arc<dyn Clock>) -> Arc<Identity> {
    Arc::new(Identity::open(settings, data_dir, clock).unwrap())
}

/// The provider's whole HTTP surface.
pub fn app(identity: &Arc<Identity>) -> Router {
    ferry_identity::routes(identity.clone())
}
