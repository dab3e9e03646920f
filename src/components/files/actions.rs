//! What the file browser's parts can do: send the person's commands
//! (listed in Activity, the rows marked pending until their events come
//! back), load the folder and the search, download, and apply each live
//! event to everything that shows it.

use super::{Ctx, Load};
use crate::api::files::FilesApi;
use crate::chunks::{self, ChunkFuture};
use crate::notices::Notices;
use crate::outbox::Outbox;
use crate::platform::{download, new_id};
use ferry_client::failure::ApiFailure;
use ferry_client::folder::{Applied, PendingAction};
use ferry_client::listview::Selection;
use ferry_client::route::Route;
use ferry_client::rows::{RowKind, RowView};
use ferry_client::undo::{Offer, Settled, Undo};
use ferry_protocol::api::{FileView, UsageView};
use ferry_protocol::host::{ElementErrorCode, ErrorV1};
use ferry_protocol::messages::{
    ConflictPolicy, CreateFolderV1, DeleteFileV1, DeleteFolderV1, MoveFileV1,
};
use ferry_protocol::{Command, ErrorCode, Event, EventEnvelope, FileName, FolderPath};
use leptos::prelude::*;
use uuid::Uuid;

chunks::split_point! {
    download =>
    /// Starts a download: asks the API for the file's presigned link and
    /// hands it to the browser, saying how it went (the download chunk,
    /// loaded with the first download). The task runs in the chunk, so the
    /// file browser carries nothing of it but the call.
    fn download_file(api: FilesApi, notices: Notices, file_id: Uuid, name: String) -> () {
        leptos::task::spawn_local(async move {
            match api.download(file_id).await {
                Ok(answer) => {
                    download::save(&answer.request.url, &name);
                    notices.say(format!("Downloading {name}"));
                }
                Err(failure) => notices.refused(&format!("Download {name}"), &failure),
            }
        });
    }
}

chunks::split_point! {
    live =>
    /// Reads the storage used. In the live chunk: the usage line is read
    /// once the first page is in, and again as events change it.
    fn read_usage(api: FilesApi) -> ChunkFuture<Option<UsageView>> {
        Box::pin(async move { api.usage().await.ok() })
    }
}

chunks::split_point! {
    search =>
    /// Reads a search's results (the search chunk, loaded with the first
    /// search).
    fn read_search(api: FilesApi, text: String) -> ChunkFuture<Result<Vec<FileView>, String>> {
        Box::pin(async move {
            api.search(&text)
                .await
                .map(|r| r.files)
                .map_err(|e| e.to_string())
        })
    }
}

/// A view that follows the events too; it answers whether it told the
/// person of a failure itself (so it isn't shown twice).
pub type Listener = Callback<EventEnvelope, bool>;

/// The browser's actions over its view state. `Copy`.
#[derive(Debug, Clone, Copy)]
pub struct Actions {
    ctx: Ctx,
    outbox: Outbox,
    /// Tells the live connection a command went out (polls sooner).
    nudge: StoredValue<Option<Callback<()>>>,
    /// The person's actions waiting for their events, to offer an undo.
    undo: StoredValue<Undo>,
    /// The undo offered now, numbered so an older one's timer leaves a
    /// newer one be.
    pub offer: RwSignal<Option<(u64, Offer)>>,
    /// Views following the events (the Trash view, the versions panel).
    listeners: StoredValue<Vec<(u64, Listener)>>,
    /// Numbers for offers and listeners.
    counter: StoredValue<u64>,
}

impl Actions {
    /// Actions on `ctx` sending through `outbox`.
    pub fn new(ctx: Ctx, outbox: Outbox) -> Self {
        Self {
            ctx,
            outbox,
            nudge: StoredValue::new(None),
            undo: StoredValue::new(Undo::default()),
            offer: RwSignal::new(None),
            listeners: StoredValue::new(Vec::new()),
            counter: StoredValue::new(0),
        }
    }

    fn next_number(&self) -> u64 {
        self.counter.update_value(|n| *n += 1);
        self.counter.get_value()
    }

    /// Has `listener` hear every event, until the calling component
    /// unmounts.
    pub fn listen(&self, listener: Listener) {
        let number = self.next_number();
        self.listeners
            .update_value(|all| all.push((number, listener)));
        let listeners = self.listeners;
        on_cleanup(move || {
            listeners.try_update_value(|all| all.retain(|(n, _)| *n != number));
        });
    }

    /// The view state.
    pub fn ctx(&self) -> Ctx {
        self.ctx
    }

    /// Offers an undo until another action's replaces it (or it expires:
    /// the notice's timer), and says so.
    pub fn offer(&self, offer: Offer) {
        self.ctx
            .notices
            .say(format!("{}. Undo is available.", offer.text));
        let number = self.next_number();
        self.offer.try_set(Some((number, offer)));
    }

    /// Watches the commands of one action of the person's, `what` it did
    /// in the past tense, to offer its undo once its events are in.
    pub fn watch(&self, command_ids: &[Uuid], what: String) {
        self.undo.update_value(|u| u.watch(command_ids, what));
    }

    fn settled(&self, settled: Settled) {
        match settled {
            Settled::Offer(offer) => self.offer(offer),
            Settled::Undone(text) => self.ctx.notices.say(text),
            Settled::UndoFailed(text) => self.ctx.notices.fail(&text),
        }
    }

    /// The API refused a command outright: an action watched for its undo
    /// learns so.
    fn refused(&self, command_id: Uuid, failure: &ApiFailure) {
        if let Some(Some(settled)) = self
            .undo
            .try_update_value(|u| u.refused(command_id, &failure.to_string()))
        {
            self.settled(settled);
        }
    }

    /// Undoes the action offered: its inverse commands in one batch. If
    /// any fails, the person is told why and nothing more is done.
    pub fn undo(&self) {
        let Some((_, offer)) = self.offer.get_untracked() else {
            return;
        };
        self.offer.set(None);
        let title = format!("Undo “{}”", offer.text);
        let commands: Vec<(Command, Uuid, String)> = offer
            .commands
            .into_iter()
            .map(|command| (command, new_id(), title.clone()))
            .collect();
        let ids: Vec<Uuid> = commands.iter().map(|(_, id, _)| *id).collect();
        self.undo
            .update_value(|u| u.watch_undo(&ids, offer.text.clone()));
        self.ctx.notices.say(format!("Undoing “{}”…", offer.text));
        let actions = *self;
        leptos::task::spawn_local(async move {
            let answers = actions.outbox.send_batch(commands).await;
            actions.nudged();
            for (id, answer) in answers {
                if let Err(failure) = answer {
                    actions.refused(id, &failure);
                }
            }
        });
    }

    /// The outbox (and its Activity list).
    pub fn outbox(&self) -> Outbox {
        self.outbox
    }

    /// Lets the live connection be told when a command went out.
    pub fn set_nudge(&self, nudge: Callback<()>) {
        self.nudge.set_value(Some(nudge));
    }

    /// Lets the live connection know an event is on its way.
    pub fn nudged(&self) {
        if let Some(Some(nudge)) = self.nudge.try_get_value() {
            nudge.run(());
        }
    }

    /// Sends a command the person asked for, listing it in Activity; a
    /// refusal is shown and announced. Returns whether the API took it.
    pub async fn send(&self, command: Command, command_id: Uuid, name: &str) -> bool {
        let title = ferry_client::commands::title(&command, name);
        match self.outbox.send(command, command_id, name).await {
            Ok(_) => {
                self.nudged();
                true
            }
            Err(failure) => {
                self.ctx.state.try_update(|s| s.cancel(command_id));
                self.ctx.notices.refused(&title, &failure);
                self.refused(command_id, &failure);
                if failure == ApiFailure::SignedOut {
                    self.ctx.dialog.try_set(None);
                }
                false
            }
        }
    }

    /// Refreshes the usage line.
    pub fn refresh_usage(&self) {
        let (api, usage) = (self.outbox.api(), self.ctx.usage);
        leptos::task::spawn_local(async move {
            if let Ok(reading) = read_usage(api).await
                && let Some(now) = reading.await
            {
                usage.try_set(Some(now));
            }
        });
    }

    /// Deletes files and folders, marking files as pending.
    pub fn delete(&self, rows: Vec<RowView>) {
        let actions = *self;
        let ids: Vec<Uuid> = rows.iter().map(|_| new_id()).collect();
        let what = match rows.as_slice() {
            [one] => format!("Deleted {}", one.name),
            many => format!("Deleted {} items", many.len()),
        };
        self.watch(&ids, what);
        for (row, command_id) in rows.into_iter().zip(ids) {
            let command = match &row.kind {
                RowKind::File(file_id) => {
                    self.ctx
                        .state
                        .update(|s| _ = s.begin(*file_id, command_id, PendingAction::Deleting));
                    Command::DeleteFile(DeleteFileV1 { file_id: *file_id })
                }
                RowKind::Folder(path) => {
                    Command::DeleteFolder(DeleteFolderV1 { path: path.clone() })
                }
            };
            self.ctx.notices.say(format!("Deleting {}…", row.name));
            leptos::task::spawn_local(async move {
                actions.send(command, command_id, &row.name).await;
            });
        }
        self.ctx.selection.set(Selection::default());
    }

    /// Moves (or renames) a file.
    pub fn move_file(&self, file_id: Uuid, name: &str, to_folder: FolderPath, to_name: FileName) {
        self.move_files(vec![(file_id, name.to_owned(), to_folder, to_name)]);
    }

    /// Moves (or renames) files, each `(file, its name, to folder, to
    /// name)`, as one action to undo.
    pub fn move_files(&self, moves: Vec<(Uuid, String, FolderPath, FileName)>) {
        let actions = *self;
        let ids: Vec<Uuid> = moves.iter().map(|_| new_id()).collect();
        let what = match moves.as_slice() {
            // The rename dialog keeps the folder, the move dialog the name.
            [(_, name, _, to)] if name != to.as_str() => format!("Renamed {name} to {to}"),
            [(_, name, folder, _)] => format!("Moved {name} to {}", place(folder)),
            many => format!("Moved {} files to {}", many.len(), place(&many[0].2)),
        };
        self.watch(&ids, what);
        for ((file_id, name, to_folder, to_name), command_id) in moves.into_iter().zip(ids) {
            self.ctx.state.update(|s| {
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
            leptos::task::spawn_local(async move {
                actions.send(command, command_id, &name).await;
            });
        }
    }

    /// Creates a folder.
    pub fn create_folder(&self, path: FolderPath) {
        let actions = *self;
        leptos::task::spawn_local(async move {
            let name = path.name().unwrap_or_default().to_owned();
            let command = Command::CreateFolder(CreateFolderV1 { path });
            if actions.send(command, new_id(), &name).await {
                actions.ctx.notices.say(format!("Creating folder {name}…"));
            }
        });
    }

    /// Starts a download of a file: the browser saves it under its name.
    pub fn download(&self, file_id: Uuid, name: &str) {
        let (api, notices) = (self.outbox.api(), self.ctx.notices);
        let name = name.to_owned();
        leptos::task::spawn_local(async move {
            match download_file(api, notices, file_id, name.clone()).await {
                Ok(()) => {}
                Err(failure) => notices.failed(
                    ElementErrorCode::ChunkLoadFailed,
                    &format!("Download {name}: {failure}"),
                ),
            }
        });
    }

    /// Opens a row: a folder is shown, a file downloaded.
    pub fn open(&self, row: &RowView) {
        match &row.kind {
            RowKind::Folder(path) => self.ctx.navigate.run(Route::folder(path.clone())),
            RowKind::File(file_id) => self.download(*file_id, &row.name),
        }
    }

    /// Reads the folder shown (or the search) again, and the usage: after a
    /// reconnect, what happened in between reached no socket.
    pub fn reload(&self) {
        if let Some(folder) = self.ctx.route.try_with_untracked(|r| r.folder.clone()) {
            self.load_folder(folder);
            self.refresh_usage();
        }
    }

    /// Loads every page of `folder`, the first small so it paints fast.
    pub fn load_folder(&self, folder: FolderPath) {
        let (api, ctx) = (self.outbox.api(), self.ctx);
        leptos::task::spawn_local(async move {
            let mut cursor: Option<String> = None;
            let mut limit = 200;
            loop {
                let page = api.list(&folder, cursor.as_deref(), limit).await;
                if ctx.state.try_with_untracked(|s| s.folder() != &folder) != Some(false) {
                    return;
                }
                match page {
                    Ok(page) => {
                        let next = page.next_cursor.clone();
                        ctx.state.update(|s| s.load_page(page));
                        ctx.load.set(Load::Ready);
                        match next {
                            Some(next) => cursor = Some(next),
                            None => return,
                        }
                        limit = 1000;
                    }
                    Err(ApiFailure::Refused { error, .. })
                        if error.code == ErrorCode::NotFound && !folder.is_root() =>
                    {
                        // A folder created by uploading into it, or one that
                        // is gone: show it empty rather than fail.
                        ctx.load.set(Load::Ready);
                        return;
                    }
                    Err(failure) => {
                        ctx.notices
                            .tell_host(&ferry_client::host::request_error(&failure));
                        ctx.load.set(Load::Failed(failure.to_string()));
                        return;
                    }
                }
            }
        });
    }

    /// Runs the search in the URL again (results change as files do).
    pub fn rerun_search(&self) {
        let ctx = self.ctx;
        let Some(text) = ctx.route.try_with_untracked(|r| r.search.clone()).flatten() else {
            return;
        };
        let api = self.outbox.api();
        leptos::task::spawn_local(async move {
            let found = match read_search(api, text.clone()).await {
                Ok(searching) => searching.await,
                Err(failure) => Err(failure.to_string()),
            };
            if ctx
                .route
                .try_with_untracked(|r| r.search.as_deref() == Some(text.as_str()))
                == Some(true)
            {
                ctx.search.set(Some(found));
            }
        });
    }

    /// Applies one live event to everything that shows it.
    pub fn apply(&self, envelope: &EventEnvelope) {
        let (ctx, notices) = (self.ctx, self.ctx.notices);
        self.outbox.activity.try_update(|a| _ = a.event(envelope));
        let applied = ctx
            .state
            .try_update(|s| s.apply(envelope))
            .unwrap_or(Applied::Nothing);
        match envelope.data() {
            Event::FileCreated(_) | Event::FileCreatedV1(_) => self.refresh_usage(),
            Event::FileDeleted(deleted) => {
                if applied == Applied::Changed {
                    notices.say(format!("{} deleted", deleted.name));
                }
                self.refresh_usage();
            }
            Event::FileTrashed(trashed) => {
                if applied == Applied::Changed {
                    notices.say(format!("{} moved to the trash", trashed.name));
                }
                self.refresh_usage();
            }
            Event::FileRestored(restored) => {
                notices.say(format!("{} restored", restored.name));
                self.refresh_usage();
            }
            Event::FolderRestored(restored) => {
                notices.say(format!("{} restored", place(&restored.path)));
                self.refresh_usage();
            }
            Event::FileVersionRestored(restored) => {
                notices.say(format!("An earlier version of {} restored", restored.name));
                self.refresh_usage();
            }
            Event::FileMoved(moved) if applied == Applied::Changed => {
                if moved.from_folder == moved.to_folder {
                    notices.say(format!("{} renamed to {}", moved.from_name, moved.to_name));
                } else {
                    notices.say(format!(
                        "{} moved to {}",
                        moved.from_name,
                        moved.to_folder.as_str()
                    ));
                }
            }
            Event::FolderDeleted(_)
            | Event::FolderTrashed(_)
            | Event::TrashItemPurged(_)
            | Event::TrashEmptied(_) => self.refresh_usage(),
            _ => {}
        }
        // Every listener hears it (none is skipped for another's answer).
        let listeners = self.listeners.try_get_value().unwrap_or_default();
        let answers: Vec<bool> = listeners
            .iter()
            .map(|(_, listener)| listener.run(envelope.clone()))
            .collect();
        let told = answers.contains(&true);
        let command_id = envelope.metadata().command_id;
        let undoing = command_id
            .is_some_and(|id| self.undo.try_with_value(|u| u.undoing(id)).unwrap_or(false));
        match applied {
            Applied::Fetch(file_id) => {
                let (api, state) = (self.outbox.api(), ctx.state);
                leptos::task::spawn_local(async move {
                    if let Ok(file) = api.file(file_id).await {
                        state.try_update(|s| s.fetched(file));
                    }
                });
            }
            Applied::FolderGone => {
                let here = ctx.route.get_untracked().folder;
                notices.fail(&format!("The folder {} was deleted.", place(&here)));
                ctx.navigate.run(Route::default());
            }
            Applied::Relist => {
                if let Some(folder) = ctx.route.try_with_untracked(|r| r.folder.clone()) {
                    self.load_folder(folder);
                }
            }
            Applied::Failed { code, message, .. } if !told && !undoing => {
                notices.report(&message, &ErrorV1::new(code, message.clone()));
            }
            Applied::Failed { .. } | Applied::Changed | Applied::Nothing => {}
        }
        if let Some(Some(settled)) = self.undo.try_update_value(|u| u.event(envelope)) {
            self.settled(settled);
        }
        if ctx.route.try_with_untracked(|r| r.search.is_some()) == Some(true) {
            self.rerun_search();
        }
    }
}

/// A folder's name for people: Home for the root.
pub fn place(folder: &FolderPath) -> String {
    if folder.is_root() {
        "Home".to_owned()
    } else {
        folder.as_str().to_owned()
    }
}
