//! `use_uploads`: one mounted file browser's uploads. The hook owns the
//! queue (`ferry_client::upload::Queue`), the files picked, the handles
//! kept for resuming, the requests in flight and each file's driver, and
//! hands them to the views through the [`UseUploads`] handle. Nothing is
//! global: two browsers on one page have two of everything. Unmounting
//! cancels every request and stops every driver.
//!
//! Only the entry points live here, in the file browser's chunk: queuing
//! files, the offline switch, the look for unfinished uploads. The upload
//! machinery itself (`driver`: the transfer planner, the hashing worker,
//! the resume store, the upload panel) is its own chunk, loaded when the
//! first file is queued or an unfinished upload is found.

pub(crate) mod driver;

use crate::api::files::FilesApi;
use crate::chunks;
use crate::notices::Notices;
use crate::outbox::Outbox;
use crate::platform::hasher::Warm;
use crate::platform::picker::{self, Dropped, Placed};
use crate::platform::resume_store;
use driver::News;
use ferry_client::upload::{Queue, Unfinished};
use ferry_protocol::api::FileView;
use ferry_protocol::host::ElementErrorCode;
use ferry_protocol::{FolderPath, UploadSettings};
use futures::channel::mpsc::UnboundedSender;
use leptos::prelude::*;
use std::collections::HashMap;
use uuid::Uuid;
use wasm_bindgen::JsValue;

/// What `use_uploads` needs.
#[derive(Debug)]
pub struct UseUploadsOptions {
    /// The commands' way out, listed in Activity.
    pub outbox: Outbox,
    /// Upload tuning from the configuration.
    pub settings: UploadSettings,
    /// The signed-in user (an unfinished upload resumes only for its owner).
    pub user: String,
    /// The folder new files go to: the one shown.
    pub folder: Signal<FolderPath>,
    /// Where problems and progress are told.
    pub notices: Notices,
    /// A file was created: its row can show at once.
    pub on_created: Callback<FileView>,
    /// A file's bytes are stored: its `FileCreated` is on its way.
    pub on_uploaded: Callback<()>,
}

/// A file to upload, and its handle when the browser's picker gave one
/// (kept with the upload's record, so it can resume without a new pick).
#[derive(Debug, Clone)]
pub(crate) struct Picked {
    pub file: web_sys::File,
    pub handle: Option<JsValue>,
}

/// What one mount holds that signals can't (browser objects aren't `Send`).
#[derive(Debug, Default)]
pub(crate) struct Registry {
    /// The files, by queue item; they leave when the item is over.
    pub files: HashMap<Uuid, Picked>,
    /// Handles of unfinished uploads' files kept from before a reload, by
    /// file id.
    pub kept: HashMap<Uuid, JsValue>,
    /// Running PUTs by queue item and part.
    pub running: HashMap<Uuid, HashMap<u32, web_sys::XmlHttpRequest>>,
    /// Each running item's driver.
    pub drivers: HashMap<Uuid, UnboundedSender<News>>,
    /// Set while the plain file input is opened because the handle-giving
    /// picker failed, so its click isn't taken for the person's.
    pub plain_pick: bool,
    /// The owner of the component that called `use_uploads`: the
    /// machinery's listeners and clean-up live there.
    pub owner: Option<Owner>,
    /// Whether the machinery has started (`driver::start`).
    pub started: bool,
    /// Whether its chunk was asked for ahead ([`UseUploads::fetch_ahead`]).
    pub fetched_ahead: bool,
    /// Whether that chunk arrived.
    pub ahead_ready: bool,
    /// Hashing workers started ahead for the next upload in parts.
    pub warm: Vec<Warm>,
}

/// One mount's uploads. `Copy`: every part is a handle.
#[derive(Debug, Clone, Copy)]
pub struct UseUploads {
    /// The queue: every file picked, and where it is.
    pub queue: RwSignal<Queue>,
    /// Uploads a reload or a crash interrupted, to go on with.
    pub unfinished: RwSignal<Vec<Unfinished>>,
    pub(crate) setup: StoredValue<UseUploadsOptions, LocalStorage>,
    pub(crate) registry: StoredValue<Registry, LocalStorage>,
}

/// Starts one mount's uploads; they stop when the calling component
/// unmounts.
pub fn use_uploads(options: UseUploadsOptions) -> UseUploads {
    let files_in_flight = usize::try_from(options.settings.files_in_flight).unwrap_or(1);
    let uploads = UseUploads {
        queue: RwSignal::new(Queue::new(files_in_flight)),
        unfinished: RwSignal::new(Vec::new()),
        setup: StoredValue::new_local(options),
        registry: StoredValue::new_local(Registry {
            owner: Owner::current(),
            ..Registry::default()
        }),
    };
    // Nothing else runs until the first file is queued or an unfinished
    // upload is found: the machinery then starts in this component's owner
    // (`driver::start`), listening for offline and online and stopping
    // everything when the component unmounts.
    // Uploads a reload or a crash interrupted: the machinery loads only
    // when the browser kept some.
    leptos::task::spawn_local(async move {
        if resume_store::any().await
            && let Err(failure) = driver::load_unfinished(uploads).await
        {
            uploads.chunk_failed(&failure);
        }
    });
    uploads
}

impl UseUploads {
    pub(crate) fn notices(&self) -> Option<Notices> {
        self.setup.try_with_value(|s| s.notices)
    }

    /// The upload settings.
    pub fn settings(&self) -> Option<UploadSettings> {
        self.setup.try_with_value(|s| s.settings.clone())
    }

    pub(crate) fn api(&self) -> Option<FilesApi> {
        self.setup.try_with_value(|s| s.outbox.api())
    }

    pub(crate) fn chunk_failed(&self, failure: &chunks::ChunkError) {
        if let Some(notices) = self.notices() {
            notices.failed(
                ElementErrorCode::ChunkLoadFailed,
                &format!("Uploads can't start: {failure}"),
            );
        }
    }

    /// Whether anything is queued or waiting to resume (tracked).
    pub fn any(&self) -> bool {
        self.queue.with(|q| !q.items().is_empty()) || self.unfinished.with(|u| !u.is_empty())
    }

    /// A file's `FileCreated` arrived: whether it was one of these uploads
    /// (now done).
    pub fn indexed(&self, file_id: Uuid) -> bool {
        self.queue
            .try_update(|q| q.indexed(file_id))
            .unwrap_or(false)
    }

    /// Queues files (picked, pasted, or read from a drop) for the folder
    /// shown; a file with a path (`photos/a.jpg`) keeps it.
    pub fn add(&self, placed: Vec<Placed>) {
        if placed.is_empty() {
            return;
        }
        let uploads = *self;
        leptos::task::spawn_local(async move {
            if let Err(failure) = driver::add_uploads(uploads, placed).await {
                uploads.chunk_failed(&failure);
            }
        });
    }

    /// A person is heading for an upload (the pointer on an upload
    /// button, a drag over the files): the upload machinery's chunk is
    /// fetched now, while the picker is open or the drag goes on, so the
    /// first file doesn't wait for it once chosen, and, with checksums,
    /// the hashing workers start, so their scripts are running by then.
    /// The chunk is asked for once per mount (a failure here is left for
    /// the upload itself to show); once it is here, each time a person
    /// heads for an upload the workers an earlier upload used up are
    /// started again.
    pub fn fetch_ahead(&self) {
        let go = self
            .registry
            .try_update_value(|r| !std::mem::replace(&mut r.fetched_ahead, true) || r.ahead_ready)
            .unwrap_or(false);
        if go {
            let uploads = *self;
            leptos::task::spawn_local(async move {
                let _ = driver::fetch_ahead(uploads).await;
            });
        }
    }

    /// Queues the files of a file input or a paste.
    pub fn add_list(&self, files: &web_sys::FileList) {
        self.add(picker::from_list(files));
    }

    /// Queues what was dropped (taken while the drop event ran), walking
    /// dropped folders; files that go up in parts keep their handles.
    pub fn add_dropped(&self, dropped: Dropped) {
        let uploads = *self;
        let from = self
            .settings()
            .map_or(u64::MAX, |s| s.multipart_threshold_bytes);
        leptos::task::spawn_local(async move {
            match driver::read_dropped(dropped, from).await {
                Ok(reading) => uploads.add(reading.await),
                Err(failure) => uploads.chunk_failed(&failure),
            }
        });
    }

    /// "Upload files" was clicked: where the browser's picker gives handles
    /// (Chromium), it opens instead of the plain one, so an interrupted
    /// upload can later go on without the file being chosen again. Returns
    /// whether it took the click (the caller then prevents the plain picker).
    pub fn pick_with_handles(&self, input: web_sys::HtmlInputElement) -> bool {
        let plain = self
            .registry
            .try_update_value(|r| std::mem::replace(&mut r.plain_pick, false))
            .unwrap_or(true);
        if plain || !picker::can_pick_with_handles() {
            return false;
        }
        let uploads = *self;
        leptos::task::spawn_local(async move {
            match picker::pick_with_handles().await {
                Some(placed) => uploads.add(placed),
                None => {
                    // Refused (a portal's frame may not allow it): the plain one.
                    uploads.registry.try_update_value(|r| r.plain_pick = true);
                    input.click();
                    uploads.registry.try_update_value(|r| r.plain_pick = false);
                }
            }
        });
        true
    }
}
