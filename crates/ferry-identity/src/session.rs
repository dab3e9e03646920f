//! Challenge sessions: what a sign-in waits for between two requests. Each
//! works once, for three minutes, for the app client that started it; the
//! sign-in (`sign_in`) and the challenges after it (`challenges`) keep and
//! take them here.

use crate::{CognitoError, Identity, random};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use ferry_srp::ServerChallenge;
use std::collections::HashMap;

/// How long a challenge session lives, as in Cognito.
pub(crate) const SESSION_SECONDS: i64 = 3 * 60;

/// An SRP challenge handed out, waiting for its PASSWORD_VERIFIER answer.
#[derive(Debug)]
pub(crate) struct PasswordChallenge {
    pub(crate) challenge: Box<ServerChallenge>,
    pub(crate) srp_a: String,
    pub(crate) secret_block: Vec<u8>,
    /// False for a name that is not a user: the challenge can't succeed.
    pub(crate) known: bool,
}

/// What a challenge session waits for.
#[derive(Debug)]
pub(crate) enum Pending {
    PasswordVerifier(PasswordChallenge),
    NewPasswordRequired,
    SoftwareTokenMfa { attempts: u8 },
    MfaSetup,
    MfaSetupVerified,
}

/// A challenge in flight: whose, for which app client, since when.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) username: String,
    pub(crate) client_id: String,
    pub(crate) created: i64,
    pub(crate) pending: Pending,
}

impl Identity {
    pub(crate) fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // Sessions are plain data; one left by a panicking thread is still valid.
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn new_session(&self, session: Session) -> String {
        let id = B64URL.encode(random::<48>());
        self.keep_session(id.clone(), session);
        id
    }

    /// Keeps a pending challenge under `key` (a session id, or a
    /// PASSWORD_VERIFIER's SECRET_BLOCK), dropping the stale ones.
    pub(crate) fn keep_session(&self, key: String, session: Session) {
        let mut sessions = self.sessions();
        let now = self.clock.unix();
        sessions.retain(|_, s| now - s.created <= SESSION_SECONDS);
        sessions.insert(key, session);
    }

    /// Takes a session out (sessions are single-use), if it is still fresh.
    pub(crate) fn take_session(&self, id: &str, client_id: &str) -> Result<Session, CognitoError> {
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
}
