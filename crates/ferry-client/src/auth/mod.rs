//! The Cognito sign-in conversation, as plain logic over a [`Transport`].
//!
//! This module owns what the browser says to the user pool (`InitiateAuth`,
//! `RespondToAuthChallenge`, password reset, refresh, revoke), what the
//! answers mean ([`Step`]), the sentences a person sees for each error
//! ([`AuthError`]), and when a [`TokenSet`] needs refreshing. It does no IO of
//! its own: the caller passes a transport, random bytes and the time, so the
//! same code runs in the browser and in native tests against the real
//! identity provider. The password never leaves this module: only the SRP
//! proof computed by `ferry-srp` is sent.

pub mod hosted;
pub mod store;

use serde::{Deserialize, Serialize};

/// How long before a token's `exp` it is refreshed.
pub const REFRESH_MARGIN_SECONDS: i64 = 5 * 60;

/// One call to the user pool's JSON API, e.g. `InitiateAuth`. Bodies are
/// JSON text: the conversation writes and reads them with typed structs
/// (no `serde_json::Value`, whose machinery would weigh on the sign-in
/// page's download).
pub trait Transport {
    /// Sends `body` as `AWSCognitoIdentityProviderService.{operation}` and
    /// returns the answer's body: `Ok` for a 2xx answer, `Err` otherwise.
    fn call(
        &self,
        operation: &str,
        body: String,
    ) -> impl Future<Output = Result<String, TransportError>>;
}

/// What can go wrong below the conversation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No answer arrived (network down, CORS refusal).
    #[error("no answer from the identity provider")]
    Unreachable,
    /// A Cognito error body: `__type` and `message`.
    #[error("{kind}: {message}")]
    Service {
        /// `__type`, without any `prefix#`.
        kind: String,
        /// `message`.
        message: String,
    },
}

impl TransportError {
    /// Reads a Cognito error body (`{"__type": .., "message": ..}`).
    pub fn from_body(body: &str) -> Self {
        #[derive(Deserialize, Default)]
        #[serde(default)]
        struct ErrorBody {
            #[serde(rename = "__type")]
            kind: Option<String>,
            message: Option<String>,
            #[serde(rename = "Message")]
            upper_message: Option<String>,
        }
        let error: ErrorBody = serde_json::from_str(body).unwrap_or_default();
        let kind = error
            .kind
            .unwrap_or_else(|| "InternalErrorException".to_owned());
        let kind = kind.rsplit('#').next().unwrap_or(&kind).to_owned();
        let message = error.message.or(error.upper_message).unwrap_or_default();
        Self::Service { kind, message }
    }
}

/// Why a sign-in step failed, in words a person understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Wrong password or unknown user (the provider answers both alike).
    #[error("Incorrect username or password.")]
    IncorrectCredentials,
    /// Too many attempts.
    #[error("Too many attempts. Wait a few minutes and try again.")]
    TooManyAttempts,
    /// A code that does not match.
    #[error("That code is not right. Check it and try again.")]
    WrongCode,
    /// A code or a challenge session that expired.
    #[error("That code or sign-in step has expired. Start again.")]
    Expired,
    /// The new password does not meet the pool's policy.
    #[error(
        "That password is not allowed. Use at least 8 characters with upper and lower case letters, a number and a symbol."
    )]
    WeakPassword,
    /// The user must reset their password first.
    #[error("Your password must be reset. Use \"Forgot password?\".")]
    ResetRequired,
    /// The account is disabled.
    #[error("This account is disabled.")]
    Disabled,
    /// The session is no longer valid (refresh token revoked or expired).
    #[error("Your session has ended. Sign in again.")]
    SessionEnded,
    /// No answer arrived.
    #[error("Can't reach the sign-in service. Check your connection.")]
    Unreachable,
    /// Anything else the provider said, or an answer we could not read.
    #[error("Sign-in failed: {0}")]
    Other(String),
}

impl From<TransportError> for AuthError {
    fn from(error: TransportError) -> Self {
        match error {
            TransportError::Unreachable => Self::Unreachable,
            TransportError::Service { kind, message } => {
                // Cognito's messages are English; ASCII folding is enough
                // and keeps Unicode's case tables out of the first chunk.
                let lower = message.to_ascii_lowercase();
                match kind.as_str() {
                    "NotAuthorizedException" if lower.contains("disabled") => Self::Disabled,
                    "NotAuthorizedException"
                        if lower.contains("attempts exceeded") || lower.contains("too many") =>
                    {
                        Self::TooManyAttempts
                    }
                    "NotAuthorizedException"
                        if lower.contains("session") && lower.contains("expired") =>
                    {
                        Self::Expired
                    }
                    "NotAuthorizedException"
                        if lower.contains("refresh token") || lower.contains("revoked") =>
                    {
                        Self::SessionEnded
                    }
                    "NotAuthorizedException" | "UserNotFoundException" => {
                        Self::IncorrectCredentials
                    }
                    "TooManyRequestsException"
                    | "LimitExceededException"
                    | "TooManyFailedAttemptsException" => Self::TooManyAttempts,
                    "CodeMismatchException" | "EnableSoftwareTokenMFAException" => Self::WrongCode,
                    "ExpiredCodeException" => Self::Expired,
                    "InvalidPasswordException" => Self::WeakPassword,
                    "PasswordResetRequiredException" => Self::ResetRequired,
                    _ => Self::Other(if message.is_empty() { kind } else { message }),
                }
            }
        }
    }
}

/// The tokens a sign-in or a refresh hands out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenSet {
    /// The id token (a JWT).
    pub id_token: String,
    /// The access token (a JWT), sent to the API.
    pub access_token: String,
    /// The refresh token; a refresh answer keeps the previous one.
    pub refresh_token: Option<String>,
    /// The access token's `exp`, in Unix seconds.
    pub expires_at: i64,
    /// The access token's `iat`, in Unix seconds (read once, when the
    /// tokens arrive, so the page needn't decode tokens to schedule a
    /// refresh; tokens stored before it was kept have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<i64>,
}

/// A sign-in's or a refresh's `AuthenticationResult`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AuthenticationResult {
    /// The access token.
    pub access_token: Option<String>,
    /// The id token.
    pub id_token: Option<String>,
    /// The refresh token (a refresh's answer has none).
    pub refresh_token: Option<String>,
}

fn missing(name: &str) -> AuthError {
    AuthError::Other(format!("the answer has no {name}"))
}

impl TokenSet {
    /// Reads an `AuthenticationResult`; `previous_refresh` is kept when the
    /// answer carries none (as `REFRESH_TOKEN_AUTH` answers do).
    pub fn from_result(
        result: &AuthenticationResult,
        previous_refresh: Option<&str>,
    ) -> Result<Self, AuthError> {
        let access_token = result
            .access_token
            .clone()
            .ok_or_else(|| missing("AccessToken"))?;
        let id_token = result.id_token.clone().ok_or_else(|| missing("IdToken"))?;
        let refresh_token = result
            .refresh_token
            .as_deref()
            .or(previous_refresh)
            .map(str::to_owned);
        Self::new(id_token, access_token, refresh_token)
    }

    /// The tokens, with the access token's lifetime read from its claims.
    pub fn new(
        id_token: String,
        access_token: String,
        refresh_token: Option<String>,
    ) -> Result<Self, AuthError> {
        let claims = jwt_claims(&access_token).unwrap_or_default();
        let expires_at = claims
            .exp
            .ok_or_else(|| AuthError::Other("the access token has no expiry".into()))?;
        Ok(Self {
            id_token,
            access_token,
            refresh_token,
            expires_at,
            issued_at: claims.iat,
        })
    }

    /// When to refresh: [`REFRESH_MARGIN_SECONDS`] before the access token
    /// expires, or halfway through its life when it lives less than twice
    /// that (a pool with short-lived tokens would otherwise refresh again
    /// and again, each new token already due).
    pub fn refresh_at(&self) -> i64 {
        let issued = self
            .issued_at
            .unwrap_or(self.expires_at - 2 * REFRESH_MARGIN_SECONDS);
        let lifetime = (self.expires_at - issued).max(0);
        self.expires_at - REFRESH_MARGIN_SECONDS.min(lifetime / 2)
    }

    /// Whether the tokens should be refreshed at `now` (Unix seconds).
    pub fn needs_refresh(&self, now: i64) -> bool {
        now >= self.refresh_at()
    }

    /// Whether the access token is still usable at `now`.
    pub fn is_valid(&self, now: i64) -> bool {
        now < self.expires_at
    }

    /// The signed-in user's name, from the id token (`cognito:username`).
    /// (The browser reads it with its own `atob` and `JSON`, so this
    /// decoder stays out of the first load.)
    pub fn username(&self) -> Option<String> {
        let claims = jwt_claims(&self.id_token)?;
        claims.cognito_username.or(claims.username)
    }
}

/// The claims of our tokens the client reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Claims {
    /// Expiry, Unix seconds.
    pub exp: Option<i64>,
    /// Issued at, Unix seconds.
    pub iat: Option<i64>,
    /// The id token's user name.
    #[serde(rename = "cognito:username")]
    pub cognito_username: Option<String>,
    /// The access token's user name.
    pub username: Option<String>,
    /// Which of the two a Cognito token is: `id` or `access`.
    pub token_use: Option<String>,
}

/// Reads the tokens a host page's `tokenProvider` handed over (its
/// `idToken` and `accessToken`): two JWTs, neither one the other's kind
/// (Cognito's say so in `token_use`), the access token not expired at `now`
/// (Unix seconds). They come with no refresh token: the provider is asked
/// again. The error says, for the host's developer, what is wrong.
pub fn provided_tokens(
    id_token: Option<String>,
    access_token: Option<String>,
    now: i64,
) -> Result<TokenSet, String> {
    let read = |token: Option<String>, field: &str, kind: &str| {
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| format!("the token provider's answer has no `{field}`"))?;
        let claims = jwt_claims(&token)
            .ok_or_else(|| format!("the token provider's `{field}` is not a JWT"))?;
        match claims.token_use.as_deref() {
            Some(used) if used != kind => Err(format!(
                "the token provider's `{field}` is an {used} token, not an {kind} token"
            )),
            _ => Ok((token, claims)),
        }
    };
    let (id_token, _) = read(id_token, "idToken", "id")?;
    let (access_token, claims) = read(access_token, "accessToken", "access")?;
    match claims.exp {
        None => return Err("the token provider's `accessToken` has no expiry (`exp`)".to_owned()),
        Some(exp) if exp <= now => {
            return Err("the token provider's `accessToken` has expired".to_owned());
        }
        Some(_) => {}
    }
    TokenSet::new(id_token, access_token, None).map_err(|e| e.to_string())
}

/// The claims of a JWT, decoded but not verified: the client only reads its
/// own tokens' expiry and name; the API checks signatures.
pub fn jwt_claims(token: &str) -> Option<Claims> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Where the conversation stands after an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Signed in.
    SignedIn(TokenSet),
    /// A temporary password was used: the user picks a new one.
    NewPasswordRequired {
        /// The challenge session.
        session: String,
        /// The user's name as the provider knows it.
        username: String,
    },
    /// A code from the authenticator app is needed.
    MfaCode {
        /// The challenge session.
        session: String,
        /// The user's name as the provider knows it.
        username: String,
    },
    /// MFA is required but not set up: show `secret`, then ask for a code.
    MfaSetup {
        /// The session to verify the first code with.
        session: String,
        /// The user's name as the provider knows it.
        username: String,
        /// The TOTP secret (base32) to enter in an authenticator app.
        secret: String,
    },
}

impl Step {
    /// An `otpauth://` URI for the MFA setup secret, for apps that take one.
    pub fn otpauth_uri(username: &str, secret: &str) -> String {
        format!("otpauth://totp/Ferry:{username}?secret={secret}&issuer=Ferry")
    }
}

/// The pool's name as SRP uses it: the pool id after the `_`.
pub fn pool_name(user_pool_id: &str) -> &str {
    user_pool_id
        .split_once('_')
        .map_or(user_pool_id, |(_, name)| name)
}

/// A sign-in client for one app client of one user pool.
#[derive(Debug, Clone)]
pub struct Client<T> {
    transport: T,
    user_pool_id: String,
    client_id: String,
}

/// A request to the user pool: every operation's fields, those unset left
/// out (Cognito's API is PascalCase JSON).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Request<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_flow: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    challenge_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_parameters: Option<Parameters<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    challenge_responses: Option<Parameters<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    friendly_device_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    confirmation_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    software_token_mfa_settings: Option<MfaSettings>,
}

/// `AuthParameters` and `ChallengeResponses`: string maps with
/// SCREAMING_SNAKE_CASE keys.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
struct Parameters<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    srp_a: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_claim_secret_block: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_claim_signature: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    new_password: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    software_token_mfa_code: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct MfaSettings {
    enabled: bool,
    preferred_mfa: bool,
}

/// Any answer of the user pool, with the fields the conversation reads.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Answer {
    challenge_name: Option<String>,
    session: Option<String>,
    challenge_parameters: ChallengeParameters,
    authentication_result: Option<AuthenticationResult>,
    secret_code: Option<String>,
    status: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE", default)]
struct ChallengeParameters {
    user_id_for_srp: Option<String>,
    username: Option<String>,
    secret_block: Option<String>,
    salt: Option<String>,
    srp_b: Option<String>,
}

fn required(value: Option<String>, name: &str) -> Result<String, AuthError> {
    value.ok_or_else(|| missing(name))
}

impl<T: Transport> Client<T> {
    /// A client for `client_id` of the pool `user_pool_id`, over `transport`.
    pub fn new(transport: T, user_pool_id: &str, client_id: &str) -> Self {
        Self {
            transport,
            user_pool_id: user_pool_id.to_owned(),
            client_id: client_id.to_owned(),
        }
    }

    /// The transport, e.g. for other calls with the same endpoint.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    async fn call(&self, operation: &str, request: Request<'_>) -> Result<Answer, AuthError> {
        let body = serde_json::to_string(&request).map_err(|e| AuthError::Other(e.to_string()))?;
        let answer = self.transport.call(operation, body).await?;
        serde_json::from_str(&answer).map_err(|_| AuthError::Unreachable)
    }

    fn client_id(&self) -> Option<&str> {
        Some(&self.client_id)
    }

    /// Signs in with SRP: `random` is [`ferry_srp::EXPONENT_BYTES`] fresh
    /// random bytes, `now` the time (for the claim's TIMESTAMP).
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        random: &[u8],
        now: time::OffsetDateTime,
    ) -> Result<Step, AuthError> {
        let srp =
            ferry_srp::ClientSession::new(random).map_err(|e| AuthError::Other(e.to_string()))?;
        let srp_a = srp.srp_a();
        let answer = self
            .call(
                "InitiateAuth",
                Request {
                    auth_flow: Some("USER_SRP_AUTH"),
                    client_id: self.client_id(),
                    auth_parameters: Some(Parameters {
                        username: Some(username),
                        srp_a: Some(&srp_a),
                        ..Parameters::default()
                    }),
                    ..Request::default()
                },
            )
            .await?;
        if answer.challenge_name.as_deref() != Some("PASSWORD_VERIFIER") {
            return self.interpret(answer, username, None).await;
        }
        let params = answer.challenge_parameters;
        let user_id = required(params.user_id_for_srp, "USER_ID_FOR_SRP")?;
        let secret_block = required(params.secret_block, "SECRET_BLOCK")?;
        let timestamp = ferry_srp::timestamp(now);
        let signature = srp
            .password_claim(
                pool_name(&self.user_pool_id),
                &user_id,
                password,
                &required(params.salt, "SALT")?,
                &required(params.srp_b, "SRP_B")?,
                &secret_block,
                &timestamp,
            )
            .map_err(|e| AuthError::Other(e.to_string()))?;
        let name = params.username.unwrap_or_else(|| user_id.clone());
        let answer = self
            .call(
                "RespondToAuthChallenge",
                Request {
                    challenge_name: Some("PASSWORD_VERIFIER"),
                    client_id: self.client_id(),
                    session: answer.session.as_deref(),
                    challenge_responses: Some(Parameters {
                        username: Some(&name),
                        password_claim_secret_block: Some(&secret_block),
                        timestamp: Some(&timestamp),
                        password_claim_signature: Some(&signature),
                        ..Parameters::default()
                    }),
                    ..Request::default()
                },
            )
            .await?;
        self.interpret(answer, &name, None).await
    }

    /// Turns an answer into a [`Step`]; `MFA_SETUP` starts the association.
    async fn interpret(
        &self,
        answer: Answer,
        username: &str,
        previous_refresh: Option<&str>,
    ) -> Result<Step, AuthError> {
        if let Some(result) = &answer.authentication_result {
            return TokenSet::from_result(result, previous_refresh).map(Step::SignedIn);
        }
        let session = required(answer.session, "Session")?;
        let params = answer.challenge_parameters;
        let username = params
            .user_id_for_srp
            .or(params.username)
            .unwrap_or_else(|| username.to_owned());
        match answer.challenge_name.as_deref() {
            Some("NEW_PASSWORD_REQUIRED") => Ok(Step::NewPasswordRequired { session, username }),
            Some("SOFTWARE_TOKEN_MFA") => Ok(Step::MfaCode { session, username }),
            Some("MFA_SETUP") => {
                let associated = self
                    .call(
                        "AssociateSoftwareToken",
                        Request {
                            session: Some(&session),
                            ..Request::default()
                        },
                    )
                    .await?;
                Ok(Step::MfaSetup {
                    session: required(associated.session, "Session")?,
                    secret: required(associated.secret_code, "SecretCode")?,
                    username,
                })
            }
            other => Err(AuthError::Other(format!(
                "unsupported challenge {}",
                other.unwrap_or("(none)")
            ))),
        }
    }

    async fn respond(
        &self,
        challenge: &str,
        session: &str,
        username: &str,
        responses: Parameters<'_>,
    ) -> Result<Step, AuthError> {
        let answer = self
            .call(
                "RespondToAuthChallenge",
                Request {
                    challenge_name: Some(challenge),
                    client_id: self.client_id(),
                    session: Some(session),
                    challenge_responses: Some(Parameters {
                        username: Some(username),
                        ..responses
                    }),
                    ..Request::default()
                },
            )
            .await?;
        self.interpret(answer, username, None).await
    }

    /// Answers `NEW_PASSWORD_REQUIRED`.
    pub async fn set_new_password(
        &self,
        session: &str,
        username: &str,
        new_password: &str,
    ) -> Result<Step, AuthError> {
        let responses = Parameters {
            new_password: Some(new_password),
            ..Parameters::default()
        };
        self.respond("NEW_PASSWORD_REQUIRED", session, username, responses)
            .await
    }

    /// Answers `SOFTWARE_TOKEN_MFA` with a code from the app.
    pub async fn verify_mfa_code(
        &self,
        session: &str,
        username: &str,
        code: &str,
    ) -> Result<Step, AuthError> {
        let responses = Parameters {
            software_token_mfa_code: Some(code.trim()),
            ..Parameters::default()
        };
        self.respond("SOFTWARE_TOKEN_MFA", session, username, responses)
            .await
    }

    /// Finishes `MFA_SETUP`: verifies the first code, then answers the challenge.
    pub async fn finish_mfa_setup(
        &self,
        session: &str,
        username: &str,
        code: &str,
    ) -> Result<Step, AuthError> {
        let verified = self
            .call(
                "VerifySoftwareToken",
                Request {
                    session: Some(session),
                    user_code: Some(code.trim()),
                    friendly_device_name: Some("Ferry"),
                    ..Request::default()
                },
            )
            .await?;
        if verified.status.as_deref() != Some("SUCCESS") {
            return Err(AuthError::WrongCode);
        }
        let session = verified.session.as_deref().unwrap_or(session);
        self.respond("MFA_SETUP", session, username, Parameters::default())
            .await
    }

    /// Trades the refresh token for new id and access tokens.
    pub async fn refresh(&self, tokens: &TokenSet) -> Result<TokenSet, AuthError> {
        let refresh = tokens
            .refresh_token
            .as_deref()
            .ok_or(AuthError::SessionEnded)?;
        let answer = self
            .call(
                "InitiateAuth",
                Request {
                    auth_flow: Some("REFRESH_TOKEN_AUTH"),
                    client_id: self.client_id(),
                    auth_parameters: Some(Parameters {
                        refresh_token: Some(refresh),
                        ..Parameters::default()
                    }),
                    ..Request::default()
                },
            )
            .await?;
        let result = answer
            .authentication_result
            .ok_or_else(|| missing("AuthenticationResult"))?;
        TokenSet::from_result(&result, Some(refresh))
    }

    /// Signs out: revokes the refresh token (and with it the tokens it issued).
    pub async fn sign_out(&self, tokens: &TokenSet) -> Result<(), AuthError> {
        if let Some(refresh) = &tokens.refresh_token {
            self.call(
                "RevokeToken",
                Request {
                    token: Some(refresh),
                    client_id: self.client_id(),
                    ..Request::default()
                },
            )
            .await?;
        }
        Ok(())
    }

    /// Signs out everywhere: every refresh token of the user stops working.
    pub async fn global_sign_out(&self, tokens: &TokenSet) -> Result<(), AuthError> {
        self.call(
            "GlobalSignOut",
            Request {
                access_token: Some(&tokens.access_token),
                ..Request::default()
            },
        )
        .await?;
        Ok(())
    }

    /// Starts adding an authenticator app for a signed-in user: the secret to show.
    pub async fn associate_software_token(&self, tokens: &TokenSet) -> Result<String, AuthError> {
        let answer = self
            .call(
                "AssociateSoftwareToken",
                Request {
                    access_token: Some(&tokens.access_token),
                    ..Request::default()
                },
            )
            .await?;
        required(answer.secret_code, "SecretCode")
    }

    /// Checks the app's first code and turns MFA on for the signed-in user.
    pub async fn enable_software_mfa(
        &self,
        tokens: &TokenSet,
        code: &str,
    ) -> Result<(), AuthError> {
        let verified = self
            .call(
                "VerifySoftwareToken",
                Request {
                    access_token: Some(&tokens.access_token),
                    user_code: Some(code.trim()),
                    friendly_device_name: Some("Ferry"),
                    ..Request::default()
                },
            )
            .await?;
        if verified.status.as_deref() != Some("SUCCESS") {
            return Err(AuthError::WrongCode);
        }
        self.call(
            "SetUserMFAPreference",
            Request {
                access_token: Some(&tokens.access_token),
                software_token_mfa_settings: Some(MfaSettings {
                    enabled: true,
                    preferred_mfa: true,
                }),
                ..Request::default()
            },
        )
        .await?;
        Ok(())
    }

    /// Sends a password-reset code (to the outbox on the local stack).
    pub async fn forgot_password(&self, username: &str) -> Result<(), AuthError> {
        self.call(
            "ForgotPassword",
            Request {
                client_id: self.client_id(),
                username: Some(username),
                ..Request::default()
            },
        )
        .await?;
        Ok(())
    }

    /// Sets a new password with the code [`Self::forgot_password`] sent.
    pub async fn confirm_forgot_password(
        &self,
        username: &str,
        code: &str,
        new_password: &str,
    ) -> Result<(), AuthError> {
        self.call(
            "ConfirmForgotPassword",
            Request {
                client_id: self.client_id(),
                username: Some(username),
                confirmation_code: Some(code.trim()),
                password: Some(new_password),
                ..Request::default()
            },
        )
        .await?;
        Ok(())
    }
}

// Native only: the tests drive the conversation on Tokio.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
