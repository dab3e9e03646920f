//! Single sign-on through the hosted UI: OAuth 2.0 authorization code with
//! PKCE (RFC 7636), as Cognito's hosted UI does it. The browser keeps a
//! random verifier (in sessionStorage, across the redirect), sends its
//! SHA-256 as the challenge, and trades the code for tokens with the
//! verifier. Plain Rust, tested natively; the redirect and the token request
//! live in `api::oauth`.

use super::{AuthError, TokenSet};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Where the hosted UI sends the browser back: the app's own callback path.
pub const CALLBACK_PATH: &str = "/auth/callback";

/// What survives the redirect: the verifier and the state to expect back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pending {
    /// The PKCE code verifier.
    pub verifier: String,
    /// The `state` sent, checked on return (CSRF).
    pub state: String,
}

impl Pending {
    /// A verifier and a state from 32 + 16 random bytes.
    pub fn new(verifier_bytes: &[u8], state_bytes: &[u8]) -> Self {
        Self {
            verifier: URL_SAFE_NO_PAD.encode(verifier_bytes),
            state: URL_SAFE_NO_PAD.encode(state_bytes),
        }
    }

    /// The S256 challenge of the verifier.
    pub fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.verifier.as_bytes()))
    }

    /// The hosted UI's authorize URL for this sign-in.
    pub fn authorize_url(&self, hosted_ui: &str, client_id: &str, redirect_uri: &str) -> String {
        format!(
            "{}/oauth2/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state={}\
             &code_challenge={}&code_challenge_method=S256",
            hosted_ui.trim_end_matches('/'),
            form(client_id),
            form(redirect_uri),
            form(&self.state),
            self.challenge()
        )
    }

    /// The token request's form body for the returned `code`.
    pub fn token_request(&self, code: &str, client_id: &str, redirect_uri: &str) -> String {
        format!(
            "grant_type=authorization_code&client_id={}&code={}&redirect_uri={}&code_verifier={}",
            form(client_id),
            form(code),
            form(redirect_uri),
            form(&self.verifier)
        )
    }
}

/// What the hosted UI's redirect brought back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Returned {
    /// A code to trade for tokens.
    Code(String),
    /// The hosted UI's refusal, in words.
    Refused(String),
}

/// Reads the callback URL's query (`?code=…&state=…` or `?error=…`),
/// checking `state` against the one sent. `None` when the query is not a
/// callback at all.
pub fn returned(query: &str, pending: Option<&Pending>) -> Option<Returned> {
    let query = query.strip_prefix('?').unwrap_or(query);
    let param = |name: &str| {
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| unform(value))
        })
    };
    if let Some(error) = param("error") {
        let described = param("error_description").unwrap_or(error);
        return Some(Returned::Refused(format!(
            "Single sign-on failed: {described}."
        )));
    }
    let code = param("code")?;
    match (pending, param("state")) {
        (Some(pending), Some(state)) if pending.state == state => Some(Returned::Code(code)),
        _ => Some(Returned::Refused(
            "That sign-in link was not started here, or was already used. Sign in again.".into(),
        )),
    }
}

impl TokenSet {
    /// Reads the token endpoint's answer (`id_token`, `access_token`,
    /// `refresh_token`).
    pub fn from_oauth(body: &str) -> Result<Self, AuthError> {
        #[derive(Deserialize)]
        struct TokenAnswer {
            access_token: Option<String>,
            id_token: Option<String>,
            refresh_token: Option<String>,
        }
        let answer: TokenAnswer = serde_json::from_str(body).map_err(|_| AuthError::Unreachable)?;
        let missing = |name: &str| AuthError::Other(format!("the answer has no {name}"));
        Self::new(
            answer.id_token.ok_or_else(|| missing("id_token"))?,
            answer.access_token.ok_or_else(|| missing("access_token"))?,
            answer.refresh_token,
        )
    }
}

/// `application/x-www-form-urlencoded` for one value (unreserved
/// characters as they are, the rest percent-encoded).
fn form(text: &str) -> String {
    crate::route::encode(text)
}

/// Undoes [`form`] (and `+` for a space); broken escapes stay as they are.
fn unform(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(byte) => {
                    out.push(byte);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_challenge_is_rfc_7636s_example() {
        let pending = Pending {
            verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into(),
            state: "s".into(),
        };
        assert_eq!(
            pending.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let fresh = Pending::new(&[7; 32], &[9; 16]);
        assert_eq!(fresh.verifier.len(), 43);
        assert!(
            fresh
                .verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }

    #[test]
    fn the_authorize_url_carries_the_challenge_and_state() {
        let pending = Pending::new(&[1; 32], &[2; 16]);
        let url = pending.authorize_url(
            "https://auth.example.com/",
            "abc",
            "https://app.example.com/auth/callback",
        );
        assert!(url.starts_with(
            "https://auth.example.com/oauth2/authorize?response_type=code&client_id=abc&"
        ));
        assert!(url.contains("redirect_uri=https%3A%2F%2Fapp.example.com%2Fauth%2Fcallback"));
        assert!(url.contains(&format!(
            "code_challenge={}&code_challenge_method=S256",
            pending.challenge()
        )));
        assert!(url.contains(&format!("state={}", pending.state)));
        let body = pending.token_request("c o/de", "abc", "https://a/cb");
        assert!(body.contains("code=c%20o%2Fde"), "{body}");
        assert!(body.contains(&format!("code_verifier={}", pending.verifier)));
    }

    #[test]
    fn the_callback_needs_the_state_sent() {
        let pending = Pending::new(&[1; 32], &[2; 16]);
        let query = format!("?code=xyz&state={}", pending.state);
        assert_eq!(
            returned(&query, Some(&pending)),
            Some(Returned::Code("xyz".into()))
        );
        assert!(matches!(
            returned("?code=xyz&state=other", Some(&pending)),
            Some(Returned::Refused(_))
        ));
        assert!(matches!(returned(&query, None), Some(Returned::Refused(_))));
        assert_eq!(returned("", Some(&pending)), None);
        assert_eq!(
            returned(
                "?error=access_denied&error_description=User+cancelled",
                Some(&pending)
            ),
            Some(Returned::Refused(
                "Single sign-on failed: User cancelled.".into()
            ))
        );
    }
}
