//! The browser's dialogs, a chunk of their own: new folder, rename,
//! delete, move, and checking a copy (`copy_check`), each in a
//! `components::modal::Modal`.

use super::actions::Actions;
use super::{Ctx, Dialog};
use crate::chunks;
use crate::components::modal::{Modal, field};
use ferry_client::rows::RowKind;
use ferry_protocol::{FileName, FolderPath};
use leptos::prelude::*;

chunks::split_point! {
    dialogs =>
    /// Loads the dialogs: the chunk's entry, with the view of a dialog.
    pub fn dialog_view() -> fn(Ctx, Actions, Dialog) -> AnyView {
        render
    }
}

fn render(ctx: Ctx, actions: Actions, dialog: Dialog) -> AnyView {
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
        // Shown by the versions chunk, never here.
        Dialog::Versions(_) => ().into_any(),
        Dialog::Preview(row) => {
            view! { <super::preview::Preview ctx=ctx actions=actions row=row /> }.into_any()
        }
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
                        <p class="ferry-muted">"They go to the trash, where they can be restored until it deletes them."</p>
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
                        let moves = rows
                            .iter()
                            .filter_map(|row| match (&row.kind, FileName::parse(&row.name)) {
                                (RowKind::File(file_id), Ok(name)) => {
                                    Some((*file_id, row.name.clone(), to.clone(), name))
                                }
                                _ => None,
                            })
                            .collect();
                        actions.move_files(moves);
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
