//! Tokens, as Cognito issues them: an ID and an access token (RS256 JWTs
//! with Cognito's claims) and an opaque refresh token, stored only as its
//! digest. Here they are issued, checked, refreshed and revoked
//! (`GlobalSignOut`, `RevokeToken`), and the keys that sign them published:
//! the JWKS and the OpenID Connect discovery document under the issuer.
//! [`keys`] holds the signing keys themselves.

pub mod keys;

pub use keys::{TokenError, TokenKeys, TokenUse, write_private};

use crate::store::{RefreshGrant, User};
use crate::{CognitoError, Identity, digest, random, str_param};
use axum::Json;
use axum::extract::State;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde_json::{Value, json};
use std::sync::Arc;

/// The scope Cognito puts in access tokens from the user-pool API.
pub(crate) const ADMIN_SCOPE: &str = "aws.cognito.signin.user.admin";

impl Identity {
    /// Signs an ID and an access token for `user`; a new sign-in also gets
    /// a refresh token, a refresh keeps its grant's.
    pub(crate) fn issue_tokens(
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

    /// `REFRESH_TOKEN_AUTH`: new ID and access tokens for a refresh token
    /// that is neither revoked nor expired, of this app client, of a user
    /// still enabled.
    pub(crate) fn refresh_auth(
        &self,
        params: &Value,
        client_id: &str,
    ) -> Result<Value, CognitoError> {
        let token = str_param(params, "REFRESH_TOKEN")?;
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

    pub(crate) fn global_sign_out(&self, body: &Value) -> Result<Value, CognitoError> {
        let (_, user) = self.check_access_token(str_param(body, "AccessToken")?)?;
        // Tokens issued in this very second stay valid until the next one
        // (iat has one-second resolution), so the cut-off is a second later.
        self.store
            .sign_out_everywhere(&user.username, self.clock.unix() + 1)?;
        Ok(json!({}))
    }

    pub(crate) fn revoke_token(&self, body: &Value) -> Result<Value, CognitoError> {
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

/// `GET {issuer}/.well-known/jwks.json`.
pub async fn jwks(State(identity): State<Arc<Identity>>) -> Json<Value> {
    Json(identity.keys.jwks())
}

/// `GET {issuer}/.well-known/openid-configuration`.
pub async fn discovery(State(identity): State<Arc<Identity>>) -> Json<Value> {
    Json(identity.openid_configuration(&identity.settings.base_url))
}
