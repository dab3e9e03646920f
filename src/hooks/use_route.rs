//! `use_route`: the [`Route`] shown, kept in a signal. With `routing =
//! hash` it lives in the page's URL fragment: navigating sets it, so the
//! browser's history has every folder visited and back and forward work.
//! With `routing = none` (the default inside a host page) it lives in the
//! instance alone and Ferry never touches the page's URL. Either way the
//! host can ask for a folder (`folder`, `navigate()`), and is told of every
//! folder shown after the first (`ferry-navigate`).

use crate::host::{Host, fragment_route};
use ferry_client::route::{Route, Routing};
use ferry_protocol::host::NavigateV1;
use leptos::prelude::*;
use send_wrapper::SendWrapper;

/// What `use_route` gives back.
#[derive(Debug, Clone, Copy)]
pub struct UseRouteReturn {
    /// What is shown.
    pub route: ReadSignal<Route>,
    /// Goes to a route (with `hash` routing, a new history entry).
    pub navigate: Callback<Route>,
}

/// Follows the route until the calling component is unmounted.
pub fn use_route(host: &Host) -> UseRouteReturn {
    let routing = host.routing;
    let asked = host.folder.clone();
    let start = match routing {
        Routing::Hash => fragment_route(),
        Routing::None => Route::folder(host.first_folder()),
    };
    let (route, set_route) = signal(start);
    if routing == Routing::Hash {
        let listener = window_event_listener_untyped("hashchange", move |_| {
            let now = fragment_route();
            if route.get_untracked() != now {
                set_route.set(now);
            }
        });
        let listener = SendWrapper::new(listener);
        on_cleanup(move || listener.take().remove());
    }
    let navigate = Callback::new(move |to: Route| {
        if route.get_untracked() == to {
            return;
        }
        if routing == Routing::Hash {
            let _ = window().location().set_hash(&to.to_hash());
        }
        set_route.set(to);
    });
    // The host asks for a folder; that change isn't told back to it.
    let host_asked = StoredValue::new(None::<ferry_protocol::FolderPath>);
    Effect::new(move |seen: Option<()>| {
        let wanted = asked.get();
        if seen.is_some()
            && let Some(folder) = wanted
        {
            host_asked.set_value(Some(folder.clone()));
            navigate.run(Route::folder(folder));
        }
    });
    // The host hears of each folder the person goes to after the first
    // (not of those it asked for itself, which would echo).
    let told = host.clone();
    Effect::new(move |shown: Option<ferry_protocol::FolderPath>| {
        let folder = route.with(|r| r.folder.clone());
        let from_host = host_asked
            .try_update_value(Option::take)
            .flatten()
            .is_some_and(|asked| asked == folder);
        if shown.as_ref().is_some_and(|before| *before != folder) && !from_host {
            told.emit_event(&NavigateV1::new(folder.clone()));
        }
        folder
    });
    UseRouteReturn { route, navigate }
}
