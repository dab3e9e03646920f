//! The app shell: loads the settings, then shows the app or says clearly why
//! it can't start.

use crate::api;
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
                ConfigSource::Inline(config) => Ok(config),
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

#[component]
fn Ready(config: ClientConfig) -> impl IntoView {
    let environment = config
        .environment
        .clone()
        .unwrap_or_else(|| config.region.clone());
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
