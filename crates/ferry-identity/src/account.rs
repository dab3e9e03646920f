//! Accounts and passwords: users created by the operator (`create_user`,
//! `set_password`) or by themselves (`SignUp`, `ConfirmSignUp`), password
//! resets (`ForgotPassword`, `ConfirmForgotPassword`), `ChangePassword` and
//! `GetUser`.
//!
//! Codes are "sent" to the outbox in the data directory, one file per
//! message, in place of e-mail; only their digests are kept, each works
//! once, expires, and takes five wrong guesses. A reset for a name that is
//! not a user (or is disabled) is answered the same way and sends nothing.

use crate::store::{self, User, UserStatus};
use crate::{CognitoError, Identity, password, random, str_param};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use ferry_srp::PasswordVerifier;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How long a password-reset code works, as in Cognito.
const RESET_CODE_SECONDS: i64 = 60 * 60;
/// How long a sign-up confirmation code works, as in Cognito.
const SIGN_UP_CODE_SECONDS: i64 = 24 * 60 * 60;
/// Wrong guesses a code takes before it stops working.
const CODE_ATTEMPTS: u32 = 5;

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

impl Identity {
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
        // Written aside and renamed, so whoever reads the outbox never sees
        // half a message.
        let partial = self
            .outbox
            .join(format!(".{now}-{}.partial", B64URL.encode(random::<8>())));
        std::fs::write(&partial, text)
            .and_then(|()| std::fs::rename(&partial, &file))
            .map_err(anyhow::Error::from)?;
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

    pub(crate) fn forgot_password(&self, body: &Value) -> Result<Value, CognitoError> {
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

    pub(crate) fn confirm_forgot_password(&self, body: &Value) -> Result<Value, CognitoError> {
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

    pub(crate) fn sign_up(&self, body: &Value) -> Result<Value, CognitoError> {
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

    pub(crate) fn confirm_sign_up(&self, body: &Value) -> Result<Value, CognitoError> {
        self.client_of(body)?;
        let username = str_param(body, "Username")?;
        self.check_code(username, "sign-up", str_param(body, "ConfirmationCode")?)?;
        self.store.confirm(username)?;
        Ok(json!({}))
    }

    pub(crate) fn get_user(&self, body: &Value) -> Result<Value, CognitoError> {
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

    pub(crate) fn change_password(&self, body: &Value) -> Result<Value, CognitoError> {
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
}
