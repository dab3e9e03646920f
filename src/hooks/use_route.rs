//! `use_route`: the [`Route`] in the page's URL fragment, kept in a signal.
//! Navigating sets the fragment, so the browser's history has every folder
//! visited and back and forward work.

use ferry_client::route::Route;
use leptos::prelude::*;
use send_wrapper::SendWrapper;

/// What `use_route` gives back.
#[derive(Debug, Clone, Copy)]
pub struct UseRouteReturn {
    /// Where the URL says the user is.
    pub route: ReadSignal<Route>,
    /// Goes to a route (a new history entry).
    pub navigate: Callback<Route>,
}

fn current() -> Route {
    let hash = window().location().hash().unwrap_or_default();
    Route::parse(&hash)
}

/// Follows the URL fragment until the calling component is unmounted.
pub fn use_route() -> UseRouteReturn {
    let (route, set_route) = signal(current());
    let listener = window_event_listener_untyped("hashchange", move |_| {
        let now = current();
        if route.get_untracked() != now {
            set_route.set(now);
        }
    });
    let listener = SendWrapper::new(listener);
    on_cleanup(move || listener.take().remove());
    let navigate = Callback::new(move |to: Route| {
        if route.get_untracked() == to {
            return;
        }
        let _ = window().location().set_hash(&to.to_hash());
        set_route.set(to);
    });
    UseRouteReturn { route, navigate }
}
