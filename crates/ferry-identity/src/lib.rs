//! `ferry-identity`: a local identity provider that speaks Amazon Cognito's
//! user-pool protocol, the local stand-in for Cognito as `ferry-objects` is
//! for S3 and `ferry-bus` for EventBridge.
//!
//! `POST /` with `X-Amz-Target: AWSCognitoIdentityProviderService.<Operation>`
//! and an `application/x-amz-json-1.1` body, answered the way Cognito answers,
//! errors included (`{"__type": "NotAuthorizedException", "message": …}`), so
//! AWS's own clients (amazon-cognito-identity-js, the AWS SDKs) work against
//! it unchanged. Tokens are RS256 JWTs with Cognito's claims; the JWKS is at
//! `{issuer}/.well-known/jwks.json`.
//!
//! Sign-in never reveals whether a user exists: an unknown name gets a
//! challenge built from a stand-in verifier and fails exactly like a wrong
//! password, after the same work.
//!
//! The provider is split by flow: [`protocol`](crate::protocol) reads the
//! JSON API's requests and writes its answers and errors; `sign_in` runs SRP
//! and password sign-in; `challenges` the challenges that follow (a new
//! password, an authenticator code, setting one up); `account` sign-up,
//! password resets and changes; [`tokens`] issues, checks, refreshes and
//! revokes tokens and publishes the keys; [`hosted`] is the hosted UI.
//! [`store`], [`throttle`], [`totp`] and [`password`] are the parts they
//! share. [`routes`] is the whole HTTP surface, for a host to merge into its
//! router; the provider opens no socket of its own.

mod account;
mod challenges;
pub mod hosted;
pub mod password;
pub mod protocol;
mod session;
mod sign_in;
pub mod store;
pub mod throttle;
pub mod tokens;
pub mod totp;

pub use protocol::CognitoError;

use axum::Router;
use axum::http::{HeaderName, Method, header};
use axum::routing::{get, post};
use ferry_core::clock::Clock;
use protocol::str_param;
use serde_json::Value;
use session::Session;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use store::UserStore;
use tokens::TokenKeys;
use tower_http::cors::{Any, CorsLayer};

/// Token lifetimes, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// Id and access tokens.
    pub access: i64,
    /// Refresh tokens.
    pub refresh: i64,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            access: 60 * 60,
            refresh: 30 * 24 * 60 * 60,
        }
    }
}

/// The identity provider's settings.
#[derive(Debug, Clone)]
pub struct IdentitySettings {
    /// The pool id, `{region}_{name}`.
    pub pool_id: String,
    /// The app clients allowed to sign in (public clients, no secret).
    pub client_ids: Vec<String>,
    /// The issuer: the provider's base URL and the pool id.
    pub issuer: String,
    /// Where the provider is reached, without a trailing `/`: the hosted
    /// UI's endpoints, as the discovery document names them, are under it.
    pub base_url: String,
    /// Token lifetimes.
    pub lifetimes: Lifetimes,
    /// Whether users must, may or can't use an authenticator app.
    pub mfa: MfaConfiguration,
    /// Whether people may create their own accounts (`SignUp`).
    pub allow_sign_up: bool,
    /// Where the hosted UI may send people back to, after sign-in or sign-out.
    pub callback_urls: Vec<String>,
}

/// The pool's MFA setting, as Cognito names it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MfaConfiguration {
    /// No MFA.
    Off,
    /// Users who set up an authenticator app are asked for a code.
    #[default]
    Optional,
    /// Every user must set up an authenticator app at sign-in.
    Required,
}

/// The identity provider: the user pool, its keys and the challenges in flight.
#[derive(Debug)]
pub struct Identity {
    settings: IdentitySettings,
    store: UserStore,
    keys: TokenKeys,
    clock: Arc<dyn Clock>,
    sessions: Mutex<HashMap<String, Session>>,
    /// Keys the stand-in verifiers of names that are not users.
    decoy_key: [u8; 32],
    throttle: throttle::Throttle,
    /// Where codes are "sent": one file per message, in place of e-mail.
    outbox: std::path::PathBuf,
    /// Authorization codes of the hosted UI, waiting to be exchanged.
    pub(crate) authorization_codes: Mutex<HashMap<String, hosted::AuthorizationCode>>,
}

impl Identity {
    /// Opens the user pool in `data_dir` and loads (or creates) its keys.
    pub fn open(
        settings: IdentitySettings,
        data_dir: &std::path::Path,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let store = UserStore::open(data_dir)?;
        let keys = TokenKeys::load_or_create(&data_dir.join("keys"))?;
        Ok(Self {
            settings,
            store,
            keys,
            clock,
            sessions: Mutex::new(HashMap::new()),
            decoy_key: random(),
            throttle: throttle::Throttle::default(),
            outbox: data_dir.join("outbox"),
            authorization_codes: Mutex::new(HashMap::new()),
        })
    }

    /// The user pool.
    pub fn store(&self) -> &UserStore {
        &self.store
    }

    /// The clock.
    pub(crate) fn now(&self) -> i64 {
        self.clock.unix()
    }

    /// Whether the hosted UI may redirect to `url`.
    pub(crate) fn is_callback(&self, url: &str) -> bool {
        self.settings
            .callback_urls
            .iter()
            .any(|allowed| allowed == url)
    }

    /// The token keys.
    pub fn keys(&self) -> &TokenKeys {
        &self.keys
    }

    /// The issuer URL (`iss` of every token).
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    /// The app clients whose tokens this pool issues.
    pub fn client_ids(&self) -> &[String] {
        &self.settings.client_ids
    }

    /// The pool's name, its id after `{region}_`: SRP mixes it into every
    /// password verifier.
    pub(crate) fn pool_name(&self) -> &str {
        self.settings
            .pool_id
            .split_once('_')
            .map_or(self.settings.pool_id.as_str(), |(_, name)| name)
    }

    /// The request's `ClientId`, checked against the pool's app clients.
    pub(crate) fn client_of<'a>(&self, body: &'a Value) -> Result<&'a str, CognitoError> {
        let client_id = str_param(body, "ClientId")?;
        self.check_client(client_id)?;
        Ok(client_id)
    }

    /// Whether `client_id` is one of the pool's app clients, as Cognito
    /// refuses one that is not.
    pub(crate) fn check_client(&self, client_id: &str) -> Result<(), CognitoError> {
        if self.settings.client_ids.iter().any(|c| c == client_id) {
            Ok(())
        } else {
            Err(CognitoError::new(
                "ResourceNotFoundException",
                format!("User pool client {client_id} does not exist."),
            ))
        }
    }
}

/// `N` random bytes from the operating system.
pub(crate) fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    bytes
}

/// What is stored of a token: its SHA-256.
pub(crate) fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The provider's HTTP surface, for any router state `S`: the JSON API at
/// `/`, the JWKS and discovery document under the issuer's path, and the
/// hosted UI (`/oauth2/authorize`, `/oauth2/token`, `/oauth2/userInfo`,
/// `/logout`). Handlers that see the caller's address read it from
/// `ConnectInfo<SocketAddr>` when the host serves with it.
pub fn routes<S>(identity: Arc<Identity>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let issuer_path = format!("/{}", identity.settings.pool_id);
    // Cognito's JSON API is POSTed to the endpoint's root, from any origin.
    Router::new()
        .route("/", post(protocol::handle))
        .route(
            &format!("{issuer_path}/.well-known/jwks.json"),
            get(tokens::jwks),
        )
        .route("/oauth2/token", post(hosted::token))
        .layer(cognito_cors())
        .route(
            &format!("{issuer_path}/.well-known/openid-configuration"),
            get(tokens::discovery).layer(cognito_cors()),
        )
        .route(
            "/oauth2/authorize",
            get(hosted::authorize).post(hosted::authorize_submit),
        )
        .route("/logout", get(hosted::logout))
        .route(
            "/oauth2/userInfo",
            get(hosted::user_info)
                .post(hosted::user_info)
                .layer(user_info_cors()),
        )
        .with_state(identity)
}

fn cognito_cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::CACHE_CONTROL,
            HeaderName::from_static("x-amz-target"),
            HeaderName::from_static("x-amz-user-agent"),
        ])
        .expose_headers([HeaderName::from_static("x-amzn-errortype")])
        .max_age(std::time::Duration::from_secs(600))
}

/// `userInfo` is called from pages elsewhere with their bearer token, and
/// they read why it was refused.
fn user_info_cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .expose_headers([header::WWW_AUTHENTICATE])
        .max_age(std::time::Duration::from_secs(600))
}
