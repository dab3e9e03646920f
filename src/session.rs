//! The signed-in session, the auth side of the shell. Each mounted app has
//! its own; it is handed to the parts that need a token (the file API, the
//! live connection) as a value, never looked up globally. The refresh
//! timer is `hooks::use_token_refresh`.
//!
//! The tokens come from one of two places, fixed for the session's life:
//!
//! - **Ferry's own sign-in** (SRP or the hosted UI): the tokens are kept
//!   where the settings say (see `ferry_client::auth::store`) and renewed
//!   with the refresh token. The conversation with the user pool (SRP,
//!   refresh, revoke, PKCE) is the `auth` chunk: the first load only shows
//!   the form, and a kept session loads it only when its tokens need
//!   renewing.
//! - **The host page's `tokenProvider`** (`Host::provider`): a function
//!   answering `{idToken, accessToken}`. No sign-in form shows and no token
//!   is stored: the tokens live in memory, and the provider is asked again
//!   before the access token expires, and with `forceRefresh: true` after
//!   the API or the live connection refused it. When the provider throws,
//!   the session ends and the instance says so ([`Ended`]). All of that is
//!   the `provided` chunk ([`provided`]).
//!
//! Either way, many requests refused at once share one renewal, and the
//! host page hears when the session ends (`ferry-signed-out`).

use crate::api::identity::CognitoTransport;
use crate::chunks::{self, ChunkFuture};
use crate::host::{Host, HostCall};
use crate::platform::{self, BrowserStore};
use ferry_client::auth::store::{self, TokenStorage};
use ferry_client::auth::{AuthError, Client, TokenSet};
use ferry_protocol::ClientConfig;
use ferry_protocol::host::{SignOutReason, SignedOutV1};
use leptos::prelude::*;

pub mod provided;

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

/// Why a session from the host's provider ended; the instance shows it in
/// place of the files until the host hands over a provider again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The provider threw or answered unusable tokens: what it said.
    ProviderFailed(String),
    /// The host called `signOut()` or cleared `tokenProvider`.
    SignedOut,
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
    /// Whether the host page hands the tokens over (`tokenProvider`).
    provided: bool,
    /// Why a provided session ended (`None` while it lasts or starts): the
    /// provider's failure, or empty once the host signed out. (A string
    /// signal, a type the first load has anyway.)
    ended: RwSignal<Option<String>>,
}

/// How a renewal went.
pub(crate) enum Renewed {
    Fresh(TokenSet),
    /// No answer: the session stays, and the next request tries again.
    Unreachable,
    /// The session is over.
    Ended,
}

impl Session {
    /// The page around the instance, told of what happens in it.
    pub fn host(&self) -> StoredValue<Host> {
        self.host
    }

    /// The session for `config`. With Ferry's own sign-in, signed in at
    /// once when the browser kept tokens that are still valid or can be
    /// renewed; with the host's provider, signed in once it answers
    /// ([`Session::follow_provider`]).
    pub fn restore(config: &ClientConfig, host: Host) -> Self {
        let client = Client::new(
            CognitoTransport::new(&config.identity_endpoint()),
            &config.user_pool_id,
            &config.user_pool_client_id,
        );
        let provided = host.provided;
        let storage = config.token_storage;
        let kept = if provided {
            None
        } else {
            store::load(&BrowserStore::open(storage), platform::now_seconds())
        };
        Self {
            tokens: RwSignal::new(kept),
            client: StoredValue::new(client),
            storage,
            waiting: StoredValue::new(None),
            host: StoredValue::new(host),
            provided,
            ended: RwSignal::new(None),
        }
    }

    /// The sign-in client (the same endpoint and app client).
    pub fn client(&self) -> AuthClient {
        self.client.get_value()
    }

    /// Whether the host page hands the tokens over: no sign-in form, no
    /// sign-out button.
    pub fn is_provided(&self) -> bool {
        self.provided
    }

    /// Why a session from the host's provider ended (tracked).
    pub fn ended(&self) -> Option<Ended> {
        self.ended.get().map(|reason| {
            if reason.is_empty() {
                Ended::SignedOut
            } else {
                Ended::ProviderFailed(reason)
            }
        })
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

    /// Signed in with `tokens`: kept (unless the host provides them), and
    /// shown.
    pub fn signed_in(&self, tokens: TokenSet) {
        if !self.provided {
            store::save(&BrowserStore::open(self.storage), Some(&tokens));
        }
        // The same tokens again (a provider answering from its cache)
        // change nothing, and set no new refresh timer.
        if self.tokens.with_untracked(|t| t.as_ref() != Some(&tokens)) {
            self.tokens.set(Some(tokens));
        }
    }

    /// Forgets the tokens (the sign-in form, or the ended state, shows):
    /// the session ended for `reason`, which the host page is told
    /// (`ferry-signed-out`).
    pub fn end(&self, reason: SignOutReason) {
        self.forget();
        self.host
            .with_value(|host| host.emit_event(&SignedOutV1::new(reason)));
    }

    /// Forgets the tokens (the sign-in form shows again).
    pub fn forget(&self) {
        if !self.provided {
            store::save(&BrowserStore::open(self.storage), None);
        }
        self.tokens.set(None);
    }

    /// Signs out. With Ferry's own sign-in, the tokens are forgotten at
    /// once and the refresh token is revoked; the error says when the
    /// revocation couldn't be sent. With the host's provider, the session
    /// ends until the host hands over a provider again.
    pub async fn sign_out(&self) -> Result<(), AuthError> {
        if self.provided {
            self.ended_by_host();
            return Ok(());
        }
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

    /// Counts a hand-over of the host's provider (or a sign-out); its
    /// number. An answer to an older one is dropped.
    fn count_handover(&self) -> u32 {
        self.host.with_value(|host| {
            let asked = host.handover.asked.get().wrapping_add(1);
            host.handover.asked.set(asked);
            asked
        })
    }

    /// The host signed out or cleared its provider: the session ends until
    /// it hands one over again.
    fn ended_by_host(&self) {
        self.count_handover();
        let was_signed_in = self.tokens.with_untracked(Option::is_some);
        self.ended.set(Some(String::new()));
        if was_signed_in {
            self.end(SignOutReason::Host);
        }
    }

    /// The session the host's `signOut()` and `tokenProvider` reach, for
    /// as long as the calling component is mounted; with a provider, it is
    /// asked for tokens at once.
    pub fn take_handover(&self) {
        let handover = self.host.with_value(|host| host.handover.clone());
        let session = *self;
        *handover.listener.borrow_mut() = Some(std::rc::Rc::new(move |call| match call {
            HostCall::TokenProvider => session.handed_over(),
            HostCall::SignOut => leptos::task::spawn_local(async move {
                // The tokens are forgotten even when the revocation can't
                // be sent.
                let _ = session.sign_out().await;
            }),
        }));
        on_cleanup(move || {
            handover.listener.borrow_mut().take();
        });
        self.handed_over();
    }

    /// The host handed over its `tokenProvider` (or cleared it): asks it
    /// for tokens (or ends the session). Nothing without a provider.
    pub fn handed_over(&self) {
        if self.provided {
            let session = *self;
            leptos::task::spawn_local(async move {
                if let Ok(handing_over) = provided::handed_over(session).await {
                    handing_over.await;
                }
            });
        }
    }

    /// Renews the tokens after `refused` was refused (`force`: by the API
    /// or the live connection) or is about to expire; `None` when the
    /// session ended (or, for now, can't be renewed). Many requests refused
    /// at once share one renewal, and a request refused with a token
    /// already replaced just gets the new one.
    pub async fn refresh_after_unauthorized(&self, refused: &str, force: bool) -> Option<String> {
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
        let fresh = match self.renew(Some(tokens), force).await {
            Renewed::Fresh(fresh) => {
                self.signed_in(fresh.clone());
                Some(fresh.access_token)
            }
            Renewed::Unreachable | Renewed::Ended => None,
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

    /// New tokens for the `current` ones (none yet: the provider's first
    /// hand-over), from the refresh token or the host's provider. A
    /// renewal that ends the session has ended it.
    async fn renew(&self, current: Option<TokenSet>, force: bool) -> Renewed {
        if !self.provided {
            let Some(tokens) = current else {
                return Renewed::Ended;
            };
            let refreshed = match refresh(self.client(), tokens).await {
                Ok(refreshing) => refreshing.await,
                // The chunk couldn't be fetched: like an unreachable
                // provider, the session stays, and the next request tries
                // again.
                Err(_) => Err(AuthError::Unreachable),
            };
            return match refreshed {
                Ok(fresh) => Renewed::Fresh(fresh),
                Err(AuthError::Unreachable) => Renewed::Unreachable,
                Err(_) => {
                    self.end(SignOutReason::Expired);
                    Renewed::Ended
                }
            };
        }
        match provided::renew(*self, current.map(|t| t.access_token), force).await {
            Ok(renewing) => renewing.await,
            Err(_) => Renewed::Unreachable,
        }
    }
}
