//! The listing: a folder's rows or a search's, or why there are none
//! (loading, empty, failed with a way to try again); and the bar that acts
//! on the rows selected.

use super::actions::Actions;
use super::grid::Grid;
use super::tiles;
use super::{Ctx, Dialog, Load};
use crate::chunks;
use crate::host::Host;
use ferry_client::host;
use ferry_client::listview::Selection;
use ferry_client::preview::ViewMode;
use ferry_client::rows::{self, RowView};
use ferry_protocol::host::SelectionChangeV1;
use leptos::prelude::*;

/// The rows shown, in order: the search's, or the folder's through the
/// filter.
pub fn shown_rows(ctx: Ctx) -> Memo<Vec<RowView>> {
    Memo::new(move |_| {
        let (by, descending) = ctx.sort.get();
        match ctx.search.get() {
            Some(found) => found
                .map(|files| rows::search_rows(&files, by, descending))
                .unwrap_or_default(),
            None => {
                let filter = ctx.filter.get();
                ctx.state
                    .with(|s| rows::folder_rows(s, by, descending, &filter))
            }
        }
    })
}

/// The folder's or the search's rows, or what stands in for them.
#[component]
pub fn Listing(
    ctx: Ctx,
    actions: Actions,
    rows: Memo<Vec<RowView>>,
    /// Told when the tiles' chunk can't be fetched.
    tell: StoredValue<Host>,
) -> impl IntoView {
    // Memos, so the listing is rebuilt only when what it shows changes
    // (not on every event that changes a row).
    let loaded = Memo::new(move |_| ctx.load.get());
    let empty = Memo::new(move |_| ctx.state.with(|s| s.is_empty()));
    let searching = move || ctx.route.with(|r| r.search.clone());
    move || {
        match (searching(), loaded.get()) {
        (Some(text), _) => match ctx.search.get() {
            None => view! { <p role="status" class="ferry-muted">{format!("Searching for “{text}”…")}</p> }.into_any(),
            Some(Err(message)) => view! { <p class="ferry-empty">{message}</p> }.into_any(),
            Some(Ok(files)) if files.is_empty() => view! { <p class="ferry-empty">{format!("No files match “{text}”.")}</p> }.into_any(),
            Some(Ok(_)) => view! {
                <h2 class="ferry-subtitle">{format!("Files matching “{text}”")}</h2>
                {shown(ctx, actions, rows, tell, format!("Search results for {text}"))}
            }.into_any(),
        },
        (None, Load::Loading) => view! { <p role="status" class="ferry-muted">"Loading files…"</p> }.into_any(),
        (None, Load::Failed(message)) => view! {
            <div class="ferry-empty">
                <p>{format!("The files couldn't be loaded: {message}")}</p>
                <button type="button" class="ferry-button" on:click=move |_| {
                    ctx.load.set(Load::Loading);
                    actions.reload();
                }>"Try again"</button>
            </div>
        }.into_any(),
        (None, Load::Ready) if empty.get() => view! {
            <div class="ferry-empty">
                <p>"This folder is empty."</p>
                <p class="ferry-muted">"Drop files here, paste them, or use Upload files."</p>
            </div>
        }.into_any(),
        (None, Load::Ready) => {
            let folder = ctx.route.with_untracked(|r| r.folder.clone());
            let label = if folder.is_root() { "Files in Home".to_owned() } else { format!("Files in {}", folder.as_str()) };
            shown(ctx, actions, rows, tell, label).into_any()
        }
    }
    }
}

/// The rows as the person chose to see them: a list, or tiles (from the
/// dialogs chunk: a view chosen, not the one every list shows).
fn shown(
    ctx: Ctx,
    actions: Actions,
    rows: Memo<Vec<RowView>>,
    tell: StoredValue<Host>,
    label: String,
) -> impl IntoView {
    move || match ctx.view.get() {
        ViewMode::List => {
            view! { <Grid ctx=ctx actions=actions rows=rows label=label.clone() /> }.into_any()
        }
        ViewMode::Tiles => {
            let label = label.clone();
            chunks::lazy_view("Loading…", tell, tiles::tiles_view, move |build| {
                build(ctx, actions, rows, label.clone())
            })
            .into_any()
        }
    }
}

chunks::split_point! {
    dialogs =>
    /// Loads the selection bar, with the dialogs its buttons open: it shows
    /// only once rows are selected.
    pub fn selection_bar() -> fn(Ctx, Memo<Vec<RowView>>, Host) -> AnyView {
        |ctx, rows, host| view! { <SelectionBar ctx=ctx rows=rows host=host /> }.into_any()
    }
}

/// What can be done with the rows selected (shown while there are some);
/// and the host page told what is selected (`ferry-selection-change`), as
/// it changes, and that nothing is once the bar goes.
#[component]
pub fn SelectionBar(ctx: Ctx, rows: Memo<Vec<RowView>>, host: Host) -> impl IntoView {
    let told = host.clone();
    // (The selection also holds the keyboard's focus: only a change of what
    // is selected is told.)
    Effect::new(move |before: Option<SelectionChangeV1>| {
        let shown = ctx.route.with_untracked(|r| r.folder.clone());
        let detail = ctx
            .selection
            .with(|s| rows.with_untracked(|all| host::selection_change(&shown, all, s)));
        if before.as_ref() != Some(&detail) {
            told.emit_event(&detail);
        }
        detail
    });
    on_cleanup(move || host.emit_event(&SelectionChangeV1::new(Vec::new())));
    let selected_rows = move || -> Vec<RowView> {
        ctx.selection.with_untracked(|sel| {
            rows.with_untracked(|all| {
                all.iter()
                    .filter(|r| sel.is_selected(&r.key))
                    .cloned()
                    .collect()
            })
        })
    };
    view! {
        <div class="ferry-bulk" role="region" aria-label="Selection">
            <span>{move || format!("{} selected", ctx.selection.with(|s| s.count()))}</span>
            <button type="button" class="ferry-button" on:click=move |_| ctx.dialog.set(Some(Dialog::Delete(selected_rows())))>"Delete selected"</button>
            <button type="button" class="ferry-button" on:click=move |_| {
                let files: Vec<RowView> = selected_rows().into_iter().filter(RowView::is_file).collect();
                ctx.dialog.set(Some(Dialog::Move(files)))
            }>"Move selected"</button>
            <button type="button" class="ferry-link" on:click=move |_| ctx.selection.set(Selection::default())>"Clear selection"</button>
        </div>
    }
}
