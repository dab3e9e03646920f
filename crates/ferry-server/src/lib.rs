//! `ferry-server`: Ferry's local stack on one machine.
//!
//! It serves the built web client, the client's `/config.json` pointing at
//! itself, and an identity provider that speaks Cognito's user-pool protocol
//! (`identity`). Later issues add, behind the same listener, the command API,
//! the S3-compatible object endpoint, the event bus and the WebSocket; each
//! speaks the protocol its AWS counterpart speaks, so the browser code can't
//! tell the difference.
//!
//! [`app`] builds the whole router from [`Settings`] without opening a socket,
//! so tests drive it with `oneshot`.

pub mod clock;
mod error;
pub mod identity;
mod web;

pub use error::AppError;

use axum::Router;
use clock::Clock;
use ferry_protocol::{AuthMode, ClientConfig, UploadSettings};
use identity::{Identity, IdentitySettings, Lifetimes, MfaConfiguration};
use std::path::PathBuf;
use std::sync::Arc;

/// The region the local stack reports; any `[\w-]+` works for Cognito clients.
pub const LOCAL_REGION: &str = "local-1";
/// The local user pool's id, `{region}_{name}` as Cognito writes it.
pub const LOCAL_POOL_ID: &str = "local-1_ferry";
/// The web client's app client id.
pub const LOCAL_CLIENT_ID: &str = "ferryweb";

/// Everything the server is started with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The base URL browsers reach this server at, without a trailing `/`
    /// (e.g. `http://127.0.0.1:8080`). The client's config points here.
    pub public_url: String,
    /// Where state is kept (SQLite, objects, keys).
    pub data_dir: PathBuf,
    /// The built web client (Trunk's `dist/`).
    pub dist_dir: PathBuf,
    /// Token lifetimes.
    pub lifetimes: Lifetimes,
    /// The user pool's MFA setting.
    pub mfa: MfaConfiguration,
    /// Whether people may create their own accounts.
    pub allow_sign_up: bool,
    /// More URLs the hosted UI may redirect to (the app's own are always allowed).
    pub extra_callback_urls: Vec<String>,
}

impl Settings {
    /// Settings with default lifetimes.
    pub fn new(public_url: impl Into<String>, data_dir: PathBuf, dist_dir: PathBuf) -> Self {
        Self {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            data_dir,
            dist_dir,
            lifetimes: Lifetimes::default(),
            mfa: MfaConfiguration::default(),
            allow_sign_up: false,
            extra_callback_urls: Vec::new(),
        }
    }

    /// The issuer of the local user pool's tokens: `{public_url}/{pool id}`.
    pub fn issuer(&self) -> String {
        format!("{}/{LOCAL_POOL_ID}", self.public_url.trim_end_matches('/'))
    }

    /// Where the hosted UI may send people: the app itself, its callback
    /// page, and any configured extra URLs.
    pub fn callback_urls(&self) -> Vec<String> {
        let base = self.public_url.trim_end_matches('/');
        let mut urls = vec![format!("{base}/"), format!("{base}/auth/callback")];
        urls.extend(self.extra_callback_urls.iter().cloned());
        urls
    }

    /// The identity provider's settings.
    pub fn identity(&self) -> IdentitySettings {
        IdentitySettings {
            pool_id: LOCAL_POOL_ID.to_owned(),
            client_ids: vec![LOCAL_CLIENT_ID.to_owned()],
            issuer: self.issuer(),
            lifetimes: self.lifetimes,
            mfa: self.mfa,
            allow_sign_up: self.allow_sign_up,
            callback_urls: self.callback_urls(),
        }
    }

    /// The configuration the web client loads from `/config.json`.
    pub fn client_config(&self) -> ClientConfig {
        let base = self.public_url.trim_end_matches('/');
        let ws_base = base
            .strip_prefix("https://")
            .map(|rest| format!("wss://{rest}"))
            .or_else(|| {
                base.strip_prefix("http://")
                    .map(|rest| format!("ws://{rest}"))
            })
            .unwrap_or_else(|| base.to_owned());
        ClientConfig {
            region: LOCAL_REGION.to_owned(),
            user_pool_id: LOCAL_POOL_ID.to_owned(),
            user_pool_client_id: LOCAL_CLIENT_ID.to_owned(),
            identity_endpoint: Some(format!("{base}/")),
            api_url: format!("{base}/api"),
            websocket_url: format!("{ws_base}/ws"),
            auth_mode: AuthMode::Srp,
            hosted_ui_url: Some(base.to_owned()),
            upload: UploadSettings::default(),
            environment: Some("local".to_owned()),
        }
    }
}

/// Shared state of every handler.
#[derive(Debug)]
pub struct AppState {
    /// The settings the server started with.
    pub settings: Settings,
    /// The identity provider.
    pub identity: Arc<Identity>,
}

impl AppState {
    /// Opens everything kept in the data directory.
    pub fn open(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Arc<Self>> {
        std::fs::create_dir_all(&settings.data_dir)?;
        let identity = Arc::new(Identity::open(
            settings.identity(),
            &settings.data_dir,
            clock,
        )?);
        Ok(Arc::new(Self { settings, identity }))
    }
}

/// The whole HTTP surface of the local stack.
pub fn app(state: Arc<AppState>) -> Router {
    web::routes(state)
}
