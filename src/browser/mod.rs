//! The file browser: one folder (or a search) as a grid, its toolbar, the
//! upload queue, the Activity panel and the dialogs. The state lives in the
//! plain modules (`folder`, `listview`, `upload`, `activity`, `route`); this
//! component wires it to the DOM, the API and the live events.

mod dialogs;
mod grid;
mod uploads;

use crate::activity::Activity;
use crate::api::failure::ApiFailure;
use crate::api::files::FilesApi;
use crate::app::Session;
use crate::commands;
use crate::folder::{Applied, FolderState, PendingAction, Row, SortBy};
use crate::format;
use crate::hooks::use_live::{UseLiveOptions, use_live};
use crate::hooks::use_route::{UseRouteReturn, use_route};
use crate::listview::Selection;
use crate::live::Mode;
use crate::route::Route;
use crate::upload::Queue;
use dialogs::{Dialog, DialogView};
use ferry_protocol::api::{FileView, UsageView};
use ferry_protocol::messages::{
    ConflictPolicy, CreateFolderV1, DeleteFileV1, DeleteFolderV1, MoveFileV1,
};
use ferry_protocol::{
    ClientConfig, Command, Event, EventEnvelope, FileName, FolderPath, UploadSettings,
};
use leptos::prelude::*;
use std::rc::Rc;
use uuid::Uuid;

/// How the list is loading.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Load {
    Loading,
    Ready,
    Failed(String),
}

/// One row as rendered: owned, so the grid can diff it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowView {
    /// The selection key: a file id, or `folder:` and a path.
    pub key: String,
    pub kind: RowKind,
    pub name: String,
    /// For search results: the folder it is in.
    pub place: Option<FolderPath>,
    pub size: Option<u64>,
    pub modified: Option<i64>,
    /// "Deleting…", "Uploading…", or empty.
    pub status: String,
    pub version: u64,
    /// A file's SHA-256 (hex), when the index has it.
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RowKind {
    Folder(FolderPath),
    File(Uuid),
}

impl RowView {
    fn file(file: &FileView, pending: Option<&PendingAction>, place: bool) -> Self {
        let status = match pending {
            Some(action) => action.label().to_owned(),
            None if file.status == "uploading" => "Uploading…".to_owned(),
            None => String::new(),
        };
        Self {
            key: file.file_id.to_string(),
            kind: RowKind::File(file.file_id),
            name: file.name.as_str().to_owned(),
            place: place.then(|| file.folder.clone()),
            size: Some(file.size),
            modified: Some(file.updated_at.unix_millis()),
            status,
            version: file.version,
            sha256: file.sha256.clone(),
        }
    }
}

/// Everything the parts of the browser share. All handles are `Copy`.
#[derive(Clone, Copy)]
pub(crate) struct Ctx {
    pub api: StoredValue<FilesApi>,
    pub state: RwSignal<FolderState>,
    pub route: ReadSignal<Route>,
    pub navigate: Callback<Route>,
    pub selection: RwSignal<Selection>,
    pub announce: RwSignal<String>,
    pub problem: RwSignal<Option<String>>,
    pub activity: RwSignal<Activity>,
    pub dialog: RwSignal<Option<Dialog>>,
    pub queue: RwSignal<Queue>,
    pub usage: RwSignal<Option<UsageView>>,
    pub search: RwSignal<Option<Result<Vec<FileView>, String>>>,
    /// Tells the live connection a command went out (polls sooner).
    pub nudge: StoredValue<Option<Callback<()>>>,
    /// Upload tuning from the configuration.
    pub upload: StoredValue<UploadSettings>,
    /// The signed-in user's name.
    pub user: StoredValue<String>,
}

impl Ctx {
    /// Says something through the live region.
    pub fn say(&self, text: impl Into<String>) {
        // A changed text is what screen readers announce; the same text twice
        // in a row is made different by a zero-width space.
        let text = text.into();
        let same = self
            .announce
            .with_untracked(|now| now.trim_end_matches('\u{200b}') == text);
        self.announce.set(if same {
            format!("{text}\u{200b}")
        } else {
            text
        });
    }

    /// Sends a command, listing it in Activity (with the refusal, if any).
    pub async fn send_recorded(
        &self,
        command: Command,
        name: &str,
    ) -> Result<crate::api::files::Sent, ApiFailure> {
        self.send_recorded_with_id(command, Uuid::new_v4(), name)
            .await
    }

    async fn send_recorded_with_id(
        &self,
        command: Command,
        command_id: Uuid,
        name: &str,
    ) -> Result<crate::api::files::Sent, ApiFailure> {
        let title = commands::title(&command, name);
        self.activity.update(|a| {
            a.sent(
                command_id,
                &title,
                ferry_protocol::envelope::TraceId::from_uuid(command_id).as_str(),
            )
        });
        let api = self.api.get_value();
        let answer = api.command_with_id(command, command_id).await;
        if let Err(failure) = &answer {
            self.activity
                .update(|a| a.refused(command_id, &failure.to_string()));
        }
        answer
    }

    /// Sends a command the user asked for, listing it in Activity; a refusal
    /// is shown and announced. Returns whether the API took it.
    pub async fn send(&self, command: Command, command_id: Uuid, name: &str) -> bool {
        let title = commands::title(&command, name);
        match self.send_recorded_with_id(command, command_id, name).await {
            Ok(_) => {
                self.nudged();
                true
            }
            Err(failure) => {
                self.state.update(|s| s.cancel(command_id));
                self.fail(&format!("{title}: {failure}"));
                if failure == ApiFailure::SignedOut {
                    self.dialog.set(None);
                }
                false
            }
        }
    }

    /// Lets the live connection know an event is on its way.
    pub fn nudged(&self) {
        if let Some(nudge) = self.nudge.get_value() {
            nudge.run(());
        }
    }

    /// Shows and announces a problem.
    pub fn fail(&self, message: &str) {
        self.problem.set(Some(message.to_owned()));
        self.say(message.to_owned());
    }

    /// Refreshes the usage line.
    pub fn refresh_usage(&self) {
        let (api, usage) = (self.api.get_value(), self.usage);
        leptos::task::spawn_local(async move {
            if let Ok(now) = api.usage().await {
                usage.set(Some(now));
            }
        });
    }

    /// Deletes files and folders by row key, marking files as pending.
    pub fn delete(&self, rows: Vec<RowView>) {
        let ctx = *self;
        for row in rows {
            let command_id = Uuid::new_v4();
            let command = match &row.kind {
                RowKind::File(file_id) => {
                    self.state
                        .update(|s| _ = s.begin(*file_id, command_id, PendingAction::Deleting));
                    Command::DeleteFile(DeleteFileV1 { file_id: *file_id })
                }
                RowKind::Folder(path) => {
                    Command::DeleteFolder(DeleteFolderV1 { path: path.clone() })
                }
            };
            self.say(format!("Deleting {}…", row.name));
            leptos::task::spawn_local(async move {
                ctx.send(command, command_id, &row.name).await;
            });
        }
        self.selection.update(|s| *s = Selection::default());
    }

    /// Moves (or renames) a file.
    pub fn move_file(&self, file_id: Uuid, name: &str, to_folder: FolderPath, to_name: FileName) {
        let ctx = *self;
        let command_id = Uuid::new_v4();
        self.state.update(|s| {
            _ = s.begin(
                file_id,
                command_id,
                PendingAction::Moving {
                    to_folder: to_folder.clone(),
                    to_name: to_name.as_str().to_owned(),
                },
            )
        });
        let command = Command::MoveFile(MoveFileV1 {
            file_id,
            to_folder,
            to_name,
            on_conflict: ConflictPolicy::Fail,
        });
        let name = name.to_owned();
        leptos::task::spawn_local(async move {
            ctx.send(command, command_id, &name).await;
        });
    }

    /// Creates a folder in the one shown.
    pub fn create_folder(&self, path: FolderPath) {
        let ctx = *self;
        leptos::task::spawn_local(async move {
            let name = path.name().unwrap_or_default().to_owned();
            let command = Command::CreateFolder(CreateFolderV1 { path });
            if ctx.send(command, Uuid::new_v4(), &name).await {
                ctx.say(format!("Creating folder {name}…"));
            }
        });
    }

    /// Starts a download of a file: the browser saves it under its name.
    pub fn download(&self, file_id: Uuid, name: &str) {
        let ctx = *self;
        let name = name.to_owned();
        leptos::task::spawn_local(async move {
            match ctx.api.get_value().download(file_id).await {
                Ok(answer) => {
                    save(&answer.request.url, &name);
                    ctx.say(format!("Downloading {name}"));
                }
                Err(failure) => ctx.fail(&format!("Download {name}: {failure}")),
            }
        });
    }

    /// Applies one live event to everything that shows it.
    fn apply(&self, envelope: &EventEnvelope) {
        self.activity.update(|a| _ = a.event(envelope));
        let applied = self
            .state
            .try_update(|s| s.apply(envelope))
            .unwrap_or(Applied::Nothing);
        match envelope.data() {
            Event::FileCreated(created) => {
                let ours = self.queue.try_update(|q| q.indexed(created.file_id));
                if ours == Some(true) {
                    self.say(format!("{} uploaded", created.name));
                }
                self.refresh_usage();
            }
            Event::FileDeleted(deleted) => {
                if applied == Applied::Changed {
                    self.say(format!("{} deleted", deleted.name));
                }
                self.refresh_usage();
            }
            Event::FileMoved(moved) if applied == Applied::Changed => {
                if moved.from_folder == moved.to_folder {
                    self.say(format!("{} renamed to {}", moved.from_name, moved.to_name));
                } else {
                    self.say(format!(
                        "{} moved to {}",
                        moved.from_name,
                        moved.to_folder.as_str()
                    ));
                }
            }
            Event::FolderDeleted(_) => self.refresh_usage(),
            _ => {}
        }
        match applied {
            Applied::Fetch(file_id) => {
                let (api, state) = (self.api.get_value(), self.state);
                leptos::task::spawn_local(async move {
                    if let Ok(file) = api.file(file_id).await {
                        state.update(|s| s.fetched(file));
                    }
                });
            }
            Applied::FolderGone => {
                let here = self.route.get_untracked().folder;
                self.fail(&format!(
                    "The folder {} was deleted.",
                    if here.is_root() {
                        "Home"
                    } else {
                        here.as_str()
                    }
                ));
                self.navigate.run(Route::default());
            }
            Applied::Failed { message, .. } => self.fail(&message),
            Applied::Changed | Applied::Nothing => {}
        }
        if self.route.with_untracked(|r| r.search.is_some()) {
            rerun_search(*self);
        }
    }
}

/// Hands a presigned download to the browser through a temporary link.
fn save(url: &str, name: &str) {
    let document = document();
    let Ok(link) = document.create_element("a") else {
        return;
    };
    let _ = link.set_attribute("href", url);
    let _ = link.set_attribute("download", name);
    let _ = link.set_attribute("hidden", "");
    if let Some(body) = document.body() {
        let _ = body.append_child(&link);
        if let Some(link) = wasm_bindgen::JsCast::dyn_ref::<web_sys::HtmlElement>(&link) {
            link.click();
        }
        let _ = body.remove_child(&link);
    }
}

fn rerun_search(ctx: Ctx) {
    let Some(text) = ctx.route.with_untracked(|r| r.search.clone()) else {
        return;
    };
    let api = ctx.api.get_value();
    leptos::task::spawn_local(async move {
        let found = api
            .search(&text)
            .await
            .map(|r| r.files)
            .map_err(|e| e.to_string());
        if ctx
            .route
            .with_untracked(|r| r.search.as_deref() == Some(text.as_str()))
        {
            ctx.search.set(Some(found));
        }
    });
}

/// Loads every page of `folder`, the first small so it paints fast.
async fn load_folder(ctx: Ctx, folder: FolderPath, load: RwSignal<Load>) {
    let api = ctx.api.get_value();
    let mut cursor: Option<String> = None;
    let mut limit = 200;
    loop {
        let page = api.list(&folder, cursor.as_deref(), limit).await;
        if ctx.state.with_untracked(|s| s.folder() != &folder) {
            return;
        }
        match page {
            Ok(page) => {
                let next = page.next_cursor.clone();
                ctx.state.update(|s| s.load_page(page));
                load.set(Load::Ready);
                match next {
                    Some(next) => cursor = Some(next),
                    None => return,
                }
                limit = 1000;
            }
            Err(ApiFailure::Refused { error, .. })
                if error.code == ferry_protocol::ErrorCode::NotFound && !folder.is_root() =>
            {
                // A folder created by uploading into it, or one that is gone:
                // show it empty rather than fail.
                load.set(Load::Ready);
                return;
            }
            Err(failure) => {
                load.set(Load::Failed(failure.to_string()));
                return;
            }
        }
    }
}

/// The file browser for the signed-in user.
#[component]
pub fn Files(config: ClientConfig) -> impl IntoView {
    let session = expect_context::<Session>();
    let api = FilesApi::new(&config.api_url, session);
    let UseRouteReturn { route, navigate } = use_route();
    let ctx = Ctx {
        api: StoredValue::new(api.clone()),
        state: RwSignal::new(FolderState::new(route.get_untracked().folder)),
        route,
        navigate,
        selection: RwSignal::new(Selection::default()),
        announce: RwSignal::new(String::new()),
        problem: RwSignal::new(None),
        activity: RwSignal::new(Activity::default()),
        dialog: RwSignal::new(None),
        queue: RwSignal::new(Queue::new(
            usize::try_from(config.upload.files_in_flight).unwrap_or(1),
        )),
        usage: RwSignal::new(None),
        search: RwSignal::new(None),
        nudge: StoredValue::new(None),
        upload: StoredValue::new(config.upload.clone()),
        user: StoredValue::new(session.username().unwrap_or_default()),
    };
    let load = RwSignal::new(Load::Loading);
    let sort = RwSignal::new((SortBy::Name, false));
    let filter = RwSignal::new(String::new());
    let show_activity = RwSignal::new(false);
    let dropping = RwSignal::new(false);

    // The folder (or search) follows the URL.
    Effect::new(move |_| {
        let Route { folder, search } = route.get();
        ctx.selection.set(Selection::default());
        ctx.problem.set(None);
        filter.set(String::new());
        if search.is_some() {
            ctx.search.set(None);
            rerun_search(ctx);
            return;
        }
        ctx.search.set(None);
        if ctx.state.with_untracked(|s| s.folder() == &folder)
            && load.get_untracked() == Load::Ready
        {
            return;
        }
        ctx.state.set(FolderState::new(folder.clone()));
        load.set(Load::Loading);
        leptos::task::spawn_local(load_folder(ctx, folder, load));
    });
    ctx.refresh_usage();

    let reload = move || {
        let folder = ctx.route.get_untracked().folder;
        leptos::task::spawn_local(load_folder(ctx, folder, load));
        ctx.refresh_usage();
    };
    let live = use_live(UseLiveOptions {
        websocket_url: config.websocket_url.clone(),
        api,
        session,
        on_event: Rc::new(move |envelope| ctx.apply(&envelope)),
        on_resync: Rc::new(reload),
    });
    ctx.nudge.set_value(Some(live.nudge));

    let rows = Memo::new(move |_| {
        let (by, descending) = sort.get();
        if let Some(found) = ctx.search.get() {
            // Search results sort by the same headers as a folder does.
            let mut rows: Vec<RowView> = found
                .map(|files| files.iter().map(|f| RowView::file(f, None, true)).collect())
                .unwrap_or_default();
            rows.sort_by(|a, b| {
                let by_name = a.name.cmp(&b.name).then_with(|| a.key.cmp(&b.key));
                match by {
                    SortBy::Name => by_name,
                    SortBy::Size => a.size.cmp(&b.size).then(by_name),
                    SortBy::Modified => a.modified.cmp(&b.modified).then(by_name),
                }
            });
            if descending {
                rows.reverse();
            }
            return rows;
        }
        let needle = filter.get();
        ctx.state.with(|s| {
            s.rows(by, descending, &needle)
                .into_iter()
                .map(|row| match row {
                    Row::Folder(folder) => RowView {
                        key: format!("folder:{}", folder.path),
                        kind: RowKind::Folder(folder.path.clone()),
                        name: folder.name.clone(),
                        place: None,
                        size: None,
                        modified: Some(folder.created_at.unix_millis()),
                        status: String::new(),
                        version: 0,
                        sha256: None,
                    },
                    Row::File(file) => RowView::file(
                        &file.file,
                        file.pending.as_ref().map(|(_, action)| action),
                        false,
                    ),
                })
                .collect()
        })
    });

    // Memos, so the listing is rebuilt only when what it shows changes
    // (not on every event that changes a row).
    let loaded = Memo::new(move |_| load.get());
    let empty = Memo::new(move |_| ctx.state.with(|s| s.is_empty()));
    let here = move || route.with(|r| r.folder.clone());
    let searching = move || route.with(|r| r.search.clone());
    let search_text = RwSignal::new(route.get_untracked().search.unwrap_or_default());
    let submit_search = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = search_text.get_untracked().trim().to_owned();
        let folder = route.get_untracked().folder;
        navigate.run(Route {
            folder,
            search: (!text.is_empty()).then_some(text),
        });
    };

    let breadcrumbs = move || {
        let folder = here();
        let mut crumbs = vec![("Home".to_owned(), FolderPath::root())];
        let mut path = String::new();
        for segment in folder.segments() {
            if !path.is_empty() {
                path.push('/');
            }
            path.push_str(segment);
            crumbs.push((
                segment.to_owned(),
                FolderPath::parse(&path).unwrap_or_default(),
            ));
        }
        let last = crumbs.len() - 1;
        crumbs
            .into_iter()
            .enumerate()
            .map(|(i, (name, path))| {
                let href = Route::folder(path).to_hash();
                if i == last && searching().is_none() {
                    view! { <li><a href=href aria-current="page">{name}</a></li> }.into_any()
                } else {
                    view! { <li><a href=href>{name}</a></li> }.into_any()
                }
            })
            .collect_view()
    };

    let usage_line = move || {
        ctx.usage.get().map(|u| {
            let files = if u.files == 1 { "1 file".to_owned() } else { format!("{} files", u.files) };
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
    };

    let selected_rows = move || {
        ctx.selection.with(|sel| {
            rows.with(|all| {
                all.iter()
                    .filter(|r| sel.is_selected(&r.key))
                    .cloned()
                    .collect::<Vec<_>>()
            })
        })
    };

    // Paste files anywhere on the page to upload them here.
    // The folder picker: an attribute Leptos has no name for.
    let folder_input: NodeRef<leptos::html::Input> = NodeRef::new();
    let files_input: NodeRef<leptos::html::Input> = NodeRef::new();
    Effect::new(move |_| {
        if let Some(input) = folder_input.get() {
            let _ = input.set_attribute("webkitdirectory", "");
        }
    });
    let paste = window_event_listener(leptos::ev::paste, move |ev| {
        let files = ev.clipboard_data().and_then(|d| d.files());
        if let Some(files) = files
            && files.length() > 0
        {
            ev.prevent_default();
            uploads::add_files(ctx, &files);
        }
    });
    let paste = send_wrapper::SendWrapper::new(paste);
    on_cleanup(move || paste.take().remove());

    let mode_text = move || match (live.mode.get(), live.connected.get()) {
        (Mode::Socket, true) => "Live",
        (Mode::Socket, false) => "Connecting…",
        (Mode::Polling, _) => "Live (polling)",
    };

    view! {
        <section class="ferry-files" aria-label="Files"
            class:ferry-dropping=move || dropping.get()
            on:dragover=move |ev: leptos::ev::DragEvent| { ev.prevent_default(); dropping.set(true) }
            on:dragleave=move |_| dropping.set(false)
            on:drop=move |ev: leptos::ev::DragEvent| {
                ev.prevent_default();
                dropping.set(false);
                if let Some(transfer) = ev.data_transfer() {
                    uploads::add_dropped(ctx, &transfer);
                }
            }>
            <div class="ferry-toolbar">
                <nav aria-label="Breadcrumb" class="ferry-crumbs"><ol>{breadcrumbs}</ol></nav>
                <form class="ferry-search" role="search" on:submit=submit_search>
                    <input type="search" aria-label="Search all files" placeholder="Search all files"
                        prop:value=move || search_text.get()
                        on:input=move |ev| {
                            let text = event_target_value(&ev);
                            // Emptied (or cleared with its ×): back to the folder.
                            if text.trim().is_empty() && route.with_untracked(|r| r.search.is_some()) {
                                navigate.run(Route::folder(route.get_untracked().folder));
                            }
                            search_text.set(text);
                        } />
                </form>
            </div>
            <div class="ferry-toolbar">
                <label class="ferry-button ferry-primary ferry-pick"
                    on:click=move |ev| {
                        // Chromium's picker gives handles: an interrupted
                        // upload can then go on without a new pick.
                        if let Some(input) = files_input.get()
                            && uploads::pick_with_handles(ctx, input)
                        {
                            ev.prevent_default();
                        }
                    }>
                    "Upload files"
                    <input type="file" multiple node_ref=files_input class="ferry-visually-hidden"
                        on:change=move |ev| {
                            let input: web_sys::HtmlInputElement = event_target(&ev);
                            if let Some(files) = input.files() {
                                uploads::add_files(ctx, &files);
                            }
                            input.set_value("");
                        } />
                </label>
                <label class="ferry-button ferry-pick">
                    "Upload a folder"
                    <input type="file" multiple node_ref=folder_input class="ferry-visually-hidden"
                        on:change=move |ev| {
                            let input: web_sys::HtmlInputElement = event_target(&ev);
                            if let Some(files) = input.files() {
                                uploads::add_files(ctx, &files);
                            }
                            input.set_value("");
                        } />
                </label>
                <button type="button" class="ferry-button" on:click=move |_| ctx.dialog.set(Some(Dialog::NewFolder))>"New folder"</button>
                <input type="text" class="ferry-filter" aria-label="Filter this folder" placeholder="Filter this folder"
                    prop:value=move || filter.get()
                    on:input=move |ev| filter.set(event_target_value(&ev)) />
                <span class="ferry-live" title="How changes reach this page">{mode_text}</span>
                <button type="button" class="ferry-button" aria-expanded=move || show_activity.get().to_string()
                    on:click=move |_| show_activity.update(|v| *v = !*v)>
                    {move || match ctx.activity.with(|a| a.pending()) { 0 => "Activity".to_owned(), n => format!("Activity ({n})") }}
                </button>
            </div>
            {usage_line}
            <Show when=move || ctx.selection.with(|s| s.count() > 0)>
                <div class="ferry-bulk" role="region" aria-label="Selection">
                    <span>{move || format!("{} selected", ctx.selection.with(|s| s.count()))}</span>
                    <button type="button" class="ferry-button" on:click=move |_| ctx.dialog.set(Some(Dialog::Delete(selected_rows())))>"Delete selected"</button>
                    <button type="button" class="ferry-button" on:click=move |_| {
                        let files: Vec<RowView> = selected_rows().into_iter().filter(|r| matches!(r.kind, RowKind::File(_))).collect();
                        ctx.dialog.set(Some(Dialog::Move(files)))
                    }>"Move selected"</button>
                    <button type="button" class="ferry-link" on:click=move |_| ctx.selection.set(Selection::default())>"Clear selection"</button>
                </div>
            </Show>
            <div role="alert" class="ferry-alert">
                {move || ctx.problem.get().map(|p| view! {
                    <span>{p}</span>
                    <button type="button" class="ferry-link" on:click=move |_| ctx.problem.set(None)>"Dismiss"</button>
                })}
            </div>
            <div class="ferry-content">
                <div class="ferry-listing">
                    {move || match (searching(), loaded.get()) {
                        (Some(text), _) => match ctx.search.get() {
                            None => view! { <p role="status" class="ferry-muted">{format!("Searching for “{text}”…")}</p> }.into_any(),
                            Some(Err(message)) => view! { <p class="ferry-empty">{message}</p> }.into_any(),
                            Some(Ok(files)) if files.is_empty() => view! { <p class="ferry-empty">{format!("No files match “{text}”.")}</p> }.into_any(),
                            Some(Ok(_)) => view! {
                                <h2 class="ferry-subtitle">{format!("Files matching “{text}”")}</h2>
                                <grid::Grid ctx=ctx rows=rows sort=sort label=format!("Search results for {text}") />
                            }.into_any(),
                        },
                        (None, Load::Loading) => view! { <p role="status" class="ferry-muted">"Loading files…"</p> }.into_any(),
                        (None, Load::Failed(message)) => view! {
                            <div class="ferry-empty">
                                <p>{format!("The files couldn't be loaded: {message}")}</p>
                                <button type="button" class="ferry-button" on:click=move |_| { load.set(Load::Loading); reload() }>"Try again"</button>
                            </div>
                        }.into_any(),
                        (None, Load::Ready) if empty.get() => view! {
                            <div class="ferry-empty">
                                <p>"This folder is empty."</p>
                                <p class="ferry-muted">"Drop files here, paste them, or use Upload files."</p>
                            </div>
                        }.into_any(),
                        (None, Load::Ready) => {
                            let folder = here();
                            let label = if folder.is_root() { "Files in Home".to_owned() } else { format!("Files in {}", folder.as_str()) };
                            view! { <grid::Grid ctx=ctx rows=rows sort=sort label=label /> }.into_any()
                        }
                    }}
                </div>
                <Show when=move || show_activity.get()>
                    <ActivityPanel activity=ctx.activity />
                </Show>
            </div>
            <uploads::UploadPanel ctx=ctx />
            <DialogView ctx=ctx />
            <div class="ferry-visually-hidden" role="status" aria-live="polite">{move || ctx.announce.get()}</div>
        </section>
    }
}

#[component]
fn ActivityPanel(activity: RwSignal<Activity>) -> impl IntoView {
    use crate::activity::Status;
    view! {
        <aside class="ferry-activity" aria-label="Activity">
            <h2>"Activity"</h2>
            {move || activity.with(|a| {
                if a.entries().next().is_none() {
                    return view! { <p class="ferry-muted">"Nothing yet. What you do here is listed with what it caused."</p> }.into_any();
                }
                view! { <ol class="ferry-activity-list">{a.entries().map(|entry| {
                    let (status, class) = match &entry.status {
                        Status::Pending => ("Pending".to_owned(), "ferry-pending"),
                        Status::Done => ("Done".to_owned(), "ferry-done"),
                        Status::Failed(reason) => (format!("Failed: {reason}"), "ferry-failed"),
                    };
                    let steps = entry.steps.iter().map(|s| s.action.clone()).collect::<Vec<_>>().join(" → ");
                    view! {
                        <li>
                            <span class="ferry-activity-title">{entry.title.clone()}</span>
                            <span class=class>{status}</span>
                            <span class="ferry-muted">{if steps.is_empty() { "Waiting for its event".to_owned() } else { steps }}</span>
                            <code class="ferry-trace" title="Trace ID">{format!("Trace {}", entry.trace_id)}</code>
                        </li>
                    }
                }).collect_view()}</ol> }.into_any()
            })}
        </aside>
    }
}
