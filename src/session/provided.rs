//! The session's side of the host page's `tokenProvider`, the `provided`
//! chunk: asking the provider, checking what it answers, telling the host
//! page when it fails, following the host's hand-overs, and what the
//! instance shows while no one is signed in. None of it is on the path of
//! Ferry's own sign-in, so none of it weighs on that first load.

use super::{Ended, Renewed, Session};
use crate::chunks::{self, ChunkFuture};
use crate::host::TokenProvider;
use crate::platform;
use ferry_client::auth::TokenSet;
use ferry_protocol::host::{ElementErrorCode, ErrorV1, SignOutReason};
use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};

chunks::split_point! {
    provided =>
    /// Asks the provider for tokens in place of `current` (the first time:
    /// none), forced or not. A failure ends the session: the host page
    /// hears `ferry-error` and `ferry-signed-out`, and the instance says
    /// why.
    pub(crate) fn renew(session: Session, current: Option<String>, force: bool) -> ChunkFuture<Renewed> {
        Box::pin(async move { session.ask(current, force).await })
    }
}

chunks::split_point! {
    provided =>
    /// The host handed over its provider: asks it for tokens. Or it
    /// cleared it: ends the session.
    pub(crate) fn handed_over(session: Session) -> ChunkFuture {
        Box::pin(async move {
            if session.provider().is_none() {
                session.ended_by_host();
                return;
            }
            session.ended.set(None);
            if let Renewed::Fresh(tokens) = session.ask(None, false).await {
                session.signed_in(tokens);
            }
        })
    }
}

chunks::split_point! {
    provided =>
    /// What shows while no one is signed in: waiting for the provider, or
    /// the session ended and why.
    pub(crate) fn signed_out_view() -> fn(Session) -> AnyView {
        |session| view! { <SignedOut session=session /> }.into_any()
    }
}

#[component]
fn SignedOut(session: Session) -> impl IntoView {
    move || {
        match session.ended() {
        None => view! { <p role="status" class="ferry-muted">"Signing in…"</p> }.into_any(),
        Some(Ended::SignedOut) => view! {
            <section class="ferry-card" role="status" aria-labelledby="ferry-ended-title">
                <h1 id="ferry-ended-title">"Signed out"</h1>
                <p>"Sign in to the page again to see your files."</p>
            </section>
        }
        .into_any(),
        Some(Ended::ProviderFailed(reason)) => view! {
            <section class="ferry-card ferry-error" role="alert" aria-labelledby="ferry-ended-title">
                <h1 id="ferry-ended-title">"Your portal session has ended"</h1>
                <p>"Sign in to the portal again to see your files."</p>
                <p class="ferry-muted">{reason}</p>
            </section>
        }
        .into_any(),
    }
    }
}

impl Session {
    fn provider(&self) -> Option<TokenProvider> {
        self.host
            .with_value(|host| host.handover.provider.borrow().clone())
    }

    async fn ask(&self, current: Option<String>, force: bool) -> Renewed {
        let Some(provider) = self.provider() else {
            return Renewed::Ended;
        };
        let asked = self.count_handover();
        let answer = ask_provider(&provider, force, current).await;
        if self.host.try_with_value(|host| host.handover.asked.get()) != Some(asked) {
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
        self.ended.set(Some(message));
        self.end(SignOutReason::ProviderFailed);
        Renewed::Ended
    }
}

/// Why the host's provider gave no tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ProviderFailure {
    /// It threw, or its promise was rejected: the message it gave.
    Threw(String),
    /// It answered something that isn't two usable tokens: what is wrong.
    Invalid(String),
}

/// Asks the provider (`forceRefresh` as `force`). When it answers,
/// unforced, with the `current` access token and that is already due for
/// renewal, it is asked again with `forceRefresh: true`: a provider that
/// caches its tokens until they expire would otherwise be asked again and
/// again.
async fn ask_provider(
    provider: &TokenProvider,
    force: bool,
    current: Option<String>,
) -> Result<TokenSet, ProviderFailure> {
    let tokens = call_provider(provider, force).await?;
    if !force
        && current.as_deref() == Some(tokens.access_token.as_str())
        && tokens.needs_refresh(platform::now_seconds())
    {
        return call_provider(provider, true).await;
    }
    Ok(tokens)
}

/// Calls the provider with `{forceRefresh}` and reads its answer (or the
/// promise's), `{idToken, accessToken}`.
async fn call_provider(provider: &TokenProvider, force: bool) -> Result<TokenSet, ProviderFailure> {
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
