//! The signed-in session, the auth side of the shell: the tokens (kept
//! where the settings say, see `ferry_client::auth::store`), the sign-in
//! client that refreshes them, and one refresh shared by every request a
//! 401 refused at once. Each mounted app has its own; it is handed to the
//! parts that need a token (the file API, the live connection) as a value,
//! never looked up globally. The refresh timer is `hooks::use_token_refresh`.
//!
//! The conversation with the user pool (SRP, refresh, revoke, PKCE) is the
//! `auth` chunk: the first load only shows the form, and a kept session
//! loads it only when its tokens need renewing.

use crate::api::identity::CognitoTransport;
use crate::chunks::{self, ChunkFuture};
use crate::host::Host;
use crate::platform::{self, BrowserStore};
use ferry_client::auth::store::{self, TokenStorage};
use ferry_client::auth::{AuthError, Client, TokenSet};
use ferry_protocol::ClientConfig;
use ferry_protocol::host::{SignOutReason, SignedOutV1};
use leptos::prelude::*;

/// The sign-in client the session uses.
pub type AuthClient = Client<CognitoTransport>;

chunks::split_point! {
    auth =>
    /// Trades the refresh token for new tokens.
    fn refresh(client: AuthClient, tokens: TokenSet) -> ChunkFuture<Result<TokenSet, AuthError>> {
        Box::pin(async move { client.refresh(&tokens).await })
    }
}

chunks::split_point! {
    auth =>
    /// Revokes the refresh token.
    fn revoke(client: AuthClient, tokens: TokenSet) -> ChunkFuture<Result<(), AuthError>> {
        Box::pin(async move { client.sign_out(&tokens).await })
    }
}

type Refreshed = futures::channel::oneshot::Sender<Option<String>>;

/// The session of one mounted app. All handles: `Copy`.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    tokens: RwSignal<Option<TokenSet>>,
    client: StoredValue<Client<CognitoTransport>>,
    storage: TokenStorage,
    /// While a refresh runs: the requests waiting for its token.
    waiting: StoredValue<Option<Vec<Refreshed>>>,
    /// The page around the instance, told when the session ends.
    host: StoredValue<Host>,
}

impl Session {
    /// The session for `config`: signed in at once when the browser kept
    /// tokens that are still valid or can be renewed.
    pub fn restore(config: &ClientConfig, host: Host) -> Self {
        let client = Client::new(
            CognitoTransport::new(&config.identity_endpoint()),
            &config.user_pool_id,
            &config.user_pool_client_id,
        );
        let storage = config.token_storage;
        let kept = store::load(&BrowserStore::open(storage), platform::now_seconds());
        Self {
            tokens: RwSignal::new(kept),
            client: StoredValue::new(client),
            storage,
            waiting: StoredValue::new(None),
            host: StoredValue::new(host),
        }
    }

    /// The sign-in client (the same endpoint and app client).
    pub fn client(&self) -> AuthClient {
        self.client.get_value()
    }

    /// The tokens, tracked: `None` when signed out.
    pub fn tokens(&self) -> Signal<Option<TokenSet>> {
        self.tokens.into()
    }

    /// Whether someone is signed in (tracked).
    pub fn is_signed_in(&self) -> bool {
        self.tokens.with(Option::is_some)
    }

    /// The signed-in user's name (tracked).
    pub fn username(&self) -> Option<String> {
        self.tokens
            .with(|t| platform::token_username(&t.as_ref()?.id_token))
    }

    /// The current access token, if signed in.
    pub fn access_token(&self) -> Option<String> {
        self.tokens
            .with_untracked(|t| t.as_ref().map(|t| t.access_token.clone()))
    }

    /// Signed in with `tokens`: kept, and shown.
    pub fn signed_in(&self, tokens: TokenSet) {
        store::save(&BrowserStore::open(self.storage), Some(&tokens));
        self.tokens.set(Some(tokens));
    }

    /// Forgets the tokens (the sign-in form shows again): the session ended
    /// for `reason`, which the host page is told (`ferry-signed-out`).
    pub fn end(&self, reason: SignOutReason) {
        self.forget();
        self.host
            .with_value(|host| host.emit_event(&SignedOutV1::new(reason)));
    }

    /// Forgets the tokens (the sign-in form shows again).
    pub fn forget(&self) {
        store::save(&BrowserStore::open(self.storage), None);
        self.tokens.set(None);
    }

    /// Signs out: the tokens are forgotten at once, and the refresh token is
    /// revoked; the error says when the revocation couldn't be sent.
    pub async fn sign_out(&self) -> Result<(), AuthError> {
        let Some(tokens) = self.tokens.get_untracked() else {
            return Ok(());
        };
        let client = self.client();
        self.end(SignOutReason::User);
        match revoke(client, tokens).await {
            Ok(revoking) => revoking.await,
            Err(_) => Err(AuthError::Unreachable),
        }
    }

    /// Refreshes the tokens after `refused` was refused (or is about to
    /// expire); `None` (and back to the form) when the session ended. Many
    /// requests refused at once share one refresh, and a request refused
    /// with a token already replaced just gets the new one.
    pub async fn refresh_after_unauthorized(&self, refused: &str) -> Option<String> {
        let tokens = self.tokens.get_untracked()?;
        if tokens.access_token != refused {
            return Some(tokens.access_token);
        }
        let waiting = self.waiting.try_update_value(|waiting| match waiting {
            Some(others) => {
                let (tell, told) = futures::channel::oneshot::channel();
                others.push(tell);
                Some(told)
            }
            None => {
                *waiting = Some(Vec::new());
                None
            }
        });
        if let Some(Some(told)) = waiting {
            return told.await.ok().flatten();
        }
        let refreshed = match refresh(self.client(), tokens).await {
            Ok(refreshing) => refreshing.await,
            // The chunk couldn't be fetched: like an unreachable provider,
            // the session stays, and the next request tries again.
            Err(_) => Err(AuthError::Unreachable),
        };
        let fresh = match refreshed {
            Ok(fresh) => {
                self.signed_in(fresh.clone());
                Some(fresh.access_token)
            }
            Err(AuthError::Unreachable) => None,
            Err(_) => {
                self.end(SignOutReason::Expired);
                None
            }
        };
        let others = self
            .waiting
            .try_update_value(Option::take)
            .flatten()
            .unwrap_or_default();
        for tell in others {
            let _ = tell.send(fresh.clone());
        }
        fresh
    }
}
