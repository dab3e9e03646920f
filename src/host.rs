//! The page around one instance: the `<ferry-files>` element it lives in,
//! how it keeps its folder (`routing`), what the host page asks of it
//! (`folder`, `navigate()`, `refresh()`, `upload()`), and the events it
//! tells the host (`ferry-navigate`, …), each a DOM `CustomEvent` that
//! bubbles out of the shadow root.
//!
//! One [`Host`] per instance, handed down to the parts that need it;
//! nothing here is shared between instances.

use ferry_client::route::Routing;
use ferry_protocol::FolderPath;
use ferry_protocol::host::HostEvent;
use leptos::prelude::*;
use send_wrapper::SendWrapper;

/// The host page's `tokenProvider`: `async ({forceRefresh}) => ({idToken,
/// accessToken})`.
pub type TokenProvider = js_sys::Function;

/// What the host page asks of the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostCall {
    /// It set `tokenProvider` (again), or cleared it.
    TokenProvider,
    /// It called `signOut()`.
    SignOut,
}

/// Who hears the host's calls: the instance's session, once its settings
/// are in.
pub type Listener = std::rc::Rc<dyn Fn(HostCall)>;

/// What the host handed over for the session: its `tokenProvider`, and who
/// hears when it hands over another or signs out. Plain cells, not
/// signals: nothing renders from them (and signals of new types would
/// weigh on the first load).
#[derive(Default)]
pub struct Handover {
    /// The host's `tokenProvider`; `None` until set, or once cleared.
    pub provider: std::cell::RefCell<Option<TokenProvider>>,
    /// The mounted instance's session, listening.
    pub listener: std::cell::RefCell<Option<Listener>>,
    /// Counts the provider's hand-overs: an answer to an older one (the
    /// provider was replaced or cleared meanwhile) is dropped.
    pub asked: std::cell::Cell<u32>,
}

impl std::fmt::Debug for Handover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handover")
            .field("provider", &self.provider)
            .field("asked", &self.asked)
            .finish_non_exhaustive()
    }
}

impl Handover {
    /// Tells the listening session, if any, what the host asked.
    pub fn tell(&self, call: HostCall) {
        // Cloned out first: the session may listen anew while it hears.
        let listener = self.listener.borrow().clone();
        if let Some(listener) = listener {
            listener(call);
        }
    }
}

/// One instance's side of its element. `Clone`: every part is a handle.
#[derive(Debug, Clone)]
pub struct Host {
    /// The element events are dispatched on (none for a bare mount).
    element: Option<SendWrapper<web_sys::HtmlElement>>,
    /// How the folder shown is kept.
    pub routing: Routing,
    /// The folder the host asked for last (`folder`, `navigate()`); `None`
    /// until it asks.
    pub folder: ArcRwSignal<Option<FolderPath>>,
    /// Counts the host's `refresh()` calls.
    pub refreshes: ArcRwSignal<u32>,
    /// Files handed over by `upload()` and not yet queued.
    pub uploads: ArcRwSignal<SendWrapper<Vec<web_sys::File>>>,
    /// Whether the host hands the tokens over (it set `tokenProvider`
    /// before this instance mounted): fixed for the instance's life.
    pub provided: bool,
    /// The host's `tokenProvider` and the session it is for.
    pub handover: SendWrapper<std::rc::Rc<Handover>>,
}

impl Host {
    /// The host of an instance in `element`, routing as it says; when
    /// `provided`, the host hands the tokens over, through `provider` once
    /// it sets one.
    pub fn new(
        element: Option<web_sys::HtmlElement>,
        routing: Routing,
        provided: bool,
        provider: Option<js_sys::Function>,
    ) -> Self {
        Self {
            provided: provided || provider.is_some(),
            handover: SendWrapper::new(std::rc::Rc::new(Handover {
                provider: std::cell::RefCell::new(provider),
                listener: std::cell::RefCell::new(None),
                asked: std::cell::Cell::new(0),
            })),
            element: element.map(SendWrapper::new),
            routing,
            folder: ArcRwSignal::new(None),
            refreshes: ArcRwSignal::new(0),
            uploads: ArcRwSignal::new(SendWrapper::new(Vec::new())),
        }
    }

    /// The folder the instance shows first: the fragment's with `hash`
    /// routing, else the one the host asked for (Home if none).
    pub fn first_folder(&self) -> FolderPath {
        match self.routing {
            Routing::Hash => fragment_route().folder,
            Routing::None => self.folder.get_untracked().unwrap_or_default(),
        }
    }

    /// Takes the files `upload()` handed over.
    pub fn take_uploads(&self) -> Vec<web_sys::File> {
        self.uploads
            .try_update(|files| std::mem::take(&mut **files))
            .unwrap_or_default()
    }

    /// Tells the host page one of the events `ferry_protocol::host`
    /// publishes.
    pub fn emit_event<T: HostEvent>(&self, detail: &T) {
        if self.element.is_some() {
            self.emit(T::NAME, serde_json::to_string(detail).ok());
        }
    }

    /// Tells the host page `ferry-error` with `detail`, JSON text written
    /// out (no serializer in the first load for it).
    pub fn emit_error(&self, detail: &str) {
        self.emit(ferry_protocol::host::ERROR, Some(detail.to_owned()));
    }

    /// Tells the host page: a `CustomEvent` named `name` with `detail`
    /// (JSON text, parsed by the browser) on the element, bubbling out of
    /// its shadow root. Nothing without an element. Not generic: one copy
    /// for every event.
    fn emit(&self, name: &str, detail: Option<String>) {
        let Some(element) = &self.element else { return };
        let detail = detail
            .and_then(|json| js_sys::JSON::parse(&json).ok())
            .unwrap_or(wasm_bindgen::JsValue::NULL);
        let init = web_sys::CustomEventInit::new();
        init.set_bubbles(true);
        init.set_composed(true);
        init.set_detail(&detail);
        if let Ok(event) = web_sys::CustomEvent::new_with_event_init_dict(name, &init) {
            let _ = element.dispatch_event(&event);
        }
    }
}

/// The route in the page's URL fragment.
pub fn fragment_route() -> ferry_client::route::Route {
    let hash = window().location().hash().unwrap_or_default();
    ferry_client::route::Route::parse(&hash)
}
