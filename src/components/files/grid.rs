//! The file grid: column headers that sort, rows with a checkbox and their
//! actions, the keyboard model of `listview`, and virtual scrolling so only
//! the rows in view are in the DOM.

use super::actions::Actions;
use super::{Ctx, Dialog};
use ferry_client::folder::SortBy;
use ferry_client::format;
use ferry_client::listview::{self, Intent, Key};
use ferry_client::route::Route;
use ferry_client::rows::{RowKind, RowView};
use leptos::html;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// A row's height in pixels at the default density. The page's rows are
/// `--_row` high in the CSS (whole pixels), which the host page changes
/// with `--ferry-density`: the grid measures a row when it needs pixels,
/// and keeps its scroll position in rows of this height, so the window of
/// rows in view needs no other number.
const ROW_HEIGHT: f64 = 44.0;
/// Rows rendered beyond the viewport on each side.
const OVERSCAN: usize = 8;

fn local_time(millis: i64) -> String {
    crate::platform::local_time(millis, false)
}

/// A row's height in the page: the first rendered row's, or the default
/// while none shows.
fn row_height(body: &web_sys::HtmlDivElement) -> f64 {
    body.query_selector("[role=row]")
        .ok()
        .flatten()
        .map(|row| f64::from(row.client_height()))
        .filter(|px| *px > 0.0)
        .unwrap_or(ROW_HEIGHT)
}

/// A key pressed in the list, or among tiles `columns` to a line: the
/// focus and selection move (then `reveal` keeps the focus in view), or the
/// key's intent is carried out — Enter opens a folder and previews a file,
/// Space previews a file and toggles a folder's row. Space and Enter on a
/// control in a row (a checkbox, a button, a link) are the control's; ←
/// and → are the tiles' (a list leaves them to scrolling). `page` is how
/// many rows a page holds.
pub(super) fn on_key(
    ctx: Ctx,
    actions: Actions,
    rows: Memo<Vec<RowView>>,
    ev: &leptos::ev::KeyboardEvent,
    page: usize,
    columns: usize,
    reveal: impl Fn(),
) {
    let Some(key) = Key::from_dom(&ev.key(), ev.ctrl_key() || ev.meta_key())
        .filter(|k| columns > 1 || !matches!(k, Key::Left | Key::Right))
    else {
        return;
    };
    let on_control = ev.target().is_some_and(|t| {
        t.dyn_ref::<web_sys::HtmlInputElement>().is_some()
            || t.dyn_ref::<web_sys::HtmlButtonElement>().is_some()
            || t.dyn_ref::<web_sys::HtmlAnchorElement>().is_some()
    });
    if on_control && matches!(key, Key::Space | Key::Enter) {
        return;
    }
    ev.prevent_default();
    let keys: Vec<String> = rows.with_untracked(|r| r.iter().map(|r| r.key.clone()).collect());
    let intent = ctx
        .selection
        .try_update(|s| s.key_in_columns(key, ev.shift_key(), &keys, page, columns))
        .unwrap_or(Intent::None);
    let find = |key: &str| rows.with_untracked(|r| r.iter().find(|r| r.key == key).cloned());
    match intent {
        Intent::None => reveal(),
        Intent::Open(key) => match find(&key) {
            Some(row) if row.is_file() => ctx.dialog.set(Some(Dialog::Preview(row))),
            Some(row) => actions.open(&row),
            None => {}
        },
        Intent::Preview(key) => match find(&key) {
            Some(row) if row.is_file() => ctx.dialog.set(Some(Dialog::Preview(row))),
            Some(_) => ctx.selection.update(|s| s.toggle(&key)),
            None => {}
        },
        Intent::Delete(keys) => {
            let chosen: Vec<RowView> = keys.iter().filter_map(|k| find(k)).collect();
            ctx.dialog.set(Some(Dialog::Delete(chosen)));
        }
        Intent::Rename(key) => {
            if let Some(row) = find(&key).filter(RowView::is_file) {
                ctx.dialog.set(Some(Dialog::Rename(row)));
            }
        }
    }
}

/// The rows as a grid.
#[component]
pub fn Grid(ctx: Ctx, actions: Actions, rows: Memo<Vec<RowView>>, label: String) -> impl IntoView {
    let sort = ctx.sort;
    // Both in pixels of rows `ROW_HEIGHT` high (see there).
    let scroll_top = RwSignal::new(0.0_f64);
    let viewport = RwSignal::new(ROW_HEIGHT * 12.0);
    let body: NodeRef<html::Div> = NodeRef::new();

    // Forget selected rows that left the list (deleted, moved, filtered).
    Effect::new(move |_| {
        let keys: Vec<String> = rows.with(|r| r.iter().map(|r| r.key.clone()).collect());
        ctx.selection.update(|s| s.retain(&keys));
    });
    Effect::new(move |_| {
        if let Some(el) = body.get() {
            let height = f64::from(el.client_height());
            if height > 0.0 {
                viewport.set(height * ROW_HEIGHT / row_height(&el));
            }
        }
    });

    // The rows in view (and a few around them), computed once per scroll
    // or change; the spacers above and below stand for the rest.
    let window = Memo::new(move |_| {
        let n = rows.with(Vec::len);
        let range = listview::window(scroll_top.get(), viewport.get(), ROW_HEIGHT, n, OVERSCAN);
        (range, n)
    });
    let visible = move || {
        let (range, _) = window.get();
        rows.with(|all| {
            all[range.clone()]
                .iter()
                .cloned()
                .zip(range)
                .map(|(row, i)| (i, row))
                .collect::<Vec<_>>()
        })
    };
    let before = move || {
        let (range, _) = window.get();
        format!("calc({} * var(--_row))", range.start)
    };
    let after = move || {
        let (range, n) = window.get();
        format!("calc({} * var(--_row))", n - range.end)
    };
    let focused_index = move || {
        let focus = ctx.selection.with(|s| s.focus().map(str::to_owned))?;
        rows.with(|r| r.iter().position(|r| r.key == focus))
    };

    // Keeps the focused row in view after the keyboard moved it.
    let reveal = move || {
        let (Some(index), Some(el)) = (focused_index(), body.get_untracked()) else {
            return;
        };
        let row = row_height(&el);
        let top = index as f64 * row;
        let now = el.scroll_top() as f64;
        let height = f64::from(el.client_height());
        if top < now {
            el.set_scroll_top(top as i32);
        } else if top + row > now + height {
            el.set_scroll_top((top + row - height) as i32);
        }
        scroll_top.set(f64::from(el.scroll_top()) * ROW_HEIGHT / row);
    };

    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let page = (viewport.get_untracked() / ROW_HEIGHT).floor() as usize;
        on_key(ctx, actions, rows, &ev, page, 1, reveal);
    };

    let header = move |title: &'static str, by: SortBy| {
        let state = move || match sort.get() {
            (s, false) if s == by => "ascending",
            (s, true) if s == by => "descending",
            _ => "none",
        };
        view! {
            <div role="columnheader" aria-sort=state class="ferry-col">
                <button type="button" class="ferry-sort"
                    on:click=move |_| sort.update(|(s, desc)| {
                        if *s == by { *desc = !*desc } else { *s = by; *desc = false }
                    })>
                    {title}
                    <span aria-hidden="true" class="ferry-sort-mark">{move || match state() { "ascending" => "▲", "descending" => "▼", _ => "" }}</span>
                </button>
            </div>
        }
    };
    let all_selected = move || {
        ctx.selection
            .with(|s| rows.with(|r| !r.is_empty() && r.iter().all(|row| s.is_selected(&row.key))))
    };

    view! {
        <div role="grid" part="grid" class="ferry-grid" aria-label=label aria-multiselectable="true"
            aria-rowcount=move || (rows.with(Vec::len) + 1).to_string()
            tabindex="0"
            aria-activedescendant=move || focused_index().map(|i| format!("ferry-row-{i}"))
            on:keydown=on_key>
            <div role="rowgroup" class="ferry-head">
                <div role="row" aria-rowindex="1" class="ferry-row">
                    <div role="columnheader" class="ferry-col ferry-check">
                        <input type="checkbox" aria-label="Select all"
                            prop:checked=all_selected
                            on:change=move |_| {
                                let keys: Vec<String> = rows.with_untracked(|r| r.iter().map(|r| r.key.clone()).collect());
                                ctx.selection.update(|s| s.toggle_all(&keys));
                            } />
                    </div>
                    {header("Name", SortBy::Name)}
                    {header("Size", SortBy::Size)}
                    {header("Modified", SortBy::Modified)}
                    <div role="columnheader" class="ferry-col">"Status"</div>
                    <div role="columnheader" class="ferry-col ferry-actions-head">"Actions"</div>
                </div>
            </div>
            <div role="rowgroup" class="ferry-body" node_ref=body
                on:scroll=move |_| {
                    if let Some(el) = body.get_untracked() {
                        let scale = ROW_HEIGHT / row_height(&el);
                        viewport.set(f64::from(el.client_height()) * scale);
                        scroll_top.set(f64::from(el.scroll_top()) * scale);
                    }
                }>
                // Heights set through the CSSOM (`style:`), not a `style`
                // attribute, which the page's CSP (`style-src 'self'`) blocks.
                <div aria-hidden="true" style:height=before></div>
                <For each=visible
                    key=|(i, row)| format!("{i}|{}|{}|{}", row.key, row.version, row.status)
                    let((i, row))>
                    <GridRow ctx=ctx actions=actions index=i row=row />
                </For>
                <div aria-hidden="true" style:height=after></div>
            </div>
        </div>
    }
}

#[component]
fn GridRow(ctx: Ctx, actions: Actions, index: usize, row: RowView) -> impl IntoView {
    let key = row.key.clone();
    let selected = {
        let key = key.clone();
        Signal::derive(move || ctx.selection.with(|s| s.is_selected(&key)))
    };
    let focused = {
        let key = key.clone();
        Signal::derive(move || ctx.selection.with(|s| s.focus() == Some(key.as_str())))
    };
    let busy = !row.status.is_empty();
    let name = row.name.clone();
    let cell_name = match &row.kind {
        RowKind::Folder(path) => {
            let href = Route::folder(path.clone()).to_hash();
            view! {
                <a href=href class="ferry-entry">
                    <span aria-hidden="true" class="ferry-icon ferry-icon-folder"></span>
                    {name.clone()}
                </a>
            }
            .into_any()
        }
        RowKind::File(_) => {
            let place = row.place.clone().map(|p| {
                let text = if p.is_root() {
                    "in Home".to_owned()
                } else {
                    format!("in {}", p.as_str())
                };
                let href = Route::folder(p).to_hash();
                view! { <a class="ferry-place" href=href>{text}</a> }
            });
            view! {
                <span class="ferry-entry">
                    <span aria-hidden="true" class="ferry-icon ferry-icon-file"></span>
                    <span class="ferry-entry-name">{name.clone()}</span>
                    {place}
                </span>
            }
            .into_any()
        }
    };
    let actions = match row.kind.clone() {
        RowKind::File(file_id) => {
            let (a, b, c, d, e, f) = (
                row.clone(),
                row.clone(),
                row.clone(),
                row.clone(),
                row.clone(),
                row.clone(),
            );
            // A copy can be checked against the SHA-256 the index keeps.
            let verify = row.sha256.is_some().then(|| view! {
                <button type="button" class="ferry-icon-button" aria-label=format!("Check a copy of {name}") title="Check a downloaded copy"
                    disabled=busy on:click=move |_| ctx.dialog.set(Some(Dialog::Verify(d.clone())))>
                    <svg aria-hidden="true" viewBox="0 0 24 24" width="18" height="18"><path d="M12 3l7 3v5c0 4.5-3 8.5-7 10-4-1.5-7-5.5-7-10V6l7-3z M9 12l2 2 4-4" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round" stroke-linecap="round"/></svg>
                </button>
            });
            view! {
                <button type="button" class="ferry-icon-button" aria-label=format!("Preview {name}") title="Preview"
                    disabled=busy on:click=move |_| ctx.dialog.set(Some(Dialog::Preview(f.clone())))>
                    <svg aria-hidden="true" viewBox="0 0 24 24" width="18" height="18"><path d="M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12z M12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6z" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round"/></svg>
                </button>
                <button type="button" class="ferry-icon-button" aria-label=format!("Download {name}") title="Download"
                    disabled=busy on:click=move |_| actions.download(file_id, &a.name)>
                    <svg aria-hidden="true" viewBox="0 0 24 24" width="18" height="18"><path d="M12 4v11m0 0l-4-4m4 4l4-4M5 19h14" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/></svg>
                </button>
                {verify}
                <button type="button" class="ferry-icon-button" aria-label=format!("Versions of {name}") title="Versions"
                    disabled=busy on:click=move |_| ctx.dialog.set(Some(Dialog::Versions(e.clone())))>
                    <svg aria-hidden="true" viewBox="0 0 24 24" width="18" height="18"><path d="M12 7v5l3 2 M4 12a8 8 0 1 0 2.3-5.7 M4 4v3h3" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/></svg>
                </button>
                <button type="button" class="ferry-icon-button" aria-label=format!("Rename {name}") title="Rename"
                    disabled=busy on:click=move |_| ctx.dialog.set(Some(Dialog::Rename(b.clone())))>
                    <svg aria-hidden="true" viewBox="0 0 24 24" width="18" height="18"><path d="M4 20h4L19 9l-4-4L4 16v4z" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round"/></svg>
                </button>
                <button type="button" class="ferry-icon-button ferry-danger" aria-label=format!("Delete {name}") title="Delete"
                    disabled=busy on:click=move |_| actions.delete(vec![c.clone()])>
                    <svg aria-hidden="true" viewBox="0 0 24 24" width="18" height="18"><path d="M5 7h14M10 7V4h4v3M7 7l1 13h8l1-13" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round"/></svg>
                </button>
            }
            .into_any()
        }
        RowKind::Folder(_) => {
            let a = row.clone();
            view! {
                <button type="button" class="ferry-icon-button ferry-danger" aria-label=format!("Delete folder {name}") title="Delete folder"
                    on:click=move |_| ctx.dialog.set(Some(Dialog::Delete(vec![a.clone()])))>
                    <svg aria-hidden="true" viewBox="0 0 24 24" width="18" height="18"><path d="M5 7h14M10 7V4h4v3M7 7l1 13h8l1-13" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round"/></svg>
                </button>
            }
            .into_any()
        }
    };
    let point = key.clone();
    view! {
        <div role="row" part="row" id=format!("ferry-row-{index}") aria-rowindex=(index + 2).to_string()
            aria-selected=move || selected.get().to_string()
            aria-busy=busy.to_string()
            class="ferry-row"
            class:ferry-selected=selected
            class:ferry-focused=focused
            class:ferry-busy=busy
            on:click=move |_| ctx.selection.update(|s| s.point(&point))>
            <div role="gridcell" class="ferry-check">
                <input type="checkbox" aria-label=format!("Select {}", row.name)
                    prop:checked=selected
                    on:change=move |_| ctx.selection.update(|s| s.toggle(&key)) />
            </div>
            <div role="gridcell" class="ferry-name">{cell_name}</div>
            <div role="gridcell" class="ferry-size">{row.size.map(format::bytes).unwrap_or_else(|| "—".to_owned())}</div>
            <div role="gridcell" class="ferry-date">{row.modified.map(local_time).unwrap_or_default()}</div>
            <div role="gridcell" class="ferry-status">{row.status.clone()}</div>
            <div role="gridcell" class="ferry-actions">{actions}</div>
        </div>
    }
}
