//! Signing in: the username and password form (SRP, the password never
//! leaves the page), or the single sign-on button when the hosted UI signs
//! people in. The rarer steps — a new password, an authenticator code, its
//! setup with a QR code, a password reset — are a chunk of their own
//! (`steps`, through `chunks::sign_in_step`), loaded when one is needed.
//! The file browser's chunk is fetched while the person types their
//! password, so it is there when they are in.

pub mod steps;

use crate::api;
use crate::chunks;
use crate::platform;
use crate::session::{AuthClient, Session};
use ferry_client::auth::{AuthError, Step};
use ferry_protocol::{AuthMode, ClientConfig};
use leptos::prelude::*;
use std::pin::Pin;

/// Where the person is in signing in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// The username and password form.
    Form,
    /// A challenge the user pool asked for: a new password, an
    /// authenticator code, or setting one up (never `Step::SignedIn`).
    Challenge(Step),
    /// Resetting a forgotten password.
    Forgot,
}

/// The sign-in form's state, shared with the steps chunk. All handles:
/// `Copy`.
#[derive(Debug, Clone, Copy)]
pub struct SignInState {
    /// The session being signed into.
    pub session: Session,
    /// The step shown.
    pub stage: RwSignal<Stage>,
    /// The last error, shown in the alert.
    pub error: RwSignal<Option<String>>,
    /// A step is under way: its button is disabled.
    pub busy: RwSignal<bool>,
    /// The username typed.
    pub username: RwSignal<String>,
    /// A new password typed.
    pub new_password: RwSignal<String>,
    /// A code typed.
    pub code: RwSignal<String>,
    /// A note for the person ("a code is on its way").
    pub notice: RwSignal<Option<String>>,
}

/// One step of the conversation: its next stage (`None` stays), or why not.
pub type Work = Pin<Box<dyn Future<Output = Result<Option<Signed>, AuthError>>>>;

/// Where a step leads.
#[derive(Debug)]
pub enum Signed {
    /// Another stage of the form.
    Stage(Stage),
    /// Signed in.
    In(ferry_client::auth::TokenSet),
}

impl From<Step> for Signed {
    fn from(step: Step) -> Self {
        match step {
            Step::SignedIn(tokens) => Self::In(tokens),
            challenge => Self::Stage(Stage::Challenge(challenge)),
        }
    }
}

impl SignInState {
    /// Runs one step of the conversation, showing its error or its next
    /// stage.
    pub fn run(self, work: Work) {
        self.error.set(None);
        self.busy.set(true);
        leptos::task::spawn_local(async move {
            match work.await {
                Ok(Some(Signed::In(tokens))) => self.session.signed_in(tokens),
                Ok(Some(Signed::Stage(next))) => {
                    self.stage.try_set(next);
                }
                Ok(None) => {}
                Err(e) => {
                    self.error.try_set(Some(e.to_string()));
                }
            }
            self.busy.try_set(false);
        });
    }
}

/// A labelled text field bound to `value`.
pub fn text_input(
    id: &'static str,
    label: &'static str,
    kind: &'static str,
    value: RwSignal<String>,
    autocomplete: &'static str,
) -> impl IntoView {
    view! {
        <label class="ferry-field" for=id>
            <span>{label}</span>
            <input id=id type=kind autocomplete=autocomplete required
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev)) />
        </label>
    }
}

fn random() -> Result<Vec<u8>, AuthError> {
    platform::random_bytes(ferry_srp::EXPONENT_BYTES)
        .ok_or_else(|| AuthError::Other("this browser has no secure random numbers".into()))
}

chunks::split_point! {
    auth =>
    /// Loads the sign-in conversation (SRP): the auth chunk's entry.
    pub fn sign_in_chunk() -> fn(AuthClient, String, String) -> Work {
        |client, user, pass| {
            Box::pin(async move {
                let step = client
                    .sign_in(user.trim(), &pass, &random()?, platform::now())
                    .await?;
                Ok(Some(Signed::from(step)))
            })
        }
    }
}

/// The welcome card and the sign-in form.
#[component]
pub fn SignIn(
    config: ClientConfig,
    session: Session,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let state = SignInState {
        session,
        stage: RwSignal::new(Stage::Form),
        error,
        busy: RwSignal::new(false),
        username: RwSignal::new(String::new()),
        new_password: RwSignal::new(String::new()),
        code: RwSignal::new(String::new()),
        notice: RwSignal::new(None),
    };
    let password = RwSignal::new(String::new());
    let sign_in = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let client = session.client();
        let (user, pass) = (state.username.get_untracked(), password.get_untracked());
        state.run(Box::pin(async move {
            let sign_in = sign_in_chunk()
                .await
                .map_err(|e| AuthError::Other(e.to_string()))?;
            sign_in(client, user, pass).await
        }));
        password.set(String::new());
    };
    // Someone is signing in: the conversation's chunk will be wanted in a
    // moment, and once they type a password, the file browser's.
    let prefetched_auth = StoredValue::new(false);
    let on_focus = move |_| {
        if !prefetched_auth.get_value() {
            prefetched_auth.set_value(true);
            // The sign-in conversation's chunk, ahead of need.
            leptos::task::spawn_local(async {
                let _ = sign_in_chunk().await;
            });
        }
    };
    let prefetched = StoredValue::new(false);
    let on_password = move |ev: leptos::ev::Event| {
        password.set(event_target_value(&ev));
        if !prefetched.get_value() {
            prefetched.set_value(true);
            crate::components::files::prefetch();
        }
    };
    let environment = config
        .environment
        .clone()
        .unwrap_or_else(|| config.region.clone());
    let hosted = config.auth_mode == AuthMode::Hosted;
    let sso_config = StoredValue::new(config.clone());
    let busy = state.busy;
    view! {
        <section class="ferry-card" aria-labelledby="ferry-welcome">
            <h1 id="ferry-welcome">"Your files, live"</h1>
            <p role="status">{format!("Connected to the {environment} stack.")}</p>
            <dl class="ferry-facts">
                <dt>"Region"</dt>
                <dd>{config.region.clone()}</dd>
                <dt>"User pool"</dt>
                <dd>{config.user_pool_id.clone()}</dd>
            </dl>
        </section>
        <section class="ferry-card ferry-signin" aria-labelledby="ferry-signin-title">
            {move || match state.stage.get() {
                Stage::Form if hosted => view! {
                    <h2 id="ferry-signin-title">"Sign in to Ferry"</h2>
                    <p>"You sign in on your organisation's sign-in page, then come back here."</p>
                    <button type="button" class="ferry-button" disabled=move || busy.get()
                        on:click=move |_| {
                            state.error.set(None);
                            busy.set(true);
                            let config = sso_config.get_value();
                            leptos::task::spawn_local(async move {
                                let started = api::oauth::start(config)
                                    .await
                                    .map_err(|e| AuthError::Other(e.to_string()))
                                    .and_then(|started| started);
                                if let Err(e) = started {
                                    state.error.try_set(Some(e.to_string()));
                                    busy.try_set(false);
                                }
                            });
                        }>"Sign in with single sign-on"</button>
                }.into_any(),
                Stage::Form => view! {
                    <h2 id="ferry-signin-title">"Sign in to Ferry"</h2>
                    <form class="ferry-form" on:submit=sign_in on:focusin=on_focus>
                        {text_input("ferry-username", "Username", "text", state.username, "username")}
                        <label class="ferry-field" for="ferry-password">
                            <span>"Password"</span>
                            <input id="ferry-password" type="password" autocomplete="current-password" required
                                prop:value=move || password.get()
                                on:input=on_password />
                        </label>
                        <button type="submit" class="ferry-button" disabled=move || busy.get()>"Sign in"</button>
                        <button type="button" class="ferry-link" on:click=move |_| {
                            state.error.set(None);
                            state.stage.set(Stage::Forgot);
                        }>"Forgot password?"</button>
                    </form>
                }.into_any(),
                _ => chunks::lazy_view("Loading…", state.session.host(), steps::sign_in_step, move |build| build(state)).into_any(),
            }}
            <p role="status" class="ferry-muted">{move || state.notice.get()}</p>
            <div role="alert" class="ferry-alert">{move || state.error.get()}</div>
        </section>
    }
}
