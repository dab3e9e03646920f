//! The tiles: a folder's (or a search's) entries as a grid of tiles, each
//! showing its file's thumbnail once one is made and a type icon until then
//! (and for what has none), with the list's selection and keyboard (← → one
//! tile, ↑ ↓ a line). Only the lines in view are in the DOM; thumbnails are
//! asked for only for tiles in view whose thumbnails the index says exist
//! (`ferry_client::thumbs`), so a photo's tile changes when its
//! `ThumbnailCreated` arrives, and its image loads lazily through a
//! presigned link the browser's cache keeps.

use super::actions::Actions;
use super::grid;
use super::{Ctx, Dialog};
use crate::chunks;
use ferry_client::listview;
use ferry_client::route::Route;
use ferry_client::rows::{RowKind, RowView};
use ferry_client::thumbs::ThumbLinks;
use ferry_protocol::api::ThumbnailReadiness;
use ferry_protocol::messages::ThumbnailSize;
use ferry_protocol::preview::{self, PreviewKind};
use leptos::html;
use leptos::prelude::*;
use uuid::Uuid;

/// A tile's width with the gap after it, in pixels (the CSS's tile width
/// plus its gap): how many fit on a line.
const TILE: f64 = 148.0;
/// A line of tiles' height in pixels, as the CSS sets it.
const LINE: f64 = 176.0;
/// Lines rendered beyond the viewport on each side.
const OVERSCAN: usize = 2;

fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

chunks::split_point! {
    dialogs =>
    /// Loads the tiles: the dialogs chunk's entry for them (a view a person
    /// chooses, so not in the browser chunk every list loads).
    pub fn tiles_view() -> fn(Ctx, Actions, Memo<Vec<RowView>>, String) -> AnyView {
        |ctx, actions, rows, label| view! { <Tiles ctx=ctx actions=actions rows=rows label=label /> }.into_any()
    }
}

/// The rows as tiles.
#[component]
pub fn Tiles(ctx: Ctx, actions: Actions, rows: Memo<Vec<RowView>>, label: String) -> impl IntoView {
    let scroll_top = RwSignal::new(0.0_f64);
    let viewport = RwSignal::new(LINE * 3.0);
    let columns = RwSignal::new(4_usize);
    let body: NodeRef<html::Div> = NodeRef::new();
    // The links asked for while the tiles show (the browser's cache keeps
    // the images after that).
    let thumbs = RwSignal::new(ThumbLinks::default());
    let measure = move || {
        let Some(el) = body.get_untracked() else {
            return;
        };
        let width = f64::from(el.client_width());
        if width > 0.0 {
            columns.set(((width / TILE).floor() as usize).max(1));
        }
        let height = f64::from(el.client_height());
        if height > 0.0 {
            viewport.set(height);
        }
        scroll_top.set(f64::from(el.scroll_top()));
    };
    Effect::new(move |_| {
        if body.get().is_some() {
            measure();
        }
    });
    let resized = window_event_listener(leptos::ev::resize, move |_| measure());
    on_cleanup(move || resized.remove());

    // Forget selected tiles that left (deleted, moved, filtered).
    Effect::new(move |_| {
        let keys: Vec<String> = rows.with(|r| r.iter().map(|r| r.key.clone()).collect());
        ctx.selection.update(|s| s.retain(&keys));
    });

    // The lines in view (and a few around them), as (index, row) tiles.
    let window = Memo::new(move |_| {
        let cols = columns.get();
        let lines = rows.with(Vec::len).div_ceil(cols);
        let range = listview::window(scroll_top.get(), viewport.get(), LINE, lines, OVERSCAN);
        (range, lines, cols)
    });
    let visible = move || {
        let (range, _, cols) = window.get();
        rows.with(|all| {
            range
                .map(|line| {
                    let start = (line * cols).min(all.len());
                    let end = (start + cols).min(all.len());
                    let tiles: Vec<(usize, RowView)> =
                        (start..end).zip(all[start..end].iter().cloned()).collect();
                    (line, tiles)
                })
                .collect::<Vec<_>>()
        })
    };
    let spacer = move |before: bool| {
        let (range, lines, _) = window.get();
        let count = if before {
            range.start
        } else {
            lines - range.end
        };
        format!("{}px", count as f64 * LINE)
    };

    // The thumbnails of the files in view, asked for once they are made.
    Effect::new(move |_| {
        let (range, _, cols) = window.get();
        let shown: Vec<(Uuid, Option<ThumbnailReadiness>)> = rows.with(|all| {
            all.iter()
                .skip(range.start * cols)
                .take(range.len() * cols)
                .filter_map(|r| match r.kind {
                    RowKind::File(id) => Some((id, r.thumbnail)),
                    RowKind::Folder(_) => None,
                })
                .collect()
        });
        let wanted = thumbs.with_untracked(|t| t.wanted(&shown, now_ms()));
        if wanted.is_empty() {
            return;
        }
        thumbs.update(|t| t.asking(&wanted));
        let api = actions.outbox().api();
        leptos::task::spawn_local(async move {
            match api.thumbnails(wanted.clone(), ThumbnailSize::Medium).await {
                Ok(answer) => thumbs.try_update(|t| t.answered(&wanted, &answer.thumbnails)),
                Err(_) => thumbs.try_update(|t| t.failed(&wanted)),
            };
        });
    });

    let focused_index = move || {
        let focus = ctx.selection.with(|s| s.focus().map(str::to_owned))?;
        rows.with(|r| r.iter().position(|r| r.key == focus))
    };
    // Keeps the focused tile's line in view after the keyboard moved it.
    let reveal = move || {
        let (Some(index), Some(el)) = (focused_index(), body.get_untracked()) else {
            return;
        };
        let top = (index / columns.get_untracked()) as f64 * LINE;
        let now = f64::from(el.scroll_top());
        let height = f64::from(el.client_height());
        if top < now {
            el.set_scroll_top(top as i32);
        } else if top + LINE > now + height {
            el.set_scroll_top((top + LINE - height) as i32);
        }
        measure();
    };
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        let cols = columns.get_untracked();
        let page = (viewport.get_untracked() / LINE).floor() as usize * cols;
        grid::on_key(ctx, actions, rows, &ev, page, cols, reveal);
    };

    view! {
        <div role="grid" part="grid" class="ferry-tiles" aria-label=label aria-multiselectable="true"
            aria-rowcount=move || window.get().1.to_string()
            tabindex="0"
            aria-activedescendant=move || focused_index().map(|i| format!("ferry-tile-{i}"))
            on:keydown=on_key>
            <div role="rowgroup" class="ferry-tiles-body" node_ref=body on:scroll=move |_| measure()>
                <div aria-hidden="true" style:height=move || spacer(true)></div>
                <For each=visible
                    key=|(line, tiles)| {
                        let mut key = format!("{line}");
                        for (_, row) in tiles {
                            key.push_str(&format!("|{}.{}.{}.{:?}", row.key, row.version, row.status, row.thumbnail));
                        }
                        key
                    }
                    let((line, tiles))>
                    <div role="row" class="ferry-tile-line" aria-rowindex=(line + 1).to_string()>
                        {tiles.into_iter().map(|(index, row)| view! { <Tile ctx=ctx thumbs=thumbs index=index row=row /> }).collect_view()}
                    </div>
                </For>
                <div aria-hidden="true" style:height=move || spacer(false)></div>
            </div>
        </div>
    }
}

/// What a tile shows before (or instead of) a thumbnail: the kind of file.
fn kind_label(row: &RowView) -> String {
    let size = row.size.unwrap_or_default();
    match preview::preview(&row.name, &row.content_type, size).kind {
        PreviewKind::Image => "Image".to_owned(),
        PreviewKind::Pdf => "PDF".to_owned(),
        PreviewKind::Audio => "Audio".to_owned(),
        PreviewKind::Video => "Video".to_owned(),
        PreviewKind::Text => "Text".to_owned(),
        PreviewKind::None => row
            .name
            .rsplit_once('.')
            .filter(|(stem, ext)| !stem.is_empty() && (1..=5).contains(&ext.len()))
            .map(|(_, ext)| ext.to_uppercase())
            .unwrap_or_else(|| "File".to_owned()),
    }
}

#[component]
fn Tile(ctx: Ctx, thumbs: RwSignal<ThumbLinks>, index: usize, row: RowView) -> impl IntoView {
    let key = row.key.clone();
    let selected = {
        let key = key.clone();
        Signal::derive(move || ctx.selection.with(|s| s.is_selected(&key)))
    };
    let focused = {
        let key = key.clone();
        Signal::derive(move || ctx.selection.with(|s| s.focus() == Some(key.as_str())))
    };
    let name = row.name.clone();
    let busy = !row.status.is_empty();
    let open = match row.kind.clone() {
        RowKind::Folder(path) => {
            let href = Route::folder(path).to_hash();
            view! {
                <a href=href class="ferry-tile-open">
                    <span class="ferry-tile-picture" aria-hidden="true">
                        <span class="ferry-icon ferry-icon-folder"></span>
                    </span>
                    <span class="ferry-tile-name">{name.clone()}</span>
                </a>
            }
            .into_any()
        }
        RowKind::File(file_id) => {
            let kind = kind_label(&row);
            let picture = move || {
                match thumbs.with(|t| t.url(file_id, now_ms()).map(str::to_owned)) {
                Some(url) => view! { <img class="ferry-thumb" src=url alt="" loading="lazy" decoding="async" /> }.into_any(),
                None => view! {
                    <span class="ferry-icon ferry-icon-file"></span>
                    <span class="ferry-tile-kind">{kind.clone()}</span>
                }
                .into_any(),
            }
            };
            let shown = row.clone();
            view! {
                <button type="button" class="ferry-tile-open" aria-label=format!("Preview {name}")
                    disabled=busy on:click=move |_| ctx.dialog.set(Some(Dialog::Preview(shown.clone())))>
                    <span class="ferry-tile-picture" aria-hidden="true">{picture}</span>
                    <span class="ferry-tile-name">{name.clone()}</span>
                </button>
            }
            .into_any()
        }
    };
    let point = key.clone();
    view! {
        <div role="gridcell" id=format!("ferry-tile-{index}") class="ferry-tile"
            aria-selected=move || selected.get().to_string()
            aria-busy=busy.to_string()
            class:ferry-selected=selected
            class:ferry-focused=focused
            on:click=move |_| ctx.selection.update(|s| s.point(&point))>
            <input type="checkbox" class="ferry-tile-check" aria-label=format!("Select {}", row.name)
                prop:checked=selected
                on:change=move |_| ctx.selection.update(|s| s.toggle(&key)) />
            {open}
            <span class="ferry-tile-status">{row.status.clone()}</span>
        </div>
    }
}
