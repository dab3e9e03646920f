//! The browser's dialogs, a chunk of their own: new folder, rename,
//! delete and move. [`Modal`] is every dialog's frame (the copy check's and
//! the upload conflict's too): focus moves into it, Tab stays inside, Esc
//! closes it, and focus goes back where it was.

use super::actions::Actions;
use super::{Ctx, Dialog};
use ferry_client::rows::RowKind;
use ferry_protocol::{FileName, FolderPath};
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

/// A modal dialog titled `title`; `on_close` runs on Esc or a click
/// outside it.
#[component]
pub fn Modal(title: String, on_close: Callback<()>, children: Children) -> impl IntoView {
    let panel: NodeRef<html::Div> = NodeRef::new();
    let previous = document()
        .active_element()
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
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
            let active = document().active_element();
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
            <div role="dialog" aria-modal="true" aria-labelledby="ferry-dialog-title" class="ferry-dialog"
                node_ref=panel on:keydown=on_key>
                <h2 id="ferry-dialog-title">{title}</h2>
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

/// The dialog `dialog` (the dialogs chunk's entry).
pub fn dialog_view(ctx: Ctx, actions: Actions, dialog: Dialog) -> AnyView {
    let close = Callback::new(move |()| ctx.dialog.set(None));
    match dialog {
        Dialog::NewFolder => {
            let name = RwSignal::new(String::new());
            let error = RwSignal::new(None::<String>);
            let submit = move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                let here = ctx.route.get_untracked().folder;
                let path = FileName::parse(name.get_untracked().trim())
                    .map_err(|e| e.to_string())
                    .and_then(|n| here.join(&n).map_err(|e| e.to_string()));
                match path {
                    Ok(path) => {
                        ctx.dialog.set(None);
                        actions.create_folder(path);
                    }
                    Err(message) => error.set(Some(message)),
                }
            };
            view! {
                    <Modal title="New folder".to_owned() on_close=close>
                        <form class="ferry-form" on:submit=submit>
                            {field("ferry-folder-name", "Folder name", name, error)}
                            <div class="ferry-dialog-buttons">
                                <button type="button" class="ferry-button" on:click=move |_| close.run(())>"Cancel"</button>
                                <button type="submit" class="ferry-button ferry-primary">"Create"</button>
                            </div>
                        </form>
                    </Modal>
                }
                .into_any()
        }
        Dialog::Rename(row) => {
            let old = row.name.clone();
            let name = RwSignal::new(old.clone());
            let error = RwSignal::new(None::<String>);
            let title = format!("Rename {old}");
            let submit = move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                let RowKind::File(file_id) = row.kind else {
                    return;
                };
                let typed = name.get_untracked();
                match FileName::parse(typed.trim()) {
                    Ok(new) if new.as_str() == row.name => ctx.dialog.set(None),
                    Ok(new) => {
                        ctx.dialog.set(None);
                        let folder = row
                            .place
                            .clone()
                            .unwrap_or_else(|| ctx.route.get_untracked().folder);
                        actions.move_file(file_id, &row.name, folder, new);
                    }
                    Err(e) => error.set(Some(e.to_string())),
                }
            };
            view! {
                    <Modal title=title on_close=close>
                        <form class="ferry-form" on:submit=submit>
                            {field("ferry-new-name", "New name", name, error)}
                            <div class="ferry-dialog-buttons">
                                <button type="button" class="ferry-button" on:click=move |_| close.run(())>"Cancel"</button>
                                <button type="submit" class="ferry-button ferry-primary">"Rename"</button>
                            </div>
                        </form>
                    </Modal>
                }
                .into_any()
        }
        Dialog::Verify(row) => super::copy_check::copy_check_view(row, close),
        Dialog::Delete(rows) => {
            let title = match rows.as_slice() {
                [one] => format!("Delete {}?", one.name),
                many => format!("Delete {} items?", many.len()),
            };
            let folders = rows.iter().any(|r| matches!(r.kind, RowKind::Folder(_)));
            let names = rows
                .iter()
                .take(8)
                .map(|r| view! { <li>{r.name.clone()}</li> })
                .collect_view();
            let more = rows.len().saturating_sub(8);
            view! {
                    <Modal title=title on_close=close>
                        <ul class="ferry-names">{names}</ul>
                        {(more > 0).then(|| view! { <p class="ferry-muted">{format!("and {more} more")}</p> })}
                        {folders.then(|| view! { <p>"Folders are deleted with everything in them."</p> })}
                        <p class="ferry-muted">"This can't be undone."</p>
                        <div class="ferry-dialog-buttons">
                            <button type="button" class="ferry-button" on:click=move |_| close.run(())>"Cancel"</button>
                            <button type="button" class="ferry-button ferry-danger-button" on:click=move |_| {
                                ctx.dialog.set(None);
                                actions.delete(rows.clone());
                            }>"Delete"</button>
                        </div>
                    </Modal>
                }
                .into_any()
        }
        Dialog::Move(rows) => {
            let target = RwSignal::new(ctx.route.get_untracked().folder.as_str().to_owned());
            let error = RwSignal::new(None::<String>);
            let title = match rows.as_slice() {
                [one] => format!("Move {}", one.name),
                many => format!("Move {} files", many.len()),
            };
            let submit = move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                let typed = target.get_untracked();
                match FolderPath::parse(typed.trim().trim_matches('/')) {
                    Ok(to) => {
                        ctx.dialog.set(None);
                        for row in &rows {
                            if let (RowKind::File(file_id), Ok(name)) =
                                (&row.kind, FileName::parse(&row.name))
                            {
                                actions.move_file(*file_id, &row.name, to.clone(), name);
                            }
                        }
                        ctx.selection.set(Default::default());
                    }
                    Err(e) => error.set(Some(e.to_string())),
                }
            };
            view! {
                    <Modal title=title on_close=close>
                        <form class="ferry-form" on:submit=submit>
                            {field("ferry-move-to", "Destination folder", target, error)}
                            <p class="ferry-muted">"A path like photos/2026; leave it empty for Home."</p>
                            <div class="ferry-dialog-buttons">
                                <button type="button" class="ferry-button" on:click=move |_| close.run(())>"Cancel"</button>
                                <button type="submit" class="ferry-button ferry-primary">"Move"</button>
                            </div>
                        </form>
                    </Modal>
                }
                .into_any()
        }
    }
}
