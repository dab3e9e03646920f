//! The app shell: loads the settings, then shows the app or says clearly why
//! it can't start.

use crate::api;
use crate::api::identity::{BrowserStore, FetchTransport};
use crate::auth::store::{self, TokenStorage};
use crate::auth::{AuthError, Client, Step, TokenSet};
use crate::browser::Files;
use crate::config::{ConfigSource, LoadError};
use ferry_protocol::ClientConfig;
use leptos::prelude::*;

/// The root component. Everything it renders sits under `.ferry`, so the
/// page around it keeps its own styles.
#[component]
pub fn App(source: ConfigSource) -> impl IntoView {
    let settings = LocalResource::new(move || {
        let source = source.clone();
        async move {
            match source {
                ConfigSource::Inline(config) => Ok(*config),
                ConfigSource::Url(url) => api::load_config(&url).await,
                ConfigSource::Invalid(reason) => Err(LoadError::Invalid {
                    url: "the page".to_owned(),
                    reason,
                }),
            }
        }
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
                <Suspense fallback=|| view! { <p role="status" class="ferry-muted">"Loading settings…"</p> }>
                    {move || settings.get().map(|loaded| match loaded {
                        Ok(config) => view! { <Ready config=config /> }.into_any(),
                        Err(error) => view! { <StartupError error=error /> }.into_any(),
                    })}
                </Suspense>
            </main>
        </div>
    }
}

/// Where the person is in signing in.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    Form,
    NewPassword {
        session: String,
        username: String,
    },
    MfaCode {
        session: String,
        username: String,
    },
    MfaSetup {
        session: String,
        username: String,
        secret: String,
    },
    Forgot,
    SignedIn(TokenSet),
}

impl From<Step> for Stage {
    fn from(step: Step) -> Self {
        match step {
            Step::SignedIn(tokens) => Self::SignedIn(tokens),
            Step::NewPasswordRequired { session, username } => {
                Self::NewPassword { session, username }
            }
            Step::MfaCode { session, username } => Self::MfaCode { session, username },
            Step::MfaSetup {
                session,
                username,
                secret,
            } => Self::MfaSetup {
                session,
                username,
                secret,
            },
        }
    }
}

/// The signed-in session, given as context: other code asks it for the
/// access token, and after a 401 calls [`Session::refresh_after_unauthorized`]
/// and retries once with the token it returns.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    stage: RwSignal<Stage>,
    client: StoredValue<Client<FetchTransport>>,
    storage: TokenStorage,
    /// While a refresh runs: the requests waiting for its token.
    waiting: StoredValue<Option<Vec<Refreshed>>>,
}

type Refreshed = futures::channel::oneshot::Sender<Option<String>>;

impl Session {
    /// The signed-in user's name.
    pub fn username(&self) -> Option<String> {
        match self.stage.get_untracked() {
            Stage::SignedIn(tokens) => tokens.username(),
            _ => None,
        }
    }

    /// The current access token, if signed in.
    pub fn access_token(&self) -> Option<String> {
        match self.stage.get_untracked() {
            Stage::SignedIn(tokens) => Some(tokens.access_token),
            _ => None,
        }
    }

    /// Refreshes the tokens after `refused` was refused (or is about to
    /// expire); `None` (and back to the form) when the session ended. Many
    /// requests refused at once share one refresh, and a request refused
    /// with a token already replaced just gets the new one.
    pub async fn refresh_after_unauthorized(&self, refused: &str) -> Option<String> {
        let Stage::SignedIn(tokens) = self.stage.get_untracked() else {
            return None;
        };
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
        let client = self.client.get_value();
        let fresh = match client.refresh(&tokens).await {
            Ok(fresh) => {
                self.signed_in(fresh.clone());
                Some(fresh.access_token)
            }
            Err(AuthError::Unreachable) => None,
            Err(_) => {
                store::save(&BrowserStore::open(self.storage), None);
                self.stage.set(Stage::Form);
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

    fn signed_in(&self, tokens: TokenSet) {
        store::save(&BrowserStore::open(self.storage), Some(&tokens));
        self.stage.set(Stage::SignedIn(tokens));
    }
}

fn random() -> Result<Vec<u8>, AuthError> {
    api::identity::random_bytes(ferry_srp::EXPONENT_BYTES)
        .ok_or_else(|| AuthError::Other("this browser has no secure random numbers".into()))
}

#[component]
fn Ready(config: ClientConfig) -> impl IntoView {
    let storage = config.token_storage;
    let client = Client::new(
        FetchTransport::new(&config.identity_endpoint()),
        &config.user_pool_id,
        &config.user_pool_client_id,
    );
    let now = api::identity::now().unix_timestamp();
    let initial =
        store::load(&BrowserStore::open(storage), now).map_or(Stage::Form, Stage::SignedIn);
    let session = Session {
        stage: RwSignal::new(initial),
        client: StoredValue::new(client),
        storage,
        waiting: StoredValue::new(None),
    };
    provide_context(session);
    let stage = session.stage;
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    // Refresh a little before the access token expires.
    Effect::new(move |_| {
        if let Stage::SignedIn(tokens) = stage.get() {
            let wait = (tokens.refresh_at() - api::identity::now().unix_timestamp()).max(0);
            let handle = set_timeout_with_handle(
                move || {
                    leptos::task::spawn_local(async move {
                        session
                            .refresh_after_unauthorized(&tokens.access_token)
                            .await;
                    });
                },
                std::time::Duration::from_secs(u64::try_from(wait).unwrap_or(0)),
            )
            .ok();
            on_cleanup(move || {
                if let Some(handle) = handle {
                    handle.clear();
                }
            });
        }
    });

    // Runs one step of the conversation, showing its error or its next stage.
    let run =
        move |work: std::pin::Pin<Box<dyn Future<Output = Result<Option<Stage>, AuthError>>>>| {
            error.set(None);
            busy.set(true);
            leptos::task::spawn_local(async move {
                match work.await {
                    Ok(Some(Stage::SignedIn(tokens))) => session.signed_in(tokens),
                    Ok(Some(next)) => stage.set(next),
                    Ok(None) => {}
                    Err(e) => error.set(Some(e.to_string())),
                }
                busy.set(false);
            });
        };

    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let new_password = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let notice = RwSignal::new(None::<String>);

    let sign_in = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let client = session.client.get_value();
        let (user, pass) = (username.get_untracked(), password.get_untracked());
        run(Box::pin(async move {
            let step = client
                .sign_in(user.trim(), &pass, &random()?, api::identity::now())
                .await?;
            Ok(Some(Stage::from(step)))
        }));
        password.set(String::new());
    };
    let set_password = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Stage::NewPassword {
            session: id,
            username: user,
        } = stage.get_untracked()
        else {
            return;
        };
        let client = session.client.get_value();
        let pass = new_password.get_untracked();
        run(Box::pin(async move {
            Ok(Some(Stage::from(
                client.set_new_password(&id, &user, &pass).await?,
            )))
        }));
    };
    let verify = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let client = session.client.get_value();
        let typed = code.get_untracked();
        code.set(String::new());
        match stage.get_untracked() {
            Stage::MfaCode {
                session: id,
                username: user,
            } => run(Box::pin(async move {
                Ok(Some(Stage::from(
                    client.verify_mfa_code(&id, &user, &typed).await?,
                )))
            })),
            Stage::MfaSetup {
                session: id,
                username: user,
                ..
            } => run(Box::pin(async move {
                Ok(Some(Stage::from(
                    client.finish_mfa_setup(&id, &user, &typed).await?,
                )))
            })),
            _ => {}
        }
    };
    let send_code = move |_| {
        let client = session.client.get_value();
        let user = username.get_untracked();
        run(Box::pin(async move {
            client.forgot_password(user.trim()).await?;
            notice.set(Some("If that account exists, a code is on its way.".into()));
            Ok(None)
        }));
    };
    let reset = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let client = session.client.get_value();
        let (user, typed, pass) = (
            username.get_untracked(),
            code.get_untracked(),
            new_password.get_untracked(),
        );
        run(Box::pin(async move {
            client
                .confirm_forgot_password(user.trim(), &typed, &pass)
                .await?;
            notice.set(Some(
                "Password changed. Sign in with your new password.".into(),
            ));
            Ok(Some(Stage::Form))
        }));
    };
    let sign_out = move |_| {
        let Stage::SignedIn(tokens) = stage.get_untracked() else {
            return;
        };
        let client = session.client.get_value();
        store::save(&BrowserStore::open(session.storage), None);
        run(Box::pin(async move {
            // Forget the tokens even when the revocation can't be sent.
            let revoked = client.sign_out(&tokens).await;
            stage.set(Stage::Form);
            revoked.map(|()| None)
        }));
    };

    let text_input = move |id: &'static str,
                           label: &'static str,
                           kind: &'static str,
                           value: RwSignal<String>,
                           autocomplete: &'static str| {
        view! {
            <label class="ferry-field" for=id>
                <span>{label}</span>
                <input id=id type=kind autocomplete=autocomplete required
                    prop:value=move || value.get()
                    on:input=move |ev| value.set(event_target_value(&ev)) />
            </label>
        }
    };

    let environment = config
        .environment
        .clone()
        .unwrap_or_else(|| config.region.clone());
    // Single sign-on: the hosted UI signs people in; coming back on the
    // callback path, the code is traded for tokens.
    let hosted = config.auth_mode == ferry_protocol::AuthMode::Hosted;
    let sso_config = StoredValue::new(config.clone());
    let callback_config = config.clone();
    leptos::task::spawn_local(async move {
        if let Some(result) = api::oauth::finish(&callback_config).await {
            match result {
                Ok(tokens) => session.signed_in(tokens),
                Err(e) => error.set(Some(e.to_string())),
            }
        }
    });
    let signed_in = Memo::new(move |_| stage.with(|s| matches!(s, Stage::SignedIn(_))));
    let who = Memo::new(move |_| {
        stage.with(|s| match s {
            Stage::SignedIn(tokens) => tokens.username().unwrap_or_default(),
            _ => String::new(),
        })
    });
    let files_config = config.clone();
    let (region, pool) = (config.region.clone(), config.user_pool_id.clone());
    let signed_out_view = move || {
        view! {
            <section class="ferry-card" aria-labelledby="ferry-welcome">
                <h1 id="ferry-welcome">"Your files, live"</h1>
                <p role="status">{format!("Connected to the {environment} stack.")}</p>
                <dl class="ferry-facts">
                    <dt>"Region"</dt>
                    <dd>{region.clone()}</dd>
                    <dt>"User pool"</dt>
                    <dd>{pool.clone()}</dd>
                </dl>
            </section>
            <section class="ferry-card ferry-signin" aria-labelledby="ferry-signin-title">
                {move || match stage.get() {
                    Stage::SignedIn(_) => ().into_any(),
                    Stage::Form if hosted => view! {
                        <h2 id="ferry-signin-title">"Sign in to Ferry"</h2>
                        <p>"You sign in on your organisation's sign-in page, then come back here."</p>
                        <button type="button" class="ferry-button" disabled=move || busy.get()
                            on:click=move |_| {
                                error.set(None);
                                busy.set(true);
                                if let Err(e) = api::oauth::start(&sso_config.get_value()) {
                                    error.set(Some(e.to_string()));
                                    busy.set(false);
                                }
                            }>"Sign in with single sign-on"</button>
                    }.into_any(),
                    Stage::Form => view! {
                        <h2 id="ferry-signin-title">"Sign in to Ferry"</h2>
                        <form class="ferry-form" on:submit=sign_in>
                            {text_input("ferry-username", "Username", "text", username, "username")}
                            {text_input("ferry-password", "Password", "password", password, "current-password")}
                            <button type="submit" class="ferry-button" disabled=move || busy.get()>"Sign in"</button>
                            <button type="button" class="ferry-link" on:click=move |_| { error.set(None); stage.set(Stage::Forgot) }>"Forgot password?"</button>
                        </form>
                    }.into_any(),
                    Stage::NewPassword { .. } => view! {
                        <h2 id="ferry-signin-title">"Choose a new password"</h2>
                        <form class="ferry-form" on:submit=set_password>
                            {text_input("ferry-new-password", "New password", "password", new_password, "new-password")}
                            <button type="submit" class="ferry-button" disabled=move || busy.get()>"Set password"</button>
                        </form>
                    }.into_any(),
                    Stage::MfaCode { .. } => view! {
                        <h2 id="ferry-signin-title">"Enter your authentication code"</h2>
                        <form class="ferry-form" on:submit=verify>
                            {text_input("ferry-code", "Authentication code", "text", code, "one-time-code")}
                            <button type="submit" class="ferry-button" disabled=move || busy.get()>"Verify"</button>
                        </form>
                    }.into_any(),
                    Stage::MfaSetup { secret, username: user, .. } => view! {
                        <h2 id="ferry-signin-title">"Set up an authenticator app"</h2>
                        <p>"Scan this code with your authenticator app, or type the key below, then enter the code it shows."</p>
                        {crate::qr::encode(&Step::otpauth_uri(&user, &secret)).map(|qr| {
                            let side = qr.size + 8;
                            view! {
                                <svg class="ferry-qr" role="img" aria-label="QR code for your authenticator app"
                                    viewBox=format!("0 0 {side} {side}") width="176" height="176">
                                    <rect width=side.to_string() height=side.to_string() fill="#fff" />
                                    <path d=qr.path transform="translate(4 4)" fill="#000" />
                                </svg>
                            }
                        })}
                        <p><code class="ferry-secret" aria-label="Authenticator key">{secret}</code></p>
                        <form class="ferry-form" on:submit=verify>
                            {text_input("ferry-code", "Authentication code", "text", code, "one-time-code")}
                            <button type="submit" class="ferry-button" disabled=move || busy.get()>"Verify"</button>
                        </form>
                    }.into_any(),
                    Stage::Forgot => view! {
                        <h2 id="ferry-signin-title">"Reset your password"</h2>
                        <form class="ferry-form" on:submit=reset>
                            {text_input("ferry-username", "Username", "text", username, "username")}
                            <button type="button" class="ferry-button" on:click=send_code>"Send code"</button>
                            {text_input("ferry-reset-code", "Code", "text", code, "one-time-code")}
                            {text_input("ferry-new-password", "New password", "password", new_password, "new-password")}
                            <button type="submit" class="ferry-button" disabled=move || busy.get()>"Set password"</button>
                            <button type="button" class="ferry-link" on:click=move |_| { error.set(None); stage.set(Stage::Form) }>"Back to sign in"</button>
                        </form>
                    }.into_any(),
                }}
                <p role="status" class="ferry-muted">{move || notice.get()}</p>
                <div role="alert" class="ferry-alert">{move || error.get()}</div>
            </section>
        }
    };
    view! {
        <Show when=move || signed_in.get() fallback=signed_out_view>
            <div class="ferry-account" role="region" aria-labelledby="ferry-account-name">
                <h2 id="ferry-account-name">{move || format!("Signed in as {}", who.get())}</h2>
                <button type="button" class="ferry-button" on:click=sign_out>"Sign out"</button>
                <div role="alert" class="ferry-alert">{move || error.get()}</div>
            </div>
            <Files config=files_config.clone() />
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
