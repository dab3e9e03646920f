//! The file browser, a chunk of its own (`chunks::files_view`): one folder
//! (or a search) as a grid, its toolbar and path, the upload queue, the
//! Activity panel, the Trash view, the versions panel, the undo offered
//! after an action, and the dialogs. [`Ctx`] is the view state one browser
//! shares among its parts; [`actions::Actions`] what they can do. The
//! folder follows the URL (`use_route`), its rows follow the events
//! (`use_live`), and uploads are `use_uploads`'.

pub mod actions;
pub mod activity;
pub mod copy_check;
pub mod crumbs;
pub mod dialogs;
pub mod grid;
pub mod listing;
pub mod live;
pub mod preview;
pub mod tiles;
pub mod toolbar;
pub mod trash;
pub mod undo;
pub mod uploads;
pub mod versions;

use crate::api::files::FilesApi;
use crate::chunks;
use crate::hooks::use_paste::use_paste;
use crate::hooks::use_route::{UseRouteReturn, use_route};
use crate::hooks::use_uploads::{UseUploads, UseUploadsOptions, use_uploads};
use crate::host::Host;
use crate::notices::Notices;
use crate::outbox::Outbox;
use crate::platform::BrowserStore;
use crate::platform::picker::Placed;
use crate::session::Session;
use actions::Actions;
use ferry_client::auth::store::{KeyValue, TokenStorage};
use ferry_client::folder::{FolderState, SortBy};
use ferry_client::listview::Selection;
use ferry_client::live::Mode;
use ferry_client::preview::ViewMode;
use ferry_client::route::Route;
use ferry_client::route::Routing;
use ferry_client::rows::RowView;
use ferry_protocol::ClientConfig;
use ferry_protocol::api::{FileView, UsageView};
use ferry_protocol::host::ElementErrorCode;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// How the list is loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Load {
    /// The first page is on its way.
    Loading,
    /// Shown (more pages may still come).
    Ready,
    /// It couldn't be loaded, and why.
    Failed(String),
}

/// The dialog open, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialog {
    /// A new folder in the one shown.
    NewFolder,
    /// Renaming a file.
    Rename(RowView),
    /// Deleting files and folders.
    Delete(Vec<RowView>),
    /// Moving files.
    Move(Vec<RowView>),
    /// Checking a downloaded copy against the stored file.
    Verify(RowView),
    /// A file's versions (a chunk of its own, not the dialogs').
    Versions(RowView),
    /// A file's preview (Space, Enter, or its Preview button).
    Preview(RowView),
}

/// The view state of one file browser. All handles: `Copy`.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    /// The folder's rows.
    pub state: RwSignal<FolderState>,
    /// Where the URL says the person is.
    pub route: ReadSignal<Route>,
    /// Goes somewhere (a new history entry).
    pub navigate: Callback<Route>,
    /// The rows selected, and the focused one.
    pub selection: RwSignal<Selection>,
    /// The dialog open.
    pub dialog: RwSignal<Option<Dialog>>,
    /// The storage used.
    pub usage: RwSignal<Option<UsageView>>,
    /// A search's results, while one is shown.
    pub search: RwSignal<Option<Result<Vec<FileView>, String>>>,
    /// How the list is loading.
    pub load: RwSignal<Load>,
    /// The grid's sort.
    pub sort: RwSignal<(SortBy, bool)>,
    /// The folder's filter text.
    pub filter: RwSignal<String>,
    /// What the person is told.
    pub notices: Notices,
    /// The list or the tiles, as this person chose on this device.
    pub view: RwSignal<ViewMode>,
}

/// Builds the file browser for the signed-in user.
pub type FilesBuilder = fn(ClientConfig, Session, Host) -> AnyView;

chunks::split_point! {
    browser =>
    /// Loads the file browser: the browser chunk's entry.
    pub fn files_view() -> FilesBuilder {
        |config, session, host| view! { <Files config=config session=session host=host /> }.into_any()
    }
}

/// Fetches the file browser's chunk ahead of need, while the person signs
/// in (once; later calls cost nothing).
pub fn prefetch() {
    leptos::task::spawn_local(async {
        let _ = files_view().await;
    });
}

/// The file browser.
#[component]
pub fn Files(config: ClientConfig, session: Session, host: Host) -> impl IntoView {
    let api = FilesApi::new(&config.api_url, session);
    let UseRouteReturn { route, navigate } = use_route(&host);
    let notices = Notices::new(host.clone());
    // Told when a view's chunk can't be fetched.
    let tell = session.host();
    let ctx = Ctx {
        state: RwSignal::new(FolderState::new(route.get_untracked().folder)),
        route,
        navigate,
        selection: RwSignal::new(Selection::default()),
        dialog: RwSignal::new(None),
        usage: RwSignal::new(None),
        search: RwSignal::new(None),
        load: RwSignal::new(Load::Loading),
        sort: RwSignal::new((SortBy::Name, false)),
        filter: RwSignal::new(String::new()),
        notices,
        view: RwSignal::new(ViewMode::parse(
            BrowserStore::open(TokenStorage::Local)
                .get(&ViewMode::storage_key(
                    &session.username().unwrap_or_default(),
                ))
                .as_deref(),
        )),
    };
    let outbox = Outbox::new(api.clone());
    let actions = Actions::new(ctx, outbox);
    // The Trash view shows in the listing's place while open.
    let show_trash = RwSignal::new(false);
    let user = session.username().unwrap_or_default();

    // The folder (or search) follows the URL.
    Effect::new(move |_| {
        let Route { folder, search } = route.get();
        show_trash.set(false);
        ctx.selection.set(Selection::default());
        notices.problem.set(None);
        ctx.filter.set(String::new());
        ctx.search.set(None);
        if search.is_some() {
            actions.rerun_search();
            return;
        }
        if ctx.state.with_untracked(|s| s.folder() == &folder)
            && ctx.load.get_untracked() == Load::Ready
        {
            return;
        }
        ctx.state.set(FolderState::new(folder.clone()));
        ctx.load.set(Load::Loading);
        actions.load_folder(folder);
    });

    let uploads = use_uploads(UseUploadsOptions {
        outbox,
        settings: config.upload.clone(),
        user: session.username().unwrap_or_default(),
        folder: Signal::derive(move || route.with(|r| r.folder.clone())),
        notices,
        on_created: Callback::new(move |file| ctx.state.update(|s| s.fetched(file))),
        on_uploaded: Callback::new(move |()| actions.nudged()),
    });
    // The live connection arrives as its own chunk, fetched once the first
    // page is in (the list first); it starts in this component's scope (so
    // it stops with it), unless that is gone by then. What changed in the
    // meantime is read again when its socket says hello.
    let (mode, connected) = (RwSignal::new(Mode::Socket), RwSignal::new(false));
    let starting = live::LiveStart {
        ctx,
        actions,
        uploads,
        session,
        api,
        websocket_url: config.websocket_url.clone(),
        mode,
        connected,
        host: host.clone(),
    };
    let listed =
        Memo::new(move |_| ctx.load.get() != Load::Loading || ctx.search.with(Option::is_some));
    if let Some(owner) = Owner::current() {
        leptos::task::spawn_local(async move {
            // `listed` turns true once the first page (or its failure, or a
            // search's answer) is in.
            let mut first = listed.to_stream();
            while let Some(false) = futures::StreamExt::next(&mut first).await {}
            // The usage line is read with the live chunk, after the list.
            actions.refresh_usage();
            let started = live::live_starter().await;
            if ctx.state.try_with_untracked(|_| ()).is_none() {
                return;
            }
            match started {
                Ok(start) => owner.with(|| start(starting)),
                Err(failure) => notices.failed(
                    ElementErrorCode::ChunkLoadFailed,
                    &format!("Changes won't show until you reload: {failure}"),
                ),
            }
        });
    }
    // Paste files anywhere in this browser to upload them here.
    let section: NodeRef<leptos::html::Section> = NodeRef::new();
    use_paste(section, move |files| uploads.add_list(&files));

    let rows = listing::shown_rows(ctx);
    follow_host(&host, actions, uploads);
    let dropping = RwSignal::new(false);
    let show_activity = RwSignal::new(false);
    // With `routing = none`, a folder link changes the folder shown, never
    // the page's URL.
    let routing = host.routing;
    let follow_link = move |ev: leptos::ev::MouseEvent| {
        if routing != Routing::None || ev.ctrl_key() || ev.meta_key() {
            return;
        }
        let link = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|t| t.closest("a[href^='#/']").ok().flatten());
        if let Some(href) = link.and_then(|a| a.get_attribute("href")) {
            ev.prevent_default();
            ctx.navigate.run(Route::parse(&href));
        }
    };
    // Ctrl+Z (⌘Z) undoes the action offered, outside text fields.
    let undo_key = move |ev: leptos::ev::KeyboardEvent| {
        let typing = ev
            .target()
            .is_some_and(|t| t.dyn_ref::<web_sys::HtmlInputElement>().is_some());
        if (ev.ctrl_key() || ev.meta_key())
            && ev.key().eq_ignore_ascii_case("z")
            && !ev.shift_key()
            && !typing
            && actions.offer.with_untracked(Option::is_some)
        {
            ev.prevent_default();
            actions.undo();
        }
    };
    view! {
        <section class="ferry-files" aria-label="Files" node_ref=section
            on:keydown=undo_key
            on:click=follow_link
            class:ferry-dropping=move || dropping.get()
            on:dragenter=move |_| uploads.fetch_ahead()
            on:dragover=move |ev: leptos::ev::DragEvent| { ev.prevent_default(); dropping.set(true) }
            on:dragleave=move |_| dropping.set(false)
            on:drop=move |ev: leptos::ev::DragEvent| {
                ev.prevent_default();
                dropping.set(false);
                if let Some(transfer) = ev.data_transfer() {
                    uploads.add_dropped(crate::platform::picker::Dropped::take(&transfer));
                }
            }>
            <crumbs::PathBar ctx=ctx />
            <toolbar::Toolbar ctx=ctx actions=actions uploads=uploads mode=mode connected=connected show_activity=show_activity show_trash=show_trash user=user.clone() />
            <toolbar::Usage usage=ctx.usage />
            <Show when=move || ctx.selection.with(|s| s.count() > 0)>
                {
                    let host = host.clone();
                    chunks::lazy_view("Loading…", tell, listing::selection_bar, move |build| build(ctx, rows, host.clone()))
                }
            </Show>
            <div role="alert" class="ferry-alert">
                {move || notices.problem.get().map(|p| view! {
                    <span>{p}</span>
                    <button type="button" class="ferry-link" on:click=move |_| notices.dismiss()>"Dismiss"</button>
                })}
            </div>
            <div class="ferry-content">
                <div class="ferry-listing">
                    <Show when=move || show_trash.get()
                        fallback=move || view! { <listing::Listing ctx=ctx actions=actions rows=rows tell=tell /> }>
                        {chunks::lazy_view("Loading the trash…", tell, trash::trash_view, move |build| build(actions, show_trash))}
                    </Show>
                </div>
                <Show when=move || show_activity.get()>
                    {chunks::lazy_view("Loading activity…", tell, activity::activity_panel, move |build| build(actions.outbox().activity))}
                </Show>
            </div>
            // The upload panel, loaded with the upload machinery once there
            // is something to show.
            <Show when=move || uploads.any()>
                {chunks::lazy_view("Loading uploads…", tell, uploads::upload_panel, move |build| build(uploads))}
            </Show>
            {move || ctx.dialog.get().map(|dialog| match dialog {
                Dialog::Versions(row) => {
                    let user = user.clone();
                    chunks::lazy_view("Loading versions…", tell, versions::versions_panel, move |build| build(actions, row.clone(), user.clone())).into_any()
                }
                dialog => chunks::lazy_view("Loading…", tell, dialogs::dialog_view, move |build| build(ctx, actions, dialog.clone())).into_any(),
            })}
            <undo::UndoNotice actions=actions />
            <div class="ferry-visually-hidden" role="status" aria-live="polite">{move || notices.announce.get()}</div>
        </section>
    }
}

/// What the host page asks of this browser: `upload()`, `refresh()`.
fn follow_host(host: &Host, actions: Actions, uploads: UseUploads) {
    let handed = host.clone();
    Effect::new(move |_| {
        if handed.uploads.with(|files| !files.is_empty()) {
            let files = handed.take_uploads();
            uploads.add(files.into_iter().map(Placed::from).collect());
        }
    });
    let refreshes = host.refreshes.clone();
    Effect::new(move |seen: Option<()>| {
        refreshes.track();
        if seen.is_some() {
            actions.reload();
        }
    });
}
