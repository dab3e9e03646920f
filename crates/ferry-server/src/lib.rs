//! `ferry-server`: Ferry's local stack on one machine.
//!
//! Behind one listener it serves the built web client and its `/config.json`,
//! an identity provider that speaks Cognito's user-pool protocol
//! (`ferry-identity`), the file API (`/api`, `ferry-api`), an S3-compatible
//! object endpoint (`/{bucket}/…`, `ferry-objects`) and a WebSocket of live
//! events (`/ws`, [`live`]). Behind them, the domain (`ferry-core`) runs on
//! local adapters: the SQLite index (`ferry-index`) and the durable bus
//! (`ferry-bus`). Each speaks the protocol its AWS counterpart speaks, so the
//! browser code can't tell the difference. This crate only composes them:
//! it opens each in the data directory and merges their routes.
//!
//! [`app`] builds the whole router from [`Settings`] without opening a socket,
//! so tests drive it with `oneshot`.

pub mod api;
pub mod clock;
mod error;
pub mod live;
pub mod maintenance;
mod web;

pub use error::AppError;
/// The identity provider the server composes (`ferry-identity`), under the
/// name its handlers and tools use.
pub use ferry_identity as identity;

use axum::Router;
use axum::extract::{Request, State};
use axum::routing::{any, get};
use clock::Clock;
use ferry_bus::{BusConfig, LocalBus, RetryPolicy, Rule, Target};
use ferry_core::consumers::rules;
use ferry_core::{Consumers, FileSettings, Files};
use ferry_index::SqliteIndex;
use ferry_objects::{ObjectEndpoint, ObjectsConfig};
use ferry_protocol::{AuthMode, ClientConfig, TokenStorage, UploadSettings};
use identity::{Identity, IdentitySettings, Lifetimes, MfaConfiguration};
use live::{LiveHub, LiveSettings};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The region the local stack reports; any `[\w-]+` works for Cognito clients.
pub const LOCAL_REGION: &str = "local-1";
/// The local user pool's id, `{region}_{name}` as Cognito writes it.
pub const LOCAL_POOL_ID: &str = "local-1_ferry";
/// The web client's app client id.
pub const LOCAL_CLIENT_ID: &str = "ferryweb";
/// The object endpoint's one bucket.
pub const LOCAL_BUCKET: &str = "ferry";
/// The custom event bus's name.
pub const LOCAL_BUS: &str = "ferry";
/// The account id the local stack writes in events.
pub const LOCAL_ACCOUNT: &str = "000000000000";

/// Everything the server is started with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The base URL browsers reach this server at, without a trailing `/`
    /// (e.g. `http://127.0.0.1:8080`). The client's config points here.
    pub public_url: String,
    /// Where state is kept (SQLite, objects, keys).
    pub data_dir: PathBuf,
    /// The built web client (`dist/` of `cargo xtask build-web`).
    pub dist_dir: PathBuf,
    /// Token lifetimes.
    pub lifetimes: Lifetimes,
    /// The user pool's MFA setting.
    pub mfa: MfaConfiguration,
    /// Whether people may create their own accounts.
    pub allow_sign_up: bool,
    /// More URLs the hosted UI may redirect to (the app's own are always allowed).
    pub extra_callback_urls: Vec<String>,
    /// The file service's limits (quota, largest file, multipart threshold,
    /// URL lifetimes).
    pub files: FileSettings,
    /// The object endpoint's credentials; generated and kept in the data
    /// directory when not given.
    pub s3_credentials: Option<S3Credentials>,
    /// More web origins allowed to upload and download (the app's own always is).
    pub extra_origins: Vec<String>,
    /// Who may frame the app's pages: the sources of the Content Security
    /// Policy's `frame-ancestors` (`'self'` by default; `'none'`, or a
    /// portal's origin).
    pub frame_ancestors: Vec<String>,
    /// How the web client signs people in: SRP in its own form, or through
    /// the hosted UI (authorization code with PKCE).
    pub auth_mode: AuthMode,
    /// Upload tuning the web client is given (the threshold and the largest
    /// file come from `files`).
    pub client_upload: UploadSettings,
    /// The WebSocket's limits.
    pub live: LiveSettings,
    /// How the bus retries a failing consumer.
    pub bus_retry: RetryPolicy,
    /// How often the reconciliation sweep runs (it also runs at start).
    pub sweep_every: Duration,
    /// How long an upload may sit idle before the sweep aborts it.
    pub upload_idle: Duration,
    /// How often the server looks for accepted commands that never reached
    /// the bus, and puts them there (it also looks at start; see
    /// [`maintenance::unsent`]).
    pub resend_every: Duration,
    /// How long the bus keeps an event once every delivery of it is done
    /// (a week by default); the periodic sweep then removes it
    /// ([`LocalBus::prune`]), so `bus.sqlite3` stops growing. The bus
    /// drops an entry put again under the same key only while it keeps
    /// the first, so this stays far above any retry: commands' own ids are
    /// answered by the index for good, and unsent commands are looked for
    /// a minute after they were accepted.
    pub bus_retention: Duration,
}

/// The access key pair of the object endpoint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Credentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret.
    pub secret_access_key: String,
}

impl S3Credentials {
    /// The pair kept in `{data_dir}/keys/s3-credentials.json`, created (0600)
    /// with a random secret on first start.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join("keys").join("s3-credentials.json");
        if let Ok(text) = std::fs::read_to_string(&path) {
            return Ok(serde_json::from_str(&text)?);
        }
        let mut secret = [0u8; 30];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut secret);
        use base64::Engine as _;
        let credentials = Self {
            access_key_id: "FERRYLOCAL".to_owned(),
            secret_access_key: base64::engine::general_purpose::STANDARD.encode(secret),
        };
        std::fs::create_dir_all(data_dir.join("keys"))?;
        identity::tokens::write_private(
            &path,
            serde_json::to_string_pretty(&credentials)?.as_bytes(),
        )?;
        Ok(credentials)
    }
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
            files: FileSettings::default(),
            s3_credentials: None,
            extra_origins: Vec::new(),
            frame_ancestors: vec!["'self'".to_owned()],
            auth_mode: AuthMode::Srp,
            client_upload: UploadSettings::default(),
            live: LiveSettings::default(),
            bus_retry: RetryPolicy::default(),
            sweep_every: Duration::from_secs(60 * 60),
            upload_idle: Duration::from_secs(24 * 60 * 60),
            resend_every: maintenance::unsent::RESEND_EVERY,
            bus_retention: Duration::from_secs(7 * 24 * 60 * 60),
        }
    }

    /// The web origin of `public_url` (scheme, host and port).
    pub fn origin(&self) -> String {
        let url = self.public_url.trim_end_matches('/');
        match url.find("://") {
            Some(scheme_end) => match url[scheme_end + 3..].find('/') {
                Some(path) => url[..scheme_end + 3 + path].to_owned(),
                None => url.to_owned(),
            },
            None => url.to_owned(),
        }
    }

    /// The Content Security Policy of the app's pages. Nothing inline and
    /// nothing from elsewhere: scripts, styles and workers come from this
    /// origin (`'wasm-unsafe-eval'` lets the page compile its wasm), and the
    /// client connects only to what `/config.json` names: the API, identity
    /// endpoint and object endpoint at `public_url`, and the WebSocket.
    /// `public_url` is named as well as `'self'` because behind a proxy the
    /// page's own origin may differ from it, and the WebSocket's `ws:`/`wss:`
    /// origin is named because only newer browsers let `'self'` cover it.
    pub fn content_security_policy(&self) -> String {
        let origin = self.origin();
        let websocket = origin
            .strip_prefix("https://")
            .map(|rest| format!("wss://{rest}"))
            .or_else(|| {
                origin
                    .strip_prefix("http://")
                    .map(|rest| format!("ws://{rest}"))
            });
        let mut connect = vec!["'self'".to_owned(), origin.clone()];
        connect.extend(websocket);
        let ancestors = if self.frame_ancestors.is_empty() {
            "'none'".to_owned()
        } else {
            self.frame_ancestors.join(" ")
        };
        format!(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
             connect-src {}; worker-src 'self'; img-src 'self' data: blob:; \
             base-uri 'none'; frame-ancestors {ancestors}",
            connect.join(" ")
        )
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
            base_url: self.public_url.clone(),
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
            auth_mode: self.auth_mode,
            hosted_ui_url: Some(base.to_owned()),
            token_storage: TokenStorage::Session,
            upload: UploadSettings {
                multipart_threshold_bytes: self.files.multipart_threshold,
                max_file_bytes: self.files.max_file_bytes,
                ..self.client_upload.clone()
            },
            environment: Some("local".to_owned()),
        }
    }
}

/// Shared state of every handler.
#[derive(Debug)]
pub struct AppState {
    /// The settings the server started with.
    pub settings: Settings,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The identity provider.
    pub identity: Arc<Identity>,
    /// The file service.
    pub files: Files,
    /// The consumers behind the bus, and the sweep.
    pub consumers: Consumers,
    /// The bus.
    pub bus: Arc<LocalBus>,
    /// The S3-compatible object endpoint.
    pub objects: Arc<ObjectEndpoint>,
    /// The live feed and sockets.
    pub live: Arc<LiveHub>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// A bus rule's target: one of the domain's consumers.
struct ConsumerTarget {
    rule: &'static str,
    consumers: Arc<OnceLock<Consumers>>,
}

#[ferry_bus::async_trait]
impl Target for ConsumerTarget {
    async fn deliver(&self, event: &serde_json::Value) -> Result<(), String> {
        match self.consumers.get() {
            Some(consumers) => consumers.deliver(self.rule, event).await,
            None => Err("the consumers are not started yet".to_owned()),
        }
    }
}

impl AppState {
    /// Opens everything kept in the data directory. Inside a Tokio runtime it
    /// also starts the bus's dispatcher and the periodic sweep (see
    /// [`AppState::start`]).
    pub fn open(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Arc<Self>> {
        let data = settings.data_dir.clone();
        std::fs::create_dir_all(&data)?;
        let identity = Arc::new(Identity::open(settings.identity(), &data, clock.clone())?);

        let index = SqliteIndex::open(&data.join("index.sqlite3"))?;
        let live = LiveHub::open(&data.join("feed.sqlite3"), settings.live)?;
        let cell: Arc<OnceLock<Consumers>> = Arc::new(OnceLock::new());
        let bus_rules = rules()
            .into_iter()
            .map(|(name, pattern)| Rule {
                name: name.to_owned(),
                pattern,
                target: Arc::new(ConsumerTarget {
                    rule: name,
                    consumers: cell.clone(),
                }),
            })
            .collect();
        let bus = LocalBus::open(
            &data.join("bus.sqlite3"),
            BusConfig {
                name: LOCAL_BUS.to_owned(),
                account: LOCAL_ACCOUNT.to_owned(),
                region: LOCAL_REGION.to_owned(),
                retry: settings.bus_retry,
            },
            bus_rules,
            clock.clone(),
        )?;
        let credentials = match &settings.s3_credentials {
            Some(credentials) => credentials.clone(),
            None => S3Credentials::load_or_create(&data)?,
        };
        let mut origins = vec![settings.origin()];
        origins.extend(settings.extra_origins.iter().cloned());
        let objects = ObjectEndpoint::new(
            ObjectsConfig {
                bucket: LOCAL_BUCKET.to_owned(),
                region: LOCAL_REGION.to_owned(),
                access_key_id: credentials.access_key_id,
                secret_access_key: credentials.secret_access_key,
                root: data.join("objects"),
                public_url: settings.public_url.clone(),
                allowed_origins: origins,
            },
            bus.clone(),
            clock.clone(),
        )?;
        let store = objects.store();
        let thumbnailer: Arc<dyn ferry_core::ports::Thumbnailer> =
            Arc::new(ferry_thumbnailer::EngineThumbnailer::default());
        let consumers = Consumers::new(
            store.clone(),
            index.clone(),
            bus.clone(),
            live.clone(),
            clock.clone(),
        )
        .with_retention(settings.files.retention)
        .with_thumbnailer(thumbnailer.clone());
        let _ = cell.set(consumers.clone());
        let files = Files::new(
            store,
            index,
            bus.clone(),
            clock.clone(),
            settings.files.clone(),
        )
        .with_thumbnailer(thumbnailer);
        let state = Arc::new(Self {
            settings,
            clock,
            identity,
            files,
            consumers,
            bus,
            objects,
            live,
            tasks: Mutex::new(Vec::new()),
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            state.start();
        }
        Ok(state)
    }

    /// Starts the bus's dispatcher, the sweep (at once, then every
    /// `sweep_every`; it also prunes the feed, completed uploads' records
    /// and delivered events) and the look for unsent commands (at once,
    /// then every `resend_every`). Needs a Tokio runtime.
    pub fn start(self: &Arc<Self>) {
        let Ok(mut tasks) = self.tasks.lock() else {
            return;
        };
        if !tasks.is_empty() {
            return;
        }
        tasks.push(self.bus.start());
        let consumers = self.consumers.clone();
        let live = self.live.clone();
        let objects = self.objects.clone();
        let bus = self.bus.clone();
        let clock = self.clock.clone();
        let (every, idle) = (self.settings.sweep_every, self.settings.upload_idle);
        let retention = self.settings.bus_retention;
        tasks.push(tokio::spawn(async move {
            loop {
                match consumers.sweep(idle).await {
                    Ok(report) if report != Default::default() => {
                        tracing::info!(?report, "sweep repaired what was left behind");
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "the sweep will try again"),
                }
                let _ = live.prune(clock.unix()).await;
                // A completed upload's record answers its retries; after
                // as long as an upload may sit idle, it goes.
                if let Err(error) = objects.prune_completions(idle).await {
                    tracing::warn!(%error, "completed uploads' records will be pruned later");
                }
                // Delivered events go once kept long enough to drop an
                // entry put twice (see `Settings::bus_retention`).
                let bus = bus.clone();
                match tokio::task::spawn_blocking(move || bus.prune(retention)).await {
                    Ok(Ok(0)) => {}
                    Ok(Ok(removed)) => tracing::debug!(removed, "delivered events pruned"),
                    Ok(Err(error)) => {
                        tracing::warn!(%error, "delivered events will be pruned later");
                    }
                    Err(error) => tracing::warn!(%error, "pruning delivered events stopped"),
                }
                tokio::time::sleep(every).await;
            }
        }));
        tasks.push(tokio::spawn(resend_unsent(
            self.settings.data_dir.clone(),
            self.bus.clone(),
            self.clock.clone(),
            self.settings.resend_every,
        )));
    }
}

/// Puts accepted commands that never reached the bus there, at once and
/// then every `every`: after a crash between the API's two steps, or on a
/// data directory restored from a backup whose index copy holds a command
/// its bus copy doesn't, nothing is lost and nobody has to run `check`.
async fn resend_unsent(
    data_dir: PathBuf,
    bus: Arc<LocalBus>,
    clock: Arc<dyn Clock>,
    every: Duration,
) {
    loop {
        let now = i64::try_from(clock.now().unix_timestamp_nanos()).unwrap_or(i64::MAX);
        match maintenance::unsent::resend_pass(&data_dir, bus.as_ref(), now).await {
            Ok(sent) => {
                for command in sent {
                    tracing::info!(
                        user = %command.user,
                        command_id = %command.command_id,
                        action = %command.action,
                        "an accepted command was not on the bus (a crash or a backup in between): put it there"
                    );
                }
            }
            Err(error) => tracing::warn!(%error, "unsent commands will be looked for again"),
        }
        tokio::time::sleep(every).await;
    }
}

impl Drop for AppState {
    fn drop(&mut self) {
        if let Ok(tasks) = self.tasks.lock() {
            for task in tasks.iter() {
                task.abort();
            }
        }
    }
}

/// The whole HTTP surface of the local stack.
/// The log filter: `FERRY_LOG` when set (e.g. `debug`), else `info`. The
/// S3 library's own log lines are left out unless `FERRY_LOG` names `s3s`:
/// it logs every refused request (a bad signature, an expired link) at
/// ERROR, where ERROR is for the server's own faults; the object endpoint
/// logs refusals itself, at WARN.
pub fn log_filter(ferry_log: Option<&str>) -> tracing_subscriber::EnvFilter {
    let wanted = ferry_log.unwrap_or("info,tower_http=warn");
    let wanted = if wanted.contains("s3s") {
        wanted.to_owned()
    } else {
        format!("{wanted},s3s=off")
    };
    tracing_subscriber::EnvFilter::try_new(&wanted)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=warn,s3s=off"))
}

pub fn app(state: Arc<AppState>) -> Router {
    let bucket = format!("/{LOCAL_BUCKET}");
    // The object endpoint answers its own paths with S3's bytes, headers and
    // errors: no compression or cache headers from the web layer.
    let objects = Router::new()
        .route(&bucket, any(object_request))
        .route(&format!("{bucket}/"), any(object_request))
        .route(&format!("{bucket}/{{*key}}"), any(object_request))
        .route("/ws", get(live::connect))
        .with_state(state.clone());
    web::routes(state).merge(objects)
}

async fn object_request(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> axum::response::Response {
    state.objects.handle(request).await
}
