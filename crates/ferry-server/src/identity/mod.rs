//! A local identity provider that speaks Amazon Cognito's user-pool protocol.
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

pub mod hosted;
pub mod password;
pub mod store;
pub mod throttle;
pub mod tokens;
pub mod totp;

use crate::clock::Clock;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use ferry_srp::{PasswordVerifier, ServerChallenge};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use store::{RefreshGrant, User, UserStatus, UserStore};
use subtle::ConstantTimeEq;
use tokens::{TokenKeys, TokenUse};

/// How long a challenge session lives, as in Cognito.
const SESSION_SECONDS: i64 = 3 * 60;
/// How far a PASSWORD_VERIFIER TIMESTAMP may be from the server's clock.
const TIMESTAMP_SKEW_SECONDS: i64 = 5 * 60;
/// The scope Cognito puts in access tokens from the user-pool API.
const ADMIN_SCOPE: &str = "aws.cognito.signin.user.admin";
/// The scopes the app client may ask the hosted UI for.
const OAUTH_SCOPES: [&str; 5] = ["openid", "email", "phone", "profile", ADMIN_SCOPE];

/// The scopes a hosted-UI sign-in grants for the `scope` it asked for:
/// those the client may have, in the order asked, or all of them when it
/// asked for none (as Cognito does).
pub(crate) fn granted_scopes(requested: &str) -> String {
    let mut granted: Vec<&str> = Vec::new();
    for scope in requested.split_whitespace() {
        if OAUTH_SCOPES.contains(&scope) && !granted.contains(&scope) {
            granted.push(scope);
        }
    }
    if granted.is_empty() {
        granted = OAUTH_SCOPES.to_vec();
    }
    granted.join(" ")
}

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

/// How many wrong codes one MFA challenge session takes.
const MFA_ATTEMPTS: u8 = 3;

#[derive(Debug)]
enum Pending {
    PasswordVerifier {
        challenge: Box<ServerChallenge>,
        srp_a: String,
        secret_block: Vec<u8>,
        /// False for a name that is not a user: the challenge can't succeed.
        known: bool,
    },
    NewPasswordRequired,
    SoftwareTokenMfa {
        attempts: u8,
    },
    MfaSetup,
    MfaSetupVerified,
}

#[derive(Debug)]
struct Session {
    username: String,
    client_id: String,
    created: i64,
    pending: Pending,
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

/// How long a password-reset code works, as in Cognito.
const RESET_CODE_SECONDS: i64 = 60 * 60;
/// How long a sign-up confirmation code works, as in Cognito.
const SIGN_UP_CODE_SECONDS: i64 = 24 * 60 * 60;
/// Wrong guesses a code takes before it stops working.
const CODE_ATTEMPTS: u32 = 5;

/// An error in Cognito's shape.
#[derive(Debug)]
pub struct CognitoError {
    pub(crate) kind: &'static str,
    pub(crate) message: String,
    status: StatusCode,
}

impl CognitoError {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    fn not_authorized(message: &str) -> Self {
        Self::new("NotAuthorizedException", message)
    }

    fn wrong_credentials() -> Self {
        Self::not_authorized("Incorrect username or password.")
    }

    fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterException", message)
    }

    fn internal(error: anyhow::Error) -> Self {
        tracing::error!(error = %error, "identity provider failure");
        Self {
            kind: "InternalErrorException",
            message: "An internal error occurred.".into(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<anyhow::Error> for CognitoError {
    fn from(error: anyhow::Error) -> Self {
        Self::internal(error)
    }
}

impl IntoResponse for CognitoError {
    fn into_response(self) -> Response {
        let body = json!({"__type": self.kind, "message": self.message});
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-amz-json-1.1"),
        );
        headers.insert("x-amzn-errortype", HeaderValue::from_static(self.kind));
        response
    }
}

/// Cognito's `CodeDeliveryDetails`, with the address masked as Cognito masks it.
fn delivery_details(address: &str) -> Value {
    let masked = match address.split_once('@') {
        Some((local, domain)) => format!(
            "{}***@{}***",
            local.chars().next().unwrap_or('*'),
            domain.chars().next().unwrap_or('*')
        ),
        None => format!("{}***", address.chars().next().unwrap_or('*')),
    };
    json!({"CodeDeliveryDetails": {"Destination": masked, "DeliveryMedium": "EMAIL", "AttributeName": "email"}})
}

fn amz_json(body: Value) -> Response {
    let mut response = (StatusCode::OK, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    response
}

pub(crate) fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    bytes
}

fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn str_param<'a>(params: &'a Value, name: &str) -> Result<&'a str, CognitoError> {
    params
        .get(name)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| CognitoError::invalid(format!("Missing required parameter {name}")))
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

    fn pool_name(&self) -> &str {
        self.settings
            .pool_id
            .split_once('_')
            .map_or(self.settings.pool_id.as_str(), |(_, name)| name)
    }

    /// Creates a user with `password`, checked against the policy.
    pub fn create_user(
        &self,
        username: &str,
        password: &str,
        email: Option<String>,
        temporary: bool,
    ) -> anyhow::Result<User> {
        let user = User {
            status: if temporary {
                UserStatus::ForceChangePassword
            } else {
                UserStatus::Confirmed
            },
            ..self
                .new_user(username, password, email)
                .map_err(|e| anyhow::anyhow!(e.message))?
        };
        self.store.add(&user)?;
        Ok(user)
    }

    fn new_user(
        &self,
        username: &str,
        password: &str,
        email: Option<String>,
    ) -> Result<User, CognitoError> {
        password::check(password).map_err(|m| CognitoError::new("InvalidPasswordException", m))?;
        let bad_name = username.is_empty()
            || username.len() > 128
            || username
                .chars()
                .any(|c| c.is_whitespace() || c.is_control());
        if bad_name {
            return Err(CognitoError::invalid(
                "A user name is 1 to 128 characters without spaces.",
            ));
        }
        Ok(User {
            username: username.to_owned(),
            sub: uuid::Uuid::new_v4().to_string(),
            email,
            verifier: PasswordVerifier::new(self.pool_name(), username, password, &random::<16>()),
            status: UserStatus::Confirmed,
            enabled: true,
            tokens_valid_after: 0,
            created_at: self.clock.unix(),
            totp: store::Totp::default(),
        })
    }

    /// Sets a user's password; `temporary` makes them choose a new one at sign-in.
    pub fn set_password(
        &self,
        username: &str,
        password: &str,
        temporary: bool,
    ) -> anyhow::Result<bool> {
        password::check(password).map_err(anyhow::Error::msg)?;
        let verifier = PasswordVerifier::new(self.pool_name(), username, password, &random::<16>());
        let status = if temporary {
            UserStatus::ForceChangePassword
        } else {
            UserStatus::Confirmed
        };
        self.store
            .set_password(username, &verifier, status, self.clock.unix())
    }

    /// The request's `ClientId`, checked against the pool's app clients.
    fn client_of<'a>(&self, body: &'a Value) -> Result<&'a str, CognitoError> {
        let client_id = str_param(body, "ClientId")?;
        self.check_client(client_id)?;
        Ok(client_id)
    }

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

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // Sessions are plain data; one left by a panicking thread is still valid.
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn new_session(&self, session: Session) -> String {
        let id = B64URL.encode(random::<48>());
        self.keep_session(id.clone(), session);
        id
    }

    /// Keeps a pending challenge under `key` (a session id, or a
    /// PASSWORD_VERIFIER's SECRET_BLOCK), dropping the stale ones.
    fn keep_session(&self, key: String, session: Session) {
        let mut sessions = self.sessions();
        let now = self.clock.unix();
        sessions.retain(|_, s| now - s.created <= SESSION_SECONDS);
        sessions.insert(key, session);
    }

    /// Takes a session out (sessions are single-use), if it is still fresh.
    fn take_session(&self, id: &str, client_id: &str) -> Result<Session, CognitoError> {
        let session = self.sessions().remove(id);
        match session {
            Some(s)
                if self.clock.unix() - s.created <= SESSION_SECONDS && s.client_id == client_id =>
            {
                Ok(s)
            }
            _ => Err(CognitoError::not_authorized(
                "Invalid session for the user, session is expired.",
            )),
        }
    }

    fn issue_tokens(
        &self,
        user: &User,
        client_id: &str,
        with_refresh: Option<&RefreshGrant>,
    ) -> anyhow::Result<Value> {
        let now = self.clock.unix();
        let (origin_jti, auth_time) = match with_refresh {
            Some(grant) => (grant.origin_jti.clone(), grant.auth_time),
            None => (uuid::Uuid::new_v4().to_string(), now),
        };
        let exp = now + self.settings.lifetimes.access;
        let event_id = uuid::Uuid::new_v4().to_string();
        let mut id_claims = json!({
            "sub": user.sub,
            "iss": self.settings.issuer,
            "cognito:username": user.username,
            "origin_jti": origin_jti,
            "aud": client_id,
            "event_id": event_id,
            "token_use": "id",
            "auth_time": auth_time,
            "exp": exp,
            "iat": now,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        if let Some(email) = &user.email {
            id_claims["email"] = json!(email);
            id_claims["email_verified"] = json!(true);
        }
        let access_claims = json!({
            "sub": user.sub,
            "iss": self.settings.issuer,
            "client_id": client_id,
            "origin_jti": origin_jti,
            "event_id": event_id,
            "token_use": "access",
            "scope": with_refresh.and_then(|grant| grant.scope.as_deref()).unwrap_or(ADMIN_SCOPE),
            "auth_time": auth_time,
            "exp": exp,
            "iat": now,
            "jti": uuid::Uuid::new_v4().to_string(),
            "username": user.username,
        });
        let mut result = json!({
            "AccessToken": self.keys.sign(TokenUse::Access, &access_claims),
            "IdToken": self.keys.sign(TokenUse::Id, &id_claims),
            "ExpiresIn": self.settings.lifetimes.access,
            "TokenType": "Bearer",
        });
        if with_refresh.is_none() {
            let refresh = B64URL.encode(random::<48>());
            self.store.add_refresh_token(
                &digest(&refresh),
                &RefreshGrant {
                    username: user.username.clone(),
                    client_id: client_id.to_owned(),
                    origin_jti,
                    auth_time,
                    expires_at: now + self.settings.lifetimes.refresh,
                    revoked: false,
                    scope: None,
                },
            )?;
            result["RefreshToken"] = json!(refresh);
        }
        Ok(json!({"AuthenticationResult": result, "ChallengeParameters": {}}))
    }

    /// What a successful password proof leads to: tokens, or the
    /// new-password challenge.
    fn after_password(&self, user: &User, client_id: &str) -> Result<Value, CognitoError> {
        if !user.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
        if user.status == UserStatus::Unconfirmed {
            return Err(CognitoError::new(
                "UserNotConfirmedException",
                "User is not confirmed.",
            ));
        }
        if user.status == UserStatus::ForceChangePassword {
            let session = self.new_session(Session {
                username: user.username.clone(),
                client_id: client_id.to_owned(),
                created: self.clock.unix(),
                pending: Pending::NewPasswordRequired,
            });
            let attributes = match &user.email {
                Some(email) => json!({"email": email}),
                None => json!({}),
            };
            return Ok(json!({
                "ChallengeName": "NEW_PASSWORD_REQUIRED",
                "ChallengeParameters": {
                    "USER_ID_FOR_SRP": user.username,
                    "requiredAttributes": "[]",
                    "userAttributes": attributes.to_string(),
                },
                "Session": session,
            }));
        }
        if self.settings.mfa != MfaConfiguration::Off
            && user.totp.enabled
            && user.totp.secret.is_some()
        {
            let session = self.new_session(Session {
                username: user.username.clone(),
                client_id: client_id.to_owned(),
                created: self.clock.unix(),
                pending: Pending::SoftwareTokenMfa { attempts: 0 },
            });
            return Ok(json!({
                "ChallengeName": "SOFTWARE_TOKEN_MFA",
                "ChallengeParameters": {"USER_ID_FOR_SRP": user.username},
                "Session": session,
            }));
        }
        if self.settings.mfa == MfaConfiguration::Required {
            let session = self.new_session(Session {
                username: user.username.clone(),
                client_id: client_id.to_owned(),
                created: self.clock.unix(),
                pending: Pending::MfaSetup,
            });
            return Ok(json!({
                "ChallengeName": "MFA_SETUP",
                "ChallengeParameters": {"MFAS_CAN_SETUP": "[\"SOFTWARE_TOKEN_MFA\"]"},
                "Session": session,
            }));
        }
        Ok(self.issue_tokens(user, client_id, None)?)
    }

    /// Checks a TOTP code for `user`, consuming its step.
    fn check_totp(&self, user: &User, secret: &[u8], code: &str) -> Result<i64, CognitoError> {
        let step = totp::verify(secret, code, self.clock.unix(), user.totp.last_step).ok_or_else(
            || CognitoError::new("CodeMismatchException", "Invalid code received for user"),
        )?;
        Ok(step)
    }

    fn software_token_mfa(
        &self,
        session_id: &str,
        session: Session,
        responses: &Value,
        attempts: u8,
    ) -> Result<Value, CognitoError> {
        let code = str_param(responses, "SOFTWARE_TOKEN_MFA_CODE")?;
        let user = self
            .store
            .get(&session.username)?
            .ok_or_else(CognitoError::wrong_credentials)?;
        let secret = user
            .totp
            .secret
            .clone()
            .ok_or_else(CognitoError::wrong_credentials)?;
        let accepted = match self.check_totp(&user, &secret, code) {
            Ok(step) => self.store.use_totp_step(&user.username, step)?,
            Err(_) => false,
        };
        if !accepted {
            if attempts + 1 < MFA_ATTEMPTS {
                // The same session may try again, a bounded number of times.
                self.sessions().insert(
                    session_id.to_owned(),
                    Session {
                        pending: Pending::SoftwareTokenMfa {
                            attempts: attempts + 1,
                        },
                        ..session
                    },
                );
                return Err(CognitoError::new(
                    "CodeMismatchException",
                    "Invalid code received for user",
                ));
            }
            return Err(CognitoError::not_authorized(
                "Invalid session for the user, session is expired.",
            ));
        }
        Ok(self.issue_tokens(&user, &session.client_id, None)?)
    }

    /// The user an MFA-setup request is about: by access token, or by the
    /// sign-in session that asked for the setup.
    fn mfa_setup_user(
        &self,
        body: &Value,
    ) -> Result<(User, Option<(String, Session)>), CognitoError> {
        if let Some(token) = body.get("AccessToken").and_then(Value::as_str) {
            let (_, user) = self.check_access_token(token)?;
            return Ok((user, None));
        }
        let id = str_param(body, "Session")?;
        let session = self
            .sessions()
            .remove(id)
            .filter(|s| {
                self.clock.unix() - s.created <= SESSION_SECONDS
                    && matches!(s.pending, Pending::MfaSetup)
            })
            .ok_or_else(|| {
                CognitoError::not_authorized("Invalid session for the user, session is expired.")
            })?;
        let user = self
            .store
            .get(&session.username)?
            .ok_or_else(CognitoError::wrong_credentials)?;
        Ok((user, Some((id.to_owned(), session))))
    }

    fn associate_software_token(&self, body: &Value) -> Result<Value, CognitoError> {
        let (user, session) = self.mfa_setup_user(body)?;
        let secret = random::<20>();
        self.store.set_totp_pending(&user.username, &secret)?;
        let mut answer = json!({"SecretCode": totp::base32(&secret)});
        if let Some((_, session)) = session {
            answer["Session"] = json!(self.new_session(Session {
                created: self.clock.unix(),
                ..session
            }));
        }
        Ok(answer)
    }

    fn verify_software_token(&self, body: &Value) -> Result<Value, CognitoError> {
        let (user, session) = self.mfa_setup_user(body)?;
        let code = str_param(body, "UserCode")?;
        let pending = user
            .totp
            .pending
            .clone()
            .ok_or_else(|| CognitoError::invalid("Call AssociateSoftwareToken first."))?;
        let Some(step) = totp::verify(&pending, code, self.clock.unix(), None) else {
            // The setup session stays usable, so a mistyped code can be retried.
            if let Some((id, session)) = session {
                self.sessions().insert(id, session);
            }
            return Err(CognitoError::new(
                "EnableSoftwareTokenMFAException",
                "Code mismatch",
            ));
        };
        // Setting up during sign-in turns MFA on; with an access token the
        // user turns it on with SetUserMFAPreference.
        self.store
            .confirm_totp(&user.username, step, session.is_some())?;
        let mut answer = json!({"Status": "SUCCESS"});
        if let Some((_, session)) = session {
            answer["Session"] = json!(self.new_session(Session {
                created: self.clock.unix(),
                pending: Pending::MfaSetupVerified,
                ..session
            }));
        }
        Ok(answer)
    }

    fn set_user_mfa_preference(&self, body: &Value) -> Result<Value, CognitoError> {
        let (_, user) = self.check_access_token(str_param(body, "AccessToken")?)?;
        let Some(settings) = body.get("SoftwareTokenMfaSettings") else {
            return Ok(json!({}));
        };
        let enabled = settings
            .get("Enabled")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if enabled && user.totp.secret.is_none() {
            return Err(CognitoError::invalid(
                "User has not verified software token mfa",
            ));
        }
        if !enabled && self.settings.mfa == MfaConfiguration::Required {
            return Err(CognitoError::invalid("MFA is required for this user pool."));
        }
        self.store.set_totp_enabled(&user.username, enabled)?;
        Ok(json!({}))
    }

    fn throttle_check(
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
    fn password_outcome(
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

    fn code_digest(username: &str, purpose: &str, code: &str) -> Vec<u8> {
        Sha256::digest(format!("{purpose}:{username}:{code}").as_bytes()).to_vec()
    }

    /// Makes a 6-digit code for `purpose` and puts it in the outbox for `user`.
    fn send_code(
        &self,
        user: &User,
        purpose: &str,
        lifetime: i64,
        subject: &str,
    ) -> Result<Value, CognitoError> {
        let number = u32::from_be_bytes(random::<4>()) % 1_000_000;
        let code = format!("{number:06}");
        let now = self.clock.unix();
        self.store.put_code(
            &user.username,
            purpose,
            &Self::code_digest(&user.username, purpose, &code),
            now + lifetime,
        )?;
        let to = user.email.clone().unwrap_or_else(|| user.username.clone());
        std::fs::create_dir_all(&self.outbox).map_err(anyhow::Error::from)?;
        let file = self.outbox.join(format!(
            "{now}-{}-{purpose}.txt",
            B64URL.encode(user.username.as_bytes())
        ));
        let text = format!("To: {to}\nSubject: {subject}\n\nYour code is {code}. It works once.\n");
        std::fs::write(&file, text).map_err(anyhow::Error::from)?;
        // The log says where the message is, never what it says.
        tracing::info!(user = %user.username, purpose, outbox = %file.display(), "message written to the outbox");
        Ok(delivery_details(
            user.email.as_deref().unwrap_or(&user.username),
        ))
    }

    /// Checks a code sent for `purpose`, consuming it when right.
    fn check_code(&self, username: &str, purpose: &str, code: &str) -> Result<(), CognitoError> {
        let mismatch = || {
            CognitoError::new(
                "CodeMismatchException",
                "Invalid verification code provided, please try again.",
            )
        };
        let Some((digest, expires_at, attempts)) = self.store.code(username, purpose)? else {
            return Err(mismatch());
        };
        if attempts >= CODE_ATTEMPTS {
            return Err(CognitoError::new(
                "LimitExceededException",
                "Attempt limit exceeded, please try after some time.",
            ));
        }
        if expires_at < self.clock.unix() {
            return Err(CognitoError::new(
                "ExpiredCodeException",
                "Invalid code provided, please request a code again.",
            ));
        }
        if !bool::from(Self::code_digest(username, purpose, code).ct_eq(&digest)) {
            self.store.code_failed(username, purpose)?;
            return Err(mismatch());
        }
        self.store.delete_code(username, purpose)?;
        Ok(())
    }

    fn forgot_password(&self, body: &Value) -> Result<Value, CognitoError> {
        self.client_of(body)?;
        let username = str_param(body, "Username")?;
        match self.store.get(username)? {
            Some(user) if user.enabled => self.send_code(
                &user,
                "reset",
                RESET_CODE_SECONDS,
                "Your Ferry password reset code",
            ),
            // Nobody by that name (or disabled): answer the same way, send nothing.
            _ => {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.decoy_key)
                    .unwrap_or_else(|_| unreachable!());
                mac.update(username.as_bytes());
                let seed = mac.finalize().into_bytes();
                let letter = |b: u8| char::from(b'a' + b % 26);
                Ok(delivery_details(&format!(
                    "{}x@{}x.com",
                    letter(seed[0]),
                    letter(seed[1])
                )))
            }
        }
    }

    fn confirm_forgot_password(&self, body: &Value) -> Result<Value, CognitoError> {
        self.client_of(body)?;
        let username = str_param(body, "Username")?;
        let code = str_param(body, "ConfirmationCode")?;
        let password = str_param(body, "Password")?;
        password::check(password).map_err(|m| CognitoError::new("InvalidPasswordException", m))?;
        self.check_code(username, "reset", code)?;
        self.set_password(username, password, false)?;
        self.throttle.succeeded(username);
        Ok(json!({}))
    }

    fn sign_up(&self, body: &Value) -> Result<Value, CognitoError> {
        self.client_of(body)?;
        if !self.settings.allow_sign_up {
            return Err(CognitoError::not_authorized(
                "SignUp is not permitted for this user pool",
            ));
        }
        let username = str_param(body, "Username")?;
        let password = str_param(body, "Password")?;
        password::check(password).map_err(|m| CognitoError::new("InvalidPasswordException", m))?;
        let email = body
            .get("UserAttributes")
            .and_then(Value::as_array)
            .and_then(|attributes| attributes.iter().find(|a| a["Name"] == "email"))
            .and_then(|a| a["Value"].as_str())
            .map(str::to_owned);
        if self.store.get(username)?.is_some() {
            return Err(CognitoError::new(
                "UsernameExistsException",
                "User already exists",
            ));
        }
        let user = User {
            status: UserStatus::Unconfirmed,
            ..self.new_user(username, password, email)?
        };
        self.store.add(&user)?;
        let details = self.send_code(
            &user,
            "sign-up",
            SIGN_UP_CODE_SECONDS,
            "Your Ferry confirmation code",
        )?;
        Ok(json!({
            "UserConfirmed": false,
            "UserSub": user.sub,
            "CodeDeliveryDetails": details["CodeDeliveryDetails"],
        }))
    }

    fn confirm_sign_up(&self, body: &Value) -> Result<Value, CognitoError> {
        self.client_of(body)?;
        let username = str_param(body, "Username")?;
        self.check_code(username, "sign-up", str_param(body, "ConfirmationCode")?)?;
        self.store.confirm(username)?;
        Ok(json!({}))
    }

    fn initiate_auth(
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
                        pending: Pending::PasswordVerifier {
                            challenge: Box::new(challenge),
                            srp_a: srp_a.to_owned(),
                            secret_block,
                            known,
                        },
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
            "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => {
                let token = str_param(&params, "REFRESH_TOKEN")?;
                let invalid = || CognitoError::not_authorized("Invalid Refresh Token");
                let grant = self
                    .store
                    .refresh_token(&digest(token))?
                    .ok_or_else(invalid)?;
                if grant.revoked {
                    return Err(CognitoError::not_authorized(
                        "Refresh Token has been revoked",
                    ));
                }
                if grant.expires_at < self.clock.unix() {
                    return Err(CognitoError::not_authorized("Refresh Token has expired"));
                }
                if grant.client_id != client_id {
                    return Err(invalid());
                }
                let user = self.store.get(&grant.username)?.ok_or_else(invalid)?;
                if !user.enabled {
                    return Err(CognitoError::not_authorized("User is disabled."));
                }
                Ok(self.issue_tokens(&user, client_id, Some(&grant))?)
            }
            other => Err(CognitoError::invalid(format!(
                "Unsupported AuthFlow {other}"
            ))),
        }
    }

    fn respond_to_auth_challenge(
        &self,
        body: &Value,
        address: Option<std::net::IpAddr>,
    ) -> Result<Value, CognitoError> {
        let client_id = self.client_of(body)?;
        let name = str_param(body, "ChallengeName")?;
        let responses = body
            .get("ChallengeResponses")
            .cloned()
            .unwrap_or_else(|| json!({}));
        // PASSWORD_VERIFIER is answered without a Session, as AWS's API
        // allows: its SECRET_BLOCK names the challenge. Every other
        // challenge names its Session.
        let session_id = match body.get("Session").and_then(Value::as_str) {
            Some(id) => id,
            None if name == "PASSWORD_VERIFIER" => {
                str_param(&responses, "PASSWORD_CLAIM_SECRET_BLOCK")?
            }
            None => str_param(body, "Session")?,
        };
        let session = self.take_session(session_id, client_id)?;
        let username = str_param(&responses, "USERNAME")?;
        if username != session.username {
            return Err(CognitoError::wrong_credentials());
        }
        match (name, session.pending) {
            (
                "PASSWORD_VERIFIER",
                Pending::PasswordVerifier {
                    challenge,
                    srp_a,
                    secret_block,
                    known,
                },
            ) => {
                let given_block = B64
                    .decode(str_param(&responses, "PASSWORD_CLAIM_SECRET_BLOCK")?)
                    .unwrap_or_default();
                let timestamp = str_param(&responses, "TIMESTAMP")?;
                let signature = str_param(&responses, "PASSWORD_CLAIM_SIGNATURE")?;
                let stamped = ferry_srp::parse_timestamp(timestamp).ok_or_else(|| {
                    CognitoError::invalid("TIMESTAMP is not in the expected format.")
                })?;
                if (stamped.unix_timestamp() - self.clock.unix()).abs() > TIMESTAMP_SKEW_SECONDS {
                    return Err(CognitoError::not_authorized(
                        "TIMESTAMP is too far from the current time.",
                    ));
                }
                self.throttle_check(&session.username, address)?;
                let block_ok = bool::from(given_block.ct_eq(&secret_block));
                let proof = challenge.verify_claim(
                    &srp_a,
                    self.pool_name(),
                    &session.username,
                    &secret_block,
                    timestamp,
                    signature,
                );
                let user = self.store.get(&session.username)?;
                let result = match user {
                    Some(user) if known && block_ok && proof.is_ok() => {
                        self.after_password(&user, client_id)
                    }
                    _ => Err(CognitoError::wrong_credentials()),
                };
                self.password_outcome(&session.username, address, result)
            }
            ("NEW_PASSWORD_REQUIRED", Pending::NewPasswordRequired) => {
                let new_password = str_param(&responses, "NEW_PASSWORD")?;
                password::check(new_password)
                    .map_err(|m| CognitoError::new("InvalidPasswordException", m))?;
                self.set_password(&session.username, new_password, false)?;
                let user = self
                    .store
                    .get(&session.username)?
                    .ok_or_else(CognitoError::wrong_credentials)?;
                self.after_password(&user, client_id)
            }
            ("SOFTWARE_TOKEN_MFA", Pending::SoftwareTokenMfa { attempts }) => {
                let session = Session {
                    pending: Pending::SoftwareTokenMfa { attempts },
                    ..session
                };
                self.software_token_mfa(session_id, session, &responses, attempts)
            }
            ("MFA_SETUP", Pending::MfaSetupVerified) => {
                let user = self
                    .store
                    .get(&session.username)?
                    .ok_or_else(CognitoError::wrong_credentials)?;
                Ok(self.issue_tokens(&user, client_id, None)?)
            }
            _ => Err(CognitoError::invalid(format!(
                "Unexpected challenge {name} for this session."
            ))),
        }
    }

    /// Checks an access token as Cognito's user-pool API does: signature,
    /// issuer, use, expiry, and that it was not revoked since it was issued.
    pub fn check_access_token(&self, token: &str) -> Result<(Value, User), CognitoError> {
        let invalid = || CognitoError::not_authorized("Invalid Access Token");
        let claims = self.keys.verify(token).map_err(|_| invalid())?;
        if claims["token_use"] != "access" || claims["iss"] != self.settings.issuer.as_str() {
            return Err(invalid());
        }
        if claims["exp"].as_i64().unwrap_or(0) <= self.clock.unix() {
            return Err(CognitoError::not_authorized("Access Token has expired"));
        }
        let username = claims["username"].as_str().ok_or_else(invalid)?;
        let user = self.store.get(username)?.ok_or_else(invalid)?;
        if !user.enabled {
            return Err(CognitoError::not_authorized("User is disabled."));
        }
        if claims["iat"].as_i64().unwrap_or(0) < user.tokens_valid_after {
            return Err(CognitoError::not_authorized(
                "Access Token has been revoked",
            ));
        }
        Ok((claims, user))
    }

    /// The tokens an authorization code buys: the sign-in's, with the
    /// granted scopes in the access token (and in those its refresh token
    /// brings) and the authorize request's `nonce` in the ID token, signed
    /// again.
    pub(crate) fn authorization_code_tokens(
        &self,
        tokens: &Value,
        scope: &str,
        nonce: Option<&str>,
    ) -> anyhow::Result<Value> {
        let reissue = |name: &str, usage: TokenUse, claim: &str, value: &str| {
            let token = tokens[name]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("the sign-in has no {name}"))?;
            let mut claims = self.keys.verify(token)?;
            claims[claim] = json!(value);
            anyhow::Ok(json!(self.keys.sign(usage, &claims)))
        };
        let mut result = tokens.clone();
        result["AccessToken"] = reissue("AccessToken", TokenUse::Access, "scope", scope)?;
        if let Some(nonce) = nonce {
            result["IdToken"] = reissue("IdToken", TokenUse::Id, "nonce", nonce)?;
        }
        if let Some(refresh) = tokens["RefreshToken"].as_str() {
            self.store.set_refresh_scope(&digest(refresh), scope)?;
        }
        Ok(result)
    }

    /// What `/oauth2/userInfo` answers for an access token: the attributes
    /// its scopes allow (`openid` alone: all of them; `email`: the e-mail
    /// address), attribute values as strings, as Cognito answers. Refused,
    /// with the reason for the caller, unless the token is valid and has
    /// `openid` (the user-pool API's tokens don't).
    pub(crate) fn user_info(&self, token: &str) -> Result<Value, &'static str> {
        let (claims, user) = self.check_access_token(token).map_err(|_| {
            "Access token is expired, disabled, or deleted, or the user has globally signed out."
        })?;
        let scopes: Vec<&str> = claims["scope"]
            .as_str()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        if !scopes.contains(&"openid") {
            return Err("Access token does not contain openid scope");
        }
        let every_attribute = !scopes
            .iter()
            .any(|scope| matches!(*scope, "email" | "phone" | "profile"));
        let mut answer = json!({"sub": user.sub, "username": user.username});
        if let Some(email) = user
            .email
            .as_ref()
            .filter(|_| every_attribute || scopes.contains(&"email"))
        {
            answer["email"] = json!(email);
            answer["email_verified"] = json!("true");
        }
        Ok(answer)
    }

    fn get_user(&self, body: &Value) -> Result<Value, CognitoError> {
        let (_, user) = self.check_access_token(str_param(body, "AccessToken")?)?;
        let mut attributes = vec![json!({"Name": "sub", "Value": user.sub})];
        if let Some(email) = &user.email {
            attributes.push(json!({"Name": "email", "Value": email}));
            attributes.push(json!({"Name": "email_verified", "Value": "true"}));
        }
        let mut answer = json!({"Username": user.username, "UserAttributes": attributes});
        if user.totp.enabled && user.totp.secret.is_some() {
            answer["UserMFASettingList"] = json!(["SOFTWARE_TOKEN_MFA"]);
            answer["PreferredMfaSetting"] = json!("SOFTWARE_TOKEN_MFA");
        }
        Ok(answer)
    }

    fn change_password(&self, body: &Value) -> Result<Value, CognitoError> {
        let (_, user) = self.check_access_token(str_param(body, "AccessToken")?)?;
        let previous = str_param(body, "PreviousPassword")?;
        let proposed = str_param(body, "ProposedPassword")?;
        let typed = PasswordVerifier::new(
            self.pool_name(),
            &user.username,
            previous,
            &user.verifier.salt,
        );
        if !bool::from(typed.verifier.ct_eq(&user.verifier.verifier)) {
            return Err(CognitoError::wrong_credentials());
        }
        password::check(proposed).map_err(|m| CognitoError::new("InvalidPasswordException", m))?;
        self.set_password(&user.username, proposed, false)?;
        Ok(json!({}))
    }

    fn global_sign_out(&self, body: &Value) -> Result<Value, CognitoError> {
        let (_, user) = self.check_access_token(str_param(body, "AccessToken")?)?;
        // Tokens issued in this very second stay valid until the next one
        // (iat has one-second resolution), so the cut-off is a second later.
        self.store
            .sign_out_everywhere(&user.username, self.clock.unix() + 1)?;
        Ok(json!({}))
    }

    fn revoke_token(&self, body: &Value) -> Result<Value, CognitoError> {
        let client_id = self.client_of(body)?;
        let token = str_param(body, "Token")?;
        let grant = self.store.refresh_token(&digest(token))?;
        match grant {
            Some(grant) if grant.client_id == client_id => {
                self.store.revoke_refresh_token(&digest(token))?;
                Ok(json!({}))
            }
            _ => Err(CognitoError::new(
                "UnsupportedTokenTypeException",
                "The token can't be revoked.",
            )),
        }
    }

    pub(crate) fn dispatch(
        &self,
        operation: &str,
        body: &Value,
        address: Option<std::net::IpAddr>,
    ) -> Result<Value, CognitoError> {
        match operation {
            "InitiateAuth" => self.initiate_auth(body, address),
            "RespondToAuthChallenge" => self.respond_to_auth_challenge(body, address),
            "ForgotPassword" => self.forgot_password(body),
            "ConfirmForgotPassword" => self.confirm_forgot_password(body),
            "SignUp" => self.sign_up(body),
            "ConfirmSignUp" => self.confirm_sign_up(body),
            "GetUser" => self.get_user(body),
            "ChangePassword" => self.change_password(body),
            "GlobalSignOut" => self.global_sign_out(body),
            "RevokeToken" => self.revoke_token(body),
            "AssociateSoftwareToken" => self.associate_software_token(body),
            "VerifySoftwareToken" => self.verify_software_token(body),
            "SetUserMFAPreference" => self.set_user_mfa_preference(body),
            other => Err(CognitoError::new(
                "UnknownOperationException",
                format!("The operation {other} is not supported by this identity provider."),
            )),
        }
    }

    /// The OpenID Connect discovery document.
    pub fn openid_configuration(&self, base_url: &str) -> Value {
        json!({
            "issuer": self.settings.issuer,
            "jwks_uri": format!("{}/.well-known/jwks.json", self.settings.issuer),
            "authorization_endpoint": format!("{base_url}/oauth2/authorize"),
            "token_endpoint": format!("{base_url}/oauth2/token"),
            "userinfo_endpoint": format!("{base_url}/oauth2/userInfo"),
            "end_session_endpoint": format!("{base_url}/logout"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["none"],
            "code_challenge_methods_supported": ["S256"],
        })
    }
}

/// `POST /` with `X-Amz-Target: AWSCognitoIdentityProviderService.*`.
pub async fn handle(
    State(identity): State<Arc<Identity>>,
    request: axum::extract::Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let address = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    let Ok(body) = axum::body::to_bytes(body, 256 * 1024).await else {
        return CognitoError::new("SerializationException", "The request body is too large.")
            .into_response();
    };
    let headers = parts.headers;
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(operation) = target.strip_prefix("AWSCognitoIdentityProviderService.") else {
        return CognitoError::new(
            "UnknownOperationException",
            "Missing or unknown X-Amz-Target.",
        )
        .into_response();
    };
    let body: Value = match serde_json::from_slice(&body) {
        Ok(Value::Object(map)) => Value::Object(map),
        Ok(_) | Err(_) => {
            return CognitoError::new(
                "SerializationException",
                "The request body is not a JSON object.",
            )
            .into_response();
        }
    };
    let operation = operation.to_owned();
    // SRP's modular exponentiations take milliseconds of CPU: keep them off
    // the async workers.
    let result = tokio::task::spawn_blocking(move || {
        let result = identity.dispatch(&operation, &body, address);
        // Operators see what was asked and how it ended; never the parameters.
        let outcome = result.as_ref().map_or_else(|e| e.kind, |_| "ok");
        tracing::info!(operation = %operation, outcome, "identity request");
        result
    })
    .await;
    match result {
        Ok(Ok(value)) => amz_json(value),
        Ok(Err(error)) => error.into_response(),
        Err(join) => {
            CognitoError::internal(anyhow::anyhow!("identity task failed: {join}")).into_response()
        }
    }
}

/// `GET {issuer}/.well-known/jwks.json`.
pub async fn jwks(State(identity): State<Arc<Identity>>) -> Json<Value> {
    Json(identity.keys.jwks())
}
