//! `use_token_refresh`: renews the session's tokens a little before the
//! access token expires (`TokenSet::refresh_at` says when), for as long as
//! the calling component is mounted. A request refused with 401 refreshes
//! too (`Session::refresh_after_unauthorized`); this keeps that rare.

use crate::platform;
use crate::session::Session;
use leptos::prelude::*;

/// Keeps `session` fresh until the calling component unmounts.
pub fn use_token_refresh(session: Session) {
    let tokens = session.tokens();
    Effect::new(move |_| {
        let Some(current) = tokens.get() else {
            return;
        };
        let wait = (current.refresh_at() - platform::now_seconds()).max(0);
        let handle = set_timeout_with_handle(
            move || {
                leptos::task::spawn_local(async move {
                    session
                        .refresh_after_unauthorized(&current.access_token, false)
                        .await;
                });
            },
            std::time::Duration::from_secs(u64::try_from(wait).unwrap_or(0)),
        )
        .ok();
        // A new token (or signing out) replaces the timer.
        on_cleanup(move || {
            if let Some(handle) = handle {
                handle.clear();
            }
        });
    });
}
