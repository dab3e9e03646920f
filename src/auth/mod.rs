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

use serde_json::{Value, json};

/// How long before a token's `exp` it is refreshed.
pub const REFRESH_MARGIN_SECONDS: i64 = 5 * 60;

/// One call to the user pool's JSON API, e.g. `InitiateAuth`.
pub trait Transport {
    /// Sends `body` as `AWSCognitoIdentityProviderService.{operation}` and
    /// returns the answer: `Ok` for a 2xx body, `Err` otherwise.
    fn call(
        &self,
        operation: &str,
        body: Value,
    ) -> impl Future<Output = Result<Value, TransportError>>;
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
        let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let kind = value["__type"].as_str().unwrap_or("InternalErrorException");
        let kind = kind.rsplit('#').next().unwrap_or(kind).to_owned();
        let message = value["message"]
            .as_str()
            .or_else(|| value["Message"].as_str())
            .unwrap_or_default()
            .to_owned();
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
                let lower = message.to_lowercase();
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
}

impl TokenSet {
    /// Reads an `AuthenticationResult`; `previous_refresh` is kept when the
    /// answer carries none (as `REFRESH_TOKEN_AUTH` answers do).
    pub fn from_result(result: &Value, previous_refresh: Option<&str>) -> Result<Self, AuthError> {
        let field = |name: &str| {
            result[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| AuthError::Other(format!("the answer has no {name}")))
        };
        let access_token = field("AccessToken")?;
        let id_token = field("IdToken")?;
        let expires_at = jwt_claims(&access_token)
            .and_then(|claims| claims["exp"].as_i64())
            .ok_or_else(|| AuthError::Other("the access token has no expiry".into()))?;
        let refresh_token = result["RefreshToken"]
            .as_str()
            .or(previous_refresh)
            .map(str::to_owned);
        Ok(Self {
            id_token,
            access_token,
            refresh_token,
            expires_at,
        })
    }

    /// When to refresh: [`REFRESH_MARGIN_SECONDS`] before the access token
    /// expires, or halfway through its life when it lives less than twice
    /// that (a pool with short-lived tokens would otherwise refresh again
    /// and again, each new token already due).
    pub fn refresh_at(&self) -> i64 {
        let issued = jwt_claims(&self.access_token)
            .and_then(|claims| claims["iat"].as_i64())
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
    pub fn username(&self) -> Option<String> {
        let claims = jwt_claims(&self.id_token)?;
        claims["cognito:username"]
            .as_str()
            .or_else(|| claims["username"].as_str())
            .map(str::to_owned)
    }
}

/// The claims of a JWT, decoded but not verified: the client only reads its
/// own tokens' expiry and name; the API checks signatures.
pub fn jwt_claims(token: &str) -> Option<Value> {
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

fn str_of(value: &Value, name: &str) -> Result<String, AuthError> {
    value[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| AuthError::Other(format!("the answer has no {name}")))
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

    async fn call(&self, operation: &str, body: Value) -> Result<Value, AuthError> {
        Ok(self.transport.call(operation, body).await?)
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
        let answer = self
            .call(
                "InitiateAuth",
                json!({
                    "AuthFlow": "USER_SRP_AUTH",
                    "ClientId": self.client_id,
                    "AuthParameters": {"USERNAME": username, "SRP_A": srp.srp_a()},
                }),
            )
            .await?;
        if answer["ChallengeName"] != "PASSWORD_VERIFIER" {
            return self.interpret(answer, username, None).await;
        }
        let params = &answer["ChallengeParameters"];
        let user_id = str_of(params, "USER_ID_FOR_SRP")?;
        let secret_block = str_of(params, "SECRET_BLOCK")?;
        let timestamp = ferry_srp::timestamp(now);
        let signature = srp
            .password_claim(
                pool_name(&self.user_pool_id),
                &user_id,
                password,
                &str_of(params, "SALT")?,
                &str_of(params, "SRP_B")?,
                &secret_block,
                &timestamp,
            )
            .map_err(|e| AuthError::Other(e.to_string()))?;
        let name = params["USERNAME"].as_str().unwrap_or(&user_id).to_owned();
        let mut body = json!({
            "ChallengeName": "PASSWORD_VERIFIER",
            "ClientId": self.client_id,
            "ChallengeResponses": {
                "USERNAME": name,
                "PASSWORD_CLAIM_SECRET_BLOCK": secret_block,
                "TIMESTAMP": timestamp,
                "PASSWORD_CLAIM_SIGNATURE": signature,
            },
        });
        if let Some(session) = answer["Session"].as_str() {
            body["Session"] = json!(session);
        }
        let answer = self.call("RespondToAuthChallenge", body).await?;
        self.interpret(answer, &name, None).await
    }

    /// Turns an answer into a [`Step`]; `MFA_SETUP` starts the association.
    async fn interpret(
        &self,
        answer: Value,
        username: &str,
        previous_refresh: Option<&str>,
    ) -> Result<Step, AuthError> {
        if answer["AuthenticationResult"].is_object() {
            return TokenSet::from_result(&answer["AuthenticationResult"], previous_refresh)
                .map(Step::SignedIn);
        }
        let session = str_of(&answer, "Session")?;
        let username = answer["ChallengeParameters"]["USER_ID_FOR_SRP"]
            .as_str()
            .or_else(|| answer["ChallengeParameters"]["USERNAME"].as_str())
            .unwrap_or(username)
            .to_owned();
        match answer["ChallengeName"].as_str() {
            Some("NEW_PASSWORD_REQUIRED") => Ok(Step::NewPasswordRequired { session, username }),
            Some("SOFTWARE_TOKEN_MFA") => Ok(Step::MfaCode { session, username }),
            Some("MFA_SETUP") => {
                let associated = self
                    .call("AssociateSoftwareToken", json!({"Session": session}))
                    .await?;
                Ok(Step::MfaSetup {
                    session: str_of(&associated, "Session")?,
                    secret: str_of(&associated, "SecretCode")?,
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
        responses: Value,
    ) -> Result<Step, AuthError> {
        let mut responses = responses;
        responses["USERNAME"] = json!(username);
        let answer = self
            .call(
                "RespondToAuthChallenge",
                json!({
                    "ChallengeName": challenge,
                    "ClientId": self.client_id,
                    "Session": session,
                    "ChallengeResponses": responses,
                }),
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
        self.respond(
            "NEW_PASSWORD_REQUIRED",
            session,
            username,
            json!({"NEW_PASSWORD": new_password}),
        )
        .await
    }

    /// Answers `SOFTWARE_TOKEN_MFA` with a code from the app.
    pub async fn verify_mfa_code(
        &self,
        session: &str,
        username: &str,
        code: &str,
    ) -> Result<Step, AuthError> {
        self.respond(
            "SOFTWARE_TOKEN_MFA",
            session,
            username,
            json!({"SOFTWARE_TOKEN_MFA_CODE": code.trim()}),
        )
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
                json!({"Session": session, "UserCode": code.trim(),
                       "FriendlyDeviceName": "Ferry"}),
            )
            .await?;
        if verified["Status"] != "SUCCESS" {
            return Err(AuthError::WrongCode);
        }
        let session = verified["Session"].as_str().unwrap_or(session);
        self.respond("MFA_SETUP", session, username, json!({}))
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
                json!({
                    "AuthFlow": "REFRESH_TOKEN_AUTH",
                    "ClientId": self.client_id,
                    "AuthParameters": {"REFRESH_TOKEN": refresh},
                }),
            )
            .await?;
        TokenSet::from_result(&answer["AuthenticationResult"], Some(refresh))
    }

    /// Signs out: revokes the refresh token (and with it the tokens it issued).
    pub async fn sign_out(&self, tokens: &TokenSet) -> Result<(), AuthError> {
        if let Some(refresh) = &tokens.refresh_token {
            self.call(
                "RevokeToken",
                json!({"Token": refresh, "ClientId": self.client_id}),
            )
            .await?;
        }
        Ok(())
    }

    /// Signs out everywhere: every refresh token of the user stops working.
    pub async fn global_sign_out(&self, tokens: &TokenSet) -> Result<(), AuthError> {
        self.call("GlobalSignOut", json!({"AccessToken": tokens.access_token}))
            .await?;
        Ok(())
    }

    /// Starts adding an authenticator app for a signed-in user: the secret to show.
    pub async fn associate_software_token(&self, tokens: &TokenSet) -> Result<String, AuthError> {
        let answer = self
            .call(
                "AssociateSoftwareToken",
                json!({"AccessToken": tokens.access_token}),
            )
            .await?;
        str_of(&answer, "SecretCode")
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
                json!({"AccessToken": tokens.access_token, "UserCode": code.trim(),
                       "FriendlyDeviceName": "Ferry"}),
            )
            .await?;
        if verified["Status"] != "SUCCESS" {
            return Err(AuthError::WrongCode);
        }
        self.call(
            "SetUserMFAPreference",
            json!({"AccessToken": tokens.access_token,
                   "SoftwareTokenMfaSettings": {"Enabled": true, "PreferredMfa": true}}),
        )
        .await?;
        Ok(())
    }

    /// Sends a password-reset code (to the outbox on the local stack).
    pub async fn forgot_password(&self, username: &str) -> Result<(), AuthError> {
        self.call(
            "ForgotPassword",
            json!({"ClientId": self.client_id, "Username": username}),
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
            json!({"ClientId": self.client_id, "Username": username,
                   "ConfirmationCode": code.trim(), "Password": new_password}),
        )
        .await?;
        Ok(())
    }
}

// Native only: the tests drive the conversation on Tokio.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;
