//! Every dialog's frame, and the labelled field the dialogs use. A modal
//! takes focus (its first field, else its first button), keeps Tab inside,
//! closes on Esc or a click outside it, and gives focus back where it was.

use leptos::html;
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast;

const FOCUSABLE: &str =
    "button:not([disabled]), input:not([disabled]), a[href], [tabindex]:not([tabindex='-1'])";

fn focusables(panel: &web_sys::HtmlElement) -> Vec<web_sys::HtmlElement> {
    let Ok(list) = panel.query_selector_all(FOCUSABLE) else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
        .collect()
}

/// A modal dialog titled `title` (a preview's title follows the file
/// shown); `on_close` runs on Esc or a click outside it; `wide` makes room
/// for a preview.
#[component]
pub fn Modal(
    #[prop(into)] title: Signal<String>,
    on_close: Callback<()>,
    #[prop(optional)] wide: bool,
    children: Children,
) -> impl IntoView {
    let panel: NodeRef<html::Div> = NodeRef::new();
    let previous =
        crate::platform::focused().and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
    let previous = SendWrapper::new(previous);
    on_cleanup(move || {
        if let Some(element) = previous.take() {
            let _ = element.focus();
        }
    });
    Effect::new(move |_| {
        if let Some(panel) = panel.get() {
            // The first field, or else the first button.
            let first = panel
                .query_selector("input:not([disabled])")
                .ok()
                .flatten()
                .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok())
                .or_else(|| focusables(&panel).into_iter().next());
            if let Some(first) = first {
                let _ = first.focus();
            }
        }
    });
    let on_key = move |ev: leptos::ev::KeyboardEvent| match ev.key().as_str() {
        "Escape" => {
            ev.prevent_default();
            on_close.run(());
        }
        "Tab" => {
            let Some(panel) = panel.get_untracked() else {
                return;
            };
            let all = focusables(&panel);
            let (Some(first), Some(last)) = (all.first(), all.last()) else {
                return;
            };
            let active = crate::platform::focused();
            let at = |e: &web_sys::HtmlElement| active.as_ref() == Some(e.unchecked_ref());
            if ev.shift_key() && at(first) {
                ev.prevent_default();
                let _ = last.focus();
            } else if !ev.shift_key() && at(last) {
                ev.prevent_default();
                let _ = first.focus();
            }
        }
        _ => {}
    };
    view! {
        <div class="ferry-backdrop" on:click=move |ev| {
            // A click on the backdrop itself (not the dialog) closes it.
            if ev.target() == ev.current_target() { on_close.run(()) }
        }>
            <div role="dialog" part="dialog" aria-modal="true" aria-labelledby="ferry-dialog-title" class="ferry-dialog"
                class:ferry-wide=wide node_ref=panel on:keydown=on_key>
                <h2 id="ferry-dialog-title">{move || title.get()}</h2>
                {children()}
            </div>
        </div>
    }
}

/// A text field with its label and an error under it.
pub fn field(
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    view! {
        <label class="ferry-field" for=id>
            <span>{label}</span>
            <input id=id type="text" autocomplete="off"
                aria-invalid=move || error.with(Option::is_some).to_string()
                aria-describedby=format!("{id}-error")
                prop:value=move || value.get()
                on:input=move |ev| { value.set(event_target_value(&ev)); error.set(None); } />
        </label>
        <p id=format!("{id}-error") class="ferry-field-error">{move || error.get()}</p>
    }
}
