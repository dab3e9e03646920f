//! The challenges a sign-in may meet after its password, as Cognito names
//! them: `NEW_PASSWORD_REQUIRED` for a temporary password,
//! `SOFTWARE_TOKEN_MFA` for a code from an authenticator app, and
//! `MFA_SETUP` when the pool requires one and the user has none yet; and
//! the authenticator's own operations (`AssociateSoftwareToken`,
//! `VerifySoftwareToken`, `SetUserMFAPreference`).
//!
//! Each challenge waits in a session that works once, for three minutes,
//! for the app client that started it; an MFA session takes three wrong
//! codes.

use crate::session::{Pending, SESSION_SECONDS, Session};
use crate::store::{User, UserStatus};
use crate::{CognitoError, Identity, MfaConfiguration, password, random, str_param, totp};
use serde_json::{Value, json};

/// How many wrong codes one MFA challenge session takes.
const MFA_ATTEMPTS: u8 = 3;

impl Identity {
    /// `RespondToAuthChallenge`: the answer to whichever challenge the
    /// session is waiting for.
    pub(crate) fn respond_to_auth_challenge(
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
            ("PASSWORD_VERIFIER", Pending::PasswordVerifier(pending)) => {
                self.password_verifier(&session.username, client_id, &responses, address, pending)
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

    /// What a successful password proof leads to: tokens, or the
    /// new-password challenge.
    pub(crate) fn after_password(
        &self,
        user: &User,
        client_id: &str,
    ) -> Result<Value, CognitoError> {
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

    pub(crate) fn associate_software_token(&self, body: &Value) -> Result<Value, CognitoError> {
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

    pub(crate) fn verify_software_token(&self, body: &Value) -> Result<Value, CognitoError> {
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

    pub(crate) fn set_user_mfa_preference(&self, body: &Value) -> Result<Value, CognitoError> {
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
}
