//! The browser's dialogs: new folder, rename, delete, move, checking a
//! downloaded copy, and a taken upload name. Each is modal: focus moves into it, Tab stays inside, Esc
//! closes it, and focus goes back where it was.

use super::uploads;
use super::{Ctx, RowKind, RowView};
use ferry_protocol::messages::ConflictPolicy;
use ferry_protocol::{FileName, FolderPath};
use leptos::html;
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use uuid::Uuid;
use wasm_bindgen::JsCast;

/// The dialog open, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dialog {
    NewFolder,
    Rename(RowView),
    Delete(Vec<RowView>),
    Move(Vec<RowView>),
    /// Checking a downloaded copy against the stored file.
    Verify(RowView),
    /// An upload's name is taken.
    Conflict {
        upload: Uuid,
        name: String,
    },
}

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

#[component]
fn Modal(title: String, on_close: Callback<()>, children: Children) -> impl IntoView {
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
fn field(
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

/// Checks a copy the person chose against the stored file: sizes first,
/// then the SHA-256, hashed in a worker (stopped when the dialog closes).
fn verify_dialog(row: RowView, close: Callback<()>) -> impl IntoView {
    use crate::api::hasher::{Hashed, Hasher};
    use crate::verify::Check;
    let name = row.name.clone();
    let stored = row.sha256.clone().unwrap_or_default();
    let size = row.size.unwrap_or(0);
    let check = RwSignal::new(Check::Waiting);
    // Owned by the dialog: closing it drops the hasher, which stops the worker.
    let hashing = StoredValue::new_local(None::<Hasher>);
    let pick = {
        move |ev: leptos::ev::Event| {
            let Some(file) = event_target::<web_sys::HtmlInputElement>(&ev)
                .files()
                .and_then(|f| f.get(0))
            else {
                return;
            };
            hashing.set_value(None);
            let start = Check::start(file.size() as u64, size);
            let reading = !start.is_over();
            check.set(start);
            if !reading {
                return;
            }
            let stored = stored.clone();
            let heard = move |news: Hashed| match news {
                Hashed::Read(read) => {
                    check.update(|c| {
                        if let Check::Reading { of, .. } = *c {
                            *c = Check::Reading { read, of };
                        }
                    });
                }
                Hashed::File(sha256) => check.update(|c| *c = c.hashed(&sha256, &stored)),
                Hashed::Failed(reason) => check.set(Check::Unreadable(reason)),
                Hashed::Part(..) => {}
            };
            match Hasher::whole(&file, heard) {
                Ok(hasher) => hashing.set_value(Some(hasher)),
                Err(_) => check.set(Check::Unreadable(
                    "the browser couldn't start reading it".into(),
                )),
            }
        }
    };
    let outcome = move || {
        check.with(|c| match c {
            Check::Matches { .. } => "ferry-verify ferry-verify-ok",
            Check::WrongSize { .. } | Check::Differs | Check::Unreadable(_) => {
                "ferry-verify ferry-verify-bad"
            }
            _ => "ferry-verify",
        })
    };
    view! {
        <Modal title=format!("Check a copy of {name}") on_close=close>
            <p>"Choose the copy you downloaded: Ferry compares it with the SHA-256 recorded when the file was stored. The copy stays on your device."</p>
            <label class="ferry-field" for="ferry-verify-copy">
                <span>{format!("Your copy of {name}")}</span>
                <input id="ferry-verify-copy" type="file" on:change=pick />
            </label>
            <p role="status" class=outcome>{move || check.with(Check::text)}</p>
            <div class="ferry-dialog-buttons">
                <button type="button" class="ferry-button" on:click=move |_| close.run(())>"Close"</button>
            </div>
        </Modal>
    }
}

/// Renders whichever dialog is open.
#[component]
pub(crate) fn DialogView(ctx: Ctx) -> impl IntoView {
    let close = Callback::new(move |()| ctx.dialog.set(None));
    move || {
        let dialog = ctx.dialog.get()?;
        Some(match dialog {
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
                            ctx.create_folder(path);
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
                            ctx.move_file(file_id, &row.name, folder, new);
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
            Dialog::Verify(row) => verify_dialog(row, close).into_any(),
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
                                ctx.delete(rows.clone());
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
                                    ctx.move_file(*file_id, &row.name, to.clone(), name);
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
            Dialog::Conflict { upload, name } => {
                let answer = move |choice: Option<ConflictPolicy>| {
                    move |_| {
                        ctx.dialog.set(None);
                        uploads::resolve(ctx, upload, choice);
                    }
                };
                view! {
                    <Modal title=format!("{name} already exists") on_close=Callback::new(move |()| {
                        ctx.dialog.set(None);
                        uploads::resolve(ctx, upload, None);
                    })>
                        <p>"A file with this name is already in this folder. What should happen to the one you are uploading?"</p>
                        <div class="ferry-dialog-buttons">
                            <button type="button" class="ferry-button" on:click=answer(None)>"Skip"</button>
                            <button type="button" class="ferry-button" on:click=answer(Some(ConflictPolicy::KeepBoth))>"Keep both"</button>
                            <button type="button" class="ferry-button ferry-primary" on:click=answer(Some(ConflictPolicy::Replace))>"Replace"</button>
                        </div>
                    </Modal>
                }
                .into_any()
            }
        })
    }
}
