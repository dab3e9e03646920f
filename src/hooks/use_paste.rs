//! `use_paste`: files pasted into one mounted app, until its component
//! unmounts. The browser sends a paste to the whole page, so with two apps
//! on a portal page the one the person is in takes it: the one holding the
//! focus (inside its shadow root), or, when nothing has the focus, the only
//! one on the page. A paste without files is left to the page.

use leptos::html::ElementType;
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast;

/// Calls `on_files` with the files of every paste that has some and is
/// meant for the element `within` (its app's root).
pub fn use_paste<E>(within: NodeRef<E>, on_files: impl Fn(web_sys::FileList) + 'static)
where
    E: ElementType,
    E::Output: JsCast + Clone + 'static,
{
    let listener = window_event_listener(leptos::ev::paste, move |ev| {
        let Some(root) = within
            .get_untracked()
            .and_then(|r| r.dyn_into::<web_sys::Element>().ok())
        else {
            return;
        };
        if !meant_for(&root) {
            return;
        }
        let files = ev.clipboard_data().and_then(|d| d.files());
        if let Some(files) = files
            && files.length() > 0
        {
            ev.prevent_default();
            on_files(files);
        }
    });
    let listener = SendWrapper::new(listener);
    on_cleanup(move || listener.take().remove());
}

/// Whether a paste now is for the app at `root`.
fn meant_for(root: &web_sys::Element) -> bool {
    match crate::platform::focused() {
        Some(element) => root.contains(Some(&element)),
        // Nothing focused: only when no other app is on the page (each in a
        // `<ferry-files>` element, or mounted bare).
        None => {
            let count = |css: &str| {
                document()
                    .query_selector_all(css)
                    .map(|all| all.length())
                    .unwrap_or(0)
            };
            count("ferry-files") + count(".ferry-files") <= 1
        }
    }
}
