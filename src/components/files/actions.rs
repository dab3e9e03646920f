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

/// The browser's actions over its view state. `Copy`.
#[derive(Debug, Clone, Copy)]
pub struct Actions {
    ctx: Ctx,
    outbox: Outbox,
    /// Tells the live connection a command went out (polls sooner).
    nudge: StoredValue<Option<Callback<()>>>,
}

impl Actions {
    /// Actions on `ctx` sending through `outbox`.
    pub fn new(ctx: Ctx, outbox: Outbox) -> Self {
        Self {
            ctx,
            outbox,
            nudge: StoredValue::new(None),
        }
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
        for row in rows {
            let command_id = new_id();
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
        let actions = *self;
        let command_id = new_id();
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
        let name = name.to_owned();
        leptos::task::spawn_local(async move {
            actions.send(command, command_id, &name).await;
        });
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
            Event::FileCreated(_) => self.refresh_usage(),
            Event::FileDeleted(deleted) => {
                if applied == Applied::Changed {
                    notices.say(format!("{} deleted", deleted.name));
                }
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
            Event::FolderDeleted(_) => self.refresh_usage(),
            _ => {}
        }
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
                notices.fail(&format!(
                    "The folder {} was deleted.",
                    if here.is_root() {
                        "Home"
                    } else {
                        here.as_str()
                    }
                ));
                ctx.navigate.run(Route::default());
            }
            Applied::Failed { code, message, .. } => {
                notices.report(&message, &ErrorV1::new(code, message.clone()));
            }
            Applied::Changed | Applied::Nothing => {}
        }
        if ctx.route.try_with_untracked(|r| r.search.is_some()) == Some(true) {
            self.rerun_search();
        }
    }
}
