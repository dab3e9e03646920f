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
//!   the session ends and the instance says so ([`Ended`]). Asking it is
//!   the `provided` chunk.
//!
//! Either way, many requests refused at once share one renewal, and the
//! host page hears when the session ends (`ferry-signed-out`).

use crate::api::identity::CognitoTransport;
use crate::chunks::{self, ChunkFuture};
use crate::host::{Host, TokenProvider};
use crate::platform::{self, BrowserStore};
use ferry_client::auth::store::{self, TokenStorage};
use ferry_client::auth::{AuthError, Client, TokenSet};
use ferry_protocol::ClientConfig;
use ferry_protocol::host::{ElementErrorCode, ErrorV1, SignOutReason, SignedOutV1};
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

chunks::split_point! {
    provided =>
    /// Asks the host's provider for tokens (`forceRefresh` as `force`). When
    /// it answers, unforced, with the `current` access token and that is
    /// already due for renewal, it is asked again with `forceRefresh: true`:
    /// a provider that caches its tokens until they expire would otherwise
    /// be asked again and again.
    fn ask_provider(
        provider: TokenProvider,
        force: bool,
        current: Option<String>,
    ) -> ChunkFuture<Result<TokenSet, ProviderFailure>> {
        Box::pin(async move {
            let tokens = call_provider(&provider, force).await?;
            if !force
                && current.as_deref() == Some(tokens.access_token.as_str())
                && tokens.needs_refresh(platform::now_seconds())
            {
                return call_provider(&provider, true).await;
            }
            Ok(tokens)
        })
    }
}

/// Why the host's provider gave no tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderFailure {
    /// It threw, or its promise was rejected: the message it gave.
    Threw(String),
    /// It answered something that isn't two usable tokens: what is wrong.
    Invalid(String),
}

/// Calls the provider with `{forceRefresh}` and reads its answer (or the
/// promise's), `{idToken, accessToken}`.
async fn call_provider(provider: &TokenProvider, force: bool) -> Result<TokenSet, ProviderFailure> {
    use wasm_bindgen::{JsCast, JsValue};
    let threw = |error: JsValue| {
        let message = error
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| error.as_string())
            .unwrap_or_else(|| "it gave no reason".to_owned());
        ProviderFailure::Threw(message)
    };
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"forceRefresh".into(), &force.into());
    let answer = provider
        .call1(&JsValue::UNDEFINED, &options)
        .map_err(threw)?;
    let answer = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&answer))
        .await
        .map_err(threw)?;
    let field = |name: &str| {
        js_sys::Reflect::get(&answer, &name.into())
            .ok()
            .and_then(|value| value.as_string())
    };
    ferry_client::auth::provided_tokens(
        field("idToken"),
        field("accessToken"),
        platform::now_seconds(),
    )
    .map_err(ProviderFailure::Invalid)
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
    /// Why a provided session ended (`None` while it lasts or starts).
    ended: RwSignal<Option<Ended>>,
    /// Counts the provider's hand-overs: an answer to an older one (the
    /// provider was replaced or cleared meanwhile) is dropped.
    asked: StoredValue<u32>,
}

/// How a renewal went.
enum Renewed {
    Fresh(TokenSet),
    /// No answer: the session stays, and the next request tries again.
    Unreachable,
    /// The session is over.
    Ended,
}

impl Session {
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
            asked: StoredValue::new(0),
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
        self.ended.get()
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
            self.asked.update_value(|n| *n = n.wrapping_add(1));
            let was_signed_in = self.tokens.with_untracked(Option::is_some);
            self.ended.set(Some(Ended::SignedOut));
            if was_signed_in {
                self.end(SignOutReason::Host);
            }
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

    /// With the host's provider: asks it for tokens whenever the host hands
    /// one over (at once, and each time `tokenProvider` is set), and ends
    /// the session when the host clears it. For as long as the calling
    /// component is mounted.
    pub fn follow_provider(&self) {
        if !self.provided {
            return;
        }
        let session = *self;
        let provider = self.host.with_value(|host| host.provider.clone());
        Effect::new(move |_| match provider.get() {
            Some(_) => {
                session.ended.set(None);
                leptos::task::spawn_local(async move {
                    if let Renewed::Fresh(tokens) = session.renew(None, false).await {
                        session.signed_in(tokens);
                    }
                });
            }
            None => {
                leptos::task::spawn_local(async move {
                    let _ = session.sign_out().await;
                });
            }
        });
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
        let Some(provider) = self.host.with_value(|host| host.provider.get_untracked()) else {
            return Renewed::Ended;
        };
        self.asked.update_value(|n| *n = n.wrapping_add(1));
        let asked = self.asked.get_value();
        let current = current.map(|t| t.access_token);
        let answer = match ask_provider(provider, force, current).await {
            Ok(asking) => asking.await,
            Err(_) => return Renewed::Unreachable,
        };
        if self.asked.try_get_value() != Some(asked) {
            // Replaced or cleared meanwhile: the newer hand-over decides.
            return Renewed::Unreachable;
        }
        let (code, message) = match answer {
            Ok(fresh) => return Renewed::Fresh(fresh),
            Err(ProviderFailure::Threw(message)) => (
                ElementErrorCode::TokenProviderFailed,
                format!("The token provider failed: {message}"),
            ),
            Err(ProviderFailure::Invalid(message)) => (ElementErrorCode::InvalidTokens, message),
        };
        self.host
            .with_value(|host| host.emit_event(&ErrorV1::new(code, message.clone())));
        self.ended.set(Some(Ended::ProviderFailed(message)));
        self.end(SignOutReason::ProviderFailed);
        Renewed::Ended
    }
}
