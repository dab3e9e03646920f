//! The toolbar: upload files or a folder, a new folder, the filter, how
//! changes arrive, and the Activity toggle; and the usage line under it.

use super::actions::Actions;
use super::{Ctx, Dialog};
use crate::hooks::use_uploads::UseUploads;
use crate::platform::BrowserStore;
use ferry_client::auth::store::{KeyValue, TokenStorage};
use ferry_client::format;
use ferry_client::live::Mode;
use ferry_client::preview::ViewMode;
use ferry_protocol::api::UsageView;
use leptos::prelude::*;

/// The file browser's toolbar.
#[component]
pub fn Toolbar(
    ctx: Ctx,
    actions: Actions,
    uploads: UseUploads,
    mode: RwSignal<Mode>,
    connected: RwSignal<bool>,
    show_activity: RwSignal<bool>,
    show_trash: RwSignal<bool>,
    /// Who is signed in: the view chosen is kept per user.
    user: String,
) -> impl IntoView {
    let activity = actions.outbox().activity;
    // The folder picker: an attribute Leptos has no name for.
    let folder_input: NodeRef<leptos::html::Input> = NodeRef::new();
    let files_input: NodeRef<leptos::html::Input> = NodeRef::new();
    Effect::new(move |_| {
        if let Some(input) = folder_input.get() {
            let _ = input.set_attribute("webkitdirectory", "");
        }
    });
    let picked = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        if let Some(files) = input.files() {
            uploads.add_list(&files);
        }
        input.set_value("");
    };
    let mode_text = move || match (mode.get(), connected.get()) {
        (Mode::Socket, true) => "Live",
        (Mode::Socket, false) => "Connecting…",
        (Mode::Polling, _) => "Live (polling)",
    };
    view! {
        <div class="ferry-toolbar" part="toolbar">
            <label class="ferry-button ferry-primary ferry-pick"
                on:pointerenter=move |_| uploads.fetch_ahead()
                on:focusin=move |_| uploads.fetch_ahead()
                on:click=move |ev| {
                    // Chromium's picker gives handles: an interrupted
                    // upload can then go on without a new pick.
                    if let Some(input) = files_input.get()
                        && uploads.pick_with_handles(input)
                    {
                        ev.prevent_default();
                    }
                }>
                "Upload files"
                <input type="file" multiple node_ref=files_input class="ferry-visually-hidden" on:change=picked />
            </label>
            <label class="ferry-button ferry-pick"
                on:pointerenter=move |_| uploads.fetch_ahead()
                on:focusin=move |_| uploads.fetch_ahead()>
                "Upload a folder"
                <input type="file" multiple node_ref=folder_input class="ferry-visually-hidden" on:change=picked />
            </label>
            <button type="button" class="ferry-button" on:click=move |_| ctx.dialog.set(Some(Dialog::NewFolder))>"New folder"</button>
            <input type="text" class="ferry-filter" aria-label="Filter this folder" placeholder="Filter this folder"
                prop:value=move || ctx.filter.get()
                on:input=move |ev| ctx.filter.set(event_target_value(&ev)) />
            <span class="ferry-live" title="How changes reach this page">{mode_text}</span>
            <div role="group" aria-label="View" class="ferry-views">
                {[(ViewMode::List, "List"), (ViewMode::Tiles, "Tiles")].map(|(mode, name)| {
                    let user = user.clone();
                    view! {
                    <button type="button" class="ferry-button" aria-pressed=move || (ctx.view.get() == mode).to_string()
                        on:click=move |_| {
                            ctx.view.set(mode);
                            BrowserStore::open(TokenStorage::Local).set(&ViewMode::storage_key(&user), mode.as_str());
                        }>{name}</button>
                    }
                }).collect_view()}
            </div>
            <button type="button" class="ferry-button" aria-pressed=move || show_trash.get().to_string()
                on:click=move |_| show_trash.update(|v| *v = !*v)>"Trash"</button>
            <button type="button" class="ferry-button" aria-expanded=move || show_activity.get().to_string()
                on:click=move |_| show_activity.update(|v| *v = !*v)>
                {move || match activity.with(|a| a.pending()) { 0 => "Activity".to_owned(), n => format!("Activity ({n})") }}
            </button>
        </div>
    }
}

/// The storage used, and the quota when there is one.
#[component]
pub fn Usage(usage: RwSignal<Option<UsageView>>) -> impl IntoView {
    move || {
        usage.get().map(|u| {
            let mut files = if u.files == 1 {
                "1 file".to_owned()
            } else {
                format!("{} files", u.files)
            };
            // What the trash and the versions hold counts too; said apart.
            for (bytes, what) in [(u.trash_bytes, "in the trash"), (u.version_bytes, "in earlier versions")] {
                if let Some(bytes) = bytes.filter(|b| *b > 0) {
                    files.push_str(&format!(" · {} {what}", format::bytes(bytes)));
                }
            }
            match u.quota_bytes {
                Some(quota) => {
                    let share = format::percent(u.bytes, quota);
                    view! {
                        <div class="ferry-usage">
                            <span>{format!("{} of {} used · {files}", format::bytes(u.bytes), format::bytes(quota))}</span>
                            <progress aria-label="Storage used" max="100" value=share.to_string()>{format!("{share}%")}</progress>
                        </div>
                    }
                    .into_any()
                }
                None => view! {
                    <div class="ferry-usage"><span>{format!("{} used · {files}", format::bytes(u.bytes))}</span></div>
                }
                .into_any(),
            }
        })
    }
}
