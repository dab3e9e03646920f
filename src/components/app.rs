//! The app shell: loads the settings, then shows the sign-in or the file
//! browser, or says clearly why it can't start. It is all the first load
//! carries besides the sign-in form; the file browser arrives as its own
//! chunk once someone is signed in (`chunks::files_view`).

use crate::api;
use crate::chunks;
use crate::components::files;
use crate::components::signin::SignIn;
use crate::hooks::use_token_refresh::use_token_refresh;
use crate::host::Host;
use crate::session::{self, Session};
use ferry_client::auth::AuthError;
use ferry_client::config::{ConfigSource, LoadError};
use ferry_protocol::ClientConfig;
use ferry_protocol::host::{ElementErrorCode, ErrorV1, ReadyV1};
use leptos::prelude::*;

/// The root component. Everything it renders sits under `.ferry`, so the
/// page around it keeps its own styles.
#[component]
pub fn App(source: ConfigSource, host: Host) -> impl IntoView {
    // A signal and a task rather than a resource and `Suspense`: the async
    // resource machinery would weigh on the first load.
    let settings = RwSignal::new(None::<Result<ClientConfig, LoadError>>);
    leptos::task::spawn_local(async move {
        let loaded = match source {
            ConfigSource::Inline(config) => Ok(*config),
            ConfigSource::Url(url) => api::load_config(&url).await,
            ConfigSource::Invalid(reason) => Err(LoadError::Invalid {
                url: "the page".to_owned(),
                reason,
            }),
        };
        settings.try_set(Some(loaded));
    });

    view! {
        <div class="ferry">
            <header class="ferry-bar">
                <svg class="ferry-logo" aria-hidden="true" viewBox="0 0 24 24" width="22" height="22">
                    <path d="M3 15h18l-2.5 5h-13z M6 14V9h12v5 M9 9V6h6v3" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round" />
                </svg>
                <span class="ferry-name">"Ferry"</span>
            </header>
            <main class="ferry-main">
                {move || match settings.get() {
                    None => view! { <p role="status" class="ferry-muted">"Loading settings…"</p> }.into_any(),
                    Some(Ok(config)) => view! { <Ready config=config host=host.clone() /> }.into_any(),
                    Some(Err(error)) => {
                        let code = match error {
                            LoadError::Invalid { .. } => ElementErrorCode::InvalidSettings,
                            LoadError::Unreachable { .. } | LoadError::Status { .. } => ElementErrorCode::Unreachable,
                        };
                        host.emit_event(&ErrorV1::new(code, error.to_string()));
                        view! { <StartupError error=error /> }.into_any()
                    }
                }}
            </main>
        </div>
    }
}

/// Settings loaded: the session, then the sign-in or the file browser.
#[component]
fn Ready(config: ClientConfig, host: Host) -> impl IntoView {
    let session = Session::restore(&config, host.clone());
    use_token_refresh(session);
    session.take_handover();
    let error = RwSignal::new(None::<String>);
    // Single sign-on: coming back from the hosted UI on the callback path,
    // the code is traded for tokens.
    if !session.is_provided() && api::oauth::returning() {
        let callback_config = config.clone();
        leptos::task::spawn_local(async move {
            let finished = match api::oauth::finish(callback_config).await {
                Ok(finishing) => finishing.await,
                Err(e) => Some(Err(AuthError::Other(e.to_string()))),
            };
            match finished {
                Some(Ok(tokens)) => session.signed_in(tokens),
                Some(Err(e)) => {
                    error.try_set(Some(e.to_string()));
                }
                None => {}
            }
        });
    }
    // The host hears that the instance is up (and from the session, when
    // it ends).
    let signed_in = untrack(|| session.is_signed_in());
    host.emit_event(&ReadyV1::new(host.first_folder(), signed_in));
    // A plain derived closure, not a memo: it changes only with the tokens.
    let who = move || session.username();
    let sign_out = move |_| {
        leptos::task::spawn_local(async move {
            // The tokens are forgotten even when the revocation can't be sent.
            if let Err(e) = session.sign_out().await {
                error.try_set(Some(e.to_string()));
            }
        });
    };
    // With the host's provider, no form: the provider's chunk says what
    // is going on while no one is signed in.
    let signed_out = {
        let config = config.clone();
        move || {
            if session.is_provided() {
                chunks::lazy_view(
                    "Signing in…",
                    session.host(),
                    session::provided::signed_out_view,
                    move |build| build(session),
                )
                .into_any()
            } else {
                view! { <SignIn config=config.clone() session=session error=error /> }.into_any()
            }
        }
    };
    view! {
        <Show when=move || session.is_signed_in() fallback=signed_out>
            // With the host's provider, the host page shows who is signed
            // in and signs out.
            {(!session.is_provided()).then(|| view! {
                <div class="ferry-account" role="region" aria-labelledby="ferry-account-name">
                    <h2 id="ferry-account-name">{move || match who() {
                        Some(name) => format!("Signed in as {name}"),
                        None => "Signed in".to_owned(),
                    }}</h2>
                    <button type="button" class="ferry-button" on:click=sign_out>"Sign out"</button>
                    <div role="alert" class="ferry-alert">{move || error.get()}</div>
                </div>
            })}
            {
                let (config, host) = (config.clone(), host.clone());
                chunks::lazy_view("Loading your files…", session.host(), files::files_view, move |build| {
                    build(config.clone(), session, host.clone())
                })
            }
        </Show>
    }
}

#[component]
fn StartupError(error: LoadError) -> impl IntoView {
    view! {
        <section class="ferry-card ferry-error" role="alert" aria-labelledby="ferry-error-title">
            <h1 id="ferry-error-title">"Ferry can't start"</h1>
            <p>{error.to_string()}</p>
        </section>
    }
}
