//! `<ferry-files>`: the custom element every Ferry page uses. Its class is
//! JS (`js/element.js`: a custom element must be); the wasm defines it when
//! it starts, and each element connected to a page mounts an
//! [`FerryInstance`] into its shadow root. Dropping the instance (the
//! element's `free()` when it is removed) unmounts it, and with it every
//! request, socket, timer, listener and worker it started.

use crate::components::app::App;
use crate::host::{Host, HostCall};
use ferry_client::config::{ConfigSource, source_from_attributes};
use ferry_client::route::Routing;
use ferry_protocol::FolderPath;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/js/element.js")]
extern "C" {
    #[wasm_bindgen(js_name = defineFerryFiles)]
    fn define_ferry_files(mount: &Closure<Mount>);
}

/// `mount(element, root, tokenProvider, provided)`, as `js/element.js`
/// calls it.
type Mount = dyn Fn(web_sys::HtmlElement, web_sys::HtmlElement, JsValue, bool) -> FerryInstance;

/// Defines `<ferry-files>` for this page (once: the wasm is instantiated
/// once per page and every element shares it).
pub fn define() {
    let mount = Closure::<Mount>::new(
        |element: web_sys::HtmlElement, root: web_sys::HtmlElement, provider: JsValue, provided| {
            FerryInstance::mount(element, root, provider.dyn_into().ok(), provided)
        },
    );
    define_ferry_files(&mount);
    // The definition lasts as long as the page.
    mount.forget();
}

/// One `<ferry-files>` element's app.
#[wasm_bindgen]
pub struct FerryInstance {
    host: Host,
    /// The mounted app (a `leptos::mount::UnmountHandle`): dropped, it
    /// unmounts. Kept unnamed so the view's type needs no erasing.
    _mounted: Box<dyn std::any::Any>,
}

impl std::fmt::Debug for FerryInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FerryInstance")
            .field("routing", &self.host.routing)
            .finish_non_exhaustive()
    }
}

impl FerryInstance {
    /// Mounts an instance for `element` into `root` (inside its shadow
    /// root), with the element's settings; when `provided`, the host hands
    /// the tokens over (through `provider`, once it sets one).
    pub fn mount(
        element: web_sys::HtmlElement,
        root: web_sys::HtmlElement,
        provider: Option<js_sys::Function>,
        provided: bool,
    ) -> Self {
        let attribute = |name: &str| element.get_attribute(name);
        let mut source = source_from_attributes(attribute);
        let routing = Routing::parse(attribute("routing").as_deref()).unwrap_or_else(|reason| {
            source = ConfigSource::Invalid(reason);
            Routing::None
        });
        let host = Host::new(Some(element.clone()), routing, provided, provider);
        host.folder
            .set(attribute("folder").map(|f| parse_folder(&f)));
        let mounted = {
            let host = host.clone();
            mount_to(root, move || {
                view! { <App source=source host=host /> }
            })
        };
        Self {
            host,
            _mounted: Box::new(mounted),
        }
    }
}

#[wasm_bindgen]
impl FerryInstance {
    /// Shows `folder` (the `folder` attribute or property, `navigate()`).
    #[wasm_bindgen(js_name = showFolder)]
    pub fn show_folder(&self, folder: &str) {
        self.host.folder.set(Some(parse_folder(folder)));
    }

    /// Reads the folder shown again (`refresh()`).
    pub fn refresh(&self) {
        self.host.refreshes.update(|n| *n = n.wrapping_add(1));
    }

    /// The host handed over its `tokenProvider` (again), or cleared it
    /// (`null`), which ends the session.
    #[wasm_bindgen(js_name = setTokenProvider)]
    pub fn set_token_provider(&self, provider: JsValue) {
        let handover = &self.host.handover;
        *handover.provider.borrow_mut() = provider.dyn_into().ok();
        handover.tell(HostCall::TokenProvider);
    }

    /// Ends the session (`signOut()`).
    #[wasm_bindgen(js_name = signOut)]
    pub fn sign_out(&self) {
        self.host.handover.tell(HostCall::SignOut);
    }

    /// Uploads files the host picked (`upload(files)`) into the folder
    /// shown, once the person is signed in.
    pub fn upload(&self, files: Vec<web_sys::File>) {
        self.host.uploads.update(|queued| queued.extend(files));
    }
}

/// A folder as the host writes it: `photos/2026`, with or without slashes
/// around it; one that isn't valid shows Home.
fn parse_folder(text: &str) -> FolderPath {
    FolderPath::parse(text.trim().trim_matches('/')).unwrap_or_default()
}
